//! The basic monitor: one human line per runtime event worth watching
//! (`run daemon --monitor basic`, `--monitor-log`). Pure rendering; the
//! driver writes the lines.

use std::io::Write;

use jiff::Timestamp;
use serde_json::Value;

/// Where monitor lines go: any number of writers (stdout, a log file). A
/// writer that fails (a closed stdout) never stops the runtime.
#[derive(Default)]
pub struct Monitor {
    sinks: Vec<Box<dyn Write>>,
}

impl Monitor {
    /// A monitor writing every line to each of `sinks`.
    pub fn to(sinks: Vec<Box<dyn Write>>) -> Self {
        Self { sinks }
    }

    pub(super) fn write(&mut self, at: Timestamp, event_type: &str, data: &Value) {
        let Some(line) = line(at, event_type, data) else {
            return;
        };
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

fn s<'a>(data: &'a Value, key: &str) -> &'a str {
    data.get(key).and_then(Value::as_str).unwrap_or("-")
}

/// A promotion's files, comma-separated.
fn files(data: &Value) -> String {
    let names: Vec<&str> = data
        .get("files")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if names.is_empty() {
        "-".to_string()
    } else {
        names.join(", ")
    }
}

fn work(data: &Value) -> String {
    match data.get("work_item") {
        Some(Value::Object(w)) => format!(
            " work={}:{}",
            w.get("kind").and_then(Value::as_str).unwrap_or("?"),
            w.get("id").and_then(Value::as_str).unwrap_or("?")
        ),
        Some(Value::String(w)) => format!(" work={}", w.replace(' ', ":")),
        _ => String::new(),
    }
}

