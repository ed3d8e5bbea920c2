//! The filesystem-backed workspace: layout, config, work documents, queues
//! and durable runtime state.
//!
//! Input: an operator's repository (the workspace root) holding
//! `millrace-agents/`. Output: typed reads and atomic writes of everything
//! in it, for the CLI and the engine.
//!
//! Invariants:
//! - no other module touches workspace files; everything goes through the
//!   functions here (runner processes writing their own run directory are
//!   the one exception);
//! - every write is atomic ([`fsx::write_atomic`]), every queue transition a
//!   rename ([`fsx::move_file`]);
//! - identifiers are checked ([`ids::check_id`]) before they become paths;
//! - malformed input yields a coded diagnostic and loses nothing.

pub mod baseline;
pub mod closure;
pub mod document;
pub mod events;
pub(crate) mod fsx;
pub mod gates;
pub mod init;
pub mod journal;
pub(crate) mod layout;
pub mod lock;
pub mod mailbox;
pub mod markers;
pub mod plan_store;
pub(crate) mod problem;
pub(crate) mod promotion;
pub mod queue;
pub(crate) mod repair;
pub mod runs;
pub(crate) mod skills;
pub(crate) mod snapshot;
pub mod usage;

use std::path::{Path, PathBuf};

pub use layout::{AGENTS_DIR, CONFIG_FILE, MailboxBox, Paths};

/// Why a workspace cannot be used.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum WorkspaceError {
    /// The command needs `millrace-agents/millrace.toml`, which is missing.
    #[error("`{}` is not an initialized millrace workspace", root.display())]
    #[diagnostic(code(mill::workspace::not_initialized), help("{help}"))]
    NotInitialized { root: PathBuf, help: String },

    /// The current directory cannot be determined.
    #[error("cannot determine the current directory: {0}")]
    #[diagnostic(
        code(mill::workspace::no_current_dir),
        help("pass `--workspace <path>` explicitly")
    )]
    NoCurrentDir(std::io::Error),
}

/// One workspace: its root and the paths under it.
#[derive(Clone, Debug)]
pub struct Workspace {
    paths: Paths,
    /// Queue indexes kept in memory between reads, shared by clones; only
    /// a long-lived process (the runtime) asks for it.
    held: Option<std::sync::Arc<queue::HeldIndexes>>,
}

impl Workspace {
    /// The workspace rooted at `root` (made absolute against the current
    /// directory, without resolving symlinks).
    pub fn at(root: &Path) -> Result<Self, WorkspaceError> {
        let root = if root.is_absolute() {
            root.to_path_buf()
        } else {
            std::env::current_dir()
                .map_err(WorkspaceError::NoCurrentDir)?
                .join(root)
        };
        Ok(Self {
            paths: Paths::new(normalize(&root)),
            held: None,
        })
    }

    /// The same workspace, keeping its queue indexes in memory from now on
    /// (a process that refreshes them every tick would otherwise re-read
    /// each index file every time). Nothing changes about when an index is
    /// trusted; only where a trusted one is read from.
    pub fn holding_indexes(mut self) -> Self {
        if self.held.is_none() {
            self.held = Some(std::sync::Arc::default());
        }
        self
    }

    pub(crate) fn held_indexes(&self) -> Option<&queue::HeldIndexes> {
        self.held.as_deref()
    }

    /// The same workspace, reading its configuration from `config` (made
    /// absolute against the current directory) instead of `millrace.toml`.
    pub fn with_config(mut self, config: &Path) -> Result<Self, WorkspaceError> {
        let path = if config.is_absolute() {
            config.to_path_buf()
        } else {
            std::env::current_dir()
                .map_err(WorkspaceError::NoCurrentDir)?
                .join(config)
        };
        self.paths = self.paths.with_config(normalize(&path));
        Ok(self)
    }

    /// Finds the workspace: `explicit` if given, else the nearest ancestor of
    /// the current directory holding `millrace-agents/millrace.toml`, else the
    /// current directory. Does not require it to be initialized.
    pub fn locate(explicit: Option<&Path>) -> Result<Self, WorkspaceError> {
        if let Some(root) = explicit {
            return Self::at(root);
        }
        let cwd = std::env::current_dir().map_err(WorkspaceError::NoCurrentDir)?;
        let found = cwd
            .ancestors()
            .find(|dir| fsx::is_file(&dir.join(AGENTS_DIR).join(CONFIG_FILE)))
            .unwrap_or(&cwd);
        Self::at(found)
    }

    /// [`Workspace::locate`], then [`Workspace::require_initialized`].
    pub fn open(explicit: Option<&Path>) -> Result<Self, WorkspaceError> {
        Self::locate(explicit)?.require_initialized()
    }

    /// Whether `init` has run here (the config file and state directory exist).
    pub fn is_initialized(&self) -> bool {
        fsx::is_file(&self.paths.config()) && fsx::is_dir(&self.paths.state_dir())
    }

    /// Fails with `mill::workspace::not_initialized` unless initialized.
    pub fn require_initialized(self) -> Result<Self, WorkspaceError> {
        if self.is_initialized() {
            return Ok(self);
        }
        let root = self.paths.root().to_path_buf();
        let help = format!(
            "run `millrace init --workspace {}` first, or pass `--workspace` to point at an existing workspace",
            root.display()
        );
        Err(WorkspaceError::NotInitialized { root, help })
    }

    pub fn paths(&self) -> &Paths {
        &self.paths
    }

    pub fn root(&self) -> &Path {
        self.paths.root()
    }

    pub fn agents(&self) -> &Path {
        self.paths.agents()
    }

    /// `path` relative to the workspace root, as records name files (a
    /// harness reports canonical paths, so the canonical root is tried too).
    pub fn relative(&self, path: &Path) -> String {
        let root = self.root();
        let canonical = fsx::canonical(root);
        let rel = path
            .strip_prefix(root)
            .ok()
            .or_else(|| canonical.as_deref().and_then(|c| path.strip_prefix(c).ok()))
            .unwrap_or(path);
        rel.display().to_string()
    }
}

/// The workspace's own `.mill` sources (`millrace-agents/loops/*.mill`,
/// dot-files skipped), sorted by name, with their text.
pub fn loop_sources(ws: &Workspace) -> Result<Vec<(String, String)>, fsx::FsError> {
    let dir = ws.paths().loops_dir();
    let mut names: Vec<String> = fsx::list_names(&dir)?
        .into_iter()
        .filter(|n| n.ends_with(".mill") && !n.starts_with('.'))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| Ok((name.clone(), fsx::read_text(&dir.join(&name))?)))
        .collect()
}

/// Removes `.` components and folds `..` lexically, so printed roots are
/// clean (`/a/b/../c` → `/a/c`) without touching the filesystem.
fn normalize(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}
