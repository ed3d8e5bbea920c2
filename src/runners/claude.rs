//! The `claude_code` runner: `claude -p --output-format stream-json
//! --verbose`, one process per stage.
//!
//! Input: the request, `[runners.claude]` and the prompt. Output: a
//! [`RawRun`] from the final `result` line (subtype, `is_error`, text,
//! `api_error_status`, `errors`, usage with thinking tokens, cost), the
//! `rate_limit_event` windows, and the `api_retry` notices. Invariants:
//! `is_error: true` is a failure even with subtype `success`, classified by
//! its HTTP status (401/403: the harness is unavailable; 429: a quota, with
//! the reset the event or the text names, unless it is a per-minute limit,
//! which is transient; 5xx: transient); an
//! `authentication_failed` retry stops the harness at once instead of
//! letting it retry for minutes; a stream without its `result` line is a
//! transport failure.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::RunnerError;
use super::classify::{self, Verdict};
use super::codex::{clip, parse_counted};
use super::lines::Line;
use super::process::Invocation;
use super::quota;
use super::raw::RawRun;
use super::registry::{Advice, Env, Runner, env_names};
use super::stream::{self, Ctx, Ending, Exit, LineSink, Seen};
use crate::model::{ExitKind, RateLimit, StageRunRequest, TokenUsage};
use crate::workspace::fsx;

/// `[runners.claude]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClaudeConfig {
    pub command: String,
    pub args: Vec<String>,
    /// Used when the request names no model.
    pub model: Option<String>,
    /// Passed to `--permission-mode`.
    pub permission_mode: ClaudePermissionMode,
    #[serde(deserialize_with = "crate::model::settings::opt_int_in::<_, u32, 1, 10_000>")]
    pub max_turns: Option<u32>,
    #[serde(deserialize_with = "crate::model::settings::opt_usd")]
    pub max_budget_usd: Option<f64>,
    pub allowed_tools: Vec<String>,
    pub disallowed_tools: Vec<String>,
    pub bare: bool,
    #[serde(deserialize_with = "env_names")]
    pub env: Env,
}

impl Default for ClaudeConfig {
    fn default() -> Self {
        Self {
            command: "claude".into(),
            args: Vec::new(),
            model: None,
            permission_mode: ClaudePermissionMode::BypassPermissions,
            max_turns: None,
            max_budget_usd: None,
            allowed_tools: Vec::new(),
            disallowed_tools: Vec::new(),
            bare: false,
            env: BTreeMap::new(),
        }
    }
}

/// Claude Code's `--permission-mode` values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClaudePermissionMode {
    #[serde(rename = "default")]
    Default,
    #[serde(rename = "acceptEdits")]
    AcceptEdits,
    #[serde(rename = "plan")]
    Plan,
    #[default]
    #[serde(rename = "bypassPermissions")]
    BypassPermissions,
    #[serde(rename = "dontAsk")]
    DontAsk,
    #[serde(rename = "auto")]
    Auto,
}

impl ClaudePermissionMode {
    /// The flag value, as Claude Code spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            ClaudePermissionMode::Default => "default",
            ClaudePermissionMode::AcceptEdits => "acceptEdits",
            ClaudePermissionMode::Plan => "plan",
            ClaudePermissionMode::BypassPermissions => "bypassPermissions",
            ClaudePermissionMode::DontAsk => "dontAsk",
            ClaudePermissionMode::Auto => "auto",
        }
    }

    /// Whether Claude Code refuses this mode as root (unless `IS_SANDBOX=1`).
    pub fn refused_as_root(self) -> bool {
        self == ClaudePermissionMode::BypassPermissions
    }
}

/// The Claude argv after the program name; the prompt is at index
/// `cfg.args.len() + 1`.
pub fn argv(req: &StageRunRequest, cfg: &ClaudeConfig, prompt: &str) -> Vec<String> {
    let mut args = cfg.args.clone();
    args.extend(["-p".into(), prompt.to_owned()]);
    args.extend(["--output-format".into(), "stream-json".into(), "--verbose".into()]);
    if let Some(model) = req.model.as_ref().or(cfg.model.as_ref()) {
        args.extend(["--model".into(), model.clone()]);
    }
    if let Some(turns) = cfg.max_turns {
        args.extend(["--max-turns".into(), turns.to_string()]);
    }
    if let Some(usd) = budget_usd(req, cfg) {
        args.extend(["--max-budget-usd".into(), usd.to_string()]);
    }
    args.extend(["--permission-mode".into(), cfg.permission_mode.as_str().into()]);
    // One `--flag=TOOL` per tool: the option is variadic, so a bare
    // `--allowedTools A B` would swallow whatever follows, and a joined list
    // splits inside patterns such as `Bash(git log:*)`.
    args.extend(cfg.allowed_tools.iter().map(|t| format!("--allowedTools={t}")));
    args.extend(
        cfg.disallowed_tools
            .iter()
            .map(|t| format!("--disallowedTools={t}")),
    );
    if cfg.bare {
        args.push("--bare".into());
    }
    args
}

