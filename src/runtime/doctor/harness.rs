//! The harnesses the plan needs: installed, set up so they can work, and
//! not holding the runtime in a pause.
//!
//! Input: the compiled plan, the runner settings, the snapshot. Output:
//! findings. Invariant: a harness that would fail its first stage is said
//! before that stage runs.

use super::{Checks, Severity};
use crate::config::Config;
use crate::model::Snapshot;
use crate::plan::Plan;
use crate::runners;

/// Every runner the plan's nodes name, once each, in plan order.
fn runners_of(plan: &Plan) -> Vec<&str> {
    let mut names: Vec<&str> = Vec::new();
    for node in plan.nodes.iter() {
        if !names.contains(&node.runner.as_str()) {
            names.push(&node.runner);
        }
    }
    names
}

pub(super) fn harnesses(c: &mut Checks<'_>, plan: &Plan, config: &Config) {
    let cfg = &config.runners;
    for runner in runners_of(plan) {
        if let Err(e) = runners::preflight_in(runner, cfg, c.ws.root()) {
            // A warning: a workspace may be set up before its harness is
            // installed; the first stage then pauses with `harness_missing`.
            let fix = miette::Diagnostic::help(&e)
                .map(|h| h.to_string())
                .unwrap_or_default();
            c.warning(
                "mill::doctor::runner_binary_unavailable",
                None,
                format!("{e} (mode {} needs it)", plan.mode),
                &fix,
            );
        }
        for advice in runners::advise(runner, cfg) {
            c.add(Severity::Warning, advice.code, None, advice.message, &advice.fix);
        }
    }
}

/// A harness pause holds the runtime: say why, and the fix.
pub(super) fn harness_pause(c: &mut Checks<'_>, snapshot: &Snapshot) {
    for item in crate::runtime::attention(snapshot) {
        let code = match item.code.as_str() {
            "mill::runtime::harness_failed" => "mill::doctor::harness_failed",
            "mill::runtime::harness_missing" => "mill::doctor::harness_missing",
            _ => continue,
        };
        let severity = if item.lifts_by_itself {
            Severity::Warning
        } else {
            Severity::Error
        };
        let path = c.ws.paths().snapshot();
        c.add(severity, code, Some(&path), item.reason, &item.fix);
    }
}
