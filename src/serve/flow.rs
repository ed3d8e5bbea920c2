//! The Flow view's graphs: each plane's loop of the compiled plan as laid
//! out nodes and edges, with the active node, the counters of the active
//! item, and each edge weighted by how often recent runs took it.
//!
//! Input: the stored [`Plan`], the snapshot's active runs, the open
//! closure target, and the tail's recent routing decisions. Output: one
//! [`PlaneGraph`] per plane the plan runs, with coordinates and SVG path
//! data (the page only draws them).
//!
//! Invariants: every node, terminal, entry and route of the plan appears
//! (a guard's fallback is its own dashed edge, a resume its own kind); the
//! layout is deterministic (same plan, same picture): layers by longest
//! path over the edges left after removing the back edges a depth-first
//! walk from the entries finds, terminals on the last layer, order within
//! a layer by barycenter sweeps.

use std::collections::HashMap;

use serde::Serialize;

use super::tail::Taken;
use crate::model::ActiveRun;
use crate::plan::{BranchId, Dest, LoopId, Plan};

const LAYER_GAP: f64 = 96.0;
const NODE_GAP: f64 = 36.0;
const NODE_H: f64 = 42.0;
const MARGIN: f64 = 24.0;
/// Room on the left for the edges that skip layers.
const LEFT_ROOM: f64 = 90.0;

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
            layout(&mut g);
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

