//! `millrace queue ...`: adding work, listing, showing and retrying items.

use std::path::PathBuf;

use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub enum QueueCommand {
    /// Validate a task document (`.md` or `.json`) and queue it.
    AddTask(AddArgs),
    /// Validate a spec document (`.md` or `.json`) and queue it.
    AddSpec(AddArgs),
    /// Stage an idea markdown file for intake as a root spec.
    AddIdea(AddArgs),
    /// Validate a learning request (`.md` or `.json`) and queue it; refused
    /// unless the mode runs a learning plane.
    AddLearningRequest(LearningAddArgs),
    /// What is queued and running (a first page), done, blocked and in the ideas inbox.
    Ls(QueueLsArgs),
    /// Find one work item and print it: state, why it was blocked, its runs.
    Show(QueueShowArgs),
    /// Put a blocked item back in its queue (its history is kept).
    Retry(QueueRetryArgs),
    /// Show (and with --apply mend) work of a closure target's family that
    /// is filed under another root spec.
    RepairLineage(QueueRepairLineageArgs),
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// The document: markdown (`.md`) or JSON (`.json`); an idea is markdown named `<id>.md`.
    pub file: PathBuf,
    /// With a daemon running, hand the command over without waiting for its verdict.
    #[arg(long)]
    pub no_wait: bool,
    /// Print one JSON value instead of `key: value` lines.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct LearningAddArgs {
    /// The learning request: markdown (`.md`) or JSON (`.json`).
    pub file: PathBuf,
    /// Check against this mode instead of `runtime.default_mode`.
    #[arg(long)]
    pub mode: Option<String>,
    /// Print one JSON value instead of `key: value` lines.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct QueueLsArgs {
    /// List every queued item with its claim facts instead of the first page.
    #[arg(long)]
    pub all: bool,
    /// How many items (active first, then queued in claim order) the page lists.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// Print one JSON value instead of `key: value` lines.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct QueueShowArgs {
    /// A work item id (task, spec, incident or learning request).
    pub id: String,
    /// Print one JSON value instead of `key: value` lines.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct QueueRetryArgs {
    /// The blocked work item's id.
    pub id: String,
    /// Why it may run again (recorded with the retry).
    #[arg(long, default_value = "retried by the operator")]
    pub reason: String,
    /// With a daemon running, hand the command over without waiting for its verdict.
    #[arg(long)]
    pub no_wait: bool,
    /// Print one JSON value instead of `key: value` lines.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct QueueRepairLineageArgs {
    /// The closure target's root spec id.
    #[arg(long)]
    pub root_spec_id: String,
    /// Rewrite the drifted documents (without it, only the plan is shown and recorded).
    #[arg(long)]
    pub apply: bool,
    /// With a daemon running, hand the command over without waiting for its verdict.
    #[arg(long)]
    pub no_wait: bool,
    /// Print one JSON value instead of `key: value` lines.
    #[arg(long)]
    pub json: bool,
}
