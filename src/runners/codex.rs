//! The `codex_cli` runner: `codex exec --json`, one process per stage.
//!
//! Input: the request, `[runners.codex]` and the prompt. Output: a
//! [`RawRun`] with the last message (from `--output-last-message`, else the
//! last `agent_message` event), cumulative token usage from the last
//! `turn.completed`, and a failure read from the `error`/`turn.failed`
//! prose: a usage limit (with its reset), an account out of credit or a bad
//! key (the harness is unavailable), a server error (transient).
//! Invariants: only an exit status of 0 after a `turn.completed` counts as
//! a completed run; `Reconnecting...` notices are not progress, so a Codex
//! waiting for a network that never comes trips the stall watchdog.

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::RunnerError;
use super::classify::{self, Verdict};
use super::lines::Line;
use super::process::Invocation;
use super::quota;
use super::raw::RawRun;
use super::registry::{Advice, Env, Runner, env_names};
use super::stream::{self, Ctx, Ending, Exit, LineSink, Seen};
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
    #[serde(deserialize_with = "env_names")]
    pub env: Env,
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

/// Codex's home: `CODEX_HOME` from the runner's env or the process's, else
/// `~/.codex`.
fn codex_home(env: &Env) -> Option<std::path::PathBuf> {
    let from = |key: &str| env.get(key).cloned().or_else(|| std::env::var(key).ok());
    match from("CODEX_HOME") {
        Some(home) => Some(home.into()),
        None => from("HOME").map(|h| std::path::Path::new(&h).join(".codex")),
    }
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

/// The `codex_cli` runner.
pub(crate) struct Codex;

impl Runner for Codex {
    type Config = CodexConfig;
    const INSTALL: &'static str = "install it with `npm install -g @openai/codex`";

    fn programs(cfg: &CodexConfig) -> Result<Vec<(&str, &Env)>, RunnerError> {
        Ok(vec![(cfg.command.as_str(), &cfg.env)])
    }

    /// `--profile NAME` layers `$CODEX_HOME/NAME.config.toml` over
    /// `config.toml`; a legacy `[profiles.NAME]` table in `config.toml` is a
    /// hard error in current Codex.
    fn advise(cfg: &CodexConfig) -> Vec<Advice> {
        let Some(profile) = &cfg.profile else {
            return Vec::new();
        };
        let Some(home) = codex_home(&cfg.env) else {
            return Vec::new();
        };
        let mut advice = Vec::new();
        let layer = home.join(format!("{profile}.config.toml"));
        if !fsx::is_file(&layer) {
            advice.push(Advice {
                code: "mill::doctor::codex_profile_missing",
                message: format!(
                    "`runners.codex.profile = \"{profile}\"` makes codex read {}, which does not exist",
                    layer.display()
                ),
                fix: format!(
                    "create {} with the profile's settings, or drop `profile`",
                    layer.display()
                ),
            });
        }
        let legacy = fsx::read_text(&home.join("config.toml"))
            .ok()
            .and_then(|text| text.parse::<toml::Table>().ok())
            .is_some_and(|t| t.get("profiles").and_then(|p| p.get(profile)).is_some());
        if legacy {
            advice.push(Advice {
                code: "mill::doctor::codex_legacy_profile",
                message: format!(
                    "{}/config.toml has a `[profiles.{profile}]` table, which current codex refuses",
                    home.display()
                ),
                fix: format!("move the table's keys into {}", layer.display()),
            });
        }
        advice
    }

    async fn run(ctx: &Ctx<'_>, cfg: &CodexConfig, prompt: &str) -> RawRun {
        let args = argv(ctx.req, cfg, &ctx.files.last_message, prompt);
        let inv = Invocation {
            program: cfg.command.clone(),
            prompt_arg: args.len().checked_sub(1),
            args,
            cwd: ctx.req.workspace_root.clone(),
            env: cfg.env.clone(),
            stdin: false,
        };
        let mut events = CodexEvents::default();
        let streamed = match stream::run(ctx, inv, &mut events).await {
            Ok(s) => s,
            Err(raw) => return raw,
        };
        let mut raw = streamed.raw;
        raw.token_usage = events.usage;
        raw.final_message = read_last_message(&ctx.files.last_message).or(events.last_message.take());
        if events.bad_lines > 0 {
            raw.note(format!("{} stdout lines were not JSON events", events.bad_lines));
        }
        if streamed.ending == Ending::Exited {
            classify(&mut raw, &events, &streamed.exit);
        }
        raw
    }
}

/// Decides how an exited Codex run ended.
pub(crate) fn classify(raw: &mut RawRun, events: &CodexEvents, exit: &Exit) {
    if exit.code == Some(0) && events.completed && !events.failed_after_completion {
        raw.exit = ExitKind::Completed;
        return;
    }
    if let Some(text) = &events.error_text {
        let verdict = classify::of_text(text);
        if verdict == Verdict::Quota {
            raw.quota_reset_at = quota::reset_time(text, Timestamp::now(), &TimeZone::system());
        }
        let what = match verdict {
            Verdict::Quota => "usage limit reached",
            Verdict::Unavailable => "codex cannot work",
            Verdict::Transient => "codex hit a passing provider failure",
            Verdict::Provider => "codex reported an error",
        };
        raw.fail(verdict.exit(), text, format!("{what}: {}", clip(text)));
        return;
    }
    if stream::silent_exit(raw, exit, "codex") {
        return;
    }
    raw.exit = ExitKind::RunnerError;
    if exit.code == Some(0) {
        raw.note("codex exited before its turn.completed event (event stream cut short)");
    } else {
        raw.note(format!("codex {}", exit.status));
    }
}

/// What the Codex event stream said.
#[derive(Default)]
pub(crate) struct CodexEvents {
    pub(crate) usage: Option<TokenUsage>,
    pub(crate) last_message: Option<String>,
    pub(crate) completed: bool,
    pub(crate) failed_after_completion: bool,
    pub(crate) error_text: Option<String>,
    /// The last `error` notice, a failure or not (`Reconnecting...`).
    pub(crate) notice: Option<String>,
    pub(crate) bad_lines: u64,
}

impl LineSink for CodexEvents {
    fn line(&mut self, line: &Line) -> Seen {
        let Some(event) = parse_counted(line, &mut self.bad_lines) else {
            return Seen::Other;
        };
        self.event(&event)
    }

    fn last_words(&self) -> Option<String> {
        self.notice.clone()
    }
}

impl CodexEvents {
    pub(crate) fn event(&mut self, event: &Value) -> Seen {
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
            "error" => {
                let text = event.get("message").and_then(Value::as_str).unwrap_or_default();
                self.notice = Some(text.to_owned());
                // Codex announces its own reconnect attempts as errors;
                // only the last word of a failed turn is the failure.
                if !text.starts_with("Reconnecting") {
                    self.error(event.get("message"));
                }
                return Seen::Waiting;
            }
            "item.completed" => self.item(event.get("item")),
            _ => {}
        }
        Seen::Progress
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
        let text = message.and_then(Value::as_str).unwrap_or("unknown error");
        self.error_text = Some(text.to_owned());
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

/// [`parse_event`], counting a non-blank line that is not an event in
/// `bad_lines` (reported as a note, never a failure by itself).
pub(crate) fn parse_counted(line: &Line, bad_lines: &mut u64) -> Option<Value> {
    let event = parse_event(line);
    if event.is_none() {
        *bad_lines += u64::from(!line.bytes.iter().all(u8::is_ascii_whitespace));
    }
    event
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
        cache_write_tokens: n("cache_write_input_tokens"),
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
