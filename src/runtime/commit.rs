//! Committing one transition: journal, durable effects, snapshot, journal
//! removed, then actions.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::apply::ApplyFailure;
use super::{Runtime, RuntimeError};
use crate::engine::{ApplyError, Effect, Input, runtime_error_code, step};
use crate::model::{Event, Snapshot, StageResult};
use crate::workspace::journal;

/// The redo log of one transition (`state/journal.json`).
#[derive(Serialize, Deserialize)]
struct Journal {
    schema_version: u32,
    snapshot: Snapshot,
    effects: Vec<Effect>,
}

impl Runtime {
    /// Commits a transition, tolerating failed effects (they are logged).
    pub(super) fn commit(&mut self, input: Input) -> Result<(), RuntimeError> {
        self.transition(input, false).map(|_| ())
    }

    /// Commits a transition. With `strict`, the first failing durable effect
    /// aborts it before the snapshot is written, and the failure is
    /// returned so the caller can commit a recovery instead.
    fn transition(&mut self, input: Input, strict: bool) -> Result<Result<(), ApplyFailure>, RuntimeError> {
        let (next, effects) = step(&self.plan, &self.rules, &self.state, input);
        let (durable, actions): (Vec<Effect>, Vec<Effect>) =
            effects.into_iter().partition(Effect::is_durable);
        tracing::debug!(
            durable = durable.len(),
            actions = actions.len(),
            tick = next.tick,
            "transition"
        );
        if !durable.is_empty() {
            let entry = Journal {
                schema_version: 1,
                snapshot: next.clone(),
                effects: durable.clone(),
            };
            journal::write(&self.ws, &entry).map_err(persist)?;
            for effect in &durable {
                if let Err(failure) = self.apply(effect, strict) {
                    if strict {
                        journal::clear(&self.ws).map_err(persist)?;
                        return Ok(Err(failure));
                    }
                    self.effect_failed(effect, failure.message);
                }
            }
        }
        if !durable.is_empty() || changed(&self.state, &next) {
            next.save(&self.ws).map_err(persist)?;
        }
        if !durable.is_empty() {
            journal::clear(&self.ws).map_err(persist)?;
        }
        self.state = next;
        for action in actions {
            self.act(action)?;
        }
        Ok(Ok(()))
    }

    /// Routes a stage result; if applying the decision fails, hands the
    /// error to the repair node (or blocks the item) instead.
    pub(super) fn finish(&mut self, result: StageResult, path: String) -> Result<(), RuntimeError> {
        let now = Timestamp::now();
        let input = Input::Finished {
            now,
            result: Box::new(result.clone()),
            result_path: path.clone(),
        };
        if let Err(failure) = self.transition(input, true)? {
            let code = runtime_error_code(result.plane, failure.completion_conflict);
            let error = ApplyError {
                code,
                message: failure.message,
            };
            self.commit(Input::ApplyFailed {
                now,
                result: Box::new(result),
                result_path: path,
                error,
            })?;
        }
        Ok(())
    }

    fn act(&mut self, action: Effect) -> Result<(), RuntimeError> {
        match action {
            Effect::Claim { plane, root } => self.claim(plane, root),
            Effect::Dispatch { plane } => self.start_stage(plane),
            Effect::Kill { plane } => {
                if let Some(running) = self.running.get(&plane) {
                    running.cancel.cancel();
                }
                Ok(())
            }
            Effect::Exit => {
                self.exit = true;
                Ok(())
            }
            Effect::Event { event } => {
                self.emit(event);
                Ok(())
            }
            // Durable effects never reach here (partitioned above).
            _ => Ok(()),
        }
    }

    /// Finishes a transition a crashed process left half applied.
    pub(super) fn replay_journal(&mut self) -> Result<(), RuntimeError> {
        let Some(entry) = journal::read::<Journal>(&self.ws)? else {
            return Ok(());
        };
        for effect in &entry.effects {
            if let Err(failure) = self.apply(effect, false) {
                self.effect_failed(effect, failure.message);
            }
        }
        entry.snapshot.save(&self.ws).map_err(persist)?;
        journal::clear(&self.ws).map_err(persist)?;
        let count = entry.effects.len();
        self.state = entry.snapshot;
        self.emit(Event::JournalReplayed { effects: count });
        Ok(())
    }

    fn effect_failed(&mut self, effect: &Effect, error: String) {
        let effect = serde_json::to_value(effect).unwrap_or_default();
        self.emit(Event::EffectFailed { effect, error });
    }
}

/// A state file that could not be written: the runtime stops rather than
/// run on state it cannot persist (a full disk is the usual cause).
fn persist(e: impl std::fmt::Display) -> RuntimeError {
    RuntimeError::Persist {
        detail: e.to_string(),
    }
}

/// Whether a snapshot changed beyond its clock fields (an idle tick writes
/// nothing).
fn changed(before: &Snapshot, after: &Snapshot) -> bool {
    let mut a = after.clone();
    a.updated_at = before.updated_at;
    a.tick = before.tick;
    &a != before
}
