//! Work documents as data: tasks, specs, incidents, learning requests, and
//! the queue states they move through.
//!
//! Input: nothing (pure data). Output: the typed documents, whose field
//! names are the snake_case JSON keys. Parsing, validation and rendering
//! (markdown and JSON) are `workspace::document`; its field table holds
//! the markdown labels and rules.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::plan::{LearningAction, Plane, WorkItemKind};

macro_rules! choice {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $(#[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// Every value's text, in declaration order.
            pub const TEXTS: &'static [&'static str] = &[$($text),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }
    };
}

choice! {
    /// An advisory hint of where a task is (the directory is the truth).
    TaskStatusHint { Queued => "queued", Active => "active", Blocked => "blocked", Done => "done" }
}

choice! {
    /// An advisory hint of where an incident is.
    IncidentStatusHint { Incoming => "incoming", Active => "active", Blocked => "blocked", Resolved => "resolved" }
}

choice! {
    /// Where a spec came from.
    SourceType { Idea => "idea", Incident => "incident", Manual => "manual", DerivedSpec => "derived_spec" }
}

choice! {
    /// How bad an incident is.
    Severity { Low => "low", Medium => "medium", High => "high", Critical => "critical" }
}

choice! {
    /// What the consultant decided when it opened an incident.
    ConsultantDecision { NeedsPlanning => "needs_planning", Blocked => "blocked" }
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

fn default_severity() -> Severity {
    Severity::Medium
}

/// A unit of execution work (`tasks/`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Task {
    pub task_id: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub summary: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_idea_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_spec_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_task_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_hint: Option<TaskStatusHint>,
    pub created_at: Timestamp,
    pub created_by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<Timestamp>,
    /// Task ids that must be in `tasks/done/` before this one is claimable.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocks: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    pub target_paths: Vec<String>,
    pub acceptance: Vec<String>,
    pub required_checks: Vec<String>,
    pub references: Vec<String>,
    pub risk: Vec<String>,
    /// Free prose kept verbatim (the reference dropped it).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub body: String,
}

/// A unit of planning work (`specs/`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Spec {
    pub spec_id: String,
    pub title: String,
    pub summary: String,
    pub source_type: SourceType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_spec_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_idea_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_spec_id: Option<String>,
    pub created_at: Timestamp,
    pub created_by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<Timestamp>,
    pub goals: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub non_goals: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scope: Vec<String>,
    pub constraints: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assumptions: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub risks: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub target_paths: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entrypoints: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required_skills: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub decomposition_hints: Vec<String>,
    pub acceptance: Vec<String>,
    pub references: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub body: String,
}

/// A failure escalated to planning (`incidents/`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    pub incident_id: String,
    pub title: String,
    pub summary: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_idea_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_spec_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_task_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_spec_id: Option<String>,
    pub source_stage: String,
    pub source_plane: Plane,
    pub failure_class: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_hint: Option<IncidentStatusHint>,
    #[serde(default = "default_severity")]
    pub severity: Severity,
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub needs_planning: bool,
    pub trigger_reason: String,
    pub consultant_decision: ConsultantDecision,
    pub opened_at: Timestamp,
    pub opened_by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub observed_symptoms: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed_attempts: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence_paths: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub related_run_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub related_stage_results: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub body: String,
}

/// A request for the learning plane (`learning/requests/`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LearningRequest {
    pub learning_request_id: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub summary: String,
    pub requested_action: LearningAction,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_skill_id: Option<String>,
    /// The learning stage to enter at (shipped: analyst, professor, curator).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_stage: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger_metadata: Option<serde_json::Map<String, serde_json::Value>>,
    pub created_at: Timestamp,
    pub created_by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub source_refs: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub preferred_output_paths: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub originating_run_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub artifact_paths: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub body: String,
}

/// The lifecycle state of a work document, one directory per state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueState {
    /// Waiting to be claimed (the intake directory).
    Queued,
    /// Claimed by the runtime.
    Active,
    /// Finished successfully (`resolved/` for incidents).
    Done,
    /// Stopped for good from the runtime's point of view.
    Blocked,
}

impl QueueState {
    pub const ALL: [QueueState; 4] = [
        QueueState::Queued,
        QueueState::Active,
        QueueState::Done,
        QueueState::Blocked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            QueueState::Queued => "queued",
            QueueState::Active => "active",
            QueueState::Done => "done",
            QueueState::Blocked => "blocked",
        }
    }
}

