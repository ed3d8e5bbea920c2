//! The Flow view's graphs: each plane's loop of the compiled plan as laid
//! out nodes and edges, with the active node, the counters of the active
//! item, and each edge weighted by how often recent runs took it (the
//! coordinates are `layout`'s).
//!
//! Input: the stored [`Plan`], the snapshot's active runs, the open
//! closure target, and the tail's recent routing decisions. Output: one
//! [`PlaneGraph`] per plane the plan runs, with coordinates and SVG path
//! data (the page only draws them).
//!
//! Invariants: every node, terminal, entry and route of the plan appears
//! (a guard's fallback is its own dashed edge, a resume its own kind).

use std::collections::HashMap;

use serde::Serialize;

use super::layout;
use super::tail::Taken;
use crate::model::ActiveRun;
use crate::plan::{BranchId, Dest, LoopId, Plan};

const NODE_H: f64 = 42.0;

/// One box of the drawing.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct GraphNode {
    pub key: String,
    pub label: String,
    /// `entry`, `node` or `terminal`.
    pub kind: &'static str,
    /// The stage a node runs, or a terminal's class.
    pub sub: Option<String>,
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
    pub active: bool,
    pub closure: bool,
    pub repair: bool,
    /// Recent outcomes of this node and how often each came.
    pub outcomes: Vec<(String, u32)>,
}

/// A guard on an edge: its counter, limit and the active item's value.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct GuardView {
    pub counter: String,
    pub limit: u32,
    pub value: Option<u32>,
}

/// One arrow.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct GraphEdge {
    pub from: String,
    pub to: String,
    pub outcome: String,
    pub label: String,
    /// `entry`, `route`, `fallback`, `resume` (to the default node) or
    /// `taken` (a resume target recent runs chose).
    pub kind: &'static str,
    pub guard: Option<GuardView>,
    pub weight: u32,
    pub path: String,
    pub lx: f64,
    pub ly: f64,
}

/// A plane's loop, drawn.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct PlaneGraph {
    pub plane: String,
    pub loop_name: String,
    pub width: f64,
    pub height: f64,
    pub nodes: Vec<GraphNode>,
    pub edges: Vec<GraphEdge>,
    pub active: Option<ActiveRun>,
    pub counters: Vec<serde_json::Value>,
}

/// Every plane's graph.
pub(crate) fn graphs(
    plan: &Plan,
    active: &[ActiveRun],
    closure_attempts: Option<u32>,
    taken: &HashMap<&Taken, u32>,
) -> Vec<PlaneGraph> {
    plan.loops
        .enumerate()
        .map(|(id, l)| {
            let run = active.iter().find(|a| a.plane == l.plane).cloned();
            let mut g = build(plan, id, run.as_ref(), taken);
            layout::layout(&mut g);
            let counters = l
                .counters
                .iter()
                .map(|c| {
                    let row = &plan.counters[c];
                    let value = match row.scope {
                        crate::plan::CounterScope::Target => closure_attempts,
                        _ => run
                            .as_ref()
                            .map(|r| r.counters.get(&row.name).copied().unwrap_or(0)),
                    };
                    serde_json::json!({ "name": row.name, "limit": row.limit, "scope": row.scope,
                        "config_key": row.config_key, "value": value })
                })
                .collect();
            PlaneGraph {
                plane: l.plane.as_str().to_string(),
                loop_name: l.name.clone(),
                width: g.width,
                height: g.height,
                nodes: g.nodes,
                edges: g.edges,
                active: run,
                counters,
            }
        })
        .collect()
}

pub(crate) struct Built {
    pub nodes: Vec<GraphNode>,
    pub edges: Vec<GraphEdge>,
    pub width: f64,
    pub height: f64,
}

fn node_box(key: String, label: String, kind: &'static str, sub: Option<String>) -> GraphNode {
    let chars = label
        .chars()
        .count()
        .max(sub.as_deref().map_or(0, |s| s.chars().count()));
    GraphNode {
        key,
        label,
        kind,
        sub,
        x: 0.0,
        y: 0.0,
        w: (chars as f64 * 7.4 + 28.0).max(if kind == "entry" { 64.0 } else { 96.0 }),
        h: if kind == "entry" { 30.0 } else { NODE_H },
        active: false,
        closure: false,
        repair: false,
        outcomes: Vec::new(),
    }
}

