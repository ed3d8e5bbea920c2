//! Control commands: `pause`, `resume`, `stop [--now]`, `retry-active`,
//! `clear-stale-state`, `reload-config`. With a daemon holding the
//! workspace they go through its mailbox; otherwise they apply directly.

use std::process::ExitCode;

use super::{Context, Outcome, print_fields};
use crate::config::Config;
use crate::engine::Control;
use crate::plan::Plan;
use crate::runtime::Runtime;
use crate::workspace::lock::{self, LockState};
use crate::workspace::mailbox::{self, Command};
use crate::workspace::{Workspace, plan_store, repair};

pub(super) fn run(command: Command, cx: &Context) -> Outcome {
    let ws = Workspace::open(cx.cli_workspace.as_deref())?;
    let inspection = lock::inspect(&ws)?;
    if inspection.state == LockState::Active {
        let issued = mailbox::issue(&ws, &command, "operator")?;
        let path = issued.path.display().to_string();
        print_fields(&[
            ("action", command.name()),
            ("mode", "mailbox"),
            ("applied", "pending"),
            ("detail", "queued for the running daemon"),
            ("command_id", &issued.command_id),
            ("mailbox_path", &path),
        ])?;
        return Ok(ExitCode::SUCCESS);
    }
    let (applied, detail) = match &command {
        Command::Stop | Command::StopNow => (false, "the runtime is not running".to_string()),
        Command::ReloadConfig => (
            false,
            "no daemon is running; the next start compiles the current configuration".into(),
        ),
        other => direct(&ws, other, cx)?,
    };
    print_fields(&[
        ("action", command.name()),
        ("mode", "direct"),
        ("applied", if applied { "true" } else { "false" }),
        ("detail", &detail),
    ])?;
    Ok(ExitCode::SUCCESS)
}

/// Applies a command with no daemon: take the lock, commit, let go.
fn direct(ws: &Workspace, command: &Command, cx: &Context) -> Result<(bool, String), super::Failure> {
    // Clearing stale state first sets aside the state files a runtime could
    // not start from (an unreadable snapshot, journal, lock or status file).
    let repaired = match command {
        Command::ClearStaleState { .. } => repair::set_aside_damaged(ws, jiff::Timestamp::now())?,
        _ => Vec::new(),
    };
    let config = Config::load(&ws.paths().config())?;
    let (plan, note) = control_plan(ws, &config, cx)?;
    let control = match command {
        Command::Pause => Control::Pause,
        Command::Resume => Control::Resume,
        Command::RetryActive { reason, plane } => Control::RetryActive {
            plane: *plane,
            reason: reason.clone(),
        },
        Command::ClearStaleState { reason } => Control::ClearStaleState {
            reason: reason.clone(),
        },
        _ => return Ok((false, "not a direct command".into())),
    };
    let report = Runtime::apply_control(ws.clone(), &config, plan, control)?;
    let mut detail = repaired;
    detail.push(format!("{}{note}", report.detail));
    Ok((report.applied || detail.len() > 1, detail.join("; ")))
}

/// The plan a direct control runs under: the current one, or, when the
/// sources do not compile right now, the stored plan the last run used. An
/// operator must be able to pause or requeue while fixing a loop.
fn control_plan(
    ws: &Workspace,
    config: &Config,
    cx: &Context,
) -> Result<(Plan, &'static str), super::Failure> {
    match crate::compile::plan_to_run(ws, config, None, true)? {
        Ok(plan) => Ok((plan, "")),
        Err(broken) => match plan_store::load_plan(ws) {
            Ok(Some(plan)) => Ok((plan, " (with the stored plan: the sources do not compile)")),
            _ => Err(super::run::report_broken(&broken, cx)),
        },
    }
}
