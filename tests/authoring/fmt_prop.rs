//! Generated programs with random whitespace and comments between their
//! tokens: formatting accepts them, is a fixed point, and keeps the syntax
//! tree (everything but spans) and the comments.

use proptest::prelude::*;

use super::format;

/// Tokens of a random but well-formed file.
fn program() -> impl Strategy<Value = Vec<String>> {
    let route =
        (0..4usize, 0..3usize, any::<bool>(), any::<bool>()).prop_map(|(guards, dest, resume, reset)| {
            let mut t: Vec<&str> = vec!["A", "|", "B", "->"];
            match (dest, resume) {
                (_, true) => t.extend([
                    "resume", "result.k", ",", "result.j", "default", "n1", "except", "n0",
                ]),
                (0, _) => t.extend(["finish", "done"]),
                _ => t.push("n1"),
            }
            for g in 0..guards {
                t.extend([
                    "count",
                    if g % 2 == 0 { "c" } else { "long_counter_name" },
                    "else",
                ]);
                t.push(if g + 1 == guards { "finish" } else { "n0" });
                if g + 1 == guards {
                    t.push("blocked");
                }
            }
            if reset {
                t.extend(["reset", "c", ",", "long_counter_name"]);
            }
            t.into_iter().map(String::from).collect::<Vec<_>>()
        });
    (proptest::collection::vec(route, 1..4), any::<bool>(), 0..3usize).prop_map(|(routes, alias, extra)| {
        let mut t: Vec<String> = Vec::new();
        push(
            &mut t,
            &[
                "stage",
                "s",
                "{",
                "plane",
                "execution",
                "title",
                "\"a # b\"",
                "outcomes",
                "{",
            ],
        );
        push(
            &mut t,
            &[
                "A",
                ":",
                "success",
                "BLOCKED",
                ":",
                "blocked",
                "|",
                "recoverable_failure",
                "}",
                "emits",
                "x",
                ",",
                "y",
                "}",
            ],
        );
        push(
            &mut t,
            &[
                "loop",
                "execution.gen",
                "{",
                "plane",
                "execution",
                "entry",
                "task",
                "->",
                "n0",
            ],
        );
        push(
            &mut t,
            &[
                "counter",
                "c",
                "limit",
                "2",
                "counter",
                "long_counter_name",
                "limit",
                "10",
                "config",
                "recovery.max_fix_cycles",
            ],
        );
        for node in ["n0", "n1"] {
            push(&mut t, &[node, ":", "s", "{", "runner", "command"]);
            for r in &routes {
                t.extend(r.iter().cloned());
            }
            t.push("}".into());
        }
        push(
            &mut t,
            &[
                "terminal", "done", ":", "success", "writes", "DONE", "emits", "x", ",", "y",
            ],
        );
        push(&mut t, &["terminal", "blocked", ":", "blocked", "}"]);
        push(
            &mut t,
            &[
                "mode",
                "m",
                "extends",
                "default_codex",
                "{",
                "execution",
                "=",
                "execution.gen",
                "runner",
                "*",
                "=",
                "command",
                "}",
            ],
        );
        for i in 0..extra {
            t.extend(["alias".into(), format!("a{i}"), "=".into(), "m".into()]);
        }
        if alias {
            push(&mut t, &["alias", "z", "=", "m"]);
        }
        t
    })
}

const SEPARATORS: &[&str] = &[
    " ",
    "  ",
    "\n",
    "\n\n\n",
    "\t",
    " # note\n",
    "\n    # own line\n",
    "\r\n",
];

fn joined(tokens: &[String], seps: &[usize]) -> String {
    let mut text = String::new();
    for (i, tok) in tokens.iter().enumerate() {
        text.push_str(tok);
        text.push_str(SEPARATORS[seps[i % seps.len()] % SEPARATORS.len()]);
    }
    text
}

fn push(t: &mut Vec<String>, s: &[&str]) {
    t.extend(s.iter().map(|x| x.to_string()));
}

/// The syntax tree's Debug form with every span removed.
fn without_spans(text: &str) -> String {
    let mut diags = millrace::diag::Diagnostics::new();
    let ast = millrace::syntax::parse_text(text, 0, &mut diags);
    assert!(!diags.has_errors(), "generated text must parse:\n{text}");
    let debug = format!("{:?}", ast.items);
    let mut out = String::new();
    let mut rest = debug.as_str();
    while let Some(at) = rest.find("Span {") {
        out.push_str(&rest[..at]);
        let close = rest[at..].find('}').map(|c| at + c + 1).unwrap_or(rest.len());
        rest = &rest[close..];
    }
    out.push_str(rest);
    out
}

/// Comment texts; the only string holding `#` is the stage title.
fn comments(text: &str) -> Vec<String> {
    text.replace("\"a # b\"", "\"\"")
        .lines()
        .filter_map(|l| l.find('#').map(|i| l[i..].trim_end().to_string()))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn formatting_generated_programs_keeps_their_meaning(
        tokens in program(),
        seps in proptest::collection::vec(0..SEPARATORS.len(), 1..40),
    ) {
        let text = joined(&tokens, &seps);
        let first = millrace::fmt::format_text("gen.mill", &text);
        prop_assert!(first.is_ok(), "refused:\n{text}");
        let once = first.unwrap_or_default();
        prop_assert_eq!(format("gen.mill", &once), once.clone());
        prop_assert_eq!(without_spans(&text), without_spans(&once));
        prop_assert_eq!(comments(&text).len(), comments(&once).len());
        prop_assert!(once.lines().all(|l| !l.ends_with(' ')));
    }
}
