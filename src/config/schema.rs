//! The typed shape of `millrace.toml`: every section, key, default and
//! allowed value. Unknown keys are rejected at every level; value checks
//! that need no context run while deserializing (see [`super::checks`]), so
//! their errors carry the value's position.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::settings::{
    idle_seconds, int_in, opt_int_in, opt_known_runner, opt_usd, percent, timezone_name,
};
use crate::plan::Effort;
pub use crate::runners::RunnersConfig;

/// The whole configuration. Every section is optional in the file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub runtime: RuntimeConfig,
    pub runners: RunnersConfig,
    pub recovery: RecoveryConfig,
    pub watchers: WatchersConfig,
    pub usage_governance: UsageGovernanceConfig,
    /// Per-stage bindings; keys are stage names, checked by the compiler
    /// against the mode's stages.
    pub stages: BTreeMap<String, StageConfig>,
}

/// `[runtime]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RuntimeConfig {
    pub default_mode: String,
    pub run_style: RunStyle,
    #[serde(deserialize_with = "idle_seconds")]
    pub idle_sleep_seconds: f64,
    /// Fuel: the most stage runs one work item may consume.
    #[serde(deserialize_with = "int_in::<_, u32, 1, 100_000>")]
    pub max_stage_runs_per_item: u32,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            default_mode: "default_codex".into(),
            run_style: RunStyle::Daemon,
            idle_sleep_seconds: 1.0,
            max_stage_runs_per_item: 40,
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStyle {
    Once,
    #[default]
    Daemon,
}

/// `[recovery]`: limits the compiler bakes into counters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RecoveryConfig {
    /// Each limit overrides the counters that name it with `config`; unset,
    /// those counters keep the limit their loop declares (the shipped loops:
    /// 2, and 3 closure attempts).
    #[serde(deserialize_with = "opt_int_in::<_, u32, 1, 10_000>")]
    pub max_fix_cycles: Option<u32>,
    #[serde(deserialize_with = "opt_int_in::<_, u32, 1, 10_000>")]
    pub max_troubleshoot_attempts_before_consult: Option<u32>,
    #[serde(deserialize_with = "opt_int_in::<_, u32, 1, 10_000>")]
    pub max_mechanic_attempts: Option<u32>,
    #[serde(deserialize_with = "opt_int_in::<_, u32, 1, 10_000>")]
    pub max_consultant_invocations: Option<u32>,
    #[serde(deserialize_with = "opt_int_in::<_, u32, 1, 10_000>")]
    pub max_closure_attempts: Option<u32>,
    pub stale_state_recovery_enabled: bool,
}

impl Default for RecoveryConfig {
    fn default() -> Self {
        Self {
            max_fix_cycles: None,
            max_troubleshoot_attempts_before_consult: None,
            max_mechanic_attempts: None,
            max_consultant_invocations: None,
            max_closure_attempts: None,
            stale_state_recovery_enabled: true,
        }
    }
}

/// `[watchers]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WatchersConfig {
    pub enabled: bool,
    #[serde(deserialize_with = "int_in::<_, u64, 1, 600_000>")]
    pub debounce_ms: u64,
    pub watch_ideas_inbox: bool,
    pub watch_specs_queue: bool,
}

impl Default for WatchersConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            debounce_ms: 250,
            watch_ideas_inbox: true,
            watch_specs_queue: true,
        }
    }
}

/// `[usage_governance]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UsageGovernanceConfig {
    pub enabled: bool,
    pub auto_resume: bool,
    pub evaluation_boundary: EvaluationBoundary,
    #[serde(deserialize_with = "timezone_name")]
    pub calendar_timezone: String,
    pub runtime_token_rules: TokenRules,
    pub subscription_quota_rules: QuotaRules,
    pub budgets: Budgets,
}

impl Default for UsageGovernanceConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            auto_resume: true,
            evaluation_boundary: EvaluationBoundary::BetweenStages,
            calendar_timezone: "UTC".into(),
            runtime_token_rules: TokenRules::default(),
            subscription_quota_rules: QuotaRules::default(),
            budgets: Budgets::default(),
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EvaluationBoundary {
    #[default]
    BetweenStages,
}

/// `[usage_governance.runtime_token_rules]`; declaring `rules` replaces both
/// default rules.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TokenRules {
    pub enabled: bool,
    pub rules: Vec<TokenRule>,
}

impl Default for TokenRules {
    fn default() -> Self {
        let rule = |id: &str, window, threshold| TokenRule {
            rule_id: id.into(),
            window,
            metric: TokenMetric::TotalTokens,
            threshold,
        };
        Self {
            enabled: true,
            rules: vec![
                rule("rolling-5h-default", TokenWindow::Rolling5h, 750_000),
                rule("calendar-week-default", TokenWindow::CalendarWeek, 5_000_000),
            ],
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRule {
    pub rule_id: String,
    pub window: TokenWindow,
    #[serde(default)]
    pub metric: TokenMetric,
    #[serde(deserialize_with = "int_in::<_, u64, 1, 1_000_000_000_000_000>")]
    pub threshold: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenWindow {
    #[serde(rename = "rolling_5h")]
    Rolling5h,
    CalendarWeek,
    DaemonSession,
    PerRun,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenMetric {
    #[default]
    TotalTokens,
}

/// `[usage_governance.subscription_quota_rules]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QuotaRules {
    pub enabled: bool,
    pub provider: String,
    pub degraded_policy: DegradedPolicy,
    #[serde(deserialize_with = "int_in::<_, u64, 1, 86_400>")]
    pub refresh_interval_seconds: u64,
    pub rules: Vec<QuotaRule>,
}

impl Default for QuotaRules {
    fn default() -> Self {
        let rule = |id: &str, window| QuotaRule {
            rule_id: id.into(),
            window,
            pause_at_percent_used: 95.0,
        };
        Self {
            enabled: false,
            provider: "codex_chatgpt_oauth".into(),
            degraded_policy: DegradedPolicy::FailOpen,
            refresh_interval_seconds: 60,
            rules: vec![
                rule("codex-five-hour-default", QuotaWindow::FiveHour),
                rule("codex-weekly-default", QuotaWindow::Weekly),
            ],
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuotaRule {
    pub rule_id: String,
    pub window: QuotaWindow,
    #[serde(deserialize_with = "percent")]
    pub pause_at_percent_used: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuotaWindow {
    FiveHour,
    Weekly,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DegradedPolicy {
    #[default]
    FailOpen,
    FailClosed,
}

/// `[usage_governance.budgets]`: hard spending limits per item and per run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Budgets {
    #[serde(deserialize_with = "opt_int_in::<_, u64, 1, 1_000_000_000_000_000>")]
    pub per_item_tokens: Option<u64>,
    #[serde(deserialize_with = "opt_usd")]
    pub per_item_cost_usd: Option<f64>,
    #[serde(deserialize_with = "opt_int_in::<_, u64, 1, 1_000_000_000_000_000>")]
    pub per_run_tokens: Option<u64>,
    #[serde(deserialize_with = "opt_usd")]
    pub per_run_cost_usd: Option<f64>,
}

/// `[stages.<stage>]`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StageConfig {
    #[serde(deserialize_with = "opt_known_runner")]
    pub runner: Option<String>,
    pub model: Option<String>,
    pub model_reasoning_effort: Option<Effort>,
    #[serde(deserialize_with = "opt_int_in::<_, u64, 1, { crate::plan::MAX_TIMEOUT_SECONDS as i64 }>")]
    pub timeout_seconds: Option<u64>,
}
