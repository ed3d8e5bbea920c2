//! The control buttons: pause, resume, stop, stop now, retry-active and
//! queue-retry (a blocked item back to its queue),
//! sent to the daemon through the workspace's mailbox, as the CLI does.
//!
//! Input: a POST to `/api/w/{ws}/control/{action}` with the token printed
//! at start in the `x-millrace-token` header (and an optional JSON body:
//! `{"plane", "reason"}` for retry-active, `{"id", "reason"}` for
//! queue-retry). Output: the issued command's
//! id, or a refusal with a code.
//!
//! Invariants: without `--allow-control` every control request is refused
//! ([`ServeError::ControlDisabled`]) before anything else is looked at;
//! the token is compared in constant time; a request from another origin
//! (an `Origin` or `Sec-Fetch-Site` header that is not this server) is
//! refused, and since the token travels in a custom header, a cross-site
//! form cannot send it; the only write is [`mailbox::issue`], and the lock
//! is only inspected, never taken (a stop with no daemon running is
//! refused, as the CLI reports it not applied).

use axum::http::HeaderMap;
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::ServeError;
use super::sites::{App, Site, shorten};
use crate::plan::Plane;
use crate::workspace::lock::{self, LockState};
use crate::workspace::mailbox::{self, Command};

/// The header that carries the token.
pub(crate) const TOKEN_HEADER: &str = "x-millrace-token";

/// The optional body of a retry-active (`plane`) or a queue-retry (`id`).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RetryBody {
    pub plane: Option<String>,
    pub id: Option<String>,
    pub reason: Option<String>,
}

/// Checks the token and the origin of a control request.
pub(crate) fn authorize(app: &App, headers: &HeaderMap) -> Result<(), ServeError> {
    let Some(token) = &app.token else {
        return Err(ServeError::ControlDisabled);
    };
    let given = headers
        .get(TOKEN_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !same_bytes(given.as_bytes(), token.as_bytes()) {
        return Err(ServeError::ControlRefused(format!(
            "missing or wrong `{TOKEN_HEADER}` header"
        )));
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(origin) = header("origin") {
        let host = header("host").unwrap_or_default();
        if origin != format!("http://{host}") {
            return Err(ServeError::ControlRefused(format!(
                "the request comes from another origin (`{}`)",
                shorten(origin)
            )));
        }
    }
    if let Some(site) = header("sec-fetch-site")
        && site != "same-origin"
        && site != "none"
    {
        return Err(ServeError::ControlRefused(format!(
            "the request comes from another site (`{}`)",
            shorten(site)
        )));
    }
    Ok(())
}

/// Equal lengths and bytes, in time that does not depend on where they
/// differ.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The mailbox command an action names.
fn command(action: &str, body: RetryBody) -> Result<Command, ServeError> {
    Ok(match action {
        "pause" => Command::Pause,
        "resume" => Command::Resume,
        "stop" => Command::Stop,
        "stop-now" => Command::StopNow,
        "retry-active" => {
            let plane = match body.plane.as_deref().filter(|p| !p.is_empty()) {
                None => None,
                Some(p) => Some(
                    p.parse::<Plane>()
                        .map_err(|()| ServeError::ControlFailed(format!("unknown plane `{}`", shorten(p))))?,
                ),
            };
            let reason = body
                .reason
                .filter(|r| !r.trim().is_empty())
                .unwrap_or_else(|| "operator requested retry from the dashboard".into());
            Command::RetryActive { reason, plane }
        }
        "queue-retry" => {
            let id = body.id.unwrap_or_default();
            // Checked here as everywhere else: an id never reaches a path
            // unchecked.
            crate::model::ids::check_id("work item id", &id)
                .map_err(|e| ServeError::ControlFailed(format!("bad id `{}`: {e}", shorten(&id))))?;
            let reason = body
                .reason
                .filter(|r| !r.trim().is_empty())
                .unwrap_or_else(|| "retried from the dashboard".into());
            Command::RetryItem { id, reason }
        }
        other => return Err(ServeError::NotFound(format!("no control `{}`", shorten(other)))),
    })
}

/// Issues the command to the site's mailbox.
pub(crate) fn issue(site: &Site, action: &str, body: RetryBody) -> Result<Value, ServeError> {
    let command = command(action, body)?;
    let running = lock::inspect(&site.ws).is_ok_and(|seen| seen.state == LockState::Active);
    if !running && matches!(command, Command::Stop | Command::StopNow) {
        return Err(ServeError::ControlFailed("the runtime is not running".into()));
    }
    let issued = mailbox::issue(&site.ws, &command, "dashboard")
        .map_err(|e| ServeError::ControlFailed(e.to_string()))?;
    let detail = if running {
        "queued for the running daemon"
    } else {
        "no daemon is running: the next daemon applies it when it starts"
    };
    Ok(json!({
        "action": command.name(), "mode": "mailbox", "applied": "pending", "detail": detail,
        "command_id": issued.command_id, "mailbox_path": site.ws.relative(&issued.path),
    }))
}
