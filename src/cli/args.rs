//! The command-line surface (clap derive only; no behaviour here).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

mod gate;
mod queue;
pub use gate::*;
pub use queue::*;

/// Millrace: a governed runtime for long-running coding-agent work.
#[derive(Debug, Parser)]
#[command(
    name = "millrace",
    version,
    about,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// Workspace root, the directory that holds `millrace-agents/` (default:
    /// the nearest enclosing workspace, else the current directory).
    #[arg(long, global = true, env = "MILLRACE_WORKSPACE", value_name = "PATH")]
    pub workspace: Option<PathBuf>,

    /// When to color human output.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,

    /// Diagnostic tracing of the runtime's ticks, stages and decisions, to
    /// stderr: a level (`info`, `debug`, `trace`) or per-module directives
    /// (`millrace::runners=debug,info`). Off when not given.
    #[arg(
        long,
        global = true,
        env = "RUST_LOG",
        value_name = "FILTER",
        hide_env_values = true
    )]
    pub log_level: Option<String>,

    /// Write the tracing to this file (appended) instead of stderr.
    #[arg(long, global = true, value_name = "PATH", requires = "log_level")]
    pub log_file: Option<PathBuf>,

    /// Read this file instead of `millrace-agents/millrace.toml` (`run`, `compile`, `config`).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create or complete the `millrace-agents/` workspace tree (idempotent).
    Init,
    /// Check `.mill` sources and compile modes into plans.
    #[command(subcommand)]
    Compile(CompileCommand),
    /// List and inspect the available modes.
    #[command(subcommand)]
    Modes(ModesCommand),
    /// Show or validate `millrace.toml`.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Add work documents and inspect the queues.
    #[command(subcommand)]
    Queue(QueueCommand),
    /// List installed skills and queue learning requests.
    #[command(subcommand)]
    Skills(SkillsCommand),
    /// Show runtime state: plan, queues, active work, pauses, closure.
    #[command(args_conflicts_with_subcommands = true)]
    Status(StatusArgs),
    /// Check workspace integrity and suggest repairs.
    Doctor(JsonFlag),
    /// Inspect run directories.
    #[command(subcommand)]
    Runs(RunsCommand),
    /// List and decide the gates runs wait at.
    #[command(subcommand)]
    Gate(GateCommand),
    /// Replay the recorded runs through a (changed) plan and report where it routes differently.
    Replay(ReplayArgs),
    /// Run the compiled plan over the workspace.
    #[command(subcommand)]
    Run(RunCommand),
    /// Pause dispatch after the current stage (an operator pause).
    Pause,
    /// Clear an operator pause.
    Resume,
    /// Stop after the current stage; `--now` kills the running harness.
    Stop(StopArgs),
    /// Requeue the active work item of a plane.
    RetryActive(RetryArgs),
    /// Requeue all active work and reset runtime state after a mishap.
    ClearStaleState(ReasonArg),
    /// Ask a running daemon to reload `millrace.toml` and recompile.
    ReloadConfig,
    /// Run a complete scripted campaign in a fresh workspace.
    Demo(DemoArgs),
    /// Print shell completions.
    Completions(CompletionsArgs),
    /// Lay out `.mill` files canonically (or check that they are).
    Fmt(FmtArgs),
    /// Run the `.mill` language server on stdin and stdout.
    Lsp,
    /// Compare the deployed assets with this build's; `--apply` takes the safe updates.
    Upgrade(super::UpgradeArgs),
    /// Serve a live web dashboard of one or more workspaces.
    Serve(ServeArgs),
    #[command(flatten)]
    Alias(super::Alias),
}

