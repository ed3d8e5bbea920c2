//! `skills install|export|promote`: a skill goes from a directory into one
//! workspace, out as an archive, into another workspace unchanged, and into
//! a source checkout's shipped assets; unsafe sources are refused before
//! anything is written.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::workspace::{Ws, field, json, stderr, stdout};

/// Every file under `dir`, relative, with its content.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(base, &path, out);
            } else {
                let rel = path.strip_prefix(base).unwrap().display().to_string();
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// A skill directory outside any workspace, in an agent harness's format.
fn skill_source(ws: &Ws, name: &str, body: &str) -> PathBuf {
    let dir = ws.root.join("incoming").join(name);
    std::fs::create_dir_all(dir.join("references")).unwrap();
    std::fs::write(
        dir.join("SKILL.md"),
        format!("---\nname: {name}\ndescription: Reads the logs first.\n---\n# {name}\n\n{body}\n"),
    )
    .unwrap();
    std::fs::write(dir.join("references/checklist.md"), "- look\n").unwrap();
    std::fs::write(dir.join(".DS_Store"), "junk").unwrap();
    dir
}

fn ok(ws: &Ws, args: &[&str]) -> String {
    let out = ws.run(args);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    stdout(&out)
}

fn fails_with(ws: &Ws, args: &[&str], code: &str) {
    let out = ws.run(args);
    assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stdout(&out));
    assert!(stderr(&out).contains(code), "{args:?}: {}", stderr(&out));
}

#[test]
fn a_skill_travels_from_a_directory_through_an_archive_into_another_workspace() {
    let a = Ws::new();
    let source = skill_source(&a, "log-reader", "Read the logs.");
    let text = ok(&a, &["skills", "install", source.to_str().unwrap()]);
    assert_eq!(field(&text, "installed_skill").as_deref(), Some("log-reader"));
    assert_eq!(field(&text, "replaced").as_deref(), Some("false"));
    let installed = a.path("skills/log-reader");
    let mut expected = tree(&source);
    expected.remove(".DS_Store");
    assert_eq!(tree(&installed), expected, "hidden files stay behind");
    assert!(ok(&a, &["skills", "ls"]).contains("log-reader"));
    let index = std::fs::read_to_string(a.path("skills/skills_index.md")).unwrap();
    assert!(
        index.contains(
            "| `log-reader` | `millrace-agents/skills/log-reader/SKILL.md` | Reads the logs first. |"
        ),
        "{index}"
    );

    let archive = a.root.join("out.zip");
    let text = ok(
        &a,
        &[
            "skills",
            "export",
            "log-reader",
            "--output",
            archive.to_str().unwrap(),
        ],
    );
    let written = PathBuf::from(field(&text, "exported_skill").unwrap());
    assert_eq!(written, a.root.join("out.tar"), "the archive is a tar");
    fails_with(
        &a,
        &[
            "skills",
            "export",
            "log-reader",
            "--output",
            archive.to_str().unwrap(),
        ],
        "mill::fs::exists",
    );

    let b = Ws::new();
    ok(&b, &["skills", "install", written.to_str().unwrap()]);
    assert_eq!(tree(&b.path("skills/log-reader")), tree(&installed));
    let log = std::fs::read_to_string(a.path("skills/skill_operations.jsonl")).unwrap();
    let ops: Vec<String> = log
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["operation"].to_string())
        .collect();
    assert_eq!(ops, ["\"install\"", "\"export\""]);
}

