//! The governor: one per runtime process. It counts stage results into the
//! ledger, evaluates the rules between stages, and keeps the state file.
//!
//! Input: settings, stage results, and [`Facts`] at each evaluation.
//! Output: [`Verdict`]s, the state file, and [`Note`]s (events) to log.
//! Invariants: see the module header of [`crate::governance`]; in
//! addition, the state file is rewritten only when its content changes
//! (or once a minute while enabled, to refresh `last_evaluated_at`), so an
//! idle tick does not fsync.

use std::collections::BTreeMap;

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use super::book::Book;
use super::quota::{self, ProviderRead};
use super::windows::{self, Scope};
use super::{GovernanceSettings, Note, codex};
use crate::config::UsageGovernanceConfig;
use crate::model::{Event, StageResult, TokenUsage};
use crate::workspace::Workspace;
use crate::workspace::usage::{
    BlockerRecord, GOVERNANCE_STATE_VERSION, GovernanceState, LedgerEntry, QuotaState, QuotaStatus,
    WindowReading, all_lift_at,
};

/// How often an unchanged state file is rewritten while enabled.
const HEARTBEAT: SignedDuration = SignedDuration::from_secs(60);

/// The provider whose telemetry files are read.
const CODEX_PROVIDER: &str = "codex_chatgpt_oauth";

/// What the runtime knows at an evaluation.
#[derive(Clone, Debug, Default)]
pub struct Facts<'a> {
    pub now: Timestamp,
    /// The lock session of this process.
    pub session: Option<&'a str>,
    /// Run ids of the active runs.
    pub active_runs: Vec<String>,
    /// The `usage_governance` pause source is set.
    pub paused: bool,
    /// A quota-exhausted stage result holds the pause until then.
    pub quota_hold: Option<Timestamp>,
}

/// The outcome of an evaluation.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    /// Governance is on (when off, the runtime lifts its pause unless a
    /// quota hold keeps it).
    pub enabled: bool,
    pub auto_resume: bool,
    pub blockers: Vec<BlockerRecord>,
    /// Rules that blocked at the previous evaluation and no longer do.
    pub cleared_rules: Vec<String>,
}

/// Governance of one runtime process.
pub struct Governor {
    settings: GovernanceSettings,
    tz: TimeZone,
    tz_note: Option<String>,
    /// Loaded on first need (never while governance is off and no budget
    /// needs an item's history).
    book: Option<Book>,
    state_exists: bool,
    /// The state as last written (or read at start).
    last: Option<GovernanceState>,
    saved_at: Option<Timestamp>,
    provider: Option<ProviderRead>,
    /// Rate-limit readings stage results reported, by window.
    reported: BTreeMap<String, WindowReading>,
    notes: Vec<Note>,
}

impl Governor {
    /// A governor for `ws`; reads the previous state file if there is one
    /// (one `stat` otherwise).
    pub fn new(ws: &Workspace, settings: GovernanceSettings) -> Self {
        let (tz, tz_note) = windows::resolve_timezone(&settings.config.calendar_timezone);
        let mut governor = Governor {
            settings,
            tz,
            tz_note,
            book: None,
            state_exists: GovernanceState::exists(ws),
            last: None,
            saved_at: None,
            provider: None,
            reported: BTreeMap::new(),
            notes: Vec::new(),
        };
        if governor.state_exists {
            governor.resume_from_file(ws);
        }
        governor
    }

    /// Takes readings and the last verdict from the state file, so a
    /// restart neither forgets a reported quota nor rereads telemetry early.
    fn resume_from_file(&mut self, ws: &Workspace) {
        let state = match GovernanceState::load(ws) {
            Ok(state) => state,
            Err(e) => {
                self.notes
                    .push(Event::UsageGovernanceStateUnreadable { error: e.to_string() });
                return;
            }
        };
        let Some(state) = state else { return };
        let quota = &state.subscription_quota_status;
        for (window, reading) in &quota.windows {
            if reading.source.starts_with("stage_result:") {
                self.reported.insert(window.clone(), reading.clone());
            }
        }
        if let Some(at) = quota.last_refreshed_at {
            let read: Vec<WindowReading> = quota
                .windows
                .values()
                .filter(|r| r.source == "codex_rollout")
                .cloned()
                .collect();
            let windows = if read.is_empty() {
                Err(quota.detail.clone().unwrap_or_default())
            } else {
                Ok(read)
            };
            self.provider = Some(ProviderRead { at, windows });
        }
        self.last = Some(state);
    }

    /// New settings (a `reload_config`). The ledger stays loaded, unless it
    /// was off until now (then it is read and reconciled again).
    pub fn reconfigure(&mut self, settings: GovernanceSettings) {
        if settings == self.settings {
            return;
        }
        let (tz, note) = windows::resolve_timezone(&settings.config.calendar_timezone);
        if settings.config.subscription_quota_rules != self.settings.config.subscription_quota_rules {
            self.provider = None;
        }
        let was_kept = self.wants_ledger();
        self.tz = tz;
        self.tz_note = note;
        self.settings = settings;
        if !was_kept && self.wants_ledger() {
            // Results finished while the ledger was off are on disk only:
            // read and reconcile again.
            self.book = None;
        }
    }

