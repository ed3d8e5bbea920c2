//! `millrace run once` and `millrace run daemon`.

use std::process::ExitCode;
use std::rc::Rc;
use std::time::Duration;

use serde_json::json;

use super::{Context, DaemonArgs, Failure, MonitorMode, Outcome, RunCommand, RunOnceArgs, print, print_json};
use crate::compile::{UnreadableFile, WorkspaceCompile};
use crate::config::Config;
use crate::engine::driver::{
    DispatchSettings, Harnesses, Monitor, Reload, Reloader, RunOptions, RunSummary, Runtime,
};
use crate::engine::{Budgets, Rules};
use crate::governance::GovernanceSettings;
use crate::model::RuntimeMode;
use crate::plan::Plan;
use crate::workspace::Workspace;

/// The runtime refuses to start without a current plan.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum StartError {
    /// The plan is missing or stale and the sources do not compile.
    #[error("cannot start: mode `{mode}` does not compile, and the runtime never runs a stale plan")]
    #[diagnostic(
        code(mill::engine::no_current_plan),
        help("fix the errors above (see `millrace compile validate`), then start again")
    )]
    NoCurrentPlan { mode: String },

    /// The tokio runtime could not be built.
    #[error("cannot start the event loop: {0}")]
    #[diagnostic(
        code(mill::engine::event_loop),
        help("this is an environment problem; retry, and report it if it persists")
    )]
    EventLoop(String),
}

pub(super) fn run(command: RunCommand, cx: &Context) -> Outcome {
    let ws = Workspace::open(cx.cli_workspace.as_deref())?;
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

/// The engine's rules from `millrace.toml`.
pub(super) fn rules_from(config: &Config, chain_stages: bool) -> Rules {
    let b = &config.usage_governance.budgets;
    let budgets = Budgets {
        per_item_tokens: b.per_item_tokens,
        per_item_cost_usd: b.per_item_cost_usd,
        per_run_tokens: b.per_run_tokens,
        per_run_cost_usd: b.per_run_cost_usd,
    };
    Rules {
        max_stage_runs_per_item: config.runtime.max_stage_runs_per_item,
        chain_stages,
        budgets,
    }
}

pub(super) fn settings(config: &Config, mode: RuntimeMode) -> DispatchSettings {
    let seconds = config.runtime.idle_sleep_seconds.clamp(0.01, 3600.0);
    DispatchSettings {
        idle_sleep: Duration::from_secs_f64(seconds),
        watch_ideas: config.watchers.enabled && config.watchers.watch_ideas_inbox,
        mode,
        governance: GovernanceSettings::from_env(config.usage_governance.clone()),
    }
}

fn event_loop() -> Result<tokio::runtime::Runtime, StartError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| StartError::EventLoop(e.to_string()))
}

fn open(
    ws: Workspace,
    config: &Config,
    plan: Plan,
    once: bool,
    monitor: Monitor,
) -> Result<Runtime, Failure> {
    let rules = rules_from(config, !once);
    let runner = Rc::new(Harnesses::new(config.runners.clone(), ws.root().to_path_buf()));
    let mode = if once {
        RuntimeMode::Once
    } else {
        RuntimeMode::Daemon
    };
    Ok(Runtime::open(
        ws,
        plan,
        rules,
        runner,
        settings(config, mode),
        monitor,
    )?)
}

fn once(ws: Workspace, config: &Config, args: &RunOnceArgs, cx: &Context) -> Outcome {
    let plan = current_plan(&ws, config, args.mode.as_deref(), cx)?;
    let (mode, plan_id) = (plan.mode.clone(), plan.plan_id.clone());
    let mut runtime = open(ws, config, plan, true, Monitor::default())?;
    let summary = tokio::task::LocalSet::new().block_on(&event_loop()?, runtime.run_once());
    runtime.close()?;
    report("once", &mode, &plan_id, &summary?, args.json)
}

fn daemon(ws: Workspace, config: &Config, args: &DaemonArgs, cx: &Context) -> Outcome {
    let plan = current_plan(&ws, config, args.mode.as_deref(), cx)?;
    let (mode, plan_id) = (plan.mode.clone(), plan.plan_id.clone());
    let log = match &args.monitor_log {
        Some(path) => Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| UnreadableFile {
                    path: path.display().to_string(),
                    reason: e.to_string(),
                })?,
        ),
        None => None,
    };
    let monitor = Monitor {
        stdout: args.monitor == MonitorMode::Basic,
        log,
    };
    let reloader = reloader(ws.clone(), args.mode.clone(), cx.clone());
    let mut runtime = open(ws, config, plan, false, monitor)?;
    runtime.set_reloader(reloader);
    let options = RunOptions {
        max_ticks: args.max_ticks,
        until_idle: args.exit_when_idle,
    };
    let summary = tokio::task::LocalSet::new().block_on(&event_loop()?, runtime.run_daemon(options));
    runtime.close()?;
    report("daemon", &mode, &plan_id, &summary?, false)
}

/// What `reload_config` runs inside the daemon: the current configuration
/// and sources, the same mode (a `--mode` stays pinned).
fn reloader(ws: Workspace, mode: Option<String>, cx: Context) -> Reloader {
    Box::new(move || {
        let config = Config::load(&ws.paths().config()).map_err(|e| e.to_string())?;
        let plan = current_plan(&ws, &config, mode.as_deref(), &cx).map_err(|f| match f {
            Failure::Error(report) => report.to_string(),
            Failure::Reported(_) => {
                "the sources do not compile (diagnostics on the daemon's stderr)".to_string()
            }
            Failure::Output(_) => "cannot write diagnostics".to_string(),
        })?;
        let rules = rules_from(&config, true);
        let runner = Rc::new(Harnesses::new(config.runners.clone(), ws.root().to_path_buf()));
        Ok(Reload {
            plan,
            rules,
            settings: settings(&config, RuntimeMode::Daemon),
            runner,
        })
    })
}

fn report(run_mode: &str, mode: &str, plan_id: &str, summary: &RunSummary, json: bool) -> Outcome {
    if json {
        print_json(
            &json!({"run_mode": run_mode, "mode": mode, "plan_id": plan_id, "ticks": summary.ticks,
            "stages": summary.stages, "ended": summary.ended}),
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut text = format!(
        "run_mode: {run_mode}\nmode: {mode}\nplan_id: {plan_id}\nticks: {}\n",
        summary.ticks
    );
    for stage in &summary.stages {
        text.push_str(&format!("stage: {stage}\n"));
    }
    text.push_str(&format!("ended: {}\n", summary.ended));
    print(&text)?;
    Ok(ExitCode::SUCCESS)
}
