//! Syntax diagnostics: what the parser could not make sense of.

use miette::SourceSpan;

use crate::diag::Span;

/// Everything `syntax` reports. Each variant names the condition; labels
/// point at the offending text.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum SyntaxError {
    /// A top-level line that starts no `stage`, `loop`, `mode` or `alias`.
    #[error("expected `stage`, `loop`, `mode` or `alias`, found `{found}`")]
    #[diagnostic(code(mill::syntax::invalid_item))]
    InvalidItem {
        found: String,
        #[label(primary, "not an item")]
        span: SourceSpan,
        #[help]
        help: Option<String>,
    },

    /// A line inside a block that is not a statement of that block.
    #[error("unexpected `{found}` in {block}")]
    #[diagnostic(code(mill::syntax::invalid_statement))]
    InvalidStatement {
        found: String,
        block: &'static str,
        #[label(primary, "not a statement here")]
        span: SourceSpan,
        #[help]
        help: Option<String>,
    },

    /// A `{` whose `}` never came before the next item or the end of file.
    #[error("this `{{` is never closed")]
    #[diagnostic(
        code(mill::syntax::unclosed_block),
        help("add `}}` at the end of the {block}")
    )]
    UnclosedBlock {
        block: &'static str,
        #[label(primary, "opened here")]
        span: SourceSpan,
    },

    /// The same single-valued statement written twice in one block.
    #[error("`{keyword}` is given more than once")]
    #[diagnostic(code(mill::syntax::duplicate_statement), help("keep one `{keyword}` line"))]
    DuplicateStatement {
        keyword: &'static str,
        #[label(primary, "given again here")]
        span: SourceSpan,
        #[label("first given here")]
        first: SourceSpan,
    },

    /// An integer that does not fit.
    #[error("number `{text}` is too large")]
    #[diagnostic(code(mill::syntax::invalid_number), help("numbers must fit in 64 bits"))]
    InvalidNumber {
        text: String,
        #[label(primary, "too large")]
        span: SourceSpan,
    },

    /// The builder met a grammar rule it does not expect: a bug in millrace.
    #[error("internal error: unexpected grammar rule `{rule}` in {context}")]
    #[diagnostic(
        code(mill::internal::unexpected_rule),
        help("this is a bug in millrace; please report it with the input file")
    )]
    Internal { rule: String, context: String },

    /// Nesting deeper than any real file: braces inside braces, or a route's
    /// `count ... else` chain. Refused before it can exhaust the stack.
    #[error("{what} nested too deeply: at most {max} levels")]
    #[diagnostic(code(mill::syntax::nesting_too_deep), help("{help}"))]
    NestingTooDeep {
        what: &'static str,
        max: usize,
        #[label(primary, "one level too many")]
        span: SourceSpan,
        help: String,
    },

    /// A string whose closing quote never comes on its line.
    #[error("this string is never closed")]
    #[diagnostic(
        code(mill::syntax::unterminated_string),
        help(
            "close it with `\"` on the same line; a string cannot span lines (write `\\\"` for a quote inside it)"
        )
    )]
    UnterminatedString {
        #[label(primary, "opened here")]
        span: SourceSpan,
    },

    /// The grammar failed as a whole (recovery should make this rare).
    #[error("cannot parse this file: expected {expected}")]
    #[diagnostic(code(mill::syntax::parse_failure))]
    ParseFailure {
        expected: String,
        #[label(primary, "here")]
        span: SourceSpan,
    },
}

impl SyntaxError {
    /// True for the compiler's own bugs (`mill::internal::*`).
    pub fn is_internal(&self) -> bool {
        matches!(self, SyntaxError::Internal { .. })
    }
}

pub(crate) fn sspan(span: Span) -> SourceSpan {
    span.into()
}
