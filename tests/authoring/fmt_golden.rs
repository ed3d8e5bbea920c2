//! Golden layouts: each `tests/authoring/fmt/<case>.mill.in` formats to
//! `<case>.mill.out` exactly, and the output is a fixed point. Regenerate
//! with `MILL_BLESS=1`.

use super::{format, root};

#[test]
fn golden_layouts_match() {
    let dir = root().join("tests/authoring/fmt");
    let bless = std::env::var_os("MILL_BLESS").is_some();
    let mut cases: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(".mill.in"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 3, "the golden cases went missing");
    let mut failures = Vec::new();
    for input in cases {
        let text = std::fs::read_to_string(&input).unwrap();
        let name = input.file_name().unwrap().to_string_lossy().into_owned();
        let actual = format(&name, &text);
        assert_eq!(
            format(&name, &actual),
            actual,
            "{name}: formatting twice changes it"
        );
        let expected_path = input.with_extension("out");
        if bless {
            std::fs::write(&expected_path, &actual).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if actual != expected {
            let diff = similar::TextDiff::from_lines(&expected, &actual);
            failures.push(format!(
                "{name}\n{}",
                diff.unified_diff().header("expected", "actual")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "golden layouts differ (MILL_BLESS=1 to accept):\n{}",
        failures.join("\n")
    );
}

#[test]
fn a_file_with_syntax_errors_is_refused_with_them() {
    let refused = millrace::fmt::format_text("bad.mill", "stage a {\n    plnae execution\n}\n").unwrap_err();
    assert_eq!(
        refused.diags.codes(),
        ["mill::syntax::invalid_statement", "mill::fmt::syntax_errors"]
    );
}

#[test]
fn crlf_and_tabs_become_the_canonical_layout() {
    let text = "alias a = b\r\n\r\n\r\nalias c = d\r\n";
    assert_eq!(format("crlf.mill", text), "alias a = b\n\nalias c = d\n");
    let text = "mode m {\n\texecution\t=\texecution.standard\n}";
    assert_eq!(
        format("tabs.mill", text),
        "mode m {\n    execution = execution.standard\n}\n"
    );
}

#[test]
fn empty_and_comment_only_files() {
    assert_eq!(format("empty.mill", ""), "");
    assert_eq!(format("blank.mill", "\n\n  \n"), "");
    assert_eq!(format("only.mill", "\n# just a note   \n\n"), "# just a note\n");
}
