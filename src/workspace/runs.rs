//! `runs/<run_id>/`: what each stage of a run asked, produced and decided.
//!
//! Input: run directories written by the engine (`request.<rid>.json`,
//! `stage_results/<rid>.json`, `routing.<rid>.json`) and by runners
//! (stdout, stderr, reports). Output: summaries for `millrace runs`, and
//! small writers the engine uses for its own files.
//!
//! Invariants: reading never fails because one run is damaged (a run whose
//! stage result cannot be parsed is `malformed` with a note); stage results
//! tolerate fields this build does not know; run ids are checked before they
//! become paths.

mod artifacts;

use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Workspace;
use super::fsx::{self, FsError};
use crate::model::TokenUsage;
use crate::model::ids::{IdError, check_id};

pub use artifacts::{Activity, Artifact, activity, artifact_file, artifacts, read_artifact, run_ids};

/// Why a run cannot be shown.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum RunError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Fs(#[from] FsError),

    #[error(transparent)]
    #[diagnostic(transparent)]
    Id(#[from] IdError),

    /// No such run directory.
    #[error("run `{0}` not found")]
    #[diagnostic(code(mill::runs::not_found), help("`millrace runs ls` lists the runs"))]
    NotFound(String),

    /// Nothing to tail.
    #[error("run `{0}` has no report, output or stage result to show")]
    #[diagnostic(
        code(mill::runs::no_artifact),
        help("the run may not have finished its first stage")
    )]
    NoArtifact(String),

    /// A short run id that more than one run ends or starts with.
    #[error("run id `{given}` matches {} runs: {}", candidates.len(), candidates.join(", "))]
    #[diagnostic(
        code(mill::runs::ambiguous_id),
        help("give more of the id (`millrace runs ls` lists them)")
    )]
    Ambiguous { given: String, candidates: Vec<String> },
}

/// A normalized stage result as the engine writes it. Unknown fields are
/// ignored so older builds can read newer results.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StageResult {
    pub run_id: String,
    pub stage: String,
    pub terminal_result: String,
    #[serde(default)]
    pub plane: Option<String>,
    #[serde(default)]
    pub node: Option<String>,
    #[serde(default)]
    pub work_item_kind: Option<String>,
    #[serde(default)]
    pub work_item_id: Option<String>,
    #[serde(default)]
    pub result_class: Option<String>,
    #[serde(default)]
    pub failure_class: Option<String>,
    #[serde(default)]
    pub started_at: Option<Timestamp>,
    #[serde(default)]
    pub completed_at: Option<Timestamp>,
    #[serde(default)]
    pub token_usage: Option<TokenUsage>,
    #[serde(default)]
    pub cost_usd: Option<f64>,
    #[serde(default)]
    pub runner: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub stdout_path: Option<String>,
    #[serde(default)]
    pub stderr_path: Option<String>,
    #[serde(default)]
    pub report_artifact: Option<String>,
    /// What the runner noticed (a configuration code leads its note).
    #[serde(default)]
    pub notes: Vec<String>,
    /// The stage's structured result keys (resume targets, a gate's note).
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub metadata: serde_json::Map<String, Value>,
}

/// Whether a run's results could all be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Valid,
    /// No stage result yet.
    Incomplete,
    /// A stage result could not be read.
    Malformed,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Valid => "valid",
            RunStatus::Incomplete => "incomplete",
            RunStatus::Malformed => "malformed",
        }
    }
}

/// One stage of a run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StageView {
    pub request_id: String,
    /// Relative to the run directory.
    pub result_path: String,
    pub result: StageResult,
    pub duration_seconds: Option<f64>,
    pub routing_path: Option<String>,
    pub routing: Option<Value>,
}

