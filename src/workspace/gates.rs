//! `state/gates/<gate_id>.json`: the gates a run waits at, and how each was
//! decided.
//!
//! Input: records the runtime writes when a run reaches a gate, decisions
//! from `millrace gate decide` (direct, with no daemon) or the daemon's
//! mailbox, and timeouts the daemon fires. Output: the records, read back
//! by the runtime (which routes a decided gate), `status`, `doctor`, the
//! monitor and the dashboard.
//!
//! Invariants: a gate's id is the request id of its wait, checked before
//! it becomes a path; every write is atomic, so a gate survives a restart
//! or a SIGKILL at any instruction; a decision is written once and never
//! replaced (a second decision is refused with `mill::gate::not_waiting`).

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::Workspace;
use super::fsx::{self, FsError};
use crate::model::ids::check_id;
use crate::plan::Plane;

/// The gate record format version.
pub const GATE_SCHEMA_VERSION: u32 = 1;

/// Why a gate cannot be read or decided.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum GateError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Fs(#[from] FsError),

    /// No gate has this id.
    #[error("no gate `{0}`")]
    #[diagnostic(
        code(mill::gate::not_found),
        help("`millrace gate ls` lists the waiting gates")
    )]
    NotFound(String),

    /// A short id that names more than one waiting gate.
    #[error("`{given}` names {} waiting gates: {}", candidates.len(), candidates.join(", "))]
    #[diagnostic(
        code(mill::gate::ambiguous_id),
        help("give more of the gate id (`millrace gate ls` lists them)")
    )]
    Ambiguous { given: String, candidates: Vec<String> },

    /// The gate was decided already, or its run moved on.
    #[error("gate `{id}` is not waiting: {why}")]
    #[diagnostic(
        code(mill::gate::not_waiting),
        help("`millrace gate ls` lists the gates waiting for a decision")
    )]
    NotWaiting { id: String, why: String },

    /// The outcome is not one the gate declares.
    #[error("gate `{id}` has no outcome `{outcome}` (it declares {})", declared.join(", "))]
    #[diagnostic(
        code(mill::gate::unknown_outcome),
        help("decide with one of the declared outcomes")
    )]
    UnknownOutcome {
        id: String,
        outcome: String,
        declared: Vec<String>,
    },

    /// The record on disk is not a gate record.
    #[error("gate record `{id}` is damaged: {detail}")]
    #[diagnostic(
        code(mill::gate::invalid_record),
        help(
            "inspect `millrace-agents/state/gates/`; `millrace queue retry` or `clear-stale-state` moves the item on"
        )
    )]
    Invalid { id: String, detail: String },
}

/// One gate wait.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GateRecord {
    pub schema_version: u32,
    pub gate_id: String,
    pub plane: Plane,
    pub run_id: String,
    pub node: String,
    pub stage: String,
    /// `task T-1`, when the run has a work item.
    #[serde(default)]
    pub work_item: Option<String>,
    pub question: String,
    #[serde(default)]
    pub shows: Vec<String>,
    pub outcomes: Vec<String>,
    pub opened_at: Timestamp,
    #[serde(default)]
    pub timeout_at: Option<Timestamp>,
    #[serde(default)]
    pub timeout_outcome: Option<String>,
    #[serde(default)]
    pub decision: Option<GateDecision>,
}

/// How a gate was decided.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GateDecision {
    pub outcome: String,
    #[serde(default)]
    pub note: Option<String>,
    /// `operator` or `timeout`.
    pub by: String,
    pub decided_at: Timestamp,
}

impl GateRecord {
    /// Seconds waited by `now` (until the decision, once decided).
    pub fn waited_seconds(&self, now: Timestamp) -> i64 {
        let end = self.decision.as_ref().map(|d| d.decided_at).unwrap_or(now);
        end.duration_since(self.opened_at).as_secs().max(0)
    }

