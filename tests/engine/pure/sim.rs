//! An in-memory driver for scenario tests of the pure engine: queues,
//! claims, incidents and closure targets as plain data, stages answered by
//! a script. No I/O, so every routing rule is tested in isolation.

use std::collections::{BTreeMap, BTreeSet};

use jiff::{Timestamp, ToSpan};

use millrace::engine::*;
use millrace::model::{
    ExitKind, FailureClass, Lineage, NormalizationSource, QueueState, RuntimeMode, Snapshot, StageResult,
};
use millrace::plan::{Plan, Plane, ResultClass, WorkItemKind};

/// A queued document in the simulation.
#[derive(Clone, Debug)]
pub struct Item {
    pub kind: WorkItemKind,
    pub id: String,
    pub state: QueueState,
    pub lineage: Lineage,
    pub root_spec: bool,
}

/// What a scripted stage answers: an outcome, metadata, and new items it
/// writes (a manager writing tasks).
pub struct Answer {
    pub outcome: String,
    pub failure: Option<FailureClass>,
    pub metadata: serde_json::Map<String, serde_json::Value>,
    pub writes: Vec<Item>,
    pub tokens: u64,
    pub quota_reset_at: Option<Timestamp>,
}

impl Answer {
    pub fn of(outcome: &str) -> Self {
        Answer {
            outcome: outcome.into(),
            failure: None,
            metadata: Default::default(),
            writes: Vec::new(),
            tokens: 0,
            quota_reset_at: None,
        }
    }

    pub fn tokens(mut self, tokens: u64) -> Self {
        self.tokens = tokens;
        self
    }
}

type Script = Box<dyn FnMut(&str, u32, Option<&str>) -> Answer>;

pub struct Sim {
    pub plan: Plan,
    pub rules: Rules,
    pub state: Snapshot,
    pub items: Vec<Item>,
    /// root spec id → (open, attempts).
    pub targets: BTreeMap<String, (bool, u32)>,
    pub trace: Vec<String>,
    pub events: Vec<String>,
    /// The last reason given for moving each item.
    pub reasons: std::collections::BTreeMap<String, String>,
    pub now: Timestamp,
    /// Usage governance's verdict for every tick.
    pub governance: Option<GovernanceView>,
    /// A verdict delivered after the next stage result, before it is routed
    /// (as the driver does); it then stands for later ticks too.
    pub after_stage: Option<GovernanceView>,
    script: Script,
    runs: u32,
}

impl Sim {
    pub fn new(mode: &str, script: impl FnMut(&str, u32, Option<&str>) -> Answer + 'static) -> Self {
        let plan = millrace::compile::builtin(mode).unwrap();
        let now = Timestamp::from_second(1_800_000_000).unwrap();
        let mut sim = Sim {
            plan,
            rules: Rules::default(),
            state: Snapshot::bootstrap(now),
            items: Vec::new(),
            targets: BTreeMap::new(),
            trace: Vec::new(),
            events: Vec::new(),
            reasons: Default::default(),
            now,
            governance: None,
            after_stage: None,
            script: Box::new(script),
            runs: 0,
        };
        sim.input(Input::Boot {
            now,
            session: "test".into(),
            mode: RuntimeMode::Daemon,
        });
        sim
    }

    pub fn add(&mut self, kind: WorkItemKind, id: &str, lineage: Lineage, root_spec: bool) {
        self.items.push(Item {
            kind,
            id: id.into(),
            state: QueueState::Queued,
            lineage,
            root_spec,
        });
    }

    pub fn state_of(&self, id: &str) -> Option<QueueState> {
        self.items.iter().find(|i| i.id == id).map(|i| i.state)
    }

    fn tick_now(&mut self) -> Timestamp {
        self.now += 1.second();
        self.now
    }

    /// Applies one input and then its effects; returns whether anything
    /// happened.
    pub fn input(&mut self, input: Input) -> bool {
        let (next, effects) = step(&self.plan, &self.rules, &self.state, input);
        self.state = next;
        let mut acted = false;
        for effect in effects {
            acted |= self.apply(effect);
        }
        acted
    }

