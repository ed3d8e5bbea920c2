//! `state/runtime_daemon.lock.json`: one owner per workspace.
//!
//! Input: a session id of the process that wants to own the workspace.
//! Output: the lock record, created whole (temporary file, fsync, then a
//! hard link that fails if a lock exists), and an inspection of an existing
//! lock: absent, active, stale or invalid.
//!
//! Invariants:
//! - a lock is stale only when provably dead: its host is this host and its
//!   pid is not running, or runs a different process (start time from
//!   `/proc/<pid>/stat` differs, i.e. the pid was reused);
//! - a stale lock is taken over automatically and the caller learns about
//!   it (to log an event); another host's lock is never taken over;
//! - takeover is race-safe: the stale file is renamed aside under a unique
//!   name (a contender whose rename finds it gone lost the race), checked to
//!   be the stale record, and only then is a new lock exclusive-created;
//! - only the owning session releases its lock.

use std::path::Path;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::Workspace;
use super::fsx::{self, FsError};

/// Attempts before giving up when other processes keep changing the lock.
const MAX_ATTEMPTS: usize = 8;

/// Who owns the workspace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockRecord {
    pub workspace_root: String,
    pub owner_pid: u32,
    pub owner_hostname: String,
    pub owner_session_id: String,
    /// The owner's start time in clock ticks since boot (Linux), to tell a
    /// reused pid from the original process.
    #[serde(default)]
    pub owner_start_time: Option<u64>,
    pub acquired_at: Timestamp,
}

/// The state of the lock file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LockState {
    Absent,
    Active,
    Stale,
    Invalid,
}

impl LockState {
    pub fn as_str(self) -> &'static str {
        match self {
            LockState::Absent => "absent",
            LockState::Active => "active",
            LockState::Stale => "stale",
            LockState::Invalid => "invalid",
        }
    }
}

/// An inspected lock.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LockInspection {
    pub state: LockState,
    pub record: Option<LockRecord>,
    /// Why the lock is in this state, for humans.
    pub detail: String,
    /// The owner is on another host, so liveness could not be checked.
    pub foreign_host: bool,
}

/// A lock now held by the caller.
#[derive(Clone, Debug, PartialEq)]
pub struct Acquired {
    pub record: LockRecord,
    /// The dead owner's record, when a stale lock was taken over.
    pub takeover: Option<LockRecord>,
}

/// Why the lock cannot be taken or released.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum LockError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Fs(#[from] FsError),

    /// A live process (or one on another host) owns the workspace.
    #[error("the workspace is owned by pid {pid} on host `{host}` (session {session})")]
    #[diagnostic(code(mill::lock::held), help("{help}"))]
    Held {
        pid: u32,
        host: String,
        session: String,
        help: String,
    },

    /// The lock file is damaged or belongs to another workspace path.
    #[error("the ownership lock is invalid: {detail}")]
    #[diagnostic(
        code(mill::lock::invalid),
        help("inspect `state/runtime_daemon.lock.json`; `millrace clear-stale-state` removes it")
    )]
    Invalid { detail: String },

    /// Other processes kept replacing the lock while this one tried.
    #[error("the ownership lock kept changing while trying to acquire it")]
    #[diagnostic(
        code(mill::lock::contended),
        help("another runtime is starting here; try again")
    )]
    Contended,

    /// A session tried to release a lock it does not own.
    #[error("the ownership lock belongs to session {owner}, not {session}")]
    #[diagnostic(
        code(mill::lock::not_owner),
        help("only the owning runtime releases its lock")
    )]
    NotOwner { owner: String, session: String },
}

/// This host's name.
pub fn hostname() -> String {
    let read = |p: &str| {
        fsx::read_optional(Path::new(p))
            .ok()
            .flatten()
            .map(|s| s.trim().to_string())
    };
    read("/proc/sys/kernel/hostname")
        .or_else(|| read("/etc/hostname"))
        .or_else(|| std::env::var("HOSTNAME").ok())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// What `/proc` says about a pid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProcessState {
    /// Running, with its start time when known.
    Alive(Option<u64>),
    Dead,
    /// No `/proc` to ask (not Linux): assume alive.
    Unknown,
}