#[test]
fn an_installed_skill_is_replaced_only_with_force() {
    let ws = Ws::new();
    let source = skill_source(&ws, "log-reader", "First.");
    let path = source.to_str().unwrap();
    ok(&ws, &["skills", "install", path]);
    std::fs::write(ws.path("skills/log-reader/stale.md"), "old").unwrap();
    skill_source(&ws, "log-reader", "Second.");
    fails_with(&ws, &["skills", "install", path], "mill::skills::exists");
    let text = ok(
        &ws,
        &["skills", "install", "--update", &format!("{path}/SKILL.md")],
    );
    assert_eq!(field(&text, "replaced").as_deref(), Some("true"));
    let skill = std::fs::read_to_string(ws.path("skills/log-reader/SKILL.md")).unwrap();
    assert!(skill.contains("Second."));
    assert!(!ws.path("skills/log-reader/stale.md").exists(), "replaced whole");
    let index = std::fs::read_to_string(ws.path("skills/skills_index.md")).unwrap();
    assert_eq!(index.matches("`log-reader`").count(), 1, "one row per skill");
    let hidden: Vec<_> = std::fs::read_dir(ws.path("skills"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(hidden.is_empty(), "no staging left: {hidden:?}");
}

#[test]
fn a_shipped_skill_directory_holding_others_is_never_replaced() {
    let ws = Ws::new();
    let dir = ws.root.join("incoming/stage");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("SKILL.md"), "---\nid: stage\n---\n").unwrap();
    fails_with(
        &ws,
        &["skills", "install", "--force", dir.to_str().unwrap()],
        "mill::skills::occupied",
    );
    assert!(ws.path("skills/stage/execution/builder-core/SKILL.md").exists());
}

/// A tar archive whose one entry has the raw name `name`.
fn raw_archive(name: &str, kind: tar::EntryType) -> Vec<u8> {
    let mut header = tar::Header::new_old();
    header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
    header.set_entry_type(kind);
    header.set_size(if kind == tar::EntryType::Regular { 4 } else { 0 });
    header.set_mode(0o644);
    if kind == tar::EntryType::Symlink {
        header.set_link_name("/etc/passwd").unwrap();
    }
    header.set_cksum();
    let mut builder = tar::Builder::new(Vec::new());
    let data: &[u8] = if kind == tar::EntryType::Regular {
        b"evil"
    } else {
        b""
    };
    builder.append(&header, data).unwrap();
    builder.into_inner().unwrap()
}

#[test]
fn unsafe_archives_are_refused_before_anything_is_written() {
    let ws = Ws::new();
    let before = tree(&ws.path("skills"));
    for (name, kind, code) in [
        (
            "../escape/SKILL.md",
            tar::EntryType::Regular,
            "mill::skills::unsafe_path",
        ),
        (
            "/tmp/abs/SKILL.md",
            tar::EntryType::Regular,
            "mill::skills::unsafe_path",
        ),
        (
            "x/SKILL.md",
            tar::EntryType::Symlink,
            "mill::skills::unsupported_entry",
        ),
        ("x/notes.md", tar::EntryType::Regular, "mill::skills::not_a_skill"),
    ] {
        let path = ws.root.join("bad.tar");
        std::fs::write(&path, raw_archive(name, kind)).unwrap();
        fails_with(&ws, &["skills", "install", path.to_str().unwrap()], code);
    }
    let path = ws.root.join("text.tar");
    std::fs::write(&path, "not an archive, just text\n".repeat(40)).unwrap();
    fails_with(
        &ws,
        &["skills", "install", path.to_str().unwrap()],
        "mill::skills::bad_archive",
    );
    assert_eq!(tree(&ws.path("skills")), before);
    assert!(!ws.root.parent().unwrap().join("escape").exists());
}

#[test]
fn a_symlink_inside_a_skill_directory_is_refused() {
    let ws = Ws::new();
    let source = skill_source(&ws, "linked", "x");
    std::os::unix::fs::symlink("/etc/hostname", source.join("host")).unwrap();
    fails_with(
        &ws,
        &["skills", "install", source.to_str().unwrap()],
        "mill::skills::unsupported_entry",
    );
    assert!(!ws.path("skills/linked").exists());
}

#[test]
fn promote_copies_a_skill_into_a_source_checkout() {
    let ws = Ws::new();
    let source = skill_source(&ws, "log-reader", "Read the logs.");
    ok(&ws, &["skills", "install", source.to_str().unwrap()]);
    fails_with(
        &ws,
        &["skills", "promote", "log-reader"],
        "mill::skills::no_checkout",
    );
    fails_with(
        &ws,
        &["skills", "promote", "nobody"],
        "mill::cli::skill_not_found",
    );

    let checkout = tempfile::tempdir().unwrap();
    let root = checkout.path();
    std::fs::write(root.join("Cargo.toml"), "[package]\nname = \"millrace\"\n").unwrap();
    std::fs::create_dir_all(root.join("assets/skills")).unwrap();
    std::fs::write(
        root.join("assets/skills/skills_index.md"),
        "# Skills index\n\n| Skill | Path | Purpose | Recommended stages |\n| --- | --- | --- | --- |\n",
    )
    .unwrap();
    let to = root.to_str().unwrap();
    let value = json(&ws.run(&["skills", "promote", "log-reader", "--to", to, "--json"]));
    assert_eq!(value["promoted_skill"], "log-reader");
    assert_eq!(
        tree(&root.join("assets/skills/log-reader")),
        tree(&ws.path("skills/log-reader"))
    );
    let index = std::fs::read_to_string(root.join("assets/skills/skills_index.md")).unwrap();
    assert!(index.ends_with(
        "| `log-reader` | `millrace-agents/skills/log-reader/SKILL.md` | Reads the logs first. | - |\n"
    ));
    fails_with(
        &ws,
        &["skills", "promote", "log-reader", "--to", to],
        "mill::skills::exists",
    );
}
