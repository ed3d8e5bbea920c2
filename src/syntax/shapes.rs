//! What each statement looks like, for help on lines that failed to parse.

/// The keywords valid in each kind of block.
pub const STAGE_KEYWORDS: &[&str] = &[
    "plane",
    "title",
    "entrypoint",
    "skills",
    "suggests",
    "running",
    "outcomes",
    "emits",
    "accepts",
    "role",
    "fixed",
    "runner",
    "model",
    "effort",
    "timeout",
];
pub(super) const GATE_KEYWORDS: &[&str] =
    &["plane", "title", "ask", "show", "running", "outcomes", "timeout"];
pub(super) const LOOP_KEYWORDS: &[&str] = &["plane", "entry", "counter", "terminal", "closure"];
pub const NODE_KEYWORDS: &[&str] = &["runner", "model", "effort", "timeout", "entrypoint", "attach"];
pub const MODE_KEYWORDS: &[&str] = &[
    "runner",
    "model",
    "effort",
    "timeout",
    "entrypoint",
    "attach",
    "exclusive",
    "concurrent",
    "trigger",
    "unattended",
];
pub(super) const TOP_KEYWORDS: &[&str] = &["stage", "gate", "loop", "mode", "alias"];

/// Which block a bad line was found in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Block {
    Stage,
    Gate,
    Outcomes,
    Loop,
    Node,
    Mode,
}

impl Block {
    /// The block's name without an article.
    pub(super) fn noun(self) -> &'static str {
        self.describe().trim_start_matches("a ").trim_start_matches("an ")
    }

    pub(super) fn describe(self) -> &'static str {
        match self {
            Block::Stage => "a stage",
            Block::Gate => "a gate",
            Block::Outcomes => "an outcomes block",
            Block::Loop => "a loop",
            Block::Node => "a node",
            Block::Mode => "a mode",
        }
    }

    fn keywords(self) -> &'static [&'static str] {
        match self {
            Block::Stage => STAGE_KEYWORDS,
            Block::Gate => GATE_KEYWORDS,
            Block::Outcomes => &[],
            Block::Loop => LOOP_KEYWORDS,
            Block::Node => NODE_KEYWORDS,
            Block::Mode => MODE_KEYWORDS,
        }
    }
}

/// Help for a line of `block` that starts with `word` and did not parse.
pub(super) fn statement_help(block: Block, word: &str, line: &str) -> String {
    if block == Block::Gate && !GATE_KEYWORDS.contains(&word) && STAGE_KEYWORDS.contains(&word) {
        let list: Vec<String> = GATE_KEYWORDS.iter().map(|k| format!("`{k}`")).collect();
        return format!(
            "a gate runs no harness, so it takes no `{word}`; gate statements are {}",
            list.join(", ")
        );
    }
    if let Some(shape) = shape(block, word) {
        return format!("write it as `{shape}`");
    }
    if block == Block::Outcomes {
        return "declare outcomes as `NAME: class` or `NAME: class | class`".into();
    }
    if block == Block::Node || (block == Block::Loop && line.contains("->")) {
        return format!("routes are written `OUTCOME -> {DEST}`");
    }
    if let Some(keyword) = crate::diag::did_you_mean(word, block.keywords().iter().copied()) {
        return format!("did you mean `{keyword}`?");
    }
    let list: Vec<String> = block.keywords().iter().map(|k| format!("`{k}`")).collect();
    match block {
        Block::Loop => format!(
            "a loop holds {}, and node blocks `name {{ ... }}`",
            list.join(", ")
        ),
        _ => format!("{} statements are {}", block.noun(), list.join(", ")),
    }
}

/// Help for a top-level line starting with `word`.
pub(super) fn item_help(word: &str) -> Option<String> {
    crate::diag::did_you_mean(word, TOP_KEYWORDS.iter().copied()).map(|k| format!("did you mean `{k}`?"))
}

const DEST: &str = "<node> | finish <terminal> | resume result.<key> default <node> [except <nodes>] \
                    [count <counter> else <destination>] [reset <counters>]";

fn shape(block: Block, word: &str) -> Option<&'static str> {
    let mode = block == Block::Mode;
    Some(match word {
        "timeout" if block == Block::Gate => "timeout <seconds> -> <OUTCOME>",
        "ask" => "ask \"<question for the operator>\"",
        "show" => "show \"<path to look at>\", ...",
        "unattended" => "unattended",
        "plane" if matches!(block, Block::Stage | Block::Gate | Block::Loop) => {
            "plane execution|planning|learning"
        }
        "title" => "title \"<text>\"",
        "entrypoint" if mode => "entrypoint <stage|*> = \"entrypoints/<plane>/<file>.md\"",
        "entrypoint" => "entrypoint \"entrypoints/<plane>/<file>.md\"",
        "skills" => "skills \"skills/<path>/SKILL.md\", ...",
        "suggests" => "suggests \"skills/<path>/SKILL.md\", ...",
        "running" => "running <MARKER>",
        "outcomes" => "outcomes { NAME: class | class }",
        "emits" => "emits <artifact>, ...",
        "accepts" => "accepts <artifact>, ...",
        "role" => "role closure|repair|escalation",
        "fixed" => "fixed runner|model|effort|timeout|entrypoint|skills, ...",
        "entry" => "entry <work item kind> -> <node>",
        "counter" => "counter <name> limit <n> [config <millrace.toml key>]",
        "terminal" => "terminal <name>: <class> [writes <MARKER>] [opens incident] [emits <artifacts>]",
        "closure" => "closure <node> when backlog_drained [count <counter>] { <routes> }",
        "runner" if mode => "runner <stage|*> = <runner>",
        "runner" => "runner <runner>",
        "model" if mode => "model <stage|*> = \"<model>\"",
        "model" => "model \"<model>\"",
        "effort" if mode => "effort <stage|*> = low|medium|high|xhigh",
        "effort" => "effort low|medium|high|xhigh",
        "timeout" if mode => "timeout <stage|*> = <seconds>",
        "timeout" => "timeout <seconds>",
        "attach" if mode => "attach <stage|*> = \"skills/<path>/SKILL.md\", ...",
        "attach" => "attach \"skills/<path>/SKILL.md\", ...",
        "exclusive" => "exclusive <plane>, <plane>",
        "concurrent" => "concurrent <plane> with <plane>, ...",
        "trigger" => "trigger <stage> <OUTCOME> [| <OUTCOME>] -> <learning stage> [action <action>]",
        _ => return None,
    })
}
