//! What the engine asks the driver to do. Durable effects are journaled
//! before they are applied and are idempotent, so replaying a journal after
//! a crash is harmless; actions run after the new state is persisted.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::model::event::RoutingRecord;
use crate::model::{Event, Incident, LearningRequest, QueueState};
use crate::plan::{Plane, WorkItemKind};

/// One effect of a step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "effect", rename_all = "snake_case")]
pub enum Effect {
    // ---- durable (journaled, idempotent) ----
    /// Move a work item out of `active/` (done, blocked, or back to its
    /// queue with a reason). Already at the destination counts as done.
    MoveItem {
        kind: WorkItemKind,
        id: String,
        to: QueueState,
        reason: Option<String>,
    },
    /// File a planning incident (skipped if its id already exists).
    WriteIncident { incident: Box<Incident> },
    /// Queue a learning request (skipped if its id already exists).
    WriteLearningRequest { request: Box<LearningRequest> },
    /// Open a closure target for a root spec and copy its contracts
    /// (nothing happens if a target file already exists).
    OpenTarget {
        root_spec_id: String,
        root_idea_id: Option<String>,
        now: Timestamp,
    },
    /// Record a closure pass starting: `attempts` is the new absolute count.
    StartClosurePass {
        root_spec_id: String,
        attempts: u32,
        run_id: String,
    },
    /// Close a closure target.
    CloseTarget {
        root_spec_id: String,
        outcome: ClosureOutcome,
        run_id: Option<String>,
        now: Timestamp,
    },
    /// Write `### <token>` to a plane's status file.
    WriteMarker { plane: Plane, token: String },
    /// Write the report a repair stage reads.
    WriteRuntimeErrorReport { run_id: String, text: String },
    /// Record the skill files a learning stage staged in its run directory
    /// as a promotion (landed later, by [`Effect::LandPromotions`]).
    RecordPromotion {
        run_id: String,
        request_id: String,
        work_item_id: Option<String>,
        /// The stage's account of the change, as the result named it.
        update_record: Option<String>,
        /// Foreground planes with a stage running right now.
        foreground: Vec<Plane>,
        now: Timestamp,
    },
    /// Land every deferred promotion into the installed skills (only ever
    /// emitted while no foreground stage runs).
    LandPromotions { now: Timestamp },
    /// Record why a stage's outcome led where it did.
    RecordRouting {
        run_id: String,
        request_id: String,
        record: Box<RoutingRecord>,
    },

    // ---- actions (after the state is persisted) ----
    /// Claim the next item of a plane (optionally within one lineage).
    Claim { plane: Plane, root: Option<String> },
    /// Start the stage now pending on a plane.
    Dispatch { plane: Plane },
    /// Kill a plane's running harness.
    Kill { plane: Plane },
    /// Nothing runs and a stop was requested: end the process.
    Exit,
    /// Append a runtime event (after the state is persisted).
    Event { event: Event },
}

/// How a closure target ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClosureOutcome {
    /// The closure stage judged the lineage complete.
    Passed,
    /// Every allowed closure pass ran without a pass verdict.
    AttemptsExhausted,
}

impl Effect {
    /// Whether the effect is journaled (durable) rather than an action.
    pub fn is_durable(&self) -> bool {
        !matches!(
            self,
            Effect::Claim { .. }
                | Effect::Dispatch { .. }
                | Effect::Kill { .. }
                | Effect::Exit
                | Effect::Event { .. }
        )
    }
}
