//! The governor over real workspace files, with the clock in the test's
//! hands: the ledger, reconciliation, windows, quota telemetry.

use jiff::{SignedDuration, Timestamp};
use millrace::config::{DegradedPolicy, TokenMetric, TokenRule, TokenWindow, UsageGovernanceConfig};
use millrace::governance::{Facts, GovernanceSettings, Governor};
use millrace::model::RateLimit;
use millrace::workspace::Workspace;
use millrace::workspace::runs::RunDir;
use millrace::workspace::usage::{GovernanceState, QuotaState, read_ledger};
use tempfile::TempDir;

use super::stage_result;

fn t0() -> Timestamp {
    "2026-11-24T08:00:00Z".parse().unwrap()
}

fn hours(h: i64) -> SignedDuration {
    SignedDuration::from_hours(h)
}

/// A bare workspace directory (governance creates what it writes).
fn workspace() -> (TempDir, Workspace) {
    let dir = tempfile::tempdir().unwrap();
    let ws = Workspace::at(dir.path()).unwrap();
    (dir, ws)
}

/// Governance on, with one token rule, and a Codex home that exists but
/// holds nothing.
fn settings(window: TokenWindow, threshold: u64, codex_home: &TempDir) -> GovernanceSettings {
    let mut config = UsageGovernanceConfig {
        enabled: true,
        ..UsageGovernanceConfig::default()
    };
    config.runtime_token_rules.rules = vec![TokenRule {
        rule_id: "tiny".into(),
        window,
        metric: TokenMetric::TotalTokens,
        threshold,
    }];
    GovernanceSettings {
        config,
        codex_home: Some(codex_home.path().to_path_buf()),
    }
}

fn facts(now: Timestamp) -> Facts<'static> {
    Facts {
        now,
        session: Some("session-1"),
        ..Facts::default()
    }
}

fn key(run: &str, request: &str) -> String {
    format!("millrace-agents/runs/{run}/stage_results/{request}.json")
}

#[test]
fn each_result_is_counted_once_even_across_restarts() {
    let (_dir, ws) = workspace();
    let home = tempfile::tempdir().unwrap();
    let first = stage_result("run-a", "req-a-001", 1000, t0());
    let second = stage_result("run-b", "req-b-001", 700, t0() + hours(1));
    let write = |r: &millrace::model::StageResult| {
        RunDir::create(&ws, &r.run_id)
            .unwrap()
            .write_stage_result(&r.request_id, r)
            .unwrap();
    };
    let mut settings = settings(TokenWindow::Rolling5h, 1_000_000, &home);
    settings.config.budgets.per_item_tokens = Some(10_000);

    // As the runtime does: the result reaches the disk, then is counted.
    write(&first);
    let mut live = Governor::new(&ws, settings.clone());
    let k = key("run-a", "req-a-001");
    live.record(&ws, &first, &k, Some("session-1"), t0());
    live.record(&ws, &first, &k, Some("session-1"), t0());
    let ledger = read_ledger(&ws).unwrap();
    assert_eq!(ledger.entries.len(), 1, "the same result twice is one entry");
    let entry = &ledger.entries[0];
    assert_eq!(entry.dedupe_key, k);
    assert_eq!(entry.stage_result_path, k);
    assert_eq!(
        entry.daemon_session_id.as_deref(),
        Some("session-1"),
        "counted live, not by the reconciliation the first record triggers"
    );
    assert_eq!(entry.token_usage.total_tokens, 1000);
    assert_eq!(entry.cost_usd, Some(0.25));

    // A process wrote the second result and died before counting it.
    write(&second);
    // A restart: the second result was written but never counted.
    let mut restarted = Governor::new(&ws, settings.clone());
    assert!(restarted.evaluate(&ws, &facts(t0() + hours(2))).is_some());
    let ledger = read_ledger(&ws).unwrap();
    let keys: Vec<&str> = ledger.entries.iter().map(|e| e.dedupe_key.as_str()).collect();
    assert_eq!(keys, [k.as_str(), key("run-b", "req-b-001").as_str()]);
    assert_eq!(
        ledger.entries[1].daemon_session_id, None,
        "found later, not run by this session"
    );
    assert!(
        restarted
            .take_notes()
            .iter()
            .map(|e| e.parts())
            .any(|(t, d)| t == "usage_governance_ledger_reconciled" && d["counted"] == 1)
    );
    assert_eq!(restarted.item_spend(&ws, "task", "t1", t0()), (1700, 0.5));

    // A live record of a result reconciliation already counted is a no-op.
    restarted.record(&ws, &second, &key("run-b", "req-b-001"), Some("s"), t0());
    let mut again = Governor::new(&ws, settings);
    again.evaluate(&ws, &facts(t0() + hours(3)));
    assert_eq!(read_ledger(&ws).unwrap().entries.len(), 2);
}

