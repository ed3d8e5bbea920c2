//! Work documents: tasks, specs, incidents and learning requests.
//!
//! Input: markdown (H1 title, `Key: value` scalars, `Key:` + `- item`
//! lists, free prose) or JSON with the same fields as snake_case keys.
//! Output: a typed [`WorkDocument`], or a [`DocumentError`] listing every
//! problem at once with its line and field.
//!
//! Invariants:
//! - parsing never panics, whatever the input;
//! - free prose is kept in `body`, so re-rendering loses nothing;
//! - `parse(render(doc)) == doc` for every valid document;
//! - one field table per kind ([`schema`]) drives markdown parsing, JSON
//!   intake, validation and rendering.

pub(crate) mod idea;
mod json;
mod markdown;
pub(crate) mod schema;
mod validate;

use std::path::Path;

pub use idea::{IdeaSpec, normalize_idea};

use super::fsx::{self, FsError};
use super::problem::{Problem, ProblemSource, count_phrase};
use crate::model::WorkDocument;
use crate::plan::WorkItemKind;

/// Stable codes of document problems.
pub mod codes {
    pub const MISSING_TITLE: &str = "mill::document::missing_title";
    pub const TITLE_MISMATCH: &str = "mill::document::title_mismatch";
    pub const MISSING_FIELD: &str = "mill::document::missing_field";
    pub const EMPTY_LIST: &str = "mill::document::empty_list";
    pub const DUPLICATE_FIELD: &str = "mill::document::duplicate_field";
    pub const INVALID_VALUE: &str = "mill::document::invalid_value";
    pub const INVALID_LIST_ITEM: &str = "mill::document::invalid_list_item";
    pub const ITEMS_UNDER_SCALAR: &str = "mill::document::items_under_scalar";
    pub const UNKNOWN_KIND: &str = "mill::document::unknown_kind";
    pub const AMBIGUOUS_KIND: &str = "mill::document::ambiguous_kind";
    pub const KIND_MISMATCH: &str = "mill::document::kind_mismatch";
    pub const UNKNOWN_FIELD: &str = "mill::document::unknown_field";
    pub const INVALID_JSON: &str = "mill::document::invalid_json";
    pub const ID_MISMATCH: &str = "mill::document::id_mismatch";
}

/// The largest work document read (a task or spec is a page of text; a
/// larger file in a queue is refused and quarantined, not parsed).
pub(crate) const MAX_DOCUMENT_BYTES: u64 = 1024 * 1024;

/// Why a work document cannot be used.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum DocumentError {
    /// The file could not be read.
    #[error("cannot read the work document `{}`", path.display())]
    #[diagnostic(code(mill::document::unreadable), help("check the path and its permissions"))]
    Unreadable {
        path: std::path::PathBuf,
        #[source]
        source: FsError,
    },

    /// The file is neither `.md` nor `.json`.
    #[error("`{}` is neither a `.md` nor a `.json` file", path.display())]
    #[diagnostic(
        code(mill::document::unsupported_extension),
        help("write the document as markdown (`.md`) or JSON (`.json`)")
    )]
    UnsupportedExtension { path: std::path::PathBuf },

    /// One or more problems; each is its own diagnostic with a location.
    #[error("{} in `{file}`", count_phrase(problems.len()))]
    #[diagnostic(
        code(mill::document::invalid),
        help("fix every problem listed; nothing was written")
    )]
    Invalid {
        file: String,
        #[related]
        problems: Vec<Problem>,
    },
}

impl DocumentError {
    /// The individual problems (empty unless `Invalid`).
    pub fn problems(&self) -> &[Problem] {
        match self {
            DocumentError::Invalid { problems, .. } => problems,
            _ => &[],
        }
    }

