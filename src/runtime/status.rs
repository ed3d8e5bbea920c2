//! The runtime status report behind `millrace status`.
//!
//! Input: the snapshot, lock, queues, markers, closure targets, config and
//! the stored plan's head. Output: one serializable [`StatusReport`].
//!
//! Invariants: building the report never compiles, never takes the lock
//! and never writes; it parses no queued document (depths come from a
//! settled claim index's header, else from directory listings), so its
//! cost does not grow with the queue's content;
//! damaged state is reported in `problems`, never an error.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::Serialize;

use crate::config::Config;
use crate::model::{ActiveRun, PauseSource, QueueState, Snapshot};
use crate::plan::{Plane, WorkItemKind};
use crate::workspace::closure::{self, ClosureTarget};
use crate::workspace::lock::{self, LockState};
use crate::workspace::plan_store::{self, Currentness};
use crate::workspace::queue::quarantine::{self, Quarantined};
use crate::workspace::queue::{Queues, plane_kinds, scan};
use crate::workspace::usage::{BlockerRecord, GovernanceState, QUOTA_EXHAUSTED_RULE_ID, all_lift_at};
use crate::workspace::{Workspace, markers};

/// Depth and active items of one plane.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub(crate) struct PlaneQueue {
    pub depth: usize,
    /// Depth per kind (planning has incidents and specs).
    pub depth_by_kind: BTreeMap<WorkItemKind, usize>,
    /// Active items as `kind:id`.
    pub active: Vec<String>,
}

/// The lock as status shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct LockView {
    pub state: LockState,
    pub owner_pid: Option<u32>,
    pub owner_hostname: Option<String>,
    pub owner_session_id: Option<String>,
    pub detail: String,
}

/// The open closure target, if any.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub(crate) struct ClosureView {
    pub open_root_spec_id: Option<String>,
    pub root_idea_id: Option<String>,
    pub attempts: Option<u32>,
    pub blocked_by_lineage_work: Option<bool>,
    pub blocking_work_ids: Vec<String>,
    pub latest_verdict_path: Option<String>,
    pub open_count: usize,
    pub invalid_count: usize,
}

/// The stored plan as status shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct PlanView {
    pub plan_id: Option<String>,
    pub mode: Option<String>,
    pub compiled_at: Option<String>,
    pub currentness: Currentness,
}

/// Usage governance as status shows it: the config's switch, the pause,
/// and the last verdict's blockers with the time each lifts.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub(crate) struct GovernanceView {
    pub enabled: bool,
    /// The `usage_governance` pause source is set.
    pub paused: bool,
    pub blocker_count: usize,
    pub auto_resume_possible: bool,
    pub next_auto_resume_at: Option<Timestamp>,
    /// `disabled`, `healthy` or `degraded`.
    pub subscription_status: String,
    pub subscription_detail: Option<String>,
    pub last_evaluated_at: Option<Timestamp>,
    pub blockers: Vec<BlockerRecord>,
}

/// A gate waiting for a decision, and how long it has waited.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct GateStatus {
    #[serde(flatten)]
    pub gate: crate::workspace::gates::GateRecord,
    pub waited_seconds: i64,
}

/// The gates the snapshot's runs wait at, oldest first.
pub(crate) fn waiting_gates(ws: &Workspace, snapshot: &Snapshot, now: Timestamp) -> Vec<GateStatus> {
    let pending = snapshot
        .active_runs
        .values()
        .filter_map(|r| r.pending_request_id.as_deref());
    crate::workspace::gates::waiting(ws, pending)
        .into_iter()
        .map(|gate| GateStatus {
            waited_seconds: gate.waited_seconds(now),
            gate,
        })
        .collect()
}

