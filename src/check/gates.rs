//! Checking gates: stage kinds no harness runs, which wait for a decision.
//!
//! Input: a `gate` declaration (already read as a stage kind with its
//! outcomes checked) and, for modes marked `unattended`, the loops they
//! bind. Output: the checked [`Gate`], diagnostics for a missing question or
//! a timeout outcome the gate does not declare, and a warning for a gate
//! with no timeout in an unattended mode. Invariant: a checked gate's
//! timeout outcome indexes one of its stage's outcomes, so routing a timeout
//! is routing a declared outcome (exhaustiveness and termination are proven
//! for gates exactly as for stages).

use miette::SourceSpan;

use super::CheckError;
use super::hir::{Gate, Mode, Outcome, Program};
use super::stages::{check_timeout, missing};
use crate::diag::{Diagnostics, did_you_mean};
use crate::syntax::ast::GateDecl;

/// The checker's gate warnings.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum GateWarning {
    /// Nobody watches an unattended mode: a gate without a timeout would
    /// hold its lane until someone happens to look.
    #[error("gate `{gate}` has no timeout, but mode `{mode}` is unattended")]
    #[diagnostic(
        code(mill::check::gate_without_timeout),
        severity(Warning),
        help("add `timeout <seconds> -> <OUTCOME>` to gate `{gate}`, or drop `unattended` from `{mode}`")
    )]
    WithoutTimeout {
        gate: String,
        mode: String,
        #[label(primary, "waits for ever when nobody answers")]
        span: SourceSpan,
    },
}

/// Checks what a `gate` adds to its stage kind.
pub(super) fn check_gate(decl: &GateDecl, name: &str, outcomes: &[Outcome], diags: &mut Diagnostics) -> Gate {
    let question = match &decl.ask {
        Some(ask) => ask.value.clone(),
        None => {
            let help = "add `ask \"<the question for the operator>\"`";
            missing::<()>(&format!("gate `{name}`"), "ask", help, decl.span, diags);
            String::new()
        }
    };
    let timeout = decl.timeout.as_ref().and_then(|t| {
        let seconds_ok = check_timeout(&t.seconds, diags);
        let index = outcomes.iter().position(|o| o.name == t.outcome.text);
        if index.is_none() && !outcomes.is_empty() {
            let help = did_you_mean(&t.outcome.text, outcomes.iter().map(|o| o.name.as_str()))
                .map(|s| format!("did you mean `{s}`?"));
            diags.push(CheckError::UnknownOutcome {
                stage: name.into(),
                outcome: t.outcome.text.clone(),
                span: t.outcome.span.into(),
                help,
            });
        }
        index.filter(|_| seconds_ok).map(|i| (t.seconds.value, i))
    });
    Gate {
        question,
        shows: decl.show.iter().map(|s| s.value.clone()).collect(),
        timeout,
        span: decl.span,
    }
}

/// Warns about every gate node without a timeout in the loops an
/// unattended mode binds.
pub(super) fn warn_unattended(mode: &Mode, program: &Program, diags: &mut Diagnostics) {
    for loop_index in mode.planes.values() {
        let Some(l) = program.loops.get(*loop_index) else {
            continue;
        };
        for node in &l.nodes {
            let Some(stage) = program.stages.get(node.stage) else {
                continue;
            };
            if stage.gate.as_ref().is_some_and(|g| g.timeout.is_none()) {
                diags.push(GateWarning::WithoutTimeout {
                    gate: node.name.clone(),
                    mode: mode.name.clone(),
                    span: node.span.into(),
                });
            }
        }
    }
}
