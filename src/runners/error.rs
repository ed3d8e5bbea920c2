//! Errors a runner reports before any stage runs (preflight, bad scripts).
//!
//! Input: a runner name and its configuration. Output: a typed error with a
//! `mill::runner::*` code and help that says how to fix the setup.
//! Invariant: every variant is documented in `docs/diagnostics.md`.

use std::path::PathBuf;

/// Why a runner cannot be used.
#[derive(Debug, thiserror::Error, miette::Diagnostic, PartialEq, Eq)]
pub enum RunnerError {
    /// The harness binary is neither on `PATH` nor an executable file.
    #[error("runner `{runner}` needs `{command}`, which is not installed or not executable")]
    #[diagnostic(code(mill::runner::not_installed), help("{install}"))]
    NotInstalled {
        runner: String,
        command: String,
        install: String,
    },

    /// The runner name is none of the built-in runners.
    #[error("unknown runner `{runner}`")]
    #[diagnostic(
        code(mill::runner::unknown_runner),
        help("use one of codex_cli, claude_code, pi_rpc, gemini_cli, command, scripted")
    )]
    UnknownRunner { runner: String },

    /// A `command` stage has an empty `argv`.
    #[error("command runner stage `{stage}` has an empty argv")]
    #[diagnostic(
        code(mill::runner::empty_argv),
        help("set `runners.command.stages.{stage}.argv` to the program and its arguments")
    )]
    EmptyArgv { stage: String },

    /// The scripted runner's script could not be read.
    #[error("cannot read runner script {}: {reason}", path.display())]
    #[diagnostic(
        code(mill::runner::script_unreadable),
        help("create the file or fix `runners.scripted.script` (relative to millrace-agents/)")
    )]
    ScriptUnreadable { path: PathBuf, reason: String },

    /// The scripted runner's script is not a valid script.
    #[error("invalid runner script {}: {reason}", path.display())]
    #[diagnostic(
        code(mill::runner::script_invalid),
        help("see the scripted runner section of docs/runners.md for the format")
    )]
    ScriptInvalid { path: PathBuf, reason: String },
}
