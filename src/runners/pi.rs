//! The `pi_rpc` runner: `pi --mode rpc`, JSON lines over stdin and stdout.
//!
//! Input: the request, `[runners.pi]` and the prompt. Output: a [`RawRun`]
//! after this exchange: send `prompt`, await its response, read events
//! until the run is over, then ask `get_last_assistant_text` and
//! `get_session_stats` with short timeouts. Pi retries a failed turn
//! itself: a failed `agent_end` followed by `auto_retry_start` is not the
//! end; the run is over at the `agent_end` after `auto_retry_end`, or at a
//! failed `agent_end` no retry follows. Invariants: a rejected prompt, an
//! unparseable stdout line in place of a response, or a stream ending
//! before the end is a transport failure; a final assistant message with
//! `stopReason: "error"` is classified by its status and words (401: the
//! harness is unavailable; 429 or 5xx after Pi's own retries: transient);
//! no event for the stall limit is a stall; on timeout, stall or cancel the
//! harness gets `abort`, a short grace, then its group is killed.

use serde::de::{Deserializer, Error};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::RunnerError;
use super::classify::{self, Verdict};
use super::codex::clip;
use super::process::{Harness, Invocation, KILL_GRACE, Step};
use super::quota;
use super::raw::RawRun;
use super::registry::{Env, Runner, env_names};
use super::stream::{self, Ctx, Seen, Watch};
use crate::model::{ExitKind, StageResult, StageRunRequest, TokenUsage};
use crate::workspace::fsx;
use rpc::{Session, Stop, await_response, next_event, query, record, send, send_until};

pub(crate) mod rpc;

/// `[runners.pi]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PiConfig {
    pub command: String,
    /// Extra arguments; flags the runner sets itself are refused.
    #[serde(deserialize_with = "pi_args")]
    pub args: Vec<String>,
    pub provider: Option<String>,
    pub thinking: Option<String>,
    pub disable_context_files: bool,
    pub disable_skills: bool,
    pub event_log_policy: PiEventLogPolicy,
    #[serde(deserialize_with = "env_names")]
    pub env: Env,
}

impl Default for PiConfig {
    fn default() -> Self {
        Self {
            command: "pi".into(),
            args: Vec::new(),
            provider: None,
            thinking: None,
            disable_context_files: true,
            disable_skills: true,
            event_log_policy: PiEventLogPolicy::FailureFull,
            env: BTreeMap::new(),
        }
    }
}

/// When the Pi runner keeps its RPC event log.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PiEventLogPolicy {
    /// Keep the log only when the stage did not complete cleanly.
    #[default]
    FailureFull,
    /// Always keep the log.
    Full,
}

/// Flags the Pi runner sets itself; operators may not pass them in `args`.
pub const PI_RESERVED_FLAGS: &[&str] = &[
    "--mode",
    "--no-session",
    "--provider",
    "--model",
    "--thinking",
    "--no-context-files",
    "--no-skills",
];

fn pi_args<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let args = Vec::<String>::deserialize(d)?;
    for arg in &args {
        let flag = arg.split('=').next().unwrap_or(arg);
        if PI_RESERVED_FLAGS.contains(&flag) {
            return Err(D::Error::custom(format!(
                "`{arg}` is set by the Pi runner itself; use the dedicated key instead"
            )));
        }
    }
    Ok(args)
}

/// How long a follow-up query may take.
const QUERY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the harness gets to wind down after `abort`.
const ABORT_GRACE: Duration = Duration::from_secs(1);
/// How long the harness gets to exit after its stdin closes.
const EXIT_GRACE: Duration = Duration::from_secs(1);
/// How long a failed `agent_end` waits for Pi to announce a retry (it does
/// so at once).
const RETRY_NOTICE: Duration = Duration::from_secs(2);

/// The Pi argv after the program name.
pub fn argv(req: &StageRunRequest, cfg: &PiConfig) -> Vec<String> {
    let mut args = cfg.args.clone();
    args.extend(["--mode".into(), "rpc".into(), "--no-session".into()]);
    if let Some(provider) = &cfg.provider {
        args.extend(["--provider".into(), provider.clone()]);
    }
    if let Some(model) = &req.model {
        args.extend(["--model".into(), model.clone()]);
    }
    let thinking = req
        .effort
        .map(|e| e.as_str().to_owned())
        .or_else(|| cfg.thinking.clone());
    if let Some(thinking) = thinking {
        args.extend(["--thinking".into(), thinking]);
    }
    if cfg.disable_context_files {
        args.push("--no-context-files".into());
    }
    if cfg.disable_skills {
        args.push("--no-skills".into());
    }
    args
}

/// The `pi_rpc` runner.
pub(crate) struct Pi;

impl Runner for Pi {
    type Config = PiConfig;
    const INSTALL: &'static str = "install it with `npm install -g @mariozechner/pi-coding-agent`";

