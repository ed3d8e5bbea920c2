//! Runtime events: one typed value per thing worth recording, written to
//! `logs/runtime_events.jsonl` and rendered by the monitor.
//!
//! Input: nothing (pure data). Output: [`Event`], whose JSON is the
//! `event_type` and `data` of one event-log line ([`Event::parts`], and
//! [`Event::from_parts`] to read one back).
//!
//! Invariants: the JSON of every variant is the event log's format (schema
//! version 1): a field is renamed or removed only with a new schema version,
//! and a test reads a log written before these types existed; `data` keys
//! come out sorted, as `serde_json` maps are.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::governance::{Blocker, BlockerRecord};
use super::{FailureClass, PauseSource};
use crate::plan::{Plane, ResultClass, WorkItemKind};

mod parts;

pub use parts::{LedgerLine, ResumedRun, RouteTarget, RoutingRecord, WorkItemObj};

/// One runtime event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event_type", content = "data", rename_all = "snake_case")]
pub enum Event {
    // ---- ownership and lifecycle ----
    /// This process took ownership; `resumed_runs` continue at their node.
    RuntimeStarted {
        session: String,
        plan_id: String,
        mode: String,
        resumed_runs: Vec<ResumedRun>,
    },
    /// This process gave up ownership; its active runs resume at the next start.
    RuntimeStopped {
        active_runs: usize,
    },
    /// A dead owner's lock on this host was taken over.
    LockTakenOver {
        pid: u32,
        host: String,
        session: String,
    },
    /// A transition a crashed process left half applied was finished.
    JournalReplayed {
        effects: usize,
    },
    RuntimeIdle {
        reason: String,
    },
    RuntimeSignal {
        count: u32,
    },
    RuntimeConfigReloaded {
        plan_id: String,
        mode: String,
    },
    RuntimeConfigReloadFailed {
        error: String,
        plan_id: String,
    },
    RuntimeConfigReloadDeferred {
        reason: String,
        nodes: Vec<String>,
    },

    // ---- operator commands ----
    RuntimePaused {
        source: PauseSource,
        applied: bool,
    },
    RuntimeResumed {
        source: PauseSource,
        applied: bool,
        still_paused_by: Vec<PauseSource>,
    },
    RuntimeStopRequested {
        now: bool,
    },
    /// `retry-active` had nothing to requeue. With no plane given the
    /// request is recorded as `requested_plane`; a closure run names its
    /// `plane`.
    RetryActiveSkipped {
        reason: String,
        #[serde(default, skip_serializing_if = "Option::is_none", with = "parts::present")]
        requested_plane: Option<Option<Plane>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        plane: Option<Plane>,
    },
    StaleStateCleared {
        reason: String,
    },
    MailboxUnreadable {
        error: String,
    },
    MailboxArchiveFailed {
        command: String,
        error: String,
    },
    MailboxCommandApplied {
        command: String,
        ok: bool,
    },

    // ---- intake and claims ----
    IdeaNormalizedToSpec {
        idea: String,
        spec_id: String,
    },
    IdeaIntakeFailed {
        idea: String,
        error: String,
    },
    WorkItemClaimed {
        plane: Plane,
        kind: WorkItemKind,
        id: String,
        run_id: String,
        node: String,
    },
    /// A claimed item went back: the plan could not start it on its plane.
    ClaimReturned {
        plane: Plane,
        work_item: String,
    },
    ClaimFailed {
        plane: Plane,
        error: String,
    },
    /// An item in `active/` that no run knew of went back to its queue.
    OrphanReturned {
        kind: WorkItemKind,
        id: String,
        reason: String,
    },
    OrphanReturnFailed {
        kind: WorkItemKind,
        id: String,
        error: String,
    },
    LearningRequestsStranded {
        queued: usize,
        mode: String,
    },

