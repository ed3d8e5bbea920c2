//! The markdown form of work documents: reading (line by line, collecting
//! every problem) and canonical rendering.
//!
//! Grammar: the first non-blank line is `# <title>`. After it, a line
//! `Label: value` whose label belongs to the kind is a field; a list field
//! is followed by `- item` lines; a blank line after at least one item ends
//! the list. Every other line is prose and is kept, in order, in `body`
//! (lines separated by anything else get one blank line between them).

use serde_json::Value;

use super::schema::{self, Shape};
use super::validate::{self, Raw, RawField, RawValue};
use super::{Sink, codes};
use crate::model::WorkDocument;
use crate::plan::WorkItemKind;
use crate::workspace::problem::ProblemSource;

/// What the previous non-blank line opened.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Context {
    Free,
    /// A scalar field line; a `- item` right after it is an error.
    Scalar(usize),
    /// A list field; `items` counted so far, `gap` after a blank line.
    List {
        field: usize,
        items: usize,
        gap: bool,
    },
}

pub(super) fn parse(
    kind: Option<WorkItemKind>,
    text: &str,
    name: &str,
) -> Result<WorkDocument, super::DocumentError> {
    let source = ProblemSource::new(name, text);
    let mut sink = Sink::new(Some(&source), name);
    let kind = match kind {
        Some(kind) => {
            check_kind_hint(kind, text, &mut sink);
            kind
        }
        None => match infer_kind(text, &mut sink) {
            Some(kind) => kind,
            None => return Err(sink.into_error()),
        },
    };
    let raw = read(kind, text, &mut sink);
    match validate::build(&raw, &mut sink) {
        Some(doc) if sink.is_empty() => Ok(doc),
        _ => Err(sink.into_error()),
    }
}

/// Lines without their `\r`, numbered from 1.
fn lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.split('\n')
        .enumerate()
        .map(|(i, l)| (i + 1, l.strip_suffix('\r').unwrap_or(l)))
}

/// Splits `Label: rest` when the line has the shape of a field line.
fn field_line(stripped: &str) -> Option<(&str, &str)> {
    let (label, rest) = stripped.split_once(':')?;
    let mut chars = label.chars();
    let shaped = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-');
    shaped.then(|| (label, rest.trim()))
}

fn list_item(stripped: &str) -> Option<&str> {
    stripped
        .strip_prefix('-')
        .filter(|rest| rest.is_empty() || rest.starts_with([' ', '\t']))
        .map(str::trim)
}

fn read(kind: WorkItemKind, text: &str, sink: &mut Sink<'_>) -> Raw {
    let mut raw = Raw::new(kind);
    let mut reader = Reader {
        raw: &mut raw,
        context: Context::Free,
        since_prose: false,
        body: Vec::new(),
    };
    let mut all = lines(text).skip_while(|(_, l)| l.trim().is_empty()).peekable();
    if let Some(&(number, first)) = all.peek() {
        let heading = first.trim();
        if let Some(title) = heading
            .strip_prefix("# ")
            .map(str::trim)
            .filter(|t| !t.is_empty())
        {
            reader.raw.title = Some((title.to_string(), Some(number)));
            all.next();
        } else {
            let message = "the document must start with a `# Title` heading".to_string();
            sink.push(codes::MISSING_TITLE, Some("Title"), message, Some(number));
        }
    } else {
        sink.push(
            codes::MISSING_TITLE,
            Some("Title"),
            "the document is empty".into(),
            None,
        );
    }
    for (number, line) in all {
        reader.line(number, line, sink);
    }
    let body = reader.body.join("\n");
    raw.body = body;
    raw
}

struct Reader<'r> {
    raw: &'r mut Raw,
    context: Context,
    /// Something other than prose was seen since the last prose line.
    since_prose: bool,
    body: Vec<String>,
}

impl Reader<'_> {
    fn line(&mut self, number: usize, line: &str, sink: &mut Sink<'_>) {
        let stripped = line.trim();
        if stripped.is_empty() {
            self.blank();
            return;
        }
        if let Some((label, rest)) = field_line(stripped)
            && let Some((index, _)) = schema::by_label(self.raw.kind, label)
        {
            self.field(index, rest, number, sink);
            return;
        }
        match self.context {
            Context::List { field, items, gap } => match list_item(stripped) {
                Some(item) => self.item(field, item, number, sink),
                None if items == 0 && gap => self.prose(line),
                None => {
                    let label = schema::fields(self.raw.kind).get(field).map_or("", |f| f.label);
                    let message = format!(
                        "`{stripped}` is not a `- item` of `{label}`; end the list with a blank line before prose"
                    );
                    sink.push(codes::INVALID_LIST_ITEM, Some(label), message, Some(number));
                }
            },
            Context::Scalar(field) if list_item(stripped).is_some() => {
                let label = schema::fields(self.raw.kind).get(field).map_or("", |f| f.label);
                let message = format!("`{label}` takes one value; `- item` lines belong to list fields");
                sink.push(codes::ITEMS_UNDER_SCALAR, Some(label), message, Some(number));
            }
            _ => self.prose(line),
        }
    }

    fn blank(&mut self) {
        self.since_prose = true;
        self.context = match self.context {
            Context::List { field, items: 0, .. } => Context::List {
                field,
                items: 0,
                gap: true,
            },
            _ => Context::Free,
        };
    }

    fn field(&mut self, index: usize, rest: &str, number: usize, sink: &mut Sink<'_>) {
        self.since_prose = true;
        let Some(field) = schema::fields(self.raw.kind).get(index) else {
            return;
        };
        let Some(slot) = self.raw.fields.get_mut(index) else {
            return;
        };
        if let Some(first) = slot {
            let at = first
                .line
                .map(|l| format!(" (first on line {l})"))
                .unwrap_or_default();
            let message = format!("`{}` appears more than once{at}", field.label);
            sink.push(codes::DUPLICATE_FIELD, Some(field.label), message, Some(number));
            // Items after a duplicate list label are not attributed to the first.
            self.context = Context::Free;
            return;
        }
        let value = match field.shape {
            Shape::Scalar => RawValue::Scalar(rest.to_string()),
            Shape::List if rest.is_empty() => RawValue::List(Vec::new()),
            Shape::List => RawValue::List(vec![(rest.to_string(), Some(number))]),
        };
        // An empty scalar means "absent", as if the line were not there.
        let absent = field.shape == Shape::Scalar && rest.is_empty();
        if !absent {
            *slot = Some(RawField {
                value,
                line: Some(number),
            });
        }
        self.context = match field.shape {
            Shape::Scalar => Context::Scalar(index),
            Shape::List => Context::List {
                field: index,
                items: usize::from(!rest.is_empty()),
                gap: false,
            },
        };
    }

    fn item(&mut self, field: usize, item: &str, number: usize, sink: &mut Sink<'_>) {
        self.since_prose = true;
        if item.is_empty() {
            let label = schema::fields(self.raw.kind).get(field).map_or("", |f| f.label);
            sink.push(
                codes::INVALID_LIST_ITEM,
                Some(label),
                "empty list item".into(),
                Some(number),
            );
            return;
        }
        if let Some(Some(RawField {
            value: RawValue::List(items),
            ..
        })) = self.raw.fields.get_mut(field)
        {
            items.push((item.to_string(), Some(number)));
        }
        if let Context::List { items, gap, .. } = &mut self.context {
            *items += 1;
            *gap = false;
        }
    }

    fn prose(&mut self, line: &str) {
        if self.since_prose && !self.body.is_empty() {
            self.body.push(String::new());
        }
        self.body.push(line.trim_end().to_string());
        self.since_prose = false;
        self.context = Context::Free;
    }
}

