//! Scenario tests of the pure engine: scripted outcomes in, stage sequences
//! and queue states out.

use serde_json::json;

use jiff::Timestamp;

use super::sim::{Answer, Item, Sim};
use millrace::engine::*;
use millrace::model::governance::Blocker;
use millrace::model::{FailureClass, Lineage, QueueState};
use millrace::plan::WorkItemKind::{Incident, Spec, Task};

fn lineage(root: &str) -> Lineage {
    Lineage {
        root_spec_id: Some(root.into()),
        root_idea_id: Some(root.into()),
        spec_id: Some(root.into()),
        ..Default::default()
    }
}

/// A claimed task with no lineage, as the driver would report it.
fn claimed_task(id: &str) -> ClaimedItem {
    ClaimedItem {
        kind: Task,
        id: id.into(),
        run_id: "run-x".into(),
        lineage: Lineage::default(),
        target_stage: None,
        opens_target: false,
        prior_tokens: 0,
        prior_cost_usd: 0.0,
    }
}

fn trace(sim: &Sim) -> Vec<&str> {
    sim.trace
        .iter()
        .map(|s| s.split('/').nth(1).unwrap_or(""))
        .collect()
}

#[test]
fn a_task_runs_builder_checker_updater() {
    let mut sim = Sim::new("default_codex", |node, _, _| {
        Answer::of(match node {
            "builder" => "BUILDER_COMPLETE",
            "checker" => "CHECKER_PASS",
            _ => "UPDATE_COMPLETE",
        })
    });
    sim.add(Task, "t1", Lineage::default(), false);
    sim.run(50);
    assert_eq!(trace(&sim), ["builder", "checker", "updater"]);
    assert_eq!(sim.state_of("t1"), Some(QueueState::Done));
    assert!(sim.state.active_runs.is_empty());
    assert_eq!(
        sim.state.status_markers[&millrace::plan::Plane::Execution],
        "IDLE"
    );
}

#[test]
fn fix_cycles_run_out_into_recovery_then_block() {
    let mut sim = Sim::new("default_codex", |node, _, _| {
        Answer::of(match node {
            "builder" => "BUILDER_COMPLETE",
            "checker" | "doublechecker" => "FIX_NEEDED",
            "fixer" => "FIXER_COMPLETE",
            _ => "BLOCKED",
        })
    });
    sim.add(Task, "t1", Lineage::default(), false);
    sim.run(50);
    assert_eq!(
        trace(&sim),
        [
            "builder",
            "checker",
            "fixer",
            "doublechecker",
            "fixer",
            "doublechecker",
            "troubleshooter",
            "troubleshooter",
            "consultant"
        ]
    );
    assert_eq!(sim.state_of("t1"), Some(QueueState::Blocked));
}

#[test]
fn the_troubleshooter_resumes_where_its_result_says() {
    let mut sim = Sim::new("default_codex", |node, attempt, _| match (node, attempt) {
        ("builder", 0) => Answer::of("BLOCKED"),
        ("builder", _) => Answer::of("BUILDER_COMPLETE"),
        ("troubleshooter", _) => {
            let mut a = Answer::of("TROUBLESHOOT_COMPLETE");
            a.metadata.insert("resume_stage".into(), json!("checker"));
            a
        }
        ("checker", _) => Answer::of("CHECKER_PASS"),
        _ => Answer::of("UPDATE_COMPLETE"),
    });
    sim.add(Task, "t1", Lineage::default(), false);
    sim.run(50);
    assert_eq!(trace(&sim), ["builder", "troubleshooter", "checker", "updater"]);
}

#[test]
fn without_a_resume_target_the_troubleshooter_resumes_at_the_default() {
    let mut sim = Sim::new("default_codex", |node, attempt, _| match (node, attempt) {
        ("builder", 0) => Answer::of("BLOCKED"),
        ("builder", _) => Answer::of("BUILDER_COMPLETE"),
        ("troubleshooter", _) => Answer::of("TROUBLESHOOT_COMPLETE"),
        ("checker", _) => Answer::of("CHECKER_PASS"),
        _ => Answer::of("UPDATE_COMPLETE"),
    });
    sim.add(Task, "t1", Lineage::default(), false);
    sim.run(50);
    assert_eq!(
        trace(&sim),
        ["builder", "troubleshooter", "builder", "checker", "updater"]
    );
}

