//! `millrace upgrade [--apply] [--localize-removed PATH]... [--localize-removed-from FILE]`.
//!
//! Input: the workspace's baseline manifest, its deployed files and this
//! build's assets. Output: the classification of every managed file as
//! `key: value` lines (or JSON); with `--apply`, the safe files written and
//! the new baseline. Invariants: a preview never writes; `--apply` refuses
//! while a daemon owns the workspace, and writes nothing when a path is a
//! conflict (see `workspace::baseline::upgrade`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use serde_json::json;

use super::{Context, Outcome, print, print_json};
use crate::embedded::ASSETS;
use crate::workspace::baseline::upgrade::{self, Applied, Disposition, Preview};
use crate::workspace::lock::{self, LockState};
use crate::workspace::{Workspace, fsx};

/// `millrace upgrade`.
#[derive(Debug, Args)]
pub struct UpgradeArgs {
    /// Write the safe updates and missing files, and store this build's
    /// manifest as the new baseline (refused while any file conflicts).
    #[arg(long)]
    pub apply: bool,
    /// Keep a managed file this build no longer ships as the workspace's own
    /// (repeatable; relative to `millrace-agents/`).
    #[arg(long, value_name = "PATH")]
    pub localize_removed: Vec<String>,
    /// Read more `--localize-removed` paths from a file, one per line
    /// (blank lines and lines starting with `#` are skipped).
    #[arg(long, value_name = "FILE")]
    pub localize_removed_from: Option<PathBuf>,
    /// Print one JSON value instead of `key: value` lines.
    #[arg(long)]
    pub json: bool,
}

/// `--apply` while a daemon runs.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("a daemon owns this workspace; `upgrade --apply` changes the files its stages read")]
#[diagnostic(
    code(mill::upgrade::daemon_running),
    help(
        "stop it (`millrace stop`), apply, then start it again; a preview without `--apply` is always allowed"
    )
)]
struct DaemonRunning;

pub(super) fn run(args: &UpgradeArgs, cx: &Context) -> Outcome {
    let ws = Workspace::open(cx.cli_workspace.as_deref())?;
    let mut localize = args.localize_removed.clone();
    if let Some(file) = &args.localize_removed_from {
        let text = fsx::read_text(file)?;
        localize.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_string),
        );
    }
    let preview = upgrade::preview(&ws, ASSETS, &localize)?;
    let applied = if args.apply {
        if lock::inspect(&ws)?.state == LockState::Active {
            return Err(DaemonRunning.into());
        }
        Some(upgrade::apply(&ws, ASSETS, &preview)?)
    } else {
        None
    };
    if args.json {
        print_json(&to_json(&preview, applied.as_ref()))?;
    } else {
        print(&render(&preview, applied.as_ref()))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn render(preview: &Preview, applied: Option<&Applied>) -> String {
    let mut out = format!(
        "applied: {}\nbaseline_manifest_id: {}\nbaseline_seed_version: {}\n\
         candidate_manifest_id: {}\ncandidate_seed_version: {}\n",
        applied.is_some(),
        preview.baseline.manifest_id,
        preview.baseline.seed_version,
        preview.candidate.manifest_id,
        preview.candidate.seed_version,
    );
    if let Some(applied) = applied {
        out.push_str(&format!(
            "result_manifest_id: {}\nwritten: {}\n",
            preview.candidate.manifest_id,
            applied.written.len()
        ));
    }
    for disposition in Disposition::ALL {
        out.push_str(&format!(
            "{}: {}\n",
            disposition.as_str(),
            preview.count(disposition)
        ));
    }
    for entry in &preview.entries {
        out.push_str(&format!("entry: {} {}\n", entry.path, entry.disposition.as_str()));
    }
    for entry in &preview.entries {
        if let Some(reason) = entry.reason {
            out.push_str(&format!("conflict_reason: {} {reason}\n", entry.path));
        }
    }
    out
}

fn to_json(preview: &Preview, applied: Option<&Applied>) -> serde_json::Value {
    let counts: serde_json::Map<String, serde_json::Value> = Disposition::ALL
        .iter()
        .map(|d| (d.as_str().to_string(), json!(preview.count(*d))))
        .collect();
    json!({
        "applied": applied.is_some(),
        "baseline_manifest_id": preview.baseline.manifest_id,
        "baseline_seed_version": preview.baseline.seed_version,
        "candidate_manifest_id": preview.candidate.manifest_id,
        "candidate_seed_version": preview.candidate.seed_version,
        "result_manifest_id": applied.map(|_| &preview.candidate.manifest_id),
        "written": applied.map(|a| &a.written),
        "counts": counts,
        "entries": preview.entries,
    })
}
