//! Checking modes and aliases: `extends` chains, plane bindings, stage
//! bindings, the concurrency policy and learning triggers.
//!
//! A mode's own statements are checked against its flattened planes; what
//! it inherits was checked where it was written.

use std::collections::BTreeMap;

mod triggers;

use super::CheckError;
use super::hir::{BindingValue, Mode, ModeBinding, Program};
use super::loops::check_runner;
use super::names::Defs;
use super::paths::check_path;
use super::stages::vocab;
use crate::diag::{Diagnostics, Span, did_you_mean};
use crate::plan::{Concurrency, Effort, Plane};
use crate::syntax::ast::{self, BindingKind, ModeDecl, Name};

/// A mode resolved so far; `None` in the table while being resolved.
#[derive(Clone)]
struct Flat {
    mode: Mode,
    /// Whether required-plane checks would only repeat earlier errors.
    poisoned: bool,
}

struct Resolver<'a, 'd> {
    decls: BTreeMap<&'a str, &'a ModeDecl>,
    /// Alias name to the name it stands for.
    aliases: BTreeMap<&'a str, &'a str>,
    done: BTreeMap<String, Option<Flat>>,
    stack: Vec<String>,
    program: &'a Program,
    poisoned_loops: &'a [String],
    diags: &'d mut Diagnostics,
}

pub(super) fn check_modes(
    defs: &Defs<'_>,
    program: &mut Program,
    poisoned_loops: &[String],
    diags: &mut Diagnostics,
) {
    let decls: BTreeMap<&str, &ModeDecl> = defs
        .modes
        .iter()
        .filter_map(|d| d.name.as_ref().map(|n| (n.text.as_str(), *d)))
        .collect();
    let snapshot = program.clone();
    let aliases: BTreeMap<&str, &str> = defs
        .aliases
        .iter()
        .map(|a| (a.name.text.as_str(), a.target.text.as_str()))
        .collect();
    let mut r = Resolver {
        decls,
        aliases,
        done: BTreeMap::new(),
        stack: Vec::new(),
        program: &snapshot,
        poisoned_loops,
        diags,
    };
    let mut modes = Vec::new();
    for decl in &defs.modes {
        let Some(name) = &decl.name else { continue };
        if let Some(flat) = r.resolve(&name.text) {
            modes.push(flat.mode);
        }
    }
    let mut aliases = BTreeMap::new();
    for alias in &defs.aliases {
        let target = alias.target.text.as_str();
        if r.decls.contains_key(target) {
            aliases.insert(alias.name.text.clone(), alias.target.text.clone());
        } else if let Some(further) = r.aliases.get(target) {
            r.diags.push(CheckError::UnknownMode {
                name: target.into(),
                span: alias.target.span.into(),
                help: Some(format!(
                    "`{target}` is itself an alias, of `{further}`; an alias names a mode: `alias {} = {further}`",
                    alias.name.text
                )),
            });
        } else {
            unknown_mode(&alias.target, r.decls.keys().copied(), r.diags);
        }
    }
    program.modes = modes;
    program.aliases = aliases;
}

fn unknown_mode<'a>(name: &Name, known: impl Iterator<Item = &'a str>, diags: &mut Diagnostics) {
    let help = did_you_mean(&name.text, known).map(|s| format!("did you mean `{s}`?"));
    diags.push(CheckError::UnknownMode {
        name: name.text.clone(),
        span: name.span.into(),
        help,
    });
}

impl Resolver<'_, '_> {
    fn resolve(&mut self, name: &str) -> Option<Flat> {
        if let Some(done) = self.done.get(name) {
            return done.clone();
        }
        let decl = *self.decls.get(name)?;
        self.stack.push(name.to_string());
        let base = match &decl.extends {
            Some(parent) if self.stack.contains(&parent.text) => {
                self.mode_cycle(name, &parent.text, parent);
                None
            }
            // `extends` may name an alias: it extends the alias's mode. An
            // alias that names no mode is reported at the alias.
            Some(parent) if !self.decls.contains_key(parent.text.as_str()) => {
                match self.aliases.get(parent.text.as_str()).copied() {
                    Some(target) if self.stack.iter().any(|m| m == target) => {
                        self.mode_cycle(name, target, parent);
                        None
                    }
                    Some(target) if self.decls.contains_key(target) => Some(self.resolve(target)),
                    Some(_) => None,
                    None => {
                        unknown_mode(parent, self.decls.keys().copied(), self.diags);
                        None
                    }
                }
            }
            Some(parent) => Some(self.resolve(&parent.text)),
            None => Some(Some(Flat {
                mode: empty_mode(name, decl.span),
                poisoned: false,
            })),
        };
        self.stack.pop();
        // A broken `extends` poisons the mode; an unresolvable parent is
        // already reported.
        let flat = match base {
            Some(Some(parent)) => Some(self.apply(decl, parent)),
            _ => {
                let mut flat = self.apply(
                    decl,
                    Flat {
                        mode: empty_mode(name, decl.span),
                        poisoned: true,
                    },
                );
                flat.poisoned = true;
                Some(flat)
            }
        };
        self.done.insert(name.to_string(), flat.clone());
        flat
    }

