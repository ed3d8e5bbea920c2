//! Normalization, one failure class at a time.

use std::path::Path;

use super::*;
use crate::model::{ClosurePaths, RequestKind, WorkItemPaths};
use crate::plan::Plane;

fn request(run_dir: &Path) -> StageRunRequest {
    StageRunRequest {
        request_id: "r1".into(),
        run_id: "run".into(),
        plane: Plane::Execution,
        node: "builder".into(),
        stage: "builder".into(),
        request_kind: RequestKind::ActiveWorkItem,
        mode_id: "m".into(),
        plan_id: "p".into(),
        running_marker: "BUILDER_RUNNING".into(),
        outcomes: vec![
            LegalOutcome {
                name: "BUILDER_COMPLETE".into(),
                classes: vec![ResultClass::Success],
            },
            LegalOutcome {
                name: "BLOCKED".into(),
                classes: vec![ResultClass::Blocked, ResultClass::RecoverableFailure],
            },
        ],
        entrypoint_path: run_dir.join("e.md"),
        required_skills: Vec::new(),
        attached_skills: Vec::new(),
        work_item: Some(WorkItemPaths {
            kind: WorkItemKind::Task,
            id: "t1".into(),
            path: run_dir.join("t1.md"),
            root_spec_id: None,
            root_idea_id: None,
        }),
        closure: None,
        workspace_root: run_dir.to_path_buf(),
        run_dir: run_dir.to_path_buf(),
        result_path: run_dir.join("result.json"),
        status_path: run_dir.join("s"),
        snapshot_path: run_dir.join("snap"),
        troubleshoot_report_path: None,
        runtime_error: None,
        runner: "codex_cli".into(),
        model: None,
        effort: None,
        timeout_seconds: 60,
        attempt: 0,
        operator_note: None,
        budget: None,
    }
}

fn completed(message: &str) -> RawRun {
    let mut raw = RawRun::new(ExitKind::Completed);
    raw.exit_code = Some(0);
    raw.final_message = Some(message.into());
    raw
}

fn norm(req: &StageRunRequest, raw: RawRun) -> StageResult {
    let now = Timestamp::now();
    normalize(req, raw, now, now)
}

#[track_caller]
fn assert_fails(result: &StageResult, class: FailureClass) {
    assert_eq!(result.failure_class, Some(class), "{:?}", result.notes);
    assert_eq!(result.terminal_result, "BLOCKED");
    assert_eq!(result.result_class, ResultClass::RecoverableFailure);
    assert_eq!(result.normalization_source, NormalizationSource::Failure);
    assert!(!result.success);
}

#[test]
fn one_legal_marker_succeeds_and_repeats_are_fine() {
    let dir = tempfile::tempdir().unwrap();
    let req = request(dir.path());
    let result = norm(
        &req,
        completed("done\n### BUILDER_COMPLETE\n### BUILDER_COMPLETE\n"),
    );
    assert!(result.success);
    assert_eq!(result.terminal_result, "BUILDER_COMPLETE");
    assert_eq!(result.detected_marker.as_deref(), Some("### BUILDER_COMPLETE"));
    assert_eq!(
        (result.work_item_kind, result.work_item_id.as_deref()),
        (Some(WorkItemKind::Task), Some("t1"))
    );
}

#[test]
fn multi_class_outcome_takes_its_first_class() {
    let dir = tempfile::tempdir().unwrap();
    let result = norm(&request(dir.path()), completed("### BLOCKED"));
    assert_eq!(result.result_class, ResultClass::Blocked);
    assert_eq!(result.failure_class, None);
    assert!(!result.success);
}

#[test]
fn every_runner_ending_has_its_class() {
    let dir = tempfile::tempdir().unwrap();
    let req = request(dir.path());
    let cases = [
        (ExitKind::Timeout, FailureClass::RunnerTimeout),
        (ExitKind::Killed, FailureClass::Killed),
        (ExitKind::NotInstalled, FailureClass::RunnerNotInstalled),
        (ExitKind::RunnerError, FailureClass::RunnerTransportFailure),
        (ExitKind::ProviderError, FailureClass::ProviderFailure),
        (ExitKind::QuotaExhausted, FailureClass::QuotaExhausted),
        (ExitKind::BudgetExhausted, FailureClass::BudgetExhausted),
    ];
    for (exit, class) in cases {
        // A legal marker is present: it must not rescue any of these.
        let mut raw = completed("### BUILDER_COMPLETE");
        raw.exit = exit;
        let result = norm(&req, raw);
        assert_fails(&result, class);
        assert_eq!(result.exit, exit);
        assert!(!result.notes.iter().any(|n| n.contains("reconciled")));
    }
}

#[test]
fn nonzero_exit_is_a_transport_failure_despite_a_marker() {
    let dir = tempfile::tempdir().unwrap();
    let mut raw = completed("### BUILDER_COMPLETE");
    raw.exit_code = Some(2);
    assert_fails(
        &norm(&request(dir.path()), raw),
        FailureClass::RunnerTransportFailure,
    );
}

