//! Everything the checker reports. Messages are lower-case with names in
//! backticks; help says what to change. The warnings are [`super::CheckWarning`].

use miette::{LabeledSpan, SourceSpan};

/// One checker diagnostic.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum CheckError {
    // ---- names ----
    /// Two definitions of one kind share a name in the same layer (a
    /// workspace file may override a shipped definition; that is not this).
    #[error("{kind} `{name}` is defined more than once")]
    #[diagnostic(code(mill::check::duplicate_definition), help("rename or remove one of them"))]
    DuplicateDefinition {
        kind: &'static str,
        name: String,
        #[label(primary, "defined again here")]
        span: SourceSpan,
        #[label("first defined here")]
        first: SourceSpan,
    },

    /// A name inside a block (node, counter, terminal, outcome, entry) is
    /// declared twice.
    #[error("{kind} `{name}` is declared twice in {owner}")]
    #[diagnostic(code(mill::check::duplicate_name), help("rename or remove one of them"))]
    DuplicateName {
        kind: &'static str,
        name: String,
        owner: String,
        #[label(primary, "declared again here")]
        span: SourceSpan,
        #[label("first declared here")]
        first: SourceSpan,
    },

    /// A reference to a stage kind that no file defines.
    #[error("unknown stage `{name}`")]
    #[diagnostic(code(mill::check::unknown_stage))]
    UnknownStage {
        name: String,
        #[label(primary, "no stage kind has this name")]
        span: SourceSpan,
        #[help]
        help: Option<String>,
    },

    /// A reference to a node that the loop does not declare.
    #[error("loop `{owner}` has no node `{name}`")]
    #[diagnostic(code(mill::check::unknown_node))]
    UnknownNode {
        name: String,
        owner: String,
        #[label(primary, "not a node of this loop")]
        span: SourceSpan,
        #[help]
        help: Option<String>,
    },

    /// A mode binds a loop that no file defines.
    #[error("unknown loop `{name}`")]
    #[diagnostic(code(mill::check::unknown_loop))]
    UnknownLoop {
        name: String,
        #[label(primary, "no loop has this name")]
        span: SourceSpan,
        #[help]
        help: Option<String>,
    },

    /// `extends` or an alias names a mode that does not exist.
    #[error("unknown mode `{name}`")]
    #[diagnostic(code(mill::check::unknown_mode))]
    UnknownMode {
        name: String,
        #[label(primary, "no mode has this name")]
        span: SourceSpan,
        #[help]
        help: Option<String>,
    },

    /// A route or closure names a counter the loop does not declare.
    #[error("loop `{owner}` has no counter `{name}`")]
    #[diagnostic(code(mill::check::unknown_counter))]
    UnknownCounter {
        name: String,
        owner: String,
        #[label(primary, "not a counter of this loop")]
        span: SourceSpan,
        #[help]
        help: Option<String>,
    },

    /// `finish` names a terminal the loop does not declare.
    #[error("loop `{owner}` has no terminal `{name}`")]
    #[diagnostic(code(mill::check::unknown_terminal))]
    UnknownTerminal {
        name: String,
        owner: String,
        #[label(primary, "not a terminal of this loop")]
        span: SourceSpan,
        #[help]
        help: Option<String>,
    },

    /// A word that must come from a fixed vocabulary (plane, result class,
    /// work item kind, role, runner, effort, …) is not in it.
    #[error("unknown {what} `{name}`")]
    #[diagnostic(code(mill::check::unknown_value))]
    UnknownValue {
        what: &'static str,
        name: String,
        #[label(primary, "not a valid {what}")]
        span: SourceSpan,
        #[help]
        help: Option<String>,
    },

    /// A route handles an outcome its stage kind does not declare.
    #[error("stage `{stage}` has no outcome `{outcome}`")]
    #[diagnostic(code(mill::check::unknown_outcome))]
    UnknownOutcome {
        stage: String,
        outcome: String,
        #[label(primary, "not declared by `{stage}`")]
        span: SourceSpan,
        #[help]
        help: Option<String>,
    },

    // ---- stage kinds ----
    /// A required statement is missing from a block.
    #[error("{owner} has no `{field}`")]
    #[diagnostic(code(mill::check::missing_field))]
    MissingField {
        owner: String,
        field: &'static str,
        #[label(primary, "declared here")]
        span: SourceSpan,
        #[help]
        help: Option<String>,
    },

    /// A stage kind without `BLOCKED: blocked | recoverable_failure`; the
    /// runtime turns every harness failure into that outcome.
    #[error("stage `{stage}` does not declare `BLOCKED` with class `recoverable_failure`")]
    #[diagnostic(
        code(mill::check::missing_blocked_outcome),
        help(
            "add `BLOCKED: blocked | recoverable_failure` to its outcomes; the runtime reports a failed or silent harness as that outcome"
        )
    )]
    MissingBlockedOutcome {
        stage: String,
        #[label(primary, "in this stage's outcomes")]
        span: SourceSpan,
    },

    /// An outcome, running marker or status marker that is not
    /// SCREAMING_SNAKE_CASE (it is printed as `### NAME`).
    #[error("marker `{name}` must be upper case letters, digits and `_`, starting with a letter")]
    #[diagnostic(code(mill::check::invalid_marker), help("write it as `{suggestion}`"))]
    InvalidMarker {
        name: String,
        suggestion: String,
        #[label(primary, "not a marker name")]
        span: SourceSpan,
    },

    /// A marker derived from a name (`<STAGE>_RUNNING`, a terminal's upper-
    /// cased name) that is not a valid marker.
    #[error("the marker derived from `{name}`, `{derived}`, is not a valid marker")]
    #[diagnostic(
        code(mill::check::invalid_marker),
        help("declare one explicitly: `{keyword} {suggestion}`")
    )]
    InvalidDerivedMarker {
        name: String,
        derived: String,
        keyword: &'static str,
        suggestion: String,
        #[label(primary, "derives an invalid marker")]
        span: SourceSpan,
    },

    /// An outcome with several result classes other than the failure pair.
    #[error("outcome `{outcome}` allows several result classes")]
    #[diagnostic(
        code(mill::check::ambiguous_outcome),
        help("give it one class; only a failure outcome may allow `blocked | recoverable_failure`")
    )]
    AmbiguousOutcome {
        outcome: String,
        #[label(primary, "more than one class")]
        span: SourceSpan,
    },

    /// A path that is absolute, escapes with `..`, or leaves its directory.
    #[error("path `{path}` {reason}")]
    #[diagnostic(code(mill::check::invalid_path))]
    InvalidPath {
        path: String,
        reason: String,
        #[label(primary, "invalid path")]
        span: SourceSpan,
        #[help]
        help: Option<String>,
    },

    /// An override of a setting the stage kind declares `fixed`.
    #[error("`{field}` of stage `{stage}` is fixed and cannot be overridden")]
    #[diagnostic(
        code(mill::check::fixed_override),
        help("remove this override, or remove `{field}` from the stage's `fixed` list")
    )]
    FixedOverride {
        stage: String,
        field: String,
        #[label(primary, "overridden here")]
        span: SourceSpan,
        #[label("fixed here")]
        fixed: SourceSpan,
    },

    // ---- loops ----
    /// A node runs a stage kind of another plane.
    #[error("node `{node}` runs stage `{stage}` (plane {stage_plane}) in a loop whose plane is {loop_plane}")]
    #[diagnostic(
        code(mill::check::plane_mismatch),
        help(
            "run a stage kind of plane {loop_plane} here, or move the node to a loop of plane {stage_plane}"
        )
    )]
    StagePlaneMismatch {
        node: String,
        stage: String,
        stage_plane: String,
        loop_plane: String,
        #[label(primary, "stage of plane {stage_plane}")]
        span: SourceSpan,
    },

    /// An entry for a kind of work item that another plane handles.
    #[error("`{kind}` work items belong to plane {kind_plane}, but this loop's plane is {loop_plane}")]
    #[diagnostic(code(mill::check::entry_plane_mismatch), help("{help}"))]
    EntryPlaneMismatch {
        kind: String,
        kind_plane: String,
        loop_plane: String,
        help: String,
        #[label(primary, "wrong plane for this kind")]
        span: SourceSpan,
    },

    /// A declared outcome of a node is not routed: the work item would stop
    /// silently.
    #[error("node `{node}` does not handle outcome `{outcome}`")]
    #[diagnostic(
        code(mill::check::unhandled_outcome),
        help("add `{outcome} -> <node> | finish <terminal>` to node `{node}`")
    )]
    UnhandledOutcome {
        node: String,
        outcome: String,
        #[label(primary, "`{outcome}` is not routed")]
        span: SourceSpan,
        #[label("declared here")]
        declared: SourceSpan,
    },

    /// An outcome routed twice in one node.
    #[error("node `{node}` routes outcome `{outcome}` twice")]
    #[diagnostic(code(mill::check::duplicate_route), help("keep one route for `{outcome}`"))]
    DuplicateRoute {
        node: String,
        outcome: String,
        #[label(primary, "routed again here")]
        span: SourceSpan,
        #[label("first routed here")]
        first: SourceSpan,
    },

    /// A route ends in a terminal whose class contradicts the outcome's
    /// result classes (for example a failure outcome finishing as success).
    #[error("outcome `{outcome}` ({classes}) cannot finish at terminal `{terminal}` of class `{class}`")]
    #[diagnostic(code(mill::check::incompatible_terminal), help("{help}"))]
    IncompatibleTerminal {
        outcome: String,
        classes: String,
        terminal: String,
        class: String,
        help: String,
        #[label(primary, "finishes here")]
        span: SourceSpan,
        #[label("terminal declared here")]
        terminal_span: SourceSpan,
    },

    /// A closure pass run by a stage kind without `role closure`.
    #[error("closure node `{node}` runs stage `{stage}`, which is not a closure stage")]
    #[diagnostic(
        code(mill::check::not_a_closure_stage),
        help("give the stage `role closure`, or run a closure stage such as `arbiter`")
    )]
    NotAClosureStage {
        node: String,
        stage: String,
        #[label(primary, "not `role closure`")]
        span: SourceSpan,
    },

    /// A loop with more than one closure pass.
    #[error("{owner} declares more than one closure pass")]
    #[diagnostic(code(mill::check::duplicate_closure), help("keep one `closure` block"))]
    DuplicateClosure {
        owner: String,
        #[label(primary, "another closure here")]
        span: SourceSpan,
        #[label("first closure here")]
        first: SourceSpan,
    },

    /// A counter limit outside 1..=10000: 0 can never be taken, and a huge
    /// limit is a cycle in all but name.
    #[error("counter `{name}` has limit {limit}; limits run from 1 to {max}")]
    #[diagnostic(
        code(mill::check::invalid_limit),
        help("use a limit between 1 and {max}, or remove the counter")
    )]
    InvalidLimit {
        name: String,
        limit: u64,
        max: u32,
        #[label(primary, "out of range")]
        span: SourceSpan,
    },

    /// A counter used both by routes (per work item) and by the closure pass
    /// (per closure target).
    #[error("counter `{name}` is used both by routes and by the closure pass")]
    #[diagnostic(
        code(mill::check::counter_scope_conflict),
        help("declare a separate counter for the closure pass")
    )]
    CounterScopeConflict {
        name: String,
        #[label(primary, "used by a route here")]
        span: SourceSpan,
        #[label("used by the closure here")]
        closure: SourceSpan,
    },

    /// A resume whose default is excluded, or that names keys twice.
    #[error("resume default `{node}` is in its own `except` list")]
    #[diagnostic(
        code(mill::check::invalid_resume),
        help("choose a default that is not excluded")
    )]
    InvalidResume {
        node: String,
        #[label(primary, "excluded here")]
        span: SourceSpan,
    },

    /// A route, resume default or entry that leads to the closure node: it
    /// runs only as the closure pass, for a closure target, never for a work
    /// item.
    #[error("`{node}` is the closure node of loop `{owner}`; it runs only as the closure pass")]
    #[diagnostic(
        code(mill::check::closure_node_target),
        help("route to another node; the runtime starts `{node}` itself when the lineage's backlog drains")
    )]
    ClosureNodeTarget {
        node: String,
        owner: String,
        #[label(primary, "leads to the closure node")]
        span: SourceSpan,
    },

    /// A node from which no route leads to any terminal.
    #[error("node `{node}` can never finish: no route from it reaches a terminal")]
    #[diagnostic(
        code(mill::check::no_path_to_terminal),
        help("route some outcome reachable from `{node}` to `finish <terminal>`")
    )]
    NoPathToTerminal {
        node: String,
        #[label(primary, "cannot reach a terminal")]
        span: SourceSpan,
    },

    /// A cycle of routes that no counter bounds: work could loop forever.
    #[error("loop `{owner}` has an unbounded cycle: {cycle}")]
    #[diagnostic(code(mill::check::unbounded_cycle), help("{help}"))]
    UnboundedCycle {
        owner: String,
        cycle: String,
        help: String,
        #[label(collection)]
        edges: Vec<LabeledSpan>,
    },

    // ---- modes ----
    /// A mode that binds no loop to a required plane.
    #[error("mode `{mode}` binds no {plane} loop")]
    #[diagnostic(
        code(mill::check::missing_plane_binding),
        help("add `{plane} = <loop>` to the mode (or to a mode it extends)")
    )]
    MissingPlaneBinding {
        mode: String,
        plane: String,
        #[label(primary, "mode declared here")]
        span: SourceSpan,
    },

    /// A loop bound to a plane it was not written for.
    #[error("loop `{loop_name}` has plane {loop_plane} but is bound to plane {plane}")]
    #[diagnostic(
        code(mill::check::loop_plane_mismatch),
        help("bind a loop whose plane is {plane} here")
    )]
    LoopPlaneMismatch {
        loop_name: String,
        loop_plane: String,
        plane: String,
        #[label(primary, "plane {loop_plane}")]
        span: SourceSpan,
    },

    /// `extends` chains that come back to themselves.
    #[error("mode `{mode}` extends itself through {chain}")]
    #[diagnostic(code(mill::check::mode_cycle), help("break the chain of `extends`"))]
    ModeCycle {
        mode: String,
        chain: String,
        #[label(primary, "extends here")]
        span: SourceSpan,
    },

    /// A mode binding or trigger names a stage outside the mode's loops.
    #[error("mode `{mode}` names `{name}`, which is not a stage or node of its loops")]
    #[diagnostic(code(mill::check::stage_outside_mode))]
    StageOutsideMode {
        mode: String,
        name: String,
        #[label(primary, "not in this mode's loops")]
        span: SourceSpan,
        #[help]
        help: Option<String>,
    },

    /// A binding of the same setting for the same selector twice in a mode.
    #[error("`{keyword} {selector}` is bound twice in mode `{mode}`")]
    #[diagnostic(code(mill::check::duplicate_binding), help("keep one binding"))]
    DuplicateBinding {
        keyword: &'static str,
        selector: String,
        mode: String,
        #[label(primary, "bound again here")]
        span: SourceSpan,
        #[label("first bound here")]
        first: SourceSpan,
    },

    /// A binding value out of range (a zero timeout).
    #[error("{what} must be greater than zero")]
    #[diagnostic(code(mill::check::invalid_value), help("use a positive number"))]
    InvalidValue {
        what: &'static str,
        #[label(primary, "zero")]
        span: SourceSpan,
    },

    /// A timeout longer than the runtime takes.
    #[error("{what} of {found} seconds is longer than the limit of {max} seconds (a week)")]
    #[diagnostic(
        code(mill::check::invalid_value),
        help("use at most {max}; a stage that needs longer is a campaign of its own")
    )]
    ValueTooLarge {
        what: &'static str,
        found: u64,
        max: u64,
        #[label(primary, "too long")]
        span: SourceSpan,
    },

    /// A concurrency statement or trigger that names a plane the mode does
    /// not bind, or a trigger that starts in the learning plane.
    #[error("{message}")]
    #[diagnostic(code(mill::check::invalid_policy))]
    InvalidPolicy {
        message: String,
        #[label(primary, "here")]
        span: SourceSpan,
        #[help]
        help: Option<String>,
    },
}
