//! The `gemini_cli` runner: `gemini -p PROMPT --output-format stream-json`,
//! one process per stage.
//!
//! Input: the request, `[runners.gemini]` and the prompt. Output: a
//! [`RawRun`] whose final message is the assistant's `delta` chunks joined,
//! with usage from the `result` line's `stats`, and a failure read from the
//! `result` error, the `error` events and the exit code (41: not
//! authenticated; an API error exits with its HTTP status mod 256).
//! Invariants: only exit 0 with a `result` of status `success` completes;
//! the daily-quota message is a quota without a reset (the runtime backs
//! off), a per-minute one that suggests a retry is transient; `TMPDIR` is
//! the run directory, where Gemini drops its error reports.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::RunnerError;
use super::classify::{self, Verdict};
use super::codex::{clip, parse_counted};
use super::lines::Line;
use super::process::Invocation;
use super::raw::RawRun;
use super::registry::{Env, Runner, env_names};
use super::stream::{self, Ctx, Ending, Exit, LineSink, Seen};
use crate::model::{ExitKind, StageRunRequest, TokenUsage};
use crate::workspace::fsx;

/// `[runners.gemini]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GeminiConfig {
    pub command: String,
    /// Extra arguments, before the runner's own.
    pub args: Vec<String>,
    /// Used when the request names no model.
    pub model: Option<String>,
    /// Passed to `--approval-mode`.
    pub approval_mode: GeminiApprovalMode,
    /// Pass `--skip-trust`: without it Gemini silently downgrades `yolo`
    /// in a folder it has not been told to trust.
    pub skip_trust: bool,
    #[serde(deserialize_with = "env_names")]
    pub env: Env,
}

impl Default for GeminiConfig {
    fn default() -> Self {
        Self {
            command: "gemini".into(),
            args: Vec::new(),
            model: None,
            approval_mode: GeminiApprovalMode::Yolo,
            skip_trust: true,
            env: Env::new(),
        }
    }
}

/// Gemini CLI's `--approval-mode` values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GeminiApprovalMode {
    Default,
    AutoEdit,
    #[default]
    Yolo,
}

impl GeminiApprovalMode {
    pub fn as_str(self) -> &'static str {
        match self {
            GeminiApprovalMode::Default => "default",
            GeminiApprovalMode::AutoEdit => "auto_edit",
            GeminiApprovalMode::Yolo => "yolo",
        }
    }
}

/// Gemini's exit code when it has no credentials.
const EXIT_NO_AUTH: i32 = 41;

/// The Gemini argv after the program name; the prompt follows `-p`.
pub fn argv(req: &StageRunRequest, cfg: &GeminiConfig, prompt: &str) -> Vec<String> {
    let mut args = cfg.args.clone();
    args.extend(["-p".into(), prompt.to_owned()]);
    args.extend(["--output-format".into(), "stream-json".into()]);
    args.extend(["--approval-mode".into(), cfg.approval_mode.as_str().into()]);
    if cfg.skip_trust {
        args.push("--skip-trust".into());
    }
    if let Some(model) = req.model.as_ref().or(cfg.model.as_ref()) {
        args.extend(["-m".into(), model.clone()]);
    }
    args
}

/// The `gemini_cli` runner.
pub(crate) struct Gemini;

impl Runner for Gemini {
    type Config = GeminiConfig;
    const INSTALL: &'static str = "install it with `npm install -g @google/gemini-cli`";

    fn programs(cfg: &GeminiConfig) -> Result<Vec<(&str, &Env)>, RunnerError> {
        Ok(vec![(cfg.command.as_str(), &cfg.env)])
    }

    async fn run(ctx: &Ctx<'_>, cfg: &GeminiConfig, prompt: &str) -> RawRun {
        let mut env = cfg.env.clone();
        env.entry("TMPDIR".into())
            .or_insert_with(|| ctx.req.run_dir.display().to_string());
        let inv = Invocation {
            program: cfg.command.clone(),
            prompt_arg: Some(cfg.args.len() + 1),
            args: argv(ctx.req, cfg, prompt),
            cwd: ctx.req.workspace_root.clone(),
            env,
            stdin: false,
        };
        let mut events = GeminiEvents::default();
        let streamed = match stream::run(ctx, inv, &mut events).await {
            Ok(s) => s,
            Err(raw) => return raw,
        };
        let mut raw = streamed.raw;
        raw.token_usage = events.usage();
        if events.bad_lines > 0 {
            raw.note(format!("{} stdout lines were not JSON events", events.bad_lines));
        }
        if streamed.ending == Ending::Exited {
            classify(&mut raw, &events, &streamed.exit);
        }
        if raw.exit == ExitKind::Completed {
            let _ = fsx::write_replace(&ctx.files.last_message, events.text.as_bytes());
            raw.final_message = Some(events.text);
        }
        raw
    }
}

