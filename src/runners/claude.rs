//! The `claude_code` runner: `claude -p --output-format stream-json
//! --verbose`, one process per stage.
//!
//! Input: the request, `[runners.claude]` and the prompt. Output: a
//! [`RawRun`] from the final `result` line (subtype, `is_error`, text,
//! usage, cost) and any `rate_limit_event`. Invariants: `is_error: true` is
//! a provider failure even with subtype `success`; a stream without its
//! `result` line is a transport failure.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::codex::{clip, parse_event};
use super::lines::Line;
use super::process::Invocation;
use super::quota;
use super::raw::RawRun;
use super::stream::{self, Ctx, Ending, LineSink};
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
    pub env: BTreeMap<String, String>,
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
}

impl ClaudePermissionMode {
    /// The flag value, as Claude Code spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            ClaudePermissionMode::Default => "default",
            ClaudePermissionMode::AcceptEdits => "acceptEdits",
            ClaudePermissionMode::Plan => "plan",
            ClaudePermissionMode::BypassPermissions => "bypassPermissions",
        }
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
    if !cfg.allowed_tools.is_empty() {
        args.extend(["--allowedTools".into(), cfg.allowed_tools.join(",")]);
    }
    if !cfg.disallowed_tools.is_empty() {
        args.extend(["--disallowedTools".into(), cfg.disallowed_tools.join(",")]);
    }
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

/// Runs the stage through Claude Code.
pub(crate) async fn run(ctx: &Ctx<'_>, cfg: &ClaudeConfig, prompt: &str) -> RawRun {
    let args = argv(ctx.req, cfg, prompt);
    let inv = Invocation {
        program: cfg.command.clone(),
        prompt_arg: Some(cfg.args.len() + 1),
        args,
        cwd: ctx.req.workspace_root.clone(),
        env: cfg.env.clone(),
        stdin: false,
    };
    let harness = match stream::start(ctx, "claude_code", inv, true) {
        Ok(h) => h,
        Err(raw) => return *raw,
    };
    let mut events = ClaudeEvents::default();
    let streamed = stream::pump(harness, &mut events).await;
    let mut raw = streamed.raw;
    raw.stdout_path = Some(ctx.files.stdout.clone());
    raw.stderr_path = Some(ctx.files.stderr.clone());
    raw.events_path = Some(ctx.files.events.clone());
    raw.rate_limit = events.rate_limit.clone();
    if events.bad_lines > 0 {
        raw.note(format!("{} stdout lines were not JSON events", events.bad_lines));
    }
    if let Some(result) = &events.result {
        raw.token_usage = result.get("usage").map(usage_of);
        raw.cost_usd = result
            .get("total_cost_usd")
            .or_else(|| result.get("cost_usd"))
            .and_then(Value::as_f64);
    }
    if streamed.ending == Ending::Exited {
        classify(&mut raw, &events, streamed.exit_code, &streamed.status_text);
    }
    if raw.exit == ExitKind::Completed {
        let text = events
            .result
            .as_ref()
            .and_then(|r| r.get("result"))
            .and_then(Value::as_str);
        raw.final_message = text.map(str::to_owned);
        if let Some(text) = &raw.final_message {
            // The final text also lands in the last-message file, so every
            // runner leaves the same artifact behind.
            let _ = fsx::write_replace(&ctx.files.last_message, text.as_bytes());
        }
    }
    raw
}

/// Decides how an exited Claude run ended.
fn classify(raw: &mut RawRun, events: &ClaudeEvents, exit_code: Option<i32>, status: &str) {
    let rejected = events.rejected;
    let Some(result) = &events.result else {
        if rejected {
            return quota_exhausted(raw, events, "rate limit rejected and no result line");
        }
        raw.exit = ExitKind::RunnerError;
        raw.note(format!(
            "claude {status} before its result line (stream cut short)"
        ));
        return;
    };
    let subtype = result.get("subtype").and_then(Value::as_str).unwrap_or_default();
    let is_error = result.get("is_error").and_then(Value::as_bool).unwrap_or(false);
    let text = result.get("result").and_then(Value::as_str).unwrap_or_default();
    match subtype {
        "error_max_turns" | "error_max_budget_usd" => {
            raw.exit = ExitKind::BudgetExhausted;
            raw.note(format!("claude stopped at its cap: {subtype}"));
        }
        _ if (is_error || subtype != "success") && rejected => quota_exhausted(raw, events, text),
        _ if is_error || subtype != "success" => {
            raw.exit = ExitKind::ProviderError;
            raw.note(format!("claude reported an error ({subtype}): {}", clip(text)));
        }
        _ if exit_code != Some(0) => {
            raw.exit = ExitKind::RunnerError;
            raw.note(format!("claude {status} despite a successful result line"));
        }
        _ => raw.exit = ExitKind::Completed,
    }
}

fn quota_exhausted(raw: &mut RawRun, events: &ClaudeEvents, text: &str) {
    raw.exit = ExitKind::QuotaExhausted;
    raw.quota_reset_at = events.rate_limit.as_ref().and_then(|r| r.resets_at);
    raw.note(format!("claude rate limit rejected the run: {}", clip(text)));
}

/// What the Claude stream said.
#[derive(Default)]
pub(crate) struct ClaudeEvents {
    result: Option<Value>,
    rate_limit: Option<RateLimit>,
    rejected: bool,
    bad_lines: u64,
}

impl LineSink for ClaudeEvents {
    fn line(&mut self, line: &Line) -> bool {
        let Some(event) = parse_event(line) else {
            self.bad_lines += u64::from(!line.bytes.iter().all(u8::is_ascii_whitespace));
            return false;
        };
        match event.get("type").and_then(Value::as_str).unwrap_or_default() {
            "result" => self.result = Some(event),
            "rate_limit_event" => self.rate_limit_event(&event),
            _ => {}
        }
        true
    }
}

impl ClaudeEvents {
    /// Reads `{status, resetsAt, rateLimitType, utilization}`, nested under
    /// `rate_limit_info` or at the top level.
    fn rate_limit_event(&mut self, event: &Value) {
        let info = event.get("rate_limit_info").unwrap_or(event);
        let status = info.get("status").and_then(Value::as_str).unwrap_or_default();
        let resets_at = info.get("resetsAt").and_then(quota::from_epoch);
        let window = info
            .get("rateLimitType")
            .and_then(Value::as_str)
            .unwrap_or("unknown");
        let rejected = status == "rejected";
        let used = info
            .get("utilization")
            .and_then(Value::as_f64)
            .map(|u| if u <= 1.0 { u * 100.0 } else { u });
        self.rejected |= rejected;
        self.rate_limit = Some(RateLimit {
            window: window.to_owned(),
            used_percent: used.unwrap_or(if rejected { 100.0 } else { 0.0 }),
            resets_at,
        });
    }
}

/// Claude usage: `input_tokens` excludes cache reads and writes, so the
/// input total adds them; `cached_input_tokens` is the cache reads.
fn usage_of(usage: &Value) -> TokenUsage {
    let n = |key: &str| usage.get(key).and_then(Value::as_u64).unwrap_or(0);
    let cached = n("cache_read_input_tokens");
    let input = n("input_tokens")
        .saturating_add(cached)
        .saturating_add(n("cache_creation_input_tokens"));
    let output = n("output_tokens");
    TokenUsage {
        input_tokens: input,
        cached_input_tokens: cached,
        output_tokens: output,
        thinking_tokens: 0,
        total_tokens: input.saturating_add(output),
    }
}
