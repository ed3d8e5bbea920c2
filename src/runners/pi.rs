//! The `pi_rpc` runner: `pi --mode rpc`, JSON lines over stdin and stdout.
//!
//! Input: the request, `[runners.pi]` and the prompt. Output: a [`RawRun`]
//! after this exchange: send `prompt`, await its response, read events
//! until `agent_end`, then ask `get_last_assistant_text` and
//! `get_session_stats` with short timeouts. Invariants: a rejected prompt,
//! an unparseable stdout line in place of a response, or a stream ending
//! before `agent_end` is a transport failure; a final assistant message
//! with `stopReason: "error"` is a provider failure; on timeout or cancel
//! the harness gets `abort`, a short grace, then its group is killed.

use serde::de::{Deserializer, Error};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::codex::{clip, parse_event};
use super::lines::Line;
use super::process::{Harness, Invocation, KILL_GRACE, Step};
use super::quota;
use super::raw::RawRun;
use super::stream::{self, Ctx};
use crate::model::{ExitKind, StageRunRequest, TokenUsage};
use crate::workspace::fsx;

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
    pub env: BTreeMap<String, String>,
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

/// Why the exchange stopped early.
enum Stop {
    Deadline,
    Cancelled,
    /// Transport failure with a note.
    Broken(String),
}

/// What the Pi session told us.
#[derive(Default)]
struct Session {
    agent_ended: bool,
    last_stop_reason: Option<String>,
    last_error: Option<String>,
    bad_lines: u64,
}

/// Runs the stage through Pi's RPC mode.
pub(crate) async fn run(ctx: &Ctx<'_>, cfg: &PiConfig, prompt: &str) -> RawRun {
    let inv = Invocation {
        program: cfg.command.clone(),
        args: argv(ctx.req, cfg),
        prompt_arg: None,
        cwd: ctx.req.workspace_root.clone(),
        env: cfg.env.clone(),
        stdin: true,
    };
    let mut harness = match stream::start(ctx, "pi_rpc", inv, true) {
        Ok(h) => h,
        Err(raw) => return *raw,
    };
    let mut session = Session::default();
    let exchange = exchange(&mut harness, &mut session, prompt).await;
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
        classify(&mut raw, &session);
        if let Some(text) = &text {
            let _ = fsx::write_replace(&ctx.files.last_message, text.as_bytes());
        }
        raw.final_message = text;
    }
    raw
}

