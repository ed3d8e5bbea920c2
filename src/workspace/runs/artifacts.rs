//! The files of one run directory, for readers that show them
//! (`millrace serve`): their names, and one file's text by its name.
//!
//! Input: a run id and artifact names taken from outside (a URL). Output:
//! [`Artifact`] listings and capped text reads.
//!
//! Invariants: a name is one or two components, each checked with
//! [`check_id`] (the second only under `stage_results/`), so no name
//! reaches a path outside the run directory; temporary files are never
//! listed; nothing is written.

use std::path::PathBuf;

use jiff::Timestamp;
use serde::Serialize;

use super::{RunError, Workspace};
use crate::model::ids::check_id;
use crate::workspace::fsx;

/// The subdirectory of a run that holds its stage results.
const RESULTS_DIR: &str = "stage_results";

/// One file of a run directory.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Artifact {
    /// Relative to the run directory (`runner_stdout.<rid>.txt`,
    /// `stage_results/<rid>.json`).
    pub name: String,
    pub size: u64,
    pub modified_at: Option<Timestamp>,
}

/// Every file of a run directory, sorted by name.
pub fn artifacts(ws: &Workspace, run_id: &str) -> Result<Vec<Artifact>, RunError> {
    check_id("run id", run_id)?;
    let dir = ws.paths().run_dir(run_id);
    if !fsx::is_dir(&dir) {
        return Err(RunError::NotFound(run_id.to_string()));
    }
    let mut out = Vec::new();
    for (prefix, at) in [("", dir.clone()), ("stage_results/", dir.join(RESULTS_DIR))] {
        for name in fsx::list_names(&at)? {
            if fsx::is_temp_name(&name) || check_id("artifact name", &name).is_err() {
                continue;
            }
            let Some(stat) = fsx::stat(&at.join(&name)).filter(|s| s.is_file) else {
                continue;
            };
            out.push(Artifact {
                name: format!("{prefix}{name}"),
                size: stat.len,
                modified_at: Timestamp::from_nanosecond(i128::from(stat.mtime_ns)).ok(),
            });
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// The path of a run's artifact named from outside: `<name>` or
/// `stage_results/<name>`, each part a safe id.
pub fn artifact_file(ws: &Workspace, run_id: &str, name: &str) -> Result<PathBuf, RunError> {
    check_id("run id", run_id)?;
    let dir = ws.paths().run_dir(run_id);
    let path = match name.split_once('/') {
        Some((RESULTS_DIR, file)) => {
            check_id("artifact name", file)?;
            dir.join(RESULTS_DIR).join(file)
        }
        _ => {
            check_id("artifact name", name)?;
            dir.join(name)
        }
    };
    if !fsx::is_file(&path) {
        return Err(RunError::NotFound(format!("{run_id}/{name}")));
    }
    Ok(path)
}

/// An artifact's text (invalid UTF-8 replaced), at most `max` bytes from
/// its end when longer, and whether it was cut.
pub fn read_artifact(ws: &Workspace, run_id: &str, name: &str, max: u64) -> Result<(String, bool), RunError> {
    let path = artifact_file(ws, run_id, name)?;
    let Some((bytes, cut)) = fsx::read_tail(&path, max) else {
        return Err(RunError::NotFound(format!("{run_id}/{name}")));
    };
    Ok((String::from_utf8_lossy(&bytes).into_owned(), cut))
}

/// Run ids in time order (minted ids sort by time), from one listing,
/// without reading any run.
pub fn run_ids(ws: &Workspace) -> Result<Vec<String>, RunError> {
    let dir = ws.paths().runs_dir();
    let mut ids: Vec<String> = fsx::list_names(&dir)?
        .into_iter()
        .filter(|name| check_id("run id", name).is_ok())
        .collect();
    ids.sort();
    Ok(ids)
}

/// What the harness of a running stage did last: when its stdout last
/// grew and its last line, read from the end of the file.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Activity {
    pub updated_at: Option<Timestamp>,
    pub bytes: u64,
    pub last_line: Option<String>,
}

/// The latest activity of a request's harness (`runner_stdout.<rid>.txt`);
/// `None` before it wrote anything.
pub fn activity(ws: &Workspace, run_id: &str, request_id: &str) -> Option<Activity> {
    check_id("run id", run_id).ok()?;
    check_id("request id", request_id).ok()?;
    let path = ws
        .paths()
        .run_dir(run_id)
        .join(format!("runner_stdout.{request_id}.txt"));
    let stat = fsx::stat(&path)?;
    let (tail, _) = fsx::read_tail(&path, 4096)?;
    let text = String::from_utf8_lossy(&tail);
    let last_line = text
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(|l| l.chars().take(300).collect());
    Some(Activity {
        updated_at: Timestamp::from_nanosecond(i128::from(stat.mtime_ns)).ok(),
        bytes: stat.len,
        last_line,
    })
}
