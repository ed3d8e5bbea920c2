//! `logs/runtime_events.jsonl`: the append-only runtime event log.
//!
//! Input: runtime events ([`Event`], or a type and JSON data). Output: one
//! JSON line per event `{schema_version, kind, seq, event_type, occurred_at,
//! data}`; [`RuntimeEvent::typed`] reads a line back as an [`Event`].
//!
//! Invariants: lines are only ever appended, one whole line per write;
//! `seq` increases by one per event of a writer (it continues from the last
//! valid line when the log is reopened); readers skip malformed lines and
//! count them instead of failing.

use std::path::PathBuf;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::Workspace;
use super::fsx::{self, FsError};
use crate::model::Event;

/// The event line format version.
pub const EVENT_SCHEMA_VERSION: u32 = 1;

/// How much of the end of the log is read to find the last sequence number.
const TAIL_BYTES: u64 = 64 * 1024;

/// Why an event cannot be written.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum EventError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Fs(#[from] FsError),

    /// Event types are `snake_case` words.
    #[error("`{0}` is not an event type (`[a-z][a-z0-9_]*`)")]
    #[diagnostic(code(mill::events::bad_type), help("this is a bug in the caller"))]
    BadType(String),
}

/// One line of the log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimeEvent {
    pub schema_version: u32,
    pub kind: String,
    pub seq: u64,
    pub event_type: String,
    pub occurred_at: Timestamp,
    #[serde(default)]
    pub data: serde_json::Value,
}

impl RuntimeEvent {
    /// The line as a typed event (an error for a type or shape this build
    /// does not know).
    pub fn typed(&self) -> Result<Event, serde_json::Error> {
        Event::from_parts(&self.event_type, &self.data)
    }
}

/// A writer that knows the next sequence number.
#[derive(Debug)]
pub struct EventLog {
    path: PathBuf,
    next_seq: u64,
}

impl EventLog {
    /// Opens the log for appending, continuing after its last valid event.
    pub fn open(ws: &Workspace) -> Result<Self, EventError> {
        let path = ws.paths().events_log();
        let last = last_seq(&path)?;
        Ok(Self {
            path,
            next_seq: last.map_or(1, |s| s + 1),
        })
    }

    /// Appends one runtime event and returns its line.
    pub fn record(&mut self, event: &Event) -> Result<RuntimeEvent, EventError> {
        let (event_type, data) = event.parts();
        self.append(&event_type, data)
    }

    /// Appends one line of a given type and returns it (the storage form:
    /// any `snake_case` type, any data).
    pub fn append(&mut self, event_type: &str, data: serde_json::Value) -> Result<RuntimeEvent, EventError> {
        let event = self.event(event_type.to_string(), data, Timestamp::now())?;
        self.write(std::slice::from_ref(&event))?;
        Ok(event)
    }

    /// Appends several events with one write and one fsync (a tick's
    /// events, for instance). Either all types are valid or nothing is
    /// written.
    pub fn append_many(
        &mut self,
        batch: Vec<(String, serde_json::Value)>,
    ) -> Result<Vec<RuntimeEvent>, EventError> {
        let now = Timestamp::now();
        let first = self.next_seq;
        let events = batch
            .into_iter()
            .map(|(event_type, data)| self.event(event_type, data, now))
            .collect::<Result<Vec<_>, _>>();
        let events = match events {
            Ok(events) => events,
            Err(e) => {
                self.next_seq = first;
                return Err(e);
            }
        };
        if let Err(e) = self.write(&events) {
            self.next_seq = first;
            return Err(e);
        }
        Ok(events)
    }

    /// Builds the next event, taking its sequence number.
    fn event(
        &mut self,
        event_type: String,
        data: serde_json::Value,
        at: Timestamp,
    ) -> Result<RuntimeEvent, EventError> {
        if !is_event_type(&event_type) {
            return Err(EventError::BadType(event_type));
        }
        let event = RuntimeEvent {
            schema_version: EVENT_SCHEMA_VERSION,
            kind: "runtime_event".into(),
            seq: self.next_seq,
            event_type,
            occurred_at: at,
            data,
        };
        self.next_seq += 1;
        Ok(event)
    }

