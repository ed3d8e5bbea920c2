//! Durable runtime state: snapshot, status markers, event log, ownership
//! lock, mailbox, ids, closure targets and plan storage.

use std::collections::BTreeMap;

use jiff::Timestamp;
use millrace::model::{ActiveRun, PauseSource, RequestKind, Snapshot, WorkItemRef, ids};
use millrace::plan::{Plane, WorkItemKind};
use millrace::workspace::MailboxBox;
use millrace::workspace::closure::{self, ClosureTarget};
use millrace::workspace::events::{EventLog, read_events};
use millrace::workspace::lock::{self, LockError, LockRecord, LockState, record_for_this_process};
use millrace::workspace::mailbox::{self, Command};
use millrace::workspace::markers::{read_marker, write_marker};

use super::{Ws, task_md};

fn active_run(plane: Plane, kind: WorkItemKind, id: &str) -> ActiveRun {
    let now = Timestamp::now();
    ActiveRun {
        run_id: ids::new_run_id(),
        plane,
        node: "builder".into(),
        stage: "builder".into(),
        request_kind: RequestKind::ActiveWorkItem,
        work_item: Some(WorkItemRef { kind, id: id.into() }),
        closure_root_spec_id: None,
        closure_root_idea_id: None,
        counters: BTreeMap::from([("fix_cycles".to_string(), 1)]),
        stage_runs: 3,
        failure_class: None,
        pending_request_id: Some(ids::new_request_id()),
        interruptions: 0,
        lineage: Default::default(),
        node_runs: Default::default(),
        transient_failures: 0,
        retry_at: None,
        retry_requested: None,
        runtime_error: None,
        runtime_errors: 0,
        last_stage_result: None,
        tokens_used: 0,
        cost_usd: 0.0,
        prior_tokens: 0,
        prior_cost_usd: 0.0,
        gate_waits: 0,
        operator_note: None,
        active_since: now,
        started_at: now,
    }
}

#[test]
fn the_snapshot_round_trips_and_rejects_damage() {
    let ws = Ws::new();
    let w = ws.workspace();
    std::fs::remove_file(ws.path("state/runtime_snapshot.json")).unwrap();
    let boot = Snapshot::load(&w).unwrap();
    assert!(!boot.process_running && !boot.paused() && boot.active_runs.is_empty());

    let mut snapshot = boot.clone();
    assert!(snapshot.add_pause(PauseSource::UsageGovernance));
    assert!(snapshot.add_pause(PauseSource::Operator));
    assert!(!snapshot.add_pause(PauseSource::Operator));
    assert_eq!(
        snapshot.pause_sources,
        [PauseSource::Operator, PauseSource::UsageGovernance]
    );
    snapshot.active_runs.insert(
        Plane::Execution,
        active_run(Plane::Execution, WorkItemKind::Task, "t-1"),
    );
    snapshot.tick = 7;
    snapshot.save(&w).unwrap();
    let back = Snapshot::load(&w).unwrap();
    assert_eq!(back, snapshot);
    assert!(back.paused());

    // Invariants are enforced on save and on load.
    let mut wrong = snapshot.clone();
    wrong.active_runs.insert(
        Plane::Planning,
        active_run(Plane::Execution, WorkItemKind::Task, "t-2"),
    );
    assert!(wrong.save(&w).is_err());
    let mut closure_on_execution = snapshot.clone();
    let mut run = active_run(Plane::Execution, WorkItemKind::Task, "x");
    run.request_kind = RequestKind::ClosureTarget;
    closure_on_execution.active_runs.insert(Plane::Execution, run);
    assert!(closure_on_execution.check().is_err());

    for damage in ["{not json", "{\"schema_version\": 99}", ""] {
        std::fs::write(ws.path("state/runtime_snapshot.json"), damage).unwrap();
        let err = Snapshot::load(&w).unwrap_err();
        let code = miette::Diagnostic::code(&err).unwrap().to_string();
        assert_eq!(code, "mill::state::snapshot_invalid", "{damage}");
    }
}

#[test]
fn status_markers_hold_one_token_line() {
    let ws = Ws::new();
    let w = ws.workspace();
    assert_eq!(
        read_marker(&w, Plane::Execution).unwrap().as_deref(),
        Some("IDLE")
    );
    write_marker(&w, Plane::Execution, "BUILDER_RUNNING").unwrap();
    assert_eq!(
        std::fs::read_to_string(ws.path("state/execution_status.md")).unwrap(),
        "### BUILDER_RUNNING\n"
    );
    assert!(write_marker(&w, Plane::Execution, "builder running").is_err());
    std::fs::write(ws.path("state/planning_status.md"), "### IDLE\n### EXTRA\n").unwrap();
    assert!(read_marker(&w, Plane::Planning).is_err());
    std::fs::remove_file(ws.path("state/learning_status.md")).unwrap();
    assert_eq!(read_marker(&w, Plane::Learning).unwrap(), None);
}

