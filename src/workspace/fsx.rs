//! Durable file primitives: the only way the workspace writes files.
//!
//! Input: paths inside a workspace and bytes. Output: files that are either
//! entirely old or entirely new after a crash at any instruction.
//!
//! Invariants:
//! - a replacing write goes to a temporary file in the target's directory,
//!   is fsynced, renamed over the target, and the directory is fsynced;
//! - a creating write ([`write_new`], [`create_exclusive`]) never replaces an
//!   existing file: it fails with [`FsError::Exists`] instead;
//! - a move ([`move_file`]) is one rename, never a copy, and fsyncs both
//!   directories; it refuses to replace an existing destination;
//! - [`append_line`] writes whole lines in one `write` call and fsyncs them.
//!
//! Reading is [`read`]'s, re-exported here: every file access of the
//! program goes through this module.

mod read;

pub(crate) use read::*;

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// A filesystem operation that failed, with the path it was about.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum FsError {
    /// An I/O call failed.
    #[error("cannot {op} `{path}`: {source}")]
    #[diagnostic(
        code(mill::fs::io),
        help("check that the path exists, is writable and the disk is not full")
    )]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// A creating write or a move found its destination already present.
    #[error("`{path}` already exists")]
    #[diagnostic(
        code(mill::fs::exists),
        help("remove or rename the existing file first; millrace never overwrites it")
    )]
    Exists { path: PathBuf },

    /// Something other than a regular file is where a file was expected (a
    /// FIFO would block the reader for ever, a device never end).
    #[error("`{path}` is {what}, not a regular file")]
    #[diagnostic(
        code(mill::fs::not_regular),
        help(
            "remove it or replace it with a regular file; nothing in a workspace is read from anything else"
        )
    )]
    NotRegular { path: PathBuf, what: &'static str },

    /// A file larger than the reader takes.
    #[error("`{path}` is larger than {max} bytes")]
    #[diagnostic(
        code(mill::fs::too_large),
        help("a file this large is not what belongs here; move it out of the workspace")
    )]
    TooLarge { path: PathBuf, max: u64 },

    /// A move found its source gone.
    #[error("`{path}` does not exist")]
    #[diagnostic(code(mill::fs::missing), help("another process may have moved it"))]
    Missing { path: PathBuf },
}

impl FsError {
    pub fn io(op: &'static str, path: &Path, source: io::Error) -> Self {
        FsError::Io {
            op,
            path: path.to_path_buf(),
            source,
        }
    }

    /// True when the error means "the file is not there".
    pub fn is_not_found(&self) -> bool {
        match self {
            FsError::Missing { .. } => true,
            FsError::Io { source, .. } => source.kind() == io::ErrorKind::NotFound,
            FsError::Exists { .. } | FsError::NotRegular { .. } | FsError::TooLarge { .. } => false,
        }
    }
}

/// Shorthand used across the workspace.
pub(crate) type FsResult<T> = Result<T, FsError>;

/// Replaces `path` with `bytes` atomically (temp file, fsync, rename, fsync
/// the directory). Creates missing parent directories.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> FsResult<()> {
    ensure_dir(parent_of(path)?)?;
    write_atomic_into(path, bytes)
}

/// Replaces `path` atomically for readers (temporary file, rename) without
/// waiting for the disk: for caches, which are rebuilt when a crash leaves
/// them old, missing or torn. Creates missing parent directories.
pub(crate) fn write_cache_with(
    path: &Path,
    fill: impl FnOnce(&mut io::BufWriter<&mut File>) -> io::Result<()>,
) -> FsResult<()> {
    replace_with(path, fill, false)
}

/// Replaces `path` with `bytes` atomically for readers (temporary file,
/// rename) without waiting for the disk: for a file a durable record
/// elsewhere can rebuild (the snapshot, which the journal's last record
/// holds) or that decides nothing after a power loss. Creates missing
/// parent directories.
pub(crate) fn write_unflushed(path: &Path, bytes: &[u8]) -> FsResult<()> {
    replace_with(path, |out| out.write_all(bytes), false)
}

