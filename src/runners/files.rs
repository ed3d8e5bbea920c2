//! The run-directory files a runner writes for one request.
//!
//! Input: the run directory and the request id. Output: the paths of every
//! runner artifact and writers for the JSON records. Invariant: every name
//! ends in the request id made safe for a file name, so one run directory
//! holds the artifacts of many requests side by side.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::workspace::fsx::{self, FsError};

/// The per-request artifact paths inside the run directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunFiles {
    pub prompt: PathBuf,
    pub invocation: PathBuf,
    pub stdout: PathBuf,
    pub stderr: PathBuf,
    pub events: PathBuf,
    pub last_message: PathBuf,
    pub completion: PathBuf,
    /// `runner_process.<rid>.json`: the harness's pid, process group and
    /// start time, written as soon as it starts.
    pub process: PathBuf,
}

impl RunFiles {
    pub fn new(run_dir: &Path, request_id: &str) -> RunFiles {
        let rid = file_safe(request_id);
        let at = |stem: &str, ext: &str| run_dir.join(format!("{stem}.{rid}.{ext}"));
        RunFiles {
            prompt: at("runner_prompt", "md"),
            invocation: at("runner_invocation", "json"),
            stdout: at("runner_stdout", "txt"),
            stderr: at("runner_stderr", "txt"),
            events: at("runner_events", "jsonl"),
            last_message: at("runner_last_message", "txt"),
            completion: at("runner_completion", "json"),
            process: at("runner_process", "json"),
        }
    }
}

/// Keeps `[A-Za-z0-9._-]` and replaces anything else (a `/` above all) so a
/// request id can never climb out of the run directory.
pub(crate) fn file_safe(id: &str) -> String {
    let safe: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if safe.is_empty() || safe.chars().all(|c| c == '.') {
        format!("_{safe}")
    } else {
        safe
    }
}

/// Writes a record (the process record, a harness result) as pretty JSON,
/// atomically, without waiting for the disk. The process record is what
/// stops an orphaned harness after the runtime is killed, and a kill
/// leaves the page cache whole; a power loss leaves no harness to stop,
/// and the stage it cut runs again.
pub(crate) fn write_json(path: &Path, value: &impl Serialize) -> Result<(), FsError> {
    let mut bytes = serde_json::to_vec_pretty(value).unwrap_or_default();
    bytes.push(b'\n');
    fsx::write_replace(path, &bytes)
}

/// Writes a record only people read (invocation, completion) atomically,
/// without waiting for the disk.
pub(crate) fn write_note(path: &Path, value: &impl Serialize) -> Result<(), FsError> {
    let mut bytes = serde_json::to_vec_pretty(value).unwrap_or_default();
    bytes.push(b'\n');
    fsx::write_replace(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_request_id() {
        let files = RunFiles::new(Path::new("/r"), "req-1");
        assert_eq!(files.stdout, Path::new("/r/runner_stdout.req-1.txt"));
        assert_eq!(files.events, Path::new("/r/runner_events.req-1.jsonl"));
    }

    #[test]
    fn hostile_ids_stay_inside() {
        assert_eq!(file_safe("../../etc"), ".._.._etc");
        assert_eq!(file_safe(".."), "_..");
        assert_eq!(file_safe(""), "_");
    }
}
