//! The run loops: `run once` (one stage) and the daemon (until stopped).

use jiff::Timestamp;
use tokio::signal::unix::{SignalKind, signal};

use super::{Runtime, RuntimeError};
use crate::engine::{Control, Input};
use crate::model::Event;

/// How often `run once` looks at the mailbox while its stage runs.
const MAILBOX_POLL: std::time::Duration = std::time::Duration::from_millis(100);

/// How long to run.
#[derive(Clone, Copy, Debug, Default)]
pub struct RunOptions {
    /// Stop after this many ticks (then finish what runs, start nothing).
    pub max_ticks: Option<u64>,
    /// Stop as soon as nothing runs and nothing is claimable.
    pub until_idle: bool,
}

/// What a run did.
#[derive(Clone, Debug, Default)]
pub struct RunSummary {
    pub ticks: u64,
    /// `plane/node OUTCOME` per finished stage, in order.
    pub stages: Vec<String>,
    /// Why the loop ended: `idle`, `stopped`, `max_ticks`, `one_stage`,
    /// `gate_waiting` (`run once` found or left a run at a gate),
    /// `needs_operator`.
    pub ended: String,
    /// What an operator must fix before anything moves (the run exits
    /// non-zero when set).
    pub attention: Option<super::Attention>,
}

impl Runtime {
    /// Claims or continues one item and runs exactly one stage of it (a
    /// stage on another lane that starts at the same time runs too).
    /// While it runs, the mailbox and signals are still answered: the
    /// first SIGTERM or SIGINT lets the stage finish, a second (or `stop
    /// --now`) kills it; commands that arrive meanwhile are applied before
    /// the process lets go, never left for the next one.
    pub async fn run_once(&mut self) -> Result<RunSummary, RuntimeError> {
        let mut signals = Signals::new()?;
        self.intake()?;
        self.tick()?;
        let gate = self.state.active_runs.keys().any(|p| self.waits_at_gate(*p));
        let ended = match (self.running.is_empty(), gate) {
            (false, _) => "one_stage",
            // A run reached (or still waits at) a gate: nothing runs
            // until it is decided.
            (true, true) => "gate_waiting",
            (true, false) => "idle",
        };
        self.await_stage(&mut signals).await?;
        self.drain_mailbox()?;
        // A stage whose harness failed or never started did not complete:
        // say why, and let the exit status say so too.
        // An operator who stopped the run already knows.
        let stopped = self.exit || self.state.stop_requested;
        let attention = super::needs_operator(&self.state)
            .or_else(|| (ended == "idle").then(|| self.stuck_lineage()).flatten())
            .filter(|_| !stopped);
        let ended = if attention.is_some() {
            "needs_operator"
        } else {
            ended
        };
        Ok(RunSummary {
            ticks: 1,
            stages: self.finished.clone(),
            ended: ended.into(),
            attention,
        })
    }

    /// Runs until a stop drains (command, mailbox or signal) or `max_ticks`.
    /// SIGTERM, SIGINT, SIGHUP and SIGQUIT act as `stop`; a second one as
    /// `stop --now`.
    pub async fn run_daemon(&mut self, options: RunOptions) -> Result<RunSummary, RuntimeError> {
        let mut signals = Signals::new()?;
        let mut wake = super::wake::Wake::new(&self.ws);
        tracing::debug!(watching = wake.watching(), "wake-ups on changes");
        let (mut ticks, mut idle) = (0u64, false);
        let mut stuck = None;
        let ended = loop {
            self.check_workspace().await?;
            self.intake()?;
            if self.reload_requested && self.running.is_empty() {
                self.reload()?;
            }
            let before = self.state.tick;
            self.tick()?;
            ticks += 1;
            if self.exit {
                break "stopped";
            }
            let quiet = self.running.is_empty() && self.state.active_runs.is_empty();
            if quiet && options.until_idle {
                // Idle because a blocked lineage holds everything back is
                // not done: say so, and what frees it.
                stuck = self.stuck_lineage();
                break if stuck.is_some() { "needs_operator" } else { "idle" };
            }
            // Nothing will move until an operator acts: waiting for idle
            // would wait for ever.
            if options.until_idle && self.running.is_empty() && super::needs_operator(&self.state).is_some() {
                break "needs_operator";
            }
            // Every run waits at a gate nobody's timeout will decide.
            if options.until_idle && self.running.is_empty() && self.only_undecidable_gates() {
                stuck = self.gate_attention();
                break "needs_operator";
            }
            if quiet && !idle && before + 1 == self.state.tick {
                self.emit(Event::RuntimeIdle {
                    reason: "no_work".into(),
                });
            }
            idle = quiet;
            if options.max_ticks.is_some_and(|m| ticks >= m) {
                self.drain(&mut signals).await?;
                break "max_ticks";
            }
            let sleep = tokio::time::sleep(self.settings.idle_sleep);
            tokio::select! {
                Some(done) = self.completions.1.recv() => self.complete(done)?,
                _ = sleep => {}
                () = wake.changed() => {}
                () = signals.next() => self.on_signal(&mut signals.count)?,
            }
        };
        Ok(RunSummary {
            ticks,
            stages: self.finished.clone(),
            ended: ended.into(),
            attention: super::needs_operator(&self.state)
                .or(stuck)
                .filter(|_| ended == "needs_operator"),
        })
    }

    /// The open closure target's lineage, when only an operator can move it.
    fn stuck_lineage(&self) -> Option<super::Attention> {
        let bp = crate::workspace::queue::Queues::new(&self.ws)
            .backpressure()
            .ok()??;
        super::lineage_attention(&bp)
    }

