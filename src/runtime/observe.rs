//! Turning the workspace into the engine's [`World`], and claiming.

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;

use super::{Runtime, RuntimeError};
use crate::engine::{ClaimedItem, Input, TargetView, World};
use crate::model::{Event, Lineage, WorkDocument, ids};
use crate::plan::{Plane, WorkItemKind};
use crate::workspace::Workspace;
use crate::workspace::closure::{self, ClosureTarget};
use crate::workspace::queue::{Queues, plane_kinds};

impl Runtime {
    /// One scheduler turn.
    pub(super) fn tick(&mut self) -> Result<(), RuntimeError> {
        let _tick = tracing::info_span!("tick", n = self.state.tick + 1).entered();
        // A decided or timed-out gate moves first, like a finished stage.
        self.settle_gates()?;
        let now = Timestamp::now();
        let world = self.observe(now);
        self.commit(Input::Tick { now, world })?;
        // The tick may have applied governance's verdict to the pause.
        self.sync_governance(now);
        Ok(())
    }

    fn observe(&mut self, now: Timestamp) -> World {
        let ws = self.ws.clone();
        let queues = Queues::new(&ws);
        let open = closure::open_targets(&self.ws).unwrap_or_default();
        if open.len() > 1 {
            let roots: Vec<&str> = open.iter().map(|t| t.root_spec_id.as_str()).collect();
            let open = roots.into_iter().map(String::from).collect();
            self.emit(Event::ClosureTargetsConflict { open });
        }
        let target = open.into_iter().next();
        let root = target.as_ref().map(|t| t.root_spec_id.clone());
        // Only a plane free to claim is looked at (a foreground plane while
        // neither foreground plane runs, learning while it does not): the
        // scheduler reads nothing else, and at 10,000 queued items a look
        // is far from free.
        let busy = |p: &Plane| self.state.active_runs.contains_key(p);
        let foreground_busy = busy(&Plane::Planning) || busy(&Plane::Execution);
        let mut claimable = BTreeSet::new();
        for plane in self.plan.planes() {
            let (free, filter) = if plane == Plane::Learning {
                (!busy(&plane), None)
            } else {
                (!foreground_busy, root.as_deref())
            };
            if free && queues.peek(plane, filter).unwrap_or(false) {
                claimable.insert(plane);
            }
        }
        let mut depths = BTreeMap::new();
        for plane in Plane::ALL {
            let depth: usize = plane_kinds(*plane)
                .iter()
                .map(|k| queues.depth(*k).unwrap_or(0))
                .sum();
            depths.insert(*plane, depth as u64);
        }
        // Lineage work matters only when the foreground is free and nothing
        // of it is claimable (the closure pass may then run); skip the scan
        // otherwise.
        let foreground_idle = !foreground_busy && !claimable.iter().any(|p| *p != Plane::Learning);
        let target = target.map(|t| {
            let (view, event) = target_view(&ws, &queues, t, foreground_idle);
            if let Some(event) = event {
                self.emit(event);
            }
            view
        });
        World {
            claimable,
            target,
            next_run_id: ids::new_run_id(),
            depths,
            governance: self.governance_view(now),
        }
    }

    /// Claims the next item of a plane and starts its run.
    pub(super) fn claim(&mut self, plane: Plane, root: Option<String>) -> Result<(), RuntimeError> {
        let queues = Queues::new(&self.ws);
        let claimed = match queues.claim(plane, root.as_deref()) {
            Ok(Some(claimed)) => claimed,
            Ok(None) => return Ok(()),
            Err(e) => {
                self.emit(Event::ClaimFailed {
                    plane,
                    error: e.to_string(),
                });
                return Ok(());
            }
        };
        let doc = &claimed.document;
        let opens_target =
            doc.is_root_spec() && matches!(ClosureTarget::load(&self.ws, &claimed.id), Ok(None));
        let target_stage = match doc {
            WorkDocument::LearningRequest(r) => r.target_stage.clone(),
            _ => None,
        };
        let now = Timestamp::now();
        let (prior_tokens, prior_cost_usd) = self.prior_spend(claimed.kind.as_str(), &claimed.id, now);
        let item = ClaimedItem {
            kind: claimed.kind,
            id: claimed.id.clone(),
            run_id: ids::new_run_id(),
            lineage: lineage_of(doc),
            target_stage,
            opens_target,
            prior_tokens,
            prior_cost_usd,
        };
        self.commit(Input::Claimed { now, plane, item })
    }
}

/// The engine's view of the open target. While its own lineage has open
/// work the pass waits; once it has none, family work filed under another
/// root (drift) holds the pass instead of being closed without.
fn target_view(
    ws: &Workspace,
    queues: &Queues<'_>,
    mut target: ClosureTarget,
    scan: bool,
) -> (TargetView, Option<Event>) {
    // The ids the pass waits for, and whether they are drift.
    let work: Option<(Vec<String>, bool)> = match scan.then(|| queues.lineage_work(&target.root_spec_id)) {
        None | Some(Err(_)) => None,
        Some(Ok(work)) if !work.is_empty() => Some((work.into_iter().map(|w| w.id).collect(), false)),
        Some(Ok(_)) => queues
            .lineage_drift(&target)
            .ok()
            .map(|drift| (drift.into_iter().map(|f| f.work_item_id).collect(), true)),
    };
    let mut event = None;
    // What `status` shows about the wait, refreshed whenever the lineage is
    // scanned anyway (it decides nothing).
    let busy = match work {
        None => true,
        Some((ids, drift)) => {
            let busy = !ids.is_empty();
            if ids != target.blocking_work_ids {
                if busy && drift {
                    event = Some(Event::ClosureLineageDriftDetected {
                        root_spec_id: target.root_spec_id.clone(),
                        work_ids: ids.clone(),
                    });
                }
                target.closure_blocked_by_lineage_work = busy;
                target.blocking_work_ids = ids;
                let _ = target.save(ws);
            }
            busy
        }
    };
    let view = TargetView {
        root_spec_id: target.root_spec_id,
        root_idea_id: Some(target.root_idea_id),
        attempts: target.attempts,
        lineage_busy: busy,
    };
    (view, event)
}

/// A document's lineage, as a run keeps it.
pub(super) fn lineage_of(doc: &WorkDocument) -> Lineage {
    let mut lineage = Lineage {
        root_spec_id: doc.effective_root_spec_id().map(String::from),
        root_idea_id: doc.root_idea_id().map(String::from),
        ..Lineage::default()
    };
    match doc {
        WorkDocument::Task(t) => lineage.spec_id = t.spec_id.clone(),
        WorkDocument::Incident(i) => {
            lineage.source_task_id = i.source_task_id.clone();
            lineage.source_spec_id = i.source_spec_id.clone();
        }
        WorkDocument::Spec(s) => lineage.spec_id = Some(s.spec_id.clone()),
        WorkDocument::LearningRequest(_) => {}
    }
    if doc.kind() == WorkItemKind::Spec && doc.is_root_spec() && lineage.root_spec_id.is_none() {
        lineage.root_spec_id = Some(doc.id().to_string());
    }
    lineage
}
