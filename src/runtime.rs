//! The runtime around the pure engine: it owns the workspace for a while,
//! turns the world into inputs, applies effects, and runs stages.
//!
//! Input: an initialized [`Workspace`], a loaded [`Plan`] (compiled by the
//! caller: the engine never compiles), [`Rules`] and a [`StageRunner`].
//! Output: work done in the workspace, runtime events, monitor lines.
//!
//! Invariants:
//! - one owner per workspace: the lock is held from `open` to `close`, and
//!   a dead owner's lock on this host is taken over (and logged);
//! - every state-changing transition is committed as: a journal record
//!   (flushed: the commit point), durable effects, the snapshot, then
//!   actions; a crash anywhere is repaired at the next `open` by applying
//!   the last record again when the snapshot is not the one it holds
//!   (effects are idempotent);
//! - a stage starts only after its pending request is persisted, and its
//!   result is written to the run directory before it is routed, so a crash
//!   either re-runs the stage at the same node or routes the saved result.

mod apply;
mod attention;
mod commit;
mod dispatch;
pub(crate) mod doctor;
mod gates;
mod govern;
mod harness;
mod intake;
mod monitor;
mod observe;
mod recover;
mod run;
mod setup;
pub(crate) mod status;
mod wake;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::rc::Rc;

use jiff::Timestamp;
use tokio::sync::mpsc;

pub use attention::{Attention, attention, lineage_attention, needs_operator};
pub use dispatch::{Completion, Missing, StageRunner};
pub use harness::Harnesses;

pub(crate) use monitor::line as monitor_line;
pub use monitor::{Monitor, run_handle};
pub use run::{RunOptions, RunSummary};
pub use setup::{
    DispatchSettings, Reload, Reloader, compile_failure, dispatch_settings, event_loop, harnesses, reloader,
    rules,
};

use crate::engine::{Input, Rules, step};
use crate::governance::Governor;
use crate::model::{Event, Snapshot, StageRunRequest, ids};
use crate::plan::{Plan, Plane};
use crate::workspace::events::EventLog;
use crate::workspace::{Workspace, lock};

/// Why the runtime cannot start or go on.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum RuntimeError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Lock(#[from] lock::LockError),

    #[error(transparent)]
    #[diagnostic(transparent)]
    Snapshot(#[from] crate::workspace::snapshot::SnapshotError),

    #[error(transparent)]
    #[diagnostic(transparent)]
    Journal(#[from] crate::workspace::journal::JournalError),

    #[error(transparent)]
    #[diagnostic(transparent)]
    Events(#[from] crate::workspace::events::EventError),

    /// A state file could not be written; the runtime stops rather than run
    /// on state it cannot persist.
    #[error("cannot persist runtime state: {detail}")]
    #[diagnostic(
        code(mill::engine::persist_failed),
        help("check free disk space and permissions under `millrace-agents/` (`state/`, `runs/`)")
    )]
    Persist { detail: String },

    /// `millrace-agents/` was removed or replaced under the running
    /// runtime: carrying on would rebuild a partial tree and run harnesses
    /// against work that is gone.
    #[error("the workspace directory `{}` was removed or replaced while the runtime ran", path.display())]
    #[diagnostic(
        code(mill::engine::workspace_gone),
        help(
            "running stages were stopped; restore the directory (or `millrace init` a new workspace) and start again"
        )
    )]
    WorkspaceGone { path: PathBuf },

    /// The tokio runtime or signal handling could not start.
    #[error("cannot start the runtime's event loop: {detail}")]
    #[diagnostic(
        code(mill::engine::event_loop),
        help("this is an environment problem; retry, and report it if it persists")
    )]
    EventLoop { detail: String },
}

/// A stage running in this process.
struct Running {
    request: StageRunRequest,
    cancel: crate::runners::CancelTrigger,
}