#[test]
fn the_consultant_escalates_to_planning_and_planning_sends_new_work_back() {
    let mut sim = Sim::new("default_codex", |node, _, item| match (node, item) {
        ("builder", Some("t1")) => Answer::of("BLOCKED"),
        ("builder", _) => Answer::of("BUILDER_COMPLETE"),
        ("troubleshooter", _) => Answer::of("BLOCKED"),
        ("consultant", _) => Answer::of("NEEDS_PLANNING"),
        ("auditor", _) => Answer::of("AUDITOR_COMPLETE"),
        ("planner", _) => Answer::of("PLANNER_COMPLETE"),
        ("manager", _) => {
            let mut a = Answer::of("MANAGER_COMPLETE");
            a.writes.push(Item {
                kind: Task,
                id: "t2".into(),
                state: QueueState::Queued,
                lineage: lineage("spec-a"),
                root_spec: false,
            });
            a
        }
        ("checker", _) => Answer::of("CHECKER_PASS"),
        _ => Answer::of("UPDATE_COMPLETE"),
    });
    sim.add(Task, "t1", lineage("spec-a"), false);
    sim.run(100);
    assert_eq!(
        trace(&sim),
        [
            "builder",
            "troubleshooter",
            "troubleshooter",
            "consultant", // t1 escalates
            "auditor",
            "planner",
            "manager", // the handoff incident
            "builder",
            "checker",
            "updater", // the new task
        ]
    );
    assert_eq!(sim.state_of("t1"), Some(QueueState::Blocked));
    assert_eq!(sim.state_of("t2"), Some(QueueState::Done));
    let incident = sim
        .items
        .iter()
        .find(|i| i.kind == Incident)
        .expect("a handoff incident was filed");
    assert!(incident.id.starts_with("incident-t1-"));
    assert_eq!(
        incident.lineage.root_spec_id.as_deref(),
        Some("spec-a"),
        "the incident keeps the lineage"
    );
    assert_eq!(incident.state, QueueState::Done);
}

fn campaign(arbiter: impl Fn(u32) -> &'static str + 'static) -> Sim {
    let mut sim = Sim::new("default_codex", move |node, attempt, item| match node {
        "planner" => Answer::of("PLANNER_COMPLETE"),
        "auditor" => Answer::of("AUDITOR_COMPLETE"),
        "manager" => {
            let mut a = Answer::of("MANAGER_COMPLETE");
            let prefix = item.unwrap_or("x");
            for n in 1..=2 {
                let id = format!("{prefix}-t{n}");
                a.writes.push(Item {
                    kind: Task,
                    id,
                    state: QueueState::Queued,
                    lineage: lineage("idea-x"),
                    root_spec: false,
                });
            }
            a
        }
        "builder" => Answer::of("BUILDER_COMPLETE"),
        "checker" => Answer::of("CHECKER_PASS"),
        "updater" => Answer::of("UPDATE_COMPLETE"),
        "arbiter" => Answer::of(arbiter(attempt)),
        _ => Answer::of("BLOCKED"),
    });
    sim.add(Spec, "idea-x", lineage("idea-x"), true);
    sim.run(200);
    sim
}

#[test]
fn a_spec_is_planned_built_and_closed() {
    let sim = campaign(|_| "ARBITER_COMPLETE");
    assert_eq!(
        trace(&sim),
        [
            "planner", "manager", "builder", "checker", "updater", "builder", "checker", "updater", "arbiter"
        ]
    );
    assert_eq!(sim.targets["idea-x"], (false, 1));
    assert!(sim.events.iter().any(|e| e == "closed idea-x Passed"));
}

#[test]
fn a_closure_gap_opens_remediation_that_runs_before_the_next_pass() {
    let sim = campaign(|attempt| {
        if attempt == 0 {
            "REMEDIATION_NEEDED"
        } else {
            "ARBITER_COMPLETE"
        }
    });
    let t = trace(&sim);
    let arbiter_runs: Vec<usize> = t
        .iter()
        .enumerate()
        .filter(|(_, n)| **n == "arbiter")
        .map(|(i, _)| i)
        .collect();
    assert_eq!(arbiter_runs.len(), 2);
    let between = &t[arbiter_runs[0] + 1..arbiter_runs[1]];
    assert_eq!(
        between[..3],
        ["auditor", "planner", "manager"],
        "remediation goes through planning"
    );
    assert!(
        between.contains(&"builder"),
        "and its tasks run before the next closure pass"
    );
    assert!(sim.items.iter().any(|i| i.id.starts_with("arbiter-gap-idea-x-")));
    assert_eq!(sim.targets["idea-x"], (false, 2));
}

