//! The untyped syntax tree: exactly what a `.mill` file says, with spans.
//! Names are not resolved here; pieces that recovery may leave out are
//! `Option`s.

use crate::diag::{FileId, Span};

/// An identifier or dotted name as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Name {
    pub text: String,
    pub span: Span,
}

/// A string literal with its escapes resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Str {
    pub value: String,
    pub span: Span,
}

/// An integer literal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Int {
    pub value: u64,
    pub span: Span,
}

/// One parsed file.
#[derive(Clone, Debug, Default)]
pub struct Ast {
    pub file: Option<FileId>,
    pub items: Vec<Item>,
}

#[derive(Clone, Debug)]
pub enum Item {
    // Boxed: a stage declaration is much larger than the other items.
    Stage(Box<StageDecl>),
    Loop(LoopDecl),
    Mode(ModeDecl),
    Alias(AliasDecl),
}

/// `stage <name> { ... }`: a stage kind.
#[derive(Clone, Debug, Default)]
pub struct StageDecl {
    pub name: Option<Name>,
    pub span: Span,
    pub plane: Option<Name>,
    pub title: Option<Str>,
    pub entrypoint: Option<Str>,
    pub skills: Vec<Str>,
    pub suggests: Vec<Str>,
    pub running: Option<Name>,
    /// `None` when no `outcomes { }` block was written.
    pub outcomes: Option<OutcomesBlock>,
    pub emits: Vec<Name>,
    pub accepts: Vec<Name>,
    pub role: Option<Name>,
    pub fixed: Vec<Name>,
    /// The stage kind's own runner, model, effort and timeout defaults
    /// (`attach` and `entrypoint` are not used here).
    pub defaults: NodeSettings,
    /// Set when the kind was declared with `gate`: no harness runs it.
    pub gate: Option<GateDecl>,
}

/// What a `gate` declaration adds to a stage kind.
#[derive(Clone, Debug, Default)]
pub struct GateDecl {
    /// The `gate` keyword.
    pub span: Span,
    /// `ask "..."`: the question shown to the operator.
    pub ask: Option<Str>,
    /// `show "..."`: what the operator should look at.
    pub show: Vec<Str>,
    /// `timeout <seconds> -> OUTCOME`
    pub timeout: Option<GateTimeout>,
}

/// `timeout <seconds> -> OUTCOME`
#[derive(Clone, Debug)]
pub struct GateTimeout {
    pub seconds: Int,
    pub outcome: Name,
    pub span: Span,
}

#[derive(Clone, Debug, Default)]
pub struct OutcomesBlock {
    pub span: Span,
    pub outcomes: Vec<OutcomeDecl>,
}

/// `NAME: class | class`
#[derive(Clone, Debug)]
pub struct OutcomeDecl {
    pub name: Name,
    pub classes: Vec<Name>,
    pub span: Span,
}

/// `loop <name> { ... }`
#[derive(Clone, Debug, Default)]
pub struct LoopDecl {
    pub name: Option<Name>,
    pub span: Span,
    pub plane: Option<Name>,
    pub entries: Vec<EntryDecl>,
    pub counters: Vec<CounterDecl>,
    pub terminals: Vec<TerminalDecl>,
    pub closures: Vec<ClosureDecl>,
    pub nodes: Vec<NodeDecl>,
}

/// `entry <kind> -> <node>`
#[derive(Clone, Debug)]
pub struct EntryDecl {
    pub kind: Name,
    pub node: Name,
    pub span: Span,
}

/// `counter <name> limit <n> [config <key>]`
#[derive(Clone, Debug)]
pub struct CounterDecl {
    pub name: Name,
    pub limit: Int,
    pub config: Option<Name>,
    pub span: Span,
}

/// `terminal <name>: <class> [writes MARKER] [opens incident] [emits a, b]`
#[derive(Clone, Debug)]
pub struct TerminalDecl {
    pub name: Name,
    pub class: Name,
    pub writes: Option<Name>,
    pub opens: Option<Name>,
    pub emits: Vec<Name>,
    pub span: Span,
}

/// `closure <node>[: stage] when <trigger> [count <counter>] { routes }`
#[derive(Clone, Debug)]
pub struct ClosureDecl {
    pub node: NodeDecl,
    pub trigger: Name,
    pub counter: Option<Name>,
    pub span: Span,
}

