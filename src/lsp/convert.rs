//! Compiler diagnostics as LSP diagnostics: the same code, message, help
//! and spans as `compile validate`; secondary labels become related
//! information, in whatever file they point into.
//!
//! Invariant: every diagnostic of an analysis is published for exactly one
//! file: the file of its primary label (the target document when it has
//! no label).

use std::collections::BTreeMap;

use lsp_types::{
    Diagnostic, DiagnosticRelatedInformation, DiagnosticSeverity, Location, NumberOrString, Range, Uri,
};
use miette::LabeledSpan;

use super::world::Analysis;
use crate::diag::{Diag, FileId, Span, code_of, is_error};

/// An LSP range for a global span of the analysis.
pub(super) fn range(a: &Analysis, span: Span) -> (FileId, Range) {
    let file = a.sources.file_of(span.start);
    let source = a.sources.file(file);
    let start = (span.start.saturating_sub(source.base)) as usize;
    let end = (span.end.saturating_sub(source.base)) as usize;
    (
        file,
        a.line_index(file).range(&source.text, start, end.max(start)),
    )
}

pub(super) fn location(a: &Analysis, span: Span) -> Option<Location> {
    let (file, range) = range(a, span);
    let uri: Uri = a.uris.get(file.0 as usize)?.parse().ok()?;
    Some(Location::new(uri, range))
}

fn label_span(label: &LabeledSpan) -> Span {
    Span::new(label.offset() as u32, (label.offset() + label.len()) as u32)
}

/// The primary label of a diagnostic (or its first).
pub(super) fn primary(diag: &Diag) -> Option<Span> {
    let labels: Vec<LabeledSpan> = diag.labels().map(|l| l.collect()).unwrap_or_default();
    labels
        .iter()
        .find(|l| l.primary())
        .or(labels.first())
        .map(label_span)
}

/// The help text of a diagnostic, if it has one.
pub(super) fn help(diag: &Diag) -> Option<String> {
    diag.help().map(|h| h.to_string())
}

/// One LSP diagnostic and the file it belongs to.
pub(super) fn diagnostic(a: &Analysis, diag: &Diag) -> (FileId, Diagnostic) {
    let (file, range) = match primary(diag) {
        Some(span) => range(a, span),
        None => (a.target, Range::default()),
    };
    let mut message = diag.to_string();
    if let Some(help) = help(diag) {
        message.push_str("\n\nhelp: ");
        message.push_str(&help);
    }
    let labels: Vec<LabeledSpan> = diag.labels().map(|l| l.collect()).unwrap_or_default();
    let related: Vec<DiagnosticRelatedInformation> = labels
        .iter()
        .filter(|l| !l.primary() && Some(label_span(l)) != primary(diag))
        .filter_map(|l| {
            Some(DiagnosticRelatedInformation {
                location: location(a, label_span(l))?,
                message: l.label().unwrap_or("see here").to_string(),
            })
        })
        .collect();
    let primary_label = labels
        .iter()
        .find(|l| l.primary())
        .and_then(|l| l.label())
        .map(String::from);
    let lsp = Diagnostic {
        range,
        severity: Some(if is_error(diag.as_ref()) {
            DiagnosticSeverity::ERROR
        } else {
            DiagnosticSeverity::WARNING
        }),
        code: Some(NumberOrString::String(code_of(diag.as_ref()))),
        code_description: None,
        source: Some("millrace".into()),
        message,
        related_information: (!related.is_empty()).then_some(related),
        tags: None,
        data: primary_label.map(|l| serde_json::json!({ "label": l })),
    };
    (file, lsp)
}

/// Every diagnostic of the analysis, grouped by file (files of the
/// analysis without any still get an empty list, to clear old ones).
pub(super) fn by_file(a: &Analysis) -> BTreeMap<FileId, Vec<Diagnostic>> {
    let mut out: BTreeMap<FileId, Vec<Diagnostic>> = a
        .sources
        .files()
        .filter(|(id, _)| !a.is_builtin(*id))
        .map(|(id, _)| (id, Vec::new()))
        .collect();
    for diag in a.diags.iter() {
        let (file, d) = diagnostic(a, diag);
        out.entry(file).or_default().push(d);
    }
    out
}
