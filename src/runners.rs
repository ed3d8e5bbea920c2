//! Harness runners: from a stage request to a normalized stage result.
//!
//! Input: a [`StageRunRequest`] (every path absolute) and the runner
//! configuration. Output: exactly one [`StageResult`] per request, whatever
//! the harness did (crashed, hung, printed garbage, printed two markers).
//!
//! Invariants: harness processes run in their own process group, get their
//! prompt as an argument or on stdin (never through a shell), are killed as
//! a group on timeout and cancel, and stream their output into the run
//! directory as it arrives. A runner writes only inside the request's run
//! directory (the one exception to "only `workspace` touches workspace
//! files"), except the scripted runner's declared `writes`.

mod cancel;
#[cfg(test)]
mod captures;
mod classify;
pub mod claude;
pub mod codex;
pub(crate) mod command;
mod error;
mod files;
pub mod gemini;
mod lines;
mod markers;
mod normalize;
pub mod pi;
mod process;
pub mod prompt;
mod quota;
mod raw;
mod registry;
#[cfg(test)]
mod robustness;
pub mod scripted;
mod stream;
mod survivors;
mod sys;
mod unwind;
mod which;

use std::path::Path;

use jiff::Timestamp;
use serde_json::json;

pub use cancel::{Cancel, CancelTrigger};
pub use claude::{ClaudeConfig, ClaudePermissionMode};
pub use codex::{CodexConfig, Permission};
pub use command::{CommandConfig, CommandStage};
pub use error::RunnerError;
pub use files::RunFiles;
pub use gemini::GeminiConfig;
pub use normalize::FAILURE_OUTCOME;
pub use pi::{PI_RESERVED_FLAGS, PiConfig, PiEventLogPolicy};
pub use registry::{Advice, DEFAULT_STALL_SECONDS, Env, NAMES, RunnersConfig};
pub use scripted::ScriptedConfig;
pub use survivors::{REQUEST_VAR, StageProcess, WORKSPACE_VAR, stage_processes};
pub use sys::{group_exists, group_has_live_members};

use crate::model::{ExitKind, StageResult, StageRunRequest};
use crate::workspace::fsx;
use raw::RawRun;
use stream::Ctx;

/// Stops every process of the stage `request_id` that outlived the runtime
/// that ran it (the runtime was killed; the stage is about to run again):
/// its harness and whatever the harness started, whether or not the
/// harness itself is still there. Returns the pids killed.
pub fn stop_survivors(run_dir: &Path, workspace_root: &Path, request_id: &str) -> Vec<i32> {
    survivors::stop(workspace_root, request_id, recorded(run_dir, request_id))
}

/// The process group a stage's harness was started in, as recorded.
pub fn recorded_group(run_dir: &Path, request_id: &str) -> Option<i32> {
    recorded(run_dir, request_id).map(|(pgid, _)| pgid)
}

/// `runner_process.<rid>.json`: the harness's group and its start time.
fn recorded(run_dir: &Path, request_id: &str) -> Option<(i32, u64)> {
    let record = fsx::read_optional(&RunFiles::new(run_dir, request_id).process).ok()??;
    let record: serde_json::Value = serde_json::from_str(&record).ok()?;
    let pgid = i32::try_from(record.get("pgid")?.as_i64()?).ok()?;
    Some((pgid, record.get("start_time")?.as_u64()?))
}

/// Runs one stage and returns its normalized result. Never panics and
/// always returns: a harness that cannot start, hangs, crashes or is
/// cancelled still yields a result (`BLOCKED` with a failure class).
pub async fn run_stage(req: &StageRunRequest, cfg: &RunnersConfig, cancel: Cancel) -> StageResult {
    let started = Timestamp::now();
    let files = RunFiles::new(&req.run_dir, &req.request_id);
    let ctx = Ctx {
        req,
        files: &files,
        cancel,
        started,
        stall: cfg.stall(),
    };
    let raw = match unwind::catch(dispatch(&ctx, cfg)).await {
        Ok(raw) => raw,
        Err(panic) => RawRun::failed(ExitKind::RunnerError, format!("runner panicked: {panic}")),
    };
    let ended = Timestamp::now();
    let mut result = normalize::normalize(req, raw.clone(), started, ended);
    registry::finished(&req.runner, cfg, &mut result);
    record_completion(&files, &raw, &result);
    result
}

/// Prepares the run directory and hands the request to its runner.
async fn dispatch(ctx: &Ctx<'_>, cfg: &RunnersConfig) -> RawRun {
    let prompt = prompt::render(ctx.req);
    if let Err(note) = prepare(ctx, &prompt) {
        return RawRun::failed(ExitKind::RunnerError, note);
    }
    if ctx.cancel.is_cancelled() {
        return RawRun::failed(ExitKind::Killed, "stage cancelled before the harness started");
    }
    let unknown = || {
        let note = format!("mill::runner::unknown_runner: `{}`", ctx.req.runner);
        RawRun::failed(ExitKind::NotInstalled, note)
    };
    let mut raw = registry::run(&ctx.req.runner, ctx, cfg, &prompt)
        .await
        .unwrap_or_else(unknown);
    enforce_budget(ctx.req, &mut raw);
    raw
}

