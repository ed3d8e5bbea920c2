//! What usage governance reports: a blocker as the engine weighs it, and as
//! `state/usage_governance.json` records it.
//!
//! Input: nothing (pure data). Output: [`Blocker`] and [`BlockerRecord`].

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// One reason usage governance holds dispatch, as the engine weighs it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Blocker {
    /// `runtime_token`, `subscription_quota`, ...
    pub source: String,
    pub rule_id: String,
    pub detail: String,
    /// When the blocker lifts, if known.
    pub resume_at: Option<Timestamp>,
    /// The rule's window (`rolling_5h`, `five_hour`, ...), for display.
    #[serde(default)]
    pub window: String,
    /// What was measured and the limit it reached, for display.
    #[serde(default)]
    pub observed: f64,
    #[serde(default)]
    pub threshold: f64,
}

/// One reason usage governance holds dispatch, as the state file records it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BlockerRecord {
    /// `runtime_token`, `subscription_quota` or `quota_exhausted`.
    pub source: String,
    pub rule_id: String,
    /// `rolling_5h`, `calendar_week`, `daemon_session`, `per_run`,
    /// `five_hour`, `weekly`, `degraded` or `until_reset`.
    pub window: String,
    pub observed: f64,
    pub threshold: f64,
    /// `total_tokens` or `percent_used`.
    pub metric: String,
    /// Whether the blocker lifts by itself (a window that rolls or resets).
    pub auto_resume_possible: bool,
    pub next_auto_resume_at: Option<Timestamp>,
    #[serde(default)]
    pub detail: String,
}

/// The rule id of the pause a quota-exhausted stage result starts.
pub const QUOTA_EXHAUSTED_RULE_ID: &str = "harness-quota-exhausted";

impl BlockerRecord {
    /// The pause a quota-exhausted stage started, lifting at `until`.
    pub fn quota_exhausted(until: Timestamp) -> Self {
        BlockerRecord {
            source: "quota_exhausted".into(),
            rule_id: QUOTA_EXHAUSTED_RULE_ID.into(),
            window: "until_reset".into(),
            observed: 100.0,
            threshold: 100.0,
            metric: "percent_used".into(),
            auto_resume_possible: true,
            next_auto_resume_at: Some(until),
            detail: "a stage reported its subscription quota exhausted".into(),
        }
    }
}
