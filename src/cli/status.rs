//! `millrace status`: what the runtime is doing, as stable `key: value`
//! lines or one JSON object. Never compiles, never takes the lock.

use std::process::ExitCode;

use super::{Context, Outcome, StatusArgs, print, print_json};
use crate::plan::Plane;
use crate::runtime::status::{self, StatusReport};
use crate::workspace::Workspace;
use crate::workspace::plan_store::Currentness;

pub(super) fn run(args: &StatusArgs, cx: &Context) -> Outcome {
    let mut all = vec![Workspace::open(cx.cli_workspace.as_deref())?];
    for path in &args.also {
        let ws = Workspace::open(Some(path))?;
        if all.iter().all(|w| w.root() != ws.root()) {
            all.push(ws);
        }
    }
    let mut updates = 0u64;
    loop {
        show(&all, args)?;
        updates += 1;
        if !args.watch || args.max_updates.is_some_and(|m| updates >= m) {
            return Ok(ExitCode::SUCCESS);
        }
        std::thread::sleep(std::time::Duration::from_secs_f64(args.interval));
        if !args.json {
            print("\n")?;
        }
    }
}

/// One update: every workspace's block (blank-line separated), or JSON.
fn show(all: &[Workspace], args: &StatusArgs) -> Result<(), super::OutputError> {
    let reports: Vec<StatusReport> = all.iter().map(status::report_recording).collect();
    match (args.json, args.watch) {
        (true, true) => {
            let line = serde_json::json!({"updated_at": jiff::Timestamp::now(), "workspaces": reports});
            print(&format!("{line}\n"))
        }
        (true, false) if reports.len() == 1 => print_json(&reports[0]),
        (true, false) => print_json(&reports),
        (false, _) => {
            let blocks: Vec<String> = reports.iter().map(render).collect();
            print(&blocks.join("\n"))
        }
    }
}

fn or_none(value: Option<&str>) -> &str {
    value.unwrap_or("none")
}

fn render(r: &StatusReport) -> String {
    let mut out = Lines::default();
    out.put("workspace", &r.workspace);
    out.put("runtime_mode", &r.runtime_mode);
    out.put("process_running", r.process_running);
    out.put("runtime_ownership_lock", r.lock.state.as_str());
    let owner = r.lock.owner_pid.map(|pid| {
        format!(
            "pid={pid} host={} session={}",
            or_none(r.lock.owner_hostname.as_deref()),
            or_none(r.lock.owner_session_id.as_deref())
        )
    });
    out.put("runtime_ownership_lock_owner", or_none(owner.as_deref()));
    out.put("paused", r.paused);
    let sources = if r.pause_sources.is_empty() {
        "none".into()
    } else {
        r.pause_sources.join(",")
    };
    out.put("pause_sources", sources);
    for item in &r.attention {
        out.put("attention", format!("{}: {}", item.code, item.reason));
        out.put("fix", &item.fix);
    }
    // A refused command is said by the command that issued it; this is the
    // record for whoever did not wait or was not there.
    if r.mailbox_refused > 0 {
        out.put("mailbox_refused_last_day", r.mailbox_refused);
    }
    for refusal in &r.mailbox_refusals {
        let at = refusal.archived_at.map_or("none".into(), |t| t.to_string());
        out.put(
            "mailbox_refused",
            format!(
                "{} {} at={at} error={}",
                refusal.command, refusal.command_id, refusal.error
            ),
        );
    }
    out.put("stop_requested", r.stop_requested);
    out.put("mode_id", or_none(r.mode_id.as_deref()));
    out.put("running_plan_id", or_none(r.running_plan_id.as_deref()));
    out.put("compiled_plan_id", or_none(r.plan.plan_id.as_deref()));
    out.put("compiled_plan_mode", or_none(r.plan.mode.as_deref()));
    out.put("compiled_plan_currentness", r.plan.currentness.as_str());
    match &r.plan.currentness {
        Currentness::Stale { reasons } => reasons
            .iter()
            .for_each(|why| out.put("compiled_plan_stale_reason", why)),
        Currentness::Invalid { detail } => out.put("compiled_plan_error", detail),
        _ => {}
    }
    for plane in Plane::ALL {
        let depth = r.queues.get(plane).map_or(0, |q| q.depth);
        out.put(&format!("{plane}_queue_depth"), depth);
    }
    for plane in Plane::ALL {
        let active = r
            .queues
            .get(plane)
            .map(|q| q.active.join(","))
            .filter(|s| !s.is_empty());
        out.put(&format!("{plane}_active"), or_none(active.as_deref()));
    }
    for plane in Plane::ALL {
        let marker = r
            .status_markers
            .get(plane)
            .cloned()
            .flatten()
            .map(|t| format!("### {t}"));
        out.put(&format!("{plane}_status_marker"), or_none(marker.as_deref()));
    }
    active_runs(r, &mut out);
    governance(r, &mut out);
    closure(r, &mut out);
    out.put(
        "learning_promotions_deferred",
        r.learning_promotions_deferred.len(),
    );
    out.put("quarantined_count", r.quarantined.len());
    for q in &r.quarantined {
        let line = format!("{} reason={}", q.path.display(), or_none(q.reason.as_deref()));
        out.put("quarantined", line);
    }
    out.put("last_terminal_result", or_none(r.last_terminal_result.as_deref()));
    out.put("config_version", or_none(r.config_version.as_deref()));
    out.put("last_reload_outcome", or_none(r.last_reload_outcome.as_deref()));
    out.put("last_reload_error", or_none(r.last_reload_error.as_deref()));
    out.put("tick", r.tick);
    for problem in &r.problems {
        out.put("problem", problem);
    }
    out.text
}

