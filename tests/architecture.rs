//! The shape of the code, checked: the one-way dependency direction between
//! the top-level modules (as `docs/architecture.md` draws it), no file
//! access outside `workspace::fsx`, and no source file over 500 lines.
//!
//! The checks read the production code's own `crate::` paths: test modules
//! (`#[cfg(test)] mod ...`, inline or in their own file) and comments are
//! left out, since tests may reach anywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Who may use whom. A module not listed may not be used by anyone but the
/// CLI; `cli` (the top) may use everything.
#[rustfmt::skip]
const ALLOWED: &[(&str, &[&str])] = &[
    ("diag", &[]),
    ("embedded", &[]),
    ("plan", &[]),
    ("syntax", &["diag", "embedded"]),
    ("check", &["syntax", "diag", "plan", "embedded"]),
    ("lower", &["check", "syntax", "diag", "plan"]),
    ("fmt", &["syntax", "diag"]),
    ("model", &["plan"]),
    ("engine", &["model", "plan"]),
    ("workspace", &["model", "plan", "embedded"]),
    ("runners", &["workspace", "model", "plan"]),
    ("config", &["runners", "workspace", "model", "plan"]),
    ("governance", &["config", "workspace", "model", "plan"]),
    ("compile", &["lower", "check", "syntax", "diag", "config", "workspace", "plan", "embedded"]),
    ("lsp", &["fmt", "compile", "lower", "check", "syntax", "diag", "plan", "workspace", "embedded"]),
    ("runtime", &["engine", "runners", "governance", "config", "compile", "workspace", "model", "plan", "diag"]),
    ("serve", &["runtime", "governance", "config", "workspace", "model", "plan"]),
];

/// Where the filesystem may be touched: the one module for it.
const FILE_ACCESS: &[&str] = &["workspace/fsx.rs", "workspace/fsx/"];

const MAX_LINES: usize = 500;

struct Source {
    /// Relative to `src/`.
    rel: String,
    /// The production text: comments and test modules removed.
    code: String,
    lines: usize,
}

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Files that are test modules declared with `#[cfg(test)] mod name;`.
fn test_only_files(files: &[(PathBuf, String)]) -> BTreeSet<PathBuf> {
    let mut test_only = BTreeSet::new();
    for (path, text) in files {
        let dir = match path.file_stem().and_then(|s| s.to_str()) {
            Some("lib" | "main" | "mod") => path.parent().unwrap().to_path_buf(),
            _ => path.with_extension(""),
        };
        let mut rest = text.as_str();
        while let Some(at) = rest.find("#[cfg(test)]") {
            rest = &rest[at + "#[cfg(test)]".len()..];
            let decl = rest.trim_start();
            let decl = decl.strip_prefix("pub(crate) ").unwrap_or(decl);
            if let Some(name) = decl
                .strip_prefix("mod ")
                .and_then(|d| d.split_once(';'))
                .map(|(n, _)| n)
            {
                let name = name.trim();
                if !name.contains(['{', ' ']) {
                    test_only.insert(dir.join(format!("{name}.rs")));
                    test_only.insert(dir.join(name));
                }
            }
        }
    }
    test_only
}

