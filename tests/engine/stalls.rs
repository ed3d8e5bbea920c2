//! Stalls an operator must see and fix from the command line: each is
//! produced through the binary, seen in `status --json` and `doctor
//! --json` with its code, fixed by the command they name, and the campaign
//! then completes.

use serde_json::Value;

use super::Campaign;
use crate::workspace::{spec_md, stderr, stdout};

/// A root spec whose one task blocks at builder, troubleshooter and
/// consultant; on the retry the builder succeeds.
pub(super) fn script(builder: &str) -> String {
    let task = "# Task {root_spec_id}-t1\\n\\nTask-ID: {root_spec_id}-t1\\nCreated-At: 2026-01-01T00:00:00Z\\n\
                Created-By: manager\\nRoot-Spec-ID: {root_spec_id}\\n\\nTarget-Paths:\\n- src/lib.rs\\n\\n\
                Acceptance:\\n- it works\\n\\nRequired-Checks:\\n- cargo test\\n\\nReferences:\\n- none\\n\\n\
                Risk:\\n- low\\n";
    format!(
        "[stages]\nmanager = [{{ outcome = \"MANAGER_COMPLETE\", writes = [\
         {{ path = \"millrace-agents/tasks/queue/{{root_spec_id}}-t1.md\", content = \"{task}\" }}] }}]\n\
         troubleshooter = [\"BLOCKED\"]\nconsultant = [\"BLOCKED\"]\n\n\
         [items.\"spec-a-t1\"]\nbuilder = [\"{builder}\"]\n"
    )
}

fn json(out: &std::process::Output) -> Value {
    serde_json::from_str(&stdout(out)).unwrap_or_else(|e| panic!("{e}: {}", stdout(out)))
}

