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
//! Dependency direction, one way only (`docs/architecture.md` has the
//! table, `tests/architecture.rs` checks it): `cli → runtime → engine,
//! governance, runners, config, compile → workspace → model → plan`, and
//! `compile → lower → check → syntax → diag`. The engine is pure: it runs a
//! loaded [`plan::Plan`] over [`model`] data and depends on nothing else.
//! Only `workspace::fsx` touches the filesystem.

pub mod check;
pub mod cli;
pub mod compile;
pub mod config;
pub mod diag;
pub mod embedded;
pub mod engine;
pub mod fmt;
pub mod governance;
pub mod lower;
pub mod lsp;
pub mod model;
pub mod plan;
pub mod runners;
pub mod runtime;
pub mod serve;
pub mod syntax;
pub mod workspace;
