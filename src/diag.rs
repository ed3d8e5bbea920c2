//! Source files, spans and the diagnostics sink shared by every compiler stage.
//!
//! Input: `.mill` texts registered in [`Sources`]. Output: [`Span`]s that
//! stages attach to their errors, and a [`Diagnostics`] collection that the
//! CLI renders as human text or JSON.
//!
//! Invariants:
//! - All files live in one global offset space (the nushell approach): a
//!   [`Span`] is a pair of global byte offsets and the file is derived from
//!   the offset. This lets every stage's error enum derive
//!   `miette::Diagnostic` with plain `#[label]` fields, even when a secondary
//!   label points into another file.
//! - Files are separated by a one-byte gap so a context window never runs
//!   from one file into the next.
//! - Diagnostics never hold source text; [`Sources`] supplies it at render
//!   time.

mod render;
mod sources;
mod suggest;

pub use render::{RenderOptions, WithoutSnippet, labels_drawable, render_human, render_json};
pub use sources::{FileId, Layer, Location, SourceFile, Sources, Span};
pub use suggest::{did_you_mean, edit_distance};

use miette::{Diagnostic, Severity};

/// One boxed diagnostic of any stage.
pub type Diag = Box<dyn Diagnostic + Send + Sync + 'static>;

/// The sink every stage pushes into; it keeps going after an error so one run
/// reports every problem.
#[derive(Default)]
pub struct Diagnostics {
    items: Vec<Diag>,
    /// For a follow-on error, the offset of the error that caused it: it
    /// sorts right after its cause, wherever it is, so the root comes first.
    causes: Vec<Option<u32>>,
}

impl Diagnostics {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, diagnostic: impl Diagnostic + Send + Sync + 'static) {
        self.items.push(Box::new(diagnostic));
        self.causes.push(None);
    }

    /// Pushes an error caused by the one whose primary label starts at
    /// `cause` (one typo, two errors): sorted, it follows its cause.
    pub fn push_caused_by(&mut self, cause: u32, diagnostic: impl Diagnostic + Send + Sync + 'static) {
        self.items.push(Box::new(diagnostic));
        self.causes.push(Some(cause));
    }

    pub fn extend(&mut self, other: Diagnostics) {
        self.items.extend(other.items);
        self.causes.extend(other.causes);
    }

    pub fn error_count(&self) -> usize {
        self.items.iter().filter(|d| is_error(d.as_ref())).count()
    }

    pub fn warning_count(&self) -> usize {
        self.items.len() - self.error_count()
    }

    pub fn has_errors(&self) -> bool {
        self.items.iter().any(|d| is_error(d.as_ref()))
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Diag> {
        self.items.iter()
    }

    /// Sorts by position (file order, then offset), then by code, so output is
    /// stable across runs; a follow-on error comes right after its cause.
    pub fn sort(&mut self) {
        let mut keyed: Vec<_> = std::mem::take(&mut self.items)
            .into_iter()
            .zip(std::mem::take(&mut self.causes))
            .map(|(d, cause)| {
                let own = primary_offset(d.as_ref());
                let key = (
                    cause.map_or(own, |c| c as usize),
                    cause.is_some(),
                    own,
                    code_of(d.as_ref()),
                );
                (key, d, cause)
            })
            .collect();
        keyed.sort_by(|a, b| a.0.cmp(&b.0));
        for (_, d, cause) in keyed {
            self.items.push(d);
            self.causes.push(cause);
        }
    }

    /// The codes of every diagnostic, in the current order (used by tests).
    pub fn codes(&self) -> Vec<String> {
        self.items.iter().map(|d| code_of(d.as_ref())).collect()
    }
}

/// True unless the diagnostic declares itself a warning or advice.
pub fn is_error(d: &dyn Diagnostic) -> bool {
    !matches!(d.severity(), Some(Severity::Warning) | Some(Severity::Advice))
}

/// The diagnostic's code as a string, or an empty string.
pub fn code_of(d: &dyn Diagnostic) -> String {
    d.code().map(|c| c.to_string()).unwrap_or_default()
}

/// Offset of the primary label (or the first label); diagnostics without
/// labels sort first.
pub fn primary_offset(d: &dyn Diagnostic) -> usize {
    let Some(labels) = d.labels() else { return 0 };
    let labels: Vec<_> = labels.collect();
    labels
        .iter()
        .find(|l| l.primary())
        .or_else(|| labels.first())
        .map(|l| l.offset())
        .unwrap_or(0)
}
