//! Checking loops: plane, nodes and their stage kinds, entries, counters,
//! terminals, the closure pass and node settings. Routes are in `routes`.

use super::CheckError;
use super::hir::{Closure, Counter, Loop, Node, NodeSettings, Stage};
use super::members::{check_counters, check_terminals};
use super::paths::check_path;
use super::routes::{RouteScope, check_routes};
use super::stages::{missing, vocab};
use crate::diag::{Diagnostics, did_you_mean};
use crate::plan::{ClosureTrigger, CounterScope, Effort, Overridable, Plane, RUNNERS, WorkItemKind};
use crate::syntax::ast::{LoopDecl, Name, NodeDecl};

/// A loop after checking, with what its errors left out.
pub(super) struct Checked {
    pub l: Loop,
    /// No error in the loop: every node and route resolved.
    pub sound: bool,
    /// Its plane is known, so modes binding it can be checked.
    pub plane_known: bool,
}

/// Checks a loop; `None` only for a loop without a name. A loop with
/// errors comes back with placeholders for what did not resolve, so the
/// proofs on the rest of it (and the modes binding it) still run.
pub(super) fn check_loop(
    decl: &LoopDecl,
    stages: &[Stage],
    poisoned: &[usize],
    diags: &mut Diagnostics,
) -> Option<Checked> {
    let errors = diags.error_count();
    let name = decl.name.as_ref()?;
    let owner = format!("loop `{}`", name.text);
    let plane = match &decl.plane {
        Some(p) => vocab::<Plane>(p, "plane", Plane::NAMES, diags),
        None => missing(
            &owner,
            "plane",
            "add `plane execution|planning|learning`",
            name.span,
            diags,
        ),
    };
    let counters = check_counters(decl, &owner, diags);
    let (terminals, bad_terminals) = check_terminals(decl, &owner, diags);
    let (node_decls, closure_decl) = all_nodes(decl, &owner, diags);
    // Unresolved nodes stay as placeholders so indices line up with the
    // declarations and the other nodes' routes can still be checked.
    let mut nodes = Vec::new();
    let mut sound = true;
    for node in &node_decls {
        let resolved = resolve_node(node, plane, stages, poisoned, diags);
        sound &= resolved.is_some();
        nodes.push(resolved.unwrap_or_else(|| placeholder(node)));
    }
    let mut first_of: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for (i, node) in nodes.iter().enumerate() {
        let first = *first_of.entry(node.name.as_str()).or_insert(i);
        if first != i {
            diags.push(CheckError::DuplicateName {
                kind: "node",
                name: node.name.clone(),
                owner: owner.clone(),
                span: node.span.into(),
                first: nodes[first].span.into(),
            });
        }
    }
    let closure_index = closure_decl.map(|(_, index)| index);
    let misspelt = misspelt_nodes(&node_decls, &nodes, stages);
    let entries = check_entries(decl, &owner, plane, (&nodes, &misspelt), closure_index, diags);
    if entries.is_empty() && decl.entries.is_empty() {
        missing::<()>(
            &owner,
            "entry",
            "add `entry <work item kind> -> <node>`",
            name.span,
            diags,
        );
    }
    let closure = closure_decl
        .filter(|(_, index)| nodes[*index].stage != UNRESOLVED)
        .and_then(|(c, index)| check_closure(c, index, &nodes, &counters, stages, &owner, diags));
    let mut checked = Loop {
        name: name.text.clone(),
        span: name.span,
        plane: plane.unwrap_or(Plane::Execution),
        nodes,
        terminals,
        counters,
        entries,
        closure,
    };
    let mut node_map = std::collections::HashMap::new();
    for (i, n) in checked.nodes.iter().enumerate() {
        node_map.entry(n.name.clone()).or_insert(i);
    }
    let scope = RouteScope {
        owner: &owner,
        stages,
        bad_terminals: &bad_terminals,
        nodes: &node_map,
        misspelt: &misspelt,
    };
    for (index, node_decl) in node_decls.iter().enumerate() {
        if checked.nodes[index].stage != UNRESOLVED {
            checked.nodes[index].routes = check_routes(node_decl, index, &checked, &scope, diags);
        }
    }
    mark_closure_counter(&mut checked, diags);
    Some(Checked {
        sound: sound && plane.is_some() && diags.error_count() == errors,
        plane_known: plane.is_some(),
        l: checked,
    })
}

