//! Moving whole skills in and out of a workspace: `skills install` (from a
//! directory, a `SKILL.md` file or a tar archive), `skills export` (to a tar
//! archive) and `skills promote` (into a Millrace source checkout's shipped
//! assets).
//!
//! Input: a source path or an installed [`Skill`]. Output: the skill's
//! directory written, a row for it in `skills_index.md`, and one line per
//! operation in `skills/skill_operations.jsonl`.
//!
//! Invariants: every file goes through `fsx`; an install is written into a
//! hidden directory beside its target and renamed into place, so no reader
//! sees a half-copied skill (a crash between the two renames of a
//! replacement leaves the old skill set aside, hidden, beside the target);
//! nothing is replaced without `force`, and a directory holding other
//! skills is never replaced or exported; symlinks, devices, absolute paths
//! and `..` are refused.

use std::path::{Path, PathBuf};

use super::{Skill, archive, frontmatter, is_hidden, list_value, skills_dir, unquote};
use crate::model::ids::{IdError, check_id};
use crate::workspace::Workspace;
use crate::workspace::fsx::{self, FsError, Kind};

/// At most this many files in one skill.
pub(crate) const MAX_FILES: usize = 1000;
/// At most this many bytes in one skill.
pub(crate) const MAX_BYTES: u64 = 32 * 1024 * 1024;

/// Why a skill cannot be installed, exported or promoted.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub(crate) enum ShareError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Fs(#[from] FsError),

    #[error(transparent)]
    #[diagnostic(transparent)]
    Id(#[from] IdError),

    #[error("`{0}` holds no skill: there is no `SKILL.md` at its top")]
    #[diagnostic(
        code(mill::skills::not_a_skill),
        help(
            "name a directory with a SKILL.md in it, the SKILL.md itself, or a .tar archive of such a directory"
        )
    )]
    NotASkill(String),

    #[error("`{0}` is not a readable tar archive: it is neither a directory nor a SKILL.md")]
    #[diagnostic(
        code(mill::skills::bad_archive),
        help("pack the skill with `tar -cf <id>.tar <id>/` (uncompressed), or install the directory itself")
    )]
    BadArchive(String),

    #[error("the archive entry `{0}` leaves the skill's directory")]
    #[diagnostic(
        code(mill::skills::unsafe_path),
        help("an archive may hold only relative paths without `..`; repack it from the skill's directory")
    )]
    UnsafePath(String),

    #[error("`{path}` is {kind}, which a skill may not contain")]
    #[diagnostic(
        code(mill::skills::unsupported_entry),
        help("a skill holds regular files and directories only; replace links by the files they point to")
    )]
    UnsupportedEntry { path: String, kind: String },

    #[error("the skill is too large (more than {MAX_FILES} files or 32 MiB)")]
    #[diagnostic(
        code(mill::skills::too_large),
        help("a skill is guidance for a stage; keep data sets and binaries out of it")
    )]
    TooLarge,

    #[error("`{}` is already there", path.display())]
    #[diagnostic(code(mill::skills::exists), help("{help}"))]
    Exists { path: PathBuf, help: &'static str },

    #[error("`{}` cannot be replaced or exported as one skill: {reason}", path.display())]
    #[diagnostic(
        code(mill::skills::occupied),
        help("move the directory aside, or give the skill another id in its frontmatter")
    )]
    Occupied { path: PathBuf, reason: &'static str },

    #[error("no Millrace source checkout found{0}")]
    #[diagnostic(
        code(mill::skills::no_checkout),
        help(
            "pass `--to <dir>`: the root of a Millrace checkout, whose Cargo.toml names the `millrace` package and which has `assets/skills/`"
        )
    )]
    NoCheckout(String),
}

/// A skill read from its source, not yet installed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Bundle {
    pub id: String,
    /// Relative to the skill's directory, `/`-separated, sorted.
    pub files: Vec<(String, Vec<u8>)>,
    pub description: Option<String>,
    pub stages: Vec<String>,
}

