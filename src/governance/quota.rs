//! Subscription-quota rules: the harness's own view of its five-hour and
//! weekly windows against `pause_at_percent_used`.
//!
//! Input: the rules, the readings (from the provider's telemetry files and
//! from stage results), and the clock. Output: the merged [`QuotaStatus`]
//! and one [`BlockerRecord`] per rule over its limit. Pure.
//!
//! Invariants: a reading whose reset time has passed no longer counts (the
//! window reset since; telemetry files go quiet while the runtime is paused,
//! so without this a pause would never lift); of two readings of one window
//! the newer wins; degraded telemetry blocks only under `fail_closed`.

use std::collections::BTreeMap;

use jiff::Timestamp;

use crate::config::{DegradedPolicy, QuotaRules, QuotaWindow};
use crate::model::RateLimit;
use crate::workspace::usage::{BlockerRecord, QuotaState, QuotaStatus, WindowReading};

/// The rule id of the blocker degraded telemetry raises under `fail_closed`.
pub(crate) const DEGRADED_RULE_ID: &str = "subscription-quota-degraded-fail-closed";

/// The state-file name of a window.
pub(crate) fn window_name(window: QuotaWindow) -> &'static str {
    match window {
        QuotaWindow::FiveHour => "five_hour",
        QuotaWindow::Weekly => "weekly",
    }
}

/// Our window for a harness's window label (Claude's `rateLimitType`:
/// `five_hour`, `seven_day`, `seven_day_opus`, ...); other labels are not
/// subscription windows the rules know.
pub(crate) fn window_of_label(label: &str) -> Option<QuotaWindow> {
    let label = label.to_ascii_lowercase();
    if label == "five_hour" || label == "5h" || label == "primary" {
        Some(QuotaWindow::FiveHour)
    } else if label.starts_with("seven_day") || label == "weekly" || label == "secondary" {
        Some(QuotaWindow::Weekly)
    } else {
        None
    }
}

/// A reading from a stage result's rate-limit report.
pub(crate) fn reading_of(rate: &RateLimit, runner: &str, now: Timestamp) -> Option<WindowReading> {
    let window = window_of_label(&rate.window)?;
    rate.used_percent.is_finite().then(|| WindowReading {
        window: window_name(window).into(),
        percent_used: rate.used_percent.clamp(0.0, 100.0),
        resets_at: rate.resets_at,
        read_at: now,
        source: format!("stage_result:{runner}"),
    })
}

/// Whether a reading still describes the current window.
fn current(reading: &WindowReading, now: Timestamp) -> bool {
    reading.resets_at.is_none_or(|at| at > now)
}

/// What the provider's telemetry said at its last read.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ProviderRead {
    pub at: Timestamp,
    /// The windows read, or why none could be.
    pub windows: Result<Vec<WindowReading>, String>,
}

/// Merges the provider's readings with the ones stage results reported
/// (the newer of each window wins) and judges the telemetry's health.
pub(crate) fn status(
    rules: &QuotaRules,
    provider: Option<&ProviderRead>,
    reported: &BTreeMap<String, WindowReading>,
) -> QuotaStatus {
    let mut status = QuotaStatus {
        enabled: rules.enabled,
        provider: rules.provider.clone(),
        state: QuotaState::Disabled,
        degraded_policy: policy_name(rules.degraded_policy).into(),
        detail: None,
        last_refreshed_at: provider.map(|p| p.at),
        windows: BTreeMap::new(),
    };
    if !rules.enabled {
        return status;
    }
    status.windows = reported.clone();
    if let Some(read) = provider {
        match &read.windows {
            Ok(windows) => {
                for w in windows {
                    let newer = status
                        .windows
                        .get(&w.window)
                        .is_none_or(|old| old.read_at <= w.read_at);
                    if newer {
                        status.windows.insert(w.window.clone(), w.clone());
                    }
                }
            }
            Err(why) => status.detail = Some(why.clone()),
        }
    }
    status.state = if status.windows.is_empty() {
        if status.detail.is_none() {
            status.detail = Some("quota_telemetry_unavailable: no rate-limit reading yet".into());
        }
        QuotaState::Degraded
    } else {
        QuotaState::Healthy
    };
    status
}

fn policy_name(policy: DegradedPolicy) -> &'static str {
    match policy {
        DegradedPolicy::FailOpen => "fail_open",
        DegradedPolicy::FailClosed => "fail_closed",
    }
}

