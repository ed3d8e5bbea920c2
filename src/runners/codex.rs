//! The `codex_cli` runner: `codex exec --json`, one process per stage.
//!
//! Input: the request, `[runners.codex]` and the prompt. Output: a
//! [`RawRun`] with the last message (from `--output-last-message`, else the
//! last `agent_message` event), cumulative token usage from the last
//! `turn.completed`, and quota exhaustion read from `error`/`turn.failed`
//! prose. Invariant: only an exit status of 0 after a `turn.completed`
//! counts as a completed run.

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::lines::Line;
use super::process::Invocation;
use super::quota;
use super::raw::RawRun;
use super::stream::{self, Ctx, Ending, LineSink};
use crate::model::{ExitKind, StageRunRequest, TokenUsage};
use crate::plan::Effort;
use crate::workspace::fsx;

/// `[runners.codex]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CodexConfig {
    pub command: String,
    pub args: Vec<String>,
    pub profile: Option<String>,
    pub permission_default: Permission,
    pub permission_by_stage: BTreeMap<String, Permission>,
    pub permission_by_model: BTreeMap<String, Permission>,
    pub model_reasoning_effort: Option<Effort>,
    pub skip_git_repo_check: bool,
    /// Each item is passed as `-c <item>`.
    pub extra_config: Vec<String>,
    pub env: BTreeMap<String, String>,
}

impl Default for CodexConfig {
    fn default() -> Self {
        Self {
            command: "codex".into(),
            args: vec!["exec".into()],
            profile: None,
            permission_default: Permission::Maximum,
            permission_by_stage: BTreeMap::new(),
            permission_by_model: BTreeMap::new(),
            model_reasoning_effort: None,
            skip_git_repo_check: true,
            extra_config: Vec::new(),
            env: BTreeMap::new(),
        }
    }
}

/// How much the Codex sandbox lets the harness do.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// Writes inside the workspace only.
    Basic,
    /// Full disk access, never asks.
    Elevated,
    /// No sandbox, no approvals.
    #[default]
    Maximum,
}

/// The largest agent message kept in memory (the last-message file, not
/// the event, is the primary source).
const MAX_MESSAGE: usize = 1024 * 1024;

/// The Codex argv after the program name.
pub fn argv(
    req: &StageRunRequest,
    cfg: &CodexConfig,
    last_message: &std::path::Path,
    prompt: &str,
) -> Vec<String> {
    let mut args = cfg.args.clone();
    if cfg.skip_git_repo_check {
        args.push("--skip-git-repo-check".into());
    }
    if let Some(profile) = &cfg.profile {
        args.extend(["--profile".into(), profile.clone()]);
    }
    if let Some(model) = &req.model {
        args.extend(["--model".into(), model.clone()]);
    }
    args.extend(permission_flags(permission(req, cfg)));
    for item in &cfg.extra_config {
        args.extend(["-c".into(), item.clone()]);
    }
    if let Some(effort) = req.effort.or(cfg.model_reasoning_effort) {
        args.extend(["-c".into(), format!("model_reasoning_effort=\"{effort}\"")]);
    }
    args.extend([
        "--cd".into(),
        req.workspace_root.display().to_string(),
        "--json".into(),
    ]);
    args.extend(["--output-last-message".into(), last_message.display().to_string()]);
    args.push(prompt.to_owned());
    args
}

/// The permission level: by stage, then by model, then the default.
pub fn permission(req: &StageRunRequest, cfg: &CodexConfig) -> Permission {
    cfg.permission_by_stage
        .get(&req.stage)
        .or_else(|| req.model.as_ref().and_then(|m| cfg.permission_by_model.get(m)))
        .copied()
        .unwrap_or(cfg.permission_default)
}

/// The sandbox flags of a level (never the removed `--full-auto`).
pub fn permission_flags(level: Permission) -> Vec<String> {
    let flags: &[&str] = match level {
        Permission::Basic => &["--sandbox", "workspace-write"],
        Permission::Elevated => &[
            "-c",
            "approval_policy=\"never\"",
            "--sandbox",
            "danger-full-access",
        ],
        Permission::Maximum => &["--dangerously-bypass-approvals-and-sandbox"],
    };
    flags.iter().map(|f| (*f).to_owned()).collect()
}

/// Runs the stage through Codex.
pub(crate) async fn run(ctx: &Ctx<'_>, cfg: &CodexConfig, prompt: &str) -> RawRun {
    let mut args = argv(ctx.req, cfg, &ctx.files.last_message, prompt);
    let prompt_arg = args.len().checked_sub(1);
    let inv = Invocation {
        program: cfg.command.clone(),
        args: std::mem::take(&mut args),
        prompt_arg,
        cwd: ctx.req.workspace_root.clone(),
        env: cfg.env.clone(),
        stdin: false,
    };
    let harness = match stream::start(ctx, "codex_cli", inv, true) {
        Ok(h) => h,
        Err(raw) => return *raw,
    };
    let mut events = CodexEvents::default();
    let streamed = stream::pump(harness, &mut events).await;
    let mut raw = streamed.raw;
    raw.stdout_path = Some(ctx.files.stdout.clone());
    raw.stderr_path = Some(ctx.files.stderr.clone());
    raw.events_path = Some(ctx.files.events.clone());
    raw.token_usage = events.usage;
    raw.final_message = read_last_message(&ctx.files.last_message).or(events.last_message.take());
    if events.bad_lines > 0 {
        raw.note(format!("{} stdout lines were not JSON events", events.bad_lines));
    }
    if streamed.ending == Ending::Exited {
        classify(&mut raw, &events, streamed.exit_code, &streamed.status_text);
    }
    raw
}

