//! A stage reported: route its outcome through the plan and apply the
//! decision (next node, or the terminal's effect on the work item or the
//! closure target). Also interruptions and runtime-owned errors.

use super::documents::{Handoff, handoff_incident, learning_request, runtime_error_report};
use super::effect::{ClosureOutcome, Effect};
use super::input::ApplyError;
use super::route::{Routed, Target, route};
use super::step::Step;
use crate::model::event::{RouteTarget, RoutingRecord, WorkItemObj};
use crate::model::{
    ActiveRun, Event, FailureClass, Fault, PauseSource, QueueState, RequestKind, RuntimeErrorRef, StageResult,
};
use crate::plan::{Plane, ResultClass, TerminalId};

impl Step<'_> {
    /// A stage an earlier process started never reported: run it again.
    pub(super) fn interrupted(&mut self, plane: Plane, reason: &str) {
        let Some(run) = self.state.active_runs.get_mut(&plane) else {
            return;
        };
        if let Some(request) = run.pending_request_id.take() {
            run.interruptions += 1;
            let event = Event::StageInterrupted {
                plane,
                run_id: run.run_id.clone(),
                node: run.node.clone(),
                request_id: request,
                reason: reason.to_string(),
            };
            self.event(event);
        }
    }

    pub(super) fn finished(&mut self, result: &StageResult, result_path: &str) {
        let plane = result.plane;
        let Some(run) = self.state.active_runs.get_mut(&plane) else {
            self.event(Event::StageResultIgnored {
                request_id: result.request_id.clone(),
                reason: "no active run".into(),
            });
            return;
        };
        if run.run_id != result.run_id
            || run.pending_request_id.as_deref() != Some(result.request_id.as_str())
        {
            self.event(Event::StageResultIgnored {
                request_id: result.request_id.clone(),
                reason: "not the pending stage of its run".into(),
            });
            return;
        }
        run.pending_request_id = None;
        run.last_stage_result = Some(result_path.to_string());
        // Between two stages of a chained foreground run is the moment
        // staged skill changes can land.
        self.maybe_land();
        let Some(run) = self.state.active_runs.get_mut(&plane) else {
            return;
        };
        if let Some(reason) = run.retry_requested.take() {
            self.requeue(plane, &reason);
            return;
        }
        match result.fault() {
            Fault::Agent => {}
            Fault::Interrupted | Fault::Quota => return self.same_stage_again(plane, result),
            Fault::Harness => return self.harness_failed(plane, result),
            Fault::Transient => return self.transient(plane, result),
        }
        run.transient_failures = 0;
        run.retry_at = None;
        run.runtime_error = None;
        run.failure_class = result.failure_class.map(|f| f.as_str().to_string());
        run.tokens_used += result.token_usage.map(|t| t.total_tokens).unwrap_or(0);
        run.cost_usd += result.cost_usd.unwrap_or(0.0);
        let run = run.clone();
        self.state.last_terminal_result = Some(result.terminal_result.clone());
        self.state.last_stage_result_path = Some(result_path.to_string());
        let Some(node) = self.node_of(&run) else {
            let reason = format!(
                "plan {} has no node `{}` on the {plane} plane",
                self.plan.plan_id, run.node
            );
            self.block_run(plane, "BLOCKED", &reason);
            return;
        };
        let routed = match route(
            self.plan,
            node,
            &result.terminal_result,
            &result.metadata,
            &run.counters,
        ) {
            Ok(routed) => routed,
            Err(e) => {
                // The code leads the reason so status and the blocked log
                // name it (`mill::engine::missing_route`, ...).
                let code = miette::Diagnostic::code(&e)
                    .map(|c| c.to_string())
                    .unwrap_or_default();
                let reason = format!("{code}: {e}");
                self.block_run(plane, "BLOCKED", &reason);
                return;
            }
        };
        self.marker(plane, &result.terminal_result);
        // A gate's note reaches the stage that runs next, and only it.
        let note = self.plan.stage_of(node).gate.as_ref().map(|_| {
            let note = result.metadata.get("note").and_then(|v| v.as_str());
            let head = format!("gate `{}` decided {}", run.node, result.terminal_result);
            match note {
                Some(n) if !n.trim().is_empty() => format!("{head}: {}", n.trim()),
                _ => head,
            }
        });
        if let Some(r) = self.state.active_runs.get_mut(&plane) {
            r.operator_note = note;
        }
        self.fire_triggers(&run, result, result_path);
        self.note_promotion(&run, result);
        let reason = reason_for(&run, result, &routed);
        // Spending caps end the item with their own reason: sending it to
        // recovery would only spend more.
        let over = (result.failure_class == Some(FailureClass::BudgetExhausted))
            .then(|| "budget exhausted: the harness stopped at its budget".to_string())
            .or_else(|| {
                matches!(routed.target, Target::Node(_))
                    .then(|| self.rules.budgets.exceeded(&run))
                    .flatten()
            });
        self.record(
            &run,
            result,
            &routed,
            over.as_deref().unwrap_or(&reason),
            over.is_some(),
        );
        if let Some(reason) = over {
            self.event(Event::WorkItemBudgetExhausted {
                plane,
                run_id: run.run_id.clone(),
                reason: reason.clone(),
            });
            self.block_run(plane, "BUDGET_EXHAUSTED", &reason);
            return;
        }
        match routed.target {
            Target::Node(next) => {
                let stage = self.plan.stage_of(next).name.clone();
                if let Some(r) = self.state.active_runs.get_mut(&plane) {
                    r.node = self.plan.nodes[next].name.clone();
                    r.stage = stage;
                    r.counters = routed.counters;
                    r.active_since = self.now;
                }
                if self.rules.chain_stages && !self.held() && self.may_start(plane) {
                    self.dispatch(plane);
                }
            }
            Target::Finish(t) => self.finish_run(&run, t, result, result_path, &reason),
        }
    }

    /// A killed or quota-stopped stage: the node stays; quota also pauses.
    fn same_stage_again(&mut self, plane: Plane, result: &StageResult) {
        let (run_id, node) = match self.state.active_runs.get_mut(&plane) {
            Some(run) => {
                run.interruptions += 1;
                (run.run_id.clone(), run.node.clone())
            }
            None => (result.run_id.clone(), result.node.clone()),
        };
        if result.failure_class == Some(FailureClass::QuotaExhausted) {
            // Without a reset time from the harness, back off rather than
            // retry an exhausted quota in a loop.
            // A reset already past (a stale header, a skewed clock) would
            // retry at once, hit the limit again and loop: back off then too.
            let backoff = self.now + jiff::SignedDuration::from_mins(QUOTA_BACKOFF_MINUTES);
            let reported = result.quota_reset_at.filter(|t| *t > self.now);
            let resume = reported.unwrap_or(backoff);
            self.state.add_pause(PauseSource::UsageGovernance);
            self.state.governance_resume_at = Some(resume);
            // `resets_at` is when the pause lifts; `reported_reset` whether
            // the harness said so or the backoff chose it.
            self.event(Event::UsageQuotaExhausted {
                plane,
                run_id,
                node,
                request_id: result.request_id.clone(),
                resets_at: resume,
                reported_reset: reported.is_some(),
            });
        } else {
            self.event(Event::StageInterrupted {
                plane,
                run_id,
                node,
                request_id: result.request_id.clone(),
                reason: "killed".into(),
            });
        }
    }

    fn fire_triggers(&mut self, run: &ActiveRun, result: &StageResult, result_path: &str) {
        let Some(learning) = self.plan.loop_for(Plane::Learning) else {
            return;
        };
        let _ = learning;
        let node = self.node_of(run);
        let Some(outcome) = node.and_then(|n| {
            self.plan
                .outcome_named(self.plan.nodes[n].stage, &result.terminal_result)
        }) else {
            return;
        };
        for t in &self.plan.triggers {
            let source = &self.plan.stages[t.source_stage];
            if t.source_plane != run.plane || source.name != run.stage || !t.outcomes.contains(&outcome) {
                continue;
            }
            let target = self.plan.stages[t.target_stage].name.clone();
            let request = learning_request(t, &target, run, result, result_path, self.now);
            let event = Event::LearningRequestEnqueued {
                rule_id: t.rule_id.clone(),
                learning_request_id: request.learning_request_id.clone(),
                target_stage: target,
            };
            self.effects.push(Effect::WriteLearningRequest {
                request: Box::new(request),
            });
            self.event(event);
        }
    }

    /// A learning stage that names a skill-update record among its
    /// artifacts has staged skill files: record them now, land them once no
    /// foreground stage is running (a stage never sees skills change under
    /// it).
    fn note_promotion(&mut self, run: &ActiveRun, result: &StageResult) {
        if run.plane != Plane::Learning || !result.success {
            return;
        }
        let update = result.artifacts.iter().find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.contains("skill_update") || n.contains("skill-update"))
        });
        let Some(update) = update else {
            return;
        };
        self.effects.push(Effect::RecordPromotion {
            run_id: run.run_id.clone(),
            request_id: result.request_id.clone(),
            work_item_id: run.work_item.as_ref().map(|w| w.id.clone()),
            update_record: Some(update.to_string_lossy().into_owned()),
            foreground: self.foreground_in_flight(),
            now: self.now,
        });
        self.state.promotions_pending = true;
        self.maybe_land();
    }

    /// Lands staged skill changes if no foreground stage is running.
    pub(super) fn maybe_land(&mut self) {
        if self.state.promotions_pending && self.foreground_in_flight().is_empty() {
            self.state.promotions_pending = false;
            self.effects.push(Effect::LandPromotions { now: self.now });
        }
    }

    fn foreground_in_flight(&self) -> Vec<Plane> {
        self.state
            .active_runs
            .iter()
            .filter(|(p, r)| **p != Plane::Learning && r.pending_request_id.is_some())
            .map(|(p, _)| *p)
            .collect()
    }

    /// Records where an outcome led: the routed target, or, when a spending
    /// cap overrides the route, the block it leads to instead.
    fn record(&mut self, run: &ActiveRun, result: &StageResult, routed: &Routed, reason: &str, capped: bool) {
        let target = match routed.target {
            _ if capped => RouteTarget::Terminal {
                terminal: "BUDGET_EXHAUSTED".into(),
                class: ResultClass::Blocked,
            },
            Target::Node(n) => RouteTarget::Node {
                node: self.plan.nodes[n].name.clone(),
            },
            Target::Finish(t) => RouteTarget::Terminal {
                terminal: self.plan.terminals[t].name.clone(),
                class: self.plan.terminals[t].class,
            },
        };
        let record = RoutingRecord {
            request_id: result.request_id.clone(),
            run_id: run.run_id.clone(),
            plane: run.plane,
            node: run.node.clone(),
            outcome: result.terminal_result.clone(),
            result_class: result.result_class,
            failure_class: result.failure_class,
            target,
            reason: reason.to_string(),
            counted: routed.counted.clone(),
            exhausted: routed.exhausted.clone(),
            resumed_by: routed.resumed_by.clone(),
            counters: routed.counters.clone(),
            plan_id: self.plan.plan_id.clone(),
            decided_at: self.now,
        };
        self.effects.push(Effect::RecordRouting {
            run_id: run.run_id.clone(),
            request_id: result.request_id.clone(),
            record: Box::new(record.clone()),
        });
        self.event(Event::RouterDecision(record));
    }

    /// The work item (or closure pass) reached a terminal.
    fn finish_run(
        &mut self,
        run: &ActiveRun,
        t: TerminalId,
        result: &StageResult,
        result_path: &str,
        reason: &str,
    ) {
        let terminal = self.plan.terminals[t].clone();
        let plane = run.plane;
        if terminal.opens_incident {
            let h = Handoff {
                run,
                result,
                result_path,
                terminal: &terminal.name,
                reason,
                now: self.now,
            };
            let incident = handoff_incident(&h);
            self.event(Event::HandoffIncidentEnqueued {
                incident_id: incident.incident_id.clone(),
                from: run.run_id.clone(),
            });
            self.effects.push(Effect::WriteIncident {
                incident: Box::new(incident),
            });
        }
        if run.request_kind == RequestKind::ClosureTarget {
            self.finish_closure(run, terminal.class, &terminal.writes);
            return;
        }
        let (to, token) = match terminal.class {
            ResultClass::Success => (QueueState::Done, "IDLE".to_string()),
            _ => (QueueState::Blocked, terminal.writes.clone()),
        };
        let note = (to == QueueState::Blocked)
            .then(|| format!("finished at terminal `{}` ({reason})", terminal.name));
        self.end_run(plane, to, note);
        self.marker(plane, &token);
        let work_item = run.work_item.as_ref().map(|w| WorkItemObj {
            kind: w.kind,
            id: w.id.clone(),
        });
        self.event(Event::WorkItemFinished {
            plane,
            work_item,
            terminal: terminal.name,
            class: terminal.class,
        });
    }

    fn finish_closure(&mut self, run: &ActiveRun, class: ResultClass, writes: &str) {
        let root = run.closure_root_spec_id.clone().unwrap_or_default();
        self.drop_run(Plane::Planning);
        if class == ResultClass::Success {
            self.effects.push(Effect::CloseTarget {
                root_spec_id: root.clone(),
                outcome: ClosureOutcome::Passed,
                run_id: Some(run.run_id.clone()),
                now: self.now,
            });
            self.marker(Plane::Planning, "IDLE");
            self.marker(Plane::Execution, "IDLE");
            self.event(Event::ClosurePassed {
                root_spec_id: root,
                run_id: run.run_id.clone(),
            });
        } else {
            self.marker(Plane::Planning, writes);
            self.event(Event::ClosureNotPassed {
                root_spec_id: root,
                run_id: run.run_id.clone(),
                class,
            });
        }
    }

    /// Applying a stage's decision failed: hand the error to the loop's
    /// repair node (once per run), or block the item.
    pub(super) fn apply_failed(&mut self, result: &StageResult, result_path: &str, error: &ApplyError) {
        let plane = result.plane;
        let Some(mut run) = self.state.active_runs.get(&plane).cloned() else {
            return;
        };
        run.pending_request_id = None;
        let repair = self.plan.loop_for(plane).and_then(|l| self.plan.loops[l].repair);
        let repair = repair.filter(|n| {
            run.request_kind != RequestKind::ClosureTarget
                && self.plan.nodes[*n].name != run.node
                && run.runtime_errors == 0
        });
        let repair_name = repair.map(|n| self.plan.nodes[n].name.clone());
        let text = runtime_error_report(
            &run,
            repair_name.as_deref(),
            result,
            result_path,
            &error.code,
            &error.message,
            self.now,
        );
        self.effects.push(Effect::WriteRuntimeErrorReport {
            run_id: run.run_id.clone(),
            text,
        });
        let report_path = format!("millrace-agents/runs/{}/runtime_error_report.md", run.run_id);
        self.event(Event::RuntimePostStageError {
            plane,
            code: error.code.clone(),
            message: error.message.clone(),
            repair: repair_name.clone(),
        });
        match repair {
            Some(node) => {
                run.node = self.plan.nodes[node].name.clone();
                run.stage = self.plan.stage_of(node).name.clone();
                run.runtime_error = Some(RuntimeErrorRef {
                    code: error.code.clone(),
                    report_path,
                });
                run.failure_class = Some(error.code.clone());
                run.runtime_errors += 1;
                run.active_since = self.now;
                self.state.active_runs.insert(plane, run);
                self.marker(plane, "BLOCKED");
                if self.rules.chain_stages && !self.held() && self.may_start(plane) {
                    self.dispatch(plane);
                }
            }
            None => {
                self.state.active_runs.insert(plane, run);
                self.block_run(plane, "BLOCKED", &format!("{}: {}", error.code, error.message));
            }
        }
    }
}

/// How long a quota pause lasts when the harness gives no reset time.
const QUOTA_BACKOFF_MINUTES: i64 = 15;

/// A short, stable explanation of a routing decision.
fn reason_for(run: &ActiveRun, result: &StageResult, routed: &Routed) -> String {
    let mut reason = format!("{}:{}", run.node, result.terminal_result);
    for spent in &routed.exhausted {
        reason.push_str(&format!(" ({spent} exhausted)"));
    }
    if let Some((key, value)) = &routed.resumed_by {
        reason.push_str(&format!(" (resume {key}={value})"));
    }
    if let Some(failure) = result.failure_class {
        reason.push_str(&format!(" [{}]", failure.as_str()));
    }
    reason
}
