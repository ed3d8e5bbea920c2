//! The basic monitor: one human line per runtime event worth watching
//! (`run daemon --monitor basic`, `--monitor-log`).
//!
//! Input: typed [`Event`]s as the runtime emits them. Output: lines written
//! to the writers the monitor was given. Invariants: rendering is an
//! exhaustive match, so a new event type must decide whether it is shown;
//! a writer that fails (a closed stdout) never stops the runtime.

use std::io::Write;

use jiff::Timestamp;

use crate::model::Event;
use crate::model::event::{RouteTarget, RoutingRecord, WorkItemObj};
use crate::model::governance::Blocker;

/// Where monitor lines go: any number of writers (stdout, a log file).
#[derive(Default)]
pub struct Monitor {
    sinks: Vec<Box<dyn Write>>,
}

impl Monitor {
    /// A monitor writing every line to each of `sinks`.
    pub fn to(sinks: Vec<Box<dyn Write>>) -> Self {
        Self { sinks }
    }

    pub(super) fn write(&mut self, line: &str) {
        for sink in &mut self.sinks {
            let _ = writeln!(sink, "{line}").and_then(|()| sink.flush());
        }
    }
}

/// A short, distinctive handle for a run id: its random suffix.
pub fn run_handle(run_id: &str) -> &str {
    run_id
        .rsplit('-')
        .next()
        .filter(|s| !s.is_empty())
        .unwrap_or(run_id)
}

fn work(item: &Option<WorkItemObj>) -> String {
    item.as_ref()
        .map(|w| format!(" work={}:{}", w.kind, w.id))
        .unwrap_or_default()
}

/// ` work=kind:id` from the `kind id` form some events carry.
fn work_words(item: &Option<String>) -> String {
    item.as_ref()
        .map(|w| format!(" work={}", w.replace(' ', ":")))
        .unwrap_or_default()
}

fn files(files: &[String]) -> String {
    if files.is_empty() {
        "-".to_string()
    } else {
        files.join(", ")
    }
}

/// The monitor line for an event, or `None` for events it does not show.
/// An event may show as several lines (one per governance blocker).
pub(crate) fn line(at: Timestamp, event: &Event) -> Option<String> {
    let body = body(event)?;
    let t = at.strftime("%H:%M:%S");
    let lines: Vec<String> = body.lines().map(|l| format!("[{t}] {l}")).collect();
    Some(lines.join("\n"))
}