#[test]
fn a_closure_that_never_passes_stops_after_its_attempts() {
    let sim = campaign(|_| "BLOCKED");
    let passes = trace(&sim).iter().filter(|n| **n == "arbiter").count();
    assert_eq!(passes, 3, "closure_attempts limit 3");
    assert_eq!(sim.targets["idea-x"], (false, 3));
    assert!(sim.events.iter().any(|e| e == "closed idea-x AttemptsExhausted"));
}

#[test]
fn fuel_runs_out_before_a_loop_can_burn_forever() {
    let mut sim = Sim::new("default_codex", |node, _, _| {
        Answer::of(match node {
            "builder" => "BUILDER_COMPLETE",
            "checker" | "doublechecker" => "FIX_NEEDED",
            "fixer" => "FIXER_COMPLETE",
            _ => "BLOCKED",
        })
    });
    sim.rules.max_stage_runs_per_item = 4;
    sim.add(Task, "t1", Lineage::default(), false);
    sim.run(50);
    assert_eq!(trace(&sim).len(), 4);
    assert_eq!(sim.state_of("t1"), Some(QueueState::Blocked));
    assert!(sim.events.iter().any(|e| e == "work_item_fuel_exhausted"));
    assert_eq!(
        sim.state.status_markers[&millrace::plan::Plane::Execution],
        "FUEL_EXHAUSTED"
    );
}

#[test]
fn an_outcome_the_stage_never_declared_blocks_with_its_code() {
    let mut sim = Sim::new("default_codex", |_, _, _| Answer::of("NOT_A_MARKER"));
    sim.add(Task, "t1", Lineage::default(), false);
    sim.run(10);
    assert_eq!(sim.state_of("t1"), Some(QueueState::Blocked));
    let reason = &sim.reasons["t1"];
    assert!(
        reason.starts_with("mill::engine::undeclared_outcome: "),
        "{reason}"
    );
}

#[test]
fn a_killed_stage_runs_again_at_the_same_node() {
    let mut sim = Sim::new("default_codex", |node, attempt, _| match (node, attempt) {
        ("builder", 0) => {
            let mut a = Answer::of("BLOCKED");
            a.failure = Some(FailureClass::Killed);
            a
        }
        ("builder", _) => Answer::of("BUILDER_COMPLETE"),
        ("checker", _) => Answer::of("CHECKER_PASS"),
        _ => Answer::of("UPDATE_COMPLETE"),
    });
    sim.add(Task, "t1", Lineage::default(), false);
    sim.run(50);
    assert_eq!(
        trace(&sim),
        ["builder", "builder", "checker", "updater"],
        "never rerouted to recovery"
    );
    assert_eq!(sim.state_of("t1"), Some(QueueState::Done));
}

#[test]
fn a_stage_whose_harness_is_missing_costs_no_fuel_and_pauses_naming_it() {
    let sim = Sim::new("default_codex", |_, _, _| Answer::of("BUILDER_COMPLETE"));
    let now = sim.now;
    let execution = millrace::plan::Plane::Execution;
    let claimed = Input::Claimed {
        now,
        plane: execution,
        item: claimed_task("t1"),
    };
    let (state, _) = step(&sim.plan, &sim.rules, &sim.state, claimed);
    assert_eq!(state.active_runs[&execution].stage_runs, 1);
    let first = state.active_runs[&execution].pending_request_id.clone();
    let refused = Input::HarnessMissing {
        now,
        plane: execution,
        runner: "codex_cli".into(),
        program: Some("codex".into()),
        message: "codex is not installed".into(),
    };
    let (state, effects) = step(&sim.plan, &sim.rules, &state, refused);
    let run = &state.active_runs[&execution];
    assert_eq!(
        (run.stage_runs, run.interruptions, run.node_runs["builder"]),
        (0, 0, 0)
    );
    assert!(run.pending_request_id.is_none());
    let kinds: Vec<String> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::Event { event } => Some(event.kind()),
            _ => None,
        })
        .collect();
    let has = |k: &str| kinds.iter().any(|x| x == k);
    assert!(has("stage_not_started") && has("harness_paused"), "{kinds:?}");
    assert_eq!(
        state.pause_sources,
        vec![millrace::model::PauseSource::HarnessMissing]
    );
    let pause = state.harness_pause.clone().expect("the pause says why");
    assert_eq!(
        (
            pause.runner.as_str(),
            pause.program.as_deref(),
            pause.stage.as_str()
        ),
        ("codex_cli", Some("codex"), "builder")
    );
    // Paused: a tick starts nothing until the operator resumes.
    let tick = |state| {
        let input = Input::Tick {
            now,
            world: World::default(),
        };
        step(&sim.plan, &sim.rules, state, input).0
    };
    let state = tick(&state);
    assert!(state.active_runs[&execution].pending_request_id.is_none());
    let resume = Input::Control {
        now,
        command: millrace::engine::Control::Resume,
    };
    let (state, _) = step(&sim.plan, &sim.rules, &state, resume);
    assert!(state.pause_sources.is_empty() && state.harness_pause.is_none());
    // The retry reuses the request id nothing was written under.
    let state = tick(&state);
    assert_eq!(state.active_runs[&execution].pending_request_id, first);
}

