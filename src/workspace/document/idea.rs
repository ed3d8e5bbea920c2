//! Turning an idea file dropped in `ideas/inbox/` into a root spec, for the
//! watcher intake.
//!
//! Input: the idea's file name and markdown. Output: an [`IdeaSpec`] (a
//! spec document with id `idea-<stem>`, lineage pointing at itself).
//! Invariant: the same file name always gives the same spec id.

use jiff::Timestamp;

use crate::model::{SourceType, Spec, WorkDocument};

/// A spec derived from an idea, plus the idea path it references.
#[derive(Clone, Debug, PartialEq)]
pub struct IdeaSpec {
    pub spec: WorkDocument,
    /// `ideas/inbox/<file name>`, relative to the workspace root.
    pub idea_reference: String,
}

/// The spec id for an idea file stem: unsafe runs become `-`, leading and
/// trailing `-`/`.` are dropped, and `idea-` is prefixed once.
pub(crate) fn idea_spec_id(stem: &str) -> String {
    let mut cleaned = String::new();
    let mut in_bad_run = false;
    for c in stem.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
            cleaned.push(c);
            in_bad_run = false;
        } else if !in_bad_run {
            cleaned.push('-');
            in_bad_run = true;
        }
    }
    let mut cleaned = cleaned.trim_matches(['-', '.']).to_string();
    while cleaned.contains("..") {
        cleaned = cleaned.replace("..", ".");
    }
    if cleaned.is_empty() {
        cleaned = "idea".into();
    }
    if cleaned.starts_with("idea-") {
        cleaned
    } else {
        format!("idea-{cleaned}")
    }
}

/// Builds the root spec for an idea. `file_name` is the idea's name in the
/// inbox (`my idea.md`); `now` stamps `Created-At`.
pub fn normalize_idea(file_name: &str, markdown: &str, now: Timestamp) -> IdeaSpec {
    let stem = file_name.strip_suffix(".md").unwrap_or(file_name);
    let id = idea_spec_id(stem);
    let strip = |line: &str| line.trim().trim_start_matches('#').trim().to_string();
    let non_empty: Vec<&str> = markdown.lines().filter(|l| !l.trim().is_empty()).collect();
    let title = non_empty
        .iter()
        .find(|l| l.trim_start().starts_with('#'))
        .or(non_empty.first())
        .map(|l| strip(l))
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| stem.trim().to_string());
    let title = if title.is_empty() { id.clone() } else { title };
    let summary = non_empty
        .iter()
        .map(|l| strip(l))
        .find(|l| !l.is_empty() && *l != title)
        .unwrap_or_else(|| format!("Idea captured from {stem}"));
    let reference = format!("ideas/inbox/{file_name}");
    let spec = Spec {
        spec_id: id.clone(),
        title: one_line(&title),
        summary: one_line(&summary),
        source_type: SourceType::Idea,
        source_id: Some(id.clone()),
        parent_spec_id: None,
        root_idea_id: Some(id.clone()),
        root_spec_id: Some(id),
        created_at: now,
        created_by: "watcher".into(),
        updated_at: None,
        goals: vec![one_line(&summary)],
        non_goals: Vec::new(),
        scope: Vec::new(),
        constraints: vec!["generated from ideas/inbox watcher event".into()],
        assumptions: Vec::new(),
        risks: Vec::new(),
        target_paths: Vec::new(),
        entrypoints: Vec::new(),
        required_skills: Vec::new(),
        decomposition_hints: Vec::new(),
        acceptance: vec!["planner processes this idea-derived spec".into()],
        references: vec![reference.clone()],
        body: String::new(),
    };
    IdeaSpec {
        spec: WorkDocument::Spec(spec),
        idea_reference: reference,
    }
}

/// Values are single lines without surrounding whitespace.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn spec_ids_are_safe_and_prefixed_once() {
        assert_eq!(idea_spec_id("my idea!"), "idea-my-idea");
        assert_eq!(idea_spec_id("idea-x"), "idea-x");
        assert_eq!(idea_spec_id("..."), "idea-idea");
        assert_eq!(idea_spec_id("a..b"), "idea-a.b");
    }

    #[test]
    fn normalized_spec_renders_and_parses_back() {
        let now: Timestamp = "2026-01-02T03:04:05Z".parse().unwrap();
        let idea = normalize_idea("fast search.md", "# Fast search\n\nMake search   fast.\n", now);
        let WorkDocument::Spec(spec) = &idea.spec else {
            panic!("a spec")
        };
        assert_eq!(spec.title, "Fast search");
        assert_eq!(spec.summary, "Make search fast.");
        assert_eq!(spec.references, vec!["ideas/inbox/fast search.md".to_string()]);
        let back = WorkDocument::parse_markdown(None, &idea.spec.render(), "x").unwrap();
        assert_eq!(back, idea.spec);
        assert!(idea.spec.is_root_spec());
    }
}
