//! What the engine asks a runner to do: one stage of one work item.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::snapshot::RequestKind;
use crate::plan::{Effort, Plane, ResultClass, WorkItemKind};

/// One stage to run, with every path absolute. Written to
/// `runs/<run>/request.<request_id>.json` before the harness starts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StageRunRequest {
    pub request_id: String,
    pub run_id: String,
    pub plane: Plane,
    pub node: String,
    pub stage: String,
    pub request_kind: RequestKind,
    pub mode_id: String,
    pub plan_id: String,
    /// Status token while the stage runs, without `### `.
    pub running_marker: String,
    /// Legal outcomes in declaration order.
    pub outcomes: Vec<LegalOutcome>,
    pub entrypoint_path: PathBuf,
    pub required_skills: Vec<PathBuf>,
    pub attached_skills: Vec<PathBuf>,
    pub work_item: Option<WorkItemPaths>,
    pub closure: Option<ClosurePaths>,
    pub workspace_root: PathBuf,
    pub run_dir: PathBuf,
    /// Where the stage may write its structured result JSON.
    pub result_path: PathBuf,
    pub status_path: PathBuf,
    pub snapshot_path: PathBuf,
    pub troubleshoot_report_path: Option<PathBuf>,
    pub runtime_error: Option<RuntimeErrorPaths>,
    pub runner: String,
    pub model: Option<String>,
    pub effort: Option<Effort>,
    pub timeout_seconds: u64,
    /// How many times this node already ran for this item in this run.
    pub attempt: u32,
    /// What the last gate's decision said (`gate `review` decided REVISE:
    /// <note>`), for the stage that runs right after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator_note: Option<String>,
    pub budget: Option<Budget>,
}

/// A legal terminal result and the classes it may carry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegalOutcome {
    pub name: String,
    pub classes: Vec<ResultClass>,
}

/// The work item a stage works on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkItemPaths {
    pub kind: WorkItemKind,
    pub id: String,
    /// The document in its `active/` directory.
    pub path: PathBuf,
    /// The item's closure family, so a stage can copy it into the documents
    /// it writes (a manager's tasks, a planner's child specs).
    #[serde(default)]
    pub root_spec_id: Option<String>,
    #[serde(default)]
    pub root_idea_id: Option<String>,
}

impl StageRunRequest {
    /// The root spec of the work: the closure target's, else the item's.
    pub fn root_spec_id(&self) -> Option<&str> {
        self.closure
            .as_ref()
            .map(|c| c.root_spec_id.as_str())
            .or(self.work_item.as_ref().and_then(|w| w.root_spec_id.as_deref()))
    }

    /// The root idea of the work: the closure target's, else the item's.
    pub fn root_idea_id(&self) -> Option<&str> {
        match &self.closure {
            Some(c) => c.root_idea_id.as_deref(),
            None => self.work_item.as_ref().and_then(|w| w.root_idea_id.as_deref()),
        }
    }
}

/// What a closure (Arbiter) stage judges.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClosurePaths {
    pub root_spec_id: String,
    pub root_idea_id: Option<String>,
    pub target_path: PathBuf,
    pub root_spec_path: PathBuf,
    pub seed_idea_path: Option<PathBuf>,
    pub rubric_path: PathBuf,
    pub verdict_path: PathBuf,
    pub report_path: PathBuf,
}

/// A runtime-owned error handed to a repair stage.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeErrorPaths {
    pub code: String,
    pub report_path: PathBuf,
    pub catalog_path: Option<PathBuf>,
}

/// Caps the runtime enforces on this stage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Budget {
    pub max_tokens: Option<u64>,
    pub max_cost_usd: Option<f64>,
}

impl StageRunRequest {
    /// The legal outcome names, in declaration order.
    pub fn outcome_names(&self) -> impl Iterator<Item = &str> {
        self.outcomes.iter().map(|o| o.name.as_str())
    }
}