/// A run read back.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunView {
    pub run_id: String,
    pub path: PathBuf,
    pub status: RunStatus,
    pub plane: Option<String>,
    pub work_item_kind: Option<String>,
    pub work_item_id: Option<String>,
    pub terminal_result: Option<String>,
    pub failure_class: Option<String>,
    pub started_at: Option<Timestamp>,
    pub completed_at: Option<Timestamp>,
    pub duration_seconds: Option<f64>,
    pub tokens: Option<TokenUsage>,
    pub cost_usd: Option<f64>,
    pub notes: Vec<String>,
    /// Stages in completion order.
    pub stages: Vec<StageView>,
}

/// Every run, oldest first.
pub fn list(ws: &Workspace) -> Result<Vec<RunView>, RunError> {
    let dir = ws.paths().runs_dir();
    let mut runs = Vec::new();
    for name in fsx::list_names(&dir)? {
        if check_id("run id", &name).is_err() || !fsx::is_dir(&dir.join(&name)) {
            continue;
        }
        runs.push(read_run(ws, &name)?);
    }
    // A run without results yet is placed by the time in its id.
    runs.sort_by_cached_key(|r| {
        let at = r.started_at.or_else(|| time_of_id(&r.run_id));
        (at.is_none(), at, r.run_id.clone())
    });
    Ok(runs)
}

/// The time encoded in a minted id (`run-20261124T101530123-…`).
pub fn time_of_id(id: &str) -> Option<Timestamp> {
    let stamp = id.split('-').nth(1)?;
    let (date_time, millis) = stamp.split_at_checked(15)?;
    let civil = jiff::civil::DateTime::strptime("%Y%m%dT%H%M%S", date_time).ok()?;
    let ms: i64 = millis.parse().ok()?;
    let ts = jiff::tz::TimeZone::UTC.to_timestamp(civil).ok()?;
    Timestamp::from_millisecond(ts.as_millisecond() + ms).ok()
}

/// One run.
pub fn show(ws: &Workspace, run_id: &str) -> Result<RunView, RunError> {
    let run_id = resolve(ws, run_id)?;
    read_run(ws, &run_id)
}

/// The full run id `given` names: the id itself, or a unique part of one
/// as the monitor prints it (`run=b5b99c15`, the end of the id) or its
/// start.
pub fn resolve(ws: &Workspace, given: &str) -> Result<String, RunError> {
    check_id("run id", given)?;
    let dir = ws.paths().runs_dir();
    if fsx::is_dir(&dir.join(given)) {
        return Ok(given.to_string());
    }
    let mut candidates: Vec<String> = fsx::list_names(&dir)?
        .into_iter()
        .filter(|n| n.ends_with(given) || n.starts_with(given))
        .filter(|n| fsx::is_dir(&dir.join(n)))
        .collect();
    candidates.sort();
    match candidates.len() {
        0 => Err(RunError::NotFound(given.to_string())),
        1 => Ok(candidates.remove(0)),
        _ => Err(RunError::Ambiguous {
            given: given.to_string(),
            candidates,
        }),
    }
}

fn read_run(ws: &Workspace, run_id: &str) -> Result<RunView, RunError> {
    let path = ws.paths().run_dir(run_id);
    let results_dir = path.join("stage_results");
    let mut names: Vec<String> = fsx::list_names(&results_dir)?
        .into_iter()
        .filter(|n| n.ends_with(".json") && !n.starts_with('.'))
        .collect();
    names.sort();
    let mut stages = Vec::new();
    let mut notes = Vec::new();
    for name in names {
        let text = fsx::read_optional(&results_dir.join(&name))?.unwrap_or_default();
        match serde_json::from_str::<StageResult>(&text) {
            Ok(result) => stages.push(stage_view(&path, &name, result)?),
            Err(e) => notes.push(format!("stage_results/{name} is malformed: {e}")),
        }
    }
    stages.sort_by(|a, b| {
        let key = |s: &StageView| (s.result.completed_at, s.result.started_at, s.result_path.clone());
        key(a).cmp(&key(b))
    });
    let status = if !notes.is_empty() {
        RunStatus::Malformed
    } else if stages.is_empty() {
        notes.push("no stage result artifacts found".into());
        RunStatus::Incomplete
    } else {
        RunStatus::Valid
    };
    Ok(summarize(run_id, path, status, notes, stages))
}

