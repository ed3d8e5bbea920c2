//! The `millrace` binary: installs logging (opt-in via `MILLRACE_LOG`) and
//! hands over to the CLI.

use std::process::ExitCode;

fn main() -> ExitCode {
    if let Ok(level) = std::env::var("MILLRACE_LOG") {
        let level = level.parse().unwrap_or(tracing::Level::INFO);
        tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_max_level(level)
            .init();
    }
    millrace::cli::main()
}