#[test]
fn a_crash_mid_stage_resumes_the_same_node_and_counts_it() {
    let mut sim = Sim::new("default_codex", |_, _, _| Answer::of("BUILDER_COMPLETE"));
    sim.add(Task, "t1", Lineage::default(), false);
    // Claim and dispatch by hand, then "crash" before the stage reports.
    let now = sim.now;
    let world = World {
        claimable: [millrace::plan::Plane::Execution].into(),
        next_run_id: "run-x".into(),
        ..World::default()
    };
    let (state, effects) = step(&sim.plan, &sim.rules, &sim.state, Input::Tick { now, world });
    assert!(matches!(effects[..], [Effect::Claim { .. }]));
    let item = claimed_task("t1");
    let (state, effects) = step(
        &sim.plan,
        &sim.rules,
        &state,
        Input::Claimed {
            now,
            plane: millrace::plan::Plane::Execution,
            item,
        },
    );
    assert!(effects.iter().any(|e| matches!(e, Effect::Dispatch { .. })));
    assert!(
        state.active_runs[&millrace::plan::Plane::Execution]
            .pending_request_id
            .is_some()
    );
    // The next process boots, learns the stage never reported, runs it again.
    let (state, _) = step(
        &sim.plan,
        &sim.rules,
        &state,
        Input::Interrupted {
            now,
            plane: millrace::plan::Plane::Execution,
            reason: "crash".into(),
        },
    );
    let run = &state.active_runs[&millrace::plan::Plane::Execution];
    assert_eq!(
        (
            run.node.as_str(),
            run.interruptions,
            run.pending_request_id.is_none()
        ),
        ("builder", 1, true)
    );
    let world = World {
        next_run_id: "run-y".into(),
        ..World::default()
    };
    let (state, effects) = step(&sim.plan, &sim.rules, &state, Input::Tick { now, world });
    assert!(
        matches!(effects[..], [Effect::WriteMarker { .. }, Effect::Dispatch { .. }])
            || effects.iter().any(|e| matches!(e, Effect::Dispatch { .. }))
    );
    assert_eq!(
        state.active_runs[&millrace::plan::Plane::Execution].node,
        "builder"
    );
}

#[test]
fn pause_holds_dispatch_and_resume_releases_it() {
    let mut sim = Sim::new("default_codex", |node, _, _| {
        Answer::of(match node {
            "builder" => "BUILDER_COMPLETE",
            "checker" => "CHECKER_PASS",
            _ => "UPDATE_COMPLETE",
        })
    });
    sim.add(Task, "t1", Lineage::default(), false);
    let now = sim.now;
    sim.input(Input::Control {
        now,
        command: Control::Pause,
    });
    sim.run(10);
    assert!(sim.trace.is_empty(), "nothing runs while paused");
    sim.input(Input::Control {
        now,
        command: Control::Resume,
    });
    sim.run(50);
    assert_eq!(trace(&sim), ["builder", "checker", "updater"]);
}

