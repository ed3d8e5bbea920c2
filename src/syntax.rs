//! Parsing `.mill` text into an AST with spans.
//!
//! Input: one file registered in [`crate::diag::Sources`]. Output: an
//! [`ast::Ast`] that records exactly what was written, plus diagnostics in
//! the shared sink.
//!
//! Invariants:
//! - Parsing never fails and never panics: catch-all grammar rules turn each
//!   bad line into a `mill::syntax::*` diagnostic and parsing goes on, so one
//!   run reports every syntax error of a file.
//! - Spans are global offsets (see [`crate::diag`]); no pest lifetime leaks
//!   into the AST.
//! - Nothing is resolved here: names stay names until `check`.

pub(crate) mod ast;
mod builder;
mod error;
mod loops;
mod modes;
mod shapes;

use pest::Parser as _;

pub use error::SyntaxError;
pub use shapes::{MODE_KEYWORDS, NODE_KEYWORDS, STAGE_KEYWORDS};

use crate::diag::{Diagnostics, FileId, Sources, Span};

#[derive(pest_derive::Parser)]
#[grammar = "../grammar/mill.pest"]
struct MillParser;

/// Parses one registered file.
pub fn parse_file(sources: &Sources, file: FileId, diags: &mut Diagnostics) -> ast::Ast {
    let source = sources.file(file);
    parse_text(&source.text, source.base, diags).with_file(file)
}

/// Deeper nesting than this is refused before parsing: the grammar recurses
/// on braces, and no real `.mill` file nests more than three levels.
const MAX_NESTING: usize = 64;

/// Parses text whose first byte sits at global offset `base`.
pub fn parse_text(text: &str, base: u32, diags: &mut Diagnostics) -> ast::Ast {
    if let Some(at) = too_deep(text) {
        let span = Span::new(base + at as u32, base + at as u32 + 1).into();
        diags.push(SyntaxError::NestingTooDeep {
            what: "braces",
            max: MAX_NESTING,
            span,
            help: "no `.mill` block nests more than three levels; close the blocks you opened".into(),
        });
        return ast::Ast::default();
    }
    let mut build = builder::Build { base, diags };
    match MillParser::parse(Rule::file, text) {
        Ok(mut pairs) => {
            let items = pairs.next().map(|file| build.file(file)).unwrap_or_default();
            ast::Ast { file: None, items }
        }
        Err(error) => {
            let (start, end) = match error.location {
                pest::error::InputLocation::Pos(p) => (p, p),
                pest::error::InputLocation::Span((s, e)) => (s, e),
            };
            let expected = match &error.variant {
                pest::error::ErrorVariant::ParsingError { positives, .. } => {
                    let mut names: Vec<&str> = positives.iter().map(|r| describe(*r)).collect();
                    names.sort_unstable();
                    names.dedup();
                    names.join(", ")
                }
                pest::error::ErrorVariant::CustomError { message } => message.clone(),
            };
            build.diags.push(SyntaxError::ParseFailure {
                expected,
                span: Span::new(base + start as u32, base + end as u32).into(),
            });
            ast::Ast::default()
        }
    }
}

/// The raw parse tree of a file, for tools that print it back (the
/// formatter). Callers parse with [`parse_text`] first: this does no
/// recovery reporting and no nesting guard of its own.
pub(crate) fn parse_tree(text: &str) -> Option<pest::iterators::Pair<'_, Rule>> {
    MillParser::parse(Rule::file, text).ok()?.next()
}

/// The offset of the first `{` nested deeper than [`MAX_NESTING`].
fn too_deep(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (i, b) in text.bytes().enumerate() {
        match b {
            b'{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Some(i);
                }
            }
            b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

impl ast::Ast {
    fn with_file(mut self, file: FileId) -> Self {
        self.file = Some(file);
        self
    }
}

/// A user-facing name for a grammar rule (never a `Rule` debug name).
fn describe(rule: Rule) -> &'static str {
    match rule {
        Rule::ident | Rule::dotted => "a name",
        Rule::string | Rule::string_body => "a string",
        Rule::integer => "a number",
        Rule::LBRACE => "`{`",
        Rule::RBRACE => "`}`",
        Rule::ARROW => "`->`",
        Rule::EOI => "end of file",
        _ => "a statement",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::{Layer, RenderOptions};

    fn parse(text: &str) -> (ast::Ast, Diagnostics, Sources) {
        let mut sources = Sources::new();
        let file = sources.add("test.mill", text, Layer::Workspace);
        let mut diags = Diagnostics::new();
        let ast = parse_file(&sources, file, &mut diags);
        (ast, diags, sources)
    }

    #[test]
    fn shipped_loops_parse_clean() {
        for (path, bytes) in crate::embedded::LOOPS {
            let (ast, diags, sources) = parse(std::str::from_utf8(bytes).unwrap());
            let shown = crate::diag::render_human(diags.iter(), &sources, RenderOptions::plain());
            assert!(diags.is_empty(), "{path}:\n{shown}");
            assert!(!ast.items.is_empty(), "{path} has items");
        }
    }

    #[test]
    fn three_mistakes_give_three_errors() {
        let text = "stage a {\n    plnae execution\n}\nlop x.y {\n}\nloop z.w {\n    plane execution\n    entry task builder\n}\n";
        let (ast, diags, _) = parse(text);
        assert_eq!(
            diags.codes(),
            [
                "mill::syntax::invalid_statement",
                "mill::syntax::invalid_item",
                "mill::syntax::invalid_statement"
            ]
        );
        assert_eq!(ast.items.len(), 2);
    }

    #[test]
    fn absurd_nesting_is_refused_not_overflowed() {
        let text = "{".repeat(200_000);
        let (ast, diags, _) = parse(&text);
        assert!(ast.items.is_empty());
        assert_eq!(diags.codes(), ["mill::syntax::nesting_too_deep"]);
    }

    #[test]
    fn routes_keep_their_shape() {
        let text = "loop l {\n  n {\n    A | B -> x count c else finish t reset d, e\n    C -> resume result.k, result.j default x except y, z count c2 else finish t\n  }\n}\n";
        let (ast, diags, _) = parse(text);
        assert!(diags.is_empty());
        let ast::Item::Loop(l) = &ast.items[0] else {
            panic!("a loop")
        };
        let routes = &l.nodes[0].routes;
        assert_eq!(routes[0].outcomes.len(), 2);
        assert_eq!(routes[0].resets.len(), 2);
        let guard = routes[0].branch.guard.as_ref().unwrap();
        assert_eq!(guard.counter.text, "c");
        assert!(matches!(&guard.otherwise.dest, ast::Dest::Finish(t) if t.text == "t"));
        let ast::Dest::Resume {
            keys,
            default,
            except,
        } = &routes[1].branch.dest
        else {
            panic!("resume")
        };
        assert_eq!((keys.len(), default.text.as_str(), except.len()), (2, "x", 2));
        assert!(routes[1].branch.guard.is_some());
    }
}