    /// A one-line reason, for quarantine logs and mailbox failures.
    pub fn summary(&self) -> String {
        match self {
            DocumentError::Invalid { problems, .. } => problems
                .iter()
                .map(|p| match p.line {
                    // A missing field is labelled on the title, not at a line of its own.
                    0 => p.message.clone(),
                    _ if p.code == codes::MISSING_FIELD => p.message.clone(),
                    line => format!("line {line}: {}", p.message),
                })
                .collect::<Vec<_>>()
                .join("; "),
            other => other.to_string(),
        }
    }
}

/// Collects problems for one input.
pub(crate) struct Sink<'a> {
    source: Option<&'a ProblemSource>,
    file: &'a str,
    problems: Vec<Problem>,
}

impl<'a> Sink<'a> {
    pub(crate) fn new(source: Option<&'a ProblemSource>, file: &'a str) -> Self {
        Self {
            source,
            file,
            problems: Vec::new(),
        }
    }

    pub(crate) fn push(
        &mut self,
        code: &'static str,
        field: Option<&str>,
        message: String,
        line: Option<usize>,
    ) {
        let subject = field.map(str::to_string);
        let problem = match self.source {
            Some(source) => Problem::on_line(code, subject, message, line, source),
            None => Problem::unlocated(code, subject, message, self.file),
        };
        self.problems.push(problem);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.problems.is_empty()
    }

    pub(crate) fn into_error(mut self) -> DocumentError {
        self.problems.sort_by_key(|p| p.line);
        DocumentError::Invalid {
            file: self.file.to_string(),
            problems: self.problems,
        }
    }
}

impl WorkDocument {
    /// Parses markdown. With `kind`, the text must be that kind; without,
    /// the kind is inferred from the id label present. `name` labels
    /// problems (usually the path).
    pub fn parse_markdown(kind: Option<WorkItemKind>, text: &str, name: &str) -> Result<Self, DocumentError> {
        markdown::parse(kind, text, name)
    }

    /// Parses JSON text with the same fields as snake_case keys.
    pub fn parse_json(kind: Option<WorkItemKind>, text: &str, name: &str) -> Result<Self, DocumentError> {
        json::parse_text(kind, text, name)
    }

    /// Reads a JSON value (a mailbox payload, for instance).
    pub fn from_json_value(
        kind: Option<WorkItemKind>,
        value: &serde_json::Value,
        name: &str,
    ) -> Result<Self, DocumentError> {
        json::parse_value(kind, value, name)
    }

    /// Reads a `.md` or `.json` file.
    pub fn load(path: &Path, kind: Option<WorkItemKind>) -> Result<Self, DocumentError> {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        let is_json = match ext {
            "md" => false,
            "json" => true,
            _ => {
                return Err(DocumentError::UnsupportedExtension {
                    path: path.to_path_buf(),
                });
            }
        };
        let text = fsx::read_optional_capped(path, MAX_DOCUMENT_BYTES)
            .and_then(|t| {
                t.ok_or_else(|| fsx::FsError::Missing {
                    path: path.to_path_buf(),
                })
            })
            .map_err(|source| DocumentError::Unreadable {
                path: path.to_path_buf(),
                source,
            })?;
        let name = path.display().to_string();
        if is_json {
            Self::parse_json(kind, &text, &name)
        } else {
            Self::parse_markdown(kind, &text, &name)
        }
    }

    /// The canonical markdown form.
    pub fn render(&self) -> String {
        markdown::render(self)
    }

    /// The JSON form: the document's fields plus `schema_version` and `kind`.
    pub fn to_json(&self) -> serde_json::Value {
        json::to_value(self)
    }
}

/// Checks that a document stored as `<stem>.md` has id `stem`.
pub fn check_stem(doc: &WorkDocument, path: &Path) -> Result<(), DocumentError> {
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    if stem == doc.id() {
        return Ok(());
    }
    let name = path.display().to_string();
    let mut sink = Sink::new(None, &name);
    let label = schema::id_field(doc.kind()).label;
    let message = format!("the file is named `{stem}` but its {label} is `{}`", doc.id());
    sink.push(codes::ID_MISMATCH, Some(label), message, None);
    Err(sink.into_error())
}
