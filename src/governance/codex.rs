//! Codex subscription telemetry: the rate-limit records Codex writes into its
//! session rollouts (`$CODEX_HOME/sessions/YYYY/MM/DD/rollout-*.jsonl`).
//!
//! Input: the Codex home directory (passed in; never looked up here, so
//! tests stay off the real home) and the clock. Output: the newest
//! five-hour and weekly readings, or why there are none (degraded).
//!
//! Invariants: reads only the [`NEWEST_FILES`] most recently modified
//! rollouts and only their last [`TAIL_BYTES`]; walks newest line first;
//! never follows symlinked directories; no network; a malformed line is
//! skipped.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use jiff::Timestamp;
use serde_json::Value;

use super::quota::window_name;
use crate::config::QuotaWindow;
use crate::workspace::fsx;
use crate::workspace::usage::WindowReading;

/// How many session files are looked at.
pub(crate) const NEWEST_FILES: usize = 20;
/// How much of the end of each file is read.
pub(crate) const TAIL_BYTES: u64 = 512_000;
/// How deep the session tree is walked (`YYYY/MM/DD/` plus slack).
const MAX_DEPTH: usize = 6;

/// The readings of the newest rollout that has any, or why none was found.
pub(crate) fn read_rate_limits(
    codex_home: Option<&Path>,
    now: Timestamp,
) -> Result<Vec<WindowReading>, String> {
    let Some(home) = codex_home else {
        return Err("quota_telemetry_unavailable: neither CODEX_HOME nor HOME is set".into());
    };
    let sessions = home.join("sessions");
    if !fsx::is_dir(&sessions) {
        return Err(format!(
            "quota_telemetry_unavailable: `{}` does not exist",
            sessions.display()
        ));
    }
    let mut files = Vec::new();
    collect(&sessions, 0, &mut files);
    files.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| b.1.cmp(&a.1)));
    for (_, path) in files.iter().take(NEWEST_FILES) {
        let Some(tail) = read_tail(path) else { continue };
        let found = tail.lines().rev().find_map(|line| readings_of_line(line, now));
        if let Some(windows) = found {
            return Ok(windows);
        }
    }
    Err(format!(
        "quota_telemetry_unavailable: no rate-limit record in the {} newest session files",
        NEWEST_FILES.min(files.len())
    ))
}

/// `*.jsonl` files under `dir` with their modification times.
fn collect(dir: &Path, depth: usize, out: &mut Vec<(SystemTime, PathBuf)>) {
    for entry in fsx::list_entries(dir).unwrap_or_default() {
        if entry.is_dir && depth < MAX_DEPTH {
            collect(&entry.path, depth + 1, out);
        } else if entry.is_file && entry.path.extension().is_some_and(|e| e == "jsonl") {
            out.push((entry.modified.unwrap_or(SystemTime::UNIX_EPOCH), entry.path));
        }
    }
}

/// The last [`TAIL_BYTES`] of a file, starting at a whole line.
fn read_tail(path: &Path) -> Option<String> {
    let (bytes, cut) = fsx::read_tail(path, TAIL_BYTES)?;
    let mut text = String::from_utf8_lossy(&bytes).into_owned();
    if cut {
        // The first line was cut by the seek.
        let cut = text.find('\n').map_or(text.len(), |i| i + 1);
        text.drain(..cut);
    }
    Some(text)
}

/// The windows of a `token_count` event line that carries rate limits.
/// (Exec sessions may write `rate_limits: null`; such lines are passed over
/// for an older one that has them.)
pub(crate) fn readings_of_line(line: &str, now: Timestamp) -> Option<Vec<WindowReading>> {
    let event: Value = serde_json::from_str(line).ok()?;
    let payload = event.get("payload")?;
    let is_count = event.get("type").and_then(Value::as_str) == Some("event_msg")
        && payload.get("type").and_then(Value::as_str) == Some("token_count");
    if !is_count {
        return None;
    }
    let limits = payload.get("rate_limits")?;
    let logged = event
        .get("timestamp")
        .and_then(Value::as_str)
        .and_then(|t| t.parse::<Timestamp>().ok());
    let windows: Vec<WindowReading> = [
        ("primary", QuotaWindow::FiveHour),
        ("secondary", QuotaWindow::Weekly),
    ]
    .into_iter()
    .filter_map(|(key, by_position)| window(limits.get(key)?, by_position, logged, now))
    .collect();
    (!windows.is_empty()).then_some(windows)
}

