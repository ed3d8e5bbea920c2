//! The runtime's state (`state/runtime_snapshot.json`): what the runtime
//! is doing right now, as the engine sees it.
//!
//! Input: nothing (pure data). Output: the [`Snapshot`] and its parts, and
//! [`Snapshot::check`], the invariants every load enforces: the schema
//! version and kind match; every active run is keyed by its own plane; its
//! request kind agrees with its work item (a closure run is on the planning
//! plane and has no work item, a learning run carries a learning request,
//! an ordinary run a non-learning item); status markers are `[A-Z0-9_]+`
//! tokens; pause sources are unique. Reading and writing the file is
//! `workspace::snapshot`.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::ids::{id_problem, is_marker_token};
use crate::plan::{Plane, WorkItemKind};

/// The snapshot format version this build reads and writes.
pub const SNAPSHOT_SCHEMA_VERSION: u32 = 1;

/// `once` or `daemon`, projected from `runtime.run_style`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuntimeMode {
    Once,
    #[default]
    Daemon,
}

/// Who paused the runtime; it stays paused while any source remains.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PauseSource {
    Operator,
    UsageGovernance,
    /// A harness failed in a way only the operator can fix (bad key, not
    /// logged in, a refused permission mode, a stall, a provider that kept
    /// failing); [`Snapshot::harness_pause`] says which and why.
    HarnessFailed,
    /// A runner's program is not installed.
    HarnessMissing,
}

impl PauseSource {
    pub fn as_str(self) -> &'static str {
        match self {
            PauseSource::Operator => "operator",
            PauseSource::UsageGovernance => "usage_governance",
            PauseSource::HarnessFailed => "harness_failed",
            PauseSource::HarnessMissing => "harness_missing",
        }
    }

    /// Whether `resume` lifts it (governance lifts its own).
    pub fn operator_lifts(self) -> bool {
        self != PauseSource::UsageGovernance
    }
}

/// Why a harness pause holds the runtime, and where it happened.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HarnessPause {
    pub source: PauseSource,
    pub runner: String,
    /// `harness_unavailable`, `harness_stalled`, `runner_not_installed`,
    /// `provider_transient` (retries spent).
    pub failure_class: String,
    /// The harness's own words (or the missing program's help).
    pub message: String,
    pub plane: Plane,
    pub node: String,
    pub stage: String,
    /// The run whose stage failed (its item stays where it was).
    #[serde(default)]
    pub run_id: Option<String>,
    /// The program that is missing, for `harness_missing`.
    #[serde(default)]
    pub program: Option<String>,
    pub since: Timestamp,
    /// When the pause lifts by itself (a provider that kept failing is
    /// tried again later); `None`: only `resume` lifts it.
    #[serde(default)]
    pub resume_at: Option<Timestamp>,
}

/// What an active run is working on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestKind {
    ActiveWorkItem,
    ClosureTarget,
    LearningRequest,
}

impl RequestKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestKind::ActiveWorkItem => "active_work_item",
            RequestKind::ClosureTarget => "closure_target",
            RequestKind::LearningRequest => "learning_request",
        }
    }
}

/// The outcome of the last `reload_config`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReloadOutcome {
    Applied,
    FailedRetainedPreviousPlan,
}

/// A work item by kind and id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkItemRef {
    pub kind: WorkItemKind,
    pub id: String,
}

/// Where a work item comes from: its closure family and its sources.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lineage {
    #[serde(default)]
    pub root_spec_id: Option<String>,
    #[serde(default)]
    pub root_idea_id: Option<String>,
    /// A task's `Spec-ID`.
    #[serde(default)]
    pub spec_id: Option<String>,
    /// An incident's `Source-Task-ID`.
    #[serde(default)]
    pub source_task_id: Option<String>,
    /// An incident's `Source-Spec-ID`.
    #[serde(default)]
    pub source_spec_id: Option<String>,
}

/// A runtime-owned post-stage error and its report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimeErrorRef {
    pub code: String,
    /// Workspace-relative path of `runtime_error_report.md`.
    pub report_path: String,
}

