//! The JSON API of one workspace: the overview, status, doctor, queues,
//! the plan and the recent events. (Runs and items are in `history`, the
//! graph in `flow`.)
//!
//! Input: a [`Site`] and query parameters. Output: JSON values; where a
//! shape overlaps a `--json` command the value is that command's own
//! ([`status::report`] for `status --json`, [`doctor::run`] for
//! `doctor --json`).
//!
//! Invariants: every read goes through the workspace's library APIs, never
//! takes the lock and never writes; the overview lists directories and
//! reads a few small files, so its cost does not grow with the number of
//! queued items; damaged state is reported as problems, an uninitialized
//! workspace as [`ServeError::WorkspaceUnreadable`].

use std::collections::BTreeMap;
use std::sync::Arc;

use jiff::Timestamp;
use serde::Serialize;
use serde_json::{Value, json};

use super::error::ServeError;
use super::sites::Site;
use crate::config::Config;
use crate::governance::windows;
use crate::model::ActiveRun;
use crate::plan::{DrawFormat, Plane, WorkItemKind};
use crate::runtime::doctor;
use crate::runtime::status::{self, StatusReport};
use crate::workspace::lock::LockState;
use crate::workspace::plan_store::{self, Currentness};
use crate::workspace::queue::{Queues, plane_kinds};
use crate::workspace::{runs, usage};

/// Blocked items the overview names (the rest are counted).
const BLOCKED_SHOWN: usize = 50;

/// Fails unless the workspace is initialized.
pub(crate) fn require(site: &Site) -> Result<(), ServeError> {
    if site.ws.is_initialized() {
        return Ok(());
    }
    Err(ServeError::WorkspaceUnreadable {
        key: site.key.clone(),
        detail: format!(
            "`{}` holds no initialized workspace (no `millrace-agents/millrace.toml` and `state/`)",
            site.ws.root().display()
        ),
    })
}

/// A fix: what to do, as a command where there is one.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Fix {
    pub why: String,
    pub fix: String,
}

fn fix(why: impl Into<String>, fix: impl Into<String>) -> Fix {
    Fix {
        why: why.into(),
        fix: fix.into(),
    }
}

/// `GET /api/w/{ws}/status`: exactly `millrace status --json`.
pub(crate) fn status_json(site: &Site) -> Result<Value, ServeError> {
    require(site)?;
    Ok(serde_json::to_value(status::report(&site.ws)).unwrap_or(Value::Null))
}

/// `GET /api/w/{ws}/doctor`: exactly `millrace doctor --json`.
pub(crate) fn doctor_json(site: &Site) -> Result<Value, ServeError> {
    Ok(serde_json::to_value(doctor::run(&site.ws)).unwrap_or(Value::Null))
}

/// `GET /api/w/{ws}/overview`.
pub(crate) fn overview(site: &Site) -> Result<Value, ServeError> {
    require(site)?;
    let report = status::report(&site.ws);
    let now = Timestamp::now();
    let config = Config::load(&site.ws.paths().config()).ok();
    let planes: Vec<Value> = Plane::ALL
        .iter()
        .map(|plane| plane_view(site, &report, *plane, now))
        .collect();
    let (tail_seq, generation, malformed) = {
        let tail = site.tail();
        (tail.last_seq, tail.generation, tail.malformed)
    };
    Ok(json!({
        "key": site.key,
        "root": site.ws.root(),
        "daemon": daemon(&report),
        "pause": pause(&report),
        "plan": plan(&report),
        "planes": planes,
        "blocked": blocked(site),
        "usage": usage_view(site, &report, config.as_ref(), now),
        "problems": report.problems,
        "events": { "last_seq": tail_seq, "generation": generation, "malformed": malformed },
        "status": report,
    }))
}

fn daemon(r: &StatusReport) -> Value {
    let (alive, words, fix) = match r.lock.state {
        LockState::Active if r.process_running => (true, "running".to_string(), None),
        LockState::Active => (true, "running (starting or stopping)".to_string(), None),
        LockState::Stale => (
            false,
            format!("crashed: {}", r.lock.detail),
            Some("millrace run daemon (takes over the stale lock and resumes the active runs)"),
        ),
        LockState::Absent => (false, "stopped".to_string(), Some("millrace run daemon")),
        LockState::Invalid => (
            false,
            format!("lock invalid: {}", r.lock.detail),
            Some("millrace clear-stale-state"),
        ),
    };
    json!({
        "alive": alive, "state": r.lock.state, "words": words, "fix": fix,
        "owner_pid": r.lock.owner_pid, "owner_hostname": r.lock.owner_hostname,
        "tick": r.tick, "updated_at": r.updated_at,
    })
}