#[test]
fn the_event_log_appends_numbered_lines_and_skips_damage() {
    let ws = Ws::new();
    let w = ws.workspace();
    let mut log = EventLog::open(&w).unwrap();
    assert_eq!(
        log.append("runtime_started", serde_json::json!({"mode": "x"}))
            .unwrap()
            .seq,
        1
    );
    assert_eq!(log.append("stage_started", serde_json::json!({})).unwrap().seq, 2);
    assert!(log.append("Bad Type", serde_json::json!({})).is_err());
    let path = ws.path("logs/runtime_events.jsonl");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str("garbage line\n{\"schema_version\":1}\n");
    std::fs::write(&path, text).unwrap();
    // Reopening continues the numbering after the last valid event.
    let mut again = EventLog::open(&w).unwrap();
    assert_eq!(
        again.append("runtime_closed", serde_json::json!({})).unwrap().seq,
        3
    );
    let read = read_events(&w).unwrap();
    assert_eq!(read.events.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(read.malformed, 2);
    assert_eq!(read.events[0].data["mode"], "x");
    assert_eq!(read.events[0].kind, "runtime_event");
}

fn write_lock(ws: &Ws, record: &LockRecord) {
    std::fs::write(
        ws.path("state/runtime_daemon.lock.json"),
        serde_json::to_string(record).unwrap(),
    )
    .unwrap();
}

/// A pid that is certainly not running: a child that has exited and been
/// reaped.
fn dead_pid() -> u32 {
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    pid
}

#[test]
fn the_lock_is_exclusive_and_released_by_its_owner_only() {
    let ws = Ws::new();
    let w = ws.workspace();
    assert_eq!(lock::inspect(&w).unwrap().state, LockState::Absent);
    let acquired = lock::acquire(&w, "session-a").unwrap();
    assert!(acquired.takeover.is_none());
    assert_eq!(acquired.record.owner_pid, std::process::id());
    assert!(
        acquired.record.owner_start_time.is_some(),
        "start time read from /proc"
    );
    assert_eq!(lock::inspect(&w).unwrap().state, LockState::Active);
    let err = lock::acquire(&w, "session-b").unwrap_err();
    let code = miette::Diagnostic::code(&err).unwrap().to_string();
    assert_eq!(code, "mill::lock::held");
    assert!(matches!(
        lock::release(&w, "session-b"),
        Err(LockError::NotOwner { .. })
    ));
    assert!(lock::release(&w, "session-a").unwrap());
    assert!(!lock::release(&w, "session-a").unwrap());
    assert_eq!(lock::inspect(&w).unwrap().state, LockState::Absent);
}

#[test]
fn a_dead_owner_on_this_host_is_taken_over() {
    let ws = Ws::new();
    let w = ws.workspace();
    let mut dead = record_for_this_process(&w, "dead-session");
    dead.owner_pid = dead_pid();
    write_lock(&ws, &dead);
    let seen = lock::inspect(&w).unwrap();
    assert_eq!(seen.state, LockState::Stale, "{}", seen.detail);
    let acquired = lock::acquire(&w, "new-session").unwrap();
    assert_eq!(
        acquired.takeover.as_ref().map(|r| r.owner_session_id.as_str()),
        Some("dead-session")
    );
    assert_eq!(acquired.record.owner_session_id, "new-session");
    let on_disk: LockRecord =
        serde_json::from_str(&std::fs::read_to_string(w.paths().lock()).unwrap()).unwrap();
    assert_eq!(on_disk, acquired.record);
    let leftovers: Vec<_> = std::fs::read_dir(ws.path("state"))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains("stale"))
        .collect();
    assert!(leftovers.is_empty(), "the stale file set aside is removed");
}

#[test]
fn a_reused_pid_is_detected_by_its_start_time() {
    let ws = Ws::new();
    let w = ws.workspace();
    let mut reused = record_for_this_process(&w, "old-session");
    reused.owner_start_time = reused.owner_start_time.map(|t| t + 12345);
    write_lock(&ws, &reused);
    assert_eq!(lock::inspect(&w).unwrap().state, LockState::Stale);
    assert!(lock::acquire(&w, "fresh").unwrap().takeover.is_some());
}

