//! One function per reader of untrusted input: feed it bytes, and it runs
//! the real reader plus the properties that must hold for what it accepts.
//! A panic is a bug.
//!
//! Shared by the fuzz targets (`fuzz/fuzz_targets/*`, which include this
//! file), the property tests (`props.rs`) and the regression inputs
//! (`regressions.rs`), so all three check the same thing. It may use only
//! `millrace`, `serde_json` and `jiff` (the fuzz crate's dependencies).

#![allow(dead_code)]

use millrace::diag::{Diagnostics, Layer, RenderOptions, Sources};
use millrace::model::WorkDocument;
use millrace::plan::{Plan, Plane, WorkItemKind};

/// A reader check: bytes in, a panic on a bug.
pub type Reader = fn(&[u8]);

/// The readers, by name (the fuzz target and regression directory names).
pub const READERS: &[(&str, Reader)] = &[
    ("mill_compile", mill_compile),
    ("work_document", work_document),
    ("plan_load", plan_load),
    ("mailbox_envelope", mailbox_envelope),
    ("config_toml", config_toml),
    ("scripted_script", scripted_script),
    ("runtime_snapshot", runtime_snapshot),
];

fn text(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

/// `.mill` sources: parse, check, lower every mode, render diagnostics.
/// The first byte chooses whether the shipped loops are loaded beside the
/// input (they make every case slower, but let it refer to shipped names).
pub fn mill_compile(data: &[u8]) {
    let (with_builtins, rest) = match data.split_first() {
        Some((b, rest)) => (b & 1 == 1, rest),
        None => (false, data),
    };
    let mut sources = Sources::new();
    if with_builtins {
        millrace::check::add_builtin_sources(&mut sources);
    }
    sources.add("case.mill", text(rest), Layer::Workspace);
    let mut diags = Diagnostics::new();
    let program = millrace::check::check_sources(&sources, &mut diags);
    diags.sort();
    let _ = millrace::diag::render_human(diags.iter(), &sources, RenderOptions::plain());
    let _ = millrace::diag::render_json(diags.iter(), &sources);
    let Some(program) = program else { return };
    let modes: Vec<String> = program.modes.iter().map(|m| m.name.clone()).collect();
    for mode in modes {
        let settings = millrace::lower::PlanSettings::default();
        if let Ok(plan) = millrace::lower::lower(&program, &sources, &mode, &settings) {
            assert!(plan.validate().is_ok(), "a lowered plan is invalid");
            let json = serde_json::to_string(&plan).unwrap();
            let back = Plan::from_json(&json).expect("a lowered plan reloads");
            assert_eq!(back.plan_id, plan.plan_id);
            let _ = plan.dump();
        }
    }
}

const KINDS: [Option<WorkItemKind>; 5] = [
    None,
    Some(WorkItemKind::Task),
    Some(WorkItemKind::Spec),
    Some(WorkItemKind::Incident),
    Some(WorkItemKind::LearningRequest),
];

/// Work documents, markdown or JSON (first byte: kind and format). What
/// parses must render to text that parses back to the same document, and
/// to JSON that does too: nothing an operator wrote is lost.
pub fn work_document(data: &[u8]) {
    let Some((selector, rest)) = data.split_first() else {
        return;
    };
    let kind = KINDS[usize::from(selector % 5)];
    let text = text(rest);
    let parsed = if selector & 0x80 == 0 {
        WorkDocument::parse_markdown(kind, &text, "case.md")
    } else {
        WorkDocument::parse_json(kind, &text, "case.json")
    };
    let doc = match parsed {
        Ok(doc) => doc,
        Err(e) => {
            let _ = e.summary();
            return;
        }
    };
    let rendered = doc.render();
    let again = WorkDocument::parse_markdown(Some(doc.kind()), &rendered, "again.md")
        .unwrap_or_else(|e| panic!("a rendered document does not parse: {}\n{rendered}", e.summary()));
    assert_eq!(
        again, doc,
        "markdown round trip changed the document:\n{rendered}"
    );
    let json = doc.to_json();
    let back = WorkDocument::from_json_value(Some(doc.kind()), &json, "again.json")
        .unwrap_or_else(|e| panic!("a document's JSON does not parse: {}\n{json}", e.summary()));
    assert_eq!(back, doc, "JSON round trip changed the document");
}

/// `state/compiled_plan.json`: the real loader, then (for plans that pass
/// validation, fingerprint aside) a walk of the engine over the plan:
/// whatever `validate` accepts must never make the engine panic.
pub fn plan_load(data: &[u8]) {
    let text = text(data);
    if let Err(e) = Plan::from_json(&text) {
        let _ = e.to_string();
    }
    let Ok(plan) = serde_json::from_str::<Plan>(&text) else {
        return;
    };
    if plan.validate().is_err() {
        return;
    }
    let _ = plan.dump();
    engine_walk(&plan, data.len());
}

/// Drives `step` over a plan: boot, claim every kind, answer every pending
/// stage with the outcomes in turn (and resume targets naming every
/// stage), for a bounded number of steps.
pub fn engine_walk(plan: &Plan, seed: usize) {
    use millrace::engine::{ClaimedItem, Input, Rules, World, step};
    use millrace::model::{Lineage, RuntimeMode, Snapshot};

    let now = jiff::Timestamp::UNIX_EPOCH;
    let rules = Rules::default();
    let mut state = Snapshot::bootstrap(now);
    let boot = Input::Boot {
        now,
        session: "s".into(),
        mode: RuntimeMode::Daemon,
    };
    state = step(plan, &rules, &state, boot).0;
    let stages: Vec<String> = plan.stages.iter().map(|s| s.name.clone()).collect();
    let mut turn = seed;
    for round in 0..40 {
        let world = World {
            claimable: Plane::ALL.iter().copied().collect(),
            next_run_id: format!("run-{round}"),
            ..World::default()
        };
        let (next, effects) = step(plan, &rules, &state, Input::Tick { now, world });
        state = next;
        for effect in effects {
            if let millrace::engine::Effect::Claim { plane, root } = effect {
                let kinds = millrace::workspace::queue::plane_kinds(plane);
                let kind = kinds[turn % kinds.len()];
                let item = ClaimedItem {
                    kind,
                    id: format!("item-{round}"),
                    run_id: format!("run-c{round}"),
                    lineage: Lineage {
                        root_spec_id: root,
                        ..Lineage::default()
                    },
                    target_stage: stages.get(turn % stages.len().max(1)).cloned(),
                    opens_target: turn.is_multiple_of(3),
                    prior_tokens: 0,
                    prior_cost_usd: 0.0,
                };
                state = step(plan, &rules, &state, Input::Claimed { now, plane, item }).0;
            }
        }
        let pending: Vec<_> = state
            .active_runs
            .values()
            .filter(|r| r.pending_request_id.is_some())
            .cloned()
            .collect();
        for run in pending {
            turn = turn.wrapping_mul(31).wrapping_add(7);
            let Some(node) = plan.node_named(run.plane, &run.node) else {
                continue;
            };
            let outcomes: Vec<_> = plan.outcomes_of(node).map(|(_, o)| o.clone()).collect();
            let Some(outcome) = outcomes.get(turn % outcomes.len().max(1)) else {
                continue;
            };
            let mut metadata = serde_json::Map::new();
            if let Some(stage) = stages.get(turn % stages.len().max(1)) {
                metadata.insert("resume_stage".into(), stage.clone().into());
                metadata.insert("target_stage".into(), stage.clone().into());
            }
            let result = stage_result(&run, outcome, metadata);
            let input = Input::Finished {
                now,
                result: Box::new(result),
                result_path: "r.json".into(),
            };
            state = step(plan, &rules, &state, input).0;
        }
    }
    if let Err(e) = state.check() {
        panic!("the engine produced an invalid snapshot: {e}");
    }
}

fn stage_result(
    run: &millrace::model::ActiveRun,
    outcome: &millrace::plan::OutcomeRow,
    metadata: serde_json::Map<String, serde_json::Value>,
) -> millrace::model::StageResult {
    use millrace::model::{ExitKind, NormalizationSource, StageResult};
    let class = outcome
        .classes
        .first()
        .copied()
        .unwrap_or(millrace::plan::ResultClass::Success);
    StageResult {
        schema_version: 1,
        kind: "stage_result".into(),
        request_id: run.pending_request_id.clone().unwrap_or_default(),
        run_id: run.run_id.clone(),
        plane: run.plane,
        node: run.node.clone(),
        stage: run.stage.clone(),
        work_item_kind: run.work_item.as_ref().map(|w| w.kind),
        work_item_id: run.work_item.as_ref().map(|w| w.id.clone()),
        terminal_result: outcome.name.clone(),
        result_class: class,
        success: class == millrace::plan::ResultClass::Success,
        exit: ExitKind::Completed,
        exit_code: Some(0),
        failure_class: None,
        detected_marker: Some(outcome.name.clone()),
        normalization_source: NormalizationSource::FinalMessage,
        metadata,
        artifacts: Vec::new(),
        report_artifact: None,
        notes: Vec::new(),
        token_usage: None,
        cost_usd: None,
        rate_limit: None,
        rate_limits: Vec::new(),
        harness_message: None,
        stderr_tail: Vec::new(),
        quota_reset_at: None,
        runner: "scripted".into(),
        model: None,
        effort: None,
        stdout_path: None,
        stderr_path: None,
        events_path: None,
        started_at: jiff::Timestamp::UNIX_EPOCH,
        completed_at: jiff::Timestamp::UNIX_EPOCH,
        duration_seconds: 0.0,
    }
}

/// A mailbox file: the envelope and its command, under a file name.
pub fn mailbox_envelope(data: &[u8]) {
    let text = text(data);
    let name = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| {
            v.get("command_id")
                .and_then(|c| c.as_str())
                .map(|c| format!("{c}.json"))
        })
        .unwrap_or_else(|| "cmd-1.json".into());
    if let Ok((envelope, command)) = millrace::workspace::mailbox::decode_file(&name, &text) {
        assert_eq!(envelope.command, command.name());
    }
}

