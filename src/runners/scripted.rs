//! The `scripted` runner: a deterministic, in-process stand-in for a
//! harness, for engine tests and demos.
//!
//! Input: the request and a [`Script`] (from `[runners.scripted]`: a file,
//! or one built in code). Output: a [`RawRun`] plus the same run-directory
//! artifacts a process runner leaves (prompt, invocation, stdout, stderr,
//! last message, structured result). Invariants: no subprocess; the same
//! request and script always give the same result (except `{now}`); a
//! delay honours cancel; writes never leave the workspace.

pub(crate) mod script;

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use self::script::check_write_path;
use super::RunnerError;
use super::files::write_json;
use super::process::Invocation;
use super::raw::RawRun;
use super::registry::{Env, Runner};
use super::stream::{Ctx, record_invocation};
use crate::model::{ExitKind, StageRunRequest, TokenUsage};
use crate::workspace::fsx;
pub use script::{Entry, EntryTable, Script, ScriptedExit, Tokens, Write};

/// `[runners.scripted]`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScriptedConfig {
    /// The script file, relative to `millrace-agents/` or absolute.
    pub script: Option<PathBuf>,
    /// A script built in code (the demo, tests); wins over `script`. Never
    /// read from TOML.
    #[serde(skip)]
    pub inline: Option<Script>,
}

