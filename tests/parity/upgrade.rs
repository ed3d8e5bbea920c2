//! `millrace upgrade`: each way a managed file can have moved since the
//! baseline, what a preview says about it and what `--apply` does. An
//! older build is simulated by rewriting the baseline manifest: the
//! workspace then looks deployed from assets that differ from this build's.

use millrace::plan::sha256_hex;
use millrace::workspace::baseline::{BaselineManifest, ManifestEntry};

use crate::workspace::{Ws, field, fields, json, stderr, stdout};

const BUILDER: &str = "entrypoints/execution/builder.md";
const CHECKER: &str = "entrypoints/execution/checker.md";
const FIXER: &str = "entrypoints/execution/fixer.md";
const RETIRED: &str = "entrypoints/execution/retired.md";

fn manifest(ws: &Ws) -> BaselineManifest {
    let text = std::fs::read_to_string(ws.path("state/baseline_manifest.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Rewrites the baseline as an older build would have left it.
fn edit_baseline(ws: &Ws, edit: impl FnOnce(&mut Vec<ManifestEntry>)) {
    let mut m = manifest(ws);
    edit(&mut m.entries);
    m.entries.sort_by(|a, b| a.path.cmp(&b.path));
    m.seed_version = "0.0.9".into();
    m.manifest_id = m.compute_id();
    std::fs::write(ws.path("state/baseline_manifest.json"), m.to_json()).unwrap();
}

/// The baseline of `path` becomes `old` (and the file holds `here`).
fn shipped_before(ws: &Ws, path: &str, old: &str, here: &str) {
    edit_baseline(ws, |entries| {
        let entry = entries.iter_mut().find(|e| e.path == path).unwrap();
        entry.sha256 = sha256_hex(old.as_bytes());
    });
    ws.write(path, here);
}

fn read(ws: &Ws, path: &str) -> String {
    std::fs::read_to_string(ws.path(path)).unwrap()
}

fn shipped(path: &str) -> String {
    String::from_utf8(millrace::embedded::asset(path).unwrap().to_vec()).unwrap()
}

/// The disposition `upgrade` gives each path.
fn entry(text: &str, path: &str) -> String {
    fields(text, "entry")
        .into_iter()
        .find_map(|e| e.strip_prefix(&format!("{path} ")).map(str::to_string))
        .unwrap_or_else(|| panic!("no entry for {path} in\n{text}"))
}

fn upgrade(ws: &Ws, args: &[&str]) -> String {
    let out = ws.run(&[&["upgrade"], args].concat());
    assert!(out.status.success(), "upgrade {args:?}: {}", stderr(&out));
    stdout(&out)
}

#[test]
fn a_fresh_workspace_is_unchanged_and_apply_writes_nothing() {
    let ws = Ws::new();
    let before = read(&ws, "state/baseline_manifest.json");
    let text = upgrade(&ws, &[]);
    assert_eq!(field(&text, "applied").as_deref(), Some("false"));
    let total = manifest(&ws).entries.len();
    assert_eq!(field(&text, "unchanged"), Some(total.to_string()));
    assert_eq!(
        field(&text, "baseline_manifest_id"),
        field(&text, "candidate_manifest_id")
    );
    let text = upgrade(&ws, &["--apply"]);
    assert_eq!(field(&text, "applied").as_deref(), Some("true"));
    assert_eq!(field(&text, "written").as_deref(), Some("0"));
    assert_eq!(read(&ws, "state/baseline_manifest.json"), before);
}

#[test]
fn an_upstream_change_is_applied_and_a_local_change_is_kept() {
    let ws = Ws::new();
    shipped_before(&ws, BUILDER, "the old builder\n", "the old builder\n");
    ws.write(CHECKER, "my own checker\n");
    let text = upgrade(&ws, &[]);
    assert_eq!(entry(&text, BUILDER), "safe_package_update");
    assert_eq!(entry(&text, CHECKER), "local_only_modification");
    assert_eq!(
        read(&ws, BUILDER),
        "the old builder\n",
        "a preview writes nothing"
    );

    let text = upgrade(&ws, &["--apply"]);
    assert_eq!(field(&text, "applied").as_deref(), Some("true"));
    assert_eq!(field(&text, "written").as_deref(), Some("1"));
    assert_eq!(read(&ws, BUILDER), shipped(BUILDER));
    assert_eq!(read(&ws, CHECKER), "my own checker\n");
    let stored = manifest(&ws);
    assert_eq!(stored, BaselineManifest::from_assets(millrace::embedded::ASSETS));
    assert_eq!(
        field(&text, "result_manifest_id"),
        Some(stored.manifest_id.clone())
    );
}

#[test]
fn a_change_on_both_sides_is_a_conflict_and_apply_writes_nothing() {
    let ws = Ws::new();
    shipped_before(&ws, BUILDER, "the old builder\n", "my builder\n");
    // A safe update elsewhere must wait for the conflict too.
    edit_baseline(&ws, |entries| {
        entries.iter_mut().find(|e| e.path == FIXER).unwrap().sha256 = sha256_hex(b"old fixer\n");
    });
    ws.write(FIXER, "old fixer\n");
    let baseline = read(&ws, "state/baseline_manifest.json");
    let text = upgrade(&ws, &[]);
    assert_eq!(entry(&text, BUILDER), "conflict");
    assert_eq!(entry(&text, FIXER), "safe_package_update");
    assert_eq!(field(&text, "conflict").as_deref(), Some("1"));
    assert!(
        fields(&text, "conflict_reason")
            .iter()
            .any(|r| r.starts_with(BUILDER) && r.contains("changed both")),
        "{text}"
    );

    let out = ws.run(&["upgrade", "--apply"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("mill::upgrade::conflicts"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains(BUILDER));
    assert!(stdout(&out).is_empty());
    assert_eq!(read(&ws, BUILDER), "my builder\n");
    assert_eq!(read(&ws, FIXER), "old fixer\n");
    assert_eq!(read(&ws, "state/baseline_manifest.json"), baseline);

    // Taking the shipped version: delete the file, then it is missing.
    std::fs::remove_file(ws.path(BUILDER)).unwrap();
    assert_eq!(entry(&upgrade(&ws, &[]), BUILDER), "missing");
    upgrade(&ws, &["--apply"]);
    assert_eq!(read(&ws, BUILDER), shipped(BUILDER));
    assert_eq!(read(&ws, FIXER), shipped(FIXER));
}

#[test]
fn apply_is_idempotent() {
    let ws = Ws::new();
    shipped_before(&ws, BUILDER, "old\n", "old\n");
    ws.write(CHECKER, "mine\n");
    let first = upgrade(&ws, &["--apply"]);
    assert_eq!(field(&first, "written").as_deref(), Some("1"));
    let manifest_after = read(&ws, "state/baseline_manifest.json");
    let second = upgrade(&ws, &["--apply"]);
    assert_eq!(field(&second, "written").as_deref(), Some("0"));
    assert_eq!(field(&second, "safe_package_update").as_deref(), Some("0"));
    assert_eq!(entry(&second, CHECKER), "local_only_modification");
    assert_eq!(read(&ws, CHECKER), "mine\n");
    assert_eq!(read(&ws, "state/baseline_manifest.json"), manifest_after);
    assert_eq!(upgrade(&ws, &["--apply"]), second);
}

#[test]
fn a_file_no_longer_shipped_needs_localize_removed() {
    let ws = Ws::new();
    edit_baseline(&ws, |entries| {
        entries.push(ManifestEntry {
            path: RETIRED.into(),
            sha256: sha256_hex(b"retired\n"),
        });
    });
    ws.write(RETIRED, "retired\n");
    let text = upgrade(&ws, &[]);
    assert_eq!(entry(&text, RETIRED), "conflict");
    let out = ws.run(&["upgrade", "--apply"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("mill::upgrade::conflicts"));

    // Listed in a file (comments and blank lines skipped), with the
    // `millrace-agents/` prefix an operator may copy from a path.
    let list = ws.root.join("keep.txt");
    std::fs::write(&list, format!("# keep these\n\nmillrace-agents/{RETIRED}\n")).unwrap();
    let from = list.to_str().unwrap();
    let text = upgrade(&ws, &["--localize-removed-from", from]);
    assert_eq!(entry(&text, RETIRED), "localized_removed");
    upgrade(&ws, &["--apply", "--localize-removed", RETIRED]);
    assert_eq!(read(&ws, RETIRED), "retired\n", "a localized file stays");
    assert!(manifest(&ws).entries.iter().all(|e| e.path != RETIRED));
    assert!(!upgrade(&ws, &[]).contains(RETIRED), "no longer managed");
}

#[test]
fn a_removed_file_deleted_here_too_has_converged() {
    let ws = Ws::new();
    edit_baseline(&ws, |entries| {
        entries.push(ManifestEntry {
            path: RETIRED.into(),
            sha256: sha256_hex(b"retired\n"),
        });
    });
    assert_eq!(entry(&upgrade(&ws, &[]), RETIRED), "already_converged");
}

#[test]
fn a_newly_shipped_file_is_written_unless_something_else_is_there() {
    let ws = Ws::new();
    edit_baseline(&ws, |entries| {
        entries.retain(|e| e.path != BUILDER && e.path != CHECKER)
    });
    std::fs::remove_file(ws.path(BUILDER)).unwrap();
    ws.write(CHECKER, "a local file of that name\n");
    let text = upgrade(&ws, &[]);
    assert_eq!(entry(&text, BUILDER), "missing");
    assert_eq!(entry(&text, CHECKER), "conflict");
    std::fs::write(ws.path(CHECKER), shipped(CHECKER)).unwrap();
    assert_eq!(entry(&upgrade(&ws, &[]), CHECKER), "already_converged");
    upgrade(&ws, &["--apply"]);
    assert_eq!(read(&ws, BUILDER), shipped(BUILDER));
}

#[test]
fn a_directory_in_place_of_a_managed_file_is_a_conflict() {
    let ws = Ws::new();
    std::fs::remove_file(ws.path(BUILDER)).unwrap();
    std::fs::create_dir(ws.path(BUILDER)).unwrap();
    assert_eq!(entry(&upgrade(&ws, &[]), BUILDER), "conflict");
}

#[test]
fn localize_removed_refuses_paths_it_cannot_keep() {
    let ws = Ws::new();
    for (path, code) in [
        ("../outside.md", "mill::upgrade::unsafe_path"),
        ("/etc/passwd", "mill::upgrade::unsafe_path"),
        (BUILDER, "mill::upgrade::not_removed"),
        ("entrypoints/nobody.md", "mill::upgrade::not_removed"),
    ] {
        let out = ws.run(&["upgrade", "--localize-removed", path]);
        assert_eq!(out.status.code(), Some(1), "{path}");
        assert!(stderr(&out).contains(code), "{path}: {}", stderr(&out));
    }
}

#[test]
fn without_a_baseline_or_with_a_daemon_upgrade_says_why() {
    let ws = Ws::new();
    let w = ws.workspace();
    let record = millrace::workspace::lock::record_for_this_process(&w, "s");
    std::fs::write(w.paths().lock(), serde_json::to_string(&record).unwrap()).unwrap();
    assert!(
        ws.run(&["upgrade"]).status.success(),
        "a preview is always allowed"
    );
    let out = ws.run(&["upgrade", "--apply"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("mill::upgrade::daemon_running"));
    std::fs::remove_file(w.paths().lock()).unwrap();

    std::fs::remove_file(ws.path("state/baseline_manifest.json")).unwrap();
    let out = ws.run(&["upgrade"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("mill::upgrade::no_baseline"));
}

#[test]
fn the_json_report_carries_every_entry() {
    let ws = Ws::new();
    shipped_before(&ws, BUILDER, "old\n", "mine\n");
    let value = json(&ws.run(&["upgrade", "--json"]));
    assert_eq!(value["applied"], false);
    assert_eq!(value["counts"]["conflict"], 1);
    let entries = value["entries"].as_array().unwrap();
    assert_eq!(entries.len(), manifest(&ws).entries.len());
    let builder = entries.iter().find(|e| e["path"] == BUILDER).unwrap();
    assert_eq!(builder["disposition"], "conflict");
    assert!(builder["reason"].as_str().is_some());
    assert!(value["result_manifest_id"].is_null());
}
