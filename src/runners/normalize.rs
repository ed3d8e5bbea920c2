//! Normalization: from what a harness did to one honest stage result.
//!
//! Input: the request and a [`RawRun`]. Output: a [`StageResult`] whose
//! `terminal_result` is a legal outcome of the stage, or `BLOCKED` with
//! class `recoverable_failure` and a [`FailureClass`] saying why.
//! Invariants: a runner failure is never rescued by a marker in the last
//! message; a structured result and a final-message marker must agree;
//! artifacts the stage names must exist inside the run directory.

use std::path::{Path, PathBuf};

use jiff::Timestamp;

use super::markers::{self, Structured};
use super::raw::RawRun;
use crate::model::{
    ExitKind, FailureClass, LegalOutcome, NormalizationSource, STAGE_RESULT_SCHEMA_VERSION, StageResult,
    StageRunRequest,
};
use crate::plan::{ResultClass, WorkItemKind};
use crate::workspace::fsx;

/// The outcome every failure reports.
pub const FAILURE_OUTCOME: &str = "BLOCKED";

/// What the terminal-result resolution decided.
struct Resolved {
    outcome: String,
    class: ResultClass,
    source: NormalizationSource,
}

/// A normalization failure with what is known so far.
struct Failure {
    class: FailureClass,
    note: String,
}

/// Builds the stage result for `raw`.
pub(crate) fn normalize(
    req: &StageRunRequest,
    raw: RawRun,
    started: Timestamp,
    ended: Timestamp,
) -> StageResult {
    let mut result = skeleton(req, &raw, started, ended);
    result.notes = raw.notes.clone();
    if let Some(last) = result.stderr_tail.last() {
        result.notes.push(format!("harness stderr ends: {last}"));
    }
    if let Some(class) = runner_failure(&raw) {
        let note = failure_note(&raw, class);
        return fail(result, class, note);
    }
    let structured = match markers::read_structured(&req.result_path) {
        Ok(s) => s,
        Err(note) => return fail(result, FailureClass::IllegalTerminalResult, note),
    };
    if let Some(s) = &structured {
        result.metadata = s.metadata.clone();
    }
    match resolve(req, &raw, structured.as_ref(), &mut result.detected_marker) {
        Ok(resolved) => finish(req, result, resolved, structured.as_ref()),
        Err(f) => fail(result, f.class, f.note),
    }
}

/// Identity, timing and raw observations common to every result.
fn skeleton(req: &StageRunRequest, raw: &RawRun, started: Timestamp, ended: Timestamp) -> StageResult {
    let (work_item_kind, work_item_id) = match (&req.closure, &req.work_item) {
        (Some(c), _) => (Some(WorkItemKind::Spec), Some(c.root_spec_id.clone())),
        (None, Some(w)) => (Some(w.kind), Some(w.id.clone())),
        (None, None) => (None, None),
    };
    let duration = ended.duration_since(started).as_secs_f64().max(0.0);
    StageResult {
        schema_version: STAGE_RESULT_SCHEMA_VERSION,
        kind: "stage_result".into(),
        request_id: req.request_id.clone(),
        run_id: req.run_id.clone(),
        plane: req.plane,
        node: req.node.clone(),
        stage: req.stage.clone(),
        work_item_kind,
        work_item_id,
        terminal_result: FAILURE_OUTCOME.into(),
        result_class: ResultClass::RecoverableFailure,
        success: false,
        exit: raw.exit,
        exit_code: raw.exit_code,
        failure_class: None,
        detected_marker: None,
        normalization_source: NormalizationSource::Failure,
        metadata: serde_json::Map::new(),
        artifacts: Vec::new(),
        report_artifact: report_artifact(req),
        notes: Vec::new(),
        token_usage: raw.token_usage,
        cost_usd: raw.cost_usd,
        rate_limit: raw.rate_limit.clone(),
        rate_limits: raw.rate_limits.clone(),
        quota_reset_at: raw.quota_reset_at,
        harness_message: raw.harness_message.clone(),
        stderr_tail: failed_stderr(raw),
        runner: req.runner.clone(),
        model: req.model.clone(),
        effort: req.effort,
        stdout_path: raw.stdout_path.clone(),
        stderr_path: raw.stderr_path.clone(),
        events_path: raw.events_path.clone(),
        started_at: started,
        completed_at: ended.max(started),
        duration_seconds: duration,
    }
}

