//! `millrace gate ...` and `millrace replay`.

use std::path::PathBuf;

use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub enum GateCommand {
    /// The gates runs wait at: the question, what to look at, how long it has waited.
    Ls(GateLsArgs),
    /// Decide a waiting gate with one of its outcomes.
    Decide(GateDecideArgs),
}

#[derive(Debug, Args)]
pub struct GateLsArgs {
    /// Print one JSON value instead of `key: value` lines.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct GateDecideArgs {
    /// The gate id from `millrace gate ls` (a unique part of it, or the work item's id, will do).
    pub id: String,
    /// One of the gate's declared outcomes (`APPROVED`, `REJECTED`, ...).
    pub outcome: String,
    /// Words for the stage that runs next (they reach its prompt).
    #[arg(long, value_name = "TEXT")]
    pub note: Option<String>,
    /// With a daemon running, hand the decision over without waiting for its verdict.
    #[arg(long)]
    pub no_wait: bool,
    /// Print one JSON value instead of `key: value` lines.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// `.mill` files with the candidate loops, checked after the workspace's own.
    pub files: Vec<PathBuf>,
    /// The mode to replay under (default: `runtime.default_mode`, else `default_codex`).
    #[arg(long)]
    pub mode: Option<String>,
    /// Only the newest N runs.
    #[arg(long, value_name = "N", conflicts_with = "since")]
    pub runs: Option<usize>,
    /// Only runs started at or after this time (RFC 3339, or a date `YYYY-MM-DD`).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Print one JSON value instead of lines.
    #[arg(long)]
    pub json: bool,
}
