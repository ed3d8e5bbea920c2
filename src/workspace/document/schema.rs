//! The field tables of the four document kinds: markdown label, JSON key,
//! shape, value type, whether it is required, and render order. Parsing,
//! JSON intake, validation and rendering are all driven by these tables, so
//! the four paths cannot drift apart.

use crate::plan::{LearningAction, Plane, WorkItemKind};

use crate::model::{ConsultantDecision, IncidentStatusHint, Severity, SourceType, TaskStatusHint};

/// Scalar (`Label: value`) or list (`Label:` then `- item` lines).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shape {
    Scalar,
    List,
}

/// What a scalar value or list item must look like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ty {
    /// Any non-empty single-line text.
    Text,
    /// A safe identifier.
    Id,
    /// An RFC 3339 timestamp (a missing offset means UTC).
    Timestamp,
    /// `true` or `false`.
    Bool,
    /// A one-line JSON object.
    JsonObject,
    /// One of a closed set of words.
    Choice(&'static [&'static str]),
}

/// One field of a document kind.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Field {
    pub label: &'static str,
    pub key: &'static str,
    pub shape: Shape,
    pub ty: Ty,
    /// Required scalars must be present; required lists need one item.
    pub required: bool,
    /// Rendering skips the value when it equals this text (a default).
    pub omit_when: Option<&'static str>,
    /// Items such as `none`, `n/a` and `-` mean "no items" (task
    /// `Depends-On` and `Blocks`).
    pub drops_none: bool,
}

const fn scalar(label: &'static str, key: &'static str, ty: Ty, required: bool) -> Field {
    Field {
        label,
        key,
        shape: Shape::Scalar,
        ty,
        required,
        omit_when: None,
        drops_none: false,
    }
}

const fn list(label: &'static str, key: &'static str, ty: Ty, required: bool) -> Field {
    Field {
        label,
        key,
        shape: Shape::List,
        ty,
        required,
        omit_when: None,
        drops_none: false,
    }
}

const fn defaulted(mut field: Field, default: &'static str) -> Field {
    field.omit_when = Some(default);
    field
}

const fn dropping_none(mut field: Field) -> Field {
    field.drops_none = true;
    field
}

const PLANES: &[&str] = &["execution", "planning", "learning"];

/// The `Title` field, shared by every kind (it mirrors the H1).
pub(crate) const TITLE: Field = scalar("Title", "title", Ty::Text, true);

pub(crate) const TASK: &[Field] = &[
    scalar("Task-ID", "task_id", Ty::Id, true),
    TITLE,
    defaulted(scalar("Summary", "summary", Ty::Text, false), ""),
    scalar("Root-Idea-ID", "root_idea_id", Ty::Id, false),
    scalar("Root-Spec-ID", "root_spec_id", Ty::Id, false),
    scalar("Spec-ID", "spec_id", Ty::Id, false),
    scalar("Parent-Task-ID", "parent_task_id", Ty::Id, false),
    scalar("Incident-ID", "incident_id", Ty::Id, false),
    scalar(
        "Status-Hint",
        "status_hint",
        Ty::Choice(TaskStatusHint::TEXTS),
        false,
    ),
    scalar("Created-At", "created_at", Ty::Timestamp, true),
    scalar("Created-By", "created_by", Ty::Text, true),
    scalar("Updated-At", "updated_at", Ty::Timestamp, false),
    dropping_none(list("Depends-On", "depends_on", Ty::Id, false)),
    dropping_none(list("Blocks", "blocks", Ty::Id, false)),
    list("Tags", "tags", Ty::Text, false),
    list("Target-Paths", "target_paths", Ty::Text, true),
    list("Acceptance", "acceptance", Ty::Text, true),
    list("Required-Checks", "required_checks", Ty::Text, true),
    list("References", "references", Ty::Text, true),
    list("Risk", "risk", Ty::Text, true),
];

pub(crate) const SPEC: &[Field] = &[
    scalar("Spec-ID", "spec_id", Ty::Id, true),
    TITLE,
    scalar("Summary", "summary", Ty::Text, true),
    scalar("Source-Type", "source_type", Ty::Choice(SourceType::TEXTS), true),
    scalar("Source-ID", "source_id", Ty::Id, false),
    scalar("Parent-Spec-ID", "parent_spec_id", Ty::Id, false),
    scalar("Root-Idea-ID", "root_idea_id", Ty::Id, false),
    scalar("Root-Spec-ID", "root_spec_id", Ty::Id, false),
    scalar("Created-At", "created_at", Ty::Timestamp, true),
    scalar("Created-By", "created_by", Ty::Text, true),
    scalar("Updated-At", "updated_at", Ty::Timestamp, false),
    list("Goals", "goals", Ty::Text, true),
    list("Non-Goals", "non_goals", Ty::Text, false),
    list("Scope", "scope", Ty::Text, false),
    list("Constraints", "constraints", Ty::Text, true),
    list("Assumptions", "assumptions", Ty::Text, false),
    list("Risks", "risks", Ty::Text, false),
    list("Target-Paths", "target_paths", Ty::Text, false),
    list("Entrypoints", "entrypoints", Ty::Text, false),
    list("Required-Skills", "required_skills", Ty::Text, false),
    list("Decomposition-Hints", "decomposition_hints", Ty::Text, false),
    list("Acceptance", "acceptance", Ty::Text, true),
    list("References", "references", Ty::Text, true),
];