/// The runtime of one process.
pub struct Runtime {
    ws: Workspace,
    plan: Plan,
    rules: Rules,
    state: Snapshot,
    events: EventLog,
    session: String,
    monitor: Monitor,
    runner: Rc<dyn StageRunner>,
    running: BTreeMap<Plane, Running>,
    completions: (
        mpsc::UnboundedSender<Completion>,
        mpsc::UnboundedReceiver<Completion>,
    ),
    /// Extra `millrace.toml` facts dispatch needs.
    settings: DispatchSettings,
    exit: bool,
    /// Stages finished by this process, in order (for summaries).
    finished: Vec<String>,
    /// The ideas inbox's mtime at the last scan.
    ideas_seen: Option<std::time::SystemTime>,
    /// A `reload_config` command arrived.
    reload_requested: bool,
    /// A compiled reload waiting for active runs to leave nodes it lacks.
    deferred_reload: Option<Reload>,
    /// The deferral was logged (once per request).
    reload_deferral_said: bool,
    /// Monitor-style lines of the events emitted (for direct commands).
    said: Vec<String>,
    /// Recompiles the plan for `reload_config` (set by the daemon's caller).
    reloader: Option<Reloader>,
    /// Usage governance: the ledger, the rules, the state file.
    governor: Governor,
    /// The inode of `millrace-agents/` when ownership was taken: another
    /// one (or none) means the workspace went away under the runtime.
    agents_inode: Option<u64>,
}

/// What a command applied with no daemon did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ControlReport {
    /// False when the command changed nothing it was meant to (a resume
    /// that usage governance still blocks).
    pub applied: bool,
    /// What happened, in monitor words.
    pub detail: String,
}

impl Runtime {
    /// Takes ownership of the workspace and brings its state up to date:
    /// replays an interrupted transition, routes results left on disk by a
    /// dead process, marks stages it never finished as interrupted, and
    /// returns orphaned claims to their queues.
    pub fn open(
        ws: Workspace,
        plan: Plan,
        rules: Rules,
        runner: Rc<dyn StageRunner>,
        settings: DispatchSettings,
        monitor: Monitor,
    ) -> Result<Self, RuntimeError> {
        let mut rt = Self::acquire(ws, plan, rules, runner, settings, monitor)?;
        let settled = rt.recover_pending().and_then(|()| {
            let (now, session, mode) = (Timestamp::now(), rt.session.clone(), rt.settings.mode);
            rt.commit(Input::Boot { now, session, mode })?;
            rt.return_orphans()
        });
        rt.or_release(settled)?;
        rt.warn_stranded_learning();
        Ok(rt)
    }

    /// Gives the lock back when starting failed, so a refused start never
    /// leaves a stale lock behind.
    fn or_release<T>(&self, result: Result<T, RuntimeError>) -> Result<T, RuntimeError> {
        if result.is_err() {
            let _ = lock::release(&self.ws, &self.session);
        }
        result
    }

    /// Takes the lock and settles a transition a crashed process left half
    /// applied.
    fn acquire(
        ws: Workspace,
        plan: Plan,
        rules: Rules,
        runner: Rc<dyn StageRunner>,
        settings: DispatchSettings,
        monitor: Monitor,
    ) -> Result<Self, RuntimeError> {
        // The runtime looks at its queues every tick: keep their indexes
        // in memory rather than re-reading them from disk each time.
        let ws = ws.holding_indexes();
        let session = ids::new_session_id();
        let acquired = lock::acquire(&ws, &session).map_err(|e| match e {
            // The ownership record could not be written: a state write.
            lock::LockError::Fs(e) => RuntimeError::Persist {
                detail: e.to_string(),
            },
            other => other.into(),
        })?;
        let loaded = EventLog::open(&ws)
            .map_err(RuntimeError::from)
            .and_then(|events| Ok((events, commit::load_state(&ws)?)));
        let (events, state) = match loaded {
            Ok(loaded) => loaded,
            Err(e) => {
                let _ = lock::release(&ws, &session);
                return Err(e);
            }
        };
        let governor = Governor::new(&ws, settings.governance.clone());
        let mut rt = Runtime {
            ws,
            plan,
            rules,
            state,
            events,
            session,
            monitor,
            runner,
            running: BTreeMap::new(),
            completions: mpsc::unbounded_channel(),
            settings,
            exit: false,
            finished: Vec::new(),
            ideas_seen: None,
            reload_requested: false,
            deferred_reload: None,
            reload_deferral_said: false,
            said: Vec::new(),
            reloader: None,
            governor,
            agents_inode: None,
        };
        rt.agents_inode = crate::workspace::fsx::stat(rt.ws.agents()).map(|s| s.inode);
        if let Some(dead) = acquired.takeover {
            rt.emit(Event::LockTakenOver {
                pid: dead.owner_pid,
                host: dead.owner_hostname,
                session: dead.owner_session_id,
            });
        }
        // Under the lock: temporary files a killed writer left behind.
        let run_dirs: Vec<PathBuf> = rt
            .state
            .active_runs
            .values()
            .map(|r| rt.ws.paths().run_dir(&r.run_id))
            .collect();
        let swept = crate::workspace::repair::sweep_temp_files(&rt.ws, &run_dirs);
        if swept > 0 {
            tracing::info!(removed = swept, "removed temporary files left by killed writers");
        }
        let replayed = rt.replay_journal();
        rt.or_release(replayed)?;
        Ok(rt)
    }

