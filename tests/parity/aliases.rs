//! Every alias for a reference command name runs the command it stands for:
//! the same stdout, stderr and exit code, and for a command that changes
//! state, the same change (a mailbox command with the same payload).
//! Read commands are compared in one workspace; commands that change state
//! in two workspaces set up alike.

use clap::CommandFactory;

use super::outcome;
use crate::workspace::{Ws, field, json, stderr, stdout, task_md};

/// The incoming mailbox commands of `ws`: (command, payload), in order.
fn mailbox(ws: &Ws) -> Vec<(String, String)> {
    let dir = ws.path("state/mailbox/incoming");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    names.sort();
    names
        .iter()
        .map(|p| {
            let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
            (v["command"].to_string(), v["payload"].to_string())
        })
        .collect()
}

/// Command ids (`cmd-<time>-<hex>`) are unique per issue; everything else
/// must match.
fn without_ids(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("cmd-") {
        out.push_str(&rest[..at]);
        out.push_str("cmd-ID");
        let tail = &rest[at + 4..];
        let len = tail
            .find(|c: char| !(c.is_ascii_hexdigit() || c == 'T' || c == '-'))
            .unwrap_or(tail.len());
        rest = &tail[len..];
    }
    out.push_str(rest);
    out
}

/// Runs `alias` and `canonical` in two fresh workspaces prepared by
/// `setup`, and requires the same outcome and the same mailbox.
fn same_in_two(setup: &dyn Fn(&Ws), alias: &[&str], canonical: &[&str]) {
    let (a, b) = (Ws::new(), Ws::new());
    setup(&a);
    setup(&b);
    let (ca, oa, ea) = outcome(&a, alias);
    let (cb, ob, eb) = outcome(&b, canonical);
    assert_eq!(ca, cb, "{alias:?} vs {canonical:?}: {ea} / {eb}");
    assert_eq!(without_ids(&oa), without_ids(&ob), "{alias:?} vs {canonical:?}");
    assert_eq!(ea, eb, "{alias:?} vs {canonical:?}");
    assert_eq!(mailbox(&a), mailbox(&b), "{alias:?} vs {canonical:?}");
}

/// Runs both in one workspace (for commands that change nothing).
fn same_in_one(ws: &Ws, alias: &[&str], canonical: &[&str]) {
    let a = outcome(ws, alias);
    let b = outcome(ws, canonical);
    assert_eq!(a, b, "{alias:?} vs {canonical:?}");
}

fn with_task(ws: &Ws) {
    std::fs::write(
        ws.root.join("t.md"),
        task_md("task-1", "2026-01-01T00:00:00Z", &[]),
    )
    .unwrap();
    std::fs::write(
        ws.root.join("s.md"),
        crate::workspace::spec_md("spec-1", "2026-01-01T00:00:00Z"),
    )
    .unwrap();
    std::fs::write(ws.root.join("greet.md"), "# Greet\n\nSay hello.\n").unwrap();
}

/// A lock held by this (live) test process: the workspace looks owned by
/// a running daemon, so commands go through the mailbox.
fn daemon_owned(ws: &Ws) {
    with_task(ws);
    let w = ws.workspace();
    let record = millrace::workspace::lock::record_for_this_process(&w, "s");
    std::fs::write(w.paths().lock(), serde_json::to_string(&record).unwrap()).unwrap();
}

fn nothing(_: &Ws) {}

#[test]
fn version_prints_what_the_version_flag_prints() {
    let ws = Ws::bare();
    same_in_one(&ws, &["version"], &["--version"]);
    assert_eq!(stdout(&ws.run(&["version"])), "millrace 0.1.0\n");
}

#[test]
fn the_top_level_add_commands_are_the_queue_ones() {
    for setup in [with_task as fn(&Ws), daemon_owned] {
        for (alias, canonical) in [
            (vec!["add-task", "t.md"], vec!["queue", "add-task", "t.md"]),
            (
                vec!["add-task", "t.md", "--json"],
                vec!["queue", "add-task", "t.md", "--json"],
            ),
            (vec!["add-spec", "s.md"], vec!["queue", "add-spec", "s.md"]),
            (
                vec!["add-idea", "greet.md"],
                vec!["queue", "add-idea", "greet.md"],
            ),
            (
                vec!["add-task", "missing.md"],
                vec!["queue", "add-task", "missing.md"],
            ),
            (vec!["add-spec", "t.md"], vec!["queue", "add-spec", "t.md"]),
        ] {
            same_in_two(&setup, &alias, &canonical);
        }
    }
}

#[test]
fn the_control_group_is_the_top_level_control_commands() {
    for setup in [nothing as fn(&Ws), daemon_owned] {
        for (alias, canonical) in [
            (vec!["control", "pause"], vec!["pause"]),
            (vec!["control", "resume"], vec!["resume"]),
            (vec!["control", "stop"], vec!["stop"]),
            (vec!["control", "stop", "--now"], vec!["stop", "--now"]),
            (
                vec!["control", "retry-active", "--reason", "r"],
                vec!["retry-active", "--reason", "r"],
            ),
            (
                vec!["control", "retry-active", "--plane", "nowhere"],
                vec!["retry-active", "--plane", "nowhere"],
            ),
            (vec!["control", "clear-stale-state"], vec!["clear-stale-state"]),
            (vec!["control", "reload-config"], vec!["reload-config"]),
            (vec!["config", "reload"], vec!["reload-config"]),
            (
                vec!["planning", "retry-active"],
                vec![
                    "retry-active",
                    "--plane",
                    "planning",
                    "--reason",
                    "operator requested planning retry",
                ],
            ),
        ] {
            same_in_two(&setup, &alias, &canonical);
        }
    }
    // The mailbox really carries the command the alias stands for.
    let ws = Ws::new();
    daemon_owned(&ws);
    ws.run(&["planning", "retry-active"]);
    let sent = mailbox(&ws);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, "\"retry_active\"");
    assert!(sent[0].1.contains("planning"), "{sent:?}");
}