/// The monitor line for an event, or `None` for events it does not show.
pub fn line(at: Timestamp, event_type: &str, data: &Value) -> Option<String> {
    let body = match event_type {
        "runtime_started" => format!(
            "runtime started mode={} plan={}",
            s(data, "mode"),
            s(data, "plan_id")
        ),
        "runtime_stopped" => "runtime stopped".to_string(),
        "runtime_paused" if data.get("applied") == Some(&Value::Bool(false)) => {
            format!("already paused source={}", s(data, "source"))
        }
        "runtime_paused" => format!("paused source={}", s(data, "source")),
        "runtime_resumed" => {
            let still: Vec<&str> = data
                .get("still_paused_by")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let verb = if data.get("applied") == Some(&Value::Bool(false)) {
                "not paused"
            } else {
                "resumed"
            };
            if still.is_empty() {
                format!("{verb} source={}", s(data, "source"))
            } else {
                format!(
                    "{verb} source={}; still paused by {}",
                    s(data, "source"),
                    still.join(",")
                )
            }
        }
        "runtime_stop_requested" => {
            let now = data.get("now").and_then(Value::as_bool).unwrap_or(false);
            format!("stop requested{}", if now { " (now)" } else { "" })
        }
        "work_item_claimed" => format!(
            "claim {} {}:{} run={} at {}",
            s(data, "plane"),
            s(data, "kind"),
            s(data, "id"),
            run_handle(s(data, "run_id")),
            s(data, "node")
        ),
        "stage_started" => format!(
            "stage start {}/{} run={}{} attempt={}",
            s(data, "plane"),
            s(data, "node"),
            run_handle(s(data, "run_id")),
            work(data),
            data.get("attempt").and_then(Value::as_u64).unwrap_or(0)
        ),
        "stage_completed" => {
            let tokens = data
                .get("total_tokens")
                .and_then(Value::as_u64)
                .map(|t| format!(" tokens={t}"))
                .unwrap_or_default();
            let failure = data
                .get("failure_class")
                .and_then(Value::as_str)
                .map(|f| format!(" failure={f}"))
                .unwrap_or_default();
            format!(
                "stage done {}/{} run={} result={} dur={:.1}s{tokens}{failure}",
                s(data, "plane"),
                s(data, "node"),
                run_handle(s(data, "run_id")),
                s(data, "outcome"),
                data.get("duration_seconds")
                    .and_then(Value::as_f64)
                    .unwrap_or(0.0)
            )
        }
        "router_decision" => route_line(data),
        "work_item_blocked" => format!(
            "blocked {}{} reason={}",
            s(data, "plane"),
            work(data),
            s(data, "reason")
        ),
        "work_item_requeued" => format!(
            "requeued {}{} reason={}",
            s(data, "plane"),
            work(data),
            s(data, "reason")
        ),
        "handoff_incident_enqueued" => format!(
            "incident {} filed from run={}",
            s(data, "incident_id"),
            run_handle(s(data, "from"))
        ),
        "learning_request_enqueued" => {
            format!(
                "learning request {} -> {} rule={}",
                s(data, "learning_request_id"),
                s(data, "target_stage"),
                s(data, "rule_id")
            )
        }
        "learning_requests_stranded" => format!(
            "{} learning request(s) wait: mode {} has no learning plane",
            data.get("queued").and_then(Value::as_u64).unwrap_or(0),
            s(data, "mode")
        ),
        "learning_promotion_deferred" => format!(
            "skill update deferred until foreground stages finish: {}",
            files(data)
        ),
        "learning_promotion_applied" => format!("skill update landed: {}", files(data)),
        "learning_promotion_rejected" => format!("skill update rejected: {}", s(data, "reason")),
        "closure_pass_started" => format!(
            "closure pass {} attempt={}/{}",
            s(data, "root_spec_id"),
            data.get("attempt").and_then(Value::as_u64).unwrap_or(0),
            data.get("limit").and_then(Value::as_u64).unwrap_or(0)
        ),
        "closure_passed" => format!("closure passed {}", s(data, "root_spec_id")),
        "closure_not_passed" => format!(
            "closure not passed {} class={}",
            s(data, "root_spec_id"),
            s(data, "class")
        ),
        "closure_attempts_exhausted" => {
            format!("closure gave up {} after its attempts", s(data, "root_spec_id"))
        }
        "stage_interrupted" => format!(
            "interrupted {} {} ({})",
            s(data, "plane"),
            s(data, "node"),
            s(data, "reason")
        ),
        "stage_not_started" => format!(
            "not started {} {} ({})",
            s(data, "plane"),
            s(data, "node"),
            s(data, "reason")
        ),
        "work_item_fuel_exhausted" => format!(
            "fuel exhausted {} run={}",
            s(data, "plane"),
            run_handle(s(data, "run_id"))
        ),
        "runtime_post_stage_error" => format!(
            "runtime error {} {} -> {}",
            s(data, "plane"),
            s(data, "code"),
            s(data, "repair")
        ),
        "runtime_idle" => "idle".to_string(),
        "runtime_config_reloaded" => format!("config reloaded plan={}", s(data, "plan_id")),
        "runtime_config_reload_failed" => format!(
            "config reload failed; kept plan={} ({})",
            s(data, "plan_id"),
            s(data, "error")
        ),
        "runtime_config_reload_deferred" => format!("config reload deferred: {}", s(data, "reason")),
        "runner_unavailable" => format!(
            "runner {} unavailable; paused: {}",
            s(data, "runner"),
            s(data, "message")
        ),
        "journal_replayed" => "finished an interrupted transition".to_string(),
        "orphan_returned" => format!(
            "returned orphaned {} {} to its queue",
            s(data, "kind"),
            s(data, "id")
        ),
        "usage_governance_paused" => governance_pause(data),
        "usage_governance_resumed" => {
            let rules: Vec<&str> = data
                .get("cleared_rules")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let rules = if rules.is_empty() {
                "none".to_string()
            } else {
                rules.join(",")
            };
            format!("governance resume cleared_rules={rules}")
        }
        "usage_governance_degraded" => format!(
            "governance degraded source={} policy={} detail={}",
            s(data, "source"),
            s(data, "policy"),
            s(data, "detail")
        ),
        "usage_quota_exhausted" => format!("quota exhausted; paused until {}", s(data, "resets_at")),
        "lock_taken_over" => format!(
            "took over a dead owner's lock (pid {})",
            data.get("pid").and_then(Value::as_u64).unwrap_or(0)
        ),
        _ => return None,
    };
    let t = at.strftime("%H:%M:%S");
    // Some events show as several lines (one per governance blocker).
    let lines: Vec<String> = body.lines().map(|l| format!("[{t}] {l}")).collect();
    Some(lines.join("\n"))
}

