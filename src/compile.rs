//! The compile pipeline as one library call: `.mill` sources → parse →
//! check → lower → [`Plan`], for the CLI, the runtime, the tests and the
//! benches alike.
//!
//! Input: the shipped loops (always the base layer), a workspace's own
//! `millrace-agents/loops/*.mill`, files named by the caller, and the
//! plan-shaping settings of `millrace.toml`. Output: every diagnostic of the
//! run (sorted), and a plan when the sources check and the mode lowers.
//!
//! Invariants: compiling never writes unless asked to persist, and then only
//! through `workspace::plan_store` (a failed compile keeps the last good
//! plan); a workspace plan records the inputs it came from, so currentness is
//! judged by a stat of each; the runtime never runs a stale plan
//! ([`plan_to_run`] compiles instead).

use std::path::{Path, PathBuf};

use serde_json::json;

use crate::check::hir::Program;
use crate::config::{Config, ConfigError};
use crate::diag::{Diagnostics, Layer, Sources, render_json};
use crate::lower::{LowerError, lower};
use crate::plan::{Plan, PlanInputs, PlanSettings};
use crate::workspace::plan_store::{self, Currentness, PlanStoreError};
use crate::workspace::{Workspace, fsx};

/// Everything one check of the sources produced.
pub struct Compiled {
    pub sources: Sources,
    pub diags: Diagnostics,
    /// `None` when the sources have errors.
    pub program: Option<Program>,
}

/// The outcome of compiling one mode of a workspace.
pub struct WorkspaceCompile {
    pub compiled: Compiled,
    pub mode: String,
    /// `None` when the sources did not check.
    pub lowered: Option<Result<Plan, LowerError>>,
}

/// Why a compile could not even look at the sources.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum CompileError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Unreadable(#[from] UnreadableFile),

    #[error(transparent)]
    #[diagnostic(transparent)]
    Config(#[from] ConfigError),

    #[error(transparent)]
    #[diagnostic(transparent)]
    Store(#[from] PlanStoreError),

    /// The compiled plan or its diagnostics could not be written.
    #[error("cannot store the compiled plan: {0}")]
    #[diagnostic(
        code(mill::compile::store_failed),
        help(
            "check free disk space and permissions under `millrace-agents/state/`; the last good plan is kept"
        )
    )]
    Write(fsx::FsError),

    #[error(transparent)]
    #[diagnostic(transparent)]
    Lower(#[from] LowerError),

    /// The shipped or workspace sources have errors (the diagnostics are in
    /// the [`Compiled`] the caller rendered).
    #[error("the `.mill` sources have {errors} error(s)")]
    #[diagnostic(
        code(mill::compile::failed),
        help("run `millrace compile validate` to see every diagnostic")
    )]
    Failed { errors: usize },
}

/// A `.mill` file named on the command line could not be read.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("cannot read `{path}`: {reason}")]
#[diagnostic(code(mill::cli::unreadable_file), help("check the path and its permissions"))]
pub struct UnreadableFile {
    pub path: String,
    pub reason: String,
}

