//! `millrace config show|validate|reload`: the effective configuration and
//! its problems. `validate --mode` also compiles the mode as `compile
//! validate --mode` does; `reload` is `reload-config`.

use std::process::ExitCode;

use clap::Args;
use serde_json::{Value, json};

use super::{
    CompileCommand, ConfigCommand, Context, DiagFormat, Failure, Outcome, ValidateArgs, print, print_json,
    render_report,
};
use crate::config::{Config, ConfigError};
use crate::workspace::mailbox;

/// `millrace config validate`.
#[derive(Debug, Args)]
pub struct ConfigValidateArgs {
    /// Also compile this mode and store its plan, as `compile validate
    /// --mode` does.
    #[arg(long)]
    pub mode: Option<String>,
    /// Print one JSON value instead of `key: value` lines.
    #[arg(long)]
    pub json: bool,
}

pub(super) fn run(command: ConfigCommand, cx: &Context) -> Outcome {
    let ws = cx.open_workspace()?;
    let path = ws.paths().config();
    match command {
        ConfigCommand::Reload => super::control::run(mailbox::Command::ReloadConfig, cx),
        ConfigCommand::Show(flag) => {
            let config = Config::load(&path)?;
            let settings = config.plan_settings();
            let limits = loop_limits(&ws);
            if flag.json {
                print_json(&json!({
                    "file": path.display().to_string(),
                    "config": config.to_json_value(),
                    "loop_limits": limits,
                    "plan_settings_fingerprint": settings.fingerprint(),
                }))?;
            } else {
                let mut lines = vec![("file".to_string(), path.display().to_string())];
                flatten("", &config.to_json_value(), &mut lines);
                // An unset recovery limit is not "none": the loops' own
                // limit applies. Say which.
                for (key, value) in &mut lines {
                    if let (Some(limit), "none") = (limits.get(key.as_str()), value.as_str()) {
                        *value = format!("{limit} (unset: the compiled plan's loop limit)");
                    }
                }
                lines.push(("plan_settings_fingerprint".into(), settings.fingerprint()));
                print(
                    &lines
                        .iter()
                        .map(|(k, v)| format!("{k}: {v}\n"))
                        .collect::<String>(),
                )?;
            }
            Ok(ExitCode::SUCCESS)
        }
        ConfigCommand::Validate(flag) => {
            let result = Config::load(&path);
            if flag.json {
                let problems = result
                    .as_ref()
                    .err()
                    .map(ConfigError::problems)
                    .unwrap_or_default();
                let mut out = json!({
                    "ok": result.is_ok(),
                    "file": path.display().to_string(),
                    "problems": problems,
                });
                if let Err(e @ ConfigError::Unreadable { .. }) = &result {
                    out["error"] = Value::String(e.to_string());
                }
                let mut compiled_ok = true;
                if let (Ok(_), Some(mode)) = (&result, &flag.mode) {
                    let outcome = crate::compile::workspace(&ws, Some(mode), true)?;
                    compiled_ok =
                        outcome.compiled.diags.error_count() == 0 && matches!(outcome.lowered, Some(Ok(_)));
                    let mut diagnostics = crate::compile::diagnostics_json(
                        &outcome.compiled,
                        &outcome.mode,
                        outcome.lowered.as_ref(),
                    );
                    diagnostics["ok"] = json!(compiled_ok);
                    out["ok"] = json!(compiled_ok);
                    out["compile"] = diagnostics;
                }
                print_json(&out)?;
                if !compiled_ok {
                    return Err(Failure::Reported(1));
                }
            } else {
                let count = result.as_ref().err().map_or(0, |e| e.problems().len().max(1));
                print(&format!(
                    "ok: {}\nfile: {}\nproblems: {count}\n",
                    result.is_ok(),
                    path.display()
                ))?;
            }
            match result {
                Ok(_) if flag.json => Ok(ExitCode::SUCCESS),
                Ok(_) => match flag.mode {
                    // The compile's own report follows, with its exit code.
                    Some(mode) => super::compile::run(
                        CompileCommand::Validate(ValidateArgs {
                            files: Vec::new(),
                            mode: Some(mode),
                            format: DiagFormat::Human,
                            deny_warnings: false,
                        }),
                        cx,
                    ),
                    None => Ok(ExitCode::SUCCESS),
                },
                Err(e) => {
                    if !flag.json {
                        eprint!("{}", render_report(&miette::Report::new(e), cx.color));
                    }
                    Err(Failure::Reported(1))
                }
            }
        }
    }
}

/// The limit each `config`-bound counter of the stored plan has, by its
/// `millrace.toml` key (the first counter that names a key wins).
fn loop_limits(ws: &crate::workspace::Workspace) -> std::collections::BTreeMap<String, u32> {
    let mut limits = std::collections::BTreeMap::new();
    if let Ok(Some(plan)) = crate::workspace::plan_store::load_plan(ws) {
        for counter in plan.counters.iter() {
            if let Some(key) = &counter.config_key {
                limits.entry(key.clone()).or_insert(counter.limit);
            }
        }
    }
    limits
}

/// Dotted `key: value` lines of a JSON value; scalars plain, `null` as
/// `none`, arrays of scalars and empty tables as compact JSON.
fn flatten(prefix: &str, value: &Value, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, inner) in map {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                flatten(&path, inner, out);
            }
        }
        Value::Array(items) if items.iter().any(Value::is_object) => {
            for (index, inner) in items.iter().enumerate() {
                flatten(&format!("{prefix}[{index}]"), inner, out);
            }
        }
        Value::Null => out.push((prefix.to_string(), "none".into())),
        Value::String(s) => out.push((prefix.to_string(), s.clone())),
        other => out.push((prefix.to_string(), other.to_string())),
    }
}
