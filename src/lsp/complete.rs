//! Completion from the words before the cursor and the block around it:
//! the unrouted outcomes of a node's stage at the start of a route, nodes
//! and terminals after `->` and `finish`, counters after `count`, runners,
//! planes, work-item kinds and the other closed vocabularies.
//!
//! Input: an analysis and a position. Output: completion items.
//! Invariant: works on text that does not parse (the line being typed).

use lsp_types::{CompletionItem, CompletionItemKind};
use serde_json::Value;

use super::hover::{find_loop, stage_by_name};
use super::index::Kind;
use super::navigate::offset_at;
use super::world::Analysis;
use crate::plan::{ClosureTrigger, Effort, Plane, RUNNERS, ResultClass, Role, WorkItemKind};
use crate::syntax::ast::{Item, LoopDecl, NodeDecl};

/// The innermost block around the cursor.
enum Around<'a> {
    Top,
    Stage,
    Outcomes,
    Loop(&'a LoopDecl),
    Node(&'a LoopDecl, &'a NodeDecl),
    Mode,
}

pub(super) fn completion(a: &Analysis, params: &Value) -> Value {
    let Some(offset) = offset_at(a, params) else {
        return Value::Null;
    };
    let source = a.sources.file(a.sources.file_of(offset));
    let local = (offset - source.base) as usize;
    let before = source.text.get(..local).unwrap_or("");
    let line = before.rsplit('\n').next().unwrap_or("");
    let mut words: Vec<&str> = line.split_whitespace().collect();
    if !line.ends_with(char::is_whitespace) {
        words.pop();
    }
    let around = around(a, offset, before);
    let items = candidates(a, &around, &words);
    serde_json::to_value(items).unwrap_or(Value::Null)
}

fn around<'a>(a: &'a Analysis, offset: u32, before: &str) -> Around<'a> {
    let Some(ast) = a.asts.get(a.sources.file_of(offset).0 as usize) else {
        return Around::Top;
    };
    let inside = |s: crate::diag::Span| s.start < offset && offset <= s.end.max(s.start + 1);
    for item in &ast.items {
        match item {
            Item::Stage(d) if inside(d.span) => {
                let in_outcomes = d.outcomes.as_ref().is_some_and(|o| inside(o.span));
                // An outcomes block being typed may not have parsed yet.
                let open = before
                    .rfind("outcomes")
                    .is_some_and(|i| !before[i..].contains('}'));
                return if in_outcomes || open {
                    Around::Outcomes
                } else {
                    Around::Stage
                };
            }
            Item::Loop(l) if inside(l.span) => {
                let closures = l.closures.iter().map(|c| &c.node);
                return match l.nodes.iter().chain(closures).find(|n| inside(n.span)) {
                    Some(n) => Around::Node(l, n),
                    None => Around::Loop(l),
                };
            }
            Item::Mode(m) if inside(m.span) => return Around::Mode,
            _ => {}
        }
    }
    Around::Top
}

fn item(label: &str, kind: CompletionItemKind, detail: &str) -> CompletionItem {
    CompletionItem {
        label: label.to_string(),
        kind: Some(kind),
        detail: Some(detail.to_string()),
        ..CompletionItem::default()
    }
}

fn words_of(list: &[&str], kind: CompletionItemKind, detail: &str) -> Vec<CompletionItem> {
    list.iter().map(|w| item(w, kind, detail)).collect()
}

fn keywords(list: &[&str]) -> Vec<CompletionItem> {
    words_of(list, CompletionItemKind::KEYWORD, "keyword")
}

