//! The `command` runner: exit status to outcome, marker from output, cwd
//! and env, and coded failures for bad configuration.

use millrace::model::FailureClass;
use millrace::plan::ResultClass;
use millrace::runners::{CommandStage, RunnersConfig};

use super::{Fixture, assert_failure, assert_success, run};

fn config(key: &str, stage: CommandStage) -> RunnersConfig {
    let mut cfg = RunnersConfig::default();
    cfg.command.stages.insert(key.into(), stage);
    cfg
}

fn sh(script: &str) -> Vec<String> {
    vec!["sh".into(), "-c".into(), script.into()]
}

#[tokio::test]
async fn exit_zero_is_the_success_outcome() {
    let fx = Fixture::new();
    let stage = CommandStage {
        argv: sh("exit 0"),
        success: Some("BUILDER_COMPLETE".into()),
        ..Default::default()
    };
    let result = run(&fx.request("command"), &config("builder", stage)).await;
    assert_success(&result, "BUILDER_COMPLETE");
    assert_eq!(result.exit_code, Some(0));
}

#[tokio::test]
async fn nonzero_exit_is_the_failure_outcome() {
    let fx = Fixture::new();
    let stage = CommandStage {
        argv: sh("exit 4"),
        success: Some("BUILDER_COMPLETE".into()),
        failure: Some("BLOCKED".into()),
        ..Default::default()
    };
    let result = run(&fx.request("command"), &config("builder", stage)).await;
    assert_eq!(result.terminal_result, "BLOCKED");
    assert_eq!(result.result_class, ResultClass::Blocked);
    assert_eq!(result.failure_class, None);
    assert_eq!(result.exit_code, Some(4));
}

#[tokio::test]
async fn nonzero_exit_without_failure_outcome_is_a_transport_failure() {
    let fx = Fixture::new();
    let stage = CommandStage {
        argv: sh("exit 4"),
        ..Default::default()
    };
    let result = run(&fx.request("command"), &config("builder", stage)).await;
    assert_failure(&result, FailureClass::RunnerTransportFailure);
}

#[tokio::test]
async fn illegal_configured_outcome_is_refused() {
    let fx = Fixture::new();
    let stage = CommandStage {
        argv: sh("exit 0"),
        success: Some("SHIPPED".into()),
        ..Default::default()
    };
    let result = run(&fx.request("command"), &config("builder", stage)).await;
    assert_failure(&result, FailureClass::IllegalTerminalResult);
    assert_eq!(result.detected_marker.as_deref(), Some("### SHIPPED"));
    assert!(
        result
            .notes
            .iter()
            .any(|n| n.starts_with("mill::runner::command_outcome_illegal"))
    );
}

#[tokio::test]
async fn marker_from_output_reads_stdout() {
    let fx = Fixture::new();
    let stage = CommandStage {
        argv: sh("echo working; echo '### BLOCKED'"),
        marker_from_output: true,
        ..Default::default()
    };
    let result = run(&fx.request("command"), &config("builder", stage)).await;
    assert_eq!(result.terminal_result, "BLOCKED");
    assert_eq!(result.failure_class, None);
    let two = CommandStage {
        argv: sh("echo '### BLOCKED'; echo '### BUILDER_COMPLETE'"),
        marker_from_output: true,
        ..Default::default()
    };
    let result = run(&fx.request("command"), &config("builder", two)).await;
    assert_failure(&result, FailureClass::ConflictingTerminalResults);
}

#[tokio::test]
async fn node_name_matches_and_cwd_and_env_apply() {
    let fx = Fixture::new();
    std::fs::create_dir_all(fx.ws().join("sub")).unwrap();
    let mut stage = CommandStage {
        argv: sh("test \"$GREETING\" = hello && pwd"),
        success: Some("BUILDER_COMPLETE".into()),
        cwd: Some("sub".into()),
        ..Default::default()
    };
    stage.env.insert("GREETING".into(), "hello".into());
    let mut req = fx.request("command");
    req.stage = "builder_kind".into();
    let result = run(&req, &config("builder", stage)).await;
    assert_success(&result, "BUILDER_COMPLETE");
    let stdout = std::fs::read_to_string(fx.run_dir().join("runner_stdout.req-1.txt")).unwrap();
    assert!(stdout.trim_end().ends_with("/sub"), "{stdout}");
}

#[tokio::test]
async fn bad_configuration_is_a_coded_failure() {
    let fx = Fixture::new();
    let result = run(&fx.request("command"), &RunnersConfig::default()).await;
    assert_failure(&result, FailureClass::RunnerTransportFailure);
    assert!(
        result
            .notes
            .iter()
            .any(|n| n.starts_with("mill::runner::command_stage_missing"))
    );
    let outside = CommandStage {
        argv: sh("true"),
        cwd: Some("../elsewhere".into()),
        ..Default::default()
    };
    let result = run(&fx.request("command"), &config("builder", outside)).await;
    assert!(
        result
            .notes
            .iter()
            .any(|n| n.starts_with("mill::runner::command_cwd_outside"))
    );
    let missing = CommandStage {
        argv: vec!["millrace-no-such-program".into()],
        ..Default::default()
    };
    let result = run(&fx.request("command"), &config("builder", missing)).await;
    assert_failure(&result, FailureClass::RunnerNotInstalled);
}