#[test]
fn another_hosts_lock_is_never_taken_over() {
    let ws = Ws::new();
    let w = ws.workspace();
    let mut foreign = record_for_this_process(&w, "remote-session");
    foreign.owner_hostname = "some-other-host.example".into();
    foreign.owner_pid = dead_pid();
    write_lock(&ws, &foreign);
    let seen = lock::inspect(&w).unwrap();
    assert_eq!(seen.state, LockState::Active);
    assert!(seen.foreign_host);
    let err = lock::acquire(&w, "mine").unwrap_err();
    assert!(
        matches!(err, LockError::Held { ref host, .. } if host == "some-other-host.example"),
        "{err:?}"
    );
    assert!(err.to_string().contains("some-other-host.example"));
}

#[test]
fn an_invalid_lock_is_reported_and_can_be_cleared() {
    let ws = Ws::new();
    let w = ws.workspace();
    std::fs::write(w.paths().lock(), "{nope").unwrap();
    assert_eq!(lock::inspect(&w).unwrap().state, LockState::Invalid);
    assert!(matches!(lock::acquire(&w, "x"), Err(LockError::Invalid { .. })));
    let mut elsewhere = record_for_this_process(&w, "s");
    elsewhere.workspace_root = "/some/other/workspace".into();
    write_lock(&ws, &elsewhere);
    assert_eq!(lock::inspect(&w).unwrap().state, LockState::Invalid);
    assert_eq!(
        lock::clear_if_not_active(&w).unwrap(),
        lock::LockClear::ClearedInvalid
    );
    assert_eq!(lock::inspect(&w).unwrap().state, LockState::Absent);
}

#[test]
fn mailbox_commands_drain_in_issue_order() {
    let ws = Ws::new();
    let w = ws.workspace();
    let doc = millrace::model::WorkDocument::parse_markdown(
        None,
        &task_md("m-1", "2026-01-01T00:00:00Z", &[]),
        "x",
    )
    .unwrap();
    // Issued in this order; the reference drained by command name
    // (`add_task` before `stop`), which would reorder them.
    let commands = [
        Command::Stop,
        Command::AddTask(doc),
        Command::Pause,
        Command::RetryActive {
            reason: "flaky".into(),
            plane: Some(Plane::Execution),
        },
        Command::ClearStaleState { reason: "fix".into() },
    ];
    let issued: Vec<_> = commands
        .iter()
        .map(|c| mailbox::issue(&w, c, "test").unwrap())
        .collect();
    let pending = mailbox::pending(&w).unwrap();
    assert_eq!(
        pending.iter().map(|p| p.command.clone()).collect::<Vec<_>>(),
        commands
    );
    assert_eq!(
        pending
            .iter()
            .map(|p| p.envelope.command_id.clone())
            .collect::<Vec<_>>(),
        issued.iter().map(|i| i.command_id.clone()).collect::<Vec<_>>()
    );
    mailbox::complete(&w, &pending[0], serde_json::json!({"applied": true})).unwrap();
    mailbox::fail(&w, &pending[1], "duplicate id").unwrap();
    let processed = w
        .paths()
        .mailbox(MailboxBox::Processed)
        .join(&pending[0].file_name);
    let archived: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(processed).unwrap()).unwrap();
    assert_eq!(archived["disposition"], "processed");
    assert_eq!(archived["result"]["applied"], true);
    assert_eq!(archived["envelope"]["command"], "stop");
    assert_eq!(mailbox::pending(&w).unwrap().len(), 3);
}

#[test]
fn invalid_mailbox_files_are_archived_as_failed_with_the_reason() {
    let ws = Ws::new();
    let w = ws.workspace();
    let incoming = w.paths().mailbox(MailboxBox::Incoming);
    std::fs::write(incoming.join("cmd-00000000T000000000-aaaaaaaa.json"), "{garbage").unwrap();
    let good = mailbox::issue(&w, &Command::Resume, "test").unwrap();
    let mut bogus: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&good.path).unwrap()).unwrap();
    bogus["command"] = "explode".into();
    bogus["command_id"] = "cmd-00000000T000000001-bbbbbbbb".into();
    std::fs::write(
        incoming.join("cmd-00000000T000000001-bbbbbbbb.json"),
        bogus.to_string(),
    )
    .unwrap();
    let mut bad_payload = bogus.clone();
    bad_payload["command"] = "add_idea".into();
    bad_payload["command_id"] = "cmd-00000000T000000002-cccccccc".into();
    bad_payload["payload"] = serde_json::json!({"source_name": "../x.md", "markdown": "# x"});
    std::fs::write(
        incoming.join("cmd-00000000T000000002-cccccccc.json"),
        bad_payload.to_string(),
    )
    .unwrap();

    let pending = mailbox::pending(&w).unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].command, Command::Resume);
    let failed = w.paths().mailbox(MailboxBox::Failed);
    let reason = |name: &str| -> String {
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(failed.join(name)).unwrap()).unwrap();
        v["error"].as_str().unwrap().to_string()
    };
    assert!(reason("cmd-00000000T000000000-aaaaaaaa.json").contains("not an envelope"));
    assert!(reason("cmd-00000000T000000001-bbbbbbbb.json").contains("unknown command `explode`"));
    assert!(reason("cmd-00000000T000000002-cccccccc.json").contains("must be `<id>.md`"));
    assert_eq!(
        std::fs::read_dir(&incoming).unwrap().count(),
        1,
        "only the valid command waits"
    );
    // A command archived before a crash is not handled twice.
    std::fs::write(failed.join(&pending[0].file_name), "{}").unwrap();
    assert!(mailbox::pending(&w).unwrap().is_empty());
    assert!(!good.path.exists());
}

