//! `state/journal.json`: the redo log of one engine transition.
//!
//! Input: a transition's new snapshot and durable effects (opaque here: any
//! serializable value). Output: a file that exists exactly while the
//! transition is being applied.
//!
//! Invariants: the journal is written atomically before the first effect is
//! applied and removed after the snapshot is saved; if the process dies in
//! between, the next start finds it and applies it again. Effects must be
//! idempotent for this to be safe.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::Workspace;
use super::fsx::{self, FsError};

/// Why a journal cannot be used.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum JournalError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Fs(#[from] FsError),

    /// The journal exists but is not valid JSON of the expected shape.
    #[error("the transition journal `state/journal.json` is unreadable: {detail}")]
    #[diagnostic(
        code(mill::state::journal_invalid),
        help(
            "a transition was interrupted and its record is damaged; inspect the file, then remove it and run `millrace doctor`"
        )
    )]
    Invalid { detail: String },
}

/// Writes the journal (atomically, durably).
pub fn write(ws: &Workspace, entry: &impl Serialize) -> Result<(), JournalError> {
    let text = serde_json::to_string(entry).map_err(|e| JournalError::Invalid {
        detail: e.to_string(),
    })?;
    fsx::write_atomic(&ws.paths().journal(), text.as_bytes())?;
    Ok(())
}

/// Reads a journal left by an interrupted transition, if any.
pub fn read<T: DeserializeOwned>(ws: &Workspace) -> Result<Option<T>, JournalError> {
    match fsx::read_optional(&ws.paths().journal())? {
        None => Ok(None),
        Some(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| JournalError::Invalid {
                detail: e.to_string(),
            }),
    }
}

/// Removes the journal once its transition is fully applied.
pub fn clear(ws: &Workspace) -> Result<(), JournalError> {
    match fsx::remove_file(&ws.paths().journal()) {
        Ok(()) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(e.into()),
    }
}