fn active_runs(r: &StatusReport, out: &mut Lines) {
    out.put("active_run_count", r.active_runs.len());
    let limit = r.fuel_limit.map_or("none".to_string(), |l| l.to_string());
    for run in &r.active_runs {
        let item = run
            .work_item
            .as_ref()
            .map(|w| format!("{}:{}", w.kind, w.id))
            .or_else(|| {
                run.closure_root_spec_id
                    .as_ref()
                    .map(|root| format!("closure:{root}"))
            });
        let counters: Vec<String> = run.counters.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let line = format!(
            "plane={} node={} stage={} request_kind={} work_item={} run={} since={} stage_runs={}/{limit} counters={} interruptions={}",
            run.plane,
            run.node,
            run.stage,
            run.request_kind.as_str(),
            or_none(item.as_deref()),
            run.run_id,
            run.active_since,
            run.stage_runs,
            if counters.is_empty() {
                "none".into()
            } else {
                counters.join(",")
            },
            run.interruptions,
        );
        out.put("active_run", line);
        if let Some(at) = run.retry_at {
            let line = format!(
                "plane={} node={} retry_at={at} transient_failures={}",
                run.plane, run.node, run.transient_failures
            );
            out.put("retry_scheduled", line);
        }
    }
    out.put("gate_waiting_count", r.gates.len());
    for g in &r.gates {
        let line = format!(
            "gate={} plane={} node={} work_item={} waited={} timeout_at={} question={}",
            g.gate.gate_id,
            g.gate.plane,
            g.gate.node,
            or_none(g.gate.work_item.as_deref()).replace(' ', ":"),
            super::gate::waited_words(g.waited_seconds),
            g.gate.timeout_at.map_or("none".to_string(), |t| t.to_string()),
            g.gate.question,
        );
        out.put("gate_waiting", line);
    }
}

fn governance(r: &StatusReport, out: &mut Lines) {
    let g = &r.usage_governance;
    let time = |t: Option<jiff::Timestamp>| t.map_or("none".to_string(), |t| t.to_string());
    out.put("usage_governance_enabled", g.enabled);
    out.put("usage_governance_paused", g.paused);
    out.put("usage_governance_blocker_count", g.blocker_count);
    out.put("usage_governance_auto_resume_possible", g.auto_resume_possible);
    out.put(
        "usage_governance_next_auto_resume_at",
        time(g.next_auto_resume_at),
    );
    out.put("usage_governance_subscription_status", &g.subscription_status);
    if let Some(detail) = &g.subscription_detail {
        out.put("usage_governance_subscription_detail", detail);
    }
    for b in &g.blockers {
        let line = format!(
            "source={} rule={} window={} observed={} threshold={} next_resume={}",
            b.source,
            b.rule_id,
            b.window,
            b.observed,
            b.threshold,
            time(b.next_auto_resume_at)
        );
        out.put("usage_governance_blocker", line);
    }
}

fn closure(r: &StatusReport, out: &mut Lines) {
    let c = &r.closure;
    out.put(
        "closure_target_root_spec_id",
        or_none(c.open_root_spec_id.as_deref()),
    );
    out.put(
        "closure_target_attempts",
        c.attempts.map_or("none".into(), |a| a.to_string()),
    );
    let blocked = c.blocked_by_lineage_work.map_or("none".into(), |b| b.to_string());
    out.put("closure_target_blocked_by_lineage_work", blocked);
    out.put("closure_target_open_count", c.open_count);
    out.put("closure_target_invalid_count", c.invalid_count);
    let Some(bp) = &r.backpressure else { return };
    for h in &bp.holders {
        let reason = h.reason.as_deref().unwrap_or("none");
        out.put(
            "closure_target_held_by",
            format!("{}:{} state=blocked reason={reason}", h.kind, h.id),
        );
    }
    for f in &bp.drift {
        let root = f.actual_root_spec_id.as_deref().unwrap_or("none");
        out.put(
            "closure_target_drift",
            format!(
                "{}:{} state={} root_spec_id={root} reason={}",
                f.work_item_kind,
                f.work_item_id,
                f.state.as_str(),
                f.diagnostic_reason.as_str()
            ),
        );
    }
    // Claims are limited to the open target's lineage: everything else
    // queued waits, and says so.
    if bp.waiting > 0 {
        let more = if bp.waiting > bp.waiting_ids.len() {
            ",..."
        } else {
            ""
        };
        out.put(
            "closure_target_holds_back",
            format!(
                "{} queued item(s) of other roots: {}{more}",
                bp.waiting,
                bp.waiting_ids.join(",")
            ),
        );
    }
}

/// `key: value` lines.
#[derive(Default)]
struct Lines {
    text: String,
}

impl Lines {
    fn put(&mut self, key: &str, value: impl std::fmt::Display) {
        self.text.push_str(key);
        self.text.push_str(": ");
        self.text.push_str(&value.to_string());
        self.text.push('\n');
    }
}