#[test]
fn minted_ids_are_safe_and_time_ordered() {
    let mut previous = String::new();
    for _ in 0..100 {
        let id = ids::new_request_id();
        assert!(ids::is_safe_id(&id) && id.starts_with("req-"));
        assert!(id > previous);
        previous = id;
    }
    let run = ids::new_run_id();
    let at = millrace::workspace::runs::time_of_id(&run).unwrap();
    assert!((Timestamp::now().as_second() - at.as_second()).abs() < 5);
}

#[test]
fn closure_targets_round_trip_and_reject_damage() {
    let ws = Ws::new();
    let w = ws.workspace();
    let mut target = ClosureTarget::open("idea-x", "idea-x", Timestamp::now()).unwrap();
    target.attempts = 2;
    target.save(&w).unwrap();
    assert_eq!(ClosureTarget::load(&w, "idea-x").unwrap(), Some(target.clone()));
    assert_eq!(closure::open_targets(&w).unwrap(), [target.clone()]);
    assert!(ClosureTarget::open("../x", "y", Timestamp::now()).is_err());

    let mut inconsistent = target.clone();
    inconsistent.blocking_work_ids = vec!["t-1".into()];
    assert!(
        inconsistent.save(&w).is_err(),
        "blocking work implies blocked_by_lineage_work"
    );
    std::fs::write(
        w.paths().closure_target("idea-y"),
        serde_json::to_string(&target).unwrap(),
    )
    .unwrap();
    let all = closure::list(&w).unwrap();
    assert_eq!(all.len(), 2);
    assert!(all[1].is_err(), "a file named for another root is invalid");

    let idea = ws.root.join("ideas/inbox/idea-x.md");
    std::fs::write(&idea, "# Idea\n").unwrap();
    let spec = ws.write("specs/active/idea-x.md", "# Spec\n");
    let (idea_copy, spec_copy) = closure::copy_contracts(&w, &target, &idea, &spec).unwrap();
    assert_eq!(std::fs::read_to_string(idea_copy).unwrap(), "# Idea\n");
    assert_eq!(std::fs::read_to_string(spec_copy).unwrap(), "# Spec\n");
}

#[test]
fn a_batch_of_events_is_one_append_and_all_or_nothing() {
    let ws = Ws::new();
    let w = ws.workspace();
    let mut log = EventLog::open(&w).unwrap();
    let bad = vec![
        ("ok_event".to_string(), serde_json::json!({})),
        ("Not OK".to_string(), serde_json::json!({})),
    ];
    assert!(log.append_many(bad).is_err());
    assert!(read_events(&w).unwrap().events.is_empty(), "nothing written");
    let batch = vec![
        ("a".to_string(), serde_json::json!(1)),
        ("b".to_string(), serde_json::json!(2)),
    ];
    let written = log.append_many(batch).unwrap();
    assert_eq!(written.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(log.append("c", serde_json::json!(3)).unwrap().seq, 3);
    assert_eq!(read_events(&w).unwrap().events.len(), 3);
}

#[test]
fn a_lock_taken_through_a_symlinked_root_still_owns_the_workspace() {
    let ws = Ws::new();
    let link_dir = tempfile::tempdir().unwrap();
    let link = link_dir.path().join("via-link");
    std::os::unix::fs::symlink(&ws.root, &link).unwrap();
    let through_link = millrace::workspace::Workspace::at(&link).unwrap();
    lock::acquire(&through_link, "linked").unwrap();
    let seen = lock::inspect(&ws.workspace()).unwrap();
    assert_eq!(seen.state, LockState::Active, "{}", seen.detail);
}
