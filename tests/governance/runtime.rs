//! The runtime under usage governance, through the CLI, with the scripted
//! harness reporting token usage: pauses between stages, status, operator
//! pauses, quota resets, and a window that rolls on the real clock.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use serde_json::Value;
use tempfile::TempDir;

use crate::workspace::{Ws, field, fields, stderr, stdout, task_md};

const MODE: &str = "mode governed extends default_codex {\n    runner * = scripted\n}\n";

/// Each stage reports 1000 tokens.
const SCRIPT: &str = r#"
[stages]
builder = [{ outcome = "BUILDER_COMPLETE", tokens = 1000 }]
checker = [{ outcome = "CHECKER_PASS", tokens = 1000 }]
updater = [{ outcome = "UPDATE_COMPLETE", tokens = 1000 }]
"#;

/// A workspace running the scripted harness, with its own Codex home.
struct Governed {
    ws: Ws,
    home: TempDir,
}

impl Governed {
    fn new(governance: &str, script: &str) -> Self {
        let ws = Ws::new();
        ws.write("loops/governed.mill", MODE);
        ws.write("script.toml", script);
        let governed = Governed {
            ws,
            home: tempfile::tempdir().unwrap(),
        };
        governed.configure(governance);
        governed
            .ws
            .write("tasks/queue/t1.md", &task_md("t1", "2026-01-01T00:00:00Z", &[]));
        governed
    }

    fn configure(&self, governance: &str) {
        let config = format!(
            "[runtime]\ndefault_mode = \"governed\"\nidle_sleep_seconds = 0.02\n\n\
             [runners.scripted]\nscript = \"script.toml\"\n\n{governance}"
        );
        self.ws.write("millrace.toml", &config);
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_millrace"));
        cmd.arg("--workspace")
            .arg(&self.ws.root)
            .args(args)
            .current_dir(&self.ws.root)
            .env_remove("MILLRACE_WORKSPACE")
            .env("NO_COLOR", "1")
            // Never the real home: Codex telemetry is read from here.
            .env("CODEX_HOME", self.home.path())
            .env("HOME", self.home.path());
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        let out = self.command(args).output().unwrap();
        assert!(out.status.success(), "{args:?} failed: {}", stderr(&out));
        out
    }

    fn spawn(&self, args: &[&str]) -> Child {
        self.command(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    }

    fn status(&self) -> String {
        stdout(&self.run(&["status"]))
    }

    fn events(&self, event_type: &str) -> Vec<Value> {
        let text = std::fs::read_to_string(self.ws.path("logs/runtime_events.jsonl")).unwrap_or_default();
        text.lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|e| e["event_type"] == event_type)
            .collect()
    }

    fn stages_started(&self) -> Vec<String> {
        self.events("stage_started")
            .iter()
            .map(|e| e["data"]["node"].as_str().unwrap_or("?").to_string())
            .collect()
    }

    fn task_done(&self) -> bool {
        self.ws.path("tasks/done/t1.md").is_file()
    }
}

fn at(event: &Value) -> Timestamp {
    event["occurred_at"].as_str().unwrap().parse().unwrap()
}

fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn wait_for_exit(child: &mut Child, timeout: Duration) {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "the daemon failed: {status}");
            return;
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            panic!("the daemon did not exit");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

const TINY_RULE: &str = "[usage_governance]\nenabled = true\n\n\
    [[usage_governance.runtime_token_rules.rules]]\nrule_id = \"tiny-5h\"\nwindow = \"rolling_5h\"\nthreshold = 1500\n";