    fn config(&self) -> &UsageGovernanceConfig {
        &self.settings.config
    }

    /// Whether an evaluation has anything to do: governance is on, or it
    /// left a state file or a pause behind.
    pub fn should_evaluate(&self, paused: bool) -> bool {
        self.config().enabled || self.state_exists || paused
    }

    fn per_item_budgets(&self) -> bool {
        let b = &self.config().budgets;
        b.per_item_tokens.is_some() || b.per_item_cost_usd.is_some()
    }

    /// The ledger is kept while governance is on, or while a per-item
    /// budget needs each item's history.
    fn wants_ledger(&self) -> bool {
        self.config().enabled || self.per_item_budgets()
    }

    fn ensure_book(&mut self, ws: &Workspace, now: Timestamp, pending: Option<&str>) {
        if self.book.is_none() {
            self.book = Some(Book::load(ws, now, pending, &mut self.notes));
        }
    }

    /// Events gathered since the last call.
    pub fn take_notes(&mut self) -> Vec<Note> {
        std::mem::take(&mut self.notes)
    }

    /// Counts a finished stage: its tokens into the ledger (`key` is the
    /// result's workspace-relative path), its rate-limit report into the
    /// quota readings.
    pub fn record(
        &mut self,
        ws: &Workspace,
        result: &StageResult,
        key: &str,
        session: Option<&str>,
        now: Timestamp,
    ) {
        if let Some(reading) = result
            .rate_limit
            .as_ref()
            .and_then(|rate| quota::reading_of(rate, &result.runner, now))
        {
            self.reported.insert(reading.window.clone(), reading);
        }
        let Some(t) = result.token_usage.filter(|_| self.wants_ledger()) else {
            return;
        };
        let entry = LedgerEntry {
            dedupe_key: key.to_string(),
            counted_at: now,
            stage_completed_at: result.completed_at,
            plane: result.plane.as_str().to_string(),
            run_id: result.run_id.clone(),
            stage_id: result.stage.clone(),
            work_item_kind: result.work_item_kind.map(|k| k.as_str().to_string()),
            work_item_id: result.work_item_id.clone(),
            token_usage: TokenUsage { ..t },
            stage_result_path: key.to_string(),
            daemon_session_id: session.map(String::from),
            cost_usd: result.cost_usd,
        };
        self.ensure_book(ws, now, Some(key));
        if let Some(book) = self.book.as_mut() {
            book.add(ws, entry, &mut self.notes);
        }
    }

    /// Tokens and cost a work item used before (for per-item budgets; zero,
    /// without reading anything, when no per-item budget is set).
    pub fn item_spend(&mut self, ws: &Workspace, kind: &str, id: &str, now: Timestamp) -> (u64, f64) {
        if !self.per_item_budgets() {
            return (0, 0.0);
        }
        self.ensure_book(ws, now, None);
        self.book.as_ref().map_or((0, 0.0), |b| b.item_spend(kind, id))
    }

    /// Evaluates every rule; `None` when there is nothing to evaluate.
    pub fn evaluate(&mut self, ws: &Workspace, facts: &Facts<'_>) -> Option<Verdict> {
        if !self.should_evaluate(facts.paused) {
            return None;
        }
        let config = self.config().clone();
        let mut blockers = Vec::new();
        let quota_status = if config.enabled {
            if let Some(note) = self.tz_note.take() {
                self.notes
                    .push(Event::UsageGovernanceTimezoneUnknown { detail: note });
            }
            if config.runtime_token_rules.enabled {
                blockers.extend(self.token_blockers(ws, &config, facts));
            }
            let rules = &config.subscription_quota_rules;
            if rules.enabled {
                self.refresh_provider(facts.now);
            }
            let status = quota::status(rules, self.provider.as_ref(), &self.reported);
            blockers.extend(quota::quota_blockers(rules, &status, facts.now));
            status
        } else {
            let mut off = config.subscription_quota_rules.clone();
            off.enabled = false;
            quota::status(&off, None, &BTreeMap::new())
        };
        blockers.extend(quota_hold(facts));
        let state = self.state_of(&config, facts, blockers, quota_status);
        let cleared_rules = self.changes(&state);
        let verdict = Verdict {
            enabled: config.enabled,
            auto_resume: config.auto_resume,
            blockers: state.active_blockers.clone(),
            cleared_rules,
        };
        self.save(ws, state, facts.now);
        Some(verdict)
    }

    fn token_blockers(
        &mut self,
        ws: &Workspace,
        config: &UsageGovernanceConfig,
        facts: &Facts<'_>,
    ) -> Vec<BlockerRecord> {
        self.ensure_book(ws, facts.now, None);
        let entries = self.book.as_ref().map(Book::entries).unwrap_or_default();
        let scope = Scope {
            now: facts.now,
            tz: &self.tz,
            session: facts.session,
            active_runs: &facts.active_runs,
        };
        windows::token_blockers(&config.runtime_token_rules.rules, entries, scope)
    }

