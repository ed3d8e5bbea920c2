//! The termination proof on small graphs: what it must accept and reject.

use super::compile;

/// The codes of the errors (not warnings) a text compiles with.
fn codes(text: &str) -> Vec<String> {
    let (_, diags, _) = compile(text);
    diags
        .iter()
        .filter(|d| millrace::diag::is_error(d.as_ref()))
        .map(|d| millrace::diag::code_of(d.as_ref()))
        .collect()
}

/// A loop of the given routes over the shipped execution stages, with
/// counters `a` and `b` and terminals `done`/`blocked`.
fn execution_loop(body: &str) -> String {
    format!(
        "loop execution.t {{\n    plane execution\n    entry task -> builder\n    counter a limit 2\n    counter b limit 2\n{body}\n    terminal done: success\n    terminal blocked: blocked\n}}\n"
    )
}

#[test]
fn an_unguarded_self_loop_is_unbounded() {
    let text = execution_loop(
        "    builder {\n        BUILDER_COMPLETE -> finish done\n        BLOCKED -> builder\n    }\n    checker { CHECKER_PASS -> finish done  FIX_NEEDED -> builder count a else finish blocked  BLOCKED -> builder count b else finish blocked }",
    );
    assert!(codes(&text).contains(&"mill::check::unbounded_cycle".to_string()));
}

#[test]
fn a_guarded_self_loop_is_bounded() {
    let text = execution_loop(
        "    builder {\n        BUILDER_COMPLETE -> finish done\n        BLOCKED -> builder count a else finish blocked\n    }\n    checker { CHECKER_PASS -> finish done  FIX_NEEDED -> builder count b else finish blocked  BLOCKED -> finish blocked }",
    );
    let found = codes(&text);
    assert!(
        !found.contains(&"mill::check::unbounded_cycle".to_string()),
        "{found:?}"
    );
}

#[test]
fn nested_cycles_each_need_a_guard() {
    // builder <-> checker is guarded by `a`; checker <-> fixer is not.
    let text = execution_loop(
        "    builder { BUILDER_COMPLETE -> checker  BLOCKED -> finish blocked }\n    checker { CHECKER_PASS -> finish done  FIX_NEEDED -> builder count a else finish blocked  BLOCKED -> fixer }\n    fixer { FIXER_COMPLETE -> checker  BLOCKED -> finish blocked }",
    );
    assert_eq!(codes(&text), ["mill::check::unbounded_cycle"]);
    let (_, diags, sources) = compile(&text);
    let shown = millrace::diag::render_human(diags.iter(), &sources, millrace::diag::RenderOptions::plain());
    assert!(shown.contains("checker → fixer → checker"), "{shown}");
}

#[test]
fn nested_cycles_with_guards_on_both_are_bounded() {
    let text = execution_loop(
        "    builder { BUILDER_COMPLETE -> checker  BLOCKED -> finish blocked }\n    checker { CHECKER_PASS -> finish done  FIX_NEEDED -> builder count a else finish blocked  BLOCKED -> fixer count b else finish blocked }\n    fixer { FIXER_COMPLETE -> checker  BLOCKED -> finish blocked }",
    );
    assert!(codes(&text).is_empty(), "{:?}", codes(&text));
}

#[test]
fn a_reset_on_the_cycle_defeats_its_guard() {
    let text = execution_loop(
        "    builder { BUILDER_COMPLETE -> checker  BLOCKED -> finish blocked }\n    checker { CHECKER_PASS -> finish done  FIX_NEEDED -> builder count a else finish blocked  BLOCKED -> finish blocked }",
    )
    .replace("BUILDER_COMPLETE -> checker", "BUILDER_COMPLETE -> checker reset a");
    assert!(codes(&text).contains(&"mill::check::unbounded_cycle".to_string()));
}

#[test]
fn a_reset_by_a_bounded_cycle_is_fine() {
    // Cycle 1 (builder<->checker) is guarded by `a`; cycle 2 (checker<->fixer)
    // resets `a` but is itself guarded by `b`, which nothing resets: `a` is
    // reset at most `limit(b)` times, so both are bounded.
    let text = execution_loop(
        "    builder { BUILDER_COMPLETE -> checker  BLOCKED -> finish blocked }\n    checker { CHECKER_PASS -> finish done  FIX_NEEDED -> builder count a else finish blocked  BLOCKED -> fixer count b else finish blocked }\n    fixer { FIXER_COMPLETE -> checker reset a  BLOCKED -> finish blocked }",
    );
    assert!(codes(&text).is_empty(), "{:?}", codes(&text));
}

#[test]
fn resume_targets_count_as_edges() {
    // A troubleshooter that may resume at itself loops forever.
    let text = execution_loop(
        "    builder { BUILDER_COMPLETE -> finish done  BLOCKED -> troubleshooter count a else finish blocked }\n    troubleshooter { TROUBLESHOOT_COMPLETE -> resume result.resume_stage default builder  BLOCKED -> finish blocked }",
    );
    let found = codes(&text);
    assert!(
        found.contains(&"mill::check::unbounded_cycle".to_string()),
        "{found:?}"
    );
    let fixed = text.replace("default builder", "default builder except troubleshooter");
    assert!(codes(&fixed).is_empty(), "{:?}", codes(&fixed));
}

#[test]
fn the_closure_counter_bounds_reactivation() {
    let base = "loop planning.c {\n    plane planning\n    entry spec -> planner\n    entry incident -> auditor\n    counter tries limit 2\n    planner { PLANNER_COMPLETE -> finish done  BLOCKED -> finish blocked }\n    auditor { AUDITOR_COMPLETE -> planner  BLOCKED -> finish blocked }\n    closure arbiter when backlog_drained COUNT {\n        ARBITER_COMPLETE -> finish done\n        REMEDIATION_NEEDED -> finish gap\n        BLOCKED -> finish blocked\n    }\n    terminal gap: followup_needed opens incident\n    terminal done: success\n    terminal blocked: blocked\n}\n";
    let bounded = base.replace("COUNT", "count tries");
    assert!(codes(&bounded).is_empty(), "{:?}", codes(&bounded));
    let unbounded = base.replace("COUNT", "");
    let found = codes(&unbounded);
    assert!(
        found.contains(&"mill::check::unbounded_cycle".to_string()),
        "{found:?}"
    );
}
