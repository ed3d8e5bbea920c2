//! Gates in the pure engine: a gate's decision routes like any outcome
//! (a bounded REVISE loop back to the planner), and a gate's wait spends
//! no fuel.

use super::sim::{Answer, Sim};
use millrace::model::{Lineage, QueueState};
use millrace::plan::WorkItemKind::Spec;

fn trace(sim: &Sim) -> Vec<&str> {
    sim.trace
        .iter()
        .map(|s| s.split('/').nth(1).unwrap_or(""))
        .collect()
}

/// `reviewed_codex` with the plan-review gate answering REVISE on its first
/// visit and APPROVED after; every other stage passes.
fn reviewed(max_stage_runs: u32) -> Sim {
    let mut sim = Sim::new("reviewed_codex", |stage, attempt, _| match stage {
        "plan_review" if attempt == 0 => Answer::of("REVISE"),
        "plan_review" => Answer::of("APPROVED"),
        "planner" => Answer::of("PLANNER_COMPLETE"),
        "manager" => Answer::of("MANAGER_COMPLETE"),
        _ => Answer::of("ARBITER_COMPLETE"),
    });
    sim.rules.max_stage_runs_per_item = max_stage_runs;
    sim.add(Spec, "s1", Lineage::default(), false);
    sim.run(200);
    sim
}

#[test]
fn a_revise_decision_goes_back_to_the_planner_then_approval_reaches_the_manager() {
    let sim = reviewed(40);
    assert_eq!(
        trace(&sim),
        ["planner", "plan_review", "planner", "plan_review", "manager"]
    );
    assert_eq!(sim.state_of("s1"), Some(QueueState::Done));
}

#[test]
fn a_gate_wait_spends_no_fuel() {
    // Three stage runs (planner twice, manager) fit a budget of three only
    // because the two gate waits are not charged.
    let sim = reviewed(3);
    assert_eq!(sim.state_of("s1"), Some(QueueState::Done), "{:?}", sim.trace);
    assert!(!sim.events.iter().any(|e| e.contains("fuel")), "{:?}", sim.events);
}
