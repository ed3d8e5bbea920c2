//! What the engine reacts to. Every observation the pure step needs comes in
//! through an input, so `step` never does I/O.

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::model::governance::Blocker;
use crate::model::{Lineage, RuntimeMode, StageResult};
use crate::plan::{Plane, WorkItemKind};

/// One event for [`super::step`].
#[derive(Clone, Debug)]
pub enum Input {
    /// This process took ownership of the workspace.
    Boot {
        now: Timestamp,
        session: String,
        mode: RuntimeMode,
    },
    /// A stage an earlier process dispatched never reported (crash, kill):
    /// the same node runs again.
    Interrupted {
        now: Timestamp,
        plane: Plane,
        reason: String,
    },
    /// A dispatched stage could not start: its runner's program is not
    /// installed. Nothing ran, so the stage is not charged; the runtime
    /// pauses (source `harness_missing`) until the operator resumes.
    HarnessMissing {
        now: Timestamp,
        plane: Plane,
        runner: String,
        /// The program that is missing, when the runner named one.
        program: Option<String>,
        message: String,
    },
    /// A stage finished (or its result was recovered from disk).
    Finished {
        now: Timestamp,
        result: Box<StageResult>,
        result_path: String,
    },
    /// Applying a finished stage failed (not a crash): the runtime hands the
    /// error to the loop's repair node, or blocks the item.
    ApplyFailed {
        now: Timestamp,
        result: Box<StageResult>,
        result_path: String,
        error: ApplyError,
    },
    /// An operator command (direct, mailbox or signal).
    Control { now: Timestamp, command: Control },
    /// The scheduler's turn: claims, dispatches, the closure pass.
    Tick { now: Timestamp, world: World },
    /// The driver moved a work item from its queue to `active/`.
    Claimed {
        now: Timestamp,
        plane: Plane,
        item: ClaimedItem,
    },
    /// The process is giving up ownership (stop drained, `run once` done).
    Shutdown { now: Timestamp },
    /// A `reload_config` was applied (`error: None`) or failed (the previous
    /// plan stays).
    Reloaded { now: Timestamp, error: Option<String> },
    /// Usage governance's verdict outside a tick: right after a stage result
    /// (before it is routed, so a chained next stage waits), or on an
    /// operator's resume. `None` means governance is off.
    Govern {
        now: Timestamp,
        governance: Option<GovernanceView>,
    },
}

/// Operator commands the engine decides on. (Adding work goes straight to
/// the queues.)
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Control {
    Pause,
    Resume,
    /// Finish the running stage, then stop.
    Stop,
    /// Kill the running harness; the stage is recorded as interrupted.
    StopNow,
    /// Requeue a plane's active work item (the only active one if `None`).
    RetryActive {
        plane: Option<Plane>,
        reason: String,
    },
    /// Requeue every active item and reset pause and stop.
    ClearStaleState {
        reason: String,
    },
}

/// What the driver observed before a tick.
#[derive(Clone, Debug, Default)]
pub struct World {
    /// Planes whose queue holds a claimable item (the closure root filter
    /// applied). Only planes free to claim are looked at: a foreground
    /// plane while no foreground plane runs, learning while it does not.
    pub claimable: BTreeSet<Plane>,
    /// The open closure target, if any.
    pub target: Option<TargetView>,
    /// A fresh run id for a run that starts without a claim (a closure pass).
    pub next_run_id: String,
    /// Queue depths per plane, for status.
    pub depths: BTreeMap<Plane, u64>,
    /// Usage governance's verdict (`None` when it is off).
    pub governance: Option<GovernanceView>,
}

/// What usage governance decided before a tick.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GovernanceView {
    /// Dispatch holds while any blocker remains.
    pub blockers: Vec<Blocker>,
    /// Whether the governance pause lifts by itself once blockers clear.
    pub auto_resume: bool,
    /// Rules that blocked at the previous evaluation and no longer do (for
    /// the resume event).
    #[serde(default)]
    pub cleared_rules: Vec<String>,
}

/// The open closure target as the engine needs it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetView {
    pub root_spec_id: String,
    pub root_idea_id: Option<String>,
    /// Closure passes already started for it.
    pub attempts: u32,
    /// Whether queued, active or blocked work of its lineage remains.
    pub lineage_busy: bool,
}

/// A work item the driver claimed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClaimedItem {
    pub kind: WorkItemKind,
    pub id: String,
    /// The run id the driver generated for it.
    pub run_id: String,
    pub lineage: Lineage,
    /// A learning request's `Target-Stage`.
    pub target_stage: Option<String>,
    /// Set when the item is a root spec whose closure target must open.
    pub opens_target: bool,
    /// Tokens and cost the item used in earlier runs (for per-item budgets).
    #[serde(default)]
    pub prior_tokens: u64,
    #[serde(default)]
    pub prior_cost_usd: f64,
}

/// A runtime-owned failure after a stage returned a legal result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplyError {
    /// `<plane>_post_stage_apply_failed` or
    /// `<plane>_work_item_completion_conflict`.
    pub code: String,
    pub message: String,
}
