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

use miette::LabeledSpan;
use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, EdgeIndex, NodeIndex};
use petgraph::visit::{Bfs, EdgeFiltered, EdgeRef, Reversed};

use super::CheckError;
use super::hir::{Branch, Dest, Loop, Stage};
use crate::diag::{Diagnostics, Span};
use crate::plan::{CounterScope, WorkItemKind};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ArcKind {
    Route,
    Handoff,
    Activation,
}

#[derive(Clone, Debug)]
struct Arc {
    kind: ArcKind,
    guard: Option<usize>,
    resets: Vec<usize>,
    span: Span,
    label: String,
}

/// Runs every graph check of one loop.
pub(super) fn analyze(l: &Loop, stages: &[Stage], diags: &mut Diagnostics) {
    let graph = build(l, stages);
    check_reachability(l, &graph, diags);
    check_paths_to_terminals(l, &graph, diags);
    check_termination(l, &graph, diags);
}

fn vertex_name(l: &Loop, v: NodeIndex) -> String {
    let i = v.index();
    match l.nodes.get(i) {
        Some(node) => node.name.clone(),
        None => format!("finish {}", l.terminals[i - l.nodes.len()].name),
    }
}

fn build(l: &Loop, stages: &[Stage]) -> DiGraph<(), Arc> {
    let mut g = DiGraph::new();
    for _ in 0..l.nodes.len() + l.terminals.len() {
        g.add_node(());
    }
    let terminal = |t: usize| NodeIndex::new(l.nodes.len() + t);
    for (n, node) in l.nodes.iter().enumerate() {
        let outcomes = &stages[node.stage].outcomes;
        for route in &node.routes {
            let outcome = &outcomes[route.outcome].name;
            add_branch(&mut g, l, n, outcome, &route.branch, &route.resets, None);
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
            };
            g.add_edge(terminal(t), NodeIndex::new(closure.node), arc);
        }
    }
    g
}

/// Adds the arcs of one branch; `spent` names the counter whose exhaustion
/// led here (for fallback labels).
fn add_branch(
    g: &mut DiGraph<(), Arc>,
    l: &Loop,
    from: usize,
    outcome: &str,
    branch: &Branch,
    resets: &[usize],
    spent: Option<usize>,
) {
    let targets: Vec<(NodeIndex, String)> = match &branch.dest {
        Dest::Node(n) => vec![(
            NodeIndex::new(*n),
            format!("`{outcome}` goes to `{}`", l.nodes[*n].name),
        )],
        Dest::Finish(t) => {
            vec![(
                NodeIndex::new(l.nodes.len() + t),
                format!("`{outcome}` finishes at `{}`", l.terminals[*t].name),
            )]
        }
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
            resets: resets.to_vec(),
            span: branch.dest_span,
            label,
        };
        g.add_edge(NodeIndex::new(from), to, arc);
    }
    if let Some((c, otherwise)) = &branch.guard {
        add_branch(g, l, from, outcome, otherwise, resets, Some(*c));
    }
}