/// Streams `fill` into a temporary file and renames it over `path`; with
/// `durable`, the file and then its directory are flushed to disk as well.
fn replace_with(
    path: &Path,
    fill: impl FnOnce(&mut io::BufWriter<&mut File>) -> io::Result<()>,
    durable: bool,
) -> FsResult<()> {
    let dir = parent_of(path)?;
    ensure_dir(dir)?;
    let (temp, mut file) = create_temp(dir, path)?;
    let written = {
        let mut out = io::BufWriter::new(&mut file);
        fill(&mut out).and_then(|()| out.flush())
    };
    let written = written.and_then(|()| if durable { file.sync_all() } else { Ok(()) });
    drop(file);
    if let Err(e) = written {
        let _ = fs::remove_file(&temp);
        return Err(FsError::io("write", &temp, e));
    }
    if let Err(e) = fs::rename(&temp, path) {
        let _ = fs::remove_file(&temp);
        return Err(FsError::io("replace", path, e));
    }
    if durable { sync_dir(dir) } else { Ok(()) }
}

/// Replaces `path` with `bytes` atomically for readers (temporary file,
/// rename) without waiting for the disk: for a harness's logs and prompt,
/// which a stage rewrites whole when it runs again after a crash. The
/// directory (a run directory) must exist: a stage finishing after its
/// workspace was removed must not rebuild part of it.
pub(crate) fn write_replace(path: &Path, bytes: &[u8]) -> FsResult<()> {
    let (temp, mut file) = create_temp(parent_of(path)?, path)?;
    let written = file.write_all(bytes);
    drop(file);
    if let Err(e) = written.and_then(|()| fs::rename(&temp, path)) {
        let _ = fs::remove_file(&temp);
        return Err(FsError::io("replace", path, e));
    }
    Ok(())
}

/// [`write_atomic`] into a directory that must already exist (a run
/// directory, for the same reason as [`write_replace`]).
pub(crate) fn write_atomic_into(path: &Path, bytes: &[u8]) -> FsResult<()> {
    let dir = parent_of(path)?;
    let temp = write_temp(dir, path, bytes)?;
    if let Err(e) = fs::rename(&temp, path) {
        let _ = fs::remove_file(&temp);
        return Err(FsError::io("replace", path, e));
    }
    sync_dir(dir)
}

/// Replaces a file a person owns (a `.mill` source being formatted)
/// atomically and durably, keeping its permissions.
pub(crate) fn replace_keeping_mode(path: &Path, bytes: &[u8]) -> FsResult<()> {
    let mode = fs::metadata(path).ok().map(|m| m.permissions());
    let dir = parent_of(path)?;
    let temp = write_temp(dir, path, bytes)?;
    let renamed = mode
        .map_or(Ok(()), |mode| fs::set_permissions(&temp, mode))
        .and_then(|()| fs::rename(&temp, path));
    if let Err(e) = renamed {
        let _ = fs::remove_file(&temp);
        return Err(FsError::io("replace", path, e));
    }
    sync_dir(dir)
}

/// Makes a file read-only for everyone (a copy nobody should edit).
pub(crate) fn set_readonly(path: &Path) -> FsResult<()> {
    let mut perms = fs::metadata(path)
        .map_err(|e| FsError::io("stat", path, e))?
        .permissions();
    perms.set_readonly(true);
    fs::set_permissions(path, perms).map_err(|e| FsError::io("chmod", path, e))
}

/// Renames `from` to `to`, replacing `to`, without waiting for the disk:
/// for setting aside a file nothing durable depends on.
pub(crate) fn rename(from: &Path, to: &Path) -> FsResult<()> {
    fs::rename(from, to).map_err(|e| FsError::io("rename", from, e))
}

/// Creates `path` with `bytes` atomically, failing with [`FsError::Exists`]
/// if it is already there. Readers never see a partial file: the content is
/// written and fsynced under a temporary name, then hard-linked into place.
pub(crate) fn write_new(path: &Path, bytes: &[u8]) -> FsResult<()> {
    let dir = parent_of(path)?;
    ensure_dir(dir)?;
    let temp = write_temp(dir, path, bytes)?;
    let linked = fs::hard_link(&temp, path);
    let _ = fs::remove_file(&temp);
    match linked {
        Ok(()) => sync_dir(dir),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(FsError::Exists {
            path: path.to_path_buf(),
        }),
        // Filesystems without hard links: an exclusive create still never
        // replaces anything, though a reader may see the file being written.
        Err(_) => create_exclusive(path, bytes),
    }
}

