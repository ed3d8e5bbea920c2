//! Curator promotions: skill changes a learning stage staged in its run
//! directory, recorded, then landed into `millrace-agents/skills/` while no
//! foreground stage is running.
//!
//! Input: `runs/<run_id>/skill_update/`, a tree that mirrors `skills/` (a
//! staged `stage/execution/checker-core/SKILL.md` replaces
//! `skills/stage/execution/checker-core/SKILL.md`). Output: records under
//! `learning/update-candidates/{deferred,applied,rejected}/`, and the landed
//! skill files.
//!
//! Invariants:
//! - [`record`] and [`land_all`] are idempotent, so a replayed journal
//!   changes nothing twice; a file whose content already equals the staged
//!   content counts as landed;
//! - a file lands only while the installed skill still has the content the
//!   curator judged (its hash at record time): a skill changed meanwhile is
//!   never overwritten, the whole promotion is rejected instead;
//! - each file lands by atomic rename, and a record leaves `deferred/` only
//!   after all of its files landed;
//! - staged paths are plain relative names: no `..`, no symlinks, nothing
//!   outside `skills/`.

use std::path::{Component, Path, PathBuf};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::Workspace;
use super::fsx::{self, FsResult};
use crate::plan::{Plane, sha256_hex};

/// The directory of a run where a learning stage stages skill files.
pub(crate) const STAGING_DIR: &str = "skill_update";

/// Where a promotion record is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum PromotionState {
    /// Waiting for a moment with no foreground stage running.
    Deferred,
    Applied,
    Rejected,
}

impl PromotionState {
    pub(crate) const ALL: [PromotionState; 3] = [Self::Deferred, Self::Applied, Self::Rejected];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Deferred => "deferred",
            Self::Applied => "applied",
            Self::Rejected => "rejected",
        }
    }
}

/// One staged file and what landing it did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PromotedFile {
    /// Relative to `millrace-agents/skills/`.
    pub path: String,
    pub staged_sha256: String,
    /// The installed file when the promotion was recorded (`None`: new).
    pub before_sha256: Option<String>,
    /// The installed file after landing.
    #[serde(default)]
    pub after_sha256: Option<String>,
}

/// `learning/update-candidates/<state>/<run_id>-<item>.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct PromotionRecord {
    pub schema_version: u32,
    pub kind: String,
    pub state: PromotionState,
    pub run_id: String,
    pub request_id: String,
    pub work_item_id: Option<String>,
    /// The stage's own account of the change (workspace-relative).
    pub update_record: Option<String>,
    pub files: Vec<PromotedFile>,
    /// Foreground planes with a stage running when it was recorded.
    pub foreground_active_planes: Vec<Plane>,
    pub recorded_at: Timestamp,
    #[serde(default)]
    pub applied_at: Option<Timestamp>,
    #[serde(default)]
    pub rejected_reason: Option<String>,
}

/// What recording or landing decided, for events.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Settled {
    pub record_path: PathBuf,
    pub state: PromotionState,
    pub files: Vec<String>,
    pub reason: Option<String>,
}

/// What to record (the engine's view of a learning stage's result).
#[derive(Clone, Debug)]
pub(crate) struct Candidate<'a> {
    pub run_id: &'a str,
    pub request_id: &'a str,
    pub work_item_id: Option<&'a str>,
    pub update_record: Option<&'a str>,
    pub foreground: &'a [Plane],
    pub now: Timestamp,
}

/// Records the files a run staged as a deferred promotion. Nothing staged,
/// or a staged path that is not a plain file under `skills/`, records a
/// rejection instead. Recording twice returns the first record.
pub(crate) fn record(ws: &Workspace, c: &Candidate<'_>) -> FsResult<Settled> {
    let name = record_name(c.run_id, c.work_item_id.unwrap_or(c.request_id));
    if let Some((state, existing)) = find_record(ws, &name)? {
        return Ok(settled(ws, &name, state, &existing));
    }
    let staging = ws.paths().run_dir(c.run_id).join(STAGING_DIR);
    let mut record = PromotionRecord {
        schema_version: 1,
        kind: "learning_curator_promotion".into(),
        state: PromotionState::Deferred,
        run_id: c.run_id.into(),
        request_id: c.request_id.into(),
        work_item_id: c.work_item_id.map(String::from),
        update_record: c.update_record.map(String::from),
        files: Vec::new(),
        foreground_active_planes: c.foreground.to_vec(),
        recorded_at: c.now,
        applied_at: None,
        rejected_reason: None,
    };
    match staged_files(&staging) {
        Ok(paths) if paths.is_empty() => {
            record.rejected_reason = Some(format!("nothing staged under {STAGING_DIR}/ of the run"));
        }
        Ok(paths) => {
            for rel in paths {
                let staged = fsx::read_bytes(&staging.join(&rel))?;
                record.files.push(PromotedFile {
                    before_sha256: installed_sha(ws, &rel)?,
                    path: rel,
                    staged_sha256: sha256_hex(&staged),
                    after_sha256: None,
                });
            }
        }
        Err(reason) => record.rejected_reason = Some(reason),
    }
    if record.rejected_reason.is_some() {
        record.state = PromotionState::Rejected;
    }
    write_record(ws, &name, &record)?;
    Ok(settled(ws, &name, record.state, &record))
}

