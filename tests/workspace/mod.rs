//! The filesystem-backed workspace: config, documents, queues, durable
//! state, and the operator commands built on them. CLI tests run the built
//! binary in temporary directories.

mod claims;
mod config;
mod documents;
mod init;
mod queue_cli;
mod runs;
mod state;
mod status_doctor;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tempfile::TempDir;

/// An initialized workspace in a temporary directory.
pub struct Ws {
    _dir: TempDir,
    pub root: PathBuf,
}

impl Ws {
    pub fn new() -> Self {
        let ws = Self::bare();
        let out = ws.run(&["init"]);
        assert!(out.status.success(), "init failed: {}", stderr(&out));
        ws
    }

    /// A temporary directory without `init`.
    pub fn bare() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        Self { _dir: dir, root }
    }

    pub fn agents(&self) -> PathBuf {
        self.root.join("millrace-agents")
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.agents().join(rel)
    }

    /// Runs `millrace --workspace <root> <args>` with the root as cwd.
    pub fn run(&self, args: &[&str]) -> Output {
        millrace_in(
            &self.root,
            &[&["--workspace", self.root.to_str().unwrap()], args].concat(),
        )
    }

    pub fn workspace(&self) -> millrace::workspace::Workspace {
        millrace::workspace::Workspace::at(&self.root).unwrap()
    }

    /// File names in a directory under `millrace-agents/` (none if absent).
    pub fn names(&self, rel: &str) -> Vec<String> {
        std::fs::read_dir(self.path(rel))
            .map(|d| d.filter_map(|e| e.ok()?.file_name().into_string().ok()).collect())
            .unwrap_or_default()
    }

    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }
}

/// Runs the binary in `cwd` without a `--workspace` flag.
pub fn millrace_in(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_millrace"))
        .args(args)
        .current_dir(cwd)
        .env_remove("MILLRACE_WORKSPACE")
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The value of a `key: value` line (the first one).
pub fn field(text: &str, key: &str) -> Option<String> {
    let prefix = format!("{key}: ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map(str::to_string)
}

/// Every value of a repeated `key: value` line.
pub fn fields(text: &str, key: &str) -> Vec<String> {
    let prefix = format!("{key}: ");
    text.lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .map(str::to_string)
        .collect()
}

pub fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(out)))
}

/// A valid task document.
pub fn task_md(id: &str, created_at: &str, depends_on: &[&str]) -> String {
    let mut text = format!(
        "# Task {id}\n\nTask-ID: {id}\nCreated-At: {created_at}\nCreated-By: test\n\n\
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

/// A valid task document with a root spec.
pub fn task_md_rooted(id: &str, created_at: &str, root: &str) -> String {
    task_md(id, created_at, &[]).replace(
        "Created-By: test\n",
        &format!("Created-By: test\nRoot-Spec-ID: {root}\n"),
    )
}

/// A valid spec document.
pub fn spec_md(id: &str, created_at: &str) -> String {
    format!(
        "# Spec {id}\n\nSpec-ID: {id}\nSummary: a spec\nSource-Type: manual\nCreated-At: {created_at}\nCreated-By: test\n\n\
         Goals:\n- a goal\n\nConstraints:\n- a constraint\n\nAcceptance:\n- accepted\n\nReferences:\n- none\n"
    )
}

/// A valid incident document.
pub fn incident_md(id: &str, opened_at: &str) -> String {
    format!(
        "# Incident {id}\n\nIncident-ID: {id}\nSummary: it broke\nSource-Stage: builder\nSource-Plane: execution\n\
         Failure-Class: blocked\nTrigger-Reason: consultant escalated\nConsultant-Decision: needs_planning\n\
         Opened-At: {opened_at}\nOpened-By: consultant\n"
    )
}

/// A valid learning request.
pub fn learning_md(id: &str, created_at: &str) -> String {
    format!(
        "# Learn {id}\n\nLearning-Request-ID: {id}\nRequested-Action: create\nCreated-At: {created_at}\nCreated-By: test\n"
    )
}
