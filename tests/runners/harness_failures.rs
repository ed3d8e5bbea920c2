//! A harness failure is not an agent outcome: every runner classifies what
//! its real CLI prints when it cannot work (replayed by the fakes from the
//! captures) as the harness's problem, a transient one, or a quota, with the
//! harness's own words kept for the operator.

use millrace::model::{FailureClass, Fault};

use super::{Fixture, assert_failure, fake_config, require_python, run};

/// Runs `scenario` on `runner` with a short stall limit.
async fn outcome(runner: &str, scenario: &str) -> millrace::model::StageResult {
    let fx = Fixture::new();
    let mut cfg = fake_config(scenario);
    // Short only where a stall is the case, and even then long enough for
    // a loaded machine to start the fake's interpreter and print its first
    // notice (the stall's last words).
    cfg.stall_seconds = if scenario == "stall" { 4 } else { 60 };
    run(&fx.request(runner), &cfg).await
}

#[tokio::test]
async fn each_runner_sorts_its_harness_failures() {
    require_python();
    use FailureClass::{HarnessStalled, HarnessUnavailable, ProviderTransient, QuotaExhausted};
    let cases = [
        ("codex_cli", "bad_key", HarnessUnavailable, "Incorrect API key"),
        (
            "codex_cli",
            "insufficient_quota",
            HarnessUnavailable,
            "Quota exceeded",
        ),
        ("codex_cli", "server_error", ProviderTransient, "high demand"),
        ("codex_cli", "quota", QuotaExhausted, "usage limit"),
        ("codex_cli", "stall", HarnessStalled, "waiting for network"),
        // Claude retries a 401 first; the runner may stop it at the retry
        // notice or read its final result, whichever comes first.
        (
            "claude_code",
            "bad_key",
            HarnessUnavailable,
            "Invalid API key|authentication_failed",
        ),
        ("claude_code", "rate_limit", QuotaExhausted, "rate limit"),
        ("claude_code", "quota", QuotaExhausted, "5-hour limit"),
        (
            "claude_code",
            "server_error",
            ProviderTransient,
            "Internal server error",
        ),
        ("pi_rpc", "bad_key", HarnessUnavailable, "authentication_error"),
        ("pi_rpc", "rate_limit", ProviderTransient, "rate limit"),
        ("pi_rpc", "stall", HarnessStalled, ""),
        ("gemini_cli", "bad_key", HarnessUnavailable, "API key not valid"),
        ("gemini_cli", "no_auth", HarnessUnavailable, "Auth method"),
        ("gemini_cli", "quota", QuotaExhausted, "daily quota"),
        ("gemini_cli", "server_error", ProviderTransient, "Internal error"),
        ("gemini_cli", "stall", HarnessStalled, ""),
    ];
    for (runner, scenario, class, words) in cases {
        let result = outcome(runner, scenario).await;
        assert_failure(&result, class);
        assert_ne!(result.fault(), Fault::Agent, "{runner} {scenario}");
        let said = result.failure_words().unwrap_or_default().to_string();
        let quoted = |w: &str| said.contains(w) || result.notes.iter().any(|n| n.contains(w));
        assert!(
            words.split('|').any(quoted),
            "{runner} {scenario}: {said:?} {:?}",
            result.notes
        );
    }
}

#[tokio::test]
async fn pi_finishes_a_stage_its_own_retry_rescued() {
    require_python();
    let result = outcome("pi_rpc", "rate_then_success").await;
    super::assert_success(&result, "BUILDER_COMPLETE");
}

#[tokio::test]
async fn claude_as_root_says_how_to_fix_it() {
    require_python();
    let fx = Fixture::new();
    let mut cfg = fake_config("success");
    cfg.claude.env.insert("FAKE_AS_ROOT".into(), "1".into());
    let result = run(&fx.request("claude_code"), &cfg).await;
    assert_failure(&result, FailureClass::HarnessUnavailable);
    assert!(
        result.failure_words().unwrap().contains("root/sudo"),
        "{:?}",
        result.notes
    );
    assert!(
        result.notes.iter().any(|n| n.contains("IS_SANDBOX")),
        "{:?}",
        result.notes
    );
    // The documented fix works.
    cfg.claude.env.insert("IS_SANDBOX".into(), "1".into());
    let fx = Fixture::new();
    let result = run(&fx.request("claude_code"), &cfg).await;
    super::assert_success(&result, "BUILDER_COMPLETE");
}

#[tokio::test]
async fn a_stall_is_cut_at_its_limit_not_the_stage_timeout() {
    require_python();
    let started = std::time::Instant::now();
    let result = outcome("codex_cli", "stall").await;
    assert_failure(&result, FailureClass::HarnessStalled);
    let took = started.elapsed().as_secs();
    assert!(
        took < 20,
        "the stage timeout is 30 s; the stall limit 4 s: took {took} s"
    );
    assert!(
        result.notes.iter().any(|n| n.contains("no progress for 4 s")),
        "{:?}",
        result.notes
    );
}
