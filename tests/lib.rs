//! The integration suite: one test binary (faster to build and link than one
//! per file). Each module covers one area.
#![allow(clippy::unwrap_used)]

mod authoring;
mod compile;
mod engine;
mod governance;
mod proof;
mod runners;
mod ui;
mod workspace;