#[test]
fn stop_now_kills_the_running_stage_and_stop_drains_to_exit() {
    let sim = Sim::new("default_codex", |_, _, _| Answer::of("BUILDER_COMPLETE"));
    let now = sim.now;
    let item = claimed_task("t1");
    let (state, _) = step(
        &sim.plan,
        &sim.rules,
        &sim.state,
        Input::Claimed {
            now,
            plane: millrace::plan::Plane::Execution,
            item,
        },
    );
    let (state, effects) = step(
        &sim.plan,
        &sim.rules,
        &state,
        Input::Control {
            now,
            command: Control::StopNow,
        },
    );
    assert!(effects.iter().any(|e| matches!(
        e,
        Effect::Kill {
            plane: millrace::plan::Plane::Execution
        }
    )));
    let (state, effects) = step(
        &sim.plan,
        &sim.rules,
        &state,
        Input::Tick {
            now,
            world: World::default(),
        },
    );
    assert!(
        effects.iter().all(|e| !matches!(e, Effect::Exit)),
        "a stage is still pending"
    );
    let (state, _) = step(
        &sim.plan,
        &sim.rules,
        &state,
        Input::Interrupted {
            now,
            plane: millrace::plan::Plane::Execution,
            reason: "killed".into(),
        },
    );
    let (state, effects) = step(
        &sim.plan,
        &sim.rules,
        &state,
        Input::Tick {
            now,
            world: World::default(),
        },
    );
    assert!(effects.iter().any(|e| matches!(e, Effect::Exit)));
    let (state, _) = step(&sim.plan, &sim.rules, &state, Input::Shutdown { now });
    assert!(
        !state.stop_requested && !state.process_running,
        "the next start is not wedged"
    );
    assert_eq!(
        state.active_runs[&millrace::plan::Plane::Execution].node,
        "builder",
        "and resumes the item"
    );
}

#[test]
fn retry_active_requeues_the_item() {
    let sim = Sim::new("default_codex", |_, _, _| Answer::of("BLOCKED"));
    let now = sim.now;
    let item = claimed_task("t1");
    let (state, _) = step(
        &sim.plan,
        &sim.rules,
        &sim.state,
        Input::Claimed {
            now,
            plane: millrace::plan::Plane::Execution,
            item,
        },
    );
    let retry = Control::RetryActive {
        plane: None,
        reason: "operator".into(),
    };
    let (state, effects) = step(
        &sim.plan,
        &sim.rules,
        &state,
        Input::Control { now, command: retry },
    );
    assert!(
        effects.iter().any(|e| matches!(e, Effect::Kill { .. })),
        "the running stage is killed first"
    );
    let run = &state.active_runs[&millrace::plan::Plane::Execution];
    let result = super::sim::result_for(
        &sim.plan,
        run,
        run.pending_request_id.as_deref().unwrap(),
        &Answer::of("BLOCKED"),
        now,
    );
    let (state, effects) = step(
        &sim.plan,
        &sim.rules,
        &state,
        Input::Finished {
            now,
            result: Box::new(result),
            result_path: "r".into(),
        },
    );
    assert!(state.active_runs.is_empty());
    assert!(effects.iter().any(|e| matches!(
        e,
        Effect::MoveItem {
            to: QueueState::Queued,
            ..
        }
    )));
}

#[test]
fn learning_triggers_file_requests_and_learning_runs_beside_execution() {
    let mut sim = Sim::new("learning_codex", |node, _, _| {
        Answer::of(match node {
            "builder" => "BUILDER_COMPLETE",
            "checker" => "FIX_NEEDED",
            "fixer" => "FIXER_COMPLETE",
            "doublechecker" => "DOUBLECHECK_PASS",
            "updater" => "UPDATE_COMPLETE",
            "curator" => "CURATOR_COMPLETE",
            _ => "BLOCKED",
        })
    });
    sim.add(Task, "t1", Lineage::default(), false);
    sim.run(100);
    assert!(sim.events.iter().any(|e| e == "learning_request_enqueued"));
    let request = sim
        .items
        .iter()
        .find(|i| i.kind == millrace::plan::WorkItemKind::LearningRequest)
        .unwrap();
    assert_eq!(request.state, QueueState::Done);
    assert!(
        sim.trace.contains(&"learning/curator".to_string()),
        "{:?}",
        sim.trace
    );
    assert_eq!(sim.state_of("t1"), Some(QueueState::Done));
}

