//! Quick fixes: apply a did-you-mean, add a node's missing outcome routes,
//! and guard an unbounded cycle with a new counter.
//!
//! Input: an analysis and a range of the document. Output: code actions
//! whose edits apply to that document.
//!
//! Invariant: fixes come from the server's own diagnostics of the current
//! text, not from what the client sends back, so an edit never applies to
//! a stale span.

use std::collections::HashMap;

use lsp_types::{CodeAction, CodeActionKind, CodeActionOrCommand, Range, TextEdit, Uri, WorkspaceEdit};
use miette::LabeledSpan;
use serde_json::Value;

use super::convert::{self, primary};
use super::hover::stage_by_name;
use super::world::Analysis;
use crate::diag::{Diag, Span, code_of};
use crate::syntax::ast::{Item, LoopDecl, NodeDecl};

pub(super) fn code_actions(a: &Analysis, params: &Value) -> Value {
    let Some(uri) = params.pointer("/textDocument/uri").and_then(Value::as_str) else {
        return Value::Null;
    };
    let wanted: Range = params
        .get("range")
        .and_then(|r| serde_json::from_value(r.clone()).ok())
        .unwrap_or_default();
    let mut out: Vec<CodeActionOrCommand> = Vec::new();
    let mut seen_nodes: Vec<Span> = Vec::new();
    for diag in a.diags.iter() {
        let Some(span) = primary(diag) else { continue };
        let (file, range) = convert::range(a, span);
        if file != a.target || !overlaps(range, wanted) {
            continue;
        }
        let fix = match code_of(diag.as_ref()).as_str() {
            "mill::check::unhandled_outcome" if !seen_nodes.contains(&span) => {
                seen_nodes.push(span);
                missing_routes(a, span)
            }
            "mill::check::unbounded_cycle" => guard_cycle(a, diag),
            _ => did_you_mean(a, diag, span),
        };
        if let Some((title, edits)) = fix {
            out.push(action(a, uri, diag, title, edits));
        }
    }
    serde_json::to_value(out).unwrap_or(Value::Null)
}

fn overlaps(a: Range, b: Range) -> bool {
    a.start <= b.end && b.start <= a.end
}

fn action(a: &Analysis, uri: &str, diag: &Diag, title: String, edits: Vec<TextEdit>) -> CodeActionOrCommand {
    // `Uri` caches its parse internally; as a key it is only ever hashed
    // by its text.
    #[allow(clippy::mutable_key_type)]
    let mut changes = HashMap::new();
    if let Ok(u) = uri.parse::<Uri>() {
        changes.insert(u, edits);
    }
    CodeActionOrCommand::CodeAction(CodeAction {
        title,
        kind: Some(CodeActionKind::QUICKFIX),
        diagnostics: Some(vec![convert::diagnostic(a, diag).1]),
        edit: Some(WorkspaceEdit {
            changes: Some(changes),
            ..WorkspaceEdit::default()
        }),
        is_preferred: Some(true),
        ..CodeAction::default()
    })
}

fn insert(a: &Analysis, at: u32, text: String) -> TextEdit {
    TextEdit {
        range: convert::range(a, Span::new(at, at)).1,
        new_text: text,
    }
}

/// `did you mean `x`?` in the help: replace the primary span with `x`.
fn did_you_mean(a: &Analysis, diag: &Diag, span: Span) -> Option<(String, Vec<TextEdit>)> {
    let help = convert::help(diag)?;
    let start = help.find("did you mean `")? + "did you mean `".len();
    let end = start + help[start..].find('`')?;
    let fix = &help[start..end];
    let old = a.sources.text(span);
    let edit = TextEdit {
        range: convert::range(a, span).1,
        new_text: fix.to_string(),
    };
    Some((format!("Replace `{old}` with `{fix}`"), vec![edit]))
}

fn target_items(a: &Analysis) -> impl Iterator<Item = &Item> {
    a.asts
        .get(a.target.0 as usize)
        .into_iter()
        .flat_map(|ast| &ast.items)
}

fn loop_around(a: &Analysis, span: Span) -> Option<&LoopDecl> {
    target_items(a).find_map(|i| match i {
        Item::Loop(l) if l.span.start <= span.start && span.end <= l.span.end => Some(l),
        _ => None,
    })
}

/// The text before `}` at the end of a block, and where to insert a line
/// above it.
fn line_before_close(a: &Analysis, block: Span) -> (u32, String) {
    let close = block.end.saturating_sub(1);
    let source = a.sources.file(a.sources.file_of(close));
    let local = (close - source.base) as usize;
    let line_start = source.text[..local].rfind('\n').map(|i| i + 1).unwrap_or(0);
    let lead = &source.text[line_start..local];
    let indent = lead.len() - lead.trim_start().len();
    let inner = " ".repeat(indent + 4);
    if lead.trim().is_empty() {
        (source.base + line_start as u32, inner)
    } else {
        (close, format!("\n{inner}"))
    }
}

