//! `millrace queue repair-lineage`: show, and with `--apply` mend, work of
//! a closure target's family that is filed under another root spec.
//!
//! Input: the root spec id of a closure target. Output: the repair plan
//! (every change and every finding left alone) and the reports written
//! under `arbiter/diagnostics/lineage-repairs/`. Invariant: a preview
//! changes no document; with a daemon running, `--apply` goes through its
//! mailbox so the runtime is the only writer of the queues it owns.

use std::process::ExitCode;

use serde_json::json;

use super::{Outcome, daemon_owns, print, print_json, report_mailbox};
use crate::cli::QueueRepairLineageArgs;
use crate::model::Event;
use crate::workspace::Workspace;
use crate::workspace::mailbox::{self, Command};
use crate::workspace::queue::{Queues, Repair};

pub(super) fn repair_lineage(ws: &Workspace, args: &QueueRepairLineageArgs) -> Outcome {
    let root = &args.root_spec_id;
    if args.apply && daemon_owns(ws)? {
        let command = Command::RepairLineage {
            root_spec_id: root.clone(),
        };
        let issued = mailbox::issue(ws, &command, "operator")?;
        return report_mailbox(ws, args.json, !args.no_wait, command.name(), root, &issued);
    }
    let repair = Queues::new(ws).repair_lineage(root, args.apply)?;
    if args.apply {
        // The event log is diagnostic: a failed append does not undo the repair.
        let event = Event::ClosureLineageRepaired {
            root_spec_id: root.clone(),
            documents: repair.documents,
            changes: repair.plan.changes.len(),
        };
        if let Err(e) = crate::workspace::events::EventLog::open(ws).and_then(|mut log| log.record(&event)) {
            eprintln!("warning: the repair is done but was not logged: {e}");
        }
    }
    if args.json {
        print_json(&json!({
            "mode": "direct",
            "root_spec_id": root,
            "apply": repair.applied,
            "repaired_count": repair.documents,
            "reports": repair.reports,
            "plan": repair.plan,
        }))?;
    } else {
        print(&human(&repair))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn human(repair: &Repair) -> String {
    let plan = &repair.plan;
    let mut docs: Vec<&str> = plan.changes.iter().map(|c| c.path.as_str()).collect();
    docs.dedup();
    let mut out = format!(
        "root_spec_id: {}\napply: {}\nrepair_count: {}\nchange_count: {}\nrepaired_count: {}\nskipped_count: {}\n",
        plan.root_spec_id,
        repair.applied,
        docs.len(),
        plan.changes.len(),
        repair.documents,
        plan.skipped_findings.len()
    );
    for report in &repair.reports {
        out += &format!("repair_report: {}\n", report.display());
    }
    for c in &plan.changes {
        let old = c.old_value.as_deref().unwrap_or("none");
        out += &format!(
            "change: {} {} {} {old} -> {}\n",
            c.work_item_kind, c.work_item_id, c.field_name, c.new_value
        );
    }
    for f in &plan.skipped_findings {
        out += &format!(
            "skipped: {} {} state={}\n",
            f.work_item_kind,
            f.work_item_id,
            f.state.as_str()
        );
    }
    if plan.changes.is_empty() && plan.skipped_findings.is_empty() {
        out += "nothing to repair: no work of this family is filed under another root\n";
    } else if !repair.applied && !plan.changes.is_empty() {
        out += &format!(
            "next: millrace queue repair-lineage --root-spec-id {} --apply\n",
            plan.root_spec_id
        );
    }
    out
}