#[test]
fn a_threshold_pauses_between_stages_and_an_operator_pause_outlives_the_resume() {
    let g = Governed::new(TINY_RULE, SCRIPT);
    let log = g.ws.root.join("monitor.log");
    g.run(&[
        "run",
        "daemon",
        "--max-ticks",
        "25",
        "--monitor-log",
        log.to_str().unwrap(),
    ]);
    assert_eq!(
        g.stages_started(),
        ["builder", "checker"],
        "the checker's tokens reach the limit; the updater waits"
    );
    let status = g.status();
    assert_eq!(field(&status, "paused").as_deref(), Some("true"));
    assert_eq!(
        field(&status, "pause_sources").as_deref(),
        Some("usage_governance")
    );
    assert_eq!(
        field(&status, "usage_governance_enabled").as_deref(),
        Some("true")
    );
    assert_eq!(field(&status, "usage_governance_paused").as_deref(), Some("true"));
    assert_eq!(
        field(&status, "usage_governance_blocker_count").as_deref(),
        Some("1")
    );
    assert_eq!(
        field(&status, "usage_governance_auto_resume_possible").as_deref(),
        Some("true")
    );
    // The window lifts five hours after the builder's tokens were spent.
    let ledger = millrace::workspace::usage::read_ledger(&g.ws.workspace()).unwrap();
    assert_eq!(ledger.entries.len(), 2);
    let lifts = ledger.entries[0].stage_completed_at + SignedDuration::from_hours(5);
    let blocker = format!(
        "source=runtime_token rule=tiny-5h window=rolling_5h observed=2000 threshold=1500 next_resume={lifts}"
    );
    assert_eq!(fields(&status, "usage_governance_blocker"), [blocker]);
    assert_eq!(
        field(&status, "usage_governance_next_auto_resume_at"),
        Some(lifts.to_string())
    );
    let json = crate::workspace::json(&g.run(&["status", "--json"]));
    assert_eq!(json["usage_governance"]["blockers"][0]["rule_id"], "tiny-5h");
    let monitor = std::fs::read_to_string(&log).unwrap();
    assert!(
        monitor.contains(
            "governance pause source=runtime_token rule=tiny-5h window=rolling_5h observed=2000 threshold=1500"
        ),
        "{monitor}"
    );

    // An operator resume cannot lift governance's pause.
    g.run(&["pause"]);
    let out = stdout(&g.run(&["resume"]));
    assert_eq!(field(&out, "applied").as_deref(), Some("false"), "{out}");
    assert!(
        field(&out, "detail")
            .unwrap()
            .contains("blocked by usage governance"),
        "{out}"
    );
    assert_eq!(
        field(&g.status(), "pause_sources").as_deref(),
        Some("usage_governance")
    );

    // Governance lifting its pause leaves the operator's in place.
    g.run(&["pause"]);
    g.configure(&TINY_RULE.replace("threshold = 1500", "threshold = 1000000"));
    g.run(&["run", "daemon", "--max-ticks", "5"]);
    let status = g.status();
    assert_eq!(field(&status, "pause_sources").as_deref(), Some("operator"));
    assert_eq!(
        field(&status, "usage_governance_paused").as_deref(),
        Some("false")
    );
    assert_eq!(
        field(&status, "usage_governance_blocker_count").as_deref(),
        Some("0")
    );
    let resumed = g.events("usage_governance_resumed");
    assert_eq!(resumed.len(), 1);
    assert_eq!(
        resumed[0]["data"]["cleared_rules"],
        serde_json::json!(["tiny-5h"])
    );
    assert_eq!(g.stages_started().len(), 2, "still held by the operator");

    let out = stdout(&g.run(&["resume"]));
    assert_eq!(field(&out, "applied").as_deref(), Some("true"), "{out}");
    g.run(&["run", "daemon", "--exit-when-idle", "--max-ticks", "200"]);
    assert_eq!(g.stages_started(), ["builder", "checker", "updater"]);
    assert!(g.task_done());
    let ledger = millrace::workspace::usage::read_ledger(&g.ws.workspace()).unwrap();
    assert_eq!(ledger.entries.len(), 3, "each stage counted once");
}

#[test]
fn a_quota_exhausted_result_pauses_until_its_reset_time() {
    let script = r#"
[stages]
builder = [{ exit = "quota", quota_reset_in_seconds = 3 }, { outcome = "BUILDER_COMPLETE", tokens = 10 }]
checker = ["CHECKER_PASS"]
updater = ["UPDATE_COMPLETE"]
"#;
    // Governance itself is off: a quota stop pauses regardless.
    let g = Governed::new("", script);
    let mut daemon = g.spawn(&["run", "daemon", "--exit-when-idle", "--max-ticks", "5000"]);
    let mut paused = String::new();
    wait_until("the quota pause", Duration::from_secs(20), || {
        paused = g.status();
        field(&paused, "usage_governance_paused").as_deref() == Some("true")
    });
    let exhausted = g.events("usage_quota_exhausted");
    let resets: Timestamp = exhausted[0]["data"]["resets_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        field(&paused, "pause_sources").as_deref(),
        Some("usage_governance")
    );
    assert_eq!(
        fields(&paused, "usage_governance_blocker"),
        [format!(
            "source=quota_exhausted rule=harness-quota-exhausted window=until_reset observed=100 threshold=100 next_resume={resets}"
        )],
        "{paused}"
    );
    wait_for_exit(&mut daemon, Duration::from_secs(30));
    assert_eq!(g.stages_started(), ["builder", "builder", "checker", "updater"]);
    let builders: Vec<Value> = g
        .events("stage_started")
        .into_iter()
        .filter(|e| e["data"]["node"] == "builder")
        .collect();
    assert!(
        at(&builders[1]) >= resets,
        "the builder reran only after the reset"
    );
    assert!(g.task_done());
    let status = g.status();
    assert_eq!(field(&status, "paused").as_deref(), Some("false"));
    assert_eq!(
        field(&status, "usage_governance_blocker_count").as_deref(),
        Some("0")
    );
}

