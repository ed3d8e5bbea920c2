//! The compiler as a library: shipped modes compile clean with stable plan
//! ids, termination proofs on tricky graphs, and no panic on any input.

mod fuzz;
mod termination;

use millrace::diag::{Diagnostics, Layer, Sources};
use millrace::lower::{PlanSettings, lower};

pub(crate) fn compile(extra: &str) -> (Option<millrace::check::hir::Program>, Diagnostics, Sources) {
    let mut sources = Sources::new();
    millrace::check::add_builtin_sources(&mut sources);
    if !extra.is_empty() {
        sources.add("case.mill", extra, Layer::Workspace);
    }
    let mut diags = Diagnostics::new();
    let program = millrace::check::check_sources(&sources, &mut diags);
    diags.sort();
    (program, diags, sources)
}

const MODES: &[&str] = &[
    "default_codex",
    "default_pi",
    "default_claude",
    "default_gemini",
    "learning_codex",
    "learning_pi",
];

/// Plan ids of every shipped mode, as committed in `tests/compile/plan_ids.txt`.
/// A change here is a change of runtime behaviour: review it, then bless with
/// `MILL_BLESS=1`.
#[test]
fn shipped_modes_compile_clean_with_stable_plan_ids() {
    let (program, diags, sources) = compile("");
    assert!(
        diags.is_empty(),
        "shipped loops have diagnostics: {:?}",
        diags.codes()
    );
    let program = program.unwrap();
    let mut actual = String::new();
    for mode in MODES {
        let plan = lower(&program, &sources, mode, &PlanSettings::default()).unwrap();
        let again = lower(&program, &sources, mode, &PlanSettings::default()).unwrap();
        assert_eq!(
            plan.to_json(),
            again.to_json(),
            "lowering {mode} is deterministic"
        );
        actual.push_str(&format!("{mode} {} {}\n", plan.plan_id, plan.fingerprint));
    }
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/compile/plan_ids.txt");
    if std::env::var_os("MILL_BLESS").is_some() {
        std::fs::write(&path, &actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(
        actual, expected,
        "shipped plan ids changed; review and bless with MILL_BLESS=1"
    );
}

/// The readable listing (`compile show`) of every shipped mode, committed in
/// `tests/compile/plans/<mode>.txt`: a change of routing, counters or
/// bindings shows as a diff of these files instead of a changed hash.
/// Review the diff, then bless with `MILL_BLESS=1`.
#[test]
fn shipped_plan_listings_match_their_golden_files() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/compile/plans");
    let bless = std::env::var_os("MILL_BLESS").is_some();
    let mut differ = Vec::new();
    for mode in MODES {
        let listing = millrace::compile::builtin(mode).unwrap().dump();
        let path = dir.join(format!("{mode}.txt"));
        if bless {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &listing).unwrap();
        }
        let expected = std::fs::read_to_string(&path).unwrap_or_default();
        if listing != expected {
            let diff = similar::TextDiff::from_lines(&expected, &listing)
                .unified_diff()
                .header("golden", "compiled")
                .to_string();
            differ.push(format!("{mode}:\n{diff}"));
        }
    }
    assert!(
        differ.is_empty(),
        "plan listings changed (review, then MILL_BLESS=1):\n{}",
        differ.join("\n")
    );
}

#[test]
fn the_standard_alias_compiles_to_the_codex_plan() {
    let (program, _, sources) = compile("");
    let program = program.unwrap();
    let alias = lower(&program, &sources, "standard_plain", &PlanSettings::default()).unwrap();
    let codex = lower(&program, &sources, "default_codex", &PlanSettings::default()).unwrap();
    assert_eq!(alias.plan_id, codex.plan_id);
}

#[test]
fn learning_modes_freeze_triggers_and_concurrency() {
    let (program, _, sources) = compile("");
    let plan = lower(
        &program.unwrap(),
        &sources,
        "learning_codex",
        &PlanSettings::default(),
    )
    .unwrap();
    let rules: Vec<&str> = plan.triggers.iter().map(|t| t.rule_id.as_str()).collect();
    assert_eq!(
        rules,
        [
            "execution.doublechecker.doublecheck_pass-to-curator",
            "execution.troubleshooter.troubleshoot_complete+blocked-to-analyst",
            "execution.consultant.consult_complete+needs_planning+blocked-to-analyst",
        ]
    );
    use millrace::plan::Plane::*;
    assert!(plan.concurrency.may_overlap(Learning, Execution));
    assert!(plan.concurrency.may_overlap(Learning, Planning));
    assert!(!plan.concurrency.may_overlap(Execution, Planning));
    assert!(plan.closure().is_some());
}
