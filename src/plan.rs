//! The compiled plan: the runtime's only authority.
//!
//! Input: rows produced by `lower` (or a `compiled_plan.json` read back).
//! Output: flat, versioned tables indexed by typed `u32` ids, a stable JSON
//! form, a sha256 fingerprint of the semantic content, and a human listing.
//!
//! Invariants (checked by [`Plan::from_json`] on every load):
//! - every id in every row indexes an existing row of the right table;
//! - each loop's nodes, terminals and counters are contiguous id ranges, and
//!   each node's edges are one contiguous slice of `edges` sorted by source,
//!   so routing a result is a scan of one small slice;
//! - a branch's `otherwise` always points at a later branch, so evaluating a
//!   route always ends;
//! - `fingerprint` is the sha256 of the canonical semantic view (no spans,
//!   paths, inputs or times), so the same loops always give the same id.

mod draw;
mod dump;
mod ids;
mod load;
mod model;
mod settings;
mod vocab;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use draw::{DrawFormat, draw};
pub use ids::{
    BranchId, CounterId, EdgeId, Id, IdRange, IdVec, LoopId, NodeId, OutcomeId, StageId, TerminalId,
};
pub use load::PlanLoadError;
pub use model::*;
pub use settings::{PlanSettings, RecoveryLimits, StageOverride};
pub use vocab::*;

/// The plan format version this build reads and writes.
pub const SCHEMA_VERSION: u32 = 1;

/// A compiled mode.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub schema_version: u32,
    /// `plan-<mode>-<first 12 hex of the fingerprint>`.
    pub plan_id: String,
    pub fingerprint: String,
    pub mode: String,
    pub compiled_at: Option<String>,
    pub loops: IdVec<LoopId, LoopRow>,
    pub stages: IdVec<StageId, StageRow>,
    pub outcomes: IdVec<OutcomeId, OutcomeRow>,
    pub nodes: IdVec<NodeId, NodeRow>,
    pub edges: IdVec<EdgeId, EdgeRow>,
    pub branches: IdVec<BranchId, BranchRow>,
    pub terminals: IdVec<TerminalId, TerminalRow>,
    pub counters: IdVec<CounterId, CounterRow>,
    pub triggers: Vec<TriggerRow>,
    pub concurrency: Concurrency,
    pub inputs: PlanInputs,
    pub source_map: SourceMap,
}

/// The part of the plan that defines behaviour; only this is fingerprinted.
#[derive(Serialize)]
struct Semantic<'a> {
    schema_version: u32,
    mode: &'a str,
    loops: &'a IdVec<LoopId, LoopRow>,
    stages: &'a IdVec<StageId, StageRow>,
    outcomes: &'a IdVec<OutcomeId, OutcomeRow>,
    nodes: &'a IdVec<NodeId, NodeRow>,
    edges: &'a IdVec<EdgeId, EdgeRow>,
    branches: &'a IdVec<BranchId, BranchRow>,
    terminals: &'a IdVec<TerminalId, TerminalRow>,
    counters: &'a IdVec<CounterId, CounterRow>,
    triggers: &'a [TriggerRow],
    concurrency: &'a Concurrency,
}

impl Plan {
    /// Computes the semantic fingerprint (lower-case sha256 hex).
    pub fn compute_fingerprint(&self) -> String {
        let view = Semantic {
            schema_version: self.schema_version,
            mode: &self.mode,
            loops: &self.loops,
            stages: &self.stages,
            outcomes: &self.outcomes,
            nodes: &self.nodes,
            edges: &self.edges,
            branches: &self.branches,
            terminals: &self.terminals,
            counters: &self.counters,
            triggers: &self.triggers,
            concurrency: &self.concurrency,
        };
        // Serializing plain structs and Vecs cannot fail.
        let bytes = serde_json::to_vec(&view).unwrap_or_default();
        sha256_hex(&bytes)
    }

    /// Sets `fingerprint` and `plan_id` from the current content.
    pub fn seal(&mut self) {
        self.fingerprint = self.compute_fingerprint();
        self.plan_id = format!("plan-{}-{}", self.mode, &self.fingerprint[..12]);
    }

