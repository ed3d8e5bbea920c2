//! Queues of work documents: intake, claim, and the legal moves between
//! the `queue → active → done | blocked` directories of each family (and
//! `blocked → queue` when an operator retries an item).
//!
//! Input: validated [`WorkDocument`]s and ids. Output: files in the family
//! directories, moved only by rename.
//!
//! Invariants:
//! - an id exists at most once across the four directories of its family
//!   (enqueue refuses a duplicate, a claim quarantines one);
//! - a family has at most one active item; claiming with one already active
//!   is refused (more than one is reported as an error);
//! - claim order: tasks whose `Depends-On` are all in `tasks/done/`, oldest
//!   `Created-At` first, then id; planning takes incidents (oldest
//!   `Opened-At`) before specs; learning requests oldest first; an optional
//!   root-spec filter restricts candidates to one closure family;
//! - claiming walks a cached index ([`index`]), never parsing the queue.

pub(crate) mod backpressure;
mod claim;
pub(crate) mod depth;
pub(crate) mod drift;
mod ideas;
pub(crate) mod index;
pub(crate) mod lineage;
pub(crate) mod quarantine;
pub(crate) mod scan;

use std::path::PathBuf;

use jiff::Timestamp;
use serde::Serialize;

pub use backpressure::{Backpressure, Holder};
pub use drift::{Change, DriftFinding, DriftReason, Repair, RepairPlan};
pub use index::{Entry, HeldIndexes, QueueIndex, RefreshReport};
pub use lineage::LineageItem;
pub use quarantine::{Quarantined, quarantine};

use super::Workspace;
use super::document::{DocumentError, check_stem};
use super::fsx::{self, FsError};
use crate::model::ids::{IdError, check_id};
use crate::model::{QueueState, WorkDocument};
use crate::plan::{Plane, WorkItemKind};

/// Why a queue operation failed.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum QueueError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Fs(#[from] FsError),

    #[error(transparent)]
    #[diagnostic(transparent)]
    Document(#[from] DocumentError),

    #[error(transparent)]
    #[diagnostic(transparent)]
    Id(#[from] IdError),

    /// The id is already used in the family.
    #[error("{kind} `{id}` already exists at `{}`", path.display())]
    #[diagnostic(
        code(mill::queue::duplicate_id),
        help("choose another id; every id is unique across the queue, active, done and blocked directories")
    )]
    DuplicateId {
        kind: WorkItemKind,
        id: String,
        path: PathBuf,
    },

    /// The item is not in the directory a move starts from.
    #[error("{kind} `{id}` is not {state}", state = state.as_str())]
    #[diagnostic(
        code(mill::queue::not_found),
        help("`millrace queue show {id}` tells where it is")
    )]
    NotFound {
        kind: WorkItemKind,
        id: String,
        state: QueueState,
    },

    /// The move's destination is taken.
    #[error("{kind} `{id}` already exists at `{}`", path.display())]
    #[diagnostic(
        code(mill::queue::destination_exists),
        help("an item with this id already reached that state; inspect both files")
    )]
    DestinationExists {
        kind: WorkItemKind,
        id: String,
        path: PathBuf,
    },

    /// A move the lifecycle does not allow.
    #[error("{kind} items cannot move from {} to {}", from.as_str(), to.as_str())]
    #[diagnostic(
        code(mill::queue::illegal_transition),
        help(
            "items move queue → active → done | blocked, back to the queue from active, or from blocked with `millrace queue retry`"
        )
    )]
    IllegalTransition {
        kind: WorkItemKind,
        from: QueueState,
        to: QueueState,
    },

    /// A family has several active items.
    #[error("the {plane} plane has {count} active items: {}", ids.join(", "))]
    #[diagnostic(
        code(mill::queue::multiple_active),
        help("only one item per plane may be active; `millrace clear-stale-state` requeues them")
    )]
    MultipleActive {
        plane: Plane,
        count: usize,
        ids: Vec<String>,
    },

    /// A claim while an item is already active.
    #[error("the {plane} plane already has active {kind} `{id}`")]
    #[diagnostic(
        code(mill::queue::active_occupied),
        help("finish, block or requeue the active item before claiming another")
    )]
    ActiveOccupied {
        plane: Plane,
        kind: WorkItemKind,
        id: String,
    },

    /// No work item has this id.
    #[error("no work item `{0}` in any queue")]
    #[diagnostic(
        code(mill::queue::unknown_item),
        help("`millrace queue ls --all` lists the queued items")
    )]
    UnknownItem(String),

    /// An idea with this file name is already staged.
    #[error("idea `{}` already exists", path.display())]
    #[diagnostic(
        code(mill::queue::idea_exists),
        help("rename the idea file; staged ideas are never overwritten")
    )]
    IdeaExists { path: PathBuf },

    /// An idea file name that cannot be staged.
    #[error("{0}")]
    #[diagnostic(
        code(mill::queue::invalid_idea),
        help("name the file `<id>.md` and give it some markdown")
    )]
    InvalidIdea(String),

    /// A queue directory could not be listed.
    #[error("cannot read the queues: {0}")]
    #[diagnostic(
        code(mill::queue::unreadable),
        help("check the permissions of the queue directories")
    )]
    Unreadable(String),

    /// A requeue needs a reason.
    #[error("a requeue needs a non-empty reason")]
    #[diagnostic(
        code(mill::queue::empty_reason),
        help("say why the item goes back to the queue")
    )]
    EmptyReason,

    /// `queue retry` of an item that is not blocked.
    #[error("{kind} `{id}` is in `{state}/`, not blocked: only a blocked item can be retried")]
    #[diagnostic(
        code(mill::queue::not_blocked),
        help(
            "`millrace queue show {id}` says where it is; an active item is requeued with `millrace retry-active`"
        )
    )]
    NotBlocked {
        kind: WorkItemKind,
        id: String,
        state: &'static str,
    },

    /// `queue repair-lineage` for a root with no closure target.
    #[error("no closure target for root spec `{root}`: {detail}")]
    #[diagnostic(
        code(mill::queue::no_closure_target),
        help("`millrace status` names the open target (closure_target_root_spec_id); repair that root")
    )]
    NoClosureTarget { root: String, detail: String },
}

