//! The workspaces a server serves, each under a short key, and the shared
//! state of the server.
//!
//! Input: the workspace roots from the command line. Output: [`Site`]s
//! keyed by a safe id made from each root's directory name (`-2`, `-3`
//! for repeats), each with its event [`Tail`] and a broadcast channel for
//! the live stream; [`App`], the state every handler gets.
//!
//! Invariants: keys are safe ids ([`check_id`]) and unique; a key from a
//! URL is checked before it is looked up; the set of sites never changes
//! while serving; nothing here writes to a workspace.

use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{broadcast, watch};

use super::error::ServeError;
use super::tail::{Pushed, Tail};
use crate::model::ids::{check_id, is_safe_id};
use crate::workspace::Workspace;

/// Buffered live events per subscriber before a slow one skips ahead.
const LIVE_BUFFER: usize = 1024;

/// A message on a site's live stream.
#[derive(Clone, Debug)]
pub(crate) enum Live {
    Event(Arc<Pushed>),
    /// The log was replaced: clients refetch what they show.
    Reset(u64),
}

/// One served workspace.
#[derive(Debug)]
pub(crate) struct Site {
    pub key: String,
    pub ws: Workspace,
    pub tail: Mutex<Tail>,
    pub live: broadcast::Sender<Live>,
}

impl Site {
    /// The tail, even if a panicking reader poisoned it.
    pub(crate) fn tail(&self) -> MutexGuard<'_, Tail> {
        self.tail.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The server's state.
#[derive(Debug)]
pub(crate) struct App {
    pub sites: Vec<Arc<Site>>,
    /// The control token, when started with `--allow-control`.
    pub token: Option<String>,
    /// Every site's live messages, tagged with its key (one stream for a
    /// page that shows them all).
    pub all: broadcast::Sender<(Arc<str>, Live)>,
    /// Turns true when the server stops: open streams end, so a graceful
    /// shutdown does not wait for the browsers.
    pub stopping: watch::Receiver<bool>,
}

impl App {
    pub(crate) fn new(roots: Vec<Workspace>, token: Option<String>, stopping: watch::Receiver<bool>) -> Self {
        let mut sites: Vec<Arc<Site>> = Vec::new();
        for ws in roots {
            let base = key_of(&ws);
            let mut key = base.clone();
            let mut n = 2;
            while sites.iter().any(|s| s.key == key) {
                key = format!("{base}-{n}");
                n += 1;
            }
            let (live, _) = broadcast::channel(LIVE_BUFFER);
            sites.push(Arc::new(Site {
                key,
                ws,
                tail: Mutex::new(Tail::default()),
                live,
            }));
        }
        let (all, _) = broadcast::channel(LIVE_BUFFER);
        Self {
            sites,
            token,
            all,
            stopping,
        }
    }

    /// The site a URL names.
    pub(crate) fn site(&self, key: &str) -> Result<Arc<Site>, ServeError> {
        check_id("workspace key", key).map_err(|_| ServeError::UnknownWorkspace(shorten(key)))?;
        self.sites
            .iter()
            .find(|s| s.key == key)
            .cloned()
            .ok_or_else(|| ServeError::UnknownWorkspace(key.to_string()))
    }
}

/// A safe id from the root's last component (`ws` when none fits).
fn key_of(ws: &Workspace) -> String {
    let name = ws
        .root()
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect();
    let cleaned = cleaned.trim_start_matches(['-', '_']).to_string();
    if is_safe_id(&cleaned) {
        cleaned
    } else {
        "ws".into()
    }
}

/// A name from a URL, cut for an error message.
pub(crate) fn shorten(text: &str) -> String {
    text.chars().take(80).collect()
}
