//! The global name tables: which declaration of each stage, loop, mode and
//! alias wins. A later layer (workspace) replaces an earlier one (shipped);
//! two declarations in one layer are an error. Modes and aliases share one
//! namespace, so a workspace mode may replace a shipped alias.

use super::CheckError;
use crate::diag::{Diagnostics, Layer, Sources, Span};
use crate::syntax::ast::{AliasDecl, Ast, Item, LoopDecl, ModeDecl, Name, StageDecl};

/// The winning declarations, in first-declaration order.
pub(super) struct Defs<'a> {
    pub stages: Vec<&'a StageDecl>,
    pub loops: Vec<&'a LoopDecl>,
    pub modes: Vec<&'a ModeDecl>,
    pub aliases: Vec<&'a AliasDecl>,
}

/// A name in the shared namespace of modes and aliases.
#[derive(Clone, Copy)]
enum ModeName<'a> {
    Mode(&'a ModeDecl),
    Alias(&'a AliasDecl),
}

struct Entry<V> {
    name: String,
    span: Span,
    layer: Layer,
    value: V,
}

/// One namespace: names to the winning value.
struct Table<V> {
    kind: &'static str,
    entries: Vec<Entry<V>>,
}

impl<V> Table<V> {
    fn new(kind: &'static str) -> Self {
        Self {
            kind,
            entries: Vec::new(),
        }
    }

    fn define(&mut self, name: &Name, layer: Layer, value: V, diags: &mut Diagnostics) {
        let entry = Entry {
            name: name.text.clone(),
            span: name.span,
            layer,
            value,
        };
        match self.entries.iter_mut().find(|e| e.name == name.text) {
            Some(existing) if existing.layer < layer => *existing = entry,
            Some(existing) => diags.push(CheckError::DuplicateDefinition {
                kind: self.kind,
                name: name.text.clone(),
                span: name.span.into(),
                first: existing.span.into(),
            }),
            None => self.entries.push(entry),
        }
    }

    fn values(self) -> impl Iterator<Item = V> {
        self.entries.into_iter().map(|e| e.value)
    }
}

pub(super) fn collect<'a>(sources: &Sources, asts: &'a [Ast], diags: &mut Diagnostics) -> Defs<'a> {
    let mut stages = Table::new("stage");
    let mut loops = Table::new("loop");
    let mut modes = Table::new("mode or alias");
    for ast in asts {
        let layer = ast
            .file
            .map(|f| sources.file(f).layer)
            .unwrap_or(Layer::Workspace);
        for item in &ast.items {
            match item {
                Item::Stage(d) => d.name.iter().for_each(|n| stages.define(n, layer, &**d, diags)),
                Item::Loop(d) => d.name.iter().for_each(|n| loops.define(n, layer, d, diags)),
                Item::Mode(d) => d
                    .name
                    .iter()
                    .for_each(|n| modes.define(n, layer, ModeName::Mode(d), diags)),
                Item::Alias(d) => modes.define(&d.name, layer, ModeName::Alias(d), diags),
            }
        }
    }
    let mut defs = Defs {
        stages: stages.values().collect(),
        loops: loops.values().collect(),
        modes: Vec::new(),
        aliases: Vec::new(),
    };
    for name in modes.values() {
        match name {
            ModeName::Mode(d) => defs.modes.push(d),
            ModeName::Alias(d) => defs.aliases.push(d),
        }
    }
    defs
}
