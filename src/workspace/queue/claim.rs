//! Claiming: the next eligible item of a plane, in claim order, moved to
//! `active/` by one rename (see the invariants of [`super`]).

use super::quarantine::set_aside;
use super::{Claimed, Entry, Located, QueueError, QueueIndex, Queues, index, plane_kinds};
use crate::model::{QueueState, WorkDocument};
use crate::plan::{Plane, WorkItemKind};
use crate::workspace::document::check_stem;
use crate::workspace::fsx;

impl Queues<'_> {
    /// Claims the next eligible item of a plane, or `None` if nothing is
    /// eligible. `root` keeps only items of that closure family.
    pub fn claim(&self, plane: Plane, root: Option<&str>) -> Result<Option<Claimed>, QueueError> {
        self.check_no_active(plane)?;
        for kind in plane_kinds(plane) {
            if let Some(claimed) = self.claim_kind(*kind, root)? {
                return Ok(Some(claimed));
            }
        }
        Ok(None)
    }

    fn check_no_active(&self, plane: Plane) -> Result<(), QueueError> {
        let mut active = Vec::new();
        for kind in plane_kinds(plane) {
            active.extend(self.active(*kind)?.into_iter().map(|id| (*kind, id)));
        }
        match active.as_slice() {
            [] => Ok(()),
            [(kind, id)] => Err(QueueError::ActiveOccupied {
                plane,
                kind: *kind,
                id: id.clone(),
            }),
            many => Err(QueueError::MultipleActive {
                plane,
                count: many.len(),
                ids: many.iter().map(|(_, id)| id.clone()).collect(),
            }),
        }
    }

    fn claim_kind(&self, kind: WorkItemKind, root: Option<&str>) -> Result<Option<Claimed>, QueueError> {
        let (index, _) = QueueIndex::refresh(self.ws, kind)?;
        let mut index = QueueIndex::owned(self.ws, kind, index);
        let claimed = self.walk_claim(kind, root, &mut index);
        index.keep(self.ws, kind);
        claimed
    }

    /// Claims the first claimable entry of `index`, in claim order.
    fn walk_claim(
        &self,
        kind: WorkItemKind,
        root: Option<&str>,
        index: &mut QueueIndex,
    ) -> Result<Option<Claimed>, QueueError> {
        let dir = self.ws.paths().queue_dir(kind, QueueState::Queued);
        // Walk in claim order. A replaced entry either disappears or now
        // matches its file, so each entry is replaced at most once per
        // change on disk and the walk ends.
        let mut at = 0;
        while let Some(entry) = index.entries().get(at).cloned() {
            if root.is_some_and(|r| entry.root() != Some(r)) {
                at += 1;
                continue;
            }
            match self.try_claim(kind, &dir, &entry)? {
                Attempt::Claimed(claimed) => {
                    index.update(self.ws, kind, &claimed.id, None);
                    return Ok(Some(*claimed));
                }
                Attempt::Skip => at += 1,
                Attempt::Replace(new) => {
                    if let Some(moved_to) = index.update(self.ws, kind, entry.id(), new) {
                        at = at.min(moved_to);
                    }
                }
            }
        }
        Ok(None)
    }

    /// Looks at one candidate: claims it, skips it (dependencies pending),
    /// or asks for its index entry to be replaced (file gone, edited or
    /// quarantined).
    fn try_claim(
        &self,
        kind: WorkItemKind,
        dir: &std::path::Path,
        entry: &Entry,
    ) -> Result<Attempt, QueueError> {
        let id = entry.id();
        let path = dir.join(format!("{id}.md"));
        let Some(stamp) = index::file_stamp(&path) else {
            return Ok(Attempt::Replace(None));
        };
        if !entry.matches(stamp) {
            // Edited in place since indexed: read it again.
            return match index::read_entry(kind, dir, id) {
                Ok(fresh) => Ok(Attempt::Replace(fresh)),
                Err(reason) => {
                    set_aside(dir, &format!("{id}.md"), &reason);
                    Ok(Attempt::Replace(None))
                }
            };
        }
        if !self.dependencies_done(entry) {
            return Ok(Attempt::Skip);
        }
        if let Some(other) = self.elsewhere_in_family(kind, id) {
            let reason = format!(
                "duplicate id: {kind} `{id}` already exists in {}",
                other.state.as_str()
            );
            set_aside(dir, &format!("{id}.md"), &reason);
            return Ok(Attempt::Replace(None));
        }
        let doc = match WorkDocument::load(&path, Some(kind)).and_then(|d| check_stem(&d, &path).map(|()| d))
        {
            Ok(doc) => doc,
            Err(e) => {
                set_aside(dir, &format!("{id}.md"), &e.summary());
                return Ok(Attempt::Replace(None));
            }
        };
        match self.transition(kind, id, QueueState::Queued, QueueState::Active) {
            Ok(active) => Ok(Attempt::Claimed(Box::new(Claimed {
                kind,
                id: id.to_string(),
                path: active,
                document: doc,
            }))),
            Err(QueueError::NotFound { .. }) => Ok(Attempt::Replace(None)),
            Err(e) => Err(e),
        }
    }

    fn dependencies_done(&self, entry: &Entry) -> bool {
        entry.depends_on().iter().all(|dep| {
            fsx::is_file(
                &self
                    .ws
                    .paths()
                    .document(WorkItemKind::Task, QueueState::Done, dep),
            )
        })
    }

    fn elsewhere_in_family(&self, kind: WorkItemKind, id: &str) -> Option<Located> {
        [QueueState::Active, QueueState::Done, QueueState::Blocked]
            .iter()
            .find_map(|state| {
                let path = self.ws.paths().document(kind, *state, id);
                fsx::is_file(&path).then_some(Located {
                    kind,
                    state: *state,
                    path,
                })
            })
    }

    /// Whether `claim(plane, root)` would find something, without claiming:
    /// the first indexed entry (in claim order) of the plane's kinds whose
    /// root matches, whose file is still there and whose dependencies are
    /// done. A quarantine-worthy file is left for the claim to handle.
    pub fn peek(&self, plane: Plane, root: Option<&str>) -> Result<bool, QueueError> {
        for kind in plane_kinds(plane) {
            let (index, _) = QueueIndex::refresh(self.ws, *kind)?;
            let dir = self.ws.paths().queue_dir(*kind, QueueState::Queued);
            let found = index.entries().iter().any(|e| {
                root.is_none_or(|r| e.root() == Some(r))
                    && fsx::is_file(&dir.join(format!("{}.md", e.id())))
                    && self.dependencies_done(e)
            });
            if found {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Queued items of a kind in claim order (refreshing the index), with
    /// whether each is eligible now (dependencies done).
    pub fn queued_in_order(&self, kind: WorkItemKind) -> Result<Vec<(Entry, bool)>, QueueError> {
        let (index, _) = QueueIndex::refresh(self.ws, kind)?;
        Ok(std::sync::Arc::unwrap_or_clone(index)
            .into_entries()
            .into_iter()
            .map(|e| {
                let eligible = self.dependencies_done(&e);
                (e, eligible)
            })
            .collect())
    }
}

enum Attempt {
    Claimed(Box<Claimed>),
    Skip,
    Replace(Option<Entry>),
}
