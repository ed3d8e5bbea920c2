//! `state/compiled_plan.json` and `state/compile_diagnostics.json`: where
//! compiled plans are kept, and whether the kept plan is still current.
//!
//! Input: plans from the compiler; the workspace's `.mill` files, assets
//! and config. Output: atomic writes, a validated [`Plan`] on load, and a
//! [`Currentness`] verdict.
//!
//! Invariants: judging currentness never recompiles and never rehashes a
//! file whose size and mtime match what the plan recorded; the config part
//! is compared through [`PlanSettings::fingerprint`] only, so settings that
//! do not shape a plan never make it stale.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Workspace;
use super::fsx::{self, FsError};
use crate::plan::PlanSettings;
use crate::plan::{InputFile, Plan, PlanInputs, PlanLoadError, sha256_hex};

/// The `sha256` recorded for an input file that did not exist.
pub const MISSING: &str = "missing";
/// Prefix of embedded `.mill` sources in [`PlanInputs::sources`].
pub const BUILTIN_PREFIX: &str = "builtin:";

/// Why the stored plan cannot be read or written.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum PlanStoreError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Fs(#[from] FsError),

    #[error(transparent)]
    #[diagnostic(transparent)]
    Load(#[from] PlanLoadError),
}

/// Whether the stored plan matches its inputs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Currentness {
    Current,
    /// Inputs changed; `reasons` name them.
    Stale {
        reasons: Vec<String>,
    },
    /// No compiled plan yet.
    Missing,
    /// The file cannot be read as a plan.
    Invalid {
        detail: String,
    },
}

impl Currentness {
    pub fn as_str(&self) -> &'static str {
        match self {
            Currentness::Current => "current",
            Currentness::Stale { .. } => "stale",
            Currentness::Missing => "missing",
            Currentness::Invalid { .. } => "invalid",
        }
    }
}

/// The fields of a stored plan needed to judge it, read without the tables.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct PlanHead {
    pub schema_version: u32,
    pub plan_id: String,
    pub mode: String,
    pub fingerprint: String,
    #[serde(default)]
    pub compiled_at: Option<String>,
    #[serde(default)]
    pub inputs: PlanInputs,
}

/// Writes a compiled plan atomically.
pub fn save_plan(ws: &Workspace, plan: &Plan) -> Result<PathBuf, FsError> {
    let path = ws.paths().compiled_plan();
    let json = plan.to_json();
    // The hash first: a crash between the two leaves a hash that matches
    // no plan, which reads as "changed" and recompiles, never the reverse.
    let hash = sha256_hex(json.as_bytes()) + "\n";
    fsx::write_atomic(&ws.paths().compiled_plan_hash(), hash.as_bytes())?;
    fsx::write_atomic(&path, json.as_bytes())?;
    Ok(path)
}

/// Writes the diagnostics of the latest compile atomically.
pub fn save_diagnostics(ws: &Workspace, diagnostics: &serde_json::Value) -> Result<PathBuf, FsError> {
    let path = ws.paths().compile_diagnostics();
    let text = serde_json::to_string_pretty(diagnostics).unwrap_or_default() + "\n";
    fsx::write_atomic(&path, text.as_bytes())?;
    Ok(path)
}

/// Loads and validates the stored plan; `Ok(None)` if there is none.
pub fn load_plan(ws: &Workspace) -> Result<Option<Plan>, PlanStoreError> {
    match fsx::read_optional(&ws.paths().compiled_plan())? {
        None => Ok(None),
        Some(text) => Ok(Some(Plan::from_json(&text)?)),
    }
}

/// The stored plan's identity and inputs (read without its tables), and
/// whether it was changed after the compiler wrote it.
#[derive(Clone, Debug, PartialEq)]
pub struct Stored {
    pub head: PlanHead,
    pub edited: bool,
}

/// Reads the stored plan's head; `Ok(None)` if there is none.
pub fn load_head(ws: &Workspace) -> Result<Option<Stored>, String> {
    let bytes = match fsx::read_optional_bytes(&ws.paths().compiled_plan()) {
        Ok(None) => return Ok(None),
        Ok(Some(bytes)) => bytes,
        Err(e) => return Err(e.to_string()),
    };
    let head: PlanHead = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
    let edited = edited_by_hand(ws, &bytes);
    Ok(Some(Stored { head, edited }))
}

/// Judges the stored plan against the workspace and config: missing,
/// unreadable, changed by hand since it was compiled, or current unless
/// one of its inputs changed.
pub fn currentness(ws: &Workspace, settings: &PlanSettings) -> Currentness {
    judge_stored(ws, &load_head(ws), Some(settings))
}

/// [`currentness`] of a head already read; `settings` is `None` when the
/// config cannot be read.
pub fn judge_stored(
    ws: &Workspace,
    stored: &Result<Option<Stored>, String>,
    settings: Option<&PlanSettings>,
) -> Currentness {
    match (stored, settings) {
        (Ok(None), _) => Currentness::Missing,
        (Err(detail), _) => Currentness::Invalid {
            detail: detail.clone(),
        },
        (Ok(Some(s)), _) if s.edited => Currentness::Stale {
            reasons: vec![
                "compiled_plan.json: changed after it was compiled (it is not what the compiler wrote)"
                    .into(),
            ],
        },
        (Ok(Some(s)), Some(settings)) => judge(ws, &s.head.inputs, settings),
        (Ok(Some(_)), None) => Currentness::Stale {
            reasons: vec!["config: millrace.toml is invalid".into()],
        },
    }
}

