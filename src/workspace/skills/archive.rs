//! Skill archives: plain tar, read and written in memory.
//!
//! Input: the bytes of an archive (read through `fsx`), or a skill's files.
//! Output: the files as `(relative path, bytes)` pairs, or the bytes of a
//! new archive. Invariants: no entry reaches the filesystem from here; an
//! absolute path or a `..` component is refused, as is any entry that is
//! not a regular file or a directory (links, devices); a written archive
//! depends only on the files (no times, owners or modes of this machine).

use std::io::Read;
use std::path::{Component, Path};

use super::share::{MAX_BYTES, MAX_FILES, ShareError};

/// The regular files of a tar archive, `/`-separated, in archive order.
pub(super) fn read(bytes: &[u8]) -> Result<Vec<(String, Vec<u8>)>, ShareError> {
    let bad = |e: std::io::Error| ShareError::BadArchive(e.to_string());
    let mut archive = tar::Archive::new(bytes);
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut total = 0u64;
    for entry in archive.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        let kind = entry.header().entry_type();
        let raw = entry.path().map_err(bad)?.into_owned();
        let Some(path) = relative(&raw)? else {
            continue;
        };
        match kind {
            tar::EntryType::Directory => continue,
            tar::EntryType::XGlobalHeader | tar::EntryType::XHeader => continue,
            tar::EntryType::Regular | tar::EntryType::Continuous => {}
            other => {
                return Err(ShareError::UnsupportedEntry {
                    path,
                    kind: format!("a tar entry of type {}", format!("{other:?}").to_lowercase()),
                });
            }
        }
        total += entry.header().size().map_err(bad)?;
        if files.len() >= MAX_FILES || total > MAX_BYTES {
            return Err(ShareError::TooLarge);
        }
        if files.iter().any(|(p, _)| *p == path) {
            return Err(ShareError::BadArchive(format!("`{path}` appears twice")));
        }
        let mut content = Vec::new();
        entry.read_to_end(&mut content).map_err(bad)?;
        files.push((path, content));
    }
    Ok(files)
}

/// An entry's path as a relative `/`-separated path; `None` for the
/// archive's root (`./`). Refuses absolute paths and `..`.
fn relative(raw: &Path) -> Result<Option<String>, ShareError> {
    let mut parts = Vec::new();
    for component in raw.components() {
        match component {
            Component::CurDir => {}
            Component::Normal(part) => match part.to_str() {
                Some(part) => parts.push(part),
                None => return Err(unsafe_path(raw)),
            },
            Component::RootDir | Component::Prefix(_) | Component::ParentDir => {
                return Err(unsafe_path(raw));
            }
        }
    }
    Ok((!parts.is_empty()).then(|| parts.join("/")))
}

fn unsafe_path(raw: &Path) -> ShareError {
    ShareError::UnsafePath(raw.to_string_lossy().into_owned())
}

/// A tar archive holding `files` under the directory `top`.
pub(super) fn write(top: &str, files: &[(String, Vec<u8>)]) -> Result<Vec<u8>, ShareError> {
    let bad = |e: std::io::Error| ShareError::BadArchive(e.to_string());
    let mut builder = tar::Builder::new(Vec::new());
    for (rel, bytes) in files {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        builder
            .append_data(&mut header, format!("{top}/{rel}"), bytes.as_slice())
            .map_err(bad)?;
    }
    builder.into_inner().map_err(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_archive_reads_back_what_was_written() {
        let files = vec![
            ("SKILL.md".to_string(), b"---\nid: x\n---\n".to_vec()),
            (
                "references/a-long-directory-name/".repeat(3) + "notes.md",
                b"n".to_vec(),
            ),
        ];
        let bytes = write("x", &files).unwrap();
        let back = read(&bytes).unwrap();
        let expected: Vec<(String, Vec<u8>)> =
            files.iter().map(|(p, b)| (format!("x/{p}"), b.clone())).collect();
        assert_eq!(back, expected);
        assert_eq!(write("x", &files).unwrap(), bytes, "the archive is deterministic");
    }

    #[test]
    fn parent_and_absolute_paths_are_refused() {
        assert!(matches!(
            relative(Path::new("a/../b")),
            Err(ShareError::UnsafePath(_))
        ));
        assert!(matches!(
            relative(Path::new("/etc/passwd")),
            Err(ShareError::UnsafePath(_))
        ));
        assert_eq!(relative(Path::new("./a/b")).unwrap().as_deref(), Some("a/b"));
        assert_eq!(relative(Path::new("./")).unwrap(), None);
    }
}
