//! Starting stages: building the request, launching the runner as a task,
//! and taking its result back.

use std::future::Future;
use std::pin::Pin;

use serde_json::json;

use super::{Running, Runtime, RuntimeError};
use crate::model::Event;
use crate::model::event::WorkItemObj;
use crate::model::{
    ActiveRun, ClosurePaths, LegalOutcome, QueueState, RequestKind, RuntimeErrorPaths, StageResult,
    StageRunRequest, WorkItemPaths,
};
use crate::plan::Plane;
use crate::runners::Cancel;
use crate::workspace::fsx;
use crate::workspace::runs::RunDir;

/// A finished stage, sent back from its task.
#[derive(Debug)]
pub struct Completion {
    pub plane: Plane,
    pub result: StageResult,
}

/// Why a runner's harness cannot start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Missing {
    /// The program that is not installed, when that is the reason.
    pub program: Option<String>,
    /// What is wrong and how to fix it.
    pub message: String,
}

/// What runs stages (the runners module in production, a fake in tests).
/// Stages run as local tasks of the runtime's single thread, so neither the
/// runner nor its futures need to be `Send`.
pub trait StageRunner {
    /// Checks the harness is installed before anything is dispatched to it.
    fn preflight(&self, runner: &str) -> Result<(), Missing>;

    /// Runs one stage to one result; `cancel` fires on `stop --now`.
    fn start(&self, request: StageRunRequest, cancel: Cancel) -> Pin<Box<dyn Future<Output = StageResult>>>;
}

impl Runtime {
    /// Starts the stage pending on a plane.
    pub(super) fn start_stage(&mut self, plane: Plane) -> Result<(), RuntimeError> {
        let Some(run) = self.state.active_runs.get(&plane).cloned() else {
            return Ok(());
        };
        let Some(request_id) = run.pending_request_id.clone() else {
            return Ok(());
        };
        if self.running.contains_key(&plane) {
            return Ok(());
        }
        // A gate runs no harness: it waits on disk for its decision.
        if self.waits_at_gate(plane) {
            return self.open_gate(plane);
        }
        let Some(request) = self.build_request(&run, &request_id) else {
            let reason = format!("plan {} has no node `{}`", self.plan.plan_id, run.node);
            return self.commit(crate::engine::Input::Interrupted {
                now: jiff::Timestamp::now(),
                plane,
                reason,
            });
        };
        if let Err(missing) = self.runner.preflight(&request.runner) {
            // An operator problem, not the agent's: hold everything until
            // the harness is installed, and do not count the stage.
            self.emit(Event::RunnerUnavailable {
                runner: request.runner.clone(),
                message: missing.message.clone(),
            });
            return self.commit(crate::engine::Input::HarnessMissing {
                now: jiff::Timestamp::now(),
                plane,
                runner: request.runner.clone(),
                program: missing.program,
                message: missing.message,
            });
        }
        match RunDir::create(&self.ws, &run.run_id).and_then(|d| d.write_request(&request_id, &request)) {
            Ok(_) => {}
            Err(e) => {
                return Err(RuntimeError::Persist {
                    detail: e.to_string(),
                });
            }
        }
        if self.plan.loop_for(Plane::Learning).is_some() {
            self.write_skill_evidence(&request);
        }
        let (cancel, handle) = Cancel::new();
        let future = self.runner.start(request.clone(), handle);
        let sender = self.completions.0.clone();
        let span = tracing::info_span!("stage", %plane, run_id = %run.run_id, node = %run.node,
            request_id = %request_id, work_item = ?run.work_item.as_ref().map(|w| &w.id), runner = %request.runner);
        let stage = async move {
            let result = future.await;
            tracing::info!(outcome = %result.terminal_result, failure = ?result.failure_class, "stage finished");
            let _ = sender.send(Completion { plane, result });
        };
        tokio::task::spawn_local(tracing::Instrument::instrument(stage, span));
        let event = Event::StageStarted {
            plane,
            node: run.node.clone(),
            stage: run.stage.clone(),
            run_id: run.run_id.clone(),
            request_id,
            work_item: run.work_item.as_ref().map(|w| WorkItemObj {
                kind: w.kind,
                id: w.id.clone(),
            }),
            attempt: request.attempt,
            runner: request.runner.clone(),
        };
        self.running.insert(plane, Running { request, cancel });
        self.emit(event);
        Ok(())
    }

    /// A stage's result came back: persist it, then route it.
    pub(super) fn complete(&mut self, done: Completion) -> Result<(), RuntimeError> {
        let running = self.running.remove(&done.plane);
        let result = done.result;
        let dir = RunDir::create(&self.ws, &result.run_id).map_err(|e| RuntimeError::Persist {
            detail: e.to_string(),
        })?;
        let path =
            dir.write_stage_result(&result.request_id, &result)
                .map_err(|e| RuntimeError::Persist {
                    detail: e.to_string(),
                })?;
        self.emit(Event::StageCompleted {
            plane: result.plane,
            node: result.node.clone(),
            run_id: result.run_id.clone(),
            request_id: result.request_id.clone(),
            outcome: result.terminal_result.clone(),
            failure_class: result.failure_class,
            duration_seconds: result.duration_seconds,
            total_tokens: result.token_usage.map(|t| t.total_tokens),
            runner: running.map(|r| r.request.runner),
            message: result.failure_words().map(str::to_owned),
        });
        self.finished.push(format!(
            "{}/{} {}",
            result.plane,
            result.node,
            result.shown_outcome()
        ));
        let path = self.relative(&path);
        self.route_result(result, path)
    }