/// One plane's run in progress.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActiveRun {
    pub run_id: String,
    pub plane: Plane,
    /// The node of the plane's loop being run.
    pub node: String,
    /// The stage kind the node runs.
    pub stage: String,
    pub request_kind: RequestKind,
    #[serde(default)]
    pub work_item: Option<WorkItemRef>,
    #[serde(default)]
    pub closure_root_spec_id: Option<String>,
    #[serde(default)]
    pub closure_root_idea_id: Option<String>,
    /// Loop counters by name.
    #[serde(default)]
    pub counters: BTreeMap<String, u32>,
    /// Fuel used: stage runs dispatched for this work item.
    #[serde(default)]
    pub stage_runs: u32,
    #[serde(default)]
    pub failure_class: Option<String>,
    /// A dispatched stage whose result is not applied yet.
    #[serde(default)]
    pub pending_request_id: Option<String>,
    /// Times a stage of this run was interrupted (crash, stop, signal).
    #[serde(default)]
    pub interruptions: u32,
    /// The work item's lineage, captured at claim, so incidents and closure
    /// decisions never re-read documents.
    #[serde(default)]
    pub lineage: Lineage,
    /// Stage runs per node name (the `attempt` a stage request carries).
    #[serde(default)]
    pub node_runs: BTreeMap<String, u32>,
    /// Transient harness failures of the current stage in a row.
    #[serde(default)]
    pub transient_failures: u32,
    /// The stage waits until then before it is dispatched again (a
    /// transient failure's backoff).
    #[serde(default)]
    pub retry_at: Option<Timestamp>,
    /// An operator asked to requeue this item once its running stage stops.
    #[serde(default)]
    pub retry_requested: Option<String>,
    /// A runtime-owned error handed to the repair node now running.
    #[serde(default)]
    pub runtime_error: Option<RuntimeErrorRef>,
    /// Runtime-owned errors this run has handed to its repair node: one is
    /// repaired, the next blocks the item (a vanished file does not come
    /// back by running the loop again).
    #[serde(default)]
    pub runtime_errors: u32,
    /// The stage-result file of the previous stage, workspace-relative.
    #[serde(default)]
    pub last_stage_result: Option<String>,
    /// Tokens and cost this run used.
    #[serde(default)]
    pub tokens_used: u64,
    #[serde(default)]
    pub cost_usd: f64,
    /// Tokens and cost the item used in earlier runs.
    #[serde(default)]
    pub prior_tokens: u64,
    #[serde(default)]
    pub prior_cost_usd: f64,
    /// Gates opened in this run (gates spend no fuel: they have their own
    /// count for request ids).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub gate_waits: u32,
    /// The last gate decision's note, for the stage that runs next.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator_note: Option<String>,
    /// When the current node started.
    pub active_since: Timestamp,
    /// When the run (the work item's journey) started.
    pub started_at: Timestamp,
}

/// The whole snapshot.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Snapshot {
    pub schema_version: u32,
    pub kind: String,
    pub runtime_mode: RuntimeMode,
    pub process_running: bool,
    #[serde(default)]
    pub owner_session: Option<String>,
    #[serde(default)]
    pub pause_sources: Vec<PauseSource>,
    #[serde(default)]
    pub stop_requested: bool,
    #[serde(default)]
    pub mode_id: Option<String>,
    #[serde(default)]
    pub plan_id: Option<String>,
    #[serde(default)]
    pub active_runs: BTreeMap<Plane, ActiveRun>,
    /// Status tokens by plane, without `### `.
    #[serde(default)]
    pub status_markers: BTreeMap<Plane, String>,
    #[serde(default)]
    pub queue_depths: BTreeMap<Plane, u64>,
    #[serde(default)]
    pub last_terminal_result: Option<String>,
    #[serde(default)]
    pub last_stage_result_path: Option<String>,
    #[serde(default)]
    pub config_version: Option<String>,
    #[serde(default)]
    pub last_reload_outcome: Option<ReloadOutcome>,
    #[serde(default)]
    pub last_reload_error: Option<String>,
    #[serde(default)]
    pub started_at: Option<Timestamp>,
    /// When a quota pause may lift (the harness said when it resets).
    #[serde(default)]
    pub governance_resume_at: Option<Timestamp>,
    /// What a `harness_failed` or `harness_missing` pause is about.
    #[serde(default)]
    pub harness_pause: Option<HarnessPause>,
    /// A learning stage staged skill changes that have not landed yet.
    #[serde(default)]
    pub promotions_pending: bool,
    pub updated_at: Timestamp,
    #[serde(default)]
    pub tick: u64,
}

