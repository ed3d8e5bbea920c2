//! Documents the runtime files on its own: handoff incidents (an escalation
//! or a closure gap opens planning work) and learning requests (a trigger
//! fired). Ids derive from the request id, so replaying a journal after a
//! crash never files a second copy.

use jiff::Timestamp;
use serde_json::json;

use crate::model::{ActiveRun, ConsultantDecision, Incident, LearningRequest, Severity, StageResult};
use crate::plan::{Plane, TriggerRow, sha256_hex};

/// Where a handoff came from.
pub(super) struct Handoff<'a> {
    pub run: &'a ActiveRun,
    pub result: &'a StageResult,
    pub result_path: &'a str,
    pub terminal: &'a str,
    pub reason: &'a str,
    pub now: Timestamp,
}

fn short_hash(text: &str, len: usize) -> String {
    sha256_hex(text.as_bytes())[..len].to_string()
}

/// The planning incident a terminal with `opens incident` files. It keeps
/// the source's lineage so closure accounting stays right.
pub(super) fn handoff_incident(h: &Handoff<'_>) -> Incident {
    let run = h.run;
    let closure = run.closure_root_spec_id.clone();
    let hash = short_hash(&h.result.request_id, 8);
    let (id, title, summary, failure_class) = match (&closure, &run.work_item) {
        (Some(root), _) => (
            format!("arbiter-gap-{root}-{hash}"),
            format!("Closure gap for {root}"),
            format!(
                "The closure pass found {root} incomplete ({}); planning must close the gaps.",
                h.result.terminal_result
            ),
            "arbiter_parity_gap".to_string(),
        ),
        (None, Some(item)) => (
            format!("incident-{}-{hash}", item.id),
            format!("Planning handoff for {} {}", item.kind, item.id),
            format!(
                "Stage {} returned {}; planning must take it from here.",
                run.stage, h.result.terminal_result
            ),
            h.result
                .failure_class
                .map(|f| f.as_str().to_string())
                .unwrap_or_else(|| format!("{}_{}", run.stage, h.result.terminal_result.to_lowercase())),
        ),
        (None, None) => (
            format!("incident-{}-{hash}", run.run_id),
            format!("Planning handoff from run {}", run.run_id),
            String::new(),
            "handoff".into(),
        ),
    };
    let lineage = &run.lineage;
    let task_id = run
        .work_item
        .as_ref()
        .filter(|w| w.kind == crate::plan::WorkItemKind::Task)
        .map(|w| w.id.clone());
    let spec_id = match &run.work_item {
        Some(w) if w.kind == crate::plan::WorkItemKind::Spec => Some(w.id.clone()),
        _ => lineage
            .spec_id
            .clone()
            .or_else(|| lineage.source_spec_id.clone())
            .or_else(|| lineage.root_spec_id.clone()),
    };
    let mut evidence = vec![h.result_path.to_string()];
    evidence.extend(h.result.artifacts.iter().map(|p| p.display().to_string()));
    evidence.extend(h.result.report_artifact.iter().map(|p| p.display().to_string()));
    evidence.dedup();
    Incident {
        incident_id: id,
        title,
        summary: if summary.is_empty() {
            format!("Stage {} returned {}.", run.stage, h.result.terminal_result)
        } else {
            summary
        },
        root_idea_id: lineage.root_idea_id.clone(),
        root_spec_id: lineage.root_spec_id.clone().or(closure),
        source_task_id: task_id.or_else(|| lineage.source_task_id.clone()),
        source_spec_id: spec_id,
        source_stage: run.stage.clone(),
        source_plane: run.plane,
        failure_class,
        status_hint: None,
        severity: Severity::High,
        needs_planning: true,
        trigger_reason: h.reason.to_string(),
        consultant_decision: ConsultantDecision::NeedsPlanning,
        opened_at: h.now,
        opened_by: "millrace runtime".into(),
        updated_at: None,
        observed_symptoms: h.result.notes.clone(),
        failed_attempts: Vec::new(),
        evidence_paths: evidence,
        related_run_ids: vec![run.run_id.clone()],
        related_stage_results: vec![h.result_path.to_string()],
        references: Vec::new(),
        body: format!(
            "Filed by the runtime when `{}` finished at terminal `{}`.",
            run.node, h.terminal
        ),
    }
}