/// Lands every deferred promotion, oldest record first.
pub(crate) fn land_all(ws: &Workspace, now: Timestamp) -> FsResult<Vec<Settled>> {
    let dir = state_dir(ws, PromotionState::Deferred);
    let mut out = Vec::new();
    let mut pending = Vec::new();
    for name in fsx::list_names(&dir)? {
        if !name.ends_with(".json") || fsx::is_temp_name(&name) {
            continue;
        }
        let text = fsx::read_text(&dir.join(&name))?;
        match serde_json::from_str::<PromotionRecord>(&text) {
            Ok(record) => pending.push((name, record)),
            Err(e) => {
                // Unreadable: park it where an operator sees it, keep going.
                let moved = state_dir(ws, PromotionState::Rejected).join(&name);
                fsx::move_file(&dir.join(&name), &moved)?;
                out.push(Settled {
                    record_path: moved,
                    state: PromotionState::Rejected,
                    files: Vec::new(),
                    reason: Some(format!("unreadable promotion record: {e}")),
                });
            }
        }
    }
    pending.sort_by(|a, b| (a.1.recorded_at, &a.0).cmp(&(b.1.recorded_at, &b.0)));
    for (name, record) in pending {
        out.push(land(ws, &name, record, now)?);
    }
    Ok(out)
}

/// Lands one deferred record's files, or rejects it whole.
fn land(ws: &Workspace, name: &str, mut record: PromotionRecord, now: Timestamp) -> FsResult<Settled> {
    let staging = ws.paths().run_dir(&record.run_id).join(STAGING_DIR);
    let mut contents = Vec::with_capacity(record.files.len());
    let mut problem = None;
    for file in &record.files {
        let staged = fsx::read_optional_bytes(&staging.join(&file.path))?;
        let installed = installed_sha(ws, &file.path)?;
        match staged {
            Some(bytes) if sha256_hex(&bytes) == file.staged_sha256 => {
                // Already landed by a process that died before moving the
                // record on, or still as the curator saw it: both are fine.
                let landed = installed.as_deref() == Some(file.staged_sha256.as_str());
                if !landed && installed != file.before_sha256 {
                    problem = Some(format!(
                        "skills/{} changed after the curator judged it; re-run the learning request",
                        file.path
                    ));
                    break;
                }
                contents.push(bytes);
            }
            _ => {
                problem = Some(format!(
                    "staged file {STAGING_DIR}/{} of run {} is missing or was edited after it was recorded",
                    file.path, record.run_id
                ));
                break;
            }
        }
    }
    if problem.is_none() {
        let skills = ws.paths().agents().join("skills");
        for (file, bytes) in record.files.iter_mut().zip(&contents) {
            fsx::write_atomic(&skills.join(&file.path), bytes)?;
            file.after_sha256 = Some(sha256_hex(bytes));
        }
        record.state = PromotionState::Applied;
        record.applied_at = Some(now);
    } else {
        record.state = PromotionState::Rejected;
        record.rejected_reason = problem;
    }
    write_record(ws, name, &record)?;
    fsx::remove_file(&state_dir(ws, PromotionState::Deferred).join(name))?;
    Ok(settled(ws, name, record.state, &record))
}

/// Every deferred record's name (for status).
pub(crate) fn deferred(ws: &Workspace) -> FsResult<Vec<String>> {
    let dir = state_dir(ws, PromotionState::Deferred);
    Ok(fsx::list_names(&dir)?
        .into_iter()
        .filter(|n| n.ends_with(".json") && !fsx::is_temp_name(n))
        .collect())
}

fn record_name(run_id: &str, item: &str) -> String {
    format!("{run_id}-{item}.json")
}

fn state_dir(ws: &Workspace, state: PromotionState) -> PathBuf {
    ws.paths()
        .learning_dir()
        .join("update-candidates")
        .join(state.as_str())
}

fn find_record(ws: &Workspace, name: &str) -> FsResult<Option<(PromotionState, PromotionRecord)>> {
    for state in PromotionState::ALL {
        let Some(text) = fsx::read_optional(&state_dir(ws, state).join(name))? else {
            continue;
        };
        if let Ok(record) = serde_json::from_str::<PromotionRecord>(&text) {
            return Ok(Some((state, record)));
        }
    }
    Ok(None)
}

fn write_record(ws: &Workspace, name: &str, record: &PromotionRecord) -> FsResult<()> {
    let path = state_dir(ws, record.state).join(name);
    let mut text = serde_json::to_string_pretty(record).unwrap_or_default();
    text.push('\n');
    fsx::write_atomic(&path, text.as_bytes())
}

fn settled(ws: &Workspace, name: &str, state: PromotionState, record: &PromotionRecord) -> Settled {
    Settled {
        record_path: state_dir(ws, state).join(name),
        state,
        files: record.files.iter().map(|f| f.path.clone()).collect(),
        reason: record.rejected_reason.clone(),
    }
}

