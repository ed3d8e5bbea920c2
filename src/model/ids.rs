//! Identifiers that become file names, status tokens, and the time-ordered
//! ids the runtime mints for runs, stage requests and mailbox commands.
//!
//! Input: strings from operators, documents and agents. Output: a yes/no
//! answer (or a coded error) before any of them is joined onto a path, and
//! fresh ids of the form `run-20261124T101530123-3fa9c2d1`.
//!
//! Invariants: a safe id matches `[A-Za-z0-9][A-Za-z0-9._-]*`, so it has no
//! path separator, cannot be `.` or `..`, and cannot start with a dot (no
//! hidden files). Minted ids sort lexicographically in mint order within one
//! process, and in time order (to the millisecond) across processes.

use std::sync::atomic::{AtomicI64, Ordering};

/// The maximum length of a safe id (file names stay well below NAME_MAX).
pub const MAX_ID_LEN: usize = 200;

/// A string that cannot be used as an identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, miette::Diagnostic)]
#[error("invalid {what} `{value}`: {reason}")]
#[diagnostic(
    code(mill::id::invalid),
    help(
        "ids use letters, digits, `.`, `_` and `-`, start with a letter or digit, and have no path separators"
    )
)]
pub struct IdError {
    pub what: String,
    pub value: String,
    pub reason: &'static str,
}

/// Whether `s` is a safe identifier.
pub fn is_safe_id(s: &str) -> bool {
    id_problem(s).is_none()
}

/// Checks `value` as an identifier of the given role (`task id`, `run id`).
pub fn check_id(what: &str, value: &str) -> Result<(), IdError> {
    match id_problem(value) {
        None => Ok(()),
        Some(reason) => Err(IdError {
            what: what.to_string(),
            value: value.chars().take(80).collect(),
            reason,
        }),
    }
}

/// Why `s` is not a safe id, if it is not.
pub fn id_problem(s: &str) -> Option<&'static str> {
    let mut chars = s.chars();
    let Some(first) = chars.next() else {
        return Some("it is empty");
    };
    if s.len() > MAX_ID_LEN {
        return Some("it is longer than 200 bytes");
    }
    if !first.is_ascii_alphanumeric() {
        return Some("it must start with a letter or digit");
    }
    if s.contains(['/', '\\']) {
        return Some("it contains a path separator");
    }
    if s.contains("..") {
        return Some("it contains `..`");
    }
    if !chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')) {
        return Some("it contains a character other than letters, digits, `.`, `_` and `-`");
    }
    None
}

/// Whether `token` may appear in a status file.
pub fn is_marker_token(token: &str) -> bool {
    !token.is_empty()
        && token
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// `[A-Z][A-Z0-9_]*`: the shape of a terminal marker token.
pub fn is_outcome_token(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_uppercase())
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// A fresh run id: `run-<UTC yyyymmddThhmmssmmm>-<8 hex>`.
pub fn new_run_id() -> String {
    mint("run")
}

/// A fresh stage request id: `req-<UTC yyyymmddThhmmssmmm>-<8 hex>`.
pub fn new_request_id() -> String {
    mint("req")
}

/// A fresh mailbox command id: `cmd-<UTC yyyymmddThhmmssmmm>-<8 hex>`.
pub fn new_command_id() -> String {
    mint("cmd")
}

/// A fresh session id for a lock owner: 32 hex digits.
pub fn new_session_id() -> String {
    format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..))
}

/// The last millisecond handed out by this process; ids never reuse or go
/// back in time, so two ids minted in one millisecond still sort in order.
static LAST_MS: AtomicI64 = AtomicI64::new(i64::MIN);

fn mint(prefix: &str) -> String {
    let now = jiff::Timestamp::now().as_millisecond();
    let mut last = LAST_MS.load(Ordering::Relaxed);
    let ms = loop {
        let next = now.max(last.saturating_add(1));
        match LAST_MS.compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => break next,
            Err(seen) => last = seen,
        }
    };
    let stamp = jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%Y%m%dT%H%M%S%3f").to_string())
        .unwrap_or_else(|_| format!("{ms:017}"));
    format!("{prefix}-{stamp}-{:08x}", fastrand::u32(..))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn safe_ids() {
        for ok in ["a", "task-1", "A.b_c-9", "0x"] {
            assert!(is_safe_id(ok), "{ok}");
        }
        for bad in ["", ".", "..", "a/b", "a\\b", ".hidden", "-x", "a..b", "a b", "é"] {
            assert!(!is_safe_id(bad), "{bad}");
        }
    }

    #[test]
    fn minted_ids_sort_in_mint_order() {
        let ids: Vec<String> = (0..200).map(|_| new_run_id()).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
        assert!(
            ids.iter()
                .all(|id| is_safe_id(id) && id.len() == "run-20261124T101530123-3fa9c2d1".len())
        );
    }
}
