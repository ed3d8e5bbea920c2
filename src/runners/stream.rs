//! The shared life of a one-shot harness (Codex, Claude, command): resolve,
//! record, spawn, feed stdout lines to a parser, stop, summarize.
//!
//! Input: a request context, an [`Invocation`] and a [`LineSink`]. Output: a
//! [`Streamed`] run, or the [`RawRun`] of a harness that could not start.
//! Invariant: whatever happens, the group is stopped and reaped before this
//! returns, and the invocation record exists before the harness starts.

use std::time::Duration;

use jiff::Timestamp;
use serde_json::json;
use tokio::time::Instant;

use super::files::{RunFiles, write_json};
use super::lines::Line;
use super::process::{self, Harness, Invocation, KILL_GRACE, SpawnError, Step};
use super::raw::RawRun;
use super::survivors;
use super::{Cancel, sys, which};
use crate::model::{ExitKind, StageRunRequest};
use crate::workspace::fsx;

/// What a runner needs besides its configuration.
pub(crate) struct Ctx<'a> {
    pub req: &'a StageRunRequest,
    pub files: &'a RunFiles,
    pub cancel: Cancel,
    pub started: Timestamp,
}

impl Ctx<'_> {
    /// The stage timeout (at least one second).
    pub(crate) fn timeout(&self) -> Duration {
        Duration::from_secs(self.req.timeout_seconds.max(1))
    }
}

/// A parser of a harness's stdout lines.
pub(crate) trait LineSink {
    /// Looks at one line; `true` asks for it to be kept in the events file.
    fn line(&mut self, line: &Line) -> bool;
}

/// How a streamed harness ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ending {
    Exited,
    TimedOut,
    Cancelled,
}

/// A finished harness run, before the runner interprets it.
pub(crate) struct Streamed {
    pub ending: Ending,
    pub exit_code: Option<i32>,
    pub status_text: String,
    pub raw: RawRun,
}

/// Resolves the program (against the workspace root when relative),
/// writes the invocation record, and spawns it.
pub(crate) fn start(
    ctx: &Ctx<'_>,
    runner: &str,
    mut inv: Invocation,
    events: bool,
) -> Result<Harness, Box<RawRun>> {
    let Some(program) = which::resolve_with_env(&inv.program, &ctx.req.workspace_root, &inv.env) else {
        let help = which::install_help(runner, &inv.program);
        let note = format!(
            "mill::runner::not_installed: `{}` was not found; {help}",
            inv.program
        );
        record_invocation(ctx, &inv);
        return Err(Box::new(RawRun::failed(ExitKind::NotInstalled, note)));
    };
    record_invocation(ctx, &inv);
    inv.program = program.to_string_lossy().into_owned();
    // Every process of the stage, and whatever it starts, carries these: a
    // runtime that restarts after this one died finds them by it.
    inv.env
        .insert(survivors::REQUEST_VAR.into(), ctx.req.request_id.clone());
    let root = ctx.req.workspace_root.display().to_string();
    inv.env.insert(survivors::WORKSPACE_VAR.into(), root);
    let open = |path: &std::path::Path| fsx::create_file(path).map_err(|e| e.to_string());
    let files = ctx.files;
    let stdout = open(&files.stdout).map_err(|n| Box::new(RawRun::failed(ExitKind::RunnerError, n)))?;
    let stderr = open(&files.stderr).map_err(|n| Box::new(RawRun::failed(ExitKind::RunnerError, n)))?;
    let events = if events {
        Some(open(&files.events).map_err(|n| Box::new(RawRun::failed(ExitKind::RunnerError, n)))?)
    } else {
        None
    };
    let harness = process::spawn(&inv, stdout, stderr, events, ctx.timeout(), ctx.cancel.clone()).map_err(
        |e| match e {
            SpawnError::NotInstalled(n) => Box::new(RawRun::failed(ExitKind::NotInstalled, n)),
            SpawnError::Io(n) => Box::new(RawRun::failed(ExitKind::RunnerError, n)),
        },
    )?;
    // Where the harness runs, so a runtime that restarts after this one
    // died can stop it (see `stop_survivors`).
    let record =
        json!({"pid": harness.pgid, "pgid": harness.pgid, "start_time": sys::start_time(harness.pgid)});
    let _ = write_json(&files.process, &record);
    Ok(harness)
}

