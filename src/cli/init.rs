//! `millrace init`: create or complete the workspace tree (idempotent).

use std::process::ExitCode;

use super::{Context, Outcome, print_fields};
use crate::embedded::ASSETS;
use crate::workspace::{Workspace, init};

pub(super) fn run(cx: &Context) -> Outcome {
    let ws = Workspace::locate(cx.cli_workspace.as_deref())?;
    let report = init::init(&ws, ASSETS)?;
    let manifest = if report.manifest_written {
        "written"
    } else {
        "kept"
    };
    print_fields(&[
        ("workspace", ws.root().display().to_string()),
        ("initialized", "true".into()),
        ("created_directories", report.created_dirs.len().to_string()),
        ("created_files", report.created_files.len().to_string()),
        ("deployed_assets", report.deployed_assets.len().to_string()),
        ("baseline_manifest", manifest.into()),
    ])?;
    Ok(ExitCode::SUCCESS)
}
