//! Gates inside the runtime: a run that reaches a gate waits on disk, and
//! its decision (or timeout) comes back as the gate's stage result.
//!
//! Input: runs whose pending request sits at a gate node, the gate records
//! under `state/gates/`, decisions from the mailbox, the clock. Output:
//! gate records, `gate_opened` / `gate_decided` events, and a synthesized
//! [`StageResult`] routed like any stage's.
//!
//! Invariants: a gate runs no harness and spends no fuel or tokens (the
//! engine does not charge it); nothing polls while it waits beyond the
//! daemon's ordinary turn; the record is written before the wait is
//! announced and the decision before it is routed, so a restart or a
//! SIGKILL at any point finds the gate still waiting or its decision still
//! to route, never lost and never routed twice (the result file written by
//! [`Runtime::complete`] is what recovery routes).

use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use super::dispatch::Completion;
use super::{Runtime, RuntimeError};
use crate::model::{Event, ExitKind, NormalizationSource, StageResult};
use crate::plan::{Plane, ResultClass};
use crate::workspace::gates::{self, GateDecision, GateError, GateRecord};

impl Runtime {
    /// Whether the plane's pending request is a gate wait.
    pub(super) fn waits_at_gate(&self, plane: Plane) -> bool {
        self.state.active_runs.get(&plane).is_some_and(|r| {
            r.pending_request_id.is_some()
                && self
                    .plan
                    .node_named(plane, &r.node)
                    .is_some_and(|n| self.plan.stage_of(n).gate.is_some())
        })
    }

    /// Whether every active run waits at a gate without a timeout (nothing
    /// moves until someone decides).
    pub(super) fn only_undecidable_gates(&self) -> bool {
        !self.state.active_runs.is_empty()
            && self.state.active_runs.keys().all(|p| {
                self.waits_at_gate(*p)
                    && self
                        .plan
                        .node_named(*p, &self.state.active_runs[p].node)
                        .and_then(|n| self.plan.stage_of(n).gate.as_ref())
                        .is_some_and(|g| g.timeout.is_none())
            })
    }

    /// The first waiting gate as something the operator must act on.
    pub(super) fn gate_attention(&self) -> Option<super::Attention> {
        let waiting = super::status::waiting_gates(&self.ws, &self.state, Timestamp::now());
        waiting.first().map(super::attention::gate)
    }

    /// Opens the gate the plane's run waits at (once: a record already on
    /// disk is the same wait, seen again after a restart).
    pub(super) fn open_gate(&mut self, plane: Plane) -> Result<(), RuntimeError> {
        let Some(run) = self.state.active_runs.get(&plane).cloned() else {
            return Ok(());
        };
        let (Some(gate_id), Some(node)) = (
            run.pending_request_id.clone(),
            self.plan.node_named(plane, &run.node),
        ) else {
            return Ok(());
        };
        if matches!(gates::load(&self.ws, &gate_id), Ok(Some(_))) {
            return Ok(());
        }
        let stage = self.plan.stage_of(node);
        let Some(gate) = stage.gate.clone() else {
            return Ok(());
        };
        let opened_at = run.active_since;
        let timeout_at = gate.timeout.map(|t| {
            let seconds = i64::try_from(t.seconds).unwrap_or(i64::MAX / 2);
            opened_at.saturating_add(SignedDuration::from_secs(seconds))
        });
        let record = GateRecord {
            schema_version: gates::GATE_SCHEMA_VERSION,
            gate_id: gate_id.clone(),
            plane,
            run_id: run.run_id.clone(),
            node: run.node.clone(),
            stage: stage.name.clone(),
            work_item: run.work_item.as_ref().map(|w| format!("{} {}", w.kind, w.id)),
            question: gate.question.clone(),
            shows: gate.shows.clone(),
            outcomes: self.plan.outcomes_of(node).map(|(_, o)| o.name.clone()).collect(),
            opened_at,
            timeout_at: timeout_at.and_then(Result::ok),
            timeout_outcome: gate.timeout.map(|t| self.plan.outcomes[t.outcome].name.clone()),
            decision: None,
        };
        gates::save(&self.ws, &record).map_err(persist)?;
        self.emit(Event::GateOpened {
            plane,
            run_id: run.run_id,
            node: run.node,
            gate_id,
            question: record.question,
            timeout_at: record.timeout_at,
        });
        Ok(())
    }