/// Loop nodes followed by the closure node, if any.
fn all_nodes<'a>(
    decl: &'a LoopDecl,
    owner: &str,
    diags: &mut Diagnostics,
) -> (
    Vec<&'a NodeDecl>,
    Option<(&'a super::super::syntax::ast::ClosureDecl, usize)>,
) {
    let mut nodes: Vec<&NodeDecl> = decl.nodes.iter().collect();
    let mut closure = None;
    for (i, c) in decl.closures.iter().enumerate() {
        if i > 0 {
            diags.push(CheckError::DuplicateClosure {
                owner: owner.into(),
                span: c.span.into(),
                first: decl.closures[0].span.into(),
            });
            continue;
        }
        closure = Some((c, nodes.len()));
        nodes.push(&c.node);
    }
    (nodes, closure)
}

/// The stage index of a node whose stage did not resolve.
pub(super) const UNRESOLVED: usize = usize::MAX;

fn placeholder(decl: &NodeDecl) -> Node {
    let name = decl.name.as_ref().map(|n| n.text.clone()).unwrap_or_default();
    let span = decl.name.as_ref().map(|n| n.span).unwrap_or(decl.span);
    Node {
        name,
        span,
        stage: UNRESOLVED,
        routes: Vec::new(),
        settings: NodeSettings::default(),
    }
}

fn resolve_node(
    decl: &NodeDecl,
    plane: Option<Plane>,
    stages: &[Stage],
    poisoned: &[usize],
    diags: &mut Diagnostics,
) -> Option<Node> {
    let name = decl.name.as_ref()?;
    let stage_name = decl.stage.as_ref().unwrap_or(name);
    let Some(index) = stages.iter().position(|s| s.name == stage_name.text) else {
        let help = did_you_mean(&stage_name.text, stages.iter().map(|s| s.name.as_str()))
            .map(|s| format!("did you mean `{s}`?"))
            .or_else(|| {
                Some(format!(
                    "declare `stage {} {{ ... }}`, or name a stage: `{}: <stage> {{`",
                    stage_name.text, name.text
                ))
            });
        diags.push(CheckError::UnknownStage {
            name: stage_name.text.clone(),
            span: stage_name.span.into(),
            help,
        });
        return None;
    };
    if poisoned.contains(&index) {
        return None;
    }
    let stage = &stages[index];
    if let Some(plane) = plane
        && stage.plane != plane
    {
        diags.push(CheckError::StagePlaneMismatch {
            node: name.text.clone(),
            stage: stage.name.clone(),
            stage_plane: stage.plane.to_string(),
            loop_plane: plane.to_string(),
            span: stage_name.span.into(),
        });
    }
    let settings = check_settings(decl, stage, diags);
    Some(Node {
        name: name.text.clone(),
        span: name.span,
        stage: index,
        routes: Vec::new(),
        settings,
    })
}

fn check_settings(decl: &NodeDecl, stage: &Stage, diags: &mut Diagnostics) -> NodeSettings {
    let s = &decl.settings;
    let mut fixed = |what: Overridable, span: crate::diag::Span| {
        if let Some(fixed) = stage.fixed_span(what) {
            diags.push(CheckError::FixedOverride {
                stage: stage.name.clone(),
                field: what.to_string(),
                span: span.into(),
                fixed: fixed.into(),
            });
        }
    };
    s.runner.iter().for_each(|n| fixed(Overridable::Runner, n.span));
    s.model.iter().for_each(|m| fixed(Overridable::Model, m.span));
    s.effort.iter().for_each(|n| fixed(Overridable::Effort, n.span));
    s.timeout.iter().for_each(|t| fixed(Overridable::Timeout, t.span));
    s.entrypoint
        .iter()
        .for_each(|e| fixed(Overridable::Entrypoint, e.span));
    s.attach.iter().for_each(|a| fixed(Overridable::Skills, a.span));
    if let Some(t) = &s.timeout {
        super::stages::check_timeout(t, diags);
    }
    if let Some(e) = &s.entrypoint {
        check_path(e, "entrypoints", ".md", diags);
    }
    for a in &s.attach {
        check_path(a, "skills", ".md", diags);
    }
    NodeSettings {
        runner: s
            .runner
            .as_ref()
            .filter(|r| check_runner(r, diags))
            .map(|r| r.text.clone()),
        model: s.model.as_ref().map(|m| m.value.clone()),
        effort: s
            .effort
            .as_ref()
            .and_then(|e| vocab::<Effort>(e, "effort", Effort::NAMES, diags)),
        timeout: s.timeout.map(|t| t.value),
        entrypoint: s.entrypoint.as_ref().map(|e| e.value.clone()),
        attach: s.attach.iter().map(|a| a.value.clone()).collect(),
    }
}

/// Runner names come from a fixed list built into the runtime.
pub(super) fn check_runner(name: &Name, diags: &mut Diagnostics) -> bool {
    vocab::<RunnerName>(name, "runner", RUNNERS, diags).is_some()
}

struct RunnerName;

impl std::str::FromStr for RunnerName {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        if RUNNERS.contains(&s) {
            Ok(RunnerName)
        } else {
            Err(())
        }
    }
}

