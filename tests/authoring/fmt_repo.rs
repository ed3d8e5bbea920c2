//! Formatting every `.mill` file of the repository (the shipped loops, the
//! ui cases, the bad-input corpus and the README example): each parseable
//! file is already formatted, formatting is a fixed point, and it changes
//! neither the diagnostics nor any plan id. A file with syntax errors is
//! refused with exactly its syntax errors.

use std::path::PathBuf;

use millrace::diag::{Diagnostics, Layer, Sources};
use millrace::lower::{PlanSettings, lower};

use super::{format, mill_files, root};

/// Every `.mill` file and the README example, as (name, text).
fn repository_sources() -> Vec<(String, String)> {
    let mut files: Vec<PathBuf> = Vec::new();
    for dir in ["loops", "tests", "docs", "editors"] {
        mill_files(&root().join(dir), &mut files);
    }
    assert!(files.len() > 60, "the .mill files went missing");
    let mut out: Vec<(String, String)> = files
        .into_iter()
        .filter_map(|p| {
            let text = std::fs::read_to_string(&p).ok()?;
            Some((p.strip_prefix(root()).unwrap().display().to_string(), text))
        })
        .collect();
    out.push(("README.md example".into(), readme_example()));
    out
}

/// The `.mill` block under "A loop in `.mill`" in README.md.
pub(crate) fn readme_example() -> String {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let section = readme
        .split("## A loop in `.mill`")
        .nth(1)
        .expect("README has the example");
    let body = section.split("```").nth(1).expect("a fenced block");
    body.trim_start_matches(|c| c != '\n')
        .trim_start_matches('\n')
        .to_string()
}

fn parses(text: &str) -> bool {
    let mut diags = Diagnostics::new();
    millrace::syntax::parse_text(text, 0, &mut diags);
    !diags.has_errors()
}

/// What a compile of the shipped loops (as given) plus `extra` reports:
/// every rendered diagnostic, and every mode's plan id.
fn outcome(shipped: &[(String, String)], extra: Option<&str>) -> (String, Vec<String>) {
    let mut sources = Sources::new();
    for (name, text) in shipped {
        sources.add(format!("builtin:{name}"), text.as_str(), Layer::Builtin);
    }
    if let Some(extra) = extra {
        sources.add("case.mill", extra, Layer::Workspace);
    }
    let mut diags = Diagnostics::new();
    let program = millrace::check::check_sources(&sources, &mut diags);
    diags.sort();
    let messages: Vec<String> = diags
        .iter()
        .map(|d| format!("{:?} {d}", d.code().map(|c| c.to_string())))
        .collect();
    let mut ids = Vec::new();
    if let Some(program) = program {
        let names = program
            .modes
            .iter()
            .map(|m| m.name.clone())
            .chain(program.aliases.keys().cloned());
        for mode in names {
            match lower(&program, &sources, &mode, &PlanSettings::default()) {
                Ok(plan) => ids.push(format!("{mode} {} {}", plan.plan_id, plan.fingerprint)),
                Err(e) => ids.push(format!("{mode} {e}")),
            }
        }
    }
    (messages.join("\n"), ids)
}

fn shipped() -> Vec<(String, String)> {
    let mut files = Vec::new();
    mill_files(&root().join("loops"), &mut files);
    files
        .iter()
        .map(|p| {
            let name = p.strip_prefix(root()).unwrap().display().to_string();
            (name, std::fs::read_to_string(p).unwrap())
        })
        .collect()
}

#[test]
fn every_parseable_mill_file_is_formatted_and_a_fixed_point() {
    let mut unformatted = Vec::new();
    for (name, text) in repository_sources() {
        if !parses(&text) {
            continue;
        }
        let once = format(&name, &text);
        assert_eq!(format(&name, &once), once, "{name}: not idempotent");
        if once != text {
            unformatted.push(name);
        }
    }
    assert!(unformatted.is_empty(), "run `millrace fmt` on: {unformatted:?}");
}

#[test]
fn a_file_with_syntax_errors_is_refused_with_exactly_those_errors() {
    let mut refused = 0;
    for (name, text) in repository_sources() {
        if parses(&text) {
            continue;
        }
        let mut sources = Sources::new();
        let file = sources.add(name.as_str(), text.as_str(), Layer::Workspace);
        let mut syntax = Diagnostics::new();
        millrace::syntax::parse_file(&sources, file, &mut syntax);
        syntax.sort();
        let err = millrace::fmt::format_text(&name, &text).unwrap_err();
        let mut expected = syntax.codes();
        expected.push("mill::fmt::syntax_errors".into());
        assert_eq!(err.diags.codes(), expected, "{name}");
        refused += 1;
    }
    assert!(refused >= 8, "the syntax cases went missing ({refused})");
}

#[test]
fn formatting_the_shipped_loops_keeps_every_plan_id() {
    let before = shipped();
    let after: Vec<(String, String)> = before.iter().map(|(n, t)| (n.clone(), format(n, t))).collect();
    let (diags_before, ids_before) = outcome(&before, None);
    let (diags_after, ids_after) = outcome(&after, None);
    assert!(
        diags_before.is_empty() && diags_after.is_empty(),
        "{diags_before}\n{diags_after}"
    );
    assert!(ids_before.len() >= 6, "{ids_before:?}");
    assert_eq!(ids_before, ids_after);
}

#[test]
fn formatting_a_case_keeps_its_diagnostics_and_plan_ids() {
    let shipped = shipped();
    let mut compared = 0;
    for (name, text) in repository_sources() {
        if name.starts_with("loops/") || !parses(&text) {
            continue;
        }
        let formatted = format(&name, &text);
        let (diags_before, ids_before) = outcome(&shipped, Some(&text));
        let (diags_after, ids_after) = outcome(&shipped, Some(&formatted));
        assert_eq!(diags_before, diags_after, "{name}: diagnostics changed");
        assert_eq!(ids_before, ids_after, "{name}: plan ids changed");
        compared += 1;
    }
    assert!(compared > 50, "only {compared} cases compared");
}
