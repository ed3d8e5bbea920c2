//! The route graph of a loop (petgraph) and the proofs run on it:
//! reachability (warnings), a path to a terminal from every node, and
//! termination.
//!
//! Vertices are the loop's nodes followed by its terminals. Arcs are routes
//! (a resume expands to every node it may choose; a guarded branch yields an
//! arc guarded by its counter and arcs for its fallback), handoffs (a
//! terminal that opens an incident feeds the loop's `incident` entry) and
//! closure activations (every terminal may let the closure pass start again,
//! guarded by the closure's counter). Handoffs and activations start a new
//! work item, so they reset every item-scoped counter.
//!
//! Termination: an arc guarded by counter `c` can be taken at most
//! `limit(c)` times while nothing resets `c`, and a walk that leaves a
//! strongly connected component never returns to it. So, repeatedly: in each
//! cyclic component, drop the arcs guarded by a counter that no arc of that
//! component resets, and recompute the components. Whatever cyclic core
//! remains can loop forever; it is reported with one concrete cycle.

use std::collections::{HashSet, VecDeque};

use petgraph::Direction;
use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, EdgeIndex, NodeIndex};
use petgraph::visit::{EdgeFiltered, EdgeRef};

use super::hir::{Branch, Dest, Loop, Stage};
use super::{CheckError, CheckWarning};
use crate::diag::{Diagnostics, Span};
use crate::plan::{CounterScope, WorkItemKind};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ArcKind {
    Route,
    Handoff,
    Activation,
}

#[derive(Clone, Debug)]
pub(super) struct Arc {
    pub kind: ArcKind,
    pub guard: Option<usize>,
    /// Counters the arc resets, with where the `reset` clause names each.
    pub resets: Vec<(usize, Span)>,
    pub span: Span,
    pub label: String,
    /// `` `OUTCOME` of node `name` ``, for help that names a route.
    pub route: String,
}

/// Runs every graph check of one loop. A `partial` loop had errors: its
/// unresolved nodes and routes are missing from the graph, so the checks
/// that a missing arc could fool (reachability warnings, and a path to a
/// terminal through a broken node) are skipped or relaxed; termination is
/// still proven, since a missing arc never bounds a cycle.
pub(super) fn analyze(l: &Loop, stages: &[Stage], partial: bool, diags: &mut Diagnostics) {
    let graph = build(l, stages);
    if !partial {
        check_reachability(l, &graph, diags);
    }
    check_paths_to_terminals(l, stages, &graph, diags);
    check_termination(l, &graph, diags);
}

fn build(l: &Loop, stages: &[Stage]) -> DiGraph<(), Arc> {
    let mut g = DiGraph::new();
    for _ in 0..l.nodes.len() + l.terminals.len() {
        g.add_node(());
    }
    let terminal = |t: usize| NodeIndex::new(l.nodes.len() + t);
    for (n, node) in l.nodes.iter().enumerate() {
        // A node whose stage did not resolve has no routes.
        let Some(stage) = stages.get(node.stage) else {
            continue;
        };
        for route in &node.routes {
            let outcome = &stage.outcomes[route.outcome].name;
            let resets: Vec<(usize, Span)> = route
                .resets
                .iter()
                .copied()
                .zip(route.reset_spans.iter().copied())
                .collect();
            let origin = Origin {
                from: n,
                outcome,
                resets: &resets,
            };
            add_branch(&mut g, l, &origin, &route.branch, None);
        }
    }
    let incident_entry = l
        .entries
        .iter()
        .find(|(k, _)| *k == WorkItemKind::Incident)
        .map(|(_, n)| *n);
    for (t, term) in l.terminals.iter().enumerate() {
        if let (true, Some(entry)) = (term.opens_incident, incident_entry) {
            let label = format!(
                "`{}` opens an incident, which enters at `{}`",
                term.name, l.nodes[entry].name
            );
            let arc = Arc {
                kind: ArcKind::Handoff,
                guard: None,
                resets: Vec::new(),
                span: term.span,
                label,
                route: format!("terminal `{}`", term.name),
            };
            g.add_edge(terminal(t), NodeIndex::new(entry), arc);
        }
        if let Some(closure) = &l.closure {
            let counted = closure
                .counter
                .map(|c| format!(" (counts `{}`)", l.counters[c].name))
                .unwrap_or_default();
            let label = format!(
                "after `{}` the closure pass `{}` may run again{counted}",
                term.name, l.nodes[closure.node].name
            );
            let arc = Arc {
                kind: ArcKind::Activation,
                guard: closure.counter,
                resets: Vec::new(),
                span: closure.span,
                label,
                route: "the closure pass".into(),
            };
            g.add_edge(terminal(t), NodeIndex::new(closure.node), arc);
        }
    }
    g
}

