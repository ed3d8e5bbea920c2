//! `millrace lsp`: the language server over stdin and stdout.
//!
//! Input: LSP JSON-RPC on stdin. Output: replies and notifications on
//! stdout; nothing else is ever written there (logs would corrupt the
//! stream). Exit code 0 after a clean `shutdown` and `exit`, 1 otherwise.

use std::process::ExitCode;

use super::Outcome;

pub(super) fn run() -> Outcome {
    match crate::lsp::serve_stdio() {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => Err(e.into()),
    }
}
