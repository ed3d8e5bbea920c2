//! Reading a harness's failure: is it the harness (fix it and resume), the
//! provider passing through a bad moment (retry), a quota (wait for the
//! reset), or the agent's own turn?
//!
//! Input: the harness's error words and HTTP-ish statuses. Output: a
//! [`Verdict`]. Invariant: only words the real CLIs print are matched (see
//! `tests/fixtures/captures/`); anything unrecognized stays a provider
//! failure, routed like the agent's `BLOCKED`.

use crate::model::ExitKind;

/// What a failure is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The harness cannot work until someone fixes it.
    Unavailable,
    /// Retry later.
    Transient,
    /// A usage window or daily quota: wait for its reset.
    Quota,
    /// Something else went wrong in the turn.
    Provider,
}

impl Verdict {
    pub(crate) fn exit(self) -> ExitKind {
        match self {
            Verdict::Unavailable => ExitKind::HarnessUnavailable,
            Verdict::Transient => ExitKind::ProviderTransient,
            Verdict::Quota => ExitKind::QuotaExhausted,
            Verdict::Provider => ExitKind::ProviderError,
        }
    }
}

/// An HTTP status's verdict, when the status decides it.
pub(crate) fn of_status(status: u64) -> Option<Verdict> {
    match status {
        401 | 403 => Some(Verdict::Unavailable),
        408 | 409 | 425 | 500..=599 => Some(Verdict::Transient),
        _ => None,
    }
}

/// Words that say the harness is not allowed to work: bad credentials, not
/// logged in, no credit on the account, a refused permission mode.
pub(crate) fn is_unavailable(text: &str) -> bool {
    let lower = text.to_lowercase();
    [
        "authentication_error",
        "authentication_failed",
        "authentication failed",
        "invalid api key",
        "invalid x-api-key",
        "api key not valid",
        "api_key_invalid",
        "incorrect api key",
        "401 unauthorized",
        "status 401",
        "status 403",
        "not logged in",
        "please log in",
        "please login",
        "run /login",
        "oauth token has expired",
        "insufficient_quota",
        "check your plan and billing",
        "credit balance is too low",
        "cannot be used with root/sudo privileges",
    ]
    .iter()
    .any(|needle| lower.contains(needle))
}

/// Words of a passing provider problem.
pub(crate) fn is_transient(text: &str) -> bool {
    let lower = text.to_lowercase();
    [
        "high demand",
        "overloaded",
        "internal server error",
        "bad gateway",
        "service unavailable",
        "gateway timeout",
        "temporarily unavailable",
        "try again later",
        "connection reset",
        "connection refused",
        "connection error",
        "econnreset",
        "econnrefused",
        "stream disconnected",
        "error sending request",
        "rate_limit_error",
        "rate limit",
        "too many requests",
        "500 ",
        "502 ",
        "503 ",
        "529 ",
    ]
    .iter()
    .any(|needle| lower.contains(needle))
}

/// A stderr line a harness prints on every start, which never explains a
/// failure: `codex exec` announces it reads stdin whenever stdin is not a
/// terminal, Gemini CLI warns about the terminal, YOLO mode and a missing
/// ripgrep. Quoted to an operator as a stalled harness's last words, such
/// a line reads like the cause.
pub(crate) fn is_chatter(line: &str) -> bool {
    let line = line.trim_start();
    [
        "Reading additional input from stdin",
        "Warning: 256-color support not detected",
        "YOLO mode is enabled",
        "Ripgrep is not available",
    ]
    .iter()
    .any(|start| line.starts_with(start))
}

/// The verdict of an error text on its own.
pub(crate) fn of_text(text: &str) -> Verdict {
    if is_unavailable(text) {
        Verdict::Unavailable
    } else if super::quota::is_quota_text(text) {
        Verdict::Quota
    } else if is_transient(text) {
        Verdict::Transient
    } else {
        Verdict::Provider
    }
}

/// The first HTTP status a message leads with (`401 {...}`, `429 ...`).
pub(crate) fn leading_status(text: &str) -> Option<u64> {
    let digits: String = text
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let status: u64 = digits.parse().ok()?;
    (digits.len() == 3 && (400..600).contains(&status)).then_some(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_the_real_clis_print() {
        assert_eq!(
            of_text("Invalid API key · Fix external API key"),
            Verdict::Unavailable
        );
        assert_eq!(
            of_text("Quota exceeded. Check your plan and billing details."),
            Verdict::Unavailable
        );
        assert_eq!(
            of_text(
                "--dangerously-skip-permissions cannot be used with root/sudo privileges for security reasons"
            ),
            Verdict::Unavailable
        );
        assert_eq!(
            of_text("We’re currently experiencing high demand, which may cause temporary errors."),
            Verdict::Transient
        );
        assert_eq!(
            of_text("You’ve hit your usage limit. Try again at 10:24 PM."),
            Verdict::Quota
        );
        assert_eq!(of_text("the model refused"), Verdict::Provider);
        assert!(is_chatter("Reading additional input from stdin..."));
        assert!(is_chatter("Ripgrep is not available. Falling back to GrepTool."));
        assert!(!is_chatter("Error: stdin is closed"));
        assert_eq!(leading_status("401 {\"type\":\"error\"}"), Some(401));
        assert_eq!(leading_status("4011 nope"), None);
        assert_eq!(of_status(503), Some(Verdict::Transient));
        assert_eq!(of_status(429), None);
    }
}