fn pause(r: &StatusReport) -> Value {
    let g = &r.usage_governance;
    let mut reasons = Vec::new();
    for source in &r.pause_sources {
        reasons.push(match source.as_str() {
            "operator" => fix("paused by the operator", "millrace resume"),
            "usage_governance" => {
                let rules: Vec<String> = g
                    .blockers
                    .iter()
                    .map(|b| format!("{} ({}: {} of {})", b.rule_id, b.window, b.observed, b.threshold))
                    .collect();
                let why = format!("paused by usage governance: {}", rules.join(", "));
                match (g.auto_resume_possible, g.next_auto_resume_at) {
                    (true, Some(at)) => fix(why, format!("resumes by itself at {at}")),
                    _ => fix(
                        why,
                        "raise or remove the rule in `[usage_governance]` of millrace.toml, then `millrace reload-config`",
                    ),
                }
            }
            // A harness pause: the runtime's own words and fix, as `status`
            // prints them.
            other => match r.attention.iter().find(|a| a.code.ends_with(other)) {
                Some(a) => fix(a.reason.clone(), a.fix.clone()),
                None => fix(format!("paused by {other}"), "millrace resume"),
            },
        });
    }
    if r.stop_requested {
        reasons.push(fix(
            "a stop was requested",
            "the daemon stops after the running stage",
        ));
    }
    json!({ "paused": r.paused, "stop_requested": r.stop_requested, "reasons": reasons })
}

fn plan(r: &StatusReport) -> Value {
    let current = matches!(r.plan.currentness, Currentness::Current);
    let (reasons, fix) = match &r.plan.currentness {
        Currentness::Current => (Vec::new(), None),
        Currentness::Stale { reasons } => (
            reasons.clone(),
            Some("millrace compile validate, then millrace reload-config for a running daemon"),
        ),
        Currentness::Missing => (Vec::new(), Some("millrace compile validate")),
        Currentness::Invalid { detail } => (vec![detail.clone()], Some("millrace compile validate")),
    };
    let running_differs = r.running_plan_id.is_some() && r.running_plan_id != r.plan.plan_id;
    json!({
        "plan_id": r.plan.plan_id, "mode": r.plan.mode, "compiled_at": r.plan.compiled_at,
        "currentness": r.plan.currentness.as_str(), "current": current, "reasons": reasons, "fix": fix,
        "running_plan_id": r.running_plan_id, "running_differs": running_differs,
    })
}

fn plane_view(site: &Site, r: &StatusReport, plane: Plane, now: Timestamp) -> Value {
    let queue = r.queues.get(&plane).cloned().unwrap_or_default();
    let run = r.active_runs.iter().find(|a| a.plane == plane);
    let last_event = site.tail().last_by_plane.get(plane.as_str()).cloned();
    json!({
        "plane": plane,
        "depth": queue.depth,
        "depth_by_kind": queue.depth_by_kind,
        "active_items": queue.active,
        "marker": r.status_markers.get(&plane).cloned().flatten(),
        "run": run.map(|a| active_run(site, a, r.fuel_limit, now)),
        "last_event": last_event.as_deref(),
    })
}

fn active_run(site: &Site, a: &ActiveRun, fuel_limit: Option<u32>, now: Timestamp) -> Value {
    let elapsed = (now.as_millisecond() - a.active_since.as_millisecond()).max(0) as f64 / 1000.0;
    let activity = a
        .pending_request_id
        .as_deref()
        .and_then(|rid| runs::activity(&site.ws, &a.run_id, rid));
    json!({
        "run_id": a.run_id, "node": a.node, "stage": a.stage, "request_kind": a.request_kind,
        "work_item": a.work_item, "closure_root_spec_id": a.closure_root_spec_id,
        "active_since": a.active_since, "elapsed_seconds": elapsed, "started_at": a.started_at,
        "stage_runs": a.stage_runs, "fuel_limit": fuel_limit, "counters": a.counters,
        "interruptions": a.interruptions, "pending_request_id": a.pending_request_id,
        "retry_requested": a.retry_requested, "tokens_used": a.tokens_used, "cost_usd": a.cost_usd,
        "activity": activity,
    })
}

/// The fix shown for a blocked item.
pub(crate) fn blocked_fix(id: &str) -> String {
    format!("fix what the reason names, then millrace queue retry {id}")
}

fn blocked(site: &Site) -> Value {
    let queues = Queues::new(&site.ws);
    let mut all: Vec<(WorkItemKind, String)> = Vec::new();
    let mut problems = Vec::new();
    for plane in Plane::ALL {
        for kind in plane_kinds(*plane) {
            match queues.blocked(*kind) {
                Ok(ids) => all.extend(ids.into_iter().map(|id| (*kind, id))),
                Err(e) => problems.push(e.to_string()),
            }
        }
    }
    let mut items: Vec<Value> = all
        .iter()
        .take(BLOCKED_SHOWN)
        .map(|(kind, id)| {
            let last = queues.block_reasons(*kind, id).ok().and_then(|mut r| r.pop());
            json!({
                "kind": kind, "id": id,
                "reason": last.as_ref().map(|r| r.reason.clone()),
                "at": last.as_ref().map(|r| r.at),
                "fix": blocked_fix(id),
            })
        })
        .collect();
    items.sort_by(|a, b| b["at"].as_str().cmp(&a["at"].as_str()));
    json!({ "count": all.len(), "items": items, "problems": problems })
}