    /// Routes every gate whose decision is on disk and fires the timeouts
    /// that are due. Called once per turn; a waiting gate costs one small
    /// file read.
    pub(super) fn settle_gates(&mut self) -> Result<(), RuntimeError> {
        let planes: Vec<Plane> = self
            .state
            .active_runs
            .keys()
            .copied()
            .filter(|p| self.waits_at_gate(*p))
            .collect();
        for plane in planes {
            let Some(id) = self.state.active_runs[&plane].pending_request_id.clone() else {
                continue;
            };
            let mut record = match gates::load(&self.ws, &id) {
                Ok(Some(record)) => record,
                Ok(None) => {
                    self.open_gate(plane)?;
                    continue;
                }
                Err(_) => continue,
            };
            let now = Timestamp::now();
            if record.decision.is_none() {
                let due = record.timeout_at.is_some_and(|t| now >= t);
                let Some(outcome) = record.timeout_outcome.clone().filter(|_| due) else {
                    continue;
                };
                record.decision = Some(GateDecision {
                    outcome,
                    note: None,
                    by: "timeout".into(),
                    decided_at: now,
                });
                gates::save(&self.ws, &record).map_err(persist)?;
            }
            self.route_gate(plane, &record)?;
        }
        Ok(())
    }

    /// Records an operator's decision (the mailbox's `gate_decide`) and
    /// routes it at once.
    pub(super) fn decide_gate(
        &mut self,
        id: &str,
        outcome: &str,
        note: Option<&str>,
    ) -> Result<Value, String> {
        let coded = |e: GateError| super::intake::coded(&e);
        let mut record = gates::load(&self.ws, id)
            .map_err(coded)?
            .ok_or_else(|| coded(GateError::NotFound(id.to_string())))?;
        record.check_decidable(outcome).map_err(coded)?;
        let waiting = self
            .state
            .active_runs
            .values()
            .any(|r| r.pending_request_id.as_deref() == Some(id));
        if !waiting {
            return Err(coded(GateError::NotWaiting {
                id: id.to_string(),
                why: "its run is no longer waiting there".into(),
            }));
        }
        record.decision = Some(GateDecision {
            outcome: outcome.to_string(),
            note: note.map(str::to_string).filter(|n| !n.trim().is_empty()),
            by: "operator".into(),
            decided_at: Timestamp::now(),
        });
        gates::save(&self.ws, &record).map_err(coded)?;
        self.settle_gates().map_err(|e| e.to_string())?;
        Ok(json!({ "gate": id, "decided": outcome }))
    }

    /// Turns a decided gate into its stage result and routes it.
    fn route_gate(&mut self, plane: Plane, record: &GateRecord) -> Result<(), RuntimeError> {
        let Some(decision) = record.decision.clone() else {
            return Ok(());
        };
        let Some(run) = self.state.active_runs.get(&plane).cloned() else {
            return Ok(());
        };
        let class = self
            .plan
            .node_named(plane, &run.node)
            .and_then(|n| self.plan.outcomes_of(n).find(|(_, o)| o.name == decision.outcome))
            .and_then(|(_, o)| o.classes.first().copied())
            .unwrap_or(ResultClass::Blocked);
        let mut metadata = serde_json::Map::new();
        metadata.insert("decided_by".into(), json!(decision.by));
        if let Some(note) = &decision.note {
            metadata.insert("note".into(), json!(note));
        }
        let waited = record.waited_seconds(decision.decided_at);
        self.emit(Event::GateDecided {
            plane,
            run_id: run.run_id.clone(),
            node: run.node.clone(),
            gate_id: record.gate_id.clone(),
            outcome: decision.outcome.clone(),
            by: decision.by.clone(),
            waited_seconds: waited,
            note: decision.note.clone(),
        });
        let result = StageResult {
            schema_version: crate::model::STAGE_RESULT_SCHEMA_VERSION,
            kind: "stage_result".into(),
            request_id: record.gate_id.clone(),
            run_id: run.run_id.clone(),
            plane,
            node: run.node.clone(),
            stage: run.stage.clone(),
            work_item_kind: run.work_item.as_ref().map(|w| w.kind),
            work_item_id: run.work_item.as_ref().map(|w| w.id.clone()),
            terminal_result: decision.outcome.clone(),
            result_class: class,
            success: class == ResultClass::Success,
            exit: ExitKind::Completed,
            exit_code: None,
            failure_class: None,
            detected_marker: None,
            normalization_source: NormalizationSource::StructuredResult,
            metadata,
            artifacts: Vec::new(),
            report_artifact: None,
            notes: vec![format!("gate decided by {}", decision.by)],
            token_usage: None,
            cost_usd: None,
            rate_limit: None,
            rate_limits: Vec::new(),
            quota_reset_at: None,
            harness_message: None,
            stderr_tail: Vec::new(),
            runner: "gate".into(),
            model: None,
            effort: None,
            stdout_path: None,
            stderr_path: None,
            events_path: None,
            started_at: record.opened_at,
            completed_at: decision.decided_at,
            duration_seconds: waited as f64,
        };
        self.complete(Completion { plane, result })
    }
}

fn persist(e: GateError) -> RuntimeError {
    RuntimeError::Persist {
        detail: e.to_string(),
    }
}
