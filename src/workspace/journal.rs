//! `state/journal.jsonl`: the commit log of engine transitions.
//!
//! Input: each state-changing transition's new snapshot and durable effects
//! (opaque here: any serializable record). Output: an append-only file of
//! JSON lines, one per committed transition, and the answer to "is the last
//! one fully applied?".
//!
//! Invariants:
//! - a record is appended and flushed before the first effect of its
//!   transition is applied: the append is the transition's commit point and
//!   the one flush the commit itself makes;
//! - the snapshot file is written after the effects without waiting for the
//!   disk, because the last record holds the same snapshot: a snapshot file
//!   that differs from it (a crash before the write, a write a power loss
//!   undid) marks the last record as pending, and the next start applies it
//!   again. Effects must be idempotent for this to be safe;
//! - only the last record can be pending: a transition appends its record
//!   only after the one before it was applied;
//! - a last line without its newline is a torn append (the crash came
//!   inside it): that transition never began, and the line is no record;
//! - past [`ROTATE_BYTES`] the log is replaced, atomically, by a file that
//!   holds only the new record, so it stays small without ever being empty;
//! - `state/journal.json`, the single-record journal of earlier versions,
//!   is read as the last record while it exists and removed once applied.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::Workspace;
use super::fsx::{self, FsError};
use crate::model::Snapshot;

/// The size past which the next append rotates the log.
const ROTATE_BYTES: u64 = 256 * 1024;

/// Why a journal cannot be used.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum JournalError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Fs(#[from] FsError),

    /// A complete record of the journal is not valid JSON of the expected
    /// shape.
    #[error("the transition journal `{path}` is unreadable: {detail}")]
    #[diagnostic(
        code(mill::state::journal_invalid),
        help(
            "its last transition cannot be checked; inspect the file, then `millrace clear-stale-state` sets it aside"
        )
    )]
    Invalid { path: String, detail: String },
}

/// Appends one record and waits for the disk (the commit point).
pub fn append(ws: &Workspace, record: &impl Serialize) -> Result<(), JournalError> {
    let path = ws.paths().journal();
    let line = serde_json::to_string(record).map_err(|e| JournalError::Invalid {
        path: shown(ws, &path),
        detail: e.to_string(),
    })?;
    let full = fsx::stat(&path).is_some_and(|s| s.len > ROTATE_BYTES);
    if full {
        fsx::write_atomic(&path, format!("{line}\n").as_bytes())?;
    } else {
        fsx::append_line_after_torn(&path, &line)?;
    }
    Ok(())
}

/// The last complete record, if any: the legacy single-record journal
/// while it exists, else the log's last whole line.
pub fn last<T: DeserializeOwned>(ws: &Workspace) -> Result<Option<T>, JournalError> {
    let paths = ws.paths();
    let (path, text) = match fsx::read_optional(&paths.legacy_journal())? {
        Some(text) => (paths.legacy_journal(), text),
        None => match fsx::read_optional(&paths.journal())? {
            Some(text) => (paths.journal(), text),
            None => return Ok(None),
        },
    };
    let legacy = path == paths.legacy_journal();
    let record = if legacy {
        Some(text.trim())
    } else {
        last_whole_line(&text)
    };
    let Some(record) = record.filter(|r| !r.is_empty()) else {
        return Ok(None);
    };
    serde_json::from_str(record)
        .map(Some)
        .map_err(|e| JournalError::Invalid {
            path: shown(ws, &path),
            detail: e.to_string(),
        })
}

/// Whether the last record's transition is not yet fully applied: its
/// snapshot is not the one on disk (a missing snapshot file counts as the
/// bootstrap one, a damaged one as different).
pub fn pending(ws: &Workspace) -> Result<bool, JournalError> {
    #[derive(serde::Deserialize)]
    struct Head {
        snapshot: Option<Snapshot>,
    }
    let Some(Head {
        snapshot: Some(recorded),
    }) = last::<Head>(ws)?
    else {
        return Ok(false);
    };
    Ok(Snapshot::load(ws).map_or(true, |on_disk| on_disk != recorded))
}

/// Removes the legacy single-record journal once its transition is applied.
pub fn settle_legacy(ws: &Workspace) -> Result<(), JournalError> {
    fsx::remove_file(&ws.paths().legacy_journal()).map_err(Into::into)
}

/// The last line that ends with a newline: text after the last newline
/// is a torn append.
fn last_whole_line(text: &str) -> Option<&str> {
    let complete = &text[..text.rfind('\n')?];
    complete.rsplit('\n').find(|l| !l.trim().is_empty())
}

fn shown(ws: &Workspace, path: &std::path::Path) -> String {
    path.strip_prefix(ws.root()).unwrap_or(path).display().to_string()
}

#[cfg(test)]
mod tests {
    use super::last_whole_line;

    #[test]
    fn a_torn_tail_is_no_record() {
        assert_eq!(last_whole_line("{\"a\":1}\n{\"a\":2}\n"), Some("{\"a\":2}"));
        assert_eq!(last_whole_line("{\"a\":1}\n{\"a\":"), Some("{\"a\":1}"));
        assert_eq!(last_whole_line("{\"a\":"), None);
        assert_eq!(last_whole_line(""), None);
    }
}