/// Writes `runner_invocation.<rid>.json` (env values are never recorded).
pub(crate) fn record_invocation(ctx: &Ctx<'_>, inv: &Invocation) {
    let prompt_name = ctx
        .files
        .prompt
        .file_name()
        .map(|n| n.to_string_lossy().into_owned());
    let record = json!({
        "schema_version": 1,
        "kind": "runner_invocation",
        "request_id": ctx.req.request_id,
        "run_id": ctx.req.run_id,
        "node": ctx.req.node,
        "stage": ctx.req.stage,
        "runner": ctx.req.runner,
        "argv": inv.recorded_argv(prompt_name.as_deref().unwrap_or("runner_prompt")),
        "cwd": inv.cwd,
        "env_added": inv.env.keys().collect::<Vec<_>>(),
        "stdin": inv.stdin,
        "prompt_path": ctx.files.prompt,
        "started_at": ctx.started,
    });
    // The record is evidence, not a precondition: a failed write must not
    // stop the stage (the completion record notes nothing is missing).
    let _ = write_json(&ctx.files.invocation, &record);
}

/// Runs a started harness to its end, feeding stdout lines to `sink`.
pub(crate) async fn pump(mut harness: Harness, sink: &mut dyn LineSink) -> Streamed {
    let ending = loop {
        let deadline = harness.deadline;
        match harness.step(deadline).await {
            Step::Line(line) => feed(&mut harness, sink, &line),
            Step::Eof | Step::Exited => {}
            Step::Done => break Ending::Exited,
            Step::Deadline => break Ending::TimedOut,
            Step::Cancelled => break Ending::Cancelled,
        }
    };
    match ending {
        Ending::Exited => harness.stop_leftovers().await,
        Ending::TimedOut | Ending::Cancelled => harness.stop_group(KILL_GRACE).await,
    }
    let until = Instant::now() + Duration::from_millis(500);
    harness.drain(until, |h, line| feed(h, sink, &line)).await;
    finish(harness, ending)
}

fn feed(harness: &mut Harness, sink: &mut dyn LineSink, line: &Line) {
    if sink.line(line) {
        harness.stdout.log_event(&line.bytes);
    }
}

pub(crate) fn finish(mut harness: Harness, ending: Ending) -> Streamed {
    harness.stdout.flush_events();
    let status = harness.status();
    let stats = harness.stdout.stats();
    let mut raw = RawRun::new(ExitKind::Completed);
    raw.notes.append(&mut harness.notes);
    if let Some(e) = harness.stdout.write_error() {
        raw.note(e.to_owned());
    }
    if stats.truncated_lines > 0 {
        raw.note(format!(
            "{} stdout lines longer than 4 MiB were cut for parsing",
            stats.truncated_lines
        ));
    }
    raw.extra.insert("pgid".into(), json!(harness.pgid));
    raw.extra.insert("stdout_bytes".into(), json!(stats.bytes));
    raw.extra.insert("stdout_lines".into(), json!(stats.lines));
    raw.extra
        .insert("peak_line_buffer_bytes".into(), json!(stats.peak_line_bytes));
    let exit_code = status.and_then(process::exit_code);
    raw.exit_code = exit_code;
    let status_text = status.map_or_else(|| "did not exit".into(), process::describe_status);
    raw.exit = match ending {
        Ending::Exited => ExitKind::Completed,
        Ending::TimedOut => {
            raw.note(format!(
                "harness timed out and its process group was stopped ({status_text})"
            ));
            ExitKind::Timeout
        }
        Ending::Cancelled => {
            raw.note(format!(
                "stage cancelled; the harness process group was stopped ({status_text})"
            ));
            ExitKind::Killed
        }
    };
    Streamed {
        ending,
        exit_code,
        status_text,
        raw,
    }
}
