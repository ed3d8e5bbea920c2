//! Gates through the binary: a run waits at a gate across a restart and a
//! SIGKILL, spends nothing while it waits, is decided directly or through
//! a running daemon's mailbox (the note reaching the next stage's prompt),
//! times out by itself, and refuses a second decision with a code.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::Campaign;
use crate::workspace::{field, json, spec_md, stderr, stdout};

const SCRIPT: &str = r#"
[stages]
planner = ["PLANNER_COMPLETE"]
manager = ["MANAGER_COMPLETE"]
arbiter = ["ARBITER_COMPLETE"]
"#;

/// The shipped example mode (a plan-review gate after the planner) with
/// every stage scripted, and one spec queued.
fn reviewed() -> Campaign {
    let c = Campaign::new("reviewed_codex", SCRIPT, "");
    c.ws.write("specs/queue/s1.md", &spec_md("s1", "2026-01-01T00:00:00Z"));
    c
}

/// Runs the daemon for a bounded number of turns (a gate with a day's
/// timeout never lets `--exit-when-idle` end).
fn run_ticks(c: &Campaign, ticks: &str) -> std::process::Output {
    let out =
        c.ws.run(&["run", "daemon", "--max-ticks", ticks, "--monitor", "basic"]);
    assert!(out.status.success(), "daemon failed: {}", stderr(&out));
    out
}

fn count(c: &Campaign, event_type: &str) -> usize {
    c.events()
        .iter()
        .filter(|e| e["event_type"] == event_type)
        .count()
}