    /// Recompiles and swaps the plan between stages. Deferred while an
    /// active run sits at a node the new plan lacks: the compiled result is
    /// kept and checked again each turn (said once, compiled once) until
    /// those runs move on or a newer reload request replaces it.
    fn reload(&mut self) -> Result<(), RuntimeError> {
        let now = Timestamp::now();
        let compiled = match self.deferred_reload.take() {
            Some(next) => Ok(next),
            None => match self.reloader.as_mut() {
                Some(reloader) => reloader(),
                None => Err("this run cannot reload".to_string()),
            },
        };
        match compiled {
            Ok(next) => {
                let missing: Vec<String> = self
                    .state
                    .active_runs
                    .values()
                    .filter(|r| {
                        let is_gate = |plan: &crate::plan::Plan| {
                            plan.node_named(r.plane, &r.node)
                                .map(|n| plan.stage_of(n).gate.is_some())
                        };
                        // A pending wait must stay what it is: a gate that
                        // became a stage (or the reverse) would never end.
                        let flipped =
                            r.pending_request_id.is_some() && is_gate(&self.plan) != is_gate(&next.plan);
                        is_gate(&next.plan).is_none() || flipped
                    })
                    .map(|r| format!("{}/{}", r.plane, r.node))
                    .collect();
                if !missing.is_empty() {
                    if !self.reload_deferral_said {
                        self.reload_deferral_said = true;
                        self.emit(Event::RuntimeConfigReloadDeferred {
                            reason: "active runs at nodes the new plan lacks".into(),
                            nodes: missing,
                        });
                    }
                    self.deferred_reload = Some(next);
                    return Ok(());
                }
                self.reload_deferral_said = false;
                self.reload_requested = false;
                let chain = self.rules.chain_stages;
                self.plan = next.plan;
                self.rules = next.rules;
                self.rules.chain_stages = chain;
                self.settings = next.settings;
                self.governor.reconfigure(self.settings.governance.clone());
                self.runner = next.runner;
                self.commit(Input::Reloaded { now, error: None })
            }
            Err(error) => {
                self.reload_requested = false;
                self.commit(Input::Reloaded {
                    now,
                    error: Some(error),
                })
            }
        }
    }

    fn on_signal(&mut self, count: &mut u32) -> Result<(), RuntimeError> {
        *count += 1;
        let command = if *count == 1 {
            Control::Stop
        } else {
            Control::StopNow
        };
        self.emit(Event::RuntimeSignal { count: *count });
        self.commit(Input::Control {
            now: Timestamp::now(),
            command,
        })
    }

    /// [`Self::drain`], answering the mailbox and signals meanwhile.
    async fn await_stage(&mut self, signals: &mut Signals) -> Result<(), RuntimeError> {
        self.rules.chain_stages = false;
        while !self.running.is_empty() {
            let poll = tokio::time::sleep(MAILBOX_POLL);
            tokio::select! {
                done = self.completions.1.recv() => match done {
                    Some(done) => self.complete(done)?,
                    None => break,
                },
                                _ = poll => self.drain_mailbox()?,
                () = signals.next() => self.on_signal(&mut signals.count)?,
            }
        }
        Ok(())
    }

    /// Waits for every running stage and routes it, starting nothing new.
    /// Signals still count: a second one kills what runs.
    /// Stops when `millrace-agents/` is gone or replaced: the running
    /// stages are killed and their results dropped (there is nowhere to
    /// put them), and the error says what happened.
    async fn check_workspace(&mut self) -> Result<(), RuntimeError> {
        if self.workspace_intact() {
            return Ok(());
        }
        for running in self.running.values() {
            running.cancel.cancel();
        }
        let grace = std::time::Duration::from_secs(10);
        while !self.running.is_empty() {
            match tokio::time::timeout(grace, self.completions.1.recv()).await {
                Ok(Some(done)) => {
                    self.running.remove(&done.plane);
                }
                _ => break,
            }
        }
        Err(RuntimeError::WorkspaceGone {
            path: self.ws.agents().to_path_buf(),
        })
    }

    async fn drain(&mut self, signals: &mut Signals) -> Result<(), RuntimeError> {
        self.rules.chain_stages = false;
        while !self.running.is_empty() {
            tokio::select! {
                done = self.completions.1.recv() => match done {
                    Some(done) => self.complete(done)?,
                    None => break,
                },
                () = signals.next() => self.on_signal(&mut signals.count)?,
            }
        }
        Ok(())
    }
}

/// The signals that ask a runtime to stop (SIGTERM, SIGINT, SIGHUP when
/// its terminal goes away, SIGQUIT), caught for as long as a run lasts:
/// uncaught, they would end the process on the spot and leave the harness's
/// process group running with nobody watching. How many have arrived.
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
    quit: tokio::signal::unix::Signal,
    count: u32,
}

impl Signals {
    fn new() -> Result<Self, RuntimeError> {
        let event_loop = |e: std::io::Error| RuntimeError::EventLoop {
            detail: e.to_string(),
        };
        Ok(Signals {
            term: signal(SignalKind::terminate()).map_err(event_loop)?,
            int: signal(SignalKind::interrupt()).map_err(event_loop)?,
            hup: signal(SignalKind::hangup()).map_err(event_loop)?,
            quit: signal(SignalKind::quit()).map_err(event_loop)?,
            count: 0,
        })
    }

    /// The next stop signal, whichever it is.
    async fn next(&mut self) {
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
            _ = self.hup.recv() => {}
            _ = self.quit.recv() => {}
        }
    }
}