#[test]
fn status_show_and_status_watch_are_status() {
    let (ws, other) = (Ws::new(), Ws::new());
    same_in_one(&ws, &["status", "show"], &["status"]);
    same_in_one(&ws, &["status", "show", "--json"], &["status", "--json"]);
    same_in_one(
        &ws,
        &["status", "watch", "--max-updates", "2", "--interval-seconds", "0"],
        &["status", "--watch", "--max-updates", "2", "--interval", "0"],
    );
    let also = other.root.to_str().unwrap();
    same_in_one(
        &ws,
        &["status", "watch", "--max-updates", "1", "--workspace", also],
        &["status", "--watch", "--max-updates", "1", "--also", also],
    );
    let text = stdout(&ws.run(&["status", "watch", "--max-updates", "1", "--workspace", also]));
    assert_eq!(text.matches("workspace: ").count(), 2, "{text}");
    // A usage error stays a usage error.
    let out = ws.run(&["status", "--json", "show"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn config_validate_with_a_mode_also_compiles_it() {
    let ws = Ws::new();
    let config = outcome(&ws, &["config", "validate"]);
    let compile = outcome(&ws, &["compile", "validate", "--mode", "default_pi"]);
    std::fs::remove_file(ws.path("state/compiled_plan.json")).unwrap();
    let both = outcome(&ws, &["config", "validate", "--mode", "default_pi"]);
    assert_eq!(both.0, Some(0));
    assert_eq!(both.1, config.1 + &compile.1);
    assert_eq!(both.2, compile.2);
    let plan = std::fs::read_to_string(ws.path("state/compiled_plan.json")).unwrap();
    assert!(
        plan.contains("\"default_pi\""),
        "the plan is stored like compile validate's"
    );

    let broken = outcome(&ws, &["config", "validate", "--mode", "no_such_mode"]);
    let compile = outcome(&ws, &["compile", "validate", "--mode", "no_such_mode"]);
    assert_eq!(broken.0, Some(1));
    assert_eq!((broken.0, broken.2), (compile.0, compile.2));

    let value = json(&ws.run(&["config", "validate", "--mode", "default_pi", "--json"]));
    assert_eq!(value["ok"], true);
    assert_eq!(value["compile"]["mode"], "default_pi");
    let out = ws.run(&["config", "validate", "--mode", "no_such_mode", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json(&out)["ok"], false);
}

#[test]
fn config_names_another_configuration_file_for_run_compile_and_config() {
    let ws = Ws::new();
    let other = ws.root.join("other.toml");
    std::fs::write(&other, "[runtime]\ndefault_mode = \"default_pi\"\n").unwrap();
    let path = other.to_str().unwrap();
    let text = stdout(&ws.run(&["config", "show", "--config", path]));
    assert_eq!(field(&text, "file").as_deref(), Some(path));
    assert_eq!(
        field(&text, "runtime.default_mode").as_deref(),
        Some("default_pi")
    );
    let out = ws.run(&["compile", "validate", "--config", path]);
    assert!(
        stdout(&out).contains("mode default_pi compiled"),
        "{}",
        stderr(&out)
    );
    let out = ws.run(&["run", "once", "--config", "other.toml"]);
    assert_eq!(
        field(&stdout(&out), "mode").as_deref(),
        Some("default_pi"),
        "{}",
        stderr(&out)
    );
    // Without it, the workspace's own file.
    let text = stdout(&ws.run(&["config", "show"]));
    assert_eq!(
        field(&text, "runtime.default_mode").as_deref(),
        Some("default_codex")
    );

    for args in [
        vec!["status", "--config", path],
        vec!["config", "reload", "--config", path],
    ] {
        let out = ws.run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(stderr(&out).contains("mill::cli::config_not_used"));
    }
    let out = ws.run(&["config", "show", "--config", "nowhere.toml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("mill::config::unreadable"));
}

#[test]
fn every_alias_is_in_the_alias_table_of_the_cli_docs() {
    let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/cli.md")).unwrap();
    let table = docs
        .split("### Reference command names")
        .nth(1)
        .expect("docs/cli.md has the alias section");
    let cli = millrace::cli::Cli::command();
    let mut names = Vec::new();
    for sub in cli.get_subcommands().filter(|s| s.is_hide_set()) {
        if sub.has_subcommands() {
            names.extend(
                sub.get_subcommands()
                    .map(|s| format!("{} {}", sub.get_name(), s.get_name())),
            );
        } else {
            names.push(sub.get_name().to_string());
        }
    }
    for sub in ["show", "watch"] {
        names.push(format!("status {sub}"));
    }
    names.extend([
        "config reload".to_string(),
        "config validate --mode".into(),
        "--config".into(),
    ]);
    assert!(names.len() >= 15, "{names:?}");
    for name in names {
        assert!(
            table.contains(&format!("`millrace {name}")) || table.contains(&format!("`{name}")),
            "{name}"
        );
    }
}
