//! `pi_rpc` against the fake Pi: argv golden, the RPC exchange, every
//! scenario's class, abort on timeout, and the event-log policy.

use millrace::model::{ExitKind, FailureClass};
use millrace::plan::Effort;
use millrace::runners::pi::argv;
use millrace::runners::{Cancel, PiConfig, PiEventLogPolicy};

use super::{Fixture, assert_failure, assert_success, fake_config, require_python, run};

#[test]
fn default_and_full_argv() {
    let fx = Fixture::new();
    let mut req = fx.request("pi_rpc");
    let got = argv(&req, &PiConfig::default()).join(" ");
    assert_eq!(got, "--mode rpc --no-session --no-context-files --no-skills");
    let cfg = PiConfig {
        args: vec!["--tools".into(), "read,bash".into()],
        provider: Some("anthropic".into()),
        thinking: Some("low".into()),
        disable_context_files: false,
        disable_skills: false,
        ..PiConfig::default()
    };
    req.model = Some("claude-sonnet".into());
    let got = argv(&req, &cfg).join(" ");
    assert_eq!(
        got,
        "--tools read,bash --mode rpc --no-session --provider anthropic --model claude-sonnet --thinking low"
    );
    req.effort = Some(Effort::High);
    assert!(
        argv(&req, &cfg).join(" ").contains("--thinking high"),
        "request effort wins"
    );
}

#[tokio::test]
async fn success_over_rpc() {
    require_python();
    let fx = Fixture::new();
    let result = run(&fx.request("pi_rpc"), &fake_config("success")).await;
    assert_success(&result, "BUILDER_COMPLETE");
    let usage = result.token_usage.unwrap();
    assert_eq!(
        (usage.input_tokens, usage.cached_input_tokens, usage.total_tokens),
        (1300, 100, 1600)
    );
    assert_eq!(result.cost_usd, Some(0.034));
    // failure_full: a clean stage keeps no event log.
    assert!(result.events_path.is_none());
    assert!(!fx.run_dir().join("runner_events.req-1.jsonl").exists());
}

#[tokio::test]
async fn full_policy_keeps_the_event_log_without_deltas() {
    require_python();
    let fx = Fixture::new();
    let mut cfg = fake_config("success");
    cfg.pi.event_log_policy = PiEventLogPolicy::Full;
    let result = run(&fx.request("pi_rpc"), &cfg).await;
    assert_success(&result, "BUILDER_COMPLETE");
    let log = std::fs::read_to_string(result.events_path.unwrap()).unwrap();
    assert!(log.contains("agent_end"));
    assert!(!log.contains("message_update"));
}

#[tokio::test]
async fn failure_scenarios_map_to_their_classes() {
    require_python();
    let cases = [
        (
            "garbled",
            FailureClass::MissingTerminalResult,
            ExitKind::Completed,
        ),
        ("empty", FailureClass::MissingTerminalResult, ExitKind::Completed),
        (
            "two_markers",
            FailureClass::ConflictingTerminalResults,
            ExitKind::Completed,
        ),
        (
            "illegal_marker",
            FailureClass::IllegalTerminalResult,
            ExitKind::Completed,
        ),
        (
            "truncated",
            FailureClass::RunnerTransportFailure,
            ExitKind::RunnerError,
        ),
        (
            "reject_prompt",
            FailureClass::RunnerTransportFailure,
            ExitKind::RunnerError,
        ),
        (
            "crash_after_marker",
            FailureClass::RunnerTransportFailure,
            ExitKind::RunnerError,
        ),
        (
            "provider_error",
            FailureClass::ProviderFailure,
            ExitKind::ProviderError,
        ),
        ("quota", FailureClass::QuotaExhausted, ExitKind::QuotaExhausted),
    ];
    for (scenario, class, exit) in cases {
        let fx = Fixture::new();
        let result = run(&fx.request("pi_rpc"), &fake_config(scenario)).await;
        assert_failure(&result, class);
        assert_eq!(result.exit, exit, "{scenario}: {:?}", result.notes);
        if class != FailureClass::MissingTerminalResult || scenario == "garbled" {
            assert!(
                fx.run_dir().join("runner_events.req-1.jsonl").exists(),
                "{scenario} keeps its log"
            );
        }
    }
}

#[tokio::test]
async fn timeout_sends_abort_and_the_fake_winds_down() {
    require_python();
    let fx = Fixture::new();
    let mut req = fx.request("pi_rpc");
    req.timeout_seconds = 1;
    let result = run(&req, &fake_config("hang")).await;
    assert_failure(&result, FailureClass::RunnerTimeout);
    assert_eq!(result.exit, ExitKind::Timeout);
    let stdout = std::fs::read_to_string(fx.run_dir().join("runner_stdout.req-1.txt")).unwrap();
    assert!(
        stdout.contains("\"command\": \"abort\""),
        "abort was acknowledged: {stdout}"
    );
    assert!(stdout.contains("aborted"));
}

#[tokio::test]
async fn cancel_ends_as_killed() {
    require_python();
    let fx = Fixture::new();
    let req = fx.request("pi_rpc");
    let (trigger, cancel) = Cancel::new();
    let cfg = fake_config("hang");
    let stage = millrace::runners::run_stage(&req, &cfg, cancel);
    let fire = async {
        tokio::time::sleep(std::time::Duration::from_millis(400)).await;
        trigger.cancel();
    };
    let (result, ()) = tokio::join!(stage, fire);
    assert_failure(&result, FailureClass::Killed);
    assert_eq!(result.exit, ExitKind::Killed);
}