struct Built {
    nodes: Vec<GraphNode>,
    edges: Vec<GraphEdge>,
    width: f64,
    height: f64,
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

/// Layers, order, coordinates and paths.
fn layout(g: &mut Built) {
    let index: HashMap<String, usize> = g
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.key.clone(), i))
        .collect();
    let n = g.nodes.len();
    let mut succ: Vec<Vec<usize>> = vec![Vec::new(); n];
    for e in &g.edges {
        if let (Some(&a), Some(&b)) = (index.get(&e.from), index.get(&e.to)) {
            if a != b && !succ[a].contains(&b) {
                succ[a].push(b);
            }
        }
    }
    // Depth-first from the entries (then anything left): back edges out.
    let mut state = vec![0u8; n];
    let mut order = Vec::new();
    let mut forward: Vec<Vec<usize>> = vec![Vec::new(); n];
    for start in 0..n {
        if state[start] == 0 {
            dfs(start, &succ, &mut state, &mut forward, &mut order);
        }
    }
    let mut layer = vec![0usize; n];
    for &v in order.iter().rev() {
        for &w in &forward[v] {
            layer[w] = layer[w].max(layer[v] + 1);
        }
    }
    let last = g
        .nodes
        .iter()
        .enumerate()
        .filter(|(_, b)| b.kind != "terminal")
        .map(|(i, _)| layer[i])
        .max()
        .unwrap_or(0)
        + 1;
    for (i, b) in g.nodes.iter().enumerate() {
        if b.kind == "terminal" {
            layer[i] = last;
        }
    }
    let depth = layer.iter().copied().max().unwrap_or(0) + 1;
    let mut rows: Vec<Vec<usize>> = vec![Vec::new(); depth];
    for v in 0..n {
        rows[layer[v]].push(v);
    }
    let mut pred: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (v, ws) in forward.iter().enumerate() {
        for &w in ws {
            pred[w].push(v);
        }
    }
    for sweep in 0..4 {
        let mut pos = vec![0.0; n];
        for row in &rows {
            for (i, &v) in row.iter().enumerate() {
                pos[v] = i as f64;
            }
        }
        let (neighbours, range): (&Vec<Vec<usize>>, Vec<usize>) = if sweep % 2 == 0 {
            (&pred, (1..depth).collect())
        } else {
            (&forward, (0..depth.saturating_sub(1)).rev().collect())
        };
        for r in range {
            let key = |v: usize| {
                let ns = &neighbours[v];
                if ns.is_empty() {
                    pos[v]
                } else {
                    ns.iter().map(|&u| pos[u]).sum::<f64>() / ns.len() as f64
                }
            };
            rows[r].sort_by(|&a, &b| key(a).total_cmp(&key(b)).then(a.cmp(&b)));
        }
    }
    let widths: Vec<f64> = rows
        .iter()
        .map(|row| {
            row.iter().map(|&v| g.nodes[v].w).sum::<f64>() + NODE_GAP * row.len().saturating_sub(1) as f64
        })
        .collect();
    let widest = widths.iter().copied().fold(0.0, f64::max);
    for (r, row) in rows.iter().enumerate() {
        let mut x = MARGIN + LEFT_ROOM + (widest - widths[r]) / 2.0;
        for &v in row {
            let b = &mut g.nodes[v];
            b.x = x;
            b.y = MARGIN + r as f64 * LAYER_GAP;
            x += b.w + NODE_GAP;
        }
    }
    let mut backs = 0usize;
    let mut lefts = 0usize;
    let mut right = MARGIN + LEFT_ROOM + widest;
    for e in &mut g.edges {
        let (Some(&a), Some(&b)) = (index.get(&e.from), index.get(&e.to)) else {
            continue;
        };
        let (s, t) = (&g.nodes[a], &g.nodes[b]);
        let p = if a == b {
            let (x, y) = (s.x + s.w, s.y + s.h / 2.0);
            [
                (x, y - 8.0),
                (x + 56.0, y - 34.0),
                (x + 56.0, y + 34.0),
                (x, y + 8.0),
            ]
        } else if layer[b] > layer[a] + 1 {
            // A long edge goes round the left, clear of the layers between.
            lefts += 1;
            let off = 24.0 + 16.0 * lefts as f64;
            let (sx, sy) = (s.x, s.y + s.h / 2.0);
            let (tx, ty) = (t.x, t.y + t.h / 2.0);
            let edge_x = (sx.min(tx) - off).max(2.0);
            [(sx, sy), (edge_x, sy), (edge_x, ty), (tx, ty)]
        } else if layer[b] > layer[a] {
            let (sx, sy) = (s.x + s.w / 2.0, s.y + s.h);
            let (tx, ty) = (t.x + t.w / 2.0, t.y);
            let dy = (ty - sy) / 2.0;
            [(sx, sy), (sx, sy + dy), (tx, ty - dy), (tx, ty)]
        } else {
            backs += 1;
            let off = 30.0 + 18.0 * backs as f64;
            let (sx, sy) = (s.x + s.w, s.y + s.h / 2.0);
            let (tx, ty) = (t.x + t.w, t.y + t.h / 2.0);
            let edge_x = sx.max(tx) + off;
            right = right.max(edge_x);
            [(sx, sy), (edge_x, sy), (edge_x, ty), (tx, ty)]
        };
        e.path = format!(
            "M{:.1},{:.1} C{:.1},{:.1} {:.1},{:.1} {:.1},{:.1}",
            p[0].0, p[0].1, p[1].0, p[1].1, p[2].0, p[2].1, p[3].0, p[3].1
        );
        e.lx = (p[0].0 + 3.0 * p[1].0 + 3.0 * p[2].0 + p[3].0) / 8.0;
        e.ly = (p[0].1 + 3.0 * p[1].1 + 3.0 * p[2].1 + p[3].1) / 8.0;
        right = right.max(e.lx + 7.0 * e.label.chars().count() as f64 / 2.0 + 8.0);
    }
    g.width = right + MARGIN + 60.0;
    g.height = MARGIN * 2.0 + depth as f64 * LAYER_GAP;
}

fn dfs(v: usize, succ: &[Vec<usize>], state: &mut [u8], forward: &mut [Vec<usize>], order: &mut Vec<usize>) {
    state[v] = 1;
    for &w in &succ[v] {
        match state[w] {
            0 => {
                forward[v].push(w);
                dfs(w, succ, state, forward, order);
            }
            2 => forward[v].push(w),
            _ => {} // on the stack: a back edge
        }
    }
    state[v] = 2;
    order.push(v);
}