/// Creates `path` with `O_EXCL` semantics and fsyncs file and directory.
/// A process that dies between the create and the write leaves an empty
/// file: prefer [`write_new`], which never exposes a partial one.
pub(crate) fn create_exclusive(path: &Path, bytes: &[u8]) -> FsResult<()> {
    let dir = parent_of(path)?;
    ensure_dir(dir)?;
    let mut file = match OpenOptions::new().write(true).create_new(true).open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            return Err(FsError::Exists {
                path: path.to_path_buf(),
            });
        }
        Err(e) => return Err(FsError::io("create", path, e)),
    };
    let written = file.write_all(bytes).and_then(|()| file.sync_all());
    if let Err(e) = written {
        let _ = fs::remove_file(path);
        return Err(FsError::io("write", path, e));
    }
    sync_dir(dir)
}

/// Moves `from` to `to` with one rename and fsyncs both directories. Fails
/// with [`FsError::Missing`] if `from` is gone and [`FsError::Exists`] if
/// `to` is taken (checked just before the rename: the runtime is the only
/// writer that moves queue files, so the check cannot race another move).
pub(crate) fn move_file(from: &Path, to: &Path) -> FsResult<()> {
    let to_dir = parent_of(to)?;
    ensure_dir(to_dir)?;
    if to.symlink_metadata().is_ok() {
        return Err(FsError::Exists {
            path: to.to_path_buf(),
        });
    }
    match fs::rename(from, to) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(FsError::Missing {
                path: from.to_path_buf(),
            });
        }
        Err(e) => return Err(FsError::io("move", from, e)),
    }
    sync_dir(to_dir)?;
    let from_dir = parent_of(from)?;
    if from_dir != to_dir {
        sync_dir(from_dir)?;
    }
    Ok(())
}

/// Creates (or truncates) a file to stream into: a harness's stdout and
/// stderr logs, which are rewritten whole when a stage runs again.
pub(crate) fn create_file(path: &Path) -> FsResult<File> {
    File::create(path).map_err(|e| FsError::io("create", path, e))
}

/// Opens (creating if needed) `path` and takes an exclusive OS lock on it
/// without waiting: `Ok(None)` when another open file holds it. The lock
/// lasts as long as the returned file is open, and dies with the process.
pub(crate) fn try_lock_exclusive(path: &Path) -> FsResult<Option<File>> {
    ensure_dir(parent_of(path)?)?;
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| FsError::io("open", path, e))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(fs::TryLockError::WouldBlock) => Ok(None),
        Err(fs::TryLockError::Error(e)) => Err(FsError::io("lock", path, e)),
    }
}

/// Opens a log file for appending, creating it if needed (a monitor log:
/// lines are written as they come, without an fsync each).
pub(crate) fn open_append(path: &Path) -> FsResult<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| FsError::io("open", path, e))
}

/// Appends `line` plus a newline in a single write and fsyncs the file.
/// `line` may hold several lines joined by newlines (a batch), each one a
/// whole record.
pub(crate) fn append_line(path: &Path, line: &str) -> FsResult<()> {
    append(path, line, true)
}

/// [`append_line`] without waiting for the disk: for a diagnostic log
/// (the event log), which a killed process cannot tear (the write is one
/// call) and which decides nothing after a power loss.
pub(crate) fn append_line_unflushed(path: &Path, line: &str) -> FsResult<()> {
    append(path, line, false)
}

fn append(path: &Path, line: &str, durable: bool) -> FsResult<()> {
    let dir = parent_of(path)?;
    ensure_dir(dir)?;
    let existed = path.exists();
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| FsError::io("open", path, e))?;
    let mut bytes = Vec::with_capacity(line.len() + 1);
    bytes.extend_from_slice(line.as_bytes());
    bytes.push(b'\n');
    file.write_all(&bytes)
        .and_then(|()| if durable { file.sync_data() } else { Ok(()) })
        .map_err(|e| FsError::io("append to", path, e))?;
    if !existed && durable {
        sync_dir(dir)?;
    }
    Ok(())
}