fn build(plan: &Plan, id: LoopId, run: Option<&ActiveRun>, taken: &HashMap<&Taken, u32>) -> Built {
    let l = &plan.loops[id];
    let plane = l.plane.as_str();
    let mut nodes = Vec::new();
    let mut edges = Vec::new();
    for e in &l.entries {
        let key = format!("entry:{}", e.kind);
        nodes.push(node_box(key.clone(), e.kind.to_string(), "entry", None));
        edges.push(edge(key, node_key(plan, e.node), String::new(), "entry", None, 0));
    }
    for n in l.nodes.iter() {
        let row = &plan.nodes[n];
        let mut b = node_box(
            node_key(plan, n),
            row.name.clone(),
            "node",
            Some(plan.stage_of(n).name.clone()),
        );
        b.active = run.is_some_and(|r| r.node == row.name);
        b.closure = l.closure.is_some_and(|c| c.node == n);
        b.repair = l.repair == Some(n);
        let mut outcomes: Vec<(String, u32)> = taken
            .iter()
            .filter(|(t, _)| t.plane == plane && t.node == row.name)
            .fold(HashMap::<String, u32>::new(), |mut m, (t, c)| {
                *m.entry(t.outcome.clone()).or_default() += c;
                m
            })
            .into_iter()
            .collect();
        outcomes.sort();
        b.outcomes = outcomes;
        nodes.push(b);
    }
    for t in l.terminals.iter() {
        let row = &plan.terminals[t];
        nodes.push(node_box(
            format!("t:{}", row.name),
            row.name.clone(),
            "terminal",
            Some(row.class.to_string()),
        ));
    }
    for n in l.nodes.iter() {
        for e in plan.nodes[n].edges.iter() {
            let outcome = plan.outcomes[plan.edges[e].outcome].name.clone();
            chain(
                plan,
                node_key(plan, n),
                &outcome,
                plan.edges[e].branch,
                false,
                run,
                &mut edges,
            );
        }
    }
    // Weights from recent decisions; a resume target no static edge leads
    // to gets an edge of its own.
    for (t, count) in taken.iter().filter(|(t, _)| t.plane == plane) {
        let from = format!("n:{}", t.node);
        let to = match t.target.strip_prefix("terminal:") {
            Some(term) => format!("t:{term}"),
            None => format!("n:{}", t.target),
        };
        match edges
            .iter_mut()
            .find(|e| e.from == from && e.to == to && e.outcome == t.outcome)
        {
            Some(e) => e.weight += count,
            None if nodes.iter().any(|n| n.key == to) => {
                let label = format!("{} (resumed)", t.outcome);
                let mut extra = edge(from, to, t.outcome.clone(), "taken", None, *count);
                extra.label = label;
                edges.push(extra);
            }
            None => {}
        }
    }
    Built {
        nodes,
        edges,
        width: 0.0,
        height: 0.0,
    }
}

fn node_key(plan: &Plan, n: crate::plan::NodeId) -> String {
    format!("n:{}", plan.nodes[n].name)
}

fn edge(
    from: String,
    to: String,
    outcome: String,
    kind: &'static str,
    guard: Option<GuardView>,
    weight: u32,
) -> GraphEdge {
    GraphEdge {
        label: outcome.clone(),
        from,
        to,
        outcome,
        kind,
        guard,
        weight,
        path: String::new(),
        lx: 0.0,
        ly: 0.0,
    }
}

/// One edge per step of a route's branch chain.
fn chain(
    plan: &Plan,
    from: String,
    outcome: &str,
    id: BranchId,
    fallback: bool,
    run: Option<&ActiveRun>,
    out: &mut Vec<GraphEdge>,
) {
    let branch = &plan.branches[id];
    let guard = branch.guard.map(|g| {
        let row = &plan.counters[g.counter];
        GuardView {
            counter: row.name.clone(),
            limit: row.limit,
            value: run.map(|r| r.counters.get(&row.name).copied().unwrap_or(0)),
        }
    });
    let (to, kind) = match &branch.dest {
        Dest::Node(n) => (node_key(plan, *n), if fallback { "fallback" } else { "route" }),
        Dest::Finish(t) => (
            format!("t:{}", plan.terminals[*t].name),
            if fallback { "fallback" } else { "route" },
        ),
        Dest::Resume(r) => (node_key(plan, r.default), "resume"),
    };
    let mut e = edge(from.clone(), to, outcome.to_string(), kind, guard, 0);
    if let Some(g) = &e.guard {
        let value = g.value.map_or(String::new(), |v| format!("{v}/"));
        e.label = format!("{outcome} [{} {value}{}]", g.counter, g.limit);
    } else if kind == "resume" {
        e.label = format!("{outcome} (resume)");
    }
    out.push(e);
    if let Some(g) = branch.guard {
        chain(plan, from, outcome, g.otherwise, true, run, out);
    }
}
