//! `millrace gate ls|decide`: the gates runs wait at, and their decisions.
//! With a daemon holding the workspace a decision goes through its mailbox
//! (and its verdict is awaited); otherwise it is written to the gate's
//! record and routed when the runtime next runs.

use std::process::ExitCode;

use serde_json::json;

use super::{Context, GateCommand, GateDecideArgs, Outcome, print, print_json};
use crate::model::Snapshot;
use crate::workspace::Workspace;
use crate::workspace::gates::{self, GateDecision, GateError, GateRecord};
use crate::workspace::lock::{self, LockState};
use crate::workspace::mailbox::{self, Command};

pub(super) fn run(command: GateCommand, cx: &Context) -> Outcome {
    let ws = Workspace::open(cx.cli_workspace.as_deref())?;
    match command {
        GateCommand::Ls(args) => {
            let now = jiff::Timestamp::now();
            let waiting = waiting(&ws)?;
            if args.json {
                let rows: Vec<_> = waiting.iter().map(|g| row_json(g, now)).collect();
                print_json(&json!({ "gates": rows }))?;
            } else if waiting.is_empty() {
                print("no gate is waiting\n")?;
            } else {
                let blocks: Vec<String> = waiting.iter().map(|g| row_text(g, now)).collect();
                print(&blocks.join("\n"))?;
            }
            Ok(ExitCode::SUCCESS)
        }
        GateCommand::Decide(args) => decide(&ws, &args),
    }
}

/// The gates waiting now, as the snapshot and the records agree.
fn waiting(ws: &Workspace) -> Result<Vec<GateRecord>, super::Failure> {
    let snapshot = Snapshot::load(ws)?;
    let pending = snapshot
        .active_runs
        .values()
        .filter_map(|r| r.pending_request_id.as_deref());
    Ok(gates::waiting(ws, pending))
}

fn decide(ws: &Workspace, args: &GateDecideArgs) -> Outcome {
    let mut gate = match gates::resolve(&waiting(ws)?, &args.id) {
        Ok(gate) => gate,
        Err(GateError::NotFound(given)) => return Err(not_waiting(ws, &given).into()),
        Err(e) => return Err(e.into()),
    };
    gate.check_decidable(&args.outcome)?;
    if lock::inspect(ws)?.state == LockState::Active {
        let command = Command::GateDecide {
            id: gate.gate_id.clone(),
            outcome: args.outcome.clone(),
            note: args.note.clone(),
        };
        let issued = mailbox::issue(ws, &command, "operator")?;
        return super::queue::report_mailbox(
            ws,
            args.json,
            !args.no_wait,
            command.name(),
            &gate.gate_id,
            &issued,
        );
    }
    gate.decision = Some(GateDecision {
        outcome: args.outcome.clone(),
        note: args.note.clone().filter(|n| !n.trim().is_empty()),
        by: "operator".into(),
        decided_at: jiff::Timestamp::now(),
    });
    gates::save(ws, &gate)?;
    let detail = "decided; the runtime routes it when it next runs";
    if args.json {
        print_json(&json!({
            "mode": "direct", "action": "gate_decide", "subject": gate.gate_id,
            "applied": "true", "outcome": args.outcome, "detail": detail,
        }))?;
    } else {
        print(&format!(
            "mode: direct\naction: gate_decide\nsubject: {}\napplied: true\noutcome: {}\ndetail: {detail}\n",
            gate.gate_id, args.outcome
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Why `given` names no waiting gate: a gate decided already, or whose run
/// moved on, is not waiting; anything else is not a gate.
fn not_waiting(ws: &Workspace, given: &str) -> GateError {
    let all = gates::list(ws);
    let Ok(found) = gates::resolve(&all, given) else {
        return GateError::NotFound(given.to_string());
    };
    match &found.decision {
        Some(_) => found
            .check_decidable("")
            .err()
            .unwrap_or(GateError::NotFound(given.to_string())),
        None => GateError::NotWaiting {
            id: found.gate_id,
            why: "its run no longer waits there".into(),
        },
    }
}

fn row_json(g: &GateRecord, now: jiff::Timestamp) -> serde_json::Value {
    json!({
        "gate_id": g.gate_id, "plane": g.plane, "run_id": g.run_id, "node": g.node,
        "work_item": g.work_item, "question": g.question, "shows": g.shows,
        "outcomes": g.outcomes, "opened_at": g.opened_at,
        "waited_seconds": g.waited_seconds(now), "timeout_at": g.timeout_at,
        "timeout_outcome": g.timeout_outcome,
    })
}

fn row_text(g: &GateRecord, now: jiff::Timestamp) -> String {
    let shows = if g.shows.is_empty() {
        "none".to_string()
    } else {
        g.shows.join(", ")
    };
    let timeout = match (&g.timeout_at, &g.timeout_outcome) {
        (Some(at), Some(outcome)) => format!("{at} -> {outcome}"),
        _ => "none".into(),
    };
    format!(
        "gate_id: {}\nplane: {}\nnode: {}\nwork_item: {}\nquestion: {}\nshows: {shows}\noutcomes: {}\nwaiting_since: {}\nwaited: {}\ntimeout: {timeout}\n",
        g.gate_id,
        g.plane,
        g.node,
        g.work_item.as_deref().unwrap_or("none"),
        g.question,
        g.outcomes.join(", "),
        g.opened_at,
        waited_words(g.waited_seconds(now)),
    )
}

/// `42s`, `3m 5s`, `2h 10m`, `3d 4h`.
pub(crate) fn waited_words(seconds: i64) -> String {
    let (d, h, m, s) = (
        seconds / 86400,
        seconds / 3600 % 24,
        seconds / 60 % 60,
        seconds % 60,
    );
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m {s}s"),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}
