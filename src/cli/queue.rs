//! `millrace queue add-task|add-spec|add-idea|ls|show|retry|repair-lineage`.
//!
//! Adding validates the document completely first. When a daemon owns the
//! workspace (an active lock), additions go through its mailbox instead of
//! touching the queues.

mod lineage;
mod ls;
mod show;

use std::process::ExitCode;

use serde_json::json;

use super::{AddArgs, Context, Outcome, QueueCommand, QueueRetryArgs, print, print_json};
use crate::model::WorkDocument;
use crate::plan::WorkItemKind;
use crate::workspace::lock::{self, LockState};
use crate::workspace::mailbox::{self, Command};
use crate::workspace::queue::{QueueError, Queues};
use crate::workspace::{Workspace, fsx};

pub(super) fn run(command: QueueCommand, cx: &Context) -> Outcome {
    let ws = Workspace::open(cx.cli_workspace.as_deref())?;
    match command {
        QueueCommand::AddTask(args) => add_document(&ws, WorkItemKind::Task, &args),
        QueueCommand::AddSpec(args) => add_document(&ws, WorkItemKind::Spec, &args),
        QueueCommand::AddIdea(args) => add_idea(&ws, &args),
        QueueCommand::AddLearningRequest(args) => {
            let doc = WorkDocument::load(&args.file, Some(WorkItemKind::LearningRequest))?;
            super::skills::submit(&ws, doc, args.mode.as_deref(), args.json, cx)
        }
        QueueCommand::Ls(args) => ls::ls(&ws, &args),
        QueueCommand::Show(args) => show::show(&ws, &args),
        QueueCommand::Retry(args) => retry(&ws, &args),
        QueueCommand::RepairLineage(args) => lineage::repair_lineage(&ws, &args),
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
        return report_mailbox(ws, args.json, !args.no_wait, command.name(), doc.id(), &issued);
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

/// How long a command handed to a daemon waits for its verdict.
const VERDICT_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Reports a command handed to the running daemon: with `wait`, its
/// verdict (a refusal exits 1 with the daemon's code and words); without,
/// or when the daemon does not answer in time, `applied: pending`.
pub(super) fn report_mailbox(
    ws: &Workspace,
    json: bool,
    wait: bool,
    action: &str,
    subject: &str,
    issued: &mailbox::Issued,
) -> Outcome {
    let verdict = if wait {
        mailbox::wait_verdict(ws, &issued.command_id, VERDICT_WAIT)
    } else {
        None
    };
    let (applied, detail, code) = match &verdict {
        Some(mailbox::Verdict::Applied(result)) => ("true", result.to_string(), ExitCode::SUCCESS),
        Some(mailbox::Verdict::Refused(error)) => ("false", error.clone(), ExitCode::FAILURE),
        None => (
            "pending",
            "queued for the running daemon".to_string(),
            ExitCode::SUCCESS,
        ),
    };
    if json {
        print_json(&json!({
            "mode": "mailbox",
            "action": action,
            "subject": subject,
            "applied": applied,
            "detail": detail,
            "command_id": issued.command_id,
            "mailbox_path": issued.path,
        }))?;
    } else {
        print(&format!(
            "mode: mailbox\naction: {action}\nsubject: {subject}\napplied: {applied}\ndetail: {detail}\ncommand_id: {}\nmailbox_path: {}\n",
            issued.command_id,
            issued.path.display()
        ))?;
    }
    if applied == "false" {
        eprintln!("error: the running daemon refused `{action}`: {detail}");
    }
    Ok(code)
}

/// `queue retry`: blocked → queue, directly or through the daemon.
fn retry(ws: &Workspace, args: &QueueRetryArgs) -> Outcome {
    if daemon_owns(ws)? {
        let command = Command::RetryItem {
            id: args.id.clone(),
            reason: args.reason.clone(),
        };
        let issued = mailbox::issue(ws, &command, "operator")?;
        return report_mailbox(ws, args.json, !args.no_wait, command.name(), &args.id, &issued);
    }
    let found = Queues::new(ws).retry(&args.id, &args.reason)?;
    // The event log is diagnostic: a failed append does not undo the retry.
    let event = crate::model::Event::WorkItemRetried {
        kind: found.kind,
        id: args.id.clone(),
        reason: args.reason.clone(),
    };
    if let Err(e) = crate::workspace::events::EventLog::open(ws).and_then(|mut log| log.record(&event)) {
        eprintln!("warning: the retry is done but was not logged: {e}");
    }
    if args.json {
        print_json(&json!({ "mode": "direct", "kind": found.kind, "id": args.id, "path": found.path }))?;
    } else {
        print(&format!(
            "mode: direct\nwork_item_kind: {}\nwork_item_id: {}\nrequeued: {}\n",
            found.kind,
            args.id,
            found.path.display()
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
        if fsx::exists(&target) {
            return Err(QueueError::IdeaExists { path: target }.into());
        }
        let command = Command::AddIdea {
            source_name: name.clone(),
            markdown,
        };
        let issued =
            mailbox::issue(ws, &command, "operator").map_err(|e| QueueError::InvalidIdea(e.to_string()))?;
        return report_mailbox(ws, args.json, !args.no_wait, "add_idea", &name, &issued);
    }
    let path = Queues::new(ws).stage_idea(&name, &markdown)?;
    if args.json {
        print_json(&json!({ "mode": "direct", "kind": "idea", "name": name, "path": path }))?;
    } else {
        print(&format!("mode: direct\nenqueued_idea: {}\n", path.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}
