//! `millrace upgrade`: a three-way comparison of the deployed assets.
//!
//! Input: the baseline manifest (what `init` or the last upgrade deployed),
//! the files now under `millrace-agents/`, and this build's asset table (the
//! candidate). Output: one [`Disposition`] per managed path, and on apply
//! the safe files written and the candidate stored as the new baseline.
//!
//! Invariants: a preview writes nothing; apply writes nothing when any path
//! is a conflict; a file that differs from its baseline is never replaced
//! (checked again just before each write); a second apply changes nothing;
//! runtime state, queues and files the baseline does not manage are never
//! touched. A crash in the middle of an apply leaves files that are either
//! the baseline's or the candidate's, which the next run classifies as
//! updates still to make or as already converged.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::{BaselineManifest, ManifestError, is_deployable};
use crate::plan::sha256_hex;
use crate::workspace::fsx::{self, FsError, Kind};
use crate::workspace::{AGENTS_DIR, Workspace};

/// What an upgrade does with one managed path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Disposition {
    /// The baseline, the workspace and this build agree.
    Unchanged,
    /// Changed in this build only: apply writes the new version.
    SafePackageUpdate,
    /// Changed in the workspace only: kept as it is.
    LocalOnlyModification,
    /// The workspace already holds this build's version (or, for a file
    /// this build no longer ships, no longer holds it).
    AlreadyConverged,
    /// No longer shipped, kept as the operator's own file on request.
    LocalizedRemoved,
    /// Needs a decision; apply refuses while any path is one.
    Conflict,
    /// Shipped but absent from the workspace: apply writes it.
    Missing,
}

impl Disposition {
    pub(crate) const ALL: [Disposition; 7] = [
        Disposition::Unchanged,
        Disposition::SafePackageUpdate,
        Disposition::LocalOnlyModification,
        Disposition::AlreadyConverged,
        Disposition::LocalizedRemoved,
        Disposition::Conflict,
        Disposition::Missing,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Disposition::Unchanged => "unchanged",
            Disposition::SafePackageUpdate => "safe_package_update",
            Disposition::LocalOnlyModification => "local_only_modification",
            Disposition::AlreadyConverged => "already_converged",
            Disposition::LocalizedRemoved => "localized_removed",
            Disposition::Conflict => "conflict",
            Disposition::Missing => "missing",
        }
    }
}

/// One managed path and its disposition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct Classified {
    /// Relative to `millrace-agents/`.
    pub path: String,
    pub disposition: Disposition,
    /// Why it is a conflict.
    pub reason: Option<&'static str>,
}

/// The comparison, before anything is written.
#[derive(Clone, Debug)]
pub(crate) struct Preview {
    pub baseline: BaselineManifest,
    pub candidate: BaselineManifest,
    /// Every path of either manifest, sorted.
    pub entries: Vec<Classified>,
}

impl Preview {
    pub(crate) fn count(&self, disposition: Disposition) -> usize {
        self.entries
            .iter()
            .filter(|e| e.disposition == disposition)
            .count()
    }

    pub(crate) fn conflicts(&self) -> Vec<&str> {
        self.entries
            .iter()
            .filter(|e| e.disposition == Disposition::Conflict)
            .map(|e| e.path.as_str())
            .collect()
    }
}

/// Why an upgrade cannot be previewed or applied.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub(crate) enum UpgradeError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Fs(#[from] FsError),

    #[error(transparent)]
    #[diagnostic(transparent)]
    Manifest(#[from] ManifestError),

    #[error("the workspace has no baseline manifest to compare with")]
    #[diagnostic(
        code(mill::upgrade::no_baseline),
        help(
            "`millrace init` writes one from this build's assets; files that differ from them then \
             count as changed locally"
        )
    )]
    NoBaseline,

    #[error("`{path}` is not a relative path inside millrace-agents/")]
    #[diagnostic(
        code(mill::upgrade::unsafe_path),
        help("name the file as `millrace upgrade` lists it, such as `entrypoints/execution/builder.md`")
    )]
    UnsafePath { path: String },

    #[error("`{path}` cannot be localized: {reason}")]
    #[diagnostic(
        code(mill::upgrade::not_removed),
        help("only a managed file this build no longer ships can be kept as a local file")
    )]
    NotRemoved { path: String, reason: &'static str },

    #[error("upgrade refused, nothing was written: {count} conflict(s): {list}")]
    #[diagnostic(
        code(mill::upgrade::conflicts),
        help(
            "`millrace upgrade` says why each path conflicts. Keep a file this build no longer \
             ships with `--localize-removed <path>`; for any other conflict, delete or rename the \
             workspace's file to take the shipped one, or edit it to match the shipped one (a \
             fresh `millrace init --workspace <scratch dir>` holds every shipped file)"
        )
    )]
    Conflicts { count: usize, list: String },

    #[error("`{path}` changed while the upgrade ran")]
    #[diagnostic(
        code(mill::upgrade::changed_meanwhile),
        help(
            "the files written so far are the shipped ones; run `millrace upgrade` again to see where things stand"
        )
    )]
    ChangedMeanwhile { path: String },
}