/// The blockers the quota rules raise over `status`.
pub(crate) fn quota_blockers(rules: &QuotaRules, status: &QuotaStatus, now: Timestamp) -> Vec<BlockerRecord> {
    if !rules.enabled {
        return Vec::new();
    }
    if status.state == QuotaState::Degraded {
        if rules.degraded_policy == DegradedPolicy::FailOpen {
            return Vec::new();
        }
        return vec![BlockerRecord {
            source: "subscription_quota".into(),
            rule_id: DEGRADED_RULE_ID.into(),
            window: "degraded".into(),
            observed: 100.0,
            threshold: 100.0,
            metric: "percent_used".into(),
            auto_resume_possible: false,
            next_auto_resume_at: None,
            detail: status.detail.clone().unwrap_or_default(),
        }];
    }
    rules
        .rules
        .iter()
        .filter_map(|rule| {
            let reading = status.windows.get(window_name(rule.window))?;
            let over = current(reading, now) && reading.percent_used >= rule.pause_at_percent_used;
            over.then(|| BlockerRecord {
                source: "subscription_quota".into(),
                rule_id: rule.rule_id.clone(),
                window: reading.window.clone(),
                observed: reading.percent_used,
                threshold: rule.pause_at_percent_used,
                metric: "percent_used".into(),
                auto_resume_possible: reading.resets_at.is_some(),
                next_auto_resume_at: reading.resets_at,
                detail: format!("{}% used ({})", reading.percent_used, reading.source),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn rules(policy: DegradedPolicy) -> QuotaRules {
        QuotaRules {
            enabled: true,
            degraded_policy: policy,
            ..QuotaRules::default()
        }
    }

    fn reading(window: &str, percent: f64, resets: &str, read: &str, source: &str) -> WindowReading {
        WindowReading {
            window: window.into(),
            percent_used: percent,
            resets_at: Some(at(resets)),
            read_at: at(read),
            source: source.into(),
        }
    }

    #[test]
    fn degraded_telemetry_blocks_only_when_failing_closed() {
        let read = ProviderRead {
            at: at("2026-11-24T10:00:00Z"),
            windows: Err("quota_telemetry_unavailable: no sessions".into()),
        };
        let now = at("2026-11-24T10:00:00Z");
        for (policy, blocks) in [
            (DegradedPolicy::FailOpen, false),
            (DegradedPolicy::FailClosed, true),
        ] {
            let rules = rules(policy);
            let s = status(&rules, Some(&read), &BTreeMap::new());
            assert_eq!(s.state, QuotaState::Degraded);
            assert_eq!(
                s.detail.as_deref(),
                Some("quota_telemetry_unavailable: no sessions")
            );
            let b = quota_blockers(&rules, &s, now);
            assert_eq!(!b.is_empty(), blocks, "{policy:?}");
            if blocks {
                assert_eq!(b[0].rule_id, DEGRADED_RULE_ID);
                assert!(!b[0].auto_resume_possible);
            }
        }
    }

    #[test]
    fn a_window_over_its_limit_blocks_until_it_resets() {
        let rules = rules(DegradedPolicy::FailOpen);
        let read = ProviderRead {
            at: at("2026-11-24T10:00:00Z"),
            windows: Ok(vec![
                reading(
                    "five_hour",
                    96.0,
                    "2026-11-24T12:00:00Z",
                    "2026-11-24T10:00:00Z",
                    "codex_rollout",
                ),
                reading(
                    "weekly",
                    40.0,
                    "2026-11-28T00:00:00Z",
                    "2026-11-24T10:00:00Z",
                    "codex_rollout",
                ),
            ]),
        };
        let s = status(&rules, Some(&read), &BTreeMap::new());
        assert_eq!(s.state, QuotaState::Healthy);
        let b = quota_blockers(&rules, &s, at("2026-11-24T10:00:00Z"));
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].rule_id, "codex-five-hour-default");
        assert_eq!(b[0].next_auto_resume_at, Some(at("2026-11-24T12:00:00Z")));
        assert!(quota_blockers(&rules, &s, at("2026-11-24T12:00:00Z")).is_empty());
    }

    #[test]
    fn a_newer_stage_result_reading_wins_over_older_telemetry() {
        let rules = rules(DegradedPolicy::FailClosed);
        let rate = RateLimit {
            window: "five_hour".into(),
            used_percent: 100.0,
            resets_at: Some(at("2026-11-24T13:00:00Z")),
        };
        let claude = reading_of(&rate, "claude_code", at("2026-11-24T11:00:00Z")).unwrap();
        assert_eq!(claude.source, "stage_result:claude_code");
        let reported = BTreeMap::from([("five_hour".to_string(), claude)]);
        let read = ProviderRead {
            at: at("2026-11-24T10:00:00Z"),
            windows: Err("no sessions".into()),
        };
        let s = status(&rules, Some(&read), &reported);
        assert_eq!(
            s.state,
            QuotaState::Healthy,
            "a reported reading is telemetry too"
        );
        let b = quota_blockers(&rules, &s, at("2026-11-24T11:00:00Z"));
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].observed, 100.0);
        assert!(window_of_label("seven_day_opus") == Some(QuotaWindow::Weekly));
        assert!(window_of_label("overage").is_none());
    }
}
