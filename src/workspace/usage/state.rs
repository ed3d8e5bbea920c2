//! `state/usage_governance_state.json`: usage governance's last verdict.
//!
//! Input: a [`GovernanceState`] built by the runtime's governor. Output:
//! the same document read back (`None` when governance never ran here).
//! Invariants: written atomically; a file this build cannot parse is a
//! coded error for `status` to report, never a panic.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::super::{Workspace, fsx};
use super::UsageError;
pub use crate::model::governance::{BlockerRecord, QUOTA_EXHAUSTED_RULE_ID};

/// The format version of the state file.
pub const GOVERNANCE_STATE_VERSION: &str = "1.0";

/// When every blocker lifts by itself: the time the last one does (`None`
/// when one of them never lifts by itself, or there are none).
pub fn all_lift_at(blockers: &[BlockerRecord]) -> Option<Timestamp> {
    blockers
        .iter()
        .map(|b| b.next_auto_resume_at.filter(|_| b.auto_resume_possible))
        .collect::<Option<Vec<_>>>()?
        .into_iter()
        .max()
}

/// Whether subscription telemetry could be read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuotaState {
    #[default]
    Disabled,
    Healthy,
    Degraded,
}

impl QuotaState {
    pub fn as_str(self) -> &'static str {
        match self {
            QuotaState::Disabled => "disabled",
            QuotaState::Healthy => "healthy",
            QuotaState::Degraded => "degraded",
        }
    }
}

/// One subscription window's reading.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WindowReading {
    /// `five_hour` or `weekly`.
    pub window: String,
    pub percent_used: f64,
    pub resets_at: Option<Timestamp>,
    pub read_at: Timestamp,
    /// Where it came from: `codex_rollout` or `stage_result:<runner>`.
    #[serde(default)]
    pub source: String,
}

/// Subscription-quota telemetry as last seen.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct QuotaStatus {
    pub enabled: bool,
    pub provider: String,
    pub state: QuotaState,
    pub degraded_policy: String,
    pub detail: Option<String>,
    /// When the provider's telemetry was last read.
    pub last_refreshed_at: Option<Timestamp>,
    #[serde(default)]
    pub windows: BTreeMap<String, WindowReading>,
}

/// The whole state file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GovernanceState {
    pub version: String,
    pub enabled: bool,
    pub auto_resume: bool,
    /// Every active blocker lifts by itself.
    pub auto_resume_possible: bool,
    pub evaluation_boundary: String,
    pub calendar_timezone: String,
    pub daemon_session_id: Option<String>,
    pub last_evaluated_at: Option<Timestamp>,
    pub active_blockers: Vec<BlockerRecord>,
    pub paused_by_governance: bool,
    /// The earliest time every blocker is gone, when each has a time.
    pub next_auto_resume_at: Option<Timestamp>,
    pub subscription_quota_status: QuotaStatus,
}

impl GovernanceState {
    /// Whether governance ever wrote its state here (one `stat`).
    pub fn exists(ws: &Workspace) -> bool {
        fsx::is_file(&ws.paths().governance_state())
    }

    /// Reads the state file; `Ok(None)` when there is none.
    pub fn load(ws: &Workspace) -> Result<Option<Self>, UsageError> {
        let path = ws.paths().governance_state();
        let Some(text) = fsx::read_optional(&path)? else {
            return Ok(None);
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| UsageError::StateInvalid {
                path,
                detail: e.to_string(),
            })
    }

    /// Replaces the state file atomically.
    pub fn save(&self, ws: &Workspace) -> Result<(), UsageError> {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        fsx::write_atomic(&ws.paths().governance_state(), text.as_bytes())?;
        Ok(())
    }
}
