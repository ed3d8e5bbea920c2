//! Settling what a dead process left: stages whose request was persisted
//! but which never reported, and items claimed but never recorded.
//!
//! Input: the loaded snapshot and the workspace's run directories and
//! `active/` queues. Output: transitions that route a saved result, or run
//! the stage again at the same node (recorded as interrupted), and items
//! returned to their queues. Invariant: nothing starts here (this runs
//! before the event loop), and a harness the dead process left running is
//! stopped before its stage runs again.

use jiff::Timestamp;

use super::{Runtime, RuntimeError};
use crate::engine::Input;
use crate::model::{Event, QueueState, StageResult};
use crate::plan::{Plane, WorkItemKind};
use crate::workspace::runs;

impl Runtime {
    /// Stages whose request was persisted but which never reported: route
    /// the result if it reached the disk, else run the stage again.
    ///
    /// Nothing starts here: this runs before the event loop (stages are
    /// local tasks of it), so a routed result leaves its run waiting at the
    /// next node and the first tick dispatches it.
    pub(super) fn recover_pending(&mut self) -> Result<(), RuntimeError> {
        let chain = std::mem::replace(&mut self.rules.chain_stages, false);
        let recovered = self.recover_pending_results();
        self.rules.chain_stages = chain;
        recovered
    }

    fn recover_pending_results(&mut self) -> Result<(), RuntimeError> {
        let pending: Vec<(Plane, String, String)> = self
            .state
            .active_runs
            .values()
            .filter_map(|r| {
                r.pending_request_id
                    .clone()
                    .map(|q| (r.plane, r.run_id.clone(), q))
            })
            .collect();
        for (plane, run_id, request_id) in pending {
            // A gate waits on disk across the restart: it was not
            // interrupted, and its decision (if any) is routed next turn.
            if self.waits_at_gate(plane) && self.saved_result(&run_id, &request_id).is_none() {
                continue;
            }
            // The harness, and what it started, may outlive the process that
            // ran it; none of it may go on working beside the stage's rerun.
            self.stop_survivors(plane, &run_id, &request_id);
            match self.saved_result(&run_id, &request_id) {
                Some((result, path)) => self.route_result(result, path)?,
                None => {
                    let reason = "the process that ran it stopped before it reported".to_string();
                    self.commit(Input::Interrupted {
                        now: Timestamp::now(),
                        plane,
                        reason,
                    })?;
                }
            }
        }
        Ok(())
    }

    /// Stops the survivors of a stage a dead process ran, and says so.
    fn stop_survivors(&mut self, plane: Plane, run_id: &str, request_id: &str) {
        let run_dir = self.ws.paths().run_dir(run_id);
        let pids = crate::runners::stop_survivors(&run_dir, self.ws.root(), request_id);
        if !pids.is_empty() {
            let pgid = crate::runners::recorded_group(&run_dir, request_id).unwrap_or(0);
            self.emit(Event::OrphanedHarnessKilled {
                plane,
                request_id: request_id.to_string(),
                pgid,
                pids,
            });
        }
    }

    /// A stage result already written to the run directory.
    fn saved_result(&self, run_id: &str, request_id: &str) -> Option<(StageResult, String)> {
        let (result, path) = runs::saved_stage_result(&self.ws, run_id, request_id)?;
        Some((result, self.relative(&path)))
    }

    /// Learning requests nothing in this plan will run: said once at start,
    /// so an operator reading the log learns why they wait.
    pub(super) fn warn_stranded_learning(&mut self) {
        if self.plan.loop_for(Plane::Learning).is_some() {
            return;
        }
        let queued = crate::workspace::queue::Queues::new(&self.ws)
            .depth(WorkItemKind::LearningRequest)
            .unwrap_or(0);
        if queued > 0 {
            let mode = self.plan.mode.clone();
            self.emit(Event::LearningRequestsStranded { queued, mode });
        }
    }

    /// Items in an `active/` directory that no run claims: a process stopped
    /// between moving them and recording the run. Nothing ran on them, so
    /// they go back to their queue.
    pub(super) fn return_orphans(&mut self) -> Result<(), RuntimeError> {
        let ws = self.ws.clone();
        let queues = crate::workspace::queue::Queues::new(&ws);
        for kind in [
            WorkItemKind::Task,
            WorkItemKind::Spec,
            WorkItemKind::Incident,
            WorkItemKind::LearningRequest,
        ] {
            let Ok(active) = queues.active(kind) else { continue };
            for id in active {
                let claimed = self
                    .state
                    .active_runs
                    .values()
                    .any(|r| r.work_item.as_ref().is_some_and(|w| w.kind == kind && w.id == id));
                if claimed {
                    continue;
                }
                let reason = "claimed by a process that stopped before recording the run";
                match queues.transition(kind, &id, QueueState::Active, QueueState::Queued) {
                    Ok(_) => self.emit(Event::OrphanReturned {
                        kind,
                        id,
                        reason: reason.into(),
                    }),
                    Err(e) => self.emit(Event::OrphanReturnFailed {
                        kind,
                        id,
                        error: e.to_string(),
                    }),
                }
            }
        }
        Ok(())
    }
}