#[test]
fn a_rolling_window_resumes_by_itself_when_it_rolls_over() {
    let g = Governed::new(
        &TINY_RULE
            .replace("tiny-5h", "rolled")
            .replace("threshold = 1500", "threshold = 4000"),
        SCRIPT,
    );
    // Tokens spent almost five hours ago: they leave the window in a few
    // seconds.
    let spent = Timestamp::now() - SignedDuration::from_hours(5) + SignedDuration::from_secs(4);
    seed_ledger(&g.ws.root, spent, 5000);
    let mut daemon = g.spawn(&["run", "daemon"]);
    wait_until("the task", Duration::from_secs(40), || g.task_done());
    g.run(&["stop"]);
    wait_for_exit(&mut daemon, Duration::from_secs(20));
    let paused = g.events("usage_governance_paused");
    assert_eq!(paused.len(), 1, "paused before anything ran");
    let lifts = spent + SignedDuration::from_hours(5);
    let resume_at: Timestamp = paused[0]["data"]["blockers"][0]["resume_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(resume_at, lifts);
    let resumed = g.events("usage_governance_resumed");
    assert_eq!(resumed[0]["data"]["cleared_rules"], serde_json::json!(["rolled"]));
    let first = &g.events("stage_started")[0];
    assert!(at(first) >= lifts, "nothing ran before the window rolled over");
    assert_eq!(g.stages_started(), ["builder", "checker", "updater"]);
}

/// A ledger entry from an earlier session.
fn seed_ledger(root: &Path, completed: Timestamp, tokens: u64) {
    let ws = millrace::workspace::Workspace::at(root).unwrap();
    let entry = millrace::workspace::usage::LedgerEntry {
        dedupe_key: "millrace-agents/runs/run-seed/stage_results/req-seed.json".into(),
        counted_at: completed,
        stage_completed_at: completed,
        plane: "execution".into(),
        run_id: "run-seed".into(),
        stage_id: "builder".into(),
        work_item_kind: Some("task".into()),
        work_item_id: Some("t0".into()),
        token_usage: millrace::model::TokenUsage {
            total_tokens: tokens,
            ..Default::default()
        },
        stage_result_path: "millrace-agents/runs/run-seed/stage_results/req-seed.json".into(),
        daemon_session_id: None,
        cost_usd: None,
    };
    millrace::workspace::usage::append_entry(&ws, &entry).unwrap();
}

/// Runs the builder, then fakes a crash after the checker's result reached
/// the disk but before it was routed: the snapshot still has it pending.
fn crash_after_the_checker(g: &Governed) {
    g.run(&["run", "once"]);
    let snapshot_path = g.ws.path("state/runtime_snapshot.json");
    let mut snapshot: Value =
        serde_json::from_str(&std::fs::read_to_string(&snapshot_path).unwrap()).unwrap();
    let run = &mut snapshot["active_runs"]["execution"];
    assert_eq!(run["node"], "checker");
    let run_id = run["run_id"].as_str().unwrap().to_string();
    let request = format!("{}-099", run_id.replacen("run-", "req-", 1));
    run["pending_request_id"] = Value::String(request.clone());
    std::fs::write(&snapshot_path, serde_json::to_string_pretty(&snapshot).unwrap()).unwrap();
    // A crash that left no transition pending: no journal record to apply.
    std::fs::remove_file(g.ws.path("state/journal.jsonl")).unwrap();
    let results = g.ws.path(&format!("runs/{run_id}/stage_results"));
    let builder = std::fs::read_dir(&results)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut result: Value = serde_json::from_str(&std::fs::read_to_string(builder).unwrap()).unwrap();
    result["request_id"] = Value::String(request.clone());
    result["node"] = "checker".into();
    result["stage"] = "checker".into();
    result["terminal_result"] = "CHECKER_PASS".into();
    std::fs::write(results.join(format!("{request}.json")), result.to_string()).unwrap();
}

#[test]
fn a_result_recovered_at_startup_is_counted_and_judged_before_the_next_stage() {
    let g = Governed::new(TINY_RULE, SCRIPT);
    crash_after_the_checker(&g);
    g.run(&["run", "daemon", "--max-ticks", "10"]);
    assert_eq!(
        g.stages_started(),
        ["builder"],
        "the updater waits for the window"
    );
    let status = g.status();
    assert_eq!(
        field(&status, "pause_sources").as_deref(),
        Some("usage_governance")
    );
    assert!(
        fields(&status, "usage_governance_blocker")[0].contains("observed=2000 threshold=1500"),
        "{status}"
    );
    let ledger = millrace::workspace::usage::read_ledger(&g.ws.workspace()).unwrap();
    assert_eq!(ledger.entries.len(), 2, "the recovered result counted once");
}

#[test]
fn a_result_recovered_at_startup_starts_its_next_stage_at_the_first_tick() {
    // Without governance the recovered result's next stage used to start
    // while the runtime was still opening, outside its event loop (a panic).
    let g = Governed::new("", SCRIPT);
    crash_after_the_checker(&g);
    g.run(&["run", "daemon", "--exit-when-idle", "--max-ticks", "100"]);
    assert_eq!(g.stages_started(), ["builder", "updater"]);
    assert!(g.task_done());
}