/// Everything `status` prints.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct StatusReport {
    pub workspace: String,
    pub runtime_mode: String,
    /// The snapshot says running and a live process holds the lock.
    pub process_running: bool,
    pub lock: LockView,
    pub paused: bool,
    pub pause_sources: Vec<String>,
    /// What a `harness_failed` or `harness_missing` pause is about.
    pub harness_pause: Option<crate::model::HarnessPause>,
    /// Everything that holds progress, each with its fix.
    pub attention: Vec<super::Attention>,
    /// What the open closure target holds back and what holds it.
    pub backpressure: Option<crate::workspace::queue::Backpressure>,
    /// Mailbox commands the daemon refused in the last day: how many, and
    /// the latest few (the issuing command said so too, unless it did not
    /// wait).
    pub mailbox_refused: usize,
    pub mailbox_refusals: Vec<crate::workspace::mailbox::Refusal>,
    pub stop_requested: bool,
    pub mode_id: Option<String>,
    /// The plan the runtime last ran (from the snapshot).
    pub running_plan_id: Option<String>,
    /// The compiled plan on disk.
    pub plan: PlanView,
    pub queues: BTreeMap<Plane, PlaneQueue>,
    pub active_runs: Vec<ActiveRun>,
    /// Gates waiting for a decision.
    pub gates: Vec<GateStatus>,
    /// The fuel budget per work item (`runtime.max_stage_runs_per_item`).
    pub fuel_limit: Option<u32>,
    /// Status tokens by plane; `None` if the file is missing or invalid.
    pub status_markers: BTreeMap<Plane, Option<String>>,
    pub closure: ClosureView,
    pub usage_governance: GovernanceView,
    pub quarantined: Vec<Quarantined>,
    /// Curator skill updates recorded but not landed yet (they land once no
    /// foreground stage runs).
    pub learning_promotions_deferred: Vec<String>,
    pub last_terminal_result: Option<String>,
    pub config_version: Option<String>,
    pub last_reload_outcome: Option<String>,
    pub last_reload_error: Option<String>,
    pub tick: u64,
    pub updated_at: Option<Timestamp>,
    /// Damaged or unreadable state found while building the report.
    pub problems: Vec<String>,
}

/// Builds the report, changing nothing in the workspace (the dashboard's
/// form: serving is read-only).
pub(crate) fn report(ws: &Workspace) -> StatusReport {
    build(ws, false)
}

/// [`report`] for the `status` command: a queue it had to list is recorded
/// (`queue::depth`), so the next `status` reads one small file instead.
pub(crate) fn report_recording(ws: &Workspace) -> StatusReport {
    build(ws, true)
}

fn build(ws: &Workspace, record_depths: bool) -> StatusReport {
    let mut problems = Vec::new();
    let snapshot = Snapshot::load(ws).unwrap_or_else(|e| {
        problems.push(coded(&e));
        Snapshot::bootstrap(Timestamp::now())
    });
    let config = Config::load(&ws.paths().config())
        .map_err(|e| problems.push(coded(&e)))
        .ok();
    let lock = lock_view(ws, &mut problems);
    let (queues, quarantined) = queues(ws, &mut problems, record_depths);
    let plan = plan_view(ws, config.as_ref());
    let mut status_markers = BTreeMap::new();
    for plane in Plane::ALL {
        let token = markers::read_marker(ws, *plane).unwrap_or_else(|e| {
            problems.push(coded(&e));
            None
        });
        status_markers.insert(*plane, token);
    }
    let closure = closure_view(ws, &mut problems);
    // Its lineage, drift and waiting scans share one read of each index.
    let held = ws.clone().holding_indexes();
    let backpressure = Queues::new(&held).backpressure().unwrap_or_else(|e| {
        problems.push(coded(&e));
        None
    });
    let gates = waiting_gates(ws, &snapshot, Timestamp::now());
    let mut attention = super::attention(&snapshot);
    attention.extend(gates.iter().map(super::attention::gate));
    attention.extend(backpressure.as_ref().and_then(super::lineage_attention));
    let usage_governance = governance_view(ws, &snapshot, config.as_ref(), &mut problems);
    let day_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(24 * 3600);
    let (mailbox_refused, mailbox_refusals) = crate::workspace::mailbox::refusals_since(ws, day_ago, 3);
    let process_running = snapshot.process_running && lock.state == LockState::Active;
    StatusReport {
        workspace: ws.root().display().to_string(),
        runtime_mode: serde_plain(&snapshot.runtime_mode),
        process_running,
        lock,
        paused: snapshot.paused(),
        pause_sources: snapshot
            .pause_sources
            .iter()
            .map(|s| s.as_str().to_string())
            .collect(),
        harness_pause: snapshot.harness_pause.clone(),
        attention,
        backpressure,
        mailbox_refused,
        mailbox_refusals,
        stop_requested: snapshot.stop_requested,
        mode_id: snapshot.mode_id.clone(),
        running_plan_id: snapshot.plan_id.clone(),
        plan,
        queues,
        active_runs: Plane::FOREGROUND_ORDER
            .iter()
            .filter_map(|p| snapshot.active_runs.get(p).cloned())
            .collect(),
        gates,
        fuel_limit: config.as_ref().map(|c| c.runtime.max_stage_runs_per_item),
        status_markers,
        closure,
        usage_governance,
        quarantined,
        learning_promotions_deferred: crate::workspace::promotion::deferred(ws).unwrap_or_else(|e| {
            problems.push(format!("learning/update-candidates/deferred: {e}"));
            Vec::new()
        }),
        last_terminal_result: snapshot.last_terminal_result.clone(),
        config_version: snapshot.config_version.clone(),
        last_reload_outcome: snapshot.last_reload_outcome.as_ref().map(serde_plain),
        last_reload_error: snapshot.last_reload_error.clone(),
        tick: snapshot.tick,
        updated_at: Some(snapshot.updated_at),
        problems,
    }
}

