//! A layered layout for the Flow view's small graphs (a loop has a dozen
//! nodes), computed on the server so the page only draws.
//!
//! Input: the boxes and arrows of one loop ([`Built`]). Output: each box's
//! position and each arrow's SVG path (a cubic curve) and label anchor,
//! and the drawing's size.
//!
//! Invariants: deterministic (same plan, same picture): layers by longest
//! path over the edges left once a depth-first walk from the entries has
//! set the back edges aside, terminals on the last layer, order within a
//! layer by four barycenter sweeps; an edge to the next layer goes
//! straight down, one that skips layers round the left, one that goes
//! back or sideways round the right, a self-loop as a loop on the right.

use std::collections::HashMap;

use super::flow::Built;

const LAYER_GAP: f64 = 96.0;
const NODE_GAP: f64 = 36.0;
const MARGIN: f64 = 24.0;
/// Room on the left for the edges that skip layers.
const LEFT_ROOM: f64 = 90.0;

/// Layers, order, coordinates and paths.
pub(crate) fn layout(g: &mut Built) {
    let index: HashMap<String, usize> = g
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.key.clone(), i))
        .collect();
    let n = g.nodes.len();
    let mut succ: Vec<Vec<usize>> = vec![Vec::new(); n];
    for e in &g.edges {
        if let (Some(&a), Some(&b)) = (index.get(&e.from), index.get(&e.to))
            && a != b
            && !succ[a].contains(&b)
        {
            succ[a].push(b);
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