/// Routes for every outcome node `head` leaves unrouted.
fn missing_routes(a: &Analysis, head: Span) -> Option<(String, Vec<TextEdit>)> {
    let l = loop_around(a, head)?;
    let closures = l.closures.iter().map(|c| &c.node);
    let node: &NodeDecl = l.nodes.iter().chain(closures).find(|n| n.head_span == head)?;
    let stage = node.stage.as_ref().or(node.name.as_ref())?;
    let decl = stage_by_name(a, &stage.text)?;
    let routed: Vec<&str> = node
        .routes
        .iter()
        .flat_map(|r| &r.outcomes)
        .map(|o| o.text.as_str())
        .collect();
    let (at, lead) = line_before_close(a, node.span);
    let mut text = String::new();
    let mut added = Vec::new();
    for o in decl.outcomes.iter().flat_map(|b| &b.outcomes) {
        if routed.contains(&o.name.text.as_str()) {
            continue;
        }
        let classes: Vec<&str> = o.classes.iter().map(|c| c.text.as_str()).collect();
        let dest = terminal_for(l, &classes).unwrap_or_else(|| "finish <terminal>".into());
        let line = format!("{lead}{} -> {dest}", o.name.text);
        text.push_str(&if lead.starts_with('\n') {
            line
        } else {
            format!("{line}\n")
        });
        added.push(o.name.text.clone());
    }
    if added.is_empty() {
        return None;
    }
    let name = node.name.as_ref().map(|n| n.text.as_str()).unwrap_or("?");
    Some((
        format!("Route {} in node `{name}`", added.join(", ")),
        vec![insert(a, at, text)],
    ))
}

/// `finish <t>` at a terminal whose class fits the outcome's classes.
fn terminal_for(l: &LoopDecl, classes: &[&str]) -> Option<String> {
    let fits = |t: &&crate::syntax::ast::TerminalDecl| classes.contains(&t.class.text.as_str());
    let blocked = |t: &&crate::syntax::ast::TerminalDecl| t.class.text == "blocked" && classes != ["success"];
    let t = l
        .terminals
        .iter()
        .find(fits)
        .or_else(|| l.terminals.iter().find(blocked))?;
    Some(format!("finish {}", t.name.text))
}

/// Guards the first unguarded edge of the reported cycle with a new counter
/// (and a `blocked` terminal for its fallback when the loop has none).
fn guard_cycle(a: &Analysis, diag: &Diag) -> Option<(String, Vec<TextEdit>)> {
    let mut labels: Vec<LabeledSpan> = diag.labels().map(|l| l.collect()).unwrap_or_default();
    labels.sort_by_key(|l| !l.primary());
    let edge = labels
        .iter()
        .map(|l| Span::new(l.offset() as u32, (l.offset() + l.len()) as u32))
        .find(|s| unguarded_route(a, *s))?;
    let l = loop_around(a, edge)?;
    let counter = fresh(l.counters.iter().map(|c| c.name.text.as_str()), "cycle_guard");
    let mut edits = Vec::new();
    let terminal = match l.terminals.iter().find(|t| t.class.text == "blocked") {
        Some(t) => t.name.text.clone(),
        None => {
            let name = fresh(l.terminals.iter().map(|t| t.name.text.as_str()), "blocked");
            let (at, lead) = line_before_close(a, l.span);
            let line = format!("{lead}terminal {name}: blocked");
            edits.push(insert(
                a,
                at,
                if lead.starts_with('\n') {
                    line
                } else {
                    format!("{line}\n")
                },
            ));
            name
        }
    };
    let (at, indent) = counter_line(a, l)?;
    edits.push(insert(a, at, format!("{indent}counter {counter} limit 3\n")));
    edits.push(insert(
        a,
        edge.end,
        format!(" count {counter} else finish {terminal}"),
    ));
    let dest = a.sources.text(edge).to_string();
    Some((
        format!("Guard the route to `{dest}` with a new counter `{counter}`"),
        edits,
    ))
}

/// Whether the label marks a route destination with no guard after it.
fn unguarded_route(a: &Analysis, span: Span) -> bool {
    let text = a.sources.text(span);
    let file = a.sources.file(a.sources.file_of(span.end));
    let after = file.text.get((span.end - file.base) as usize..).unwrap_or("");
    let next = after.split_whitespace().next().unwrap_or("");
    !text.starts_with("closure") && next != "count" && a.sources.file_of(span.start) == a.target
}

fn fresh<'a>(taken: impl Iterator<Item = &'a str> + Clone, base: &str) -> String {
    let mut name = base.to_string();
    let mut n = 2;
    while taken.clone().any(|t| t == name) {
        name = format!("{base}_{n}");
        n += 1;
    }
    name
}

/// Where a new counter line goes: after the loop's last counter, entry or
/// plane statement, with that statement's indentation.
fn counter_line(a: &Analysis, l: &LoopDecl) -> Option<(u32, String)> {
    let anchor = l
        .counters
        .iter()
        .map(|c| c.span)
        .chain(l.entries.iter().map(|e| e.span))
        .chain(l.plane.iter().map(|p| p.span))
        .max_by_key(|s| s.start)?;
    let file = a.sources.file(a.sources.file_of(anchor.start));
    let local = (anchor.start - file.base) as usize;
    let line_start = file.text[..local].rfind('\n').map(|i| i + 1).unwrap_or(0);
    let indent = " ".repeat(local - line_start);
    let line_end = file.text[local..]
        .find('\n')
        .map(|i| local + i + 1)
        .unwrap_or(file.text.len());
    Some((file.base + line_end as u32, indent))
}
