//! The rows of the plan's flat tables.

use serde::{Deserialize, Serialize};

use super::ids::{BranchId, CounterId, EdgeId, IdRange, LoopId, NodeId, OutcomeId, StageId, TerminalId};
use super::vocab::{
    ClosureTrigger, CounterScope, Effort, LearningAction, Plane, ResultClass, Role, WorkItemKind,
};

/// One loop bound to a plane by the mode.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoopRow {
    pub name: String,
    pub plane: Plane,
    pub nodes: IdRange<NodeId>,
    pub terminals: IdRange<TerminalId>,
    pub counters: IdRange<CounterId>,
    /// Where each kind of work item enters the loop.
    pub entries: Vec<EntryRow>,
    pub closure: Option<ClosureRow>,
    /// The node that receives runtime-owned post-stage errors (the first node
    /// whose stage has `role repair`).
    pub repair: Option<NodeId>,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct EntryRow {
    pub kind: WorkItemKind,
    pub node: NodeId,
}

/// The closure pass of a loop: which node judges a lineage, when, and which
/// target-scoped counter bounds how often it may run.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClosureRow {
    pub node: NodeId,
    pub trigger: ClosureTrigger,
    pub counter: Option<CounterId>,
}

/// A stage kind: the contract a harness is held to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StageRow {
    pub name: String,
    pub plane: Plane,
    pub title: Option<String>,
    /// Default entrypoint, relative to `millrace-agents/`.
    pub entrypoint: String,
    pub skills: Vec<String>,
    pub suggested_skills: Vec<String>,
    /// Status token written while the stage runs, without `### `.
    pub running: String,
    pub outcomes: IdRange<OutcomeId>,
    pub emits: Vec<String>,
    pub accepts: Vec<String>,
    pub role: Option<Role>,
    /// Set for a gate: no harness runs it; a decision (or its timeout)
    /// supplies the outcome. Absent for harness stages, so plans without
    /// gates keep their fingerprint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<GateRow>,
}

/// What a gate asks, what it shows, and what it does when nobody answers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GateRow {
    pub question: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shows: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<GateTimeout>,
}

/// A gate's timeout: after `seconds` of waiting it ends with `outcome`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct GateTimeout {
    pub seconds: u64,
    pub outcome: OutcomeId,
}

/// One legal terminal result of a stage and the result classes it may carry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutcomeRow {
    pub stage: StageId,
    pub name: String,
    pub classes: Vec<ResultClass>,
}

/// A node of a loop with its resolved bindings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeRow {
    pub name: String,
    #[serde(rename = "loop")]
    pub loop_id: LoopId,
    pub plane: Plane,
    pub stage: StageId,
    /// This node's routes, one per declared outcome, sorted by outcome.
    pub edges: IdRange<EdgeId>,
    pub entrypoint: String,
    pub attached_skills: Vec<String>,
    pub runner: String,
    pub model: Option<String>,
    pub effort: Option<Effort>,
    pub timeout_seconds: u64,
}

/// The route taken when `node` ends with `outcome`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EdgeRow {
    pub node: NodeId,
    pub outcome: OutcomeId,
    pub branch: BranchId,
    /// Counters set back to zero whenever this route is taken.
    pub resets: Vec<CounterId>,
}

/// One step of a route: go to `dest`, unless a guard's counter is spent, in
/// which case continue with the guard's `otherwise` branch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BranchRow {
    pub dest: Dest,
    pub guard: Option<Guard>,
}

/// A counter check: below its limit the counter is incremented and the
/// branch's destination taken; at its limit `otherwise` is taken instead.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Guard {
    pub counter: CounterId,
    pub otherwise: BranchId,
}

/// Where a branch leads.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dest {
    /// Run another node of the same loop for the same work item.
    Node(NodeId),
    /// End the work item's journey through the plane.
    Finish(TerminalId),
    /// Run the node the stage named in its structured result, if allowed.
    Resume(Resume),
}

/// A metadata-driven resume: the first `keys` value of the stage's
/// structured result that names a node in `allowed`, else `default`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Resume {
    pub keys: Vec<String>,
    pub default: NodeId,
    pub allowed: Vec<NodeId>,
}

/// How a work item leaves a loop.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TerminalRow {
    pub name: String,
    #[serde(rename = "loop")]
    pub loop_id: LoopId,
    pub class: ResultClass,
    /// Status token written to the plane's status file.
    pub writes: String,
    /// Whether reaching it files a planning incident carrying the lineage.
    pub opens_incident: bool,
    pub emits: Vec<String>,
}

/// A bounded counter.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CounterRow {
    pub name: String,
    #[serde(rename = "loop")]
    pub loop_id: LoopId,
    pub limit: u32,
    pub scope: CounterScope,
    /// The `millrace.toml` key the limit was read from, if any.
    pub config_key: Option<String>,
}

/// A learning trigger: when a stage of a foreground plane ends with one of
/// `outcomes`, a learning request enters the learning loop at `target`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TriggerRow {
    pub rule_id: String,
    pub source_plane: Plane,
    pub source_stage: StageId,
    pub outcomes: Vec<OutcomeId>,
    pub target_stage: StageId,
    pub action: LearningAction,
}

/// Which planes may run stages at the same time. Empty means serial: one
/// stage at a time in the whole workspace.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Concurrency {
    pub exclusive: Vec<Vec<Plane>>,
    pub concurrent: Vec<Vec<Plane>>,
}

impl Concurrency {
    pub fn is_serial(&self) -> bool {
        self.concurrent.is_empty()
    }

    /// Whether a stage of `candidate` may start while `active` runs one
    /// (the reference's `can_dispatch_plane` for one active plane).
    pub fn may_overlap(&self, candidate: Plane, active: Plane) -> bool {
        if candidate == active {
            return false;
        }
        let pair = |group: &Vec<Plane>| group.contains(&candidate) && group.contains(&active);
        !self.exclusive.iter().any(pair) && self.concurrent.iter().any(pair)
    }
}

/// What the plan was compiled from, so currentness can be judged without
/// recompiling. Not part of the semantic fingerprint.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PlanInputs {
    /// sha256 over the paths and hashes below (hex).
    pub fingerprint: String,
    /// `.mill` sources: `builtin:loops/execution.mill` or a workspace path.
    pub sources: Vec<InputFile>,
    /// sha256 of the configuration values that shape the plan.
    pub config: String,
    /// Entrypoints and skills the plan's nodes name, relative to
    /// `millrace-agents/`; `sha256` is `missing` for an absent file.
    pub assets: Vec<InputFile>,
}

/// One input file with enough metadata to skip rehashing when unchanged.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InputFile {
    pub path: String,
    pub sha256: String,
    #[serde(default)]
    pub size: u64,
    #[serde(default)]
    pub mtime_ns: i64,
}

/// Where plan rows came from, for error messages. The runtime never reads
/// it; it is excluded from the fingerprint.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SourceMap {
    pub files: Vec<String>,
    pub stages: Vec<Loc>,
    pub nodes: Vec<Loc>,
    pub edges: Vec<Loc>,
    pub terminals: Vec<Loc>,
}

/// A source position: file index, 1-based line and column.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Loc {
    pub file: u32,
    pub line: u32,
    pub column: u32,
}
