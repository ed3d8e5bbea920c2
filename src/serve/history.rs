//! Runs and work items: the runs list with its filters, one run with its
//! artifacts, one artifact's text, and one work item with its document,
//! its history across runs and its block reason.
//!
//! Input: a [`Site`] and ids from a URL. Output: JSON values; a run is
//! `runs show --json`'s [`RunView`], a run summary has the keys of
//! `runs ls --json` (and a few more), an item has `queue show --json`'s.
//!
//! Invariants: every id from a URL is checked ([`check_id`]) before it is
//! used, and an invalid or unknown one is [`ServeError::NotFound`]; a run
//! that cannot be read is skipped in lists and named in `notes`; the runs
//! read per request are capped, so a long campaign's list stays fast;
//! nothing is written.

use serde_json::{Value, json};

use super::api::{blocked_fix, require};
use super::error::ServeError;
use super::sites::{Site, shorten};
use crate::model::ids::check_id;
use crate::model::{QueueState, WorkDocument};
use crate::workspace::queue::Queues;
use crate::workspace::runs::{self, RunError, RunView, StageView};

/// Runs read at most for one list request.
const SCAN_CAP: usize = 2000;
/// Bytes of an agent's last message shown per stage.
const LAST_MESSAGE_BYTES: u64 = 4096;
/// Bytes of an artifact served (its end when longer).
pub(crate) const ARTIFACT_BYTES: u64 = 1 << 20;

/// The filters of the runs list.
#[derive(Clone, Debug, Default, serde::Deserialize)]
pub(crate) struct RunFilter {
    pub item: Option<String>,
    pub plane: Option<String>,
    pub outcome: Option<String>,
    pub limit: Option<usize>,
}

impl RunFilter {
    /// Whether a run's summary passes every filter given.
    fn keeps(&self, summary: &Value) -> bool {
        let field = |key: &str| summary[key].as_str();
        let given = |want: &Option<String>| want.clone().filter(|w| !w.is_empty());
        given(&self.item).is_none_or(|w| field("work_item_id") == Some(w.as_str()))
            && given(&self.plane).is_none_or(|w| field("plane") == Some(w.as_str()))
            && given(&self.outcome).is_none_or(|o| {
                ["terminal_result", "failure_class", "status"]
                    .iter()
                    .any(|key| field(key) == Some(o.as_str()))
            })
    }
}

fn not_found(e: RunError) -> ServeError {
    ServeError::NotFound(e.to_string())
}

/// A run's summary: `runs ls --json`'s keys, plus totals; a run with no
/// stage result yet takes its plane and item from its claim.
fn summary(site: &Site, run: &RunView) -> Value {
    let mut out = json!({
        "run_id": run.run_id, "status": run.status, "plane": run.plane,
        "work_item_kind": run.work_item_kind, "work_item_id": run.work_item_id,
        "terminal_result": run.terminal_result, "failure_class": run.failure_class,
        "started_at": run.started_at, "completed_at": run.completed_at, "stage_count": run.stages.len(),
        "duration_seconds": run.duration_seconds,
        "total_tokens": run.tokens.as_ref().map(|t| t.total_tokens), "cost_usd": run.cost_usd,
    });
    if run.plane.is_none()
        && let Some((plane, kind, id)) = site.tail().run_claims.get(&run.run_id)
    {
        out["plane"] = json!(plane);
        out["work_item_kind"] = json!(kind);
        out["work_item_id"] = json!(id);
    }
    out
}

/// `GET /api/w/{ws}/runs`: newest first.
pub(crate) fn list(site: &Site, filter: &RunFilter) -> Result<Value, ServeError> {
    require(site)?;
    let limit = filter.limit.unwrap_or(100).clamp(1, 1000);
    let ids = match filter.item.as_deref().filter(|i| !i.is_empty()) {
        Some(item) => {
            check_id("work item id", item).map_err(|e| ServeError::NotFound(e.to_string()))?;
            item_run_ids(site, item)?
        }
        None => runs::run_ids(&site.ws).map_err(not_found)?,
    };
    let mut out = Vec::new();
    let mut notes = Vec::new();
    let total = ids.len();
    for id in ids.iter().rev().take(SCAN_CAP) {
        match runs::show(&site.ws, id) {
            Ok(run) => {
                let summary = summary(site, &run);
                if filter.keeps(&summary) {
                    out.push(summary);
                }
            }
            Err(e) => notes.push(format!("{id}: {e}")),
        }
        if out.len() >= limit {
            break;
        }
    }
    let capped = total > SCAN_CAP && out.len() < limit;
    Ok(json!({ "runs": out, "total_runs": total, "scan_capped": capped, "notes": notes }))
}

/// The runs of an item: from its claims in the event log, else from the
/// newest runs' results.
fn item_run_ids(site: &Site, item: &str) -> Result<Vec<String>, ServeError> {
    if let Some(known) = site.tail().item_runs.get(item) {
        return Ok(known.clone());
    }
    let all = runs::run_ids(&site.ws).map_err(not_found)?;
    let mut mine: Vec<String> = all
        .iter()
        .rev()
        .take(SCAN_CAP)
        .filter(|id| runs::show(&site.ws, id).is_ok_and(|r| r.work_item_id.as_deref() == Some(item)))
        .cloned()
        .collect();
    mine.reverse();
    Ok(mine)
}

