//! What stops progress until an operator acts, and the command that fixes
//! it: the one list `status`, `doctor` and `run --exit-when-idle` share.
//!
//! Input: the snapshot. Output: [`Attention`] items, each with a code, the
//! reason in the harness's or runtime's own words, and the fix. Invariant:
//! every pause that does not lift by itself is listed; one that does (a
//! quota reset, a provider retried later) is listed with when.

use serde::Serialize;

use crate::model::{HarnessPause, PauseSource, Snapshot};
use crate::workspace::queue::Backpressure;

/// One thing an operator must see.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Attention {
    /// `mill::runtime::harness_failed`, ...
    pub code: String,
    pub reason: String,
    /// The command (or action, then command) that fixes it.
    pub fix: String,
    /// Whether it lifts by itself (then `fix` is optional).
    pub lifts_by_itself: bool,
}

/// Everything in `snapshot` that holds the runtime.
pub fn attention(snapshot: &Snapshot) -> Vec<Attention> {
    let mut items = Vec::new();
    for source in &snapshot.pause_sources {
        match source {
            PauseSource::Operator => items.push(Attention {
                code: "mill::runtime::operator_paused".into(),
                reason: "paused by the operator (`millrace pause`)".into(),
                fix: "millrace resume".into(),
                lifts_by_itself: false,
            }),
            PauseSource::HarnessFailed | PauseSource::HarnessMissing => {
                if let Some(pause) = snapshot.harness_pause.as_ref().filter(|p| p.source == *source) {
                    items.push(harness(pause));
                }
            }
            PauseSource::UsageGovernance => {}
        }
    }
    items
}

/// Whether nothing can move until an operator acts: paused, and no source
/// of the pause lifts by itself.
pub fn needs_operator(snapshot: &Snapshot) -> Option<Attention> {
    if !snapshot.paused() || snapshot.pause_sources.contains(&PauseSource::UsageGovernance) {
        return None;
    }
    let items = attention(snapshot);
    if items.iter().any(|a| a.lifts_by_itself) {
        return None;
    }
    items.into_iter().next()
}

/// A closure target whose lineage can only move once an operator retries
/// its blocked work: everything queued behind it waits too.
pub fn lineage_attention(bp: &Backpressure) -> Option<Attention> {
    if !bp.stuck() {
        return None;
    }
    if !bp.drift.is_empty() {
        return Some(drift_attention(bp));
    }
    let holders: Vec<String> = bp
        .holders
        .iter()
        .map(|h| match &h.reason {
            Some(reason) => format!("{}:{} ({reason})", h.kind, h.id),
            None => format!("{}:{}", h.kind, h.id),
        })
        .collect();
    let behind = match bp.waiting {
        0 => String::new(),
        n => format!("; {n} queued item(s) of other roots wait behind it"),
    };
    let first = &bp.holders[0].id;
    Some(Attention {
        code: "mill::runtime::lineage_blocked".into(),
        reason: format!(
            "closure target {} cannot close: its only open work is blocked: {}{behind}",
            bp.root_spec_id,
            holders.join(", ")
        ),
        fix: format!("millrace queue show {first} (why), then millrace queue retry {first}"),
        lifts_by_itself: false,
    })
}

/// A gate waiting for a decision; one with a timeout decides itself.
pub(crate) fn gate(g: &super::status::GateStatus) -> Attention {
    Attention {
        code: "mill::gate::waiting".into(),
        reason: format!(
            "gate `{}` ({}) waits for a decision: {}",
            g.gate.node, g.gate.plane, g.gate.question
        ),
        fix: format!(
            "millrace gate decide {} <{}>",
            g.gate.gate_id,
            g.gate.outcomes.join("|")
        ),
        lifts_by_itself: g.gate.timeout_at.is_some(),
    }
}

/// Family work filed under another root: relabelling it is the fix.
fn drift_attention(bp: &Backpressure) -> Attention {
    let items: Vec<String> = bp
        .drift
        .iter()
        .map(|f| {
            let root = f.actual_root_spec_id.as_deref().unwrap_or("none");
            format!(
                "{}:{} (root {root}, {})",
                f.work_item_kind,
                f.work_item_id,
                f.state.as_str()
            )
        })
        .collect();
    Attention {
        code: "mill::runtime::lineage_drift".into(),
        reason: format!(
            "closure target {} waits for work of its family filed under another root spec: {}",
            bp.root_spec_id,
            items.join(", ")
        ),
        fix: format!(
            "millrace queue repair-lineage --root-spec-id {} (preview), then the same with --apply",
            bp.root_spec_id
        ),
        lifts_by_itself: false,
    }
}

fn harness(pause: &HarnessPause) -> Attention {
    let at = format!("{}/{}", pause.plane, pause.node);
    if pause.source == PauseSource::HarnessMissing {
        let fix = match &pause.program {
            Some(program) => crate::runners::missing_help(&pause.runner, program),
            None => format!("fix runner {}'s settings in millrace.toml", pause.runner),
        };
        return Attention {
            code: "mill::runtime::harness_missing".into(),
            reason: format!("stage {} ({at}) cannot start: {}", pause.stage, pause.message),
            fix: format!("{fix}, then `millrace resume`"),
            lifts_by_itself: false,
        };
    }
    let reason = format!(
        "runner {} failed with {} at {at}; the harness said: {}",
        pause.runner, pause.failure_class, pause.message
    );
    let (fix, lifts) = match pause.resume_at {
        Some(at) => (
            format!("nothing: it tries again at {at}; `millrace resume` tries now"),
            true,
        ),
        None => (format!("{}, then `millrace resume`", remedy(pause)), false),
    };
    Attention {
        code: "mill::runtime::harness_failed".into(),
        reason,
        fix,
        lifts_by_itself: lifts,
    }
}

/// What to do about a harness that cannot work, from its own words.
fn remedy(pause: &HarnessPause) -> String {
    let words = pause.message.to_lowercase();
    let run = pause.run_id.as_deref().unwrap_or("<run>");
    if words.contains("root/sudo") {
        return "set `IS_SANDBOX = \"1\"` in [runners.claude.env] (a sandboxed container) or \
                `permission_mode = \"acceptEdits\"` in [runners.claude]"
            .into();
    }
    if pause.failure_class == "harness_stalled" {
        return format!(
            "check the harness's network and provider (`millrace runs show {run}` has its last words)"
        );
    }
    let credentials = ["key", "auth", "401", "403", "log in", "login", "credential"];
    if credentials.iter().any(|w| words.contains(w)) {
        return format!(
            "fix {}'s credentials (log it in, or set a valid API key)",
            pause.runner
        );
    }
    if words.contains("billing") || words.contains("quota") || words.contains("credit") {
        return format!("add credit to the account {} uses", pause.runner);
    }
    format!("fix the harness (`millrace runs show {run}` has what it printed)")
}
