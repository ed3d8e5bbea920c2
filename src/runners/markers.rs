//! Reading what a stage declared: `### MARKER` lines and the structured
//! result file.
//!
//! Input: final-message text, or the request's result path. Output: marker
//! tokens in order of first appearance, or the parsed structured result.
//! Invariant: nothing here panics on any input, however garbled or large.

use std::path::Path;

use crate::workspace::fsx::{self, FsError};

/// The largest structured result file read (a result is a few keys).
const MAX_STRUCTURED_BYTES: u64 = 1024 * 1024;

/// The marker token of one line, if the line is `### TOKEN` (surrounding
/// whitespace allowed; the token is upper-case letters, digits, `_`).
pub(crate) fn marker_of_line(line: &str) -> Option<&str> {
    let rest = line.trim().strip_prefix("###")?;
    if !rest.starts_with(char::is_whitespace) {
        return None;
    }
    let token = rest.trim();
    let first_ok = token.chars().next().is_some_and(|c| c.is_ascii_uppercase());
    let all_ok = token
        .chars()
        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    (first_ok && all_ok).then_some(token)
}

/// Every distinct marker token of `text`, in order of first appearance.
pub(crate) fn distinct_markers(text: &str) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    for token in text.lines().filter_map(marker_of_line) {
        if !found.iter().any(|t| t == token) {
            found.push(token.to_owned());
        }
    }
    found
}

/// A parsed structured result file.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Structured {
    pub terminal_result: String,
    pub result_class: Option<String>,
    pub summary_artifact_paths: Vec<String>,
    /// Every other key.
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

/// Reads the structured result at `path`: `Ok(None)` when absent, `Err`
/// with a note when present but unusable.
pub(crate) fn read_structured(path: &Path) -> Result<Option<Structured>, String> {
    match fsx::read_capped(path, MAX_STRUCTURED_BYTES) {
        Ok(None) => Ok(None),
        Ok(Some(bytes)) => parse_structured(&bytes).map(Some),
        Err(FsError::TooLarge { .. }) => Err(format!(
            "structured result is larger than {MAX_STRUCTURED_BYTES} bytes"
        )),
        Err(e) => Err(format!("cannot read structured result: {e}")),
    }
}

/// Parses a structured result document.
pub(crate) fn parse_structured(bytes: &[u8]) -> Result<Structured, String> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| format!("structured result is not valid JSON: {e}"))?;
    let serde_json::Value::Object(mut map) = value else {
        return Err("structured result is not a JSON object".into());
    };
    let terminal_result = match map.remove("terminal_result") {
        Some(serde_json::Value::String(s)) => strip_marker_prefix(&s),
        Some(_) => return Err("structured result `terminal_result` is not a string".into()),
        None => return Err("structured result has no `terminal_result`".into()),
    };
    let result_class = match map.remove("result_class") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) => Some(s),
        Some(_) => return Err("structured result `result_class` is not a string".into()),
    };
    let summary_artifact_paths = match map.remove("summary_artifact_paths") {
        None | Some(serde_json::Value::Null) => Vec::new(),
        Some(serde_json::Value::Array(items)) => strings(items)?,
        Some(_) => return Err("structured result `summary_artifact_paths` is not a list".into()),
    };
    Ok(Structured {
        terminal_result,
        result_class,
        summary_artifact_paths,
        metadata: map,
    })
}

/// Accepts `"### X"` as well as `"X"`.
fn strip_marker_prefix(s: &str) -> String {
    marker_of_line(s).unwrap_or(s.trim()).to_owned()
}

fn strings(items: Vec<serde_json::Value>) -> Result<Vec<String>, String> {
    items
        .into_iter()
        .map(|v| match v {
            serde_json::Value::String(s) => Ok(s),
            _ => Err("structured result `summary_artifact_paths` holds a non-string".to_owned()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_lines() {
        assert_eq!(marker_of_line("### BUILDER_COMPLETE"), Some("BUILDER_COMPLETE"));
        assert_eq!(marker_of_line("  ###   BLOCKED  \r"), Some("BLOCKED"));
        assert_eq!(marker_of_line("### Summary"), None);
        assert_eq!(marker_of_line("###BLOCKED"), None);
        assert_eq!(marker_of_line("#### BLOCKED"), None);
        assert_eq!(marker_of_line("text ### BLOCKED"), None);
        assert_eq!(marker_of_line("### 9LIVES"), None);
    }

    #[test]
    fn distinct_in_order() {
        let text = "### B\nnoise\n### A\n### B\n";
        assert_eq!(distinct_markers(text), vec!["B".to_owned(), "A".to_owned()]);
    }

    #[test]
    fn structured_keeps_extra_keys() {
        let s =
            parse_structured(b"{\"terminal_result\":\"### FIXED\",\"resume_stage\":\"checker\"}").unwrap();
        assert_eq!(s.terminal_result, "FIXED");
        assert_eq!(s.metadata["resume_stage"], "checker");
        assert!(parse_structured(b"[1]").is_err());
        assert!(parse_structured(b"{\"terminal_result\": 3}").is_err());
        assert!(parse_structured(b"\xff\xfe").is_err());
    }
}
