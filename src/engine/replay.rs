//! Replay: a recorded run's routing decisions fed again, in order, to the
//! engine's router under a candidate plan, to see where it would route
//! differently before the plan goes live.
//!
//! Input: a [`Plan`] and the decisions of one run as they were recorded
//! (node, outcome, structured result, and where the old plan sent it).
//! Output: a [`RunReplay`]: how many decisions matched and the first
//! divergence, with the candidate plan's source location of the route
//! that changed. Pure: counters are carried through the run exactly as
//! [`route`] computes them under the candidate plan, so a route that
//! counts differently shows up where it first changes a destination.

use std::collections::BTreeMap;

use serde::Serialize;

use super::route::{RouteError, Target, route};
use crate::model::event::{RouteTarget, RoutingRecord};
use crate::plan::{NodeId, Plan};

/// One recorded decision: the routing record and the structured result it
/// routed (resume targets are read from it).
#[derive(Clone, Debug)]
pub struct Recorded {
    pub record: RoutingRecord,
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

/// What replaying one run found.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunReplay {
    pub run_id: String,
    pub decisions: usize,
    pub matched: usize,
    pub divergence: Option<Divergence>,
}

/// The first decision the candidate plan makes differently.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Divergence {
    pub kind: DivergenceKind,
    pub request_id: String,
    pub node: String,
    pub outcome: String,
    /// Where the recorded run went (`node checker`, `terminal blocked`).
    pub old_route: String,
    /// Where the candidate plan goes, when it can route the outcome.
    pub new_route: Option<String>,
    /// `file:line:column` of the candidate plan's route for the outcome.
    pub span: Option<String>,
}

/// Why a decision diverges.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DivergenceKind {
    /// The outcome is routed somewhere else.
    Route,
    /// The node's stage no longer declares the recorded outcome.
    UndeclaredOutcome,
    /// The candidate plan has no such node on the run's plane.
    MissingNode,
    /// The candidate plan's stage declares the outcome but routes it nowhere
    /// (a hand-edited plan).
    MissingRoute,
}

impl DivergenceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DivergenceKind::Route => "route",
            DivergenceKind::UndeclaredOutcome => "undeclared_outcome",
            DivergenceKind::MissingNode => "missing_node",
            DivergenceKind::MissingRoute => "missing_route",
        }
    }
}

/// Replays one run's decisions (in the order they were made).
pub fn replay_run(plan: &Plan, run_id: &str, decisions: &[Recorded]) -> RunReplay {
    let mut out = RunReplay {
        run_id: run_id.to_string(),
        decisions: decisions.len(),
        matched: 0,
        divergence: None,
    };
    let mut counters = decisions.first().map(counters_before).unwrap_or_default();
    for d in decisions {
        let r = &d.record;
        let old_route = describe_recorded(&r.target);
        // A run a spending cap ended was ended by the runtime, not routed
        // by the plan: nothing after it was decided by the plan either.
        if matches!(&r.target, RouteTarget::Terminal { terminal, .. } if terminal == "BUDGET_EXHAUSTED") {
            out.matched += 1;
            break;
        }
        let diverge = |kind, new_route: Option<String>, span: Option<String>| Divergence {
            kind,
            request_id: r.request_id.clone(),
            node: r.node.clone(),
            outcome: r.outcome.clone(),
            old_route: old_route.clone(),
            new_route,
            span,
        };
        let Some(node) = plan.node_named(r.plane, &r.node) else {
            out.divergence = Some(diverge(DivergenceKind::MissingNode, None, None));
            break;
        };
        let span = route_span(plan, node, &r.outcome);
        let routed = match route(plan, node, &r.outcome, &d.metadata, &counters) {
            Ok(routed) => routed,
            Err(RouteError::UndeclaredOutcome { .. }) => {
                let span = node_span(plan, node);
                out.divergence = Some(diverge(DivergenceKind::UndeclaredOutcome, None, span));
                break;
            }
            Err(RouteError::MissingRoute { .. }) => {
                out.divergence = Some(diverge(DivergenceKind::MissingRoute, None, span));
                break;
            }
        };
        let new_route = describe_target(plan, &routed.target);
        if new_route != old_route {
            out.divergence = Some(diverge(DivergenceKind::Route, Some(new_route), span));
            break;
        }
        out.matched += 1;
        counters = routed.counters;
    }
    out
}

/// The run's counters before its first recorded decision: the counters
/// after it, without that decision's own count.
fn counters_before(first: &Recorded) -> BTreeMap<String, u32> {
    let mut counters = first.record.counters.clone();
    if let Some((name, value)) = &first.record.counted {
        match value.saturating_sub(1) {
            0 => counters.remove(name),
            v => counters.insert(name.clone(), v),
        };
    }
    counters
}

fn describe_recorded(target: &RouteTarget) -> String {
    match target {
        RouteTarget::Node { node } => format!("node {node}"),
        RouteTarget::Terminal { terminal, .. } => format!("terminal {terminal}"),
    }
}

fn describe_target(plan: &Plan, target: &Target) -> String {
    match target {
        Target::Node(n) => format!("node {}", plan.nodes[*n].name),
        Target::Finish(t) => format!("terminal {}", plan.terminals[*t].name),
    }
}

/// `file:line:column` of the route `node` takes on `outcome`.
fn route_span(plan: &Plan, node: NodeId, outcome: &str) -> Option<String> {
    let outcome = plan.outcome_named(plan.nodes[node].stage, outcome)?;
    let edge = plan.nodes[node]
        .edges
        .iter()
        .find(|e| plan.edges[*e].outcome == outcome)?;
    let loc = plan.source_map.edges.get(edge.0 as usize)?;
    Some(format_loc(plan, loc))
}

fn node_span(plan: &Plan, node: NodeId) -> Option<String> {
    let loc = plan.source_map.nodes.get(node.0 as usize)?;
    Some(format_loc(plan, loc))
}

fn format_loc(plan: &Plan, loc: &crate::plan::Loc) -> String {
    let file = plan
        .source_map
        .files
        .get(loc.file as usize)
        .map(String::as_str)
        .unwrap_or("?");
    format!("{file}:{}:{}", loc.line, loc.column)
}