fn codes(report: &Value, key: &str) -> Vec<String> {
    report[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_blocked_lineage_is_explained_and_freed_by_queue_retry() {
    let c = Campaign::new("default_codex", &script("BLOCKED"), "");
    c.ws.write(
        "specs/queue/spec-a.md",
        &spec_md("spec-a", "2026-01-01T00:00:00Z"),
    );
    c.ws.write(
        "specs/queue/spec-b.md",
        &spec_md("spec-b", "2026-01-02T00:00:00Z"),
    );
    let out =
        c.ws.run(&["run", "daemon", "--exit-when-idle", "--max-ticks", "500"]);
    // Idle only because a blocked task holds everything: that needs an
    // operator, and the run says so.
    assert_eq!(out.status.code(), Some(3), "{}{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).contains("attention: mill::runtime::lineage_blocked"),
        "{}",
        stdout(&out)
    );
    assert_eq!(
        c.ws.names("tasks/blocked"),
        ["spec-a-t1.blocked.jsonl", "spec-a-t1.md"]
    );

    let status = json(&c.ws.run(&["status", "--json"]));
    assert!(codes(&status, "attention").contains(&"mill::runtime::lineage_blocked".to_string()));
    let bp = &status["backpressure"];
    assert_eq!(bp["root_spec_id"], "spec-a");
    assert_eq!(bp["holders"][0]["id"], "spec-a-t1");
    assert_eq!(bp["waiting_ids"], serde_json::json!(["spec-b"]));
    let doctor = json(&c.ws.run(&["doctor", "--json"]));
    let finding = doctor["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "mill::doctor::lineage_blocked")
        .unwrap_or_else(|| panic!("{doctor:#}"));
    assert!(
        finding["fix"]
            .as_str()
            .unwrap()
            .contains("millrace queue retry spec-a-t1")
    );
    // The held-back spec is not called eligible.
    let ls = stdout(&c.ws.run(&["queue", "ls", "--all"]));
    assert!(
        ls.contains("spec spec-b at=") && ls.contains("eligible=false held_back_by=spec-a"),
        "{ls}"
    );
    let show = stdout(&c.ws.run(&["queue", "show", "spec-a-t1"]));
    assert!(
        show.contains("work_item_state: blocked") && show.contains("blocked_at: "),
        "{show}"
    );
    assert!(show.contains("fix: millrace queue retry spec-a-t1"), "{show}");

    // The fix the finding names, and the campaign completes.
    c.ws.write("campaign/script.toml", &script("BUILDER_COMPLETE"));
    let out =
        c.ws.run(&["queue", "retry", "spec-a-t1", "--reason", "fixed the flaky test"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        c.position("work_item_retried", |d| d["id"] == "spec-a-t1")
            .is_some()
    );
    let again = c.ws.run(&["queue", "retry", "spec-a-t1"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr(&again).contains("mill::queue::not_blocked"),
        "{}",
        stderr(&again)
    );
    let out =
        c.ws.run(&["run", "daemon", "--exit-when-idle", "--max-ticks", "500"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert_eq!(c.ws.names("tasks/done"), ["spec-a-t1.md", "spec-b-t1.md"]);
    assert!(
        c.position("closure_passed", |d| d["root_spec_id"] == "spec-b")
            .is_some()
    );
    let doctor = json(&c.ws.run(&["doctor", "--json"]));
    assert!(!codes(&doctor, "findings").contains(&"mill::doctor::lineage_blocked".to_string()));
}

/// A manager that files one task under its root and one under a stale root
/// id of the same idea (drift).
fn drift_script() -> String {
    let task = |id: &str, root: &str| {
        format!(
            "# Task {id}\\n\\nTask-ID: {id}\\nCreated-At: 2026-01-01T00:00:00Z\\nCreated-By: manager\\n\
             Root-Spec-ID: {root}\\nRoot-Idea-ID: spec-a\\n\\nTarget-Paths:\\n- src/lib.rs\\n\\n\
             Acceptance:\\n- it works\\n\\nRequired-Checks:\\n- cargo test\\n\\nReferences:\\n- none\\n\\n\
             Risk:\\n- low\\n"
        )
    };
    format!(
        "[stages]\nmanager = [{{ outcome = \"MANAGER_COMPLETE\", writes = [\
         {{ path = \"millrace-agents/tasks/queue/t1.md\", content = \"{}\" }}, \
         {{ path = \"millrace-agents/tasks/queue/t2.md\", content = \"{}\" }}] }}]\n",
        task("t1", "spec-a"),
        task("t2", "spec-a-v0")
    )
}

#[test]
fn drifted_lineage_holds_the_closure_pass_and_repair_lineage_mends_it() {
    let c = Campaign::new("default_codex", &drift_script(), "");
    c.ws.write(
        "specs/queue/spec-a.md",
        &spec_md("spec-a", "2026-01-01T00:00:00Z"),
    );
    let out =
        c.ws.run(&["run", "daemon", "--exit-when-idle", "--max-ticks", "500"]);
    // The closure pass would judge spec-a without t2: it waits instead, and
    // only an operator can relabel t2.
    assert_eq!(out.status.code(), Some(3), "{}{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).contains("attention: mill::runtime::lineage_drift"),
        "{}",
        stdout(&out)
    );
    assert_eq!(c.ws.names("tasks/done"), ["t1.md"]);
    assert!(c.position("closure_pass_started", |_| true).is_none());
    assert!(
        c.position("closure_lineage_drift_detected", |d| d["work_ids"]
            == serde_json::json!(["t2"]))
            .is_some()
    );

    let status = json(&c.ws.run(&["status", "--json"]));
    assert!(codes(&status, "attention").contains(&"mill::runtime::lineage_drift".to_string()));
    let drift = &status["backpressure"]["drift"][0];
    assert_eq!(drift["work_item_id"], "t2");
    assert_eq!(drift["diagnostic_reason"], "same_root_idea_different_root_spec");
    let doctor = json(&c.ws.run(&["doctor", "--json"]));
    let finding = doctor["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "mill::doctor::lineage_drift")
        .unwrap_or_else(|| panic!("{doctor:#}"));
    assert!(
        finding["fix"]
            .as_str()
            .unwrap()
            .contains("repair-lineage --root-spec-id spec-a")
    );

    // The preview changes nothing and says what --apply would.
    let preview = c.ws.run(&["queue", "repair-lineage", "--root-spec-id", "spec-a"]);
    assert!(preview.status.success(), "{}", stderr(&preview));
    let text = stdout(&preview);
    assert!(
        text.contains("apply: false\nrepair_count: 1\nchange_count: 1\nrepaired_count: 0\n"),
        "{text}"
    );
    assert!(
        text.contains("change: task t2 root_spec_id spec-a-v0 -> spec-a"),
        "{text}"
    );
    assert!(
        std::fs::read_to_string(c.ws.agents().join("tasks/queue/t2.md"))
            .unwrap()
            .contains("Root-Spec-ID: spec-a-v0")
    );
    assert_eq!(c.ws.names("arbiter/diagnostics/lineage-repairs").len(), 1);

    let apply =
        c.ws.run(&["queue", "repair-lineage", "--root-spec-id", "spec-a", "--apply"]);
    assert!(apply.status.success(), "{}", stderr(&apply));
    assert!(stdout(&apply).contains("repaired_count: 1"), "{}", stdout(&apply));
    assert!(
        std::fs::read_to_string(c.ws.agents().join("tasks/queue/t2.md"))
            .unwrap()
            .contains("Root-Spec-ID: spec-a\n")
    );
    assert_eq!(c.ws.names("arbiter/diagnostics/lineage-repairs").len(), 3);
    assert!(
        c.position("closure_lineage_repaired", |d| d["documents"] == 1)
            .is_some()
    );

    let out =
        c.ws.run(&["run", "daemon", "--exit-when-idle", "--max-ticks", "500"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert_eq!(c.ws.names("tasks/done"), ["t1.md", "t2.md"]);
    assert!(
        c.position("closure_passed", |d| d["root_spec_id"] == "spec-a")
            .is_some()
    );

    // A root with no target is refused with a code.
    let none = c.ws.run(&["queue", "repair-lineage", "--root-spec-id", "nope"]);
    assert_eq!(none.status.code(), Some(1));
    assert!(
        stderr(&none).contains("mill::queue::no_closure_target"),
        "{}",
        stderr(&none)
    );
}

#[test]
fn a_workspace_removed_under_the_daemon_stops_it_with_a_code_and_nothing_is_rebuilt() {
    let script = "[stages]\nbuilder = [{ outcome = \"BUILDER_COMPLETE\", delay_ms = 3000 }]\n";
    let c = Campaign::new("default_codex", script, "");
    c.add_task("t1");
    let daemon = super::daemon::Daemon::start(&c.ws);
    super::daemon::wait_for(|| c.position("stage_started", |d| d["node"] == "builder").is_some());
    std::fs::remove_dir_all(c.ws.agents()).unwrap();
    let (status, err) = daemon.finish();
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(err.contains("mill::engine::workspace_gone"), "{err}");
    // The stage was stopped, and no part of the tree came back: not the
    // state, not the event log, not the run directory's files.
    assert!(!c.ws.agents().exists(), "a partial tree was rebuilt");
}

#[test]
fn an_active_item_removed_mid_stage_is_repaired_once_then_the_run_ends() {
    // The task file vanishes while the builder runs: the updater's
    // completion finds nothing to move; the troubleshooter gets that once,
    // and the second time the run ends instead of cycling until its fuel
    // (40 stages) runs out.
    let script =
        "[stages]\nbuilder = [{ outcome = \"BUILDER_COMPLETE\", delay_ms = 1500 }, \"BUILDER_COMPLETE\"]\n";
    let c = Campaign::new("default_codex", script, "");
    c.add_task("t1");
    let daemon = super::daemon::Daemon::start(&c.ws);
    super::daemon::wait_for(|| c.position("stage_started", |d| d["node"] == "builder").is_some());
    std::fs::remove_file(c.ws.path("tasks/active/t1.md")).unwrap();
    super::daemon::wait_for(|| c.position("work_item_missing", |d| d["id"] == "t1").is_some());
    let errors = c
        .events()
        .iter()
        .filter(|e| e["event_type"] == "runtime_post_stage_error")
        .count();
    assert_eq!(errors, 2, "one repaired, the second ends the run");
    let stages = c
        .events()
        .iter()
        .filter(|e| e["event_type"] == "stage_started")
        .count();
    assert!(stages <= 8, "{stages} stages ran");
    let status = json(&c.ws.run(&["status", "--json"]));
    assert_eq!(status["active_runs"], serde_json::json!([]));
    drop(daemon);
}
