//! The tick engine that interprets a plan over a workspace.
//!
//! Input: a loaded [`crate::plan::Plan`], the runtime state and one input
//! at a time. Output: the next state and the effects to apply. Routing
//! reads the plan only; the engine never depends on `syntax`, `check` or
//! `lower`.

pub mod route;