fn stage_view(run_dir: &Path, name: &str, result: StageResult) -> Result<StageView, RunError> {
    let request_id = name.trim_end_matches(".json").to_string();
    let routing_name = format!("routing.{request_id}.json");
    let routing_text = fsx::read_optional(&run_dir.join(&routing_name))?;
    let routing = routing_text
        .as_deref()
        .map(|t| serde_json::from_str(t).unwrap_or(Value::String(t.to_string())));
    let duration_seconds = match (result.started_at, result.completed_at) {
        (Some(s), Some(c)) => Some(seconds_between(s, c)),
        _ => None,
    };
    Ok(StageView {
        request_id,
        result_path: format!("stage_results/{name}"),
        result,
        duration_seconds,
        routing_path: routing.is_some().then_some(routing_name),
        routing,
    })
}

fn summarize(
    run_id: &str,
    path: PathBuf,
    status: RunStatus,
    notes: Vec<String>,
    stages: Vec<StageView>,
) -> RunView {
    let latest = stages.last().map(|s| &s.result);
    let started_at = stages.iter().filter_map(|s| s.result.started_at).min();
    let completed_at = stages.iter().filter_map(|s| s.result.completed_at).max();
    let mut tokens: Option<TokenUsage> = None;
    for usage in stages.iter().filter_map(|s| s.result.token_usage.as_ref()) {
        tokens.get_or_insert_with(TokenUsage::default).add(usage);
    }
    let costs: Vec<f64> = stages.iter().filter_map(|s| s.result.cost_usd).collect();
    RunView {
        run_id: run_id.to_string(),
        path,
        status,
        plane: latest.and_then(|r| r.plane.clone()),
        work_item_kind: latest.and_then(|r| r.work_item_kind.clone()),
        work_item_id: latest.and_then(|r| r.work_item_id.clone()),
        terminal_result: latest.map(|r| r.terminal_result.clone()),
        failure_class: latest.and_then(|r| r.failure_class.clone()),
        started_at,
        completed_at,
        duration_seconds: started_at.zip(completed_at).map(|(s, c)| seconds_between(s, c)),
        tokens,
        cost_usd: (!costs.is_empty()).then(|| costs.iter().sum()),
        notes,
        stages,
    }
}

fn seconds_between(start: Timestamp, end: Timestamp) -> f64 {
    let nanos = end.as_nanosecond() - start.as_nanosecond();
    // Precision beyond a millisecond does not matter for display.
    (nanos / 1_000_000) as f64 / 1000.0
}

/// The most relevant artifact of a run: the latest stage's report, else its
/// stdout, else its stderr, else the latest stage result JSON.
pub fn tail(ws: &Workspace, run_id: &str) -> Result<(PathBuf, String), RunError> {
    let run = show(ws, run_id)?;
    let run_id = run.run_id.as_str();
    let dir = ws.paths().run_dir(run_id);
    let Some(stage) = run.stages.last() else {
        return Err(RunError::NoArtifact(run_id.to_string()));
    };
    let candidates = [
        stage.result.report_artifact.as_deref(),
        stage.result.stdout_path.as_deref(),
        stage.result.stderr_path.as_deref(),
        Some(stage.result_path.as_str()),
    ];
    for candidate in candidates.into_iter().flatten() {
        if let Some(path) = resolve_artifact(ws, &dir, candidate)
            && let Some(text) = fsx::read_optional(&path)?
        {
            return Ok((path, text));
        }
    }
    Err(RunError::NoArtifact(run_id.to_string()))
}

/// Resolves an artifact path written by the engine or a runner: absolute,
/// or relative to the run directory, `millrace-agents/` or the root.
pub fn resolve_artifact(ws: &Workspace, run_dir: &Path, path: &str) -> Option<PathBuf> {
    let p = Path::new(path);
    if p.is_absolute() {
        return fsx::is_file(p).then(|| p.to_path_buf());
    }
    [run_dir, ws.agents(), ws.root()]
        .iter()
        .map(|base| base.join(p))
        .find(|candidate| fsx::is_file(candidate))
}

