//! Building a runtime from a workspace's `millrace.toml`: the engine's
//! rules, the driver's settings, the production runner, and the reloader a
//! daemon recompiles with.
//!
//! Input: a loaded [`Config`] and a compiled plan. Output: a [`Runtime`]
//! that owns the workspace, or the outcome of one operator command applied
//! without a daemon. Invariant: the CLI, the demo and the tests all start a
//! runtime through here, so a setting means the same thing everywhere.

use std::rc::Rc;
use std::time::Duration;

use super::{ControlReport, Harnesses, Monitor, Runtime, RuntimeError, StageRunner};
use crate::compile::WorkspaceCompile;
use crate::config::Config;
use crate::engine::{Budgets, Control, Retries, Rules};
use crate::governance::GovernanceSettings;
use crate::model::RuntimeMode;
use crate::plan::Plan;
use crate::workspace::Workspace;

/// What a reload produces.
pub struct Reload {
    pub plan: Plan,
    pub rules: Rules,
    pub settings: DispatchSettings,
    pub runner: Rc<dyn StageRunner>,
}

/// Rebuilds everything a daemon takes from `millrace.toml` and the sources.
pub type Reloader = Box<dyn FnMut() -> Result<Reload, String>>;

/// What the driver needs from `millrace.toml` besides the plan.
#[derive(Clone, Debug)]
pub struct DispatchSettings {
    pub idle_sleep: Duration,
    pub watch_ideas: bool,
    pub mode: RuntimeMode,
    /// `[usage_governance]` and where the harness telemetry lives.
    pub governance: GovernanceSettings,
}

impl Default for DispatchSettings {
    fn default() -> Self {
        Self {
            idle_sleep: Duration::from_secs(1),
            watch_ideas: true,
            mode: RuntimeMode::Daemon,
            governance: GovernanceSettings::default(),
        }
    }
}

/// The engine's rules from `millrace.toml`. `chain_stages` is off for
/// `run once` and for direct commands (nothing may start from those).
pub fn rules(config: &Config, chain_stages: bool) -> Rules {
    let b = &config.usage_governance.budgets;
    Rules {
        max_stage_runs_per_item: config.runtime.max_stage_runs_per_item,
        chain_stages,
        budgets: Budgets {
            per_item_tokens: b.per_item_tokens,
            per_item_cost_usd: b.per_item_cost_usd,
            per_run_tokens: b.per_run_tokens,
            per_run_cost_usd: b.per_run_cost_usd,
        },
        retries: Retries {
            limit: config.runners.transient_retries,
            backoff_seconds: config.runners.transient_backoff_seconds,
        },
    }
}

/// The driver's settings from `millrace.toml`.
pub fn dispatch_settings(config: &Config, mode: RuntimeMode) -> DispatchSettings {
    let seconds = config.runtime.idle_sleep_seconds.clamp(0.01, 3600.0);
    DispatchSettings {
        idle_sleep: Duration::from_secs_f64(seconds),
        watch_ideas: config.watchers.enabled && config.watchers.watch_ideas_inbox,
        mode,
        governance: GovernanceSettings::from_env(config.usage_governance.clone()),
    }
}

/// The built-in runners, resolving relative harness commands from the
/// workspace root.
pub fn harnesses(config: &Config, ws: &Workspace) -> Rc<dyn StageRunner> {
    Rc::new(Harnesses::new(config.runners.clone(), ws.root().to_path_buf()))
}

/// The single-threaded event loop stages run on as local tasks.
pub fn event_loop() -> Result<tokio::runtime::Runtime, RuntimeError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| RuntimeError::EventLoop {
            detail: e.to_string(),
        })
}

impl Runtime {
    /// Takes ownership of the workspace to run `plan` under `config`.
    pub fn start(
        ws: Workspace,
        config: &Config,
        plan: Plan,
        mode: RuntimeMode,
        monitor: Monitor,
    ) -> Result<Runtime, RuntimeError> {
        let rules = rules(config, mode == RuntimeMode::Daemon);
        let runner = harnesses(config, &ws);
        Runtime::open(ws, plan, rules, runner, dispatch_settings(config, mode), monitor)
    }

    /// Applies one operator command with no daemon running. Nothing may
    /// start from here: a result recovered on the way is routed, and its
    /// next stage waits for the daemon.
    pub fn apply_control(
        ws: Workspace,
        config: &Config,
        plan: Plan,
        command: Control,
    ) -> Result<ControlReport, RuntimeError> {
        let runner = harnesses(config, &ws);
        let settings = dispatch_settings(config, RuntimeMode::Daemon);
        Runtime::control(
            ws,
            plan,
            rules(config, false),
            runner,
            settings,
            Monitor::default(),
            command,
        )
    }
}

/// What `reload_config` runs inside a daemon: the current configuration and
/// sources, the same mode (a `--mode` stays pinned).
pub fn reloader(ws: Workspace, mode: Option<String>) -> Reloader {
    Box::new(move || {
        let config = Config::load(&ws.paths().config()).map_err(|e| e.to_string())?;
        let plan = match crate::compile::plan_to_run(&ws, &config, mode.as_deref(), true) {
            Ok(Ok(plan)) => plan,
            Ok(Err(broken)) => return Err(compile_failure(&broken)),
            Err(e) => return Err(e.to_string()),
        };
        Ok(Reload {
            plan,
            rules: rules(&config, true),
            settings: dispatch_settings(&config, RuntimeMode::Daemon),
            runner: harnesses(&config, &ws),
        })
    })
}

/// One line saying why a mode does not compile: the error count and the
/// first error with its code and place (the full list is one
/// `millrace compile validate` away).
pub fn compile_failure(broken: &WorkspaceCompile) -> String {
    let first = broken
        .compiled
        .diags
        .iter()
        .find(|d| crate::diag::is_error(d.as_ref()))
        .map(|d| {
            let json = crate::diag::render_json(std::iter::once(d), &broken.compiled.sources);
            let d = &json[0];
            let at = match (d["file"].as_str(), d["line"].as_u64()) {
                (Some(file), Some(line)) => format!(" ({file}:{line})"),
                _ => String::new(),
            };
            format!(
                "{}: {}{at}",
                d["code"].as_str().unwrap_or("?"),
                d["message"].as_str().unwrap_or("")
            )
        });
    let lowered = broken
        .lowered
        .as_ref()
        .and_then(|l| l.as_ref().err())
        .map(|e| e.to_string());
    let errors = broken.compiled.diags.error_count() + usize::from(lowered.is_some());
    let detail = first.or(lowered).unwrap_or_default();
    format!(
        "mode `{}` does not compile ({errors} error(s)); first: {detail}",
        broken.mode
    )
}
