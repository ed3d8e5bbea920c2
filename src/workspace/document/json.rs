//! The JSON form of work documents: the same fields as snake_case keys,
//! plus optional `schema_version` and `kind`. Intake goes through the same
//! checks as markdown, so both report the same problems.

use serde_json::{Map, Value};

use super::schema::{self, Shape};
use super::validate::{self, Raw, RawField, RawValue};
use super::{DocumentError, Sink, codes};
use crate::model::WorkDocument;
use crate::plan::WorkItemKind;

/// The JSON document format version.
pub(super) const SCHEMA_VERSION: u32 = 1;

pub(super) fn parse_text(
    kind: Option<WorkItemKind>,
    text: &str,
    name: &str,
) -> Result<WorkDocument, DocumentError> {
    match serde_json::from_str::<Value>(text) {
        Ok(value) => parse_value(kind, &value, name),
        Err(e) => {
            let mut sink = Sink::new(None, name);
            let message = format!("not valid JSON: {e}");
            sink.push(codes::INVALID_JSON, None, message, Some(e.line()));
            Err(sink.into_error())
        }
    }
}

pub(super) fn parse_value(
    kind: Option<WorkItemKind>,
    value: &Value,
    name: &str,
) -> Result<WorkDocument, DocumentError> {
    let mut sink = Sink::new(None, name);
    let Value::Object(object) = value else {
        sink.push(codes::INVALID_JSON, None, "expected a JSON object".into(), None);
        return Err(sink.into_error());
    };
    let Some(kind) = resolve_kind(kind, object, &mut sink) else {
        return Err(sink.into_error());
    };
    let raw = read(kind, object, &mut sink);
    let doc = validate::build(&raw, &mut sink);
    match doc {
        Some(doc) if sink.is_empty() => {
            check_renders_back(&doc, &mut sink);
            if sink.is_empty() {
                Ok(doc)
            } else {
                Err(sink.into_error())
            }
        }
        _ => Err(sink.into_error()),
    }
}

/// The kind from the caller, else from `kind`, else from the id key.
fn resolve_kind(
    wanted: Option<WorkItemKind>,
    object: &Map<String, Value>,
    sink: &mut Sink<'_>,
) -> Option<WorkItemKind> {
    let declared = match object.get("kind") {
        None => None,
        Some(Value::String(text)) => match text.parse::<WorkItemKind>() {
            Ok(kind) => Some(kind),
            Err(()) => {
                let message =
                    format!("unknown kind `{text}`; expected task, spec, incident or learning_request");
                sink.push(codes::UNKNOWN_KIND, Some("kind"), message, None);
                return None;
            }
        },
        Some(_) => {
            sink.push(
                codes::UNKNOWN_KIND,
                Some("kind"),
                "`kind` must be a string".into(),
                None,
            );
            return None;
        }
    };
    let inferred = || {
        let kinds: Vec<_> = WorkItemKind::ALL
            .iter()
            .copied()
            .filter(|k| object.contains_key(schema::id_field(*k).key))
            .collect();
        match kinds.as_slice() {
            [one] => Some(*one),
            many if many.contains(&WorkItemKind::Task) => Some(WorkItemKind::Task),
            _ => None,
        }
    };
    match (wanted, declared) {
        (Some(w), Some(d)) if w != d => {
            let message = format!("the document declares kind `{d}`, but a {w} was expected");
            sink.push(codes::KIND_MISMATCH, Some("kind"), message, None);
            None
        }
        (Some(w), _) => Some(w),
        (None, Some(d)) => Some(d),
        (None, None) => {
            let found = inferred();
            if found.is_none() {
                let message = "cannot tell the document kind: add `kind` or exactly one id key".to_string();
                sink.push(codes::UNKNOWN_KIND, None, message, None);
            }
            found
        }
    }
}

