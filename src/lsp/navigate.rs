//! Go to definition and find references, for stages, nodes, counters,
//! terminals, outcomes, loops and modes.
//!
//! Input: an analysis and a position. Output: LSP locations, possibly in
//! the shipped loops' read-only copies.
//!
//! Invariant: where a name is both a definition and a reference (a node
//! `builder { ... }` also names its stage kind), definition follows the
//! reference and references follow the definition.

use serde_json::Value;

use super::convert::location;
use super::index::{Occurrence, Symbol};
use super::world::Analysis;
use crate::diag::Layer;

/// The global offset of the request's position in its document.
pub(super) fn offset_at(a: &Analysis, params: &Value) -> Option<u32> {
    let uri = params.pointer("/textDocument/uri")?.as_str()?;
    let file = a.file_of_uri(uri)?;
    let position: lsp_types::Position = serde_json::from_value(params.get("position")?.clone()).ok()?;
    let source = a.sources.file(file);
    let local = a.line_index(file).offset(&source.text, position);
    Some(source.base + local as u32)
}

/// The symbol under the cursor; `prefer_def` picks a defining occurrence
/// when there are two.
pub(super) fn symbol_at(a: &Analysis, params: &Value, prefer_def: bool) -> Option<Symbol> {
    let offset = offset_at(a, params)?;
    let mut found: Vec<&Occurrence> = a.index.at(offset);
    found.sort_by_key(|o| o.def != prefer_def);
    found.first().map(|o| o.symbol.clone())
}

/// The definition that wins: the latest layer (a workspace file overrides
/// a shipped one), then the first written.
pub(super) fn winning_def<'a>(a: &'a Analysis, symbol: &'a Symbol) -> Option<&'a Occurrence> {
    let layer = |o: &Occurrence| a.sources.file(a.sources.file_of(o.span.start)).layer;
    let defs: Vec<&Occurrence> = a.index.defs(symbol).collect();
    defs.iter()
        .find(|o| layer(o) == Layer::Workspace)
        .or(defs.first())
        .copied()
}

pub(super) fn definition(a: &Analysis, params: &Value) -> Value {
    let Some(symbol) = symbol_at(a, params, false) else {
        return Value::Null;
    };
    let Some(def) = winning_def(a, &symbol) else {
        return Value::Null;
    };
    location(a, def.span).map_or(Value::Null, |l| serde_json::to_value(l).unwrap_or(Value::Null))
}

pub(super) fn references(a: &Analysis, params: &Value) -> Value {
    let Some(symbol) = symbol_at(a, params, true) else {
        return Value::Null;
    };
    let include_decl = params
        .pointer("/context/includeDeclaration")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let locations: Vec<lsp_types::Location> = a
        .index
        .all(&symbol)
        .filter(|o| include_decl || !o.def)
        .filter_map(|o| location(a, o.span))
        .collect();
    serde_json::to_value(locations).unwrap_or(Value::Null)
}