fn body(event: &Event) -> Option<String> {
    use Event as E;
    Some(match event {
        E::RuntimeStarted { mode, plan_id, .. } => format!("runtime started mode={mode} plan={plan_id}"),
        E::RuntimeStopped { .. } => "runtime stopped".to_string(),
        E::RuntimePaused {
            source,
            applied: false,
        } => format!("already paused source={}", source.as_str()),
        E::RuntimePaused { source, .. } => format!("paused source={}", source.as_str()),
        E::RuntimeResumed {
            source,
            applied,
            still_paused_by,
        } => {
            let verb = if *applied { "resumed" } else { "not paused" };
            let still: Vec<&str> = still_paused_by.iter().map(|s| s.as_str()).collect();
            if still.is_empty() {
                format!("{verb} source={}", source.as_str())
            } else {
                format!(
                    "{verb} source={}; still paused by {}",
                    source.as_str(),
                    still.join(",")
                )
            }
        }
        E::RuntimeStopRequested { now } => format!("stop requested{}", if *now { " (now)" } else { "" }),
        E::WorkItemClaimed {
            plane,
            kind,
            id,
            run_id,
            node,
        } => format!("claim {plane} {kind}:{id} run={} at {node}", run_handle(run_id)),
        E::GateOpened {
            plane,
            node,
            run_id,
            gate_id,
            question,
            timeout_at,
        } => format!(
            "gate waiting {plane}/{node} run={} gate={gate_id}{}: {question}",
            run_handle(run_id),
            timeout_at.map(|t| format!(" timeout_at={t}")).unwrap_or_default()
        ),
        E::GateDecided {
            plane,
            node,
            run_id,
            outcome,
            by,
            waited_seconds,
            ..
        } => format!(
            "gate decided {plane}/{node} run={} {outcome} by={by} waited={waited_seconds}s",
            run_handle(run_id)
        ),
        E::StageStarted {
            plane,
            node,
            run_id,
            work_item,
            attempt,
            ..
        } => format!(
            "stage start {plane}/{node} run={}{} attempt={attempt}",
            run_handle(run_id),
            work(work_item)
        ),
        E::StageCompleted {
            plane,
            node,
            run_id,
            outcome,
            failure_class,
            duration_seconds,
            total_tokens,
            message,
            ..
        } => {
            let tokens = total_tokens.map(|t| format!(" tokens={t}")).unwrap_or_default();
            let shown = crate::model::shown_outcome(outcome, *failure_class);
            let said = message
                .as_deref()
                .map(|m| format!("\n  harness said: {m}"))
                .unwrap_or_default();
            format!(
                "stage done {plane}/{node} run={} result={shown} dur={duration_seconds:.1}s{tokens}{said}",
                run_handle(run_id)
            )
        }
        E::HarnessPaused {
            source,
            runner,
            failure_class,
            message,
            resume_at,
            ..
        } => {
            let until = resume_at
                .map(|t| format!(" until {t}"))
                .unwrap_or_else(|| " until `millrace resume` (fix the harness first)".into());
            format!(
                "paused source={} runner={runner} class={failure_class}{until}\n  harness said: {message}",
                source.as_str()
            )
        }
        E::StageRetryScheduled {
            plane,
            node,
            attempt,
            retry_at,
            failure_class,
            ..
        } => format!(
            "retry {plane}/{node} after {} at {retry_at} (attempt {attempt}, not charged)",
            failure_class.as_str()
        ),
        E::RouterDecision(record) => route_line(record),
        E::WorkItemBlocked {
            plane,
            work_item,
            reason,
            ..
        } => format!("blocked {plane}{} reason={reason}", work_words(work_item)),
        E::WorkItemRequeued {
            plane,
            work_item,
            reason,
        } => format!("requeued {plane}{} reason={reason}", work_words(work_item)),
        E::WorkItemRetried { kind, id, reason } => format!("retried blocked {kind}:{id} reason={reason}"),
        E::HandoffIncidentEnqueued { incident_id, from } => {
            format!("incident {incident_id} filed from run={}", run_handle(from))
        }
        E::LearningRequestEnqueued {
            rule_id,
            learning_request_id,
            target_stage,
        } => format!("learning request {learning_request_id} -> {target_stage} rule={rule_id}"),
        E::LearningRequestsStranded { queued, mode } => {
            format!("{queued} learning request(s) wait: mode {mode} has no learning plane")
        }
        E::LearningPromotionDeferred { files: f, .. } => {
            format!(
                "skill update deferred until foreground stages finish: {}",
                files(f)
            )
        }
        E::LearningPromotionApplied { files: f, .. } => format!("skill update landed: {}", files(f)),
        E::LearningPromotionRejected { reason, .. } => {
            format!("skill update rejected: {}", reason.as_deref().unwrap_or("-"))
        }
        E::ClosurePassStarted {
            root_spec_id,
            attempt,
            limit,
            ..
        } => format!("closure pass {root_spec_id} attempt={attempt}/{limit}"),
        E::ClosurePassed { root_spec_id, .. } => format!("closure passed {root_spec_id}"),
        E::ClosureLineageDriftDetected {
            root_spec_id,
            work_ids,
        } => format!(
            "closure held {root_spec_id}: lineage drift {}; fix: millrace queue repair-lineage --root-spec-id {root_spec_id} --apply",
            work_ids.join(",")
        ),
        E::ClosureLineageRepaired {
            root_spec_id,
            documents,
            ..
        } => format!("lineage repaired {root_spec_id} documents={documents}"),
        E::ClosureNotPassed {
            root_spec_id, class, ..
        } => format!("closure not passed {root_spec_id} class={class}"),
        E::ClosureAttemptsExhausted { root_spec_id, .. } => {
            format!("closure gave up {root_spec_id} after its attempts")
        }
        E::StageInterrupted {
            plane, node, reason, ..
        } => format!("interrupted {plane} {node} ({reason})"),
        E::StageNotStarted {
            plane, node, reason, ..
        } => format!("not started {plane} {node} ({reason})"),
        E::WorkItemFuelExhausted { plane, run_id, .. } => {
            format!("fuel exhausted {plane} run={}", run_handle(run_id))
        }
        E::RuntimePostStageError {
            plane, code, repair, ..
        } => format!(
            "runtime error {plane} {code} -> {}",
            repair.as_deref().unwrap_or("-")
        ),
        E::RuntimeIdle { .. } => "idle".to_string(),
        E::RuntimeConfigReloaded { plan_id, .. } => format!("config reloaded plan={plan_id}"),
        E::RuntimeConfigReloadFailed { plan_id, error } => {
            format!("config reload failed; kept plan={plan_id} ({error})")
        }
        E::RuntimeConfigReloadDeferred { reason, .. } => format!("config reload deferred: {reason}"),
        E::RunnerUnavailable { runner, message } => format!("runner {runner} unavailable; paused: {message}"),
        E::JournalReplayed { .. } => "finished an interrupted transition".to_string(),
        E::OrphanReturned { kind, id, .. } => format!("returned orphaned {kind} {id} to its queue"),
        E::UsageGovernancePaused { blockers } => governance_pause(blockers),
        E::UsageGovernanceResumed { cleared_rules } => {
            let rules = if cleared_rules.is_empty() {
                "none".to_string()
            } else {
                cleared_rules.join(",")
            };
            format!("governance resume cleared_rules={rules}")
        }
        E::UsageGovernanceDegraded {
            source,
            policy,
            detail,
        } => format!(
            "governance degraded source={source} policy={policy} detail={}",
            detail.as_deref().unwrap_or("-")
        ),
        E::UsageQuotaExhausted { resets_at, .. } => format!("quota exhausted; paused until {resets_at}"),
        E::LockTakenOver { pid, .. } => format!("took over a dead owner's lock (pid {pid})"),
        // A refused command is something an operator asked for and did not
        // get: never silent.
        E::MailboxCommandApplied { command, ok: false } => {
            format!("mailbox command {command} refused (its reason is in state/mailbox/failed/)")
        }
        // Kept in the event log only: bookkeeping an operator need not watch.
        E::RuntimeSignal { .. }
        | E::RetryActiveSkipped { .. }
        | E::StaleStateCleared { .. }
        | E::MailboxUnreadable { .. }
        | E::MailboxArchiveFailed { .. }
        | E::MailboxCommandApplied { ok: true, .. }
        | E::IdeaNormalizedToSpec { .. }
        | E::IdeaIntakeFailed { .. }
        | E::ClaimReturned { .. }
        | E::ClaimFailed { .. }
        | E::OrphanReturnFailed { .. }
        | E::StageResultIgnored { .. }
        | E::OrphanedHarnessKilled { .. }
        | E::SkillEvidenceFailed { .. }
        | E::WorkItemFinished { .. }
        | E::WorkItemBudgetExhausted { .. }
        | E::WorkItemMissing { .. }
        | E::EffectFailed { .. }
        | E::ClosureTargetOpened { .. }
        | E::ClosureSeedIdeaMissing { .. }
        | E::ClosureTargetsConflict { .. }
        | E::UsageGovernanceBlocked(_)
        | E::UsageGovernanceTimezoneUnknown { .. }
        | E::UsageGovernanceStateUnreadable { .. }
        | E::UsageGovernanceStateWriteFailed { .. }
        | E::UsageGovernanceLedgerLineSkipped { .. }
        | E::UsageGovernanceLedgerReconciled { .. }
        | E::UsageGovernanceLedgerAppendFailed { .. }
        | E::UsageGovernanceLedgerUnreadable { .. } => return None,
    })
}

/// One line per blocker: what it measures, its limit, and when it lifts.
fn governance_pause(blockers: &[Blocker]) -> String {
    if blockers.is_empty() {
        return "governance pause".into();
    }
    let lines: Vec<String> = blockers
        .iter()
        .map(|b| {
            let window = if b.window.is_empty() { "-" } else { &b.window };
            let resume = b.resume_at.map(|t| t.to_string()).unwrap_or_else(|| "none".into());
            format!(
                "governance pause source={} rule={} window={window} observed={} threshold={} next_resume={resume}",
                b.source, b.rule_id, b.observed, b.threshold,
            )
        })
        .collect();
    lines.join("\n")
}

fn route_line(record: &RoutingRecord) -> String {
    let (plane, reason) = (record.plane, &record.reason);
    match &record.target {
        RouteTarget::Node { node } => format!("route {plane} -> {node} reason={reason}"),
        RouteTarget::Terminal { terminal, class } => {
            format!("route {plane} done at {terminal} ({class}) reason={reason}")
        }
    }
}

#[cfg(test)]
mod tests;
