//! Runner settings: the `[runners]` table of `millrace.toml` as plain
//! structs.
//!
//! Input: nothing (another layer parses the TOML and fills these). Output:
//! the settings every runner reads. Invariant: field names are the TOML keys,
//! and every `Default` is the value a missing key means.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::plan::Effort;

/// `[runners]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunnersConfig {
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

/// How much the Codex sandbox lets the harness do.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// Writes inside the workspace only.
    Basic,
    /// Full disk access, never asks.
    Elevated,
    /// No sandbox, no approvals.
    #[default]
    Maximum,
}

/// `[runners.codex]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CodexConfig {
    pub command: String,
    pub args: Vec<String>,
    pub profile: Option<String>,
    pub permission_default: Permission,
    pub permission_by_stage: BTreeMap<String, Permission>,
    pub permission_by_model: BTreeMap<String, Permission>,
    pub model_reasoning_effort: Option<Effort>,
    pub skip_git_repo_check: bool,
    /// Each item is passed as `-c <item>`.
    pub extra_config: Vec<String>,
    pub env: BTreeMap<String, String>,
}

impl Default for CodexConfig {
    fn default() -> Self {
        Self {
            command: "codex".into(),
            args: vec!["exec".into()],
            profile: None,
            permission_default: Permission::Maximum,
            permission_by_stage: BTreeMap::new(),
            permission_by_model: BTreeMap::new(),
            model_reasoning_effort: None,
            skip_git_repo_check: true,
            extra_config: Vec::new(),
            env: BTreeMap::new(),
        }
    }
}

/// `[runners.claude]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClaudeConfig {
    pub command: String,
    pub args: Vec<String>,
    /// Used when the request names no model.
    pub model: Option<String>,
    /// Passed verbatim to `--permission-mode`.
    pub permission_mode: String,
    pub max_turns: Option<u32>,
    pub max_budget_usd: Option<f64>,
    pub allowed_tools: Vec<String>,
    pub disallowed_tools: Vec<String>,
    pub bare: bool,
    pub env: BTreeMap<String, String>,
}

impl Default for ClaudeConfig {
    fn default() -> Self {
        Self {
            command: "claude".into(),
            args: Vec::new(),
            model: None,
            permission_mode: "bypassPermissions".into(),
            max_turns: None,
            max_budget_usd: None,
            allowed_tools: Vec::new(),
            disallowed_tools: Vec::new(),
            bare: false,
            env: BTreeMap::new(),
        }
    }
}

/// When the Pi runner keeps its RPC event log.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PiEventLogPolicy {
    /// Keep the log only when the stage did not complete cleanly.
    #[default]
    FailureFull,
    /// Always keep the log.
    Full,
}

/// `[runners.pi]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PiConfig {
    pub command: String,
    pub args: Vec<String>,
    pub provider: Option<String>,
    pub thinking: Option<String>,
    pub disable_context_files: bool,
    pub disable_skills: bool,
    pub event_log_policy: PiEventLogPolicy,
    pub env: BTreeMap<String, String>,
}

impl Default for PiConfig {
    fn default() -> Self {
        Self {
            command: "pi".into(),
            args: Vec::new(),
            provider: None,
            thinking: None,
            disable_context_files: true,
            disable_skills: true,
            event_log_policy: PiEventLogPolicy::FailureFull,
            env: BTreeMap::new(),
        }
    }
}

/// `[runners.command]`: stages run as plain programs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CommandConfig {
    /// Keyed by stage name (a node name also matches).
    pub stages: BTreeMap<String, CommandStage>,
}

/// `[runners.command.stages.<stage>]`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CommandStage {
    /// The program and its arguments, never run through a shell.
    pub argv: Vec<String>,
    /// The outcome reported on exit status 0.
    pub success: Option<String>,
    /// The outcome reported on a non-zero exit status.
    pub failure: Option<String>,
    /// On exit status 0, take the outcome from a `### MARKER` line of stdout.
    pub marker_from_output: bool,
    pub env: BTreeMap<String, String>,
    /// Working directory relative to the workspace root.
    pub cwd: Option<String>,
}

/// `[runners.scripted]`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ScriptedConfig {
    /// The script, relative to `<workspace>/millrace-agents/` unless absolute.
    pub script: Option<PathBuf>,
    /// A script built in code; wins over `script`. Never read from TOML.
    #[serde(skip)]
    pub inline: Option<super::scripted::Script>,
}

mod from_workspace;