fn check_reachability(l: &Loop, g: &DiGraph<(), Arc>, diags: &mut Diagnostics) {
    let mut reached = vec![false; g.node_count()];
    let roots = l
        .entries
        .iter()
        .map(|(_, n)| *n)
        .chain(l.closure.as_ref().map(|c| c.node));
    for root in roots {
        let mut bfs = Bfs::new(g, NodeIndex::new(root));
        while let Some(v) = bfs.next(g) {
            reached[v.index()] = true;
        }
    }
    for (n, node) in l.nodes.iter().enumerate() {
        if !reached[n] {
            diags.push(CheckError::UnreachableNode {
                node: node.name.clone(),
                span: node.span.into(),
            });
        }
    }
    for (t, term) in l.terminals.iter().enumerate() {
        if !reached[l.nodes.len() + t] {
            diags.push(CheckError::UnreachedTerminal {
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
            diags.push(CheckError::UnusedCounter {
                name: counter.name.clone(),
                span: counter.span.into(),
            });
        }
    }
}

fn check_paths_to_terminals(l: &Loop, g: &DiGraph<(), Arc>, diags: &mut Diagnostics) {
    let routes = EdgeFiltered::from_fn(g, |e| e.weight().kind == ArcKind::Route);
    let reversed = Reversed(&routes);
    let mut finishes = vec![false; g.node_count()];
    for t in 0..l.terminals.len() {
        let mut bfs = Bfs::new(&reversed, NodeIndex::new(l.nodes.len() + t));
        while let Some(v) = bfs.next(&reversed) {
            finishes[v.index()] = true;
        }
    }
    for (n, node) in l.nodes.iter().enumerate() {
        if !finishes[n] {
            diags.push(CheckError::NoPathToTerminal {
                node: node.name.clone(),
                span: node.span.into(),
            });
        }
    }
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
        let view = EdgeFiltered::from_fn(g, |e| alive[e.id().index()]);
        let mut changed = false;
        for component in tarjan_scc(&view) {
            let members: HashSet<NodeIndex> = component.iter().copied().collect();
            let inside: Vec<EdgeIndex> = g
                .edge_references()
                .filter(|e| {
                    alive[e.id().index()] && members.contains(&e.source()) && members.contains(&e.target())
                })
                .map(|e| e.id())
                .collect();
            if inside.is_empty() {
                continue;
            }
            let mut reset: HashSet<usize> = HashSet::new();
            for e in &inside {
                let arc = &g[*e];
                reset.extend(&arc.resets);
                if arc.kind != ArcKind::Route {
                    reset.extend(&item_counters);
                }
            }
            let bounded: Vec<EdgeIndex> = inside
                .iter()
                .copied()
                .filter(|e| g[*e].guard.is_some_and(|c| !reset.contains(&c)))
                .collect();
            let dropped = if bounded.is_empty() {
                report_cycle(l, g, &inside, &reset, diags);
                inside
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

/// Reports one concrete cycle of an unbounded component: an unguarded one
/// if there is one, else one whose counters are reset on it.
fn report_cycle(
    l: &Loop,
    g: &DiGraph<(), Arc>,
    inside: &[EdgeIndex],
    reset: &HashSet<usize>,
    diags: &mut Diagnostics,
) {
    let unguarded: Vec<EdgeIndex> = inside.iter().copied().filter(|e| g[*e].guard.is_none()).collect();
    let cycle = find_cycle(g, &unguarded)
        .or_else(|| find_cycle(g, inside))
        .unwrap_or_default();
    let Some(first) = cycle.first() else { return };
    let mut names = vec![vertex_name(
        l,
        g.edge_endpoints(*first).map(|(s, _)| s).unwrap_or_default(),
    )];
    for e in &cycle {
        names.push(vertex_name(
            l,
            g.edge_endpoints(*e).map(|(_, t)| t).unwrap_or_default(),
        ));
    }
    let edges: Vec<LabeledSpan> = cycle
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let arc = &g[*e];
            let span: miette::SourceSpan = arc.span.into();
            if i == 0 {
                LabeledSpan::new_primary_with_span(Some(arc.label.clone()), span)
            } else {
                LabeledSpan::new_with_span(Some(arc.label.clone()), span)
            }
        })
        .collect();
    let help = cycle_help(l, g, &cycle, reset);
    diags.push(CheckError::UnboundedCycle {
        owner: l.name.clone(),
        cycle: names.join(" → "),
        help,
        edges,
    });
}

fn cycle_help(l: &Loop, g: &DiGraph<(), Arc>, cycle: &[EdgeIndex], reset: &HashSet<usize>) -> String {
    if cycle
        .iter()
        .any(|e| g[*e].kind == ArcKind::Activation && g[*e].guard.is_none())
    {
        let node = l
            .closure
            .as_ref()
            .map(|c| l.nodes[c.node].name.as_str())
            .unwrap_or("<node>");
        return format!(
            "bound the closure pass with a counter: `closure {node} when backlog_drained count <counter> {{ ... }}`"
        );
    }
    let resets: Vec<&str> = cycle
        .iter()
        .filter_map(|e| g[*e].guard)
        .filter(|c| reset.contains(c))
        .map(|c| l.counters[c].name.as_str())
        .collect();
    if let Some(counter) = resets.first() {
        return format!(
            "counter `{counter}` guards this cycle but is reset on it, so it never runs out; \
             remove the reset or guard another route with a counter the cycle does not reset"
        );
    }
    "guard a route of this cycle with `count <counter> else <destination>`, using a counter nothing on the cycle resets"
        .into()
}

/// A cycle using only `edges`, as a list of arcs, if one exists: for each
/// arc u→v in order, a shortest path v→u closes it.
fn find_cycle(g: &DiGraph<(), Arc>, edges: &[EdgeIndex]) -> Option<Vec<EdgeIndex>> {
    let allowed: HashSet<EdgeIndex> = edges.iter().copied().collect();
    let mut ordered: Vec<EdgeIndex> = edges.to_vec();
    ordered.sort_by_key(|e| {
        let (s, t) = g.edge_endpoints(*e).unwrap_or_default();
        (s.index(), t.index(), e.index())
    });
    for first in ordered {
        let (u, v) = g.edge_endpoints(first)?;
        if u == v {
            return Some(vec![first]);
        }
        if let Some(path) = shortest_path(g, &allowed, v, u) {
            let mut cycle = vec![first];
            cycle.extend(path);
            return Some(cycle);
        }
    }
    None
}

fn shortest_path(
    g: &DiGraph<(), Arc>,
    allowed: &HashSet<EdgeIndex>,
    from: NodeIndex,
    to: NodeIndex,
) -> Option<Vec<EdgeIndex>> {
    let mut parent: Vec<Option<EdgeIndex>> = vec![None; g.node_count()];
    let mut seen = vec![false; g.node_count()];
    let mut queue = VecDeque::from([from]);
    seen[from.index()] = true;
    while let Some(v) = queue.pop_front() {
        if v == to {
            let mut path = Vec::new();
            let mut at = to;
            while at != from {
                let e = parent[at.index()]?;
                path.push(e);
                at = g.edge_endpoints(e)?.0;
            }
            path.reverse();
            return Some(path);
        }
        let mut next: Vec<_> = g.edges(v).filter(|e| allowed.contains(&e.id())).collect();
        next.sort_by_key(|e| (e.target().index(), e.id().index()));
        for e in next {
            if !seen[e.target().index()] {
                seen[e.target().index()] = true;
                parent[e.target().index()] = Some(e.id());
                queue.push_back(e.target());
            }
        }
    }
    None
}