fn gates(c: &Campaign) -> Vec<Value> {
    let out = c.ws.run(&["gate", "ls", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    json(&out)["gates"].as_array().cloned().unwrap_or_default()
}

fn wait_for(mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ready() {
        assert!(Instant::now() < deadline, "condition not reached in time");
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// A daemon in the background, killed by its pid when the test ends.
struct Daemon(Child);

impl Daemon {
    fn start(c: &Campaign) -> Daemon {
        let child = Command::new(env!("CARGO_BIN_EXE_millrace"))
            .args(["--workspace", c.ws.root.to_str().unwrap(), "run", "daemon"])
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Daemon(child)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_gate_waits_across_a_restart_and_a_sigkill_and_costs_nothing() {
    let c = reviewed();
    let out = run_ticks(&c, "40");
    assert!(
        stdout(&out).contains("gate waiting planning/plan_review"),
        "{}",
        stdout(&out)
    );
    let waiting = gates(&c);
    assert_eq!(waiting.len(), 1, "{waiting:?}");
    let id = waiting[0]["gate_id"].as_str().unwrap().to_string();
    assert_eq!(waiting[0]["node"], "plan_review");
    assert_eq!(waiting[0]["work_item"], "spec s1");
    assert_eq!(waiting[0]["timeout_outcome"], "REJECTED");
    // Status, human and JSON, shows the question and the wait.
    let status = c.ws.run(&["status", "--json"]);
    let report = json(&status);
    assert_eq!(report["gates"][0]["gate_id"], id.as_str());
    assert!(report["gates"][0]["waited_seconds"].is_i64());
    assert_eq!(report["attention"][0]["code"], "mill::gate::waiting");
    let human = stdout(&c.ws.run(&["status"]));
    assert_eq!(
        field(&human, "gate_waiting_count").as_deref(),
        Some("1"),
        "{human}"
    );
    assert!(
        field(&human, "gate_waiting")
            .unwrap()
            .contains("node=plan_review")
    );
    let doctor = stdout(&c.ws.run(&["doctor"]));
    assert!(doctor.contains("warning: mill::gate::waiting"), "{doctor}");
    // Only the planner ran: the wait spent no fuel, no tokens, no harness.
    assert_eq!(report["active_runs"][0]["stage_runs"], 1);
    assert_eq!(report["active_runs"][0]["tokens_used"], 0);
    assert_eq!(count(&c, "stage_started"), 1);

    // A restart finds the same gate waiting: not interrupted, not reopened.
    run_ticks(&c, "20");
    assert_eq!(gates(&c)[0]["gate_id"], id.as_str());
    assert_eq!(count(&c, "gate_opened"), 1);
    assert_eq!(count(&c, "stage_interrupted"), 0);

    // A stop does not wait for a gate: the daemon ends, the wait stays.
    let mut daemon = Daemon::start(&c);
    wait_for(|| count(&c, "runtime_started") >= 3);
    assert!(c.ws.run(&["stop"]).status.success());
    wait_for(|| daemon.0.try_wait().unwrap().is_some());
    assert_eq!(gates(&c)[0]["gate_id"], id.as_str());

    // SIGKILL while it waits: still there, still the same wait.
    let mut daemon = Daemon::start(&c);
    wait_for(|| count(&c, "runtime_started") >= 4);
    daemon.0.kill().unwrap();
    daemon.0.wait().unwrap();
    assert_eq!(gates(&c)[0]["gate_id"], id.as_str());

    // Decided with no daemon: recorded now, routed by the next start.
    let decided = c.ws.run(&["gate", "decide", "s1", "APPROVED"]);
    assert!(decided.status.success(), "{}", stderr(&decided));
    assert_eq!(field(&stdout(&decided), "mode").as_deref(), Some("direct"));
    c.run_until_idle();
    assert!(c.ws.path("specs/done/s1.md").is_file());
    assert_eq!(count(&c, "gate_opened"), 1);
    assert_eq!(count(&c, "stage_interrupted"), 0);
    let decision = c
        .events()
        .into_iter()
        .find(|e| e["event_type"] == "gate_decided")
        .unwrap();
    assert_eq!(decision["data"]["outcome"], "APPROVED");
    assert_eq!(decision["data"]["by"], "operator");
    assert!(
        c.position("router_decision", |d| d["node"] == "plan_review"
            && d["target"]["node"] == "manager")
            .is_some()
    );

    // A gate that is not waiting any more refuses a decision, with a code.
    let again = c.ws.run(&["gate", "decide", &id, "REJECTED"]);
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("mill::gate::not_waiting"),
        "{}",
        stderr(&again)
    );

    // The gate's decision is recorded like a stage's: replaying the run
    // against its own plan diverges nowhere.
    let replay = c.ws.run(&["replay", "--json"]);
    assert!(replay.status.success(), "{}", stdout(&replay));
    assert_eq!(json(&replay)["diverged"], 0);

    // A damaged gate record is a doctor error with its code.
    c.ws.write("state/gates/req-broken-gate001.json", "{ not json");
    let doctor = stdout(&c.ws.run(&["doctor"]));
    assert!(doctor.contains("error: mill::gate::invalid_record"), "{doctor}");
}

#[test]
fn a_gate_is_decided_through_a_running_daemons_mailbox_and_its_note_reaches_the_next_prompt() {
    let c = reviewed();
    let _daemon = Daemon::start(&c);
    wait_for(|| gates(&c).len() == 1);
    // An outcome the gate does not declare is refused before anything moves.
    let wrong = c.ws.run(&["gate", "decide", "s1", "MAYBE"]);
    assert!(!wrong.status.success());
    assert!(
        stderr(&wrong).contains("mill::gate::unknown_outcome"),
        "{}",
        stderr(&wrong)
    );
    let out = c.ws.run(&[
        "gate",
        "decide",
        "s1",
        "REVISE",
        "--note",
        "split the spec in two",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(field(&text, "mode").as_deref(), Some("mailbox"), "{text}");
    assert_eq!(field(&text, "applied").as_deref(), Some("true"), "{text}");
    // REVISE went back to the planner, whose prompt carries the note; then
    // the gate waits again.
    wait_for(|| count(&c, "gate_opened") == 2);
    let run_dir = {
        let runs = json(&c.ws.run(&["runs", "ls", "--json"]));
        c.ws.path(&format!("runs/{}", runs[0]["run_id"].as_str().unwrap()))
    };
    let prompts: Vec<String> = std::fs::read_dir(&run_dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("runner_prompt."))
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect();
    assert!(
        prompts
            .iter()
            .any(|p| p.contains("Operator Note: gate `plan_review` decided REVISE: split the spec in two")),
        "{prompts:?}"
    );
    let out = c.ws.run(&["gate", "decide", "s1", "APPROVED"]);
    assert!(out.status.success(), "{}", stderr(&out));
    wait_for(|| c.ws.path("specs/done/s1.md").is_file());
    assert!(c.ws.run(&["stop"]).status.success());
}

#[test]
fn a_gate_times_out_with_its_declared_outcome() {
    let mode = r#"
gate quick_review {
    plane planning
    ask   "Approve the plan?"
    outcomes {
        APPROVED: success
        REJECTED: blocked
    }
    timeout 1 -> REJECTED
}

loop planning.quick {
    plane planning
    entry spec -> planner
    entry incident -> planner
    planner {
        PLANNER_COMPLETE -> quick_review
        BLOCKED          -> finish blocked
    }
    quick_review {
        APPROVED -> finish done
        REJECTED -> finish blocked
    }
    terminal done: success writes MANAGER_COMPLETE
    terminal blocked: blocked writes BLOCKED
}

mode campaign extends default_codex {
    planning = planning.quick
    runner * = scripted
    unattended
}
"#;
    let c = Campaign::with_mode(mode, "[runners.scripted]\nscript = \"campaign/script.toml\"\n");
    c.ws.write("campaign/script.toml", SCRIPT);
    c.ws.write("specs/queue/s1.md", &spec_md("s1", "2026-01-01T00:00:00Z"));
    // The blocked spec holds its lineage: the run ends needing an operator.
    let out =
        c.ws.run(&["run", "daemon", "--exit-when-idle", "--max-ticks", "5000"]);
    assert!(
        stdout(&out).contains("ended: needs_operator"),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(c.ws.path("specs/blocked/s1.md").is_file());
    let decision = c
        .events()
        .into_iter()
        .find(|e| e["event_type"] == "gate_decided")
        .unwrap();
    assert_eq!(decision["data"]["by"], "timeout");
    assert_eq!(decision["data"]["outcome"], "REJECTED");
    assert!(gates(&c).is_empty());
}

#[test]
fn run_once_says_when_a_run_waits_at_a_gate() {
    let c = reviewed();
    let first = stdout(&c.ws.run(&["run", "once"]));
    assert_eq!(field(&first, "ended").as_deref(), Some("one_stage"), "{first}");
    for _ in 0..2 {
        let next = stdout(&c.ws.run(&["run", "once"]));
        assert_eq!(field(&next, "ended").as_deref(), Some("gate_waiting"), "{next}");
    }
    assert_eq!(gates(&c).len(), 1);
    assert_eq!(count(&c, "gate_opened"), 1);
}
