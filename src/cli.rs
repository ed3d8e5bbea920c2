//! The `millrace` command line.
//!
//! Input: process arguments. Output: text or JSON on stdout, diagnostics on
//! stderr, and an exit code: 0 success, 1 errors, 2 usage errors.
//!
//! Invariants: no panic and no backtrace reaches the user; a closed stdout
//! (`| head`) ends a command quietly; every read command accepts `--json`.

mod aliases;
mod args;
pub(crate) mod compile;
mod config;
mod control;
mod demo;
mod doctor;
mod fmt;
mod gate;
mod init;
mod logging;
mod lsp;
mod output;
mod queue;
mod replay;
mod run;
mod runs;
mod serve;
mod skills;
mod status;
mod upgrade;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use crate::workspace::mailbox;

pub use aliases::{
    Alias, ControlAlias, PlanningAlias, PlanningRetryArgs, StatusAlias, StatusShowArgs, StatusWatchArgs,
};
pub use args::*;
pub use config::ConfigValidateArgs;
pub use output::{OutputError, print, print_fields, print_json};
pub use skills::{SkillExportArgs, SkillInstallArgs, SkillPromoteArgs, SkillsShareCommand};
pub use upgrade::UpgradeArgs;

/// The failure of a command: either diagnostics already printed (exit 1) or
/// one error to render.
#[derive(Debug)]
pub enum Failure {
    /// Diagnostics or a summary were already printed; exit with this code.
    Reported(u8),
    /// One error with a code, rendered by `main`.
    Error(miette::Report),
    Output(OutputError),
}

impl From<OutputError> for Failure {
    fn from(e: OutputError) -> Self {
        Failure::Output(e)
    }
}

impl<E: miette::Diagnostic + Send + Sync + 'static> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure::Error(miette::Report::new(e))
    }
}

/// The outcome of a command handler.
pub type Outcome = Result<ExitCode, Failure>;

/// Shared command context.
#[derive(Clone, Debug)]
pub struct Context {
    pub cli_workspace: Option<std::path::PathBuf>,
    /// `--config`: the configuration file to read instead of the workspace's.
    pub config: Option<std::path::PathBuf>,
    pub color: bool,
}

/// Parses arguments, runs the command and maps every outcome to an exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse_from(aliases::rewrite_args(std::env::args_os().collect())) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let color = match cli.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    };
    if let Err(e) = logging::install(cli.log_level.as_deref(), cli.log_file.as_deref()) {
        eprint!("{}", render_diagnostic(&e, color));
        return ExitCode::from(2);
    }
    if cli.config.is_some() && !aliases::takes_config(&cli.command) {
        eprint!("{}", render_diagnostic(&aliases::ConfigNotUsed, color));
        return ExitCode::from(2);
    }
    let cx = Context {
        cli_workspace: cli.workspace.clone(),
        config: cli.config.clone(),
        color,
    };
    match dispatch(cli.command, &cx) {
        Ok(code) => code,
        Err(Failure::Reported(code)) => ExitCode::from(code),
        Err(Failure::Output(OutputError::BrokenPipe)) => ExitCode::SUCCESS,
        Err(Failure::Output(OutputError::Io(e))) => {
            eprintln!("error: cannot write output: {e}");
            ExitCode::from(1)
        }
        Err(Failure::Error(report)) => {
            eprint!("{}", render_report(&report, color));
            ExitCode::from(1)
        }
    }
}

/// Renders one error with its code and help, without a backtrace.
pub fn render_report(report: &miette::Report, color: bool) -> String {
    render_diagnostic(report.as_ref(), color)
}

/// Renders one diagnostic that carries no source excerpt.
pub fn render_diagnostic(diagnostic: &dyn miette::Diagnostic, color: bool) -> String {
    let theme = if color {
        miette::GraphicalTheme::unicode()
    } else {
        miette::GraphicalTheme::unicode_nocolor()
    };
    let handler = miette::GraphicalReportHandler::new_themed(theme)
        .with_links(false)
        .with_width(100);
    let mut out = String::new();
    let rendered = if crate::diag::labels_drawable(diagnostic) {
        handler.render_report(&mut out, diagnostic)
    } else {
        handler.render_report(&mut out, &crate::diag::WithoutSnippet::new(diagnostic, None))
    };
    if rendered.is_err() {
        out = format!("error: {diagnostic}\n");
    }
    out
}

fn dispatch(command: Command, cx: &Context) -> Outcome {
    match command {
        Command::Completions(args) => {
            let mut cmd = Cli::command();
            let mut buffer = Vec::new();
            clap_complete::generate(args.shell, &mut cmd, "millrace", &mut buffer);
            print(&String::from_utf8_lossy(&buffer))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Compile(command) => compile::run(command, cx),
        Command::Fmt(args) => fmt::run(&args, cx),
        Command::Lsp => lsp::run(),
        Command::Run(command) => run::run(command, cx),
        Command::Demo(args) => demo::run(&args, cx),
        Command::Pause => control::run(mailbox::Command::Pause, cx),
        Command::Resume => control::run(mailbox::Command::Resume, cx),
        Command::Stop(args) => control::run(
            if args.now {
                mailbox::Command::StopNow
            } else {
                mailbox::Command::Stop
            },
            cx,
        ),
        Command::RetryActive(args) => {
            let plane = match args.plane.as_deref().map(str::parse::<crate::plan::Plane>) {
                Some(Err(())) => return Err(UnknownPlane(args.plane.unwrap_or_default()).into()),
                Some(Ok(p)) => Some(p),
                None => None,
            };
            control::run(
                mailbox::Command::RetryActive {
                    reason: args.reason,
                    plane,
                },
                cx,
            )
        }
        Command::ClearStaleState(args) => {
            control::run(mailbox::Command::ClearStaleState { reason: args.reason }, cx)
        }
        Command::ReloadConfig => control::run(mailbox::Command::ReloadConfig, cx),
        Command::Modes(command) => compile::modes(command, cx),
        Command::Init => init::run(cx),
        Command::Config(command) => config::run(command, cx),
        Command::Queue(command) => queue::run(command, cx),
        Command::Skills(command) => skills::run(command, cx),
        Command::Status(args) => status::run(&aliases::status_args(args), cx),
        Command::Doctor(args) => doctor::run(&args, cx),
        Command::Runs(command) => runs::run(command, cx),
        Command::Gate(command) => gate::run(command, cx),
        Command::Replay(args) => replay::run(&args, cx),
        Command::Upgrade(args) => upgrade::run(&args, cx),
        Command::Alias(alias) => match aliases::expand(alias) {
            aliases::Expanded::Command(command) => dispatch(command, cx),
            aliases::Expanded::Version => {
                print(&Cli::command().render_version())?;
                Ok(ExitCode::SUCCESS)
            }
        },
        Command::Serve(args) => serve::run(args, cx),
    }
}

/// `--plane` names no plane.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("unknown plane `{0}`")]
#[diagnostic(code(mill::cli::unknown_plane), help("use execution, planning or learning"))]
pub struct UnknownPlane(String);
