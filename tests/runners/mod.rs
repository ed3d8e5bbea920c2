//! The runners against fake harnesses (`tests/fake/*`): argv contracts,
//! every scenario's classification, process-group cleanup, streaming, the
//! command and scripted runners, and the prompt golden.

mod bench;
mod claude;
mod codex;
mod command;
mod gemini;
mod harness_failures;
mod pi;
mod preflight;
mod process;
mod prompt;
mod scripted;

use std::path::{Path, PathBuf};

use millrace::model::{FailureClass, LegalOutcome, RequestKind, StageResult, StageRunRequest, WorkItemPaths};
use millrace::plan::{Plane, ResultClass, WorkItemKind};
use millrace::runners::{Cancel, RunnersConfig};

/// A temporary workspace with a run directory.
pub struct Fixture {
    pub dir: tempfile::TempDir,
}

impl Fixture {
    pub fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("ws/millrace-agents/runs/run-1")).unwrap();
        Fixture { dir }
    }

    pub fn ws(&self) -> PathBuf {
        self.dir.path().join("ws")
    }

    pub fn run_dir(&self) -> PathBuf {
        self.ws().join("millrace-agents/runs/run-1")
    }

    /// A builder request for task `task-001` on `runner`.
    pub fn request(&self, runner: &str) -> StageRunRequest {
        let ws = self.ws();
        let agents = ws.join("millrace-agents");
        let run_dir = self.run_dir();
        StageRunRequest {
            request_id: "req-1".into(),
            run_id: "run-1".into(),
            plane: Plane::Execution,
            node: "builder".into(),
            stage: "builder".into(),
            request_kind: RequestKind::ActiveWorkItem,
            mode_id: "default".into(),
            plan_id: "plan-1".into(),
            running_marker: "BUILDER_RUNNING".into(),
            outcomes: vec![
                outcome("BUILDER_COMPLETE", &[ResultClass::Success]),
                outcome(
                    "BLOCKED",
                    &[ResultClass::Blocked, ResultClass::RecoverableFailure],
                ),
            ],
            entrypoint_path: agents.join("entrypoints/execution/builder.md"),
            required_skills: vec![agents.join("skills/builder-core/SKILL.md")],
            attached_skills: Vec::new(),
            work_item: Some(WorkItemPaths {
                kind: WorkItemKind::Task,
                id: "task-001".into(),
                path: agents.join("tasks/active/task-001.md"),
                root_spec_id: None,
                root_idea_id: None,
            }),
            closure: None,
            workspace_root: ws.clone(),
            result_path: run_dir.join("stage_result.req-1.json"),
            run_dir,
            status_path: agents.join("state/execution_status.md"),
            snapshot_path: agents.join("state/runtime_snapshot.json"),
            troubleshoot_report_path: None,
            runtime_error: None,
            runner: runner.into(),
            model: None,
            effort: None,
            timeout_seconds: 30,
            attempt: 0,
            operator_note: None,
            budget: None,
        }
    }
}

pub fn outcome(name: &str, classes: &[ResultClass]) -> LegalOutcome {
    LegalOutcome {
        name: name.into(),
        classes: classes.to_vec(),
    }
}

/// The fake harness `name` in `tests/fake`.
pub fn fake(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fake")
        .join(name)
        .display()
        .to_string()
}

/// The fake harnesses are Python scripts: a test that needs them fails,
/// rather than passing unseen, where `python3` is missing (`.ci/run`
/// installs it).
pub fn require_python() -> bool {
    let ok = std::process::Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "python3 is not installed; the fake harnesses need it (`.ci/run` installs it)"
    );
    ok
}

/// Configuration pointing every harness at its fake, playing `scenario`.
pub fn fake_config(scenario: &str) -> RunnersConfig {
    let mut cfg = RunnersConfig::default();
    cfg.codex.command = fake("codex");
    cfg.claude.command = fake("claude");
    cfg.pi.command = fake("pi");
    cfg.gemini.command = fake("gemini");
    let envs = [
        &mut cfg.codex.env,
        &mut cfg.claude.env,
        &mut cfg.pi.env,
        &mut cfg.gemini.env,
    ];
    for env in envs {
        env.insert("FAKE_SCENARIO".into(), scenario.into());
    }
    cfg
}

/// Runs `req` to its result on a fresh runtime-free await.
pub async fn run(req: &StageRunRequest, cfg: &RunnersConfig) -> StageResult {
    millrace::runners::run_stage(req, cfg, Cancel::never()).await
}

/// Asserts a failure result of class `class`.
#[track_caller]
pub fn assert_failure(result: &StageResult, class: FailureClass) {
    assert_eq!(result.failure_class, Some(class), "notes: {:?}", result.notes);
    assert_eq!(result.terminal_result, "BLOCKED");
    assert_eq!(result.result_class, ResultClass::RecoverableFailure);
    assert!(!result.success);
}

/// Asserts a clean success with `outcome`.
#[track_caller]
pub fn assert_success(result: &StageResult, outcome: &str) {
    assert_eq!(result.failure_class, None, "notes: {:?}", result.notes);
    assert_eq!(result.terminal_result, outcome);
    assert_eq!(result.result_class, ResultClass::Success);
    assert!(result.success);
}

/// The completion record of request `req-1`.
pub fn completion(fx: &Fixture) -> serde_json::Value {
    let text = std::fs::read_to_string(fx.run_dir().join("runner_completion.req-1.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The invocation record of request `req-1`.
pub fn invocation(fx: &Fixture) -> serde_json::Value {
    let text = std::fs::read_to_string(fx.run_dir().join("runner_invocation.req-1.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}
