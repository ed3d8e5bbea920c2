//! Checking raw field values against a kind's table and building the typed
//! document. Shared by the markdown and JSON readers, so both report the
//! same problems with the same codes.

use jiff::Timestamp;
use serde_json::{Map, Value};

use super::schema::{self, Field, Shape, Ty};
use super::{Sink, codes};
use crate::model::WorkDocument;
use crate::model::ids::id_problem;
use crate::plan::WorkItemKind;

/// A value as written, before checking.
#[derive(Clone, Debug)]
pub(super) enum RawValue {
    Scalar(String),
    /// Items with their line numbers.
    List(Vec<(String, Option<usize>)>),
}

/// One field as written, with the line of its label.
#[derive(Clone, Debug)]
pub(super) struct RawField {
    pub value: RawValue,
    pub line: Option<usize>,
}

/// A document as written: title, fields by table index, prose.
#[derive(Debug)]
pub(super) struct Raw {
    pub kind: WorkItemKind,
    /// The H1 text (or JSON `title`) and its line.
    pub title: Option<(String, Option<usize>)>,
    pub fields: Vec<Option<RawField>>,
    /// Fields already reported by the reader (not "missing" as well).
    pub reported: Vec<usize>,
    pub body: String,
}

impl Raw {
    pub(super) fn new(kind: WorkItemKind) -> Self {
        Self {
            kind,
            title: None,
            fields: vec![None; schema::fields(kind).len()],
            reported: Vec::new(),
            body: String::new(),
        }
    }
}

/// Checks every field and builds the document if nothing is wrong. Every
/// problem is pushed to `sink`; the function never stops at the first.
pub(super) fn build(raw: &Raw, sink: &mut Sink<'_>) -> Option<WorkDocument> {
    let table = schema::fields(raw.kind);
    let mut map = Map::new();
    let title_line = raw.title.as_ref().and_then(|(_, line)| *line);
    check_title(raw, sink, &mut map);
    for (index, (field, written)) in table.iter().zip(&raw.fields).enumerate() {
        if field.key == "title" || raw.reported.contains(&index) {
            continue;
        }
        match written {
            Some(written) => check_field(field, written, sink, &mut map),
            None if field.required => {
                let message = format!("missing required field `{}`", field.label);
                sink.push(codes::MISSING_FIELD, Some(field.label), message, title_line);
            }
            None => {}
        }
    }
    if !raw.body.is_empty() {
        map.insert("body".into(), Value::String(raw.body.clone()));
    }
    check_no_self_dependency(raw, sink, &map);
    if !sink.is_empty() {
        return None;
    }
    let value = Value::Object(map);
    let built = match raw.kind {
        WorkItemKind::Task => serde_json::from_value(value).map(WorkDocument::Task),
        WorkItemKind::Spec => serde_json::from_value(value).map(WorkDocument::Spec),
        WorkItemKind::Incident => serde_json::from_value(value).map(WorkDocument::Incident),
        WorkItemKind::LearningRequest => serde_json::from_value(value).map(WorkDocument::LearningRequest),
    };
    match built {
        Ok(doc) => Some(doc),
        Err(e) => {
            // The checks above mirror the model; reaching this is a bug.
            sink.push(codes::INVALID_VALUE, None, format!("internal: {e}"), None);
            None
        }
    }
}

/// A task that depends on itself could never be claimed: it would wait in
/// its queue forever with nothing to say why.
fn check_no_self_dependency(raw: &Raw, sink: &mut Sink<'_>, map: &Map<String, Value>) {
    let (Some(id), Some(Value::Array(deps))) =
        (map.get("task_id").and_then(Value::as_str), map.get("depends_on"))
    else {
        return;
    };
    if !deps.iter().any(|d| d.as_str() == Some(id)) {
        return;
    }
    let line = schema::fields(raw.kind)
        .iter()
        .position(|f| f.key == "depends_on")
        .and_then(|i| raw.fields.get(i)?.as_ref()?.line);
    let message = format!("task `{id}` depends on itself, so it could never be claimed");
    sink.push(codes::INVALID_VALUE, Some("Depends-On"), message, line);
}

fn check_title(raw: &Raw, sink: &mut Sink<'_>, map: &mut Map<String, Value>) {
    let title_index = schema::fields(raw.kind).iter().position(|f| f.key == "title");
    let field_title = title_index
        .and_then(|i| raw.fields.get(i))
        .and_then(|f| f.as_ref())
        .and_then(|f| match &f.value {
            RawValue::Scalar(s) => Some((s.clone(), f.line)),
            RawValue::List(_) => None,
        });
    match (&raw.title, field_title) {
        (Some((h1, _)), Some((field, line))) if *h1 != field => {
            let message = format!("`Title: {field}` differs from the heading `# {h1}`");
            sink.push(codes::TITLE_MISMATCH, Some("Title"), message, line);
        }
        (Some((h1, line)), _) => {
            if let Some(problem) = text_problem(h1) {
                sink.push(
                    codes::INVALID_VALUE,
                    Some("Title"),
                    format!("invalid title: {problem}"),
                    *line,
                );
            } else {
                map.insert("title".into(), Value::String(h1.clone()));
            }
        }
        (None, _) => {} // reported by the reader, which knows where the title should be
    }
}

