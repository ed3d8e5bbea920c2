//! The `millrace.toml` values that shape a plan. The workspace reads them
//! from the file; `lower` applies them; both hash them the same way, so a
//! plan is stale exactly when one of these changes (and never because of a
//! governance or watcher tweak).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::vocab::{DEFAULT_RUNNER, Effort};

/// Plan-shaping settings, with the defaults of a fresh `millrace.toml`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlanSettings {
    /// `runtime.default_mode`: the mode compiled when none is named.
    pub default_mode: String,
    /// `runners.default_runner`: the runner of a stage nothing else binds.
    pub default_runner: String,
    /// `[stages.<stage or node>]` overrides.
    pub stages: BTreeMap<String, StageOverride>,
    /// `[recovery]` counter limits.
    pub recovery: RecoveryLimits,
}

/// One `[stages.<name>]` table.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StageOverride {
    pub runner: Option<String>,
    pub model: Option<String>,
    pub model_reasoning_effort: Option<Effort>,
    pub timeout_seconds: Option<u64>,
}

/// The `[recovery]` limits counters may take via `config <key>`. Only the
/// keys `millrace.toml` sets are here: an unset key leaves each counter
/// naming it at the limit its loop declares.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryLimits {
    pub max_fix_cycles: Option<u32>,
    pub max_troubleshoot_attempts_before_consult: Option<u32>,
    pub max_mechanic_attempts: Option<u32>,
    pub max_consultant_invocations: Option<u32>,
    pub max_closure_attempts: Option<u32>,
}

impl Default for PlanSettings {
    fn default() -> Self {
        Self {
            default_mode: "default_codex".into(),
            default_runner: DEFAULT_RUNNER.into(),
            stages: BTreeMap::new(),
            recovery: RecoveryLimits::default(),
        }
    }
}

impl PlanSettings {
    /// sha256 (hex) of the canonical JSON of these settings (compact, keys
    /// in declaration order, maps sorted). A compile records it in
    /// `inputs.config`; currentness compares against it.
    pub fn fingerprint(&self) -> String {
        super::sha256_hex(&serde_json::to_vec(self).unwrap_or_default())
    }

    /// The recovery limits set, keyed by their config key, as counters name
    /// them.
    pub fn counter_limits(&self) -> BTreeMap<String, u32> {
        let r = &self.recovery;
        [
            ("recovery.max_fix_cycles", r.max_fix_cycles),
            (
                "recovery.max_troubleshoot_attempts_before_consult",
                r.max_troubleshoot_attempts_before_consult,
            ),
            ("recovery.max_mechanic_attempts", r.max_mechanic_attempts),
            (
                "recovery.max_consultant_invocations",
                r.max_consultant_invocations,
            ),
            ("recovery.max_closure_attempts", r.max_closure_attempts),
        ]
        .into_iter()
        .filter_map(|(k, v)| Some((k.to_string(), v?)))
        .collect()
    }
}