/// Whether the stored plan's bytes are not the ones the compiler wrote: by
/// the recorded hash, or, for a plan stored without one, by recomputing its
/// fingerprint.
fn edited_by_hand(ws: &Workspace, bytes: &[u8]) -> bool {
    match fsx::read_optional(&ws.paths().compiled_plan_hash()) {
        Ok(Some(recorded)) => recorded.trim() != sha256_hex(bytes),
        _ => std::str::from_utf8(bytes).map_or(true, |text| Plan::from_json(text).is_err()),
    }
}

/// Compares recorded inputs with the current files and settings.
pub fn judge(ws: &Workspace, inputs: &PlanInputs, settings: &PlanSettings) -> Currentness {
    let mut reasons = Vec::new();
    if inputs.config != settings.fingerprint() {
        reasons.push("config: the settings that shape the plan changed".to_string());
    }
    for input in inputs.sources.iter().chain(&inputs.assets) {
        if let Some(reason) = changed(ws, input) {
            reasons.push(reason);
        }
    }
    for path in unrecorded_sources(ws, inputs) {
        reasons.push(format!("{path}: new source file"));
    }
    if reasons.is_empty() {
        Currentness::Current
    } else {
        Currentness::Stale { reasons }
    }
}

/// Why one recorded input no longer matches, if it does not.
fn changed(ws: &Workspace, input: &InputFile) -> Option<String> {
    if let Some(builtin) = input.path.strip_prefix(BUILTIN_PREFIX) {
        let rel = builtin.strip_prefix("loops/").unwrap_or(builtin);
        let now = crate::embedded::loop_source(rel).map(|s| sha256_hex(s.as_bytes()));
        return (now.as_deref() != Some(input.sha256.as_str()))
            .then(|| format!("{}: the shipped source changed", input.path));
    }
    let path = resolve(ws, &input.path);
    let Some((size, mtime_ns)) = stamp(&path) else {
        return (input.sha256 != MISSING).then(|| format!("{}: removed", input.path));
    };
    if input.sha256 == MISSING {
        return Some(format!("{}: added", input.path));
    }
    if size == input.size && mtime_ns == input.mtime_ns {
        return None;
    }
    let hash = fsx::read_optional_bytes(&path)
        .ok()
        .flatten()
        .map(|b| sha256_hex(&b));
    (hash.as_deref() != Some(input.sha256.as_str())).then(|| format!("{}: modified", input.path))
}

/// Workspace `.mill` files the plan did not read.
fn unrecorded_sources(ws: &Workspace, inputs: &PlanInputs) -> Vec<String> {
    let dir = ws.paths().loops_dir();
    let Ok(names) = fsx::list_names(&dir) else {
        return Vec::new();
    };
    let recorded: Vec<PathBuf> = inputs.sources.iter().map(|s| resolve(ws, &s.path)).collect();
    let mut new: Vec<String> = names
        .into_iter()
        .filter(|n| n.ends_with(".mill") && !n.starts_with('.'))
        .filter(|n| !recorded.contains(&dir.join(n)))
        .map(|n| format!("loops/{n}"))
        .collect();
    new.sort();
    new
}

/// An input path: absolute, or relative to `millrace-agents/`.
fn resolve(ws: &Workspace, path: &str) -> PathBuf {
    let p = Path::new(path);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        ws.agents().join(p)
    }
}

fn stamp(path: &Path) -> Option<(u64, i64)> {
    fsx::stat(path).map(|s| (s.len, s.mtime_ns))
}

/// Records a workspace file as a plan input (for the compiler): its path
/// relative to `millrace-agents/` (or absolute), hash, size and mtime; an
/// absent file is recorded with hash [`MISSING`].
pub fn input_file(ws: &Workspace, path: &str) -> InputFile {
    let abs = resolve(ws, path);
    match (stamp(&abs), fsx::read_optional_bytes(&abs)) {
        (Some((size, mtime_ns)), Ok(Some(bytes))) => InputFile {
            path: path.to_string(),
            sha256: sha256_hex(&bytes),
            size,
            mtime_ns,
        },
        _ => InputFile {
            path: path.to_string(),
            sha256: MISSING.into(),
            size: 0,
            mtime_ns: 0,
        },
    }
}

/// Records an embedded `.mill` source (path relative to `loops/`).
pub fn builtin_input(path: &str, text: &str) -> InputFile {
    InputFile {
        path: format!("{BUILTIN_PREFIX}loops/{path}"),
        sha256: sha256_hex(text.as_bytes()),
        size: text.len() as u64,
        mtime_ns: 0,
    }
}

/// The fingerprint of a set of inputs: sha256 over each path and hash, in
/// order, and the config fingerprint.
pub fn inputs_fingerprint(inputs: &PlanInputs) -> String {
    let mut text = String::new();
    for input in inputs.sources.iter().chain(&inputs.assets) {
        text.push_str(&input.path);
        text.push('\0');
        text.push_str(&input.sha256);
        text.push('\n');
    }
    text.push_str("config\0");
    text.push_str(&inputs.config);
    sha256_hex(text.as_bytes())
}
