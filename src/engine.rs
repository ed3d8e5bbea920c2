//! The tick engine that interprets a plan over a workspace.
//!
//! Input: a loaded [`crate::plan::Plan`], the runtime state (the workspace's
//! [`Snapshot`]) and one [`Input`] at a time. Output: the next state and the
//! [`Effect`]s to apply. [`step`] is pure: every observation arrives as an
//! input, so it is tested without any I/O.
//!
//! Invariants:
//! - routing reads the plan only; the engine never depends on `syntax`,
//!   `check` or `lower`;
//! - a stage runs only when it is recorded as pending in the state first, so
//!   a crash leaves either a pending stage (run again at the same node) or
//!   its result on disk (applied at restart), never a silent reroute;
//! - durable effects are idempotent and ids derive from request ids, so
//!   replaying them after a crash neither loses nor duplicates work;
//! - every work item has a fuel budget: no plan or harness can make it run
//!   forever.

mod control;
mod documents;
mod effect;
mod finish;
mod harness;
mod input;
pub mod replay;
pub mod route;
mod schedule;
mod step;

pub use documents::runtime_error_code;
pub use effect::{ClosureOutcome, Effect};
pub use input::{ApplyError, ClaimedItem, Control, GovernanceView, Input, TargetView, World};
pub use step::{Budgets, Retries, Rules, step};
