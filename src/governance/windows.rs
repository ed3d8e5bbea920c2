//! Runtime token rules: sums of ledger entries over a window against a
//! threshold.
//!
//! Input: the rules, the ledger entries, and the moment and scope of the
//! evaluation ([`Scope`]). Output: one [`BlockerRecord`] per rule whose sum
//! reached its threshold. Pure: the clock is a parameter.
//!
//! Windows:
//! - `rolling_5h`: entries completed in the last five hours (an entry
//!   leaves the window exactly five hours after it completed); lifts when
//!   enough old entries have aged out;
//! - `calendar_week`: entries since Monday 00:00 in the configured zone;
//!   lifts at the next Monday 00:00;
//! - `daemon_session`: entries of the current lock session; never lifts by
//!   itself (the session must end);
//! - `per_run`: for each active run, that run's entries; never lifts by
//!   itself (the run must end or be requeued).

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan};

use crate::config::{TokenRule, TokenWindow};
use crate::workspace::usage::{BlockerRecord, LedgerEntry};

/// How far back `rolling_5h` looks.
pub(crate) const ROLLING_WINDOW: SignedDuration = SignedDuration::from_hours(5);

/// Where and when rules are evaluated.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Scope<'a> {
    pub now: Timestamp,
    pub tz: &'a TimeZone,
    /// The lock session of the running process.
    pub session: Option<&'a str>,
    /// Run ids of the active runs.
    pub active_runs: &'a [String],
}

/// The blockers of every rule that reached its threshold.
pub(crate) fn token_blockers(
    rules: &[TokenRule],
    entries: &[LedgerEntry],
    scope: Scope<'_>,
) -> Vec<BlockerRecord> {
    rules
        .iter()
        .filter_map(|rule| match rule.window {
            TokenWindow::Rolling5h => rolling(rule, entries, scope.now),
            TokenWindow::CalendarWeek => calendar_week(rule, entries, scope.now, scope.tz),
            TokenWindow::DaemonSession => session(rule, entries, scope.session),
            TokenWindow::PerRun => per_run(rule, entries, scope.active_runs),
        })
        .collect()
}

fn tokens(entry: &LedgerEntry) -> u64 {
    entry.token_usage.total_tokens
}

/// The entries' tokens, saturating (a ledger line is data, not a promise).
fn total<'a>(entries: impl Iterator<Item = &'a LedgerEntry>) -> u64 {
    entries.fold(0u64, |sum, e| sum.saturating_add(tokens(e)))
}

fn blocker(
    rule: &TokenRule,
    window: &str,
    observed: u64,
    next: Option<Timestamp>,
    detail: String,
) -> BlockerRecord {
    BlockerRecord {
        source: "runtime_token".into(),
        rule_id: rule.rule_id.clone(),
        window: window.into(),
        observed: observed as f64,
        threshold: rule.threshold as f64,
        metric: "total_tokens".into(),
        auto_resume_possible: next.is_some(),
        next_auto_resume_at: next,
        detail,
    }
}

/// Sums the last five hours; the blocker lifts when the oldest entries
/// whose removal brings the sum under the threshold have aged out.
fn rolling(rule: &TokenRule, entries: &[LedgerEntry], now: Timestamp) -> Option<BlockerRecord> {
    let since = now.checked_sub(ROLLING_WINDOW).unwrap_or(Timestamp::MIN);
    let mut inside: Vec<&LedgerEntry> = entries.iter().filter(|e| e.stage_completed_at > since).collect();
    let sum = total(inside.iter().copied());
    if sum < rule.threshold {
        return None;
    }
    inside.sort_by_key(|e| e.stage_completed_at);
    let mut left = sum;
    let mut lifts = None;
    for entry in inside {
        left = left.saturating_sub(tokens(entry));
        if left < rule.threshold {
            lifts = entry.stage_completed_at.checked_add(ROLLING_WINDOW).ok();
            break;
        }
    }
    let detail = format!("{sum} tokens in the last 5 hours");
    Some(blocker(rule, "rolling_5h", sum, lifts, detail))
}

