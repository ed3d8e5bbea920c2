//! Applying durable effects to the workspace. Every effect is idempotent:
//! applied twice (a journal replayed after a crash), it changes nothing the
//! second time.

use jiff::Timestamp;
use serde_json::json;

use super::Runtime;
use crate::engine::{ClosureOutcome, Effect};
use crate::model::{Event, QueueState, WorkDocument};
use crate::plan::WorkItemKind;
use crate::workspace::closure::{self, ClosureTarget};
use crate::workspace::promotion::{self, PromotionState};
use crate::workspace::queue::{QueueError, Queues};
use crate::workspace::runs::RunDir;
use crate::workspace::{fsx, markers};

/// Why an effect could not be applied.
#[derive(Debug)]
pub(super) struct ApplyFailure {
    pub message: String,
    /// The item had already left its active directory.
    pub completion_conflict: bool,
}

impl ApplyFailure {
    fn new(message: impl std::fmt::Display) -> Self {
        ApplyFailure {
            message: message.to_string(),
            completion_conflict: false,
        }
    }
}

impl Runtime {
    pub(super) fn apply(&mut self, effect: &Effect, strict: bool) -> Result<(), ApplyFailure> {
        match effect {
            Effect::MoveItem { kind, id, to, reason } => {
                self.move_item(*kind, id, *to, reason.as_deref(), strict)
            }
            Effect::WriteIncident { incident } => self.file_document(
                &incident.incident_id,
                WorkDocument::Incident((**incident).clone()),
            ),
            Effect::WriteLearningRequest { request } => self.file_document(
                &request.learning_request_id,
                WorkDocument::LearningRequest((**request).clone()),
            ),
            Effect::OpenTarget {
                root_spec_id,
                root_idea_id,
                now,
            } => self.open_target(root_spec_id, root_idea_id.as_deref(), *now),
            Effect::StartClosurePass {
                root_spec_id,
                attempts,
                run_id,
            } => self.update_target(root_spec_id, |t| {
                t.attempts = *attempts;
                t.last_arbiter_run_id = Some(run_id.clone());
            }),
            Effect::CloseTarget {
                root_spec_id,
                outcome,
                run_id,
                now,
            } => self.close_target(root_spec_id, *outcome, run_id.as_deref(), *now),
            Effect::WriteMarker { plane, token } => {
                markers::write_marker(&self.ws, *plane, token).map_err(ApplyFailure::new)
            }
            Effect::WriteRuntimeErrorReport { run_id, text } => RunDir::create(&self.ws, run_id)
                .and_then(|dir| dir.write_artifact("runtime_error_report.md", text.as_bytes()))
                .map(|_| ())
                .map_err(ApplyFailure::new),
            Effect::RecordRouting {
                run_id,
                request_id,
                record,
            } => RunDir::create(&self.ws, run_id)
                .and_then(|dir| dir.write_routing(request_id, record))
                .map(|_| ())
                .map_err(ApplyFailure::new),
            Effect::RecordPromotion {
                run_id,
                request_id,
                work_item_id,
                update_record,
                foreground,
                now,
            } => {
                let update = update_record
                    .as_deref()
                    .map(|p| self.relative(std::path::Path::new(p)));
                let candidate = promotion::Candidate {
                    run_id,
                    request_id,
                    work_item_id: work_item_id.as_deref(),
                    update_record: update.as_deref(),
                    foreground,
                    now: *now,
                };
                let settled = promotion::record(&self.ws, &candidate).map_err(ApplyFailure::new)?;
                // With no foreground stage running it lands in this same
                // transition; only a real wait is worth a line.
                if settled.state != PromotionState::Deferred || !foreground.is_empty() {
                    self.promotion_event(&settled);
                }
                Ok(())
            }
            Effect::LandPromotions { now } => {
                for settled in promotion::land_all(&self.ws, *now).map_err(ApplyFailure::new)? {
                    self.promotion_event(&settled);
                }
                Ok(())
            }
            // Actions are not applied here.
            _ => Ok(()),
        }
    }

    fn move_item(
        &mut self,
        kind: WorkItemKind,
        id: &str,
        to: QueueState,
        reason: Option<&str>,
        strict: bool,
    ) -> Result<(), ApplyFailure> {
        let queues = Queues::new(&self.ws);
        let moved = match to {
            QueueState::Done => queues.complete(kind, id),
            QueueState::Blocked => queues.block(kind, id),
            QueueState::Queued => queues.requeue(kind, id, reason.unwrap_or("requeued by the runtime")),
            QueueState::Active => {
                return Err(ApplyFailure::new(
                    "the runtime never moves an item into active/ this way",
                ));
            }
        };
        match moved {
            Ok(path) => {
                if let (QueueState::Blocked, Some(reason)) = (to, reason) {
                    let log = path.with_extension("blocked.jsonl");
                    let line = json!({"at": Timestamp::now(), "kind": kind, "reason": reason});
                    let _ = fsx::append_line(&log, &line.to_string());
                }
                Ok(())
            }
            // Already there: a replayed journal, or the operator moved it.
            Err(QueueError::NotFound { .. }) if fsx::is_file(&self.ws.paths().document(kind, to, id)) => {
                Ok(())
            }
            Err(QueueError::NotFound { .. }) if !strict => {
                self.emit(Event::WorkItemMissing {
                    kind,
                    id: id.to_string(),
                    to: to.as_str().into(),
                });
                Ok(())
            }
            Err(e @ QueueError::NotFound { .. }) => Err(ApplyFailure {
                message: e.to_string(),
                completion_conflict: true,
            }),
            Err(e) => Err(ApplyFailure::new(e)),
        }
    }

