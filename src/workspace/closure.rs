//! `arbiter/targets/<root_spec_id>.json`: the closure pass of one lineage,
//! and the canonical contract copies the closure stage judges against.
//!
//! Input: the engine opening, updating and closing targets. Output: target
//! files written atomically, read back with their invariants checked.
//!
//! Invariants: ids are safe; `closed_at` is not before `opened_at`; a
//! closed target is not open; listed blocking work implies
//! `closure_blocked_by_lineage_work`; the file name is the root spec id.

use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::Workspace;
use super::fsx::{self, FsError};
use crate::model::ids::{IdError, check_id, id_problem};

/// The closure target format version.
pub const CLOSURE_SCHEMA_VERSION: u32 = 1;

/// Why a closure target cannot be used.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ClosureError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Fs(#[from] FsError),

    #[error(transparent)]
    #[diagnostic(transparent)]
    Id(#[from] IdError),

    /// The file is not a valid target.
    #[error("closure target `{}` is invalid: {detail}", path.display())]
    #[diagnostic(
        code(mill::closure::invalid_target),
        help(
            "inspect the file: the runtime skips an invalid target (no closure pass runs for it) until it is repaired or removed"
        )
    )]
    Invalid { path: PathBuf, detail: String },
}

/// The closure state of one root spec.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClosureTarget {
    pub schema_version: u32,
    pub kind: String,
    pub root_spec_id: String,
    pub root_idea_id: String,
    /// Paths relative to the workspace root.
    pub root_spec_path: String,
    pub root_idea_path: String,
    pub rubric_path: String,
    #[serde(default)]
    pub latest_verdict_path: Option<String>,
    #[serde(default)]
    pub latest_report_path: Option<String>,
    pub closure_open: bool,
    #[serde(default)]
    pub closure_blocked_by_lineage_work: bool,
    #[serde(default)]
    pub blocking_work_ids: Vec<String>,
    pub opened_at: Timestamp,
    #[serde(default)]
    pub closed_at: Option<Timestamp>,
    #[serde(default)]
    pub last_arbiter_run_id: Option<String>,
    /// Closure passes run so far (bounded by `recovery.max_closure_attempts`).
    #[serde(default)]
    pub attempts: u32,
    /// Why the target closed: `passed`, or `attempts_exhausted`.
    #[serde(default)]
    pub closed_reason: Option<String>,
}

impl ClosureTarget {
    /// A freshly opened target with the conventional contract paths.
    pub fn open(root_spec_id: &str, root_idea_id: &str, now: Timestamp) -> Result<Self, IdError> {
        check_id("root spec id", root_spec_id)?;
        check_id("root idea id", root_idea_id)?;
        let base = format!("{}/arbiter", super::AGENTS_DIR);
        Ok(Self {
            schema_version: CLOSURE_SCHEMA_VERSION,
            kind: "closure_target_state".into(),
            root_spec_id: root_spec_id.into(),
            root_idea_id: root_idea_id.into(),
            root_spec_path: format!("{base}/contracts/root-specs/{root_spec_id}.md"),
            root_idea_path: format!("{base}/contracts/ideas/{root_idea_id}.md"),
            rubric_path: format!("{base}/rubrics/{root_spec_id}.md"),
            latest_verdict_path: None,
            latest_report_path: None,
            closure_open: true,
            closure_blocked_by_lineage_work: false,
            blocking_work_ids: Vec::new(),
            opened_at: now,
            closed_at: None,
            last_arbiter_run_id: None,
            attempts: 0,
            closed_reason: None,
        })
    }

