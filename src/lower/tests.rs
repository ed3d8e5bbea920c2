use super::*;
use crate::diag::{Diagnostics, Layer};

fn program(extra: &str) -> (Program, Sources) {
    let mut sources = Sources::new();
    crate::check::add_builtin_sources(&mut sources);
    if !extra.is_empty() {
        sources.add("extra.mill", extra, Layer::Workspace);
    }
    let mut diags = Diagnostics::new();
    let program = crate::check::check_sources(&sources, &mut diags).expect("sources check clean");
    (program, sources)
}

fn node<'p>(plan: &'p Plan, plane: Plane, name: &str) -> &'p NodeRow {
    &plan.nodes[plan.node_named(plane, name).expect("node exists")]
}

#[test]
fn plan_ids_are_stable_and_aliases_share_them() {
    let (p, s) = program("");
    let a = lower(&p, &s, "default_codex", &PlanSettings::default()).unwrap();
    let b = lower(&p, &s, "standard_plain", &PlanSettings::default()).unwrap();
    assert_eq!(a.plan_id, b.plan_id);
    assert_eq!(a.fingerprint, a.compute_fingerprint());
    a.validate().unwrap();
    let reloaded = Plan::from_json(&a.to_json()).unwrap();
    assert_eq!(reloaded, a);
}

#[test]
fn source_positions_do_not_change_the_fingerprint() {
    let (p, s) = program("");
    let plain = lower(&p, &s, "default_codex", &PlanSettings::default()).unwrap();
    // The same program seen through a file with extra blank lines and a
    // comment: spans move, semantics do not.
    let (p2, s2) = program("\n\n# nothing here\n\nalias spare = default_codex\n");
    let moved = lower(&p2, &s2, "default_codex", &PlanSettings::default()).unwrap();
    assert_eq!(plain.fingerprint, moved.fingerprint);
}

#[test]
fn bindings_follow_precedence() {
    let (p, s) = program(
        "mode layered extends default_codex {\n    runner checker = claude_code\n    timeout * = 100\n    timeout builder = 200\n}\n",
    );
    let mut settings = PlanSettings::default();
    settings.stages.insert(
        "builder".into(),
        StageOverride {
            runner: Some("pi_rpc".into()),
            timeout_seconds: Some(300),
            ..Default::default()
        },
    );
    let plan = lower(&p, &s, "layered", &settings).unwrap();
    assert_eq!(node(&plan, Plane::Execution, "checker").runner, "claude_code");
    assert_eq!(node(&plan, Plane::Execution, "checker").timeout_seconds, 100);
    assert_eq!(node(&plan, Plane::Execution, "fixer").runner, "codex_cli");
    assert_eq!(node(&plan, Plane::Execution, "builder").runner, "pi_rpc");
    assert_eq!(node(&plan, Plane::Execution, "builder").timeout_seconds, 300);
}

#[test]
fn counter_limits_come_from_settings() {
    let (p, s) = program("");
    let mut settings = PlanSettings::default();
    settings.recovery.max_fix_cycles = Some(5);
    let plan = lower(&p, &s, "default_codex", &settings).unwrap();
    let l = plan.loop_for(Plane::Execution).unwrap();
    let fix = plan.counter_named(l, "fix_cycles").unwrap();
    assert_eq!(plan.counters[fix].limit, 5);
    let default = lower(&p, &s, "default_codex", &PlanSettings::default()).unwrap();
    assert_ne!(default.plan_id, plan.plan_id, "limits are part of the plan");
    let fix = default.counter_named(l, "fix_cycles").unwrap();
    assert_eq!(
        default.counters[fix].limit, 2,
        "unset, the loop's own limit holds"
    );
}

