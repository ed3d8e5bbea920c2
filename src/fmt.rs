//! `millrace fmt`: the one canonical layout of a `.mill` file.
//!
//! Input: the text of one file. Output: the same file laid out canonically
//! (4-space indentation, one statement per line, aligned columns, wrapped
//! routes and terminals), or the diagnostics that stop it.
//!
//! Invariants:
//! - A file with syntax errors is refused, with those errors.
//! - Only whitespace changes: before returning, the output is parsed again
//!   and must hold the same tokens and the same comments, in the same order.
//!   So the plan compiled from it is the same; a failure of this check is a
//!   bug, reported as `mill::internal::fmt_changed_meaning`, never written.
//! - Idempotent: the layout depends only on the tokens and on where comments
//!   and blank lines sit relative to them, which formatting preserves.

mod comments;
mod layout;
mod print;
mod tree;

use crate::diag::{Diagnostics, FileId, Layer, Sources};
use crate::syntax::Rule;

pub use layout::WIDTH;

/// Why a file was not formatted, or is not formatted.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum FmtError {
    /// The file does not parse; its syntax errors are reported beside this.
    #[error("cannot format `{file}`: it has {count} syntax error{}", if *count == 1 { "" } else { "s" })]
    #[diagnostic(
        code(mill::fmt::syntax_errors),
        help("fix the syntax errors above, then format again")
    )]
    SyntaxErrors { file: String, count: usize },

    /// `--check` found a file whose layout is not the canonical one.
    #[error("`{file}` is not formatted (first difference at line {line})")]
    #[diagnostic(code(mill::fmt::unformatted), help("run `millrace fmt {file}`"))]
    Unformatted { file: String, line: usize },

    /// The formatted text would not mean the same: a bug in the formatter.
    #[error("internal error: formatting `{file}` would change it beyond whitespace ({what})")]
    #[diagnostic(
        code(mill::internal::fmt_changed_meaning),
        help("this is a bug in millrace; the file was left as it was; please report it with the file")
    )]
    ChangedMeaning { file: String, what: String },

    /// The printer met a grammar rule it does not know: a bug.
    #[error("internal error: the formatter does not know {rule}")]
    #[diagnostic(
        code(mill::internal::fmt_unexpected_rule),
        help("this is a bug in millrace; the file was left as it was; please report it with the file")
    )]
    UnexpectedRule { rule: String },
}

/// Formats one registered file. Syntax errors and formatter bugs are pushed
/// to `diags` and give `None`; the file's text is never partly formatted.
pub fn format_file(sources: &Sources, file: FileId, diags: &mut Diagnostics) -> Option<String> {
    let source = sources.file(file);
    let mut syntax = Diagnostics::new();
    crate::syntax::parse_file(sources, file, &mut syntax);
    syntax.sort();
    let count = syntax.error_count();
    diags.extend(syntax);
    if count > 0 {
        diags.push(FmtError::SyntaxErrors {
            file: source.name.clone(),
            count,
        });
        return None;
    }
    match layout_text(&source.text).and_then(|out| verify(&source.name, &source.text, out)) {
        Ok(out) => Some(out),
        Err(e) => {
            diags.push(e);
            None
        }
    }
}

/// Why [`format_text`] refused: the diagnostics, and the source they
/// point into (for rendering).
pub struct Refused {
    pub sources: Sources,
    pub diags: Diagnostics,
}

impl std::fmt::Debug for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Refused")
            .field("codes", &self.diags.codes())
            .finish()
    }
}

/// Formats `text`, reporting problems against the display name `name`.
pub fn format_text(name: &str, text: &str) -> Result<String, Refused> {
    let mut sources = Sources::new();
    let file = sources.add(name, text, Layer::Workspace);
    let mut diags = Diagnostics::new();
    match format_file(&sources, file, &mut diags) {
        Some(out) => Ok(out),
        None => Err(Refused { sources, diags }),
    }
}

/// The 1-based line of the first difference between two texts.
pub fn first_difference(a: &str, b: &str) -> usize {
    let mut line = 1;
    for (x, y) in a.split('\n').zip(b.split('\n')) {
        if x != y {
            return line;
        }
        line += 1;
    }
    line
}

fn layout_text(text: &str) -> Result<String, FmtError> {
    let Some(tree) = crate::syntax::parse_tree(text) else {
        return Err(FmtError::UnexpectedRule {
            rule: "a file the grammar rejects".into(),
        });
    };
    let spans: Vec<(usize, usize)> = comments::token_spans(tree.clone())
        .into_iter()
        .map(|(_, s, e)| (s, e))
        .collect();
    let found = comments::scan(text, &spans);
    let units = tree::file(tree).map_err(|e| FmtError::UnexpectedRule { rule: e.0 })?;
    Ok(print::Printer::new(text, found).file(&units))
}

/// Tokens (rule, start, end) and comments (start, end) of a file.
pub(crate) type Lexemes = (Vec<(Rule, usize, usize)>, Vec<(usize, usize)>);

/// Every token (its rule and offsets) and every comment (its offsets) of a
/// file that parses as a whole, in source order: for highlighting.
pub(crate) fn lexemes(text: &str) -> Option<Lexemes> {
    let tree = crate::syntax::parse_tree(text)?;
    let tokens = comments::token_spans(tree);
    let spans: Vec<(usize, usize)> = tokens.iter().map(|(_, s, e)| (*s, *e)).collect();
    let found = comments::scan(text, &spans)
        .into_iter()
        .map(|c| (c.start, c.end))
        .collect();
    Some((tokens, found))
}

/// What formatting must keep: every token (rule and text) and every
/// comment, in order.
type Shape = (Vec<(Rule, String)>, Vec<String>);

fn shape(text: &str) -> Option<Shape> {
    let tree = crate::syntax::parse_tree(text)?;
    let tokens = comments::token_spans(tree);
    let spans: Vec<(usize, usize)> = tokens.iter().map(|(_, s, e)| (*s, *e)).collect();
    let found = comments::scan(text, &spans);
    let words = tokens
        .into_iter()
        .map(|(r, s, e)| (r, text.get(s..e).unwrap_or("").to_string()))
        .collect();
    Some((words, found.into_iter().map(|c| c.text).collect()))
}

fn verify(name: &str, before: &str, after: String) -> Result<String, FmtError> {
    let changed = |what: &str| FmtError::ChangedMeaning {
        file: name.into(),
        what: what.into(),
    };
    let mut diags = Diagnostics::new();
    crate::syntax::parse_text(&after, 0, &mut diags);
    if diags.has_errors() {
        return Err(changed("the result does not parse"));
    }
    let (old, new) = (shape(before), shape(&after));
    match (old, new) {
        (Some(old), Some(new)) if old.0 != new.0 => Err(changed("the tokens differ")),
        (Some(old), Some(new)) if old.1 != new.1 => Err(changed("the comments differ")),
        (Some(_), Some(_)) => Ok(after),
        _ => Err(changed("the result does not parse")),
    }
}
