//! What a runner observed, before normalization.
//!
//! Input: filled in by one runner while its harness runs. Output: the raw
//! material [`super::normalize`] turns into a [`super::StageResult`].
//! Invariant: a runner never decides the terminal result itself except the
//! `command` runner's exit-status outcome ([`RawRun::outcome`]).

use std::path::PathBuf;

use jiff::Timestamp;

use crate::model::{ExitKind, RateLimit, TokenUsage};

/// One harness run as observed.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct RawRun {
    pub exit: ExitKind,
    /// The process exit code; `None` when killed by a signal or in-process.
    pub exit_code: Option<i32>,
    /// The final message to scan for `### MARKER` lines.
    pub final_message: Option<String>,
    /// An outcome chosen without a marker (a command's exit status).
    pub outcome: Option<String>,
    pub token_usage: Option<TokenUsage>,
    pub cost_usd: Option<f64>,
    pub rate_limit: Option<RateLimit>,
    /// Every window the harness reported, `rate_limit` among them.
    pub rate_limits: Vec<RateLimit>,
    pub quota_reset_at: Option<Timestamp>,
    pub notes: Vec<String>,
    /// The harness's own words about a failure (its error message).
    pub harness_message: Option<String>,
    /// The last lines of the harness's stderr.
    pub stderr_tail: Vec<String>,
    pub stdout_path: Option<PathBuf>,
    pub stderr_path: Option<PathBuf>,
    pub events_path: Option<PathBuf>,
    /// Facts for `runner_completion.<rid>.json` only (pgid, byte counts).
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl RawRun {
    pub(crate) fn new(exit: ExitKind) -> RawRun {
        RawRun {
            exit,
            exit_code: None,
            final_message: None,
            outcome: None,
            token_usage: None,
            cost_usd: None,
            rate_limit: None,
            rate_limits: Vec::new(),
            quota_reset_at: None,
            notes: Vec::new(),
            harness_message: None,
            stderr_tail: Vec::new(),
            stdout_path: None,
            stderr_path: None,
            events_path: None,
            extra: serde_json::Map::new(),
        }
    }

    /// A run that failed before or outside the harness.
    pub(crate) fn failed(exit: ExitKind, note: impl Into<String>) -> RawRun {
        let mut raw = RawRun::new(exit);
        raw.notes.push(note.into());
        raw
    }

    pub(crate) fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    /// Ends the run as `exit`, with the harness's own message and a note.
    pub(crate) fn fail(&mut self, exit: ExitKind, message: &str, note: String) {
        self.exit = exit;
        self.harness_message = Some(message.to_owned());
        self.notes.push(note);
    }
}
