//! The `scripted` runner: attempts, work-item overrides, structured
//! results, writes and placeholders, scripted failures, cancel.

use std::time::Duration;

use millrace::model::{Budget, ClosurePaths, ExitKind, FailureClass, NormalizationSource, StageResult};
use millrace::plan::ResultClass;
use millrace::runners::scripted::{Entry, Script, load_script};
use millrace::runners::{Cancel, RunnerError, RunnersConfig};

use super::{Fixture, assert_failure, assert_success, run};

const SCRIPT: &str = r#"
[stages]
builder = ["BLOCKED", { outcome = "BUILDER_COMPLETE", tokens = 1500, cost_usd = 0.25 }]

[items."task-002"]
builder = [{ exit = "two_markers" }]
"#;

fn config(text: &str) -> RunnersConfig {
    let mut cfg = RunnersConfig::default();
    cfg.scripted.inline = Some(Script::parse(text).unwrap());
    cfg
}

async fn attempt(fx: &Fixture, cfg: &RunnersConfig, n: u32) -> StageResult {
    let mut req = fx.request("scripted");
    req.attempt = n;
    run(&req, cfg).await
}

#[tokio::test]
async fn entries_follow_attempts_and_the_last_repeats() {
    let fx = Fixture::new();
    let cfg = config(SCRIPT);
    let first = attempt(&fx, &cfg, 0).await;
    assert_eq!(first.terminal_result, "BLOCKED");
    assert_eq!(first.result_class, ResultClass::Blocked);
    for n in [1, 2, 9] {
        let later = attempt(&fx, &cfg, n).await;
        assert_success(&later, "BUILDER_COMPLETE");
        assert_eq!(later.token_usage.unwrap().total_tokens, 1500);
        assert_eq!(later.cost_usd, Some(0.25));
    }
}

#[tokio::test]
async fn deterministic_and_leaves_the_usual_artifacts() {
    let fx = Fixture::new();
    let cfg = config(SCRIPT);
    let a = attempt(&fx, &cfg, 1).await;
    let b = attempt(&fx, &cfg, 1).await;
    let strip = |r: &StageResult| {
        (
            r.terminal_result.clone(),
            r.result_class,
            r.notes.clone(),
            r.token_usage,
        )
    };
    assert_eq!(strip(&a), strip(&b));
    for name in [
        "runner_prompt.req-1.md",
        "runner_invocation.req-1.json",
        "runner_stdout.req-1.txt",
        "runner_stderr.req-1.txt",
        "runner_last_message.req-1.txt",
        "runner_completion.req-1.json",
    ] {
        assert!(fx.run_dir().join(name).is_file(), "{name}");
    }
}

#[tokio::test]
async fn work_item_entries_win() {
    let fx = Fixture::new();
    let mut req = fx.request("scripted");
    req.work_item.as_mut().unwrap().id = "task-002".into();
    let result = run(&req, &config(SCRIPT)).await;
    assert_failure(&result, FailureClass::ConflictingTerminalResults);
}

#[tokio::test]
async fn unscripted_stage_answers_its_first_outcome() {
    let fx = Fixture::new();
    let result = run(&fx.request("scripted"), &RunnersConfig::default()).await;
    assert_success(&result, "BUILDER_COMPLETE");
}

#[tokio::test]
async fn result_keys_become_metadata_with_placeholders() {
    let fx = Fixture::new();
    let text = r#"
    [stages]
    builder = [{ outcome = "BLOCKED", result = { resume_stage = "checker", note = "item {work_item_id} in {run_id}" } }]
    "#;
    let result = run(&fx.request("scripted"), &config(text)).await;
    assert_eq!(result.terminal_result, "BLOCKED");
    assert_eq!(result.normalization_source, NormalizationSource::StructuredResult);
    assert_eq!(result.metadata["resume_stage"], "checker");
    assert_eq!(result.metadata["note"], "item task-001 in run-1");
}

#[tokio::test]
async fn writes_fill_placeholders_inside_the_workspace() {
    let fx = Fixture::new();
    let mut req = fx.request("scripted");
    req.closure = Some(ClosurePaths {
        root_spec_id: "spec-7".into(),
        root_idea_id: Some("idea-3".into()),
        target_path: fx.ws().join("t"),
        root_spec_path: fx.ws().join("s"),
        seed_idea_path: None,
        rubric_path: fx.ws().join("r"),
        verdict_path: fx.ws().join("v"),
        report_path: fx.run_dir().join("arbiter_report.md"),
    });
    let text = r#"
    [stages]
    builder = [{ writes = [
        { path = "millrace-agents/tasks/queue/{root_spec_id}-{work_item_id}.md", content = "idea {root_idea_id} at {now}" },
        { path = "millrace-agents/runs/run-1/arbiter_report.md", content = "report" },
    ] }]
    "#;
    let result = run(&req, &config(text)).await;
    assert_success(&result, "BUILDER_COMPLETE");
    let written = fx.ws().join("millrace-agents/tasks/queue/spec-7-task-001.md");
    let content = std::fs::read_to_string(written).unwrap();
    assert!(content.starts_with("idea idea-3 at 20"), "{content}");
    assert!(content.ends_with('Z'), "{content}");
    assert_eq!(
        result.work_item_id.as_deref(),
        Some("spec-7"),
        "closure requests report the root spec"
    );
    assert!(result.report_artifact.unwrap().ends_with("arbiter_report.md"));
}