/// Looks a process up in `/proc/<pid>/stat` (a zombie counts as dead).
pub fn process_state(pid: u32) -> ProcessState {
    if !fsx::exists(Path::new("/proc/self/stat")) {
        return ProcessState::Unknown;
    }
    let text = match fsx::read_optional(Path::new(&format!("/proc/{pid}/stat"))) {
        Ok(Some(text)) => text,
        Ok(None) => return ProcessState::Dead,
        Err(_) => return ProcessState::Unknown,
    };
    // The command name may hold spaces and parentheses: fields start after
    // the last `)`. Field 3 is the state, field 22 the start time.
    let Some((_, rest)) = text.rsplit_once(')') else {
        return ProcessState::Unknown;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    if matches!(fields.first(), Some(&"Z") | Some(&"X")) {
        return ProcessState::Dead;
    }
    ProcessState::Alive(fields.get(19).and_then(|s| s.parse().ok()))
}

/// The record this process would write.
pub fn record_for_this_process(ws: &Workspace, session_id: &str) -> LockRecord {
    let pid = std::process::id();
    let start = match process_state(pid) {
        ProcessState::Alive(start) => start,
        _ => None,
    };
    LockRecord {
        workspace_root: ws.root().display().to_string(),
        owner_pid: pid,
        owner_hostname: hostname(),
        owner_session_id: session_id.to_string(),
        owner_start_time: start,
        acquired_at: Timestamp::now(),
    }
}

/// Inspects the lock without changing anything.
pub fn inspect(ws: &Workspace) -> Result<LockInspection, FsError> {
    let path = ws.paths().lock();
    let Some(bytes) = fsx::read_optional_bytes(&path)? else {
        return Ok(judge(ws, None));
    };
    // Bytes that are not UTF-8 are a damaged lock (invalid, removable by
    // clear-stale-state), not an I/O failure.
    Ok(match String::from_utf8(bytes) {
        Ok(text) => judge(ws, Some(&text)),
        Err(e) => inspection(LockState::Invalid, None, format!("not UTF-8 text: {e}"), false),
    })
}

fn judge(ws: &Workspace, text: Option<&str>) -> LockInspection {
    let Some(text) = text else {
        return inspection(LockState::Absent, None, "no lock file".into(), false);
    };
    let record: LockRecord = match serde_json::from_str(text) {
        Ok(record) => record,
        Err(e) => return inspection(LockState::Invalid, None, format!("not a lock record: {e}"), false),
    };
    let root = ws.root().display().to_string();
    if !same_directory(&record.workspace_root, ws.root()) {
        let detail = format!("it names workspace `{}`, not `{root}`", record.workspace_root);
        return inspection(LockState::Invalid, Some(record), detail, false);
    }
    if record.owner_hostname != hostname() {
        let detail = format!(
            "held by host `{}`; a process on another host cannot be checked",
            record.owner_hostname
        );
        return inspection(LockState::Active, Some(record), detail, true);
    }
    let (state, detail) = match process_state(record.owner_pid) {
        ProcessState::Dead => (
            LockState::Stale,
            format!("pid {} is not running", record.owner_pid),
        ),
        ProcessState::Alive(Some(now)) if record.owner_start_time.is_some_and(|then| then != now) => (
            LockState::Stale,
            format!("pid {} was reused by another process", record.owner_pid),
        ),
        _ => (LockState::Active, format!("pid {} is running", record.owner_pid)),
    };
    inspection(state, Some(record), detail, false)
}

/// Whether a recorded root names this workspace, through symlinks too (a
/// daemon started via a symlinked path still owns the workspace).
fn same_directory(recorded: &str, root: &Path) -> bool {
    if Path::new(recorded) == root {
        return true;
    }
    match (fsx::canonical(Path::new(recorded)), fsx::canonical(root)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

fn inspection(state: LockState, record: Option<LockRecord>, detail: String, foreign: bool) -> LockInspection {
    LockInspection {
        state,
        record,
        detail,
        foreign_host: foreign,
    }
}

/// Takes the lock for `session_id`, taking over a provably dead owner's.
pub fn acquire(ws: &Workspace, session_id: &str) -> Result<Acquired, LockError> {
    let path = ws.paths().lock();
    let mut takeover = None;
    for _ in 0..MAX_ATTEMPTS {
        let record = record_for_this_process(ws, session_id);
        let text = serde_json::to_string_pretty(&record).unwrap_or_default() + "\n";
        // Written whole under a temporary name, then linked into place: a
        // process killed half way leaves no lock, never an empty one.
        match fsx::write_new(&path, text.as_bytes()) {
            Ok(()) => return Ok(Acquired { record, takeover }),
            Err(FsError::Exists { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        let seen = inspect(ws)?;
        match (seen.state, seen.record) {
            (LockState::Absent, _) => {}
            (LockState::Active, Some(owner)) => return Err(held(owner, seen.foreign_host)),
            (LockState::Stale, Some(dead)) => {
                if set_aside(&path, &dead)? {
                    takeover = Some(dead);
                }
            }
            _ => return Err(LockError::Invalid { detail: seen.detail }),
        }
    }
    Err(LockError::Contended)
}

fn held(owner: LockRecord, foreign: bool) -> LockError {
    let help = if foreign {
        "the owner runs on another host; stop it there, or remove the lock file by hand if that host is gone"
            .into()
    } else {
        "stop the running daemon first (`millrace stop`), or work through it: `queue add-*` and control commands use its mailbox".into()
    };
    LockError::Held {
        pid: owner.owner_pid,
        host: owner.owner_hostname,
        session: owner.owner_session_id,
        help,
    }
}

/// Renames the stale lock aside. Returns false if another process got there
/// first (the file was gone, or was already a fresh lock, which is put back).
fn set_aside(path: &Path, dead: &LockRecord) -> Result<bool, FsError> {
    let aside = path.with_file_name(format!(
        "runtime_daemon.lock.json.stale-{}-{:08x}",
        std::process::id(),
        fastrand::u32(..)
    ));
    match fsx::rename(path, &aside) {
        Ok(()) => {}
        Err(e) if e.is_not_found() => return Ok(false),
        Err(e) => return Err(e),
    }
    let moved: Option<LockRecord> = fsx::read_optional(&aside)?.and_then(|t| serde_json::from_str(&t).ok());
    let was_stale = moved
        .as_ref()
        .is_some_and(|m| m.owner_session_id == dead.owner_session_id);
    if !was_stale {
        // A contender replaced the stale lock between our inspection and
        // rename: restore its lock (a link fails if yet another one exists).
        let _ = fsx::hard_link(&aside, path);
    }
    fsx::remove_file(&aside)?;
    if let Some(dir) = path.parent() {
        fsx::sync_dir(dir)?;
    }
    Ok(was_stale)
}

/// Releases the lock if `session_id` owns it. `Ok(false)` if there was none.
pub fn release(ws: &Workspace, session_id: &str) -> Result<bool, LockError> {
    let path = ws.paths().lock();
    let Some(text) = fsx::read_optional(&path)? else {
        return Ok(false);
    };
    let record: LockRecord = serde_json::from_str(&text).map_err(|e| LockError::Invalid {
        detail: format!("not a lock record: {e}"),
    })?;
    if record.owner_session_id != session_id {
        return Err(LockError::NotOwner {
            owner: record.owner_session_id,
            session: session_id.to_string(),
        });
    }
    fsx::remove_file(&path)?;
    if let Some(dir) = path.parent() {
        fsx::sync_dir(dir)?;
    }
    Ok(true)
}

/// What clearing a non-active lock did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LockClear {
    Missing,
    ActiveOwner,
    ClearedStale,
    ClearedInvalid,
}

/// Removes a stale or invalid lock (for `clear-stale-state`); an active
/// lock is left alone.
pub fn clear_if_not_active(ws: &Workspace) -> Result<LockClear, FsError> {
    let seen = inspect(ws)?;
    let outcome = match seen.state {
        LockState::Absent => return Ok(LockClear::Missing),
        LockState::Active => return Ok(LockClear::ActiveOwner),
        LockState::Stale => LockClear::ClearedStale,
        LockState::Invalid => LockClear::ClearedInvalid,
    };
    let path = ws.paths().lock();
    fsx::remove_file(&path)?;
    if let Some(dir) = path.parent() {
        fsx::sync_dir(dir)?;
    }
    Ok(outcome)
}
