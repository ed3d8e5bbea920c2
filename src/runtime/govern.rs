//! Usage governance inside the runtime: the governor's verdict becomes the
//! engine's [`GovernanceView`], stage results feed the ledger, and the
//! governor's events reach the event log and the monitor.
//!
//! Input: the runtime's snapshot and clock, finished stage results.
//! Output: `Input::Govern` transitions and the `World.governance` of each
//! tick. Invariants: governance is evaluated before every tick's dispatch
//! and after every stage result before it is routed, so no stage starts
//! past a limit the previous stage reached; with governance off and no
//! trace of it, nothing here does I/O.

use jiff::Timestamp;

use super::{Runtime, RuntimeError};
use crate::engine::{GovernanceView, Input};
use crate::governance::{Facts, Verdict};
use crate::model::governance::Blocker;
use crate::model::{PauseSource, Snapshot, StageResult};

impl Runtime {
    /// Governance's verdict for a tick at `now` (`None` when it is off).
    pub(super) fn governance_view(&mut self, now: Timestamp) -> Option<GovernanceView> {
        if !self.governor.should_evaluate(self.governance_paused()) {
            return None;
        }
        let facts = facts_of(&self.state, &self.session, now);
        let verdict = self.governor.evaluate(&self.ws, &facts);
        self.flush_governance_notes();
        verdict.and_then(view_of)
    }

    /// Evaluates governance and applies the verdict at once (between a
    /// stage result and its routing, or on an operator's resume).
    pub(super) fn govern(&mut self, now: Timestamp) -> Result<(), RuntimeError> {
        let paused = self.governance_paused();
        if !self.governor.should_evaluate(paused) {
            return Ok(());
        }
        let governance = self.governance_view(now);
        self.commit(Input::Govern { now, governance })?;
        self.sync_governance(now);
        Ok(())
    }

    /// Counts a finished stage's tokens and rate-limit report; `path` is
    /// its workspace-relative result path (the ledger's dedupe key).
    pub(super) fn count_usage(&mut self, result: &StageResult, path: &str, now: Timestamp) {
        self.governor
            .record(&self.ws, result, path, Some(self.session.as_str()), now);
        self.flush_governance_notes();
    }

    /// What a work item spent in earlier runs (for per-item budgets).
    pub(super) fn prior_spend(&mut self, kind: &str, id: &str, now: Timestamp) -> (u64, f64) {
        let spend = self.governor.item_spend(&self.ws, kind, id, now);
        self.flush_governance_notes();
        spend
    }

    /// Records in the state file whether the runtime is paused by
    /// governance after a transition.
    pub(super) fn sync_governance(&mut self, now: Timestamp) {
        let paused = self.governance_paused();
        self.governor.sync_paused(&self.ws, paused, now);
        self.flush_governance_notes();
    }

    pub(super) fn governance_paused(&self) -> bool {
        self.state.pause_sources.contains(&PauseSource::UsageGovernance)
    }

    fn flush_governance_notes(&mut self) {
        for event in self.governor.take_notes() {
            self.emit(event);
        }
    }
}

fn facts_of<'a>(state: &Snapshot, session: &'a str, now: Timestamp) -> Facts<'a> {
    Facts {
        now,
        session: Some(session),
        active_runs: state.active_runs.values().map(|r| r.run_id.clone()).collect(),
        paused: state.pause_sources.contains(&PauseSource::UsageGovernance),
        quota_hold: state.governance_resume_at,
    }
}

/// The engine's view of a verdict; governance that is off has none (the
/// engine then lifts its pause unless a quota hold keeps it).
fn view_of(verdict: Verdict) -> Option<GovernanceView> {
    if !verdict.enabled {
        return None;
    }
    let blockers = verdict
        .blockers
        .into_iter()
        .map(|b| Blocker {
            source: b.source,
            rule_id: b.rule_id,
            detail: b.detail,
            resume_at: b.next_auto_resume_at,
            window: b.window,
            observed: b.observed,
            threshold: b.threshold,
        })
        .collect();
    Some(GovernanceView {
        blockers,
        auto_resume: verdict.auto_resume,
        cleared_rules: verdict.cleared_rules,
    })
}
