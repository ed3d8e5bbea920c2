//! `millrace config show|validate`: the effective configuration and its
//! problems.

use std::process::ExitCode;

use serde_json::{Value, json};

use super::{ConfigCommand, Context, Failure, Outcome, print, print_json, render_report};
use crate::config::{Config, ConfigError};
use crate::workspace::Workspace;

pub(super) fn run(command: ConfigCommand, cx: &Context) -> Outcome {
    let ws = Workspace::open(cx.cli_workspace.as_deref())?;
    let path = ws.paths().config();
    match command {
        ConfigCommand::Show(flag) => {
            let config = Config::load(&path)?;
            let settings = config.plan_settings();
            if flag.json {
                print_json(&json!({
                    "file": path.display().to_string(),
                    "config": config.to_json_value(),
                    "plan_settings_fingerprint": settings.fingerprint(),
                }))?;
            } else {
                let mut lines = vec![("file".to_string(), path.display().to_string())];
                flatten("", &config.to_json_value(), &mut lines);
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
                print_json(&out)?;
            } else {
                let count = result.as_ref().err().map_or(0, |e| e.problems().len().max(1));
                print(&format!(
                    "ok: {}\nfile: {}\nproblems: {count}\n",
                    result.is_ok(),
                    path.display()
                ))?;
            }
            match result {
                Ok(_) => Ok(ExitCode::SUCCESS),
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
