//! `millrace init`: create or complete a workspace.
//!
//! Input: a workspace root and the embedded asset table. Output: the
//! `millrace-agents/` tree, bootstrap files, deployed assets and the
//! baseline manifest.
//!
//! Invariants: idempotent; never overwrites an existing file (a customized
//! `millrace.toml` or an edited entrypoint survives); only missing
//! directories, files and assets are created; the baseline manifest is
//! written only if missing.

use std::path::Path;

use jiff::Timestamp;
use serde::Serialize;

use super::Workspace;
use super::baseline::{BaselineManifest, is_deployable};
use super::fsx::{self, FsError};
use super::layout::Paths;
use crate::model::Snapshot;
use crate::plan::Plane;

/// The bootstrap `millrace.toml` written by `init`.
pub const BOOTSTRAP_TOML: &str = "\
# Millrace configuration. Every key is optional; see docs/config.md for the
# full list of sections, keys and defaults.

[runtime]
# The mode compiled and run when no --mode is given.
default_mode = \"default_codex\"
# Seconds an idle daemon waits between ticks.
idle_sleep_seconds = 1.0

[runners.codex]
# basic | elevated | maximum
permission_default = \"maximum\"
";

/// What `init` created (everything else already existed).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct InitReport {
    pub created_dirs: Vec<String>,
    pub created_files: Vec<String>,
    pub deployed_assets: Vec<String>,
    pub manifest_written: bool,
}

/// Creates whatever is missing.
pub fn init(ws: &Workspace, assets: &[(&str, &[u8])]) -> Result<InitReport, FsError> {
    let mut report = InitReport::default();
    let agents = ws.agents();
    for dir in Paths::canonical_dirs() {
        make_dir(&agents.join(&dir), &dir, &mut report)?;
    }
    make_dir(&ws.paths().ideas_inbox(), "../ideas/inbox", &mut report)?;
    for (path, content) in bootstrap_files(ws) {
        write_missing(ws, &path, content.as_bytes(), &mut report.created_files)?;
    }
    for (rel, bytes) in assets {
        let Some(path) = asset_path(agents, rel) else {
            continue;
        };
        write_missing(ws, &path, bytes, &mut report.deployed_assets)?;
    }
    let manifest_path = ws.paths().baseline_manifest();
    if !fsx::exists(&manifest_path) {
        let manifest = BaselineManifest::from_assets(assets);
        match fsx::write_new(&manifest_path, manifest.to_json().as_bytes()) {
            Ok(()) => report.manifest_written = true,
            Err(FsError::Exists { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(report)
}

/// Default files and their content.
fn bootstrap_files(ws: &Workspace) -> Vec<(std::path::PathBuf, String)> {
    let p = ws.paths();
    let snapshot =
        serde_json::to_string_pretty(&Snapshot::bootstrap(Timestamp::now())).unwrap_or_default() + "\n";
    let mut files = vec![
        (p.config(), BOOTSTRAP_TOML.to_string()),
        (p.outline(), String::new()),
        (p.historylog(), String::new()),
        (p.snapshot(), snapshot),
        (p.events_log(), String::new()),
    ];
    for plane in Plane::ALL {
        files.push((p.status_marker(*plane), "### IDLE\n".to_string()));
    }
    files
}

fn make_dir(path: &Path, shown: &str, report: &mut InitReport) -> Result<(), FsError> {
    if !fsx::is_dir(path) {
        fsx::ensure_dir(path)?;
        report.created_dirs.push(shown.to_string());
    }
    Ok(())
}

fn write_missing(
    ws: &Workspace,
    path: &Path,
    bytes: &[u8],
    created: &mut Vec<String>,
) -> Result<(), FsError> {
    if fsx::is_present(path) {
        return Ok(());
    }
    match fsx::write_new(path, bytes) {
        Ok(()) => {
            created.push(ws.paths().relative(path).display().to_string());
            Ok(())
        }
        Err(FsError::Exists { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Where an asset goes: under `millrace-agents/`, refusing absolute paths
/// and `..` (the table is ours, but a path is a path).
fn asset_path(agents: &Path, rel: &str) -> Option<std::path::PathBuf> {
    is_deployable(rel).then(|| agents.join(rel))
}