/// [`append_line`] for a log whose last line may be torn (a crash in the
/// middle of a write): if the file does not end with a newline, one is
/// written first so the new record starts on its own line and the torn
/// fragment stays a lone malformed line readers skip. Returns whether a
/// torn tail was found.
pub(crate) fn append_line_after_torn(path: &Path, line: &str) -> FsResult<bool> {
    use std::os::unix::fs::FileExt;
    let mut last = [0u8; 1];
    let torn = match File::open(path) {
        Ok(file) => {
            let len = file
                .metadata()
                .map_err(|e| FsError::io("inspect", path, e))?
                .len();
            len > 0
                && file
                    .read_at(&mut last, len - 1)
                    .map_err(|e| FsError::io("read", path, e))?
                    == 1
                && last[0] != b'\n'
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => false,
        Err(e) => return Err(FsError::io("open", path, e)),
    };
    if torn {
        append_line(path, &format!("\n{line}"))?;
    } else {
        append_line(path, line)?;
    }
    Ok(torn)
}

/// Creates a directory and its parents if missing.
pub(crate) fn ensure_dir(dir: &Path) -> FsResult<()> {
    if dir.is_dir() {
        return Ok(());
    }
    fs::create_dir_all(dir).map_err(|e| FsError::io("create directory", dir, e))
}

/// Fsyncs a directory so a rename or create in it survives a crash.
pub(crate) fn sync_dir(dir: &Path) -> FsResult<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| FsError::io("sync directory", dir, e))
}

/// Removes a file; a missing file is not an error.
pub(crate) fn remove_file(path: &Path) -> FsResult<()> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(FsError::io("remove", path, e)),
    }
}

/// The longest file name the filesystems in use take (bytes).
pub(crate) const NAME_MAX: usize = 255;

/// `name` followed by `suffix`, shortened to fit [`NAME_MAX`] when it would
/// not: a prefix of `name`, `~`, and 12 hex of its hash, so two long names
/// never meet in one shortened name.
pub(crate) fn fit_name(name: &str, suffix: &str) -> String {
    if name.len() + suffix.len() <= NAME_MAX {
        return format!("{name}{suffix}");
    }
    let hash = &crate::plan::sha256_hex(name.as_bytes())[..12];
    let mut cut = NAME_MAX.saturating_sub(suffix.len() + hash.len() + 1);
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}~{hash}{suffix}", &name[..cut])
}

/// Removes a directory and everything in it; symlinks inside are removed,
/// never followed. A missing directory is not an error.
pub(crate) fn remove_tree(dir: &Path) -> FsResult<()> {
    match fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(FsError::io("remove directory", dir, e)),
    }
}

/// Whether `name` is one of our temporary files (never a real artifact).
pub(crate) fn is_temp_name(name: &str) -> bool {
    name.starts_with('.') && name.contains(".tmp-")
}

/// The pid of the process that created a temporary file, from its name
/// (`.<name>.tmp-<pid>-<hex>`).
pub(crate) fn temp_writer(name: &str) -> Option<u32> {
    let rest = &name[name.rfind(".tmp-")? + ".tmp-".len()..];
    rest.split('-').next()?.parse().ok()
}

/// A new temporary file next to `path`, open for writing.
fn create_temp(dir: &Path, path: &Path) -> FsResult<(PathBuf, File)> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let suffix = format!(".tmp-{}-{:08x}", std::process::id(), fastrand::u32(..));
    let temp = dir.join(fit_name(&format!(".{name}"), &suffix));
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&temp)
        .map_err(|e| FsError::io("create", &temp, e))?;
    Ok((temp, file))
}

fn write_temp(dir: &Path, path: &Path, bytes: &[u8]) -> FsResult<PathBuf> {
    let (temp, mut file) = create_temp(dir, path)?;
    if let Err(e) = file.write_all(bytes).and_then(|()| file.sync_all()) {
        drop(file);
        let _ = fs::remove_file(&temp);
        return Err(FsError::io("write", &temp, e));
    }
    Ok(temp)
}

fn parent_of(path: &Path) -> FsResult<&Path> {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => Ok(p),
        _ => Ok(Path::new(".")),
    }
}