/// A claimed item, now in its active directory.
#[derive(Clone, Debug, PartialEq)]
pub struct Claimed {
    pub kind: WorkItemKind,
    pub id: String,
    pub path: PathBuf,
    pub document: WorkDocument,
}

/// One line of `blocked/<id>.blocked.jsonl`: when and why the runtime
/// blocked the item.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct BlockRecord {
    pub at: Timestamp,
    pub reason: String,
}

/// Where an item was found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Located {
    pub kind: WorkItemKind,
    pub state: QueueState,
    pub path: PathBuf,
}

/// The kinds a plane claims, in claim priority order.
pub fn plane_kinds(plane: Plane) -> &'static [WorkItemKind] {
    match plane {
        Plane::Execution => &[WorkItemKind::Task],
        Plane::Planning => &[WorkItemKind::Incident, WorkItemKind::Spec],
        Plane::Learning => &[WorkItemKind::LearningRequest],
    }
}

/// Queue operations on one workspace.
#[derive(Clone, Copy, Debug)]
pub struct Queues<'w> {
    ws: &'w Workspace,
}

impl<'w> Queues<'w> {
    pub fn new(ws: &'w Workspace) -> Self {
        Self { ws }
    }

    /// Writes a validated document into its intake directory, refusing an
    /// id already used anywhere in its family.
    pub fn enqueue(&self, doc: &WorkDocument) -> Result<PathBuf, QueueError> {
        let kind = doc.kind();
        let id = doc.id();
        check_id(&format!("{kind} id"), id)?;
        if let Some(found) = self.find_in(kind, id) {
            return Err(QueueError::DuplicateId {
                kind,
                id: id.to_string(),
                path: found.path,
            });
        }
        let path = self.ws.paths().document(kind, QueueState::Queued, id);
        match fsx::write_new(&path, doc.render().as_bytes()) {
            Ok(()) => Ok(path),
            Err(FsError::Exists { path }) => Err(QueueError::DuplicateId {
                kind,
                id: id.to_string(),
                path,
            }),
            Err(e) => Err(e.into()),
        }
    }

    /// Finds an item of any kind in any state (kinds in plane order, states
    /// in lifecycle order).
    pub fn find(&self, id: &str) -> Result<Option<Located>, QueueError> {
        check_id("work item id", id)?;
        Ok(WorkItemKind::ALL.iter().find_map(|kind| self.find_in(*kind, id)))
    }

    pub(crate) fn find_in(&self, kind: WorkItemKind, id: &str) -> Option<Located> {
        QueueState::ALL.iter().find_map(|state| {
            let path = self.ws.paths().document(kind, *state, id);
            fsx::is_file(&path).then_some(Located {
                kind,
                state: *state,
                path,
            })
        })
    }

    /// Reads an item's document from a state directory.
    pub fn load(&self, kind: WorkItemKind, state: QueueState, id: &str) -> Result<WorkDocument, QueueError> {
        check_id(&format!("{kind} id"), id)?;
        let path = self.ws.paths().document(kind, state, id);
        if !fsx::is_file(&path) {
            return Err(QueueError::NotFound {
                kind,
                id: id.to_string(),
                state,
            });
        }
        let doc = WorkDocument::load(&path, Some(kind))?;
        check_stem(&doc, &path)?;
        Ok(doc)
    }

    /// Number of documents waiting in a kind's intake directory. A
    /// workspace that holds its indexes counts its (refreshed) index, which
    /// costs nothing while the directory is unchanged; otherwise one
    /// listing.
    pub fn depth(&self, kind: WorkItemKind) -> Result<usize, QueueError> {
        if self.ws.held_indexes().is_some() {
            return Ok(QueueIndex::refresh(self.ws, kind)?.0.len());
        }
        Ok(scan::count_documents(
            &self.ws.paths().queue_dir(kind, QueueState::Queued),
        )?)
    }

    /// Ids of a kind's active items, sorted.
    pub fn active(&self, kind: WorkItemKind) -> Result<Vec<String>, QueueError> {
        let mut ids = scan::scan_dir(&self.ws.paths().queue_dir(kind, QueueState::Active))?.documents;
        ids.sort();
        Ok(ids)
    }

