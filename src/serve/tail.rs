//! Following a workspace's event log (`logs/runtime_events.jsonl`) by
//! offset, and the little the dashboard keeps from it.
//!
//! Input: chunks of whole lines read from the last offset
//! ([`events::read_from`]), each line read as a typed [`Event`]
//! ([`RuntimeEvent::typed`]). Output: [`Pushed`] events for the live
//! stream, the recent ones for a page that opens, the runs of each work
//! item, and the recent routing decisions the Flow view weighs its edges
//! by.
//!
//! Invariants: memory is bounded by the caps below, whatever the log's
//! size (the log is read in chunks, never whole); a log that shrinks or is
//! replaced (another inode) is read again from the start and the
//! generation goes up, so clients know to refetch; sequence numbers handed
//! out never go back within a generation; nothing is written.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use jiff::Timestamp;
use serde::Serialize;
use serde_json::Value;

use crate::model::Event;
use crate::model::event::RouteTarget;
use crate::workspace::Workspace;
use crate::workspace::events::{self, RuntimeEvent};

/// Events kept for pages that open (and `/events` without `after`).
const RECENT: usize = 2000;
/// Routing decisions kept for the Flow view's edge weights.
const DECISIONS: usize = 500;
/// Bytes read per chunk.
const CHUNK: u64 = 1 << 20;
/// Chunks read per poll, so a huge log never holds the tail for long.
const CHUNKS_PER_POLL: usize = 8;

/// One event as the dashboard sends it.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Pushed {
    pub seq: u64,
    pub event_type: String,
    pub occurred_at: Timestamp,
    pub data: Value,
    /// The plane, run and work item it is about, when it names them.
    pub plane: Option<String>,
    pub run_id: Option<String>,
    pub work_item: Option<String>,
    /// The monitor's words for it (`None` for events the monitor skips).
    pub text: Option<String>,
    /// Read as a typed event by this build.
    pub known: bool,
}

/// A routing decision, by names: which edge a stage's outcome took.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Taken {
    pub plane: String,
    pub node: String,
    pub outcome: String,
    /// A node name, or `terminal:<name>`.
    pub target: String,
}

/// What the dashboard keeps of one workspace's log.
#[derive(Debug, Default)]
pub(crate) struct Tail {
    offset: u64,
    inode: u64,
    pub generation: u64,
    pub malformed: usize,
    pub last_seq: u64,
    pub recent: VecDeque<Arc<Pushed>>,
    pub decisions: VecDeque<Taken>,
    /// Runs of each work item (by id), in claim order.
    pub item_runs: HashMap<String, Vec<String>>,
    /// The claim that started each run: plane, kind and item id (a run
    /// has no stage result to say so until its first stage ends).
    pub run_claims: HashMap<String, (String, String, String)>,
    /// The latest event of each plane.
    pub last_by_plane: BTreeMap<String, Arc<Pushed>>,
}

impl Tail {
    /// Reads what was appended since the last call; returns the new events
    /// and whether the log was replaced (the generation moved).
    pub(crate) fn poll(&mut self, ws: &Workspace) -> (Vec<Arc<Pushed>>, bool) {
        let mut fresh = Vec::new();
        let mut reset = false;
        for _ in 0..CHUNKS_PER_POLL {
            let Ok(chunk) = events::read_from(ws, self.offset, CHUNK) else {
                break;
            };
            let replaced =
                (self.inode != 0 && chunk.inode != 0 && chunk.inode != self.inode) || chunk.len < self.offset;
            if replaced {
                *self = Tail {
                    generation: self.generation + 1,
                    ..Tail::default()
                };
                reset = true;
                fresh.clear();
                continue;
            }
            self.inode = chunk.inode;
            let progressed = chunk.next_offset > self.offset;
            self.offset = chunk.next_offset;
            self.malformed += chunk.malformed;
            for line in chunk.events {
                let pushed = Arc::new(self.take(line));
                fresh.push(pushed);
            }
            if !progressed || self.offset >= chunk.len {
                break;
            }
        }
        (fresh, reset)
    }

    /// Keeps one event and returns it as pushed.
    fn take(&mut self, line: RuntimeEvent) -> Pushed {
        let typed = line.typed().ok();
        if let Some(event) = &typed {
            self.learn(event);
        }
        let text = typed
            .as_ref()
            .and_then(|e| crate::runtime::monitor_line(line.occurred_at, e))
            .map(|l| {
                l.split_once("] ")
                    .map_or(l.clone(), |(_, words)| words.to_string())
            });
        let pushed = Pushed {
            seq: line.seq,
            plane: str_field(&line.data, "plane"),
            run_id: str_field(&line.data, "run_id"),
            work_item: work_item_of(&line.data),
            event_type: line.event_type,
            occurred_at: line.occurred_at,
            data: line.data,
            text,
            known: typed.is_some(),
        };
        self.last_seq = self.last_seq.max(pushed.seq);
        let shared = Arc::new(pushed.clone());
        if let Some(plane) = &pushed.plane {
            self.last_by_plane.insert(plane.clone(), shared.clone());
        }
        if self.recent.len() == RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back(shared);
        pushed
    }

    /// What the typed event teaches: claims and routing decisions.
    fn learn(&mut self, event: &Event) {
        match event {
            Event::WorkItemClaimed {
                plane,
                kind,
                id,
                run_id,
                ..
            } => {
                let runs = self.item_runs.entry(id.clone()).or_default();
                if !runs.contains(run_id) {
                    runs.push(run_id.clone());
                }
                let claim = (plane.as_str().to_string(), kind.to_string(), id.clone());
                self.run_claims.insert(run_id.clone(), claim);
            }
            Event::RouterDecision(record) => {
                let target = match &record.target {
                    RouteTarget::Node { node } => node.clone(),
                    RouteTarget::Terminal { terminal, .. } => format!("terminal:{terminal}"),
                };
                if self.decisions.len() == DECISIONS {
                    self.decisions.pop_front();
                }
                self.decisions.push_back(Taken {
                    plane: record.plane.as_str().to_string(),
                    node: record.node.clone(),
                    outcome: record.outcome.clone(),
                    target,
                });
            }
            _ => {}
        }
    }

    /// Kept events after `after` (all kept ones for `None`), at most
    /// `limit`, the newest ones when more match.
    pub(crate) fn since(&self, after: Option<u64>, limit: usize) -> Vec<Arc<Pushed>> {
        let matching: Vec<&Arc<Pushed>> = self
            .recent
            .iter()
            .filter(|e| after.is_none_or(|a| e.seq > a))
            .collect();
        let skip = matching.len().saturating_sub(limit);
        matching.into_iter().skip(skip).cloned().collect()
    }

    /// How often each routing decision was taken recently.
    pub(crate) fn taken_counts(&self) -> HashMap<&Taken, u32> {
        let mut counts = HashMap::new();
        for taken in &self.decisions {
            *counts.entry(taken).or_insert(0) += 1;
        }
        counts
    }
}

fn str_field(data: &Value, key: &str) -> Option<String> {
    data.get(key).and_then(Value::as_str).map(str::to_string)
}

/// A work item named by an event: `{kind, id}`, `"kind id"` or a claim's
/// `id`; the id only.
fn work_item_of(data: &Value) -> Option<String> {
    match data.get("work_item") {
        Some(Value::Object(obj)) => obj.get("id").and_then(Value::as_str).map(str::to_string),
        Some(Value::String(text)) => text.split_whitespace().last().map(str::to_string),
        _ => data
            .get("kind")
            .and(data.get("id"))
            .and_then(Value::as_str)
            .map(str::to_string),
    }
}