fn check_entries(
    decl: &LoopDecl,
    owner: &str,
    plane: Option<Plane>,
    (nodes, misspelt): (&[Node], &[Misspelt]),
    closure: Option<usize>,
    diags: &mut Diagnostics,
) -> Vec<(WorkItemKind, usize)> {
    let mut entries: Vec<(WorkItemKind, usize)> = Vec::new();
    let mut seen: Vec<(WorkItemKind, crate::diag::Span)> = Vec::new();
    for e in &decl.entries {
        let Some(kind) = vocab::<WorkItemKind>(&e.kind, "work item kind", WorkItemKind::NAMES, diags) else {
            continue;
        };
        if let Some((_, first)) = seen.iter().find(|(k, _)| *k == kind) {
            diags.push(CheckError::DuplicateName {
                kind: "entry",
                name: kind.to_string(),
                owner: owner.into(),
                span: e.kind.span.into(),
                first: (*first).into(),
            });
            continue;
        }
        seen.push((kind, e.kind.span));
        if let Some(plane) = plane.filter(|p| *p != kind.plane()) {
            let fitting: Vec<&str> = WorkItemKind::ALL
                .iter()
                .filter(|k| k.plane() == plane)
                .map(|k| k.as_str())
                .collect();
            diags.push(CheckError::EntryPlaneMismatch {
                kind: kind.to_string(),
                kind_plane: kind.plane().to_string(),
                loop_plane: plane.to_string(),
                help: format!("a {plane} loop takes: {}", fitting.join(", ")),
                span: e.kind.span.into(),
            });
            continue;
        }
        match nodes.iter().position(|n| n.name == e.node.text) {
            Some(index) if Some(index) == closure => diags.push(CheckError::ClosureNodeTarget {
                node: e.node.text.clone(),
                owner: owner.trim_start_matches("loop ").trim_matches('`').into(),
                span: e.node.span.into(),
            }),
            Some(index) => entries.push((kind, index)),
            None => unknown_node(&e.node, owner, nodes, misspelt, diags),
        }
    }
    entries
}

/// A node whose name, taken as its stage, names no stage but is close to
/// one: most likely the node was meant to have that stage's name.
#[derive(Clone, Debug)]
pub(super) struct Misspelt {
    pub node: String,
    pub meant: String,
    pub span: crate::diag::Span,
}

fn misspelt_nodes(decls: &[&NodeDecl], nodes: &[Node], stages: &[Stage]) -> Vec<Misspelt> {
    decls
        .iter()
        .zip(nodes)
        .filter(|(d, n)| d.stage.is_none() && n.stage == UNRESOLVED)
        .filter_map(|(d, n)| {
            let name = d.name.as_ref()?;
            stages.iter().all(|s| s.name != name.text).then_some(())?;
            let meant = did_you_mean(&name.text, stages.iter().map(|s| s.name.as_str()))?;
            Some(Misspelt {
                node: n.name.clone(),
                meant: meant.to_string(),
                span: name.span,
            })
        })
        .collect()
}