    // ---- gates ----
    /// A run reached a gate: it waits, spending nothing, for a decision or
    /// its timeout.
    GateOpened {
        plane: Plane,
        run_id: String,
        node: String,
        gate_id: String,
        question: String,
        timeout_at: Option<Timestamp>,
    },
    /// A gate was decided, by the operator or by its timeout (`by`).
    GateDecided {
        plane: Plane,
        run_id: String,
        node: String,
        gate_id: String,
        outcome: String,
        by: String,
        waited_seconds: i64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },

    // ---- stages ----
    StageStarted {
        plane: Plane,
        node: String,
        stage: String,
        run_id: String,
        request_id: String,
        work_item: Option<WorkItemObj>,
        attempt: u32,
        runner: String,
    },
    StageCompleted {
        plane: Plane,
        node: String,
        run_id: String,
        request_id: String,
        outcome: String,
        failure_class: Option<FailureClass>,
        duration_seconds: f64,
        total_tokens: Option<u64>,
        runner: Option<String>,
        /// A failed harness's own words (or its last stderr line).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
    /// A harness failed in a way only the operator can fix: the runtime
    /// paused, the item stayed where it was, the stage was not charged.
    HarnessPaused {
        source: PauseSource,
        plane: Plane,
        node: String,
        run_id: Option<String>,
        request_id: Option<String>,
        runner: String,
        failure_class: String,
        message: String,
        resume_at: Option<Timestamp>,
    },
    /// A transient harness failure: the same stage runs again after a
    /// backoff, uncharged.
    StageRetryScheduled {
        plane: Plane,
        node: String,
        run_id: String,
        request_id: String,
        failure_class: FailureClass,
        attempt: u32,
        retry_at: Timestamp,
        message: Option<String>,
    },
    /// A stage that never reported (crash, kill) runs again at its node.
    StageInterrupted {
        plane: Plane,
        run_id: String,
        node: String,
        request_id: String,
        reason: String,
    },
    /// A stage whose harness could not start: not charged to the item.
    StageNotStarted {
        plane: Plane,
        run_id: String,
        node: String,
        request_id: String,
        reason: String,
    },
    StageResultIgnored {
        request_id: String,
        reason: String,
    },
    RunnerUnavailable {
        runner: String,
        message: String,
    },
    /// A harness a dead runtime left running was stopped before its stage
    /// ran again.
    OrphanedHarnessKilled {
        plane: Plane,
        request_id: String,
        /// The stage's recorded process group (0 when none was recorded).
        pgid: i32,
        /// Every process stopped: the group's survivors and the processes
        /// that carried the stage's markers out of it.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pids: Vec<i32>,
    },
    SkillEvidenceFailed {
        error: String,
    },

    // ---- routing and work items ----
    RouterDecision(RoutingRecord),
    WorkItemFinished {
        plane: Plane,
        work_item: Option<WorkItemObj>,
        terminal: String,
        class: ResultClass,
    },
    /// `work_item` reads `kind id`.
    WorkItemBlocked {
        plane: Plane,
        run_id: String,
        work_item: Option<String>,
        reason: String,
    },
    /// `work_item` reads `kind id`.
    WorkItemRequeued {
        plane: Plane,
        work_item: Option<String>,
        reason: String,
    },
    /// An operator put a blocked item back in its queue (`queue retry`).
    WorkItemRetried {
        kind: WorkItemKind,
        id: String,
        reason: String,
    },
    WorkItemFuelExhausted {
        plane: Plane,
        run_id: String,
        node: String,
        stage_runs: u32,
    },
    WorkItemBudgetExhausted {
        plane: Plane,
        run_id: String,
        reason: String,
    },
    /// An item the runtime meant to move had already left `active/`.
    WorkItemMissing {
        kind: WorkItemKind,
        id: String,
        to: String,
    },
    HandoffIncidentEnqueued {
        incident_id: String,
        from: String,
    },
    LearningRequestEnqueued {
        rule_id: String,
        learning_request_id: String,
        target_stage: String,
    },
    RuntimePostStageError {
        plane: Plane,
        code: String,
        message: String,
        repair: Option<String>,
    },
    /// A durable effect could not be applied (`effect` is its journal form).
    EffectFailed {
        effect: Value,
        error: String,
    },

    // ---- closure ----
    ClosureTargetOpened {
        root_spec_id: String,
        root_idea_id: Option<String>,
    },
    ClosureSeedIdeaMissing {
        root_spec_id: String,
    },
    ClosurePassStarted {
        root_spec_id: String,
        attempt: u32,
        limit: u32,
        run_id: String,
    },
    ClosurePassed {
        root_spec_id: String,
        run_id: String,
    },
    ClosureNotPassed {
        root_spec_id: String,
        run_id: String,
        class: ResultClass,
    },
    ClosureAttemptsExhausted {
        root_spec_id: String,
        attempts: u32,
    },
    ClosureTargetsConflict {
        open: Vec<String>,
    },
    /// Family work filed under another root holds the closure pass.
    ClosureLineageDriftDetected {
        root_spec_id: String,
        work_ids: Vec<String>,
    },
    /// `queue repair-lineage --apply` relabelled the drifted documents.
    ClosureLineageRepaired {
        root_spec_id: String,
        documents: usize,
        changes: usize,
    },

    // ---- learning ----
    LearningPromotionDeferred {
        record: String,
        files: Vec<String>,
        reason: Option<String>,
    },
    LearningPromotionApplied {
        record: String,
        files: Vec<String>,
        reason: Option<String>,
    },
    LearningPromotionRejected {
        record: String,
        files: Vec<String>,
        reason: Option<String>,
    },

    // ---- usage governance ----
    UsageGovernancePaused {
        blockers: Vec<Blocker>,
    },
    UsageGovernanceResumed {
        cleared_rules: Vec<String>,
    },
    UsageGovernanceBlocked(BlockerRecord),
    UsageGovernanceDegraded {
        source: String,
        policy: String,
        detail: Option<String>,
    },
    UsageQuotaExhausted {
        plane: Plane,
        run_id: String,
        node: String,
        request_id: String,
        resets_at: Timestamp,
        reported_reset: bool,
    },
    UsageGovernanceTimezoneUnknown {
        detail: String,
    },
    UsageGovernanceStateUnreadable {
        error: String,
    },
    UsageGovernanceStateWriteFailed {
        error: String,
    },
    UsageGovernanceLedgerLineSkipped {
        line: LedgerLine,
        error: String,
    },
    UsageGovernanceLedgerReconciled {
        counted: usize,
    },
    UsageGovernanceLedgerAppendFailed {
        error: String,
    },
    UsageGovernanceLedgerUnreadable {
        error: String,
    },
}

impl Event {
    /// The event's type and data, as one log line holds them.
    pub fn parts(&self) -> (String, Value) {
        match serde_json::to_value(self) {
            Ok(Value::Object(mut map)) => {
                let kind = match map.remove("event_type") {
                    Some(Value::String(kind)) => kind,
                    _ => String::new(),
                };
                let data = map.remove("data").unwrap_or(Value::Object(Default::default()));
                (kind, data)
            }
            // Every variant is a struct or wraps one, so this cannot happen.
            _ => (String::new(), Value::Null),
        }
    }

    /// The event's type (`stage_started`, ...).
    pub fn kind(&self) -> String {
        self.parts().0
    }

    /// Reads an event back from a log line's type and data; an unknown type
    /// or a data shape this build does not know is an error.
    pub fn from_parts(event_type: &str, data: &Value) -> Result<Event, serde_json::Error> {
        let mut map = serde_json::Map::new();
        map.insert("event_type".into(), Value::String(event_type.to_string()));
        map.insert("data".into(), data.clone());
        serde_json::from_value(Value::Object(map))
    }
}