    fn promotion_event(&mut self, settled: &promotion::Settled) {
        let (record, files, reason) = (
            self.relative(&settled.record_path),
            settled.files.clone(),
            settled.reason.clone(),
        );
        self.emit(match settled.state {
            PromotionState::Deferred => Event::LearningPromotionDeferred {
                record,
                files,
                reason,
            },
            PromotionState::Applied => Event::LearningPromotionApplied {
                record,
                files,
                reason,
            },
            PromotionState::Rejected => Event::LearningPromotionRejected {
                record,
                files,
                reason,
            },
        });
    }

    /// Queues a document the runtime files itself, unless its id exists.
    fn file_document(&mut self, id: &str, document: WorkDocument) -> Result<(), ApplyFailure> {
        let queues = Queues::new(&self.ws);
        if queues.find(id).map_err(ApplyFailure::new)?.is_some() {
            return Ok(());
        }
        queues.enqueue(&document).map(|_| ()).map_err(ApplyFailure::new)
    }

    fn open_target(&mut self, root: &str, idea: Option<&str>, now: Timestamp) -> Result<(), ApplyFailure> {
        if ClosureTarget::load(&self.ws, root)
            .map_err(ApplyFailure::new)?
            .is_some()
        {
            return Ok(());
        }
        let target = ClosureTarget::open(root, idea.unwrap_or(root), now).map_err(ApplyFailure::new)?;
        let spec = self
            .ws
            .paths()
            .document(WorkItemKind::Spec, QueueState::Active, root);
        match self.seed_idea(root, idea) {
            Some(idea_source) => {
                closure::copy_contracts(&self.ws, &target, &idea_source, &spec).map_err(ApplyFailure::new)?;
            }
            None => {
                // No seed idea: judge against the root spec alone.
                let bytes = fsx::read_bytes(&spec).map_err(ApplyFailure::new)?;
                let dest = self.ws.paths().root_spec_contract(root);
                match fsx::write_new(&dest, &bytes) {
                    Ok(()) | Err(fsx::FsError::Exists { .. }) => {}
                    Err(e) => return Err(ApplyFailure::new(e)),
                }
                self.emit(Event::ClosureSeedIdeaMissing {
                    root_spec_id: root.into(),
                });
            }
        }
        target.save(&self.ws).map(|_| ()).map_err(ApplyFailure::new)?;
        self.emit(Event::ClosureTargetOpened {
            root_spec_id: root.into(),
            root_idea_id: idea.map(String::from),
        });
        Ok(())
    }

    /// The idea file a root spec came from: a `References` entry that is a
    /// markdown file in the workspace, else `ideas/inbox/<id>.md`.
    fn seed_idea(&self, root: &str, idea: Option<&str>) -> Option<std::path::PathBuf> {
        let queues = Queues::new(&self.ws);
        let spec = queues.load(WorkItemKind::Spec, QueueState::Active, root).ok();
        let references = match &spec {
            Some(WorkDocument::Spec(s)) => s.references.clone(),
            _ => Vec::new(),
        };
        let inbox = self.ws.paths().ideas_inbox();
        let mut candidates: Vec<std::path::PathBuf> = references
            .iter()
            .filter(|r| r.ends_with(".md") && !r.contains(".."))
            .map(|r| self.ws.root().join(r.trim_start_matches('/')))
            .collect();
        for id in [Some(root), idea].into_iter().flatten() {
            candidates.push(inbox.join(format!("{id}.md")));
            if let Some(stem) = id.strip_prefix("idea-") {
                candidates.push(inbox.join(format!("{stem}.md")));
            }
        }
        candidates.into_iter().find(|p| fsx::is_file(p))
    }

    fn update_target(
        &mut self,
        root: &str,
        change: impl FnOnce(&mut ClosureTarget),
    ) -> Result<(), ApplyFailure> {
        let Some(mut target) = ClosureTarget::load(&self.ws, root).map_err(ApplyFailure::new)? else {
            return Err(ApplyFailure::new(format!("no closure target for `{root}`")));
        };
        change(&mut target);
        target.save(&self.ws).map(|_| ()).map_err(ApplyFailure::new)
    }

    fn close_target(
        &mut self,
        root: &str,
        outcome: ClosureOutcome,
        run_id: Option<&str>,
        now: Timestamp,
    ) -> Result<(), ApplyFailure> {
        let verdict = self
            .ws
            .paths()
            .arbiter_dir()
            .join("verdicts")
            .join(format!("{root}.json"));
        let verdict = fsx::is_file(&verdict).then(|| self.relative(&verdict));
        let report = run_id.and_then(|run| self.archive_report(run));
        self.update_target(root, |t| {
            t.closure_open = false;
            t.closed_at = Some(now);
            t.closed_reason = Some(match outcome {
                ClosureOutcome::Passed => "passed".into(),
                ClosureOutcome::AttemptsExhausted => "attempts_exhausted".into(),
            });
            if let Some(run) = run_id {
                t.last_arbiter_run_id = Some(run.to_string());
            }
            if verdict.is_some() {
                t.latest_verdict_path = verdict;
            }
            if report.is_some() {
                t.latest_report_path = report;
            }
        })
    }

    /// Copies a closure pass's report to `arbiter/reports/<run>.md`.
    fn archive_report(&self, run_id: &str) -> Option<String> {
        let source = self.ws.paths().run_dir(run_id).join("arbiter_report.md");
        let bytes = fsx::read_optional_bytes(&source).ok()??;
        let dest = self
            .ws
            .paths()
            .arbiter_dir()
            .join("reports")
            .join(format!("{run_id}.md"));
        fsx::write_atomic(&dest, &bytes).ok()?;
        Some(self.relative(&dest))
    }
}
