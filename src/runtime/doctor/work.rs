//! Doctor's checks of the work itself: the queues and their documents, the
//! active items against the snapshot, closure targets, and learning
//! requests no loop of the plan will run.

use std::collections::BTreeMap;

use super::Checks;
use crate::model::{QueueState, Snapshot, WorkDocument};
use crate::plan::{Plane, WorkItemKind};
use crate::workspace::document::check_stem;
use crate::workspace::queue::{plane_kinds, quarantine, scan};
use crate::workspace::{closure, fsx};

pub(super) fn queues(c: &mut Checks<'_>, snapshot: Option<&Snapshot>) {
    for kind in WorkItemKind::ALL {
        let mut seen: BTreeMap<String, QueueState> = BTreeMap::new();
        for state in QueueState::ALL {
            let dir = c.ws.paths().queue_dir(*kind, state);
            let Ok(listing) = scan::scan_dir(&dir) else {
                continue;
            };
            let mut ids = listing.documents;
            ids.sort();
            for id in ids {
                if let Some(first) = seen.insert(id.clone(), state) {
                    let path = dir.join(format!("{id}.md"));
                    let message = format!("{kind} `{id}` is both {} and {}", first.as_str(), state.as_str());
                    c.error(
                        "mill::doctor::duplicate_work_item",
                        Some(&path),
                        message,
                        "keep one copy and move the other away",
                    );
                }
                if matches!(state, QueueState::Queued | QueueState::Active) {
                    check_document(c, *kind, &dir, &id);
                }
            }
            for name in &listing.hidden {
                c.warning(
                    "mill::doctor::hidden_file",
                    Some(&dir.join(name)),
                    format!("`{name}` is never read: a queue file whose name starts with a dot is skipped"),
                    "rename it without the leading dot (`<id>.md`) to queue it, or delete it",
                );
            }
            if let Ok(quarantined) = quarantine::describe(*kind, state, &dir, &listing.quarantined) {
                for q in quarantined {
                    let reason = q.reason.unwrap_or_else(|| "no reason logged".into());
                    let message = format!("quarantined {kind} file: {reason}");
                    c.warning(
                        "mill::doctor::quarantined_file",
                        Some(&q.path),
                        message,
                        "fix the file and rename it back to `<id>.md`, or delete it",
                    );
                }
            }
        }
    }
    for plane in Plane::ALL {
        active_consistency(c, *plane, snapshot);
    }
}

pub(super) fn check_document(c: &mut Checks<'_>, kind: WorkItemKind, dir: &std::path::Path, id: &str) {
    let path = dir.join(format!("{id}.md"));
    let result = WorkDocument::load(&path, Some(kind)).and_then(|doc| check_stem(&doc, &path));
    if let Err(e) = result {
        let message = format!("malformed {kind} document: {}", e.summary());
        // Only the queue directory is quarantined by a listing; elsewhere
        // (active, done, blocked) the file needs a hand.
        let queued = *dir == c.ws.paths().queue_dir(kind, QueueState::Queued);
        let fix = if queued {
            "millrace queue ls --all (quarantines it)"
        } else {
            "fix or remove the file by hand"
        };
        c.error("mill::doctor::queue_artifact_invalid", Some(&path), message, fix);
    }
}

pub(super) fn active_consistency(c: &mut Checks<'_>, plane: Plane, snapshot: Option<&Snapshot>) {
    let mut active = Vec::new();
    for kind in plane_kinds(plane) {
        let dir = c.ws.paths().queue_dir(*kind, QueueState::Active);
        if let Ok(listing) = scan::scan_dir(&dir) {
            active.extend(listing.documents.into_iter().map(|id| (*kind, id)));
        }
    }
    if active.len() > 1 {
        let ids: Vec<String> = active.iter().map(|(k, id)| format!("{k}:{id}")).collect();
        let message = format!(
            "the {plane} plane has {} active items: {}",
            active.len(),
            ids.join(", ")
        );
        c.error(
            "mill::doctor::multiple_active",
            None,
            message,
            "millrace clear-stale-state",
        );
    }
    let Some(snapshot) = snapshot else { return };
    let known = snapshot
        .active_runs
        .get(&plane)
        .and_then(|r| r.work_item.as_ref());
    for (kind, id) in &active {
        let tracked = known.is_some_and(|w| w.kind == *kind && w.id == *id);
        if !tracked {
            let path = c.ws.paths().document(*kind, QueueState::Active, id);
            let message = format!("active {kind} `{id}` is not tracked by the runtime snapshot");
            c.error(
                "mill::doctor::untracked_active_item",
                Some(&path),
                message,
                "millrace clear-stale-state",
            );
        }
    }
    if let Some(item) = known {
        let path = c.ws.paths().document(item.kind, QueueState::Active, &item.id);
        if !fsx::is_file(&path) {
            let message = format!(
                "the snapshot's active {} `{}` is not in its active directory",
                item.kind, item.id
            );
            c.error(
                "mill::doctor::active_item_missing",
                Some(&path),
                message,
                "millrace clear-stale-state",
            );
        }
    }
}

