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
    /// The harness cannot work (not logged in, bad key, refused
    /// permission mode, exited before any event).
    HarnessUnavailable,
    /// A failure worth retrying (5xx, connection reset, rate limit).
    ProviderTransient,
    /// No progress event for the stall limit.
    Stalled,
}

/// Why a stage did not produce a usable legal outcome. Every failure is
/// reported as the outcome `BLOCKED` with class `recoverable_failure`. The
/// agent's own failures are routed like any outcome; the harness's are not
/// (see [`FailureClass::fault`]): the engine runs the same node again,
/// after a pause or a backoff, and charges nothing for the lost stage.
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
    /// The harness cannot work until the operator fixes it.
    HarnessUnavailable,
    /// The harness produced no progress event for the stall limit.
    HarnessStalled,
    /// A provider hiccup; retried with backoff before it counts.
    ProviderTransient,
}

/// Whose problem a failure is, as far as routing goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The agent's turn: route the outcome (`BLOCKED`) through the plan.
    Agent,
    /// The stage was stopped (`stop --now`, a crash): run it again.
    Interrupted,
    /// A quota window: pause usage governance until it resets.
    Quota,
    /// The harness is broken: pause for the operator, item untouched.
    Harness,
    /// A passing provider failure: retry after a backoff, a few times.
    Transient,
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
            FailureClass::HarnessUnavailable => "harness_unavailable",
            FailureClass::HarnessStalled => "harness_stalled",
            FailureClass::ProviderTransient => "provider_transient",
        }
    }

    /// Whose problem this failure is.
    pub fn fault(self) -> Fault {
        match self {
            FailureClass::Killed => Fault::Interrupted,
            FailureClass::QuotaExhausted => Fault::Quota,
            FailureClass::HarnessUnavailable
            | FailureClass::HarnessStalled
            | FailureClass::RunnerNotInstalled => Fault::Harness,
            FailureClass::ProviderTransient => Fault::Transient,
            _ => Fault::Agent,
        }
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
    /// Input tokens written to the provider's prompt cache (part of
    /// `input_tokens`).
    pub cache_write_tokens: u64,
    pub total_tokens: u64,
}

impl TokenUsage {
    /// Adds another stage's counts (for a run's or an item's total).
    pub fn add(&mut self, other: &TokenUsage) {
        self.input_tokens += other.input_tokens;
        self.cached_input_tokens += other.cached_input_tokens;
        self.output_tokens += other.output_tokens;
        self.thinking_tokens += other.thinking_tokens;
        self.cache_write_tokens += other.cache_write_tokens;
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
    /// Every usage window the harness reported (Claude's unified windows).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rate_limits: Vec<RateLimit>,
    pub quota_reset_at: Option<Timestamp>,
    /// The harness's own words about its failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub harness_message: Option<String>,
    /// The last lines the harness wrote to stderr, when it failed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stderr_tail: Vec<String>,
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

    /// Whose problem this result is ([`Fault::Agent`] for a clean one).
    pub fn fault(&self) -> Fault {
        self.failure_class.map_or(Fault::Agent, FailureClass::fault)
    }

    /// What the operator should read first about a failure: the harness's
    /// message, else its last stderr line.
    pub fn failure_words(&self) -> Option<&str> {
        self.harness_message
            .as_deref()
            .or_else(|| self.stderr_tail.last().map(String::as_str))
    }
}