pub(crate) const INCIDENT: &[Field] = &[
    scalar("Incident-ID", "incident_id", Ty::Id, true),
    TITLE,
    scalar("Summary", "summary", Ty::Text, true),
    scalar("Root-Idea-ID", "root_idea_id", Ty::Id, false),
    scalar("Root-Spec-ID", "root_spec_id", Ty::Id, false),
    scalar("Source-Task-ID", "source_task_id", Ty::Id, false),
    scalar("Source-Spec-ID", "source_spec_id", Ty::Id, false),
    scalar("Source-Stage", "source_stage", Ty::Id, true),
    scalar("Source-Plane", "source_plane", Ty::Choice(PLANES), true),
    scalar("Failure-Class", "failure_class", Ty::Text, true),
    scalar(
        "Status-Hint",
        "status_hint",
        Ty::Choice(IncidentStatusHint::TEXTS),
        false,
    ),
    defaulted(
        scalar("Severity", "severity", Ty::Choice(Severity::TEXTS), false),
        "medium",
    ),
    defaulted(
        scalar("Needs-Planning", "needs_planning", Ty::Bool, false),
        "true",
    ),
    scalar("Trigger-Reason", "trigger_reason", Ty::Text, true),
    scalar(
        "Consultant-Decision",
        "consultant_decision",
        Ty::Choice(ConsultantDecision::TEXTS),
        true,
    ),
    scalar("Opened-At", "opened_at", Ty::Timestamp, true),
    scalar("Opened-By", "opened_by", Ty::Text, true),
    scalar("Updated-At", "updated_at", Ty::Timestamp, false),
    list("Observed-Symptoms", "observed_symptoms", Ty::Text, false),
    list("Failed-Attempts", "failed_attempts", Ty::Text, false),
    list("Evidence-Paths", "evidence_paths", Ty::Text, false),
    list("Related-Run-IDs", "related_run_ids", Ty::Text, false),
    list("Related-Stage-Results", "related_stage_results", Ty::Text, false),
    list("References", "references", Ty::Text, false),
];

const LEARNING_ACTIONS: &[&str] = &["create", "improve", "promote", "export", "install"];

pub(crate) const LEARNING_REQUEST: &[Field] = &[
    scalar("Learning-Request-ID", "learning_request_id", Ty::Id, true),
    TITLE,
    defaulted(scalar("Summary", "summary", Ty::Text, false), ""),
    scalar(
        "Requested-Action",
        "requested_action",
        Ty::Choice(LEARNING_ACTIONS),
        true,
    ),
    scalar("Target-Skill-ID", "target_skill_id", Ty::Id, false),
    scalar("Target-Stage", "target_stage", Ty::Id, false),
    defaulted(
        scalar("Trigger-Metadata", "trigger_metadata", Ty::JsonObject, false),
        "{}",
    ),
    scalar("Created-At", "created_at", Ty::Timestamp, true),
    scalar("Created-By", "created_by", Ty::Text, true),
    scalar("Updated-At", "updated_at", Ty::Timestamp, false),
    list("Source-Refs", "source_refs", Ty::Text, false),
    list(
        "Preferred-Output-Paths",
        "preferred_output_paths",
        Ty::Text,
        false,
    ),
    list("Originating-Run-IDs", "originating_run_ids", Ty::Id, false),
    list("Artifact-Paths", "artifact_paths", Ty::Text, false),
    list("References", "references", Ty::Text, false),
];

/// The field table of a kind.
pub(crate) fn fields(kind: WorkItemKind) -> &'static [Field] {
    match kind {
        WorkItemKind::Task => TASK,
        WorkItemKind::Spec => SPEC,
        WorkItemKind::Incident => INCIDENT,
        WorkItemKind::LearningRequest => LEARNING_REQUEST,
    }
}

/// The id field of a kind (always the first row).
pub(crate) fn id_field(kind: WorkItemKind) -> &'static Field {
    let table = fields(kind);
    &table[0]
}

/// Finds a field by markdown label, ignoring ASCII case.
pub(crate) fn by_label(kind: WorkItemKind, label: &str) -> Option<(usize, &'static Field)> {
    fields(kind)
        .iter()
        .enumerate()
        .find(|(_, f)| f.label.eq_ignore_ascii_case(label))
}

/// Finds a field by JSON key.
pub(crate) fn by_key(kind: WorkItemKind, key: &str) -> Option<(usize, &'static Field)> {
    fields(kind).iter().enumerate().find(|(_, f)| f.key == key)
}

// The closed vocabularies above must stay in step with the plan's.
const _: () = {
    assert!(PLANES.len() == Plane::ALL.len());
    assert!(LEARNING_ACTIONS.len() == LearningAction::ALL.len());
};