fn usage_view(site: &Site, r: &StatusReport, config: Option<&Config>, now: Timestamp) -> Value {
    let g = &r.usage_governance;
    let mut windows_used = Vec::new();
    let mut notes = Vec::new();
    if let Some(config) = config.filter(|c| c.usage_governance.enabled) {
        let rules = &config.usage_governance.runtime_token_rules;
        match usage::read_ledger(&site.ws) {
            Ok(ledger) if rules.enabled => {
                let (tz, note) = windows::resolve_timezone(&config.usage_governance.calendar_timezone);
                notes.extend(note);
                let active: Vec<String> = r.active_runs.iter().map(|a| a.run_id.clone()).collect();
                let scope = windows::Scope {
                    now,
                    tz: &tz,
                    session: r.lock.owner_session_id.as_deref(),
                    active_runs: &active,
                };
                windows_used = windows::usage(&rules.rules, &ledger.entries, scope);
                if !ledger.damaged.is_empty() {
                    notes.push(format!("{} ledger lines are damaged", ledger.damaged.len()));
                }
            }
            Ok(_) => {}
            Err(e) => notes.push(e.to_string()),
        }
    }
    let quota: BTreeMap<String, Value> = usage::GovernanceState::load(&site.ws)
        .ok()
        .flatten()
        .map(|s| {
            s.subscription_quota_status
                .windows
                .into_iter()
                .map(|(k, w)| (k, serde_json::to_value(w).unwrap_or(Value::Null)))
                .collect()
        })
        .unwrap_or_default();
    json!({
        "enabled": g.enabled, "paused": g.paused, "subscription_status": g.subscription_status,
        "windows": windows_used, "quota_windows": quota, "blockers": g.blockers,
        "next_auto_resume_at": g.next_auto_resume_at, "notes": notes,
    })
}

/// `GET /api/w/{ws}/queues?limit=N`: depths, active items, the first
/// `limit` queued ids of each kind (sorted by id) and the blocked items.
pub(crate) fn queues(site: &Site, limit: usize) -> Result<Value, ServeError> {
    require(site)?;
    let queues = Queues::new(&site.ws);
    let mut kinds = Vec::new();
    for plane in Plane::ALL {
        for kind in plane_kinds(*plane) {
            let mut queued = queues.queued(*kind).unwrap_or_default();
            let depth = queued.len();
            queued.truncate(limit);
            kinds.push(json!({
                "plane": plane, "kind": kind, "depth": depth, "queued": queued,
                "active": queues.active(*kind).unwrap_or_default(),
                "blocked": queues.blocked(*kind).unwrap_or_default(),
            }));
        }
    }
    let mut problems = Vec::new();
    let (_, quarantined) = status::queues(&site.ws, &mut problems, false);
    Ok(json!({ "kinds": kinds, "quarantined": quarantined, "problems": problems }))
}

/// `GET /api/w/{ws}/plan`: the stored plan's identity, its listing
/// (`compile show`) and its Mermaid drawing (`compile graph`).
pub(crate) fn plan_json(site: &Site) -> Result<Value, ServeError> {
    require(site)?;
    match plan_store::load_plan(&site.ws) {
        Ok(Some(plan)) => Ok(json!({
            "plan_id": plan.plan_id, "mode": plan.mode, "compiled_at": plan.compiled_at,
            "fingerprint": plan.fingerprint, "planes": plan.planes().collect::<Vec<_>>(),
            "listing": plan.dump(), "mermaid": crate::plan::draw(&plan, DrawFormat::Mermaid),
        })),
        Ok(None) => Err(ServeError::NotFound(
            "no compiled plan yet: run `millrace compile validate`".into(),
        )),
        Err(e) => Err(ServeError::WorkspaceUnreadable {
            key: site.key.clone(),
            detail: e.to_string(),
        }),
    }
}

/// `GET /api/w/{ws}/events?after=SEQ&limit=N`: kept events after a
/// sequence number, oldest first.
pub(crate) fn events(site: &Arc<Site>, after: Option<u64>, limit: usize) -> Value {
    let tail = site.tail();
    json!({
        "generation": tail.generation, "last_seq": tail.last_seq, "malformed": tail.malformed,
        "events": tail.since(after, limit).iter().map(|e| &**e).collect::<Vec<_>>(),
    })
}