fn candidates(a: &Analysis, around: &Around<'_>, words: &[&str]) -> Vec<CompletionItem> {
    use CompletionItemKind as K;
    let prev = words.last().copied().unwrap_or("");
    let scope = match around {
        Around::Loop(l) | Around::Node(l, _) => l.name.as_ref().map(|n| n.text.clone()).unwrap_or_default(),
        _ => String::new(),
    };
    let named = |kind: Kind, k: K, detail: &str| -> Vec<CompletionItem> {
        a.index
            .names(kind, &scope)
            .iter()
            .map(|n| item(n, k, detail))
            .collect()
    };
    match prev {
        "->" | "else" if matches!(around, Around::Node(..)) => {
            let mut out = named(Kind::Node, K::CLASS, "node");
            out.extend(keywords(&["finish", "resume"]));
            out
        }
        "default" | "except" | "->" => named(Kind::Node, K::CLASS, "node"),
        "finish" => named(Kind::Terminal, K::ENUM_MEMBER, "terminal"),
        "count" | "reset" => named(Kind::Counter, K::VARIABLE, "counter"),
        "runner" if matches!(around, Around::Mode) => stage_names(a),
        "runner" => words_of(RUNNERS, K::VALUE, "runner"),
        "plane" => words_of(Plane::NAMES, K::VALUE, "plane"),
        "entry" => work_item_kinds(around),
        "effort" if !matches!(around, Around::Mode) => words_of(Effort::NAMES, K::VALUE, "effort"),
        "role" => words_of(Role::NAMES, K::VALUE, "role"),
        "when" => words_of(ClosureTrigger::NAMES, K::VALUE, "closure trigger"),
        "extends" => a
            .index
            .names(Kind::Mode, "")
            .iter()
            .map(|n| item(n, K::MODULE, "mode"))
            .collect(),
        "=" if matches!(around, Around::Mode) => mode_value(a, words),
        _ if prev.ends_with(':') && matches!(around, Around::Outcomes) => {
            words_of(ResultClass::NAMES, K::VALUE, "result class")
        }
        "" => line_start(a, around),
        _ => Vec::new(),
    }
}

fn stage_names(a: &Analysis) -> Vec<CompletionItem> {
    let mut out = vec![item("*", CompletionItemKind::OPERATOR, "every stage")];
    out.extend(
        a.index
            .names(Kind::Stage, "")
            .iter()
            .map(|n| item(n, CompletionItemKind::STRUCT, "stage")),
    );
    out
}

fn work_item_kinds(around: &Around<'_>) -> Vec<CompletionItem> {
    let plane = match around {
        Around::Loop(l) | Around::Node(l, _) => l.plane.as_ref().and_then(|p| p.text.parse::<Plane>().ok()),
        _ => None,
    };
    WorkItemKind::ALL
        .iter()
        .filter(|k| plane.is_none_or(|p| k.plane() == p))
        .map(|k| item(k.as_str(), CompletionItemKind::VALUE, "work item kind"))
        .collect()
}

/// After `=` in a mode: a loop of the plane bound, or a binding's value.
fn mode_value(a: &Analysis, words: &[&str]) -> Vec<CompletionItem> {
    use CompletionItemKind as K;
    match words.first().copied().unwrap_or("") {
        "runner" => words_of(RUNNERS, K::VALUE, "runner"),
        "effort" => words_of(Effort::NAMES, K::VALUE, "effort"),
        plane => a
            .index
            .names(Kind::Loop, "")
            .iter()
            .filter(|l| {
                find_loop(a, l)
                    .and_then(|d| d.plane.as_ref())
                    .is_some_and(|p| p.text == plane)
            })
            .map(|l| item(l, K::MODULE, "loop"))
            .collect(),
    }
}

/// At the start of a line: what a statement of this block may begin with.
fn line_start(a: &Analysis, around: &Around<'_>) -> Vec<CompletionItem> {
    match around {
        Around::Top => keywords(&["stage", "gate", "loop", "mode", "alias"]),
        Around::Stage => keywords(crate::syntax::STAGE_KEYWORDS),
        Around::Outcomes => Vec::new(),
        Around::Loop(_) => keywords(&["plane", "entry", "counter", "terminal", "closure"]),
        Around::Mode => {
            let mut out = keywords(crate::syntax::MODE_KEYWORDS);
            out.extend(words_of(Plane::NAMES, CompletionItemKind::VALUE, "plane binding"));
            out
        }
        Around::Node(_, node) => {
            let Some(stage) = node.stage.as_ref().or(node.name.as_ref()) else {
                return Vec::new();
            };
            let routed: Vec<&str> = node
                .routes
                .iter()
                .flat_map(|r| &r.outcomes)
                .map(|o| o.text.as_str())
                .collect();
            let mut out: Vec<CompletionItem> = stage_by_name(a, &stage.text)
                .and_then(|d| d.outcomes.as_ref())
                .map(|b| {
                    b.outcomes
                        .iter()
                        .filter(|o| !routed.contains(&o.name.text.as_str()))
                        .map(|o| item(&o.name.text, CompletionItemKind::ENUM_MEMBER, "unrouted outcome"))
                        .collect()
                })
                .unwrap_or_default();
            out.extend(keywords(crate::syntax::NODE_KEYWORDS));
            out
        }
    }
}
