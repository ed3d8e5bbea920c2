//! Reading files and directories.
//!
//! Input: paths (in a workspace, a harness's run directory, a harness's own
//! home). Output: bytes, text or names; a missing file is `None` or an
//! empty listing rather than an error wherever the caller can go on.
//!
//! Invariants:
//! - nothing outside this module and its parent opens, lists or inspects a
//!   file, so the rules of how the program reads live in one place;
//! - only regular files are read: a file is opened without blocking and
//!   checked before a byte is read, so a FIFO, a device or a directory in
//!   its place is refused with `mill::fs::not_regular`, never waited on;
//! - every read is capped ([`MAX_READ`] unless the caller names a smaller
//!   cap): a larger file is refused with `mill::fs::too_large`.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::{FsError, FsResult};

/// The most any read takes in (the largest file the program reads whole is
/// a queue index or the event log; work documents have a smaller cap).
pub(crate) const MAX_READ: u64 = 64 * 1024 * 1024;

/// Opens a regular file for reading without ever blocking; `Ok(None)` when
/// nothing is at `path`.
fn open_regular(path: &Path) -> FsResult<Option<File>> {
    let file = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
    {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(FsError::io("read", path, e)),
    };
    let kind = file
        .metadata()
        .map_err(|e| FsError::io("stat", path, e))?
        .file_type();
    if kind.is_file() {
        return Ok(Some(file));
    }
    let what = if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_char_device() || kind.is_block_device() {
        "a device"
    } else if kind.is_dir() {
        "a directory"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    };
    Err(FsError::NotRegular {
        path: path.to_path_buf(),
        what,
    })
}

/// Reads a whole regular file of at most `max` bytes; `Ok(None)` if it does
/// not exist.
pub(crate) fn read_optional_bytes_capped(path: &Path, max: u64) -> FsResult<Option<Vec<u8>>> {
    let Some(file) = open_regular(path)? else {
        return Ok(None);
    };
    let mut bytes = Vec::new();
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| FsError::io("read", path, e))?;
    if bytes.len() as u64 > max {
        return Err(FsError::TooLarge {
            path: path.to_path_buf(),
            max,
        });
    }
    Ok(Some(bytes))
}

/// Reads a whole file as UTF-8 text; `Ok(None)` if it does not exist.
pub(crate) fn read_optional(path: &Path) -> FsResult<Option<String>> {
    read_optional_capped(path, MAX_READ)
}

/// [`read_optional`] with a cap of `max` bytes.
pub(crate) fn read_optional_capped(path: &Path, max: u64) -> FsResult<Option<String>> {
    match read_optional_bytes_capped(path, max)? {
        Some(bytes) => String::from_utf8(bytes)
            .map(Some)
            .map_err(|e| FsError::io("read", path, io::Error::new(io::ErrorKind::InvalidData, e))),
        None => Ok(None),
    }
}

/// Reads a whole file's bytes; a missing file is `None`.
pub(crate) fn read_optional_bytes(path: &Path) -> FsResult<Option<Vec<u8>>> {
    read_optional_bytes_capped(path, MAX_READ)
}

/// Reads a whole file's bytes.
pub(crate) fn read_bytes(path: &Path) -> FsResult<Vec<u8>> {
    read_optional_bytes(path)?.ok_or_else(|| FsError::Missing {
        path: path.to_path_buf(),
    })
}

/// Reads a whole file as UTF-8 text.
pub(crate) fn read_text(path: &Path) -> FsResult<String> {
    read_optional(path)?.ok_or_else(|| FsError::Missing {
        path: path.to_path_buf(),
    })
}