/// The tighter of the configured and the requested dollar cap.
fn budget_usd(req: &StageRunRequest, cfg: &ClaudeConfig) -> Option<f64> {
    let requested = req.budget.as_ref().and_then(|b| b.max_cost_usd);
    match (cfg.max_budget_usd, requested) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The `claude_code` runner.
pub(crate) struct Claude;

impl Runner for Claude {
    type Config = ClaudeConfig;
    const INSTALL: &'static str = "install it with `npm install -g @anthropic-ai/claude-code`";

    fn programs(cfg: &ClaudeConfig) -> Result<Vec<(&str, &Env)>, RunnerError> {
        Ok(vec![(cfg.command.as_str(), &cfg.env)])
    }

    /// As root, Claude Code refuses `bypassPermissions` (exit 1 at once)
    /// unless `IS_SANDBOX=1`: most containers and CI run as root.
    fn advise(cfg: &ClaudeConfig) -> Vec<Advice> {
        let root = super::sys::is_root();
        let sandbox = cfg
            .env
            .get("IS_SANDBOX")
            .cloned()
            .or_else(|| std::env::var("IS_SANDBOX").ok());
        if !root || !cfg.permission_mode.refused_as_root() || sandbox.as_deref() == Some("1") {
            return Vec::new();
        }
        vec![Advice {
            code: "mill::doctor::claude_as_root",
            message: "Claude Code refuses permission_mode \"bypassPermissions\" when run as root, \
                      and this runtime runs as root: every claude_code stage would fail at once"
                .into(),
            fix: "in a sandboxed container set `IS_SANDBOX = \"1\"` under [runners.claude.env]; \
                  else set `permission_mode = \"acceptEdits\"` under [runners.claude]"
                .into(),
        }]
    }

    async fn run(ctx: &Ctx<'_>, cfg: &ClaudeConfig, prompt: &str) -> RawRun {
        let inv = Invocation {
            program: cfg.command.clone(),
            prompt_arg: Some(cfg.args.len() + 1),
            args: argv(ctx.req, cfg, prompt),
            cwd: ctx.req.workspace_root.clone(),
            env: cfg.env.clone(),
            stdin: false,
        };
        let mut events = ClaudeEvents::default();
        let streamed = match stream::run(ctx, inv, &mut events).await {
            Ok(s) => s,
            Err(raw) => return raw,
        };
        let mut raw = streamed.raw;
        events.fill(&mut raw);
        if matches!(streamed.ending, Ending::Exited | Ending::Stopped) {
            classify(&mut raw, &events, &streamed.exit);
        }
        if raw.exit == ExitKind::Completed
            && let Some(text) = &raw.final_message
        {
            // The final text also lands in the last-message file, so every
            // runner leaves the same artifact behind.
            let _ = fsx::write_replace(&ctx.files.last_message, text.as_bytes());
        }
        raw
    }
}

/// Decides how an exited (or stopped) Claude run ended.
pub(crate) fn classify(raw: &mut RawRun, events: &ClaudeEvents, exit: &Exit) {
    if let (Some(error), None) = (&events.auth_failed, &events.result) {
        let note = format!("claude cannot authenticate ({error}); stopped instead of letting it retry");
        return raw.fail(ExitKind::HarnessUnavailable, error, note);
    }
    let Some(result) = &events.result else {
        if events.rejected {
            return quota_exhausted(raw, events, "rate limit rejected and no result line");
        }
        if stream::silent_exit(raw, exit, "claude") {
            return explain_root(raw);
        }
        raw.exit = ExitKind::RunnerError;
        raw.note(format!(
            "claude {} before its result line (stream cut short)",
            exit.status
        ));
        return;
    };
    let subtype = result.get("subtype").and_then(Value::as_str).unwrap_or_default();
    let is_error = result.get("is_error").and_then(Value::as_bool).unwrap_or(false);
    let text = failure_text(result);
    let status = result.get("api_error_status").and_then(Value::as_u64);
    match subtype {
        "error_max_turns" | "error_max_budget_usd" => {
            raw.exit = ExitKind::BudgetExhausted;
            raw.note(format!("claude stopped at its cap: {subtype}"));
        }
        _ if is_error || subtype != "success" => failed(raw, events, result, status, &text),
        _ if exit.code != Some(0) => {
            raw.exit = ExitKind::RunnerError;
            raw.note(format!("claude {} despite a successful result line", exit.status));
        }
        _ => raw.exit = ExitKind::Completed,
    }
}

/// A result line that reports a failure.
fn failed(raw: &mut RawRun, events: &ClaudeEvents, result: &Value, status: Option<u64>, text: &str) {
    let usage_limit = result.get("api_error").and_then(Value::as_str) == Some("usage_limit_reached");
    let verdict = match status {
        _ if usage_limit || events.rejected => Verdict::Quota,
        // A per-minute limit passes within the minute; only an account's
        // window (rejected, or worded as one) waits for its reset.
        Some(429) if per_minute(text) => Verdict::Transient,
        Some(429) => Verdict::Quota,
        Some(s) => classify::of_status(s).unwrap_or_else(|| classify::of_text(text)),
        None => classify::of_text(text),
    };
    match verdict {
        Verdict::Quota => quota_exhausted(raw, events, text),
        Verdict::Unavailable => raw.fail(
            ExitKind::HarnessUnavailable,
            text,
            format!(
                "claude cannot work (HTTP {}): {}",
                status.unwrap_or(0),
                clip(text)
            ),
        ),
        v => {
            let subtype = result.get("subtype").and_then(Value::as_str).unwrap_or_default();
            raw.fail(
                v.exit(),
                text,
                format!("claude reported an error ({subtype}): {}", clip(text)),
            );
        }
    }
}

/// Whether a 429's text names a per-minute limit ("Number of request
/// tokens has exceeded your per-minute rate limit").
fn per_minute(text: &str) -> bool {
    let lower = text.to_lowercase();
    lower.contains("per-minute") || lower.contains("per minute")
}

/// The words of a failed result: its text, else its `errors`.
fn failure_text(result: &Value) -> String {
    let text = result.get("result").and_then(Value::as_str).unwrap_or_default();
    let errors: Vec<&str> = result
        .get("errors")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    match (text.is_empty(), errors.is_empty()) {
        (false, true) => text.to_owned(),
        (true, false) => errors.join("; "),
        (false, false) => format!("{text} ({})", errors.join("; ")),
        (true, true) => "no reason given".to_owned(),
    }
}

/// Claude Code refuses `bypassPermissions` as root: say how to fix it.
fn explain_root(raw: &mut RawRun) {
    if raw
        .harness_message
        .as_deref()
        .is_some_and(|m| m.contains("root/sudo"))
    {
        raw.note(
            "Claude Code refuses permission_mode = \"bypassPermissions\" as root: set \
             `IS_SANDBOX = \"1\"` in [runners.claude.env] (in a sandboxed container), or choose \
             permission_mode = \"acceptEdits\"",
        );
    }
}

fn quota_exhausted(raw: &mut RawRun, events: &ClaudeEvents, text: &str) {
    let from_event = events.rate_limit.as_ref().and_then(|r| r.resets_at);
    let from_result = events
        .result
        .as_ref()
        .and_then(|r| r.pointer("/api_error_params/rate_limit_info/resetsAt"))
        .and_then(quota::from_epoch);
    let from_text = || quota::reset_time(text, jiff::Timestamp::now(), &jiff::tz::TimeZone::system());
    raw.quota_reset_at = from_event.or(from_result).or_else(from_text);
    raw.fail(
        ExitKind::QuotaExhausted,
        text,
        format!("claude rate limit rejected the run: {}", clip(text)),
    );
}

/// What the Claude stream said.
#[derive(Default)]
pub(crate) struct ClaudeEvents {
    pub(crate) result: Option<Value>,
    pub(crate) rate_limit: Option<RateLimit>,
    pub(crate) windows: Vec<RateLimit>,
    pub(crate) rejected: bool,
    /// An `authentication_failed` retry notice, in Claude's words.
    pub(crate) auth_failed: Option<String>,
    /// The last `api_retry` notice.
    pub(crate) retry: Option<String>,
    pub(crate) bad_lines: u64,
}

impl LineSink for ClaudeEvents {
    fn line(&mut self, line: &Line) -> Seen {
        let Some(event) = parse_counted(line, &mut self.bad_lines) else {
            return Seen::Other;
        };
        self.event(&event)
    }

    fn enough(&self) -> bool {
        self.auth_failed.is_some()
    }

    fn last_words(&self) -> Option<String> {
        self.retry.clone()
    }
}

impl ClaudeEvents {
    pub(crate) fn event(&mut self, event: &Value) -> Seen {
        match event.get("type").and_then(Value::as_str).unwrap_or_default() {
            "result" => self.result = Some(event.clone()),
            "rate_limit_event" => {
                self.rate_limit_event(event);
                return Seen::Waiting;
            }
            "system" if event.get("subtype").and_then(Value::as_str) == Some("api_retry") => {
                self.api_retry(event);
                return Seen::Waiting;
            }
            _ => {}
        }
        Seen::Progress
    }

    /// Claude retries a failed API call up to ten times over minutes; a
    /// bad key will not get better.
    fn api_retry(&mut self, event: &Value) {
        let error = event.get("error").and_then(Value::as_str).unwrap_or("api error");
        let status = event.get("error_status").and_then(Value::as_u64);
        let attempt = event.get("attempt").and_then(Value::as_u64).unwrap_or(0);
        let words = match status {
            Some(s) => format!("{error} (HTTP {s}), retry {attempt}"),
            None => format!("{error}, retry {attempt}"),
        };
        if error == "authentication_failed" || matches!(status, Some(401 | 403)) {
            self.auth_failed = Some(words.clone());
        }
        self.retry = Some(words);
    }

    /// Reads `{status, resetsAt, rateLimitType, utilization,
    /// unifiedWindows}`, nested under `rate_limit_info` or at the top.
    fn rate_limit_event(&mut self, event: &Value) {
        let info = event.get("rate_limit_info").unwrap_or(event);
        let status = info.get("status").and_then(Value::as_str).unwrap_or_default();
        let rejected = status == "rejected";
        self.rejected |= rejected;
        let window = info
            .get("rateLimitType")
            .and_then(Value::as_str)
            .unwrap_or("unknown");
        let primary = window_of(window, info, rejected);
        if let Some(windows) = info.get("unifiedWindows").and_then(Value::as_object) {
            for (name, w) in windows {
                let rejected = w.get("status").and_then(Value::as_str) == Some("rejected");
                let reading = window_of(name, w, rejected);
                self.windows.retain(|r| r.window != reading.window);
                self.windows.push(reading);
            }
        }
        self.rate_limit = Some(primary);
    }

    /// Copies what the stream said about usage and the final text.
    pub(crate) fn fill(&self, raw: &mut RawRun) {
        raw.rate_limit = self.rate_limit.clone();
        raw.rate_limits = self.windows.clone();
        if raw.rate_limits.is_empty() {
            raw.rate_limits.extend(self.rate_limit.clone());
        }
        if self.bad_lines > 0 {
            raw.note(format!("{} stdout lines were not JSON events", self.bad_lines));
        }
        if let Some(result) = &self.result {
            raw.token_usage = result.get("usage").map(usage_of);
            raw.cost_usd = result
                .get("total_cost_usd")
                .or_else(|| result.get("cost_usd"))
                .and_then(Value::as_f64);
            raw.final_message = result.get("result").and_then(Value::as_str).map(str::to_owned);
        }
    }
}

/// One window's reading: utilization is a fraction (or a percentage).
fn window_of(name: &str, info: &Value, rejected: bool) -> RateLimit {
    let used = info
        .get("utilization")
        .and_then(Value::as_f64)
        .map(|u| if u <= 1.0 { u * 100.0 } else { u });
    RateLimit {
        window: name.to_owned(),
        used_percent: used.unwrap_or(if rejected { 100.0 } else { 0.0 }),
        resets_at: info.get("resetsAt").and_then(quota::from_epoch),
    }
}

/// Claude usage: `input_tokens` excludes cache reads and writes, so the
/// input total adds them; `cached_input_tokens` is the cache reads; thinking
/// is part of the output.
fn usage_of(usage: &Value) -> TokenUsage {
    let n = |key: &str| usage.get(key).and_then(Value::as_u64).unwrap_or(0);
    let cached = n("cache_read_input_tokens");
    let written = n("cache_creation_input_tokens");
    let input = n("input_tokens").saturating_add(cached).saturating_add(written);
    let output = n("output_tokens");
    let thinking = usage
        .pointer("/output_tokens_details/thinking_tokens")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    TokenUsage {
        input_tokens: input,
        cached_input_tokens: cached,
        output_tokens: output,
        thinking_tokens: thinking,
        cache_write_tokens: written,
        total_tokens: input.saturating_add(output),
    }
}
