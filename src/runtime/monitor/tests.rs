use jiff::Timestamp;

use super::*;
use crate::model::FailureClass;
use crate::plan::{Plane, ResultClass, WorkItemKind};

fn routing(reason: &str, target: RouteTarget) -> Event {
    Event::RouterDecision(RoutingRecord {
        request_id: "req-1".into(),
        run_id: "run-1".into(),
        plane: Plane::Execution,
        node: "checker".into(),
        outcome: "FIX_NEEDED".into(),
        result_class: ResultClass::Success,
        failure_class: None,
        target,
        reason: reason.into(),
        counted: None,
        exhausted: Vec::new(),
        resumed_by: None,
        counters: Default::default(),
        plan_id: "plan-x".into(),
        decided_at: Timestamp::UNIX_EPOCH,
    })
}

fn blocker(
    source: &str,
    rule: &str,
    window: &str,
    observed: f64,
    threshold: f64,
    resume: Option<&str>,
) -> Blocker {
    Blocker {
        source: source.into(),
        rule_id: rule.into(),
        detail: String::new(),
        resume_at: resume.map(|r| r.parse().unwrap()),
        window: window.into(),
        observed,
        threshold,
    }
}

#[test]
fn renders_the_lines_an_operator_watches() {
    let at = Timestamp::from_second(1_800_000_000).unwrap();
    let start = line(
        at,
        &Event::StageStarted {
            plane: Plane::Execution,
            node: "builder".into(),
            stage: "builder".into(),
            run_id: "run-20261124T101530123-3fa9c2d1".into(),
            request_id: "req-1".into(),
            work_item: Some(WorkItemObj {
                kind: WorkItemKind::Task,
                id: "t1".into(),
            }),
            attempt: 0,
            runner: "codex_cli".into(),
        },
    )
    .unwrap();
    assert!(
        start.ends_with("stage start execution/builder run=3fa9c2d1 work=task:t1 attempt=0"),
        "{start}"
    );
    let route = line(
        at,
        &routing("checker:FIX_NEEDED", RouteTarget::Node { node: "fixer".into() }),
    )
    .unwrap();
    assert!(route.ends_with("route execution -> fixer reason=checker:FIX_NEEDED"));
    let finished = RouteTarget::Terminal {
        terminal: "update_complete".into(),
        class: ResultClass::Success,
    };
    let done = line(at, &routing("r", finished)).unwrap();
    assert!(done.contains("done at update_complete (success)"));
    let internal = Event::MailboxCommandApplied {
        command: "pause".into(),
        ok: true,
    };
    assert!(line(at, &internal).is_none());
    let refused = Event::MailboxCommandApplied {
        command: "retry_item".into(),
        ok: false,
    };
    assert!(
        line(at, &refused)
            .unwrap()
            .contains("mailbox command retry_item refused")
    );
    let pause = line(
        at,
        &Event::UsageGovernancePaused {
            blockers: vec![
                blocker(
                    "runtime_token",
                    "r5",
                    "rolling_5h",
                    720.0,
                    700.0,
                    Some("2027-01-15T13:00:00Z"),
                ),
                blocker("subscription_quota", "q", "weekly", 96.5, 95.0, None),
            ],
        },
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
        &Event::UsageGovernanceResumed {
            cleared_rules: vec!["r5".into(), "q".into()],
        },
    )
    .unwrap();
    assert!(resume.ends_with("governance resume cleared_rules=r5,q"));
    assert!(start.starts_with('['));
}

#[test]
fn a_failed_stage_names_its_failure_class() {
    let at = Timestamp::from_second(1_800_000_000).unwrap();
    let done = line(
        at,
        &Event::StageCompleted {
            plane: Plane::Execution,
            node: "builder".into(),
            run_id: "run-1-abc".into(),
            request_id: "req-1".into(),
            outcome: "BLOCKED".into(),
            failure_class: Some(FailureClass::RunnerTimeout),
            duration_seconds: 3.26,
            total_tokens: Some(12),
            runner: Some("codex_cli".into()),
            message: None,
        },
    )
    .unwrap();
    assert!(
        done.ends_with("stage done execution/builder run=abc result=runner_timeout dur=3.3s tokens=12"),
        "{done}"
    );
    let said = line(
        at,
        &Event::StageCompleted {
            plane: Plane::Execution,
            node: "builder".into(),
            run_id: "run-1-abc".into(),
            request_id: "req-1".into(),
            outcome: "BLOCKED".into(),
            failure_class: Some(FailureClass::HarnessUnavailable),
            duration_seconds: 0.4,
            total_tokens: None,
            runner: Some("claude_code".into()),
            message: Some("Invalid API key · Fix external API key".into()),
        },
    )
    .unwrap();
    let lines: Vec<&str> = said.lines().collect();
    assert!(
        lines[0].ends_with("result=harness_unavailable dur=0.4s"),
        "{said}"
    );
    assert!(
        lines[1].ends_with("]   harness said: Invalid API key · Fix external API key"),
        "{said}"
    );
}
