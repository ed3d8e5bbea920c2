//! What can go wrong while serving, and how each failure reaches a client.
//!
//! Input: failures of starting the server and of answering one request.
//! Output: [`ServeError`], one enum for the stage, each variant with a
//! `mill::serve::*` code; as an HTTP answer, a status and a JSON body
//! `{"error": {"code", "message", "help"}}` (pages render it as a panel).
//!
//! Invariants: no answer ever carries a backtrace or a panic message; a
//! workspace that cannot be read is a 503 with a code, an unknown or
//! invalid name in a URL a 404 with a code, a refused control a 403.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Why the server cannot start, or a request cannot be answered.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ServeError {
    /// The listening socket could not be opened.
    #[error("cannot listen on {addr}: {detail}")]
    #[diagnostic(
        code(mill::serve::bind_failed),
        help("pick a free port with `--bind 127.0.0.1:<port>`, or stop the process that holds it")
    )]
    BindFailed { addr: String, detail: String },

    /// The event loop or the accept loop failed.
    #[error("the dashboard server stopped: {detail}")]
    #[diagnostic(
        code(mill::serve::server_failed),
        help("this is an environment problem; start `millrace serve` again")
    )]
    ServerFailed { detail: String },

    /// A URL names a workspace this server does not serve.
    #[error("no workspace `{0}` is served here")]
    #[diagnostic(
        code(mill::serve::unknown_workspace),
        help("the overview (`/`) lists the served workspaces; `--workspace` adds one")
    )]
    UnknownWorkspace(String),

    /// A URL names a run, item, artifact or page that does not exist, or
    /// carries an id that is not a safe id.
    #[error("{0}")]
    #[diagnostic(
        code(mill::serve::not_found),
        help("ids use letters, digits, `.`, `_` and `-`; the runs and queues pages list the existing ones")
    )]
    NotFound(String),

    /// The workspace is missing, not initialized, or its state cannot be
    /// read as a whole (a corrupt snapshot is shown in `problems` instead).
    #[error("workspace `{key}` cannot be read: {detail}")]
    #[diagnostic(
        code(mill::serve::workspace_unreadable),
        help("run `millrace doctor --workspace <path>`; `millrace init` creates a missing workspace")
    )]
    WorkspaceUnreadable { key: String, detail: String },

    /// A control route on a server started without `--allow-control`.
    #[error("this dashboard is read-only")]
    #[diagnostic(
        code(mill::serve::control_disabled),
        help("start `millrace serve --allow-control` to get the control buttons")
    )]
    ControlDisabled,

    /// A control request without the token printed at start, or from
    /// another origin.
    #[error("control refused: {0}")]
    #[diagnostic(
        code(mill::serve::control_refused),
        help(
            "send the token printed by `millrace serve --allow-control` in the `x-millrace-token` header, from the dashboard's own page"
        )
    )]
    ControlRefused(String),

    /// A control request the mailbox did not accept.
    #[error("control failed: {0}")]
    #[diagnostic(
        code(mill::serve::control_failed),
        help("the workspace's mailbox could not take the command; `millrace doctor` says why")
    )]
    ControlFailed(String),
}

impl ServeError {
    /// The code, as the JSON body carries it.
    pub(crate) fn code_str(&self) -> String {
        miette::Diagnostic::code(self)
            .map(|c| c.to_string())
            .unwrap_or_default()
    }

    pub(crate) fn help_str(&self) -> String {
        miette::Diagnostic::help(self)
            .map(|h| h.to_string())
            .unwrap_or_default()
    }

    pub(crate) fn status(&self) -> StatusCode {
        match self {
            ServeError::UnknownWorkspace(_) | ServeError::NotFound(_) => StatusCode::NOT_FOUND,
            ServeError::WorkspaceUnreadable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ServeError::ControlDisabled | ServeError::ControlRefused(_) => StatusCode::FORBIDDEN,
            ServeError::ControlFailed(_) => StatusCode::CONFLICT,
            ServeError::BindFailed { .. } | ServeError::ServerFailed { .. } => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    /// The JSON body of the answer.
    pub(crate) fn body(&self) -> serde_json::Value {
        json!({ "error": { "code": self.code_str(), "message": self.to_string(), "help": self.help_str() } })
    }
}

impl IntoResponse for ServeError {
    fn into_response(self) -> Response {
        (self.status(), Json(self.body())).into_response()
    }
}