/// `millrace.toml`: parse, then everything the runtime derives from it.
pub fn config_toml(data: &[u8]) {
    use millrace::config::Config;
    match Config::parse(&text(data), "millrace.toml") {
        Ok(config) => {
            let _ = config.plan_settings();
        }
        Err(e) => {
            for p in e.problems() {
                assert!(p.code.starts_with("mill::config::"), "{p:?}");
            }
        }
    }
}

/// The scripted harness's script, then entry lookups.
pub fn scripted_script(data: &[u8]) {
    use millrace::runners::scripted::Script;
    let Ok(script) = Script::parse(&text(data)) else {
        return;
    };
    for stage in script
        .stages
        .keys()
        .chain(script.items.values().flat_map(|m| m.keys()))
    {
        for attempt in [0, 1, 7, u32::MAX] {
            let _ = script.entry(None, stage, stage, attempt);
            for item in script.items.keys() {
                let _ = script.entry(Some(item), stage, "node", attempt);
            }
        }
    }
}

/// `state/runtime_snapshot.json`: what loads must save and load back.
pub fn runtime_snapshot(data: &[u8]) {
    use millrace::model::Snapshot;
    let Ok(snapshot) = Snapshot::from_json(&text(data)) else {
        return;
    };
    let json = serde_json::to_string(&snapshot).unwrap();
    let back = Snapshot::from_json(&json).expect("a loaded snapshot reloads");
    assert_eq!(back, snapshot);
}
