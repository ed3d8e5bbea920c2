//! Micro-benchmarks of the hot paths behind the whole-process figures of
//! `bench/run`: compiling the shipped loops, routing one stage result, and
//! claiming from a deep queue. Run with `cargo bench --bench engine`.
//! Measurements only; nothing here asserts a time.

use std::cell::RefCell;
use std::collections::BTreeMap;

use divan::Bencher;
use jiff::Timestamp;

use millrace::engine::{ClaimedItem, Effect, Input, Rules, World, step};
use millrace::model::Snapshot;
use millrace::model::{ExitKind, Lineage, NormalizationSource, QueueState, StageResult};
use millrace::plan::{Plan, Plane, ResultClass, WorkItemKind};
use millrace::workspace::Workspace;
use millrace::workspace::queue::Queues;

fn main() {
    divan::main();
}

/// The queue depth the performance bars are set at.
const QUEUED: usize = 10_000;

/// Parse, check and lower the embedded loops into the plan of a mode, as
/// `compile validate` does without a workspace.
fn compile(mode: &str) -> Plan {
    millrace::compile::builtin(mode).expect("the mode compiles")
}

#[divan::bench(args = ["default_codex", "learning_codex"])]
fn compile_shipped_loops(mode: &str) -> Plan {
    compile(divan::black_box(mode))
}

/// A task claimed and its builder dispatched: the state a builder result
/// arrives in.
fn builder_running(plan: &Plan, rules: &Rules) -> Snapshot {
    let now = Timestamp::now();
    let world = World {
        claimable: [Plane::Execution].into(),
        next_run_id: "run-bench".into(),
        ..World::default()
    };
    let (state, _) = step(plan, rules, &Snapshot::default(), Input::Tick { now, world });
    let item = ClaimedItem {
        kind: WorkItemKind::Task,
        id: "task-00000".into(),
        run_id: "run-bench".into(),
        lineage: Lineage::default(),
        target_stage: None,
        opens_target: false,
        prior_tokens: 0,
        prior_cost_usd: 0.0,
    };
    let (state, effects) = step(
        plan,
        rules,
        &state,
        Input::Claimed {
            now,
            plane: Plane::Execution,
            item,
        },
    );
    assert!(effects.iter().any(|e| matches!(e, Effect::Dispatch { .. })));
    state
}

