//! Ownership changes and operator commands.

use super::effect::Effect;
use super::input::Control;
use super::step::Step;
use crate::model::event::ResumedRun;
use crate::model::{Event, PauseSource, QueueState, RequestKind, RuntimeMode};
use crate::plan::Plane;

impl Step<'_> {
    /// Takes ownership. Active runs are kept and continue at their node; a
    /// stop requested before is cleared (it belonged to the last process).
    pub(super) fn boot(&mut self, session: String, mode: RuntimeMode) {
        let resumed_runs = self
            .state
            .active_runs
            .values()
            .map(|r| ResumedRun {
                plane: r.plane,
                node: r.node.clone(),
                run_id: r.run_id.clone(),
            })
            .collect();
        self.state.process_running = true;
        self.state.owner_session = Some(session.clone());
        self.state.runtime_mode = mode;
        self.state.stop_requested = false;
        self.state.started_at = Some(self.now);
        self.state.mode_id = Some(self.plan.mode.clone());
        self.state.plan_id = Some(self.plan.plan_id.clone());
        self.event(Event::RuntimeStarted {
            session,
            plan_id: self.plan.plan_id.clone(),
            mode: self.plan.mode.clone(),
            resumed_runs,
        });
    }

    /// Gives up ownership. Active runs stay, so the next start resumes them
    /// where they are (never rerouted to recovery).
    pub(super) fn shutdown(&mut self) {
        self.state.process_running = false;
        self.state.owner_session = None;
        self.state.stop_requested = false;
        self.event(Event::RuntimeStopped {
            active_runs: self.state.active_runs.len(),
        });
    }

    /// Records a configuration reload; the plan in use is the one passed to
    /// this step.
    pub(super) fn reloaded(&mut self, error: Option<String>) {
        use crate::model::ReloadOutcome;
        match error {
            None => {
                self.state.mode_id = Some(self.plan.mode.clone());
                self.state.plan_id = Some(self.plan.plan_id.clone());
                self.state.last_reload_outcome = Some(ReloadOutcome::Applied);
                self.state.last_reload_error = None;
                self.event(Event::RuntimeConfigReloaded {
                    plan_id: self.plan.plan_id.clone(),
                    mode: self.plan.mode.clone(),
                });
            }
            Some(error) => {
                self.state.last_reload_outcome = Some(ReloadOutcome::FailedRetainedPreviousPlan);
                self.state.last_reload_error = Some(error.clone());
                self.event(Event::RuntimeConfigReloadFailed {
                    error,
                    plan_id: self.plan.plan_id.clone(),
                });
            }
        }
    }

    pub(super) fn control(&mut self, command: Control) {
        match command {
            Control::Pause => {
                let applied = self.state.add_pause(PauseSource::Operator);
                self.event(Event::RuntimePaused {
                    source: PauseSource::Operator,
                    applied,
                });
            }
            Control::Resume => {
                // The operator says the harness is fixed: lift its pause too
                // (a harness still broken pauses again at its next stage).
                self.lift_harness_pause();
                let applied = self.state.remove_pause(PauseSource::Operator);
                self.event(Event::RuntimeResumed {
                    source: PauseSource::Operator,
                    applied,
                    still_paused_by: self.state.pause_sources.clone(),
                });
            }
            Control::Stop => {
                self.state.stop_requested = true;
                self.event(Event::RuntimeStopRequested { now: false });
            }
            Control::StopNow => {
                self.state.stop_requested = true;
                self.kill_pending();
                self.event(Event::RuntimeStopRequested { now: true });
            }
            Control::RetryActive { plane, reason } => self.retry_active(plane, &reason),
            Control::ClearStaleState { reason } => self.clear_stale_state(&reason),
        }
    }

    fn kill_pending(&mut self) {
        let planes: Vec<Plane> = self
            .state
            .active_runs
            .values()
            .filter(|r| r.pending_request_id.is_some() && !self.at_gate(r))
            .map(|r| r.plane)
            .collect();
        for plane in planes {
            self.effects.push(Effect::Kill { plane });
        }
    }

    fn retry_active(&mut self, plane: Option<Plane>, reason: &str) {
        let candidates: Vec<Plane> = match plane {
            Some(p) => self
                .state
                .active_runs
                .contains_key(&p)
                .then_some(p)
                .into_iter()
                .collect(),
            None => self.state.active_runs.keys().copied().collect(),
        };
        let [plane] = candidates[..] else {
            let why = if candidates.is_empty() {
                "no_active_run"
            } else {
                "several_active_planes"
            };
            self.event(Event::RetryActiveSkipped {
                reason: why.into(),
                requested_plane: Some(plane),
                plane: None,
            });
            return;
        };
        let gate = self
            .state
            .active_runs
            .get(&plane)
            .is_some_and(|r| self.at_gate(r));
        let Some(run) = self.state.active_runs.get_mut(&plane) else {
            return;
        };
        if run.request_kind == RequestKind::ClosureTarget {
            self.event(Event::RetryActiveSkipped {
                reason: "closure_run_not_retryable".into(),
                requested_plane: None,
                plane: Some(plane),
            });
            return;
        }
        // A waiting gate has no harness to kill: the item goes back now.
        if run.pending_request_id.is_some() && !gate {
            // The running harness is killed first; its result triggers the
            // requeue (see `finished`).
            run.retry_requested = Some(reason.to_string());
            self.effects.push(Effect::Kill { plane });
            return;
        }
        self.requeue(plane, reason);
    }

    /// Puts a plane's item back in its queue and drops the run.
    pub(super) fn requeue(&mut self, plane: Plane, reason: &str) {
        if let Some(run) = self.end_run(plane, QueueState::Queued, Some(reason.to_string())) {
            let work_item = run.work_item.map(|w| format!("{} {}", w.kind, w.id));
            self.event(Event::WorkItemRequeued {
                plane,
                work_item,
                reason: reason.to_string(),
            });
        }
        self.marker(plane, "IDLE");
    }

    fn clear_stale_state(&mut self, reason: &str) {
        let planes: Vec<Plane> = self.state.active_runs.keys().copied().collect();
        for plane in planes {
            let pending = self
                .state
                .active_runs
                .get(&plane)
                .is_some_and(|r| r.pending_request_id.is_some() && !self.at_gate(r));
            if pending {
                if let Some(run) = self.state.active_runs.get_mut(&plane) {
                    run.retry_requested = Some(reason.to_string());
                }
                self.effects.push(Effect::Kill { plane });
            } else if self
                .state
                .active_runs
                .get(&plane)
                .is_some_and(|r| r.work_item.is_some())
            {
                self.requeue(plane, reason);
            } else {
                self.drop_run(plane);
                self.marker(plane, "IDLE");
            }
        }
        self.state.pause_sources.clear();
        self.state.harness_pause = None;
        self.state.stop_requested = false;
        self.event(Event::StaleStateCleared {
            reason: reason.to_string(),
        });
    }
}