/// Reads a skill from a directory, its `SKILL.md`, or a tar archive. The id
/// is the frontmatter's `id`, else its `name`, else the directory's name.
pub(crate) fn load(source: &Path) -> Result<Bundle, ShareError> {
    let shown = source.display().to_string();
    let (dir_name, files) = match fsx::kind_of(source) {
        Some(Kind::Dir) => (file_name(source), read_dir_files(source)?),
        Some(Kind::File) if source.file_name().is_some_and(|n| n == "SKILL.md") => {
            let dir = source.parent().unwrap_or(Path::new("."));
            let dir = fsx::canonical(dir).unwrap_or_else(|| dir.to_path_buf());
            (file_name(&dir), read_dir_files(&dir)?)
        }
        Some(Kind::File) => {
            let bytes = fsx::read_capped(source, MAX_BYTES * 2)?.unwrap_or_default();
            let files = archive::read(&bytes).map_err(|e| match e {
                ShareError::BadArchive(_) => ShareError::BadArchive(shown.clone()),
                other => other,
            })?;
            let stem = source.file_stem().map(|s| s.to_string_lossy().into_owned());
            strip_top(stem.unwrap_or_default(), files)
        }
        _ => {
            return Err(FsError::Missing {
                path: source.to_path_buf(),
            }
            .into());
        }
    };
    let mut files = files;
    files.sort();
    let Some((_, skill_md)) = files.iter().find(|(p, _)| p == "SKILL.md") else {
        return Err(ShareError::NotASkill(shown));
    };
    let text = String::from_utf8_lossy(skill_md).into_owned();
    let mut bundle = Bundle {
        id: dir_name,
        files: Vec::new(),
        description: None,
        stages: Vec::new(),
    };
    let mut named = false;
    for (key, value) in frontmatter(&text).unwrap_or_default() {
        match key {
            "id" if !value.is_empty() => {
                bundle.id = unquote(value).to_string();
                named = true;
            }
            "name" if !value.is_empty() && !named => bundle.id = unquote(value).to_string(),
            "description" => bundle.description = Some(unquote(value).to_string()),
            "stages" => bundle.stages = list_value(value),
            _ => {}
        }
    }
    check_id("skill id", &bundle.id)?;
    bundle.files = files;
    Ok(bundle)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// An archive's files without their common top directory, when the skill
/// sits in one (`<id>/SKILL.md`); `stem` names a skill packed flat.
fn strip_top(stem: String, files: Vec<(String, Vec<u8>)>) -> (String, Vec<(String, Vec<u8>)>) {
    if files.iter().any(|(p, _)| p == "SKILL.md") {
        return (stem, files);
    }
    let top = files
        .first()
        .and_then(|(p, _)| p.split_once('/'))
        .map(|(t, _)| t.to_string());
    match top {
        Some(top) if files.iter().all(|(p, _)| p.starts_with(&format!("{top}/"))) => {
            let inner = files
                .into_iter()
                .map(|(p, b)| (p[top.len() + 1..].to_string(), b))
                .collect();
            (top, inner)
        }
        _ => (stem, files),
    }
}

/// Every file under `dir`, relative to it; hidden entries are skipped,
/// links and devices refused.
fn read_dir_files(dir: &Path) -> Result<Vec<(String, Vec<u8>)>, ShareError> {
    let mut files = Vec::new();
    let mut total = 0u64;
    walk_files(dir, "", &mut files, &mut total)?;
    Ok(files)
}

fn walk_files(
    dir: &Path,
    prefix: &str,
    files: &mut Vec<(String, Vec<u8>)>,
    total: &mut u64,
) -> Result<(), ShareError> {
    for entry in fsx::list_entries(dir)? {
        if is_hidden(&entry.path) {
            continue;
        }
        let name =
            entry
                .path
                .file_name()
                .and_then(|n| n.to_str())
                .ok_or_else(|| ShareError::UnsupportedEntry {
                    path: entry.path.display().to_string(),
                    kind: "a name that is not UTF-8".into(),
                })?;
        let rel = format!("{prefix}{name}");
        if entry.is_dir {
            walk_files(&entry.path, &format!("{rel}/"), files, total)?;
        } else if entry.is_file {
            let bytes = fsx::read_capped(&entry.path, MAX_BYTES)?.unwrap_or_default();
            *total += bytes.len() as u64;
            if files.len() >= MAX_FILES || *total > MAX_BYTES {
                return Err(ShareError::TooLarge);
            }
            files.push((rel, bytes));
        } else {
            let kind = if entry.is_symlink {
                "a symbolic link"
            } else {
                "not a regular file"
            };
            return Err(ShareError::UnsupportedEntry {
                path: entry.path.display().to_string(),
                kind: kind.into(),
            });
        }
    }
    Ok(())
}

/// The files of an installed skill, for export or promotion. Refuses a
/// directory that holds other skills.
pub(crate) fn files_of(ws: &Workspace, skill: &Skill) -> Result<Vec<(String, Vec<u8>)>, ShareError> {
    let dir = skill_dir(ws, skill);
    let mut files = read_dir_files(&dir)?;
    guard_nested(&dir, &files)?;
    files.sort();
    Ok(files)
}

fn skill_dir(ws: &Workspace, skill: &Skill) -> PathBuf {
    let rel = Path::new(&skill.path).parent().unwrap_or(Path::new(""));
    skills_dir(ws).join(rel)
}

fn guard_nested(dir: &Path, files: &[(String, Vec<u8>)]) -> Result<(), ShareError> {
    if files.iter().any(|(p, _)| p.ends_with("/SKILL.md")) {
        return Err(ShareError::Occupied {
            path: dir.to_path_buf(),
            reason: "it holds other skills",
        });
    }
    Ok(())
}

/// What an install did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Installed {
    pub dir: PathBuf,
    pub replaced: bool,
}