    fn apply(&mut self, effect: Effect) -> bool {
        match effect {
            Effect::MoveItem { kind, id, to, reason } => {
                if let Some(item) = self.items.iter_mut().find(|i| i.kind == kind && i.id == id) {
                    item.state = to;
                }
                if let Some(reason) = reason {
                    self.reasons.insert(id, reason);
                }
                true
            }
            Effect::WriteIncident { incident } => {
                let lineage = Lineage {
                    root_spec_id: incident.root_spec_id.clone(),
                    root_idea_id: incident.root_idea_id.clone(),
                    ..Default::default()
                };
                if !self.items.iter().any(|i| i.id == incident.incident_id) {
                    self.add(WorkItemKind::Incident, &incident.incident_id, lineage, false);
                }
                true
            }
            Effect::WriteLearningRequest { request } => {
                if !self.items.iter().any(|i| i.id == request.learning_request_id) {
                    self.add(
                        WorkItemKind::LearningRequest,
                        &request.learning_request_id,
                        Lineage::default(),
                        false,
                    );
                    if let Some(item) = self.items.last_mut() {
                        item.lineage.spec_id = request.target_stage.clone();
                    }
                }
                true
            }
            Effect::OpenTarget { root_spec_id, .. } => {
                self.targets.entry(root_spec_id).or_insert((true, 0));
                true
            }
            Effect::StartClosurePass {
                root_spec_id,
                attempts,
                ..
            } => {
                if let Some(t) = self.targets.get_mut(&root_spec_id) {
                    t.1 = attempts;
                }
                true
            }
            Effect::CloseTarget {
                root_spec_id,
                outcome,
                ..
            } => {
                if let Some(t) = self.targets.get_mut(&root_spec_id) {
                    t.0 = false;
                }
                self.events.push(format!("closed {root_spec_id} {outcome:?}"));
                true
            }
            Effect::Claim { plane, root } => self.claim(plane, root),
            Effect::Dispatch { plane } => {
                self.run_stage(plane);
                true
            }
            Effect::Event { event } => {
                self.events.push(event.kind());
                false
            }
            Effect::Exit => false,
            Effect::RecordPromotion { run_id, .. } => {
                self.events.push(format!("promotion recorded {run_id}"));
                false
            }
            Effect::LandPromotions { .. } => {
                self.events.push("promotions landed".into());
                false
            }
            Effect::WriteMarker { .. }
            | Effect::WriteRuntimeErrorReport { .. }
            | Effect::RecordRouting { .. }
            | Effect::Kill { .. } => false,
        }
    }

    fn claimable(&self, plane: Plane, root: Option<&str>) -> Option<usize> {
        self.items.iter().position(|i| {
            i.kind.plane() == plane
                && i.state == QueueState::Queued
                && root.is_none_or(|r| i.lineage.root_spec_id.as_deref() == Some(r))
        })
    }

    fn claim(&mut self, plane: Plane, root: Option<String>) -> bool {
        // Incidents before specs, as the workspace claims them.
        let pick = self
            .items
            .iter()
            .position(|i| {
                i.kind == WorkItemKind::Incident
                    && i.state == QueueState::Queued
                    && plane == Plane::Planning
                    && root
                        .as_deref()
                        .is_none_or(|r| i.lineage.root_spec_id.as_deref() == Some(r))
            })
            .or_else(|| self.claimable(plane, root.as_deref()));
        let Some(index) = pick else { return false };
        self.items[index].state = QueueState::Active;
        let item = self.items[index].clone();
        self.runs += 1;
        let opens = item.root_spec && !self.targets.contains_key(&item.id);
        let target_stage = (item.kind == WorkItemKind::LearningRequest)
            .then(|| item.lineage.spec_id.clone())
            .flatten();
        let claimed = ClaimedItem {
            kind: item.kind,
            id: item.id.clone(),
            run_id: format!("run-{:04}", self.runs),
            lineage: item.lineage.clone(),
            target_stage,
            opens_target: opens,
            prior_tokens: 0,
            prior_cost_usd: 0.0,
        };
        let now = self.tick_now();
        self.input(Input::Claimed {
            now,
            plane,
            item: claimed,
        });
        true
    }

    fn run_stage(&mut self, plane: Plane) {
        let Some(run) = self.state.active_runs.get(&plane).cloned() else {
            return;
        };
        let Some(request_id) = run.pending_request_id.clone() else {
            return;
        };
        let attempt = run.node_runs.get(&run.node).copied().unwrap_or(1) - 1;
        let item = run.work_item.as_ref().map(|w| w.id.clone());
        self.trace.push(format!("{plane}/{}", run.node));
        let mut answer = (self.script)(&run.node, attempt, item.as_deref());
        self.items.extend(std::mem::take(&mut answer.writes));
        let result = result_for(&self.plan, &run, &request_id, &answer, self.now);
        if let Some(view) = self.after_stage.take() {
            self.governance = Some(view.clone());
            let now = self.tick_now();
            self.input(Input::Govern {
                now,
                governance: Some(view),
            });
        }
        let now = self.tick_now();
        self.input(Input::Finished {
            now,
            result: Box::new(result),
            result_path: format!("runs/{}/{request_id}.json", run.run_id),
        });
    }

