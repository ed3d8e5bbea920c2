//! Routing one stage outcome through the plan: a scan of the node's edge
//! slice, then the branch chain (guards, fallbacks, resume). Pure: counters
//! come in and go out as values.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::plan::{Dest, NodeId, Plan, TerminalId};

/// Where an outcome leads.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// Run this node next, for the same work item.
    Node(NodeId),
    /// The work item leaves the loop at this terminal.
    Finish(TerminalId),
}

/// The result of routing, with everything needed to explain it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Routed {
    pub target: Target,
    /// The item's counters after the route (increments and resets applied).
    pub counters: BTreeMap<String, u32>,
    /// The counter this route counted, with its new value.
    pub counted: Option<(String, u32)>,
    /// Counters found spent on the way (each sent the route to its fallback).
    pub exhausted: Vec<String>,
    /// The structured-result key that chose a resume target, and its value.
    pub resumed_by: Option<(String, String)>,
}

/// Why an outcome could not be routed. Normalization only produces declared
/// outcomes and the plan is validated on load, so these mean a bug or a
/// plan edited by hand.
#[derive(Debug, thiserror::Error, miette::Diagnostic, PartialEq, Eq)]
pub enum RouteError {
    /// The stage reported an outcome its kind does not declare.
    #[error("node `{node}` has no outcome `{outcome}`")]
    #[diagnostic(
        code(mill::engine::undeclared_outcome),
        help("the harness result was not normalized against this plan; recompile and retry the item")
    )]
    UndeclaredOutcome { node: String, outcome: String },

    /// The plan has no route for a declared outcome.
    #[error("node `{node}` has no route for `{outcome}`")]
    #[diagnostic(
        code(mill::engine::missing_route),
        help("the compiled plan is inconsistent; recompile with `millrace compile validate`")
    )]
    MissingRoute { node: String, outcome: String },
}

/// Routes `outcome` of `node`. `metadata` is the stage's structured result
/// (resume keys are read from it); `counters` are the work item's.
pub fn route(
    plan: &Plan,
    node: NodeId,
    outcome: &str,
    metadata: &serde_json::Map<String, serde_json::Value>,
    counters: &BTreeMap<String, u32>,
) -> Result<Routed, RouteError> {
    let row = &plan.nodes[node];
    let Some(outcome_id) = plan.outcome_named(row.stage, outcome) else {
        return Err(RouteError::UndeclaredOutcome {
            node: row.name.clone(),
            outcome: outcome.into(),
        });
    };
    let Some(edge) = plan.edge(node, outcome_id) else {
        return Err(RouteError::MissingRoute {
            node: row.name.clone(),
            outcome: outcome.into(),
        });
    };
    let mut routed = Routed {
        target: Target::Finish(TerminalId(0)),
        counters: counters.clone(),
        counted: None,
        exhausted: Vec::new(),
        resumed_by: None,
    };
    let mut branch = edge.branch;
    loop {
        let b = &plan.branches[branch];
        if let Some(guard) = b.guard {
            let counter = &plan.counters[guard.counter];
            let used = routed.counters.get(&counter.name).copied().unwrap_or(0);
            if used >= counter.limit {
                routed.exhausted.push(counter.name.clone());
                branch = guard.otherwise;
                continue;
            }
            routed.counters.insert(counter.name.clone(), used + 1);
            routed.counted = Some((counter.name.clone(), used + 1));
        }
        routed.target = match &b.dest {
            Dest::Node(n) => Target::Node(*n),
            Dest::Finish(t) => Target::Finish(*t),
            Dest::Resume(r) => {
                let chosen = r.keys.iter().find_map(|key| {
                    let value = metadata.get(key)?.as_str()?.trim();
                    let found = r
                        .allowed
                        .iter()
                        .find(|n| plan.nodes[**n].name.eq_ignore_ascii_case(value))?;
                    Some((key.clone(), value.to_string(), *found))
                });
                match chosen {
                    Some((key, value, found)) => {
                        routed.resumed_by = Some((key, value));
                        Target::Node(found)
                    }
                    None => Target::Node(r.default),
                }
            }
        };
        break;
    }
    for reset in &edge.resets {
        routed.counters.remove(&plan.counters[*reset].name);
    }
    Ok(routed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Plane;

    fn plan(mode: &str) -> Plan {
        crate::compile::builtin(mode).unwrap()
    }

    fn node(plan: &Plan, name: &str) -> NodeId {
        plan.node_named(Plane::Execution, name).unwrap()
    }

    fn go(plan: &Plan, from: &str, outcome: &str, counters: &BTreeMap<String, u32>) -> Routed {
        route(plan, node(plan, from), outcome, &Default::default(), counters).unwrap()
    }

    #[test]
    fn fix_cycles_run_out_into_the_troubleshooter() {
        let p = plan("default_codex");
        let mut counters = BTreeMap::new();
        for expected in [1, 2] {
            let r = go(&p, "checker", "FIX_NEEDED", &counters);
            assert_eq!(r.target, Target::Node(node(&p, "fixer")));
            assert_eq!(r.counted, Some(("fix_cycles".into(), expected)));
            counters = r.counters;
        }
        let r = go(&p, "doublechecker", "FIX_NEEDED", &counters);
        assert_eq!(r.target, Target::Node(node(&p, "troubleshooter")));
        assert_eq!(r.exhausted, ["fix_cycles"]);
        assert_eq!(r.counted, Some(("troubleshoots".into(), 1)));
    }

    #[test]
    fn consults_run_out_into_blocked() {
        let p = plan("default_codex");
        let counters = BTreeMap::from([("consults".to_string(), 2)]);
        let r = go(&p, "consultant", "CONSULT_COMPLETE", &counters);
        let Target::Finish(t) = r.target else {
            panic!("finishes")
        };
        assert_eq!(p.terminals[t].name, "blocked");
    }

    #[test]
    fn resume_follows_the_structured_result_within_bounds() {
        let p = plan("default_codex");
        let troubleshooter = node(&p, "troubleshooter");
        let mut meta = serde_json::Map::new();
        meta.insert("resume_stage".into(), "Checker".into());
        let r = route(
            &p,
            troubleshooter,
            "TROUBLESHOOT_COMPLETE",
            &meta,
            &BTreeMap::new(),
        )
        .unwrap();
        assert_eq!(r.target, Target::Node(node(&p, "checker")));
        assert_eq!(r.resumed_by, Some(("resume_stage".into(), "Checker".into())));
        // Excluded and unknown targets fall back to the default.
        for bad in ["consultant", "troubleshooter", "nowhere"] {
            meta.insert("resume_stage".into(), bad.into());
            let r = route(
                &p,
                troubleshooter,
                "TROUBLESHOOT_COMPLETE",
                &meta,
                &BTreeMap::new(),
            )
            .unwrap();
            assert_eq!(r.target, Target::Node(node(&p, "builder")), "{bad}");
            assert_eq!(r.resumed_by, None);
        }
    }

    #[test]
    fn undeclared_outcomes_are_errors_not_panics() {
        let p = plan("default_codex");
        let e = route(
            &p,
            node(&p, "builder"),
            "CHECKER_PASS",
            &Default::default(),
            &BTreeMap::new(),
        )
        .unwrap_err();
        assert!(matches!(e, RouteError::UndeclaredOutcome { .. }));
    }
}
