//! The `millrace` binary: hands over to the CLI.

use std::process::ExitCode;

fn main() -> ExitCode {
    millrace::cli::main()
}
