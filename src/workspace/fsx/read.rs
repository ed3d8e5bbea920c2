//! Reading files and directories.
//!
//! Input: paths (in a workspace, a harness's run directory, a harness's own
//! home). Output: bytes, text or names; a missing file is `None` or an
//! empty listing rather than an error wherever the caller can go on.
//!
//! Invariant: nothing outside this module and its parent opens, lists or
//! inspects a file, so the rules of how the program reads live in one place.

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::{FsError, FsResult};

/// Reads a whole file as UTF-8 text; `Ok(None)` if it does not exist.
pub fn read_optional(path: &Path) -> FsResult<Option<String>> {
    match fs::read(path) {
        Ok(bytes) => String::from_utf8(bytes)
            .map(Some)
            .map_err(|e| FsError::io("read", path, io::Error::new(io::ErrorKind::InvalidData, e))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(FsError::io("read", path, e)),
    }
}

/// Reads a whole file's bytes; a missing file is `None`.
pub fn read_optional_bytes(path: &Path) -> FsResult<Option<Vec<u8>>> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(FsError::io("read", path, e)),
    }
}

/// Reads a whole file's bytes.
pub fn read_bytes(path: &Path) -> FsResult<Vec<u8>> {
    read_optional_bytes(path)?.ok_or_else(|| FsError::Missing {
        path: path.to_path_buf(),
    })
}

/// Reads a whole file as UTF-8 text.
pub fn read_text(path: &Path) -> FsResult<String> {
    read_optional(path)?.ok_or_else(|| FsError::Missing {
        path: path.to_path_buf(),
    })
}

/// Names of the entries of a directory (unsorted); a missing directory has
/// none.
pub fn list_names(dir: &Path) -> FsResult<Vec<String>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(FsError::io("list", dir, e)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| FsError::io("list", dir, e))?;
        if let Some(name) = entry.file_name().to_str() {
            names.push(name.to_string());
        }
    }
    Ok(names)
}

/// Names of the entries of a directory with their inode numbers (0 where
/// the platform has none), read from the directory itself without a stat
/// per entry.
pub fn list_names_with_inodes(dir: &Path) -> FsResult<Vec<(String, u64)>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(FsError::io("list", dir, e)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| FsError::io("list", dir, e))?;
        if let Some(name) = entry.file_name().to_str() {
            names.push((name.to_string(), inode_of(&entry)));
        }
    }
    Ok(names)
}

#[cfg(unix)]
fn inode_of(entry: &fs::DirEntry) -> u64 {
    std::os::unix::fs::DirEntryExt::ino(entry)
}

#[cfg(not(unix))]
fn inode_of(_: &fs::DirEntry) -> u64 {
    0
}

/// Whether `path` is a file (following symlinks).
pub fn is_file(path: &Path) -> bool {
    path.is_file()
}

/// Whether `path` is a directory (following symlinks).
pub fn is_dir(path: &Path) -> bool {
    path.is_dir()
}

/// Whether `path` is a file someone may execute (a harness binary).
pub fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Whether anything is at `path`.
pub fn exists(path: &Path) -> bool {
    path.exists()
}

/// The canonical form of `path`, if it exists.
pub fn canonical(path: &Path) -> Option<PathBuf> {
    path.canonicalize().ok()
}

/// When `path` was last modified, if it exists.
pub fn modified(path: &Path) -> Option<SystemTime> {
    fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Up to `max` bytes of a file; `Ok(None)` if it does not exist, an error
/// if it is longer than `max`.
pub fn read_capped(path: &Path, max: u64) -> FsResult<Option<Vec<u8>>> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(FsError::io("read", path, e)),
    };
    let mut bytes = Vec::new();
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| FsError::io("read", path, e))?;
    if bytes.len() as u64 > max {
        let too_big = io::Error::new(io::ErrorKind::InvalidData, format!("larger than {max} bytes"));
        return Err(FsError::io("read", path, too_big));
    }
    Ok(Some(bytes))
}

/// The last `max` bytes of a file (all of it if shorter), and whether the
/// file was longer; `None` if it cannot be read.
pub fn read_tail(path: &Path, max: u64) -> Option<(Vec<u8>, bool)> {
    let mut file = File::open(path).ok()?;
    let len = file.metadata().ok()?.len();
    let start = len.saturating_sub(max);
    file.seek(SeekFrom::Start(start)).ok()?;
    let mut bytes = Vec::new();
    file.take(max).read_to_end(&mut bytes).ok()?;
    Some((bytes, start > 0))
}

/// One entry of a directory listing.
#[derive(Clone, Debug)]
pub struct Entry {
    pub path: PathBuf,
    pub is_dir: bool,
    pub is_file: bool,
    pub modified: Option<SystemTime>,
}

/// The entries of a directory (unsorted, symlinks not followed); a missing
/// or unreadable directory has none.
pub fn list_entries(dir: &Path) -> Vec<Entry> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let kind = entry.file_type().ok()?;
            Some(Entry {
                path: entry.path(),
                is_dir: kind.is_dir(),
                is_file: kind.is_file(),
                modified: entry.metadata().and_then(|m| m.modified()).ok(),
            })
        })
        .collect()
}