/// `<name>[: <stage>] { settings and routes }`
#[derive(Clone, Debug, Default)]
pub struct NodeDecl {
    pub name: Option<Name>,
    /// The stage kind, when it differs from the node name.
    pub stage: Option<Name>,
    pub span: Span,
    /// The `name[: stage]` part, for labels.
    pub head_span: Span,
    pub settings: NodeSettings,
    pub routes: Vec<Route>,
}

/// Per-node binding overrides.
#[derive(Clone, Debug, Default)]
pub struct NodeSettings {
    pub runner: Option<Name>,
    pub model: Option<Str>,
    pub effort: Option<Name>,
    pub timeout: Option<Int>,
    pub entrypoint: Option<Str>,
    pub attach: Vec<Str>,
}

/// `A | B -> branch [reset c, d]`
#[derive(Clone, Debug)]
pub struct Route {
    pub outcomes: Vec<Name>,
    pub branch: Branch,
    pub resets: Vec<Name>,
    pub span: Span,
}

/// A destination, optionally guarded by a counter with a fallback.
#[derive(Clone, Debug)]
pub struct Branch {
    pub dest: Dest,
    pub guard: Option<Guard>,
    pub span: Span,
}

/// `count <counter> else <branch>`
#[derive(Clone, Debug)]
pub struct Guard {
    pub counter: Name,
    pub otherwise: Box<Branch>,
}

#[derive(Clone, Debug)]
pub enum Dest {
    Node(Name),
    Finish(Name),
    Resume {
        keys: Vec<Name>,
        default: Name,
        except: Vec<Name>,
    },
}

/// `mode <name> [extends <base>] { ... }`
#[derive(Clone, Debug, Default)]
pub struct ModeDecl {
    pub name: Option<Name>,
    pub extends: Option<Name>,
    pub span: Span,
    pub planes: Vec<PlaneBinding>,
    pub bindings: Vec<Binding>,
    pub exclusive: Vec<PlaneGroup>,
    pub concurrent: Vec<ConcurrentDecl>,
    pub triggers: Vec<TriggerDecl>,
    /// `unattended`: where the mode was marked so.
    pub unattended: Option<Span>,
}

/// `<plane> = <loop>`
#[derive(Clone, Debug)]
pub struct PlaneBinding {
    pub plane: Name,
    pub loop_name: Name,
    pub span: Span,
}

/// What a mode binding sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BindingKind {
    Runner,
    Model,
    Effort,
    Timeout,
    Entrypoint,
    Attach,
}

impl BindingKind {
    pub fn keyword(self) -> &'static str {
        match self {
            BindingKind::Runner => "runner",
            BindingKind::Model => "model",
            BindingKind::Effort => "effort",
            BindingKind::Timeout => "timeout",
            BindingKind::Entrypoint => "entrypoint",
            BindingKind::Attach => "attach",
        }
    }
}

/// `runner * = codex_cli`, `model checker = "..."`
#[derive(Clone, Debug)]
pub struct Binding {
    pub kind: BindingKind,
    /// `None` for the wildcard `*`.
    pub selector: Option<Name>,
    pub selector_span: Span,
    pub value: BindingValue,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub enum BindingValue {
    Name(Name),
    Str(Str),
    Int(Int),
    Strs(Vec<Str>),
}

/// `exclusive a, b`
#[derive(Clone, Debug)]
pub struct PlaneGroup {
    pub planes: Vec<Name>,
    pub span: Span,
}

/// `concurrent <plane> with <planes>`
#[derive(Clone, Debug)]
pub struct ConcurrentDecl {
    pub plane: Name,
    pub with: Vec<Name>,
    pub span: Span,
}

/// `trigger <stage> A | B -> <learning stage> [action <a>]`
#[derive(Clone, Debug)]
pub struct TriggerDecl {
    pub source: Name,
    pub outcomes: Vec<Name>,
    pub target: Name,
    pub action: Option<Name>,
    pub span: Span,
}

/// `alias <name> = <mode>`
#[derive(Clone, Debug)]
pub struct AliasDecl {
    pub name: Name,
    pub target: Name,
    pub span: Span,
}