/// One `{used_percent, window_minutes?, resets_at? | resets_in_seconds?}`.
fn window(
    value: &Value,
    by_position: QuotaWindow,
    logged: Option<Timestamp>,
    now: Timestamp,
) -> Option<WindowReading> {
    let percent = value.get("used_percent").and_then(Value::as_f64)?;
    // The window length names the window when present; the position
    // (primary = five hours, secondary = weekly) otherwise.
    let which = match value.get("window_minutes").and_then(Value::as_u64) {
        Some(minutes) if minutes < 24 * 60 => QuotaWindow::FiveHour,
        Some(_) => QuotaWindow::Weekly,
        None => by_position,
    };
    let resets_at = match value.get("resets_at") {
        Some(Value::Number(n)) => n.as_i64().and_then(|s| Timestamp::from_second(s).ok()),
        Some(Value::String(s)) => s.parse().ok(),
        _ => None,
    }
    .or_else(|| {
        let secs = value.get("resets_in_seconds").and_then(Value::as_i64)?;
        logged?.checked_add(jiff::SignedDuration::from_secs(secs)).ok()
    });
    Some(WindowReading {
        window: window_name(which).into(),
        percent_used: percent.clamp(0.0, 100.0),
        resets_at,
        read_at: now,
        source: "codex_rollout".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2026-11-24T10:00:00Z".parse().unwrap()
    }

    fn count_line(primary: f64, secondary: f64) -> String {
        format!(
            r#"{{"timestamp":"2026-11-24T09:59:00Z","type":"event_msg","payload":{{"type":"token_count","info":null,"rate_limits":{{"primary":{{"used_percent":{primary},"window_minutes":300,"resets_at":1795600000}},"secondary":{{"used_percent":{secondary},"window_minutes":10080,"resets_at":1796000000}}}}}}}}"#
        )
    }

    #[test]
    fn the_newest_line_of_the_newest_file_wins() {
        let home = tempfile::tempdir().unwrap();
        let day = home.path().join("sessions/2026/11/24");
        std::fs::create_dir_all(&day).unwrap();
        let old = day.join("rollout-a.jsonl");
        std::fs::write(&old, format!("{}\n", count_line(99.0, 99.0))).unwrap();
        // Make the first file clearly older.
        let past = SystemTime::now() - std::time::Duration::from_secs(3600);
        std::fs::File::options()
            .write(true)
            .open(&old)
            .unwrap()
            .set_modified(past)
            .unwrap();
        let null_limits = r#"{"type":"event_msg","payload":{"type":"token_count","rate_limits":null}}"#;
        let text = format!(
            "{}\n{}\n{null_limits}\nnot json\n{{\"type\":\"response_item\",\"payload\":{{}}}}\n",
            count_line(10.0, 20.0),
            count_line(42.5, 61.0)
        );
        std::fs::write(day.join("rollout-b.jsonl"), text).unwrap();
        let windows = read_rate_limits(Some(home.path()), now()).unwrap();
        assert_eq!(windows.len(), 2);
        assert_eq!(windows[0].window, "five_hour");
        assert_eq!(windows[0].percent_used, 42.5);
        assert_eq!(
            windows[0].resets_at,
            Some(Timestamp::from_second(1_795_600_000).unwrap())
        );
        assert_eq!(windows[1].window, "weekly");
        assert_eq!(windows[1].percent_used, 61.0);
    }

    #[test]
    fn only_the_tail_of_a_large_file_is_read() {
        let home = tempfile::tempdir().unwrap();
        let dir = home.path().join("sessions");
        std::fs::create_dir_all(&dir).unwrap();
        // A reading at the head, then more than the tail of filler.
        let mut text = format!("{}\n", count_line(77.0, 1.0));
        let filler = format!(
            "{{\"type\":\"response_item\",\"payload\":{{\"pad\":\"{}\"}}}}\n",
            "x".repeat(1000)
        );
        while (text.len() as u64) < TAIL_BYTES + 10_000 {
            text.push_str(&filler);
        }
        std::fs::write(dir.join("rollout.jsonl"), &text).unwrap();
        let err = read_rate_limits(Some(home.path()), now()).unwrap_err();
        assert!(err.contains("no rate-limit record"), "{err}");
        text.push_str(&count_line(12.0, 3.0));
        text.push('\n');
        std::fs::write(dir.join("rollout.jsonl"), &text).unwrap();
        let windows = read_rate_limits(Some(home.path()), now()).unwrap();
        assert_eq!(windows[0].percent_used, 12.0);
    }

    #[test]
    fn a_missing_sessions_directory_is_degraded() {
        let home = tempfile::tempdir().unwrap();
        let err = read_rate_limits(Some(home.path()), now()).unwrap_err();
        assert!(err.starts_with("quota_telemetry_unavailable"), "{err}");
        assert!(read_rate_limits(None, now()).is_err());
    }

    #[test]
    fn relative_reset_times_count_from_the_line() {
        let line = r#"{"timestamp":"2026-11-24T09:00:00Z","type":"event_msg","payload":{"type":"token_count","rate_limits":{"primary":{"used_percent":5,"resets_in_seconds":600}}}}"#;
        let w = readings_of_line(line, now()).unwrap();
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].resets_at, Some("2026-11-24T09:10:00Z".parse().unwrap()));
    }
}