#[derive(Debug, Subcommand)]
pub enum CompileCommand {
    /// Check sources and report every problem; in a workspace, also write
    /// the plan and diagnostics into `millrace-agents/state/`.
    Validate(ValidateArgs),
    /// Print the compiled plan as a stable listing.
    Show(ModeArgs),
    /// Draw the compiled plan as a Mermaid or Graphviz graph.
    Graph(GraphArgs),
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// `.mill` files to check together with the shipped ones (default: the
    /// workspace's loops, or only the shipped ones outside a workspace).
    pub files: Vec<PathBuf>,
    /// The mode to compile (default: `runtime.default_mode`, else
    /// `default_codex`).
    #[arg(long)]
    pub mode: Option<String>,
    /// Diagnostic output format.
    #[arg(long, value_enum, default_value_t = DiagFormat::Human)]
    pub format: DiagFormat,
    /// Treat warnings as errors.
    #[arg(long)]
    pub deny_warnings: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DiagFormat {
    Human,
    Json,
}

#[derive(Debug, Args)]
pub struct ModeArgs {
    /// The mode to compile (default: `runtime.default_mode`).
    #[arg(long)]
    pub mode: Option<String>,
    /// Print the plan JSON instead of the listing.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct GraphArgs {
    /// The mode to draw (default: `runtime.default_mode`).
    #[arg(long)]
    pub mode: Option<String>,
    /// Graph syntax.
    #[arg(long, value_enum, default_value_t = GraphFormat::Mermaid)]
    pub format: GraphFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    Mermaid,
    Dot,
}

#[derive(Debug, Subcommand)]
pub enum ModesCommand {
    /// List every mode and alias.
    List(JsonFlag),
    /// Show one mode's loops and bindings.
    Show(ModeShowArgs),
}

#[derive(Debug, Args)]
pub struct ModeShowArgs {
    /// A mode or alias name (see `millrace modes list`).
    pub mode: String,
    /// Print one JSON value instead of `key: value` lines.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the effective configuration.
    Show(JsonFlag),
    /// Check `millrace.toml` and report every problem; `--mode` compiles it too.
    Validate(super::ConfigValidateArgs),
    /// Ask a running daemon to reload `millrace.toml` (the same as `reload-config`).
    Reload,
}

#[derive(Debug, Subcommand)]
pub enum SkillsCommand {
    /// Every installed skill: id, stages, path.
    Ls(JsonFlag),
    /// One skill's metadata and text.
    Show(SkillIdArgs),
    /// Skills whose id, description or text contain a phrase (any case).
    Search(SkillSearchArgs),
    /// Queue a learning request to create a new skill.
    Create(SkillCreateArgs),
    /// Queue a learning request to improve an installed skill.
    Improve(SkillImproveArgs),
    #[command(flatten)]
    Share(super::SkillsShareCommand),
}

#[derive(Debug, Args)]
pub struct SkillIdArgs {
    /// A skill id from `millrace skills ls`.
    pub skill_id: String,
    /// Print one JSON value instead of `key: value` lines.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SkillSearchArgs {
    /// The phrase to look for (any case).
    pub query: String,
    /// Print one JSON value instead of `key: value` lines.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SkillCreateArgs {
    /// What the skill should teach, in a sentence or two.
    pub prompt: String,
    /// Use this mode instead of `runtime.default_mode`.
    #[arg(long)]
    pub mode: Option<String>,
    /// Print one JSON value instead of `key: value` lines.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SkillImproveArgs {
    /// The installed skill to improve (see `millrace skills ls`).
    pub skill_id: String,
    /// What should change (default: improve it from recent runs).
    #[arg(long)]
    pub note: Option<String>,
    /// Use this mode instead of `runtime.default_mode`.
    #[arg(long)]
    pub mode: Option<String>,
    /// Print one JSON value instead of `key: value` lines.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print one JSON value instead of `key: value` lines.
    #[arg(long)]
    pub json: bool,
    /// Print again every `--interval` seconds, until interrupted or
    /// `--max-updates` is reached (with `--json`: one JSON line per update).
    #[arg(long)]
    pub watch: bool,
    /// Seconds between updates of `--watch`.
    #[arg(long, default_value_t = 1.0, value_parser = interval_seconds)]
    pub interval: f64,
    /// Stop `--watch` after this many updates.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_updates: Option<u64>,
    /// Another workspace to show as well (repeatable).
    #[arg(long, value_name = "PATH")]
    pub also: Vec<PathBuf>,
    #[command(subcommand)]
    pub alias: Option<super::StatusAlias>,
}

pub(super) fn interval_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(s) if (0.0..=3600.0).contains(&s) => Ok(s),
        _ => Err("expected a number of seconds from 0 to 3600".into()),
    }
}

