//! Short property runs of the readers the compile and workspace suites do
//! not already cover (`tests/compile/fuzz.rs` covers `.mill` sources,
//! `tests/workspace/documents.rs` work documents, `tests/workspace/config.rs`
//! `millrace.toml`): the plan loader (and the engine over what it
//! accepts), mailbox envelopes, the scripted script and the snapshot. The
//! inputs are mutations of valid files, where the bugs live.

use proptest::prelude::*;

use super::readers;

/// Byte-level mutations of a valid input.
#[derive(Clone, Debug)]
enum Edit {
    Delete(usize, usize),
    Insert(usize, String),
    Duplicate(usize, usize),
}

fn edit(tokens: &'static [&'static str]) -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), 0usize..40).prop_map(|(a, n)| Edit::Delete(a, n)),
        (any::<usize>(), prop::sample::select(tokens)).prop_map(|(a, t)| Edit::Insert(a, t.to_string())),
        (any::<usize>(), "\\PC{0,6}").prop_map(|(a, t)| Edit::Insert(a, t)),
        (any::<usize>(), 0usize..80).prop_map(|(a, n)| Edit::Duplicate(a, n)),
    ]
}

fn apply(text: &str, edits: &[Edit]) -> Vec<u8> {
    let mut bytes = text.as_bytes().to_vec();
    for edit in edits {
        let n = bytes.len().max(1);
        match edit {
            Edit::Delete(at, len) => {
                let at = (at % n).min(bytes.len());
                let end = (at + len).min(bytes.len());
                bytes.drain(at..end);
            }
            Edit::Insert(at, token) => {
                let at = (at % n).min(bytes.len());
                bytes.splice(at..at, token.bytes());
            }
            Edit::Duplicate(at, len) => {
                let at = (at % n).min(bytes.len());
                let end = (at + len).min(bytes.len());
                let copy = bytes[at..end].to_vec();
                bytes.splice(at..at, copy);
            }
        }
    }
    bytes
}

const JSON_TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "\"",
    "null",
    "true",
    "0",
    "-1",
    "4294967296",
    "1e309",
    "\"\"",
    "\"x\"",
    "\\u0000",
    "é",
    "99999999999999999999",
];

const TOML_TOKENS: &[&str] = &[
    "[",
    "]",
    "[[",
    "]]",
    "=",
    "\"",
    "'''",
    "\n",
    "{",
    "}",
    ",",
    "0",
    "-1",
    "1e400",
    "true",
    "stages",
    "items",
    "outcome",
    "delay_ms",
    "writes",
    "path",
    "content",
    "exit",
    "\"crash\"",
    "\"../x\"",
    "\"/x\"",
];

/// A compiled plan of a shipped mode, as stored in `state/compiled_plan.json`.
fn plan_json() -> &'static str {
    static PLAN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PLAN.get_or_init(|| {
        let plan = millrace::compile::builtin("learning_codex").unwrap();
        serde_json::to_string_pretty(&plan).unwrap()
    })
}

fn envelope() -> String {
    serde_json::json!({
        "schema_version": 1, "kind": "mailbox_command", "command_id": "cmd-1",
        "command": "retry_active", "issued_at": "2026-01-01T00:00:00Z", "issuer": "operator",
        "payload": {"reason": "flaky", "plane": "execution"}
    })
    .to_string()
}

fn add_task_envelope() -> String {
    serde_json::json!({
        "schema_version": 1, "kind": "mailbox_command", "command_id": "cmd-2",
        "command": "add_task", "issued_at": "2026-01-01T00:00:00Z", "issuer": "operator",
        "payload": {"document": {"task_id": "t1", "title": "T", "created_at": "2026-01-01T00:00:00Z",
            "created_by": "o", "target_paths": ["a"], "acceptance": ["b"], "required_checks": ["c"],
            "references": ["d"], "risk": ["e"]}}
    })
    .to_string()
}

const SCRIPT: &str = r#"[stages]
builder = ["BLOCKED", { outcome = "BUILDER_COMPLETE", tokens = 5, delay_ms = 3 }]
checker = [{ outcome = "CHECKER_PASS", result = { resume_stage = "x" }, writes = [{ path = "a/{run_id}.md", content = "c" }] }]
[items."t-1"]
builder = [{ exit = "crash" }, { tokens = { input = 1, output = 2 } }]
"#;

fn snapshot_json() -> String {
    let mut snap = millrace::model::Snapshot::bootstrap(jiff::Timestamp::UNIX_EPOCH);
    snap.add_pause(millrace::model::PauseSource::Operator);
    let mut text = serde_json::to_value(&snap).unwrap();
    text["active_runs"] = serde_json::json!({"execution": {
        "run_id": "run-1", "plane": "execution", "node": "checker", "stage": "checker",
        "request_kind": "active_work_item", "work_item": {"kind": "task", "id": "t1"},
        "counters": {"fix_cycles": 1}, "stage_runs": 3, "pending_request_id": "req-1-003",
        "node_runs": {"builder": 1, "checker": 2}, "active_since": "2026-01-01T00:00:00Z",
        "started_at": "2026-01-01T00:00:00Z"}});
    serde_json::to_string_pretty(&text).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn damaged_plans_never_panic_the_loader_or_the_engine(
        edits in prop::collection::vec(edit(JSON_TOKENS), 1..6)
    ) {
        readers::plan_load(&apply(plan_json(), &edits));
    }

    #[test]
    fn damaged_envelopes_never_panic(
        edits in prop::collection::vec(edit(JSON_TOKENS), 0..6),
        which in any::<bool>(),
    ) {
        let valid = if which { envelope() } else { add_task_envelope() };
        readers::mailbox_envelope(&apply(&valid, &edits));
    }

    #[test]
    fn damaged_scripts_never_panic(edits in prop::collection::vec(edit(TOML_TOKENS), 0..6)) {
        readers::scripted_script(&apply(SCRIPT, &edits));
    }

    #[test]
    fn damaged_snapshots_never_panic(edits in prop::collection::vec(edit(JSON_TOKENS), 0..6)) {
        readers::runtime_snapshot(&apply(&snapshot_json(), &edits));
    }

    #[test]
    fn arbitrary_bytes_never_panic_any_reader(data in prop::collection::vec(any::<u8>(), 0..300)) {
        for (_, reader) in readers::READERS {
            reader(&data);
        }
    }
}

/// The valid seeds are valid: the mutations start from real inputs.
#[test]
fn the_seeds_are_accepted() {
    assert!(millrace::plan::Plan::from_json(plan_json()).is_ok());
    let plan: millrace::plan::Plan = serde_json::from_str(plan_json()).unwrap();
    readers::engine_walk(&plan, 0);
    readers::engine_walk(&plan, 1);
    for env in [envelope(), add_task_envelope()] {
        let name = if env.contains("cmd-1") {
            "cmd-1.json"
        } else {
            "cmd-2.json"
        };
        millrace::workspace::mailbox::decode_file(name, &env).unwrap();
    }
    millrace::runners::scripted::Script::parse(SCRIPT).unwrap();
    millrace::model::Snapshot::from_json(&snapshot_json()).unwrap();
}
