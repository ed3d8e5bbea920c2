//! Proofs of the reliability bars (architecture §8): the SIGKILL crash
//! test, signals and `stop`, the bad-input corpus, property tests of the
//! readers the compile suite does not cover, and the inputs fuzzing found.
//!
//! Everything here drives the built binary the way an operator would, in
//! temporary workspaces, and checks the workspace afterwards.

mod recovery;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use tempfile::TempDir;

/// A temporary workspace root (initialized or not).
pub struct Bench {
    _dir: Option<TempDir>,
    pub root: PathBuf,
}

impl Bench {
    /// A fresh, initialized workspace.
    pub fn init() -> Bench {
        let bench = Bench::bare();
        let out = bench.run(&["init"]);
        assert!(out.status.success(), "init failed: {}", text(&out.stderr));
        bench
    }

    /// An empty temporary directory.
    pub fn bare() -> Bench {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        Bench {
            _dir: Some(dir),
            root,
        }
    }

    pub fn agents(&self) -> PathBuf {
        self.root.join("millrace-agents")
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.agents().join(rel)
    }

    /// Writes a file under `millrace-agents/`.
    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    /// The `millrace --workspace <root> ...` command, not yet run.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_millrace"));
        cmd.arg("--workspace")
            .arg(&self.root)
            .args(args)
            .current_dir(&self.root)
            .env_remove("MILLRACE_WORKSPACE")
            .env_remove("RUST_BACKTRACE")
            .env("NO_COLOR", "1");
        cmd
    }

    /// Runs a command to completion.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).stdin(Stdio::null()).output().unwrap()
    }

    /// `millrace doctor --json`.
    pub fn doctor(&self) -> serde_json::Value {
        let out = self.run(&["doctor", "--json"]);
        assert_no_panic("doctor", &out);
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("doctor --json is not JSON ({e}): {}", text(&out.stdout)))
    }

    /// Stems of the `*.md` documents in a directory under `millrace-agents/`.
    pub fn stems(&self, rel: &str) -> Vec<String> {
        let mut stems: Vec<String> = std::fs::read_dir(self.path(rel))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let stem = name.strip_suffix(".md")?.to_string();
                (!name.starts_with('.')).then_some(stem)
            })
            .collect();
        stems.sort();
        stems
    }

    /// Names in a directory under `millrace-agents/` (sorted).
    pub fn names(&self, rel: &str) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.path(rel))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Text that only a panic or a crash report prints.
pub fn panic_text(output: &str) -> Option<&'static str> {
    [
        "panicked at",
        "stack backtrace",
        "RUST_BACKTRACE",
        "thread 'main'",
    ]
    .into_iter()
    .find(|needle| output.contains(needle))
}

/// Fails if a finished command printed panic text.
pub fn assert_no_panic(what: &str, out: &Output) {
    for stream in [&out.stdout, &out.stderr] {
        let t = text(stream);
        if let Some(needle) = panic_text(&t) {
            panic!("{what} printed `{needle}`:\n{t}");
        }
    }
}

/// A valid task document.
pub fn task_md(id: &str, created_at: &str, extra_headers: &str, depends_on: &[&str]) -> String {
    let mut text = format!(
        "# Task {id}\n\nTask-ID: {id}\nCreated-At: {created_at}\nCreated-By: proof\n{extra_headers}\n\
         Target-Paths:\n- src/lib.rs\n\nAcceptance:\n- it works\n\nRequired-Checks:\n- cargo test\n\n\
         References:\n- none\n\nRisk:\n- low\n"
    );
    if !depends_on.is_empty() {
        text.push_str("\nDepends-On:\n");
        for dep in depends_on {
            text.push_str(&format!("- {dep}\n"));
        }
    }
    text
}

/// An initialized workspace running `default_codex` with every stage on
/// the scripted harness, playing `script`.
pub fn scripted_bench(script: &str) -> Bench {
    let bench = Bench::init();
    bench.write(
        "loops/proof.mill",
        "mode proof extends default_codex {\n    runner * = scripted\n}\n",
    );
    bench.write(
        "millrace.toml",
        "[runtime]\ndefault_mode = \"proof\"\nidle_sleep_seconds = 0.01\n\n[runners.scripted]\nscript = \"proof/script.toml\"\n",
    );
    bench.write("proof/script.toml", script);
    bench
}

/// The JSON of `state/runtime_snapshot.json`.
pub fn snapshot(bench: &Bench) -> serde_json::Value {
    let text = std::fs::read_to_string(bench.path("state/runtime_snapshot.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}