    /// Counts a saved stage result, lets usage governance decide, then
    /// routes it. Governance goes first so that a chained next stage never
    /// starts past a limit this one reached.
    pub(super) fn route_result(&mut self, result: StageResult, path: String) -> Result<(), RuntimeError> {
        let now = jiff::Timestamp::now();
        self.count_usage(&result, &path, now);
        self.govern(now)?;
        let quota_before = self.state.governance_resume_at;
        self.finish(result, path)?;
        if self.state.governance_resume_at != quota_before {
            // A quota-exhausted result started a pause: record it.
            self.govern(jiff::Timestamp::now())?;
        }
        Ok(())
    }

    /// Which version of each skill a stage was given, so the learning plane
    /// can tie a run's evidence to the skill text that produced it.
    fn write_skill_evidence(&mut self, request: &StageRunRequest) {
        let skills: Vec<_> = request
            .required_skills
            .iter()
            .chain(&request.attached_skills)
            .map(|path| {
                let bytes = fsx::read_optional_bytes(path).ok().flatten();
                json!({
                    "path": self.relative(path),
                    "exists": bytes.is_some(),
                    "sha256": bytes.as_deref().map(crate::plan::sha256_hex),
                    "size_bytes": bytes.as_ref().map(Vec::len),
                })
            })
            .collect();
        let evidence = json!({
            "schema_version": "1.0", "kind": "skill_revision_evidence",
            "request_id": request.request_id, "run_id": request.run_id,
            "mode_id": request.mode_id, "compiled_plan_id": request.plan_id,
            "emitted_at": jiff::Timestamp::now(), "skills": skills,
        });
        let name = format!("skill_revision_evidence.{}.json", request.request_id);
        let written = RunDir::create(&self.ws, &request.run_id)
            .and_then(|d| d.write_artifact(&name, format!("{evidence:#}\n").as_bytes()));
        if let Err(e) = written {
            // Evidence helps learning; its absence must not stop the stage.
            self.emit(Event::SkillEvidenceFailed { error: e.to_string() });
        }
    }

    fn build_request(&self, run: &ActiveRun, request_id: &str) -> Option<StageRunRequest> {
        let node_id = self.plan.node_named(run.plane, &run.node)?;
        let node = &self.plan.nodes[node_id];
        let stage = self.plan.stage_of(node_id);
        let paths = self.ws.paths();
        let agents = self.ws.agents();
        let run_dir = paths.run_dir(&run.run_id);
        let closure = (run.request_kind == RequestKind::ClosureTarget).then(|| {
            let root = run.closure_root_spec_id.clone().unwrap_or_default();
            let idea = run.closure_root_idea_id.clone();
            let seed = idea
                .as_deref()
                .map(|i| paths.idea_contract(i))
                .filter(|p| fsx::is_file(p));
            ClosurePaths {
                target_path: paths.closure_target(&root),
                root_spec_path: paths.root_spec_contract(&root),
                seed_idea_path: seed,
                rubric_path: paths.arbiter_dir().join("rubrics").join(format!("{root}.md")),
                verdict_path: paths.arbiter_dir().join("verdicts").join(format!("{root}.json")),
                report_path: run_dir.join("arbiter_report.md"),
                root_spec_id: root,
                root_idea_id: idea,
            }
        });
        let catalog = agents.join("reference/runtime-error-codes.md");
        Some(StageRunRequest {
            request_id: request_id.to_string(),
            run_id: run.run_id.clone(),
            plane: run.plane,
            node: run.node.clone(),
            stage: stage.name.clone(),
            request_kind: run.request_kind,
            mode_id: self.plan.mode.clone(),
            plan_id: self.plan.plan_id.clone(),
            running_marker: stage.running.clone(),
            outcomes: self
                .plan
                .outcomes_of(node_id)
                .map(|(_, o)| LegalOutcome {
                    name: o.name.clone(),
                    classes: o.classes.clone(),
                })
                .collect(),
            entrypoint_path: agents.join(&node.entrypoint),
            required_skills: stage.skills.iter().map(|s| agents.join(s)).collect(),
            attached_skills: node.attached_skills.iter().map(|s| agents.join(s)).collect(),
            work_item: run.work_item.as_ref().map(|w| WorkItemPaths {
                kind: w.kind,
                id: w.id.clone(),
                path: paths.document(w.kind, QueueState::Active, &w.id),
                root_spec_id: run.lineage.root_spec_id.clone(),
                root_idea_id: run.lineage.root_idea_id.clone(),
            }),
            troubleshoot_report_path: closure.is_none().then(|| run_dir.join("troubleshoot_report.md")),
            closure,
            workspace_root: self.ws.root().to_path_buf(),
            result_path: run_dir.join(format!("result.{request_id}.json")),
            run_dir,
            status_path: paths.status_marker(run.plane),
            snapshot_path: paths.snapshot(),
            runtime_error: run.runtime_error.as_ref().map(|e| RuntimeErrorPaths {
                code: e.code.clone(),
                report_path: self.absolute(&e.report_path),
                catalog_path: fsx::is_file(&catalog).then(|| catalog.clone()),
            }),
            runner: node.runner.clone(),
            model: node.model.clone(),
            effort: node.effort,
            timeout_seconds: node.timeout_seconds,
            attempt: run
                .node_runs
                .get(&run.node)
                .copied()
                .unwrap_or(1)
                .saturating_sub(1),
            operator_note: run.operator_note.clone(),
            budget: match self.rules.budgets.remaining(run) {
                (None, None) => None,
                (max_tokens, max_cost_usd) => Some(crate::model::Budget {
                    max_tokens,
                    max_cost_usd,
                }),
            },
        })
    }
}