/// One line per blocker: what it measures, its limit, and when it lifts.
fn governance_pause(data: &Value) -> String {
    let blockers = data
        .get("blockers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if blockers.is_empty() {
        return "governance pause".into();
    }
    let number = |b: &Value, key: &str| b.get(key).and_then(Value::as_f64).unwrap_or(0.0);
    let lines: Vec<String> = blockers
        .iter()
        .map(|b| {
            let window = Some(s(b, "window")).filter(|w| !w.is_empty()).unwrap_or("-");
            let resume = b.get("resume_at").and_then(Value::as_str).unwrap_or("none");
            format!(
                "governance pause source={} rule={} window={window} observed={} threshold={} next_resume={resume}",
                s(b, "source"),
                s(b, "rule_id"),
                number(b, "observed"),
                number(b, "threshold"),
            )
        })
        .collect();
    lines.join("\n")
}

fn route_line(data: &Value) -> String {
    let plane = s(data, "plane");
    let reason = s(data, "reason");
    match data.get("target") {
        Some(t) if t.get("node").is_some() => format!("route {plane} -> {} reason={reason}", s(t, "node")),
        Some(t) => format!(
            "route {plane} done at {} ({}) reason={reason}",
            s(t, "terminal"),
            s(t, "class")
        ),
        None => format!("route {plane} reason={reason}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_the_lines_an_operator_watches() {
        let at = Timestamp::from_second(1_800_000_000).unwrap();
        let start = line(at, "stage_started", &json!({"plane": "execution", "node": "builder", "run_id": "run-20261124T101530123-3fa9c2d1", "work_item": {"kind": "task", "id": "t1"}, "attempt": 0})).unwrap();
        assert!(
            start.ends_with("stage start execution/builder run=3fa9c2d1 work=task:t1 attempt=0"),
            "{start}"
        );
        let route = line(
            at,
            "router_decision",
            &json!({"plane": "execution", "reason": "checker:FIX_NEEDED", "target": {"node": "fixer"}}),
        )
        .unwrap();
        assert!(route.ends_with("route execution -> fixer reason=checker:FIX_NEEDED"));
        let done = line(at, "router_decision", &json!({"plane": "execution", "reason": "r", "target": {"terminal": "update_complete", "class": "success"}})).unwrap();
        assert!(done.contains("done at update_complete (success)"));
        assert!(line(at, "something_internal", &json!({})).is_none());
        let pause = line(
            at,
            "usage_governance_paused",
            &json!({"blockers": [
            {"source": "runtime_token", "rule_id": "r5", "window": "rolling_5h", "observed": 720.0,
             "threshold": 700.0, "resume_at": "2027-01-15T13:00:00Z", "detail": ""},
            {"source": "subscription_quota", "rule_id": "q", "window": "weekly", "observed": 96.5,
             "threshold": 95.0, "resume_at": null, "detail": ""}]}),
        )
        .unwrap();
        let lines: Vec<&str> = pause.lines().collect();
        assert_eq!(lines.len(), 2, "{pause}");
        assert!(lines[0].ends_with(
            "governance pause source=runtime_token rule=r5 window=rolling_5h observed=720 threshold=700 next_resume=2027-01-15T13:00:00Z"
        ), "{pause}");
        assert!(
            lines[1].ends_with("observed=96.5 threshold=95 next_resume=none"),
            "{pause}"
        );
        let resume = line(
            at,
            "usage_governance_resumed",
            &json!({"cleared_rules": ["r5", "q"]}),
        )
        .unwrap();
        assert!(resume.ends_with("governance resume cleared_rules=r5,q"));
        assert!(start.starts_with('['));
    }
}
