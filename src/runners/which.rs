//! Finding a harness binary the way `execvp` would, before spawning it.
//!
//! Input: a configured command (a bare name or a path) and a base directory
//! for relative paths. Output: the executable file, if any. Invariant:
//! nothing is executed.

use std::ffi::OsStr;

use std::path::{Path, PathBuf};

use crate::workspace::fsx;

/// The executable `command` names: a path (it has a `/`) is taken as is,
/// relative to `base`; a bare name is searched on `path_var`.
pub(crate) fn resolve(command: &str, base: &Path, path_var: Option<&OsStr>) -> Option<PathBuf> {
    if command.is_empty() {
        return None;
    }
    if command.contains('/') {
        let candidate = base.join(command);
        return fsx::is_executable(&candidate).then_some(candidate);
    }
    let path_var = path_var?;
    std::env::split_paths(path_var)
        .map(|dir| dir.join(command))
        .find(|candidate| fsx::is_executable(candidate))
}

/// `resolve` with the current process's `PATH` (and `env` overriding it).
pub(crate) fn resolve_with_env(
    command: &str,
    base: &Path,
    env: &std::collections::BTreeMap<String, String>,
) -> Option<PathBuf> {
    match env.get("PATH") {
        Some(path) => resolve(command, base, Some(OsStr::new(path))),
        None => resolve(command, base, std::env::var_os("PATH").as_deref()),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn finds_on_path_and_by_path() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("tool");
        std::fs::write(&bin, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = std::env::join_paths([dir.path()]).unwrap();
        assert_eq!(resolve("tool", Path::new("/"), Some(&path)), Some(bin.clone()));
        assert_eq!(
            resolve("./tool", dir.path(), None),
            Some(dir.path().join("./tool"))
        );
        assert_eq!(resolve("absent", Path::new("/"), Some(&path)), None);
    }

    #[test]
    fn not_executable_is_not_found() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("plain");
        std::fs::write(&file, "x").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let path = std::env::join_paths([dir.path()]).unwrap();
        assert_eq!(resolve("plain", Path::new("/"), Some(&path)), None);
    }
}
