//! `codex_cli` against the fake Codex: argv goldens, every scenario's class,
//! usage, quota and structured results.

use std::path::Path;

use millrace::model::{Budget, ExitKind, FailureClass, NormalizationSource};
use millrace::plan::Effort;
use millrace::runners::codex::{argv, permission_flags};
use millrace::runners::{CodexConfig, Permission};

use super::{Fixture, assert_failure, assert_success, fake_config, invocation, require_python, run};

fn golden_argv(cfg: &CodexConfig, model: Option<&str>, effort: Option<Effort>) -> Vec<String> {
    let fx = Fixture::new();
    let mut req = fx.request("codex_cli");
    req.workspace_root = "/ws".into();
    req.model = model.map(str::to_owned);
    req.effort = effort;
    argv(&req, cfg, Path::new("/run/last.txt"), "PROMPT")
}

#[test]
fn default_argv() {
    let got = golden_argv(&CodexConfig::default(), None, None);
    let want = "exec --skip-git-repo-check --dangerously-bypass-approvals-and-sandbox --cd /ws --json \
                --output-last-message /run/last.txt PROMPT";
    assert_eq!(got.join(" "), want);
}

#[test]
fn full_argv_in_order() {
    let mut cfg = CodexConfig {
        profile: Some("ci".into()),
        ..CodexConfig::default()
    };
    cfg.extra_config = vec!["model_verbosity=\"low\"".into()];
    cfg.model_reasoning_effort = Some(Effort::Low);
    cfg.permission_default = Permission::Basic;
    let got = golden_argv(&cfg, Some("gpt-5"), Some(Effort::High));
    let want = "exec --skip-git-repo-check --profile ci --model gpt-5 --sandbox workspace-write \
                -c model_verbosity=\"low\" -c model_reasoning_effort=\"high\" --cd /ws --json \
                --output-last-message /run/last.txt PROMPT";
    assert_eq!(got.join(" "), want);
}

#[test]
fn config_effort_is_the_fallback_and_repo_check_optional() {
    let cfg = CodexConfig {
        model_reasoning_effort: Some(Effort::Medium),
        skip_git_repo_check: false,
        ..CodexConfig::default()
    };
    let got = golden_argv(&cfg, None, None).join(" ");
    assert!(got.contains("-c model_reasoning_effort=\"medium\""), "{got}");
    assert!(!got.contains("--skip-git-repo-check"), "{got}");
}

#[test]
fn permission_levels() {
    assert_eq!(
        permission_flags(Permission::Basic),
        ["--sandbox", "workspace-write"]
    );
    assert_eq!(
        permission_flags(Permission::Elevated),
        [
            "-c",
            "approval_policy=\"never\"",
            "--sandbox",
            "danger-full-access"
        ]
    );
    assert_eq!(
        permission_flags(Permission::Maximum),
        ["--dangerously-bypass-approvals-and-sandbox"]
    );
    for level in [Permission::Basic, Permission::Elevated, Permission::Maximum] {
        assert!(!permission_flags(level).iter().any(|f| f == "--full-auto"));
    }
}

#[test]
fn permission_precedence_stage_then_model_then_default() {
    let mut cfg = CodexConfig {
        permission_default: Permission::Maximum,
        ..CodexConfig::default()
    };
    cfg.permission_by_model
        .insert("gpt-5".into(), Permission::Elevated);
    let by_model = golden_argv(&cfg, Some("gpt-5"), None).join(" ");
    assert!(by_model.contains("--sandbox danger-full-access"), "{by_model}");
    cfg.permission_by_stage
        .insert("builder".into(), Permission::Basic);
    let by_stage = golden_argv(&cfg, Some("gpt-5"), None).join(" ");
    assert!(by_stage.contains("--sandbox workspace-write"), "{by_stage}");
    let default = golden_argv(&cfg, Some("other"), None).join(" ");
    assert!(
        default.contains("--sandbox workspace-write"),
        "stage wins for any model: {default}"
    );
}

#[tokio::test]
async fn success_records_everything() {
    require_python();
    let fx = Fixture::new();
    let req = fx.request("codex_cli");
    let mut cfg = fake_config("success");
    cfg.codex
        .env
        .insert("SECRET_TOKEN".into(), "hunter2-do-not-record".into());
    let result = run(&req, &cfg).await;
    assert_success(&result, "BUILDER_COMPLETE");
    assert_eq!(result.exit, ExitKind::Completed);
    assert_eq!(result.exit_code, Some(0));
    assert_eq!(result.detected_marker.as_deref(), Some("### BUILDER_COMPLETE"));
    assert_eq!(result.normalization_source, NormalizationSource::FinalMessage);
    let usage = result.token_usage.unwrap();
    assert_eq!((usage.input_tokens, usage.cached_input_tokens), (1200, 200));
    assert_eq!(
        (usage.output_tokens, usage.thinking_tokens, usage.total_tokens),
        (300, 40, 1500)
    );
    assert_eq!(result.work_item_id.as_deref(), Some("task-001"));
    let run_dir = fx.run_dir();
    for name in [
        "runner_prompt",
        "runner_stdout",
        "runner_stderr",
        "runner_last_message",
    ] {
        let ext = if name == "runner_prompt" { "md" } else { "txt" };
        assert!(run_dir.join(format!("{name}.req-1.{ext}")).is_file(), "{name}");
    }
    let events = std::fs::read_to_string(run_dir.join("runner_events.req-1.jsonl")).unwrap();
    assert_eq!(events.lines().count(), 5);
    let inv = invocation(&fx);
    let inv_text = inv.to_string();
    assert!(!inv_text.contains("hunter2"), "env values must not be recorded");
    assert!(
        inv["env_added"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v == "SECRET_TOKEN")
    );
    let argv = inv["argv"].as_array().unwrap();
    assert_eq!(argv.last().unwrap(), "<prompt: runner_prompt.req-1.md>");
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
        ("quota", FailureClass::QuotaExhausted, ExitKind::QuotaExhausted),
    ];
    for (scenario, class, exit) in cases {
        let fx = Fixture::new();
        let result = run(&fx.request("codex_cli"), &fake_config(scenario)).await;
        assert_failure(&result, class);
        assert_eq!(result.exit, exit, "{scenario}: {:?}", result.notes);
    }
}