/// The text without line comments and without inline `#[cfg(test)] mod x
/// { ... }` blocks.
fn production_code(text: &str) -> String {
    let mut code: String = text
        .lines()
        .map(|l| match l.find("//") {
            Some(at) if !l[..at].contains('"') => &l[..at],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n");
    while let Some(at) = code.find("#[cfg(test)]") {
        let after = &code[at..];
        let Some(open) = after.find('{') else { break };
        let head = &after[..open];
        if !head.contains("mod ") || head.contains(';') {
            // A `#[cfg(test)]` on something else: drop just the attribute.
            code.replace_range(at..at + "#[cfg(test)]".len(), "");
            continue;
        }
        let mut depth = 0usize;
        let mut end = after.len();
        for (i, c) in after.char_indices().skip(open) {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = i + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        code.replace_range(at..at + end, "");
    }
    code
}

fn sources() -> Vec<Source> {
    let mut paths = Vec::new();
    rust_files(&src_dir(), &mut paths);
    let files: Vec<(PathBuf, String)> = paths
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (p, text)
        })
        .collect();
    let test_only = test_only_files(&files);
    files
        .into_iter()
        .filter(|(p, _)| !test_only.iter().any(|t| p == t || p.starts_with(t)))
        .map(|(p, text)| Source {
            rel: p.strip_prefix(src_dir()).unwrap().display().to_string(),
            lines: text.lines().count(),
            code: production_code(&text),
        })
        .collect()
}

fn top_module(rel: &str) -> &str {
    rel.split('/').next().unwrap().trim_end_matches(".rs")
}

/// The top-level modules each module's production code names.
fn uses() -> BTreeMap<String, BTreeMap<String, String>> {
    let mut uses: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for source in sources() {
        let from = top_module(&source.rel).to_string();
        let mut found = Vec::new();
        for (at, _) in source.code.match_indices("crate::") {
            let rest = &source.code[at + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                // `use crate::{a, b::c}`: every first segment.
                let group = &group[..group.find('}').unwrap_or(group.len())];
                found.extend(
                    group
                        .split(',')
                        .map(|item| item.trim().split("::").next().unwrap().to_string()),
                );
            } else {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                    .collect();
                found.push(name);
            }
        }
        for to in found.into_iter().filter(|to| !to.is_empty() && *to != from) {
            uses.entry(from.clone())
                .or_default()
                .entry(to)
                .or_insert(source.rel.clone());
        }
    }
    uses
}

#[test]
fn every_import_follows_the_documented_direction() {
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let mut wrong = Vec::new();
    for (from, targets) in uses() {
        if from == "cli" || from == "lib" || from == "main" {
            continue;
        }
        let Some(may) = allowed.get(from.as_str()) else {
            wrong.push(format!("`{from}` is not in the documented layering"));
            continue;
        };
        for (to, file) in targets {
            if !may.contains(&to.as_str()) {
                wrong.push(format!("{file}: `{from}` uses `{to}`"));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the direction:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_top_level_modules_have_no_cycle() {
    let graph = uses();
    // Depth-first search for a back edge.
    fn visit<'a>(
        node: &'a str,
        graph: &'a BTreeMap<String, BTreeMap<String, String>>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| *n == node) {
            let mut cycle: Vec<String> = path[at..].iter().map(|s| s.to_string()).collect();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if !done.insert(node) {
            return None;
        }
        path.push(node);
        for next in graph.get(node).into_iter().flat_map(|t| t.keys()) {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        if let Some(cycle) = visit(node, &graph, &mut Vec::new(), &mut done) {
            panic!("a cycle between top-level modules: {}", cycle.join(" -> "));
        }
    }
}

#[test]
fn only_workspace_fsx_touches_the_filesystem() {
    const TOUCHES: &[&str] = &[
        "std::fs::read",
        "std::fs::write",
        "std::fs::create",
        "std::fs::remove",
        "std::fs::rename",
        "std::fs::metadata",
        "std::fs::copy",
        "std::fs::set_permissions",
        "fs::read_dir",
        "File::open",
        "File::create",
        "File::options",
        "OpenOptions::new",
        ".is_file()",
        ".is_dir()",
        ".exists()",
        ".canonicalize()",
        "read_link(",
        "symlink_metadata(",
    ];
    let mut wrong = Vec::new();
    for source in sources() {
        if FILE_ACCESS.iter().any(|allowed| source.rel.starts_with(allowed)) {
            continue;
        }
        for touch in TOUCHES {
            if source.code.contains(touch) {
                wrong.push(format!("{}: `{touch}`", source.rel));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "file access outside workspace::fsx:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn no_source_file_is_over_500_lines() {
    let mut long: Vec<String> = sources()
        .into_iter()
        .filter(|s| s.lines > MAX_LINES)
        .map(|s| format!("{} ({} lines)", s.rel, s.lines))
        .collect();
    long.sort();
    assert!(
        long.is_empty(),
        "files over {MAX_LINES} lines:\n{}",
        long.join("\n")
    );
}

#[test]
fn the_direction_check_sees_an_import_against_it() {
    // The scanner itself: a production `use` is found, a test module's and
    // a comment's are not.
    let code = production_code(
        "use crate::cli::x;\n// crate::runtime::y\n#[cfg(test)]\nmod tests {\n    use crate::engine::z;\n}\n",
    );
    assert!(code.contains("crate::cli"));
    assert!(!code.contains("crate::runtime"));
    assert!(!code.contains("crate::engine"));
}
