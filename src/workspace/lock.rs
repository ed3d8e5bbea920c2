//! One owner per workspace: an OS lock held for the owner's whole life, and
//! a record of who holds it.
//!
//! Input: a session id of the process that wants to own the workspace.
//! Output: ownership, held until [`release`] or the process's death, and an
//! inspection of the record: absent, active, stale or invalid.
//!
//! Invariants:
//! - ownership is the exclusive OS file lock (`flock`) on
//!   `state/runtime_daemon.lock`, which is never removed; the kernel gives it
//!   to one open file at a time and takes it back when the owner dies, so two
//!   owners cannot exist whatever the timing of starts and takeovers;
//! - `state/runtime_daemon.lock.json` (pid, host, session, start time) is
//!   written by the owner right after it takes the lock, for humans, `status`
//!   and `doctor` (atomically, not flushed: it decides nothing); a record
//!   left by a dead owner is replaced, and the new
//!   owner learns whose it was (to log `lock_taken_over`);
//! - inspecting never takes the lock; a record is stale only when provably
//!   dead: this host, and its pid not running or running another process
//!   (start time differs); another host's record is never taken over;
//! - only the owning session releases; the record goes before the lock.

use std::path::Path;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::Workspace;
use super::fsx::{self, FsError};

/// How long to wait for a lock holder's record to appear (it writes it
/// right after taking the lock).
const RECORD_WAIT: std::time::Duration = std::time::Duration::from_millis(500);

/// The locks this process holds, by lock-file path: the open file is the
/// lock, so it lives here until [`release`] (or the process's end).
static HELD: std::sync::Mutex<Vec<Held>> = std::sync::Mutex::new(Vec::new());

struct Held {
    path: std::path::PathBuf,
    session: String,
    _file: std::fs::File,
}

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

    /// Another process holds the lock but has not said who it is yet.
    #[error("another process is taking ownership of this workspace right now")]
    #[diagnostic(
        code(mill::lock::contended),
        help("another runtime is starting here; run `millrace status` to see it, or try again")
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

/// Takes ownership for `session_id`: the OS lock, then the record. A record
/// left by a dead owner on this host is taken over (and returned).
pub fn acquire(ws: &Workspace, session_id: &str) -> Result<Acquired, LockError> {
    let lock_path = ws.paths().lock_file();
    pause_for_tests("open");
    let Some(file) = fsx::try_lock_exclusive(&lock_path)? else {
        return Err(held_by_other(ws)?);
    };
    pause_for_tests("locked");
    // The lock is ours: whatever the record says, its writer is not running
    // here any more (or is on another host, whose lock we do not trust).
    let seen = inspect(ws)?;
    let takeover = match (seen.state, seen.record) {
        (LockState::Absent, _) => None,
        (LockState::Invalid, _) => return Err(LockError::Invalid { detail: seen.detail }),
        (LockState::Active, Some(owner)) if seen.foreign_host => return Err(held(owner, true)),
        (_, record) => record.filter(|r| r.owner_session_id != session_id),
    };
    pause_for_tests("record");
    let record = record_for_this_process(ws, session_id);
    let text = serde_json::to_string_pretty(&record).unwrap_or_default() + "\n";
    // Not flushed: the record informs; the OS lock decides. A power loss
    // that undoes it leaves no owner to describe, and one it leaves behind
    // is stale (its process is gone).
    fsx::write_unflushed(&ws.paths().lock(), text.as_bytes())?;
    held_locks().push(Held {
        path: lock_path,
        session: session_id.to_string(),
        _file: file,
    });
    Ok(Acquired { record, takeover })
}

/// The error for a lock someone else holds: who, from their record (which
/// may take a moment to appear after they took the lock).
fn held_by_other(ws: &Workspace) -> Result<LockError, LockError> {
    let deadline = std::time::Instant::now() + RECORD_WAIT;
    loop {
        let seen = inspect(ws)?;
        match seen.record {
            Some(owner) if seen.state == LockState::Active => return Ok(held(owner, seen.foreign_host)),
            _ if std::time::Instant::now() >= deadline => return Ok(LockError::Contended),
            _ => std::thread::sleep(std::time::Duration::from_millis(10)),
        }
    }
}

fn held_locks() -> std::sync::MutexGuard<'static, Vec<Held>> {
    HELD.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A test knob: `MILLRACE_LOCK_STEP_DELAY_MS` sleeps between the steps of a
/// takeover, so a test can widen every window a race could use.
fn pause_for_tests(_step: &str) {
    if let Some(ms) = std::env::var("MILLRACE_LOCK_STEP_DELAY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
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

/// Releases ownership if `session_id` has it: the record is removed, then
/// the OS lock let go. `Ok(false)` if there was no record.
pub fn release(ws: &Workspace, session_id: &str) -> Result<bool, LockError> {
    let path = ws.paths().lock();
    let unlock = || {
        let lock_path = ws.paths().lock_file();
        held_locks().retain(|h| !(h.path == lock_path && h.session == session_id));
    };
    let Some(text) = fsx::read_optional(&path)? else {
        unlock();
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
    unlock();
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
    // Only a record nobody holds the lock for is removed (held while doing
    // it, so no owner starts in between).
    let Some(_held) = fsx::try_lock_exclusive(&ws.paths().lock_file())? else {
        return Ok(LockClear::ActiveOwner);
    };
    fsx::remove_file(&ws.paths().lock())?;
    Ok(outcome)
}