    fn mode_cycle(&mut self, mode: &str, back_to: &str, at: &Name) {
        let mut chain = self.stack.clone();
        chain.push(back_to.to_string());
        self.diags.push(CheckError::ModeCycle {
            mode: mode.into(),
            chain: chain.join(" → "),
            span: at.span.into(),
        });
    }

    /// Applies a mode's own statements on top of its parent's.
    fn apply(&mut self, decl: &ModeDecl, parent: Flat) -> Flat {
        let name = decl.name.as_ref().map(|n| n.text.clone()).unwrap_or_default();
        let span = decl.name.as_ref().map(|n| n.span).unwrap_or(decl.span);
        let mut flat = parent;
        flat.mode.name = name.clone();
        flat.mode.span = span;
        self.bind_planes(decl, &mut flat);
        if !flat.poisoned {
            for plane in [Plane::Execution, Plane::Planning] {
                if !flat.mode.planes.contains_key(&plane) {
                    self.diags.push(CheckError::MissingPlaneBinding {
                        mode: name.clone(),
                        plane: plane.to_string(),
                        span: span.into(),
                    });
                }
            }
        }
        self.bind_settings(decl, &mut flat);
        // A poisoned mode lacks planes through no fault of these statements;
        // checking them would only repeat the loop's own errors.
        if !flat.poisoned {
            self.bind_concurrency(decl, &mut flat);
            self.bind_triggers(decl, &mut flat);
            if let Some(at) = decl.unattended {
                flat.mode.unattended = Some(at);
            }
            if decl.unattended.is_some() || (flat.mode.unattended.is_some() && !decl.planes.is_empty()) {
                super::gates::warn_unattended(&flat.mode, self.program, self.diags);
            }
        }
        flat
    }

    fn bind_planes(&mut self, decl: &ModeDecl, flat: &mut Flat) {
        let mut seen: Vec<(Plane, Span)> = Vec::new();
        for binding in &decl.planes {
            let Some(plane) = vocab::<Plane>(&binding.plane, "plane", Plane::NAMES, self.diags) else {
                continue;
            };
            if let Some((_, first)) = seen.iter().find(|(p, _)| *p == plane) {
                self.diags.push(CheckError::DuplicateBinding {
                    keyword: "plane",
                    selector: plane.to_string(),
                    mode: flat.mode.name.clone(),
                    span: binding.span.into(),
                    first: (*first).into(),
                });
                continue;
            }
            seen.push((plane, binding.span));
            let target = &binding.loop_name;
            if self.poisoned_loops.contains(&target.text) {
                flat.poisoned = true;
                continue;
            }
            let Some(index) = self.program.loop_index(&target.text) else {
                let help = did_you_mean(&target.text, self.program.loops.iter().map(|l| l.name.as_str()))
                    .map(|s| format!("did you mean `{s}`?"));
                self.diags.push(CheckError::UnknownLoop {
                    name: target.text.clone(),
                    span: target.span.into(),
                    help,
                });
                flat.poisoned = true;
                continue;
            };
            let loop_plane = self.program.loops[index].plane;
            if loop_plane != plane {
                self.diags.push(CheckError::LoopPlaneMismatch {
                    loop_name: target.text.clone(),
                    loop_plane: loop_plane.to_string(),
                    plane: plane.to_string(),
                    span: target.span.into(),
                });
                flat.poisoned = true;
                continue;
            }
            flat.mode.planes.insert(plane, index);
        }
    }

    /// Names a binding or trigger may use: node and stage names of the
    /// mode's loops, with the stage index each names.
    fn names_in_mode(&self, mode: &Mode) -> Vec<(String, usize, Plane)> {
        let mut names = Vec::new();
        for (plane, l) in &mode.planes {
            for node in &self.program.loops[*l].nodes {
                // A node whose stage did not resolve was reported in its loop.
                let Some(stage) = self.program.stages.get(node.stage) else {
                    continue;
                };
                names.push((node.name.clone(), node.stage, *plane));
                names.push((stage.name.clone(), node.stage, *plane));
            }
        }
        names
    }