/// Sends the prompt and reads events until `agent_end`.
async fn exchange(h: &mut Harness, s: &mut Session, prompt: &str) -> Result<(), Stop> {
    let command = json!({"id": "prompt-1", "type": "prompt", "message": prompt});
    send(h, &command).await?;
    let response = await_response(h, s, "prompt-1", h.deadline).await?;
    if response.get("success").and_then(Value::as_bool) != Some(true) {
        let error = response
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("no reason given");
        return Err(Stop::Broken(format!("pi rejected the prompt: {}", clip(error))));
    }
    while !s.agent_ended {
        let deadline = h.deadline;
        next_event(h, s, deadline).await?;
    }
    Ok(())
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

async fn query(h: &mut Harness, s: &mut Session, id: &str, kind: &str) -> Result<Value, Stop> {
    send(h, &json!({"id": id, "type": kind})).await?;
    let until = h.deadline.min(Instant::now() + QUERY_TIMEOUT);
    let response = await_response(h, s, id, until).await?;
    match response.get("success").and_then(Value::as_bool) {
        Some(false) => Err(Stop::Broken(format!("pi {kind} failed"))),
        _ => Ok(response),
    }
}

async fn send(h: &mut Harness, command: &Value) -> Result<(), Stop> {
    let until = h.deadline.min(Instant::now() + QUERY_TIMEOUT);
    send_until(h, command, until).await
}

async fn send_until(h: &mut Harness, command: &Value, until: Instant) -> Result<(), Stop> {
    let bytes = serde_json::to_vec(command).map_err(|e| Stop::Broken(e.to_string()))?;
    h.send_line(&bytes, until)
        .await
        .map_err(|e| Stop::Broken(format!("cannot write to pi: {e}")))
}

/// Reads until the response with `id` arrives, handling events meanwhile.
async fn await_response(h: &mut Harness, s: &mut Session, id: &str, until: Instant) -> Result<Value, Stop> {
    loop {
        let record = next_event(h, s, until).await?;
        let is_response = record.get("type").and_then(Value::as_str) == Some("response");
        if is_response && record.get("id").and_then(Value::as_str) == Some(id) {
            return Ok(record);
        }
    }
}

/// The next JSON record, after noting what it says about the session.
async fn next_event(h: &mut Harness, s: &mut Session, until: Instant) -> Result<Value, Stop> {
    loop {
        match h.step(until).await {
            Step::Line(line) => {
                if let Some(record) = record(h, s, &line) {
                    s.observe(&record);
                    answer_ui_request(h, &record).await;
                    return Ok(record);
                }
            }
            Step::Exited => {}
            Step::Eof | Step::Done => {
                return Err(Stop::Broken(
                    "pi's output ended before the exchange finished".into(),
                ));
            }
            Step::Deadline if until < h.deadline => {
                return Err(Stop::Broken("pi did not answer in time".into()));
            }
            Step::Deadline => return Err(Stop::Deadline),
            Step::Cancelled => return Err(Stop::Cancelled),
        }
    }
}

fn record(h: &mut Harness, s: &mut Session, line: &Line) -> Option<Value> {
    let Some(record) = parse_event(line) else {
        s.bad_lines += u64::from(!line.bytes.iter().all(u8::is_ascii_whitespace));
        return None;
    };
    // Streaming deltas would double the log for no insight.
    if record.get("type").and_then(Value::as_str) != Some("message_update") {
        h.stdout.log_event(&line.bytes);
    }
    Some(record)
}

/// A headless client cannot answer dialogs: cancel them at once.
async fn answer_ui_request(h: &mut Harness, record: &Value) {
    if record.get("type").and_then(Value::as_str) != Some("extension_ui_request") {
        return;
    }
    let id = record.get("id").cloned().unwrap_or(Value::Null);
    let reply = json!({"type": "extension_ui_response", "id": id, "cancelled": true});
    if send(h, &reply).await.is_err() {
        h.notes.push("could not cancel a pi extension dialog".into());
    }
}

impl Session {
    fn observe(&mut self, record: &Value) {
        match record.get("type").and_then(Value::as_str).unwrap_or_default() {
            "message_end" | "turn_end" => self.message(record.get("message")),
            "agent_end" => {
                self.agent_ended = true;
                let messages = record.get("messages").and_then(Value::as_array);
                let last = messages.and_then(|m| m.iter().rev().find(|m| is_assistant(m)));
                self.message(last);
            }
            _ => {}
        }
    }

    fn message(&mut self, message: Option<&Value>) {
        let Some(message) = message.filter(|m| is_assistant(m)) else {
            return;
        };
        let reason = message
            .get("stopReason")
            .and_then(Value::as_str)
            .map(str::to_owned);
        if reason.as_deref() == Some("error") {
            let error = message
                .get("errorMessage")
                .and_then(Value::as_str)
                .unwrap_or("provider error");
            self.last_error = Some(error.to_owned());
        }
        if reason.is_some() {
            self.last_stop_reason = reason;
        }
    }
}

fn is_assistant(message: &Value) -> bool {
    message.get("role").and_then(Value::as_str) == Some("assistant")
}

/// Ends the process: `abort` first when the exchange was cut short, then
/// stdin closed, a short wait for a clean exit, then the group killed.
async fn shut_down(h: &mut Harness, s: &mut Session, stop: Option<&Stop>) {
    if matches!(stop, Some(Stop::Deadline | Stop::Cancelled)) {
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
        _ => stream::Ending::Exited,
    };
    let streamed = stream::finish(harness, ending);
    let mut raw = streamed.raw;
    raw.stdout_path = Some(ctx.files.stdout.clone());
    raw.stderr_path = Some(ctx.files.stderr.clone());
    raw.events_path = Some(ctx.files.events.clone());
    if s.bad_lines > 0 {
        raw.note(format!("{} stdout lines were not JSON records", s.bad_lines));
    }
    if let Some(Stop::Broken(note)) = stop {
        raw.exit = ExitKind::RunnerError;
        raw.note(note);
    } else if raw.exit == ExitKind::Completed && streamed.exit_code.is_some_and(|c| c != 0) {
        raw.exit = ExitKind::RunnerError;
        raw.note(format!("pi {}", streamed.status_text));
    }
    raw
}

/// A completed exchange whose final assistant message failed.
fn classify(raw: &mut RawRun, s: &Session) {
    if s.last_stop_reason.as_deref() != Some("error") {
        return;
    }
    let error = s.last_error.clone().unwrap_or_default();
    if quota::is_quota_text(&error) {
        raw.exit = ExitKind::QuotaExhausted;
        raw.quota_reset_at = quota::reset_time(&error, Timestamp::now(), &TimeZone::system());
        raw.note(format!("usage limit reached: {}", clip(&error)));
    } else {
        raw.exit = ExitKind::ProviderError;
        raw.note(format!(
            "pi's final message ended with stopReason error: {}",
            clip(&error)
        ));
    }
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
        total_tokens: total,
    }
}
