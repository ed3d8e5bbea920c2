//! `millrace queue add-task|add-spec|add-idea|ls|show`.
//!
//! Adding validates the document completely first. When a daemon owns the
//! workspace (an active lock), additions go through its mailbox instead of
//! touching the queues.

use std::process::ExitCode;

use serde_json::{Value, json};

use super::{AddArgs, Context, Outcome, QueueCommand, QueueLsArgs, QueueShowArgs, print, print_json};
use crate::plan::{Plane, WorkItemKind};
use crate::workspace::document::WorkDocument;
use crate::workspace::fsx;
use crate::workspace::lock::{self, LockState};
use crate::workspace::mailbox::{self, Command};
use crate::workspace::queue::{QueueError, Queues, plane_kinds, quarantine};
use crate::workspace::{QueueState, Workspace};

pub fn run(command: QueueCommand, cx: &Context) -> Outcome {
    let ws = Workspace::open(cx.cli_workspace.as_deref())?;
    match command {
        QueueCommand::AddTask(args) => add_document(&ws, WorkItemKind::Task, &args),
        QueueCommand::AddSpec(args) => add_document(&ws, WorkItemKind::Spec, &args),
        QueueCommand::AddIdea(args) => add_idea(&ws, &args),
        QueueCommand::Ls(args) => ls(&ws, &args),
        QueueCommand::Show(args) => show(&ws, &args),
    }
}

fn daemon_owns(ws: &Workspace) -> Result<bool, crate::workspace::fsx::FsError> {
    Ok(lock::inspect(ws)?.state == LockState::Active)
}

