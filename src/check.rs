//! Checking parsed `.mill` files into a [`hir::Program`].
//!
//! Input: the ASTs of every file of a compile (shipped files first, then the
//! workspace's and those named on the command line). Output: the checked
//! program, or `None` when any error was reported; every problem goes to the
//! shared diagnostics sink.
//!
//! Passes, in order: names (one table per kind; a workspace file may
//! override a shipped definition, a duplicate within one layer is an error),
//! stage kinds, loops (names, routes, exhaustiveness, result-class
//! compatibility), route graphs (reachability, a path to a terminal, and the
//! termination proof), then modes. A definition that failed to resolve is
//! "poisoned": later passes skip checks that would only repeat its error,
//! and check everything around it (as rustc goes on after a resolution
//! error): a loop with an unknown stage still gets its termination and
//! liveness proofs, and the modes binding it their checks.

mod cycles;
mod error;
mod gates;
mod graph;
pub mod hir;
mod loops;
mod members;
mod modes;
mod names;
mod paths;
mod routes;
mod stages;
mod warning;

pub use error::CheckError;
pub use gates::GateWarning;
pub use warning::CheckWarning;

use crate::diag::{Diagnostics, Sources};
use crate::syntax::ast::Ast;

/// Checks every definition; returns the program when there are no errors
/// (warnings do not stop it).
pub fn check(sources: &Sources, asts: &[Ast], diags: &mut Diagnostics) -> Option<hir::Program> {
    let errors_before = diags.error_count();
    let defs = names::collect(sources, asts, diags);
    let mut program = hir::Program::default();
    let mut poisoned_stages = Vec::new();
    for decl in &defs.stages {
        let (stage, ok) = stages::check_stage(decl, diags);
        if !ok {
            poisoned_stages.push(program.stages.len());
        }
        program.stages.push(stage);
    }
    let mut poisoned_loops = Vec::new();
    for decl in &defs.loops {
        match loops::check_loop(decl, &program.stages, &poisoned_stages, diags) {
            // An error in one part of a loop hides none of the proofs on the
            // rest of it, nor the checks of modes that bind it.
            Some(checked) if checked.plane_known => {
                graph::analyze(&checked.l, &program.stages, !checked.sound, diags);
                program.loops.push(checked.l);
            }
            Some(checked) => {
                graph::analyze(&checked.l, &program.stages, true, diags);
                poisoned_loops.push(checked.l.name);
            }
            None => poisoned_loops.extend(decl.name.as_ref().map(|n| n.text.clone())),
        }
    }
    modes::check_modes(&defs, &mut program, &poisoned_loops, diags);
    (diags.error_count() == errors_before).then_some(program)
}

/// Parses every registered file and checks them together.
///
/// Syntax errors stop before checking: a line that failed to parse looks
/// like a missing statement, so checking would only add follow-on errors.
pub fn check_sources(sources: &Sources, diags: &mut Diagnostics) -> Option<hir::Program> {
    let asts: Vec<Ast> = sources
        .files()
        .map(|(id, _)| crate::syntax::parse_file(sources, id, diags))
        .collect();
    if diags.has_errors() {
        return None;
    }
    check(sources, &asts, diags)
}

/// Registers the shipped loops (builtin layer) in path order.
pub fn add_builtin_sources(sources: &mut Sources) {
    for (path, bytes) in crate::embedded::LOOPS {
        let text = String::from_utf8_lossy(bytes).into_owned();
        sources.add(format!("builtin:loops/{path}"), text, crate::diag::Layer::Builtin);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::{Layer, RenderOptions, render_human};

    fn run(extra: &str) -> (Option<hir::Program>, Diagnostics, Sources) {
        let mut sources = Sources::new();
        add_builtin_sources(&mut sources);
        if !extra.is_empty() {
            sources.add("test.mill", extra, Layer::Workspace);
        }
        let mut diags = Diagnostics::new();
        let program = check_sources(&sources, &mut diags);
        diags.sort();
        (program, diags, sources)
    }

    #[test]
    fn shipped_loops_check_clean() {
        let (program, diags, sources) = run("");
        let shown = render_human(diags.iter(), &sources, RenderOptions::plain());
        assert!(diags.is_empty(), "{shown}");
        let program = program.unwrap();
        assert_eq!(program.stages.len(), 16);
        assert_eq!(program.loops.len(), 4);
        assert!(program.mode("standard_plain").is_some());
        assert_eq!(program.mode("learning_codex").unwrap().triggers.len(), 3);
    }

    #[test]
    fn reference_consultant_loop_is_unbounded() {
        let text = r#"
loop execution.unbounded {
    plane execution
    entry task -> builder
    counter troubleshoots limit 2
    builder {
        BUILDER_COMPLETE -> finish done
        BLOCKED -> troubleshooter count troubleshoots else consultant
    }
    troubleshooter {
        TROUBLESHOOT_COMPLETE -> builder
        BLOCKED -> troubleshooter count troubleshoots else consultant
    }
    consultant {
        CONSULT_COMPLETE -> troubleshooter
        NEEDS_PLANNING -> finish blocked
        BLOCKED -> finish blocked
    }
    terminal done: success
    terminal blocked: blocked
}
"#;
        let (program, diags, sources) = run(text);
        let shown = render_human(diags.iter(), &sources, RenderOptions::plain());
        assert!(program.is_none());
        assert_eq!(diags.codes(), ["mill::check::unbounded_cycle"], "{shown}");
        println!("{shown}");
    }
}
