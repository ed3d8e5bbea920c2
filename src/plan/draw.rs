//! Drawing a plan as a Mermaid flowchart or a Graphviz digraph
//! (`millrace compile graph`).

use std::fmt::Write;

use super::{BranchId, Dest, NodeId, Plan};

/// Output syntax for [`draw`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DrawFormat {
    Mermaid,
    Dot,
}

/// One arrow of the drawing.
struct Arc {
    from: String,
    to: String,
    label: String,
    fallback: bool,
}

/// Draws every loop of the plan; counter fallbacks are dashed.
pub fn draw(plan: &Plan, format: DrawFormat) -> String {
    let arcs = arcs(plan);
    match format {
        DrawFormat::Mermaid => mermaid(plan, &arcs),
        DrawFormat::Dot => dot(plan, &arcs),
    }
}

fn arcs(plan: &Plan) -> Vec<Arc> {
    let mut arcs = Vec::new();
    for (id, l) in plan.loops.enumerate() {
        for e in &l.entries {
            arcs.push(Arc {
                from: format!("entry_{}_{}", id.0, e.kind),
                to: node_key(e.node),
                label: String::new(),
                fallback: false,
            });
        }
    }
    for edge in plan.edges.iter() {
        let outcome = &plan.outcomes[edge.outcome].name;
        branch_arcs(plan, edge.node, outcome, edge.branch, false, &mut arcs);
    }
    arcs
}

fn branch_arcs(plan: &Plan, from: NodeId, outcome: &str, id: BranchId, fallback: bool, arcs: &mut Vec<Arc>) {
    let branch = &plan.branches[id];
    let (to, mut label) = match &branch.dest {
        Dest::Node(n) => (node_key(*n), outcome.to_string()),
        Dest::Finish(t) => (format!("t{}", t.0), outcome.to_string()),
        Dest::Resume(r) => (node_key(r.default), format!("{outcome} (resume)")),
    };
    if let Some(g) = branch.guard {
        let _ = write!(label, " [{}]", plan.counters[g.counter].name);
    }
    arcs.push(Arc {
        from: node_key(from),
        to,
        label,
        fallback,
    });
    if let Some(g) = branch.guard {
        branch_arcs(plan, from, outcome, g.otherwise, true, arcs);
    }
}

fn node_key(id: NodeId) -> String {
    format!("n{}", id.0)
}

fn mermaid(plan: &Plan, arcs: &[Arc]) -> String {
    let mut out = String::from("flowchart TD\n");
    for (id, l) in plan.loops.enumerate() {
        let _ = writeln!(out, "  subgraph loop{}[\"{} ({})\"]", id.0, l.name, l.plane);
        for e in &l.entries {
            let _ = writeln!(out, "    entry_{}_{}((\"{}\"))", id.0, e.kind, e.kind);
        }
        for n in l.nodes.iter() {
            let _ = writeln!(out, "    {}[\"{}\"]", node_key(n), plan.nodes[n].name);
        }
        for t in l.terminals.iter() {
            let term = &plan.terminals[t];
            let _ = writeln!(out, "    t{}([\"{}: {}\"])", t.0, term.name, term.class);
        }
        out.push_str("  end\n");
    }
    for arc in arcs {
        let arrow = if arc.fallback { "-.->" } else { "-->" };
        if arc.label.is_empty() {
            let _ = writeln!(out, "  {} {} {}", arc.from, arrow, arc.to);
        } else {
            let _ = writeln!(out, "  {} {}|\"{}\"| {}", arc.from, arrow, arc.label, arc.to);
        }
    }
    out
}

fn dot(plan: &Plan, arcs: &[Arc]) -> String {
    let mut out = format!("digraph \"{}\" {{\n  rankdir=TB;\n", plan.plan_id);
    for (id, l) in plan.loops.enumerate() {
        let _ = writeln!(
            out,
            "  subgraph cluster_{} {{\n    label=\"{} ({})\";",
            id.0, l.name, l.plane
        );
        for e in &l.entries {
            let _ = writeln!(
                out,
                "    entry_{}_{} [label=\"{}\", shape=circle];",
                id.0, e.kind, e.kind
            );
        }
        for n in l.nodes.iter() {
            let _ = writeln!(
                out,
                "    {} [label=\"{}\", shape=box];",
                node_key(n),
                plan.nodes[n].name
            );
        }
        for t in l.terminals.iter() {
            let term = &plan.terminals[t];
            let _ = writeln!(
                out,
                "    t{} [label=\"{}: {}\", shape=doubleoctagon];",
                t.0, term.name, term.class
            );
        }
        out.push_str("  }\n");
    }
    for arc in arcs {
        let style = if arc.fallback { ", style=dashed" } else { "" };
        let _ = writeln!(
            out,
            "  {} -> {} [label=\"{}\"{}];",
            arc.from, arc.to, arc.label, style
        );
    }
    out.push_str("}\n");
    out
}
