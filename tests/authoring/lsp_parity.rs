//! The bar: on every `tests/ui` case, the diagnostics the server publishes
//! are those of `millrace compile validate --format json` — same code,
//! severity, message, help, range and secondary labels. (Lowering errors,
//! which name the mode asked for on the command line and have no location,
//! are the command's own.)

use std::process::Command;

use serde_json::Value;

use super::lsp_client::{Client, uri};
use super::{mill_files, root};

fn validate_json(rel: &str, text: &str) -> Vec<Value> {
    let mut args: Vec<String> = vec![
        "compile".into(),
        "validate".into(),
        "--format".into(),
        "json".into(),
    ];
    if let Some(extra) = text.lines().next().and_then(|l| l.strip_prefix("# args:")) {
        args.extend(extra.split_whitespace().map(String::from));
    }
    args.push(rel.into());
    let out = Command::new(env!("CARGO_BIN_EXE_millrace"))
        .args(&args)
        .current_dir(root())
        .env_remove("MILLRACE_WORKSPACE")
        .output()
        .unwrap();
    let value: Value = serde_json::from_slice(&out.stdout).unwrap();
    value["diagnostics"].as_array().cloned().unwrap_or_default()
}

fn expected_message(d: &Value) -> String {
    match d["help"].as_str() {
        Some(help) => format!("{}\n\nhelp: {help}", d["message"].as_str().unwrap()),
        None => d["message"].as_str().unwrap().to_string(),
    }
}

fn position(line: &Value, column: &Value) -> Value {
    serde_json::json!({"line": line.as_u64().unwrap() - 1, "character": column.as_u64().unwrap() - 1})
}

#[test]
fn server_diagnostics_match_compile_validate_on_every_ui_case() {
    let mut cases = Vec::new();
    mill_files(&root().join("tests/ui"), &mut cases);
    assert!(cases.len() > 40);
    let dir = tempfile::tempdir().unwrap();
    let mut client = Client::start(&dir.path().join("builtin"));
    let mut compared = 0;
    for case in cases {
        let rel = case.strip_prefix(root()).unwrap().display().to_string();
        let text = std::fs::read_to_string(&case).unwrap();
        let expected: Vec<Value> = validate_json(&rel, &text)
            .into_iter()
            .filter(|d| d["file"].as_str() == Some(rel.as_str()))
            .collect();
        let actual = client.open(&uri(&case), &text);
        assert_eq!(
            actual.len(),
            expected.len(),
            "{rel}: {actual:#?}\nvs\n{expected:#?}"
        );
        for (a, e) in actual.iter().zip(&expected) {
            assert_eq!(a["code"], e["code"], "{rel}");
            assert_eq!(a["message"].as_str().unwrap(), expected_message(e), "{rel}");
            let severity = if e["severity"] == "error" { 1 } else { 2 };
            assert_eq!(a["severity"], severity, "{rel}");
            assert_eq!(a["range"]["start"], position(&e["line"], &e["column"]), "{rel}");
            assert_eq!(
                a["range"]["end"],
                position(&e["end_line"], &e["end_column"]),
                "{rel}"
            );
            let secondary: Vec<&Value> = e["labels"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|l| l["primary"] == false)
                .collect();
            let related = a["relatedInformation"].as_array().cloned().unwrap_or_default();
            assert_eq!(related.len(), secondary.len(), "{rel}: {a:#?}\nvs\n{e:#?}");
            for (r, l) in related.iter().zip(secondary) {
                assert_eq!(
                    r["location"]["range"]["start"],
                    position(&l["line"], &l["column"]),
                    "{rel}"
                );
                assert_eq!(r["message"], l["message"].as_str().unwrap_or("see here"), "{rel}");
            }
            compared += 1;
        }
    }
    assert!(compared > 60, "only {compared} diagnostics compared");
    assert_eq!(client.shutdown(), Some(0));
}
