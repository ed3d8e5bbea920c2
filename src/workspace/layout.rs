//! Where everything lives: one accessor per well-known path of a workspace.
//!
//! Input: the workspace root (the operator's repository). Output: absolute
//! paths under `<root>/millrace-agents/` (and `<root>/ideas/inbox/`).
//!
//! Invariants: every path is derived here and nowhere else; a path that
//! embeds an identifier takes it only after [`super::ids::check_id`] passed
//! (callers check; the accessors document which argument is an id).

use std::path::{Path, PathBuf};

use crate::model::QueueState;
use crate::plan::{Plane, WorkItemKind};

/// The directory under the root that holds everything millrace manages.
pub const AGENTS_DIR: &str = "millrace-agents";
/// The config file name inside [`AGENTS_DIR`].
pub const CONFIG_FILE: &str = "millrace.toml";

/// The directory name of a state within a family (incidents use
/// `incoming/` and `resolved/`).
pub(crate) fn state_dir_name(kind: WorkItemKind, state: QueueState) -> &'static str {
    match (kind, state) {
        (WorkItemKind::Incident, QueueState::Queued) => "incoming",
        (WorkItemKind::Incident, QueueState::Done) => "resolved",
        (_, QueueState::Queued) => "queue",
        (_, QueueState::Active) => "active",
        (_, QueueState::Done) => "done",
        (_, QueueState::Blocked) => "blocked",
    }
}

/// The family directory of a kind, relative to `millrace-agents/`.
pub(crate) fn family_dir_name(kind: WorkItemKind) -> &'static str {
    match kind {
        WorkItemKind::Task => "tasks",
        WorkItemKind::Spec => "specs",
        WorkItemKind::Incident => "incidents",
        WorkItemKind::LearningRequest => "learning/requests",
    }
}

/// The three boxes of the mailbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MailboxBox {
    Incoming,
    Processed,
    Failed,
}

impl MailboxBox {
    pub fn as_str(self) -> &'static str {
        match self {
            MailboxBox::Incoming => "incoming",
            MailboxBox::Processed => "processed",
            MailboxBox::Failed => "failed",
        }
    }
}

/// Every well-known path of one workspace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paths {
    root: PathBuf,
    agents: PathBuf,
    /// A configuration file named on the command line (`--config`).
    config: Option<PathBuf>,
}

impl Paths {
    /// Paths for the workspace rooted at `root` (which should be absolute).
    pub fn new(root: PathBuf) -> Self {
        let agents = root.join(AGENTS_DIR);
        Self {
            root,
            agents,
            config: None,
        }
    }

    /// The same paths, with the configuration read from `path` (absolute).
    pub(crate) fn with_config(mut self, path: PathBuf) -> Self {
        self.config = Some(path);
        self
    }

    /// The operator's workspace root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `<root>/millrace-agents/`.
    pub fn agents(&self) -> &Path {
        &self.agents
    }

    /// `millrace.toml`, or the file `--config` named.
    pub fn config(&self) -> PathBuf {
        self.config
            .clone()
            .unwrap_or_else(|| self.agents.join(CONFIG_FILE))
    }

    pub fn outline(&self) -> PathBuf {
        self.agents.join("outline.md")
    }

    pub fn historylog(&self) -> PathBuf {
        self.agents.join("historylog.md")
    }

    /// Workspace-local `.mill` files.
    pub fn loops_dir(&self) -> PathBuf {
        self.agents.join("loops")
    }

    pub fn state_dir(&self) -> PathBuf {
        self.agents.join("state")
    }

    /// `state/gates/`: gate waits and their decisions.
    pub fn gates_dir(&self) -> PathBuf {
        self.state_dir().join("gates")
    }

    pub fn snapshot(&self) -> PathBuf {
        self.state_dir().join("runtime_snapshot.json")
    }

    /// The commit log of engine transitions (`workspace::journal`).
    pub fn journal(&self) -> PathBuf {
        self.state_dir().join("journal.jsonl")
    }

    /// The single-record journal of earlier versions, applied if found.
    pub fn legacy_journal(&self) -> PathBuf {
        self.state_dir().join("journal.json")
    }

    pub fn status_marker(&self, plane: Plane) -> PathBuf {
        self.state_dir().join(format!("{}_status.md", plane.as_str()))
    }

    pub fn baseline_manifest(&self) -> PathBuf {
        self.state_dir().join("baseline_manifest.json")
    }

    pub fn compiled_plan(&self) -> PathBuf {
        self.state_dir().join("compiled_plan.json")
    }

    /// The sha256 of `compiled_plan.json` as the compiler wrote it, so a
    /// hand edit is seen without parsing the plan.
    pub fn compiled_plan_hash(&self) -> PathBuf {
        self.state_dir().join("compiled_plan.sha256")
    }

    pub fn compile_diagnostics(&self) -> PathBuf {
        self.state_dir().join("compile_diagnostics.json")
    }

