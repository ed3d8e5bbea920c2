//! The global name tables: which declaration of each stage, loop, mode and
//! alias wins. A later layer (workspace) replaces an earlier one (shipped);
//! two declarations in one layer are an error.

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

struct Entry<'a, T> {
    name: String,
    span: Span,
    layer: Layer,
    decl: &'a T,
}

struct Table<'a, T> {
    kind: &'static str,
    entries: Vec<Entry<'a, T>>,
}

impl<'a, T> Table<'a, T> {
    fn new(kind: &'static str) -> Self {
        Self {
            kind,
            entries: Vec::new(),
        }
    }

    fn define(&mut self, name: &Name, layer: Layer, decl: &'a T, diags: &mut Diagnostics) {
        let entry = Entry {
            name: name.text.clone(),
            span: name.span,
            layer,
            decl,
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

    fn decls(self) -> Vec<&'a T> {
        self.entries.into_iter().map(|e| e.decl).collect()
    }
}

pub(super) fn collect<'a>(sources: &Sources, asts: &'a [Ast], diags: &mut Diagnostics) -> Defs<'a> {
    let mut stages = Table::new("stage");
    let mut loops = Table::new("loop");
    // Modes and aliases share one namespace.
    let mut modes: Table<'a, ModeDecl> = Table::new("mode");
    let mut aliases: Table<'a, AliasDecl> = Table::new("mode or alias");
    for ast in asts {
        let layer = ast
            .file
            .map(|f| sources.file(f).layer)
            .unwrap_or(Layer::Workspace);
        for item in &ast.items {
            match item {
                Item::Stage(d) => d.name.iter().for_each(|n| stages.define(n, layer, d, diags)),
                Item::Loop(d) => d.name.iter().for_each(|n| loops.define(n, layer, d, diags)),
                Item::Mode(d) => d.name.iter().for_each(|n| modes.define(n, layer, d, diags)),
                Item::Alias(d) => aliases.define(&d.name, layer, d, diags),
            }
        }
    }
    for alias in &aliases.entries {
        if let Some(mode) = modes.entries.iter().find(|m| m.name == alias.name) {
            diags.push(CheckError::DuplicateDefinition {
                kind: "mode or alias",
                name: alias.name.clone(),
                span: alias.span.into(),
                first: mode.span.into(),
            });
        }
    }
    Defs {
        stages: stages.decls(),
        loops: loops.decls(),
        modes: modes.decls(),
        aliases: aliases.decls(),
    }
}