/// A problem line: the diagnostic code first (so scripts and agents can
/// match on it), then the message.
fn coded(e: &(impl std::fmt::Display + miette::Diagnostic)) -> String {
    match e.code() {
        Some(code) => format!("{code}: {e}"),
        None => e.to_string(),
    }
}

/// The string form of a unit enum serialized by serde.
fn serde_plain(value: &impl Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

fn lock_view(ws: &Workspace, problems: &mut Vec<String>) -> LockView {
    match lock::inspect(ws) {
        Ok(seen) => LockView {
            state: seen.state,
            owner_pid: seen.record.as_ref().map(|r| r.owner_pid),
            owner_hostname: seen.record.as_ref().map(|r| r.owner_hostname.clone()),
            owner_session_id: seen.record.as_ref().map(|r| r.owner_session_id.clone()),
            detail: seen.detail,
        },
        Err(e) => {
            problems.push(coded(&e));
            LockView {
                state: LockState::Invalid,
                owner_pid: None,
                owner_hostname: None,
                owner_session_id: None,
                detail: e.to_string(),
            }
        }
    }
}

/// Depths, active items and quarantined files of every plane, from one
/// listing of each intake and active directory (no file is opened except
/// the quarantine logs of directories that have quarantined files).
/// With `record_depths`, a listed intake directory's depth is recorded.
pub(crate) fn queues(
    ws: &Workspace,
    problems: &mut Vec<String>,
    record_depths: bool,
) -> (BTreeMap<Plane, PlaneQueue>, Vec<Quarantined>) {
    let mut out = BTreeMap::new();
    let mut quarantined = Vec::new();
    for plane in Plane::ALL {
        let mut view = PlaneQueue::default();
        for kind in plane_kinds(*plane) {
            for state in [QueueState::Queued, QueueState::Active] {
                let dir = ws.paths().queue_dir(*kind, state);
                // A settled claim index knows the intake directory's count
                // and quarantined names: one small read, not a listing of
                // every queued file.
                let summary = (state == QueueState::Queued)
                    .then(|| crate::workspace::queue::QueueIndex::trusted_summary(ws, *kind))
                    .flatten();
                if let Some((count, names)) = summary {
                    match quarantine::describe(*kind, state, &dir, &names) {
                        Ok(described) => quarantined.extend(described),
                        Err(e) => problems.push(coded(&e)),
                    }
                    view.depth += count;
                    view.depth_by_kind.insert(*kind, count);
                    continue;
                }
                let listed_at_ns = crate::workspace::fsx::nanos(std::time::SystemTime::now());
                let listing = scan::scan_dir(&dir).and_then(|s| {
                    let described = quarantine::describe(*kind, state, &dir, &s.quarantined)?;
                    Ok((s, described))
                });
                let (scan, described) = match listing {
                    Ok(found) => found,
                    Err(e) => {
                        problems.push(coded(&e));
                        continue;
                    }
                };
                quarantined.extend(described);
                if state == QueueState::Queued {
                    // The next `status` reads this instead of listing.
                    if record_depths {
                        let count = scan.documents.len();
                        crate::workspace::queue::depth::record(
                            ws,
                            *kind,
                            listed_at_ns,
                            count,
                            &scan.quarantined,
                        );
                    }
                    view.depth += scan.documents.len();
                    view.depth_by_kind.insert(*kind, scan.documents.len());
                } else {
                    let mut ids = scan.documents;
                    ids.sort();
                    view.active
                        .extend(ids.into_iter().map(|id| format!("{kind}:{id}")));
                }
            }
        }
        out.insert(*plane, view);
    }
    (out, quarantined)
}

fn plan_view(ws: &Workspace, config: Option<&Config>) -> PlanView {
    let stored = plan_store::load_head(ws);
    let settings = config.map(Config::plan_settings);
    let currentness = plan_store::judge_stored(ws, &stored, settings.as_ref());
    let head = stored.ok().flatten().map(|s| s.head);
    PlanView {
        plan_id: head.as_ref().map(|h| h.plan_id.clone()),
        mode: head.as_ref().map(|h| h.mode.clone()),
        compiled_at: head.and_then(|h| h.compiled_at),
        currentness,
    }
}

/// Reads the governance state file (one small file; none until governance
/// first ran).
fn governance_view(
    ws: &Workspace,
    snapshot: &Snapshot,
    config: Option<&Config>,
    problems: &mut Vec<String>,
) -> GovernanceView {
    let state = GovernanceState::load(ws).unwrap_or_else(|e| {
        problems.push(e.to_string());
        None
    });
    let paused = snapshot.pause_sources.contains(&PauseSource::UsageGovernance);
    let enabled = config
        .map(|c| c.usage_governance.enabled)
        .or(state.as_ref().map(|s| s.enabled))
        .unwrap_or(false);
    let mut view = match state {
        None => GovernanceView {
            enabled,
            paused,
            auto_resume_possible: true,
            subscription_status: "disabled".into(),
            ..GovernanceView::default()
        },
        Some(state) => {
            let quota = state.subscription_quota_status;
            GovernanceView {
                enabled,
                paused,
                blocker_count: state.active_blockers.len(),
                auto_resume_possible: state.auto_resume_possible,
                next_auto_resume_at: state.next_auto_resume_at,
                subscription_status: quota.state.as_str().into(),
                subscription_detail: quota.detail,
                last_evaluated_at: state.last_evaluated_at,
                blockers: state.active_blockers,
            }
        }
    };
    // A quota hold is in the snapshot the moment it starts; the state file
    // catches up a moment later. Show it either way.
    let hold = snapshot
        .governance_resume_at
        .filter(|t| paused && *t > Timestamp::now());
    let listed = view.blockers.iter().any(|b| b.rule_id == QUOTA_EXHAUSTED_RULE_ID);
    if let Some(until) = hold.filter(|_| !listed) {
        view.blockers.push(BlockerRecord::quota_exhausted(until));
        view.blocker_count = view.blockers.len();
        view.auto_resume_possible = view.blockers.iter().all(|b| b.auto_resume_possible);
        view.next_auto_resume_at = all_lift_at(&view.blockers);
    }
    view
}

fn closure_view(ws: &Workspace, problems: &mut Vec<String>) -> ClosureView {
    let all = match closure::list(ws) {
        Ok(all) => all,
        Err(e) => {
            problems.push(coded(&e));
            return ClosureView::default();
        }
    };
    let mut view = ClosureView::default();
    let mut open: Vec<ClosureTarget> = Vec::new();
    for target in all {
        match target {
            Ok(t) if t.closure_open => open.push(t),
            Ok(_) => {}
            Err(e) => {
                view.invalid_count += 1;
                problems.push(coded(&e));
            }
        }
    }
    view.open_count = open.len();
    if let [target] = open.as_slice() {
        view.open_root_spec_id = Some(target.root_spec_id.clone());
        view.root_idea_id = Some(target.root_idea_id.clone());
        view.attempts = Some(target.attempts);
        view.blocked_by_lineage_work = Some(target.closure_blocked_by_lineage_work);
        view.blocking_work_ids = target.blocking_work_ids.clone();
        view.latest_verdict_path = target.latest_verdict_path.clone();
    } else if open.len() > 1 {
        problems.push(format!(
            "{} closure targets are open; at most one may be",
            open.len()
        ));
    }
    view
}
