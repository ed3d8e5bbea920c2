//! SIGTERM and `stop`: the first SIGTERM lets the running stage finish and
//! ends the daemon (`stop`); a second one kills the harness's process group
//! and records the stage as interrupted (`stop --now`). Afterwards no
//! harness process and no lock remain, and the next start resumes the same
//! node, never rerouted to recovery.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{
    Bench, assert_no_panic, group_alive, panic_text, scripted_bench, signal, snapshot, task_md, text,
    wait_for,
};
use crate::runners::{fake, require_python};

/// Polls `cond` every 10 ms for up to `limit`.
fn eventually(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Runtime events of one type, in order.
fn events(bench: &Bench, event_type: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(bench.path("logs/runtime_events.jsonl")).unwrap_or_default();
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["event_type"] == event_type || e["type"] == event_type)
        .collect()
}

/// Pids whose parent is `parent` (from `/proc`).
fn children_of(parent: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let ppid = rest.split_whitespace().nth(1).and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(parent) {
            out.push(pid);
        }
    }
    out
}

/// SIGKILLs a harness's process group when dropped, so a failing test
/// never leaves a hanging fake harness behind.
struct Reap(u32);

impl Drop for Reap {
    fn drop(&mut self) {
        if group_alive(self.0) {
            signal_group(self.0, libc::SIGKILL);
        }
    }
}

#[allow(unsafe_code)]
fn signal_group(pgid: u32, signal: i32) {
    let pgid = i32::try_from(pgid).unwrap();
    assert!(pgid > 1);
    // SAFETY: plain integers; the group is a harness this test started.
    unsafe { libc::kill(-pgid, signal) };
}

fn check_logs(log: &Path) {
    for ext in ["out", "err"] {
        let t = std::fs::read_to_string(log.with_extension(ext)).unwrap_or_default();
        assert!(panic_text(&t).is_none(), "the daemon panicked:\n{t}");
    }
}

/// Every routing record of the workspace's runs, oldest request first.
fn routed_nodes(bench: &Bench) -> Vec<String> {
    let mut records: Vec<(String, String)> = Vec::new();
    for run in bench.names("runs") {
        for name in bench.names(&format!("runs/{run}")) {
            if name.starts_with("routing.") {
                let text = std::fs::read_to_string(bench.path(&format!("runs/{run}/{name}"))).unwrap();
                let value: Value = serde_json::from_str(&text).unwrap();
                records.push((name, value["node"].as_str().unwrap_or_default().to_string()));
            }
        }
    }
    records.sort();
    records.into_iter().map(|(_, node)| node).collect()
}

fn one_task(bench: &Bench) {
    bench.write(
        "tasks/queue/t01.md",
        &task_md("t01", "2026-01-01T00:00:00Z", "", &[]),
    );
}

/// A daemon on one task whose codex harness hangs after spawning a
/// grandchild in its process group.
struct Hanging {
    daemon: std::process::Child,
    log: std::path::PathBuf,
    harness: u32,
    grandchild: u32,
}

/// Starts a [`Hanging`] daemon and waits until the harness and its
/// grandchild run.
fn hanging_daemon(bench: &Bench) -> Hanging {
    bench.write(
        "millrace.toml",
        &format!(
            "[runtime]\nidle_sleep_seconds = 0.02\n\n[runners.codex]\ncommand = \"{}\"\n",
            fake("codex")
        ),
    );
    one_task(bench);
    let pid_file = bench.root.join("grandchild.pid");
    let log = bench.root.join("daemon");
    let daemon = bench
        .command(&["run", "daemon"])
        .env("FAKE_SCENARIO", "grandchild_hang")
        .env("FAKE_PID_FILE", &pid_file)
        .stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(log.with_extension("out")).unwrap())
        .stderr(std::fs::File::create(log.with_extension("err")).unwrap())
        .spawn()
        .unwrap();
    let pid = daemon.id();
    eventually(Duration::from_secs(30), "the harness and its grandchild", || {
        pid_file.is_file() && !children_of(pid).is_empty()
    });
    let harness = children_of(pid)[0];
    let grandchild = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    Hanging {
        daemon,
        log,
        harness,
        grandchild,
    }
}

