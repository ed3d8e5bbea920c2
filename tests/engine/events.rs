//! The event log's format does not change with its types: every line the
//! runtime wrote before events were typed (one or two of each type and data
//! shape, gathered from a whole test-suite run, plus hand-built lines for
//! the failure events no run produced) reads back as a typed event and
//! writes out byte for byte the same.

use std::collections::BTreeSet;

use millrace::model::Event;
use millrace::workspace::events::RuntimeEvent;

const LOG: &str = include_str!("../fixtures/runtime_events_v1.jsonl");

#[test]
fn an_event_log_written_before_typed_events_reads_and_rewrites_unchanged() {
    let mut kinds = BTreeSet::new();
    for line in LOG.lines() {
        let read: RuntimeEvent = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        let typed = read.typed().unwrap_or_else(|e| panic!("{e}: {line}"));
        let (kind, data) = typed.parts();
        assert_eq!(kind, read.event_type);
        assert_eq!(data, read.data, "{line}");
        let rewritten = RuntimeEvent { data, ..read.clone() };
        assert_eq!(serde_json::to_string(&rewritten).unwrap(), line);
        kinds.insert(kind);
    }
    // Every event type the runtime can write is in the fixture: a new one
    // needs a line there too.
    assert_eq!(kinds.len(), 73, "{kinds:?}");
}

#[test]
fn an_unknown_event_type_is_an_error_not_a_guess() {
    let data = serde_json::json!({"x": 1});
    assert!(Event::from_parts("no_such_event", &data).is_err());
    assert!(Event::from_parts("runtime_idle", &serde_json::json!({})).is_err());
}
