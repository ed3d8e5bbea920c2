//! Process-group discipline: timeouts and cancels leave no process behind,
//! huge output is streamed, non-UTF-8 output is harmless.

use std::time::Duration;

use millrace::model::{ExitKind, FailureClass};
use millrace::runners::{Cancel, group_exists, group_has_live_members};

use super::{Fixture, assert_failure, assert_success, completion, fake_config, require_python, run};

/// Waits (bounded) for the group to vanish entirely: an init that reaps
/// lazily may keep dead members as zombies for a moment.
async fn group_vanishes(pgid: i32) -> bool {
    for _ in 0..200 {
        if !group_exists(pgid) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

async fn timeout_kills_group(runner: &str) {
    let fx = Fixture::new();
    let pid_file = fx.dir.path().join("grandchild.pid");
    let mut cfg = fake_config("grandchild_hang");
    for env in [&mut cfg.codex.env, &mut cfg.claude.env, &mut cfg.pi.env] {
        env.insert("FAKE_PID_FILE".into(), pid_file.display().to_string());
    }
    let mut req = fx.request(runner);
    req.timeout_seconds = 1;
    let result = run(&req, &cfg).await;
    assert_failure(&result, FailureClass::RunnerTimeout);
    assert_eq!(result.exit, ExitKind::Timeout);
    let grandchild: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let pgid = i32::try_from(completion(&fx)["pgid"].as_i64().unwrap()).unwrap();
    assert!(pgid > 1 && grandchild != pgid);
    // No member runs the moment run_stage returns...
    assert!(
        !group_has_live_members(pgid),
        "{runner}: a process of group {pgid} survived"
    );
    // ...and kill(-pgid, 0) fails with ESRCH once the dead are reaped.
    assert!(group_vanishes(pgid).await, "{runner}: group {pgid} still exists");
}

#[tokio::test]
async fn codex_timeout_kills_the_whole_group() {
    if require_python() {
        timeout_kills_group("codex_cli").await;
    }
}

#[tokio::test]
async fn claude_timeout_kills_the_whole_group() {
    if require_python() {
        timeout_kills_group("claude_code").await;
    }
}

#[tokio::test]
async fn pi_timeout_kills_the_whole_group() {
    if require_python() {
        timeout_kills_group("pi_rpc").await;
    }
}

#[tokio::test]
async fn cancel_kills_the_group_and_reports_killed() {
    require_python();
    let fx = Fixture::new();
    let req = fx.request("codex_cli");
    let cfg = fake_config("grandchild_hang");
    let (trigger, cancel) = Cancel::new();
    let stage = millrace::runners::run_stage(&req, &cfg, cancel);
    let fire = async {
        tokio::time::sleep(Duration::from_millis(400)).await;
        trigger.cancel();
    };
    let (result, ()) = tokio::join!(stage, fire);
    assert_failure(&result, FailureClass::Killed);
    assert_eq!(result.exit, ExitKind::Killed);
    assert_eq!(result.fault(), millrace::model::Fault::Interrupted);
    let pgid = i32::try_from(completion(&fx)["pgid"].as_i64().unwrap()).unwrap();
    assert!(!group_has_live_members(pgid));
    assert!(group_vanishes(pgid).await);
}

#[tokio::test]
async fn cancelled_before_start_spawns_nothing() {
    let fx = Fixture::new();
    let (trigger, cancel) = Cancel::new();
    trigger.cancel();
    let result =
        millrace::runners::run_stage(&fx.request("codex_cli"), &fake_config("success"), cancel).await;
    assert_failure(&result, FailureClass::Killed);
    assert!(!fx.run_dir().join("runner_stdout.req-1.txt").exists());
}

#[tokio::test]
async fn twenty_megabytes_are_streamed_not_held() {
    require_python();
    let fx = Fixture::new();
    let result = run(&fx.request("codex_cli"), &fake_config("huge")).await;
    assert_success(&result, "BUILDER_COMPLETE");
    let size = std::fs::metadata(fx.run_dir().join("runner_stdout.req-1.txt"))
        .unwrap()
        .len();
    assert!(size > 20 * 1024 * 1024, "stdout file has {size} bytes");
    let record = completion(&fx);
    assert_eq!(record["stdout_bytes"].as_u64(), Some(size));
    let peak = record["peak_line_buffer_bytes"].as_u64().unwrap();
    assert!(peak <= 4 * 1024 * 1024, "held {peak} bytes of one line");
    assert!(
        result.notes.iter().any(|n| n.contains("cut for parsing")),
        "{:?}",
        result.notes
    );
}

#[tokio::test]
async fn non_utf8_output_is_harmless_everywhere() {
    require_python();
    for runner in ["codex_cli", "claude_code", "pi_rpc"] {
        let fx = Fixture::new();
        let result = run(&fx.request(runner), &fake_config("garbled")).await;
        assert_failure(&result, FailureClass::MissingTerminalResult);
        let stdout = std::fs::read(fx.run_dir().join("runner_stdout.req-1.txt")).unwrap();
        assert!(
            stdout.windows(2).any(|w| w == b"\xff\xfe"),
            "{runner}: raw bytes kept as they were"
        );
    }
}

#[tokio::test]
async fn missing_binary_is_runner_not_installed() {
    let fx = Fixture::new();
    let mut cfg = fake_config("success");
    cfg.codex.command = "millrace-no-such-codex".into();
    let result = run(&fx.request("codex_cli"), &cfg).await;
    assert_failure(&result, FailureClass::RunnerNotInstalled);
    assert_eq!(result.exit, ExitKind::NotInstalled);
    assert!(
        result
            .notes
            .iter()
            .any(|n| n.contains("npm install -g @openai/codex")),
        "{:?}",
        result.notes
    );
}
