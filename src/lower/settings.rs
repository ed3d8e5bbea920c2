//! The part of `millrace.toml` that shapes a plan. The workspace reads the
//! file; lowering only sees these values, so a change to anything else (for
//! example usage governance) never makes a plan stale.

use std::collections::BTreeMap;

use serde::Serialize;

use super::LowerError;
use crate::check::hir::Program;
use crate::diag::did_you_mean;
use crate::plan::{DEFAULT_RUNNER, Effort, RUNNERS, sha256_hex};

/// Plan-shaping settings, with the reference's defaults.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PlanSettings {
    /// `runners.default_runner`: the runner of a stage nothing else binds.
    pub default_runner: String,
    /// `[stages.<stage or node>]` overrides.
    pub stages: BTreeMap<String, StageOverride>,
    /// Counter limits by `millrace.toml` key (`recovery.max_fix_cycles`).
    pub counter_limits: BTreeMap<String, u32>,
}

/// One `[stages.<name>]` table.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct StageOverride {
    pub runner: Option<String>,
    pub model: Option<String>,
    pub effort: Option<Effort>,
    pub timeout_seconds: Option<u64>,
}

impl Default for PlanSettings {
    fn default() -> Self {
        Self {
            default_runner: DEFAULT_RUNNER.into(),
            stages: BTreeMap::new(),
            counter_limits: BTreeMap::new(),
        }
    }
}

impl PlanSettings {
    /// sha256 of the canonical JSON of these settings.
    pub fn fingerprint(&self) -> String {
        sha256_hex(&serde_json::to_vec(self).unwrap_or_default())
    }

    /// Checks names against the program: every `[stages.x]` must name a
    /// stage or node of some loop, every runner must exist.
    pub(super) fn validate(&self, program: &Program) -> Result<(), LowerError> {
        self.check_runner(&self.default_runner, "runners.default_runner")?;
        let names: Vec<&str> = program
            .stages
            .iter()
            .map(|s| s.name.as_str())
            .chain(
                program
                    .loops
                    .iter()
                    .flat_map(|l| l.nodes.iter().map(|n| n.name.as_str())),
            )
            .collect();
        for (name, o) in &self.stages {
            if !names.contains(&name.as_str()) {
                let help = did_you_mean(name, names.iter().copied())
                    .map(|s| format!("did you mean `[stages.{s}]`?"))
                    .unwrap_or_else(|| "name a stage of one of the loops, e.g. `[stages.builder]`".into());
                return Err(LowerError::UnknownConfigStage {
                    name: name.clone(),
                    help,
                });
            }
            if let Some(runner) = &o.runner {
                self.check_runner(runner, &format!("stages.{name}.runner"))?;
            }
        }
        Ok(())
    }

    fn check_runner(&self, runner: &str, key: &str) -> Result<(), LowerError> {
        if RUNNERS.contains(&runner) {
            return Ok(());
        }
        let help = did_you_mean(runner, RUNNERS.iter().copied())
            .map(|s| format!("did you mean `{s}`?"))
            .unwrap_or_else(|| format!("runners: {}", RUNNERS.join(", ")));
        Err(LowerError::UnknownConfigRunner {
            runner: runner.into(),
            key: key.into(),
            help,
        })
    }
}
