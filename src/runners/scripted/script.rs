//! The scripted runner's script format.
//!
//! A script is a small TOML document that says what each stage answers:
//!
//! ```toml
//! [stages]
//! builder = ["BUILDER_COMPLETE"]
//! # One entry per attempt; the last one repeats once the list runs out.
//! checker = ["FIX_NEEDED", "CHECKER_PASS"]
//! updater = [{ outcome = "UPDATE_COMPLETE", tokens = 1200, cost_usd = 0.02 }]
//! troubleshooter = [{ outcome = "TROUBLESHOOT_COMPLETE", result = { resume_stage = "checker" } }]
//! manager = [{ outcome = "MANAGER_COMPLETE", writes = [
//!     { path = "millrace-agents/tasks/queue/{root_spec_id}-t1.md", content = "# Task\n" },
//! ] }]
//!
//! # A work item's own entries win over the stage's.
//! [items."task-002"]
//! checker = [{ exit = "timeout" }, "CHECKER_PASS"]
//! ```
//!
//! An entry is an outcome name, or a table with any of: `outcome` (default:
//! the stage's first declared outcome), `result` (keys written to the
//! structured result file next to `terminal_result`), `tokens` (a total, or
//! `{ input, cached_input, output, thinking }`), `cost_usd`, `delay_ms`
//! (cancel ends it as killed; past the stage timeout it ends as a
//! timeout), `exit` (`timeout`, `quota`, `crash`, `garbled`,
//! `two_markers`), `quota_reset_in_seconds`, and `writes` (files to create,
//! paths relative to the workspace root, never absolute or with `..`).
//! `writes` paths and contents, and `result` strings, may use
//! `{work_item_id}`, `{run_id}`, `{root_spec_id}`, `{root_idea_id}` and
//! `{now}` (RFC 3339, UTC); an absent value reads `none`.
//!
//! Input: the TOML text. Output: a [`Script`]. Invariant: a parsed script
//! never names a write outside the workspace before substitution.

use std::collections::BTreeMap;
use std::path::{Component, Path};

use serde::{Deserialize, Serialize};

/// Entries by stage name, and by work item then stage name.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Script {
    #[serde(default)]
    pub stages: BTreeMap<String, Vec<Entry>>,
    #[serde(default)]
    pub items: BTreeMap<String, BTreeMap<String, Vec<Entry>>>,
}

/// What one attempt of a stage does.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "EntryWire", into = "EntryTable")]
pub struct Entry(pub EntryTable);

/// The table form of an entry.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntryTable {
    pub outcome: Option<String>,
    #[serde(default)]
    pub result: serde_json::Map<String, serde_json::Value>,
    pub tokens: Option<Tokens>,
    pub cost_usd: Option<f64>,
    pub delay_ms: Option<u64>,
    pub exit: Option<ScriptedExit>,
    pub quota_reset_in_seconds: Option<u64>,
    #[serde(default)]
    pub writes: Vec<Write>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum EntryWire {
    Outcome(String),
    Table(EntryTable),
}

impl From<EntryWire> for Entry {
    fn from(wire: EntryWire) -> Entry {
        match wire {
            EntryWire::Outcome(outcome) => Entry(EntryTable {
                outcome: Some(outcome),
                ..EntryTable::default()
            }),
            EntryWire::Table(table) => Entry(table),
        }
    }
}

impl From<Entry> for EntryTable {
    fn from(entry: Entry) -> EntryTable {
        entry.0
    }
}

/// Token counts: a total, or the split.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Tokens {
    Total(u64),
    Split {
        #[serde(default)]
        input: u64,
        #[serde(default)]
        cached_input: u64,
        #[serde(default)]
        output: u64,
        #[serde(default)]
        thinking: u64,
    },
}

/// A failure to act out instead of answering.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScriptedExit {
    Timeout,
    Quota,
    Crash,
    Garbled,
    TwoMarkers,
}

