//! Preflight: a missing harness is caught before dispatch, with a coded
//! diagnostic that says how to install or configure it.

use std::os::unix::fs::PermissionsExt;

use miette::Diagnostic;
use millrace::runners::{CommandStage, RunnerError, RunnersConfig, preflight, preflight_in};

#[test]
fn missing_binaries_are_reported_with_install_help() {
    let mut cfg = RunnersConfig::default();
    cfg.codex.command = "millrace-no-such-codex".into();
    cfg.claude.command = "millrace-no-such-claude".into();
    cfg.pi.command = "millrace-no-such-pi".into();
    let cases = [
        (
            "codex_cli",
            "npm install -g @openai/codex",
            "runners.codex.command",
        ),
        (
            "claude_code",
            "npm install -g @anthropic-ai/claude-code",
            "runners.claude.command",
        ),
        (
            "pi_rpc",
            "npm install -g @mariozechner/pi-coding-agent",
            "runners.pi.command",
        ),
    ];
    for (runner, install, key) in cases {
        let err = preflight(runner, &cfg).unwrap_err();
        assert!(matches!(err, RunnerError::NotInstalled { .. }), "{runner}");
        assert_eq!(err.code().unwrap().to_string(), "mill::runner::not_installed");
        let help = err.help().unwrap().to_string();
        assert!(help.contains(install) && help.contains(key), "{help}");
    }
}

#[test]
fn installed_binaries_and_paths_pass() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("codex");
    std::fs::write(&bin, "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut cfg = RunnersConfig::default();
    cfg.codex.command = bin.display().to_string();
    preflight("codex_cli", &cfg).unwrap();
    cfg.codex.command = "./codex".into();
    preflight_in("codex_cli", &cfg, dir.path()).unwrap();
    // A PATH given in the runner's env is searched too.
    cfg.codex.command = "codex".into();
    cfg.codex
        .env
        .insert("PATH".into(), dir.path().display().to_string());
    preflight("codex_cli", &cfg).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert!(
        preflight("codex_cli", &cfg).is_err(),
        "not executable is not installed"
    );
}

#[test]
fn command_scripted_and_unknown_runners() {
    let mut cfg = RunnersConfig::default();
    preflight("scripted", &cfg).unwrap();
    preflight("command", &cfg).unwrap();
    cfg.command.stages.insert(
        "builder".into(),
        CommandStage {
            argv: vec!["sh".into()],
            ..Default::default()
        },
    );
    preflight("command", &cfg).unwrap();
    cfg.command
        .stages
        .insert("checker".into(), CommandStage::default());
    let err = preflight("command", &cfg).unwrap_err();
    assert_eq!(err.code().unwrap().to_string(), "mill::runner::empty_argv");
    let err = preflight("gemini", &cfg).unwrap_err();
    assert_eq!(err.code().unwrap().to_string(), "mill::runner::unknown_runner");
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("millrace-agents")).unwrap();
    std::fs::write(dir.path().join("millrace-agents/bad.toml"), "[stages]\nb = []").unwrap();
    cfg.scripted.script = Some("bad.toml".into());
    let err = preflight_in("scripted", &cfg, dir.path()).unwrap_err();
    assert_eq!(err.code().unwrap().to_string(), "mill::runner::script_invalid");
}
