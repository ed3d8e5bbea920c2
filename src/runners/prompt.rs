//! The prompt every harness gets: which stage to run, where everything is,
//! and how to report the result.
//!
//! Input: a [`StageRunRequest`]. Output: the prompt text. Invariants: the
//! text is a pure function of the request (golden-tested); every context
//! line is `Label: value` with `none` for an absent value, and a list is
//! `Label:` followed by `- item` lines (or `Label: none`).

use std::fmt::Write;
use std::path::{Path, PathBuf};

use crate::model::StageRunRequest;

/// Renders the prompt for `req`.
pub fn render(req: &StageRunRequest) -> String {
    let mut out = String::new();
    let entry = req.entrypoint_path.display();
    let _ = writeln!(
        out,
        "You are running one stage of a Millrace run: stage `{}`.",
        req.stage
    );
    let _ = writeln!(out, "Open `{entry}` and follow its instructions exactly.");
    out.push('\n');
    out.push_str("Request context:\n");
    context(&mut out, req);
    out.push('\n');
    markers(&mut out, req);
    out.push('\n');
    structured(&mut out, req);
    out.push('\n');
    rule(&mut out, req);
    out
}

/// The `Label: value` block.
fn context(out: &mut String, req: &StageRunRequest) {
    let closure = req.closure.as_ref();
    let work_item = req.work_item.as_ref();
    line(out, "Request ID", Some(&req.request_id));
    line(out, "Run ID", Some(&req.run_id));
    line(out, "Mode", Some(&req.mode_id));
    line(out, "Plan ID", Some(&req.plan_id));
    line(out, "Plane", Some(req.plane.as_str()));
    line(out, "Node", Some(&req.node));
    line(out, "Stage", Some(&req.stage));
    line(out, "Request Kind", Some(req.request_kind.as_str()));
    line(out, "Running Marker", Some(&req.running_marker));
    path(out, "Entrypoint Path", Some(&req.entrypoint_path));
    let item = work_item.map(|w| format!("{} {}", w.kind, w.id));
    line(out, "Work Item", item.as_deref());
    path(out, "Work Item Path", work_item.map(|w| &w.path));
    path(out, "Closure Target Path", closure.map(|c| &c.target_path));
    line(out, "Root Spec ID", req.root_spec_id());
    line(out, "Root Idea ID", req.root_idea_id());
    path(
        out,
        "Canonical Root Spec Path",
        closure.map(|c| &c.root_spec_path),
    );
    path(
        out,
        "Canonical Seed Idea Path",
        closure.and_then(|c| c.seed_idea_path.as_ref()),
    );
    path(out, "Rubric Path", closure.map(|c| &c.rubric_path));
    path(out, "Verdict Path", closure.map(|c| &c.verdict_path));
    path(out, "Report Path", closure.map(|c| &c.report_path));
    path(out, "Run Directory", Some(&req.run_dir));
    path(out, "Result Path", Some(&req.result_path));
    path(out, "Status Path", Some(&req.status_path));
    path(out, "Snapshot Path", Some(&req.snapshot_path));
    path(
        out,
        "Troubleshoot Report Path",
        req.troubleshoot_report_path.as_ref(),
    );
    let runtime_error = req.runtime_error.as_ref();
    line(out, "Runtime Error Code", runtime_error.map(|e| e.code.as_str()));
    path(
        out,
        "Runtime Error Report Path",
        runtime_error.map(|e| &e.report_path),
    );
    list(out, "Required Skills", &req.required_skills);
    list(out, "Attached Skills", &req.attached_skills);
    line(out, "Runner", Some(&req.runner));
    line(out, "Model", req.model.as_deref());
    line(out, "Effort", req.effort.map(|e| e.as_str()));
    line(out, "Timeout", Some(&format!("{} seconds", req.timeout_seconds)));
    line(out, "Attempt", Some(&req.attempt.to_string()));
    // Only after a gate: what the operator decided, in their words.
    if req.operator_note.is_some() {
        line(out, "Operator Note", req.operator_note.as_deref());
    }
}

fn line(out: &mut String, label: &str, value: Option<&str>) {
    let value = value.filter(|v| !v.is_empty()).unwrap_or("none");
    // A value never spans lines: a newline in an id would forge context.
    let value = value.replace(['\n', '\r'], " ");
    let _ = writeln!(out, "{label}: {value}");
}

fn path(out: &mut String, label: &str, value: Option<&PathBuf>) {
    let text = value.map(|p| p.display().to_string());
    line(out, label, text.as_deref());
}

fn list(out: &mut String, label: &str, items: &[PathBuf]) {
    if items.is_empty() {
        line(out, label, None);
        return;
    }
    let _ = writeln!(out, "{label}:");
    for item in items {
        let _ = writeln!(out, "- {}", shown(item).replace(['\n', '\r'], " "));
    }
}

fn shown(p: &Path) -> String {
    p.display().to_string()
}

/// The legal markers and their classes.
fn markers(out: &mut String, req: &StageRunRequest) {
    out.push_str("Legal terminal markers (with the result classes each allows):\n");
    for outcome in &req.outcomes {
        let classes: Vec<&str> = outcome.classes.iter().map(|c| c.as_str()).collect();
        let _ = writeln!(out, "- ### {} ({})", outcome.name, classes.join(", "));
    }
}

/// How to write the optional structured result.
fn structured(out: &mut String, req: &StageRunRequest) {
    let _ = writeln!(
        out,
        "Optional structured result: write a JSON object to `{}` with \"terminal_result\" set to the \
         outcome name (for example \"{}\"). You may add \"result_class\" (one of that outcome's \
         classes), \"summary_artifact_paths\" (files you wrote, relative to the run directory) and \
         any keys the entrypoint asks for, such as \"resume_stage\". If you write it, it must name \
         the same outcome as your final marker.",
        req.result_path.display(),
        first_outcome(req),
    );
}

/// The closing rule.
fn rule(out: &mut String, req: &StageRunRequest) {
    let legal: Vec<String> = req.outcome_names().map(|n| format!("`### {n}`")).collect();
    let _ = writeln!(
        out,
        "When you are done, end your final message with exactly one legal marker line:"
    );
    let _ = writeln!(out, "{}.", legal.join(" or "));
    out.push_str("Print it once, on its own line. Print no other line that starts with `###`.\n");
    out.push_str("Do not invent or rename markers.\n");
}

fn first_outcome(req: &StageRunRequest) -> &str {
    req.outcome_names().next().unwrap_or("BLOCKED")
}