/// Reports a reference to a node the loop lacks. When a misspelt node
/// explains it (`chekcer { ... }` for the `checker` routes lead to), the
/// error follows that node's own and says so.
pub(super) fn unknown_node(
    name: &Name,
    owner: &str,
    nodes: &[Node],
    misspelt: &[Misspelt],
    diags: &mut Diagnostics,
) {
    let owner = owner.trim_start_matches("loop ").trim_matches('`').to_string();
    if let Some(m) = misspelt.iter().find(|m| m.meant == name.text) {
        let help = Some(format!(
            "node `{}` is probably this node misspelt: rename it to `{}`",
            m.node, m.meant
        ));
        let error = CheckError::UnknownNode {
            name: name.text.clone(),
            owner,
            span: name.span.into(),
            help,
        };
        diags.push_caused_by(m.span.start, error);
        return;
    }
    let help = did_you_mean(&name.text, nodes.iter().map(|n| n.name.as_str()))
        .map(|s| format!("did you mean `{s}`?"));
    diags.push(CheckError::UnknownNode {
        name: name.text.clone(),
        owner,
        span: name.span.into(),
        help,
    });
}

fn check_closure(
    decl: &crate::syntax::ast::ClosureDecl,
    index: usize,
    nodes: &[Node],
    counters: &[Counter],
    stages: &[Stage],
    owner: &str,
    diags: &mut Diagnostics,
) -> Option<Closure> {
    let trigger = vocab::<ClosureTrigger>(&decl.trigger, "closure trigger", ClosureTrigger::NAMES, diags)?;
    let node = nodes
        .get(index)
        .filter(|n| decl.node.name.as_ref().is_some_and(|d| d.text == n.name))?;
    let stage = &stages[node.stage];
    if stage.role != Some(crate::plan::Role::Closure) {
        let span = decl.node.stage.as_ref().map(|s| s.span).unwrap_or(node.span);
        diags.push(CheckError::NotAClosureStage {
            node: node.name.clone(),
            stage: stage.name.clone(),
            span: span.into(),
        });
    }
    let counter = match &decl.counter {
        Some(name) => match counters.iter().position(|c| c.name == name.text) {
            Some(i) => Some(i),
            None => {
                let help = did_you_mean(&name.text, counters.iter().map(|c| c.name.as_str()))
                    .map(|s| format!("did you mean `{s}`?"));
                diags.push(CheckError::UnknownCounter {
                    name: name.text.clone(),
                    owner: owner.trim_start_matches("loop ").trim_matches('`').into(),
                    span: name.span.into(),
                    help,
                });
                return None;
            }
        },
        None => None,
    };
    // Label the closure by its head (`closure x when y [count z]`), not by
    // its whole block.
    let head_end = decl
        .counter
        .as_ref()
        .map(|c| c.span)
        .unwrap_or(decl.trigger.span)
        .end;
    let span = crate::diag::Span::new(decl.span.start, head_end);
    Some(Closure {
        node: index,
        trigger,
        counter,
        span,
    })
}

/// The closure's counter follows the closure target, not a work item; it may
/// not also guard routes.
fn mark_closure_counter(l: &mut Loop, diags: &mut Diagnostics) {
    let Some(counter) = l.closure.as_ref().and_then(|c| c.counter) else {
        return;
    };
    let closure_span = l.closure.as_ref().map(|c| c.span).unwrap_or_default();
    for node in &l.nodes {
        for route in &node.routes {
            if let Some(span) = super::routes::counter_use(route, counter) {
                diags.push(CheckError::CounterScopeConflict {
                    name: l.counters[counter].name.clone(),
                    span: span.into(),
                    closure: closure_span.into(),
                });
                // Still the closure's counter: as an item counter the new
                // work items would reset it, a second error for one mistake.
                l.counters[counter].scope = CounterScope::Target;
                return;
            }
        }
    }
    l.counters[counter].scope = CounterScope::Target;
}