    fn bind_settings(&mut self, decl: &ModeDecl, flat: &mut Flat) {
        let names = self.names_in_mode(&flat.mode);
        let mut seen: Vec<(BindingKind, Option<String>, Span)> = Vec::new();
        for b in &decl.bindings {
            let selector = b.selector.as_ref().map(|s| s.text.clone());
            if let Some((_, _, first)) = seen.iter().find(|(k, s, _)| *k == b.kind && *s == selector) {
                self.diags.push(CheckError::DuplicateBinding {
                    keyword: b.kind.keyword(),
                    selector: selector.clone().unwrap_or_else(|| "*".into()),
                    mode: flat.mode.name.clone(),
                    span: b.span.into(),
                    first: (*first).into(),
                });
                continue;
            }
            seen.push((b.kind, selector.clone(), b.span));
            let Some(value) = self.binding_value(b) else {
                continue;
            };
            if let Some(sel) = &b.selector
                && !flat.poisoned
                && !self.check_selector(sel, &names, &flat.mode.name, &value)
            {
                continue;
            }
            flat.mode.bindings.push(ModeBinding {
                selector,
                value,
                span: b.span,
            });
        }
    }

    fn check_selector(
        &mut self,
        sel: &Name,
        names: &[(String, usize, Plane)],
        mode: &str,
        value: &BindingValue,
    ) -> bool {
        let Some((_, stage, _)) = names.iter().find(|(n, _, _)| *n == sel.text) else {
            let help = did_you_mean(&sel.text, names.iter().map(|(n, _, _)| n.as_str()))
                .map(|s| format!("did you mean `{s}`?"))
                .or_else(|| Some("use `*` or a stage of one of the mode's loops".into()));
            self.diags.push(CheckError::StageOutsideMode {
                mode: mode.into(),
                name: sel.text.clone(),
                span: sel.span.into(),
                help,
            });
            return false;
        };
        let stage = &self.program.stages[*stage];
        if let Some(fixed) = stage.fixed_span(value.field()) {
            self.diags.push(CheckError::FixedOverride {
                stage: stage.name.clone(),
                field: value.field().to_string(),
                span: sel.span.into(),
                fixed: fixed.into(),
            });
            return false;
        }
        true
    }

    fn binding_value(&mut self, b: &ast::Binding) -> Option<BindingValue> {
        use ast::BindingValue as V;
        match (b.kind, &b.value) {
            (BindingKind::Runner, V::Name(n)) => {
                check_runner(n, self.diags).then(|| BindingValue::Runner(n.text.clone()))
            }
            (BindingKind::Model, V::Str(s)) => Some(BindingValue::Model(s.value.clone())),
            (BindingKind::Effort, V::Name(n)) => {
                vocab::<Effort>(n, "effort", Effort::NAMES, self.diags).map(BindingValue::Effort)
            }
            (BindingKind::Timeout, V::Int(i)) => {
                super::stages::check_timeout(i, self.diags).then_some(BindingValue::Timeout(i.value))
            }
            (BindingKind::Entrypoint, V::Str(s)) => check_path(s, "entrypoints", ".md", self.diags)
                .then(|| BindingValue::Entrypoint(s.value.clone())),
            (BindingKind::Attach, V::Strs(list)) => {
                // Check every path (no short circuit) so each bad one is reported.
                let bad = list
                    .iter()
                    .filter(|s| !check_path(s, "skills", ".md", self.diags))
                    .count();
                (bad == 0).then(|| BindingValue::Attach(list.iter().map(|s| s.value.clone()).collect()))
            }
            // The grammar pairs each keyword with its value shape.
            _ => None,
        }
    }

    fn bind_concurrency(&mut self, decl: &ModeDecl, flat: &mut Flat) {
        if decl.exclusive.is_empty() && decl.concurrent.is_empty() {
            return;
        }
        let mut policy = Concurrency::default();
        for group in &decl.exclusive {
            let planes: Vec<Plane> = group
                .planes
                .iter()
                .filter_map(|p| self.bound_plane(p, &flat.mode))
                .collect();
            policy.exclusive.push(planes);
        }
        for c in &decl.concurrent {
            let Some(plane) = self.bound_plane(&c.plane, &flat.mode) else {
                continue;
            };
            for other in &c.with {
                if let Some(other) = self.bound_plane(other, &flat.mode) {
                    policy.concurrent.push(vec![plane, other]);
                }
            }
        }
        flat.mode.concurrency = policy;
    }

    fn bound_plane(&mut self, name: &Name, mode: &Mode) -> Option<Plane> {
        let plane = vocab::<Plane>(name, "plane", Plane::NAMES, self.diags)?;
        if !mode.planes.contains_key(&plane) {
            self.diags.push(CheckError::InvalidPolicy {
                message: format!("mode `{}` binds no {plane} loop", mode.name),
                span: name.span.into(),
                help: Some(format!("bind `{plane} = <loop>` first")),
            });
            return None;
        }
        Some(plane)
    }
}

fn empty_mode(name: &str, span: Span) -> Mode {
    Mode {
        name: name.into(),
        span,
        planes: BTreeMap::new(),
        bindings: Vec::new(),
        concurrency: Concurrency::default(),
        triggers: Vec::new(),
        unattended: None,
    }
}