/// The stage result a runtime saved before routing it
/// (`runs/<run>/stage_results/<rid>.json`), with its path; `None` when it
/// is missing or unreadable (the stage then runs again).
pub fn saved_stage_result(
    ws: &Workspace,
    run_id: &str,
    request_id: &str,
) -> Option<(crate::model::StageResult, PathBuf)> {
    check_id("run id", run_id).ok()?;
    check_id("request id", request_id).ok()?;
    let path = ws
        .paths()
        .run_dir(run_id)
        .join("stage_results")
        .join(format!("{request_id}.json"));
    let text = fsx::read_optional(&path).ok()??;
    Some((serde_json::from_str(&text).ok()?, path))
}

/// A run directory the engine writes into.
#[derive(Clone, Debug)]
pub struct RunDir {
    path: PathBuf,
}

impl RunDir {
    /// Creates (or reopens) `runs/<run_id>/`.
    pub fn create(ws: &Workspace, run_id: &str) -> Result<Self, RunError> {
        check_id("run id", run_id)?;
        let path = ws.paths().run_dir(run_id);
        fsx::ensure_dir(&path.join("stage_results"))?;
        Ok(Self { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `request.<rid>.json`.
    pub fn request_path(&self, request_id: &str) -> Result<PathBuf, RunError> {
        check_id("request id", request_id)?;
        Ok(self.path.join(format!("request.{request_id}.json")))
    }

    /// `stage_results/<rid>.json`.
    pub fn stage_result_path(&self, request_id: &str) -> Result<PathBuf, RunError> {
        check_id("request id", request_id)?;
        Ok(self.path.join("stage_results").join(format!("{request_id}.json")))
    }

    /// `routing.<rid>.json`.
    pub fn routing_path(&self, request_id: &str) -> Result<PathBuf, RunError> {
        check_id("request id", request_id)?;
        Ok(self.path.join(format!("routing.{request_id}.json")))
    }

    /// A file of the run directory named by a stage or runner
    /// (`builder_summary.md`, `runner_stdout.<rid>.txt`): a plain name,
    /// checked like an id, never a path.
    pub fn artifact_path(&self, name: &str) -> Result<PathBuf, RunError> {
        check_id("artifact name", name)?;
        Ok(self.path.join(name))
    }

    /// Writes an artifact atomically.
    pub fn write_artifact(&self, name: &str, bytes: &[u8]) -> Result<PathBuf, RunError> {
        let path = self.artifact_path(name)?;
        fsx::write_atomic(&path, bytes)?;
        Ok(path)
    }

    pub fn write_request(&self, request_id: &str, value: &impl Serialize) -> Result<PathBuf, RunError> {
        let path = self.request_path(request_id)?;
        write_json(&path, value)?;
        Ok(path)
    }

    pub fn write_stage_result(&self, request_id: &str, value: &impl Serialize) -> Result<PathBuf, RunError> {
        let path = self.stage_result_path(request_id)?;
        write_json(&path, value)?;
        Ok(path)
    }

    /// The routing record explains a decision the snapshot and journal
    /// already hold: written atomically, not flushed.
    pub fn write_routing(&self, request_id: &str, value: &impl Serialize) -> Result<PathBuf, RunError> {
        let path = self.routing_path(request_id)?;
        let text = serde_json::to_string_pretty(value).unwrap_or_default() + "\n";
        fsx::write_cache_with(&path, |out| std::io::Write::write_all(out, text.as_bytes()))?;
        Ok(path)
    }
}

/// Requests and results are written atomically, not flushed: the snapshot
/// (through the journal) records which request is pending, a request is
/// rebuilt from it when its stage runs again, and a result that a power
/// loss undid is a stage that runs again, as its harness was cut too.
fn write_json(path: &Path, value: &impl Serialize) -> Result<(), FsError> {
    let text = serde_json::to_string_pretty(value).unwrap_or_default() + "\n";
    fsx::write_unflushed(path, text.as_bytes())
}
