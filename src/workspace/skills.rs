//! The installed skills: every `SKILL.md` under `millrace-agents/skills/`.
//!
//! Input: the skills tree. Output: [`Skill`] entries (id, path, stages,
//! description from the frontmatter) for `millrace skills`; [`share`]
//! installs, exports and promotes whole skill directories.
//!
//! Invariants: reading never fails on one bad skill: a file without usable
//! frontmatter is listed under its directory name with a note; symlinks are
//! not followed, so a listing never leaves the skills tree; hidden entries
//! (an install being staged) are not skills.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::Workspace;
use super::fsx::{self, FsResult};

mod archive;
pub(crate) mod share;

/// One installed skill.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct Skill {
    /// The frontmatter `id`, else its `name` (as agent harnesses spell
    /// it), else the directory name.
    pub id: String,
    /// Relative to `millrace-agents/skills/`.
    pub path: String,
    pub stages: Vec<String>,
    pub description: Option<String>,
    /// What is wrong with the frontmatter, if anything.
    pub note: Option<String>,
}

/// Every installed skill, sorted by path.
pub(crate) fn list(ws: &Workspace) -> FsResult<Vec<Skill>> {
    let root = skills_dir(ws);
    let mut files = Vec::new();
    if fsx::is_dir(&root) {
        walk(&root, &mut files)?;
    }
    files.sort();
    let mut out = Vec::with_capacity(files.len());
    for file in files {
        let text = fsx::read_text(&file)?;
        out.push(describe(&root, &file, &text));
    }
    Ok(out)
}

/// The skill with this id (frontmatter id or directory name).
pub(crate) fn find(ws: &Workspace, id: &str) -> FsResult<Option<Skill>> {
    Ok(list(ws)?.into_iter().find(|s| s.id == id))
}

/// The skills directory.
pub(crate) fn skills_dir(ws: &Workspace) -> PathBuf {
    ws.paths().agents().join("skills")
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> FsResult<()> {
    for entry in fsx::list_entries(dir)? {
        if is_hidden(&entry.path) {
            continue;
        }
        if entry.is_dir {
            walk(&entry.path, out)?;
        } else if entry.is_file && entry.path.file_name().is_some_and(|n| n == "SKILL.md") {
            out.push(entry.path);
        }
    }
    Ok(())
}

fn is_hidden(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
}

fn describe(root: &Path, file: &Path, text: &str) -> Skill {
    let rel = file.strip_prefix(root).unwrap_or(file);
    let dir_name = rel
        .parent()
        .and_then(Path::file_name)
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut skill = Skill {
        id: dir_name,
        path: rel.to_string_lossy().into_owned(),
        stages: Vec::new(),
        description: None,
        note: None,
    };
    let Some(fields) = frontmatter(text) else {
        skill.note = Some("no frontmatter (`---` block with `id`, `stages`, `description`)".into());
        return skill;
    };
    let mut named = false;
    for (key, value) in fields {
        match key {
            "id" if !value.is_empty() => {
                skill.id = unquote(value).to_string();
                named = true;
            }
            "name" if !value.is_empty() && !named => skill.id = unquote(value).to_string(),
            "stages" => skill.stages = list_value(value),
            "description" => skill.description = Some(unquote(value).to_string()),
            _ => {}
        }
    }
    skill
}

/// The `key: value` lines of a leading `---` block.
fn frontmatter(text: &str) -> Option<Vec<(&str, &str)>> {
    let mut lines = text.lines();
    if lines.next()?.trim_end() != "---" {
        return None;
    }
    let mut fields = Vec::new();
    for line in lines {
        if line.trim_end() == "---" {
            return Some(fields);
        }
        if let Some((key, value)) = line.split_once(':') {
            fields.push((key.trim(), value.trim()));
        }
    }
    None
}

/// `[a, b]` or `a, b` as a list.
fn list_value(value: &str) -> Vec<String> {
    let inner = value.trim().trim_start_matches('[').trim_end_matches(']');
    inner
        .split(',')
        .map(|s| unquote(s.trim()).to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

fn unquote(value: &str) -> &str {
    value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frontmatter_fields_fill_a_skill() {
        let text = "---\nasset: skill\nid: checker-core\nstages: [checker, doublechecker]\ndescription: \"Verify.\"\n---\n# Body\n";
        let s = describe(
            Path::new("/s"),
            Path::new("/s/stage/execution/checker/SKILL.md"),
            text,
        );
        assert_eq!(s.id, "checker-core");
        assert_eq!(s.stages, ["checker", "doublechecker"]);
        assert_eq!(s.description.as_deref(), Some("Verify."));
        assert_eq!(s.path, "stage/execution/checker/SKILL.md");
        assert!(s.note.is_none());
    }

    #[test]
    fn a_skill_without_frontmatter_keeps_its_directory_name() {
        let s = describe(Path::new("/s"), Path::new("/s/mine/SKILL.md"), "# Mine\n");
        assert_eq!(s.id, "mine");
        assert!(s.note.is_some());
        let unterminated = describe(Path::new("/s"), Path::new("/s/x/SKILL.md"), "---\nid: y\n");
        assert_eq!(unterminated.id, "x");
    }
}
