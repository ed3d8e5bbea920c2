//! The stable human listing of a plan (`millrace compile show`), numbered
//! like a bytecode listing so runtime messages that name ids can be looked up.

use std::fmt::Write;

use super::{BranchId, Dest, EdgeRow, Plan};

pub(super) fn dump(plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "plan {}", plan.plan_id);
    let _ = writeln!(out, "mode {}", plan.mode);
    let _ = writeln!(out, "fingerprint {}", plan.fingerprint);
    let _ = writeln!(out, "concurrency {}", concurrency(plan));
    for l in plan.loops.iter() {
        let _ = writeln!(out, "\nloop {} ({})", l.name, l.plane);
        for e in &l.entries {
            let _ = writeln!(out, "  entry {} -> {}", e.kind, plan.nodes[e.node].name);
        }
        if let Some(c) = l.closure {
            let guard = c
                .counter
                .map(|id| format!(" count {}", plan.counters[id].name))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "  closure {} when {}{}",
                plan.nodes[c.node].name, c.trigger, guard
            );
        }
        for id in l.counters.iter() {
            let c = &plan.counters[id];
            let key = c
                .config_key
                .as_ref()
                .map(|k| format!(" [{k}]"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "  counter #{} {} limit {} per {}{}",
                id.0, c.name, c.limit, c.scope, key
            );
        }
        for id in l.nodes.iter() {
            dump_node(plan, id, &mut out);
        }
        for id in l.terminals.iter() {
            let t = &plan.terminals[id];
            let incident = if t.opens_incident { " opens incident" } else { "" };
            let _ = writeln!(
                out,
                "  terminal #{} {}: {} writes {}{}",
                id.0, t.name, t.class, t.writes, incident
            );
        }
    }
    if !plan.triggers.is_empty() {
        let _ = writeln!(out, "\ntriggers");
        for t in &plan.triggers {
            let outcomes: Vec<_> = t
                .outcomes
                .iter()
                .map(|o| plan.outcomes[*o].name.as_str())
                .collect();
            let _ = writeln!(
                out,
                "  {}: {} {} {} -> {} ({})",
                t.rule_id,
                t.source_plane,
                plan.stages[t.source_stage].name,
                outcomes.join(" | "),
                plan.stages[t.target_stage].name,
                t.action
            );
        }
    }
    out
}

fn dump_node(plan: &Plan, id: super::NodeId, out: &mut String) {
    let n = &plan.nodes[id];
    let stage = &plan.stages[n.stage];
    if let Some(gate) = &stage.gate {
        let _ = writeln!(
            out,
            "  node #{} {} (gate {}, waiting {})",
            id.0, n.name, stage.name, stage.running
        );
        let _ = writeln!(out, "    ask {:?}", gate.question);
        for shown in &gate.shows {
            let _ = writeln!(out, "    show {shown}");
        }
        if let Some(t) = gate.timeout {
            let _ = writeln!(
                out,
                "    timeout {}s -> {}",
                t.seconds, plan.outcomes[t.outcome].name
            );
        }
        for e in n.edges.iter() {
            let _ = writeln!(out, "    {}", edge_line(plan, &plan.edges[e]));
        }
        return;
    }
    let _ = writeln!(
        out,
        "  node #{} {} (stage {}, running {})",
        id.0, n.name, stage.name, stage.running
    );
    let _ = writeln!(
        out,
        "    runner {}  model {}  effort {}  timeout {}s",
        n.runner,
        n.model.as_deref().unwrap_or("-"),
        n.effort.map(|e| e.as_str()).unwrap_or("-"),
        n.timeout_seconds
    );
    let _ = writeln!(out, "    entrypoint {}", n.entrypoint);
    for skill in stage.skills.iter().chain(&n.attached_skills) {
        let _ = writeln!(out, "    skill {skill}");
    }
    for e in n.edges.iter() {
        let _ = writeln!(out, "    {}", edge_line(plan, &plan.edges[e]));
    }
}

/// `OUTCOME -> dest [count c else ...] [reset ...]`.
pub(super) fn edge_line(plan: &Plan, edge: &EdgeRow) -> String {
    let mut line = format!(
        "{} -> {}",
        plan.outcomes[edge.outcome].name,
        branch_text(plan, edge.branch)
    );
    if !edge.resets.is_empty() {
        let names: Vec<_> = edge
            .resets
            .iter()
            .map(|c| plan.counters[*c].name.as_str())
            .collect();
        let _ = write!(line, " reset {}", names.join(", "));
    }
    line
}

fn branch_text(plan: &Plan, id: BranchId) -> String {
    let branch = &plan.branches[id];
    let mut text = dest_text(plan, &branch.dest);
    if let Some(g) = branch.guard {
        let _ = write!(
            text,
            " count {} else {}",
            plan.counters[g.counter].name,
            branch_text(plan, g.otherwise)
        );
    }
    text
}

pub(super) fn dest_text(plan: &Plan, dest: &Dest) -> String {
    match dest {
        Dest::Node(n) => plan.nodes[*n].name.clone(),
        Dest::Finish(t) => format!("finish {}", plan.terminals[*t].name),
        Dest::Resume(r) => {
            let keys: Vec<_> = r.keys.iter().map(|k| format!("result.{k}")).collect();
            let allowed: Vec<_> = r.allowed.iter().map(|n| plan.nodes[*n].name.as_str()).collect();
            format!(
                "resume {} default {} among {}",
                keys.join(", "),
                plan.nodes[r.default].name,
                allowed.join(", ")
            )
        }
    }
}

fn concurrency(plan: &Plan) -> String {
    let groups = |gs: &Vec<Vec<super::Plane>>| {
        gs.iter()
            .map(|g| g.iter().map(|p| p.as_str()).collect::<Vec<_>>().join("+"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let c = &plan.concurrency;
    let mut text = if c.is_serial() {
        "serial".to_string()
    } else {
        format!("concurrent {}", groups(&c.concurrent))
    };
    if !c.exclusive.is_empty() {
        text.push_str(&format!("; exclusive {}", groups(&c.exclusive)));
    }
    text
}