/// Installs `bundle`: into the directory of the installed skill with the
/// same id (only with `force`), else into `skills/<id>/`.
pub(crate) fn install(ws: &Workspace, bundle: &Bundle, force: bool) -> Result<Installed, ShareError> {
    let installed = super::find(ws, &bundle.id)?;
    let target = match &installed {
        Some(skill) => skill_dir(ws, skill),
        None => skills_dir(ws).join(&bundle.id),
    };
    let replaced = fsx::kind_of(&target).is_some();
    if replaced {
        if installed.is_none() || fsx::kind_of(&target) != Some(Kind::Dir) {
            return Err(ShareError::Occupied {
                path: target,
                reason: "it is not an installed skill's directory",
            });
        }
        if !force {
            return Err(ShareError::Exists {
                path: target,
                help: "pass `--force` to replace the installed skill",
            });
        }
        guard_nested(&target, &read_dir_files(&target)?)?;
    }
    let parent = target.parent().unwrap_or(Path::new(".")).to_path_buf();
    let name = file_name(&target);
    let tag = format!("{}-{:08x}", std::process::id(), fastrand::u32(..));
    let staged = parent.join(format!(".{name}.tmp-{tag}"));
    let written = bundle
        .files
        .iter()
        .try_for_each(|(rel, bytes)| fsx::write_new(&staged.join(rel), bytes));
    if let Err(e) = written {
        let _ = fsx::remove_tree(&staged);
        return Err(e.into());
    }
    if replaced {
        let old = parent.join(format!(".{name}.old-{tag}"));
        fsx::rename(&target, &old)?;
        fsx::rename(&staged, &target)?;
        fsx::remove_tree(&old)?;
    } else {
        fsx::rename(&staged, &target)?;
    }
    fsx::sync_dir(&parent)?;
    let rel = target
        .strip_prefix(ws.agents())
        .unwrap_or(&target)
        .join("SKILL.md");
    let index = skills_dir(ws).join("skills_index.md");
    upsert_index_row(&index, bundle, &rel.to_string_lossy())?;
    Ok(Installed {
        dir: target,
        replaced,
    })
}

/// Writes a tar archive of an installed skill to `output` (never replacing
/// a file); returns the number of files.
pub(crate) fn export(ws: &Workspace, skill: &Skill, output: &Path) -> Result<usize, ShareError> {
    let files = files_of(ws, skill)?;
    let bytes = archive::write(&skill.id, &files)?;
    fsx::write_new(output, &bytes)?;
    Ok(files.len())
}

