//! `[runners]` of `millrace.toml`: the runner a stage uses when its mode
//! names none, and each runner's own settings.
//!
//! Input: the TOML table (the config loader deserializes it with every
//! other section and locates each problem). Output: the settings every
//! runner reads. Invariant: each runner defines its settings beside its own
//! code; this struct only gathers them, so a field name is the TOML key and
//! every `Default` is what a missing key means.

use serde::{Deserialize, Serialize};

use super::claude::ClaudeConfig;
use super::codex::CodexConfig;
use super::command::CommandConfig;
use super::pi::PiConfig;
use super::scripted::ScriptedConfig;
use crate::model::settings::known_runner;

/// `[runners]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunnersConfig {
    #[serde(deserialize_with = "known_runner")]
    pub default_runner: String,
    pub codex: CodexConfig,
    pub claude: ClaudeConfig,
    pub pi: PiConfig,
    pub command: CommandConfig,
    pub scripted: ScriptedConfig,
}

impl Default for RunnersConfig {
    fn default() -> Self {
        Self {
            default_runner: crate::plan::DEFAULT_RUNNER.into(),
            codex: CodexConfig::default(),
            claude: ClaudeConfig::default(),
            pi: PiConfig::default(),
            command: CommandConfig::default(),
            scripted: ScriptedConfig::default(),
        }
    }
}
