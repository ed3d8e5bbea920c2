//! Committing one transition: a journal record (the commit point, and its
//! one flush), durable effects, the snapshot (not flushed: the record holds
//! it), then actions. See `workspace::journal` for why that is enough.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::apply::ApplyFailure;
use super::{Runtime, RuntimeError};
use crate::engine::{ApplyError, Effect, Input, runtime_error_code, step};
use crate::model::{Event, Snapshot, StageResult};
use crate::workspace::journal;

/// One record of the commit log (`state/journal.jsonl`), as read back.
/// A record without a snapshot abandons the transition before it (its
/// first failing effect aborted it), so nothing is pending.
#[derive(Deserialize)]
struct Record {
    snapshot: Option<Snapshot>,
    #[serde(default)]
    effects: Vec<Effect>,
}

/// A record as written, borrowing the transition's values.
#[derive(Serialize)]
struct RecordOut<'a> {
    schema_version: u32,
    snapshot: Option<&'a Snapshot>,
    effects: &'a [Effect],
}

impl<'a> RecordOut<'a> {
    fn new(snapshot: Option<&'a Snapshot>, effects: &'a [Effect]) -> Self {
        RecordOut {
            schema_version: 2,
            snapshot,
            effects,
        }
    }
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
        // An idle tick changes nothing but the clock: it writes nothing.
        if !durable.is_empty() || changed(&self.state, &next) {
            journal::append(&self.ws, &RecordOut::new(Some(&next), &durable)).map_err(persist)?;
            for effect in &durable {
                if let Err(failure) = self.apply(effect, strict) {
                    if strict {
                        journal::append(&self.ws, &RecordOut::new(None, &[])).map_err(persist)?;
                        return Ok(Err(failure));
                    }
                    self.effect_failed(effect, failure.message);
                }
            }
            next.save(&self.ws).map_err(persist)?;
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

    /// Finishes a transition a crashed process left half applied: the last
    /// journal record, when the snapshot on disk is not the one it holds.
    pub(super) fn replay_journal(&mut self) -> Result<(), RuntimeError> {
        let Some(Record {
            snapshot: Some(snapshot),
            effects,
        }) = journal::last::<Record>(&self.ws)?
        else {
            return Ok(journal::settle_legacy(&self.ws)?);
        };
        if snapshot == self.state {
            return Ok(journal::settle_legacy(&self.ws)?);
        }
        for effect in &effects {
            if let Err(failure) = self.apply(effect, false) {
                self.effect_failed(effect, failure.message);
            }
        }
        snapshot.save(&self.ws).map_err(persist)?;
        journal::settle_legacy(&self.ws)?;
        self.state = snapshot;
        self.emit(Event::JournalReplayed {
            effects: effects.len(),
        });
        Ok(())
    }

    fn effect_failed(&mut self, effect: &Effect, error: String) {
        let effect = serde_json::to_value(effect).unwrap_or_default();
        self.emit(Event::EffectFailed { effect, error });
    }
}

/// The snapshot a runtime starts from. A snapshot file a crash left
/// damaged is set aside when the journal's last record holds a snapshot:
/// the runtime then starts from the bootstrap one, and the journal's
/// replay restores the recorded one.
pub(super) fn load_state(ws: &crate::workspace::Workspace) -> Result<Snapshot, RuntimeError> {
    use crate::workspace::snapshot::SnapshotError;
    match Snapshot::load(ws) {
        Err(SnapshotError::Invalid { path, detail })
            if matches!(
                journal::last::<Record>(ws),
                Ok(Some(Record {
                    snapshot: Some(_),
                    ..
                }))
            ) =>
        {
            let now = Timestamp::now();
            let note = crate::workspace::repair::aside(&path, now, "the damaged runtime snapshot")
                .map_err(persist)?;
            tracing::warn!(%detail, "{note}; restoring it from the transition journal");
            Ok(Snapshot::bootstrap(now))
        }
        other => Ok(other?),
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
