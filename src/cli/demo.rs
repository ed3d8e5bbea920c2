//! `millrace demo`: a complete scripted campaign in a fresh workspace. An
//! idea becomes a root spec, the planner and manager turn it into two
//! tasks, the tasks run builder → checker (one fix cycle) → updater, and the
//! closure pass judges the whole lineage. Every step is the real runtime;
//! only the harness is the built-in scripted one.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use super::{Context, DemoArgs, Failure, Outcome, print};
use crate::config::Config;
use crate::model::RuntimeMode;
use crate::runtime::{
    DispatchSettings, Monitor, RunOptions, Runtime, dispatch_settings, event_loop, harnesses, rules,
};
use crate::workspace::closure::ClosureTarget;
use crate::workspace::queue::Queues;
use crate::workspace::{Workspace, fsx, init};

/// The demo workspace already exists and is not empty.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("`{}` already holds a millrace workspace", path.display())]
#[diagnostic(
    code(mill::cli::demo_target_exists),
    help("pass `--workspace` with a new directory, or remove this one")
)]
pub(super) struct DemoTargetExists {
    path: PathBuf,
}

const DEMO_MODE: &str = "mode demo extends default_codex {\n    runner * = scripted\n}\n";

const DEMO_CONFIG: &str = "# The demo: the shipped loops, driven by the built-in scripted harness.
[runtime]
default_mode = \"demo\"
idle_sleep_seconds = 0.02

[runners.scripted]
script = \"demo/script.toml\"
";

pub(super) fn run(args: &DemoArgs, cx: &Context) -> Outcome {
    let started = Instant::now();
    let root = match &cx.cli_workspace {
        Some(path) => path.clone(),
        None => std::env::temp_dir().join(format!(
            "millrace-demo-{}",
            jiff::Timestamp::now().strftime("%Y%m%dT%H%M%S")
        )),
    };
    let ws = Workspace::at(&root)?;
    if ws.is_initialized() {
        return Err(DemoTargetExists {
            path: ws.root().to_path_buf(),
        }
        .into());
    }
    init::init(&ws, crate::embedded::ASSETS)?;
    fsx::write_atomic(&ws.paths().config(), DEMO_CONFIG.as_bytes())?;
    fsx::write_atomic(&ws.paths().loops_dir().join("demo.mill"), DEMO_MODE.as_bytes())?;
    let idea = crate::embedded::asset("demo/idea.md").unwrap_or_default();
    Queues::new(&ws).stage_idea("greet.md", &String::from_utf8_lossy(idea))?;
    let config = Config::load(&ws.paths().config())?;
    let plan = super::run::current_plan(&ws, &config, None, cx)?;
    if !args.quiet {
        print(&format!(
            "demo workspace: {}\nplan: {}\n\n",
            ws.root().display(),
            plan.plan_id
        ))?;
    }
    let sinks: Vec<Box<dyn std::io::Write>> = if args.quiet {
        Vec::new()
    } else {
        vec![Box::new(std::io::stdout())]
    };
    let mut runtime = Runtime::open(
        ws.clone(),
        plan,
        rules(&config, true),
        harnesses(&config, &ws),
        DispatchSettings {
            idle_sleep: Duration::from_millis(20),
            ..dispatch_settings(&config, RuntimeMode::Daemon)
        },
        Monitor::to(sinks),
    )?;
    let event_loop = event_loop()?;
    let options = RunOptions {
        max_ticks: Some(500),
        until_idle: true,
    };
    let summary = tokio::task::LocalSet::new().block_on(&event_loop, runtime.run_daemon(options));
    runtime.close()?;
    let summary = summary?;
    print(&closing(&ws, &summary.stages, started.elapsed())?)?;
    Ok(ExitCode::SUCCESS)
}

/// What ran, what it left, and where to look.
fn closing(ws: &Workspace, stages: &[String], took: Duration) -> Result<String, Failure> {
    let paths = ws.paths();
    let done = |kind| {
        fsx::list_names(&paths.queue_dir(kind, crate::model::QueueState::Done))
            .map(|names| names.len())
            .unwrap_or(0)
    };
    let target = ClosureTarget::load(ws, "idea-greet")?;
    let verdict = match &target {
        Some(t) if !t.closure_open => t.closed_reason.clone().unwrap_or_else(|| "closed".into()),
        Some(_) => "still open".into(),
        None => "not opened".into(),
    };
    let mut text = String::from("\n");
    text.push_str(&format!(
        "demo: {} stages in {:.2}s\n",
        stages.len(),
        took.as_secs_f64()
    ));
    text.push_str(&format!(
        "specs done: {}\n",
        done(crate::plan::WorkItemKind::Spec)
    ));
    text.push_str(&format!(
        "tasks done: {}\n",
        done(crate::plan::WorkItemKind::Task)
    ));
    text.push_str(&format!("closure idea-greet: {verdict}\n"));
    text.push_str(&format!("workspace: {}\n", ws.root().display()));
    text.push_str(&format!("runs: {}\n", paths.runs_dir().display()));
    text.push_str(&format!(
        "verdict: {}\n",
        paths.arbiter_dir().join("verdicts/idea-greet.json").display()
    ));
    text.push_str(
        "next: millrace status --workspace <workspace>; millrace runs ls --workspace <workspace>\n",
    );
    Ok(text)
}
