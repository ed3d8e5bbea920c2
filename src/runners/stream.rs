//! The shared life of a one-shot harness (Codex, Claude, Gemini, command):
//! resolve, record, spawn, feed stdout lines to a parser, watch for a
//! stall, stop, summarize.
//!
//! Input: a request context, an [`Invocation`] and a [`LineSink`]. Output: a
//! [`Streamed`] run, or the [`RawRun`] of a harness that could not start.
//! Invariants: whatever happens, the group is stopped and reaped before this
//! returns, and the invocation record exists before the harness starts; a
//! harness with no progress event for the stall limit is stopped and
//! reported `stalled` with its last words; a failed harness's stderr tail
//! is kept for the operator.

use std::time::Duration;

use jiff::Timestamp;
use serde_json::json;
use tokio::time::Instant;

use super::files::{RunFiles, write_json};
use super::lines::Line;
use super::process::{self, Harness, Invocation, KILL_GRACE, SpawnError, Step};
use super::raw::RawRun;
use super::survivors;
use super::{Cancel, classify, sys, which};
use crate::model::{ExitKind, StageRunRequest};
use crate::workspace::fsx;

/// What a runner needs besides its configuration.
pub(crate) struct Ctx<'a> {
    pub req: &'a StageRunRequest,
    pub files: &'a RunFiles,
    pub cancel: Cancel,
    pub started: Timestamp,
    /// The stall watchdog's limit (`None`: off).
    pub stall: Option<Duration>,
}

impl Ctx<'_> {
    /// The stage timeout (at least one second).
    pub(crate) fn timeout(&self) -> Duration {
        Duration::from_secs(self.req.timeout_seconds.max(1))
    }
}

/// What one stdout line was to its runner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Seen {
    /// Not an event: kept in the stdout file only.
    Other,
    /// An event that shows the harness alive but not getting anywhere (a
    /// reconnect, a retry notice): logged, but the stall clock runs on.
    Waiting,
    /// An event of real work: logged, and the stall clock starts over.
    Progress,
}

/// A parser of a harness's stdout lines.
pub(crate) trait LineSink {
    /// Looks at one line.
    fn line(&mut self, line: &Line) -> Seen;

    /// Whether the runner has seen enough to stop the harness now (an
    /// authentication failure the harness would retry for minutes).
    fn enough(&self) -> bool {
        false
    }

    /// The harness's last words so far, for a stall note.
    fn last_words(&self) -> Option<String> {
        None
    }

    /// Whether the stall watchdog applies (a plain command prints no
    /// events, so silence says nothing about it).
    fn watched(&self) -> bool {
        true
    }
}

/// How a streamed harness ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ending {
    Exited,
    TimedOut,
    Cancelled,
    /// No progress event for the stall limit.
    Stalled,
    /// The runner stopped it ([`LineSink::enough`]).
    Stopped,
}

/// A finished harness run, before the runner interprets it.
pub(crate) struct Streamed {
    pub ending: Ending,
    pub exit: Exit,
    pub raw: RawRun,
}

/// How the harness process ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Exit {
    pub code: Option<i32>,
    /// `exited with status 1`, `killed by signal 9`.
    pub status: String,
    /// Event lines seen (waiting or progress).
    pub events: u64,
}

/// The most stderr lines kept for the operator.
const STDERR_TAIL_LINES: usize = 20;

