//! Harness runners: from a stage request to a normalized stage result.
//!
//! Input: a [`StageRunRequest`] (every path absolute) and the runner
//! configuration. Output: exactly one [`StageResult`] per request, whatever
//! the harness did (crashed, hung, printed garbage, printed two markers).
//!
//! Invariants: harness processes run in their own process group, get their
//! prompt as an argument or on stdin (never through a shell), are killed as
//! a group on timeout and cancel, and stream their output into the run
//! directory as it arrives. A runner writes only inside the request's run
//! directory (the one exception to "only `workspace` touches workspace
//! files").

mod request;
mod result;

pub use request::{Budget, ClosurePaths, LegalOutcome, RuntimeErrorPaths, StageRunRequest, WorkItemPaths};
pub use result::{
    ExitKind, FailureClass, NormalizationSource, RateLimit, STAGE_RESULT_SCHEMA_VERSION, StageResult,
    TokenUsage,
};
