//! `millrace-agents/millrace.toml`: the operator's configuration.
//!
//! Input: the TOML text. Output: a typed [`Config`] with every default
//! filled in, or a [`ConfigError`] listing every problem found (unknown
//! keys, wrong types, bad values), each with its dotted key, line, column and
//! a label on the exact span.
//!
//! Invariants: loading never panics and never stops at the first problem
//! when more can be found; [`Config::plan_settings`] holds exactly the keys
//! that shape a compiled plan, so tweaking governance, watchers or runner
//! flags does not make a plan stale.

mod load;
mod schema;

use std::path::Path;

pub use load::ProblemKind;

/// A located problem in `millrace.toml`.
pub type ConfigProblem = crate::workspace::problem::Problem;
pub use schema::*;

use crate::workspace::fsx::{self, FsError};

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read the configuration `{}`", path.display())]
    #[diagnostic(code(mill::config::unreadable))]
    Unreadable {
        path: std::path::PathBuf,
        #[source]
        source: FsError,
        /// What to do, for the reason it could not be read.
        #[help]
        help: String,
    },

    /// One or more problems; each is its own diagnostic with a location.
    #[error("{} in `{file}`", crate::workspace::problem::count_phrase(problems.len()))]
    #[diagnostic(
        code(mill::config::invalid),
        help("fix every problem listed, then run `millrace config validate`")
    )]
    Invalid {
        file: String,
        #[related]
        problems: Vec<ConfigProblem>,
    },
}

impl ConfigError {
    /// The individual problems (empty for an unreadable file).
    pub fn problems(&self) -> &[ConfigProblem] {
        match self {
            ConfigError::Invalid { problems, .. } => problems,
            ConfigError::Unreadable { .. } => &[],
        }
    }
}

impl ConfigError {
    fn unreadable(path: &Path, source: FsError) -> ConfigError {
        let help = match &source {
            e if e.is_not_found() => "run `millrace init` to create it",
            FsError::Io { source, .. } if source.kind() == std::io::ErrorKind::InvalidData => {
                "the file is not UTF-8 text: save it as UTF-8 (TOML files are UTF-8)"
            }
            FsError::NotRegular { .. } => "replace it with a regular file",
            FsError::TooLarge { .. } => "this is not a configuration file; restore `millrace.toml`",
            _ => "check that the file can be read (its permissions)",
        };
        ConfigError::Unreadable {
            path: path.to_path_buf(),
            source,
            help: help.into(),
        }
    }
}

impl Config {
    /// Reads and checks a config file, reporting every problem at once.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = fsx::read_text(path).map_err(|source| ConfigError::unreadable(path, source))?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Checks config text; `name` labels diagnostics (usually the path).
    pub fn parse(text: &str, name: &str) -> Result<Config, ConfigError> {
        load::parse(text, name)
    }

    /// The settings that shape a compiled plan, with their fingerprint.
    pub fn plan_settings(&self) -> PlanSettings {
        let stages = self
            .stages
            .iter()
            .map(|(name, c)| {
                let o = StageOverride {
                    runner: c.runner.clone(),
                    model: c.model.clone(),
                    model_reasoning_effort: c.model_reasoning_effort,
                    timeout_seconds: c.timeout_seconds,
                };
                (name.clone(), o)
            })
            .collect();
        PlanSettings {
            default_mode: self.runtime.default_mode.clone(),
            default_runner: self.runners.default_runner.clone(),
            stages,
            recovery: RecoveryLimits {
                max_fix_cycles: self.recovery.max_fix_cycles,
                max_troubleshoot_attempts_before_consult: self
                    .recovery
                    .max_troubleshoot_attempts_before_consult,
                max_mechanic_attempts: self.recovery.max_mechanic_attempts,
                max_consultant_invocations: self.recovery.max_consultant_invocations,
                max_closure_attempts: self.recovery.max_closure_attempts,
            },
        }
    }

    /// The effective configuration as JSON (every default filled in).
    pub fn to_json_value(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

pub use crate::plan::{PlanSettings, RecoveryLimits, StageOverride};
