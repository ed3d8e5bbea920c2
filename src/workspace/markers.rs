//! `state/<plane>_status.md`: one line `### <TOKEN>` per plane, for humans
//! and agents that look at files rather than JSON.
//!
//! Invariant: the file holds exactly `### <TOKEN>\n` where the token is
//! `[A-Z0-9_]+` (`IDLE`, `BUILDER_RUNNING`, a terminal result).

use super::Workspace;
use super::fsx::{self, FsError};
use crate::model::ids::is_marker_token;
use crate::plan::Plane;

/// Why a marker cannot be read or written.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum MarkerError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Fs(#[from] FsError),

    /// The file does not hold one `### TOKEN` line.
    #[error("the {plane} status file does not hold one `### TOKEN` line: {found:?}")]
    #[diagnostic(
        code(mill::state::marker_invalid),
        help("`millrace clear-stale-state` rewrites every status file as `### IDLE`")
    )]
    Invalid { plane: Plane, found: String },

    /// A caller tried to write a malformed token.
    #[error("`{token}` is not a status token (`[A-Z0-9_]+`)")]
    #[diagnostic(
        code(mill::state::marker_token),
        help("use tokens such as `IDLE` or `BUILDER_RUNNING`")
    )]
    BadToken { token: String },
}

/// Parses marker file content into its token.
pub fn parse_marker(text: &str) -> Option<&str> {
    let line = text.strip_suffix('\n').unwrap_or(text);
    let token = line.strip_prefix("### ")?;
    is_marker_token(token).then_some(token)
}

/// The token of a plane's status file; `None` if the file is missing.
pub fn read_marker(ws: &Workspace, plane: Plane) -> Result<Option<String>, MarkerError> {
    let Some(text) = fsx::read_optional(&ws.paths().status_marker(plane))? else {
        return Ok(None);
    };
    match parse_marker(&text) {
        Some(token) => Ok(Some(token.to_string())),
        None => Err(MarkerError::Invalid {
            plane,
            found: text.chars().take(80).collect(),
        }),
    }
}

/// Writes `### <token>\n` atomically.
pub fn write_marker(ws: &Workspace, plane: Plane, token: &str) -> Result<(), MarkerError> {
    if !is_marker_token(token) {
        return Err(MarkerError::BadToken {
            token: token.to_string(),
        });
    }
    let text = format!("### {token}\n");
    // Derived from the snapshot and rewritten at every transition: atomic
    // for readers, not flushed (after a power loss an old one shows until
    // the next transition).
    fsx::write_cache_with(&ws.paths().status_marker(plane), |out| {
        std::io::Write::write_all(out, text.as_bytes())
    })?;
    Ok(())
}