    fn programs(cfg: &PiConfig) -> Result<Vec<(&str, &Env)>, RunnerError> {
        Ok(vec![(cfg.command.as_str(), &cfg.env)])
    }

    async fn run(ctx: &Ctx<'_>, cfg: &PiConfig, prompt: &str) -> RawRun {
        run(ctx, cfg, prompt).await
    }

    /// `failure_full` keeps the event log only for failed stages.
    fn finished(cfg: &PiConfig, result: &mut StageResult) {
        let keep_all = cfg.event_log_policy == PiEventLogPolicy::Full;
        if !keep_all
            && result.failure_class.is_none()
            && let Some(path) = result.events_path.take()
        {
            let _ = fsx::remove_file(&path);
        }
    }
}

/// Runs the stage through Pi's RPC mode.
async fn run(ctx: &Ctx<'_>, cfg: &PiConfig, prompt: &str) -> RawRun {
    let inv = Invocation {
        program: cfg.command.clone(),
        args: argv(ctx.req, cfg),
        prompt_arg: None,
        cwd: ctx.req.workspace_root.clone(),
        env: cfg.env.clone(),
        stdin: true,
    };
    let mut harness = match stream::start(ctx, inv, true) {
        Ok(h) => h,
        Err(raw) => return *raw,
    };
    let mut session = Session::default();
    let mut watch = Watch::new(ctx.stall);
    let exchange = exchange(&mut harness, &mut session, &mut watch, prompt).await;
    let (text, usage, cost) = match &exchange {
        Ok(()) => follow_up(&mut harness, &mut session).await,
        Err(_) => (None, None, None),
    };
    let stop = exchange.err();
    shut_down(&mut harness, &mut session, stop.as_ref()).await;
    let mut raw = summarize(ctx, harness, &session, stop);
    raw.token_usage = usage;
    raw.cost_usd = cost;
    if raw.exit == ExitKind::Completed {
        classify_session(&mut raw, &session);
        if let Some(text) = &text {
            let _ = fsx::write_replace(&ctx.files.last_message, text.as_bytes());
        }
        raw.final_message = text;
    }
    raw
}

/// Sends the prompt and reads events until the run is over.
async fn exchange(h: &mut Harness, s: &mut Session, watch: &mut Watch, prompt: &str) -> Result<(), Stop> {
    let command = json!({"id": "prompt-1", "type": "prompt", "message": prompt});
    send(h, &command).await?;
    let response = match await_response(h, s, "prompt-1", watch.until(h.deadline)).await {
        Err(Stop::Quiet) => return Err(Stop::Stalled),
        other => other?,
    };
    if response.get("success").and_then(Value::as_bool) != Some(true) {
        let error = response
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("no reason given");
        return Err(Stop::Refused(error.to_owned()));
    }
    loop {
        if s.over() {
            if !s.failed() || s.retry_gave_up {
                return Ok(());
            }
            // A failed turn: Pi announces a retry of its own at once, if
            // it makes one.
            let until = h.deadline.min(Instant::now() + RETRY_NOTICE);
            match next_event(h, s, until).await {
                Ok(_) => continue,
                Err(Stop::Quiet) => return Ok(()),
                Err(stop) => return Err(stop),
            }
        }
        let until = watch.until(h.deadline);
        match next_event(h, s, until).await {
            Ok(record) => watch.saw(progress_of(&record)),
            Err(Stop::Quiet) => return Err(Stop::Stalled),
            Err(stop) => return Err(stop),
        }
    }
}

/// Pi's retry notices are not progress: a Pi that keeps retrying stalls.
fn progress_of(record: &Value) -> Seen {
    match record.get("type").and_then(Value::as_str) {
        Some("auto_retry_start" | "auto_retry_end") => Seen::Waiting,
        _ => Seen::Progress,
    }
}

/// Asks for the final text and the session totals; failures only add notes.
async fn follow_up(h: &mut Harness, s: &mut Session) -> (Option<String>, Option<TokenUsage>, Option<f64>) {
    let mut text = None;
    let mut usage = None;
    let mut cost = None;
    if let Ok(r) = query(h, s, "last-text", "get_last_assistant_text").await {
        text = r.pointer("/data/text").and_then(Value::as_str).map(str::to_owned);
    } else {
        h.notes.push("pi get_last_assistant_text got no answer".into());
    }
    if let Ok(r) = query(h, s, "stats", "get_session_stats").await {
        usage = r.pointer("/data/tokens").map(usage_of);
        cost = r
            .pointer("/data/cost")
            .and_then(|c| c.as_f64().or_else(|| c.get("total")?.as_f64()));
    } else {
        h.notes.push("pi get_session_stats got no answer".into());
    }
    (text, usage, cost)
}

