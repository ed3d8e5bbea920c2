//! Questions about a closure family across the queues: which work still
//! belongs to a root spec, and whether an idea already has its spec.
//!
//! Input: a root spec id or an idea's spec id. Output: the matching items.
//! Queued items are answered from the claim index (no parsing); active and
//! blocked items, which are few, are parsed. Unreadable files are skipped
//! here: they are reported by `doctor` and quarantined by claims.

use serde::Serialize;

use super::{QueueError, QueueIndex, Queues, scan};
use crate::model::{QueueState, WorkDocument};
use crate::plan::WorkItemKind;

/// A work item of a lineage.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LineageItem {
    pub kind: WorkItemKind,
    pub id: String,
    pub state: QueueState,
}

impl Queues<'_> {
    /// Open work (queued, active or blocked) whose effective root spec is
    /// `root_spec_id`, across tasks, specs and incidents. The closure pass
    /// of a root waits until this is empty.
    pub fn lineage_work(&self, root_spec_id: &str) -> Result<Vec<LineageItem>, QueueError> {
        let mut items = Vec::new();
        for kind in [WorkItemKind::Task, WorkItemKind::Spec, WorkItemKind::Incident] {
            let (index, _) = QueueIndex::refresh(self.ws, kind)?;
            items.extend(
                index
                    .entries()
                    .iter()
                    .filter(|e| e.root() == Some(root_spec_id))
                    .map(|e| LineageItem {
                        kind,
                        id: e.id().to_string(),
                        state: QueueState::Queued,
                    }),
            );
            for state in [QueueState::Active, QueueState::Blocked] {
                for (id, doc) in self.parsed_in(kind, state)? {
                    if doc.effective_root_spec_id() == Some(root_spec_id) {
                        items.push(LineageItem { kind, id, state });
                    }
                }
            }
        }
        Ok(items)
    }

    /// Whether an idea is already represented by a spec in any state: one
    /// with its spec id, with it as `Root-Idea-ID`, or referencing the idea
    /// file (`ideas/inbox/<name>`), so watcher intake never queues it twice.
    pub fn idea_represented(&self, spec_id: &str, idea_reference: &str) -> Result<bool, QueueError> {
        if self.find_in(WorkItemKind::Spec, spec_id).is_some() {
            return Ok(true);
        }
        for state in QueueState::ALL {
            for (_, doc) in self.parsed_in(WorkItemKind::Spec, state)? {
                let WorkDocument::Spec(spec) = &doc else { continue };
                let same_idea = spec.root_idea_id.as_deref() == Some(spec_id);
                if same_idea || spec.references.iter().any(|r| r == idea_reference) {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }

    /// The documents of one directory that parse, with their ids.
    pub(super) fn parsed_in(
        &self,
        kind: WorkItemKind,
        state: QueueState,
    ) -> Result<Vec<(String, WorkDocument)>, QueueError> {
        let dir = self.ws.paths().queue_dir(kind, state);
        let mut ids = scan::scan_dir(&dir)?.documents;
        ids.sort();
        Ok(ids
            .into_iter()
            .filter_map(|id| {
                let path = dir.join(format!("{id}.md"));
                let doc = WorkDocument::load(&path, Some(kind)).ok()?;
                (doc.id() == id).then_some((id, doc))
            })
            .collect())
    }
}