#[derive(Debug, Args)]
pub struct JsonFlag {
    /// Print one JSON value instead of `key: value` lines.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum RunsCommand {
    /// List runs, oldest first.
    Ls(RunsLsArgs),
    /// Show a run's stages, results and routing decisions.
    Show(RunIdArgs),
    /// Print the most relevant artifact of a run.
    Tail(RunIdArgs),
}

#[derive(Debug, Args)]
pub struct RunsLsArgs {
    /// Only the runs of this work item.
    #[arg(long, value_name = "ID")]
    pub item: Option<String>,
    /// Only the newest N runs (still printed oldest first).
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Print one JSON value instead of `key: value` lines.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RunIdArgs {
    /// A run id from `millrace runs ls`, or a unique part of one (the monitor's `run=` handle).
    pub run_id: String,
    /// Print one JSON value instead of `key: value` lines.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum RunCommand {
    /// Claim or continue one work item and run one stage.
    Once(RunOnceArgs),
    /// Run until stopped.
    Daemon(DaemonArgs),
}

#[derive(Debug, Args)]
pub struct RunOnceArgs {
    /// Pin a mode instead of `runtime.default_mode`.
    #[arg(long)]
    pub mode: Option<String>,
    /// Print one JSON value instead of `key: value` lines.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DaemonArgs {
    /// Pin a mode instead of `runtime.default_mode`.
    #[arg(long)]
    pub mode: Option<String>,
    /// Stop after this many ticks.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_ticks: Option<u64>,
    /// Print progress lines to stdout.
    #[arg(long, value_enum, default_value_t = MonitorMode::None, ignore_case = true)]
    pub monitor: MonitorMode,
    /// Also append progress lines to this file.
    #[arg(long, value_name = "PATH")]
    pub monitor_log: Option<PathBuf>,
    /// Stop as soon as nothing runs and nothing is claimable (batch use).
    #[arg(long)]
    pub exit_when_idle: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum MonitorMode {
    None,
    Basic,
}

#[derive(Debug, Args)]
pub struct StopArgs {
    /// Kill the running harness now and record the stage as interrupted.
    #[arg(long)]
    pub now: bool,
}

#[derive(Debug, Args)]
pub struct RetryArgs {
    /// The plane whose active item to requeue (required when several are active).
    #[arg(long)]
    pub plane: Option<String>,
    /// Why, recorded with the requeued item.
    #[arg(long, default_value = "operator requested retry")]
    pub reason: String,
}

#[derive(Debug, Args)]
pub struct ReasonArg {
    /// Why, recorded in the runtime events.
    #[arg(long, default_value = "operator requested stale-state clear")]
    pub reason: String,
}

/// `millrace demo` uses the global `--workspace` as the directory to create
/// the demo workspace in (default: a fresh temporary directory).
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Keep quiet: print only the closing summary.
    #[arg(long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to print completions for.
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct FmtArgs {
    /// `.mill` files or directories to format (default: the workspace's
    /// `millrace-agents/loops/`).
    #[arg(value_name = "FILES")]
    pub files: Vec<PathBuf>,
    /// Change nothing; exit 1 if any file is not formatted.
    #[arg(long)]
    pub check: bool,
    /// Read one file from stdin and write it formatted to stdout.
    #[arg(long, conflicts_with = "files")]
    pub stdin: bool,
}

/// `millrace serve`: `--workspace` may be repeated to serve several.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// A workspace to serve (repeatable; default: the nearest enclosing
    /// workspace, else the current directory).
    #[arg(
        long = "workspace",
        id = "workspace",
        value_name = "PATH",
        env = "MILLRACE_WORKSPACE"
    )]
    pub workspaces: Vec<PathBuf>,
    /// The address to listen on; anything but loopback is warned about.
    #[arg(long, default_value = "127.0.0.1:8765", value_name = "ADDR")]
    pub bind: std::net::SocketAddr,
    /// Add pause, resume, stop and retry-active buttons (sent through the
    /// mailbox, guarded by a token printed at start).
    #[arg(long)]
    pub allow_control: bool,
    /// Open the dashboard in a browser once it listens (`xdg-open`).
    #[arg(long)]
    pub open: bool,
}
