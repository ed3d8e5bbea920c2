//! `millrace runs ls|show|tail` over run directories written the way the
//! engine writes them.

use millrace::workspace::runs::RunDir;
use serde_json::json;

use super::{Ws, field, fields, json, stderr, stdout};

fn stage_result(
    run_id: &str,
    stage: &str,
    started: &str,
    completed: &str,
    extra: serde_json::Value,
) -> serde_json::Value {
    let mut value = json!({
        "run_id": run_id, "plane": "execution", "stage": stage, "node": stage,
        "work_item_kind": "task", "work_item_id": "t-1", "terminal_result": format!("{}_COMPLETE", stage.to_uppercase()),
        "result_class": "success", "failure_class": null, "started_at": started, "completed_at": completed,
        "token_usage": {"input_tokens": 100, "cached_input_tokens": 10, "output_tokens": 20, "thinking_tokens": 5, "total_tokens": 125},
                "cost_usd": 0.5, "runner": "scripted", "model": "m", "future_field": {"ignored": true},
        "notes": [format!("{stage} said hello")]
    });
    if let (Some(base), serde_json::Value::Object(more)) = (value.as_object_mut(), extra) {
        base.extend(more);
    }
    value
}

#[test]
fn runs_are_listed_in_time_order_and_shown_stage_by_stage() {
    let ws = Ws::new();
    let w = ws.workspace();
    // Created out of order: ids minted later but started earlier sort by start.
    let late = RunDir::create(&w, "run-20260102T000000000-bbbbbbbb").unwrap();
    late.write_stage_result(
        "req-2",
        &stage_result(
            "run-20260102T000000000-bbbbbbbb",
            "builder",
            "2026-01-02T00:00:00Z",
            "2026-01-02T00:01:00Z",
            json!({}),
        ),
    )
    .unwrap();
    let early = RunDir::create(&w, "run-20260101T000000000-aaaaaaaa").unwrap();
    early
        .write_stage_result(
            "req-b",
            &stage_result(
                "run-20260101T000000000-aaaaaaaa",
                "checker",
                "2026-01-01T00:05:00Z",
                "2026-01-01T00:06:00Z",
                json!({"stdout_path": "checker.out"}),
            ),
        )
        .unwrap();
    early
        .write_stage_result(
            "req-a",
            &stage_result(
                "run-20260101T000000000-aaaaaaaa",
                "builder",
                "2026-01-01T00:00:00Z",
                "2026-01-01T00:04:00Z",
                json!({}),
            ),
        )
        .unwrap();
    early
        .write_routing(
            "req-b",
            &json!({"next": "updater", "target": {"node": "updater"}, "reason": "checker:CHECKER_PASS"}),
        )
        .unwrap();
    std::fs::write(early.path().join("checker.out"), "checker said hi\n").unwrap();
    RunDir::create(&w, "run-20260103T000000000-cccccccc").unwrap();

    let out = ws.run(&["runs", "ls"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(
        fields(&text, "run_id"),
        [
            "run-20260101T000000000-aaaaaaaa",
            "run-20260102T000000000-bbbbbbbb",
            "run-20260103T000000000-cccccccc"
        ]
    );
    assert_eq!(fields(&text, "status"), ["valid", "valid", "incomplete"]);

    let out = ws.run(&["runs", "show", "run-20260101T000000000-aaaaaaaa"]);
    let text = stdout(&out);
    assert_eq!(
        field(&text, "terminal_result").as_deref(),
        Some("CHECKER_COMPLETE"),
        "latest stage decides"
    );
    assert_eq!(field(&text, "duration_seconds").as_deref(), Some("360"));
    assert_eq!(field(&text, "total_tokens").as_deref(), Some("250"));
    assert_eq!(field(&text, "cost_usd").as_deref(), Some("1"));
    assert_eq!(fields(&text, "request_id"), ["req-a", "req-b"]);
    assert_eq!(fields(&text, "routing_path"), ["none", "routing.req-b.json"]);
    assert_eq!(
        fields(&text, "note"),
        ["builder said hello", "checker said hello"]
    );

    let value = json(&ws.run(&["runs", "show", "run-20260101T000000000-aaaaaaaa", "--json"]));
    assert_eq!(value["stages"][1]["routing"]["next"], "updater");
    assert_eq!(value["stages"][0]["result"]["stage"], "builder");

    let out = ws.run(&["runs", "tail", "run-20260101T000000000-aaaaaaaa"]);
    assert_eq!(stdout(&out), "checker said hi\n");

    // The routing decision and where the agent's last message is.
    assert_eq!(
        fields(&text, "routed"),
        ["-> updater reason=checker:CHECKER_PASS"]
    );
    assert_eq!(
        fields(&text, "last_message_path"),
        ["runner_last_message.req-a.txt", "runner_last_message.req-b.txt"]
    );
    // A run id as the monitor prints it (its end), or its start, if unique.
    let out = ws.run(&["runs", "show", "aaaaaaaa"]);
    assert_eq!(
        field(&stdout(&out), "run_id").as_deref(),
        Some("run-20260101T000000000-aaaaaaaa")
    );
    let out = ws.run(&["runs", "tail", "run-20260101"]);
    assert_eq!(stdout(&out), "checker said hi\n");
    let out = ws.run(&["runs", "show", "run-2026"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("mill::runs::ambiguous_id"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("matches 3 runs"), "{}", stderr(&out));
    // Filtered and limited listings keep time order.
    let text = stdout(&ws.run(&["runs", "ls", "--item", "t-1"]));
    assert_eq!(fields(&text, "run_id").len(), 2, "the incomplete run has no item");
    let text = stdout(&ws.run(&["runs", "ls", "--limit", "2"]));
    assert_eq!(
        fields(&text, "run_id"),
        [
            "run-20260102T000000000-bbbbbbbb",
            "run-20260103T000000000-cccccccc"
        ]
    );
}

#[test]
fn tail_prefers_the_report_then_output_then_the_result() {
    let ws = Ws::new();
    let w = ws.workspace();
    let id = "run-20260101T000000000-dddddddd";
    let dir = RunDir::create(&w, id).unwrap();
    let extra = json!({"report_artifact": "troubleshoot_report.md", "stdout_path": "out.txt", "stderr_path": "err.txt"});
    dir.write_stage_result(
        "req-1",
        &stage_result(
            id,
            "troubleshooter",
            "2026-01-01T00:00:00Z",
            "2026-01-01T00:01:00Z",
            extra,
        ),
    )
    .unwrap();
    let tail = |ws: &Ws| stdout(&ws.run(&["runs", "tail", id]));
    assert!(
        tail(&ws).contains("\"stage\": \"troubleshooter\""),
        "nothing written yet: the result JSON"
    );
    std::fs::write(dir.path().join("err.txt"), "stderr text").unwrap();
    assert_eq!(tail(&ws), "stderr text");
    std::fs::write(dir.path().join("out.txt"), "stdout text").unwrap();
    assert_eq!(tail(&ws), "stdout text");
    std::fs::write(dir.path().join("troubleshoot_report.md"), "# Report").unwrap();
    assert_eq!(tail(&ws), "# Report");
}

#[test]
fn damaged_and_unknown_runs_are_reported() {
    let ws = Ws::new();
    let w = ws.workspace();
    let id = "run-20260101T000000000-eeeeeeee";
    let dir = RunDir::create(&w, id).unwrap();
    std::fs::write(dir.path().join("stage_results/req-1.json"), "{broken").unwrap();
    let text = stdout(&ws.run(&["runs", "show", id]));
    assert_eq!(field(&text, "status").as_deref(), Some("malformed"));
    assert!(
        field(&text, "note")
            .unwrap()
            .contains("stage_results/req-1.json is malformed")
    );
    let out = ws.run(&["runs", "show", "run-nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("mill::runs::not_found"));
    let out = ws.run(&["runs", "show", "../state"]);
    assert!(stderr(&out).contains("mill::id::invalid"));
    let out = ws.run(&["runs", "tail", id]);
    assert!(stderr(&out).contains("mill::runs::no_artifact"));
    assert!(RunDir::create(&w, "../escape").is_err());
    assert_eq!(json(&ws.run(&["runs", "ls", "--json"]))[0]["status"], "malformed");
}

#[test]
fn run_artifacts_are_plain_names_inside_the_run() {
    let ws = Ws::new();
    let w = ws.workspace();
    let dir = RunDir::create(&w, "run-20260101T000000000-ffffffff").unwrap();
    let path = dir.write_artifact("builder_summary.md", b"done").unwrap();
    assert_eq!(path, dir.path().join("builder_summary.md"));
    for bad in ["../x", "a/b", ".hidden", ""] {
        assert!(dir.write_artifact(bad, b"x").is_err(), "{bad}");
    }
}