    /// Applies one operator command with no daemon running: lock, settle,
    /// commit, unlock. A resume also evaluates usage governance at once: it
    /// lifts the operator's pause only, and says so when governance keeps
    /// the runtime paused.
    pub fn control(
        ws: Workspace,
        plan: Plan,
        rules: Rules,
        runner: Rc<dyn StageRunner>,
        settings: DispatchSettings,
        monitor: Monitor,
        command: crate::engine::Control,
    ) -> Result<ControlReport, RuntimeError> {
        let mut rt = Self::acquire(ws, plan, rules, runner, settings, monitor)?;
        rt.said.clear();
        let resume = command == crate::engine::Control::Resume;
        let clearing = matches!(command, crate::engine::Control::ClearStaleState { .. });
        let now = Timestamp::now();
        let applied = rt.recover_pending().and_then(|()| {
            let before = rt.state.clone();
            rt.commit(Input::Control { now, command })?;
            // Applied means something changed (pausing a paused runtime
            // does not); the tick counter and clock always move, so they
            // don't count.
            let mut after = rt.state.clone();
            after.tick = before.tick;
            after.updated_at = before.updated_at;
            let mut applied = after != before;
            if clearing {
                // Items in `active/` no run knows (a lost snapshot, a crash
                // between claim and record) go back to their queues too.
                let said = rt.said.len();
                rt.return_orphans()?;
                applied |= rt.said.len() > said;
            }
            if resume {
                rt.govern(now)?;
                if rt.governance_paused() {
                    applied = false;
                    rt.said.push("runtime resume blocked by usage governance".into());
                }
            }
            Ok(applied)
        });
        let applied = rt.or_release(applied)?;
        lock::release(&rt.ws, &rt.session)?;
        let detail = rt.said.join("; ");
        let detail = if detail.is_empty() {
            "nothing to do".into()
        } else {
            detail
        };
        Ok(ControlReport { applied, detail })
    }

    /// Gives up ownership; active runs stay where they are and resume at the
    /// next start.
    pub fn close(mut self) -> Result<Vec<String>, RuntimeError> {
        for running in self.running.values() {
            running.cancel.cancel();
        }
        // Nothing to give back in a workspace that went away: writing the
        // snapshot and the event would only rebuild part of its tree.
        if !self.workspace_intact() {
            return Ok(std::mem::take(&mut self.finished));
        }
        self.commit(Input::Shutdown {
            now: Timestamp::now(),
        })?;
        lock::release(&self.ws, &self.session)?;
        Ok(std::mem::take(&mut self.finished))
    }

    /// Whether `millrace-agents/` is still the directory ownership was
    /// taken in.
    fn workspace_intact(&self) -> bool {
        let now = crate::workspace::fsx::stat(self.ws.agents()).map(|s| s.inode);
        now.is_some() && now == self.agents_inode
    }

    /// Lets `reload_config` rebuild the plan and settings.
    pub fn set_reloader(&mut self, reloader: Reloader) {
        self.reloader = Some(reloader);
    }

    pub fn state(&self) -> &Snapshot {
        &self.state
    }

    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// Appends a runtime event and writes its monitor line.
    fn emit(&mut self, event: Event) {
        if let Some(line) = monitor::line(Timestamp::now(), &event) {
            self.monitor.write(&line);
            let words = line.split_once("] ").map(|(_, w)| w).unwrap_or(&line);
            self.said.push(words.to_string());
        }
        let (kind, data) = event.parts();
        // Every runtime decision (claim, route, pause, recovery) is an event.
        tracing::info!(target: "millrace::runtime::event", event = %kind, data = %data);
        // The event log is diagnostic: a failed append must not stop work.
        let _ = self.events.append(&kind, data);
    }

    /// A path as the engine records it: relative to the workspace root.
    fn relative(&self, path: &std::path::Path) -> String {
        self.ws.relative(path)
    }

    /// The absolute path of a workspace-relative one.
    fn absolute(&self, relative: &str) -> PathBuf {
        self.ws.root().join(relative)
    }

    /// Runs the pure step against the current state without applying it
    /// (for tests and inspection).
    pub fn preview(&self, input: Input) -> (Snapshot, Vec<crate::engine::Effect>) {
        step(&self.plan, &self.rules, &self.state, input)
    }
}
