//! Backpressure: what an open closure target holds back, and what holds the
//! target.
//!
//! Input: the open closure target and the queues. Output: a
//! [`Backpressure`]: the target's lineage work that is blocked (its
//! holders, each with the reason it was blocked), whether any of its
//! lineage can still move, and the queued work of other roots that waits
//! behind it. Invariant: read-only; queued items come from the claim index,
//! only blocked and active items are parsed. Drifted work (see [`super::drift`])
//! is listed too.

use serde::Serialize;

use super::{DriftFinding, QueueError, QueueIndex, Queues};
use crate::model::QueueState;
use crate::plan::WorkItemKind;
use crate::workspace::closure;

/// At most this many waiting ids are named (the count is always exact).
const NAMED: usize = 5;

/// What one open closure target holds back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Backpressure {
    /// The open target: claims are limited to its lineage until it closes.
    pub root_spec_id: String,
    /// Blocked lineage work: the target cannot close while it stays.
    pub holders: Vec<Holder>,
    /// Whether the lineage still has queued or active work (it moves).
    pub lineage_moving: bool,
    /// Queued items of other roots (or none) that wait for the target.
    pub waiting: usize,
    /// The first few of them.
    pub waiting_ids: Vec<String>,
    /// Work of the target's family filed under another root: the target
    /// will not close without it, and it is not claimed until relabelled.
    pub drift: Vec<DriftFinding>,
}

/// A blocked item of the target's lineage.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Holder {
    pub kind: WorkItemKind,
    pub id: String,
    /// The last reason the runtime recorded when it blocked the item.
    pub reason: Option<String>,
}

impl Backpressure {
    /// Whether nothing moves until an operator acts: the lineage's only
    /// open work is blocked, or filed under another root.
    pub fn stuck(&self) -> bool {
        (!self.holders.is_empty() || !self.drift.is_empty()) && !self.lineage_moving
    }
}

impl Queues<'_> {
    /// The backpressure of the first open closure target, if one is open.
    pub fn backpressure(&self) -> Result<Option<Backpressure>, QueueError> {
        let targets = closure::open_targets(self.ws)?;
        let Some(target) = targets.first() else {
            return Ok(None);
        };
        let root = target.root_spec_id.as_str();
        let lineage = self.lineage_work(root)?;
        let mut holders = Vec::new();
        for item in lineage.iter().filter(|i| i.state == QueueState::Blocked) {
            let reason = self.block_reasons(item.kind, &item.id)?.pop().map(|r| r.reason);
            holders.push(Holder {
                kind: item.kind,
                id: item.id.clone(),
                reason,
            });
        }
        let lineage_moving = lineage.iter().any(|i| i.state != QueueState::Blocked);
        let drift = self.lineage_drift(target)?;
        let (mut waiting, mut waiting_ids) = (0, Vec::new());
        for kind in [WorkItemKind::Task, WorkItemKind::Spec, WorkItemKind::Incident] {
            let (index, _) = QueueIndex::refresh(self.ws, kind)?;
            for entry in index.entries().iter().filter(|e| e.root() != Some(root)) {
                waiting += 1;
                if waiting_ids.len() < NAMED {
                    waiting_ids.push(entry.id().to_string());
                }
            }
        }
        Ok(Some(Backpressure {
            root_spec_id: root.to_string(),
            holders,
            lineage_moving,
            waiting,
            waiting_ids,
            drift,
        }))
    }
}