/// A write replaces its file by rename: a reader never sees it half
/// written (one that opened the old file keeps reading the old content),
/// and no temporary file is left beside it.
#[tokio::test]
async fn writes_replace_files_whole() {
    use std::io::Read;
    let fx = Fixture::new();
    let req = fx.request("scripted");
    let dir = fx.ws().join("millrace-agents/tasks/queue");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("t.md");
    std::fs::write(&path, "old").unwrap();
    let mut reader = std::fs::File::open(&path).unwrap();
    let text = r#"
    [stages]
    builder = [{ writes = [{ path = "millrace-agents/tasks/queue/t.md", content = "new" }] }]
    "#;
    assert_success(&run(&req, &config(text)).await, "BUILDER_COMPLETE");
    let mut seen = String::new();
    reader.read_to_string(&mut seen).unwrap();
    assert_eq!(seen, "old");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["t.md"]);
}

#[tokio::test]
async fn writes_that_escape_are_refused() {
    let fx = Fixture::new();
    assert!(
        Script::parse("[stages]\nbuilder = [{ writes = [{ path = \"../x\", content = \"\" }] }]").is_err()
    );
    assert!(
        Script::parse("[stages]\nbuilder = [{ writes = [{ path = \"/tmp/x\", content = \"\" }] }]").is_err()
    );
    // A placeholder that expands to a climbing path is caught after expansion.
    let mut req = fx.request("scripted");
    req.work_item.as_mut().unwrap().id = "../../escape".into();
    let text = "[stages]\nbuilder = [{ writes = [{ path = \"w/{work_item_id}\", content = \"x\" }] }]";
    let result = run(&req, &config(text)).await;
    assert_failure(&result, FailureClass::RunnerTransportFailure);
    assert!(
        result
            .notes
            .iter()
            .any(|n| n.starts_with("mill::runner::script_write_refused"))
    );
    assert!(!fx.dir.path().join("escape").exists());
}

#[tokio::test]
async fn scripted_failures_map_to_classes() {
    let cases = [
        ("timeout", FailureClass::RunnerTimeout),
        ("quota", FailureClass::QuotaExhausted),
        ("crash", FailureClass::RunnerTransportFailure),
        ("garbled", FailureClass::MissingTerminalResult),
        ("two_markers", FailureClass::ConflictingTerminalResults),
    ];
    for (exit, class) in cases {
        let fx = Fixture::new();
        let text = format!("[stages]\nbuilder = [{{ exit = \"{exit}\", quota_reset_in_seconds = 60 }}]");
        let result = run(&fx.request("scripted"), &config(&text)).await;
        assert_failure(&result, class);
        if exit == "quota" {
            assert!(result.quota_reset_at.is_some());
        }
    }
}

#[tokio::test]
async fn budget_applies_to_scripted_usage() {
    let fx = Fixture::new();
    let mut req = fx.request("scripted");
    req.attempt = 1;
    req.budget = Some(Budget {
        max_tokens: Some(1000),
        max_cost_usd: None,
    });
    let result = run(&req, &config(SCRIPT)).await;
    assert_failure(&result, FailureClass::BudgetExhausted);
}

#[tokio::test]
async fn delay_honours_cancel() {
    let fx = Fixture::new();
    let cfg = config("[stages]\nbuilder = [{ delay_ms = 60000 }]");
    let req = fx.request("scripted");
    let (trigger, cancel) = Cancel::new();
    let stage = millrace::runners::run_stage(&req, &cfg, cancel);
    let fire = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        trigger.cancel();
    };
    let (result, ()) = tokio::join!(stage, fire);
    assert_failure(&result, FailureClass::Killed);
    assert_eq!(result.exit, ExitKind::Killed);
}

#[tokio::test]
async fn script_file_is_read_relative_to_millrace_agents() {
    let fx = Fixture::new();
    std::fs::write(
        fx.ws().join("millrace-agents/script.toml"),
        "[stages]\nbuilder = [\"BLOCKED\"]",
    )
    .unwrap();
    let mut cfg = RunnersConfig::default();
    cfg.scripted.script = Some("script.toml".into());
    assert_eq!(
        run(&fx.request("scripted"), &cfg).await.terminal_result,
        "BLOCKED"
    );
    cfg.scripted.script = Some("missing.toml".into());
    let err = load_script(&cfg.scripted, &fx.ws()).unwrap_err();
    assert!(matches!(err, RunnerError::ScriptUnreadable { .. }));
    let result = run(&fx.request("scripted"), &cfg).await;
    assert_failure(&result, FailureClass::RunnerTransportFailure);
}

#[test]
fn scripts_build_in_code() {
    let script = Script::default().with_stage("checker", vec![Entry::outcome("CHECKER_PASS")]);
    let entry = script.entry(None, "checker", "checker", 3).unwrap();
    assert_eq!(entry.0.outcome.as_deref(), Some("CHECKER_PASS"));
}
