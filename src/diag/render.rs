//! Rendering diagnostics as human text (miette's graphical handler) or JSON.

use std::fmt;

use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme, LabeledSpan, Severity};
use serde_json::{Value, json};

use super::{Diag, Sources, code_of, is_error};

/// How to draw human diagnostics.
#[derive(Clone, Copy, Debug)]
pub struct RenderOptions {
    pub color: bool,
    pub width: usize,
}

impl RenderOptions {
    /// Deterministic output for golden files: no color, no links, 80 columns.
    pub fn plain() -> Self {
        Self {
            color: false,
            width: 80,
        }
    }
}

/// Renders every diagnostic with its source excerpt.
pub fn render_human<'a>(
    diags: impl IntoIterator<Item = &'a Diag>,
    sources: &Sources,
    options: RenderOptions,
) -> String {
    let theme = if options.color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(options.width)
        .with_links(false)
        .without_syntax_highlighting();
    let mut out = String::new();
    for diag in diags {
        let (labels, notes) = split_labels(diag.as_ref(), sources);
        let wrapped = WithSource {
            inner: diag.as_ref(),
            sources,
            labels,
            notes,
        };
        if handler.render_report(&mut out, &wrapped).is_err() {
            out.push_str(&format!("{}: {}\n", code_of(diag.as_ref()), diag));
        }
    }
    out
}

/// Renders diagnostics as a JSON array, one object each, with 1-based
/// file/line/column positions (never global offsets).
pub fn render_json<'a>(diags: impl IntoIterator<Item = &'a Diag>, sources: &Sources) -> Value {
    Value::Array(
        diags
            .into_iter()
            .map(|d| diag_json(d.as_ref(), sources))
            .collect(),
    )
}

fn diag_json(diag: &dyn Diagnostic, sources: &Sources) -> Value {
    let labels: Vec<LabeledSpan> = diag.labels().map(|l| l.collect()).unwrap_or_default();
    let primary = labels.iter().find(|l| l.primary()).or(labels.first());
    let mut value = json!({
        "code": code_of(diag),
        "severity": if is_error(diag) { "error" } else { "warning" },
        "message": diag.to_string(),
        "help": diag.help().map(|h| h.to_string()),
    });
    if let (Some(primary), false) = (primary, sources.is_empty()) {
        let start = sources.location(primary.offset() as u32);
        let end = sources.location((primary.offset() + primary.len()) as u32);
        value["file"] = json!(start.file);
        value["line"] = json!(start.line);
        value["column"] = json!(start.column);
        value["end_line"] = json!(end.line);
        value["end_column"] = json!(end.column);
        value["labels"] = Value::Array(
            labels
                .iter()
                .map(|l| {
                    let at = sources.location(l.offset() as u32);
                    json!({"message": l.label(), "file": at.file, "line": at.line, "column": at.column, "primary": l.primary()})
                })
                .collect(),
        );
    }
    if let Some(related) = diag.related() {
        value["related"] = Value::Array(related.map(|r| diag_json(r, sources)).collect());
    }
    value
}

/// Splits a diagnostic's labels into those in the primary label's file and
/// notes for labels in other files: one miette snippet shows one file.
fn split_labels(diag: &dyn Diagnostic, sources: &Sources) -> (Vec<LabeledSpan>, Vec<Note>) {
    let labels: Vec<LabeledSpan> = diag.labels().map(|l| l.collect()).unwrap_or_default();
    if sources.is_empty() {
        return (Vec::new(), Vec::new());
    }
    let primary = labels
        .iter()
        .find(|l| l.primary())
        .or(labels.first())
        .map(|l| sources.file_of(l.offset() as u32));
    let (same, other): (Vec<_>, Vec<_>) = labels
        .into_iter()
        .partition(|l| Some(sources.file_of(l.offset() as u32)) == primary);
    let notes = other
        .into_iter()
        .map(|l| Note {
            text: l.label().unwrap_or("see here").to_string(),
            span: *l.inner(),
        })
        .collect();
    (same, notes)
}

/// A label from another file, shown as its own snippet after the error.
#[derive(Debug)]
struct Note {
    text: String,
    span: miette::SourceSpan,
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::error::Error for Note {}

impl Diagnostic for Note {
    fn severity(&self) -> Option<Severity> {
        Some(Severity::Advice)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        Some(Box::new(std::iter::once(LabeledSpan::new_primary_with_span(
            None, self.span,
        ))))
    }
}

/// Supplies the shared source text to a diagnostic that only carries spans.
struct WithSource<'a> {
    inner: &'a dyn Diagnostic,
    sources: &'a Sources,
    labels: Vec<LabeledSpan>,
    notes: Vec<Note>,
}

impl fmt::Debug for WithSource<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.inner, f)
    }
}

impl fmt::Display for WithSource<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.inner, f)
    }
}

impl std::error::Error for WithSource<'_> {}

impl Diagnostic for WithSource<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.inner.code()
    }
    fn severity(&self) -> Option<Severity> {
        self.inner.severity()
    }
    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.inner.help()
    }
    fn url<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.inner.url()
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        if self.sources.is_empty() {
            None
        } else {
            Some(self.sources)
        }
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        if self.labels.is_empty() {
            None
        } else {
            Some(Box::new(self.labels.iter().cloned()))
        }
    }
    fn related<'b>(&'b self) -> Option<Box<dyn Iterator<Item = &'b dyn Diagnostic> + 'b>> {
        let notes = self.notes.iter().map(|n| n as &dyn Diagnostic);
        match self.inner.related() {
            Some(related) => Some(Box::new(related.chain(notes))),
            None if self.notes.is_empty() => None,
            None => Some(Box::new(notes)),
        }
    }
    fn diagnostic_source(&self) -> Option<&dyn Diagnostic> {
        self.inner.diagnostic_source()
    }
}
