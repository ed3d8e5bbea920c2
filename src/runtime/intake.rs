//! What arrives from outside between ticks: mailbox commands (in issue
//! order) and ideas dropped in `ideas/inbox/`.

use jiff::Timestamp;
use serde_json::json;

use super::{Runtime, RuntimeError};
use crate::engine::{Control, Input};
use crate::model::{Event, WorkDocument};
use crate::workspace::document::normalize_idea;
use crate::workspace::mailbox::{self, Command};
use crate::workspace::queue::Queues;

impl Runtime {
    pub(super) fn intake(&mut self) -> Result<(), RuntimeError> {
        self.drain_mailbox()?;
        if self.settings.watch_ideas {
            self.intake_ideas();
        }
        Ok(())
    }

    pub(super) fn drain_mailbox(&mut self) -> Result<(), RuntimeError> {
        let pending = match mailbox::pending(&self.ws) {
            Ok(pending) => pending,
            Err(e) => {
                self.emit(Event::MailboxUnreadable { error: e.to_string() });
                return Ok(());
            }
        };
        for item in pending {
            let outcome = self.handle(&item.command);
            let archived = match &outcome {
                Ok(result) => mailbox::complete(&self.ws, &item, result.clone()),
                Err(error) => mailbox::fail(&self.ws, &item, error),
            };
            if let Err(e) = archived {
                self.emit(Event::MailboxArchiveFailed {
                    command: item.file_name.clone(),
                    error: e.to_string(),
                });
            }
            self.emit(Event::MailboxCommandApplied {
                command: item.command.name().to_string(),
                ok: outcome.is_ok(),
            });
        }
        Ok(())
    }

    /// Applies one mailbox command; the error text is archived with it.
    fn handle(&mut self, command: &Command) -> Result<serde_json::Value, String> {
        let now = Timestamp::now();
        let control = match command {
            Command::Stop => Control::Stop,
            Command::StopNow => Control::StopNow,
            Command::Pause => Control::Pause,
            Command::Resume => Control::Resume,
            Command::RetryActive { reason, plane } => Control::RetryActive {
                plane: *plane,
                reason: reason.clone(),
            },
            Command::ClearStaleState { reason } => Control::ClearStaleState {
                reason: reason.clone(),
            },
            Command::ReloadConfig => {
                self.reload_requested = true;
                // A newer request recompiles: the configuration may have
                // changed again since a deferred reload was compiled.
                self.deferred_reload = None;
                self.reload_deferral_said = false;
                return Ok(json!({"reload": "requested"}));
            }
            Command::AddLearningRequest(doc) => {
                // Refused here rather than queued where no stage would ever
                // claim it.
                let target = match doc {
                    WorkDocument::LearningRequest(r) => r.target_stage.as_deref(),
                    _ => None,
                };
                self.plan.accepts_learning_request(target)?;
                let path = Queues::new(&self.ws).enqueue(doc).map_err(|e| coded(&e))?;
                return Ok(json!({"enqueued": self.relative(&path)}));
            }
            Command::RetryItem { id, reason } => {
                let found = Queues::new(&self.ws).retry(id, reason).map_err(|e| coded(&e))?;
                self.emit(Event::WorkItemRetried {
                    kind: found.kind,
                    id: id.clone(),
                    reason: reason.clone(),
                });
                return Ok(json!({"requeued": self.relative(&found.path)}));
            }
            Command::GateDecide { id, outcome, note } => {
                return self.decide_gate(id, outcome, note.as_deref());
            }
            Command::RepairLineage { root_spec_id } => {
                let repair = Queues::new(&self.ws)
                    .repair_lineage(root_spec_id, true)
                    .map_err(|e| coded(&e))?;
                self.emit(Event::ClosureLineageRepaired {
                    root_spec_id: root_spec_id.clone(),
                    documents: repair.documents,
                    changes: repair.plan.changes.len(),
                });
                let reports: Vec<String> = repair.reports.iter().map(|p| self.relative(p)).collect();
                return Ok(
                    json!({"documents": repair.documents, "changes": repair.plan.changes.len(), "reports": reports}),
                );
            }
            Command::AddTask(doc) | Command::AddSpec(doc) => {
                let path = Queues::new(&self.ws).enqueue(doc).map_err(|e| coded(&e))?;
                return Ok(json!({"enqueued": self.relative(&path)}));
            }
            Command::AddIdea {
                source_name,
                markdown,
            } => {
                let path = Queues::new(&self.ws)
                    .stage_idea(source_name, markdown)
                    .map_err(|e| coded(&e))?;
                return Ok(json!({"staged": self.relative(&path)}));
            }
        };
        self.commit(Input::Control {
            now,
            command: control,
        })
        .map_err(|e| e.to_string())?;
        Ok(json!({"applied": true}))
    }

    /// Turns each idea in `ideas/inbox/` into a root spec, once.
    fn intake_ideas(&mut self) {
        let ws = self.ws.clone();
        let queues = Queues::new(&ws);
        let stamp = queues.inbox_stamp();
        if stamp.is_some() && stamp == self.ideas_seen {
            return;
        }
        self.ideas_seen = stamp;
        for (name, text) in queues.inbox_ideas() {
            let idea = normalize_idea(&name, &text, Timestamp::now());
            let spec_id = idea.spec.id().to_string();
            if queues
                .idea_represented(&spec_id, &idea.idea_reference)
                .unwrap_or(true)
            {
                continue;
            }
            match queues.enqueue(&idea.spec) {
                Ok(_) => self.emit(Event::IdeaNormalizedToSpec {
                    idea: idea.idea_reference,
                    spec_id,
                }),
                Err(e) => self.emit(Event::IdeaIntakeFailed {
                    idea: idea.idea_reference,
                    error: e.to_string(),
                }),
            }
        }
    }
}

/// A refusal as the issuing command prints it: the code, then the error.
pub(super) fn coded(e: &dyn miette::Diagnostic) -> String {
    match e.code() {
        Some(code) => format!("{code}: {e}"),
        None => e.to_string(),
    }
}