fn calendar_week(
    rule: &TokenRule,
    entries: &[LedgerEntry],
    now: Timestamp,
    tz: &TimeZone,
) -> Option<BlockerRecord> {
    let start = week_start(now, tz);
    let sum = total(
        entries
            .iter()
            .filter(|e| e.stage_completed_at >= start && e.stage_completed_at <= now),
    );
    (sum >= rule.threshold).then(|| {
        let detail = format!("{sum} tokens since {start}");
        blocker(rule, "calendar_week", sum, next_week_start(now, tz), detail)
    })
}

fn session(rule: &TokenRule, entries: &[LedgerEntry], session: Option<&str>) -> Option<BlockerRecord> {
    let session = session?;
    let sum = total(
        entries
            .iter()
            .filter(|e| e.daemon_session_id.as_deref() == Some(session)),
    );
    (sum >= rule.threshold).then(|| {
        let detail = format!("{sum} tokens in session {session}");
        blocker(rule, "daemon_session", sum, None, detail)
    })
}

/// The busiest active run's own spend (the reference summed every entry
/// of the ledger here, so one long history blocked every new run).
fn per_run(rule: &TokenRule, entries: &[LedgerEntry], active: &[String]) -> Option<BlockerRecord> {
    let (run, sum) = active
        .iter()
        .map(|run| {
            let sum = total(entries.iter().filter(|e| &e.run_id == run));
            (run, sum)
        })
        .max_by_key(|(_, sum)| *sum)?;
    (sum >= rule.threshold).then(|| {
        let detail = format!("run {run} used {sum} tokens");
        blocker(rule, "per_run", sum, None, detail)
    })
}

/// How much of one token rule's window is used, whether or not it blocks
/// (for a dashboard: the same sums the blockers compare).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub(crate) struct WindowUse {
    pub rule_id: String,
    pub window: &'static str,
    pub observed: u64,
    pub threshold: u64,
    /// When the window starts over (`calendar_week` only).
    pub resets_at: Option<Timestamp>,
}

/// Every rule's current sum against its threshold.
pub(crate) fn usage(rules: &[TokenRule], entries: &[LedgerEntry], scope: Scope<'_>) -> Vec<WindowUse> {
    let since = scope.now.checked_sub(ROLLING_WINDOW).unwrap_or(Timestamp::MIN);
    rules
        .iter()
        .map(|rule| {
            let (window, observed, resets_at) = match rule.window {
                TokenWindow::Rolling5h => (
                    "rolling_5h",
                    total(entries.iter().filter(|e| e.stage_completed_at > since)),
                    None,
                ),
                TokenWindow::CalendarWeek => {
                    let start = week_start(scope.now, scope.tz);
                    let inside = entries
                        .iter()
                        .filter(|e| e.stage_completed_at >= start && e.stage_completed_at <= scope.now);
                    (
                        "calendar_week",
                        total(inside),
                        next_week_start(scope.now, scope.tz),
                    )
                }
                TokenWindow::DaemonSession => {
                    let mine = |e: &&LedgerEntry| {
                        scope.session.is_some() && e.daemon_session_id.as_deref() == scope.session
                    };
                    ("daemon_session", total(entries.iter().filter(mine)), None)
                }
                TokenWindow::PerRun => {
                    let busiest = scope
                        .active_runs
                        .iter()
                        .map(|run| total(entries.iter().filter(|e| &e.run_id == run)))
                        .max()
                        .unwrap_or(0);
                    ("per_run", busiest, None)
                }
            };
            WindowUse {
                rule_id: rule.rule_id.clone(),
                window,
                observed,
                threshold: rule.threshold,
                resets_at,
            }
        })
        .collect()
}

/// Monday 00:00 of `now`'s week in `tz`.
pub(crate) fn week_start(now: Timestamp, tz: &TimeZone) -> Timestamp {
    let date = now.to_zoned_datetime(tz.clone()).date();
    let back = i64::from(date.weekday().to_monday_zero_offset());
    let monday = date.checked_sub(back.days()).unwrap_or(date);
    midnight(monday, tz).unwrap_or(now)
}

/// Monday 00:00 of the week after `now`'s, in `tz`.
pub(crate) fn next_week_start(now: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
    let start = week_start(now, tz).to_zoned_datetime(tz.clone()).date();
    midnight(start.checked_add(7.days()).ok()?, tz)
}