    /// The invariants in the module header.
    pub fn check(&self) -> Result<(), String> {
        if self.schema_version != CLOSURE_SCHEMA_VERSION || self.kind != "closure_target_state" {
            return Err(format!(
                "unsupported schema {} / kind `{}`",
                self.schema_version, self.kind
            ));
        }
        for (what, id) in [
            ("root_spec_id", &self.root_spec_id),
            ("root_idea_id", &self.root_idea_id),
        ] {
            if let Some(reason) = id_problem(id) {
                return Err(format!("`{what}` is invalid: {reason}"));
            }
        }
        if let Some(bad) = self.blocking_work_ids.iter().find(|id| id_problem(id).is_some()) {
            return Err(format!("blocking work id `{bad}` is invalid"));
        }
        if self.closed_at.is_some_and(|c| c < self.opened_at) {
            return Err("`closed_at` is before `opened_at`".into());
        }
        if self.closure_open && self.closed_at.is_some() {
            return Err("the target is open but has `closed_at`".into());
        }
        if !self.blocking_work_ids.is_empty() && !self.closure_blocked_by_lineage_work {
            return Err("blocking work is listed but `closure_blocked_by_lineage_work` is false".into());
        }
        Ok(())
    }

    /// Reads `arbiter/targets/<root_spec_id>.json`; `Ok(None)` if missing.
    pub fn load(ws: &Workspace, root_spec_id: &str) -> Result<Option<Self>, ClosureError> {
        check_id("root spec id", root_spec_id)?;
        let path = ws.paths().closure_target(root_spec_id);
        match fsx::read_optional(&path)? {
            None => Ok(None),
            Some(text) => parse(&path, &text).map(Some),
        }
    }

    /// Writes the target atomically.
    pub fn save(&self, ws: &Workspace) -> Result<PathBuf, ClosureError> {
        check_id("root spec id", &self.root_spec_id)?;
        let path = ws.paths().closure_target(&self.root_spec_id);
        if let Err(detail) = self.check() {
            return Err(ClosureError::Invalid { path, detail });
        }
        let text = serde_json::to_string_pretty(self).unwrap_or_default() + "\n";
        fsx::write_atomic(&path, text.as_bytes())?;
        Ok(path)
    }
}

fn parse(path: &Path, text: &str) -> Result<ClosureTarget, ClosureError> {
    let invalid = |detail: String| ClosureError::Invalid {
        path: path.to_path_buf(),
        detail,
    };
    let target: ClosureTarget = serde_json::from_str(text).map_err(|e| invalid(e.to_string()))?;
    target.check().map_err(invalid)?;
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    if stem != target.root_spec_id {
        return Err(invalid(format!(
            "the file is named `{stem}` but the root spec is `{}`",
            target.root_spec_id
        )));
    }
    Ok(target)
}

/// Every target file, in file-name order: valid targets and the errors of
/// invalid ones.
pub fn list(ws: &Workspace) -> Result<Vec<Result<ClosureTarget, ClosureError>>, FsError> {
    let dir = ws.paths().closure_targets_dir();
    let mut names: Vec<String> = fsx::list_names(&dir)?
        .into_iter()
        .filter(|n| n.ends_with(".json") && !n.starts_with('.'))
        .collect();
    names.sort();
    let mut out = Vec::new();
    for name in names {
        let path = dir.join(&name);
        let Some(text) = fsx::read_optional(&path)? else {
            continue;
        };
        out.push(parse(&path, &text));
    }
    Ok(out)
}

/// The valid targets with `closure_open: true`.
pub fn open_targets(ws: &Workspace) -> Result<Vec<ClosureTarget>, FsError> {
    Ok(list(ws)?
        .into_iter()
        .filter_map(Result::ok)
        .filter(|t| t.closure_open)
        .collect())
}

/// Copies the seed idea and root spec verbatim into
/// `arbiter/contracts/{ideas,root-specs}/`; existing copies are kept (the
/// contract is what the lineage was opened against).
pub fn copy_contracts(
    ws: &Workspace,
    target: &ClosureTarget,
    idea_source: &Path,
    spec_source: &Path,
) -> Result<(PathBuf, PathBuf), ClosureError> {
    let idea = ws.paths().idea_contract(&target.root_idea_id);
    let spec = ws.paths().root_spec_contract(&target.root_spec_id);
    for (source, dest) in [(idea_source, &idea), (spec_source, &spec)] {
        let bytes = fsx::read_bytes(source)?;
        match fsx::write_new(dest, &bytes) {
            Ok(()) | Err(FsError::Exists { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok((idea, spec))
}