/// Where the arcs of one route start.
struct Origin<'a> {
    from: usize,
    outcome: &'a str,
    resets: &'a [(usize, Span)],
}

/// Adds the arcs of one branch; `spent` names the counter whose exhaustion
/// led here (for fallback labels).
fn add_branch(
    g: &mut DiGraph<(), Arc>,
    l: &Loop,
    origin: &Origin<'_>,
    branch: &Branch,
    spent: Option<usize>,
) {
    let outcome = origin.outcome;
    let targets: Vec<(NodeIndex, String)> = match &branch.dest {
        Dest::Node(n) => vec![(
            NodeIndex::new(*n),
            format!("`{outcome}` goes to `{}`", l.nodes[*n].name),
        )],
        Dest::Finish(t) => vec![(
            NodeIndex::new(l.nodes.len() + t),
            format!("`{outcome}` finishes at `{}`", l.terminals[*t].name),
        )],
        Dest::Resume { allowed, .. } => allowed
            .iter()
            .map(|n| {
                (
                    NodeIndex::new(*n),
                    format!("`{outcome}` may resume at `{}`", l.nodes[*n].name),
                )
            })
            .collect(),
    };
    let guard = branch.guard.as_ref().map(|(c, _)| *c);
    let route = format!("`{outcome}` of node `{}`", l.nodes[origin.from].name);
    for (to, mut label) in targets {
        if let Some(c) = spent {
            label.push_str(&format!(" once `{}` runs out", l.counters[c].name));
        }
        if let Some(c) = guard {
            label.push_str(&format!(" (counts `{}`)", l.counters[c].name));
        }
        let arc = Arc {
            kind: ArcKind::Route,
            guard,
            resets: origin.resets.to_vec(),
            span: branch.dest_span,
            label,
            route: route.clone(),
        };
        g.add_edge(NodeIndex::new(origin.from), to, arc);
    }
    if let Some((c, otherwise)) = &branch.guard {
        add_branch(g, l, origin, otherwise, Some(*c));
    }
}

/// Every vertex reached from `roots` along arcs that `keep` accepts,
/// following them backwards when `reverse`: one pass, however many roots.
fn reach(
    g: &DiGraph<(), Arc>,
    roots: impl IntoIterator<Item = usize>,
    reverse: bool,
    keep: impl Fn(&Arc) -> bool,
) -> Vec<bool> {
    let mut seen = vec![false; g.node_count()];
    let mut queue: VecDeque<NodeIndex> = VecDeque::new();
    for r in roots {
        if !seen[r] {
            seen[r] = true;
            queue.push_back(NodeIndex::new(r));
        }
    }
    let direction = if reverse {
        Direction::Incoming
    } else {
        Direction::Outgoing
    };
    while let Some(v) = queue.pop_front() {
        for e in g.edges_directed(v, direction).filter(|e| keep(e.weight())) {
            let next = if reverse { e.source() } else { e.target() };
            if !seen[next.index()] {
                seen[next.index()] = true;
                queue.push_back(next);
            }
        }
    }
    seen
}

