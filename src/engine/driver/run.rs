//! The run loops: `run once` (one stage) and the daemon (until stopped).

use jiff::Timestamp;
use serde_json::json;
use tokio::signal::unix::{SignalKind, signal};

use super::super::{Control, Input};
use super::{EngineError, Runtime};

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
    /// Why the loop ended: `idle`, `stopped`, `max_ticks`, `one_stage`.
    pub ended: String,
}

impl Runtime {
    /// Claims or continues one item and runs exactly one stage of it (a
    /// stage on another lane that starts at the same time runs too).
    /// SIGTERM and SIGINT act as they do for the daemon: the first lets the
    /// stage finish, a second kills it (recorded as interrupted).
    pub async fn run_once(&mut self) -> Result<RunSummary, EngineError> {
        let mut signals = Signals::new()?;
        self.intake()?;
        self.tick()?;
        let ended = if self.running.is_empty() {
            "idle"
        } else {
            "one_stage"
        };
        self.drain(&mut signals).await?;
        Ok(RunSummary {
            ticks: 1,
            stages: self.finished.clone(),
            ended: ended.into(),
        })
    }

    /// Runs until a stop drains (command, mailbox or signal) or `max_ticks`.
    /// SIGTERM and SIGINT act as `stop`; a second one as `stop --now`.
    pub async fn run_daemon(&mut self, options: RunOptions) -> Result<RunSummary, EngineError> {
        let mut signals = Signals::new()?;
        let (mut ticks, mut idle) = (0u64, false);
        let ended = loop {
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
                break "idle";
            }
            if quiet && !idle && before + 1 == self.state.tick {
                self.emit("runtime_idle", json!({"reason": "no_work"}));
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
                _ = signals.term.recv() => self.on_signal(&mut signals.count)?,
                _ = signals.int.recv() => self.on_signal(&mut signals.count)?,
            }
        };
        Ok(RunSummary {
            ticks,
            stages: self.finished.clone(),
            ended: ended.into(),
        })
    }

    /// Recompiles and swaps the plan between stages. Deferred while an
    /// active run sits at a node the new plan lacks.
    fn reload(&mut self) -> Result<(), EngineError> {
        let now = Timestamp::now();
        let Some(reloader) = self.reloader.as_mut() else {
            self.reload_requested = false;
            return self.commit(Input::Reloaded {
                now,
                error: Some("this run cannot reload".into()),
            });
        };
        match reloader() {
            Ok(next) => {
                let missing: Vec<String> = self
                    .state
                    .active_runs
                    .values()
                    .filter(|r| next.plan.node_named(r.plane, &r.node).is_none())
                    .map(|r| format!("{}/{}", r.plane, r.node))
                    .collect();
                if !missing.is_empty() {
                    self.emit(
                        "runtime_config_reload_deferred",
                        json!({"reason": "active runs at nodes the new plan lacks", "nodes": missing}),
                    );
                    return Ok(());
                }
                self.reload_requested = false;
                let chain = self.rules.chain_stages;
                self.plan = next.plan;
                self.rules = next.rules;
                self.rules.chain_stages = chain;
                self.settings = next.settings;
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

    fn on_signal(&mut self, count: &mut u32) -> Result<(), EngineError> {
        *count += 1;
        let command = if *count == 1 {
            Control::Stop
        } else {
            Control::StopNow
        };
        self.emit("runtime_signal", json!({"count": *count}));
        self.commit(Input::Control {
            now: Timestamp::now(),
            command,
        })
    }

    /// Waits for every running stage and routes it, starting nothing new.
    /// Signals still count: a second one kills what runs.
    async fn drain(&mut self, signals: &mut Signals) -> Result<(), EngineError> {
        self.rules.chain_stages = false;
        while !self.running.is_empty() {
            tokio::select! {
                done = self.completions.1.recv() => match done {
                    Some(done) => self.complete(done)?,
                    None => break,
                },
                _ = signals.term.recv() => self.on_signal(&mut signals.count)?,
                _ = signals.int.recv() => self.on_signal(&mut signals.count)?,
            }
        }
        Ok(())
    }
}

/// SIGTERM and SIGINT, caught for as long as a run lasts (uncaught, they
/// would end the process and leave the harness's process group running),
/// and how many have arrived.
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    count: u32,
}

impl Signals {
    fn new() -> Result<Self, EngineError> {
        let event_loop = |e: std::io::Error| EngineError::EventLoop {
            detail: e.to_string(),
        };
        Ok(Signals {
            term: signal(SignalKind::terminate()).map_err(event_loop)?,
            int: signal(SignalKind::interrupt()).map_err(event_loop)?,
            count: 0,
        })
    }
}