#[test]
fn a_rolling_window_pauses_and_an_advanced_clock_resumes() {
    let (_dir, ws) = workspace();
    let home = tempfile::tempdir().unwrap();
    let mut governor = Governor::new(&ws, settings(TokenWindow::Rolling5h, 1500, &home));
    let early = stage_result("run-a", "req-a-001", 1000, t0());
    let later = stage_result("run-a", "req-a-002", 1000, t0() + hours(1));
    governor.record(&ws, &early, &key("run-a", "req-a-001"), Some("session-1"), t0());
    governor.record(&ws, &later, &key("run-a", "req-a-002"), Some("session-1"), t0());

    let verdict = governor.evaluate(&ws, &facts(t0() + hours(2))).unwrap();
    assert_eq!(verdict.blockers.len(), 1);
    let b = &verdict.blockers[0];
    assert_eq!((b.rule_id.as_str(), b.window.as_str()), ("tiny", "rolling_5h"));
    assert_eq!((b.observed, b.threshold), (2000.0, 1500.0));
    // Without the 08:00 entry 1000 tokens remain, under the threshold: the
    // window lifts when it ages out.
    let lifts = t0() + hours(5);
    assert_eq!(b.next_auto_resume_at, Some(lifts));
    let notes = governor.take_notes();
    assert_eq!(
        notes
            .iter()
            .map(|e| e.parts())
            .filter(|(t, _)| t == "usage_governance_blocked")
            .count(),
        1
    );

    let state = GovernanceState::load(&ws).unwrap().unwrap();
    assert_eq!(state.active_blockers.len(), 1);
    assert!(state.auto_resume_possible);
    assert_eq!(state.next_auto_resume_at, Some(lifts));
    assert_eq!(state.daemon_session_id.as_deref(), Some("session-1"));

    let still = governor
        .evaluate(&ws, &facts(lifts - SignedDuration::from_secs(1)))
        .unwrap();
    assert_eq!(still.blockers.len(), 1);
    assert!(
        governor.take_notes().is_empty(),
        "no new event for the same blocker"
    );
    let lifted = governor.evaluate(&ws, &facts(lifts)).unwrap();
    assert!(lifted.blockers.is_empty());
    assert_eq!(lifted.cleared_rules, ["tiny"]);
    let state = GovernanceState::load(&ws).unwrap().unwrap();
    assert!(state.active_blockers.is_empty() && state.next_auto_resume_at.is_none());
}

#[test]
fn per_run_counts_only_the_active_run() {
    let (_dir, ws) = workspace();
    let home = tempfile::tempdir().unwrap();
    let mut governor = Governor::new(&ws, settings(TokenWindow::PerRun, 1500, &home));
    let old = stage_result("run-old", "req-old-001", 5000, t0());
    let new = stage_result("run-new", "req-new-001", 1000, t0());
    governor.record(&ws, &old, &key("run-old", "req-old-001"), None, t0());
    governor.record(&ws, &new, &key("run-new", "req-new-001"), None, t0());
    let mut f = facts(t0());
    f.active_runs = vec!["run-new".into()];
    assert!(governor.evaluate(&ws, &f).unwrap().blockers.is_empty());
    f.active_runs.push("run-old".into());
    let verdict = governor.evaluate(&ws, &f).unwrap();
    assert_eq!(verdict.blockers[0].observed, 5000.0);
    assert!(!verdict.blockers[0].auto_resume_possible);
}

#[test]
fn governance_off_reads_and_writes_nothing() {
    let (_dir, ws) = workspace();
    let home = tempfile::tempdir().unwrap();
    let mut settings = settings(TokenWindow::Rolling5h, 1, &home);
    settings.config.enabled = false;
    let mut governor = Governor::new(&ws, settings);
    let r = stage_result("run-a", "req-a-001", 1000, t0());
    governor.record(&ws, &r, &key("run-a", "req-a-001"), None, t0());
    assert!(governor.evaluate(&ws, &facts(t0())).is_none());
    assert_eq!(governor.item_spend(&ws, "task", "t1", t0()), (0, 0.0));
    assert!(!ws.paths().governance_ledger().exists());
    assert!(!ws.paths().governance_state().exists());

    // A governance pause left behind is still evaluated (and lifted).
    let mut paused = facts(t0());
    paused.paused = true;
    let verdict = governor.evaluate(&ws, &paused).unwrap();
    assert!(!verdict.enabled && verdict.blockers.is_empty());
    assert!(!GovernanceState::load(&ws).unwrap().unwrap().enabled);
}