/// Checks the shipped loops, then the workspace's own loops (if any), then
/// `files`, in that order.
pub fn check_files(ws: Option<&Workspace>, files: &[PathBuf]) -> Result<Compiled, UnreadableFile> {
    let mut sources = Sources::new();
    crate::check::add_builtin_sources(&mut sources);
    if let Some(ws) = ws {
        let loops = crate::workspace::loop_sources(ws).map_err(|e| UnreadableFile {
            path: ws.paths().loops_dir().display().to_string(),
            reason: e.to_string(),
        })?;
        for (name, text) in loops {
            sources.add(format!("loops/{name}"), text, Layer::Workspace);
        }
    }
    for path in files {
        let text = fsx::read_text(path).map_err(|e| UnreadableFile {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        sources.add(display_path(path), text, Layer::Workspace);
    }
    Ok(check(sources))
}

/// Checks an assembled set of sources.
pub fn check(sources: Sources) -> Compiled {
    let mut diags = Diagnostics::new();
    let program = crate::check::check_sources(&sources, &mut diags);
    diags.sort();
    Compiled {
        sources,
        diags,
        program,
    }
}

/// Compiles a mode of the shipped loops alone, with default settings (the
/// demo's base, the tests' and the benches' plans).
pub fn builtin(mode: &str) -> Result<Plan, CompileError> {
    let compiled = check_files(None, &[])?;
    let program = compiled.program.as_ref().ok_or(CompileError::Failed {
        errors: compiled.diags.error_count(),
    })?;
    Ok(lower(program, &compiled.sources, mode, &PlanSettings::default())?)
}

/// A path as the user will recognize it: relative to the current directory
/// when it is inside it.
fn display_path(path: &Path) -> String {
    let cwd = std::env::current_dir().ok();
    let shown = cwd
        .as_deref()
        .and_then(|c| path.strip_prefix(c).ok())
        .unwrap_or(path);
    shown.display().to_string()
}

/// The plan-shaping settings: the workspace's `millrace.toml`, or defaults.
pub fn settings(ws: Option<&Workspace>) -> Result<PlanSettings, ConfigError> {
    match ws {
        Some(ws) => Ok(Config::load(&ws.paths().config())?.plan_settings()),
        None => Ok(PlanSettings::default()),
    }
}

/// Records what a workspace plan was compiled from, so currentness can be
/// judged by a stat of each input.
pub fn record_inputs(ws: &Workspace, plan: &mut Plan, sources: &Sources, settings: &PlanSettings) {
    let mut inputs = PlanInputs {
        config: settings.fingerprint(),
        ..PlanInputs::default()
    };
    for (_, file) in sources.files() {
        inputs
            .sources
            .push(match file.name.strip_prefix("builtin:loops/") {
                Some(rel) => plan_store::builtin_input(rel, &file.text),
                None => plan_store::input_file(ws, &file.name),
            });
    }
    let mut assets: Vec<String> = Vec::new();
    for node in plan.nodes.iter() {
        let stage = &plan.stages[node.stage];
        if !node.entrypoint.is_empty() {
            assets.push(node.entrypoint.clone());
        }
        assets.extend(stage.skills.iter().cloned());
        assets.extend(node.attached_skills.iter().cloned());
    }
    assets.sort();
    assets.dedup();
    inputs.assets = assets.iter().map(|a| plan_store::input_file(ws, a)).collect();
    inputs.fingerprint = plan_store::inputs_fingerprint(&inputs);
    plan.inputs = inputs;
    plan.compiled_at = Some(jiff::Timestamp::now().to_string());
}

/// Compiles `mode` (default: the workspace's `runtime.default_mode`) in a
/// workspace; with `persist`, writes the plan (when it compiled) and the
/// diagnostics into `state/`. On failure the last good plan stays in place.
pub fn workspace(
    ws: &Workspace,
    mode: Option<&str>,
    persist: bool,
) -> Result<WorkspaceCompile, CompileError> {
    let settings = settings(Some(ws))?;
    let compiled = check_files(Some(ws), &[])?;
    let mode = mode.unwrap_or(&settings.default_mode).to_string();
    let lowered = compiled.program.as_ref().map(|program| {
        lower(program, &compiled.sources, &mode, &settings).map(|mut plan| {
            record_inputs(ws, &mut plan, &compiled.sources, &settings);
            plan
        })
    });
    if persist {
        if let Some(Ok(plan)) = &lowered {
            plan_store::save_plan(ws, plan).map_err(CompileError::Write)?;
        }
        let report = diagnostics_json(&compiled, &mode, lowered.as_ref());
        plan_store::save_diagnostics(ws, &report).map_err(CompileError::Write)?;
    }
    Ok(WorkspaceCompile {
        compiled,
        mode,
        lowered,
    })
}

/// The plan to run for `mode` (default: the configured one): the stored plan
/// if it is current for that mode, else a fresh compile (stored when
/// `persist`). `Err` holds a compile that failed, for the caller to report.
pub fn plan_to_run(
    ws: &Workspace,
    config: &Config,
    mode: Option<&str>,
    persist: bool,
) -> Result<Result<Plan, WorkspaceCompile>, CompileError> {
    let settings = config.plan_settings();
    let wanted = mode.unwrap_or(&settings.default_mode);
    if let Ok(Some(plan)) = plan_store::load_plan(ws) {
        let current = plan_store::currentness(ws, &settings) == Currentness::Current;
        if current && plan.mode == wanted {
            return Ok(Ok(plan));
        }
    }
    let mut outcome = workspace(ws, Some(wanted), persist)?;
    Ok(match outcome.lowered.take() {
        Some(Ok(plan)) => Ok(plan),
        other => {
            outcome.lowered = other;
            Err(outcome)
        }
    })
}

/// The JSON form of a compile's outcome (`--format json` and
/// `state/compile_diagnostics.json`).
pub fn diagnostics_json(
    compiled: &Compiled,
    mode: &str,
    lowered: Option<&Result<Plan, LowerError>>,
) -> serde_json::Value {
    let mut list = render_json(compiled.diags.iter(), &compiled.sources);
    let plan = lowered.and_then(|l| l.as_ref().ok());
    let lower_error = lowered.and_then(|l| l.as_ref().err());
    if let (Some(e), Some(array)) = (lower_error, list.as_array_mut()) {
        array.push(
            json!({"code": crate::diag::code_of(e), "severity": "error", "message": e.to_string(),
            "help": miette::Diagnostic::help(e).map(|h| h.to_string())}),
        );
    }
    let errors = compiled.diags.error_count() + usize::from(lower_error.is_some());
    json!({
        "schema_version": 1, "kind": "compile_diagnostics", "ok": plan.is_some(), "mode": mode,
        "plan_id": plan.map(|p| &p.plan_id), "errors": errors, "warnings": compiled.diags.warning_count(),
        "diagnostics": list, "emitted_at": jiff::Timestamp::now().to_string(),
    })
}
