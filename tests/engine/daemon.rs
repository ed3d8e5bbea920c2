//! The daemon as an operator meets it: the demo campaign, controls sent
//! through the mailbox while it runs, reload, and spending caps.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::Campaign;
use crate::workspace::{Ws, field, millrace_in, stderr, stdout};

/// A daemon started in the background; killed (by its pid) if a test
/// fails before it stops.
pub(super) struct Daemon(Child);

impl Daemon {
    pub(super) fn start(ws: &Ws) -> Daemon {
        let child = Command::new(env!("CARGO_BIN_EXE_millrace"))
            .args(["--workspace", ws.root.to_str().unwrap(), "run", "daemon"])
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let daemon = Daemon(child);
        wait_for(|| field(&stdout(&ws.run(&["status"])), "process_running").as_deref() == Some("true"));
        daemon
    }

    /// Waits for the process to end by itself; its stderr.
    pub(super) fn finish(mut self) -> (std::process::ExitStatus, String) {
        let mut pipe = self.0.stderr.take().unwrap();
        let status = exit_of(&mut self.0);
        let mut text = String::new();
        std::io::Read::read_to_string(&mut pipe, &mut text).unwrap();
        (status, text)
    }

    /// Waits for the process to end by itself.
    pub(super) fn wait(mut self) -> std::process::ExitStatus {
        exit_of(&mut self.0)
    }
}

fn exit_of(child: &mut Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "the daemon did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(super) fn wait_for(mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ready() {
        assert!(Instant::now() < deadline, "condition not reached in time");
        std::thread::sleep(Duration::from_millis(25));
    }
}