#[test]
fn a_failed_completion_goes_to_the_repair_node_once() {
    let sim = Sim::new("default_codex", |_, _, _| Answer::of("BUILDER_COMPLETE"));
    let now = sim.now;
    let item = claimed_task("t1");
    let (state, _) = step(
        &sim.plan,
        &sim.rules,
        &sim.state,
        Input::Claimed {
            now,
            plane: millrace::plan::Plane::Execution,
            item,
        },
    );
    let run = state.active_runs[&millrace::plan::Plane::Execution].clone();
    let result = super::sim::result_for(
        &sim.plan,
        &run,
        run.pending_request_id.as_deref().unwrap(),
        &Answer::of("BUILDER_COMPLETE"),
        now,
    );
    let error = ApplyError {
        code: "execution_post_stage_apply_failed".into(),
        message: "disk full".into(),
    };
    let (state, effects) = step(
        &sim.plan,
        &sim.rules,
        &state,
        Input::ApplyFailed {
            now,
            result: Box::new(result),
            result_path: "r".into(),
            error,
        },
    );
    let run = &state.active_runs[&millrace::plan::Plane::Execution];
    assert_eq!(run.node, "troubleshooter");
    assert_eq!(
        run.runtime_error.as_ref().map(|e| e.code.as_str()),
        Some("execution_post_stage_apply_failed")
    );
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::WriteRuntimeErrorReport { .. }))
    );
    // The same failure on the repair node itself blocks the item instead.
    let result = super::sim::result_for(
        &sim.plan,
        run,
        run.pending_request_id.as_deref().unwrap(),
        &Answer::of("TROUBLESHOOT_COMPLETE"),
        now,
    );
    let error = ApplyError {
        code: "execution_post_stage_apply_failed".into(),
        message: "disk full".into(),
    };
    let (state, effects) = step(
        &sim.plan,
        &sim.rules,
        &state,
        Input::ApplyFailed {
            now,
            result: Box::new(result),
            result_path: "r".into(),
            error,
        },
    );
    assert!(state.active_runs.is_empty());
    assert!(effects.iter().any(|e| matches!(
        e,
        Effect::MoveItem {
            to: QueueState::Blocked,
            ..
        }
    )));
}

#[test]
fn a_run_over_its_token_budget_is_blocked_with_its_own_reason() {
    let mut sim = Sim::new("default_codex", |node, _, _| {
        Answer::of(match node {
            "builder" => "BUILDER_COMPLETE",
            "checker" => "CHECKER_PASS",
            _ => "UPDATE_COMPLETE",
        })
        .tokens(2000)
    });
    sim.rules.budgets.per_run_tokens = Some(3000);
    sim.add(Task, "t1", Lineage::default(), false);
    sim.run(50);
    assert_eq!(
        trace(&sim),
        ["builder", "checker"],
        "the second stage crosses the cap; nothing more runs"
    );
    assert_eq!(sim.state_of("t1"), Some(QueueState::Blocked));
    assert_eq!(
        sim.state.status_markers[&millrace::plan::Plane::Execution],
        "BUDGET_EXHAUSTED"
    );
    assert!(sim.events.iter().any(|e| e == "work_item_budget_exhausted"));
}

#[test]
fn governance_pauses_between_stages_and_never_clears_an_operator_pause() {
    use millrace::model::PauseSource;
    let mut sim = Sim::new("default_codex", |node, _, _| {
        Answer::of(match node {
            "builder" => "BUILDER_COMPLETE",
            "checker" => "CHECKER_PASS",
            _ => "UPDATE_COMPLETE",
        })
    });
    sim.add(Task, "t1", Lineage::default(), false);
    let blocker = Blocker {
        source: "runtime_token".into(),
        rule_id: "tiny".into(),
        detail: "720 >= 700".into(),
        resume_at: None,
        ..Blocker::default()
    };
    sim.governance = Some(GovernanceView {
        blockers: vec![blocker],
        auto_resume: true,
        cleared_rules: Vec::new(),
    });
    sim.run(10);
    assert!(sim.trace.is_empty());
    assert_eq!(sim.state.pause_sources, [PauseSource::UsageGovernance]);
    let now = sim.now;
    sim.input(Input::Control {
        now,
        command: Control::Pause,
    });
    // The window resets: governance lifts its own pause only.
    sim.governance = Some(GovernanceView {
        blockers: Vec::new(),
        auto_resume: true,
        cleared_rules: vec!["tiny".into()],
    });
    sim.run(10);
    assert_eq!(sim.state.pause_sources, [PauseSource::Operator]);
    assert!(sim.trace.is_empty(), "the operator pause still holds");
    sim.input(Input::Control {
        now,
        command: Control::Resume,
    });
    sim.run(50);
    assert_eq!(trace(&sim), ["builder", "checker", "updater"]);
}

