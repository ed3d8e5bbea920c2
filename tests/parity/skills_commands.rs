//! The two agent skills in `docs/skills/` name only commands that exist:
//! every `millrace ...` command line in them parses with this build's
//! command line, and every one in a shell block runs, in order, against a
//! scratch workspace, after the files the skill writes (fenced blocks
//! marked `file=<path>`) are in place. Commands that run until stopped (a
//! daemon without `--exit-when-idle` or `--max-ticks`, `status --watch`,
//! the language server) are only parsed. `.mill` examples without a file
//! compile, or fail with the code their `# Rejected:` line names.

use std::path::{Path, PathBuf};
use std::process::Command;

use clap::Parser;

use crate::workspace::{json, millrace_in, stderr, stdout};

fn skill(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("docs/skills/{name}/SKILL.md"));
    std::fs::read_to_string(path).unwrap()
}

/// What a skill holds, in document order.
#[derive(Debug)]
enum Part {
    /// A command line from a shell block: parsed and run.
    Run(String),
    /// A command named in prose: parsed only.
    Named(String),
    /// A fenced block to write at a path (relative to the scratch root).
    File(String, String),
    /// A `.mill` example without a file.
    Mill(String),
}

/// Every `millrace ...` inside `line`, up to a quote, pipe or `;`.
fn commands_in(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(at) = rest.find("millrace ") {
        let before = rest[..at].chars().last();
        let tail = &rest[at..];
        rest = &rest[at + "millrace ".len()..];
        let next = rest.chars().next();
        if before.is_some_and(|c| !matches!(c, ' ' | '\'' | '(' | '`'))
            || !next.is_some_and(|c| c.is_ascii_lowercase() || c == '-')
        {
            continue;
        }
        let end = tail.find(['\'', '`', '|', ';']).unwrap_or(tail.len());
        out.push(tail[..end].trim().to_string());
    }
    out
}

fn parts(text: &str) -> Vec<Part> {
    let mut parts = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let Some(info) = line.trim_start().strip_prefix("```") else {
            for span in line.split('`').skip(1).step_by(2) {
                if span.starts_with("millrace ") {
                    parts.push(Part::Named(span.to_string()));
                }
            }
            continue;
        };
        let info = info.trim();
        let indent = " ".repeat(line.len() - line.trim_start().len());
        let mut body = String::new();
        for inner in lines.by_ref() {
            if inner.trim_start().starts_with("```") {
                break;
            }
            body.push_str(inner.strip_prefix(indent.as_str()).unwrap_or(inner));
            body.push('\n');
        }
        let lang = info.split(' ').next().unwrap_or("");
        match info.split(' ').find_map(|w| w.strip_prefix("file=")) {
            Some(path) => parts.push(Part::File(path.to_string(), body)),
            None if lang == "mill" => parts.push(Part::Mill(body)),
            None if lang == "sh" => {
                for cmd in body.lines().flat_map(commands_in) {
                    parts.push(Part::Run(cmd));
                }
            }
            None => {}
        }
    }
    parts
}

/// A command line as words, double quotes grouping.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            ' ' if !quoted => {
                if !word.is_empty() {
                    out.push(std::mem::take(&mut word));
                }
            }
            c => word.push(c),
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// Runs until stopped, so it is parsed but not run.
fn long_running(words: &[String]) -> bool {
    let has = |w: &str| words.iter().any(|x| x == w);
    (has("daemon") && !has("--exit-when-idle") && !has("--max-ticks"))
        || has("--watch")
        || has("watch")
        || words.get(1).is_some_and(|w| w == "lsp")
}

