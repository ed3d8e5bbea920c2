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
        let rendered = if labels_drawable(&wrapped) {
            handler.render_report(&mut out, &wrapped)
        } else {
            handler.render_report(&mut out, &WithoutSnippet::new(&wrapped, None))
        };
        if rendered.is_err() {
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

/// The farthest column a label may start or end at for miette to draw it:
/// its underline padding is a formatting width, which panics past
/// `u16::MAX` ("Formatting argument out of range"), and no one reads a
/// snippet that wide anyway.
const MAX_LABEL_COLUMN: usize = 4096;

/// Whether miette can draw every label of `diag` (and of the diagnostics
/// it relates or wraps) in a source snippet. When it cannot, render
/// [`WithoutSnippet`] instead.
pub fn labels_drawable(diag: &dyn Diagnostic) -> bool {
    drawable_with(diag, None)
}

fn drawable_with(diag: &dyn Diagnostic, parent: Option<&dyn miette::SourceCode>) -> bool {
    let source = diag.source_code().or(parent);
    if let (Some(source), Some(mut labels)) = (source, diag.labels()) {
        let fits = labels.all(|label| {
            [label.offset(), label.offset() + label.len()]
                .into_iter()
                .all(|at| {
                    source
                        .read_span(&miette::SourceSpan::from((at, 0)), 0, 0)
                        .is_ok_and(|s| s.column() <= MAX_LABEL_COLUMN)
                })
        });
        if !fits {
            return false;
        }
    }
    let related = diag
        .related()
        .is_none_or(|mut r| r.all(|d| drawable_with(d, source)));
    related && diag.diagnostic_source().is_none_or(|d| drawable_with(d, source))
}

/// A diagnostic shown without its source snippet: the same code, severity,
/// message, help and related diagnostics, with the location in words.
pub struct WithoutSnippet<'a> {
    inner: &'a dyn Diagnostic,
    at: Option<String>,
    related: Vec<WithoutSnippet<'a>>,
}

impl<'a> WithoutSnippet<'a> {
    pub fn new(inner: &'a dyn Diagnostic, parent: Option<&'a dyn miette::SourceCode>) -> Self {
        let source = inner.source_code().or(parent);
        let first = inner.labels().and_then(|mut l| l.next());
        let at = source.zip(first).and_then(|(source, label)| {
            let span = miette::SourceSpan::from((label.offset(), 0));
            let contents = source.read_span(&span, 0, 0).ok()?;
            let name = contents.name().map(|n| format!("{n}:")).unwrap_or_default();
            Some(format!(
                "at {name}{}:{}",
                contents.line() + 1,
                contents.column() + 1
            ))
        });
        let related = inner
            .related()
            .map(|r| r.map(|d| WithoutSnippet::new(d, source)).collect())
            .unwrap_or_default();
        WithoutSnippet { inner, at, related }
    }
}

impl fmt::Debug for WithoutSnippet<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.inner, f)
    }
}

impl fmt::Display for WithoutSnippet<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.inner, f)?;
        match &self.at {
            Some(at) => write!(f, " ({at}; the line is too long to show)"),
            None => Ok(()),
        }
    }
}

impl std::error::Error for WithoutSnippet<'_> {}

impl Diagnostic for WithoutSnippet<'_> {
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
    fn related<'b>(&'b self) -> Option<Box<dyn Iterator<Item = &'b dyn Diagnostic> + 'b>> {
        if self.related.is_empty() {
            None
        } else {
            Some(Box::new(self.related.iter().map(|d| d as &dyn Diagnostic)))
        }
    }
}
