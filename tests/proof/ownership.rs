//! One owner per workspace, whatever the timing: many runtimes started at
//! once against a dead owner's record (with every step of the takeover
//! slowed down), and runtimes killed with SIGKILL and replaced at once with
//! a second contender, again and again.
//!
//! What is checked: exactly one process owns the workspace at a time (the
//! others are refused with `mill::lock::held` or `mill::lock::contended`),
//! the takeover of a dead owner is automatic and always logged, and the
//! event log's sequence numbers never repeat (two owners would each number
//! their own).

use std::collections::BTreeSet;
use std::process::Child;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{Bench, signal, wait_for};

/// `MILLRACE_OWNERSHIP_ROUNDS` sets the kill-and-replace rounds (default 50).
fn rounds() -> usize {
    std::env::var("MILLRACE_OWNERSHIP_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50)
}

fn events(bench: &Bench) -> Vec<Value> {
    let log = std::fs::read_to_string(bench.path("logs/runtime_events.jsonl")).unwrap_or_default();
    log.lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

fn count(events: &[Value], kind: &str) -> usize {
    events.iter().filter(|e| e["event_type"] == kind).count()
}

fn assert_unique_seqs(events: &[Value]) {
    let mut seen = BTreeSet::new();
    for e in events {
        let seq = e["seq"].as_u64().unwrap();
        assert!(
            seen.insert(seq),
            "event sequence number {seq} written twice: two owners"
        );
    }
}

/// The pid in the ownership record, once its owner has started (logged
/// `runtime_started` for its session): a kill before that would also kill
/// the takeover's event, which is not what these tests look at.
fn recorded_owner(bench: &Bench) -> Option<u32> {
    let text = std::fs::read_to_string(bench.path("state/runtime_daemon.lock.json")).ok()?;
    let record: Value = serde_json::from_str(&text).ok()?;
    let started = events(bench)
        .iter()
        .any(|e| e["event_type"] == "runtime_started" && e["data"]["session"] == record["owner_session_id"]);
    started
        .then(|| record["owner_pid"].as_u64().map(|p| p as u32))
        .flatten()
}

/// A daemon that runs until stopped (there is no work: it idles).
/// `delay_ms` slows every step of the takeover down (the lock's test knob).
fn daemon(bench: &Bench, name: &str, delay_ms: u64) -> Child {
    let delay = delay_ms.to_string();
    bench.spawn_with_env(
        &["run", "daemon"],
        &bench.root.join(name),
        &[("MILLRACE_LOCK_STEP_DELAY_MS", &delay)],
    )
}

/// Waits until `child` owns the workspace (its pid is in the record).
fn wait_owner(bench: &Bench, child: &mut Child) {
    let start = Instant::now();
    while recorded_owner(bench) != Some(child.id()) {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the daemon exited ({status}) instead of taking ownership");
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no ownership after 20 s"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn idle_bench() -> Bench {
    let bench = Bench::init();
    bench.write(
        "millrace.toml",
        "[runtime]\ndefault_mode = \"default_codex\"\nidle_sleep_seconds = 0.01\n",
    );
    bench
}

/// A record left by a process that is gone (a pid no process has).
fn write_dead_record(bench: &Bench) {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let record = serde_json::json!({
        "workspace_root": bench.root.display().to_string(), "owner_pid": 999_999_999u32,
        "owner_hostname": host.trim(), "owner_session_id": "dead-session",
        "owner_start_time": 1, "acquired_at": "2026-01-01T00:00:00Z",
    });
    bench.write("state/runtime_daemon.lock.json", &format!("{record:#}\n"));
}

/// Every refused contender says why with a lock code.
fn assert_refused(child: Child, bench: &Bench, name: &str) {
    let mut child = child;
    let status = wait_for(&mut child, Duration::from_secs(30), name);
    let err = std::fs::read_to_string(bench.root.join(name).with_extension("err")).unwrap();
    assert!(!status.success(), "{name} ran beside the owner");
    assert!(
        err.contains("mill::lock::held") || err.contains("mill::lock::contended"),
        "{name} failed for another reason: {err}"
    );
}

#[test]
fn many_contenders_against_a_dead_owners_record_make_exactly_one_owner() {
    let bench = idle_bench();
    write_dead_record(&bench);
    let mut children: Vec<(String, Child)> = (0..8)
        .map(|i| {
            let name = format!("contender-{i}");
            let child = daemon(&bench, &name, 40);
            (name, child)
        })
        .collect();
    // Wait until all but one have given up.
    let start = Instant::now();
    loop {
        let running = children
            .iter_mut()
            .filter_map(|(_, c)| c.try_wait().unwrap().is_none().then_some(()))
            .count();
        if running <= 1 && recorded_owner(&bench).is_some() {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{running} contenders still running"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let owner_pid = recorded_owner(&bench).unwrap();
    let (owner, others): (Vec<_>, Vec<_>) = children.into_iter().partition(|(_, c)| c.id() == owner_pid);
    for (name, child) in others {
        assert_refused(child, &bench, &name);
    }
    let (name, mut owner) = owner
        .into_iter()
        .next()
        .expect("the owner is one of the contenders");
    signal(owner.id(), libc::SIGTERM);
    let status = wait_for(&mut owner, Duration::from_secs(30), &name);
    assert!(status.success(), "the owner did not stop cleanly");
    let events = events(&bench);
    assert_eq!(
        count(&events, "lock_taken_over"),
        1,
        "exactly one takeover is logged"
    );
    assert_eq!(
        count(&events, "runtime_started"),
        1,
        "exactly one runtime started"
    );
    assert_unique_seqs(&events);
}

#[test]
fn a_killed_owner_is_replaced_at_once_by_one_of_two_contenders_every_time() {
    let bench = idle_bench();
    let mut owner = daemon(&bench, "first", 0);
    wait_owner(&bench, &mut owner);
    for round in 0..rounds() {
        signal(owner.id(), libc::SIGKILL);
        let _ = owner.wait();
        let a = daemon(&bench, &format!("a-{round}"), 5);
        let b = daemon(&bench, &format!("b-{round}"), 5);
        let mut pair = [(format!("a-{round}"), a), (format!("b-{round}"), b)];
        // One of them takes over; the other is refused.
        let start = Instant::now();
        let winner = loop {
            let pid = recorded_owner(&bench);
            if let Some(i) = pair.iter().position(|(_, c)| Some(c.id()) == pid) {
                break i;
            }
            let dead = pair.iter_mut().all(|(_, c)| c.try_wait().unwrap().is_some());
            assert!(!dead, "round {round}: both contenders exited, nobody took over");
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "round {round}: no takeover"
            );
            std::thread::sleep(Duration::from_millis(5));
        };
        let [first, second] = pair;
        let ((_, won), (lost_name, lost)) = if winner == 0 {
            (first, second)
        } else {
            (second, first)
        };
        assert_refused(lost, &bench, &lost_name);
        owner = won;
    }
    signal(owner.id(), libc::SIGTERM);
    wait_for(&mut owner, Duration::from_secs(30), "the last owner");
    let events = events(&bench);
    assert_eq!(
        count(&events, "lock_taken_over"),
        rounds(),
        "every takeover is logged"
    );
    assert_unique_seqs(&events);
    let doctor = bench.doctor();
    assert_eq!(doctor["errors"], 0, "doctor after the last stop: {doctor}");
}
