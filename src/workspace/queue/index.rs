//! A per-kind cache of the intake directory in claim order, so claiming
//! and listing never parse the whole queue.
//!
//! Input: the intake directory of one kind (`tasks/queue/`, ...). Output:
//! entries `(claim time, id, effective root, depends-on, size, mtime)`
//! sorted by claim time then id, stored in `state/index/<kind>.json` as a
//! header line and one line per entry, so the first page is read without
//! the rest.
//!
//! Invariants:
//! - the cache is trusted only while the directory's mtime equals the one
//!   recorded when it was built, and the build started comfortably after
//!   that mtime (git's racy-clean rule: a change in the same timestamp tick
//!   as the build would not move the mtime; see [`racy`]);
//! - otherwise it is rebuilt incrementally: one `readdir`, parsing only
//!   names not in the cache (or whose inode changed: rewritten by rename)
//!   and dropping vanished ones; a file edited in place is re-read when a
//!   claim reaches it (its size or mtime no longer match);
//! - a new file that does not parse, or whose stem is not its id, is
//!   quarantined, never indexed;
//! - the cache is only an accelerator: losing or corrupting it costs one
//!   full rebuild, never correctness;
//! - a workspace that holds its indexes ([`Workspace::holding_indexes`])
//!   keeps the last one in memory and reads it instead of the file, under
//!   the same trust rule.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::QueueError;
use super::quarantine::set_aside;
use super::scan::scan_dir;
use crate::model::{QueueState, WorkDocument};
use crate::plan::WorkItemKind;
use crate::workspace::document::check_stem;
use crate::workspace::{Workspace, fsx};

/// The index format version.
const INDEX_SCHEMA_VERSION: u32 = 2;

/// Whether an index built at `built_at_ns` of a directory whose mtime was
/// `dir_mtime_ns` could have missed a change that left the mtime as it was.
/// It could unless the build started at least two timestamp ticks later. A
/// filesystem that records sub-second stamps (nearly every local one; the
/// kernel's clock for them ticks every 1 to 10 ms) gets 50 ms; stamps on
/// whole seconds (FAT, HFS+, some network filesystems) get 2 s.
pub(super) fn racy(built_at_ns: i64, dir_mtime_ns: i64) -> bool {
    let window = if dir_mtime_ns % 1_000_000_000 == 0 {
        2_000_000_000
    } else {
        50_000_000
    };
    built_at_ns.saturating_sub(dir_mtime_ns) < window
}

/// The indexes a workspace keeps in memory, by kind.
#[derive(Debug, Default)]
pub struct HeldIndexes(Mutex<BTreeMap<WorkItemKind, Arc<QueueIndex>>>);

impl HeldIndexes {
    fn take(&self, kind: WorkItemKind) -> Option<Arc<QueueIndex>> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&kind)
    }

    fn put(&self, kind: WorkItemKind, index: Arc<QueueIndex>) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(kind, index);
    }
}

/// One queued document: `(seconds, nanos, id, root, depends_on, size,
/// mtime_ns, inode, root_idea, spec)`; the last two let the lineage-drift
/// scan run without parsing the queue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry(
    pub i64,
    pub i32,
    pub String,
    pub Option<String>,
    pub Vec<String>,
    pub u64,
    pub i64,
    pub u64,
    pub Option<String>,
    pub Option<String>,
);

impl Entry {
    /// Builds the entry of a parsed document with its file metadata.
    pub fn of(doc: &WorkDocument, size: u64, mtime_ns: i64, inode: u64) -> Self {
        let at = doc.claim_time();
        Entry(
            at.as_second(),
            at.subsec_nanosecond(),
            doc.id().to_string(),
            doc.effective_root_spec_id().map(str::to_string),
            doc.depends_on().to_vec(),
            size,
            mtime_ns,
            inode,
            doc.root_idea_id().map(str::to_string),
            doc.spec_id().map(str::to_string),
        )
    }

    pub fn id(&self) -> &str {
        &self.2
    }

    pub fn root(&self) -> Option<&str> {
        self.3.as_deref()
    }

    pub fn root_idea(&self) -> Option<&str> {
        self.8.as_deref()
    }

    /// A task's `Spec-ID`, a spec's own id.
    pub fn spec(&self) -> Option<&str> {
        self.9.as_deref()
    }

    pub fn depends_on(&self) -> &[String] {
        &self.4
    }

    /// The claim time as a timestamp.
    pub fn claim_time(&self) -> Option<jiff::Timestamp> {
        jiff::Timestamp::new(self.0, self.1).ok()
    }

