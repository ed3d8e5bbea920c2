//! Diagnostic tracing: spans per tick and per stage, events at the
//! runtime's decisions, written by `tracing-subscriber` when asked for.
//!
//! Input: `--log-level` (or `RUST_LOG`) and `--log-file`. Output: a global
//! subscriber, or none. Invariant: with neither given no subscriber is
//! installed, so every `tracing` call site stays disabled and costs a
//! relaxed load.

use std::path::Path;
use std::str::FromStr;
use std::sync::Mutex;

use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::workspace::fsx;

/// Why tracing could not be set up.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub(super) enum LogError {
    /// The filter is neither a level nor `target=level` directives.
    #[error("`{filter}` is not a log filter: {reason}")]
    #[diagnostic(
        code(mill::cli::log_filter),
        help("use a level (`info`, `debug`, `trace`) or directives such as `millrace::runners=debug,info`")
    )]
    Filter { filter: String, reason: String },

    /// The log file could not be opened.
    #[error(transparent)]
    #[diagnostic(transparent)]
    File(#[from] fsx::FsError),
}

/// Installs the subscriber `filter` asks for, writing to `file` or stderr.
pub(super) fn install(filter: Option<&str>, file: Option<&Path>) -> Result<(), LogError> {
    let Some(filter) = filter.map(str::trim).filter(|f| !f.is_empty()) else {
        return Ok(());
    };
    let targets = Targets::from_str(filter).map_err(|e| LogError::Filter {
        filter: filter.to_string(),
        reason: e.to_string(),
    })?;
    let fmt = tracing_subscriber::fmt::layer().with_target(true);
    let registry = tracing_subscriber::registry().with(targets);
    // A second install (a test calling `main` twice) keeps the first.
    let _ = match file {
        Some(path) => {
            let file = fsx::open_append(path)?;
            registry
                .with(fmt.with_ansi(false).with_writer(Mutex::new(file)))
                .try_init()
        }
        None => registry.with(fmt.with_writer(std::io::stderr)).try_init(),
    };
    Ok(())
}