/// A file the entry creates.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Write {
    pub path: String,
    pub content: String,
}

impl Script {
    /// Parses a script; `Err` carries a human reason.
    pub fn parse(text: &str) -> Result<Script, String> {
        let script: Script = toml::from_str(text).map_err(|e| e.to_string())?;
        script.validate()?;
        Ok(script)
    }

    /// A script with one stage's entries (handy in tests).
    pub fn with_stage(mut self, stage: &str, entries: Vec<Entry>) -> Script {
        self.stages.insert(stage.to_owned(), entries);
        self
    }

    fn validate(&self) -> Result<(), String> {
        let all = self
            .stages
            .iter()
            .chain(self.items.values().flat_map(|m| m.iter()));
        for (stage, entries) in all {
            if entries.is_empty() {
                return Err(format!("stage `{stage}` has an empty entry list"));
            }
            for write in entries.iter().flat_map(|e| &e.0.writes) {
                check_write_path(&write.path).map_err(|e| format!("stage `{stage}`: {e}"))?;
            }
        }
        Ok(())
    }

    /// The entry for this attempt: the work item's list wins over the
    /// stage's; the stage name is tried before the node name.
    pub fn entry(&self, item: Option<&str>, stage: &str, node: &str, attempt: u32) -> Option<&Entry> {
        let item_entries = item.and_then(|id| self.items.get(id));
        let list = item_entries
            .and_then(|m| m.get(stage).or_else(|| m.get(node)))
            .or_else(|| self.stages.get(stage))
            .or_else(|| self.stages.get(node))?;
        let index = usize::try_from(attempt)
            .unwrap_or(usize::MAX)
            .min(list.len().saturating_sub(1));
        list.get(index)
    }
}

impl Entry {
    /// An entry answering `outcome`.
    pub fn outcome(outcome: &str) -> Entry {
        Entry(EntryTable {
            outcome: Some(outcome.to_owned()),
            ..EntryTable::default()
        })
    }
}

/// Refuses absolute paths and any `..`: writes stay in the workspace.
pub(crate) fn check_write_path(path: &str) -> Result<(), String> {
    let p = Path::new(path);
    if path.is_empty() || p.is_absolute() {
        return Err(format!(
            "write path `{path}` must be relative to the workspace root"
        ));
    }
    if p.components()
        .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(format!("write path `{path}` must not leave the workspace"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_entry_forms() {
        let script = Script::parse(
            r#"
            [stages]
            builder = ["BUILDER_COMPLETE", { outcome = "BLOCKED", tokens = 5 }]
            [items."t-1"]
            builder = [{ exit = "crash" }]
            "#,
        )
        .unwrap();
        assert_eq!(
            script
                .entry(None, "builder", "b", 0)
                .unwrap()
                .0
                .outcome
                .as_deref(),
            Some("BUILDER_COMPLETE")
        );
        assert_eq!(
            script.entry(None, "builder", "b", 7).unwrap().0.tokens,
            Some(Tokens::Total(5))
        );
        assert_eq!(
            script.entry(Some("t-1"), "builder", "b", 0).unwrap().0.exit,
            Some(ScriptedExit::Crash)
        );
        assert!(script.entry(Some("t-1"), "checker", "c", 0).is_none());
    }

    #[test]
    fn refuses_bad_scripts() {
        assert!(Script::parse("[stages]\nb = []").is_err());
        assert!(Script::parse("[stages]\nb = [{ outcome = \"X\", bogus = 1 }]").is_err());
        assert!(
            Script::parse("[stages]\nb = [{ writes = [{ path = \"/etc/x\", content = \"\" }] }]").is_err()
        );
        assert!(
            Script::parse("[stages]\nb = [{ writes = [{ path = \"a/../../x\", content = \"\" }] }]").is_err()
        );
        assert!(Script::parse("[stages]\nb = [{ exit = \"explode\" }]").is_err());
    }
}