/// Resolves the program (against the workspace root when relative),
/// writes the invocation record, and spawns it.
pub(crate) fn start(ctx: &Ctx<'_>, mut inv: Invocation, events: bool) -> Result<Harness, Box<RawRun>> {
    let Some(program) = which::resolve_with_env(&inv.program, &ctx.req.workspace_root, &inv.env) else {
        let help = super::registry::missing_help(&ctx.req.runner, &inv.program);
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
    let _ = super::files::write_note(&ctx.files.invocation, &record);
}

/// Starts `inv` and runs it to its end through `sink`, with the run
/// files' paths filled in; the runner then classifies what it saw.
pub(crate) async fn run(ctx: &Ctx<'_>, inv: Invocation, sink: &mut dyn LineSink) -> Result<Streamed, RawRun> {
    let harness = start(ctx, inv, true).map_err(|raw| *raw)?;
    let mut streamed = pump(ctx, harness, sink).await;
    let raw = &mut streamed.raw;
    raw.stdout_path = Some(ctx.files.stdout.clone());
    raw.stderr_path = Some(ctx.files.stderr.clone());
    raw.events_path = Some(ctx.files.events.clone());
    Ok(streamed)
}

/// Runs a started harness to its end, feeding stdout lines to `sink`.
pub(crate) async fn pump(ctx: &Ctx<'_>, mut harness: Harness, sink: &mut dyn LineSink) -> Streamed {
    let mut events = 0;
    let mut watch = Watch::new(ctx.stall.filter(|_| sink.watched()));
    let ending = loop {
        let until = watch.until(harness.deadline);
        match harness.step(until).await {
            Step::Line(line) => {
                let seen = feed(&mut harness, sink, &line);
                events += u64::from(seen != Seen::Other);
                watch.saw(seen);
                if sink.enough() {
                    break Ending::Stopped;
                }
            }
            Step::Eof | Step::Exited => {}
            Step::Done => break Ending::Exited,
            Step::Deadline if until < harness.deadline => break Ending::Stalled,
            Step::Deadline => break Ending::TimedOut,
            Step::Cancelled => break Ending::Cancelled,
        }
    };
    match ending {
        Ending::Exited => harness.stop_leftovers().await,
        _ => harness.stop_group(KILL_GRACE).await,
    }
    let until = Instant::now() + Duration::from_millis(500);
    harness
        .drain(until, |h, line| {
            events += u64::from(feed(h, sink, &line) != Seen::Other);
        })
        .await;
    let mut streamed = finish(harness, ending);
    streamed.exit.events = events;
    if ending == Ending::Stalled {
        stalled(&mut streamed.raw, ctx, sink.last_words());
    }
    streamed.raw.stderr_tail = stderr_tail(&ctx.files.stderr);
    streamed
}

/// The stall clock: when the last progress event was seen.
pub(crate) struct Watch {
    limit: Option<Duration>,
    last: Instant,
}

impl Watch {
    pub(crate) fn new(limit: Option<Duration>) -> Watch {
        Watch {
            limit,
            last: Instant::now(),
        }
    }

    /// The earlier of the stall instant and `deadline`.
    pub(crate) fn until(&self, deadline: Instant) -> Instant {
        match self.limit.and_then(|l| self.last.checked_add(l)) {
            Some(stall) => stall.min(deadline),
            None => deadline,
        }
    }

    pub(crate) fn saw(&mut self, seen: Seen) {
        if seen == Seen::Progress {
            self.last = Instant::now();
        }
    }
}

/// Marks a run stalled, with what the harness last said.
pub(crate) fn stalled(raw: &mut RawRun, ctx: &Ctx<'_>, last_words: Option<String>) {
    let limit = ctx.stall.map_or(0, |d| d.as_secs());
    let words = last_words.or_else(|| last_said(&stderr_tail(&ctx.files.stderr)));
    raw.exit = ExitKind::Stalled;
    raw.notes.retain(|n| !n.starts_with("harness timed out"));
    let said = words
        .as_deref()
        .map_or_else(|| "nothing".to_owned(), |w| format!("\"{w}\""));
    raw.note(format!(
        "stalled: no progress for {limit} s (runners.stall_seconds); the harness last said {said}"
    ));
    // Silence is the finding: say so rather than let the operator read a
    // start-up line (or no words at all) as the cause.
    raw.harness_message = Some(words.unwrap_or_else(|| format!("nothing for {limit} s")));
}

/// The last stderr line that is not start-up chatter.
fn last_said(tail: &[String]) -> Option<String> {
    tail.iter().rev().find(|l| !classify::is_chatter(l)).cloned()
}

fn feed(harness: &mut Harness, sink: &mut dyn LineSink, line: &Line) -> Seen {
    let seen = sink.line(line);
    if seen != Seen::Other {
        harness.stdout.log_event(&line.bytes);
    }
    seen
}

/// A harness that exited non-zero before its first event could not work at
/// all (not logged in, a refused flag, a broken config): that is the
/// harness's problem, in its own words. Returns whether it applied.
pub(crate) fn silent_exit(raw: &mut RawRun, exit: &Exit, name: &str) -> bool {
    if exit.events > 0 || exit.code == Some(0) || exit.code.is_none() {
        return false;
    }
    let words = telling_line(&raw.stderr_tail).unwrap_or_else(|| format!("{name} {}", exit.status));
    let note = format!("{name} {} before its first event: {}", exit.status, words);
    raw.fail(ExitKind::HarnessUnavailable, &words, note);
    true
}

/// The stderr line that says what went wrong: the first that mentions an
/// error (a stack trace's head, not its last frame), else the last line.
pub(crate) fn telling_line(tail: &[String]) -> Option<String> {
    let says_error = |l: &&String| {
        let lower = l.to_lowercase();
        lower.contains("error") || lower.contains("cannot") || lower.contains("refus")
    };
    match tail.iter().find(says_error) {
        Some(line) => Some(line.clone()),
        None => last_said(tail),
    }
}

/// The last non-empty lines of a stderr file (lossy, each clipped).
pub(crate) fn stderr_tail(path: &std::path::Path) -> Vec<String> {
    let Some((bytes, _)) = fsx::read_tail(path, 16 * 1024) else {
        return Vec::new();
    };
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<String> = text
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.chars().take(400).collect())
        .collect();
    let skip = lines.len().saturating_sub(STDERR_TAIL_LINES);
    lines.into_iter().skip(skip).collect()
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
        // The runner decides what a stop it asked for means; a stall is
        // noted by the caller, which knows the limit.
        Ending::Stopped | Ending::Stalled => ExitKind::RunnerError,
    };
    Streamed {
        ending,
        exit: Exit {
            code: exit_code,
            status: status_text,
            events: 0,
        },
        raw,
    }
}