/// The id labels of every kind, for inference and mismatch hints.
fn id_labels_present(text: &str) -> Vec<(WorkItemKind, usize)> {
    let mut found = Vec::new();
    for (number, line) in lines(text) {
        let Some((label, _)) = field_line(line.trim()) else {
            continue;
        };
        for kind in WorkItemKind::ALL {
            if schema::id_field(*kind).label.eq_ignore_ascii_case(label)
                && !found.iter().any(|(k, _)| k == kind)
            {
                found.push((*kind, number));
            }
        }
    }
    found
}

/// The kind named by the id labels: a `Task-ID` makes a task even though
/// tasks also carry `Spec-ID` and `Incident-ID` as lineage.
fn infer_kind(text: &str, sink: &mut Sink<'_>) -> Option<WorkItemKind> {
    let present = id_labels_present(text);
    let has = |k: WorkItemKind| present.iter().any(|(kind, _)| *kind == k);
    let mut kinds: Vec<(WorkItemKind, usize)> = present.clone();
    if has(WorkItemKind::Task) {
        kinds.retain(|(k, _)| !matches!(k, WorkItemKind::Spec | WorkItemKind::Incident));
    }
    match kinds.as_slice() {
        [(kind, _)] => Some(*kind),
        [] => {
            let message = "no `Task-ID`, `Spec-ID`, `Incident-ID` or `Learning-Request-ID` field".to_string();
            sink.push(codes::UNKNOWN_KIND, None, message, None);
            None
        }
        [_, (_, line), ..] => {
            let labels: Vec<_> = kinds.iter().map(|(k, _)| schema::id_field(*k).label).collect();
            let message = format!("the document has several id fields: {}", labels.join(", "));
            sink.push(codes::AMBIGUOUS_KIND, None, message, Some(*line));
            None
        }
    }
}

/// When parsing as `kind`, a missing id next to another kind's id label is
/// most likely the wrong command (`add-task` on a spec).
fn check_kind_hint(kind: WorkItemKind, text: &str, sink: &mut Sink<'_>) {
    let present = id_labels_present(text);
    if present.iter().any(|(k, _)| *k == kind) {
        return;
    }
    if let Some((other, line)) = present.first() {
        let message = format!(
            "this looks like a {} document (it has `{}`), not a {}",
            other.as_str().replace('_', " "),
            schema::id_field(*other).label,
            kind.as_str().replace('_', " ")
        );
        sink.push(codes::KIND_MISMATCH, None, message, Some(*line));
    }
}

/// The canonical markdown of a document.
pub(super) fn render(doc: &WorkDocument) -> String {
    let value = super::json::fields_value(doc);
    let table = schema::fields(doc.kind());
    let mut out = format!("# {}\n\n", doc.title());
    for field in table.iter().filter(|f| f.shape == Shape::Scalar) {
        let Some(text) = value.get(field.key).and_then(scalar_text) else {
            continue;
        };
        if field.omit_when == Some(text.as_str()) && field.key != "title" {
            continue;
        }
        out.push_str(&format!("{}: {text}\n", field.label));
    }
    for field in table.iter().filter(|f| f.shape == Shape::List) {
        let Some(Value::Array(items)) = value.get(field.key) else {
            continue;
        };
        if items.is_empty() {
            continue;
        }
        out.push_str(&format!("\n{}:\n", field.label));
        for item in items {
            if let Some(text) = scalar_text(item) {
                out.push_str(&format!("- {text}\n"));
            }
        }
    }
    if let Some(Value::String(body)) = value.get("body")
        && !body.is_empty()
    {
        out.push('\n');
        out.push_str(body);
        out.push('\n');
    }
    out
}

fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Object(_) => serde_json::to_string(value).ok(),
        Value::Number(n) => Some(n.to_string()),
        Value::Null | Value::Array(_) => None,
    }
}