/// What the runners report for a builder that finished cleanly.
fn builder_complete(state: &Snapshot) -> StageResult {
    let run = &state.active_runs[&Plane::Execution];
    let now = Timestamp::now();
    StageResult {
        schema_version: 1,
        kind: "stage_result".into(),
        request_id: run.pending_request_id.clone().expect("a dispatched stage"),
        run_id: run.run_id.clone(),
        plane: Plane::Execution,
        node: run.node.clone(),
        stage: run.stage.clone(),
        work_item_kind: Some(WorkItemKind::Task),
        work_item_id: Some("task-00000".into()),
        terminal_result: "BUILDER_COMPLETE".into(),
        result_class: ResultClass::Success,
        success: true,
        exit: ExitKind::Completed,
        exit_code: Some(0),
        failure_class: None,
        detected_marker: Some("### BUILDER_COMPLETE".into()),
        normalization_source: NormalizationSource::FinalMessage,
        metadata: Default::default(),
        artifacts: Vec::new(),
        report_artifact: None,
        notes: Vec::new(),
        token_usage: None,
        cost_usd: None,
        rate_limit: None,
        rate_limits: Vec::new(),
        quota_reset_at: None,
        harness_message: None,
        stderr_tail: Vec::new(),
        runner: "codex_cli".into(),
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

/// The pure engine step for one finished stage: normalize-free routing,
/// counters, the next dispatch and every effect, without I/O.
#[divan::bench]
fn step_one_result(bencher: Bencher) {
    let plan = compile("default_codex");
    let rules = Rules::default();
    let state = builder_running(&plan, &rules);
    let result = builder_complete(&state);
    bencher.bench(|| {
        let input = Input::Finished {
            now: result.completed_at,
            result: Box::new(result.clone()),
            result_path: "runs/run-bench/stage_results/req.json".into(),
        };
        step(&plan, &rules, divan::black_box(&state), input)
    });
}

/// Routing alone: one outcome through the plan's edge and branch tables.
#[divan::bench]
fn route_one_outcome(bencher: Bencher) {
    let plan = compile("default_codex");
    let node = plan
        .node_named(Plane::Execution, "checker")
        .expect("a checker node");
    let metadata = serde_json::Map::new();
    let counters = BTreeMap::new();
    bencher.bench(|| {
        millrace::engine::route::route(&plan, node, divan::black_box("FIX_NEEDED"), &metadata, &counters)
    });
}

/// Replay's pure part: a thousand recorded five-decision runs (a fix
/// cycle: builder, checker, fixer, doublechecker, updater) routed again
/// under the plan that recorded them.
#[divan::bench]
fn replay_1000_runs(bencher: Bencher) {
    use millrace::engine::replay::{Recorded, replay_run};
    use millrace::model::event::{RouteTarget, RoutingRecord};
    let plan = compile("default_codex");
    let steps = [
        ("builder", "BUILDER_COMPLETE", "checker", None),
        ("checker", "FIX_NEEDED", "fixer", Some(("fix_cycles", 1))),
        ("fixer", "FIXER_COMPLETE", "doublechecker", None),
        ("doublechecker", "DOUBLECHECK_PASS", "updater", None),
    ];
    let mut decisions: Vec<Recorded> = Vec::new();
    let mut counters = BTreeMap::new();
    for (i, (node, outcome, next, counted)) in steps.iter().enumerate() {
        if let Some((name, value)) = counted {
            counters.insert(name.to_string(), *value);
        }
        decisions.push(Recorded {
            record: RoutingRecord {
                request_id: format!("req-bench-{i:03}"),
                run_id: "run-bench".into(),
                plane: Plane::Execution,
                node: node.to_string(),
                outcome: outcome.to_string(),
                result_class: ResultClass::Success,
                failure_class: None,
                target: RouteTarget::Node {
                    node: next.to_string(),
                },
                reason: String::new(),
                counted: counted.map(|(n, v)| (n.to_string(), v)),
                exhausted: Vec::new(),
                resumed_by: None,
                counters: counters.clone(),
                plan_id: plan.plan_id.clone(),
                decided_at: Timestamp::UNIX_EPOCH,
            },
            metadata: serde_json::Map::new(),
        });
    }
    bencher.bench(|| {
        (0..1000)
            .map(|_| replay_run(&plan, "run-bench", divan::black_box(&decisions)))
            .filter(|r| r.divergence.is_none())
            .count()
    });
}

fn task_text(i: usize) -> String {
    format!(
        "# Task {i}\n\nTask-ID: task-{i:05}\nTitle: Task {i}\nCreated-At: 2026-01-01T{:02}:{:02}:{:02}Z\n\
         Created-By: bench\n\nTarget-Paths:\n- src/lib.rs\n\nAcceptance:\n- works\n\n\
         Required-Checks:\n- cargo test\n\nReferences:\n- none\n\nRisk:\n- low\n",
        i / 3600,
        (i / 60) % 60,
        i % 60
    )
}

/// A workspace with `QUEUED` tasks whose index is built, in a temporary
/// directory that lives as long as the value.
struct DeepQueue {
    _dir: tempfile::TempDir,
    ws: Workspace,
}

impl DeepQueue {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let ws = Workspace::at(dir.path()).expect("a workspace path");
        millrace::workspace::init::init(&ws, millrace::embedded::ASSETS).expect("init");
        let queue = ws.paths().queue_dir(WorkItemKind::Task, QueueState::Queued);
        for i in 0..QUEUED {
            std::fs::write(queue.join(format!("task-{i:05}.md")), task_text(i)).expect("a task");
        }
        // The first look parses every file once and stores the index.
        Queues::new(&ws)
            .peek(Plane::Execution, None)
            .expect("the index builds");
        DeepQueue { _dir: dir, ws }
    }

    /// Puts a claimed task back where it was (untimed).
    fn put_back(&self, id: &str) {
        let paths = self.ws.paths();
        let from = paths.document(WorkItemKind::Task, QueueState::Active, id);
        let to = paths.document(WorkItemKind::Task, QueueState::Queued, id);
        std::fs::rename(from, to).expect("the claimed task moves back");
    }
}

/// Claiming the oldest of 10,000 queued tasks: index refresh, dependency
/// check, parse of the one claimed document, the rename into `active/`.
/// The previous claim is put back before each (untimed), so every claim
/// sees the full queue, just changed by one rename, as in a busy daemon.
/// With `held`, the workspace keeps its indexes in memory, as the runtime
/// does; without, each claim reads and writes the index file, as a one-shot
/// command would.
#[divan::bench(args = [false, true], sample_count = 50, sample_size = 1)]
fn claim_from_10k_queue(bencher: Bencher, held: bool) {
    let mut deep = DeepQueue::new();
    if held {
        deep.ws = deep.ws.clone().holding_indexes();
    }
    let queues = Queues::new(&deep.ws);
    let last: RefCell<Option<String>> = RefCell::new(None);
    bencher
        .with_inputs(|| {
            if let Some(id) = last.borrow_mut().take() {
                deep.put_back(&id);
            }
        })
        .bench_local_values(|()| {
            let claimed = queues
                .claim(Plane::Execution, None)
                .expect("a claim")
                .expect("a task");
            *last.borrow_mut() = Some(claimed.id.clone());
            claimed
        });
}