    /// Ticks until nothing happens (or a step budget runs out).
    pub fn run(&mut self, max_ticks: usize) {
        for _ in 0..max_ticks {
            if !self.tick() {
                return;
            }
        }
        panic!("the simulation did not settle: {:?}", self.trace);
    }

    /// Ticks `ticks` times (a second apart) whether or not anything
    /// happens: for waits that end by the clock.
    pub fn run_for(&mut self, ticks: usize) {
        for _ in 0..ticks {
            self.tick();
        }
    }

    /// One tick over the current world; whether anything happened.
    fn tick(&mut self) -> bool {
        {
            let target = self
                .targets
                .iter()
                .find(|(_, (open, _))| *open)
                .map(|(root, (_, attempts))| {
                    let busy = self.items.iter().any(|i| {
                        i.lineage.root_spec_id.as_deref() == Some(root.as_str())
                            && matches!(
                                i.state,
                                QueueState::Queued | QueueState::Active | QueueState::Blocked
                            )
                    });
                    TargetView {
                        root_spec_id: root.clone(),
                        root_idea_id: None,
                        attempts: *attempts,
                        lineage_busy: busy,
                    }
                });
            let root = target.as_ref().map(|t| t.root_spec_id.clone());
            let claimable: BTreeSet<Plane> = Plane::ALL
                .iter()
                .copied()
                .filter(|p| {
                    self.claimable(
                        *p,
                        if *p == Plane::Learning {
                            None
                        } else {
                            root.as_deref()
                        },
                    )
                    .is_some()
                })
                .collect();
            self.runs += 1;
            let world = World {
                claimable,
                target,
                next_run_id: format!("run-{:04}", self.runs),
                governance: self.governance.clone(),
                ..World::default()
            };
            let now = self.tick_now();
            self.input(Input::Tick { now, world })
        }
    }
}

/// A normalized result for a scripted answer.
pub fn result_for(
    plan: &Plan,
    run: &millrace::model::ActiveRun,
    request_id: &str,
    answer: &Answer,
    now: Timestamp,
) -> StageResult {
    let node = plan.node_named(run.plane, &run.node).unwrap();
    let class = plan
        .outcomes_of(node)
        .find(|(_, o)| o.name == answer.outcome)
        .map(|(_, o)| o.classes[0])
        .unwrap_or(ResultClass::RecoverableFailure);
    let class = if answer.failure.is_some() {
        ResultClass::RecoverableFailure
    } else {
        class
    };
    StageResult {
        schema_version: 1,
        kind: "stage_result".into(),
        request_id: request_id.into(),
        run_id: run.run_id.clone(),
        plane: run.plane,
        node: run.node.clone(),
        stage: run.stage.clone(),
        work_item_kind: run.work_item.as_ref().map(|w| w.kind),
        work_item_id: run.work_item.as_ref().map(|w| w.id.clone()),
        terminal_result: answer.outcome.clone(),
        result_class: class,
        success: class == ResultClass::Success,
        exit: if answer.failure == Some(FailureClass::Killed) {
            ExitKind::Killed
        } else {
            ExitKind::Completed
        },
        exit_code: Some(0),
        failure_class: answer.failure,
        detected_marker: Some(format!("### {}", answer.outcome)),
        normalization_source: NormalizationSource::FinalMessage,
        metadata: answer.metadata.clone(),
        artifacts: Vec::new(),
        report_artifact: None,
        notes: Vec::new(),
        token_usage: (answer.tokens > 0).then(|| millrace::model::TokenUsage {
            total_tokens: answer.tokens,
            ..Default::default()
        }),
        cost_usd: None,
        rate_limit: None,
        rate_limits: Vec::new(),
        harness_message: None,
        stderr_tail: Vec::new(),
        quota_reset_at: answer.quota_reset_at,
        runner: "scripted".into(),
        model: None,
        effort: None,
        stdout_path: None,
        stderr_path: None,
        events_path: None,
        started_at: now,
        completed_at: now,
        duration_seconds: 0.0,
    }
}