/// The Millrace source checkout: `explicit`, else the nearest ancestor of
/// one of `starts` whose Cargo.toml is the `millrace` package's and that has
/// `assets/skills/`.
pub(crate) fn find_checkout(explicit: Option<&Path>, starts: &[&Path]) -> Result<PathBuf, ShareError> {
    let is_checkout = |dir: &Path| {
        fsx::is_dir(&dir.join("assets/skills"))
            && fsx::read_optional(&dir.join("Cargo.toml"))
                .ok()
                .flatten()
                .is_some_and(|t| t.lines().any(|l| l.trim() == "name = \"millrace\""))
    };
    if let Some(dir) = explicit {
        return if is_checkout(dir) {
            Ok(dir.to_path_buf())
        } else {
            Err(ShareError::NoCheckout(format!(" at `{}`", dir.display())))
        };
    }
    starts
        .iter()
        .flat_map(|s| s.ancestors())
        .find(|d| is_checkout(d))
        .map(Path::to_path_buf)
        .ok_or_else(|| ShareError::NoCheckout(" above the workspace or the current directory".into()))
}

/// Copies an installed skill into `<checkout>/assets/skills/<id>/` and adds
/// its row to the checkout's `skills_index.md`; returns the new directory.
pub(crate) fn promote(ws: &Workspace, skill: &Skill, checkout: &Path) -> Result<PathBuf, ShareError> {
    let files = files_of(ws, skill)?;
    let assets = checkout.join("assets/skills");
    let target = assets.join(&skill.id);
    if fsx::kind_of(&target).is_some() {
        return Err(ShareError::Exists {
            path: target,
            help: "the checkout already ships a skill there; compare and merge by hand",
        });
    }
    for (rel, bytes) in &files {
        fsx::write_new(&target.join(rel), bytes)?;
    }
    let bundle = Bundle {
        id: skill.id.clone(),
        files: Vec::new(),
        description: skill.description.clone(),
        stages: skill.stages.clone(),
    };
    let row_path = format!("skills/{}/SKILL.md", skill.id);
    upsert_index_row(&assets.join("skills_index.md"), &bundle, &row_path)?;
    Ok(target)
}

/// Adds the skill's row to a `skills_index.md` table, or replaces the row
/// of the same id; creates the index when there is none. `rel` is the
/// SKILL.md path relative to `millrace-agents/`.
fn upsert_index_row(index: &Path, bundle: &Bundle, rel: &str) -> Result<(), FsError> {
    let cell = |s: &str| s.replace('|', "\\|");
    let stages = if bundle.stages.is_empty() {
        "-".to_string()
    } else {
        bundle.stages.join(", ")
    };
    let row = format!(
        "| `{}` | `millrace-agents/{rel}` | {} | {} |",
        bundle.id,
        cell(bundle.description.as_deref().unwrap_or("-")),
        cell(&stages)
    );
    let text = fsx::read_optional(index)?.unwrap_or_else(|| {
        "# Skills index\n\n| Skill | Path | Purpose | Recommended stages |\n| --- | --- | --- | --- |\n"
            .into()
    });
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let key = format!("| `{}` |", bundle.id);
    if let Some(at) = lines.iter().position(|l| l.starts_with(&key)) {
        lines[at] = row;
    } else if let Some(last) = lines.iter().rposition(|l| l.starts_with('|')) {
        lines.insert(last + 1, row);
    } else {
        lines.extend([
            String::new(),
            "| Skill | Path | Purpose | Recommended stages |".into(),
            "| --- | --- | --- | --- |".into(),
            row,
        ]);
    }
    fsx::write_atomic(index, (lines.join("\n") + "\n").as_bytes())
}

/// Appends one line to `skills/skill_operations.jsonl`.
pub(crate) fn log_operation(
    ws: &Workspace,
    operation: &str,
    skill_id: &str,
    source: &str,
    destination: &str,
) -> Result<(), FsError> {
    let line = serde_json::json!({
        "at": jiff::Timestamp::now(),
        "operation": operation,
        "skill_id": skill_id,
        "source": source,
        "destination": destination,
    });
    fsx::append_line(&skills_dir(ws).join("skill_operations.jsonl"), &line.to_string())
}