/// Any work document.
#[derive(Clone, Debug, PartialEq)]
pub enum WorkDocument {
    Task(Task),
    Spec(Spec),
    Incident(Incident),
    LearningRequest(LearningRequest),
}

impl WorkDocument {
    pub fn kind(&self) -> WorkItemKind {
        match self {
            WorkDocument::Task(_) => WorkItemKind::Task,
            WorkDocument::Spec(_) => WorkItemKind::Spec,
            WorkDocument::Incident(_) => WorkItemKind::Incident,
            WorkDocument::LearningRequest(_) => WorkItemKind::LearningRequest,
        }
    }

    pub fn id(&self) -> &str {
        match self {
            WorkDocument::Task(d) => &d.task_id,
            WorkDocument::Spec(d) => &d.spec_id,
            WorkDocument::Incident(d) => &d.incident_id,
            WorkDocument::LearningRequest(d) => &d.learning_request_id,
        }
    }

    pub fn title(&self) -> &str {
        match self {
            WorkDocument::Task(d) => &d.title,
            WorkDocument::Spec(d) => &d.title,
            WorkDocument::Incident(d) => &d.title,
            WorkDocument::LearningRequest(d) => &d.title,
        }
    }

    /// The time claim order is based on: `Created-At`, or `Opened-At` for
    /// incidents.
    pub fn claim_time(&self) -> Timestamp {
        match self {
            WorkDocument::Task(d) => d.created_at,
            WorkDocument::Spec(d) => d.created_at,
            WorkDocument::Incident(d) => d.opened_at,
            WorkDocument::LearningRequest(d) => d.created_at,
        }
    }

    /// Task ids that must be done first (empty for other kinds).
    pub fn depends_on(&self) -> &[String] {
        match self {
            WorkDocument::Task(d) => &d.depends_on,
            _ => &[],
        }
    }

    pub fn root_spec_id(&self) -> Option<&str> {
        match self {
            WorkDocument::Task(d) => d.root_spec_id.as_deref(),
            WorkDocument::Spec(d) => d.root_spec_id.as_deref(),
            WorkDocument::Incident(d) => d.root_spec_id.as_deref(),
            WorkDocument::LearningRequest(_) => None,
        }
    }

    pub fn root_idea_id(&self) -> Option<&str> {
        match self {
            WorkDocument::Task(d) => d.root_idea_id.as_deref(),
            WorkDocument::Spec(d) => d.root_idea_id.as_deref(),
            WorkDocument::Incident(d) => d.root_idea_id.as_deref(),
            WorkDocument::LearningRequest(_) => None,
        }
    }

    /// A task's `Spec-ID`; a spec's own id.
    pub fn spec_id(&self) -> Option<&str> {
        match self {
            WorkDocument::Task(d) => d.spec_id.as_deref(),
            WorkDocument::Spec(d) => Some(&d.spec_id),
            _ => None,
        }
    }

    /// The closure family this document belongs to: its `Root-Spec-ID`;
    /// else a task's `Spec-ID`, an incident's `Source-Spec-ID`, or a spec's
    /// own id when it came from an idea or was written by hand.
    pub fn effective_root_spec_id(&self) -> Option<&str> {
        if let Some(root) = self.root_spec_id() {
            return Some(root);
        }
        match self {
            WorkDocument::Task(d) => d.spec_id.as_deref(),
            WorkDocument::Incident(d) => d.source_spec_id.as_deref(),
            WorkDocument::Spec(d) if matches!(d.source_type, SourceType::Idea | SourceType::Manual) => {
                Some(&d.spec_id)
            }
            _ => None,
        }
    }

    /// Whether this is a root spec: the top of a closure family.
    pub fn is_root_spec(&self) -> bool {
        let WorkDocument::Spec(d) = self else { return false };
        if d.root_spec_id.as_deref() == Some(d.spec_id.as_str()) {
            return true;
        }
        let parent_none = d
            .parent_spec_id
            .as_deref()
            .is_none_or(|p| p.eq_ignore_ascii_case("none"));
        d.root_spec_id.is_none()
            && parent_none
            && matches!(d.source_type, SourceType::Idea | SourceType::Manual)
    }
}
