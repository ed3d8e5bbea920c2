//! The reference's command names, kept so scripts written for it run
//! unchanged: `version`, top-level `add-task|add-spec|add-idea`, the
//! `control` group, `planning retry-active`, `status show|watch`,
//! `status watch --workspace A --workspace B`, and `--config PATH` on
//! `run`, `compile` and `config`.
//!
//! Input: parsed aliases (and, for the repeated `--workspace` of `status
//! watch`, the raw arguments). Output: the command each one stands for.
//! Invariant: an alias only rewrites arguments; the command it expands to
//! does the work, so its output and exit code are that command's.
//! `config reload` and `config validate --mode` live with `config`.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::{
    AddArgs, Command, ConfigCommand, Context, QueueCommand, ReasonArg, RetryArgs, StatusArgs, StopArgs,
};
use crate::workspace::{Workspace, WorkspaceError};

/// The reference's names for commands that exist under other names.
#[derive(Debug, Subcommand)]
pub enum Alias {
    /// Print the version (the same as `--version`).
    #[command(hide = true)]
    Version,
    /// The same as `queue add-task`.
    #[command(hide = true)]
    AddTask(AddArgs),
    /// The same as `queue add-spec`.
    #[command(hide = true)]
    AddSpec(AddArgs),
    /// The same as `queue add-idea`.
    #[command(hide = true)]
    AddIdea(AddArgs),
    /// The control commands as a group: `control pause` is `pause`.
    #[command(subcommand, hide = true)]
    Control(ControlAlias),
    /// `planning retry-active` is `retry-active --plane planning`.
    #[command(subcommand, hide = true)]
    Planning(PlanningAlias),
}

/// `millrace control <command>`: the top-level control command of that name.
#[derive(Debug, Subcommand)]
pub enum ControlAlias {
    /// The same as `pause`.
    Pause,
    /// The same as `resume`.
    Resume,
    /// The same as `stop`.
    Stop(StopArgs),
    /// The same as `retry-active`.
    RetryActive(RetryArgs),
    /// The same as `clear-stale-state`.
    ClearStaleState(ReasonArg),
    /// The same as `reload-config`.
    ReloadConfig,
}

/// `millrace planning <command>`.
#[derive(Debug, Subcommand)]
pub enum PlanningAlias {
    /// The same as `retry-active --plane planning`.
    RetryActive(PlanningRetryArgs),
}

#[derive(Debug, Args)]
pub struct PlanningRetryArgs {
    /// Why, recorded with the requeued item.
    #[arg(long, default_value = "operator requested planning retry")]
    pub reason: String,
}

/// `status show` and `status watch`.
#[derive(Debug, Subcommand)]
pub enum StatusAlias {
    /// The same as `status`.
    Show(StatusShowArgs),
    /// The same as `status --watch`.
    Watch(StatusWatchArgs),
}

#[derive(Debug, Args)]
pub struct StatusShowArgs {
    /// Print one JSON value instead of `key: value` lines.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct StatusWatchArgs {
    /// Seconds between updates (`--interval` of `status --watch`).
    #[arg(long, visible_alias = "interval", default_value_t = 1.0, value_parser = super::args::interval_seconds)]
    pub interval_seconds: f64,
    /// Stop after this many updates.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_updates: Option<u64>,
    /// Another workspace to show as well (repeatable); a repeated
    /// `--workspace` means the same.
    #[arg(long, value_name = "PATH")]
    pub also: Vec<PathBuf>,
    /// One JSON line per update.
    #[arg(long)]
    pub json: bool,
}

/// What an alias stands for.
pub(super) enum Expanded {
    Command(Command),
    /// `millrace version`: what `--version` prints.
    Version,
}

pub(super) fn expand(alias: Alias) -> Expanded {
    let command = match alias {
        Alias::Version => return Expanded::Version,
        Alias::AddTask(args) => Command::Queue(QueueCommand::AddTask(args)),
        Alias::AddSpec(args) => Command::Queue(QueueCommand::AddSpec(args)),
        Alias::AddIdea(args) => Command::Queue(QueueCommand::AddIdea(args)),
        Alias::Control(control) => match control {
            ControlAlias::Pause => Command::Pause,
            ControlAlias::Resume => Command::Resume,
            ControlAlias::Stop(args) => Command::Stop(args),
            ControlAlias::RetryActive(args) => Command::RetryActive(args),
            ControlAlias::ClearStaleState(args) => Command::ClearStaleState(args),
            ControlAlias::ReloadConfig => Command::ReloadConfig,
        },
        Alias::Planning(PlanningAlias::RetryActive(args)) => Command::RetryActive(RetryArgs {
            plane: Some("planning".into()),
            reason: args.reason,
        }),
    };
    Expanded::Command(command)
}

