//! Hover: what a name stands for. A stage's outcomes with their result
//! classes, its entrypoint and skills; a counter's limit and config key; a
//! terminal's class and marker; a mode's bindings resolved through
//! `extends`.
//!
//! Input: an analysis and a position. Output: markdown, or null.
//! Invariant: read from the syntax trees, so it works in a file with errors.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::index::{Kind, Symbol};
use super::navigate::{offset_at, winning_def};
use super::world::Analysis;
use crate::syntax::ast::{BindingValue, Item, LoopDecl, ModeDecl, Name, StageDecl};

pub(super) fn hover(a: &Analysis, params: &Value) -> Value {
    let Some(offset) = offset_at(a, params) else {
        return Value::Null;
    };
    let mut parts: Vec<String> = Vec::new();
    let mut seen: Vec<&Symbol> = Vec::new();
    for o in a.index.at(offset) {
        if seen.contains(&&o.symbol) {
            continue;
        }
        seen.push(&o.symbol);
        if let Some(text) = describe(a, &o.symbol) {
            parts.push(text);
        }
    }
    if parts.is_empty() {
        return Value::Null;
    }
    json!({ "contents": { "kind": "markdown", "value": parts.join("\n\n---\n\n") } })
}

fn describe(a: &Analysis, symbol: &Symbol) -> Option<String> {
    match symbol.kind {
        Kind::Stage => stage(a, symbol).map(stage_text),
        Kind::Outcome => outcome(a, symbol),
        Kind::Node => node(a, symbol),
        Kind::Counter => counter(a, symbol),
        Kind::Terminal => terminal(a, symbol),
        Kind::Loop => find_loop(a, &symbol.name).map(loop_text),
        Kind::Mode => Some(mode_text(a, &symbol.name)),
    }
}

fn items(a: &Analysis) -> impl Iterator<Item = &Item> {
    a.asts.iter().flat_map(|ast| &ast.items)
}

/// The declaration whose name is the winning definition of `symbol`.
fn stage<'a>(a: &'a Analysis, symbol: &Symbol) -> Option<&'a StageDecl> {
    let def = winning_def(a, symbol)?;
    items(a).find_map(|i| match i {
        Item::Stage(d) if d.name.as_ref().is_some_and(|n| n.span == def.span) => Some(&**d),
        _ => None,
    })
}

pub(super) fn stage_by_name<'a>(a: &'a Analysis, name: &str) -> Option<&'a StageDecl> {
    let symbol = Symbol {
        kind: Kind::Stage,
        scope: String::new(),
        name: name.into(),
    };
    stage(a, &symbol)
}

pub(super) fn find_loop<'a>(a: &'a Analysis, name: &str) -> Option<&'a LoopDecl> {
    let loops = items(a).filter_map(|i| match i {
        Item::Loop(l) if l.name.as_ref().is_some_and(|n| n.text == name) => Some(l),
        _ => None,
    });
    // A workspace loop overrides a shipped one: the last wins.
    loops.last()
}

fn names(list: &[Name], sep: &str) -> String {
    list.iter().map(|n| n.text.as_str()).collect::<Vec<_>>().join(sep)
}

fn stage_text(d: &StageDecl) -> String {
    let name = d.name.as_ref().map(|n| n.text.as_str()).unwrap_or("?");
    let plane = d.plane.as_ref().map(|p| p.text.as_str()).unwrap_or("?");
    let mut out = format!("**stage `{name}`** (plane {plane})");
    if let Some(title) = &d.title {
        out.push_str(&format!(": {}", title.value));
    }
    if let Some(e) = &d.entrypoint {
        out.push_str(&format!("\n\nentrypoint `{}`", e.value));
    }
    for s in &d.skills {
        out.push_str(&format!("\n\nskill `{}`", s.value));
    }
    if let Some(block) = &d.outcomes {
        out.push_str("\n\noutcomes:");
        for o in &block.outcomes {
            out.push_str(&format!("\n- `{}`: {}", o.name.text, names(&o.classes, " | ")));
        }
    }
    out
}

fn outcome(a: &Analysis, symbol: &Symbol) -> Option<String> {
    let d = stage_by_name(a, &symbol.scope)?;
    let o = d
        .outcomes
        .iter()
        .flat_map(|b| &b.outcomes)
        .find(|o| o.name.text == symbol.name)?;
    Some(format!(
        "**outcome `{}`** of stage `{}`: {}",
        o.name.text,
        symbol.scope,
        names(&o.classes, " | ")
    ))
}

fn node(a: &Analysis, symbol: &Symbol) -> Option<String> {
    let l = find_loop(a, &symbol.scope)?;
    let closures = l.closures.iter().map(|c| &c.node);
    let n = l
        .nodes
        .iter()
        .chain(closures)
        .find(|n| n.name.as_ref().is_some_and(|x| x.text == symbol.name))?;
    let stage = n
        .stage
        .as_ref()
        .or(n.name.as_ref())
        .map(|s| s.text.as_str())
        .unwrap_or("?");
    let routed: Vec<&str> = n
        .routes
        .iter()
        .flat_map(|r| &r.outcomes)
        .map(|o| o.text.as_str())
        .collect();
    Some(format!(
        "**node `{}`** of loop `{}` runs stage `{stage}`\n\nroutes: {}",
        symbol.name,
        symbol.scope,
        routed.join(", ")
    ))
}