/// The failure class of a run that did not complete cleanly, if any.
fn runner_failure(raw: &RawRun) -> Option<FailureClass> {
    match raw.exit {
        ExitKind::Completed => {
            // A non-zero exit is a failed run even when the last message
            // holds a legal marker; only the command runner maps exit
            // statuses to outcomes, and it says so through `outcome`.
            let nonzero = raw.exit_code.is_some_and(|c| c != 0);
            (nonzero && raw.outcome.is_none()).then_some(FailureClass::RunnerTransportFailure)
        }
        ExitKind::Timeout => Some(FailureClass::RunnerTimeout),
        ExitKind::Killed => Some(FailureClass::Killed),
        ExitKind::NotInstalled => Some(FailureClass::RunnerNotInstalled),
        ExitKind::RunnerError => Some(FailureClass::RunnerTransportFailure),
        ExitKind::ProviderError => Some(FailureClass::ProviderFailure),
        ExitKind::QuotaExhausted => Some(FailureClass::QuotaExhausted),
        ExitKind::BudgetExhausted => Some(FailureClass::BudgetExhausted),
        ExitKind::HarnessUnavailable => Some(FailureClass::HarnessUnavailable),
        ExitKind::ProviderTransient => Some(FailureClass::ProviderTransient),
        ExitKind::Stalled => Some(FailureClass::HarnessStalled),
    }
}

/// A failed harness's stderr tail (a clean run's stderr is its own
/// business).
fn failed_stderr(raw: &RawRun) -> Vec<String> {
    let failed = raw.exit != ExitKind::Completed || raw.exit_code.is_some_and(|c| c != 0);
    if failed {
        raw.stderr_tail.clone()
    } else {
        Vec::new()
    }
}

fn failure_note(raw: &RawRun, class: FailureClass) -> String {
    match (class, raw.exit_code) {
        (FailureClass::RunnerTransportFailure, Some(code)) => format!("runner exited with status {code}"),
        _ => format!("runner ended as {}", class.as_str()),
    }
}

/// Finds the terminal result from the structured result and the final
/// message, and checks they agree and are legal.
fn resolve(
    req: &StageRunRequest,
    raw: &RawRun,
    structured: Option<&Structured>,
    detected: &mut Option<String>,
) -> Result<Resolved, Failure> {
    let from_message = message_outcome(raw)?;
    if let Some(m) = &from_message {
        *detected = Some(format!("### {m}"));
    }
    let (name, source) = match (structured, &from_message) {
        (Some(s), Some(m)) if s.terminal_result != *m => {
            return Err(failure(
                FailureClass::ConflictingTerminalResults,
                format!(
                    "structured result says {} but the final message says {m}",
                    s.terminal_result
                ),
            ));
        }
        (Some(s), _) => (s.terminal_result.clone(), NormalizationSource::StructuredResult),
        (None, Some(m)) => (m.clone(), NormalizationSource::FinalMessage),
        (None, None) => {
            return Err(failure(
                FailureClass::MissingTerminalResult,
                "no terminal marker in the final message and no structured result".into(),
            ));
        }
    };
    if detected.is_none() {
        *detected = Some(format!("### {name}"));
    }
    let Some(outcome) = req.outcomes.iter().find(|o| o.name == name) else {
        let legal: Vec<&str> = req.outcome_names().collect();
        return Err(failure(
            FailureClass::IllegalTerminalResult,
            format!(
                "`{name}` is not a legal outcome of stage {} (legal: {})",
                req.stage,
                legal.join(", ")
            ),
        ));
    };
    let class = pick_class(outcome, structured.and_then(|s| s.result_class.as_deref()))?;
    Ok(Resolved {
        outcome: name,
        class,
        source,
    })
}

