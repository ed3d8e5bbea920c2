//! `millrace queue show <ID>`: one work item wherever it is: its state, its
//! lineage, every reason it was blocked, its last run and stage, and the
//! command that frees it.
//!
//! Input: a work item id. Output: `key: value` lines or one JSON value.
//! Invariant: read-only; a document that does not parse is still shown
//! (its error instead of its fields).

use std::process::ExitCode;

use serde_json::json;

use super::{Outcome, print, print_json};
use crate::cli::QueueShowArgs;
use crate::model::{QueueState, WorkDocument};
use crate::runtime::run_handle;
use crate::workspace::queue::{QueueError, Queues};
use crate::workspace::runs::{self, RunView};
use crate::workspace::{Workspace, layout};

pub(super) fn show(ws: &Workspace, args: &QueueShowArgs) -> Outcome {
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
    let state = layout::state_dir_name(found.kind, found.state);
    let blocked = queues.block_reasons(found.kind, &args.id).unwrap_or_default();
    // Runs are history: an unreadable runs directory costs this section only.
    let item_runs: Vec<RunView> = runs::list(ws)
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.work_item_id.as_deref() == Some(args.id.as_str()))
        .collect();
    let last = item_runs.last();
    let last_stage = last.and_then(|r| r.stages.last());
    if args.json {
        print_json(&json!({
            "id": args.id, "kind": found.kind, "state": state, "path": found.path,
            "title": title, "root_spec_id": root_spec, "root_idea_id": root_idea,
            "error": error, "document": loaded.as_ref().ok().map(WorkDocument::to_json),
            "blocked": blocked,
            "run_count": item_runs.len(),
            "last_run": last.map(|r| json!({
                "run_id": r.run_id, "status": r.status, "terminal_result": r.terminal_result,
                "failure_class": r.failure_class, "started_at": r.started_at,
            })),
            "last_stage": last_stage.map(|s| &s.result),
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    let none = |v: Option<&str>| v.unwrap_or("none").to_string();
    let mut text = format!(
        "work_item_id: {}\nwork_item_kind: {}\nwork_item_state: {state}\npath: {}\ntitle: {}\nroot_spec_id: {}\nroot_idea_id: {}\n",
        args.id,
        found.kind,
        found.path.display(),
        none(title.as_deref()),
        none(root_spec.as_deref()),
        none(root_idea.as_deref()),
    );
    if let Some(error) = error {
        text += &format!("error: {error}\n");
    }
    for record in &blocked {
        text += &format!("blocked_at: {} reason={}\n", record.at, record.reason);
    }
    text += &format!("run_count: {}\n", item_runs.len());
    if let Some(run) = last {
        text += &format!(
            "last_run: {} status={} terminal={} failure_class={}\n",
            run_handle(&run.run_id),
            run.status.as_str(),
            none(run.terminal_result.as_deref()),
            none(run.failure_class.as_deref()),
        );
    }
    if let Some(stage) = last_stage {
        let r = &stage.result;
        text += &format!(
            "last_stage: {} outcome={} class={}{}\n",
            none(r.node.as_deref()),
            r.terminal_result,
            none(r.result_class.as_deref()),
            r.report_artifact
                .as_deref()
                .map(|a| format!(" report={a}"))
                .unwrap_or_default(),
        );
        if let Some(note) = r.notes.first() {
            text += &format!("last_stage_note: {note}\n");
        }
    }
    if let Some(run) = last {
        text += &format!("runs: millrace runs show {}\n", run_handle(&run.run_id));
    }
    if found.state == QueueState::Blocked {
        text += &format!(
            "fix: millrace queue retry {} (once the reason is dealt with)\n",
            args.id
        );
    }
    print(&text)?;
    Ok(ExitCode::SUCCESS)
}