#[test]
fn the_demo_plans_builds_and_closes_its_idea() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("demo");
    let out = millrace_in(dir.path(), &["--workspace", root.to_str().unwrap(), "demo"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(field(&text, "specs done").as_deref(), Some("1"), "{text}");
    assert_eq!(field(&text, "tasks done").as_deref(), Some("2"), "{text}");
    assert_eq!(
        field(&text, "closure idea-greet").as_deref(),
        Some("passed"),
        "{text}"
    );
    for stage in [
        "planner",
        "manager",
        "builder",
        "fixer",
        "doublechecker",
        "arbiter",
    ] {
        assert!(
            text.contains(&format!("/{stage} ")),
            "{stage} did not run: {text}"
        );
    }
    let doctor = millrace_in(dir.path(), &["--workspace", root.to_str().unwrap(), "doctor"]);
    assert!(doctor.status.success(), "{}", stdout(&doctor));
    // A second demo never overwrites a workspace.
    let again = millrace_in(dir.path(), &["--workspace", root.to_str().unwrap(), "demo"]);
    assert!(stderr(&again).contains("mill::cli::demo_target_exists"));
}

/// A builder slow enough to send controls while it runs.
const SLOW: &str = r#"
[stages]
builder = [{ outcome = "BUILDER_COMPLETE", delay_ms = 600 }]
checker = ["CHECKER_PASS"]
updater = ["UPDATE_COMPLETE"]
"#;

#[test]
fn pause_resume_and_stop_reach_a_running_daemon_through_its_mailbox() {
    let c = Campaign::new("default_codex", SLOW, "");
    c.add_task("t1");
    c.add_task("t2");
    let daemon = Daemon::start(&c.ws);
    let out = c.ws.run(&["pause"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(field(&stdout(&out), "mode").as_deref(), Some("mailbox"));
    wait_for(|| field(&stdout(&c.ws.run(&["status"])), "paused").as_deref() == Some("true"));
    // The running stage finishes, but nothing new starts while paused.
    wait_for(|| {
        c.position("stage_completed", |d| d["node"] == "builder")
            .is_some()
    });
    std::thread::sleep(Duration::from_millis(300));
    let started = |c: &Campaign| {
        c.events()
            .iter()
            .filter(|e| e["event_type"] == "stage_started")
            .count()
    };
    let held = started(&c);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(started(&c), held, "a paused daemon dispatches nothing");
    assert!(c.ws.run(&["resume"]).status.success());
    wait_for(|| c.ws.path("tasks/done/t2.md").is_file());
    assert!(c.ws.run(&["stop"]).status.success());
    assert!(daemon.wait().success());
    assert!(c.ws.path("tasks/done/t1.md").is_file());
    assert_eq!(
        field(&stdout(&c.ws.run(&["status"])), "process_running").as_deref(),
        Some("false")
    );
}

#[test]
fn reload_config_swaps_the_plan_between_stages() {
    let c = Campaign::new("default_codex", SLOW, "");
    let daemon = Daemon::start(&c.ws);
    let before = field(&stdout(&c.ws.run(&["status"])), "running_plan_id").unwrap();
    // A runner change in millrace.toml changes the plan.
    let config = std::fs::read_to_string(c.ws.path("millrace.toml")).unwrap();
    c.ws.write(
        "millrace.toml",
        &format!("{config}\n[stages.checker]\ntimeout_seconds = 77\n"),
    );
    assert!(c.ws.run(&["reload-config"]).status.success());
    wait_for(|| c.position("runtime_config_reloaded", |_| true).is_some());
    let after = field(&stdout(&c.ws.run(&["status"])), "running_plan_id").unwrap();
    assert_ne!(before, after);
    // A broken file keeps the running plan and says why.
    c.ws.write("millrace.toml", "[runtime\n");
    assert!(c.ws.run(&["reload-config"]).status.success());
    wait_for(|| c.position("runtime_config_reload_failed", |_| true).is_some());
    assert_eq!(
        field(&stdout(&c.ws.run(&["status"])), "running_plan_id").unwrap(),
        after
    );
    c.ws.write("millrace.toml", &config);
    assert!(c.ws.run(&["stop"]).status.success());
    assert!(daemon.wait().success());
}

#[test]
fn a_per_item_token_cap_blocks_the_item_with_its_own_reason() {
    let script = r#"
[stages]
builder = [{ outcome = "BUILDER_COMPLETE", tokens = 2000 }]
checker = [{ outcome = "CHECKER_PASS", tokens = 2000 }]
updater = [{ outcome = "UPDATE_COMPLETE", tokens = 2000 }]
"#;
    let c = Campaign::new(
        "default_codex",
        script,
        "[usage_governance.budgets]\nper_item_tokens = 3000\n",
    );
    c.add_task("t1");
    c.add_task("t2");
    c.run_until_idle();
    for id in ["t1", "t2"] {
        assert!(
            c.ws.path(&format!("tasks/blocked/{id}.md")).is_file(),
            "{id} blocked"
        );
    }
    let exhausted = c
        .events()
        .into_iter()
        .filter(|e| e["event_type"] == "work_item_budget_exhausted")
        .count();
    assert_eq!(exhausted, 2);
    // The cap stopped each item before its third stage spent more, and the
    // routing record says so rather than naming the next node.
    assert!(c.position("stage_started", |d| d["node"] == "updater").is_none());
    assert!(
        c.position("router_decision", |d| d["target"]["node"] == "updater")
            .is_none()
    );
    assert!(
        c.position("router_decision", |d| d["target"]["terminal"]
            == "BUDGET_EXHAUSTED")
            .is_some()
    );
    let marker = std::fs::read_to_string(c.ws.path("state/execution_status.md")).unwrap();
    assert!(marker.contains("BUDGET_EXHAUSTED"), "{marker}");
}

#[test]
fn a_stop_between_stages_resumes_the_same_item_at_the_next_node() {
    let c = Campaign::new("default_codex", SLOW, "");
    c.add_task("t1");
    let daemon = Daemon::start(&c.ws);
    wait_for(|| c.position("stage_started", |d| d["node"] == "builder").is_some());
    assert!(c.ws.run(&["stop"]).status.success());
    assert!(
        daemon.wait().success(),
        "stop waits for the stage, then exits cleanly"
    );
    let status = stdout(&c.ws.run(&["status"]));
    assert_eq!(
        field(&status, "stop_requested").as_deref(),
        Some("false"),
        "{status}"
    );
    assert_eq!(
        field(&status, "execution_active").as_deref(),
        Some("task:t1"),
        "{status}"
    );
    // A clean stop is resumable: no stale-state repair, no recovery detour.
    c.run_until_idle();
    assert!(c.ws.path("tasks/done/t1.md").is_file());
    let nodes: Vec<String> = c
        .events()
        .iter()
        .filter(|e| e["event_type"] == "stage_started")
        .map(|e| e["data"]["node"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(nodes, ["builder", "checker", "updater"]);
}

#[test]
fn an_operator_can_pause_and_resume_while_the_loops_do_not_compile() {
    let c = Campaign::new("default_codex", SLOW, "");
    c.ws.write("loops/broken.mill", "loop execution.broken {\n");
    let out = c.ws.run(&["pause"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(field(&text, "applied").as_deref(), Some("true"), "{text}");
    assert!(field(&text, "detail").unwrap().contains("stored plan"), "{text}");
    assert_eq!(
        field(&stdout(&c.ws.run(&["status"])), "paused").as_deref(),
        Some("true")
    );
    let again = stdout(&c.ws.run(&["pause"]));
    assert_eq!(
        field(&again, "applied").as_deref(),
        Some("false"),
        "nothing changed: {again}"
    );
    assert!(
        field(&again, "detail").unwrap().starts_with("already paused"),
        "{again}"
    );
    assert!(c.ws.run(&["resume"]).status.success());
    assert_eq!(
        field(&stdout(&c.ws.run(&["status"])), "paused").as_deref(),
        Some("false")
    );
}

#[test]
fn run_once_answers_its_mailbox_while_the_stage_runs() {
    let script =
        "[stages]\nbuilder = [{ outcome = \"BUILDER_COMPLETE\", delay_ms = 4000 }, \"BUILDER_COMPLETE\"]\n";
    let c = Campaign::new("default_codex", script, "");
    c.add_task("t1");
    let started = Instant::now();
    let once = Command::new(env!("CARGO_BIN_EXE_millrace"))
        .args(["--workspace", c.ws.root.to_str().unwrap(), "run", "once"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let once = Daemon(once);
    wait_for(|| c.position("stage_started", |d| d["node"] == "builder").is_some());
    let out = c.ws.run(&["pause"]);
    assert_eq!(field(&stdout(&out), "mode").as_deref(), Some("mailbox"));
    let out = c.ws.run(&["stop", "--now"]);
    assert_eq!(field(&stdout(&out), "mode").as_deref(), Some("mailbox"));
    assert!(once.wait().success());
    assert!(
        started.elapsed() < Duration::from_millis(3500),
        "stop --now killed the stage"
    );
    assert!(
        c.position("stage_interrupted", |d| d["node"] == "builder"
            || d["reason"] == "killed")
            .is_some()
    );
    let status = stdout(&c.ws.run(&["status"]));
    assert_eq!(
        field(&status, "paused").as_deref(),
        Some("true"),
        "the pause was applied, not left queued"
    );
    assert!(
        c.ws.path("state/mailbox/incoming")
            .read_dir()
            .unwrap()
            .next()
            .is_none()
    );
    // The killed stage runs again at the same node.
    assert!(c.ws.run(&["resume"]).status.success());
    assert!(c.ws.run(&["run", "once"]).status.success());
    let builders = c
        .events()
        .iter()
        .filter(|e| e["event_type"] == "stage_completed" && e["data"]["node"] == "builder")
        .count();
    assert_eq!(builders, 2);
    assert_eq!(
        field(&stdout(&c.ws.run(&["status"])), "execution_active").as_deref(),
        Some("task:t1")
    );
}

#[test]
fn a_deferred_reload_waits_quietly_then_applies_once_the_run_moves_on() {
    let c = Campaign::new("default_codex", SLOW, "");
    c.add_task("t1");
    let daemon = Daemon::start(&c.ws);
    wait_for(|| c.position("stage_started", |d| d["node"] == "builder").is_some());
    assert!(c.ws.run(&["pause"]).status.success());
    wait_for(|| {
        c.position("stage_completed", |d| d["node"] == "builder")
            .is_some()
    });
    // The new plan has no `checker` node, where t1 now waits.
    c.ws.write(
        "loops/campaign.mill",
        "loop execution.solo {\n    plane execution\n    entry task -> builder\n    builder {\n        \
         BUILDER_COMPLETE -> finish done\n        BLOCKED -> finish blocked\n    }\n    \
         terminal done: success writes UPDATE_COMPLETE\n    terminal blocked: blocked\n}\n\
         mode campaign extends default_codex {\n    execution = execution.solo\n    runner * = scripted\n}\n",
    );
    assert!(c.ws.run(&["reload-config"]).status.success());
    wait_for(|| c.position("runtime_config_reload_deferred", |_| true).is_some());
    std::thread::sleep(Duration::from_millis(400));
    let count = |kind: &str| c.events().iter().filter(|e| e["event_type"] == kind).count();
    assert_eq!(
        count("runtime_config_reload_deferred"),
        1,
        "said once, not every turn"
    );
    assert!(c.ws.run(&["resume"]).status.success());
    wait_for(|| c.position("runtime_config_reloaded", |_| true).is_some());
    assert!(
        c.ws.path("tasks/done/t1.md").is_file(),
        "t1 finished under the plan it started with"
    );
    assert!(c.position("stage_started", |d| d["node"] == "updater").is_some());
    assert!(c.ws.run(&["stop"]).status.success());
    assert!(daemon.wait().success());
}

#[test]
fn closure_waits_for_blocked_lineage_work_and_status_names_it() {
    let demo =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/demo/script.toml")).unwrap();
    let script = format!(
        "{demo}\n[items.\"idea-greet-t02\"]\nbuilder = [\"BLOCKED\"]\ntroubleshooter = [\"BLOCKED\"]\nconsultant = [\"BLOCKED\"]\n"
    );
    let c = Campaign::new("default_codex", &script, "");
    let idea = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/demo/idea.md")).unwrap();
    std::fs::create_dir_all(c.ws.root.join("ideas/inbox")).unwrap();
    std::fs::write(c.ws.root.join("ideas/inbox/greet.md"), idea).unwrap();
    let out =
        c.ws.run(&["run", "daemon", "--exit-when-idle", "--max-ticks", "5000"]);
    // Not idle: the blocked task holds the lineage, and only an operator
    // can free it.
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stdout(&out).contains("ended: needs_operator"), "{}", stdout(&out));
    assert!(c.ws.path("tasks/blocked/idea-greet-t02.md").is_file());
    assert!(
        c.position("closure_pass_started", |_| true).is_none(),
        "closure waits for the lineage"
    );
    let status = stdout(&c.ws.run(&["status"]));
    assert_eq!(
        field(&status, "closure_target_blocked_by_lineage_work").as_deref(),
        Some("true"),
        "{status}"
    );
    let target: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(c.ws.path("arbiter/targets/idea-greet.json")).unwrap())
            .unwrap();
    assert_eq!(target["blocking_work_ids"], serde_json::json!(["idea-greet-t02"]));
}

#[test]
fn clear_stale_state_repairs_what_would_stop_a_start() {
    let c = Campaign::new("default_codex", SLOW, "");
    c.ws.write(
        "tasks/active/t9.md",
        &crate::workspace::task_md("t9", "2026-01-01T00:00:00Z", &[]),
    );
    c.ws.write("state/runtime_snapshot.json", "{ torn");
    c.ws.write("state/runtime_daemon.lock.json", "not a lock");
    c.ws.write("state/execution_status.md", "garbage\n");
    let out = c.ws.run(&["clear-stale-state"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(field(&text, "applied").as_deref(), Some("true"), "{text}");
    let detail = field(&text, "detail").unwrap();
    for said in [
        "unreadable lock",
        "runtime snapshot",
        "execution status file",
        "orphaned task t9",
    ] {
        assert!(detail.contains(said), "{said}: {detail}");
    }
    assert!(
        c.ws.path("tasks/queue/t9.md").is_file(),
        "the untracked active item is back in its queue"
    );
    let aside = std::fs::read_dir(c.ws.path("state")).unwrap().flatten().any(|e| {
        e.file_name()
            .to_string_lossy()
            .starts_with("runtime_snapshot.json.invalid-")
    });
    assert!(aside, "the damaged snapshot is kept for a human");
    let doctor = c.ws.run(&["doctor"]);
    assert!(doctor.status.success(), "{}", stdout(&doctor));
    c.run_until_idle();
    assert!(c.ws.path("tasks/done/t9.md").is_file());
}

/// A command handed to a running daemon waits for its verdict: applied
/// prints `applied: true`; refused exits 1 with the daemon's code.
#[test]
fn a_refused_mailbox_command_says_so_and_exits_1() {
    let script = "[stages]\nbuilder = [{ outcome = \"BUILDER_COMPLETE\", delay_ms = 3000 }]\n";
    let c = Campaign::new("default_codex", script, "");
    c.add_task("t1");
    let _daemon = Daemon::start(&c.ws);
    wait_for(|| c.position("stage_started", |d| d["node"] == "builder").is_some());
    c.ws.write(
        "t2.md",
        &crate::workspace::task_md("t2", "2026-01-02T00:00:00Z", &[]),
    );
    let out =
        c.ws.run(&["queue", "add-task", c.ws.path("t2.md").to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("applied: true"), "{}", stdout(&out));
    assert!(c.ws.path("tasks/queue/t2.md").is_file());
    // t1 is active, not blocked: the daemon refuses the retry.
    let out = c.ws.run(&["queue", "retry", "t1"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stdout(&out).contains("applied: false"), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("mill::queue::not_blocked"),
        "{}",
        stderr(&out)
    );
    // Without waiting, the hand-over is all it reports.
    let out = c.ws.run(&["queue", "retry", "t1", "--no-wait"]);
    assert!(out.status.success());
    assert!(stdout(&out).contains("applied: pending"), "{}", stdout(&out));
    // Whoever did not wait reads the refusals in status.
    wait_for(|| c.ws.names("state/mailbox/failed").len() == 2);
    let status = stdout(&c.ws.run(&["status"]));
    assert!(status.contains("mailbox_refused_last_day: 2\n"), "{status}");
    assert!(
        status.contains("mailbox_refused: retry_item cmd-")
            && status.contains("error=mill::queue::not_blocked"),
        "{status}"
    );
    let json = crate::workspace::json(&c.ws.run(&["status", "--json"]));
    assert_eq!(json["mailbox_refused"], 2);
    assert_eq!(json["mailbox_refusals"][0]["command"], "retry_item");
}
