//! Millrace: a governed runtime for coding-agent work that is too long, too
//! stateful or too recovery-sensitive to survive one agent session.
//!
//! The pipeline, one way only:
//!
//! ```text
//! .mill sources ─syntax─▶ AST with spans ─check─▶ checked IR ─lower─▶ Plan
//! Plan + workspace state ─engine─▶ stage requests ─runners─▶ harness results
//! ```
//!
//! Dependency direction: `cli → engine → runners → workspace → plan ← lower ←
//! check ← syntax → diag`. The engine runs a loaded [`plan::Plan`] and never
//! depends on `syntax`, `check` or `lower`. Only `workspace` (and a runner
//! writing its own run directory) touches the workspace's files.

pub mod check;
pub mod cli;
pub mod diag;
pub mod embedded;
pub mod engine;
pub mod fmt;
pub mod governance;
pub mod lower;
pub mod lsp;
pub mod plan;
pub mod runners;
pub mod syntax;
pub mod workspace;
