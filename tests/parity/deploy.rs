//! The systemd unit of `docs/deploy.md`: it passes `systemd-analyze
//! verify` (which must be installed: `.ci/run` installs Debian's `systemd`
//! package), `docs/deploy.md` shows it as shipped, and the stop it
//! configures (its `ExecStop=`, then SIGTERM to the daemon alone, as
//! `KillMode=mixed` sends it) ends the daemon cleanly with the harness's
//! stage recorded as interrupted, not failed.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::workspace::{Ws, field, stderr, stdout, task_md};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn unit() -> String {
    std::fs::read_to_string(repo().join("docs/deploy/millrace@.service")).unwrap()
}

/// The unit as installed for the workspace `/srv/app`, with this build's
/// binary in place of `/usr/local/bin/millrace`.
fn installed_unit(dir: &Path) -> PathBuf {
    let text = unit().replace("/usr/local/bin/millrace", env!("CARGO_BIN_EXE_millrace"));
    let path = dir.join("millrace@srv-app.service");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn the_unit_passes_systemd_analyze_verify() {
    let dir = tempfile::tempdir().unwrap();
    let path = installed_unit(dir.path());
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .expect("systemd-analyze is needed (Debian package `systemd`; .ci/run installs it)");
    let err = stderr(&out);
    assert!(out.status.success(), "systemd-analyze verify failed:\n{err}");
    assert!(!err.contains("millrace@"), "warnings about the unit:\n{err}");
    // It does check: a broken copy is refused.
    let broken = dir.path().join("broken@srv-app.service");
    std::fs::write(&broken, unit().replace("KillMode=mixed", "KillMode=gently")).unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&broken)
        .output()
        .unwrap();
    assert!(stderr(&out).contains("kill mode"), "{}", stderr(&out));
}

#[test]
fn the_unit_keeps_its_promises() {
    let unit = unit();
    for line in [
        "KillMode=mixed",
        "Restart=on-failure",
        "ExecStart=/usr/local/bin/millrace --workspace %f run daemon --monitor basic",
        "ExecStop=/usr/local/bin/millrace --workspace %f stop --now",
        "StandardOutput=journal",
    ] {
        assert!(unit.lines().any(|l| l == line), "{line}");
    }
    let docs = std::fs::read_to_string(repo().join("docs/deploy.md")).unwrap();
    assert!(docs.contains(&unit), "docs/deploy.md shows the unit as shipped");
}

fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'))
    })
}

fn child_of(parent: u32) -> Option<u32> {
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|entry| {
        let pid = entry.file_name().to_string_lossy().parse::<u32>().ok()?;
        let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
        let (_, rest) = stat.rsplit_once(')')?;
        (rest.split_whitespace().nth(1)?.parse::<u32>().ok()? == parent).then_some(pid)
    })
}

fn wait_until(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_units_stop_kills_the_harness_and_records_the_stage_as_interrupted() {
    let ws = Ws::new();
    ws.write(
        "millrace.toml",
        "[runtime]\nidle_sleep_seconds = 0.05\n\n[stages.builder]\nrunner = \"command\"\n\n\
         [runners.command.stages.builder]\nargv = [\"sleep\", \"30\"]\nsuccess = \"BUILDER_COMPLETE\"\nfailure = \"BLOCKED\"\n",
    );
    ws.write("tasks/queue/t1.md", &task_md("t1", "2026-01-01T00:00:00Z", &[]));
    let root = ws.root.to_str().unwrap().to_string();
    let command = |key: &str| -> Vec<String> {
        let line = unit()
            .lines()
            .find_map(|l| l.strip_prefix(key).map(str::to_string))
            .unwrap();
        line.replace("%f", &root)
            .split(' ')
            .skip(1)
            .map(str::to_string)
            .collect()
    };
    let mut daemon = Command::new(env!("CARGO_BIN_EXE_millrace"))
        .args(command("ExecStart="))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = daemon.id();
    let mut harness = None;
    wait_until(Duration::from_secs(30), "the harness to start", || {
        harness = child_of(pid);
        harness.is_some()
    });
    let harness = harness.unwrap();

    // systemctl stop: ExecStop, then SIGTERM to the main process only.
    let out = Command::new(env!("CARGO_BIN_EXE_millrace"))
        .args(command("ExecStop="))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(field(&stdout(&out), "mode").as_deref(), Some("mailbox"));
    let term = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let started = Instant::now();
    let status = loop {
        if let Some(status) = daemon.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(20) {
            let _ = daemon.kill();
            panic!("the daemon did not stop within 20 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let output = daemon.wait_with_output().unwrap();
    assert!(
        status.success(),
        "a clean stop exits 0 (no restart): {}",
        stderr(&output)
    );
    assert!(!running(harness), "the harness is gone");
    assert!(
        !ws.path("state/runtime_daemon.lock.json").exists(),
        "no lock is left"
    );

    let log = std::fs::read_to_string(ws.path("logs/runtime_events.jsonl")).unwrap();
    let events: Vec<serde_json::Value> = log.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    assert!(
        events.iter().any(|e| e["event_type"] == "stage_interrupted"),
        "the stage is recorded as interrupted"
    );
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["event_type"].as_str()).collect();
    let last_stage = kinds.iter().rposition(|k| k.starts_with("stage_")).unwrap();
    assert_eq!(
        kinds[last_stage], "stage_interrupted",
        "the killed stage ends interrupted, never routed as a failure: {kinds:?}"
    );
    assert!(
        ws.path("tasks/active/t1.md").exists(),
        "the task waits at its node"
    );
    let status = stdout(&ws.run(&["status"]));
    assert!(
        status.contains("active_run: plane=execution node=builder"),
        "{status}"
    );
}
