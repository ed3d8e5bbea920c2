//! `millrace queue add-task|add-spec|add-idea|ls|show|retry|repair-lineage`.
//!
//! Adding validates the document completely first. When a daemon owns the
//! workspace (an active lock), additions go through its mailbox instead of
//! touching the queues.

mod lineage;

use std::process::ExitCode;

use std::collections::BTreeMap;
use std::io::Write;

use serde::Serialize;
use serde_json::json;

use super::{
    AddArgs, Context, Outcome, OutputError, QueueCommand, QueueLsArgs, QueueRetryArgs, QueueShowArgs, print,
    print_json,
};
use crate::model::{QueueState, WorkDocument};
use crate::plan::{Plane, WorkItemKind};
use crate::runtime::status;
use crate::workspace::lock::{self, LockState};
use crate::workspace::mailbox::{self, Command};
use crate::workspace::queue::{Entry, QueueError, Queues, plane_kinds, quarantine};
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
        QueueCommand::Ls(args) => ls(&ws, &args),
        QueueCommand::Show(args) => show(&ws, &args),
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

/// One queued item of `queue ls --all --json`.
#[derive(Serialize)]
struct QueuedItem<'a> {
    kind: WorkItemKind,
    id: &'a str,
    claim_time: Option<jiff::Timestamp>,
    eligible: bool,
    /// The open closure target it waits for (claims keep to its lineage).
    #[serde(skip_serializing_if = "Option::is_none")]
    held_back_by: Option<&'a str>,
    root_spec_id: Option<&'a str>,
    depends_on: &'a [String],
}

/// One plane of `queue ls --json`.
#[derive(Serialize)]
struct PlaneListing<'a> {
    depth: usize,
    active: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    queued: Option<Vec<QueuedItem<'a>>>,
}

fn ls(ws: &Workspace, args: &QueueLsArgs) -> Outcome {
    let queues = Queues::new(ws);
    // With --all the indexes are refreshed first, which quarantines
    // malformed files before anything is counted.
    let mut ordered: Vec<(WorkItemKind, Vec<(Entry, bool)>)> = Vec::new();
    if args.all {
        for plane in Plane::ALL {
            for kind in plane_kinds(*plane) {
                ordered.push((*kind, queues.queued_in_order(*kind)?));
            }
        }
    }
    let open_root = match args.all {
        true => queues.backpressure()?.map(|bp| bp.root_spec_id),
        false => None,
    };
    let mut problems = Vec::new();
    let (views, quarantined) = status::queues(ws, &mut problems);
    if let Some(problem) = problems.into_iter().next() {
        return Err(QueueError::Unreadable(problem).into());
    }
    let mut planes = BTreeMap::new();
    for (plane, view) in views {
        let mut listing = PlaneListing {
            depth: view.depth,
            active: view.active,
            queued: args.all.then(Vec::new),
        };
        for kind in plane_kinds(plane) {
            let items = ordered
                .iter()
                .filter(|(k, _)| k == kind)
                .flat_map(|(_, items)| items);
            if let Some(queued) = &mut listing.queued {
                queued.extend(items.map(|(entry, eligible)| {
                    // Learning requests are never held back by a target.
                    let held_back_by = open_root
                        .as_deref()
                        .filter(|r| plane != Plane::Learning && entry.root() != Some(*r));
                    QueuedItem {
                        kind: *kind,
                        id: entry.id(),
                        claim_time: entry.claim_time(),
                        eligible: *eligible && held_back_by.is_none(),
                        held_back_by,
                        root_spec_id: entry.root(),
                        depends_on: entry.depends_on(),
                    }
                }));
            }
        }
        planes.insert(plane, listing);
    }
    // Listings of 10,000 items are streamed, not built in memory first.
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let written = if args.json {
        let listing = Listing {
            planes: &planes,
            quarantined: &quarantined,
        };
        serde_json::to_writer_pretty(&mut out, &listing)
            .map_err(std::io::Error::from)
            .and_then(|()| out.write_all(b"\n"))
    } else {
        write_ls_text(&mut out, &planes, &quarantined)
    };
    written.and_then(|()| out.flush()).map_err(output_error)?;
    Ok(ExitCode::SUCCESS)
}

/// The whole `queue ls --json` document.
#[derive(Serialize)]
struct Listing<'a> {
    planes: &'a BTreeMap<Plane, PlaneListing<'a>>,
    quarantined: &'a [quarantine::Quarantined],
}

fn output_error(e: std::io::Error) -> OutputError {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        OutputError::BrokenPipe
    } else {
        OutputError::Io(e)
    }
}

fn write_ls_text(
    out: &mut impl Write,
    planes: &BTreeMap<Plane, PlaneListing<'_>>,
    quarantined: &[quarantine::Quarantined],
) -> std::io::Result<()> {
    for (plane, listing) in planes {
        writeln!(out, "{plane}_queue_depth: {}", listing.depth)?;
        writeln!(out, "{plane}_active: {}", join_or_none(&listing.active))?;
    }
    writeln!(out, "quarantined: {}", quarantined.len())?;
    for q in quarantined {
        let reason = q.reason.as_deref().unwrap_or("none");
        writeln!(out, "quarantined_file: {} reason={reason}", q.path.display())?;
    }
    for item in planes.values().flat_map(|l| l.queued.iter().flatten()) {
        let at = item.claim_time.map(|t| t.to_string());
        let held = item
            .held_back_by
            .map(|r| format!(" held_back_by={r}"))
            .unwrap_or_default();
        writeln!(
            out,
            "queued: {} {} at={} eligible={}{held} root={} depends_on={}",
            item.kind,
            item.id,
            at.as_deref().unwrap_or("none"),
            item.eligible,
            item.root_spec_id.unwrap_or("none"),
            join_or_none(item.depends_on),
        )?;
    }
    Ok(())
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
    let blocked = queues.block_reasons(found.kind, &args.id).unwrap_or_default();
    if args.json {
        print_json(&json!({
            "id": args.id, "kind": found.kind, "state": state, "path": found.path,
            "title": title, "root_spec_id": root_spec, "root_idea_id": root_idea,
            "error": error, "document": loaded.as_ref().ok().map(WorkDocument::to_json),
            "blocked": blocked,
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
        for record in &blocked {
            text.push_str(&format!("blocked_at: {} reason={}\n", record.at, record.reason));
        }
        if found.state == QueueState::Blocked {
            text.push_str(&format!(
                "fix: millrace queue retry {} (once the reason is dealt with)\n",
                args.id
            ));
        }
        print(&text)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The directory name of a state (`queue`, `incoming`, `resolved`, ...).
fn state_dir_label(kind: WorkItemKind, state: QueueState) -> &'static str {
    crate::workspace::layout::state_dir_name(kind, state)
}