#[test]
fn missing_illegal_and_conflicting_markers() {
    let dir = tempfile::tempdir().unwrap();
    let req = request(dir.path());
    assert_fails(
        &norm(&req, completed("all good, no marker")),
        FailureClass::MissingTerminalResult,
    );
    assert_fails(
        &norm(&req, RawRun::new(ExitKind::Completed)),
        FailureClass::MissingTerminalResult,
    );
    let illegal = norm(&req, completed("### SHIPPED_IT"));
    assert_fails(&illegal, FailureClass::IllegalTerminalResult);
    assert_eq!(illegal.detected_marker.as_deref(), Some("### SHIPPED_IT"));
    let two = norm(&req, completed("### BUILDER_COMPLETE\n### BLOCKED"));
    assert_fails(&two, FailureClass::ConflictingTerminalResults);
}

#[test]
fn structured_result_rules() {
    let dir = tempfile::tempdir().unwrap();
    let req = request(dir.path());
    let write = |text: &str| std::fs::write(&req.result_path, text).unwrap();

    write(
        r#"{"terminal_result": "BLOCKED", "result_class": "recoverable_failure", "resume_stage": "builder"}"#,
    );
    let result = norm(&req, completed("no marker here"));
    assert_eq!(result.terminal_result, "BLOCKED");
    assert_eq!(result.result_class, ResultClass::RecoverableFailure);
    assert_eq!(result.failure_class, None);
    assert_eq!(result.normalization_source, NormalizationSource::StructuredResult);
    assert_eq!(result.metadata["resume_stage"], "builder");

    write(r#"{"terminal_result": "BLOCKED"}"#);
    assert_fails(
        &norm(&req, completed("### BUILDER_COMPLETE")),
        FailureClass::ConflictingTerminalResults,
    );

    write(r#"{"terminal_result": "BUILDER_COMPLETE", "result_class": "blocked"}"#);
    assert_fails(&norm(&req, completed("")), FailureClass::IllegalTerminalResult);

    write("{not json");
    assert_fails(
        &norm(&req, completed("### BUILDER_COMPLETE")),
        FailureClass::IllegalTerminalResult,
    );

    write(r#"{"terminal_result": "NOPE"}"#);
    assert_fails(&norm(&req, completed("")), FailureClass::IllegalTerminalResult);
}

#[test]
fn summary_artifacts_must_exist_inside_the_run_dir() {
    let root = tempfile::tempdir().unwrap();
    let run_dir = root.path().join("run");
    std::fs::create_dir_all(&run_dir).unwrap();
    std::fs::write(run_dir.join("summary.md"), "x").unwrap();
    std::fs::write(root.path().join("outside.md"), "x").unwrap();
    let req = request(&run_dir);
    let write = |text: &str| std::fs::write(&req.result_path, text).unwrap();

    write(r#"{"terminal_result": "BUILDER_COMPLETE", "summary_artifact_paths": ["summary.md"]}"#);
    let ok = norm(&req, completed(""));
    assert!(ok.success);
    assert_eq!(
        ok.artifacts,
        vec![run_dir.join("summary.md").canonicalize().unwrap()]
    );

    write(r#"{"terminal_result": "BUILDER_COMPLETE", "summary_artifact_paths": ["absent.md"]}"#);
    let missing = norm(&req, completed(""));
    assert_fails(&missing, FailureClass::MissingRequiredArtifact);
    assert!(missing.artifacts.is_empty());

    write(r#"{"terminal_result": "BUILDER_COMPLETE", "summary_artifact_paths": ["../outside.md"]}"#);
    assert_fails(&norm(&req, completed("")), FailureClass::MissingRequiredArtifact);
}

#[test]
fn report_artifact_and_closure_identity() {
    let root = tempfile::tempdir().unwrap();
    let run_dir = root.path().join("run");
    std::fs::create_dir_all(&run_dir).unwrap();
    let mut req = request(&run_dir);
    req.troubleshoot_report_path = Some(run_dir.join("troubleshoot_report.md"));
    std::fs::write(run_dir.join("troubleshoot_report.md"), "t").unwrap();
    let result = norm(&req, completed("### BUILDER_COMPLETE"));
    assert_eq!(
        result.report_artifact,
        Some(run_dir.join("troubleshoot_report.md").canonicalize().unwrap())
    );

    std::fs::write(root.path().join("arbiter_report.md"), "outside").unwrap();
    req.closure = Some(ClosurePaths {
        root_spec_id: "spec-9".into(),
        root_idea_id: None,
        target_path: run_dir.join("target"),
        root_spec_path: run_dir.join("spec"),
        seed_idea_path: None,
        rubric_path: run_dir.join("rubric"),
        verdict_path: run_dir.join("verdict"),
        report_path: root.path().join("arbiter_report.md"),
    });
    let result = norm(&req, completed("### BUILDER_COMPLETE"));
    assert_eq!(
        (result.work_item_kind, result.work_item_id.as_deref()),
        (Some(WorkItemKind::Spec), Some("spec-9"))
    );
    // The closure report is outside the run directory: skipped.
    assert!(
        result
            .report_artifact
            .unwrap()
            .ends_with("troubleshoot_report.md")
    );
    std::fs::write(run_dir.join("arbiter_report.md"), "inside").unwrap();
    req.closure.as_mut().unwrap().report_path = run_dir.join("arbiter_report.md");
    let result = norm(&req, completed("### BUILDER_COMPLETE"));
    assert!(result.report_artifact.unwrap().ends_with("arbiter_report.md"));
}
