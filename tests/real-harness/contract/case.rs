//! One case: a real CLI, a stand-in scenario, and what `millrace run once`
//! left behind in a fresh workspace.
//!
//! Input: a [`Case`] (CLI and scenario) and the [`Rig`]. Output: an
//! [`Observed`] with the exit status, the printed summary, the stage
//! result, `status --json` and the queues, plus the retry's for a transient
//! failure. Invariants: everything a case writes (workspace, fake HOME, the
//! CLI's config and state, TMPDIR) is inside its own temporary directory;
//! Millrace and the CLI see only the variables set here.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::rig::{Bounded, Rig, Standin, harness_env, run_bounded};

/// The four harness CLIs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cli {
    Codex,
    Claude,
    Pi,
    Gemini,
}

impl Cli {
    pub fn name(self) -> &'static str {
        match self {
            Cli::Codex => "codex",
            Cli::Claude => "claude",
            Cli::Pi => "pi",
            Cli::Gemini => "gemini",
        }
    }

    /// The runner's name in the plan vocabulary.
    pub fn runner(self) -> &'static str {
        match self {
            Cli::Codex => "codex_cli",
            Cli::Claude => "claude_code",
            Cli::Pi => "pi_rpc",
            Cli::Gemini => "gemini_cli",
        }
    }
}

/// What the stand-in does to the model request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    Success,
    BadKey,
    Quota,
    /// An API-key account without credit (OpenAI's `insufficient_quota`).
    NoCredit,
    /// A plain, retryable 429 on every model request.
    RateLimit,
    /// A plain 429 first, then success.
    RateThenSuccess,
    /// Every model request gets a 500.
    ServerError,
    /// The request is read and never answered.
    Stall,
}

impl Scenario {
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Success => "success",
            Scenario::BadKey => "bad_key",
            Scenario::Quota => "quota",
            Scenario::NoCredit => "insufficient_quota",
            Scenario::RateLimit => "rate_limit",
            Scenario::RateThenSuccess => "rate_then_success",
            Scenario::ServerError => "server_error",
            Scenario::Stall => "stall",
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Case {
    pub cli: Cli,
    pub scenario: Scenario,
}

/// The stall limit of the stall cases: short, so the suite is quick, and
/// still above the seconds Gemini CLI takes to start on a loaded machine
/// (the clock runs from the spawn; the case checks the model request was
/// made, so the stall is the stand-in's, not the start-up's).
pub const STALL_SECONDS: u64 = 12;
/// Every other case's stall limit and stage timeout: generous, so only the
/// CLI decides how those cases end; `run once` is cut off after the latter.
const STALL_LIMIT: u64 = 120;
const STAGE_TIMEOUT: u64 = 150;
/// The stand-in's quota reset: 90 minutes away, on a whole minute.
pub const RESET_IN: i64 = 5400;

impl Case {
    /// Claude's quota case runs as a subscription user: only then does
    /// Claude Code report the window's reset (`resetsAt`).
    fn variant(self) -> &'static str {
        match (self.cli, self.scenario) {
            (Cli::Claude, Scenario::Quota) => "claude-oauth",
            (cli, _) => cli.name(),
        }
    }

    /// Pi's SDK retries a 429 twice before Pi sees it, so three failures
    /// make one failed Pi attempt that Pi's own retry then rescues.
    fn fail_count(self) -> u32 {
        match self.cli {
            Cli::Pi => 3,
            _ => 1,
        }
    }

    /// Pi sleeps through the quota 429's hour-long `retry-after` without a
    /// word: only the stall watchdog ends it.
    pub fn stalls(self) -> bool {
        self.scenario == Scenario::Stall || (self.cli, self.scenario) == (Cli::Pi, Scenario::Quota)
    }

    fn stall_seconds(self) -> u64 {
        if self.stalls() { STALL_SECONDS } else { STALL_LIMIT }
    }
}

/// What a case left behind.
pub struct Observed {
    pub run: Bounded,
    pub seconds: f64,
    /// When `run once` started (the stand-in's reset is relative to it).
    pub started: jiff::Timestamp,
    /// The builder's stage result.
    pub result: Value,
    pub status: Value,
    pub status_text: String,
    pub blocked: Vec<String>,
    pub active: Vec<String>,
    pub model_requests: usize,
    /// A transient failure's scheduled retry, run against a healed stand-in.
    pub retry: Option<Box<Observed>>,
    /// Where the case ran (`None` for a retry): deleted on drop, kept
    /// when the case failed.
    pub dir: Option<tempfile::TempDir>,
}

/// Runs one case from scratch.
pub fn run(rig: &Rig, case: Case) -> Observed {
    let dir = tempfile::Builder::new()
        .prefix(&format!("rh-{}-{}-", case.cli.name(), case.scenario.name()))
        .tempdir()
        .unwrap();
    let root = dir.path().canonicalize().unwrap();
    let standin = Standin::start(rig, &standin_args(case), &root.join("standin.log"));
    let env = harness_env(rig, case.variant(), &root, &standin.base_url());
    super::config::tighten(case.cli, Path::new(&env["HOME"]));
    let ws = Workspace::create(rig, case, &root, &env);
    let mut observed = ws.run_once(&standin, "run-once");
    if observed.result["failure_class"] == "provider_transient" {
        // The provider is healthy again: the scheduled retry must finish the
        // stage, uncharged.
        standin.switch("success");
        ws.wait_for_retry(&observed.status);
        observed.retry = Some(Box::new(ws.run_once(&standin, "retry")));
    }
    observed.dir = Some(dir);
    observed
}