/// Names of the entries of a directory (unsorted); a missing directory has
/// none.
pub(crate) fn list_names(dir: &Path) -> FsResult<Vec<String>> {
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
pub(crate) fn list_names_with_inodes(dir: &Path) -> FsResult<Vec<(String, u64)>> {
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
pub(crate) fn is_file(path: &Path) -> bool {
    path.is_file()
}

/// Whether `path` is a directory (following symlinks).
pub(crate) fn is_dir(path: &Path) -> bool {
    path.is_dir()
}

/// Whether `path` is a file someone may execute (a harness binary).
pub(crate) fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Whether anything is at `path`.
pub(crate) fn exists(path: &Path) -> bool {
    path.exists()
}

/// The canonical form of `path`, if it exists.
pub(crate) fn canonical(path: &Path) -> Option<PathBuf> {
    path.canonicalize().ok()
}

/// When `path` was last modified, if it exists.
pub(crate) fn modified(path: &Path) -> Option<SystemTime> {
    fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Up to `max` bytes of a file; `Ok(None)` if it does not exist, an error
/// if it is longer than `max`.
pub(crate) fn read_capped(path: &Path, max: u64) -> FsResult<Option<Vec<u8>>> {
    read_optional_bytes_capped(path, max)
}

/// The last `max` bytes of a file (all of it if shorter), and whether the
/// file was longer; `None` if it cannot be read.
pub(crate) fn read_tail(path: &Path, max: u64) -> Option<(Vec<u8>, bool)> {
    let mut file = open_regular(path).ok()??;
    let len = file.metadata().ok()?.len();
    let start = len.saturating_sub(max);
    file.seek(SeekFrom::Start(start)).ok()?;
    let mut bytes = Vec::new();
    file.take(max).read_to_end(&mut bytes).ok()?;
    Some((bytes, start > 0))
}

/// Up to `max` bytes of a file from byte `offset` on, with the file's
/// length and inode at the time of the read (so a reader that follows a
/// log can tell it was truncated or replaced); `Ok(None)` if it does not
/// exist.
pub(crate) fn read_range(path: &Path, offset: u64, max: u64) -> FsResult<Option<(Vec<u8>, Stat)>> {
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(FsError::io("read", path, e)),
    };
    let meta = file.metadata().map_err(|e| FsError::io("inspect", path, e))?;
    let stat = Stat {
        len: meta.len(),
        mtime_ns: meta.modified().map(nanos).unwrap_or(0),
        inode: inode_of_meta(&meta),
        is_file: meta.is_file(),
        is_dir: meta.is_dir(),
    };
    let mut bytes = Vec::new();
    if offset < stat.len {
        file.seek(SeekFrom::Start(offset))
            .and_then(|_| file.take(max).read_to_end(&mut bytes))
            .map_err(|e| FsError::io("read", path, e))?;
    }
    Ok(Some((bytes, stat)))
}

/// One entry of a directory listing (its own type: a symlink is not
/// followed).
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub path: PathBuf,
    pub is_dir: bool,
    pub is_file: bool,
    pub is_symlink: bool,
    pub modified: Option<SystemTime>,
}

/// The entries of a directory (unsorted); a missing directory has none.
pub(crate) fn list_entries(dir: &Path) -> FsResult<Vec<Entry>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(FsError::io("list", dir, e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| FsError::io("list", dir, e))?;
        let kind = entry
            .file_type()
            .map_err(|e| FsError::io("stat", &entry.path(), e))?;
        out.push(Entry {
            path: entry.path(),
            is_dir: kind.is_dir(),
            is_file: kind.is_file(),
            is_symlink: kind.is_symlink(),
            modified: entry.metadata().and_then(|m| m.modified()).ok(),
        });
    }
    Ok(out)
}

/// What a stat of a file says (following symlinks).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Stat {
    pub len: u64,
    /// Nanoseconds since the epoch (0 when unknown or earlier).
    pub mtime_ns: i64,
    /// 0 where the platform has none.
    pub inode: u64,
    pub is_file: bool,
    pub is_dir: bool,
}

/// The stat of `path`, if it exists.
pub(crate) fn stat(path: &Path) -> Option<Stat> {
    let meta = fs::metadata(path).ok()?;
    Some(Stat {
        len: meta.len(),
        mtime_ns: meta.modified().map(nanos).unwrap_or(0),
        inode: inode_of_meta(&meta),
        is_file: meta.is_file(),
        is_dir: meta.is_dir(),
    })
}

/// Whether anything is at `path` itself (a dangling symlink counts).
pub(crate) fn is_present(path: &Path) -> bool {
    path.symlink_metadata().is_ok()
}

/// Nanoseconds since the epoch of a time (0 before it).
pub(crate) fn nanos(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(unix)]
fn inode_of_meta(meta: &fs::Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::ino(meta)
}

#[cfg(not(unix))]
fn inode_of_meta(_: &fs::Metadata) -> u64 {
    0
}

/// What is at a path itself: a symlink is reported as one, not followed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    File,
    Dir,
    Symlink,
    /// A socket, fifo or device.
    Other,
}

/// The kind of whatever is at `path` (not following a symlink), if anything.
pub(crate) fn kind_of(path: &Path) -> Option<Kind> {
    let kind = path.symlink_metadata().ok()?.file_type();
    Some(if kind.is_symlink() {
        Kind::Symlink
    } else if kind.is_file() {
        Kind::File
    } else if kind.is_dir() {
        Kind::Dir
    } else {
        Kind::Other
    })
}
