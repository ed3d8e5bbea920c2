//! `millrace run once` and `millrace run daemon`.

use std::process::ExitCode;

use serde_json::json;

use super::{Context, DaemonArgs, Failure, MonitorMode, Outcome, RunCommand, RunOnceArgs, print, print_json};
use crate::compile::{UnreadableFile, WorkspaceCompile};
use crate::config::Config;
use crate::model::RuntimeMode;
use crate::plan::Plan;
use crate::runtime::{Monitor, RunOptions, RunSummary, Runtime, event_loop, reloader};
use crate::workspace::{Workspace, fsx};

/// The runtime refuses to start without a current plan.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub(super) enum StartError {
    /// The plan is missing or stale and the sources do not compile.
    #[error("cannot start: mode `{mode}` does not compile, and the runtime never runs a stale plan")]
    #[diagnostic(
        code(mill::engine::no_current_plan),
        help("fix the errors above (see `millrace compile validate`), then start again")
    )]
    NoCurrentPlan { mode: String },
}

pub(super) fn run(command: RunCommand, cx: &Context) -> Outcome {
    let ws = cx.open_workspace()?;
    let config = Config::load(&ws.paths().config())?;
    match command {
        RunCommand::Once(args) => once(ws, &config, &args, cx),
        RunCommand::Daemon(args) => daemon(ws, &config, &args, cx),
    }
}

/// The plan to run: the compiled one if it is current for the mode, else a
/// fresh compile, stored as the workspace's plan. A stale plan never runs.
pub(super) fn current_plan(
    ws: &Workspace,
    config: &Config,
    mode: Option<&str>,
    cx: &Context,
) -> Result<Plan, Failure> {
    crate::compile::plan_to_run(ws, config, mode, true)?.map_err(|broken| report_broken(&broken, cx))
}

/// The current plan for a mode, compiled in memory when the stored one is
/// not it: a check (may this mode take a learning request?) must not
/// replace the plan the workspace runs.
pub(super) fn plan_for_check(
    ws: &Workspace,
    config: &Config,
    mode: Option<&str>,
    cx: &Context,
) -> Result<Plan, Failure> {
    crate::compile::plan_to_run(ws, config, mode, false)?.map_err(|broken| report_broken(&broken, cx))
}

/// Prints why a mode does not compile and says the runtime will not start.
pub(super) fn report_broken(outcome: &WorkspaceCompile, cx: &Context) -> Failure {
    let options = crate::diag::RenderOptions {
        color: cx.color,
        width: 100,
    };
    eprint!(
        "{}",
        crate::diag::render_human(outcome.compiled.diags.iter(), &outcome.compiled.sources, options)
    );
    if let Some(Err(e)) = &outcome.lowered {
        eprint!("{}", super::render_diagnostic(e, cx.color));
    }
    StartError::NoCurrentPlan {
        mode: outcome.mode.clone(),
    }
    .into()
}

fn once(ws: Workspace, config: &Config, args: &RunOnceArgs, cx: &Context) -> Outcome {
    let plan = current_plan(&ws, config, args.mode.as_deref(), cx)?;
    let (mode, plan_id) = (plan.mode.clone(), plan.plan_id.clone());
    let mut runtime = Runtime::start(ws, config, plan, RuntimeMode::Once, Monitor::default())?;
    let summary = tokio::task::LocalSet::new().block_on(&event_loop()?, runtime.run_once());
    runtime.close()?;
    report("once", &mode, &plan_id, &summary?, args.json)
}

fn daemon(ws: Workspace, config: &Config, args: &DaemonArgs, cx: &Context) -> Outcome {
    let plan = current_plan(&ws, config, args.mode.as_deref(), cx)?;
    let (mode, plan_id) = (plan.mode.clone(), plan.plan_id.clone());
    let mut sinks: Vec<Box<dyn std::io::Write>> = Vec::new();
    if args.monitor == MonitorMode::Basic {
        sinks.push(Box::new(std::io::stdout()));
    }
    if let Some(path) = &args.monitor_log {
        let file = fsx::open_append(path).map_err(|e| UnreadableFile {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        sinks.push(Box::new(file));
    }
    let reloader = reloader(ws.clone(), args.mode.clone());
    let mut runtime = Runtime::start(ws, config, plan, RuntimeMode::Daemon, Monitor::to(sinks))?;
    runtime.set_reloader(reloader);
    let options = RunOptions {
        max_ticks: args.max_ticks,
        until_idle: args.exit_when_idle,
    };
    let summary = tokio::task::LocalSet::new().block_on(&event_loop()?, runtime.run_daemon(options));
    runtime.close()?;
    report("daemon", &mode, &plan_id, &summary?, false)
}

/// The exit status of a run that stopped because only an operator can
/// unblock it (a broken or missing harness, an operator pause).
const NEEDS_OPERATOR: u8 = 3;

fn report(run_mode: &str, mode: &str, plan_id: &str, summary: &RunSummary, json: bool) -> Outcome {
    let code = match summary.attention {
        Some(_) => ExitCode::from(NEEDS_OPERATOR),
        None => ExitCode::SUCCESS,
    };
    if json {
        print_json(
            &json!({"run_mode": run_mode, "mode": mode, "plan_id": plan_id, "ticks": summary.ticks,
            "stages": summary.stages, "ended": summary.ended, "attention": summary.attention}),
        )?;
        return Ok(code);
    }
    let mut text = format!(
        "run_mode: {run_mode}\nmode: {mode}\nplan_id: {plan_id}\nticks: {}\n",
        summary.ticks
    );
    for stage in &summary.stages {
        text.push_str(&format!("stage: {stage}\n"));
    }
    text.push_str(&format!("ended: {}\n", summary.ended));
    if let Some(a) = &summary.attention {
        text.push_str(&format!("attention: {}: {}\nfix: {}\n", a.code, a.reason, a.fix));
    }
    print(&text)?;
    Ok(code)
}
