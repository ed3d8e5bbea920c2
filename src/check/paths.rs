//! Rules for the relative paths `.mill` files name (entrypoints, skills).

use super::CheckError;
use crate::diag::Diagnostics;
use crate::syntax::ast::Str;

/// Checks that `path` is a plain relative path inside `dir/` ending in
/// `ext`; reports `mill::check::invalid_path` otherwise.
pub(super) fn check_path(path: &Str, dir: &str, ext: &str, diags: &mut Diagnostics) -> bool {
    let Err(reason) = path_problem(&path.value, dir, ext) else {
        return true;
    };
    let example = format!("{dir}/<...>{ext}");
    diags.push(CheckError::InvalidPath {
        path: path.value.clone(),
        reason: reason.to_string(),
        span: path.span.into(),
        help: Some(format!(
            "use a relative path under `millrace-agents/`, such as `{example}`"
        )),
    });
    false
}

fn path_problem(path: &str, dir: &str, ext: &str) -> Result<(), &'static str> {
    if path.is_empty() {
        return Err("is empty");
    }
    if path.starts_with('/') || path.starts_with('\\') || path.contains(':') {
        return Err("is absolute");
    }
    if path.contains('\\') {
        return Err("uses `\\`; separate parts with `/`");
    }
    if path.split('/').any(|part| part == "..") {
        return Err("escapes with `..`");
    }
    if path.split('/').any(|part| part.is_empty() || part == ".") {
        return Err("has an empty or `.` part");
    }
    if !path.starts_with(&format!("{dir}/")) {
        return Err(if dir == "entrypoints" {
            "is outside `entrypoints/`"
        } else {
            "is outside `skills/`"
        });
    }
    if !path.ends_with(ext) {
        return Err("does not name a markdown file (`.md`)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::path_problem;

    #[test]
    fn accepts_plain_paths_only() {
        assert!(path_problem("entrypoints/execution/builder.md", "entrypoints", ".md").is_ok());
        assert!(path_problem("/etc/passwd", "entrypoints", ".md").is_err());
        assert!(path_problem("entrypoints/../state/x.md", "entrypoints", ".md").is_err());
        assert!(path_problem("skills/x/SKILL.md", "entrypoints", ".md").is_err());
        assert!(path_problem("entrypoints/./x.md", "entrypoints", ".md").is_err());
        assert!(path_problem("entrypoints/x.txt", "entrypoints", ".md").is_err());
    }
}
