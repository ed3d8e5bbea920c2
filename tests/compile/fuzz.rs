//! No input makes the compiler panic: arbitrary text and mutations of the
//! shipped loops go through parse, check and lower.

use proptest::prelude::*;

use millrace::lower::{PlanSettings, lower};

fn shipped() -> String {
    millrace::embedded::LOOPS
        .iter()
        .map(|(_, b)| String::from_utf8_lossy(b).into_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

fn compile_all(text: &str) {
    let (program, diags, sources) = super::compile(text);
    // Rendering must not panic either, whatever the spans.
    let _ = millrace::diag::render_human(diags.iter(), &sources, millrace::diag::RenderOptions::plain());
    let _ = millrace::diag::render_json(diags.iter(), &sources);
    if let Some(program) = program {
        for mode in program.modes.iter().map(|m| m.name.clone()).collect::<Vec<_>>() {
            if let Ok(plan) = lower(&program, &sources, &mode, &PlanSettings::default()) {
                assert!(plan.validate().is_ok(), "lowered plans are valid");
                let _ = plan.dump();
            }
        }
    }
}

/// Tokens that make mutations land near real syntax.
const TOKENS: &[&str] = &[
    "{",
    "}",
    "->",
    "|",
    ":",
    ",",
    "=",
    "*",
    "\"",
    "\n",
    " ",
    "stage",
    "loop",
    "mode",
    "alias",
    "finish",
    "resume",
    "result.x",
    "count",
    "else",
    "reset",
    "default",
    "except",
    "closure",
    "when",
    "terminal",
    "counter",
    "limit",
    "entry",
    "plane",
    "BLOCKED",
    "builder",
    "execution",
    "success",
    "#",
    "99999999999999999999",
    "é",
    "\u{0}",
];

#[derive(Debug, Clone)]
enum Edit {
    Delete(usize, usize),
    Insert(usize, usize),
    Duplicate(usize, usize),
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for edit in edits {
        let n = chars.len().max(1);
        match *edit {
            Edit::Delete(at, len) => {
                let at = at % n;
                let end = (at + len % 40).min(chars.len());
                chars.drain(at.min(chars.len())..end);
            }
            Edit::Insert(at, token) => {
                let at = (at % n).min(chars.len());
                let token: Vec<char> = TOKENS[token % TOKENS.len()].chars().collect();
                chars.splice(at..at, token);
            }
            Edit::Duplicate(at, len) => {
                let at = (at % n).min(chars.len());
                let end = (at + len % 80).min(chars.len());
                let copy: Vec<char> = chars[at..end].to_vec();
                chars.splice(at..at, copy);
            }
        }
    }
    chars.into_iter().collect()
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::Delete(a, b)),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::Insert(a, b)),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::Duplicate(a, b)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_shipped_loops_never_panic(edits in proptest::collection::vec(edit(), 1..8)) {
        compile_all(&apply(&shipped(), &edits));
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,400}") {
        compile_all(&text);
    }

    #[test]
    fn token_soup_never_panics(tokens in proptest::collection::vec(0..TOKENS.len(), 0..120)) {
        let text: String = tokens.iter().map(|t| TOKENS[*t]).collect::<Vec<_>>().join(" ");
        compile_all(&text);
    }
}
