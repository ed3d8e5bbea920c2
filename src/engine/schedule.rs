//! The scheduler's turn: which stages start, which planes claim work, and
//! when the closure pass runs.

use super::effect::{ClosureOutcome, Effect};
use super::input::{ClaimedItem, GovernanceView, World};
use super::step::Step;
use crate::model::{ActiveRun, Event, Lineage, PauseSource, QueueState, RequestKind, WorkItemRef};
use crate::plan::{NodeId, Plane, WorkItemKind};

impl Step<'_> {
    pub(super) fn tick(&mut self, world: &World) {
        for (plane, depth) in &world.depths {
            self.state.queue_depths.insert(*plane, *depth);
        }
        self.govern(world.governance.as_ref());
        self.harness_pause_expired();
        self.maybe_land();
        if self.state.stop_requested {
            // A waiting gate runs nothing: it waits on disk across the
            // restart, so it never holds a stop.
            if self
                .state
                .active_runs
                .values()
                .all(|r| r.pending_request_id.is_none() || self.at_gate(r))
            {
                self.effects.push(Effect::Exit);
            }
            return;
        }
        if self.held() {
            return;
        }
        // `run once` starts one stage per invocation: the first thing
        // started ends the turn, and learning runs only when nothing of the
        // foreground could.
        let solo = !self.rules.chain_stages;
        let mark = self.effects.len();
        for plane in Plane::FOREGROUND_ORDER {
            let waiting =
                self.state.active_runs.get(&plane).is_some_and(|r| {
                    r.pending_request_id.is_none() && r.retry_at.is_none_or(|t| self.now >= t)
                });
            if waiting && self.may_start(plane) {
                self.dispatch(plane);
                if solo && self.started_since(mark) {
                    return;
                }
            }
        }
        let foreground_busy = self
            .state
            .active_runs
            .keys()
            .any(|p| matches!(p, Plane::Planning | Plane::Execution));
        if !foreground_busy {
            self.claim_foreground(world);
        }
        if solo && (foreground_busy || self.started_since(mark)) {
            return;
        }
        let learning_free = !self.state.active_runs.contains_key(&Plane::Learning);
        if learning_free
            && self.plan.loop_for(Plane::Learning).is_some()
            && world.claimable.contains(&Plane::Learning)
            && self.may_start(Plane::Learning)
        {
            self.effects.push(Effect::Claim {
                plane: Plane::Learning,
                root: None,
            });
        }
    }

    /// Whether a stage or claim was asked for since `mark` (an index into
    /// the effects).
    fn started_since(&self, mark: usize) -> bool {
        self.effects[mark..]
            .iter()
            .any(|e| matches!(e, Effect::Dispatch { .. } | Effect::Claim { .. }))
    }

    /// Applies usage governance's verdict to the `usage_governance` pause
    /// source (an operator pause is never touched). A quota pause lifts at
    /// its reset time; a rule pause when its blockers clear and auto-resume
    /// is on.
    pub(super) fn govern(&mut self, view: Option<&GovernanceView>) {
        let source = PauseSource::UsageGovernance;
        match view {
            Some(view) if !view.blockers.is_empty() => {
                if self.state.add_pause(source) {
                    self.event(Event::UsageGovernancePaused {
                        blockers: view.blockers.clone(),
                    });
                }
            }
            _ => {
                let quota_holds = self.state.governance_resume_at.is_some_and(|t| self.now < t);
                let auto = view.is_none_or(|v| v.auto_resume);
                if !quota_holds && auto && self.state.remove_pause(source) {
                    self.state.governance_resume_at = None;
                    let cleared_rules = view.map(|v| v.cleared_rules.clone()).unwrap_or_default();
                    self.event(Event::UsageGovernanceResumed { cleared_rules });
                }
            }
        }
    }

    /// Claims foreground work. While a closure target is open only its
    /// lineage is claimed, execution first (finish what is planned); otherwise
    /// planning goes first (plan before building). With nothing to claim,
    /// the closure pass may run.
    fn claim_foreground(&mut self, world: &World) {
        let root = world.target.as_ref().map(|t| t.root_spec_id.clone());
        let order = if root.is_some() {
            [Plane::Execution, Plane::Planning]
        } else {
            [Plane::Planning, Plane::Execution]
        };
        for plane in order {
            if self.plan.loop_for(plane).is_some()
                && world.claimable.contains(&plane)
                && self.may_start(plane)
            {
                self.effects.push(Effect::Claim { plane, root });
                return;
            }
        }
        self.maybe_run_closure(world);
    }

    fn maybe_run_closure(&mut self, world: &World) {
        let (Some(target), Some((_, closure))) = (&world.target, self.plan.closure()) else {
            return;
        };
        if target.lineage_busy || !self.may_start(Plane::Planning) {
            return;
        }
        // A closure without a counter cannot pass the checker; treat it as
        // one attempt rather than trusting an edited plan.
        let limit = closure.counter.map(|c| self.plan.counters[c].limit).unwrap_or(1);
        let root = target.root_spec_id.clone();
        if target.attempts >= limit {
            self.effects.push(Effect::CloseTarget {
                root_spec_id: root.clone(),
                outcome: ClosureOutcome::AttemptsExhausted,
                run_id: None,
                now: self.now,
            });
            self.event(Event::ClosureAttemptsExhausted {
                root_spec_id: root,
                attempts: target.attempts,
            });
            return;
        }
        let lineage = Lineage {
            root_spec_id: Some(root.clone()),
            root_idea_id: target.root_idea_id.clone(),
            ..Lineage::default()
        };
        let mut run = self.new_run(
            world.next_run_id.clone(),
            Plane::Planning,
            closure.node,
            RequestKind::ClosureTarget,
            None,
            lineage,
        );
        run.closure_root_spec_id = Some(root.clone());
        run.closure_root_idea_id = target.root_idea_id.clone();
        // Each pass is a new run; its stage's `attempt` counts earlier passes
        // over the same target.
        if target.attempts > 0 {
            run.node_runs.insert(run.node.clone(), target.attempts);
        }
        self.state.active_runs.insert(Plane::Planning, run);
        let attempts = target.attempts + 1;
        self.effects.push(Effect::StartClosurePass {
            root_spec_id: root.clone(),
            attempts,
            run_id: world.next_run_id.clone(),
        });
        self.event(Event::ClosurePassStarted {
            root_spec_id: root,
            attempt: attempts,
            limit,
            run_id: world.next_run_id.clone(),
        });
        self.dispatch(Plane::Planning);
    }

    /// Starts a run for a claimed item at its entry node (or a learning
    /// request's target stage).
    pub(super) fn claimed(&mut self, plane: Plane, item: ClaimedItem) {
        let node = self.entry_node(plane, &item);
        let Some(node) = node.filter(|_| !self.state.active_runs.contains_key(&plane)) else {
            let reason = format!(
                "plan {} cannot start a {} on the {plane} plane now",
                self.plan.plan_id, item.kind
            );
            self.effects.push(Effect::MoveItem {
                kind: item.kind,
                id: item.id.clone(),
                to: QueueState::Queued,
                reason: Some(reason),
            });
            self.event(Event::ClaimReturned {
                plane,
                work_item: item.id,
            });
            return;
        };
        let kind = if item.kind == WorkItemKind::LearningRequest {
            RequestKind::LearningRequest
        } else {
            RequestKind::ActiveWorkItem
        };
        let work = WorkItemRef {
            kind: item.kind,
            id: item.id.clone(),
        };
        let mut run = self.new_run(
            item.run_id.clone(),
            plane,
            node,
            kind,
            Some(work),
            item.lineage.clone(),
        );
        run.prior_tokens = item.prior_tokens;
        run.prior_cost_usd = item.prior_cost_usd;
        self.state.active_runs.insert(plane, run);
        if item.opens_target {
            let root = item
                .lineage
                .root_spec_id
                .clone()
                .unwrap_or_else(|| item.id.clone());
            self.effects.push(Effect::OpenTarget {
                root_spec_id: root,
                root_idea_id: item.lineage.root_idea_id.clone(),
                now: self.now,
            });
        }
        self.event(Event::WorkItemClaimed {
            plane,
            kind: item.kind,
            id: item.id,
            run_id: item.run_id,
            node: self.plan.nodes[node].name.clone(),
        });
        if !self.held() && self.may_start(plane) {
            self.dispatch(plane);
        }
    }

    fn entry_node(&self, plane: Plane, item: &ClaimedItem) -> Option<NodeId> {
        let by_stage = item
            .target_stage
            .as_deref()
            .and_then(|s| self.plan.node_for_stage(plane, s));
        by_stage
            .or_else(|| self.plan.entry(item.kind))
            .filter(|n| self.plan.nodes[*n].plane == plane)
    }

    pub(super) fn new_run(
        &self,
        run_id: String,
        plane: Plane,
        node: NodeId,
        request_kind: RequestKind,
        work_item: Option<WorkItemRef>,
        lineage: Lineage,
    ) -> ActiveRun {
        ActiveRun {
            run_id,
            plane,
            node: self.plan.nodes[node].name.clone(),
            stage: self.plan.stage_of(node).name.clone(),
            request_kind,
            work_item,
            closure_root_spec_id: None,
            closure_root_idea_id: None,
            counters: Default::default(),
            stage_runs: 0,
            failure_class: None,
            pending_request_id: None,
            interruptions: 0,
            lineage,
            node_runs: Default::default(),
            transient_failures: 0,
            retry_at: None,
            retry_requested: None,
            runtime_error: None,
            runtime_errors: 0,
            last_stage_result: None,
            tokens_used: 0,
            cost_usd: 0.0,
            prior_tokens: 0,
            prior_cost_usd: 0.0,
            gate_waits: 0,
            operator_note: None,
            active_since: self.now,
            started_at: self.now,
        }
    }
}