impl Default for Snapshot {
    fn default() -> Self {
        Self::bootstrap(Timestamp::now())
    }
}

impl Snapshot {
    /// The snapshot of a workspace nothing has run in yet.
    pub fn bootstrap(now: Timestamp) -> Self {
        Self {
            schema_version: SNAPSHOT_SCHEMA_VERSION,
            kind: "runtime_snapshot".into(),
            runtime_mode: RuntimeMode::Daemon,
            process_running: false,
            owner_session: None,
            pause_sources: Vec::new(),
            stop_requested: false,
            mode_id: None,
            plan_id: None,
            active_runs: BTreeMap::new(),
            status_markers: Plane::ALL.iter().map(|p| (*p, "IDLE".to_string())).collect(),
            queue_depths: Plane::ALL.iter().map(|p| (*p, 0)).collect(),
            last_terminal_result: None,
            last_stage_result_path: None,
            config_version: None,
            last_reload_outcome: None,
            last_reload_error: None,
            started_at: None,
            governance_resume_at: None,
            harness_pause: None,
            promotions_pending: false,
            updated_at: now,
            tick: 0,
        }
    }

    /// Whether any pause source is set.
    pub fn paused(&self) -> bool {
        !self.pause_sources.is_empty()
    }

    /// Adds a pause source; true if it was not set.
    pub fn add_pause(&mut self, source: PauseSource) -> bool {
        if self.pause_sources.contains(&source) {
            return false;
        }
        self.pause_sources.push(source);
        self.pause_sources.sort();
        true
    }

    /// Removes a pause source; true if it was set.
    pub fn remove_pause(&mut self, source: PauseSource) -> bool {
        let before = self.pause_sources.len();
        self.pause_sources.retain(|s| *s != source);
        before != self.pause_sources.len()
    }

    /// Parses and checks snapshot JSON.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let snapshot: Snapshot = serde_json::from_str(text).map_err(|e| e.to_string())?;
        snapshot.check()?;
        Ok(snapshot)
    }

    /// The invariants stated in the module header.
    pub fn check(&self) -> Result<(), String> {
        if self.schema_version != SNAPSHOT_SCHEMA_VERSION {
            return Err(format!(
                "schema version {} (this build reads {SNAPSHOT_SCHEMA_VERSION})",
                self.schema_version
            ));
        }
        if self.kind != "runtime_snapshot" {
            return Err(format!("kind `{}` is not `runtime_snapshot`", self.kind));
        }
        let mut sources = self.pause_sources.clone();
        sources.dedup();
        if sources.len() != self.pause_sources.len() {
            return Err("a pause source is listed twice".into());
        }
        for (plane, token) in &self.status_markers {
            if !is_marker_token(token) {
                return Err(format!("{plane} status marker `{token}` is not a marker token"));
            }
        }
        for (plane, run) in &self.active_runs {
            check_run(*plane, run)?;
        }
        Ok(())
    }
}

fn check_run(plane: Plane, run: &ActiveRun) -> Result<(), String> {
    if run.plane != plane {
        return Err(format!(
            "the {plane} active run says it is on the {} plane",
            run.plane
        ));
    }
    let item_kind = run.work_item.as_ref().map(|w| w.kind);
    let ok = match run.request_kind {
        RequestKind::ClosureTarget => {
            plane == Plane::Planning && run.work_item.is_none() && run.closure_root_spec_id.is_some()
        }
        RequestKind::LearningRequest => {
            plane == Plane::Learning && item_kind == Some(WorkItemKind::LearningRequest)
        }
        RequestKind::ActiveWorkItem => {
            item_kind.is_some_and(|k| k != WorkItemKind::LearningRequest && k.plane() == plane)
        }
    };
    if !ok {
        return Err(format!(
            "the {plane} active run's request kind `{}` does not match its work item",
            run.request_kind.as_str()
        ));
    }
    if let Some(item) = &run.work_item
        && let Some(reason) = id_problem(&item.id)
    {
        return Err(format!(
            "the {plane} active run's work item id is invalid: {reason}"
        ));
    }
    Ok(())
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}