/// One stage as the pages show it, with the agent's last message and the
/// names of its artifacts (those that carry its request id).
fn stage(site: &Site, run_id: &str, s: &StageView, artifacts: &[runs::Artifact]) -> Value {
    let mine: Vec<&str> = artifacts
        .iter()
        .map(|a| a.name.as_str())
        .filter(|n| n.contains(s.request_id.as_str()))
        .collect();
    let name = format!("runner_last_message.{}.txt", s.request_id);
    let last = runs::read_artifact(&site.ws, run_id, &name, LAST_MESSAGE_BYTES).ok();
    json!({
        "request_id": s.request_id, "node": s.result.node, "stage": s.result.stage,
        "outcome": s.result.terminal_result, "result_class": s.result.result_class,
        "failure_class": s.result.failure_class, "duration_seconds": s.duration_seconds,
        "started_at": s.result.started_at, "completed_at": s.result.completed_at,
        "total_tokens": s.result.token_usage.as_ref().map(|t| t.total_tokens),
        "cost_usd": s.result.cost_usd, "runner": s.result.runner, "notes": s.result.notes,
        "last_message": last.as_ref().map(|(text, _)| text), "last_message_cut": last.is_some_and(|(_, cut)| cut),
        "routing": s.routing.as_ref().and_then(|r| r.get("reason")).cloned(),
        "artifacts": mine,
    })
}

/// `GET /api/w/{ws}/runs/{run}`.
pub(crate) fn run(site: &Site, run_id: &str) -> Result<Value, ServeError> {
    require(site)?;
    let run = runs::show(&site.ws, run_id).map_err(not_found)?;
    let artifacts = runs::artifacts(&site.ws, run_id).map_err(not_found)?;
    let stages: Vec<Value> = run
        .stages
        .iter()
        .map(|s| stage(site, run_id, s, &artifacts))
        .collect();
    Ok(json!({ "run": run, "stages": stages, "artifacts": artifacts }))
}

/// `GET /api/w/{ws}/runs/{run}/artifacts/{name}`: the text and whether it
/// was cut to its last [`ARTIFACT_BYTES`].
pub(crate) fn artifact(site: &Site, run_id: &str, name: &str) -> Result<(String, bool), ServeError> {
    require(site)?;
    runs::read_artifact(&site.ws, run_id, name, ARTIFACT_BYTES).map_err(|e| match e {
        RunError::Id(_) => ServeError::NotFound(format!("no artifact `{}`", shorten(name))),
        other => not_found(other),
    })
}

/// `GET /api/w/{ws}/items/{id}`.
pub(crate) fn item(site: &Site, id: &str) -> Result<Value, ServeError> {
    require(site)?;
    let queues = Queues::new(&site.ws);
    let located = queues
        .find(id)
        .map_err(|e| ServeError::NotFound(e.to_string()))?
        .ok_or_else(|| ServeError::NotFound(format!("no work item `{id}` in any queue")))?;
    let loaded = WorkDocument::load(&located.path, Some(located.kind));
    let block = (located.state == QueueState::Blocked).then(|| {
        let reasons = queues.block_reasons(located.kind, id).unwrap_or_default();
        json!({ "reasons": reasons, "reason": reasons.last().map(|r| &r.reason), "fix": blocked_fix(id) })
    });
    let mut history = Vec::new();
    for run_id in item_run_ids(site, id)? {
        match runs::show(&site.ws, &run_id) {
            Ok(run) => {
                let artifacts = runs::artifacts(&site.ws, &run_id).unwrap_or_default();
                let stages: Vec<Value> = run
                    .stages
                    .iter()
                    .map(|s| stage(site, &run_id, s, &artifacts))
                    .collect();
                // Files no stage's request id names (a summary, an error
                // report) are listed with the run, so every file is linked.
                let other: Vec<&str> = artifacts
                    .iter()
                    .map(|a| a.name.as_str())
                    .filter(|n| !run.stages.iter().any(|s| n.contains(s.request_id.as_str())))
                    .collect();
                history.push(
                    json!({ "summary": summary(site, &run), "stages": stages, "other_artifacts": other }),
                );
            }
            Err(e) => history.push(json!({ "summary": { "run_id": run_id }, "error": e.to_string() })),
        }
    }
    Ok(json!({
        "id": id, "kind": located.kind, "state": located.state,
        "state_dir": crate::workspace::layout::state_dir_name(located.kind, located.state),
        "path": site.ws.relative(&located.path),
        "title": loaded.as_ref().ok().map(|d| d.title().to_string()),
        "document": loaded.as_ref().ok().map(WorkDocument::to_json),
        "text": loaded.as_ref().ok().map(WorkDocument::render),
        "error": loaded.as_ref().err().map(|e| e.summary()),
        "block": block,
        "history": history,
    }))
}
