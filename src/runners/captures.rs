//! The parsers and classifiers against what the real CLIs printed
//! (`tests/fixtures/captures/`): each capture must come out as the class
//! its README table names, with the usage and reset it carries.

use serde_json::Value;

use super::claude::{self, ClaudeEvents};
use super::codex::{self, CodexEvents};
use super::gemini::{self, GeminiEvents};
use super::pi::classify_session;
use super::pi::rpc::Session;
use super::raw::RawRun;
use super::stream::{self, Exit, Seen};
use crate::model::{ExitKind, TokenUsage};

fn capture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/captures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn records(name: &str) -> Vec<Value> {
    capture(name)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{name}: {e}: {l}")))
        .collect()
}

fn exit(code: i32, events: u64) -> Exit {
    Exit {
        code: Some(code),
        status: format!("exited with status {code}"),
        events,
    }
}

/// A raw run as the stream leaves it, stderr tail included.
fn raw_with_stderr(name: &str) -> RawRun {
    let mut raw = RawRun::new(ExitKind::Completed);
    let path = format!("{}/tests/fixtures/captures/{name}", env!("CARGO_MANIFEST_DIR"));
    raw.stderr_tail = stream::stderr_tail(std::path::Path::new(&path));
    raw
}

fn codex_run(name: &str, code: i32) -> RawRun {
    let mut events = CodexEvents::default();
    let seen = records(&format!("{name}.out"))
        .iter()
        .map(|r| events.event(r))
        .count() as u64;
    let mut raw = raw_with_stderr(&format!("{name}.err"));
    raw.token_usage = events.usage;
    codex::classify(&mut raw, &events, &exit(code, seen));
    raw
}

#[test]
fn codex_success_usage_and_cache_writes() {
    let raw = codex_run("x-openai_success", 0);
    assert_eq!(raw.exit, ExitKind::Completed);
    let usage = raw.token_usage.unwrap();
    assert_eq!(
        (
            usage.input_tokens,
            usage.cached_input_tokens,
            usage.output_tokens,
            usage.thinking_tokens
        ),
        (1234, 200, 56, 7)
    );
    assert_eq!(usage.total_tokens, 1290);
}

#[test]
fn codex_failures_by_class() {
    let limit = codex_run("x-openai_usage_limit", 1);
    assert_eq!(limit.exit, ExitKind::QuotaExhausted);
    assert!(
        limit.quota_reset_at.is_some(),
        "\"try again at 10:24 PM\" is a reset"
    );
    let credit = codex_run("x-openai_insufficient_quota", 1);
    assert_eq!(credit.exit, ExitKind::HarnessUnavailable);
    assert_eq!(
        credit.harness_message.as_deref(),
        Some("Quota exceeded. Check your plan and billing details.")
    );
    let server = codex_run("x-openai_500", 1);
    assert_eq!(server.exit, ExitKind::ProviderTransient);
}

#[test]
fn codex_reconnect_notices_are_not_progress() {
    let mut events = CodexEvents::default();
    let line = serde_json::json!({"type": "error", "message": "Reconnecting... 1/5 (waiting for network)"});
    assert_eq!(events.event(&line), Seen::Waiting);
    assert!(events.error_text.is_none());
    let started = serde_json::json!({"type": "turn.started"});
    assert_eq!(events.event(&started), Seen::Progress);
}

fn claude_events(name: &str, stop_when_enough: bool) -> (ClaudeEvents, u64) {
    let mut events = ClaudeEvents::default();
    let mut seen = 0;
    for record in records(name) {
        events.event(&record);
        seen += 1;
        if stop_when_enough && super::stream::LineSink::enough(&events) {
            break;
        }
    }
    (events, seen)
}

fn claude_run(name: &str, code: i32, stop_when_enough: bool) -> RawRun {
    let (events, seen) = claude_events(&format!("{name}.out"), stop_when_enough);
    let mut raw = RawRun::new(ExitKind::Completed);
    events.fill(&mut raw);
    claude::classify(&mut raw, &events, &exit(code, seen));
    raw
}

#[test]
fn claude_success_usage_cost_and_thinking() {
    let raw = claude_run("c-anthropic_success", 0, true);
    assert_eq!(raw.exit, ExitKind::Completed);
    let usage = raw.token_usage.unwrap();
    assert_eq!(
        usage,
        TokenUsage {
            input_tokens: 471,
            cached_input_tokens: 50,
            output_tokens: 42,
            thinking_tokens: 0,
            cache_write_tokens: 100,
            total_tokens: 513,
        }
    );
    assert_eq!(raw.cost_usd, Some(0.002634));
    assert!(raw.final_message.unwrap().ends_with("### BUILDER_COMPLETE"));
}

#[test]
fn claude_bad_key_stops_at_the_first_authentication_retry() {
    let (_, seen) = claude_events("c-anthropic_401.out", true);
    assert_eq!(seen, 2, "the init line, then the first api_retry");
    let raw = claude_run("c-anthropic_401", 1, true);
    assert_eq!(raw.exit, ExitKind::HarnessUnavailable);
    // Had it run to the end, the result line says the same.
    let raw = claude_run("c-anthropic_401", 1, false);
    assert_eq!(raw.exit, ExitKind::HarnessUnavailable);
    assert_eq!(
        raw.harness_message.as_deref(),
        Some("Invalid API key · Fix external API key")
    );
}