#[tokio::test]
async fn illegal_marker_is_recorded() {
    require_python();
    let fx = Fixture::new();
    let result = run(&fx.request("codex_cli"), &fake_config("illegal_marker")).await;
    assert_failure(&result, FailureClass::IllegalTerminalResult);
    assert_eq!(result.detected_marker.as_deref(), Some("### NOT_A_REAL_MARKER"));
}

#[tokio::test]
async fn a_marker_never_rescues_a_nonzero_exit() {
    require_python();
    let fx = Fixture::new();
    let result = run(&fx.request("codex_cli"), &fake_config("crash_after_marker")).await;
    assert_failure(&result, FailureClass::RunnerTransportFailure);
    assert_eq!(result.exit_code, Some(3));
    let last = std::fs::read_to_string(fx.run_dir().join("runner_last_message.req-1.txt")).unwrap();
    assert!(
        last.contains("### BUILDER_COMPLETE"),
        "the marker was there: {last}"
    );
    assert!(!result.notes.iter().any(|n| n.contains("reconciled")));
}

#[tokio::test]
async fn quota_reset_time_is_parsed() {
    require_python();
    let fx = Fixture::new();
    let result = run(&fx.request("codex_cli"), &fake_config("quota")).await;
    assert_failure(&result, FailureClass::QuotaExhausted);
    assert_eq!(result.fault(), millrace::model::Fault::Quota);
    let reset = result.quota_reset_at.expect("reset time parsed");
    // The captured "try again at 10:24 PM": the next such time, locally.
    let ahead = reset.duration_since(jiff::Timestamp::now()).as_secs();
    assert!((0..=86_400).contains(&ahead), "{reset}");
    let local = reset.to_zoned_datetime(jiff::tz::TimeZone::system());
    assert_eq!((local.hour(), local.minute()), (22, 24), "{reset}");
    assert!(result.harness_message.unwrap().contains("hit your usage limit"));
}

#[tokio::test]
async fn usage_over_the_stage_budget_is_budget_exhausted() {
    require_python();
    let fx = Fixture::new();
    let mut req = fx.request("codex_cli");
    req.budget = Some(Budget {
        max_tokens: Some(1_000_000),
        max_cost_usd: None,
    });
    let result = run(&req, &fake_config("budget")).await;
    assert_failure(&result, FailureClass::BudgetExhausted);
    assert_eq!(result.token_usage.unwrap().total_tokens, 10_000_000);
}

#[tokio::test]
async fn structured_result_supplies_metadata() {
    require_python();
    let fx = Fixture::new();
    std::fs::write(fx.run_dir().join("builder_summary.md"), "done").unwrap();
    let mut cfg = fake_config("success");
    let json = r#"{"terminal_result": "BUILDER_COMPLETE", "resume_stage": "checker",
                   "summary_artifact_paths": ["builder_summary.md"]}"#;
    cfg.codex.env.insert("FAKE_RESULT".into(), json.into());
    let result = run(&fx.request("codex_cli"), &cfg).await;
    assert_success(&result, "BUILDER_COMPLETE");
    assert_eq!(result.normalization_source, NormalizationSource::StructuredResult);
    assert_eq!(result.metadata["resume_stage"], "checker");
    assert_eq!(result.artifacts.len(), 1);
    assert!(result.artifacts[0].ends_with("builder_summary.md"));
}

#[tokio::test]
async fn structured_result_must_agree_with_the_marker() {
    require_python();
    let fx = Fixture::new();
    let mut cfg = fake_config("success");
    cfg.codex
        .env
        .insert("FAKE_RESULT".into(), r#"{"terminal_result": "BLOCKED"}"#.into());
    let result = run(&fx.request("codex_cli"), &cfg).await;
    assert_failure(&result, FailureClass::ConflictingTerminalResults);
}

#[tokio::test]
async fn removed_flags_are_refused_by_the_fake() {
    require_python();
    let fx = Fixture::new();
    let mut cfg = fake_config("success");
    cfg.codex.args = vec!["exec".into(), "--full-auto".into()];
    let result = run(&fx.request("codex_cli"), &cfg).await;
    // A harness that refuses its argv before any event cannot work: the
    // operator must fix the configuration, in the harness's own words.
    assert_failure(&result, FailureClass::HarnessUnavailable);
    assert_eq!(
        result.harness_message.as_deref(),
        Some("error: unexpected argument '--full-auto' found")
    );
    assert_eq!(result.stderr_tail.last(), result.harness_message.as_ref());
    let stderr = std::fs::read_to_string(fx.run_dir().join("runner_stderr.req-1.txt")).unwrap();
    assert!(stderr.contains("unexpected argument '--full-auto'"), "{stderr}");
}