/// `status show` and `status watch` as the plain `status` arguments.
pub(super) fn status_args(args: StatusArgs) -> StatusArgs {
    match args.alias {
        None => args,
        Some(StatusAlias::Show(show)) => StatusArgs {
            json: show.json,
            watch: false,
            interval: 1.0,
            max_updates: None,
            also: Vec::new(),
            alias: None,
        },
        Some(StatusAlias::Watch(watch)) => StatusArgs {
            json: watch.json,
            watch: true,
            interval: watch.interval_seconds,
            max_updates: watch.max_updates,
            also: watch.also,
            alias: None,
        },
    }
}

/// Whether the global `--config` means something to this command: it is
/// the reference's option of `run`, `compile` and `config show|validate`.
pub(super) fn takes_config(command: &Command) -> bool {
    matches!(
        command,
        Command::Run(_)
            | Command::Compile(_)
            | Command::Config(ConfigCommand::Show(_) | ConfigCommand::Validate(_))
    )
}

impl Context {
    /// The initialized workspace, reading its configuration from `--config`
    /// when given.
    pub(crate) fn open_workspace(&self) -> Result<Workspace, WorkspaceError> {
        let ws = Workspace::open(self.cli_workspace.as_deref())?;
        Ok(match &self.config {
            Some(path) => ws.with_config(path)?,
            None => ws,
        })
    }
}

/// `--config` given to a command that does not read it.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("`--config` applies to `run`, `compile` and `config show|validate` only")]
#[diagnostic(
    code(mill::cli::config_not_used),
    help("leave it out: this command reads the workspace's own `millrace-agents/millrace.toml`")
)]
pub(super) struct ConfigNotUsed;

/// Global options that take a value, in both spellings.
const VALUED: &[&str] = &["--workspace", "--color", "--log-level", "--log-file", "--config"];

/// The reference's `status watch` takes `--workspace` once per workspace;
/// here the first names the workspace and every later one becomes
/// `--also`. Other argument lists are returned unchanged.
pub(super) fn rewrite_args(args: Vec<OsString>) -> Vec<OsString> {
    let text: Vec<Option<&str>> = args.iter().map(|a| a.to_str()).collect();
    let mut words = Vec::new();
    let mut i = 1;
    while i < text.len() && words.len() < 2 {
        match text[i] {
            Some(t) if VALUED.contains(&t) => i += 1,
            Some(t) if t.starts_with('-') => {}
            Some(t) => words.push(t),
            None => break,
        }
        i += 1;
    }
    if words != ["status", "watch"] {
        return args;
    }
    let mut out = Vec::with_capacity(args.len());
    let mut seen = false;
    for (arg, t) in args.iter().zip(&text) {
        let (is_ws, value) = match t {
            Some("--workspace") => (true, None),
            Some(t) => match t.strip_prefix("--workspace=") {
                Some(v) => (true, Some(v)),
                None => (false, None),
            },
            None => (false, None),
        };
        if is_ws && seen {
            out.push(OsString::from("--also"));
            if let Some(v) = value {
                out.push(OsString::from(v));
            }
            continue;
        }
        seen |= is_ws;
        out.push(arg.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewrite(line: &str) -> String {
        let args = line.split(' ').map(OsString::from).collect();
        rewrite_args(args)
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn a_repeated_workspace_of_status_watch_becomes_also() {
        assert_eq!(
            rewrite("millrace status watch --workspace a --workspace b --workspace=c"),
            "millrace status watch --workspace a --also b --also c"
        );
        assert_eq!(
            rewrite("millrace --workspace a --color never status watch --workspace b"),
            "millrace --workspace a --color never status watch --also b"
        );
    }

    #[test]
    fn other_commands_keep_their_arguments() {
        for line in [
            "millrace status --workspace a --workspace b",
            "millrace --workspace status watch",
            "millrace queue add-task watch --workspace a --workspace b",
        ] {
            assert_eq!(rewrite(line), line);
        }
    }
}