#[test]
fn settings_are_checked_against_the_program() {
    let (p, s) = program(
        "stage pinned {\n    plane execution\n    entrypoint \"entrypoints/execution/pinned.md\"\n    fixed runner\n    outcomes {\n        DONE: success\n        BLOCKED: blocked | recoverable_failure\n    }\n}\nloop execution.pinned {\n    plane execution\n    entry task -> pinned\n    pinned {\n        DONE -> finish done\n        BLOCKED -> finish blocked\n    }\n    terminal done: success\n    terminal blocked: blocked\n}\nmode pinned extends default_codex {\n    execution = execution.pinned\n}\n",
    );
    let code = |settings: &PlanSettings| {
        let e = lower(&p, &s, "pinned", settings).unwrap_err();
        crate::diag::code_of(&e)
    };
    let mut unknown = PlanSettings::default();
    unknown.stages.insert("bulider".into(), StageOverride::default());
    assert_eq!(code(&unknown), "mill::lower::unknown_config_stage");
    let mut runner = PlanSettings::default();
    runner.stages.insert(
        "builder".into(),
        StageOverride {
            runner: Some("codex".into()),
            ..Default::default()
        },
    );
    assert_eq!(code(&runner), "mill::lower::unknown_config_runner");
    let mut fixed = PlanSettings::default();
    fixed.stages.insert(
        "pinned".into(),
        StageOverride {
            runner: Some("pi_rpc".into()),
            ..Default::default()
        },
    );
    assert_eq!(code(&fixed), "mill::lower::fixed_override");
    assert_eq!(
        crate::diag::code_of(&lower(&p, &s, "nope", &PlanSettings::default()).unwrap_err()),
        "mill::lower::unknown_mode"
    );
}

#[test]
fn stage_defaults_sit_below_every_binding_and_fixed_makes_them_final() {
    let text = "stage suite {\n    plane execution\n    entrypoint \"entrypoints/execution/checker.md\"\n    runner command\n    timeout 900\n    fixed runner\n    outcomes {\n        PASS: success\n        BLOCKED: blocked | recoverable_failure\n    }\n}\nloop execution.suite {\n    plane execution\n    entry task -> suite\n    suite {\n        PASS -> finish done\n        BLOCKED -> finish blocked\n    }\n    terminal done: success\n    terminal blocked: blocked\n}\nmode suite extends default_codex {\n    execution = execution.suite\n    timeout * = 60\n}\n";
    let (p, s) = program(text);
    let plan = lower(&p, &s, "suite", &PlanSettings::default()).unwrap();
    let suite = node(&plan, Plane::Execution, "suite");
    assert_eq!(
        suite.runner, "command",
        "the wildcard runner binding does not touch a fixed runner"
    );
    assert_eq!(
        suite.timeout_seconds, 60,
        "a mode binding wins over the stage default"
    );
}

#[test]
fn hand_edited_ids_and_cross_loop_routes_are_refused() {
    let (p, s) = program("");
    let plan = lower(&p, &s, "default_codex", &PlanSettings::default()).unwrap();
    let mut renamed = plan.clone();
    renamed.plan_id = "plan-default_codex-000000000000".into();
    assert!(matches!(
        Plan::from_json(&renamed.to_json()),
        Err(crate::plan::PlanLoadError::FingerprintMismatch)
    ));
    let planning_node = plan.node_named(Plane::Planning, "planner").unwrap();
    let mut crossed = plan.clone();
    if let Some(row) = crossed.branches.get_mut(BranchId(0)) {
        row.dest = Dest::Node(planning_node);
    }
    crossed.seal();
    assert!(matches!(
        Plan::from_json(&crossed.to_json()),
        Err(crate::plan::PlanLoadError::Dangling { .. })
    ));
}

#[test]
fn tampered_plans_are_refused() {
    let (p, s) = program("");
    let plan = lower(&p, &s, "learning_codex", &PlanSettings::default()).unwrap();
    let text = plan.to_json();
    let tampered = text.replacen("\"limit\": 2", "\"limit\": 9", 1);
    assert!(matches!(
        Plan::from_json(&tampered),
        Err(crate::plan::PlanLoadError::FingerprintMismatch)
    ));
    let future = text.replacen("\"schema_version\": 1", "\"schema_version\": 7", 1);
    assert!(matches!(
        Plan::from_json(&future),
        Err(crate::plan::PlanLoadError::UnsupportedVersion { .. })
    ));
    assert!(matches!(
        Plan::from_json("{"),
        Err(crate::plan::PlanLoadError::Malformed { .. })
    ));
    let mut broken = plan.clone();
    if let Some(row) = broken.branches.get_mut(BranchId(0)) {
        row.dest = Dest::Node(NodeId(999));
    }
    broken.seal();
    assert!(matches!(
        Plan::from_json(&broken.to_json()),
        Err(crate::plan::PlanLoadError::Dangling { .. })
    ));
}