#[test]
fn codex_telemetry_over_the_limit_blocks_until_its_reset() {
    let (_dir, ws) = workspace();
    let home = tempfile::tempdir().unwrap();
    let day = home.path().join("sessions/2026/11/24");
    std::fs::create_dir_all(&day).unwrap();
    let resets = t0() + hours(3);
    let line = format!(
        r#"{{"timestamp":"2026-11-24T07:59:00Z","type":"event_msg","payload":{{"type":"token_count","rate_limits":{{"primary":{{"used_percent":97.0,"window_minutes":300,"resets_at":{}}},"secondary":{{"used_percent":20.0,"window_minutes":10080,"resets_at":{}}}}}}}}}"#,
        resets.as_second(),
        (t0() + hours(100)).as_second()
    );
    std::fs::write(day.join("rollout-1.jsonl"), format!("{line}\n")).unwrap();
    let mut settings = settings(TokenWindow::Rolling5h, 1_000_000, &home);
    settings.config.subscription_quota_rules.enabled = true;
    let mut governor = Governor::new(&ws, settings);
    let verdict = governor.evaluate(&ws, &facts(t0())).unwrap();
    assert_eq!(verdict.blockers.len(), 1, "{verdict:?}");
    let b = &verdict.blockers[0];
    assert_eq!(b.rule_id, "codex-five-hour-default");
    assert_eq!((b.observed, b.threshold), (97.0, 95.0));
    assert_eq!(b.next_auto_resume_at, Some(resets));
    let state = GovernanceState::load(&ws).unwrap().unwrap();
    let quota = &state.subscription_quota_status;
    assert_eq!(quota.state, QuotaState::Healthy);
    assert_eq!(quota.windows["weekly"].percent_used, 20.0);
    // The rollout stays as it was (nothing runs while paused); the reading
    // stops counting once its window resets.
    let after = governor
        .evaluate(&ws, &facts(resets + SignedDuration::from_secs(61)))
        .unwrap();
    assert!(after.blockers.is_empty());
    assert_eq!(after.cleared_rules, ["codex-five-hour-default"]);
}

#[test]
fn missing_telemetry_fails_open_or_closed_as_configured() {
    let (_dir, ws) = workspace();
    let home = tempfile::tempdir().unwrap();
    let mut settings = settings(TokenWindow::Rolling5h, 1_000_000, &home);
    settings.config.subscription_quota_rules.enabled = true;
    let mut open = Governor::new(&ws, settings.clone());
    assert!(open.evaluate(&ws, &facts(t0())).unwrap().blockers.is_empty());
    open.evaluate(&ws, &facts(t0() + hours(1)));
    let degraded = open
        .take_notes()
        .into_iter()
        .map(|e| e.parts())
        .filter(|(t, _)| t == "usage_governance_degraded")
        .count();
    assert_eq!(degraded, 1, "reported when it starts, not at every evaluation");
    let state = GovernanceState::load(&ws).unwrap().unwrap();
    assert_eq!(state.subscription_quota_status.state, QuotaState::Degraded);
    assert!(
        state
            .subscription_quota_status
            .detail
            .unwrap()
            .starts_with("quota_telemetry_unavailable")
    );

    settings.config.subscription_quota_rules.degraded_policy = DegradedPolicy::FailClosed;
    let mut closed = Governor::new(&ws, settings);
    let verdict = closed.evaluate(&ws, &facts(t0() + hours(2))).unwrap();
    assert_eq!(verdict.blockers.len(), 1);
    assert_eq!(
        verdict.blockers[0].rule_id,
        "subscription-quota-degraded-fail-closed"
    );
    assert!(!verdict.blockers[0].auto_resume_possible);
}

#[test]
fn a_claude_rate_limit_in_a_stage_result_feeds_the_quota_rules() {
    let (_dir, ws) = workspace();
    let home = tempfile::tempdir().unwrap();
    let mut settings = settings(TokenWindow::Rolling5h, 1_000_000, &home);
    settings.config.subscription_quota_rules.enabled = true;
    let mut governor = Governor::new(&ws, settings.clone());
    let mut result = stage_result("run-a", "req-a-001", 10, t0());
    result.runner = "claude_code".into();
    let resets = t0() + hours(2);
    result.rate_limit = Some(RateLimit {
        window: "five_hour".into(),
        used_percent: 100.0,
        resets_at: Some(resets),
    });
    governor.record(&ws, &result, &key("run-a", "req-a-001"), None, t0());
    let verdict = governor.evaluate(&ws, &facts(t0())).unwrap();
    assert_eq!(verdict.blockers.len(), 1);
    assert_eq!(verdict.blockers[0].next_auto_resume_at, Some(resets));
    assert!(verdict.blockers[0].detail.contains("stage_result:claude_code"));

    // The reading survives a restart through the state file.
    let mut restarted = Governor::new(&ws, settings);
    let verdict = restarted.evaluate(&ws, &facts(t0() + hours(1))).unwrap();
    assert_eq!(verdict.blockers.len(), 1);
    assert!(
        restarted
            .evaluate(&ws, &facts(resets))
            .unwrap()
            .blockers
            .is_empty()
    );
}

#[test]
fn a_quota_hold_is_a_blocker_until_its_reset() {
    let (_dir, ws) = workspace();
    let home = tempfile::tempdir().unwrap();
    let mut governor = Governor::new(&ws, settings(TokenWindow::Rolling5h, 1_000_000, &home));
    let reset = t0() + hours(1);
    let mut f = facts(t0());
    f.paused = true;
    f.quota_hold = Some(reset);
    let verdict = governor.evaluate(&ws, &f).unwrap();
    assert_eq!(verdict.blockers.len(), 1);
    assert_eq!(verdict.blockers[0].source, "quota_exhausted");
    assert_eq!(verdict.blockers[0].next_auto_resume_at, Some(reset));
    f.now = reset;
    assert!(governor.evaluate(&ws, &f).unwrap().blockers.is_empty());
}
