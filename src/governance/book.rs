//! The token ledger held in memory: read once, reconciled once, then kept
//! up to date by appends, so an evaluation never rereads a file.
//!
//! Input: the workspace (at load) and one entry per counted stage result.
//! Output: the entries, and each work item's spend so far.
//! Invariants: a dedupe key is counted once (in memory and on disk); the
//! runs tree is scanned only at load; reading problems become events.

use std::collections::{HashMap, HashSet};

use jiff::Timestamp;

use super::Note;
use crate::model::Event;
use crate::model::event::LedgerLine;
use crate::workspace::Workspace;
use crate::workspace::fsx::FsError;
use crate::workspace::usage::{self, LedgerEntry};

/// The ledger in memory.
#[derive(Debug, Default)]
pub(super) struct Book {
    entries: Vec<LedgerEntry>,
    keys: HashSet<String>,
    /// Tokens and cost by `(work item kind, id)`.
    items: HashMap<(String, String), (u64, f64)>,
}

impl Book {
    /// Reads the ledger and counts the stage results on disk it lacks (a
    /// process that died between writing a result and counting it), except
    /// `pending`: the result about to be counted live, with its session.
    pub(super) fn load(ws: &Workspace, now: Timestamp, pending: Option<&str>, notes: &mut Vec<Note>) -> Self {
        let mut book = Book::default();
        match usage::read_ledger(ws) {
            Ok(read) => {
                for damaged in read.damaged {
                    notes.push(Event::UsageGovernanceLedgerLineSkipped {
                        line: LedgerLine::Number(damaged.line),
                        error: damaged.error,
                    });
                }
                for entry in read.entries {
                    book.remember(entry);
                }
            }
            Err(e) => {
                // Reconciling against a ledger that could not be read would
                // count every result again.
                notes.push(unreadable(&e));
                return book;
            }
        }
        match usage::unrecorded_results(ws, &book.keys) {
            Ok(found) => {
                let mut counted = 0usize;
                for (key, result) in found {
                    if pending == Some(key.as_str()) {
                        continue;
                    }
                    if let Some(entry) = LedgerEntry::found(&key, &result, now) {
                        counted += usize::from(book.add(ws, entry, notes));
                    }
                }
                if counted > 0 {
                    notes.push(Event::UsageGovernanceLedgerReconciled { counted });
                }
            }
            Err(e) => notes.push(unreadable(&e)),
        }
        book
    }

    /// Appends an entry unless its key is counted; true if it was new. An
    /// append that fails is kept in memory (the next load finds the result
    /// on disk again and counts it then).
    pub(super) fn add(&mut self, ws: &Workspace, entry: LedgerEntry, notes: &mut Vec<Note>) -> bool {
        if self.keys.contains(&entry.dedupe_key) {
            return false;
        }
        match usage::append_entry(ws, &entry) {
            Ok(true) => notes.push(Event::UsageGovernanceLedgerLineSkipped {
                line: LedgerLine::Word("last".into()),
                error: "torn by an interrupted write; closed before appending".into(),
            }),
            Ok(false) => {}
            Err(e) => notes.push(Event::UsageGovernanceLedgerAppendFailed { error: e.to_string() }),
        }
        self.remember(entry);
        true
    }

    fn remember(&mut self, entry: LedgerEntry) {
        if !self.keys.insert(entry.dedupe_key.clone()) {
            return;
        }
        if let (Some(kind), Some(id)) = (&entry.work_item_kind, &entry.work_item_id) {
            let spend = self.items.entry((kind.clone(), id.clone())).or_default();
            spend.0 = spend.0.saturating_add(entry.token_usage.total_tokens);
            spend.1 += entry.cost_usd.unwrap_or(0.0);
        }
        self.entries.push(entry);
    }

    pub(super) fn entries(&self) -> &[LedgerEntry] {
        &self.entries
    }

    /// Tokens and cost a work item has used so far.
    pub(super) fn item_spend(&self, kind: &str, id: &str) -> (u64, f64) {
        self.items
            .get(&(kind.to_string(), id.to_string()))
            .copied()
            .unwrap_or_default()
    }
}

fn unreadable(e: &FsError) -> Note {
    Event::UsageGovernanceLedgerUnreadable { error: e.to_string() }
}