/// Second SIGTERM: the harness (and the grandchild it spawned in its
/// group) is killed, the stage recorded as interrupted, the daemon exits
/// cleanly; the next start runs the builder again for the same task.
#[test]
fn second_sigterm_kills_the_harness_group_and_the_next_start_resumes_the_node() {
    require_python();
    let bench = Bench::init();
    let Hanging {
        mut daemon,
        log,
        harness,
        grandchild,
    } = hanging_daemon(&bench);
    let pid = daemon.id();
    let _reap = Reap(harness);

    // First SIGTERM: stop after the stage; the stage hangs, so all stays.
    signal(pid, libc::SIGTERM);
    eventually(Duration::from_secs(10), "the stop request", || {
        snapshot(&bench)["stop_requested"] == true
    });
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        daemon.try_wait().unwrap().is_none(),
        "the daemon ended before its stage did"
    );
    assert!(group_alive(harness), "the harness died on the first SIGTERM");

    // Second SIGTERM: stop now.
    signal(pid, libc::SIGTERM);
    let status = wait_for(
        &mut daemon,
        Duration::from_secs(20),
        "the daemon after stop --now",
    );
    check_logs(&log);
    assert!(
        status.success(),
        "daemon exit: {status}; {}",
        std::fs::read_to_string(log.with_extension("err")).unwrap()
    );
    eventually(Duration::from_secs(5), "the harness group to vanish", || {
        !group_alive(harness)
    });
    assert!(
        !Path::new(&format!("/proc/{grandchild}")).exists(),
        "the grandchild survived"
    );
    assert!(
        !bench.path("state/runtime_daemon.lock.json").exists(),
        "lock left behind"
    );
    let snap = snapshot(&bench);
    let run = &snap["active_runs"]["execution"];
    assert_eq!(run["node"], "builder", "{snap:#}");
    assert_eq!(run["pending_request_id"], Value::Null, "{snap:#}");
    assert!(run["interruptions"].as_u64().unwrap() >= 1, "{snap:#}");
    assert_eq!(snap["process_running"], false);
    assert!(
        !events(&bench, "stage_interrupted").is_empty(),
        "no stage_interrupted event"
    );
    assert!(routed_nodes(&bench).is_empty(), "the killed stage was routed");
    assert_eq!(bench.stems("tasks/active"), ["t01"]);

    // The next start runs the builder again, then carries on.
    let out = bench
        .command(&["run", "daemon", "--exit-when-idle"])
        .env("FAKE_SCENARIO", "success")
        .output()
        .unwrap();
    assert_no_panic("restart", &out);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let nodes = routed_nodes(&bench);
    assert_eq!(nodes.first().map(String::as_str), Some("builder"), "{nodes:?}");
    assert!(
        !nodes.iter().any(|n| n == "troubleshooter" || n == "consultant"),
        "rerouted to recovery: {nodes:?}"
    );
    assert_eq!(bench.stems("tasks/done"), ["t01"]);
    let doctor = bench.doctor();
    assert_eq!(doctor["findings"], serde_json::json!([]), "{doctor:#}");
}

/// One SIGTERM: the running stage finishes and is routed, then the daemon
/// exits; the next start continues at the next node.
#[test]
fn first_sigterm_lets_the_stage_finish_then_stops() {
    one_stop_signal_lets_the_stage_finish_then_stops(libc::SIGTERM);
}

/// SIGHUP (the terminal went away) and SIGQUIT stop the daemon the way
/// SIGTERM does, never on the spot.
#[test]
fn sighup_and_sigquit_stop_gracefully_like_sigterm() {
    one_stop_signal_lets_the_stage_finish_then_stops(libc::SIGHUP);
    one_stop_signal_lets_the_stage_finish_then_stops(libc::SIGQUIT);
}

fn one_stop_signal_lets_the_stage_finish_then_stops(sig: i32) {
    let bench = scripted_bench(
        "[stages]\nbuilder = [{ outcome = \"BUILDER_COMPLETE\", delay_ms = 1500 }]\n\
         checker = [\"CHECKER_PASS\"]\nupdater = [\"UPDATE_COMPLETE\"]\n",
    );
    one_task(&bench);
    let log = bench.root.join("daemon");
    let mut daemon = bench.spawn(&["run", "daemon"], &log);
    eventually(Duration::from_secs(30), "the builder to start", || {
        !events(&bench, "stage_started").is_empty()
    });
    signal(daemon.id(), sig);
    let status = wait_for(&mut daemon, Duration::from_secs(20), "the daemon after stop");
    check_logs(&log);
    assert!(status.success(), "daemon exit after signal {sig}: {status}");
    assert!(!group_alive(daemon.id()));
    assert!(
        !bench.path("state/runtime_daemon.lock.json").exists(),
        "lock left behind"
    );
    assert_eq!(routed_nodes(&bench), ["builder"]);
    let snap = snapshot(&bench);
    let run = &snap["active_runs"]["execution"];
    assert_eq!(run["node"], "checker", "{snap:#}");
    assert_eq!(run["pending_request_id"], Value::Null, "{snap:#}");
    assert_eq!(run["interruptions"], 0, "{snap:#}");

    let out = bench.run(&["run", "daemon", "--exit-when-idle"]);
    assert_no_panic("restart", &out);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(routed_nodes(&bench), ["builder", "checker", "updater"]);
    assert_eq!(bench.stems("tasks/done"), ["t01"]);
}