fn add_document(ws: &Workspace, kind: WorkItemKind, args: &AddArgs) -> Outcome {
    let doc = WorkDocument::load(&args.file, Some(kind))?;
    let queues = Queues::new(ws);
    if let Some(found) = queues.find(doc.id())?.filter(|f| f.kind == kind) {
        return Err(QueueError::DuplicateId {
            kind,
            id: doc.id().to_string(),
            path: found.path,
        }
        .into());
    }
    let label = kind.as_str();
    if daemon_owns(ws)? {
        let command = if kind == WorkItemKind::Task {
            Command::AddTask(doc.clone())
        } else {
            Command::AddSpec(doc.clone())
        };
        let issued = mailbox::issue(ws, &command, "operator")?;
        return report_mailbox(args.json, command.name(), doc.id(), &issued);
    }
    let path = queues.enqueue(&doc)?;
    if args.json {
        print_json(&json!({ "mode": "direct", "kind": label, "id": doc.id(), "path": path }))?;
    } else {
        print(&format!(
            "mode: direct\n{}_id: {}\nenqueued_{label}: {}\n",
            label,
            doc.id(),
            path.display()
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn report_mailbox(json: bool, action: &str, subject: &str, issued: &mailbox::Issued) -> Outcome {
    if json {
        print_json(&json!({
            "mode": "mailbox",
            "action": action,
            "subject": subject,
            "command_id": issued.command_id,
            "mailbox_path": issued.path,
        }))?;
    } else {
        print(&format!(
            "mode: mailbox\naction: {action}\nsubject: {subject}\ncommand_id: {}\nmailbox_path: {}\n",
            issued.command_id,
            issued.path.display()
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn add_idea(ws: &Workspace, args: &AddArgs) -> Outcome {
    let name = args
        .file
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("")
        .to_string();
    mailbox::check_idea_name(&name).map_err(QueueError::InvalidIdea)?;
    let markdown = fsx::read_text(&args.file)?;
    if daemon_owns(ws)? {
        let target = ws.paths().ideas_inbox().join(&name);
        if target.exists() {
            return Err(QueueError::IdeaExists { path: target }.into());
        }
        let command = Command::AddIdea {
            source_name: name.clone(),
            markdown,
        };
        let issued =
            mailbox::issue(ws, &command, "operator").map_err(|e| QueueError::InvalidIdea(e.to_string()))?;
        return report_mailbox(args.json, "add_idea", &name, &issued);
    }
    let path = Queues::new(ws).stage_idea(&name, &markdown)?;
    if args.json {
        print_json(&json!({ "mode": "direct", "kind": "idea", "name": name, "path": path }))?;
    } else {
        print(&format!("mode: direct\nenqueued_idea: {}\n", path.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn ls(ws: &Workspace, args: &QueueLsArgs) -> Outcome {
    let queues = Queues::new(ws);
    let mut planes = serde_json::Map::new();
    let mut text = String::new();
    let mut listing = String::new();
    for plane in Plane::ALL {
        let mut depth = 0;
        let mut active = Vec::new();
        let mut items = Vec::new();
        for kind in plane_kinds(*plane) {
            // With --all the index is refreshed, which quarantines
            // malformed files before they are counted.
            if args.all {
                for (entry, eligible) in queues.queued_in_order(*kind)? {
                    let created = entry.claim_time().map(|t| t.to_string());
                    listing.push_str(&format!(
                        "queued: {} {} at={} eligible={} root={} depends_on={}\n",
                        kind,
                        entry.id(),
                        created.as_deref().unwrap_or("none"),
                        eligible,
                        entry.root().unwrap_or("none"),
                        join_or_none(entry.depends_on()),
                    ));
                    items.push(json!({
                        "kind": kind, "id": entry.id(), "claim_time": created,
                        "eligible": eligible, "root_spec_id": entry.root(), "depends_on": entry.depends_on(),
                    }));
                }
            }
            depth += queues.depth(*kind)?;
            active.extend(queues.active(*kind)?.into_iter().map(|id| format!("{kind}:{id}")));
        }
        text.push_str(&format!("{plane}_queue_depth: {depth}\n"));
        text.push_str(&format!("{plane}_active: {}\n", join_or_none(&active)));
        let mut entry = json!({ "depth": depth, "active": active });
        if args.all {
            entry["queued"] = Value::Array(items);
        }
        planes.insert(plane.as_str().into(), entry);
    }
    let quarantined = quarantine::list_all(ws)?;
    text.push_str(&format!("quarantined: {}\n", quarantined.len()));
    for q in &quarantined {
        text.push_str(&format!(
            "quarantined_file: {} reason={}\n",
            q.path.display(),
            q.reason.as_deref().unwrap_or("none")
        ));
    }
    if args.json {
        print_json(&json!({ "planes": planes, "quarantined": quarantined }))?;
    } else {
        text.push_str(&listing);
        print(&text)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn join_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(",")
    }
}

fn show(ws: &Workspace, args: &QueueShowArgs) -> Outcome {
    let queues = Queues::new(ws);
    let found = queues
        .find(&args.id)?
        .ok_or_else(|| QueueError::UnknownItem(args.id.clone()))?;
    let loaded = WorkDocument::load(&found.path, Some(found.kind));
    let (title, root_spec, root_idea, error) = match &loaded {
        Ok(doc) => (
            Some(doc.title().to_string()),
            doc.effective_root_spec_id().map(str::to_string),
            doc.root_idea_id().map(str::to_string),
            None,
        ),
        Err(e) => (None, None, None, Some(e.summary())),
    };
    let state = state_dir_label(found.kind, found.state);
    if args.json {
        print_json(&json!({
            "id": args.id, "kind": found.kind, "state": state, "path": found.path,
            "title": title, "root_spec_id": root_spec, "root_idea_id": root_idea,
            "error": error, "document": loaded.as_ref().ok().map(WorkDocument::to_json),
        }))?;
    } else {
        let mut text = format!(
            "work_item_id: {}\nwork_item_kind: {}\nwork_item_state: {state}\npath: {}\ntitle: {}\nroot_spec_id: {}\nroot_idea_id: {}\n",
            args.id,
            found.kind,
            found.path.display(),
            title.as_deref().unwrap_or("none"),
            root_spec.as_deref().unwrap_or("none"),
            root_idea.as_deref().unwrap_or("none"),
        );
        if let Some(error) = error {
            text.push_str(&format!("error: {error}\n"));
        }
        print(&text)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The directory name of a state (`queue`, `incoming`, `resolved`, ...).
fn state_dir_label(kind: WorkItemKind, state: QueueState) -> &'static str {
    crate::workspace::layout::state_dir_name(kind, state)
}