    /// Rereads the provider's telemetry when the last read is older than
    /// `refresh_interval_seconds`.
    fn refresh_provider(&mut self, now: Timestamp) {
        let rules = &self.config().subscription_quota_rules;
        let every =
            SignedDuration::from_secs(i64::try_from(rules.refresh_interval_seconds).unwrap_or(i64::MAX));
        let fresh = self
            .provider
            .as_ref()
            .is_some_and(|p| p.at <= now && now.duration_since(p.at) < every);
        if fresh {
            return;
        }
        let windows = if rules.provider == CODEX_PROVIDER {
            codex::read_rate_limits(self.settings.codex_home.as_deref(), now)
        } else {
            Err(format!(
                "quota_telemetry_unavailable: provider `{}` has no telemetry files; only rate limits reported by stage results count",
                rules.provider
            ))
        };
        self.provider = Some(ProviderRead { at: now, windows });
    }

    fn state_of(
        &self,
        config: &UsageGovernanceConfig,
        facts: &Facts<'_>,
        blockers: Vec<BlockerRecord>,
        quota: QuotaStatus,
    ) -> GovernanceState {
        GovernanceState {
            version: GOVERNANCE_STATE_VERSION.into(),
            enabled: config.enabled,
            auto_resume: config.auto_resume,
            auto_resume_possible: blockers.iter().all(|b| b.auto_resume_possible),
            evaluation_boundary: "between_stages".into(),
            calendar_timezone: config.calendar_timezone.clone(),
            daemon_session_id: facts.session.map(String::from),
            last_evaluated_at: Some(facts.now),
            paused_by_governance: facts.paused,
            next_auto_resume_at: all_lift_at(&blockers),
            active_blockers: blockers,
            subscription_quota_status: quota,
        }
    }

    /// Events for what changed since the last verdict; returns the rules
    /// that stopped blocking.
    fn changes(&mut self, state: &GovernanceState) -> Vec<String> {
        let before: &[BlockerRecord] = self.last.as_ref().map_or(&[], |l| &l.active_blockers);
        for b in &state.active_blockers {
            if !before.iter().any(|old| old.rule_id == b.rule_id) {
                self.notes.push(Event::UsageGovernanceBlocked(b.clone()));
            }
        }
        let cleared: Vec<String> = before
            .iter()
            .filter(|old| !state.active_blockers.iter().any(|b| b.rule_id == old.rule_id))
            .map(|old| old.rule_id.clone())
            .collect();
        let quota = &state.subscription_quota_status;
        let was = self.last.as_ref().map(|l| &l.subscription_quota_status);
        let newly_degraded = quota.state == QuotaState::Degraded
            && was.is_none_or(|w| w.state != QuotaState::Degraded || w.detail != quota.detail);
        if newly_degraded {
            self.notes.push(Event::UsageGovernanceDegraded {
                source: "subscription_quota".into(),
                policy: quota.degraded_policy.clone(),
                detail: quota.detail.clone(),
            });
        }
        cleared
    }

    /// Records whether the runtime ended up paused by governance.
    pub fn sync_paused(&mut self, ws: &Workspace, paused: bool, now: Timestamp) {
        let Some(last) = self.last.as_ref().filter(|l| l.paused_by_governance != paused) else {
            return;
        };
        let mut state = last.clone();
        state.paused_by_governance = paused;
        self.save(ws, state, now);
    }

    fn save(&mut self, ws: &Workspace, state: GovernanceState, now: Timestamp) {
        let changed = self.last.as_ref().is_none_or(|l| material(l) != material(&state));
        let heartbeat = state.enabled
            && self
                .saved_at
                .is_none_or(|at| at > now || now.duration_since(at) >= HEARTBEAT);
        if changed || heartbeat {
            match state.save(ws) {
                Ok(()) => {
                    self.state_exists = true;
                    self.saved_at = Some(now);
                }
                Err(e) => {
                    self.notes
                        .push(Event::UsageGovernanceStateWriteFailed { error: e.to_string() });
                }
            }
        }
        self.last = Some(state);
    }
}

/// The pause a quota-exhausted stage started, as a blocker, while it holds.
fn quota_hold(facts: &Facts<'_>) -> Option<BlockerRecord> {
    let until = facts.quota_hold.filter(|t| facts.paused && *t > facts.now)?;
    Some(BlockerRecord::quota_exhausted(until))
}

/// The state without the fields that change at every evaluation.
fn material(state: &GovernanceState) -> GovernanceState {
    let mut s = state.clone();
    s.last_evaluated_at = None;
    s.subscription_quota_status.last_refreshed_at = None;
    for w in s.subscription_quota_status.windows.values_mut() {
        w.read_at = Timestamp::UNIX_EPOCH;
    }
    s
}
