//! `millrace replay`: the workspace's recorded runs fed, decision by
//! decision, to the engine's router under a candidate plan. Exit 0 when no
//! run diverges, 1 otherwise.

use std::process::ExitCode;

use serde_json::json;

use super::{Context, Failure, Outcome, ReplayArgs, print, print_json};
use crate::engine::replay::{Recorded, RunReplay, replay_run};
use crate::model::event::RoutingRecord;
use crate::workspace::Workspace;
use crate::workspace::runs::{self, RunView};

/// `--since` is not a time.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("`--since {0}` is not a time")]
#[diagnostic(
    code(mill::replay::invalid_since),
    help("write an RFC 3339 time (`2026-12-01T09:00:00Z`) or a date (`2026-12-01`)")
)]
struct InvalidSince(String);

pub(super) fn run(args: &ReplayArgs, cx: &Context) -> Outcome {
    let started = std::time::Instant::now();
    let ws = Workspace::open(cx.cli_workspace.as_deref())?;
    let plan = super::compile::compile_mode_with(args.mode.as_deref(), &args.files, cx)?;
    let since = args.since.as_deref().map(parse_since).transpose()?;
    let mut all = runs::list(&ws)?;
    if let Some(since) = since {
        all.retain(|r| r.started_at.or_else(|| runs::time_of_id(&r.run_id)) >= Some(since));
    }
    if let Some(n) = args.runs {
        all.drain(..all.len().saturating_sub(n));
    }
    let replays: Vec<RunReplay> = all
        .iter()
        .map(|run| replay_run(&plan, &run.run_id, &decisions(run)))
        .filter(|r| r.decisions > 0)
        .collect();
    let decided: usize = replays.iter().map(|r| r.decisions).sum();
    let diverged = replays.iter().filter(|r| r.divergence.is_some()).count();
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    if args.json {
        print_json(&json!({
            "plan_id": plan.plan_id, "mode": plan.mode, "runs": replays.len(),
            "decisions": decided, "diverged": diverged, "elapsed_ms": elapsed_ms,
            "results": replays,
        }))?;
    } else {
        let mut out = format!(
            "replay: plan {} (mode {}) against {} runs, {decided} decisions\n",
            plan.plan_id,
            plan.mode,
            replays.len()
        );
        for r in &replays {
            out.push_str(&line(r));
        }
        out.push_str(&format!(
            "diverged: {diverged} of {} runs ({elapsed_ms:.0} ms)\n",
            replays.len()
        ));
        print(&out)?;
    }
    Ok(if diverged == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// A run's routing decisions in the order they were made. A stage whose
/// routing file is missing or unreadable (a fault the runtime retried, a
/// crash between result and route) decided nothing.
fn decisions(run: &RunView) -> Vec<Recorded> {
    run.stages
        .iter()
        .filter_map(|s| {
            let record: RoutingRecord = serde_json::from_value(s.routing.clone()?).ok()?;
            Some(Recorded {
                record,
                metadata: s.result.metadata.clone(),
            })
        })
        .collect()
}

fn line(r: &RunReplay) -> String {
    match &r.divergence {
        None => format!(
            "run {}: {}/{} decisions match\n",
            r.run_id, r.matched, r.decisions
        ),
        Some(d) => format!(
            "run {}: diverges ({}) at {}: node {} outcome {}: old {}, new {}{}\n",
            r.run_id,
            d.kind.as_str(),
            d.request_id,
            d.node,
            d.outcome,
            d.old_route,
            d.new_route.as_deref().unwrap_or("none"),
            d.span.as_deref().map(|s| format!(" ({s})")).unwrap_or_default(),
        ),
    }
}

fn parse_since(text: &str) -> Result<jiff::Timestamp, Failure> {
    if let Ok(t) = text.parse::<jiff::Timestamp>() {
        return Ok(t);
    }
    text.parse::<jiff::civil::Date>()
        .ok()
        .and_then(|d| {
            jiff::tz::TimeZone::UTC
                .to_timestamp(d.to_datetime(jiff::civil::Time::midnight()))
                .ok()
        })
        .ok_or_else(|| InvalidSince(text.to_string()).into())
}