#[test]
fn a_quota_stop_pauses_until_the_reset_and_reruns_the_same_node() {
    use jiff::ToSpan;
    use millrace::model::PauseSource;
    let reset = Timestamp::from_second(1_800_003_600).unwrap();
    let mut sim = Sim::new("default_codex", move |node, attempt, _| match (node, attempt) {
        ("builder", 0) => {
            let mut a = Answer::of("BLOCKED");
            a.failure = Some(FailureClass::QuotaExhausted);
            a.quota_reset_at = Some(reset);
            a
        }
        ("builder", _) => Answer::of("BUILDER_COMPLETE"),
        ("checker", _) => Answer::of("CHECKER_PASS"),
        _ => Answer::of("UPDATE_COMPLETE"),
    });
    sim.add(Task, "t1", Lineage::default(), false);
    sim.run(20);
    assert_eq!(trace(&sim), ["builder"]);
    assert_eq!(sim.state.pause_sources, [PauseSource::UsageGovernance]);
    assert_eq!(
        sim.state.active_runs[&millrace::plan::Plane::Execution].node,
        "builder",
        "not routed to recovery"
    );
    sim.now = reset + 1.second();
    sim.run(50);
    assert_eq!(trace(&sim), ["builder", "builder", "checker", "updater"]);
    assert!(sim.state.pause_sources.is_empty());
}

#[test]
fn a_verdict_after_a_result_holds_the_chained_next_stage() {
    use millrace::model::PauseSource;
    let mut sim = Sim::new("default_codex", |node, _, _| {
        Answer::of(match node {
            "builder" => "BUILDER_COMPLETE",
            "checker" => "CHECKER_PASS",
            _ => "UPDATE_COMPLETE",
        })
        .tokens(900)
    });
    sim.add(Task, "t1", Lineage::default(), false);
    sim.after_stage = Some(GovernanceView {
        blockers: vec![Blocker {
            source: "runtime_token".into(),
            rule_id: "rolling".into(),
            window: "rolling_5h".into(),
            observed: 900.0,
            threshold: 800.0,
            ..Blocker::default()
        }],
        auto_resume: true,
        cleared_rules: Vec::new(),
    });
    sim.run(20);
    assert_eq!(trace(&sim), ["builder"], "the checker waits for the window");
    assert_eq!(sim.state.pause_sources, [PauseSource::UsageGovernance]);
    assert_eq!(
        sim.state.active_runs[&millrace::plan::Plane::Execution].node,
        "checker",
        "the result was routed; only dispatch waits"
    );
    sim.governance = Some(GovernanceView {
        blockers: Vec::new(),
        auto_resume: true,
        cleared_rules: vec!["rolling".into()],
    });
    sim.run(50);
    assert_eq!(trace(&sim), ["builder", "checker", "updater"]);
    assert!(sim.events.iter().any(|e| e == "usage_governance_resumed"));
}

fn transient(outcome: &str) -> Answer {
    let mut a = Answer::of(outcome);
    a.failure = Some(FailureClass::ProviderTransient);
    a
}

type Builds = std::rc::Rc<std::cell::Cell<u32>>;

/// A campaign whose builder fails transiently `failures` times, then
/// completes, with the count of builder runs (an uncharged retry does not
/// advance the attempt the script is given).
fn builder_fails_transiently(
    failures: u32,
) -> (Builds, impl FnMut(&str, u32, Option<&str>) -> Answer + 'static) {
    let builds = std::rc::Rc::new(std::cell::Cell::new(0));
    let seen = builds.clone();
    let script = move |node: &str, _: u32, _: Option<&str>| match node {
        "builder" => {
            seen.set(seen.get() + 1);
            if seen.get() <= failures {
                transient("BLOCKED")
            } else {
                Answer::of("BUILDER_COMPLETE")
            }
        }
        "checker" => Answer::of("CHECKER_PASS"),
        _ => Answer::of("UPDATE_COMPLETE"),
    };
    (builds, script)
}

