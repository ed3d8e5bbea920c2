//! The configuration of one case: Millrace's `millrace.toml`, and each
//! CLI's own retry settings cut short.
//!
//! Input: the case, the CLI's environment from `harness-env.mjs`, the
//! limits. Output: the text of `millrace.toml`; [`tighten`] edits the CLI's
//! settings under the case's fake HOME. Invariants: the CLI is started by
//! its absolute path in the install, with its variables in
//! `[runners.<cli>] env` as an operator would set them; retries are fewer
//! and shorter than the CLIs' defaults (which take minutes) but never off,
//! so a CLI's own retry can still rescue a stage.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde_json::{Value, json};

use super::case::{Case, Cli};
use super::rig::Rig;

/// `millrace-agents/millrace.toml` for `case`.
pub fn millrace_toml(
    rig: &Rig,
    case: Case,
    env: &BTreeMap<&String, &String>,
    stall: u64,
    timeout: u64,
) -> String {
    let cli = case.cli;
    let mut text = format!("[runtime]\ndefault_mode = \"default_{}\"\n\n", cli.name());
    // A transient failure's retry is due a second later: the case then runs
    // it against a healed stand-in.
    let _ = writeln!(
        text,
        "[runners]\nstall_seconds = {stall}\ntransient_retries = 3\ntransient_backoff_seconds = 1\n"
    );
    let _ = writeln!(text, "[runners.{}]", cli.name());
    let _ = writeln!(
        text,
        "command = {}",
        quote(&rig.bin.join(cli.name()).display().to_string())
    );
    text.push_str(runner_keys(cli));
    let mut env: Vec<String> = env.iter().map(|(k, v)| format!("{k} = {}", quote(v))).collect();
    if cli == Cli::Claude {
        // Claude Code retries a 5xx ten times over minutes by default.
        env.push("CLAUDE_CODE_MAX_RETRIES = \"2\"".into());
    }
    let _ = writeln!(text, "env = {{ {} }}\n", env.join(", "));
    let _ = writeln!(text, "[stages.builder]\ntimeout_seconds = {timeout}");
    if let Some(model) = model(cli) {
        let _ = writeln!(text, "model = \"{model}\"");
    }
    text
}

/// The runner keys beyond `command` and `env`.
fn runner_keys(cli: Cli) -> &'static str {
    match cli {
        // Codex retries a failed request 4 times and a dropped stream 5
        // times by default, each with a growing wait.
        Cli::Codex => {
            "extra_config = [\"model_providers.standin.request_max_retries=1\", \
             \"model_providers.standin.stream_max_retries=1\"]\n"
        }
        // The custom provider harness-env.mjs wrote into models.json.
        Cli::Pi => "provider = \"mockanth\"\n",
        Cli::Claude | Cli::Gemini => "",
    }
}

/// The model names the stand-in's config knows (Codex's is in its
/// config.toml, Claude's does not matter behind a base URL).
fn model(cli: Cli) -> Option<&'static str> {
    match cli {
        Cli::Pi => Some("claude-mock"),
        Cli::Gemini => Some("gemini-mock"),
        Cli::Codex | Cli::Claude => None,
    }
}

/// Shortens the retries a CLI keeps in its settings file under `home`.
pub fn tighten(cli: Cli, home: &Path) {
    match cli {
        // Pi retries a failed turn 3 times, 2 s, 4 s, 8 s apart.
        Cli::Pi => merge(
            &home.join(".pi/agent/settings.json"),
            json!({"retry": {"baseDelayMs": 300}}),
        ),
        // Gemini CLI tries a 5xx 10 times, from 5 s up to 30 s apart.
        Cli::Gemini => merge(
            &home.join(".gemini/settings.json"),
            json!({"general": {"maxAttempts": 2}}),
        ),
        Cli::Codex | Cli::Claude => {}
    }
}

/// Merges `patch` into the JSON object in `path` (created when absent).
fn merge(path: &Path, patch: Value) {
    let mut doc: Value = std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_else(|| json!({}));
    merge_into(&mut doc, patch);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
}

fn merge_into(doc: &mut Value, patch: Value) {
    match (doc, patch) {
        (Value::Object(doc), Value::Object(patch)) => {
            for (key, value) in patch {
                merge_into(doc.entry(key).or_insert(Value::Null), value);
            }
        }
        (doc, patch) => *doc = patch,
    }
}

/// A TOML basic string (a JSON string is one, for these paths and values).
fn quote(text: &str) -> String {
    serde_json::to_string(text).unwrap()
}
