//! Waking the daemon when what it reads changes, instead of at its next
//! poll: the mailbox's incoming box, every intake queue and the ideas inbox
//! are watched with inotify.
//!
//! Input: the workspace's directories. Output: a future that completes
//! when one of them changes (a file created, moved in or out, written,
//! removed) or when `millrace-agents/` itself goes away.
//!
//! Invariants: the poll stays the source of truth. Where inotify is not
//! available (another OS, a filesystem without it, no watches left) a
//! directory is simply not watched and the daemon finds its changes at the
//! next poll; a wake-up only ever brings a turn forward, so a spurious one
//! costs one idle tick and a missed one the poll interval.

#[cfg(target_os = "linux")]
pub(super) use watched::Wake;

/// Elsewhere the daemon polls only.
#[cfg(not(target_os = "linux"))]
pub(super) struct Wake;

#[cfg(not(target_os = "linux"))]
impl Wake {
    pub(super) fn new(_: &crate::workspace::Workspace) -> Self {
        Wake
    }

    pub(super) fn watching(&self) -> bool {
        false
    }

    pub(super) async fn changed(&mut self) {
        std::future::pending().await
    }
}

#[cfg(target_os = "linux")]
mod watched {
    use std::path::PathBuf;

    use inotify::{Inotify, WatchMask};
    use tokio::io::unix::AsyncFd;

    use crate::model::QueueState;
    use crate::plan::WorkItemKind;
    use crate::workspace::{MailboxBox, Workspace};

    /// The watched directories' inotify instance, if one could be made.
    pub(crate) struct Wake {
        fd: Option<AsyncFd<Inotify>>,
        buffer: Vec<u8>,
    }

    /// Changes to entries of a watched directory, and the directory itself
    /// going away.
    fn mask() -> WatchMask {
        WatchMask::CREATE
            | WatchMask::MOVED_TO
            | WatchMask::MOVED_FROM
            | WatchMask::CLOSE_WRITE
            | WatchMask::DELETE
            | WatchMask::DELETE_SELF
            | WatchMask::MOVE_SELF
    }

    impl Wake {
        /// Watches what the daemon's turn reads, as far as it can.
        pub(crate) fn new(ws: &Workspace) -> Self {
            let fd = Inotify::init().ok().and_then(|inotify| {
                let added = dirs(ws)
                    .iter()
                    .filter(|dir| inotify.watches().add(dir, mask()).is_ok())
                    .count();
                // `AsyncFd::new` is deprecated because it accepts any raw
                // descriptor, owned or not; an `Inotify` owns its
                // descriptor and closes it only when dropped, after the
                // registration is gone, which is the case it is sound for.
                #[allow(deprecated)]
                let fd = (added > 0).then(|| AsyncFd::new(inotify).ok()).flatten();
                fd
            });
            Wake {
                fd,
                buffer: vec![0; 4096],
            }
        }

        /// Whether any directory is watched.
        pub(crate) fn watching(&self) -> bool {
            self.fd.is_some()
        }

        /// Completes at the next change, with every change pending by then
        /// read (one wake-up for a burst); never, when nothing is watched.
        pub(crate) async fn changed(&mut self) {
            let Some(fd) = self.fd.as_mut() else {
                return std::future::pending().await;
            };
            loop {
                let Ok(mut ready) = fd.readable_mut().await else {
                    return std::future::pending().await;
                };
                let mut woke = false;
                loop {
                    match ready.get_inner_mut().read_events(&mut self.buffer) {
                        Ok(events) => woke |= events.count() > 0,
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                            ready.clear_ready();
                            break;
                        }
                        // An instance that cannot be read is given up on: the
                        // poll carries on alone.
                        Err(_) => {
                            self.fd = None;
                            return std::future::pending().await;
                        }
                    }
                }
                if woke {
                    return;
                }
            }
        }
    }

    /// The directories a daemon's turn reads for new work and commands.
    fn dirs(ws: &Workspace) -> Vec<PathBuf> {
        let paths = ws.paths();
        let mut dirs = vec![
            ws.agents().to_path_buf(),
            paths.mailbox(MailboxBox::Incoming),
            paths.ideas_inbox(),
        ];
        dirs.extend(
            WorkItemKind::ALL
                .iter()
                .map(|kind| paths.queue_dir(*kind, QueueState::Queued)),
        );
        dirs
    }
}