fn counter(a: &Analysis, symbol: &Symbol) -> Option<String> {
    let l = find_loop(a, &symbol.scope)?;
    let c = l.counters.iter().find(|c| c.name.text == symbol.name)?;
    let config = match &c.config {
        Some(key) => format!("; `millrace.toml` key `{}` may change the limit", key.text),
        None => String::new(),
    };
    Some(format!(
        "**counter `{}`** of loop `{}`: limit {}{config}",
        symbol.name, symbol.scope, c.limit.value
    ))
}

fn terminal(a: &Analysis, symbol: &Symbol) -> Option<String> {
    let l = find_loop(a, &symbol.scope)?;
    let t = l.terminals.iter().find(|t| t.name.text == symbol.name)?;
    let writes = t
        .writes
        .as_ref()
        .map(|w| w.text.clone())
        .unwrap_or_else(|| t.name.text.to_uppercase());
    let mut out = format!(
        "**terminal `{}`** of loop `{}`: class `{}`, writes `{writes}`",
        symbol.name, symbol.scope, t.class.text
    );
    if t.opens.is_some() {
        out.push_str(", opens an incident");
    }
    if !t.emits.is_empty() {
        out.push_str(&format!(", emits {}", names(&t.emits, ", ")));
    }
    Some(out)
}

fn loop_text(l: &LoopDecl) -> String {
    let name = l.name.as_ref().map(|n| n.text.as_str()).unwrap_or("?");
    let plane = l.plane.as_ref().map(|p| p.text.as_str()).unwrap_or("?");
    let entries: Vec<String> = l
        .entries
        .iter()
        .map(|e| format!("`{} -> {}`", e.kind.text, e.node.text))
        .collect();
    format!(
        "**loop `{name}`** (plane {plane})\n\nentries: {}\n\n{} nodes, {} counters, {} terminals",
        entries.join(", "),
        l.nodes.len() + l.closures.len(),
        l.counters.len(),
        l.terminals.len()
    )
}

/// A mode's statements, oldest ancestor first; an alias names its target.
fn chain<'a>(a: &'a Analysis, name: &str) -> Vec<&'a ModeDecl> {
    let mut out: Vec<&ModeDecl> = Vec::new();
    let mut next = Some(resolve_alias(a, name));
    while let Some(current) = next.take() {
        let Some(decl) = items(a)
            .filter_map(|i| match i {
                Item::Mode(m) if m.name.as_ref().is_some_and(|n| n.text == current) => Some(m),
                _ => None,
            })
            .last()
        else {
            break;
        };
        if out.iter().any(|m| std::ptr::eq(*m, decl)) {
            break;
        }
        out.push(decl);
        next = decl.extends.as_ref().map(|e| resolve_alias(a, &e.text));
    }
    out.reverse();
    out
}

fn resolve_alias(a: &Analysis, name: &str) -> String {
    items(a)
        .filter_map(|i| match i {
            Item::Alias(al) if al.name.text == name => Some(al.target.text.clone()),
            _ => None,
        })
        .last()
        .unwrap_or_else(|| name.to_string())
}

fn value_text(v: &BindingValue) -> String {
    match v {
        BindingValue::Name(n) => n.text.clone(),
        BindingValue::Str(s) => format!("{:?}", s.value),
        BindingValue::Int(i) => i.value.to_string(),
        BindingValue::Strs(list) => list
            .iter()
            .map(|s| format!("{:?}", s.value))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

fn mode_text(a: &Analysis, name: &str) -> String {
    let target = resolve_alias(a, name);
    let chain = chain(a, name);
    let mut planes: BTreeMap<String, (String, String)> = BTreeMap::new();
    let mut bindings: BTreeMap<(String, String), (String, String)> = BTreeMap::new();
    for m in &chain {
        let from = m.name.as_ref().map(|n| n.text.clone()).unwrap_or_default();
        for p in &m.planes {
            planes.insert(p.plane.text.clone(), (p.loop_name.text.clone(), from.clone()));
        }
        for b in &m.bindings {
            let sel = b
                .selector
                .as_ref()
                .map(|s| s.text.clone())
                .unwrap_or_else(|| "*".into());
            bindings.insert(
                (b.kind.keyword().to_string(), sel),
                (value_text(&b.value), from.clone()),
            );
        }
    }
    let mut out = if target == name {
        format!("**mode `{name}`**")
    } else {
        format!("**alias `{name}`** of mode `{target}`")
    };
    let names: Vec<String> = chain
        .iter()
        .rev()
        .filter_map(|m| m.name.as_ref().map(|n| format!("`{}`", n.text)))
        .collect();
    if names.len() > 1 {
        out.push_str(&format!("\n\nextends: {}", names.join(" → ")));
    }
    out.push_str("\n\nresolved bindings:");
    for (plane, (l, from)) in &planes {
        out.push_str(&format!("\n- `{plane} = {l}` (from `{from}`)"));
    }
    for ((kw, sel), (value, from)) in &bindings {
        out.push_str(&format!("\n- `{kw} {sel} = {value}` (from `{from}`)"));
    }
    out
}
