//! The damaged-state half of `clear-stale-state`: runtime state files that
//! cannot be read are set aside so the runtime can start from a clean
//! state, and nothing is deleted that a human may want to read.
//!
//! Input: a workspace no live process owns. Output: one note per repair.
//! Invariants: a file is renamed aside (`<name>.invalid-<UTC stamp>`),
//! never removed, except a stale or invalid lock, which holds nothing;
//! readable state is left exactly as it is.

use std::path::{Path, PathBuf};

use jiff::Timestamp;

use super::fsx::{self, FsResult};
use super::{Paths, Workspace, journal, lock, markers};
use crate::model::Snapshot;
use crate::plan::Plane;

/// Repairs what would stop the runtime from starting.
pub(crate) fn set_aside_damaged(ws: &Workspace, now: Timestamp) -> FsResult<Vec<String>> {
    let mut notes = Vec::new();
    match lock::clear_if_not_active(ws)? {
        lock::LockClear::ClearedStale => notes.push("removed the lock of a process that is gone".into()),
        lock::LockClear::ClearedInvalid => notes.push("removed an unreadable lock".into()),
        lock::LockClear::Missing | lock::LockClear::ActiveOwner => {}
    }
    let paths = ws.paths();
    if journal::last::<serde_json::Value>(ws).is_err() {
        for path in [paths.legacy_journal(), paths.journal()] {
            if fsx::is_file(&path) {
                notes.push(aside(&path, now, "the transition journal")?);
            }
        }
    }
    if fsx::is_file(&paths.snapshot()) && Snapshot::load(ws).is_err() {
        notes.push(aside(&paths.snapshot(), now, "the runtime snapshot")?);
        if journal::pending(ws).unwrap_or(false) {
            // The journal's last record holds the latest snapshot: the
            // next start restores it (and applies that transition again).
            notes.push("the next start restores the snapshot from the transition journal".into());
        } else {
            Snapshot::bootstrap(now)
                .save(ws)
                .map_err(|e| fsx::FsError::io("write", &paths.snapshot(), std::io::Error::other(e)))?;
        }
    }
    for plane in Plane::ALL {
        if markers::read_marker(ws, *plane).is_err() {
            markers::write_marker(ws, *plane, "IDLE").map_err(|e| {
                fsx::FsError::io("write", &paths.status_marker(*plane), std::io::Error::other(e))
            })?;
            notes.push(format!("reset the unreadable {plane} status file to IDLE"));
        }
    }
    Ok(notes)
}

/// Renames `path` aside and says so.
pub(crate) fn aside(path: &Path, now: Timestamp, what: &str) -> FsResult<String> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stamp = now.strftime("%Y%m%dT%H%M%SZ");
    // Two repairs in one second must not lose the first one's file.
    for n in 0..1000u32 {
        let suffix = if n == 0 { String::new() } else { format!("-{n}") };
        let target = path.with_file_name(format!("{name}.invalid-{stamp}{suffix}"));
        match fsx::move_file(path, &target) {
            Ok(()) => return Ok(format!("set aside unreadable {what} as {}", target.display())),
            Err(fsx::FsError::Exists { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Err(fsx::FsError::Exists {
        path: path.to_path_buf(),
    })
}

/// Removes the temporary files writers that are no longer running left in
/// the directories the runtime writes (a write killed between creating its
/// temporary file and renaming it). A file whose writer still runs (a
/// command writing right now) is left alone. Returns how many were removed.
pub(crate) fn sweep_temp_files(ws: &Workspace, run_dirs: &[PathBuf]) -> usize {
    let agents = ws.agents();
    let mut dirs: Vec<PathBuf> = Paths::canonical_dirs().iter().map(|d| agents.join(d)).collect();
    dirs.push(ws.paths().index_dir());
    dirs.push(ws.paths().ideas_inbox());
    dirs.extend(run_dirs.iter().cloned());
    dirs.extend(run_dirs.iter().map(|d| d.join("stage_results")));
    let mut removed = 0;
    for dir in dirs {
        for name in fsx::list_names(&dir).unwrap_or_default() {
            let gone = fsx::temp_writer(&name)
                .is_some_and(|pid| lock::process_state(pid) == lock::ProcessState::Dead);
            if fsx::is_temp_name(&name) && gone && fsx::remove_file(&dir.join(&name)).is_ok() {
                removed += 1;
            }
        }
    }
    removed
}