/// The first instant of `date` in `tz` (a day that starts in a DST gap
/// starts at the first valid instant after it).
fn midnight(date: jiff::civil::Date, tz: &TimeZone) -> Option<Timestamp> {
    date.to_zoned_datetime(tz.clone()).ok().map(|z| z.timestamp())
}

/// The zone named in the config; an unknown name (or a host without a zone
/// database) falls back to UTC, with the reason.
pub(crate) fn resolve_timezone(name: &str) -> (TimeZone, Option<String>) {
    if name.eq_ignore_ascii_case("UTC") {
        return (TimeZone::UTC, None);
    }
    match TimeZone::get(name) {
        Ok(tz) => (tz, None),
        Err(e) => (
            TimeZone::UTC,
            Some(format!(
                "calendar_timezone `{name}` is unknown here ({e}); using UTC"
            )),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TokenMetric;
    use crate::model::TokenUsage;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn entry(run: &str, completed: &str, total: u64) -> LedgerEntry {
        LedgerEntry {
            dedupe_key: format!("{run}/{completed}"),
            counted_at: at(completed),
            stage_completed_at: at(completed),
            plane: "execution".into(),
            run_id: run.into(),
            stage_id: "builder".into(),
            work_item_kind: Some("task".into()),
            work_item_id: Some("t1".into()),
            token_usage: TokenUsage {
                total_tokens: total,
                ..TokenUsage::default()
            },
            stage_result_path: String::new(),
            daemon_session_id: Some(format!("session-{run}")),
            cost_usd: None,
        }
    }

    fn rule(window: TokenWindow, threshold: u64) -> TokenRule {
        TokenRule {
            rule_id: "r".into(),
            window,
            metric: TokenMetric::TotalTokens,
            threshold,
        }
    }

    fn eval(rule: &TokenRule, entries: &[LedgerEntry], now: &str, active: &[&str]) -> Option<BlockerRecord> {
        let active: Vec<String> = active.iter().map(|s| s.to_string()).collect();
        let scope = Scope {
            now: at(now),
            tz: &TimeZone::UTC,
            session: Some("session-a"),
            active_runs: &active,
        };
        token_blockers(std::slice::from_ref(rule), entries, scope).pop()
    }

    #[test]
    fn usage_reports_the_sums_the_blockers_compare_below_and_at_the_threshold() {
        let entries = [
            entry("a", "2026-11-23T09:00:00Z", 100),
            entry("a", "2026-11-24T10:00:00Z", 300),
            entry("b", "2026-11-24T10:30:00Z", 50),
        ];
        let rules = [
            rule(TokenWindow::Rolling5h, 10_000),
            rule(TokenWindow::CalendarWeek, 400),
            rule(TokenWindow::DaemonSession, 10_000),
            rule(TokenWindow::PerRun, 10_000),
        ];
        let active = vec!["a".to_string(), "b".to_string()];
        let scope = Scope {
            now: at("2026-11-24T11:00:00Z"),
            tz: &TimeZone::UTC,
            session: Some("session-a"),
            active_runs: &active,
        };
        let used: Vec<(&str, u64)> = usage(&rules, &entries, scope)
            .iter()
            .map(|u| (u.window, u.observed))
            .collect();
        // 2026-11-24 is a Tuesday: the week began on the 23rd.
        assert_eq!(
            used,
            [
                ("rolling_5h", 350),
                ("calendar_week", 450),
                ("daemon_session", 400),
                ("per_run", 400)
            ]
        );
        let blocked = token_blockers(&rules[1..2], &entries, scope);
        assert_eq!(blocked[0].observed, 450.0, "the same sum as the blocker's");
    }

    #[test]
    fn rolling_5h_blocks_until_the_oldest_needed_entry_ages_out() {
        let entries = [
            entry("a", "2026-11-24T08:00:00Z", 300),
            entry("a", "2026-11-24T09:00:00Z", 300),
            entry("a", "2026-11-24T10:00:00Z", 300),
        ];
        let r = rule(TokenWindow::Rolling5h, 600);
        let b = eval(&r, &entries, "2026-11-24T11:00:00Z", &[]).unwrap();
        assert_eq!(b.observed, 900.0);
        // Dropping the 08:00 entry leaves 600 (still at the threshold); the
        // 09:00 one must go too.
        assert_eq!(b.next_auto_resume_at, Some(at("2026-11-24T14:00:00Z")));
        assert!(b.auto_resume_possible);
        assert!(eval(&r, &entries, "2026-11-24T13:59:59Z", &[]).is_some());
        assert!(eval(&r, &entries, "2026-11-24T14:00:00Z", &[]).is_none());
        assert!(
            eval(
                &rule(TokenWindow::Rolling5h, 901),
                &entries,
                "2026-11-24T11:00:00Z",
                &[]
            )
            .is_none()
        );
    }

    #[test]
    fn calendar_week_starts_on_monday_midnight_in_the_zone() {
        // New York is UTC-5 in November: Monday 00:00 local is 05:00 UTC.
        let tz = TimeZone::posix("EST5EDT,M3.2.0,M11.1.0").unwrap();
        let now = at("2026-11-25T12:00:00Z"); // a Wednesday
        assert_eq!(week_start(now, &tz), at("2026-11-23T05:00:00Z"));
        assert_eq!(next_week_start(now, &tz), Some(at("2026-11-30T05:00:00Z")));
        // Sunday 23:30 local is still the previous week.
        assert_eq!(
            week_start(at("2026-11-23T04:30:00Z"), &tz),
            at("2026-11-16T05:00:00Z")
        );
        let entries = [
            entry("a", "2026-11-23T04:59:59Z", 500),
            entry("a", "2026-11-23T05:00:00Z", 500),
        ];
        let r = rule(TokenWindow::CalendarWeek, 500);
        let scope = Scope {
            now,
            tz: &tz,
            session: None,
            active_runs: &[],
        };
        let b = token_blockers(std::slice::from_ref(&r), &entries, scope)
            .pop()
            .unwrap();
        assert_eq!(b.observed, 500.0, "the Sunday-night entry belongs to last week");
        assert_eq!(b.next_auto_resume_at, Some(at("2026-11-30T05:00:00Z")));
        let utc = Scope {
            tz: &TimeZone::UTC,
            ..scope
        };
        let b = token_blockers(std::slice::from_ref(&r), &entries, utc)
            .pop()
            .unwrap();
        assert_eq!(b.observed, 1000.0, "in UTC both entries are this week");
    }

    #[test]
    fn daemon_session_counts_only_this_session() {
        let entries = [
            entry("a", "2026-11-24T08:00:00Z", 400),
            entry("b", "2026-11-24T08:00:00Z", 400),
        ];
        let b = eval(
            &rule(TokenWindow::DaemonSession, 400),
            &entries,
            "2026-11-24T09:00:00Z",
            &[],
        )
        .unwrap();
        assert_eq!(b.observed, 400.0);
        assert!(!b.auto_resume_possible && b.next_auto_resume_at.is_none());
        assert!(
            eval(
                &rule(TokenWindow::DaemonSession, 401),
                &entries,
                "2026-11-24T09:00:00Z",
                &[]
            )
            .is_none()
        );
    }

    #[test]
    fn per_run_counts_only_each_active_runs_own_entries() {
        let entries = [
            entry("old", "2026-11-24T08:00:00Z", 5000),
            entry("a", "2026-11-24T08:00:00Z", 300),
            entry("b", "2026-11-24T08:10:00Z", 700),
            entry("b", "2026-11-24T08:20:00Z", 400),
        ];
        let r = rule(TokenWindow::PerRun, 1000);
        assert!(
            eval(&r, &entries, "2026-11-24T09:00:00Z", &["a"]).is_none(),
            "a finished run's spend does not count against a new one"
        );
        let b = eval(&r, &entries, "2026-11-24T09:00:00Z", &["a", "b"]).unwrap();
        assert_eq!(b.observed, 1100.0);
        assert!(b.detail.contains("run b"));
        assert!(!b.auto_resume_possible);
        assert!(eval(&r, &entries, "2026-11-24T09:00:00Z", &[]).is_none());
    }

    #[test]
    fn unknown_zones_fall_back_to_utc() {
        let (tz, note) = resolve_timezone("Nowhere/Atlantis");
        assert_eq!(tz, TimeZone::UTC);
        assert!(note.unwrap().contains("Nowhere/Atlantis"));
        assert!(resolve_timezone("UTC").1.is_none());
    }
}
