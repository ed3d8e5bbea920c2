//! The pure transition: `(plan, rules, state, input) -> (state, effects)`.
//! Shared helpers live here; each kind of input has its own file.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::effect::Effect;
use super::input::Input;
use crate::model::{ActiveRun, Event, QueueState, Snapshot};
use crate::plan::{NodeId, Plan, Plane};

/// Runtime settings the engine enforces (from `millrace.toml`).
#[derive(Clone, Debug, PartialEq)]
pub struct Rules {
    /// The fuel budget: stage runs one work item may use.
    pub max_stage_runs_per_item: u32,
    /// Start a run's next stage as soon as the previous one is routed (the
    /// daemon); `run once` sets this off so exactly one stage runs.
    pub chain_stages: bool,
    /// Spending caps the runtime enforces itself.
    pub budgets: Budgets,
    /// How transient harness failures are retried.
    pub retries: Retries,
}

/// Transient harness failures (`[runners]`): retried on the same stage
/// after a doubling backoff; when the retries are spent the runtime pauses
/// (source `harness_failed`) and tries again later by itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retries {
    pub limit: u32,
    pub backoff_seconds: u64,
}

impl Retries {
    /// The wait before the `n`th retry (1-based): the backoff doubled each
    /// time, at most an hour.
    pub fn wait(&self, n: u32) -> jiff::SignedDuration {
        let doubled = self
            .backoff_seconds
            .saturating_mul(1u64 << n.saturating_sub(1).min(20));
        let seconds = doubled.min(3600);
        jiff::SignedDuration::from_secs(i64::try_from(seconds).unwrap_or(3600))
    }
}

impl Default for Retries {
    fn default() -> Self {
        Self {
            limit: 3,
            backoff_seconds: 30,
        }
    }
}

/// Token and cost caps (`[usage_governance.budgets]`). A run is one work
/// item's journey through one plane; an item's spend adds up across runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Budgets {
    pub per_item_tokens: Option<u64>,
    pub per_item_cost_usd: Option<f64>,
    pub per_run_tokens: Option<u64>,
    pub per_run_cost_usd: Option<f64>,
}

impl Budgets {
    /// The first cap a run's spend breaks, described.
    pub fn exceeded(&self, run: &crate::model::ActiveRun) -> Option<String> {
        let item_tokens = run.prior_tokens + run.tokens_used;
        let item_cost = run.prior_cost_usd + run.cost_usd;
        let checks = [
            (
                self.per_run_tokens.is_some_and(|c| run.tokens_used >= c),
                "per-run tokens",
                run.tokens_used as f64,
                self.per_run_tokens.map(|c| c as f64),
            ),
            (
                self.per_run_cost_usd.is_some_and(|c| run.cost_usd >= c),
                "per-run cost (USD)",
                run.cost_usd,
                self.per_run_cost_usd,
            ),
            (
                self.per_item_tokens.is_some_and(|c| item_tokens >= c),
                "per-item tokens",
                item_tokens as f64,
                self.per_item_tokens.map(|c| c as f64),
            ),
            (
                self.per_item_cost_usd.is_some_and(|c| item_cost >= c),
                "per-item cost (USD)",
                item_cost,
                self.per_item_cost_usd,
            ),
        ];
        checks.iter().find(|(hit, ..)| *hit).map(|(_, what, used, cap)| {
            format!(
                "budget exhausted: {what} {used} reached the cap {}",
                cap.unwrap_or(0.0)
            )
        })
    }

    /// What is left for the next stage (the lowest remaining cap).
    pub fn remaining(&self, run: &crate::model::ActiveRun) -> (Option<u64>, Option<f64>) {
        let tokens = [
            self.per_run_tokens.map(|c| c.saturating_sub(run.tokens_used)),
            self.per_item_tokens
                .map(|c| c.saturating_sub(run.prior_tokens + run.tokens_used)),
        ];
        let cost = [
            self.per_run_cost_usd.map(|c| (c - run.cost_usd).max(0.0)),
            self.per_item_cost_usd
                .map(|c| (c - run.prior_cost_usd - run.cost_usd).max(0.0)),
        ];
        (
            tokens.into_iter().flatten().min(),
            cost.into_iter().flatten().reduce(f64::min),
        )
    }
}

impl Default for Rules {
    fn default() -> Self {
        Self {
            max_stage_runs_per_item: 40,
            chain_stages: true,
            budgets: Budgets::default(),
            retries: Retries::default(),
        }
    }
}

/// Applies one input to a copy of the state.
pub fn step(plan: &Plan, rules: &Rules, state: &Snapshot, input: Input) -> (Snapshot, Vec<Effect>) {
    let mut s = Step {
        plan,
        rules,
        state: state.clone(),
        effects: Vec::new(),
        now: Timestamp::UNIX_EPOCH,
    };
    match input {
        Input::Boot { now, session, mode } => s.at(now).boot(session, mode),
        Input::Shutdown { now } => s.at(now).shutdown(),
        Input::Reloaded { now, error } => s.at(now).reloaded(error),
        Input::Control { now, command } => s.at(now).control(command),
        Input::Tick { now, world } => s.at(now).tick(&world),
        Input::Govern { now, governance } => s.at(now).govern(governance.as_ref()),
        Input::Claimed { now, plane, item } => s.at(now).claimed(plane, item),
        Input::Finished {
            now,
            result,
            result_path,
        } => s.at(now).finished(&result, &result_path),
        Input::ApplyFailed {
            now,
            result,
            result_path,
            error,
        } => s.at(now).apply_failed(&result, &result_path, &error),
        Input::Interrupted { now, plane, reason } => s.at(now).interrupted(plane, &reason),
        Input::HarnessMissing {
            now,
            plane,
            runner,
            program,
            message,
        } => s.at(now).harness_missing(plane, &runner, program, &message),
    }
    s.state.updated_at = s.now;
    s.state.tick += 1;
    (s.state, s.effects)
}