/// Decides how an exited Gemini run ended.
pub(crate) fn classify(raw: &mut RawRun, events: &GeminiEvents, exit: &Exit) {
    let status = events
        .result
        .as_ref()
        .and_then(|r| r.get("status"))
        .and_then(Value::as_str);
    if exit.code == Some(0) && status == Some("success") {
        raw.exit = ExitKind::Completed;
        return;
    }
    if exit.code == Some(EXIT_NO_AUTH) {
        let words = events
            .error_text()
            .or_else(|| stream::telling_line(&raw.stderr_tail))
            .unwrap_or_else(|| "gemini has no credentials (exit 41)".into());
        let note = format!("gemini is not authenticated (exit 41): {}", clip(&words));
        return raw.fail(ExitKind::HarnessUnavailable, &words, note);
    }
    if let Some(text) = events.error_text() {
        let verdict = verdict(&text, exit.code);
        let what = match verdict {
            Verdict::Quota => "gemini's quota is exhausted",
            Verdict::Unavailable => "gemini cannot work",
            Verdict::Transient => "gemini hit a passing provider failure",
            Verdict::Provider => "gemini reported an error",
        };
        let note = format!("{what} ({}): {}", exit.status, clip(&text));
        return raw.fail(verdict.exit(), &text, note);
    }
    if stream::silent_exit(raw, exit, "gemini") {
        return;
    }
    raw.exit = ExitKind::RunnerError;
    raw.note(format!("gemini {} without a successful result line", exit.status));
}

/// An API error's verdict: its words first, then the HTTP status the exit
/// code carries (status mod 256, so 429 exits 173).
fn verdict(text: &str, code: Option<i32>) -> Verdict {
    let status = code
        .filter(|c| (144..=255).contains(c))
        .and_then(|c| u64::try_from(c + 256).ok());
    let lower = text.to_lowercase();
    if lower.contains("daily quota") {
        Verdict::Quota
    } else if lower.contains("suggested retry after") || lower.contains("please wait and try again") {
        // A per-minute quota: Gemini quotes Google's "please check your
        // plan and billing details" here too, but it passes in seconds.
        Verdict::Transient
    } else if classify::is_unavailable(text) {
        Verdict::Unavailable
    } else if lower.contains("resource_exhausted") {
        Verdict::Quota
    } else if let Some(v) = status.and_then(classify::of_status) {
        v
    } else if status == Some(429) {
        Verdict::Transient
    } else {
        classify::of_text(text)
    }
}

/// What the Gemini stream said.
#[derive(Default)]
pub(crate) struct GeminiEvents {
    /// The assistant's message, its chunks joined.
    pub(crate) text: String,
    pub(crate) result: Option<Value>,
    /// The last `error` event's message.
    pub(crate) error: Option<String>,
    pub(crate) bad_lines: u64,
}

impl LineSink for GeminiEvents {
    fn line(&mut self, line: &Line) -> Seen {
        let Some(event) = parse_counted(line, &mut self.bad_lines) else {
            return Seen::Other;
        };
        self.event(&event)
    }

    fn last_words(&self) -> Option<String> {
        self.error.clone()
    }
}

impl GeminiEvents {
    pub(crate) fn event(&mut self, event: &Value) -> Seen {
        let text = |key| event.get(key).and_then(Value::as_str).unwrap_or_default();
        match text("type") {
            "message" if text("role") == "assistant" => {
                if event.get("delta").and_then(Value::as_bool) != Some(true) {
                    self.text.clear();
                }
                self.text.push_str(text("content"));
            }
            "error" => {
                self.error = Some(text("message").to_owned());
                return Seen::Waiting;
            }
            "result" => self.result = Some(event.clone()),
            _ => {}
        }
        Seen::Progress
    }

    /// The failure's words: the result's error, else the last error event.
    fn error_text(&self) -> Option<String> {
        let from_result = self
            .result
            .as_ref()
            .and_then(|r| r.pointer("/error/message"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        from_result.or_else(|| self.error.clone())
    }

    /// `stats`: `input_tokens` includes the `cached` ones; what the total
    /// holds beyond input and output is thinking.
    pub(crate) fn usage(&self) -> Option<TokenUsage> {
        let stats = self.result.as_ref()?.get("stats")?;
        let n = |key: &str| stats.get(key).and_then(Value::as_u64).unwrap_or(0);
        let input = n("input_tokens");
        let output = n("output_tokens");
        let total = n("total_tokens").max(input.saturating_add(output));
        Some(TokenUsage {
            input_tokens: input,
            cached_input_tokens: n("cached"),
            output_tokens: output,
            thinking_tokens: total - input.saturating_add(output),
            cache_write_tokens: 0,
            total_tokens: total,
        })
    }
}
