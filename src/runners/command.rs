//! The `command` runner: a configured program per stage, no shell.
//!
//! Input: the request and `[runners.command.stages.<stage>]` (the node name
//! is tried when the stage has no entry). Output: a [`RawRun`] whose
//! outcome is the configured `success` outcome on exit status 0 (or the
//! `### MARKER` line of stdout with `marker_from_output`), and the
//! `failure` outcome on a non-zero status. Invariant: normalization still
//! checks the outcome is legal for the stage; a status with no configured
//! outcome is a transport failure.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Component, Path};

use super::RunnerError;
use super::lines::Line;
use super::markers::marker_of_line;
use super::process::Invocation;
use super::raw::RawRun;
use super::registry::{Env, Runner, env_names};
use super::stream::{self, Ctx, Ending, LineSink, Seen};
use crate::model::{ExitKind, StageRunRequest};

/// `[runners.command]`: stages run as plain commands.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CommandConfig {
    /// Keyed by stage name (a node name also matches).
    pub stages: BTreeMap<String, CommandStage>,
}

/// `[runners.command.stages.<stage>]`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "CommandStageWire")]
pub struct CommandStage {
    /// The program and its arguments (never run through a shell).
    pub argv: Vec<String>,
    /// The outcome reported when the command exits 0.
    pub success: Option<String>,
    /// The outcome reported when the command exits non-zero.
    pub failure: Option<String>,
    /// Take the outcome from a `### MARKER` line of the output instead.
    pub marker_from_output: bool,
    pub env: Env,
    /// Working directory relative to the workspace root.
    pub cwd: Option<String>,
}

/// The raw table, checked as a whole by [`command_stage`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CommandStageWire {
    argv: Vec<String>,
    #[serde(default)]
    success: Option<String>,
    #[serde(default)]
    pub failure: Option<String>,
    #[serde(default)]
    pub marker_from_output: bool,
    #[serde(default, deserialize_with = "env_names")]
    pub env: Env,
    #[serde(default)]
    pub cwd: Option<String>,
}

impl TryFrom<CommandStageWire> for CommandStage {
    type Error = String;
    fn try_from(wire: CommandStageWire) -> Result<Self, String> {
        command_stage(wire)
    }
}

/// Checks a command-runner stage as a whole.
fn command_stage(wire: CommandStageWire) -> Result<CommandStage, String> {
    if wire.argv.is_empty() || wire.argv.first().is_some_and(|p| p.trim().is_empty()) {
        return Err("`argv` must name a program: a non-empty list whose first item is not blank".into());
    }
    for (key, outcome) in [("success", &wire.success), ("failure", &wire.failure)] {
        match outcome {
            Some(token) if !crate::model::ids::is_outcome_token(token) => {
                return Err(format!(
                    "`{key}` must be an outcome token like `CHECKER_PASS`, found `{token}`"
                ));
            }
            None if !wire.marker_from_output => {
                return Err(format!("`{key}` is required unless `marker_from_output = true`"));
            }
            _ => {}
        }
    }
    if let Some(cwd) = &wire.cwd {
        let path = std::path::Path::new(cwd);
        let escapes = path
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir));
        if path.is_absolute() || escapes {
            return Err(format!(
                "`cwd` must be relative to the workspace root without `..`, found `{cwd}`"
            ));
        }
    }
    Ok(CommandStage {
        argv: wire.argv,
        success: wire.success,
        failure: wire.failure,
        marker_from_output: wire.marker_from_output,
        env: wire.env,
        cwd: wire.cwd,
    })
}

/// Marker lines kept from stdout (enough to see a conflict).
const MAX_MARKER_LINES: usize = 64;

/// The configured entry for this request, by stage then node.
pub(crate) fn stage_entry<'a>(req: &StageRunRequest, cfg: &'a CommandConfig) -> Option<&'a CommandStage> {
    cfg.stages.get(&req.stage).or_else(|| cfg.stages.get(&req.node))
}

/// The `command` runner.
pub(crate) struct Command;

impl Runner for Command {
    type Config = CommandConfig;
    const INSTALL: &'static str = "install the program";
    const PROGRAM_KEY: &'static str = "stages.<stage>.argv";

    fn programs(cfg: &CommandConfig) -> Result<Vec<(&str, &Env)>, RunnerError> {
        let mut programs = Vec::new();
        for (stage, entry) in &cfg.stages {
            let Some(program) = entry.argv.first() else {
                return Err(RunnerError::EmptyArgv { stage: stage.clone() });
            };
            programs.push((program.as_str(), &entry.env));
        }
        Ok(programs)
    }

    async fn run(ctx: &Ctx<'_>, cfg: &CommandConfig, _prompt: &str) -> RawRun {
        run(ctx, cfg).await
    }
}

