//! What a runner reports: one typed, normalized stage result. Persisted by
//! the engine at `runs/<run>/stage_results/<request_id>.json`.

use std::path::PathBuf;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::plan::{Effort, Plane, ResultClass, WorkItemKind};

/// How the harness process (or in-process runner) ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExitKind {
    Completed,
    Timeout,
    /// Cancelled by the runtime (`stop --now`, a second signal).
    Killed,
    NotInstalled,
    RunnerError,
    ProviderError,
    QuotaExhausted,
    BudgetExhausted,
}

/// Why a stage did not produce a usable legal outcome. Every failure is
/// reported as the outcome `BLOCKED` with class `recoverable_failure`,
/// except `killed` and `quota_exhausted`, which the engine does not route:
/// it runs the same node again later.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureClass {
    MissingTerminalResult,
    IllegalTerminalResult,
    ConflictingTerminalResults,
    MissingRequiredArtifact,
    RunnerTimeout,
    RunnerTransportFailure,
    RunnerNotInstalled,
    ProviderFailure,
    BudgetExhausted,
    QuotaExhausted,
    Killed,
}

impl FailureClass {
    pub fn as_str(self) -> &'static str {
        match self {
            FailureClass::MissingTerminalResult => "missing_terminal_result",
            FailureClass::IllegalTerminalResult => "illegal_terminal_result",
            FailureClass::ConflictingTerminalResults => "conflicting_terminal_results",
            FailureClass::MissingRequiredArtifact => "missing_required_artifact",
            FailureClass::RunnerTimeout => "runner_timeout",
            FailureClass::RunnerTransportFailure => "runner_transport_failure",
            FailureClass::RunnerNotInstalled => "runner_not_installed",
            FailureClass::ProviderFailure => "provider_failure",
            FailureClass::BudgetExhausted => "budget_exhausted",
            FailureClass::QuotaExhausted => "quota_exhausted",
            FailureClass::Killed => "killed",
        }
    }

    /// Whether the engine must run the same node again instead of routing.
    pub fn retries_same_stage(self) -> bool {
        matches!(self, FailureClass::Killed | FailureClass::QuotaExhausted)
    }
}

/// Where the terminal result came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NormalizationSource {
    StructuredResult,
    FinalMessage,
    Failure,
}

/// Token counts as the harness reports them (a missing count is 0).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TokenUsage {
    pub input_tokens: u64,
    pub cached_input_tokens: u64,
    pub output_tokens: u64,
    pub thinking_tokens: u64,
    pub total_tokens: u64,
}

impl TokenUsage {
    /// Adds another stage's counts (for a run's or an item's total).
    pub fn add(&mut self, other: &TokenUsage) {
        self.input_tokens += other.input_tokens;
        self.cached_input_tokens += other.cached_input_tokens;
        self.output_tokens += other.output_tokens;
        self.thinking_tokens += other.thinking_tokens;
        self.total_tokens += other.total_tokens;
    }
}

/// A subscription rate-limit reading the harness exposed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RateLimit {
    pub window: String,
    pub used_percent: f64,
    pub resets_at: Option<Timestamp>,
}

/// One stage's normalized result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StageResult {
    pub schema_version: u32,
    pub kind: String,
    pub request_id: String,
    pub run_id: String,
    pub plane: Plane,
    pub node: String,
    pub stage: String,
    /// Closure requests report kind `spec` and the root spec id.
    pub work_item_kind: Option<WorkItemKind>,
    pub work_item_id: Option<String>,
    /// The outcome name (`BLOCKED` for every failure).
    pub terminal_result: String,
    pub result_class: ResultClass,
    pub success: bool,
    pub exit: ExitKind,
    pub exit_code: Option<i32>,
    pub failure_class: Option<FailureClass>,
    pub detected_marker: Option<String>,
    pub normalization_source: NormalizationSource,
    /// Keys of the structured result besides `terminal_result` (resume
    /// targets such as `resume_stage` live here).
    pub metadata: serde_json::Map<String, serde_json::Value>,
    /// Files inside the run directory the stage named as its outputs.
    pub artifacts: Vec<PathBuf>,
    pub report_artifact: Option<PathBuf>,
    pub notes: Vec<String>,
    pub token_usage: Option<TokenUsage>,
    pub cost_usd: Option<f64>,
    pub rate_limit: Option<RateLimit>,
    pub quota_reset_at: Option<Timestamp>,
    pub runner: String,
    pub model: Option<String>,
    pub effort: Option<Effort>,
    pub stdout_path: Option<PathBuf>,
    pub stderr_path: Option<PathBuf>,
    pub events_path: Option<PathBuf>,
    pub started_at: Timestamp,
    pub completed_at: Timestamp,
    pub duration_seconds: f64,
}

/// The schema version of [`StageResult`].
pub const STAGE_RESULT_SCHEMA_VERSION: u32 = 1;

/// What a stage came to, in one word, as summaries and the monitor show it:
/// `interrupted` for a stage that was killed, the failure class for a
/// harness that failed, else the agent's own outcome.
pub fn shown_outcome(outcome: &str, failure: Option<FailureClass>) -> &str {
    match failure {
        Some(FailureClass::Killed) => "interrupted",
        Some(f) => f.as_str(),
        None => outcome,
    }
}

impl StageResult {
    /// [`shown_outcome`] of this result.
    pub fn shown_outcome(&self) -> &str {
        shown_outcome(&self.terminal_result, self.failure_class)
    }

    /// Whether the engine must run the same node again instead of routing.
    pub fn retries_same_stage(&self) -> bool {
        self.failure_class.is_some_and(FailureClass::retries_same_stage)
    }
}