fn check_reachability(l: &Loop, g: &DiGraph<(), Arc>, diags: &mut Diagnostics) {
    let roots = l
        .entries
        .iter()
        .map(|(_, n)| *n)
        .chain(l.closure.as_ref().map(|c| c.node));
    let reached = reach(g, roots, false, |_| true);
    for (n, node) in l.nodes.iter().enumerate() {
        if !reached[n] {
            diags.push(CheckWarning::UnreachableNode {
                node: node.name.clone(),
                span: node.span.into(),
            });
        }
    }
    for (t, term) in l.terminals.iter().enumerate() {
        if !reached[l.nodes.len() + t] {
            diags.push(CheckWarning::UnreachedTerminal {
                name: term.name.clone(),
                span: term.span.into(),
            });
        }
    }
    let mut used = vec![false; l.counters.len()];
    // A counter is used when something counts it; resetting alone bounds
    // nothing.
    for arc in g.edge_weights() {
        arc.guard.iter().for_each(|c| used[*c] = true);
    }
    for (c, counter) in l.counters.iter().enumerate() {
        if !used[c] {
            diags.push(CheckWarning::UnusedCounter {
                name: counter.name.clone(),
                span: counter.span.into(),
            });
        }
    }
}

/// Every node must be able to finish. A node left incomplete by an earlier
/// error (unresolved stage, unresolved route) counts as finishing: its
/// missing routes might, and saying otherwise would only echo that error.
fn check_paths_to_terminals(l: &Loop, stages: &[Stage], g: &DiGraph<(), Arc>, diags: &mut Diagnostics) {
    let incomplete = l.nodes.iter().enumerate().filter(|(_, n)| {
        stages
            .get(n.stage)
            .is_none_or(|s| n.routes.len() < s.outcomes.len())
    });
    let terminals = (0..l.terminals.len()).map(|t| l.nodes.len() + t);
    let roots: Vec<usize> = terminals.chain(incomplete.map(|(i, _)| i)).collect();
    let finishes = reach(g, roots, true, |a| a.kind == ArcKind::Route);
    for (n, node) in l.nodes.iter().enumerate() {
        if !finishes[n] {
            diags.push(CheckError::NoPathToTerminal {
                node: node.name.clone(),
                span: node.span.into(),
            });
        }
    }
}

/// The live arcs of each cyclic strongly connected component: one pass
/// over the arcs puts each into the component holding both its ends, so
/// this is linear however many components there are.
fn arcs_by_component(g: &DiGraph<(), Arc>, alive: &[bool]) -> Vec<Vec<EdgeIndex>> {
    let view = EdgeFiltered::from_fn(g, |e| alive[e.id().index()]);
    let components = tarjan_scc(&view);
    let mut component_of = vec![usize::MAX; g.node_count()];
    for (i, c) in components.iter().enumerate() {
        c.iter().for_each(|v| component_of[v.index()] = i);
    }
    let mut inside: Vec<Vec<EdgeIndex>> = vec![Vec::new(); components.len()];
    for e in g.edge_references().filter(|e| alive[e.id().index()]) {
        let (s, t) = (component_of[e.source().index()], component_of[e.target().index()]);
        if s == t && s != usize::MAX {
            inside[s].push(e.id());
        }
    }
    inside.retain(|arcs| !arcs.is_empty());
    inside
}

fn check_termination(l: &Loop, g: &DiGraph<(), Arc>, diags: &mut Diagnostics) {
    let item_counters: Vec<usize> = l
        .counters
        .iter()
        .enumerate()
        .filter(|(_, c)| c.scope == CounterScope::Item)
        .map(|(i, _)| i)
        .collect();
    let mut alive = vec![true; g.edge_count()];
    loop {
        let inside = arcs_by_component(g, &alive);
        let mut changed = false;
        for arcs in inside {
            let mut reset: HashSet<usize> = HashSet::new();
            for e in &arcs {
                let arc = &g[*e];
                reset.extend(arc.resets.iter().map(|(c, _)| *c));
                if arc.kind != ArcKind::Route {
                    reset.extend(&item_counters);
                }
            }
            let bounded: Vec<EdgeIndex> = arcs
                .iter()
                .copied()
                .filter(|e| g[*e].guard.is_some_and(|c| !reset.contains(&c)))
                .collect();
            let dropped = if bounded.is_empty() {
                super::cycles::report_cycle(l, g, &arcs, &reset, &item_counters, diags);
                arcs
            } else {
                bounded
            };
            dropped.iter().for_each(|e| alive[e.index()] = false);
            changed = true;
        }
        if !changed {
            break;
        }
    }
}
