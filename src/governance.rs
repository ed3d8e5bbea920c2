//! Usage governance: a token ledger fed by every stage result, rules over
//! rolling and calendar windows, and subscription-quota rules fed by the
//! harnesses' own rate-limit telemetry. Its verdict pauses the runtime
//! between stages with a pause source of its own.
//!
//! Input: `[usage_governance]` from `millrace.toml` ([`GovernanceSettings`]),
//! stage results as they finish, and the runtime's facts at each evaluation
//! ([`Facts`]: the clock, the lock session, the active runs, the pause).
//! Output: a [`Verdict`] (the blockers, and the rules that stopped
//! blocking), `state/usage_governance_state.json`, ledger lines, and events
//! for the runtime to log ([`Note`]).
//!
//! Invariants:
//! - evaluation takes the clock as a parameter; nothing here reads it;
//! - with governance off and no trace of it (no state file, no governance
//!   pause) an evaluation does no I/O at all;
//! - the ledger is read and reconciled once per process (or reload), then
//!   kept in memory;
//! - governance only ever decides about its own pause source; the engine
//!   applies the verdict and never touches an operator pause.
//!
//! Dependency direction: `engine::driver → governance → runners (types),
//! workspace (files)`. The engine's pure step never sees this module.

mod book;
pub(crate) mod codex;
mod governor;
pub(crate) mod quota;
pub(crate) mod windows;

use std::path::PathBuf;

pub use governor::{Facts, Governor, Verdict};

use crate::config::UsageGovernanceConfig;

/// An event for the runtime's log: its type and data.
pub type Note = crate::model::Event;

/// What governance needs from outside the workspace.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GovernanceSettings {
    pub config: UsageGovernanceConfig,
    /// Codex's home (`$CODEX_HOME`, else `~/.codex`), where its session
    /// rollouts carry the subscription's rate limits.
    pub codex_home: Option<PathBuf>,
}

impl GovernanceSettings {
    /// The settings for `config`, with the Codex home from the environment.
    pub fn from_env(config: UsageGovernanceConfig) -> Self {
        Self {
            config,
            codex_home: codex_home_from_env(),
        }
    }
}

/// `$CODEX_HOME`, else `$HOME/.codex`, else none.
pub fn codex_home_from_env() -> Option<PathBuf> {
    let set = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    set("CODEX_HOME")
        .map(PathBuf::from)
        .or_else(|| set("HOME").map(|h| PathBuf::from(h).join(".codex")))
}
