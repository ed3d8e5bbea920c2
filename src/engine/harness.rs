//! A harness failure is not an agent outcome: the policy for stages whose
//! harness could not do its work.
//!
//! Input: a finished stage whose failure is the harness's fault (bad key,
//! stall, missing program, a provider hiccup), or a stage that could not
//! start. Output: the run stays at its node with the stage uncharged, and
//! either a retry after a backoff (transient, a few times) or a pause whose
//! record names the runner, the class and the harness's own words.
//! Invariant: nothing here routes, blocks or moves a work item.

use super::step::Step;
use crate::model::{Event, HarnessPause, PauseSource, StageResult};
use crate::plan::Plane;

impl Step<'_> {
    /// Takes back the dispatch of the stage just ended: its fuel, its node
    /// run, its pending request. Returns the request id it had.
    fn uncharge(&mut self, plane: Plane) -> Option<String> {
        let run = self.state.active_runs.get_mut(&plane)?;
        run.stage_runs = run.stage_runs.saturating_sub(1);
        if let Some(n) = run.node_runs.get_mut(&run.node) {
            *n = n.saturating_sub(1);
        }
        run.pending_request_id.take()
    }

    /// The harness cannot work until the operator fixes it: pause.
    pub(super) fn harness_failed(&mut self, plane: Plane, result: &StageResult) {
        self.uncharge(plane);
        if let Some(run) = self.state.active_runs.get_mut(&plane) {
            run.transient_failures = 0;
            run.retry_at = None;
        }
        let class = result.failure_class.map_or("harness_unavailable", |c| c.as_str());
        let message = result
            .failure_words()
            .map_or_else(|| result.notes.join("; "), str::to_owned);
        self.pause_for_harness(plane, &result.runner, class, &message, None, None);
    }

    /// A transient failure: retry the stage after a backoff, or, with the
    /// retries spent, pause and try again later.
    pub(super) fn transient(&mut self, plane: Plane, result: &StageResult) {
        self.uncharge(plane);
        let retries = self.rules.retries;
        let now = self.now;
        let Some(run) = self.state.active_runs.get_mut(&plane) else {
            return;
        };
        run.transient_failures += 1;
        let attempt = run.transient_failures;
        let message = result.failure_words().map(str::to_owned);
        if attempt <= retries.limit {
            let retry_at = now + retries.wait(attempt);
            run.retry_at = Some(retry_at);
            let event = Event::StageRetryScheduled {
                plane,
                node: run.node.clone(),
                run_id: run.run_id.clone(),
                request_id: result.request_id.clone(),
                failure_class: result
                    .failure_class
                    .unwrap_or(crate::model::FailureClass::ProviderTransient),
                attempt,
                retry_at,
                message,
            };
            self.event(event);
            // No stage runs while the retry waits.
            self.marker(plane, "RETRY_SCHEDULED");
            return;
        }
        // Retries spent: hold everything (the provider is down for every
        // stage, not just this one) and look again after a longer wait.
        run.retry_at = None;
        let resume_at = now + retries.wait(attempt);
        let words = message.unwrap_or_else(|| "provider failure".into());
        let message = format!("{words} (failed {attempt} times in a row)");
        self.pause_for_harness(
            plane,
            &result.runner,
            "provider_transient",
            &message,
            None,
            Some(resume_at),
        );
    }

    /// The runner's program is missing: the stage never started.
    pub(super) fn harness_missing(
        &mut self,
        plane: Plane,
        runner: &str,
        program: Option<String>,
        message: &str,
    ) {
        if let Some(run) = self.state.active_runs.get(&plane) {
            let event = Event::StageNotStarted {
                plane,
                run_id: run.run_id.clone(),
                node: run.node.clone(),
                request_id: run.pending_request_id.clone().unwrap_or_default(),
                reason: message.to_string(),
            };
            self.event(event);
        }
        self.uncharge(plane);
        self.pause_for_harness(plane, runner, "runner_not_installed", message, program, None);
    }

    fn pause_for_harness(
        &mut self,
        plane: Plane,
        runner: &str,
        class: &str,
        message: &str,
        program: Option<String>,
        resume_at: Option<jiff::Timestamp>,
    ) {
        let source = if program.is_some() || class == "runner_not_installed" {
            PauseSource::HarnessMissing
        } else {
            PauseSource::HarnessFailed
        };
        // No stage of the plane runs now: the marker must not say one does.
        self.marker(plane, "PAUSED");
        let run = self.state.active_runs.get(&plane);
        let pause = HarnessPause {
            source,
            runner: runner.to_string(),
            failure_class: class.to_string(),
            message: message.to_string(),
            plane,
            node: run.map(|r| r.node.clone()).unwrap_or_default(),
            stage: run.map(|r| r.stage.clone()).unwrap_or_default(),
            run_id: run.map(|r| r.run_id.clone()),
            program,
            since: self.now,
            resume_at,
        };
        self.event(Event::HarnessPaused {
            source,
            plane,
            node: pause.node.clone(),
            run_id: pause.run_id.clone(),
            request_id: None,
            runner: pause.runner.clone(),
            failure_class: pause.failure_class.clone(),
            message: pause.message.clone(),
            resume_at,
        });
        self.state.add_pause(source);
        self.state.harness_pause = Some(pause);
    }

    /// Lifts a harness pause whose time has come (a provider that kept
    /// failing is tried again).
    pub(super) fn harness_pause_expired(&mut self) {
        let due = self
            .state
            .harness_pause
            .as_ref()
            .and_then(|p| p.resume_at)
            .is_some_and(|t| self.now >= t);
        if due {
            self.lift_harness_pause();
        }
    }

    /// Removes the harness pause, if any; returns the source it held.
    pub(super) fn lift_harness_pause(&mut self) -> Option<PauseSource> {
        let pause = self.state.harness_pause.take()?;
        let applied = self.state.remove_pause(pause.source);
        self.event(Event::RuntimeResumed {
            source: pause.source,
            applied,
            still_paused_by: self.state.pause_sources.clone(),
        });
        Some(pause.source)
    }
}