/// What is in the workspace at a managed path.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Current {
    Missing,
    File(String),
    NotAFile,
}

/// The disposition of one path from its three hashes. `localized`: the
/// operator asked to keep it although this build no longer ships it.
fn classify(
    baseline: Option<&str>,
    current: &Current,
    candidate: Option<&str>,
    localized: bool,
) -> (Disposition, Option<&'static str>) {
    use Disposition as D;
    let here = match current {
        Current::NotAFile => return (D::Conflict, Some("it is not a regular file in the workspace")),
        Current::Missing => None,
        Current::File(hash) => Some(hash.as_str()),
    };
    match (baseline, here, candidate) {
        (None, None, _) => (D::Missing, None),
        (None, Some(c), Some(n)) if c == n => (D::AlreadyConverged, None),
        (None, Some(_), _) => (
            D::Conflict,
            Some("a file the baseline does not manage is in the place of a newly shipped one"),
        ),
        (Some(_), _, None) if localized => (D::LocalizedRemoved, None),
        (Some(_), None, None) => (D::AlreadyConverged, None),
        (Some(_), Some(_), None) => (
            D::Conflict,
            Some("this build no longer ships it: keep it with --localize-removed, or delete it"),
        ),
        (Some(_), None, Some(_)) => (D::Missing, None),
        (Some(o), Some(c), Some(n)) if c == o && o == n => (D::Unchanged, None),
        (Some(o), Some(c), Some(_)) if c == o => (D::SafePackageUpdate, None),
        (Some(o), Some(_), Some(n)) if n == o => (D::LocalOnlyModification, None),
        (Some(_), Some(c), Some(n)) if c == n => (D::AlreadyConverged, None),
        (Some(_), Some(_), Some(_)) => (
            D::Conflict,
            Some("changed both in the workspace and in this build"),
        ),
    }
}

fn current(ws: &Workspace, rel: &str) -> Result<Current, FsError> {
    let path = ws.agents().join(rel);
    match fsx::kind_of(&path) {
        None => Ok(Current::Missing),
        Some(Kind::File) => Ok(match fsx::read_optional_bytes(&path)? {
            Some(bytes) => Current::File(sha256_hex(&bytes)),
            None => Current::Missing,
        }),
        Some(_) => Ok(Current::NotAFile),
    }
}

fn hashes(manifest: &BaselineManifest) -> BTreeMap<&str, &str> {
    manifest
        .entries
        .iter()
        .map(|e| (e.path.as_str(), e.sha256.as_str()))
        .collect()
}

/// The `--localize-removed` paths, as manifest paths: relative to
/// `millrace-agents/` (a leading `millrace-agents/` is dropped), each a
/// managed file this build no longer ships.
fn localized(
    asked: &[String],
    baseline: &BTreeMap<&str, &str>,
    candidate: &BTreeMap<&str, &str>,
) -> Result<BTreeSet<String>, UpgradeError> {
    let mut out = BTreeSet::new();
    for raw in asked {
        let trimmed = raw.trim();
        let path = trimmed
            .strip_prefix(AGENTS_DIR)
            .and_then(|p| p.strip_prefix('/'))
            .unwrap_or(trimmed);
        if !is_deployable(path) {
            return Err(UpgradeError::UnsafePath { path: raw.clone() });
        }
        let reason = if !baseline.contains_key(path) {
            Some("the baseline does not manage it")
        } else if candidate.contains_key(path) {
            Some("this build still ships it")
        } else {
            None
        };
        if let Some(reason) = reason {
            return Err(UpgradeError::NotRemoved {
                path: raw.clone(),
                reason,
            });
        }
        out.insert(path.to_string());
    }
    Ok(out)
}