#[test]
fn a_transient_provider_failure_retries_the_stage_uncharged_after_a_backoff() {
    let (builds, script) = builder_fails_transiently(2);
    let mut sim = Sim::new("default_codex", script);
    sim.rules.retries = millrace::engine::Retries {
        limit: 3,
        backoff_seconds: 4,
    };
    sim.add(Task, "t1", Lineage::default(), false);
    sim.run_for(40);
    assert_eq!(sim.state_of("t1"), Some(QueueState::Done), "{:?}", sim.trace);
    assert_eq!(
        trace(&sim),
        ["builder", "builder", "builder", "checker", "updater"],
        "retried in place, never routed to recovery"
    );
    let retries = sim
        .events
        .iter()
        .filter(|e| *e == "stage_retry_scheduled")
        .count();
    assert_eq!(retries, 2);
    assert_eq!(builds.get(), 3);
    assert!(
        !sim.events.iter().any(|e| e == "harness_paused"),
        "{:?}",
        sim.events
    );
}

#[test]
fn a_provider_that_keeps_failing_pauses_and_lifts_by_itself() {
    let (builds, script) = builder_fails_transiently(3);
    let mut sim = Sim::new("default_codex", script);
    sim.rules.retries = millrace::engine::Retries {
        limit: 2,
        backoff_seconds: 2,
    };
    sim.add(Task, "t1", Lineage::default(), false);
    // Two retries (after 2 s and 4 s), then the third failure pauses.
    sim.run_for(12);
    assert_eq!(builds.get(), 3, "{:?}", sim.trace);
    assert_eq!(
        sim.state.pause_sources,
        vec![millrace::model::PauseSource::HarnessFailed]
    );
    let pause = sim.state.harness_pause.clone().expect("the pause says why");
    assert_eq!(pause.failure_class, "provider_transient");
    assert!(pause.resume_at.is_some(), "it lifts by itself");
    let marker = &sim.state.status_markers[&millrace::plan::Plane::Execution];
    assert_eq!(marker, "PAUSED", "no stage runs: the marker does not say RUNNING");
    assert_eq!(sim.state_of("t1"), Some(QueueState::Active), "nothing blocked");
    // After the wait the pause lifts and the stage runs again.
    sim.run_for(40);
    assert!(sim.state.pause_sources.is_empty());
    assert_eq!(sim.state_of("t1"), Some(QueueState::Done), "{:?}", sim.trace);
    assert!(!trace(&sim).contains(&"troubleshooter"));
}

#[test]
fn a_second_runtime_owned_error_in_a_run_blocks_the_item_instead_of_looping() {
    // The troubleshooter repairs the first error; the builder's next result
    // fails to apply as well (its file is still gone): that blocks, where
    // before the run went round repair, builder, ... until its fuel ran out.
    let sim = Sim::new("default_codex", |_, _, _| Answer::of("BUILDER_COMPLETE"));
    let now = sim.now;
    let plane = millrace::plan::Plane::Execution;
    let (mut state, _) = step(
        &sim.plan,
        &sim.rules,
        &sim.state,
        Input::Claimed {
            now,
            plane,
            item: claimed_task("t1"),
        },
    );
    let error = || ApplyError {
        code: "execution_work_item_completion_conflict".into(),
        message: "task `t1` is not active".into(),
    };
    for (answer, fails) in [
        ("BUILDER_COMPLETE", true),
        ("TROUBLESHOOT_COMPLETE", false),
        ("BUILDER_COMPLETE", true),
    ] {
        let run = state.active_runs[&plane].clone();
        let request = run.pending_request_id.clone().unwrap();
        let result = super::sim::result_for(&sim.plan, &run, &request, &Answer::of(answer), now);
        let input = match fails {
            true => Input::ApplyFailed {
                now,
                result: Box::new(result),
                result_path: "r".into(),
                error: error(),
            },
            false => Input::Finished {
                now,
                result: Box::new(result),
                result_path: "r".into(),
            },
        };
        let effects;
        (state, effects) = step(&sim.plan, &sim.rules, &state, input);
        if answer == "TROUBLESHOOT_COMPLETE" {
            assert_eq!(state.active_runs[&plane].node, "builder");
        }
        if state.active_runs.is_empty() {
            assert!(fails && answer == "BUILDER_COMPLETE");
            let blocked = effects.iter().any(|e| {
                matches!(e, Effect::MoveItem { to: QueueState::Blocked, reason: Some(r), .. }
                    if r.contains("execution_work_item_completion_conflict"))
            });
            assert!(blocked, "{effects:?}");
            return;
        }
        assert_eq!(state.active_runs[&plane].runtime_errors, 1);
    }
    panic!("the second runtime-owned error did not block the item");
}
