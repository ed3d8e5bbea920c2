//! The server's view of the sources: open documents, the shipped loops as
//! the base layer, and the analysis of one document.
//!
//! Input: document texts from the client, workspace loop files from disk.
//! Output: an [`Analysis`] — the same sources, order of layers and
//! diagnostics as `millrace compile validate` gives for the file.
//!
//! Invariants:
//! - The shipped loops come first in every analysis, so their spans never
//!   move; they are parsed once and their trees reused on every keystroke.
//! - A document inside `millrace-agents/loops/` is checked with the other
//!   files of that directory (open ones as edited, the rest from disk), as
//!   the workspace compile does; any other document alone on the shipped
//!   loops.
//! - The shipped loops are written once, read-only, into a directory named
//!   after their content, so a client can open a definition in them.

use std::borrow::Cow;
use std::cell::OnceCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::index::{self, Index};
use super::text::{LineIndex, path_to_uri, uri_to_path};
use crate::diag::{Diagnostics, FileId, Layer, Sources};
use crate::syntax::ast::Ast;
use crate::workspace::fsx;

/// One open document.
#[derive(Clone, Debug)]
pub struct Doc {
    pub text: String,
    pub version: i32,
}

/// A shipped loop file.
struct Builtin {
    name: String,
    text: String,
    uri: String,
}

pub struct World {
    pub docs: HashMap<String, Doc>,
    builtin: Vec<Builtin>,
    builtin_asts: Vec<Ast>,
    builtin_dir: Option<PathBuf>,
}

/// Everything known about one document after a check.
pub struct Analysis {
    pub sources: Sources,
    pub asts: Vec<Ast>,
    /// Sorted by file and position, as `compile validate` prints them.
    pub diags: Diagnostics,
    pub index: Index,
    /// The URI of each file, by [`FileId`].
    pub uris: Vec<String>,
    /// The document the analysis was asked for.
    pub target: FileId,
    /// Line tables, built the first time a file's positions are asked for.
    lines: Vec<OnceCell<LineIndex>>,
}

impl Analysis {
    pub fn file_of_uri(&self, uri: &str) -> Option<FileId> {
        self.uris.iter().position(|u| u == uri).map(|i| FileId(i as u32))
    }

    /// The line table of one file of the analysis.
    pub fn line_index(&self, file: FileId) -> Cow<'_, LineIndex> {
        let build = || LineIndex::new(&self.sources.file(file).text);
        match self.lines.get(file.0 as usize) {
            Some(cell) => Cow::Borrowed(cell.get_or_init(build)),
            None => Cow::Owned(build()),
        }
    }

    pub fn is_builtin(&self, file: FileId) -> bool {
        self.sources.file(file).layer == Layer::Builtin
    }
}

impl World {
    /// The world with the shipped loops; `builtin_dir` is where their
    /// read-only copies go (a directory under the system's temporary one
    /// by default).
    pub fn new(builtin_dir: Option<PathBuf>) -> Self {
        let mut sources = Sources::new();
        crate::check::add_builtin_sources(&mut sources);
        let dir = builtin_dir.or_else(|| Some(default_builtin_dir(&sources)));
        let dir = dir.filter(|d| materialize(d, &sources).is_ok());
        let mut builtin = Vec::new();
        let mut builtin_asts = Vec::new();
        let mut diags = Diagnostics::new();
        for (id, file) in sources.files() {
            let rel = file.name.trim_start_matches("builtin:");
            let uri = match &dir {
                Some(d) => path_to_uri(&d.join(rel)),
                None => format!("millrace-builtin:///{rel}"),
            };
            builtin_asts.push(crate::syntax::parse_file(&sources, id, &mut diags));
            builtin.push(Builtin {
                name: file.name.clone(),
                text: file.text.to_string(),
                uri,
            });
        }
        World {
            docs: HashMap::new(),
            builtin,
            builtin_asts,
            builtin_dir: dir,
        }
    }

    /// Whether a URI is one of the shipped loops' read-only copies.
    pub fn is_builtin_uri(&self, uri: &str) -> bool {
        self.builtin.iter().any(|b| b.uri == uri)
    }