/// One transition under construction.
pub(super) struct Step<'a> {
    pub plan: &'a Plan,
    pub rules: &'a Rules,
    pub state: Snapshot,
    pub effects: Vec<Effect>,
    pub now: Timestamp,
}

impl Step<'_> {
    fn at(&mut self, now: Timestamp) -> &mut Self {
        self.now = now;
        self
    }

    pub(super) fn event(&mut self, event: Event) {
        self.effects.push(Effect::Event { event });
    }

    /// Writes a plane's status marker (state and file).
    pub(super) fn marker(&mut self, plane: Plane, token: &str) {
        if self.state.status_markers.get(&plane).map(String::as_str) != Some(token) {
            self.state.status_markers.insert(plane, token.to_string());
            self.effects.push(Effect::WriteMarker {
                plane,
                token: token.to_string(),
            });
        }
    }

    /// The plan node an active run sits at, if the plan still has it.
    pub(super) fn node_of(&self, run: &ActiveRun) -> Option<NodeId> {
        self.plan.node_named(run.plane, &run.node)
    }

    /// Whether a stage may start on `plane` given the stages pending on the
    /// other planes and the plan's concurrency policy.
    pub(super) fn may_start(&self, plane: Plane) -> bool {
        let busy = self
            .state
            .active_runs
            .values()
            .filter(|r| r.plane != plane && r.pending_request_id.is_some());
        let serial = self.plan.concurrency.is_serial();
        busy.map(|r| r.plane)
            .all(|other| !serial && self.plan.concurrency.may_overlap(plane, other))
    }

    /// Whether a run sits at a gate (its pending request is a decision, not
    /// a harness).
    pub(super) fn at_gate(&self, run: &ActiveRun) -> bool {
        self.node_of(run)
            .is_some_and(|n| self.plan.stage_of(n).gate.is_some())
    }

    /// Whether dispatch is held: paused, or a stop is requested.
    pub(super) fn held(&self) -> bool {
        self.state.paused() || self.state.stop_requested
    }

    /// Marks the plane's next stage pending and asks the driver to start it,
    /// unless the item's fuel is spent (then the item is blocked).
    pub(super) fn dispatch(&mut self, plane: Plane) {
        let max = self.rules.max_stage_runs_per_item;
        let Some(run) = self.state.active_runs.get_mut(&plane) else {
            return;
        };
        if run.pending_request_id.is_some() {
            return;
        }
        let gate = self
            .plan
            .node_named(plane, &run.node)
            .is_some_and(|n| self.plan.stage_of(n).gate.is_some());
        if gate {
            // A gate runs no harness: it spends no fuel and no tokens, and
            // its request id has its own count.
            run.gate_waits += 1;
            *run.node_runs.entry(run.node.clone()).or_insert(0) += 1;
            let base = run.run_id.replacen("run-", "req-", 1);
            run.pending_request_id = Some(format!("{base}-gate{:03}", run.gate_waits));
            run.active_since = self.now;
            let running = self
                .plan
                .node_named(plane, &run.node)
                .map(|n| self.plan.stage_of(n).running.clone());
            if let Some(running) = running {
                self.marker(plane, &running);
            }
            self.effects.push(Effect::Dispatch { plane });
            return;
        }
        if run.stage_runs >= max {
            let used = run.stage_runs;
            let event = Event::WorkItemFuelExhausted {
                plane,
                run_id: run.run_id.clone(),
                node: run.node.clone(),
                stage_runs: used,
            };
            let detail =
                format!("fuel exhausted: {used} stage runs (runtime.max_stage_runs_per_item = {max})");
            self.event(event);
            self.block_run(plane, "FUEL_EXHAUSTED", &detail);
            return;
        }
        run.stage_runs += 1;
        *run.node_runs.entry(run.node.clone()).or_insert(0) += 1;
        let request_id = format!("{}-{:03}", run.run_id.replacen("run-", "req-", 1), run.stage_runs);
        run.pending_request_id = Some(request_id);
        run.active_since = self.now;
        let running = self
            .state
            .active_runs
            .get(&plane)
            .and_then(|r| self.node_of(r))
            .map(|n| self.plan.stage_of(n).running.clone());
        if let Some(running) = running {
            self.marker(plane, &running);
        }
        self.effects.push(Effect::Dispatch { plane });
    }

    /// Removes a plane's run; the plane goes idle when nothing else runs.
    pub(super) fn drop_run(&mut self, plane: Plane) -> Option<ActiveRun> {
        self.state.active_runs.remove(&plane)
    }

    /// Moves the run's work item (if any) and drops the run.
    pub(super) fn end_run(
        &mut self,
        plane: Plane,
        to: QueueState,
        reason: Option<String>,
    ) -> Option<ActiveRun> {
        let run = self.drop_run(plane)?;
        if let Some(item) = &run.work_item {
            self.effects.push(Effect::MoveItem {
                kind: item.kind,
                id: item.id.clone(),
                to,
                reason,
            });
        }
        Some(run)
    }

    /// Blocks the run's item with a reason the operator will see; the plane
    /// shows `### <token>`.
    pub(super) fn block_run(&mut self, plane: Plane, token: &str, reason: &str) {
        if let Some(run) = self.end_run(plane, QueueState::Blocked, Some(reason.to_string())) {
            let work_item = run.work_item.as_ref().map(|w| format!("{} {}", w.kind, w.id));
            self.event(Event::WorkItemBlocked {
                plane,
                run_id: run.run_id,
                work_item,
                reason: reason.to_string(),
            });
        }
        self.marker(plane, token);
    }
}
