//! `state/index/<kind>.depth.json`: an intake directory's depth and
//! quarantined names as one listing found them, for readers (`status`)
//! that need no more than that.
//!
//! Input: a listing a reader just made. Output: the same answer later, for
//! one small read, while the directory has not changed since.
//!
//! Invariants: trusted on the claim index's terms (the directory's mtime is
//! the recorded one and the listing began outside the racy window after
//! it), so a file that lands later is never missed; a cache: written
//! atomically, not flushed, and a failure to write or read it is only a
//! listing the next reader makes again.

use serde::{Deserialize, Serialize};

use super::index::racy;
use crate::model::QueueState;
use crate::plan::WorkItemKind;
use crate::workspace::{Workspace, fsx};

#[derive(Serialize, Deserialize)]
struct Depth {
    dir_mtime_ns: i64,
    listed_at_ns: i64,
    count: usize,
    quarantined: Vec<String>,
}

/// The recorded depth and quarantined names, if still true.
pub(crate) fn trusted(ws: &Workspace, kind: WorkItemKind) -> Option<(usize, Vec<String>)> {
    let dir_mtime_ns = fsx::stat(&ws.paths().queue_dir(kind, QueueState::Queued))?.mtime_ns;
    let text = fsx::read_optional(&path(ws, kind)).ok()??;
    let depth: Depth = serde_json::from_str(&text).ok()?;
    let fresh = depth.dir_mtime_ns == dir_mtime_ns && !racy(depth.listed_at_ns, dir_mtime_ns);
    fresh.then_some((depth.count, depth.quarantined))
}

/// Records what a listing begun at `listed_at_ns` found, when the next
/// reader could trust it (outside the racy window); best effort.
pub(crate) fn record(
    ws: &Workspace,
    kind: WorkItemKind,
    listed_at_ns: i64,
    count: usize,
    quarantined: &[String],
) {
    let Some(stat) = fsx::stat(&ws.paths().queue_dir(kind, QueueState::Queued)) else {
        return;
    };
    if racy(listed_at_ns, stat.mtime_ns) || !fsx::is_dir(ws.agents()) {
        return;
    }
    let depth = Depth {
        dir_mtime_ns: stat.mtime_ns,
        listed_at_ns,
        count,
        quarantined: quarantined.to_vec(),
    };
    let text = serde_json::to_string(&depth).unwrap_or_default();
    let _ = fsx::write_unflushed(&path(ws, kind), text.as_bytes());
}

fn path(ws: &Workspace, kind: WorkItemKind) -> std::path::PathBuf {
    ws.paths()
        .index_dir()
        .join(format!("{}.depth.json", kind.as_str()))
}