/// `millrace stop` (through the mailbox) and `stop --now` behave as the
/// signals do.
#[test]
fn stop_now_command_interrupts_and_the_next_start_resumes() {
    let bench = scripted_bench(
        "[stages]\nbuilder = [{ outcome = \"BUILDER_COMPLETE\", delay_ms = 60000 }, \"BUILDER_COMPLETE\"]\n\
         checker = [\"CHECKER_PASS\"]\nupdater = [\"UPDATE_COMPLETE\"]\n",
    );
    one_task(&bench);
    let log = bench.root.join("daemon");
    let mut daemon = bench.spawn(&["run", "daemon"], &log);
    eventually(Duration::from_secs(30), "the builder to start", || {
        !events(&bench, "stage_started").is_empty()
    });
    let out = bench.run(&["stop", "--now"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("mailbox"), "{}", text(&out.stdout));
    let status = wait_for(
        &mut daemon,
        Duration::from_secs(20),
        "the daemon after stop --now",
    );
    check_logs(&log);
    assert!(status.success());
    assert!(
        !bench.path("state/runtime_daemon.lock.json").exists(),
        "lock left behind"
    );
    let snap = snapshot(&bench);
    assert_eq!(snap["active_runs"]["execution"]["node"], "builder", "{snap:#}");
    assert!(routed_nodes(&bench).is_empty());

    let out = bench.run(&["run", "daemon", "--exit-when-idle"]);
    assert_no_panic("restart", &out);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(routed_nodes(&bench), ["builder", "checker", "updater"]);
    assert_eq!(bench.stems("tasks/done"), ["t01"]);
}

/// `run once` handles signals as the daemon does. It installed no handler,
/// so SIGTERM or Ctrl-C ended the process and left the harness (in its
/// own process group) running, with a stale lock.
#[test]
fn run_once_is_stopped_by_signals_without_leaving_the_harness() {
    require_python();
    let bench = Bench::init();
    bench.write(
        "millrace.toml",
        &format!("[runners.codex]\ncommand = \"{}\"\n", fake("codex")),
    );
    one_task(&bench);
    let log = bench.root.join("once");
    let mut once = bench
        .command(&["run", "once"])
        .env("FAKE_SCENARIO", "hang")
        .stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(log.with_extension("out")).unwrap())
        .stderr(std::fs::File::create(log.with_extension("err")).unwrap())
        .spawn()
        .unwrap();
    let pid = once.id();
    eventually(Duration::from_secs(30), "the harness", || {
        !children_of(pid).is_empty()
    });
    let harness = children_of(pid)[0];
    let _reap = Reap(harness);
    signal(pid, libc::SIGINT);
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        once.try_wait().unwrap().is_none(),
        "run once died on the first signal"
    );
    signal(pid, libc::SIGTERM);
    let status = wait_for(&mut once, Duration::from_secs(20), "run once after two signals");
    check_logs(&log);
    assert!(status.success(), "run once exit: {status}");
    eventually(Duration::from_secs(5), "the harness group to vanish", || {
        !group_alive(harness)
    });
    assert!(
        !bench.path("state/runtime_daemon.lock.json").exists(),
        "lock left behind"
    );
    let snap = snapshot(&bench);
    assert_eq!(snap["active_runs"]["execution"]["node"], "builder", "{snap:#}");
    assert!(routed_nodes(&bench).is_empty(), "the killed stage was routed");
    let out = bench
        .command(&["run", "once"])
        .env("FAKE_SCENARIO", "success")
        .output()
        .unwrap();
    assert_no_panic("restart", &out);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(routed_nodes(&bench), ["builder"]);
}

/// Whether `pid` is a running process (not gone, not a zombie).
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(')').map(|(_, rest)| rest.trim_start().to_string()))
        .is_some_and(|rest| !rest.starts_with('Z') && !rest.starts_with('X'))
}

/// A SIGKILLed daemon cannot reap its harness, which (in its own process
/// group) goes on running. The next start kills that group before it runs
/// the stage again, so two harnesses never work on one item at once.
#[test]
fn a_harness_left_by_a_killed_daemon_is_stopped_before_its_stage_reruns() {
    require_python();
    let bench = Bench::init();
    let Hanging {
        mut daemon,
        log,
        harness,
        grandchild,
    } = hanging_daemon(&bench);
    let pid = daemon.id();
    let _reap = Reap(harness);
    eventually(Duration::from_secs(10), "the process record", || {
        bench.names("runs").iter().any(|run| {
            bench
                .names(&format!("runs/{run}"))
                .iter()
                .any(|n| n.starts_with("runner_process."))
        })
    });
    signal(pid, libc::SIGKILL);
    wait_for(&mut daemon, Duration::from_secs(10), "the killed daemon");
    check_logs(&log);
    assert!(running(harness), "the harness died with the daemon");
    assert!(running(grandchild), "the grandchild died with the daemon");

    let out = bench
        .command(&["run", "daemon", "--exit-when-idle"])
        .env("FAKE_SCENARIO", "success")
        .output()
        .unwrap();
    assert_no_panic("restart", &out);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let killed = events(&bench, "orphaned_harness_killed");
    assert_eq!(killed.len(), 1, "{killed:?}");
    assert_eq!(
        killed[0]["data"]["pgid"].as_u64(),
        Some(u64::from(harness)),
        "{killed:?}"
    );
    eventually(Duration::from_secs(5), "the orphaned harness to die", || {
        !running(harness) && !running(grandchild)
    });
    assert_eq!(bench.stems("tasks/done"), ["t01"]);
}