pub(super) fn closure_targets(c: &mut Checks<'_>) {
    let dir = c.ws.paths().closure_targets_dir();
    let Ok(all) = closure::list(c.ws) else { return };
    let mut open = Vec::new();
    for target in all {
        match target {
            Ok(t) if t.closure_open => open.push(t.root_spec_id),
            Ok(_) => {}
            Err(e) => c.error(
                "mill::doctor::closure_target_invalid",
                Some(&dir),
                e.to_string(),
                "repair or remove the target file",
            ),
        }
    }
    if open.len() > 1 {
        let message = format!(
            "{} closure targets are open ({}); at most one may be",
            open.len(),
            open.join(", ")
        );
        c.error(
            "mill::doctor::multiple_open_closure_targets",
            Some(&dir),
            message,
            "close all but one target",
        );
    }
    lineage_blocked(c);
}

/// An open target whose only open work is blocked, or filed under another
/// root, holds every other root back for ever: the error names the items
/// and the command.
fn lineage_blocked(c: &mut Checks<'_>) {
    let held = c.ws.clone().holding_indexes();
    let queues = crate::workspace::queue::Queues::new(&held);
    let Ok(Some(bp)) = queues.backpressure() else {
        return;
    };
    if let Some(item) = crate::runtime::lineage_attention(&bp) {
        let path = c.ws.paths().closure_target(&bp.root_spec_id);
        let code = if bp.drift.is_empty() {
            "mill::doctor::lineage_blocked"
        } else {
            "mill::doctor::lineage_drift"
        };
        c.error(code, Some(&path), item.reason, &item.fix);
    }
}

/// Learning requests queued under a plan without a learning plane would
/// wait forever; say so (intake refuses them, but a file can be dropped in
/// by hand, or the mode changed after they were queued).
pub(super) fn stranded_learning(c: &mut Checks<'_>, plan: &crate::plan::Plan) {
    if plan.loop_for(Plane::Learning).is_some() {
        return;
    }
    let queues = crate::workspace::queue::Queues::new(c.ws);
    let queued = queues.depth(WorkItemKind::LearningRequest).unwrap_or(0);
    if queued > 0 {
        let dir =
            c.ws.paths()
                .queue_dir(WorkItemKind::LearningRequest, QueueState::Queued);
        let message = format!(
            "{queued} learning request(s) are queued, but mode `{}` has no learning plane to run them",
            plan.mode
        );
        c.warning(
            "mill::doctor::learning_stranded",
            Some(&dir),
            message,
            "millrace run daemon --mode learning_codex",
        );
    }
}

/// Gates runs wait at (a warning: the lane is held until someone decides)
/// and gate records that cannot be read.
pub(super) fn gates(c: &mut Checks<'_>, snapshot: Option<&Snapshot>) {
    let dir = c.ws.paths().gates_dir();
    for (id, error) in crate::workspace::gates::damaged(c.ws) {
        let path = dir.join(format!("{id}.json"));
        c.error(
            "mill::gate::invalid_record",
            Some(&path),
            error,
            "inspect the record; `millrace retry-active` returns its item to the queue",
        );
    }
    let Some(snapshot) = snapshot else { return };
    let now = jiff::Timestamp::now();
    for g in crate::runtime::status::waiting_gates(c.ws, snapshot, now) {
        let path = dir.join(format!("{}.json", g.gate.gate_id));
        let timeout = match (&g.gate.timeout_at, &g.gate.timeout_outcome) {
            (Some(at), Some(outcome)) => format!("; it takes {outcome} at {at}"),
            _ => "; it has no timeout".into(),
        };
        let message = format!(
            "gate `{}` ({}) has waited {}s for a decision{timeout}: {}",
            g.gate.node, g.gate.plane, g.waited_seconds, g.gate.question
        );
        let fix = format!(
            "millrace gate decide {} <{}>",
            g.gate.gate_id,
            g.gate.outcomes.join("|")
        );
        c.warning("mill::gate::waiting", Some(&path), message, &fix);
    }
}