fn standin_args(case: Case) -> Vec<String> {
    let mut args = vec!["--scenario".into(), case.scenario.name().into()];
    args.extend(["--fail-count".into(), case.fail_count().to_string()]);
    args.extend(["--reset-in".into(), RESET_IN.to_string()]);
    args
}

/// A workspace set up for one case.
struct Workspace<'a> {
    rig: &'a Rig,
    root: PathBuf,
    /// The process environment of every `millrace` command.
    env: BTreeMap<String, String>,
}

impl<'a> Workspace<'a> {
    /// `millrace init`, the case's `millrace.toml`, one queued task.
    fn create(rig: &'a Rig, case: Case, root: &Path, harness: &BTreeMap<String, String>) -> Self {
        let ws_root = root.join("ws");
        std::fs::create_dir_all(&ws_root).unwrap();
        // Millrace itself gets the base of the environment; the CLI's own
        // variables go through `[runners.<cli>] env`, as an operator's would.
        let base = ["PATH", "HOME", "TMPDIR", "LANG", "TZ"];
        let mut env: BTreeMap<String, String> = harness
            .iter()
            .filter(|(k, _)| base.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        env.insert("NO_COLOR".into(), "1".into());
        let ws = Workspace {
            rig,
            root: ws_root,
            env,
        };
        ws.must(&["init"]);
        let cli_env: BTreeMap<_, _> = harness
            .iter()
            .filter(|(k, _)| !base.contains(&k.as_str()))
            .collect();
        let config = super::config::millrace_toml(rig, case, &cli_env, case.stall_seconds(), STAGE_TIMEOUT);
        std::fs::write(ws.root.join("millrace-agents/millrace.toml"), config).unwrap();
        let task = root.join("t1.md");
        std::fs::write(&task, task_md("t1")).unwrap();
        ws.must(&["queue", "add-task", task.to_str().unwrap()]);
        ws
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_millrace"));
        cmd.arg("--workspace")
            .arg(&self.root)
            .args(args)
            .current_dir(&self.root)
            .env_clear()
            .envs(&self.env);
        cmd
    }

    /// Runs a quick command that must succeed; its stdout.
    fn must(&self, args: &[&str]) -> String {
        let out = self.command(args).output().unwrap();
        assert!(
            out.status.success(),
            "millrace {args:?} ({}): {}{}",
            self.rig.bin.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `run once`, cut off a little after the stage timeout, then what it
    /// left behind.
    fn run_once(&self, standin: &Standin, name: &str) -> Observed {
        let started = jiff::Timestamp::now();
        let clock = Instant::now();
        let limit = Duration::from_secs(STAGE_TIMEOUT + 30);
        let run = run_bounded(
            self.command(&["run", "once"]),
            self.root.parent().unwrap(),
            name,
            limit,
        );
        let seconds = clock.elapsed().as_secs_f64();
        let status_json = self.must(&["status", "--json"]);
        Observed {
            run,
            seconds,
            started,
            result: self.last_stage_result(),
            status: serde_json::from_str(&status_json).unwrap_or(Value::Null),
            status_text: self.must(&["status"]),
            blocked: self.names("tasks/blocked"),
            active: self.names("tasks/active"),
            model_requests: standin.model_requests(),
            retry: None,
            dir: None,
        }
    }

    /// Sleeps until the active run's `retry_at` (a second away: the
    /// backoff is configured to 1 s).
    fn wait_for_retry(&self, status: &Value) {
        let at = status["active_runs"][0]["retry_at"]
            .as_str()
            .and_then(|t| t.parse::<jiff::Timestamp>().ok());
        if let Some(at) = at {
            let wait = at
                .duration_since(jiff::Timestamp::now())
                .as_secs_f64()
                .clamp(0.0, 10.0);
            std::thread::sleep(Duration::from_secs_f64(wait + 0.2));
        }
    }

    /// The newest stage result of the (only) run, `Null` when none.
    fn last_stage_result(&self) -> Value {
        let runs = self.root.join("millrace-agents/runs");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&runs)
            .into_iter()
            .flatten()
            .flatten()
            .flat_map(|run| {
                std::fs::read_dir(run.path().join("stage_results"))
                    .into_iter()
                    .flatten()
                    .flatten()
            })
            .map(|e| e.path())
            .collect();
        files.sort_by_key(|p| p.metadata().and_then(|m| m.modified()).ok());
        files
            .last()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(Value::Null)
    }

    fn names(&self, rel: &str) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.root.join("millrace-agents").join(rel))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        names.sort();
        names
    }
}

/// A valid task document.
fn task_md(id: &str) -> String {
    format!(
        "# Task {id}\n\nTask-ID: {id}\nCreated-At: 2026-01-01T00:00:00Z\nCreated-By: test\n\n\
         Target-Paths:\n- src/hello.txt\n\nAcceptance:\n- src/hello.txt exists\n\n\
         Required-Checks:\n- none\n\nReferences:\n- none\n\nRisk:\n- low\n"
    )
}
