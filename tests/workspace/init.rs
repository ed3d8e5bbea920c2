//! `millrace init` and workspace location: idempotent, never overwriting,
//! assets deployed, baseline manifest, and the not-initialized error.

use millrace::workspace::Workspace;
use millrace::workspace::baseline::BaselineManifest;
use millrace::workspace::init::init;

use super::{Ws, field, millrace_in, stderr, stdout};

#[test]
fn init_creates_the_tree_and_prints_the_root() {
    let ws = Ws::bare();
    let out = ws.run(&["init"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(
        field(&text, "workspace").as_deref(),
        Some(ws.root.to_str().unwrap())
    );
    assert_eq!(field(&text, "initialized").as_deref(), Some("true"));
    for dir in [
        "tasks/queue",
        "tasks/blocked",
        "specs/active",
        "incidents/incoming",
        "incidents/resolved",
        "learning/requests/queue",
        "learning/skill-candidates",
        "arbiter/contracts/root-specs",
        "arbiter/verdicts",
        "state/mailbox/failed",
        "runs",
        "logs",
        "loops",
        "entrypoints",
        "skills",
    ] {
        assert!(ws.path(dir).is_dir(), "{dir}");
    }
    assert!(ws.root.join("ideas/inbox").is_dir());
    for plane in ["execution", "planning", "learning"] {
        let marker = std::fs::read_to_string(ws.path(&format!("state/{plane}_status.md"))).unwrap();
        assert_eq!(marker, "### IDLE\n");
    }
    let toml = std::fs::read_to_string(ws.path("millrace.toml")).unwrap();
    assert!(
        toml.contains("default_mode = \"default_codex\"")
            && toml.contains("permission_default = \"maximum\"")
    );
}

#[test]
fn init_is_idempotent_and_never_overwrites() {
    let ws = Ws::new();
    ws.write("millrace.toml", "[runtime]\ndefault_mode = \"mine\"\n");
    ws.write("outline.md", "my outline\n");
    std::fs::remove_dir(ws.path("tasks/blocked")).unwrap();
    let manifest_before = std::fs::read_to_string(ws.path("state/baseline_manifest.json")).unwrap();
    let out = ws.run(&["init"]);
    assert!(out.status.success());
    assert_eq!(field(&stdout(&out), "created_directories").as_deref(), Some("1"));
    assert_eq!(field(&stdout(&out), "baseline_manifest").as_deref(), Some("kept"));
    assert_eq!(
        std::fs::read_to_string(ws.path("millrace.toml")).unwrap(),
        "[runtime]\ndefault_mode = \"mine\"\n"
    );
    assert_eq!(
        std::fs::read_to_string(ws.path("outline.md")).unwrap(),
        "my outline\n"
    );
    assert!(ws.path("tasks/blocked").is_dir());
    assert_eq!(
        std::fs::read_to_string(ws.path("state/baseline_manifest.json")).unwrap(),
        manifest_before
    );
}

#[test]
fn init_deploys_every_asset_once_and_records_the_baseline() {
    let dir = tempfile::tempdir().unwrap();
    let ws = Workspace::at(dir.path()).unwrap();
    let assets: &[(&str, &[u8])] = &[
        ("entrypoints/execution/builder.md", b"# Builder\n"),
        ("skills/stage/execution/builder-core/SKILL.md", b"# Skill\n"),
        ("../escape.md", b"never written"),
    ];
    let report = init(&ws, assets).unwrap();
    assert_eq!(report.deployed_assets.len(), 2);
    assert!(report.manifest_written);
    assert!(!dir.path().join("escape.md").exists());
    // An operator edit survives; a deleted asset comes back.
    std::fs::write(ws.agents().join("entrypoints/execution/builder.md"), "edited").unwrap();
    std::fs::remove_file(ws.agents().join("skills/stage/execution/builder-core/SKILL.md")).unwrap();
    let again = init(&ws, assets).unwrap();
    assert_eq!(
        again.deployed_assets,
        ["skills/stage/execution/builder-core/SKILL.md"]
    );
    assert!(!again.manifest_written);
    assert_eq!(
        std::fs::read_to_string(ws.agents().join("entrypoints/execution/builder.md")).unwrap(),
        "edited"
    );

    let manifest = BaselineManifest::load(&ws).unwrap().unwrap();
    let paths: Vec<_> = manifest.entries.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "entrypoints/execution/builder.md",
            "skills/stage/execution/builder-core/SKILL.md"
        ]
    );
    assert_eq!(manifest.manifest_id, manifest.compute_id());
    assert_eq!(manifest.seed_version, env!("CARGO_PKG_VERSION"));
    // A tampered manifest is reported, not trusted.
    let tampered = manifest
        .to_json()
        .replace(&manifest.entries[0].sha256, &"0".repeat(64));
    std::fs::write(ws.paths().baseline_manifest(), tampered).unwrap();
    assert!(BaselineManifest::load(&ws).is_err());
}

#[test]
fn commands_on_an_uninitialized_workspace_fail_with_a_code_and_the_fix() {
    let ws = Ws::bare();
    for args in [
        &["status"][..],
        &["doctor"],
        &["queue", "ls"],
        &["config", "show"],
        &["runs", "ls"],
        &["queue", "add-task", "x.md"],
    ] {
        let out = ws.run(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = stderr(&out);
        assert!(
            err.contains("mill::workspace::not_initialized"),
            "{args:?}: {err}"
        );
        assert!(
            err.contains(&format!("millrace init --workspace {}", ws.root.display())),
            "{err}"
        );
    }
}

#[test]
fn the_workspace_is_found_by_walking_up() {
    let ws = Ws::new();
    let nested = ws.root.join("src/deep/er");
    std::fs::create_dir_all(&nested).unwrap();
    let out = millrace_in(&nested, &["status"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        field(&stdout(&out), "workspace").as_deref(),
        Some(ws.root.to_str().unwrap())
    );
    // Outside any workspace, the current directory is used (and is not one).
    let elsewhere = tempfile::tempdir().unwrap();
    let out = millrace_in(elsewhere.path(), &["status"]);
    assert!(stderr(&out).contains("not_initialized"));
}
