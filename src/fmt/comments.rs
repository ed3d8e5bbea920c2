//! Recovering comments, which the grammar skips silently.
//!
//! Input: the source text and its parse tree. Output: every comment with
//! the end of the token before it, in source order.
//!
//! Invariant: comments are found only in the gaps between tokens, where the
//! grammar allows nothing but whitespace, comments and punctuation; so a `#`
//! inside a string is never taken for one.

use pest::iterators::Pair;

use crate::syntax::Rule;

/// One `# ...` comment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Comment {
    pub start: usize,
    pub end: usize,
    /// The text from `#`, trailing whitespace removed.
    pub text: String,
    /// Where the token before it ends (0 at the top of the file).
    pub after: usize,
    /// Whether it sits on the same line as that token.
    pub same_line: bool,
}

/// Every token's rule and source offsets, in order.
pub(super) fn token_spans(pair: Pair<'_, Rule>) -> Vec<(Rule, usize, usize)> {
    let mut out = Vec::new();
    // Iterative: a parse tree may be as deep as the nesting allows.
    let mut stack = vec![pair];
    while let Some(p) = stack.pop() {
        let rule = p.as_rule();
        if rule == Rule::EOI {
            continue;
        }
        let span = p.as_span();
        let mut inner: Vec<_> = p.into_inner().collect();
        if inner.is_empty() || matches!(rule, Rule::string | Rule::result_key) {
            out.push((rule, span.start(), span.end()));
        } else {
            inner.reverse();
            stack.extend(inner);
        }
    }
    out
}

/// Every comment of `text`, given its token spans.
pub(super) fn scan(text: &str, tokens: &[(usize, usize)]) -> Vec<Comment> {
    let mut out = Vec::new();
    let mut prev_end = None;
    let mut gaps: Vec<(Option<usize>, usize, usize)> = Vec::new();
    for &(start, end) in tokens {
        let from = prev_end.unwrap_or(0);
        gaps.push((prev_end, from, start));
        prev_end = Some(end);
    }
    gaps.push((prev_end, prev_end.unwrap_or(0), text.len()));
    for (after, from, to) in gaps {
        scan_gap(text, after, from, to, &mut out);
    }
    out
}

fn scan_gap(text: &str, after: Option<usize>, from: usize, to: usize, out: &mut Vec<Comment>) {
    let Some(gap) = text.get(from..to) else { return };
    let mut offset = 0;
    while let Some(hash) = gap[offset..].find('#') {
        let start = offset + hash;
        let len = gap[start..].find('\n').unwrap_or(gap.len() - start);
        let end = start + len;
        let same_line = after.is_some() && !gap[..start].contains('\n');
        out.push(Comment {
            start: from + start,
            end: from + end,
            text: gap[start..end].trim_end().to_string(),
            after: after.unwrap_or(0),
            same_line,
        });
        offset = end;
    }
}

/// Whether `text` holds a blank line: a line with only whitespace between
/// the line the gap starts on and the line it ends on.
pub(super) fn has_blank_line(text: &str) -> bool {
    let lines: Vec<&str> = text.split('\n').collect();
    lines.len() > 2 && lines[1..lines.len() - 1].iter().any(|l| l.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_lines_are_whole_empty_lines() {
        assert!(!has_blank_line(" \n  "));
        assert!(has_blank_line("\n\n"));
        assert!(has_blank_line(" # c\n   \n  "));
        assert!(!has_blank_line(" # c\n # d\n  "));
    }

    #[test]
    fn a_hash_in_a_string_is_no_comment() {
        let text = "stage a { # one\n  title \"x # y\" # two\n}\n# three\n";
        let tree = crate::syntax::parse_tree(text).unwrap();
        let spans: Vec<(usize, usize)> = token_spans(tree).iter().map(|t| (t.1, t.2)).collect();
        let comments = scan(text, &spans);
        let texts: Vec<&str> = comments.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(texts, ["# one", "# two", "# three"]);
        assert!(comments[0].same_line && comments[1].same_line && !comments[2].same_line);
    }
}