/// Decides how an exited Codex run ended.
fn classify(raw: &mut RawRun, events: &CodexEvents, exit_code: Option<i32>, status: &str) {
    if exit_code == Some(0) && events.completed && !events.failed_after_completion {
        raw.exit = ExitKind::Completed;
        return;
    }
    if let Some(text) = &events.quota_text {
        raw.exit = ExitKind::QuotaExhausted;
        raw.quota_reset_at = quota::reset_time(text, Timestamp::now(), &TimeZone::system());
        raw.note(format!("usage limit reached: {}", clip(text)));
        return;
    }
    if let Some(text) = &events.error_text {
        raw.exit = ExitKind::ProviderError;
        raw.note(format!("codex reported an error: {}", clip(text)));
        return;
    }
    raw.exit = ExitKind::RunnerError;
    if exit_code == Some(0) {
        raw.note("codex exited before its turn.completed event (event stream cut short)");
    } else {
        raw.note(format!("codex {status}"));
    }
}

/// What the Codex event stream said.
#[derive(Default)]
pub(crate) struct CodexEvents {
    usage: Option<TokenUsage>,
    last_message: Option<String>,
    completed: bool,
    failed_after_completion: bool,
    quota_text: Option<String>,
    error_text: Option<String>,
    bad_lines: u64,
}

impl LineSink for CodexEvents {
    fn line(&mut self, line: &Line) -> bool {
        let Some(event) = parse_event(line) else {
            self.bad_lines += u64::from(!line.bytes.iter().all(u8::is_ascii_whitespace));
            return false;
        };
        self.event(&event);
        true
    }
}

impl CodexEvents {
    fn event(&mut self, event: &Value) {
        match event.get("type").and_then(Value::as_str).unwrap_or_default() {
            "turn.completed" => {
                self.completed = true;
                self.failed_after_completion = false;
                if let Some(usage) = event.get("usage") {
                    self.usage = Some(usage_of(usage));
                }
            }
            "turn.failed" => {
                self.failed_after_completion = self.completed;
                self.error(event.pointer("/error/message").or_else(|| event.get("message")));
            }
            "error" => self.error(event.get("message")),
            "item.completed" => self.item(event.get("item")),
            _ => {}
        }
    }

    fn item(&mut self, item: Option<&Value>) {
        let Some(item) = item else { return };
        let kind = item
            .get("type")
            .or_else(|| item.get("item_type"))
            .and_then(Value::as_str);
        if matches!(kind, Some("agent_message" | "assistant_message")) {
            let text = item.get("text").and_then(Value::as_str).unwrap_or_default();
            if text.len() <= MAX_MESSAGE {
                self.last_message = Some(text.to_owned());
            }
        }
    }

    fn error(&mut self, message: Option<&Value>) {
        let text = message
            .and_then(Value::as_str)
            .unwrap_or("unknown error")
            .to_owned();
        if quota::is_quota_text(&text) {
            self.quota_text = Some(text);
        } else {
            self.error_text = Some(text);
        }
    }
}

/// A JSON object line, if the line is one.
pub(crate) fn parse_event(line: &Line) -> Option<Value> {
    if line.truncated {
        return None;
    }
    let start = line.bytes.iter().position(|b| !b.is_ascii_whitespace())?;
    if line.bytes.get(start) != Some(&b'{') {
        return None;
    }
    serde_json::from_slice::<Value>(&line.bytes)
        .ok()
        .filter(Value::is_object)
}

/// Codex usage: `cached_input_tokens` is part of `input_tokens`, and
/// `reasoning_output_tokens` part of `output_tokens`.
fn usage_of(usage: &Value) -> TokenUsage {
    let n = |key: &str| usage.get(key).and_then(Value::as_u64).unwrap_or(0);
    let input = n("input_tokens");
    let output = n("output_tokens");
    let total = usage
        .get("total_tokens")
        .and_then(Value::as_u64)
        .unwrap_or(input.saturating_add(output));
    TokenUsage {
        input_tokens: input,
        cached_input_tokens: n("cached_input_tokens"),
        output_tokens: output,
        thinking_tokens: n("reasoning_output_tokens"),
        total_tokens: total,
    }
}

/// The last-message file, read lossily and only up to [`MAX_MESSAGE`]
/// bytes from its end (the marker is at the end).
pub(crate) fn read_last_message(path: &std::path::Path) -> Option<String> {
    let (bytes, _) = fsx::read_tail(path, MAX_MESSAGE as u64)?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// The first 300 characters of an error text, for notes.
pub(crate) fn clip(text: &str) -> String {
    let clipped: String = text.chars().take(300).collect();
    if clipped.len() < text.len() {
        format!("{clipped}…")
    } else {
        clipped
    }
}
