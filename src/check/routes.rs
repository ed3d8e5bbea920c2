//! Checking a node's routes: every outcome routed exactly once, every name
//! resolved, and terminals compatible with the outcome's result classes.

use std::collections::HashMap;

use super::CheckError;
use super::hir::{Branch, Dest, Loop, Outcome, Route, Stage};
use super::loops::unknown_node;
use crate::diag::{Diagnostics, Span, did_you_mean};
use crate::plan::ResultClass;
use crate::syntax::ast::{self, Name, NodeDecl};

/// What route checking needs besides the loop.
pub(super) struct RouteScope<'a> {
    pub owner: &'a str,
    pub stages: &'a [Stage],
    /// Terminals whose class is unknown (already reported).
    pub bad_terminals: &'a [usize],
    /// Node name to index (the first of a duplicated name), so resolving a
    /// route costs the same in a loop of ten nodes or of ten thousand.
    pub nodes: &'a HashMap<String, usize>,
    /// Nodes whose name looks like a misspelt stage (see `unknown_node`).
    pub misspelt: &'a [super::loops::Misspelt],
}

/// Resolves the routes of node `index`, in outcome order.
pub(super) fn check_routes(
    decl: &NodeDecl,
    index: usize,
    l: &Loop,
    scope: &RouteScope<'_>,
    diags: &mut Diagnostics,
) -> Vec<Route> {
    let node = &l.nodes[index];
    let stage = &scope.stages[node.stage];
    let mut routed: Vec<Option<Span>> = vec![None; stage.outcomes.len()];
    let mut routes = Vec::new();
    for route in &decl.routes {
        let branch = resolve_branch(&route.branch, l, scope, diags);
        let (resets, reset_spans): (Vec<usize>, Vec<Span>) = route
            .resets
            .iter()
            .filter_map(|c| counter(c, l, scope, diags).map(|i| (i, c.span)))
            .unzip();
        for name in &route.outcomes {
            let Some(outcome) = stage.outcome_index(&name.text) else {
                unknown_outcome(name, stage, diags);
                continue;
            };
            if let Some(first) = routed[outcome] {
                diags.push(CheckError::DuplicateRoute {
                    node: node.name.clone(),
                    outcome: name.text.clone(),
                    span: name.span.into(),
                    first: first.into(),
                });
                continue;
            }
            routed[outcome] = Some(name.span);
            if let Some(branch) = &branch {
                check_classes(
                    &stage.outcomes[outcome],
                    branch,
                    l,
                    scope.bad_terminals,
                    false,
                    diags,
                );
                routes.push(Route {
                    outcome,
                    branch: branch.clone(),
                    resets: resets.clone(),
                    reset_spans: reset_spans.clone(),
                    span: route.span,
                });
            }
        }
    }
    for (outcome, first) in routed.iter().enumerate() {
        if first.is_none() {
            diags.push(CheckError::UnhandledOutcome {
                node: node.name.clone(),
                outcome: stage.outcomes[outcome].name.clone(),
                span: decl.head_span.into(),
                declared: stage.outcomes[outcome].span.into(),
            });
        }
    }
    routes.sort_by_key(|r| r.outcome);
    routes
}

fn unknown_outcome(name: &Name, stage: &Stage, diags: &mut Diagnostics) {
    let declared: Vec<&str> = stage.outcomes.iter().map(|o| o.name.as_str()).collect();
    let help = match did_you_mean(&name.text, declared.iter().copied()) {
        Some(s) => format!("did you mean `{s}`?"),
        None => format!("`{}` declares: {}", stage.name, declared.join(", ")),
    };
    diags.push(CheckError::UnknownOutcome {
        stage: stage.name.clone(),
        outcome: name.text.clone(),
        span: name.span.into(),
        help: Some(help),
    });
}

fn resolve_branch(
    b: &ast::Branch,
    l: &Loop,
    scope: &RouteScope<'_>,
    diags: &mut Diagnostics,
) -> Option<Branch> {
    let dest = resolve_dest(&b.dest, l, scope, diags);
    let guard = match &b.guard {
        Some(g) => {
            let counter = counter(&g.counter, l, scope, diags);
            let otherwise = resolve_branch(&g.otherwise, l, scope, diags);
            Some((counter?, Box::new(otherwise?)))
        }
        None => None,
    };
    let dest_span = match &b.dest {
        ast::Dest::Node(n) | ast::Dest::Finish(n) => n.span,
        ast::Dest::Resume {
            keys,
            default,
            except,
        } => {
            let first = keys.first().map(|k| k.span).unwrap_or(default.span);
            except.last().map(|e| e.span).unwrap_or(default.span).to(first)
        }
    };
    Some(Branch {
        dest: dest?,
        guard,
        span: b.span,
        dest_span,
    })
}

