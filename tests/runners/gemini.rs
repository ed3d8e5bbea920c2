//! The Gemini CLI runner against its fake: argv, the joined message, usage.

use millrace::runners::GeminiConfig;
use millrace::runners::gemini::argv;

use super::{Fixture, assert_success, fake_config, invocation, require_python, run};

#[test]
fn default_argv() {
    let fx = Fixture::new();
    let mut req = fx.request("gemini_cli");
    let got = argv(&req, &GeminiConfig::default(), "PROMPT").join(" ");
    assert_eq!(
        got,
        "-p PROMPT --output-format stream-json --approval-mode yolo --skip-trust"
    );
    req.model = Some("gemini-3.1-pro".into());
    let got = argv(&req, &GeminiConfig::default(), "PROMPT").join(" ");
    assert!(got.ends_with("--skip-trust -m gemini-3.1-pro"), "{got}");
}

#[tokio::test]
async fn success_joins_the_deltas_and_reads_usage() {
    require_python();
    let fx = Fixture::new();
    let result = run(&fx.request("gemini_cli"), &fake_config("success")).await;
    assert_success(&result, "BUILDER_COMPLETE");
    let usage = result.token_usage.unwrap();
    assert_eq!(
        (usage.input_tokens, usage.cached_input_tokens, usage.output_tokens),
        (9000, 1800, 240)
    );
    assert_eq!((usage.thinking_tokens, usage.total_tokens), (120, 9360));
    let last = std::fs::read_to_string(fx.run_dir().join("runner_last_message.req-1.txt")).unwrap();
    assert!(last.ends_with("### BUILDER_COMPLETE\n"), "{last:?}");
    // Gemini drops its error reports in TMPDIR: the run directory.
    let record = invocation(&fx);
    let env: Vec<&str> = record["env_added"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert!(env.contains(&"TMPDIR"), "{env:?}");
    let argv = record["argv"].as_array().unwrap();
    assert_eq!(argv[2], "<prompt: runner_prompt.req-1.md>", "{argv:?}");
}

#[tokio::test]
async fn an_unknown_flag_is_refused_like_the_real_cli() {
    require_python();
    let fx = Fixture::new();
    let mut cfg = fake_config("success");
    cfg.gemini.args = vec!["--no-such-flag".into()];
    let result = run(&fx.request("gemini_cli"), &cfg).await;
    super::assert_failure(&result, millrace::model::FailureClass::HarnessUnavailable);
    assert!(result.failure_words().unwrap().contains("Unknown argument"));
}