/// Loads the configured script: the in-code one, else the file (relative
/// to `<workspace>/millrace-agents/`), else an empty script.
pub fn load_script(cfg: &ScriptedConfig, workspace_root: &Path) -> Result<Script, RunnerError> {
    if let Some(inline) = &cfg.inline {
        return Ok(inline.clone());
    }
    let Some(path) = &cfg.script else {
        return Ok(Script::default());
    };
    let path = workspace_root.join("millrace-agents").join(path);
    let text = fsx::read_text(&path).map_err(|e| RunnerError::ScriptUnreadable {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    Script::parse(&text).map_err(|reason| RunnerError::ScriptInvalid { path, reason })
}

/// The `scripted` runner.
pub(crate) struct Scripted;

impl Runner for Scripted {
    type Config = ScriptedConfig;
    const INSTALL: &'static str = "the scripted runner is built in";

    fn programs(_cfg: &ScriptedConfig) -> Result<Vec<(&str, &Env)>, RunnerError> {
        Ok(Vec::new())
    }

    /// The script must load (none configured is an empty script).
    fn preflight(_name: &str, _key: &str, cfg: &ScriptedConfig, base: &Path) -> Result<(), RunnerError> {
        load_script(cfg, base).map(|_| ())
    }

    async fn run(ctx: &Ctx<'_>, cfg: &ScriptedConfig, _prompt: &str) -> RawRun {
        run(ctx, cfg).await
    }
}

/// Runs the stage from the script.
async fn run(ctx: &Ctx<'_>, cfg: &ScriptedConfig) -> RawRun {
    let script_path = cfg.script.as_ref().map(|p| p.display().to_string());
    let inv = Invocation {
        program: "scripted".into(),
        args: script_path.into_iter().collect(),
        prompt_arg: None,
        cwd: ctx.req.workspace_root.clone(),
        env: Default::default(),
        stdin: false,
    };
    record_invocation(ctx, &inv);
    let script = match load_script(cfg, &ctx.req.workspace_root) {
        Ok(s) => s,
        Err(e) => {
            return RawRun::failed(
                ExitKind::RunnerError,
                format!(
                    "{}: {e}",
                    miette::Diagnostic::code(&e)
                        .map(|c| c.to_string())
                        .unwrap_or_default()
                ),
            );
        }
    };
    let req = ctx.req;
    let item = req.work_item.as_ref().map(|w| w.id.as_str());
    let fallback = Entry::default();
    let entry = &script
        .entry(item, &req.stage, &req.node, req.attempt)
        .unwrap_or(&fallback)
        .0;
    let mut raw = act(ctx, entry).await;
    raw.stdout_path = Some(ctx.files.stdout.clone());
    raw.stderr_path = Some(ctx.files.stderr.clone());
    let stdout = raw.final_message.as_deref().unwrap_or_default();
    let _ = fsx::write_replace(&ctx.files.stdout, stdout.as_bytes());
    let _ = fsx::write_replace(&ctx.files.stderr, b"");
    if let Some(message) = &raw.final_message {
        let _ = fsx::write_replace(&ctx.files.last_message, message.as_bytes());
    }
    raw
}

/// Plays one entry.
async fn act(ctx: &Ctx<'_>, entry: &EntryTable) -> RawRun {
    if let Some(ms) = entry.delay_ms
        && let Some(raw) = delay(ctx, Duration::from_millis(ms)).await
    {
        return raw;
    }
    let outcome = entry.outcome.clone().unwrap_or_else(|| first_outcome(ctx.req));
    let mut raw = RawRun::new(ExitKind::Completed);
    raw.exit_code = Some(0);
    raw.token_usage = entry.tokens.as_ref().map(usage_of);
    raw.cost_usd = entry.cost_usd;
    if let Some(exit) = entry.exit {
        return misbehave(raw, exit, entry, &outcome);
    }
    let vars = Vars::of(ctx.req);
    if let Err(note) = apply_writes(&ctx.req.workspace_root, entry, &vars) {
        raw.exit = ExitKind::RunnerError;
        raw.note(note);
        return raw;
    }
    if !entry.result.is_empty() {
        let mut doc = serde_json::Map::new();
        doc.insert("terminal_result".into(), json!(outcome));
        for (key, value) in &entry.result {
            doc.insert(key.clone(), vars.fill_value(value));
        }
        if let Err(e) = write_json(&ctx.req.result_path, &doc) {
            raw.note(format!("could not write the structured result: {e}"));
        }
    }
    raw.final_message = Some(format!(
        "Scripted stage {} finished.\n### {outcome}\n",
        ctx.req.stage
    ));
    raw
}

/// Waits, unless cancel or the stage timeout comes first.
async fn delay(ctx: &Ctx<'_>, wait: Duration) -> Option<RawRun> {
    let timeout = ctx.timeout();
    tokio::select! {
        biased;
        () = ctx.cancel.cancelled() => Some(RawRun::failed(ExitKind::Killed, "stage cancelled during a scripted delay")),
        () = tokio::time::sleep(timeout), if wait > timeout => {
            Some(RawRun::failed(ExitKind::Timeout, "scripted delay outlasted the stage timeout"))
        }
        () = tokio::time::sleep(wait) => None,
    }
}

/// Acts out a scripted failure.
fn misbehave(mut raw: RawRun, exit: ScriptedExit, entry: &EntryTable, outcome: &str) -> RawRun {
    match exit {
        ScriptedExit::Timeout => {
            raw.exit = ExitKind::Timeout;
            raw.exit_code = None;
            raw.note("scripted timeout");
        }
        ScriptedExit::Quota => {
            raw.exit = ExitKind::QuotaExhausted;
            raw.exit_code = Some(1);
            let wait = entry.quota_reset_in_seconds.and_then(|s| i64::try_from(s).ok());
            raw.quota_reset_at =
                wait.and_then(|s| Timestamp::now().checked_add(SignedDuration::from_secs(s)).ok());
            raw.note("scripted usage limit");
        }
        ScriptedExit::Crash => {
            // The marker is there on purpose: a crash must not be rescued.
            raw.exit = ExitKind::RunnerError;
            raw.exit_code = Some(101);
            raw.final_message = Some(format!("### {outcome}\n"));
            raw.note("scripted crash");
        }
        ScriptedExit::Garbled => {
            raw.final_message = Some("\u{fffd}\u{0}{\"type\": \"item.comp".into());
        }
        ScriptedExit::TwoMarkers => {
            let other = if outcome == "BLOCKED" {
                "NOT_BLOCKED"
            } else {
                "BLOCKED"
            };
            raw.final_message = Some(format!("### {outcome}\n### {other}\n"));
        }
    }
    raw
}

fn first_outcome(req: &StageRunRequest) -> String {
    req.outcome_names().next().unwrap_or("BLOCKED").to_owned()
}

fn usage_of(tokens: &Tokens) -> TokenUsage {
    match *tokens {
        Tokens::Total(total) => TokenUsage {
            input_tokens: total,
            total_tokens: total,
            ..TokenUsage::default()
        },
        Tokens::Split {
            input,
            cached_input,
            output,
            thinking,
        } => TokenUsage {
            input_tokens: input,
            cached_input_tokens: cached_input,
            output_tokens: output,
            thinking_tokens: thinking,
            total_tokens: input.saturating_add(output),
            ..TokenUsage::default()
        },
    }
}

/// Placeholder values for one request.
struct Vars {
    pairs: Vec<(&'static str, String)>,
}

impl Vars {
    fn of(req: &StageRunRequest) -> Vars {
        let none = || "none".to_owned();
        let pairs = vec![
            (
                "{work_item_id}",
                req.work_item.as_ref().map_or_else(none, |w| w.id.clone()),
            ),
            ("{run_id}", req.run_id.clone()),
            (
                "{root_spec_id}",
                req.root_spec_id().map_or_else(none, String::from),
            ),
            (
                "{root_idea_id}",
                req.root_idea_id().map_or_else(none, String::from),
            ),
            (
                "{now}",
                Timestamp::now()
                    .round(jiff::Unit::Second)
                    .map_or_else(|_| none(), |t| t.to_string()),
            ),
        ];
        Vars { pairs }
    }

    fn fill(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for (key, value) in &self.pairs {
            out = out.replace(key, value);
        }
        out
    }

    fn fill_value(&self, value: &Value) -> Value {
        match value {
            Value::String(s) => Value::String(self.fill(s)),
            Value::Array(items) => Value::Array(items.iter().map(|v| self.fill_value(v)).collect()),
            Value::Object(map) => {
                Value::Object(map.iter().map(|(k, v)| (k.clone(), self.fill_value(v))).collect())
            }
            other => other.clone(),
        }
    }
}

/// Creates the entry's files, refusing any path that leaves the workspace
/// once placeholders are filled in. Each file appears whole or not at all
/// (temporary file and rename): a work document half written when the
/// process dies would be quarantined by the next queue scan.
fn apply_writes(root: &Path, entry: &EntryTable, vars: &Vars) -> Result<(), String> {
    for write in &entry.writes {
        let rel = vars.fill(&write.path);
        check_write_path(&rel).map_err(|e| format!("mill::runner::script_write_refused: {e}"))?;
        let target: PathBuf = root.join(&rel);
        fsx::write_atomic(&target, vars.fill(&write.content).as_bytes()).map_err(|e| e.to_string())?;
    }
    Ok(())
}