    /// Checks that `outcome` may decide this gate now.
    pub fn check_decidable(&self, outcome: &str) -> Result<(), GateError> {
        if let Some(d) = &self.decision {
            return Err(GateError::NotWaiting {
                id: self.gate_id.clone(),
                why: format!("it was decided {} by {} at {}", d.outcome, d.by, d.decided_at),
            });
        }
        if !self.outcomes.iter().any(|o| o == outcome) {
            return Err(GateError::UnknownOutcome {
                id: self.gate_id.clone(),
                outcome: outcome.to_string(),
                declared: self.outcomes.clone(),
            });
        }
        Ok(())
    }
}

/// Reads one gate record (`None` when absent).
pub fn load(ws: &Workspace, id: &str) -> Result<Option<GateRecord>, GateError> {
    check_id("gate id", id).map_err(|_| GateError::NotFound(id.to_string()))?;
    let path = ws.paths().gates_dir().join(format!("{id}.json"));
    let Some(text) = fsx::read_optional(&path)? else {
        return Ok(None);
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| GateError::Invalid {
            id: id.to_string(),
            detail: e.to_string(),
        })
}

/// Writes a gate record atomically.
pub fn save(ws: &Workspace, record: &GateRecord) -> Result<(), GateError> {
    check_id("gate id", &record.gate_id).map_err(|_| GateError::NotFound(record.gate_id.clone()))?;
    let dir = ws.paths().gates_dir();
    fsx::ensure_dir(&dir)?;
    let mut text = serde_json::to_string_pretty(record).unwrap_or_default();
    text.push('\n');
    fsx::write_atomic(&dir.join(format!("{}.json", record.gate_id)), text.as_bytes())?;
    Ok(())
}

/// The gates waiting now: records without a decision whose run still
/// waits at them (`pending` holds the runs' pending request ids).
pub fn waiting<'a>(ws: &Workspace, pending: impl IntoIterator<Item = &'a str>) -> Vec<GateRecord> {
    let pending: Vec<&str> = pending.into_iter().collect();
    let mut records: Vec<GateRecord> = pending
        .iter()
        .filter_map(|id| load(ws, id).ok().flatten())
        .filter(|r| r.decision.is_none())
        .collect();
    records.sort_by(|a, b| a.opened_at.cmp(&b.opened_at).then(a.gate_id.cmp(&b.gate_id)));
    records
}

/// The waiting gate `given` names: its id, a unique part of it, or the id
/// of the work item waiting at it.
pub fn resolve(waiting: &[GateRecord], given: &str) -> Result<GateRecord, GateError> {
    if let Some(exact) = waiting.iter().find(|g| g.gate_id == given) {
        return Ok(exact.clone());
    }
    let matches: Vec<&GateRecord> = waiting
        .iter()
        .filter(|g| {
            g.gate_id.contains(given)
                || g.work_item.as_deref().and_then(|w| w.split(' ').nth(1)) == Some(given)
        })
        .collect();
    match matches.as_slice() {
        [] => Err(GateError::NotFound(given.to_string())),
        [one] => Ok((*one).clone()),
        many => Err(GateError::Ambiguous {
            given: given.to_string(),
            candidates: many.iter().map(|g| g.gate_id.clone()).collect(),
        }),
    }
}

/// Every readable gate record, oldest first. Damaged records are skipped
/// (`doctor` names them through [`damaged`]).
pub fn list(ws: &Workspace) -> Vec<GateRecord> {
    let mut records: Vec<GateRecord> = record_ids(ws)
        .iter()
        .filter_map(|id| load(ws, id).ok().flatten())
        .collect();
    records.sort_by(|a, b| a.opened_at.cmp(&b.opened_at).then(a.gate_id.cmp(&b.gate_id)));
    records
}

/// Gate records that cannot be read, with why.
pub fn damaged(ws: &Workspace) -> Vec<(String, String)> {
    record_ids(ws)
        .into_iter()
        .filter_map(|id| match load(ws, &id) {
            Err(e) => Some((id, e.to_string())),
            Ok(_) => None,
        })
        .collect()
}

fn record_ids(ws: &Workspace) -> Vec<String> {
    let names = fsx::list_names(&ws.paths().gates_dir()).unwrap_or_default();
    names
        .into_iter()
        .filter(|n| !fsx::is_temp_name(n))
        .filter_map(|n| n.strip_suffix(".json").map(str::to_string))
        .collect()
}
