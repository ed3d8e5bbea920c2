//! Reporting an unbounded cycle: one concrete cycle, its arcs labelled
//! edge by edge, and, when a counter on it is reset, the arcs that reset it.
//!
//! Input: the arcs of one strongly connected component that no counter
//! bounds. Output: one `mill::check::unbounded_cycle` diagnostic.

use std::collections::{HashSet, VecDeque};

use miette::LabeledSpan;
use petgraph::graph::{DiGraph, EdgeIndex, NodeIndex};
use petgraph::visit::EdgeRef;

use super::CheckError;
use super::graph::{Arc, ArcKind};
use super::hir::Loop;
use crate::diag::{Diagnostics, Span};

fn vertex_name(l: &Loop, v: NodeIndex) -> String {
    let i = v.index();
    match l.nodes.get(i) {
        Some(node) => node.name.clone(),
        None => format!("finish {}", l.terminals[i - l.nodes.len()].name),
    }
}

/// Reports one concrete cycle of an unbounded component: an unguarded one
/// if there is one, else one whose counters are reset on it.
pub(super) fn report_cycle(
    l: &Loop,
    g: &DiGraph<(), Arc>,
    inside: &[EdgeIndex],
    reset: &HashSet<usize>,
    item_counters: &[usize],
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
    let mut edges: Vec<LabeledSpan> = cycle
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
    let defeated: Vec<usize> = cycle
        .iter()
        .filter_map(|e| g[*e].guard)
        .filter(|c| reset.contains(c))
        .collect();
    let resetters = resetting_arcs(l, g, inside, &defeated, item_counters);
    for r in &resetters {
        if !edges
            .iter()
            .any(|e| e.offset() == r.span.start as usize && e.len() == r.span.len() as usize)
        {
            edges.push(LabeledSpan::new_with_span(
                Some(r.label.clone()),
                miette::SourceSpan::from(r.span),
            ));
        }
    }
    let help = cycle_help(l, g, &cycle, &resetters);
    diags.push(CheckError::UnboundedCycle {
        owner: l.name.clone(),
        cycle: names.join(" → "),
        help,
        edges,
    });
}

/// An arc that resets a counter guarding the cycle.
struct Resetter {
    counter: usize,
    span: Span,
    label: String,
    /// Who resets it, for the help.
    by: String,
}

/// The arcs of the component that reset a counter guarding the cycle.
fn resetting_arcs(
    l: &Loop,
    g: &DiGraph<(), Arc>,
    inside: &[EdgeIndex],
    defeated: &[usize],
    item_counters: &[usize],
) -> Vec<Resetter> {
    let mut out: Vec<Resetter> = Vec::new();
    for &c in defeated {
        let name = &l.counters[c].name;
        for e in inside {
            let arc = &g[*e];
            let found = match arc.kind {
                ArcKind::Route => arc.resets.iter().find(|(r, _)| *r == c).map(|(_, s)| Resetter {
                    counter: c,
                    span: *s,
                    label: format!("{} resets `{name}` here", arc.route),
                    by: format!("{} (`reset {name}`)", arc.route),
                }),
                _ if item_counters.contains(&c) => Some(Resetter {
                    counter: c,
                    span: arc.span,
                    label: format!("a new work item starts here, which resets `{name}`"),
                    by: format!("the new work item that {} starts", arc.route),
                }),
                _ => None,
            };
            if let Some(r) = found.filter(|r| !out.iter().any(|o| o.span == r.span)) {
                out.push(r);
            }
        }
    }
    out
}

fn cycle_help(l: &Loop, g: &DiGraph<(), Arc>, cycle: &[EdgeIndex], resetters: &[Resetter]) -> String {
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
    if let Some(first) = resetters.first() {
        let name = &l.counters[first.counter].name;
        let by: Vec<&str> = resetters
            .iter()
            .filter(|r| r.counter == first.counter)
            .map(|r| r.by.as_str())
            .collect();
        return format!(
            "counter `{name}` guards this cycle but {} resets it, so it never runs out; \
             remove that reset, or guard another route of the cycle with a counter it does not reset",
            by.join(" and ")
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
