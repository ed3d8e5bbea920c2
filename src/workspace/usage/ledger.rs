//! `state/usage_governance_ledger.jsonl`: one line per counted stage result.
//!
//! Input: entries to append; the run directories for reconciliation.
//! Output: every valid entry in file order, plus the lines that were not.
//! Invariants: append-only with fsync; a malformed or torn line is skipped
//! and reported (never fatal); keys are workspace-relative result paths.

use std::collections::HashSet;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::super::fsx::{self, FsError};
use super::super::runs::StageResult;
use super::super::{AGENTS_DIR, Workspace};
use crate::model::TokenUsage;

/// One counted stage result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// The workspace-relative path of the stage result (one count each).
    pub dedupe_key: String,
    pub counted_at: Timestamp,
    pub stage_completed_at: Timestamp,
    pub plane: String,
    pub run_id: String,
    /// The stage (kind) that ran.
    pub stage_id: String,
    #[serde(default)]
    pub work_item_kind: Option<String>,
    #[serde(default)]
    pub work_item_id: Option<String>,
    pub token_usage: TokenUsage,
    pub stage_result_path: String,
    /// The lock session of the process that ran the stage (`None` when the
    /// result was found on disk later).
    #[serde(default)]
    pub daemon_session_id: Option<String>,
    /// What the harness said the stage cost, when it says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
}

impl LedgerEntry {
    /// The entry for a stage result found at `key` (a workspace-relative
    /// path) that no live process counted.
    pub fn found(key: &str, result: &StageResult, now: Timestamp) -> Option<Self> {
        let tokens = result.token_usage?;
        Some(Self {
            dedupe_key: key.to_string(),
            counted_at: now,
            stage_completed_at: result.completed_at.unwrap_or(now),
            plane: result.plane.clone().unwrap_or_default(),
            run_id: result.run_id.clone(),
            stage_id: result.stage.clone(),
            work_item_kind: result.work_item_kind.clone(),
            work_item_id: result.work_item_id.clone(),
            token_usage: tokens,
            stage_result_path: key.to_string(),
            daemon_session_id: None,
            cost_usd: result.cost_usd,
        })
    }
}

/// A line the reader skipped.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DamagedLine {
    /// 1-based line number.
    pub line: usize,
    pub error: String,
}

/// The ledger as read.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LedgerRead {
    pub entries: Vec<LedgerEntry>,
    pub damaged: Vec<DamagedLine>,
}

/// Reads every entry; a missing ledger is empty.
pub fn read_ledger(ws: &Workspace) -> Result<LedgerRead, FsError> {
    let path = ws.paths().governance_ledger();
    // Bytes, not text: a write torn inside a multi-byte character must
    // cost one line, not the whole ledger.
    let Some(bytes) = fsx::read_optional_bytes(&path)? else {
        return Ok(LedgerRead::default());
    };
    let text = String::from_utf8_lossy(&bytes);
    let mut read = LedgerRead::default();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<LedgerEntry>(line) {
            Ok(entry) => read.entries.push(entry),
            Err(e) => read.damaged.push(DamagedLine {
                line: n + 1,
                error: e.to_string(),
            }),
        }
    }
    Ok(read)
}

/// Appends one entry (fsynced). Returns whether a torn last line had to be
/// closed first.
pub fn append_entry(ws: &Workspace, entry: &LedgerEntry) -> Result<bool, FsError> {
    let line = serde_json::to_string(entry).unwrap_or_default();
    fsx::append_line_after_torn(&ws.paths().governance_ledger(), &line)
}

/// Stage results under `runs/*/stage_results/` whose key `known` does not
/// contain, with token usage, in path order. Files already counted are
/// never opened; unreadable or malformed ones are skipped (`runs show`
/// reports them).
pub fn unrecorded_results(
    ws: &Workspace,
    known: &HashSet<String>,
) -> Result<Vec<(String, StageResult)>, FsError> {
    let runs = ws.paths().runs_dir();
    let mut run_ids = fsx::list_names(&runs)?;
    run_ids.retain(|n| !fsx::is_temp_name(n) && !n.starts_with('.'));
    run_ids.sort();
    let mut found = Vec::new();
    for run_id in run_ids {
        let dir = runs.join(&run_id).join("stage_results");
        let mut names = fsx::list_names(&dir)?;
        names.retain(|n| n.ends_with(".json") && !n.starts_with('.'));
        names.sort();
        for name in names {
            let key = format!("{AGENTS_DIR}/runs/{run_id}/stage_results/{name}");
            if known.contains(&key) {
                continue;
            }
            let Ok(Some(text)) = fsx::read_optional(&dir.join(&name)) else {
                continue;
            };
            if let Ok(result) = serde_json::from_str::<StageResult>(&text)
                && result.token_usage.is_some()
            {
                found.push((key, result));
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(key: &str) -> LedgerEntry {
        let at = Timestamp::from_second(1_800_000_000).unwrap();
        LedgerEntry {
            dedupe_key: key.into(),
            counted_at: at,
            stage_completed_at: at,
            plane: "execution".into(),
            run_id: "run-1".into(),
            stage_id: "builder".into(),
            work_item_kind: Some("task".into()),
            work_item_id: Some("t1".into()),
            token_usage: TokenUsage {
                total_tokens: 10,
                ..TokenUsage::default()
            },
            stage_result_path: key.into(),
            daemon_session_id: None,
            cost_usd: None,
        }
    }

    #[test]
    fn a_torn_line_is_skipped_and_the_next_append_starts_fresh() {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::at(dir.path()).unwrap();
        assert!(!append_entry(&ws, &entry("a")).unwrap());
        let path = ws.paths().governance_ledger();
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("{\"dedupe_key\": \"b\", \"count");
        std::fs::write(&path, text).unwrap();
        assert!(append_entry(&ws, &entry("c")).unwrap(), "the torn tail is closed");
        let read = read_ledger(&ws).unwrap();
        let keys: Vec<&str> = read.entries.iter().map(|e| e.dedupe_key.as_str()).collect();
        assert_eq!(keys, ["a", "c"]);
        assert_eq!(read.damaged.len(), 1);
        assert_eq!(read.damaged[0].line, 2);
    }
}
