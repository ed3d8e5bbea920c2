//! `state/runtime_snapshot.json` on disk: loading (a missing file is the
//! bootstrap snapshot, a damaged one a coded error) and atomic saving.
//!
//! Input: the workspace. Output: a checked [`Snapshot`] (the type and its
//! invariants are `crate::model::snapshot`). Invariant: a snapshot that
//! fails [`Snapshot::check`] is never written.

use jiff::Timestamp;

use super::Workspace;
use super::fsx::{self, FsError};
use crate::model::Snapshot;

/// Why the snapshot cannot be used.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum SnapshotError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Fs(#[from] FsError),

    /// The file is not a valid snapshot.
    #[error("the runtime snapshot `{}` is invalid: {detail}", path.display())]
    #[diagnostic(
        code(mill::state::snapshot_invalid),
        help("inspect the file; `millrace clear-stale-state` rewrites it from the queues")
    )]
    Invalid {
        path: std::path::PathBuf,
        detail: String,
    },
}

impl Snapshot {
    /// Loads the snapshot; a missing file gives the bootstrap snapshot.
    pub fn load(ws: &Workspace) -> Result<Self, SnapshotError> {
        let path = ws.paths().snapshot();
        let Some(bytes) = fsx::read_optional_bytes(&path)? else {
            return Ok(Self::bootstrap(Timestamp::now()));
        };
        // Bytes that are not UTF-8 are a damaged snapshot like any other
        // (clear-stale-state sets it aside), not an I/O failure.
        let parsed = std::str::from_utf8(&bytes)
            .map_err(|e| format!("not UTF-8 text: {e}"))
            .and_then(Self::from_json);
        parsed.map_err(|detail| SnapshotError::Invalid { path, detail })
    }

    /// Writes the snapshot atomically, without waiting for the disk: it is
    /// only ever written after a journal record that holds it (see
    /// `workspace::journal`), or as the bootstrap one.
    pub fn save(&self, ws: &Workspace) -> Result<(), SnapshotError> {
        if let Err(detail) = self.check() {
            let path = ws.paths().snapshot();
            return Err(SnapshotError::Invalid { path, detail });
        }
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        fsx::write_unflushed(&ws.paths().snapshot(), text.as_bytes())?;
        Ok(())
    }
}