/// Classifies every managed path against this build's `assets`.
pub(crate) fn preview(
    ws: &Workspace,
    assets: &[(&str, &[u8])],
    localize: &[String],
) -> Result<Preview, UpgradeError> {
    let baseline = BaselineManifest::load(ws)?.ok_or(UpgradeError::NoBaseline)?;
    let candidate = BaselineManifest::from_assets(assets);
    let (old, new) = (hashes(&baseline), hashes(&candidate));
    let localized = localized(localize, &old, &new)?;
    let paths: BTreeSet<&str> = old.keys().chain(new.keys()).copied().collect();
    let mut entries = Vec::with_capacity(paths.len());
    for path in paths {
        let here = current(ws, path)?;
        let (disposition, reason) = classify(
            old.get(path).copied(),
            &here,
            new.get(path).copied(),
            localized.contains(path),
        );
        entries.push(Classified {
            path: path.to_string(),
            disposition,
            reason,
        });
    }
    Ok(Preview {
        baseline,
        candidate,
        entries,
    })
}

/// What an apply wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Applied {
    /// The files written, relative to `millrace-agents/`.
    pub written: Vec<String>,
    /// Whether the manifest changed (it does not when already current).
    pub manifest_written: bool,
}

/// Writes the safe updates and the missing files of `preview`, then stores
/// the candidate manifest as the baseline. Refuses, before any write, when
/// any path is a conflict.
pub(crate) fn apply(
    ws: &Workspace,
    assets: &[(&str, &[u8])],
    preview: &Preview,
) -> Result<Applied, UpgradeError> {
    let conflicts = preview.conflicts();
    if !conflicts.is_empty() {
        return Err(UpgradeError::Conflicts {
            count: conflicts.len(),
            list: conflicts.join(", "),
        });
    }
    let shipped: BTreeMap<&str, &[u8]> = assets.iter().copied().collect();
    let old = hashes(&preview.baseline);
    let mut applied = Applied::default();
    for entry in &preview.entries {
        let Some(bytes) = shipped.get(entry.path.as_str()) else {
            continue;
        };
        let path = ws.agents().join(&entry.path);
        let changed = || UpgradeError::ChangedMeanwhile {
            path: entry.path.clone(),
        };
        match entry.disposition {
            Disposition::SafePackageUpdate => {
                let expected = old
                    .get(entry.path.as_str())
                    .map(|h| Current::File((*h).to_string()));
                if Some(current(ws, &entry.path)?) != expected {
                    return Err(changed());
                }
                fsx::write_atomic(&path, bytes)?;
            }
            Disposition::Missing => match fsx::write_new(&path, bytes) {
                Err(FsError::Exists { .. }) => return Err(changed()),
                other => other?,
            },
            _ => continue,
        }
        applied.written.push(entry.path.clone());
    }
    if preview.baseline.manifest_id != preview.candidate.manifest_id {
        fsx::write_atomic(
            &ws.paths().baseline_manifest(),
            preview.candidate.to_json().as_bytes(),
        )?;
        applied.manifest_written = true;
    }
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::Disposition as D;
    use super::*;

    fn file(hash: &str) -> Current {
        Current::File(hash.to_string())
    }

    #[test]
    fn the_three_hashes_decide_the_disposition() {
        type Case<'a> = (Option<&'a str>, Current, Option<&'a str>, bool, D);
        let cases: &[Case<'_>] = &[
            (Some("o"), file("o"), Some("o"), false, D::Unchanged),
            (Some("o"), file("o"), Some("n"), false, D::SafePackageUpdate),
            (Some("o"), file("c"), Some("o"), false, D::LocalOnlyModification),
            (Some("o"), file("n"), Some("n"), false, D::AlreadyConverged),
            (Some("o"), file("c"), Some("n"), false, D::Conflict),
            (Some("o"), Current::Missing, Some("n"), false, D::Missing),
            (None, Current::Missing, Some("n"), false, D::Missing),
            (None, file("n"), Some("n"), false, D::AlreadyConverged),
            (None, file("c"), Some("n"), false, D::Conflict),
            (Some("o"), file("o"), None, false, D::Conflict),
            (Some("o"), file("c"), None, true, D::LocalizedRemoved),
            (Some("o"), Current::Missing, None, false, D::AlreadyConverged),
            (Some("o"), Current::NotAFile, Some("o"), false, D::Conflict),
        ];
        for (o, c, n, localized, want) in cases {
            let (got, reason) = classify(*o, c, *n, *localized);
            assert_eq!(got, *want, "{o:?} {c:?} {n:?} localized={localized}");
            assert_eq!(reason.is_some(), got == D::Conflict);
        }
    }
}
