//! Document symbols (the outline) and semantic tokens (highlighting by
//! meaning: a stage, a node, a counter, a terminal, an outcome).
//!
//! Input: the analysis of a document. Output: LSP symbol trees and
//! relative-encoded token arrays.
//! Invariant: a file that does not parse gets no semantic tokens (the
//! client keeps its TextMate highlighting) but still gets an outline.

use lsp_types::{SemanticTokenType, SemanticTokensLegend, SymbolKind};
use serde_json::{Value, json};

use super::convert::range;
use super::index::Kind;
use super::world::Analysis;
use crate::diag::Span;
use crate::syntax::Rule;
use crate::syntax::ast::{Item, LoopDecl, Name, NodeDecl};

const TYPES: &[&str] = &[
    "keyword",
    "type",
    "namespace",
    "function",
    "variable",
    "enumMember",
    "string",
    "number",
    "comment",
    "property",
    "class",
    "operator",
];

pub(super) fn legend() -> SemanticTokensLegend {
    SemanticTokensLegend {
        token_types: TYPES.iter().map(|t| SemanticTokenType::new(t)).collect(),
        token_modifiers: Vec::new(),
    }
}

fn kind_index(name: &str) -> u32 {
    TYPES.iter().position(|t| *t == name).unwrap_or(0) as u32
}

fn symbol(a: &Analysis, name: &Name, whole: Span, kind: SymbolKind, children: Vec<Value>) -> Value {
    let whole = whole.to(name.span);
    json!({
        "name": name.text,
        "kind": kind,
        "range": range(a, whole).1,
        "selectionRange": range(a, name.span).1,
        "children": children,
    })
}

pub(super) fn document_symbols(a: &Analysis) -> Value {
    let Some(ast) = a.asts.get(a.target.0 as usize) else {
        return Value::Null;
    };
    let mut out = Vec::new();
    for item in &ast.items {
        let value = match item {
            Item::Stage(d) => d.name.as_ref().map(|n| {
                let outcomes = d
                    .outcomes
                    .iter()
                    .flat_map(|b| &b.outcomes)
                    .map(|o| symbol(a, &o.name, o.span, SymbolKind::ENUM_MEMBER, Vec::new()))
                    .collect();
                symbol(a, n, d.span, SymbolKind::CLASS, outcomes)
            }),
            Item::Loop(l) => l
                .name
                .as_ref()
                .map(|n| symbol(a, n, l.span, SymbolKind::MODULE, loop_children(a, l))),
            Item::Mode(m) => m
                .name
                .as_ref()
                .map(|n| symbol(a, n, m.span, SymbolKind::NAMESPACE, Vec::new())),
            Item::Alias(al) => Some(symbol(a, &al.name, al.span, SymbolKind::CONSTANT, Vec::new())),
        };
        out.extend(value);
    }
    Value::Array(out)
}

fn loop_children(a: &Analysis, l: &LoopDecl) -> Vec<Value> {
    let node = |n: &NodeDecl| {
        n.name
            .as_ref()
            .map(|name| symbol(a, name, n.span, SymbolKind::FUNCTION, Vec::new()))
    };
    let mut out: Vec<Value> = Vec::new();
    out.extend(l.nodes.iter().filter_map(node));
    out.extend(l.closures.iter().filter_map(|c| node(&c.node)));
    out.extend(
        l.counters
            .iter()
            .map(|c| symbol(a, &c.name, c.span, SymbolKind::VARIABLE, Vec::new())),
    );
    out.extend(
        l.terminals
            .iter()
            .map(|t| symbol(a, &t.name, t.span, SymbolKind::ENUM_MEMBER, Vec::new())),
    );
    out
}

/// The token type of one grammar token, from its rule or from what the
/// name stands for.
fn classify(a: &Analysis, rule: Rule, global: Span) -> Option<&'static str> {
    let name = format!("{rule:?}");
    if name.starts_with("KW_") {
        return Some("keyword");
    }
    Some(match rule {
        Rule::string => "string",
        Rule::integer => "number",
        Rule::ARROW | Rule::WILDCARD => "operator",
        Rule::result_key => "property",
        Rule::ident | Rule::dotted => {
            let found = a.index.at(global.start);
            // Anything else is a word of a closed vocabulary (a plane, a
            // result class, a marker) or a configuration key.
            let Some(o) = found.iter().find(|o| o.span == global) else {
                return Some(if rule == Rule::dotted {
                    "property"
                } else {
                    "enumMember"
                });
            };
            match o.symbol.kind {
                Kind::Stage => "type",
                Kind::Loop => "namespace",
                Kind::Mode => "class",
                Kind::Node => "function",
                Kind::Counter => "variable",
                Kind::Terminal => "property",
                Kind::Outcome => "enumMember",
            }
        }
        _ => return None,
    })
}

pub(super) fn semantic_tokens(a: &Analysis) -> Value {
    let source = a.sources.file(a.target);
    let text = &source.text;
    let Some((tokens, comments)) = crate::fmt::lexemes(text) else {
        return json!({ "data": [] });
    };
    let mut spans: Vec<(usize, usize, u32)> = tokens
        .iter()
        .filter_map(|(rule, s, e)| {
            let global = Span::new(source.base + *s as u32, source.base + *e as u32);
            classify(a, *rule, global).map(|k| (*s, *e, kind_index(k)))
        })
        .collect();
    spans.extend(comments.iter().map(|(s, e)| (*s, *e, kind_index("comment"))));
    spans.sort_unstable();
    let index = a.line_index(a.target);
    let mut data: Vec<u32> = Vec::with_capacity(spans.len() * 5);
    let (mut line, mut col) = (0u32, 0u32);
    for (s, e, kind) in spans {
        let start = index.position(text, s);
        let end = index.position(text, e);
        if end.line != start.line || end.character <= start.character {
            continue;
        }
        let delta_line = start.line - line;
        let delta_col = if delta_line == 0 {
            start.character - col
        } else {
            start.character
        };
        data.extend([delta_line, delta_col, end.character - start.character, kind, 0]);
        (line, col) = (start.line, start.character);
    }
    json!({ "data": data })
}