    /// The JSON document written to `compiled_plan.json` (two-space indent,
    /// trailing newline).
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }

    /// The loop bound to a plane.
    pub fn loop_for(&self, plane: Plane) -> Option<LoopId> {
        self.loops
            .enumerate()
            .find(|(_, l)| l.plane == plane)
            .map(|(id, _)| id)
    }

    /// The planes this plan runs, in plane order.
    pub fn planes(&self) -> impl Iterator<Item = Plane> + '_ {
        self.loops.iter().map(|l| l.plane)
    }

    /// The node a work item of `kind` enters at.
    pub fn entry(&self, kind: WorkItemKind) -> Option<NodeId> {
        let id = self.loop_for(kind.plane())?;
        self.loops[id]
            .entries
            .iter()
            .find(|e| e.kind == kind)
            .map(|e| e.node)
    }

    /// Whether this plan takes a learning request (entering at
    /// `target_stage`, if set): its mode must bind a learning loop that runs
    /// that stage. The error says why not, for the operator.
    pub fn accepts_learning_request(&self, target_stage: Option<&str>) -> Result<(), String> {
        if self.loop_for(Plane::Learning).is_none() {
            return Err(format!(
                "mode `{}` has no learning plane, so nothing would ever run this request",
                self.mode
            ));
        }
        match target_stage {
            Some(stage) if self.node_for_stage(Plane::Learning, stage).is_none() => Err(format!(
                "the learning loop of mode `{}` has no `{stage}` stage",
                self.mode
            )),
            _ => Ok(()),
        }
    }

    /// The loop with a closure pass, if any.
    pub fn closure(&self) -> Option<(LoopId, ClosureRow)> {
        self.loops
            .enumerate()
            .find_map(|(id, l)| l.closure.map(|c| (id, c)))
    }

    pub fn stage_of(&self, node: NodeId) -> &StageRow {
        &self.stages[self.nodes[node].stage]
    }

    /// The node of a plane's loop with this name.
    pub fn node_named(&self, plane: Plane, name: &str) -> Option<NodeId> {
        let id = self.loop_for(plane)?;
        self.loops[id].nodes.iter().find(|&n| self.nodes[n].name == name)
    }

    /// The first node of a plane's loop running this stage kind.
    pub fn node_for_stage(&self, plane: Plane, stage: &str) -> Option<NodeId> {
        let id = self.loop_for(plane)?;
        self.loops[id]
            .nodes
            .iter()
            .find(|&n| self.stage_of(n).name == stage)
    }

    /// The declared outcomes of a node's stage kind, in declaration order.
    pub fn outcomes_of(&self, node: NodeId) -> impl Iterator<Item = (OutcomeId, &OutcomeRow)> {
        self.stage_of(node)
            .outcomes
            .iter()
            .map(move |id| (id, &self.outcomes[id]))
    }

    /// A stage kind's outcome by name.
    pub fn outcome_named(&self, stage: StageId, name: &str) -> Option<OutcomeId> {
        self.stages[stage]
            .outcomes
            .iter()
            .find(|&o| self.outcomes[o].name == name)
    }

    /// The route a node takes on an outcome: a scan of the node's edge slice.
    pub fn edge(&self, node: NodeId, outcome: OutcomeId) -> Option<&EdgeRow> {
        self.nodes[node]
            .edges
            .iter()
            .map(|e| &self.edges[e])
            .find(|e| e.outcome == outcome)
    }

    /// A counter of a loop by name.
    pub fn counter_named(&self, loop_id: LoopId, name: &str) -> Option<CounterId> {
        self.loops[loop_id]
            .counters
            .iter()
            .find(|&c| self.counters[c].name == name)
    }

    /// The human listing printed by `millrace compile show`.
    pub fn dump(&self) -> String {
        dump::dump(self)
    }
}

/// Lower-case hex sha256 of some bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Lower-case hex of a byte slice.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 0xf) as usize] as char);
    }
    out
}
