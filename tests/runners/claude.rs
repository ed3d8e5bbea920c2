//! `claude_code` against the fake Claude: argv golden, result-line
//! classification, rate limits and usage.

use millrace::model::{Budget, ExitKind, FailureClass};
use millrace::runners::ClaudeConfig;
use millrace::runners::claude::argv;

use super::{Fixture, assert_failure, assert_success, fake_config, require_python, run};

#[test]
fn default_argv() {
    let fx = Fixture::new();
    let got = argv(&fx.request("claude_code"), &ClaudeConfig::default(), "PROMPT");
    assert_eq!(
        got.join(" "),
        "-p PROMPT --output-format stream-json --verbose --permission-mode bypassPermissions"
    );
}

#[test]
fn full_argv() {
    let fx = Fixture::new();
    let mut req = fx.request("claude_code");
    req.budget = Some(Budget {
        max_tokens: None,
        max_cost_usd: Some(0.5),
    });
    let cfg = ClaudeConfig {
        args: vec!["--append-system-prompt".into(), "be brief".into()],
        model: Some("sonnet".into()),
        permission_mode: millrace::runners::ClaudePermissionMode::AcceptEdits,
        max_turns: Some(40),
        max_budget_usd: Some(2.0),
        allowed_tools: vec!["Read".into(), "Bash(git diff:*)".into()],
        disallowed_tools: vec!["WebFetch".into()],
        bare: true,
        ..ClaudeConfig::default()
    };
    let want = "--append-system-prompt be brief -p PROMPT --output-format stream-json --verbose \
                --model sonnet --max-turns 40 --max-budget-usd 0.5 --permission-mode acceptEdits \
                --allowedTools=Read --allowedTools=Bash(git diff:*) --disallowedTools=WebFetch --bare";
    assert_eq!(argv(&req, &cfg, "PROMPT").join(" "), want);
    req.model = Some("opus".into());
    assert!(
        argv(&req, &cfg, "P").join(" ").contains("--model opus"),
        "the request's model wins"
    );
}

#[tokio::test]
async fn success_with_usage_cost_and_rate_limit() {
    require_python();
    let fx = Fixture::new();
    let result = run(&fx.request("claude_code"), &fake_config("success")).await;
    assert_success(&result, "BUILDER_COMPLETE");
    let usage = result.token_usage.unwrap();
    assert_eq!(
        (usage.input_tokens, usage.cached_input_tokens, usage.output_tokens),
        (1050, 900, 250)
    );
    assert_eq!(result.cost_usd, Some(0.0123));
    let limit = result.rate_limit.unwrap();
    assert_eq!(limit.window, "five_hour");
    assert!((limit.used_percent - 42.0).abs() < 1e-9);
    let last = std::fs::read_to_string(fx.run_dir().join("runner_last_message.req-1.txt")).unwrap();
    assert!(last.ends_with("### BUILDER_COMPLETE\n"));
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
            "crash_after_marker",
            FailureClass::RunnerTransportFailure,
            ExitKind::RunnerError,
        ),
        (
            "provider_error",
            FailureClass::ProviderFailure,
            ExitKind::ProviderError,
        ),
        ("budget", FailureClass::BudgetExhausted, ExitKind::BudgetExhausted),
        ("quota", FailureClass::QuotaExhausted, ExitKind::QuotaExhausted),
    ];
    for (scenario, class, exit) in cases {
        let fx = Fixture::new();
        let result = run(&fx.request("claude_code"), &fake_config(scenario)).await;
        assert_failure(&result, class);
        assert_eq!(result.exit, exit, "{scenario}: {:?}", result.notes);
    }
}

#[tokio::test]
async fn is_error_fails_even_with_subtype_success_and_exit_zero() {
    require_python();
    let fx = Fixture::new();
    let result = run(&fx.request("claude_code"), &fake_config("provider_error")).await;
    assert_failure(&result, FailureClass::ProviderFailure);
    assert_eq!(result.exit_code, Some(0));
}

#[tokio::test]
async fn rejected_rate_limit_gives_the_reset_time() {
    require_python();
    let fx = Fixture::new();
    let before = jiff::Timestamp::now();
    let result = run(&fx.request("claude_code"), &fake_config("quota_later")).await;
    assert_failure(&result, FailureClass::QuotaExhausted);
    let reset = result.quota_reset_at.expect("resetsAt read");
    let ahead = reset.duration_since(before).as_secs();
    assert!((7000..=7300).contains(&ahead), "reset {ahead}s ahead");
    assert_eq!(result.rate_limit.unwrap().used_percent, 100.0);
}

#[tokio::test]
async fn stream_json_without_verbose_is_refused() {
    require_python();
    // The fake refuses what the real CLI refuses...
    let out = std::process::Command::new(super::fake("claude"))
        .args(["-p", "hi", "--output-format", "stream-json"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("requires --verbose"));
    // ...and accepts our argv, which always passes --verbose.
    let fx = Fixture::new();
    let result = run(&fx.request("claude_code"), &fake_config("success")).await;
    assert_success(&result, "BUILDER_COMPLETE");
}