/// The outcome a runner chose or the single distinct marker of the message.
fn message_outcome(raw: &RawRun) -> Result<Option<String>, Failure> {
    if let Some(outcome) = &raw.outcome {
        return Ok(Some(outcome.clone()));
    }
    let Some(message) = &raw.final_message else {
        return Ok(None);
    };
    let found = markers::distinct_markers(message);
    match found.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one.clone())),
        many => Err(failure(
            FailureClass::ConflictingTerminalResults,
            format!(
                "the final message has {} different markers: {}",
                many.len(),
                many.join(", ")
            ),
        )),
    }
}

/// The declared class, or the one the structured result names if allowed.
fn pick_class(outcome: &LegalOutcome, named: Option<&str>) -> Result<ResultClass, Failure> {
    let Some(named) = named else {
        return Ok(outcome.classes.first().copied().unwrap_or(ResultClass::Blocked));
    };
    match named.parse::<ResultClass>() {
        Ok(class) if outcome.classes.contains(&class) => Ok(class),
        _ => Err(failure(
            FailureClass::IllegalTerminalResult,
            format!(
                "result class `{named}` is not allowed for outcome {}",
                outcome.name
            ),
        )),
    }
}

/// Checks the named artifacts and fills in a successful resolution.
fn finish(
    req: &StageRunRequest,
    mut result: StageResult,
    resolved: Resolved,
    structured: Option<&Structured>,
) -> StageResult {
    let named = structured
        .map(|s| s.summary_artifact_paths.as_slice())
        .unwrap_or_default();
    let mut artifacts = Vec::with_capacity(named.len());
    for path in named {
        match inside_run_dir(&req.run_dir, path) {
            Some(found) => artifacts.push(found),
            None => {
                let note = format!("summary artifact `{path}` is missing or outside the run directory");
                return fail(result, FailureClass::MissingRequiredArtifact, note);
            }
        }
    }
    result.artifacts = artifacts;
    result.terminal_result = resolved.outcome;
    result.result_class = resolved.class;
    result.success = resolved.class == ResultClass::Success;
    result.normalization_source = resolved.source;
    result.notes.push(match resolved.source {
        NormalizationSource::StructuredResult => "terminal result from the structured result file".into(),
        _ => "terminal result from the final message".into(),
    });
    result
}

fn failure(class: FailureClass, note: String) -> Failure {
    Failure { class, note }
}

/// Turns `result` into the `BLOCKED` failure result.
fn fail(mut result: StageResult, class: FailureClass, note: String) -> StageResult {
    result.terminal_result = FAILURE_OUTCOME.into();
    result.result_class = ResultClass::RecoverableFailure;
    result.success = false;
    result.failure_class = Some(class);
    result.normalization_source = NormalizationSource::Failure;
    result.artifacts.clear();
    result.notes.push(note);
    result
}

/// The existing file `rel` names, if it resolves inside `run_dir`.
pub(crate) fn inside_run_dir(run_dir: &Path, rel: &str) -> Option<PathBuf> {
    let root = fsx::canonical(run_dir)?;
    let found = fsx::canonical(&run_dir.join(rel))?;
    (found.starts_with(&root) && fsx::is_file(&found)).then_some(found)
}

/// The first existing report: the closure report, then the troubleshoot
/// report, each only if inside the run directory.
fn report_artifact(req: &StageRunRequest) -> Option<PathBuf> {
    let closure = req.closure.as_ref().map(|c| c.report_path.as_path());
    let troubleshoot = req.troubleshoot_report_path.as_deref();
    [closure, troubleshoot]
        .into_iter()
        .flatten()
        .find_map(|p| inside_run_dir(&req.run_dir, &p.to_string_lossy()))
}

#[cfg(test)]
mod tests;