/// Runs the stage's configured command.
async fn run(ctx: &Ctx<'_>, cfg: &CommandConfig) -> RawRun {
    let req = ctx.req;
    let Some(entry) = stage_entry(req, cfg) else {
        let note = format!(
            "mill::runner::command_stage_missing: no `runners.command.stages.{}` entry (nor one for node `{}`)",
            req.stage, req.node
        );
        return RawRun::failed(ExitKind::RunnerError, note);
    };
    let Some((program, args)) = entry.argv.split_first() else {
        let note = format!(
            "mill::runner::empty_argv: `runners.command.stages.{}.argv` is empty",
            req.stage
        );
        return RawRun::failed(ExitKind::RunnerError, note);
    };
    let cwd = match working_dir(&req.workspace_root, entry.cwd.as_deref()) {
        Ok(cwd) => cwd,
        Err(note) => return RawRun::failed(ExitKind::RunnerError, note),
    };
    let inv = Invocation {
        program: program.clone(),
        args: args.to_vec(),
        prompt_arg: None,
        cwd,
        env: entry.env.clone(),
        stdin: false,
    };
    let harness = match stream::start(ctx, inv, false) {
        Ok(h) => h,
        Err(raw) => return *raw,
    };
    let mut markers = MarkerLines::default();
    let streamed = stream::pump(ctx, harness, &mut markers).await;
    let mut raw = streamed.raw;
    raw.stdout_path = Some(ctx.files.stdout.clone());
    raw.stderr_path = Some(ctx.files.stderr.clone());
    if streamed.ending == Ending::Exited {
        decide(
            &mut raw,
            entry,
            req,
            streamed.exit.code,
            &markers,
            &streamed.exit.status,
        );
    }
    if let Some(outcome) = raw
        .outcome
        .as_deref()
        .filter(|o| !req.outcome_names().any(|n| n == *o))
    {
        let note = format!(
            "mill::runner::command_outcome_illegal: configured outcome `{outcome}` is not declared by stage {}",
            req.stage
        );
        raw.note(note);
    }
    raw
}

/// Maps the exit status to an outcome.
fn decide(
    raw: &mut RawRun,
    entry: &CommandStage,
    req: &StageRunRequest,
    exit_code: Option<i32>,
    markers: &MarkerLines,
    status: &str,
) {
    match exit_code {
        Some(0) if entry.marker_from_output => {
            raw.final_message = Some(markers.text.clone());
            raw.note("outcome from a marker line of the command's stdout");
        }
        Some(0) => {
            let first = req.outcome_names().next().unwrap_or("BLOCKED");
            let outcome = entry.success.clone().unwrap_or_else(|| first.to_owned());
            raw.note(format!("command exited 0: outcome {outcome}"));
            raw.outcome = Some(outcome);
        }
        Some(code) if entry.failure.is_some() => {
            raw.outcome = entry.failure.clone();
            raw.note(format!(
                "command exited with status {code}: outcome {}",
                entry.failure.as_deref().unwrap_or("")
            ));
        }
        _ => {
            raw.exit = ExitKind::RunnerError;
            raw.note(format!("command {status} and no `failure` outcome is configured"));
        }
    }
}

/// The working directory: the workspace root, or `cwd` inside it.
fn working_dir(root: &Path, cwd: Option<&str>) -> Result<std::path::PathBuf, String> {
    let Some(rel) = cwd else {
        return Ok(root.to_path_buf());
    };
    let escapes = Path::new(rel)
        .components()
        .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir));
    if escapes {
        return Err(format!(
            "mill::runner::command_cwd_outside: cwd `{rel}` must stay inside the workspace"
        ));
    }
    Ok(root.join(rel))
}

/// Marker lines of stdout, as one text.
#[derive(Default)]
struct MarkerLines {
    text: String,
    count: usize,
}

impl LineSink for MarkerLines {
    fn watched(&self) -> bool {
        false
    }

    fn line(&mut self, line: &Line) -> Seen {
        if self.count < MAX_MARKER_LINES {
            let text = String::from_utf8_lossy(&line.bytes);
            if let Some(token) = marker_of_line(&text) {
                self.text.push_str("### ");
                self.text.push_str(token);
                self.text.push('\n');
                self.count += 1;
            }
        }
        Seen::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cwd_stays_inside() {
        let root = Path::new("/ws");
        assert_eq!(working_dir(root, None).unwrap(), Path::new("/ws"));
        assert_eq!(
            working_dir(root, Some("sub/dir")).unwrap(),
            Path::new("/ws/sub/dir")
        );
        assert!(working_dir(root, Some("../x")).is_err());
        assert!(working_dir(root, Some("/etc")).is_err());
    }
}
