//! `millrace fmt [FILES...] [--check] [--stdin]`.
//!
//! Input: `.mill` files, directories of them (searched recursively, hidden
//! entries skipped), or stdin. Output: files rewritten in place when their
//! layout changes; with `--check`, nothing written and one
//! `mill::fmt::unformatted` line per file that would change.
//!
//! Invariants: a file with syntax errors is never touched (its errors are
//! printed); a rewrite goes through a temporary file and a rename, so an
//! interrupted run leaves the old or the new text, never half of one. Exit
//! code 1 when any file was refused or, with `--check`, would change.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::{Context, FmtArgs, Outcome, print};
use crate::diag::{Diagnostics, Layer, RenderOptions, Sources, render_human};
use crate::fmt::{FmtError, first_difference, format_file};
use crate::workspace::fsx;

/// A file or stdin could not be read or written.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("cannot {action} `{path}`: {reason}")]
#[diagnostic(code(mill::fmt::io), help("check the path and its permissions"))]
pub(super) struct FmtIo {
    pub action: &'static str,
    pub path: String,
    pub reason: String,
}

/// `millrace fmt` with no files outside a workspace has nothing to do.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("no `.mill` files to format: no files were named and no workspace was found")]
#[diagnostic(
    code(mill::fmt::no_files),
    help("name files or directories (`millrace fmt loops/`), use `--stdin`, or run inside a workspace")
)]
pub(super) struct NoFiles;

pub(super) fn run(args: &FmtArgs, cx: &Context) -> Outcome {
    if args.stdin {
        return stdin(args.check, cx);
    }
    let mut files = Vec::new();
    let roots = if args.files.is_empty() {
        default_roots(cx)
    } else {
        args.files.clone()
    };
    if roots.is_empty() {
        return Err(NoFiles.into());
    }
    for root in &roots {
        collect(root, &mut files)?;
    }
    let mut failed = false;
    for path in files {
        failed |= !one_file(&path, args.check, cx)?;
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The workspace's loops, or nothing outside a workspace.
fn default_roots(cx: &Context) -> Vec<PathBuf> {
    crate::workspace::Workspace::open(cx.cli_workspace.as_deref())
        .map(|ws| vec![ws.paths().loops_dir()])
        .unwrap_or_default()
}

fn collect(path: &Path, out: &mut Vec<PathBuf>) -> Result<(), FmtIo> {
    if !fsx::is_dir(path) {
        out.push(path.to_path_buf());
        return Ok(());
    }
    let mut entries = fsx::list_entries(path).map_err(|e| io("read", path, &e))?;
    entries.retain(|e| {
        !e.path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'))
    });
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    for e in entries {
        if e.is_dir {
            collect(&e.path, out)?;
        } else if e.path.extension().is_some_and(|x| x == "mill") {
            out.push(e.path);
        }
    }
    Ok(())
}

fn io(action: &'static str, path: &Path, e: &dyn std::fmt::Display) -> FmtIo {
    FmtIo {
        action,
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

/// Formats or checks one file; `false` when it was refused or is not
/// formatted.
fn one_file(path: &Path, check: bool, cx: &Context) -> Result<bool, FmtIo> {
    let text = fsx::read_text(path).map_err(|e| io("read", path, &e))?;
    let name = path.display().to_string();
    let Some(formatted) = formatted(&name, text.clone(), cx) else {
        return Ok(false);
    };
    if formatted == text {
        return Ok(true);
    }
    if check {
        let line = first_difference(&text, &formatted);
        report_one(FmtError::Unformatted { file: name, line }, cx);
        return Ok(false);
    }
    write_atomically(path, &formatted)?;
    Ok(true)
}

/// The formatted text, or `None` after printing why not.
fn formatted(name: &str, text: String, cx: &Context) -> Option<String> {
    let mut sources = Sources::new();
    let file = sources.add(name, text, Layer::Workspace);
    let mut diags = Diagnostics::new();
    let out = format_file(&sources, file, &mut diags);
    if !diags.is_empty() {
        eprint!("{}", render_human(diags.iter(), &sources, options(cx)));
    }
    out
}

fn report_one(error: FmtError, cx: &Context) {
    eprint!("{}", super::render_diagnostic(&error, cx.color));
}

fn options(cx: &Context) -> RenderOptions {
    RenderOptions {
        color: cx.color,
        ..RenderOptions::plain()
    }
}

fn write_atomically(path: &Path, text: &str) -> Result<(), FmtIo> {
    fsx::replace_keeping_mode(path, text.as_bytes()).map_err(|e| io("write", path, &e))
}

fn stdin(check: bool, cx: &Context) -> Outcome {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .map_err(|e| io("read", Path::new("<stdin>"), &e))?;
    let Some(out) = formatted("<stdin>", text.clone(), cx) else {
        return Ok(ExitCode::from(1));
    };
    if check {
        if out != text {
            let line = first_difference(&text, &out);
            report_one(
                FmtError::Unformatted {
                    file: "<stdin>".into(),
                    line,
                },
                cx,
            );
            return Ok(ExitCode::from(1));
        }
        return Ok(ExitCode::SUCCESS);
    }
    print(&out)?;
    Ok(ExitCode::SUCCESS)
}