/// The sha256 of an installed skill file, `None` if there is none.
fn installed_sha(ws: &Workspace, rel: &str) -> FsResult<Option<String>> {
    let path = ws.paths().agents().join("skills").join(rel);
    Ok(fsx::read_optional_bytes(&path)?.map(|b| sha256_hex(&b)))
}

/// The files under `staging`, as sorted `/`-joined relative paths. A
/// symlink, a non-UTF-8 name or a special file rejects the whole stage.
fn staged_files(staging: &Path) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    if !fsx::is_dir(staging) {
        return Ok(out);
    }
    walk(staging, staging, &mut out)?;
    out.sort();
    Ok(out)
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<(), String> {
    for entry in fsx::list_entries(dir).map_err(|e| e.to_string())? {
        let path = entry.path;
        let rel = path.strip_prefix(root).unwrap_or(&path);
        let shown = rel.display();
        if entry.is_symlink {
            return Err(format!("staged path {STAGING_DIR}/{shown} is a symlink"));
        }
        if entry.is_dir {
            walk(root, &path, out)?;
        } else if entry.is_file {
            out.push(
                plain_relative(rel)
                    .ok_or_else(|| format!("staged path {STAGING_DIR}/{shown} is not a plain name"))?,
            );
        } else {
            return Err(format!("staged path {STAGING_DIR}/{shown} is not a regular file"));
        }
    }
    Ok(())
}

/// `rel` as a `/`-joined string of normal components.
fn plain_relative(rel: &Path) -> Option<String> {
    let mut parts = Vec::new();
    for c in rel.components() {
        match c {
            Component::Normal(s) => parts.push(s.to_str()?),
            _ => return None,
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn setup() -> (tempfile::TempDir, Workspace) {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::at(dir.path()).unwrap();
        let skill = ws.paths().agents().join("skills/core/SKILL.md");
        fsx::write_atomic(&skill, b"old\n").unwrap();
        let staged = ws.paths().run_dir("run-1").join("skill_update/core/SKILL.md");
        fsx::write_atomic(&staged, b"new\n").unwrap();
        (dir, ws)
    }

    fn candidate(now: Timestamp) -> Candidate<'static> {
        Candidate {
            run_id: "run-1",
            request_id: "req-1",
            work_item_id: Some("learn-1"),
            update_record: None,
            foreground: &[],
            now,
        }
    }

    #[test]
    fn landing_twice_after_a_crash_between_file_and_record_is_harmless() {
        let (_d, ws) = setup();
        let now = Timestamp::now();
        let first = record(&ws, &candidate(now)).unwrap();
        assert_eq!(first.state, PromotionState::Deferred);
        assert_eq!(
            record(&ws, &candidate(now)).unwrap(),
            first,
            "recording is idempotent"
        );
        assert_eq!(deferred(&ws).unwrap(), ["run-1-learn-1.json"]);
        // A crash after the file landed but before the record moved on.
        let skill = ws.paths().agents().join("skills/core/SKILL.md");
        fsx::write_atomic(&skill, b"new\n").unwrap();
        let landed = land_all(&ws, now).unwrap();
        assert_eq!(landed.len(), 1);
        assert_eq!(landed[0].state, PromotionState::Applied);
        assert!(land_all(&ws, now).unwrap().is_empty(), "nothing left to land");
        assert!(deferred(&ws).unwrap().is_empty());
        assert_eq!(std::fs::read(&skill).unwrap(), b"new\n");
    }

    #[test]
    fn a_symlink_or_an_empty_stage_is_rejected_whole() {
        let (_d, ws) = setup();
        let staging = ws.paths().run_dir("run-1").join(STAGING_DIR);
        std::os::unix::fs::symlink("/etc/passwd", staging.join("core/passwd")).unwrap();
        let settled = record(&ws, &candidate(Timestamp::now())).unwrap();
        assert_eq!(settled.state, PromotionState::Rejected);
        assert!(settled.reason.unwrap().contains("symlink"));

        let other = Candidate {
            run_id: "run-2",
            ..candidate(Timestamp::now())
        };
        let settled = record(&ws, &other).unwrap();
        assert_eq!(settled.state, PromotionState::Rejected);
        assert!(settled.reason.unwrap().contains("nothing staged"));
        assert!(land_all(&ws, Timestamp::now()).unwrap().is_empty());
    }

    #[test]
    fn a_staged_file_edited_after_recording_is_not_landed() {
        let (_d, ws) = setup();
        record(&ws, &candidate(Timestamp::now())).unwrap();
        let staged = ws.paths().run_dir("run-1").join("skill_update/core/SKILL.md");
        fsx::write_atomic(&staged, b"tampered\n").unwrap();
        let settled = land_all(&ws, Timestamp::now()).unwrap();
        assert_eq!(settled[0].state, PromotionState::Rejected);
        let skill = ws.paths().agents().join("skills/core/SKILL.md");
        assert_eq!(std::fs::read(skill).unwrap(), b"old\n");
    }
}
