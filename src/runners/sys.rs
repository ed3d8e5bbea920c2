//! The only unsafe code of the runners: signalling process groups, and
//! asking who we run as.
//!
//! Input: a process-group id a runner created (the harness's pid, since it
//! is spawned with `process_group(0)`). Output: signals delivered, liveness
//! answers. Invariant: ids below 2 are refused, so a bad id can never
//! signal our own group (0) or every process we may signal (-1, 1).

#![allow(unsafe_code)]

use std::io;
use std::path::Path;

use crate::workspace::fsx;

/// Whether this process runs as root (some harnesses refuse modes then).
pub(crate) fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Sends SIGTERM to every process of the group.
pub(crate) fn terminate_group(pgid: i32) -> io::Result<()> {
    signal_group(pgid, libc::SIGTERM)
}

/// Sends SIGKILL to every process of the group.
pub(crate) fn kill_group(pgid: i32) -> io::Result<()> {
    signal_group(pgid, libc::SIGKILL)
}

fn signal_group(pgid: i32, signal: libc::c_int) -> io::Result<()> {
    if pgid < 2 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "refusing to signal group below 2",
        ));
    }
    // SAFETY: killpg takes plain integers and touches no memory of ours; the
    // id was checked above so it names one specific group.
    let rc = unsafe { libc::killpg(pgid, signal) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Sends SIGKILL to one process.
pub(crate) fn kill_process(pid: i32) -> io::Result<()> {
    if pid < 2 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "refusing to signal pid below 2",
        ));
    }
    // SAFETY: kill takes plain integers; the pid was checked above.
    let rc = unsafe { libc::kill(pid, libc::SIGKILL) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Whether any process (a zombie included) still belongs to the group:
/// `kill(-pgid, 0)` succeeds. Fails with ESRCH once the group is gone.
pub fn group_exists(pgid: i32) -> bool {
    if pgid < 2 {
        return false;
    }
    // SAFETY: signal 0 only checks existence and permission; plain integers.
    let rc = unsafe { libc::kill(-pgid, 0) };
    rc == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Whether a process of the group is still running (not a zombie). Zombies
/// reparented to an init that reaps lazily keep [`group_exists`] true for a
/// while after every member has died; they hold no resources but a slot.
pub fn group_has_live_members(pgid: i32) -> bool {
    if !group_exists(pgid) {
        return false;
    }
    match live_members_from_proc(pgid) {
        Some(n) => n > 0,
        // No /proc: trust kill(2).
        None => true,
    }
}

/// A process's start time (clock ticks since boot, `/proc/<pid>/stat`
/// field 22), to tell it from a later process given the same pid.
pub(crate) fn start_time(pid: i32) -> Option<u64> {
    let stat = fsx::read_optional(Path::new(&format!("/proc/{pid}/stat"))).ok()??;
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Counts non-zombie processes of the group by scanning `/proc`.
fn live_members_from_proc(pgid: i32) -> Option<usize> {
    let proc = Path::new("/proc");
    let mut live = 0;
    for name in fsx::list_names(proc).ok()? {
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(Some(stat)) = fsx::read_optional(&proc.join(&name).join("stat")) else {
            continue;
        };
        let Some((state, group)) = parse_stat(&stat) else {
            continue;
        };
        if group == pgid && state != 'Z' && state != 'X' {
            live += 1;
        }
    }
    Some(live)
}

/// State and process group from `/proc/<pid>/stat`.
fn parse_stat(stat: &str) -> Option<(char, i32)> {
    parse_stat_fields(stat).map(|(state, pgrp, _)| (state, pgrp))
}

/// State, process group and start time (0 when missing) from
/// `/proc/<pid>/stat`. The command name may hold spaces and parentheses, so
/// fields are read after the last `)`.
pub(crate) fn parse_stat_fields(stat: &str) -> Option<(char, i32, u64)> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let state = fields.first()?.chars().next()?;
    let pgrp = fields.get(2)?.parse().ok()?;
    let start = fields.get(19).and_then(|s| s.parse().ok()).unwrap_or(0);
    Some((state, pgrp, start))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_odd_command_name() {
        let stat = "123 (a) b (c)) S 1 456 456 0 -1";
        assert_eq!(parse_stat(stat), Some(('S', 456)));
    }

    #[test]
    fn refuses_tiny_ids() {
        assert!(terminate_group(0).is_err());
        assert!(kill_group(1).is_err());
        assert!(!group_exists(0));
    }
}