    /// Checks `uri` (open, or read from disk) with its layers.
    pub fn analyze(&self, uri: &str) -> Option<Analysis> {
        let mut sources = Sources::new();
        let mut uris = Vec::new();
        for b in &self.builtin {
            sources.add(b.name.as_str(), b.text.as_str(), Layer::Builtin);
            uris.push(b.uri.clone());
        }
        if self.is_builtin_uri(uri) {
            return Some(self.finish(sources, uris, uri));
        }
        for sibling in self.siblings(uri) {
            let text = self.text_of(&sibling)?;
            let name = display_name(&sibling);
            sources.add(name, text, Layer::Workspace);
            uris.push(sibling);
        }
        let text = self.text_of(uri)?;
        sources.add(display_name(uri), text, Layer::Workspace);
        uris.push(uri.to_string());
        Some(self.finish(sources, uris, uri))
    }

    fn finish(&self, sources: Sources, uris: Vec<String>, target: &str) -> Analysis {
        let mut diags = Diagnostics::new();
        let mut asts = self.builtin_asts.clone();
        for (id, _) in sources.files().skip(self.builtin.len()) {
            asts.push(crate::syntax::parse_file(&sources, id, &mut diags));
        }
        // As `check_sources` does: a syntax error stops before checking.
        if !diags.has_errors() {
            crate::check::check(&sources, &asts, &mut diags);
        }
        diags.sort();
        let index = index::build(&asts);
        let target = uris
            .iter()
            .position(|u| u == target)
            .map(|i| FileId(i as u32))
            .unwrap_or(FileId(0));
        let lines = uris.iter().map(|_| OnceCell::new()).collect();
        Analysis {
            sources,
            asts,
            diags,
            index,
            uris,
            target,
            lines,
        }
    }

    /// The text of a document: as open in the client, else from disk.
    pub fn text_of(&self, uri: &str) -> Option<String> {
        if let Some(doc) = self.docs.get(uri) {
            return Some(doc.text.clone());
        }
        if let Some(b) = self.builtin.iter().find(|b| b.uri == uri) {
            return Some(b.text.clone());
        }
        fsx::read_text(&uri_to_path(uri)?).ok()
    }

    /// The other `.mill` files of a workspace's `loops/` directory.
    fn siblings(&self, uri: &str) -> Vec<String> {
        let Some(path) = uri_to_path(uri) else {
            return Vec::new();
        };
        let Some(dir) = path.parent().filter(|d| is_workspace_loops(d)) else {
            return Vec::new();
        };
        let mut names: Vec<PathBuf> = fsx::list_names(dir)
            .unwrap_or_default()
            .into_iter()
            .map(|n| dir.join(n))
            .filter(|p| p.extension().is_some_and(|e| e == "mill") && p != &path)
            .filter(|p| {
                !p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            })
            .collect();
        names.sort();
        names.iter().map(|p| path_to_uri(p)).collect()
    }

    pub fn builtin_dir(&self) -> Option<&Path> {
        self.builtin_dir.as_deref()
    }
}

fn is_workspace_loops(dir: &Path) -> bool {
    dir.file_name().is_some_and(|n| n == "loops")
        && dir
            .parent()
            .and_then(|p| p.file_name())
            .is_some_and(|n| n == "millrace-agents")
}

/// A file's name in diagnostics: its path, or the URI when it has none.
fn display_name(uri: &str) -> String {
    uri_to_path(uri)
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| uri.to_string())
}

fn default_builtin_dir(sources: &Sources) -> PathBuf {
    let mut hash = Sha256::new();
    for (_, f) in sources.files() {
        hash.update(f.name.as_bytes());
        hash.update(f.text.as_bytes());
    }
    let digest = hash.finalize();
    let short: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    std::env::temp_dir().join(format!("millrace-builtin-{short}"))
}

/// Writes the shipped loops under `dir` (read-only), unless already there.
fn materialize(dir: &Path, sources: &Sources) -> Result<(), fsx::FsError> {
    for (_, f) in sources.files() {
        let path = dir.join(f.name.trim_start_matches("builtin:"));
        if fsx::read_optional(&path)
            .ok()
            .flatten()
            .is_some_and(|t| *t == *f.text)
        {
            continue;
        }
        // A read-only copy from an earlier build is replaced whole.
        let _ = fsx::remove_file(&path);
        fsx::write_atomic(&path, f.text.as_bytes())?;
        fsx::set_readonly(&path)?;
    }
    Ok(())
}