/// Ends the process: `abort` first when the exchange was cut short, then
/// stdin closed, a short wait for a clean exit, then the group killed.
async fn shut_down(h: &mut Harness, s: &mut Session, stop: Option<&Stop>) {
    if matches!(stop, Some(Stop::Deadline | Stop::Cancelled | Stop::Stalled)) {
        // The stage deadline has passed: abort gets its own short window.
        let _ = send_until(h, &json!({"type": "abort"}), Instant::now() + ABORT_GRACE).await;
        let until = Instant::now() + ABORT_GRACE;
        while !s.agent_ended {
            if next_event(h, s, until).await.is_err() {
                break;
            }
        }
    }
    h.close_stdin();
    let until = Instant::now() + EXIT_GRACE;
    loop {
        match h.step(until).await {
            Step::Done | Step::Deadline | Step::Cancelled => break,
            Step::Line(line) => {
                let _ = record(h, s, &line);
            }
            Step::Eof | Step::Exited => {}
        }
    }
    if h.status().is_none() {
        h.stop_group(KILL_GRACE).await;
    } else {
        h.stop_leftovers().await;
    }
}

/// The raw run from how the exchange ended.
fn summarize(ctx: &Ctx<'_>, harness: Harness, s: &Session, stop: Option<Stop>) -> RawRun {
    let ending = match &stop {
        Some(Stop::Deadline) => stream::Ending::TimedOut,
        Some(Stop::Cancelled) => stream::Ending::Cancelled,
        Some(Stop::Stalled) => stream::Ending::Stalled,
        _ => stream::Ending::Exited,
    };
    let mut streamed = stream::finish(harness, ending);
    streamed.exit.events = s.records;
    let mut raw = streamed.raw;
    raw.stdout_path = Some(ctx.files.stdout.clone());
    raw.stderr_path = Some(ctx.files.stderr.clone());
    raw.events_path = Some(ctx.files.events.clone());
    raw.stderr_tail = stream::stderr_tail(&ctx.files.stderr);
    if s.bad_lines > 0 {
        raw.note(format!("{} stdout lines were not JSON records", s.bad_lines));
    }
    match stop {
        Some(Stop::Stalled) => stream::stalled(&mut raw, ctx, s.last_error.clone()),
        Some(Stop::Refused(error)) => {
            let verdict = classify::of_text(&error);
            let exit = if verdict == Verdict::Unavailable {
                ExitKind::HarnessUnavailable
            } else {
                ExitKind::RunnerError
            };
            raw.fail(exit, &error, format!("pi rejected the prompt: {}", clip(&error)));
        }
        // `silent_exit` marks a harness that died before any event (and
        // says so); only otherwise is the broken stream the story.
        Some(Stop::Broken(note)) if !stream::silent_exit(&mut raw, &streamed.exit, "pi") => {
            raw.exit = ExitKind::RunnerError;
            raw.note(note);
        }
        _ if raw.exit == ExitKind::Completed && streamed.exit.code.is_some_and(|c| c != 0) => {
            raw.exit = ExitKind::RunnerError;
            raw.note(format!("pi {}", streamed.exit.status));
        }
        _ => {}
    }
    raw
}

/// A completed exchange whose final assistant message failed: Pi's error
/// message leads with the provider's HTTP status (`401 {...}`).
pub(crate) fn classify_session(raw: &mut RawRun, s: &Session) {
    if !s.failed() {
        return;
    }
    let error = s.last_error.clone().unwrap_or_default();
    let verdict = match classify::leading_status(&error) {
        Some(429) if !quota::is_quota_text(&error) => Verdict::Transient,
        Some(status) => classify::of_status(status).unwrap_or_else(|| classify::of_text(&error)),
        None => classify::of_text(&error),
    };
    if verdict == Verdict::Quota {
        raw.quota_reset_at = quota::reset_time(&error, Timestamp::now(), &TimeZone::system());
    }
    let what = match verdict {
        Verdict::Quota => "usage limit reached",
        Verdict::Unavailable => "pi cannot work",
        Verdict::Transient => "pi's provider kept failing, after pi's own retries",
        Verdict::Provider => "pi's final message ended with stopReason error",
    };
    raw.fail(verdict.exit(), &error, format!("{what}: {}", clip(&error)));
}

/// Pi session totals: `{input, output, cacheRead, cacheWrite, total}`.
fn usage_of(tokens: &Value) -> TokenUsage {
    let n = |key: &str| tokens.get(key).and_then(Value::as_u64).unwrap_or(0);
    let cached = n("cacheRead");
    let input = n("input").saturating_add(cached).saturating_add(n("cacheWrite"));
    let output = n("output");
    let total = match n("total") {
        0 => input.saturating_add(output),
        t => t,
    };
    TokenUsage {
        input_tokens: input,
        cached_input_tokens: cached,
        output_tokens: output,
        thinking_tokens: 0,
        cache_write_tokens: n("cacheWrite"),
        total_tokens: total,
    }
}
