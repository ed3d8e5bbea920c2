//! Where every name is defined and used, from the syntax trees alone.
//!
//! Input: the ASTs of one analysis (shipped, workspace and open files).
//! Output: an [`Index`] of occurrences: each a symbol, a span and whether it
//! defines the symbol.
//!
//! Invariants: built from what was written, not from the checked program,
//! so definitions, references and hovers keep working while the file has
//! errors. Node, counter and terminal names are scoped by their loop;
//! outcomes by their stage.

use std::collections::HashMap;

use crate::diag::Span;
use crate::syntax::ast::{Ast, Branch, Dest, Item, LoopDecl, ModeDecl, Name, NodeDecl, StageDecl};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    Stage,
    Loop,
    Mode,
    Node,
    Counter,
    Terminal,
    Outcome,
}

/// A name in its namespace.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Symbol {
    pub kind: Kind,
    /// The loop of a node, counter or terminal; the stage of an outcome.
    pub scope: String,
    pub name: String,
}

#[derive(Clone, Debug)]
pub struct Occurrence {
    pub symbol: Symbol,
    pub span: Span,
    pub def: bool,
}

#[derive(Debug, Default)]
pub struct Index {
    pub occurrences: Vec<Occurrence>,
}

impl Index {
    /// Occurrences whose span holds `offset` (its end included, so a
    /// cursor just after a name still finds it).
    pub fn at(&self, offset: u32) -> Vec<&Occurrence> {
        self.occurrences
            .iter()
            .filter(|o| o.span.start <= offset && offset <= o.span.end)
            .collect()
    }

    pub fn defs<'a>(&'a self, symbol: &'a Symbol) -> impl Iterator<Item = &'a Occurrence> + 'a {
        self.occurrences
            .iter()
            .filter(move |o| o.def && &o.symbol == symbol)
    }

    pub fn all<'a>(&'a self, symbol: &'a Symbol) -> impl Iterator<Item = &'a Occurrence> + 'a {
        self.occurrences.iter().filter(move |o| &o.symbol == symbol)
    }

    /// Names of one kind and scope, in first-definition order.
    pub fn names(&self, kind: Kind, scope: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for o in &self.occurrences {
            if o.def && o.symbol.kind == kind && o.symbol.scope == scope && !out.contains(&o.symbol.name) {
                out.push(o.symbol.name.clone());
            }
        }
        out
    }
}

/// Builds the index of every file.
pub(super) fn build(asts: &[Ast]) -> Index {
    let node_stages = node_stages(asts);
    let mut b = Builder {
        index: Index::default(),
        node_stages,
    };
    for ast in asts {
        for item in &ast.items {
            match item {
                Item::Stage(d) => b.stage(d),
                Item::Loop(d) => b.loop_decl(d),
                Item::Mode(d) => b.mode(d),
                Item::Alias(a) => {
                    b.push(Kind::Mode, "", &a.name, true);
                    b.push(Kind::Mode, "", &a.target, false);
                }
            }
        }
    }
    b.index.occurrences.sort_by_key(|o| (o.span.start, o.span.end));
    b.index
}

/// Node name to stage name, over every loop (for mode selectors and
/// triggers, which may name a node).
fn node_stages(asts: &[Ast]) -> HashMap<String, String> {
    let mut map = HashMap::new();
    for item in asts.iter().flat_map(|a| &a.items) {
        if let Item::Loop(l) = item {
            let closures = l.closures.iter().map(|c| &c.node);
            for node in l.nodes.iter().chain(closures) {
                if let Some(name) = &node.name {
                    let stage = node.stage.as_ref().unwrap_or(name);
                    map.entry(name.text.clone()).or_insert_with(|| stage.text.clone());
                }
            }
        }
    }
    map
}

struct Builder {
    index: Index,
    node_stages: HashMap<String, String>,
}

impl Builder {
    fn push(&mut self, kind: Kind, scope: &str, name: &Name, def: bool) {
        self.index.occurrences.push(Occurrence {
            symbol: Symbol {
                kind,
                scope: scope.to_string(),
                name: name.text.clone(),
            },
            span: name.span,
            def,
        });
    }

    fn stage(&mut self, d: &StageDecl) {
        let Some(name) = &d.name else { return };
        self.push(Kind::Stage, "", name, true);
        for o in d.outcomes.iter().flat_map(|b| &b.outcomes) {
            self.push(Kind::Outcome, &name.text, &o.name, true);
        }
    }

    fn loop_decl(&mut self, l: &LoopDecl) {
        let Some(name) = &l.name else { return };
        let scope = name.text.clone();
        self.push(Kind::Loop, "", name, true);
        for e in &l.entries {
            self.push(Kind::Node, &scope, &e.node, false);
        }
        for c in &l.counters {
            self.push(Kind::Counter, &scope, &c.name, true);
        }
        for t in &l.terminals {
            self.push(Kind::Terminal, &scope, &t.name, true);
        }
        for c in &l.closures {
            self.node(&scope, &c.node);
            if let Some(counter) = &c.counter {
                self.push(Kind::Counter, &scope, counter, false);
            }
        }
        for node in &l.nodes {
            self.node(&scope, node);
        }
    }

    fn node(&mut self, scope: &str, node: &NodeDecl) {
        let Some(name) = &node.name else { return };
        self.push(Kind::Node, scope, name, true);
        let stage = node.stage.as_ref().unwrap_or(name);
        self.push(Kind::Stage, "", stage, false);
        for route in &node.routes {
            for o in &route.outcomes {
                self.push(Kind::Outcome, &stage.text, o, false);
            }
            self.branch(scope, &route.branch);
            for r in &route.resets {
                self.push(Kind::Counter, scope, r, false);
            }
        }
    }

    fn branch(&mut self, scope: &str, branch: &Branch) {
        match &branch.dest {
            Dest::Node(n) => self.push(Kind::Node, scope, n, false),
            Dest::Finish(t) => self.push(Kind::Terminal, scope, t, false),
            Dest::Resume { default, except, .. } => {
                self.push(Kind::Node, scope, default, false);
                for e in except {
                    self.push(Kind::Node, scope, e, false);
                }
            }
        }
        if let Some(guard) = &branch.guard {
            self.push(Kind::Counter, scope, &guard.counter, false);
            self.branch(scope, &guard.otherwise);
        }
    }

    /// A stage named directly, or through a node of that name.
    fn stage_of(&self, name: &Name) -> Name {
        let text = self
            .node_stages
            .get(&name.text)
            .cloned()
            .unwrap_or_else(|| name.text.clone());
        Name {
            text,
            span: name.span,
        }
    }

    fn mode(&mut self, m: &ModeDecl) {
        let Some(name) = &m.name else { return };
        self.push(Kind::Mode, "", name, true);
        if let Some(base) = &m.extends {
            self.push(Kind::Mode, "", base, false);
        }
        for p in &m.planes {
            self.push(Kind::Loop, "", &p.loop_name, false);
        }
        for b in &m.bindings {
            if let Some(sel) = &b.selector {
                let stage = self.stage_of(sel);
                self.push(Kind::Stage, "", &stage, false);
            }
        }
        for t in &m.triggers {
            let source = self.stage_of(&t.source);
            let target = self.stage_of(&t.target);
            self.push(Kind::Stage, "", &source, false);
            for o in &t.outcomes {
                self.push(Kind::Outcome, &source.text, o, false);
            }
            self.push(Kind::Stage, "", &target, false);
        }
    }
}