    fn write(&mut self, events: &[RuntimeEvent]) -> Result<(), EventError> {
        if events.is_empty() {
            return Ok(());
        }
        let lines: Vec<String> = events
            .iter()
            .map(|e| serde_json::to_string(e).unwrap_or_default())
            .collect();
        // Diagnostic: the journal and the snapshot are the durable record.
        fsx::append_line_unflushed(&self.path, &lines.join("\n"))?;
        Ok(())
    }
}

/// Events read back, with the number of lines that were not events.
#[derive(Debug, Default)]
pub struct EventRead {
    pub events: Vec<RuntimeEvent>,
    pub malformed: usize,
}

/// Reads every event; malformed lines are skipped and counted.
pub fn read_events(ws: &Workspace) -> Result<EventRead, FsError> {
    let text = fsx::read_optional(&ws.paths().events_log())?.unwrap_or_default();
    let mut read = EventRead::default();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        match parse_event(line) {
            Some(event) => read.events.push(event),
            None => read.malformed += 1,
        }
    }
    Ok(read)
}

/// Events appended to the log from a byte offset on (for a reader that
/// follows the log, such as `millrace serve`).
#[derive(Debug, Default)]
pub struct EventChunk {
    pub events: Vec<RuntimeEvent>,
    pub malformed: usize,
    /// Where the next read starts: just after the last whole line read.
    pub next_offset: u64,
    /// The log's length and inode when read; a length below the offset
    /// asked for, or another inode than before, means the log was
    /// truncated or replaced and should be read again from 0.
    pub len: u64,
    pub inode: u64,
}

/// Reads the whole lines of the log from `offset` on, at most `max` bytes
/// (a line longer than `max` is skipped as malformed); a missing log has
/// no events. Only whole lines are consumed, so a line being written is
/// read at the next call.
pub fn read_from(ws: &Workspace, offset: u64, max: u64) -> Result<EventChunk, FsError> {
    let Some((bytes, stat)) = fsx::read_range(&ws.paths().events_log(), offset, max.max(1))? else {
        return Ok(EventChunk::default());
    };
    let mut chunk = EventChunk {
        next_offset: offset,
        len: stat.len,
        inode: stat.inode,
        ..EventChunk::default()
    };
    let whole = match bytes.iter().rposition(|b| *b == b'\n') {
        Some(at) => &bytes[..=at],
        // A full chunk with no line end: one line too long to be an event.
        None if bytes.len() as u64 >= max.max(1) => {
            chunk.malformed += 1;
            chunk.next_offset = offset + bytes.len() as u64;
            return Ok(chunk);
        }
        None => return Ok(chunk),
    };
    chunk.next_offset = offset + whole.len() as u64;
    for line in String::from_utf8_lossy(whole)
        .lines()
        .filter(|l| !l.trim().is_empty())
    {
        match parse_event(line) {
            Some(event) => chunk.events.push(event),
            None => chunk.malformed += 1,
        }
    }
    Ok(chunk)
}

fn parse_event(line: &str) -> Option<RuntimeEvent> {
    let event: RuntimeEvent = serde_json::from_str(line).ok()?;
    let valid = event.schema_version == EVENT_SCHEMA_VERSION
        && event.kind == "runtime_event"
        && is_event_type(&event.event_type);
    valid.then_some(event)
}

fn is_event_type(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// The sequence number of the last valid event, reading only the tail of a
/// large log (the whole log only if the tail holds no valid event).
fn last_seq(path: &std::path::Path) -> Result<Option<u64>, FsError> {
    let last = |bytes: &[u8]| {
        let text = String::from_utf8_lossy(bytes);
        text.lines().rev().find_map(parse_event).map(|e| e.seq)
    };
    let Some((tail, cut)) = fsx::read_tail(path, TAIL_BYTES) else {
        // Missing (nothing written yet) or unreadable: the error, if any,
        // shows at the first append.
        return Ok(None);
    };
    match last(&tail) {
        Some(seq) => Ok(Some(seq)),
        None if cut => Ok(fsx::read_optional_bytes(path)?.and_then(|all| last(&all))),
        None => Ok(None),
    }
}