    /// Ids waiting in a kind's intake directory, sorted by id (one
    /// listing, no file read, the index untouched).
    pub fn queued(&self, kind: WorkItemKind) -> Result<Vec<String>, QueueError> {
        let mut ids = scan::scan_dir(&self.ws.paths().queue_dir(kind, QueueState::Queued))?.documents;
        ids.sort();
        Ok(ids)
    }

    /// Ids of a kind's blocked items, sorted (one listing, no file read).
    pub fn blocked(&self, kind: WorkItemKind) -> Result<Vec<String>, QueueError> {
        let mut ids = scan::scan_dir(&self.ws.paths().queue_dir(kind, QueueState::Blocked))?.documents;
        ids.sort();
        Ok(ids)
    }

    /// The reasons recorded each time an item was blocked
    /// (`blocked/<id>.blocked.jsonl`), oldest first; lines that cannot be
    /// read are skipped.
    pub fn block_reasons(&self, kind: WorkItemKind, id: &str) -> Result<Vec<BlockRecord>, QueueError> {
        check_id(&format!("{kind} id"), id)?;
        let log = self
            .ws
            .paths()
            .queue_dir(kind, QueueState::Blocked)
            .join(format!("{id}.blocked.jsonl"));
        let text = fsx::read_optional(&log)?.unwrap_or_default();
        Ok(text
            .lines()
            .filter_map(|line| serde_json::from_str::<BlockRecord>(line).ok())
            .collect())
    }

    /// Moves an item along its lifecycle.
    pub fn transition(
        &self,
        kind: WorkItemKind,
        id: &str,
        from: QueueState,
        to: QueueState,
    ) -> Result<PathBuf, QueueError> {
        use QueueState::{Active, Blocked, Done, Queued};
        let legal = matches!(
            (from, to),
            (Queued, Active) | (Active, Done | Blocked | Queued) | (Blocked, Queued)
        );
        if !legal {
            return Err(QueueError::IllegalTransition { kind, from, to });
        }
        check_id(&format!("{kind} id"), id)?;
        let source = self.ws.paths().document(kind, from, id);
        let target = self.ws.paths().document(kind, to, id);
        match fsx::move_file(&source, &target) {
            Ok(()) => Ok(target),
            Err(FsError::Missing { .. }) => Err(QueueError::NotFound {
                kind,
                id: id.to_string(),
                state: from,
            }),
            Err(FsError::Exists { path }) => Err(QueueError::DestinationExists {
                kind,
                id: id.to_string(),
                path,
            }),
            Err(e) => Err(e.into()),
        }
    }

    /// Active → done (`resolved/` for incidents).
    pub fn complete(&self, kind: WorkItemKind, id: &str) -> Result<PathBuf, QueueError> {
        self.transition(kind, id, QueueState::Active, QueueState::Done)
    }

    /// Active → blocked.
    pub fn block(&self, kind: WorkItemKind, id: &str) -> Result<PathBuf, QueueError> {
        self.transition(kind, id, QueueState::Active, QueueState::Blocked)
    }

    /// Blocked → queue, for an operator who fixed what blocked it. The
    /// block log stays in `blocked/` (the item's history); the retry is
    /// appended to `<id>.requeue.jsonl` like any requeue.
    pub fn retry(&self, id: &str, reason: &str) -> Result<Located, QueueError> {
        if reason.trim().is_empty() {
            return Err(QueueError::EmptyReason);
        }
        let found = self
            .find(id)?
            .ok_or_else(|| QueueError::UnknownItem(id.to_string()))?;
        if found.state != QueueState::Blocked {
            return Err(QueueError::NotBlocked {
                kind: found.kind,
                id: id.to_string(),
                state: crate::workspace::layout::state_dir_name(found.kind, found.state),
            });
        }
        let path = self.transition(found.kind, id, QueueState::Blocked, QueueState::Queued)?;
        self.log_requeue(found.kind, id, reason, "retry")?;
        Ok(Located {
            kind: found.kind,
            state: QueueState::Queued,
            path,
        })
    }

    fn log_requeue(&self, kind: WorkItemKind, id: &str, reason: &str, how: &str) -> Result<(), QueueError> {
        let log = self
            .ws
            .paths()
            .queue_dir(kind, QueueState::Queued)
            .join(format!("{id}.requeue.jsonl"));
        let line = serde_json::json!({ "at": Timestamp::now(), "kind": kind, "how": how, "reason": reason });
        fsx::append_line(&log, &line.to_string())?;
        Ok(())
    }

    /// Active → queue, appending the reason to `<id>.requeue.jsonl` in the
    /// intake directory.
    pub fn requeue(&self, kind: WorkItemKind, id: &str, reason: &str) -> Result<PathBuf, QueueError> {
        if reason.trim().is_empty() {
            return Err(QueueError::EmptyReason);
        }
        let path = self.transition(kind, id, QueueState::Active, QueueState::Queued)?;
        self.log_requeue(kind, id, reason, "requeue")?;
        Ok(path)
    }
}
