//! Setting malformed queue files aside so they never crash a command and
//! never block a claim, with the reason recorded next to them.
//!
//! A quarantined file is renamed to `<name>.invalid` (or `.invalid.<n>` when
//! taken) in the same directory, and a JSON line
//! `{at, source_name, quarantine_name, error}` is appended to
//! `invalid-artifacts.jsonl` in that directory. Nothing is deleted.

use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::model::QueueState;
use crate::plan::WorkItemKind;
use crate::workspace::fsx::{self, FsError};

/// The log of quarantined files in each queue directory.
pub(crate) const QUARANTINE_LOG: &str = "invalid-artifacts.jsonl";

/// One line of the quarantine log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct QuarantineRecord {
    pub at: Timestamp,
    pub source_name: String,
    pub quarantine_name: String,
    pub error: String,
}

/// A quarantined file found in a queue directory.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Quarantined {
    pub kind: WorkItemKind,
    pub state: QueueState,
    pub path: PathBuf,
    pub name: String,
    /// The reason from the log, when it has one for this file.
    pub reason: Option<String>,
}

/// Renames `dir/name` aside and logs why. Returns the new name, or `None`
/// if the file was already gone (another process moved it first).
pub fn quarantine(dir: &Path, name: &str, reason: &str) -> Result<Option<String>, FsError> {
    let source = dir.join(name);
    for n in 0..10_000u32 {
        let target_name = if n == 0 {
            fsx::fit_name(name, ".invalid")
        } else {
            fsx::fit_name(name, &format!(".invalid.{n}"))
        };
        match fsx::move_file(&source, &dir.join(&target_name)) {
            Ok(()) => {
                let record = QuarantineRecord {
                    at: Timestamp::now(),
                    source_name: name.to_string(),
                    quarantine_name: target_name.clone(),
                    error: reason.to_string(),
                };
                let line = serde_json::to_string(&record).unwrap_or_default();
                fsx::append_line(&dir.join(QUARANTINE_LOG), &line)?;
                return Ok(Some(target_name));
            }
            Err(FsError::Exists { .. }) => {}
            Err(FsError::Missing { .. }) => return Ok(None),
            Err(e) => return Err(e),
        }
    }
    Err(FsError::Exists { path: source })
}

/// [`quarantine`] for a reader that must go on whatever happens (a claim, a
/// listing): a file that cannot be moved aside is left where it is, said
/// in the trace, and skipped this time. Returns whether it was moved.
pub(crate) fn set_aside(dir: &Path, name: &str, reason: &str) -> bool {
    match quarantine(dir, name, reason) {
        Ok(moved) => moved.is_some(),
        Err(e) => {
            tracing::warn!(file = %dir.join(name).display(), error = %e, "cannot quarantine a bad queue file");
            false
        }
    }
}

/// Reads a directory's quarantine log (malformed lines are skipped).
pub(crate) fn read_log(dir: &Path) -> Result<Vec<QuarantineRecord>, FsError> {
    let text = fsx::read_optional(&dir.join(QUARANTINE_LOG))?.unwrap_or_default();
    Ok(text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect())
}

/// Attaches logged reasons to quarantined names of one directory.
pub(crate) fn describe(
    kind: WorkItemKind,
    state: QueueState,
    dir: &Path,
    names: &[String],
) -> Result<Vec<Quarantined>, FsError> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let log = read_log(dir)?;
    Ok(names
        .iter()
        .map(|name| Quarantined {
            kind,
            state,
            path: dir.join(name),
            name: name.clone(),
            reason: log
                .iter()
                .rev()
                .find(|r| r.quarantine_name == *name)
                .map(|r| r.error.clone()),
        })
        .collect())
}
