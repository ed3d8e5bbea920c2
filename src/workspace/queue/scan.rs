//! Reading a queue directory's names without opening any file: work
//! documents (`<id>.md`), quarantined files (`<name>.invalid[.n]`) and the
//! rest (requeue logs, the quarantine log, temporary files).

use std::path::Path;

use crate::workspace::fsx::{self, FsError};

/// What a directory holds, by name only.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct DirScan {
    /// Stems of `*.md` files (unsorted).
    pub documents: Vec<String>,
    /// Inode numbers of `documents`, in the same order.
    pub inodes: Vec<u64>,
    /// Names of quarantined files (sorted).
    pub quarantined: Vec<String>,
    /// Names starting with a dot, which are never read (sorted).
    pub hidden: Vec<String>,
}

/// Whether a name is a quarantined file.
pub(crate) fn is_quarantine_name(name: &str) -> bool {
    name.contains(".invalid")
        && name.rsplit_once(".invalid").is_some_and(|(_, tail)| {
            tail.is_empty() || tail.strip_prefix('.').is_some_and(|n| n.parse::<u32>().is_ok())
        })
}

/// Lists a directory once and classifies its names.
pub(crate) fn scan_dir(dir: &Path) -> Result<DirScan, FsError> {
    let mut scan = DirScan::default();
    for (name, inode) in fsx::list_names_with_inodes(dir)? {
        if fsx::is_temp_name(&name) {
            continue;
        }
        if name.starts_with('.') {
            // Never read as work; `doctor` says so.
            scan.hidden.push(name);
            continue;
        }
        if is_quarantine_name(&name) {
            scan.quarantined.push(name);
        } else if let Some(stem) = name.strip_suffix(".md") {
            scan.documents.push(stem.to_string());
            scan.inodes.push(inode);
        }
    }
    scan.quarantined.sort();
    scan.hidden.sort();
    Ok(scan)
}

/// Counts `*.md` documents in a directory.
pub(crate) fn count_documents(dir: &Path) -> Result<usize, FsError> {
    Ok(scan_dir(dir)?.documents.len())
}
