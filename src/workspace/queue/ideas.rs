//! The ideas inbox (`ideas/inbox/*.md`): ideas staged by an operator or a
//! mailbox command, read by the runtime's intake.

use std::path::PathBuf;
use std::time::SystemTime;

use super::{QueueError, Queues, scan};
use crate::model::QueueState;
use crate::plan::WorkItemKind;
use crate::workspace::document::idea::idea_spec_id;
use crate::workspace::fsx::{self, FsError};

impl Queues<'_> {
    /// Writes an idea into `<root>/ideas/inbox/<name>`, never overwriting.
    pub fn stage_idea(&self, name: &str, markdown: &str) -> Result<PathBuf, QueueError> {
        crate::workspace::mailbox::check_idea_name(name).map_err(QueueError::InvalidIdea)?;
        if markdown.trim().is_empty() {
            return Err(QueueError::InvalidIdea(format!("idea `{name}` is empty")));
        }
        let path = self.ws.paths().ideas_inbox().join(name);
        match fsx::write_new(&path, markdown.as_bytes()) {
            Ok(()) => Ok(path),
            Err(FsError::Exists { path }) => Err(QueueError::IdeaExists { path }),
            Err(e) => Err(e.into()),
        }
    }

    /// When the inbox last changed (a new or removed idea), if it exists.
    pub fn inbox_stamp(&self) -> Option<SystemTime> {
        fsx::modified(&self.ws.paths().ideas_inbox())
    }

    /// The inbox's ideas (`*.md`, dot-files skipped) by name, sorted, with
    /// their text; an idea that cannot be read is left for the next look.
    pub fn inbox_ideas(&self) -> Vec<(String, String)> {
        let inbox = self.ws.paths().ideas_inbox();
        self.idea_names()
            .into_iter()
            .filter_map(|name| {
                let text = fsx::read_text(&inbox.join(&name)).ok()?;
                Some((name, text))
            })
            .collect()
    }

    /// The inbox's idea names, sorted, each with the id of the root spec it
    /// becomes and whether a spec of that id exists (then intake has taken
    /// it). Reads names only, never the ideas.
    pub fn inbox_names(&self) -> Vec<(String, String, bool)> {
        self.idea_names()
            .into_iter()
            .map(|name| {
                let id = idea_spec_id(name.strip_suffix(".md").unwrap_or(&name));
                let taken = self.find_in(WorkItemKind::Spec, &id).is_some();
                (name, id, taken)
            })
            .collect()
    }

    /// The inbox's `*.md` names (dot-files skipped), sorted.
    fn idea_names(&self) -> Vec<String> {
        let mut names: Vec<String> = fsx::list_names(&self.ws.paths().ideas_inbox())
            .unwrap_or_default()
            .into_iter()
            .filter(|n| n.ends_with(".md") && !n.starts_with('.'))
            .collect();
        names.sort();
        names
    }

    /// How many documents of a kind are in one state's directory.
    pub fn count(&self, kind: WorkItemKind, state: QueueState) -> Result<usize, QueueError> {
        Ok(scan::count_documents(&self.ws.paths().queue_dir(kind, state))?)
    }
}