/// A scratch root and how to fill a command's placeholders there.
struct Scratch {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Scratch {
    fn substitute(&self, line: &str) -> String {
        let mut line = line.to_string();
        if line.contains("<RUN_ID>") {
            let runs = json(&millrace_in(&self.root, &["runs", "ls", "--json"]));
            let id = runs[0]["run_id"]
                .as_str()
                .expect("a run exists by then")
                .to_string();
            line = line.replace("<RUN_ID>", &id);
        }
        line.replace("<FILE>", "add-search.md").replace("<PATH>", ".")
    }
}

/// Checks every part of a skill in `scratch`; returns how many command
/// lines were parsed and how many run.
fn check(name: &str, scratch: &Scratch) -> (usize, usize) {
    let (mut parsed, mut ran) = (0, 0);
    for part in parts(&skill(name)) {
        match part {
            Part::File(path, body) => {
                let path = scratch.root.join(path);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(path, body).unwrap();
            }
            Part::Mill(body) => check_mill(name, &scratch.root, &body),
            Part::Named(line) => {
                parses(name, &scratch.substitute(&line));
                parsed += 1;
            }
            Part::Run(line) => {
                let line = scratch.substitute(&line);
                let args = parses(name, &line);
                parsed += 1;
                if long_running(&args) {
                    continue;
                }
                let refs: Vec<&str> = args[1..].iter().map(String::as_str).collect();
                let out = millrace_in(&scratch.root, &refs);
                assert_eq!(
                    out.status.code(),
                    Some(0),
                    "{name}: `{line}` failed:\n{}{}",
                    stdout(&out),
                    stderr(&out)
                );
                ran += 1;
            }
        }
    }
    (parsed, ran)
}

fn parses(name: &str, line: &str) -> Vec<String> {
    let args = words(line);
    if let Err(e) = millrace::cli::Cli::try_parse_from(&args) {
        panic!("{name}: `{line}` does not parse:\n{e}");
    }
    args
}

fn check_mill(name: &str, dir: &Path, body: &str) {
    let file = dir.join("example.mill");
    std::fs::write(&file, body).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_millrace"))
        .args(["compile", "validate", file.to_str().unwrap()])
        .current_dir(dir)
        .env_remove("MILLRACE_WORKSPACE")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let first = body.lines().next().unwrap_or_default();
    match first.strip_prefix("# Rejected: ") {
        Some(code) => {
            assert_eq!(
                out.status.code(),
                Some(1),
                "{name}: an example said to be rejected compiled"
            );
            assert!(
                stderr(&out).contains(code.trim()),
                "{name}: expected {code}:\n{}",
                stderr(&out)
            );
        }
        None => assert!(
            out.status.success(),
            "{name}: example does not compile:\n{}",
            stderr(&out)
        ),
    }
    std::fs::remove_file(file).unwrap();
}

#[test]
fn every_command_of_the_ops_agent_manual_exists_and_runs() {
    // The scratch workspace: a finished demo campaign (the scripted
    // harness, runs to inspect), so the manual's commands have work to act on.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap().join("ws");
    let out = millrace_in(
        dir.path(),
        &["demo", "--quiet", "--workspace", root.to_str().unwrap()],
    );
    assert!(out.status.success(), "demo: {}", stderr(&out));
    let scratch = Scratch { _dir: dir, root };
    let (parsed, ran) = check("millrace-ops-agent-manual", &scratch);
    assert!(parsed >= 30 && ran >= 20, "found {parsed} commands, ran {ran}");
    let text = stdout(&millrace_in(&scratch.root, &["queue", "show", "add-search"]));
    assert!(
        text.contains("work_item_state: done"),
        "the manual's task was carried out:\n{text}"
    );
}

#[test]
fn every_command_of_the_loop_authoring_skill_exists_and_runs() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let scratch = Scratch { _dir: dir, root };
    let (parsed, ran) = check("millrace-loop-authoring", &scratch);
    assert!(parsed >= 15 && ran >= 12, "found {parsed} commands, ran {ran}");
    let show = |id: &str| {
        stdout(&millrace_in(
            &scratch.root,
            &["--workspace", "loop-lab", "queue", "show", id],
        ))
    };
    assert!(show("quick-1").contains("work_item_state: done"));
    assert!(
        show("quick-2").contains("work_item_state: blocked"),
        "the bound held"
    );
}

#[test]
fn both_skills_carry_the_frontmatter_agent_harnesses_read() {
    for name in ["millrace-ops-agent-manual", "millrace-loop-authoring"] {
        let text = skill(name);
        let front = text
            .strip_prefix("---\n")
            .and_then(|t| t.split_once("\n---\n"))
            .unwrap()
            .0;
        assert!(front.lines().any(|l| l == format!("name: {name}")), "{name}");
        assert!(
            front
                .lines()
                .any(|l| l.starts_with("description: ") && l.len() > 60),
            "{name}"
        );
    }
}

#[test]
fn the_command_finder_sees_commands_in_quotes_and_prose() {
    assert_eq!(
        commands_in("tmux new -d -s millrace 'millrace run daemon --monitor basic' && echo"),
        ["millrace run daemon --monitor basic"]
    );
    assert!(commands_in("see millrace-agents/state").is_empty());
    assert!(long_running(&words("millrace run daemon --monitor basic")));
    assert!(!long_running(&words("millrace run daemon --exit-when-idle")));
    assert_eq!(
        words("millrace x --reason \"a b\""),
        ["millrace", "x", "--reason", "a b"]
    );
}