fn read(kind: WorkItemKind, object: &Map<String, Value>, sink: &mut Sink<'_>) -> Raw {
    let mut raw = Raw::new(kind);
    for (key, value) in object {
        match key.as_str() {
            "schema_version" | "kind" => {}
            "title" => match value {
                Value::String(text) => raw.title = Some((text.clone(), None)),
                _ => sink.push(
                    codes::INVALID_VALUE,
                    Some("title"),
                    "`title` must be a string".into(),
                    None,
                ),
            },
            "body" => match value {
                Value::String(text) => raw.body = normalize_body(text),
                Value::Null => {}
                _ => sink.push(
                    codes::INVALID_VALUE,
                    Some("body"),
                    "`body` must be a string".into(),
                    None,
                ),
            },
            _ => read_field(kind, key, value, &mut raw, sink),
        }
    }
    if raw.title.is_none() {
        sink.push(
            codes::MISSING_TITLE,
            Some("title"),
            "missing required field `title`".into(),
            None,
        );
    }
    raw
}

fn read_field(kind: WorkItemKind, key: &str, value: &Value, raw: &mut Raw, sink: &mut Sink<'_>) {
    let Some((index, field)) = schema::by_key(kind, key) else {
        let message = format!("unknown field `{key}` for a {}", kind.as_str().replace('_', " "));
        sink.push(codes::UNKNOWN_FIELD, Some(key), message, None);
        return;
    };
    let converted = match (field.shape, value) {
        (_, Value::Null) => return,
        (Shape::Scalar, Value::String(text)) => Ok(RawValue::Scalar(text.trim().to_string())),
        (Shape::Scalar, Value::Bool(b)) => Ok(RawValue::Scalar(b.to_string())),
        (Shape::Scalar, Value::Object(_)) => Ok(RawValue::Scalar(value.to_string())),
        (Shape::List, Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::String(text) => Ok((text.trim().to_string(), None)),
                _ => Err(format!("`{key}` must be a list of strings")),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(RawValue::List),
        (Shape::Scalar, _) => Err(format!("`{key}` must be a string")),
        (Shape::List, _) => Err(format!("`{key}` must be a list of strings")),
    };
    match converted {
        Ok(RawValue::Scalar(text)) if text.is_empty() => {}
        Ok(value) => {
            if let Some(slot) = raw.fields.get_mut(index) {
                *slot = Some(RawField { value, line: None });
            }
        }
        Err(message) => {
            raw.reported.push(index);
            sink.push(codes::INVALID_VALUE, Some(key), message, None);
        }
    }
}

/// Prose as the markdown reader would keep it: trailing spaces dropped,
/// runs of blank lines folded to one, no blank lines at either end.
fn normalize_body(text: &str) -> String {
    let mut lines: Vec<&str> = Vec::new();
    for line in text.lines().map(str::trim_end) {
        if line.is_empty() && lines.last().is_none_or(|l| l.is_empty()) {
            continue;
        }
        lines.push(line);
    }
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    lines.join("\n")
}

/// A body line that would read back as a field or list item cannot be
/// stored in markdown without changing the document; refuse it.
fn check_renders_back(doc: &WorkDocument, sink: &mut Sink<'_>) {
    let text = doc.render();
    let back = WorkDocument::parse_markdown(Some(doc.kind()), &text, "rendered");
    if back.as_ref().ok() != Some(doc) {
        let message =
            "`body` has lines that would read back as document fields or list items; indent or reword them"
                .to_string();
        sink.push(codes::INVALID_VALUE, Some("body"), message, None);
    }
}

/// The document's fields as a JSON object (no `kind`).
pub(super) fn fields_value(doc: &WorkDocument) -> Value {
    let value = match doc {
        WorkDocument::Task(d) => serde_json::to_value(d),
        WorkDocument::Spec(d) => serde_json::to_value(d),
        WorkDocument::Incident(d) => serde_json::to_value(d),
        WorkDocument::LearningRequest(d) => serde_json::to_value(d),
    };
    value.unwrap_or(Value::Null)
}

pub(super) fn to_value(doc: &WorkDocument) -> Value {
    let mut object = Map::new();
    object.insert("schema_version".into(), Value::from(SCHEMA_VERSION));
    object.insert("kind".into(), Value::from(doc.kind().as_str()));
    if let Value::Object(fields) = fields_value(doc) {
        object.extend(fields);
    }
    Value::Object(object)
}
