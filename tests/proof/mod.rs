//! Proofs of the reliability bars (architecture §8): the SIGKILL crash
//! test, signals and `stop`, the bad-input corpus, property tests of the
//! readers the compile suite does not cover, and the inputs fuzzing found.
//!
//! Everything here drives the built binary the way an operator would, in
//! temporary workspaces, and checks the workspace afterwards.

mod corpus;
mod crash;
mod hostile;
mod mailbox;
mod ownership;
mod props;
mod readers;
mod recovery;
mod regressions;
mod signals;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use tempfile::TempDir;

/// A temporary workspace root (initialized or not).
pub struct Bench {
    dir: Option<TempDir>,
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
        Bench { dir: Some(dir), root }
    }

    /// Keeps the directory after the test (to inspect a failure).
    pub fn keep(&mut self) -> PathBuf {
        if let Some(dir) = self.dir.take() {
            let _ = dir.keep();
        }
        self.root.clone()
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

    /// Starts a command in its own process group, its output going to
    /// `<log>.out` and `<log>.err` beside the workspace.
    pub fn spawn(&self, args: &[&str], log: &Path) -> Child {
        self.spawn_with_env(args, log, &[])
    }

    /// Starts `argv` (a program and its arguments, not millrace itself) like
    /// [`Bench::spawn`] does.
    pub fn spawn_program(&self, argv: &[&str], log: &Path, env: &[(&str, &str)]) -> Child {
        use std::os::unix::process::CommandExt;
        let out = std::fs::File::create(log.with_extension("out")).unwrap();
        let err = std::fs::File::create(log.with_extension("err")).unwrap();
        Command::new(argv[0])
            .args(&argv[1..])
            .current_dir(&self.root)
            .env_remove("MILLRACE_WORKSPACE")
            .env_remove("RUST_BACKTRACE")
            .env("NO_COLOR", "1")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
            .unwrap()
    }

    /// [`Bench::spawn`] with extra environment variables.
    pub fn spawn_with_env(&self, args: &[&str], log: &Path, env: &[(&str, &str)]) -> Child {
        use std::os::unix::process::CommandExt;
        let out = std::fs::File::create(log.with_extension("out")).unwrap();
        let err = std::fs::File::create(log.with_extension("err")).unwrap();
        self.command(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
            .unwrap()
    }

    /// `millrace doctor --json`.
    /// The one file `clear-stale-state` set `rel` aside as
    /// (`<name>.invalid-<stamp>`), if there is exactly one.
    pub fn set_aside(&self, rel: &str) -> Option<PathBuf> {
        let path = self.path(rel);
        let prefix = format!("{}.invalid-", path.file_name()?.to_str()?);
        let mut found: Vec<PathBuf> = std::fs::read_dir(path.parent()?)
            .ok()?
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
            .map(|e| e.path())
            .collect();
        (found.len() == 1).then(|| found.remove(0))
    }

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

/// The queue families: directory, then its four state directories in
/// lifecycle order (queued, active, done, blocked).
pub const FAMILIES: &[(&str, [&str; 4])] = &[
    ("tasks", ["queue", "active", "done", "blocked"]),
    ("specs", ["queue", "active", "done", "blocked"]),
    ("incidents", ["incoming", "active", "resolved", "blocked"]),
    ("learning/requests", ["queue", "active", "done", "blocked"]),
];

/// Where every work item of every family is: `family -> id -> states`.
pub fn locate_all(bench: &Bench) -> BTreeMap<&'static str, BTreeMap<String, Vec<&'static str>>> {
    let mut all = BTreeMap::new();
    for (family, states) in FAMILIES {
        let mut ids: BTreeMap<String, Vec<&'static str>> = BTreeMap::new();
        for state in states {
            for id in bench.stems(&format!("{family}/{state}")) {
                ids.entry(id).or_default().push(*state);
            }
        }
        all.insert(*family, ids);
    }
    all
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

/// Sends a signal to one process (a pid the test started).
#[allow(unsafe_code)]
pub fn signal(pid: u32, signal: i32) {
    let pid = i32::try_from(pid).unwrap();
    assert!(pid > 1);
    // SAFETY: plain integers; the pid is a child this test started.
    let rc = unsafe { libc::kill(pid, signal) };
    assert!(
        rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH),
        "kill({pid}, {signal}) failed: {}",
        std::io::Error::last_os_error()
    );
}

/// Whether any process (a zombie included) is left in a process group.
#[allow(unsafe_code)]
pub fn group_alive(pgid: u32) -> bool {
    let pgid = i32::try_from(pgid).unwrap();
    assert!(pgid > 1);
    // SAFETY: signal 0 only checks existence; plain integers.
    let rc = unsafe { libc::kill(-pgid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Waits for a child to exit, up to `limit`; kills it (and fails) after.
pub fn wait_for(child: &mut Child, limit: std::time::Duration, what: &str) -> std::process::ExitStatus {
    let start = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not exit within {limit:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
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

/// A valid root spec document.
pub fn spec_md(id: &str, created_at: &str) -> String {
    format!(
        "# Spec {id}\n\nSpec-ID: {id}\nSummary: a spec\nSource-Type: manual\nCreated-At: {created_at}\n\
         Created-By: proof\n\nGoals:\n- a goal\n\nConstraints:\n- a constraint\n\nAcceptance:\n- accepted\n\n\
         References:\n- none\n"
    )
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