#[test]
fn claude_429s_are_quota_with_or_without_a_reset() {
    let api_key = claude_run("c-anthropic_429_unified", 1, true);
    assert_eq!(api_key.exit, ExitKind::QuotaExhausted);
    assert_eq!(
        api_key.quota_reset_at, None,
        "no reset given: the runtime backs off"
    );
    let subscription = claude_run("c-anthropic_429_unified-oauth", 1, true);
    assert_eq!(subscription.exit, ExitKind::QuotaExhausted);
    assert_eq!(
        subscription.quota_reset_at.map(|t| t.as_second()),
        Some(1_796_160_580)
    );
    let five_hour = subscription
        .rate_limits
        .iter()
        .find(|w| w.window == "five_hour")
        .unwrap();
    assert_eq!(five_hour.used_percent, 100.0);
}

#[test]
fn a_claude_per_minute_429_is_transient() {
    let raw = claude_run("c-anthropic_429_plain", 1, true);
    assert_eq!(raw.exit, ExitKind::ProviderTransient, "{:?}", raw.notes);
    assert_eq!(raw.quota_reset_at, None);
}

#[test]
fn claude_as_root_is_a_harness_failure_that_says_the_fix() {
    let mut raw = RawRun::new(ExitKind::Completed);
    raw.stderr_tail = vec![
        "--dangerously-skip-permissions cannot be used with root/sudo privileges for security reasons".into(),
    ];
    claude::classify(&mut raw, &ClaudeEvents::default(), &exit(1, 0));
    assert_eq!(raw.exit, ExitKind::HarnessUnavailable);
    assert!(
        raw.notes.iter().any(|n| n.contains("IS_SANDBOX")),
        "{:?}",
        raw.notes
    );
}

/// Feeds a Pi capture to a session; returns it and whether the run was
/// over at each failed `agent_end` (before any retry notice).
fn pi_session(name: &str) -> (Session, Vec<bool>) {
    let mut session = Session::default();
    let mut over_at_failed_end = Vec::new();
    for record in records(name) {
        session.observe(&record);
        if record.get("type").and_then(Value::as_str) == Some("agent_end") && session.failed() {
            over_at_failed_end.push(session.over());
        }
    }
    (session, over_at_failed_end)
}

#[test]
fn pi_follows_its_own_retries_to_the_last_agent_end() {
    let (session, _) = pi_session("p-anthropic_429_plain.out");
    assert!(session.over() && session.failed() && session.retry_gave_up);
    let mut raw = RawRun::new(ExitKind::Completed);
    classify_session(&mut raw, &session);
    assert_eq!(raw.exit, ExitKind::ProviderTransient);

    let (session, _) = pi_session("p-anthropic_429_then_success.out");
    assert!(session.over() && !session.failed(), "the retry succeeded");

    let (session, _) = pi_session("p-anthropic_401.out");
    assert!(session.over() && session.failed() && !session.retry_gave_up);
    let mut raw = RawRun::new(ExitKind::Completed);
    classify_session(&mut raw, &session);
    assert_eq!(raw.exit, ExitKind::HarnessUnavailable);

    let (session, _) = pi_session("p-anthropic_429_unified.out");
    assert!(
        !session.over(),
        "Pi sleeps on the retry-after: only the watchdog ends it"
    );
}

fn gemini_run(name: &str, code: i32) -> (RawRun, GeminiEvents) {
    let mut events = GeminiEvents::default();
    let seen = records(&format!("{name}.out"))
        .iter()
        .map(|r| events.event(r))
        .count() as u64;
    let mut raw = raw_with_stderr(&format!("{name}.err"));
    gemini::classify(&mut raw, &events, &exit(code, seen));
    raw.token_usage = events.usage();
    (raw, events)
}

#[test]
fn gemini_success_joins_deltas_and_reads_stats() {
    let (raw, events) = gemini_run("g-gemini_success-stream-json", 0);
    assert_eq!(raw.exit, ExitKind::Completed);
    assert_eq!(events.text, "I wrote src/hello.txt.\n\n### BUILDER_COMPLETE");
    let usage = raw.token_usage.unwrap();
    assert_eq!(
        (
            usage.input_tokens,
            usage.cached_input_tokens,
            usage.output_tokens,
            usage.thinking_tokens,
            usage.total_tokens
        ),
        (9000, 1800, 240, 120, 9360)
    );
}

#[test]
fn gemini_failures_by_class() {
    let (key, _) = gemini_run("g-gemini_400_key-stream-json", 144);
    assert_eq!(key.exit, ExitKind::HarnessUnavailable);
    let (quota, _) = gemini_run("g-gemini_429-stream-json", 173);
    assert_eq!(quota.exit, ExitKind::QuotaExhausted);
    assert_eq!(
        quota.quota_reset_at, None,
        "a daily quota names no reset: back off"
    );
    // A per-minute quota quotes "check your plan and billing details" too,
    // yet passes in seconds.
    let (per_minute, _) = gemini_run("g-gemini_429_rate-stream-json", 173);
    assert_eq!(
        per_minute.exit,
        ExitKind::ProviderTransient,
        "{:?}",
        per_minute.notes
    );
    let mut raw = RawRun::new(ExitKind::Completed);
    raw.stderr_tail = vec!["Please set an Auth method in your settings.json".into()];
    gemini::classify(&mut raw, &GeminiEvents::default(), &exit(41, 0));
    assert_eq!(raw.exit, ExitKind::HarnessUnavailable);
}