fn check_field(field: &Field, written: &RawField, sink: &mut Sink<'_>, map: &mut Map<String, Value>) {
    match (&written.value, field.shape) {
        (RawValue::Scalar(text), Shape::Scalar) => match check_value(field.ty, text) {
            Ok(value) => {
                map.insert(field.key.into(), value);
            }
            Err(reason) => {
                let message = format!("invalid `{}`: {reason}", field.label);
                sink.push(codes::INVALID_VALUE, Some(field.label), message, written.line);
            }
        },
        (RawValue::List(items), Shape::List) => {
            let mut values = Vec::new();
            for (item, line) in items {
                if field.drops_none && is_none_word(item) {
                    continue;
                }
                match check_value(field.ty, item) {
                    Ok(value) => values.push(value),
                    Err(reason) => {
                        let message = format!("invalid `{}` item: {reason}", field.label);
                        sink.push(
                            codes::INVALID_VALUE,
                            Some(field.label),
                            message,
                            line.or(written.line),
                        );
                    }
                }
            }
            if values.is_empty() && field.required {
                let message = format!("`{}` needs at least one `- item`", field.label);
                sink.push(codes::EMPTY_LIST, Some(field.label), message, written.line);
            }
            if !values.is_empty() {
                map.insert(field.key.into(), Value::Array(values));
            }
        }
        (RawValue::List(_), Shape::Scalar) => {
            let message = format!("`{}` takes one value, not a list", field.label);
            sink.push(
                codes::ITEMS_UNDER_SCALAR,
                Some(field.label),
                message,
                written.line,
            );
        }
        (RawValue::Scalar(_), Shape::List) => {
            let message = format!("`{}` is a list of `- item` lines", field.label);
            sink.push(codes::INVALID_VALUE, Some(field.label), message, written.line);
        }
    }
}

/// `none`, `n/a` and `-` (any case) mean "no items" in dependency lists.
fn is_none_word(item: &str) -> bool {
    ["none", "n/a", "-"].iter().any(|w| item.eq_ignore_ascii_case(w))
}

/// Checks one text value and converts it to its JSON form.
fn check_value(ty: Ty, text: &str) -> Result<Value, String> {
    if let Some(problem) = text_problem(text) {
        return Err(problem);
    }
    match ty {
        Ty::Text => Ok(Value::String(text.to_string())),
        Ty::Id => match id_problem(text) {
            None => Ok(Value::String(text.to_string())),
            Some(reason) => Err(format!("`{text}` is not a valid id: {reason}")),
        },
        Ty::Timestamp => parse_timestamp(text).map(|t| Value::String(t.to_string())),
        Ty::Bool => match text.to_ascii_lowercase().as_str() {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err(format!("expected `true` or `false`, found `{text}`")),
        },
        Ty::JsonObject => match serde_json::from_str::<Map<String, Value>>(text) {
            Ok(map) => Ok(Value::Object(map)),
            Err(e) => Err(format!("expected a one-line JSON object: {e}")),
        },
        Ty::Choice(allowed) => {
            if allowed.contains(&text) {
                Ok(Value::String(text.to_string()))
            } else {
                Err(format!("`{text}` is not one of {}", quote_all(allowed)))
            }
        }
    }
}

/// Values must be non-empty single lines without surrounding whitespace.
fn text_problem(text: &str) -> Option<String> {
    if text.trim().is_empty() {
        Some("the value is empty".into())
    } else if text.contains(['\n', '\r']) {
        Some("the value spans several lines".into())
    } else if text.trim() != text {
        Some("the value has leading or trailing whitespace".into())
    } else {
        None
    }
}

/// An RFC 3339 timestamp; a date-time without offset is taken as UTC.
pub(crate) fn parse_timestamp(text: &str) -> Result<Timestamp, String> {
    if let Ok(ts) = text.parse::<Timestamp>() {
        return Ok(ts);
    }
    text.parse::<jiff::civil::DateTime>()
        .ok()
        .and_then(|dt| jiff::tz::TimeZone::UTC.to_timestamp(dt).ok())
        .ok_or_else(|| format!("`{text}` is not a timestamp like `2026-04-16T14:03:00Z`"))
}

fn quote_all(words: &[&str]) -> String {
    words
        .iter()
        .map(|w| format!("`{w}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