/// The learning request a trigger files.
pub(super) fn learning_request(
    trigger: &TriggerRow,
    target_stage: &str,
    run: &ActiveRun,
    result: &StageResult,
    result_path: &str,
    now: Timestamp,
) -> LearningRequest {
    let id = format!(
        "learn-{}",
        short_hash(&format!("{}:{}", result.request_id, trigger.rule_id), 12)
    );
    let metadata = json!({
        "rule_id": trigger.rule_id, "run_id": run.run_id, "request_id": result.request_id,
        "source_node": run.node, "source_plane": run.plane, "source_stage": run.stage,
        "terminal_result": result.terminal_result,
        "work_item_kind": run.work_item.as_ref().map(|w| w.kind),
        "work_item_id": run.work_item.as_ref().map(|w| w.id.clone()),
    });
    LearningRequest {
        learning_request_id: id,
        title: format!("Learn from {} {}", run.node, result.terminal_result),
        summary: format!("Filed by the runtime: trigger {} fired.", trigger.rule_id),
        requested_action: trigger.action,
        target_skill_id: None,
        target_stage: Some(target_stage.to_string()),
        trigger_metadata: metadata.as_object().cloned(),
        created_at: now,
        created_by: "millrace runtime".into(),
        updated_at: None,
        source_refs: vec![
            format!("run:{}", run.run_id),
            format!("request:{}", result.request_id),
            format!("node:{}", run.node),
            format!("stage:{}", run.stage),
            format!("terminal:{}", result.terminal_result),
        ],
        preferred_output_paths: Vec::new(),
        originating_run_ids: vec![run.run_id.clone()],
        artifact_paths: vec![result_path.to_string()],
        references: Vec::new(),
        body: String::new(),
    }
}

/// The report a repair stage reads (fields listed in the shipped runtime
/// error catalogue).
pub(super) fn runtime_error_report(
    run: &ActiveRun,
    repair: Option<&str>,
    result: &StageResult,
    result_path: &str,
    code: &str,
    message: &str,
    now: Timestamp,
) -> String {
    let item = run
        .work_item
        .as_ref()
        .map(|w| format!("{} {}", w.kind, w.id))
        .unwrap_or_else(|| "none".into());
    let lines = [
        ("Error-Code", code.to_string()),
        ("Plane", run.plane.to_string()),
        ("Failed-Stage", run.stage.clone()),
        ("Repair-Stage", repair.unwrap_or("none").to_string()),
        ("Run-ID", run.run_id.clone()),
        ("Work-Item", item),
        ("Router-Action", "apply the routing decision".to_string()),
        ("Terminal-Result", result.terminal_result.clone()),
        ("Stage-Result-Path", result_path.to_string()),
        ("Exception-Type", "RuntimeError".to_string()),
        ("Exception-Message", message.replace('\n', " ")),
        ("Captured-At", now.to_string()),
    ];
    let mut text = String::from("# Runtime Error Report\n\n");
    for (key, value) in lines {
        text.push_str(&format!("{key}: {value}\n"));
    }
    text.push_str("\nThe stage returned a legal result; the runtime failed while acting on it.\n");
    text.push_str("See millrace-agents/reference/runtime-error-codes.md for what each code means.\n");
    text
}

/// The plane an error code belongs to (`execution_post_stage_apply_failed`).
pub fn runtime_error_code(plane: Plane, completion_conflict: bool) -> String {
    if completion_conflict {
        format!("{plane}_work_item_completion_conflict")
    } else {
        format!("{plane}_post_stage_apply_failed")
    }
}