    /// Usage governance's last verdict (`millrace status` reads it).
    pub fn governance_state(&self) -> PathBuf {
        self.state_dir().join("usage_governance_state.json")
    }

    /// The append-only token ledger usage governance counts from.
    pub fn governance_ledger(&self) -> PathBuf {
        self.state_dir().join("usage_governance_ledger.jsonl")
    }

    /// The ownership record (who holds the lock), for humans and `doctor`.
    pub fn lock(&self) -> PathBuf {
        self.state_dir().join("runtime_daemon.lock.json")
    }

    /// The file the owner holds an OS lock on for its whole life; never
    /// removed, its content is irrelevant.
    pub fn lock_file(&self) -> PathBuf {
        self.state_dir().join("runtime_daemon.lock")
    }

    pub fn mailbox(&self, which: MailboxBox) -> PathBuf {
        self.state_dir().join("mailbox").join(which.as_str())
    }

    /// Queue index caches, one file per work-item kind.
    pub fn index_dir(&self) -> PathBuf {
        self.state_dir().join("index")
    }

    pub fn index(&self, kind: WorkItemKind) -> PathBuf {
        self.index_dir().join(format!("{}.json", kind.as_str()))
    }

    /// The directory holding `kind` documents in `state`.
    pub fn queue_dir(&self, kind: WorkItemKind, state: QueueState) -> PathBuf {
        self.agents
            .join(family_dir_name(kind))
            .join(state_dir_name(kind, state))
    }

    /// The file of work item `id` (a checked id) in `state`.
    pub fn document(&self, kind: WorkItemKind, state: QueueState, id: &str) -> PathBuf {
        self.queue_dir(kind, state).join(format!("{id}.md"))
    }

    pub fn learning_dir(&self) -> PathBuf {
        self.agents.join("learning")
    }

    pub fn arbiter_dir(&self) -> PathBuf {
        self.agents.join("arbiter")
    }

    /// `arbiter/targets/<root_spec_id>.json` (a checked id).
    pub fn closure_target(&self, root_spec_id: &str) -> PathBuf {
        self.arbiter_dir()
            .join("targets")
            .join(format!("{root_spec_id}.json"))
    }

    /// `arbiter/diagnostics/lineage-repairs/`: one report per repair plan.
    pub fn lineage_repairs_dir(&self) -> PathBuf {
        self.arbiter_dir().join("diagnostics").join("lineage-repairs")
    }

    pub fn closure_targets_dir(&self) -> PathBuf {
        self.arbiter_dir().join("targets")
    }

    /// `arbiter/contracts/ideas/<root_idea_id>.md` (a checked id).
    pub fn idea_contract(&self, root_idea_id: &str) -> PathBuf {
        self.arbiter_dir()
            .join("contracts/ideas")
            .join(format!("{root_idea_id}.md"))
    }

    /// `arbiter/contracts/root-specs/<root_spec_id>.md` (a checked id).
    pub fn root_spec_contract(&self, root_spec_id: &str) -> PathBuf {
        self.arbiter_dir()
            .join("contracts/root-specs")
            .join(format!("{root_spec_id}.md"))
    }

    pub fn runs_dir(&self) -> PathBuf {
        self.agents.join("runs")
    }

    /// `runs/<run_id>/` (a checked id).
    pub fn run_dir(&self, run_id: &str) -> PathBuf {
        self.runs_dir().join(run_id)
    }

    pub fn logs_dir(&self) -> PathBuf {
        self.agents.join("logs")
    }

    pub fn events_log(&self) -> PathBuf {
        self.logs_dir().join("runtime_events.jsonl")
    }

    /// `<root>/ideas/inbox/`, outside `millrace-agents/`.
    pub fn ideas_inbox(&self) -> PathBuf {
        self.root.join("ideas").join("inbox")
    }

    /// A path relative to `millrace-agents/` (for display and manifests);
    /// paths outside it are returned whole.
    pub fn relative<'a>(&self, path: &'a Path) -> &'a Path {
        path.strip_prefix(&self.agents).unwrap_or(path)
    }

    /// Every directory `init` creates, relative to `millrace-agents/`
    /// (plus the ideas inbox, relative to the root, listed separately).
    pub fn canonical_dirs() -> Vec<String> {
        let mut dirs: Vec<String> = [
            "loops",
            "state",
            "state/mailbox/incoming",
            "state/mailbox/processed",
            "state/mailbox/failed",
            "learning/research-packets",
            "learning/skill-candidates",
            "learning/update-candidates",
            "arbiter/contracts/ideas",
            "arbiter/contracts/root-specs",
            "arbiter/targets",
            "arbiter/rubrics",
            "arbiter/verdicts",
            "arbiter/reports",
            "runs",
            "logs",
            "entrypoints",
            "skills",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for kind in WorkItemKind::ALL {
            for state in QueueState::ALL {
                dirs.push(format!(
                    "{}/{}",
                    family_dir_name(*kind),
                    state_dir_name(*kind, state)
                ));
            }
        }
        dirs
    }
}
