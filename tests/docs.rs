//! The documentation keeps up with the code: every diagnostic code the
//! sources can raise has an entry in `docs/diagnostics.md`, and every code
//! the catalogue describes still exists.

use std::collections::BTreeSet;
use std::path::Path;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every `mill::<area>::<name>` in `text`.
fn codes(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (at, _) in text.match_indices("mill::") {
        let rest = &text[at + "mill::".len()..];
        let word = |s: &str| -> String {
            s.chars()
                .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
                .collect()
        };
        let area = word(rest);
        let Some(after) = rest[area.len()..].strip_prefix("::") else {
            continue;
        };
        let name = word(after);
        if !area.is_empty() && !name.is_empty() {
            found.insert(format!("mill::{area}::{name}"));
        }
    }
    found
}

fn source_codes(dir: &Path, out: &mut BTreeSet<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            source_codes(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.extend(codes(&std::fs::read_to_string(&path).unwrap()));
        }
    }
}

#[test]
fn every_diagnostic_code_has_a_catalogue_entry_and_every_entry_a_code() {
    let mut used = BTreeSet::new();
    source_codes(&root().join("src"), &mut used);
    let catalogue = std::fs::read_to_string(root().join("docs/diagnostics.md")).unwrap();
    let documented = codes(&catalogue);
    let missing: Vec<_> = used.difference(&documented).collect();
    assert!(missing.is_empty(), "codes without a catalogue entry: {missing:?}");
    let stale: Vec<_> = documented.difference(&used).collect();
    assert!(
        stale.is_empty(),
        "catalogue entries for codes nothing raises: {stale:?}"
    );
}