/// A run that finished over the stage's token or cost cap is reported as
/// budget exhausted: the harnesses report usage only at the end of a turn,
/// so this is where the cap can be checked for all of them.
fn enforce_budget(req: &StageRunRequest, raw: &mut RawRun) {
    let Some(budget) = &req.budget else { return };
    if raw.exit != ExitKind::Completed {
        return;
    }
    let tokens = raw.token_usage.map(|u| u.total_tokens);
    let over_tokens = matches!((budget.max_tokens, tokens), (Some(max), Some(used)) if used > max);
    let over_cost = matches!((budget.max_cost_usd, raw.cost_usd), (Some(max), Some(cost)) if cost > max);
    if over_tokens || over_cost {
        raw.exit = ExitKind::BudgetExhausted;
        raw.note(format!(
            "stage budget exceeded: used {} tokens and ${} against caps of {:?} tokens and ${:?}",
            tokens.unwrap_or(0),
            raw.cost_usd.unwrap_or(0.0),
            budget.max_tokens,
            budget.max_cost_usd
        ));
    }
}

/// Creates the run directory, writes the prompt, and moves aside a
/// structured result or last message an earlier run left at our paths so
/// it cannot be mistaken for this run's.
fn prepare(ctx: &Ctx<'_>, prompt: &str) -> Result<(), String> {
    let req = ctx.req;
    fsx::ensure_dir(&req.run_dir).map_err(|e| e.to_string())?;
    fsx::write_replace(&ctx.files.prompt, prompt.as_bytes()).map_err(|e| e.to_string())?;
    let _ = fsx::remove_file(&ctx.files.last_message);
    retire_stale(&req.result_path, &req.request_id)
}

fn retire_stale(path: &Path, request_id: &str) -> Result<(), String> {
    if !fsx::exists(path) {
        return Ok(());
    }
    let aside = path.with_extension(format!("stale.{}.json", files::file_safe(request_id)));
    fsx::rename(path, &aside).map_err(|e| format!("cannot move aside a stale result: {e}"))
}

/// Writes `runner_completion.<rid>.json`.
fn record_completion(files: &RunFiles, raw: &RawRun, result: &StageResult) {
    let mut record = json!({
        "schema_version": 1,
        "kind": "runner_completion",
        "request_id": result.request_id,
        "run_id": result.run_id,
        "node": result.node,
        "stage": result.stage,
        "runner": result.runner,
        "exit": result.exit,
        "exit_code": result.exit_code,
        "terminal_result": result.terminal_result,
        "failure_class": result.failure_class,
        "started_at": result.started_at,
        "completed_at": result.completed_at,
        "duration_seconds": result.duration_seconds,
        "token_usage": result.token_usage,
        "cost_usd": result.cost_usd,
        "quota_reset_at": result.quota_reset_at,
        "notes": result.notes,
    });
    if let Some(map) = record.as_object_mut() {
        map.extend(raw.extra.clone());
    }
    let _ = files::write_note(&files.completion, &record);
}

/// Checks that `runner`'s harness can be started: its binary is on `PATH`
/// or is an executable path (relative paths from the current directory).
pub fn preflight(runner: &str, cfg: &RunnersConfig) -> Result<(), RunnerError> {
    let base = std::env::current_dir().unwrap_or_else(|_| Path::new("/").to_path_buf());
    preflight_in(runner, cfg, &base)
}

/// [`preflight`] with relative command paths taken from `base` (the
/// workspace root, as [`run_stage`] does).
pub fn preflight_in(runner: &str, cfg: &RunnersConfig, base: &Path) -> Result<(), RunnerError> {
    registry::preflight(runner, cfg, base)
}

/// How to install `program` for `runner`, or point the settings at it.
pub fn missing_help(runner: &str, program: &str) -> String {
    registry::missing_help(runner, program)
}

/// The programs a runner starts, each with the environment it adds (for
/// `doctor`); none for an unknown runner.
pub fn programs<'a>(runner: &str, cfg: &'a RunnersConfig) -> Vec<(&'a str, &'a Env)> {
    registry::programs(runner, cfg)
}

/// What `runner` foresees going wrong with its settings before any stage
/// runs (Claude Code as root, a Codex profile that will not load).
pub fn advise(runner: &str, cfg: &RunnersConfig) -> Vec<Advice> {
    registry::advise(runner, cfg)
}
