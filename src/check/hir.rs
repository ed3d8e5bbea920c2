//! The checked program: every name resolved to an index, every node's routes
//! complete and in outcome order. `lower` turns one mode of it into a plan.

use std::collections::BTreeMap;

use crate::diag::Span;
use crate::plan::{
    ClosureTrigger, Concurrency, CounterScope, Effort, LearningAction, Overridable, Plane, ResultClass, Role,
    WorkItemKind,
};

/// All definitions of a compile, after checking.
#[derive(Clone, Debug, Default)]
pub struct Program {
    pub stages: Vec<Stage>,
    pub loops: Vec<Loop>,
    pub modes: Vec<Mode>,
    /// Alias name → canonical mode name.
    pub aliases: BTreeMap<String, String>,
}

impl Program {
    pub fn stage_index(&self, name: &str) -> Option<usize> {
        self.stages.iter().position(|s| s.name == name)
    }

    pub fn loop_index(&self, name: &str) -> Option<usize> {
        self.loops.iter().position(|l| l.name == name)
    }

    /// A mode by name or alias.
    pub fn mode(&self, name: &str) -> Option<&Mode> {
        let canonical = self.aliases.get(name).map(String::as_str).unwrap_or(name);
        self.modes.iter().find(|m| m.name == canonical)
    }
}

/// A stage kind.
#[derive(Clone, Debug)]
pub struct Stage {
    pub name: String,
    pub span: Span,
    pub plane: Plane,
    pub title: Option<String>,
    pub entrypoint: String,
    pub skills: Vec<String>,
    pub suggests: Vec<String>,
    pub running: String,
    pub outcomes: Vec<Outcome>,
    pub emits: Vec<String>,
    pub accepts: Vec<String>,
    pub role: Option<Role>,
    /// Settings modes and nodes may not override, with where each was fixed.
    pub fixed: Vec<(Overridable, Span)>,
    /// The stage kind's own runner, model, effort and timeout (lowest
    /// precedence; final for settings it fixes).
    pub defaults: NodeSettings,
    /// Set for a `gate`: no harness runs it, a decision ends it.
    pub gate: Option<Gate>,
}

/// What a gate asks, shows, and does when nobody answers.
#[derive(Clone, Debug)]
pub struct Gate {
    pub question: String,
    pub shows: Vec<String>,
    /// Seconds to wait, and the index of the outcome taken then.
    pub timeout: Option<(u64, usize)>,
    pub span: Span,
}

impl Stage {
    pub fn outcome_index(&self, name: &str) -> Option<usize> {
        self.outcomes.iter().position(|o| o.name == name)
    }

    pub fn fixed_span(&self, what: Overridable) -> Option<Span> {
        self.fixed.iter().find(|(f, _)| *f == what).map(|(_, s)| *s)
    }
}

#[derive(Clone, Debug)]
pub struct Outcome {
    pub name: String,
    pub classes: Vec<ResultClass>,
    pub span: Span,
}

/// A loop.
#[derive(Clone, Debug)]
pub struct Loop {
    pub name: String,
    pub span: Span,
    pub plane: Plane,
    pub nodes: Vec<Node>,
    pub terminals: Vec<Terminal>,
    pub counters: Vec<Counter>,
    pub entries: Vec<(WorkItemKind, usize)>,
    pub closure: Option<Closure>,
}

impl Loop {
    pub fn node_index(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.name == name)
    }
}

#[derive(Clone, Debug)]
pub struct Node {
    pub name: String,
    pub span: Span,
    /// Index into [`Program::stages`].
    pub stage: usize,
    /// One route per outcome of the stage, in outcome order.
    pub routes: Vec<Route>,
    pub settings: NodeSettings,
}

/// Overrides written on the node itself.
#[derive(Clone, Debug, Default)]
pub struct NodeSettings {
    pub runner: Option<String>,
    pub model: Option<String>,
    pub effort: Option<Effort>,
    pub timeout: Option<u64>,
    pub entrypoint: Option<String>,
    pub attach: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct Route {
    /// Index into the stage's outcomes.
    pub outcome: usize,
    pub branch: Branch,
    /// Counter indices reset when the route is taken.
    pub resets: Vec<usize>,
    /// Where each of `resets` is named in the `reset` clause.
    pub reset_spans: Vec<Span>,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct Branch {
    pub dest: Dest,
    /// `count <counter> else <branch>`: counter index and fallback.
    pub guard: Option<(usize, Box<Branch>)>,
    pub span: Span,
    /// The destination alone (`checker`, `finish blocked`, `resume ...`).
    pub dest_span: Span,
}

#[derive(Clone, Debug)]
pub enum Dest {
    Node(usize),
    Finish(usize),
    /// Metadata keys, default node, the nodes a stage may choose.
    Resume {
        keys: Vec<String>,
        default: usize,
        allowed: Vec<usize>,
    },
}

#[derive(Clone, Debug)]
pub struct Terminal {
    pub name: String,
    pub span: Span,
    pub class: ResultClass,
    pub writes: String,
    pub opens_incident: bool,
    pub emits: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct Counter {
    pub name: String,
    pub span: Span,
    pub limit: u32,
    pub config_key: Option<String>,
    pub scope: CounterScope,
}

#[derive(Clone, Debug)]
pub struct Closure {
    pub node: usize,
    pub trigger: ClosureTrigger,
    pub counter: Option<usize>,
    pub span: Span,
}

/// A mode with `extends` flattened.
#[derive(Clone, Debug)]
pub struct Mode {
    pub name: String,
    pub span: Span,
    /// Plane → loop index, in plane order.
    pub planes: BTreeMap<Plane, usize>,
    /// In precedence order: later bindings win over earlier ones.
    pub bindings: Vec<ModeBinding>,
    pub concurrency: Concurrency,
    pub triggers: Vec<Trigger>,
    /// Where the mode (or the mode it extends) was marked `unattended`.
    pub unattended: Option<Span>,
}

#[derive(Clone, Debug)]
pub struct ModeBinding {
    /// `None` for `*`; otherwise a stage or node name.
    pub selector: Option<String>,
    pub value: BindingValue,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum BindingValue {
    Runner(String),
    Model(String),
    Effort(Effort),
    Timeout(u64),
    Entrypoint(String),
    Attach(Vec<String>),
}

impl BindingValue {
    pub fn field(&self) -> Overridable {
        match self {
            BindingValue::Runner(_) => Overridable::Runner,
            BindingValue::Model(_) => Overridable::Model,
            BindingValue::Effort(_) => Overridable::Effort,
            BindingValue::Timeout(_) => Overridable::Timeout,
            BindingValue::Entrypoint(_) => Overridable::Entrypoint,
            BindingValue::Attach(_) => Overridable::Skills,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Trigger {
    pub rule_id: String,
    pub source_plane: Plane,
    pub source_stage: usize,
    /// Outcome indices of the source stage.
    pub outcomes: Vec<usize>,
    pub target_stage: usize,
    pub action: LearningAction,
}