    fn sort_key(&self) -> (i64, i32, &str) {
        (self.0, self.1, &self.2)
    }

    fn same_file(&self, size: u64, mtime_ns: i64) -> bool {
        self.5 == size && self.6 == mtime_ns
    }
}

/// The stored index of one kind's intake directory.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct QueueIndex {
    schema_version: u32,
    /// The directory's mtime (ns) when the build started.
    dir_mtime_ns: i64,
    /// When the build started (ns).
    built_at_ns: i64,
    /// Entries in claim order.
    entries: Vec<Entry>,
    /// Quarantined names in the directory at the build (for `status`).
    #[serde(default)]
    quarantined: Vec<String>,
}

/// The first line of the stored index.
#[derive(Serialize, Deserialize)]
struct Header {
    schema_version: u32,
    dir_mtime_ns: i64,
    built_at_ns: i64,
    count: usize,
    #[serde(default)]
    quarantined: Vec<String>,
}

/// What a refresh did, for reporting.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RefreshReport {
    /// The cache was used as is.
    pub trusted: bool,
    /// New names parsed.
    pub parsed: usize,
    /// Names quarantined, with reasons.
    pub quarantined: Vec<(String, String)>,
}

impl QueueIndex {
    /// Entries in claim order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Takes the entries out, in claim order.
    pub fn into_entries(self) -> Vec<Entry> {
        self.entries
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Loads the index of `kind`, rebuilding what changed since it was
    /// written; quarantines new malformed files on the way.
    pub fn refresh(ws: &Workspace, kind: WorkItemKind) -> Result<(Arc<Self>, RefreshReport), QueueError> {
        let dir = ws.paths().queue_dir(kind, QueueState::Queued);
        let built_at_ns = fsx::nanos(SystemTime::now());
        let Some(dir_mtime_ns) = fsx::stat(&dir).map(|s| s.mtime_ns) else {
            return Ok((Arc::default(), RefreshReport::default()));
        };
        let held = ws.held_indexes();
        let stored = held
            .and_then(|h| h.take(kind))
            .or_else(|| Self::read(ws, kind).map(Arc::new));
        if let Some(index) = &stored
            && index.dir_mtime_ns == dir_mtime_ns
        {
            let settled = !racy(index.built_at_ns, dir_mtime_ns);
            // Inside the racy window a rescan could not settle the index
            // either (a change in the same tick may still follow it), so it
            // is used as it is until the window has passed, then verified
            // once: a file that lands in that tick waits at most the window.
            let waiting = !settled && racy(built_at_ns, dir_mtime_ns);
            if settled || waiting {
                let index = Arc::clone(index);
                if let Some(held) = held {
                    held.put(kind, Arc::clone(&index));
                }
                let report = RefreshReport {
                    trusted: settled,
                    ..RefreshReport::default()
                };
                return Ok((index, report));
            }
        }
        let mut report = RefreshReport::default();
        let had_stored = stored.is_some();
        // Taken out of the memory (not shared), so no copy is made here.
        let known = stored.map(|i| Arc::unwrap_or_clone(i).entries);
        let (entries, changed, quarantined) = rescan(kind, &dir, known.unwrap_or_default(), &mut report)?;
        let index = Self {
            schema_version: INDEX_SCHEMA_VERSION,
            dir_mtime_ns,
            built_at_ns,
            entries,
            quarantined,
        };
        // Storing an index that is still racy and holds the same entries
        // gains nothing (the next reader rescans either way); skipping it
        // keeps a busy daemon from rewriting the whole index every tick.
        if changed || !had_stored || !racy(built_at_ns, dir_mtime_ns) {
            index.write(ws, kind);
        }
        let index = Arc::new(index);
        if let Some(held) = held {
            held.put(kind, Arc::clone(&index));
        }
        Ok((index, report))
    }

    /// An index [`Self::refresh`] returned, to change: taken out of the
    /// workspace's memory so that it is not copied; [`Self::keep`] puts it
    /// back.
    pub(super) fn owned(ws: &Workspace, kind: WorkItemKind, index: Arc<Self>) -> Self {
        if let Some(held) = ws.held_indexes() {
            drop(held.take(kind));
        }
        Arc::unwrap_or_clone(index)
    }

    /// Puts a changed index back in the workspace's memory, if it keeps one.
    pub(super) fn keep(self, ws: &Workspace, kind: WorkItemKind) {
        if let Some(held) = ws.held_indexes() {
            held.put(kind, Arc::new(self));
        }
    }

    /// The first `n` entries in claim order and how many there are. A
    /// stored index the directory has not changed since is read only as
    /// far as those entries (a page of 10,000 costs what a page of 20
    /// does); anything else is a full [`Self::refresh`].
    pub fn first(ws: &Workspace, kind: WorkItemKind, n: usize) -> Result<(Vec<Entry>, usize), QueueError> {
        if ws.held_indexes().is_none()
            && let Some(page) = Self::read_first(ws, kind, n)
        {
            return Ok(page);
        }
        let (index, _) = Self::refresh(ws, kind)?;
        Ok((index.entries.iter().take(n).cloned().collect(), index.len()))
    }

    fn read_first(ws: &Workspace, kind: WorkItemKind, n: usize) -> Option<(Vec<Entry>, usize)> {
        let (header, rest) = Self::trusted_head(ws, kind, 64 * 1024)?;
        // A line cut off by the read does not parse: then the full read.
        let want = n.min(header.count);
        let entries: Vec<Entry> = rest
            .split('\n')
            .take(want)
            .map(|line| serde_json::from_str(line).ok())
            .collect::<Option<_>>()?;
        (entries.len() == want).then_some((entries, header.count))
    }

    /// How many documents the intake directory holds and its quarantined
    /// names, from a stored index the directory has not changed since:
    /// one small read, whatever the queue's size. `None` when the index
    /// is missing, old or not settled (then list the directory).
    /// A depth a reader recorded from its own listing
    /// (`queue::depth`) is the second choice.
    pub fn trusted_summary(ws: &Workspace, kind: WorkItemKind) -> Option<(usize, Vec<String>)> {
        match Self::trusted_head(ws, kind, 4096) {
            Some((header, _)) => Some((header.count, header.quarantined)),
            None => super::depth::trusted(ws, kind),
        }
    }

    /// The header of a stored index that is settled for the directory as
    /// it is now, and the rest of the first `max` bytes.
    fn trusted_head(ws: &Workspace, kind: WorkItemKind, max: u64) -> Option<(Header, String)> {
        let dir_mtime_ns = fsx::stat(&ws.paths().queue_dir(kind, QueueState::Queued))?.mtime_ns;
        let (bytes, _) = fsx::read_range(&ws.paths().index(kind), 0, max).ok()??;
        let valid = match std::str::from_utf8(&bytes) {
            Ok(text) => text,
            Err(e) => std::str::from_utf8(&bytes[..e.valid_up_to()]).ok()?,
        };
        let (first, rest) = valid.split_once('\n')?;
        let header: Header = serde_json::from_str(first).ok()?;
        let trusted = header.schema_version == INDEX_SCHEMA_VERSION
            && header.dir_mtime_ns == dir_mtime_ns
            && !racy(header.built_at_ns, dir_mtime_ns);
        trusted.then(|| (header, rest.to_string()))
    }

    /// The stored form: a header line, then one line per entry in claim
    /// order (so a page is read from the start of the file).
    fn read(ws: &Workspace, kind: WorkItemKind) -> Option<Self> {
        let text = fsx::read_optional(&ws.paths().index(kind)).ok()??;
        let mut lines = text.lines();
        let header: Header = serde_json::from_str(lines.next()?).ok()?;
        if header.schema_version != INDEX_SCHEMA_VERSION {
            return None;
        }
        let entries: Vec<Entry> = lines
            .map(|line| serde_json::from_str(line).ok())
            .collect::<Option<_>>()?;
        // A torn file (fewer lines than the header says) is rebuilt.
        (entries.len() == header.count).then_some(Self {
            schema_version: header.schema_version,
            dir_mtime_ns: header.dir_mtime_ns,
            built_at_ns: header.built_at_ns,
            entries,
            quarantined: header.quarantined,
        })
    }

    /// Stores the index. A cache that cannot be written is not an error:
    /// the next reader rebuilds it. Nor is it flushed to disk: after a
    /// crash an old or unreadable index only costs a rescan (an old one
    /// records an older directory mtime, so it is not trusted).
    fn write(&self, ws: &Workspace, kind: WorkItemKind) {
        let header = Header {
            schema_version: self.schema_version,
            dir_mtime_ns: self.dir_mtime_ns,
            built_at_ns: self.built_at_ns,
            count: self.entries.len(),
            quarantined: self.quarantined.clone(),
        };
        let _ = fsx::write_cache_with(&ws.paths().index(kind), |out| {
            serde_json::to_writer(&mut *out, &header)?;
            for entry in &self.entries {
                out.write_all(b"\n")?;
                serde_json::to_writer(&mut *out, entry)?;
            }
            out.write_all(b"\n")
        });
    }

    /// Replaces or removes one entry after a claim looked at the file, and
    /// stores the result. The recorded directory mtime is kept, so the next
    /// refresh still rescans if the directory changed.
    /// Returns the new position of a replaced entry.
    pub(super) fn update(
        &mut self,
        ws: &Workspace,
        kind: WorkItemKind,
        id: &str,
        entry: Option<Entry>,
    ) -> Option<usize> {
        self.entries.retain(|e| e.id() != id);
        let position = entry.map(|entry| {
            let at = self.entries.partition_point(|e| e.sort_key() < entry.sort_key());
            self.entries.insert(at, entry);
            at
        });
        // Our own rename changed the directory: record its new mtime but
        // mark the cache racy, so it is verified with one readdir once the
        // racy window has passed (a file that arrived meanwhile is found
        // then). A process that holds its indexes stores the file when
        // that rescan finds it settled.
        let dir = ws.paths().queue_dir(kind, QueueState::Queued);
        if let Some(stat) = fsx::stat(&dir) {
            self.dir_mtime_ns = stat.mtime_ns;
        }
        self.built_at_ns = self.dir_mtime_ns;
        if ws.held_indexes().is_none() {
            self.write(ws, kind);
        }
        position
    }
}

/// One `readdir`; keeps known entries, parses new names, drops vanished
/// ones. Also says whether the entries differ from the ones given, and
/// which quarantined names the directory held. Entries
/// are kept in claim order, so nothing is sorted unless a name is new.
fn rescan(
    kind: WorkItemKind,
    dir: &Path,
    mut entries: Vec<Entry>,
    report: &mut RefreshReport,
) -> Result<(Vec<Entry>, bool, Vec<String>), QueueError> {
    let scan = scan_dir(dir)?;
    let on_disk: HashMap<&str, u64> = scan
        .documents
        .iter()
        .map(String::as_str)
        .zip(scan.inodes.iter().copied())
        .collect();
    // Keep a known entry only if its name is still there with the same
    // inode: a file rewritten by rename (editors, agents) gets a new inode
    // and is read again.
    let known = entries.len();
    entries.retain(|e| on_disk.get(e.id()) == Some(&e.7));
    let mut new_names: Vec<&str> = {
        let kept: HashSet<&str> = entries.iter().map(Entry::id).collect();
        on_disk.keys().copied().filter(|n| !kept.contains(n)).collect()
    };
    // Parsed (and quarantined) in name order, whatever the listing's.
    new_names.sort_unstable();
    let mut fresh = Vec::new();
    for stem in new_names {
        report.parsed += 1;
        match read_entry(kind, dir, stem) {
            Ok(Some(entry)) => fresh.push(entry),
            Ok(None) => {}
            Err(reason) => {
                let name = format!("{stem}.md");
                if set_aside(dir, &name, &reason) {
                    report.quarantined.push((name, reason));
                }
            }
        }
    }
    let changed = entries.len() != known || !fresh.is_empty();
    // The check costs one pass and guards against a hand-edited index; the
    // sort of a run in order plus a short tail is near linear.
    let in_order = entries.is_sorted_by(|a, b| a.sort_key() <= b.sort_key());
    if !fresh.is_empty() || !in_order {
        entries.extend(fresh);
        entries.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    }
    Ok((entries, changed, scan.quarantined))
}

/// Parses one queued file into an entry. `Ok(None)` if it vanished;
/// `Err(reason)` if it must be quarantined.
pub(super) fn read_entry(kind: WorkItemKind, dir: &Path, stem: &str) -> Result<Option<Entry>, String> {
    let path = dir.join(format!("{stem}.md"));
    let Some(stat) = fsx::stat(&path) else {
        return Ok(None);
    };
    let text = match fsx::read_optional_capped(&path, crate::workspace::document::MAX_DOCUMENT_BYTES) {
        Ok(Some(text)) => text,
        Ok(None) => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    let name = path.display().to_string();
    let doc = WorkDocument::parse_markdown(Some(kind), &text, &name).map_err(|e| e.summary())?;
    check_stem(&doc, &path).map_err(|e| e.summary())?;
    Ok(Some(Entry::of(&doc, stat.len, stat.mtime_ns, stat.inode)))
}

/// File metadata used to notice in-place edits of an indexed file.
pub(super) fn file_stamp(path: &Path) -> Option<(u64, i64)> {
    fsx::stat(path).map(|s| (s.len, s.mtime_ns))
}

impl Entry {
    /// Whether the file still has the size and mtime recorded.
    pub(super) fn matches(&self, stamp: (u64, i64)) -> bool {
        self.same_file(stamp.0, stamp.1)
    }
}
