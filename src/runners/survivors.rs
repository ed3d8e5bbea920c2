//! Processes of a stage that outlived the runtime that ran it: a build, a
//! test run or a server the harness started, still working after the
//! runtime was killed (and, under an init that reaps at once, after the
//! harness itself died and was reaped).
//!
//! Input: the workspace root and a request id; the process table. Output:
//! the live processes that belong to a stage, and the ones stopped.
//!
//! Invariants: a process counts as the stage's only by evidence it cannot
//! have by accident: it carries the stage's markers in its environment
//! ([`REQUEST_VAR`] and [`WORKSPACE_VAR`], which every harness process and
//! its descendants inherit), or it is a member of the stage's recorded
//! process group that started no earlier than the group's leader did.
//! Zombies are dead already and are left alone.

use std::path::Path;

use super::sys;
use crate::workspace::fsx;

/// The request id of the stage a process works for.
pub const REQUEST_VAR: &str = "MILLRACE_STAGE_REQUEST";
/// The root of the workspace the stage belongs to.
pub const WORKSPACE_VAR: &str = "MILLRACE_STAGE_WORKSPACE";

/// A live process of some stage of a workspace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StageProcess {
    pub pid: i32,
    pub pgid: i32,
    pub request_id: String,
}

/// One row of the process table.
struct Proc {
    pid: i32,
    pgid: i32,
    start: u64,
}

/// Live (not zombie) processes, by `/proc/<pid>/stat`.
fn processes() -> Vec<Proc> {
    let proc = Path::new("/proc");
    let mut out = Vec::new();
    for name in fsx::list_names(proc).unwrap_or_default() {
        let Ok(pid) = name.parse::<i32>() else { continue };
        let Ok(Some(stat)) = fsx::read_optional(&proc.join(&name).join("stat")) else {
            continue;
        };
        if let Some((state, pgid, start)) = sys::parse_stat_fields(&stat)
            && state != 'Z'
            && state != 'X'
        {
            out.push(Proc { pid, pgid, start });
        }
    }
    out
}

/// The stage markers in a process's environment: (workspace, request).
fn markers(pid: i32) -> Option<(String, String)> {
    let path = format!("/proc/{pid}/environ");
    let bytes = fsx::read_optional_bytes(Path::new(&path)).ok()??;
    let (mut workspace, mut request) = (None, None);
    for var in bytes.split(|b| *b == 0) {
        let var = String::from_utf8_lossy(var);
        if let Some(v) = var.strip_prefix(WORKSPACE_VAR).and_then(|r| r.strip_prefix('=')) {
            workspace = Some(v.to_string());
        } else if let Some(v) = var.strip_prefix(REQUEST_VAR).and_then(|r| r.strip_prefix('=')) {
            request = Some(v.to_string());
        }
    }
    Some((workspace?, request?))
}

fn same_root(a: &str, b: &Path) -> bool {
    Path::new(a) == b || fsx::canonical(Path::new(a)).is_some_and(|c| Some(c) == fsx::canonical(b))
}

/// Every live process carrying a stage marker of this workspace.
pub fn stage_processes(workspace_root: &Path) -> Vec<StageProcess> {
    let own = std::process::id() as i32;
    processes()
        .into_iter()
        .filter(|p| p.pid != own)
        .filter_map(|p| {
            let (root, request_id) = markers(p.pid)?;
            same_root(&root, workspace_root).then_some(StageProcess {
                pid: p.pid,
                pgid: p.pgid,
                request_id,
            })
        })
        .collect()
}

/// Stops every survivor of the stage `request_id`: the processes carrying
/// its markers, and the members of its recorded process group (`pgid`,
/// whose leader started at `leader_start`) started no earlier than it.
/// Returns the pids sent SIGKILL.
pub(crate) fn stop(workspace_root: &Path, request_id: &str, group: Option<(i32, u64)>) -> Vec<i32> {
    let own = std::process::id() as i32;
    let mut killed = Vec::new();
    for p in processes() {
        if p.pid == own || p.pid < 2 {
            continue;
        }
        let in_group = group.is_some_and(|(pgid, start)| pgid >= 2 && p.pgid == pgid && p.start >= start);
        let marked = || {
            markers(p.pid).is_some_and(|(root, rid)| rid == request_id && same_root(&root, workspace_root))
        };
        if (in_group || marked()) && sys::kill_process(p.pid).is_ok() {
            killed.push(p.pid);
        }
    }
    killed.sort_unstable();
    killed
}