fn resolve_dest(d: &ast::Dest, l: &Loop, scope: &RouteScope<'_>, diags: &mut Diagnostics) -> Option<Dest> {
    match d {
        ast::Dest::Node(name) => target_node(name, l, scope, diags).map(Dest::Node),
        ast::Dest::Finish(name) => match l.terminals.iter().position(|t| t.name == name.text) {
            Some(t) => Some(Dest::Finish(t)),
            None => {
                let help = did_you_mean(&name.text, l.terminals.iter().map(|t| t.name.as_str()))
                    .map(|s| format!("did you mean `{s}`?"))
                    .or_else(|| Some(format!("declare `terminal {}: <class>` in the loop", name.text)));
                diags.push(CheckError::UnknownTerminal {
                    name: name.text.clone(),
                    owner: l.name.clone(),
                    span: name.span.into(),
                    help,
                });
                None
            }
        },
        ast::Dest::Resume {
            keys,
            default,
            except,
        } => {
            let default_index = target_node(default, l, scope, diags);
            let excluded: Vec<usize> = except.iter().filter_map(|n| node(n, l, scope, diags)).collect();
            let default_index = default_index?;
            if excluded.contains(&default_index) {
                diags.push(CheckError::InvalidResume {
                    node: default.text.clone(),
                    span: default.span.into(),
                });
                return None;
            }
            let closure = l.closure.as_ref().map(|c| c.node);
            let allowed = (0..l.nodes.len())
                .filter(|n| !excluded.contains(n) && Some(*n) != closure)
                .collect();
            Some(Dest::Resume {
                keys: keys.iter().map(|k| k.text.clone()).collect(),
                default: default_index,
                allowed,
            })
        }
    }
}

/// A node a route may lead to: any node but the closure node, which only
/// the runtime starts (as the closure pass).
fn target_node(name: &Name, l: &Loop, scope: &RouteScope<'_>, diags: &mut Diagnostics) -> Option<usize> {
    let found = node(name, l, scope, diags)?;
    if l.closure.as_ref().is_some_and(|c| c.node == found) {
        diags.push(CheckError::ClosureNodeTarget {
            node: name.text.clone(),
            owner: l.name.clone(),
            span: name.span.into(),
        });
        return None;
    }
    Some(found)
}

fn node(name: &Name, l: &Loop, scope: &RouteScope<'_>, diags: &mut Diagnostics) -> Option<usize> {
    let found = scope.nodes.get(&name.text).copied();
    if found.is_none() {
        unknown_node(name, scope.owner, &l.nodes, scope.misspelt, diags);
    }
    found
}

fn counter(name: &Name, l: &Loop, scope: &RouteScope<'_>, diags: &mut Diagnostics) -> Option<usize> {
    let found = l.counters.iter().position(|c| c.name == name.text);
    if found.is_none() {
        let help = did_you_mean(&name.text, l.counters.iter().map(|c| c.name.as_str()))
            .map(|s| format!("did you mean `{s}`?"))
            .or_else(|| Some(format!("declare `counter {} limit <n>` in the loop", name.text)));
        diags.push(CheckError::UnknownCounter {
            name: name.text.clone(),
            owner: scope.owner.trim_start_matches("loop ").trim_matches('`').into(),
            span: name.span.into(),
            help,
        });
    }
    found
}

/// A terminal reached directly must agree with the outcome's classes; one
/// reached only after a counter ran out may also be a `blocked` terminal.
fn check_classes(
    outcome: &Outcome,
    branch: &Branch,
    l: &Loop,
    bad: &[usize],
    fallback: bool,
    diags: &mut Diagnostics,
) {
    if let Dest::Finish(t) = branch.dest {
        let terminal = &l.terminals[t];
        if !bad.contains(&t) && !compatible(&outcome.classes, terminal.class, fallback) {
            let classes: Vec<&str> = outcome.classes.iter().map(|c| c.as_str()).collect();
            let fitting = fitting_classes(&outcome.classes);
            diags.push(CheckError::IncompatibleTerminal {
                outcome: outcome.name.clone(),
                classes: classes.join(" | "),
                terminal: terminal.name.clone(),
                class: terminal.class.to_string(),
                help: format!(
                    "finish `{}` at a terminal of class {fitting}, or route it to a node",
                    outcome.name
                ),
                span: branch.dest_span.into(),
                terminal_span: terminal.span.into(),
            });
        }
    }
    if let Some((_, otherwise)) = &branch.guard {
        check_classes(outcome, otherwise, l, bad, true, diags);
    }
}

fn compatible(classes: &[ResultClass], terminal: ResultClass, fallback: bool) -> bool {
    match terminal {
        ResultClass::Blocked => fallback || classes.iter().any(|c| *c != ResultClass::Success),
        other => classes.contains(&other),
    }
}

fn fitting_classes(classes: &[ResultClass]) -> String {
    let mut fitting: Vec<String> = classes
        .iter()
        .filter(|c| **c != ResultClass::RecoverableFailure && **c != ResultClass::Blocked)
        .map(|c| format!("`{c}`"))
        .collect();
    if classes.iter().any(|c| *c != ResultClass::Success) {
        fitting.push("`blocked`".into());
    }
    fitting.join(" or ")
}

/// Where a route counts or resets `counter`, if it does.
pub(super) fn counter_use(route: &Route, counter: usize) -> Option<Span> {
    if route.resets.contains(&counter) {
        return Some(route.span);
    }
    let mut branch = &route.branch;
    while let Some((c, otherwise)) = &branch.guard {
        if *c == counter {
            return Some(branch.span);
        }
        branch = otherwise;
    }
    None
}
