//! The integration suite: one test binary (faster to build and link than one
//! per file). Each module covers one area.
#![allow(clippy::unwrap_used, unreachable_pub)]

mod architecture;
mod authoring;
mod compile;
mod docs;
mod engine;
mod governance;
mod parity;
mod proof;
mod runners;
mod serve;
mod ui;
mod workspace;
