//! A located problem in an operator-written file (`millrace.toml`, a work
//! document, a mailbox envelope), rendered as its own miette diagnostic with
//! the file as source and a label on the offending span.
//!
//! Input: a code, a message, an optional subject (a key path or field
//! label) and an optional byte span in the file's text. Output: a
//! [`Problem`] that renders graphically (miette) and serializes for
//! `--json`, with 1-based line and column precomputed.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use miette::{Diagnostic, LabeledSpan, NamedSource, SourceCode};
use serde::Serialize;

/// A file's text shared by all problems found in it.
#[derive(Clone)]
pub struct ProblemSource {
    named: Arc<NamedSource<Arc<str>>>,
    text: Arc<str>,
}

impl ProblemSource {
    pub fn new(name: &str, text: &str) -> Self {
        let text: Arc<str> = Arc::from(text);
        Self {
            named: Arc::new(NamedSource::new(name, Arc::clone(&text))),
            text,
        }
    }

    pub fn name(&self) -> &str {
        self.named.name()
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// The byte range of a 1-based line, without its newline.
    pub fn line_span(&self, line: usize) -> Option<Range<usize>> {
        let mut start = 0;
        for (index, text) in self.text.split('\n').enumerate() {
            let end = start + text.len();
            if index + 1 == line {
                let trimmed = text.trim_end_matches('\r');
                return Some(start..start + trimmed.len());
            }
            start = end + 1;
        }
        None
    }
}

/// One located problem.
#[derive(Clone, Serialize)]
pub struct Problem {
    /// Stable code such as `mill::config::unknown_key`.
    pub code: &'static str,
    /// The key path or field label the problem is about.
    pub subject: Option<String>,
    pub message: String,
    pub help: Option<String>,
    pub file: String,
    /// 1-based line and column of the span start (0 when unknown).
    pub line: usize,
    pub column: usize,
    #[serde(skip)]
    pub span: Option<(usize, usize)>,
    #[serde(skip)]
    source: Option<ProblemSource>,
}

impl Problem {
    /// A problem located by a byte span in `source`.
    pub fn at(
        code: &'static str,
        subject: Option<String>,
        message: String,
        help: Option<String>,
        span: Option<Range<usize>>,
        source: &ProblemSource,
    ) -> Self {
        let (line, column) = span
            .as_ref()
            .map(|s| line_col(source.text(), s.start))
            .unwrap_or((0, 0));
        Self {
            code,
            subject,
            message,
            help,
            file: source.name().to_string(),
            line,
            column,
            span: span.map(|s| (s.start, s.end.saturating_sub(s.start))),
            source: Some(source.clone()),
        }
    }

    /// A problem on a whole 1-based line of `source`.
    pub fn on_line(
        code: &'static str,
        subject: Option<String>,
        message: String,
        line: Option<usize>,
        source: &ProblemSource,
    ) -> Self {
        let span = line.and_then(|l| source.line_span(l));
        let mut problem = Self::at(code, subject, message, None, span, source);
        if let Some(l) = line {
            problem.line = l;
        }
        problem
    }

    /// A problem without a position (JSON input, whole-file conditions).
    pub fn unlocated(code: &'static str, subject: Option<String>, message: String, file: &str) -> Self {
        Self {
            code,
            subject,
            message,
            help: None,
            file: file.to_string(),
            line: 0,
            column: 0,
            span: None,
            source: None,
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// `file:line:col` (or just `file`), for one-line summaries.
    pub fn location(&self) -> String {
        if self.line == 0 {
            self.file.clone()
        } else {
            format!("{}:{}:{}", self.file, self.line, self.column)
        }
    }
}

impl fmt::Debug for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.code, self.location(), self.message)
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Problem {}

impl Diagnostic for Problem {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.code))
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help.as_ref().map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        let source = self.source.as_ref()?;
        self.span?;
        Some(source.named.as_ref() as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let (start, len) = self.span?;
        let label = match &self.subject {
            Some(subject) => format!("`{subject}`"),
            None => "here".to_string(),
        };
        Some(Box::new(std::iter::once(LabeledSpan::new_primary_with_span(
            Some(label),
            (start, len),
        ))))
    }
}

/// "1 problem" / "3 problems".
pub(crate) fn count_phrase(n: usize) -> String {
    if n == 1 {
        "1 problem".into()
    } else {
        format!("{n} problems")
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    (line, column)
}
