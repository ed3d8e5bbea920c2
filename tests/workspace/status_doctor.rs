//! `millrace status` and `millrace doctor`: stable fields, JSON, damaged
//! state reported rather than fatal, quarantines shown, plan currentness.

use jiff::Timestamp;
use millrace::config::Config;
use millrace::model::{ActiveRun, RequestKind, Snapshot, WorkItemRef};
use millrace::plan::{Plan, Plane, WorkItemKind};
use millrace::workspace::lock::record_for_this_process;
use millrace::workspace::plan_store::{self, Currentness};

use super::{Ws, field, fields, json, stderr, stdout, task_md};

fn doctor(ws: &Ws) -> (Option<i32>, String) {
    let out = ws.run(&["doctor"]);
    (out.status.code(), stdout(&out))
}

fn codes(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.starts_with("error: ") || l.starts_with("warning: "))
        .map(|l| l.split_whitespace().nth(1).unwrap().to_string())
        .collect()
}

#[test]
fn status_of_a_fresh_workspace() {
    let ws = Ws::new();
    let out = ws.run(&["status"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for (key, value) in [
        ("runtime_mode", "daemon"),
        ("process_running", "false"),
        ("runtime_ownership_lock", "absent"),
        ("paused", "false"),
        ("pause_sources", "none"),
        ("compiled_plan_currentness", "missing"),
        ("execution_queue_depth", "0"),
        ("planning_status_marker", "### IDLE"),
        ("active_run_count", "0"),
        ("closure_target_root_spec_id", "none"),
        ("quarantined_count", "0"),
    ] {
        assert_eq!(field(&text, key).as_deref(), Some(value), "{key} in\n{text}");
    }
    assert!(field(&text, "problem").is_none());
    let value = json(&ws.run(&["status", "--json"]));
    assert_eq!(value["lock"]["state"], "absent");
    assert_eq!(value["queues"]["execution"]["depth"], 0);
    assert_eq!(value["plan"]["currentness"]["state"], "missing");
    assert_eq!(value["fuel_limit"], 40);
}

#[test]
fn status_shows_queues_runs_pauses_and_closure() {
    let ws = Ws::new();
    let w = ws.workspace();
    for i in 0..3 {
        ws.write(
            &format!("tasks/queue/q{i}.md"),
            &task_md(&format!("q{i}"), "2026-01-01T00:00:00Z", &[]),
        );
    }
    ws.write("tasks/active/a.md", &task_md("a", "2026-01-01T00:00:00Z", &[]));
    let mut snapshot = Snapshot::load(&w).unwrap();
    snapshot.add_pause(millrace::model::PauseSource::Operator);
    snapshot.process_running = true;
    let now = Timestamp::now();
    snapshot.active_runs.insert(
        Plane::Execution,
        ActiveRun {
            run_id: "run-20260101T000000000-abcdef01".into(),
            plane: Plane::Execution,
            node: "checker".into(),
            stage: "checker".into(),
            request_kind: RequestKind::ActiveWorkItem,
            work_item: Some(WorkItemRef {
                kind: WorkItemKind::Task,
                id: "a".into(),
            }),
            closure_root_spec_id: None,
            closure_root_idea_id: None,
            counters: [("fix_cycles".to_string(), 2)].into(),
            stage_runs: 5,
            failure_class: None,
            pending_request_id: None,
            interruptions: 1,
            lineage: Default::default(),
            node_runs: Default::default(),
            transient_failures: 0,
            retry_at: None,
            retry_requested: None,
            runtime_error: None,
            runtime_errors: 0,
            last_stage_result: None,
            tokens_used: 0,
            cost_usd: 0.0,
            prior_tokens: 0,
            prior_cost_usd: 0.0,
            gate_waits: 0,
            operator_note: None,
            active_since: now,
            started_at: now,
        },
    );
    snapshot.save(&w).unwrap();
    let target = millrace::workspace::closure::ClosureTarget::open("root-1", "root-1", now).unwrap();
    target.save(&w).unwrap();

    let text = stdout(&ws.run(&["status"]));
    assert_eq!(field(&text, "execution_queue_depth").as_deref(), Some("3"));
    assert_eq!(field(&text, "execution_active").as_deref(), Some("task:a"));
    assert_eq!(field(&text, "paused").as_deref(), Some("true"));
    assert_eq!(field(&text, "pause_sources").as_deref(), Some("operator"));
    // Running in the snapshot, but nobody holds the lock: not running.
    assert_eq!(field(&text, "process_running").as_deref(), Some("false"));
    let run = field(&text, "active_run").unwrap();
    for part in [
        "plane=execution",
        "node=checker",
        "work_item=task:a",
        "stage_runs=5/40",
        "counters=fix_cycles=2",
        "interruptions=1",
    ] {
        assert!(run.contains(part), "{part} in {run}");
    }
    assert_eq!(
        field(&text, "closure_target_root_spec_id").as_deref(),
        Some("root-1")
    );
    assert_eq!(field(&text, "closure_target_attempts").as_deref(), Some("0"));

    let record = record_for_this_process(&w, "s");
    std::fs::write(w.paths().lock(), serde_json::to_string(&record).unwrap()).unwrap();
    let text = stdout(&ws.run(&["status"]));
    assert_eq!(field(&text, "process_running").as_deref(), Some("true"));
    assert_eq!(field(&text, "runtime_ownership_lock").as_deref(), Some("active"));
}

#[test]
fn a_quarantined_file_shows_in_status_and_doctor_and_commands_keep_working() {
    let ws = Ws::new();
    ws.write(
        "tasks/queue/good.md",
        &task_md("good", "2026-01-01T00:00:00Z", &[]),
    );
    ws.write(
        "tasks/queue/broken.md",
        "# Broken\n\nTask-ID: broken\nCreated-At: never\n",
    );
    // Before quarantine, doctor reports the malformed file as an error.
    let (code, text) = doctor(&ws);
    assert_eq!(code, Some(1));
    assert!(
        codes(&text).contains(&"mill::doctor::queue_artifact_invalid".to_string()),
        "{text}"
    );
    assert!(
        ws.path("tasks/queue/broken.md").is_file(),
        "doctor never moves files"
    );

    let out = ws.run(&["queue", "ls", "--all"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(fields(&stdout(&out), "queued").len(), 1);
    assert!(ws.path("tasks/queue/broken.md.invalid").is_file());
    let log = std::fs::read_to_string(ws.path("tasks/queue/invalid-artifacts.jsonl")).unwrap();
    assert!(
        log.contains("\"source_name\":\"broken.md\"") && log.contains("Created-At"),
        "{log}"
    );

    let text = stdout(&ws.run(&["status"]));
    assert_eq!(field(&text, "quarantined_count").as_deref(), Some("1"));
    assert!(
        field(&text, "quarantined")
            .unwrap()
            .contains("broken.md.invalid reason=")
    );
    assert_eq!(field(&text, "execution_queue_depth").as_deref(), Some("1"));
    let (code, text) = doctor(&ws);
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(codes(&text), ["mill::doctor::quarantined_file"]);

    // Once the claim index is settled, status reads its header instead of
    // listing the directory, and says the same; a file added afterwards is
    // counted at once (the directory changed, so the header is not used).
    std::thread::sleep(std::time::Duration::from_millis(120));
    assert!(ws.run(&["queue", "ls", "--all"]).status.success());
    let index = std::fs::read_to_string(ws.path("state/index/task.json")).unwrap();
    let header = index.lines().next().unwrap();
    assert!(
        header.contains("\"quarantined\":[\"broken.md.invalid\"]"),
        "{header}"
    );
    let text = stdout(&ws.run(&["status"]));
    assert_eq!(field(&text, "execution_queue_depth").as_deref(), Some("1"));
    assert_eq!(field(&text, "quarantined_count").as_deref(), Some("1"));
    ws.write(
        "tasks/queue/more.md",
        &task_md("more", "2026-01-02T00:00:00Z", &[]),
    );
    let text = stdout(&ws.run(&["status"]));
    assert_eq!(field(&text, "execution_queue_depth").as_deref(), Some("2"));
}

/// With no claim index (files dropped in, no daemon yet), `status` records
/// the depth its listing found; the next `status` reads that record while
/// the directory is unchanged, and lists again once it changes.
#[test]
fn status_records_a_listed_depth_for_the_next_status() {
    let ws = Ws::new();
    for i in 0..3 {
        let id = format!("t{i}");
        ws.write(
            &format!("tasks/queue/{id}.md"),
            &task_md(&id, "2026-01-01T00:00:00Z", &[]),
        );
    }
    let depth = ws.path("state/index/task.depth.json");
    // Listed inside the racy window after the last write: nothing recorded.
    let text = stdout(&ws.run(&["status"]));
    assert_eq!(field(&text, "execution_queue_depth").as_deref(), Some("3"));
    std::thread::sleep(std::time::Duration::from_millis(120));
    assert!(
        !ws.path("state/index/task.json").exists(),
        "status builds no claim index"
    );
    let text = stdout(&ws.run(&["status"]));
    assert_eq!(field(&text, "execution_queue_depth").as_deref(), Some("3"));
    let recorded = std::fs::read_to_string(&depth).unwrap();
    assert!(recorded.contains("\"count\":3"), "{recorded}");
    // The record is what the next status says: a forged count shows.
    std::fs::write(&depth, recorded.replace("\"count\":3", "\"count\":30")).unwrap();
    let text = stdout(&ws.run(&["status"]));
    assert_eq!(field(&text, "execution_queue_depth").as_deref(), Some("30"));
    // A change of the directory makes it a listing again, at once.
    ws.write("tasks/queue/t9.md", &task_md("t9", "2026-01-01T00:00:00Z", &[]));
    let text = stdout(&ws.run(&["status"]));
    assert_eq!(field(&text, "execution_queue_depth").as_deref(), Some("4"));
}

#[test]
fn doctor_is_clean_on_a_fresh_workspace_and_finds_damage() {
    let ws = Ws::new();
    let (code, text) = doctor(&ws);
    assert_eq!(code, Some(0));
    assert_eq!(field(&text, "errors").as_deref(), Some("0"));
    assert_eq!(field(&text, "warnings").as_deref(), Some("0"));

    std::fs::remove_dir(ws.path("arbiter/verdicts")).unwrap();
    std::fs::write(ws.path("state/execution_status.md"), "BUILDER\n").unwrap();
    std::fs::write(ws.path("state/runtime_daemon.lock.json"), "{").unwrap();
    ws.write(
        "tasks/active/orphan.md",
        &task_md("orphan", "2026-01-01T00:00:00Z", &[]),
    );
    ws.write(
        "tasks/done/orphan.md",
        &task_md("orphan", "2026-01-01T00:00:00Z", &[]),
    );
    ws.write("arbiter/targets/a.json", "{}");
    ws.write("millrace.toml", "[runtime]\nnope = 1\n");
    let (code, text) = doctor(&ws);
    assert_eq!(code, Some(1));
    let found = codes(&text);
    for expected in [
        "mill::doctor::missing_directory",
        "mill::doctor::status_marker_invalid",
        "mill::doctor::lock_invalid",
        "mill::doctor::untracked_active_item",
        "mill::doctor::duplicate_work_item",
        "mill::doctor::closure_target_invalid",
        "mill::doctor::config_invalid",
    ] {
        assert!(
            found.contains(&expected.to_string()),
            "{expected} missing in\n{text}"
        );
    }
    assert!(text.contains("(fix: millrace init)"), "{text}");
    let value = json(&ws.run(&["doctor", "--json"]));
    assert_eq!(value["ok"], false);
    assert!(
        value["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["code"].as_str().unwrap().starts_with("mill::doctor::"))
    );
    // Status still answers on damaged state, listing the problems.
    let out = ws.run(&["status"]);
    assert!(out.status.success());
    let problems = fields(&stdout(&out), "problem");
    assert!(!problems.is_empty());
    // Each problem starts with its diagnostic code.
    assert!(problems.iter().all(|p| p.starts_with("mill::")), "{problems:#?}");
}

#[test]
fn doctor_warns_about_an_active_lock_and_a_stale_one() {
    let ws = Ws::new();
    let w = ws.workspace();
    let mut record = record_for_this_process(&w, "s");
    std::fs::write(w.paths().lock(), serde_json::to_string(&record).unwrap()).unwrap();
    let (code, text) = doctor(&ws);
    assert_eq!(code, Some(0));
    assert_eq!(codes(&text), ["mill::doctor::lock_active"]);
    let mut child = std::process::Command::new("true").spawn().unwrap();
    record.owner_pid = child.id();
    child.wait().unwrap();
    std::fs::write(w.paths().lock(), serde_json::to_string(&record).unwrap()).unwrap();
    let (_, text) = doctor(&ws);
    assert_eq!(codes(&text), ["mill::doctor::lock_stale"]);
}

/// A minimal valid plan recording `inputs`.
fn plan_with_inputs(inputs: serde_json::Value) -> Plan {
    let wire = serde_json::json!({
        "schema_version": millrace::plan::SCHEMA_VERSION, "plan_id": "", "fingerprint": "", "mode": "test_mode",
        "compiled_at": "2026-01-01T00:00:00Z", "loops": [], "stages": [], "outcomes": [], "nodes": [], "edges": [],
        "branches": [], "terminals": [], "counters": [], "triggers": [],
        "concurrency": {"exclusive": [], "concurrent": []}, "inputs": inputs,
        "source_map": {"files": [], "stages": [], "nodes": [], "edges": [], "terminals": []}
    });
    let mut plan: Plan = serde_json::from_value(wire).unwrap();
    plan.seal();
    plan
}

#[test]
fn plan_currentness_is_judged_from_recorded_inputs() {
    let ws = Ws::new();
    let w = ws.workspace();
    let config = Config::load(&w.paths().config()).unwrap();
    ws.write("loops/custom.mill", "# a workspace loop\n");
    ws.write("entrypoints/execution/builder.md", "# Builder\n");
    let source = plan_store::input_file(&w, "loops/custom.mill");
    let asset = plan_store::input_file(&w, "entrypoints/execution/builder.md");
    let absent = plan_store::input_file(&w, "skills/none/SKILL.md");
    assert_eq!(absent.sha256, plan_store::MISSING);
    let plan = plan_with_inputs(serde_json::json!({
        "fingerprint": "", "sources": [source], "config": config.plan_settings().fingerprint(), "assets": [asset, absent]
    }));
    plan_store::save_plan(&w, &plan).unwrap();
    assert_eq!(plan_store::load_plan(&w).unwrap().unwrap(), plan);
    let settings = config.plan_settings();
    assert_eq!(plan_store::currentness(&w, &settings), Currentness::Current);
    let text = stdout(&ws.run(&["status"]));
    assert_eq!(
        field(&text, "compiled_plan_currentness").as_deref(),
        Some("current")
    );
    assert_eq!(
        field(&text, "compiled_plan_id").as_deref(),
        Some(plan.plan_id.as_str())
    );

    // Touching a file without changing it keeps the plan current (rehash).
    let file = ws.path("entrypoints/execution/builder.md");
    std::fs::File::options()
        .write(true)
        .open(&file)
        .unwrap()
        .set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(5))
        .unwrap();
    assert_eq!(plan_store::currentness(&w, &settings), Currentness::Current);

    // A governance tweak does not make it stale; a stage binding does.
    ws.write("millrace.toml", "[usage_governance]\nenabled = true\n");
    let text = stdout(&ws.run(&["status"]));
    assert_eq!(
        field(&text, "compiled_plan_currentness").as_deref(),
        Some("current"),
        "{text}"
    );
    ws.write("millrace.toml", "[stages.builder]\nmodel = \"other\"\n");
    let text = stdout(&ws.run(&["status"]));
    assert_eq!(
        field(&text, "compiled_plan_currentness").as_deref(),
        Some("stale")
    );
    assert!(
        field(&text, "compiled_plan_stale_reason")
            .unwrap()
            .starts_with("config")
    );
    ws.write("millrace.toml", "");

    std::fs::write(&file, "# Builder, edited\n").unwrap();
    ws.write("skills/none/SKILL.md", "now present");
    ws.write("loops/extra.mill", "# new\n");
    let Currentness::Stale { reasons } = plan_store::currentness(&w, &settings) else {
        panic!()
    };
    assert_eq!(
        reasons,
        [
            "entrypoints/execution/builder.md: modified",
            "skills/none/SKILL.md: added",
            "loops/extra.mill: new source file"
        ]
    );
    let (_, doctor_text) = doctor(&ws);
    assert!(
        codes(&doctor_text).contains(&"mill::doctor::plan_stale".to_string()),
        "{doctor_text}"
    );

    std::fs::write(w.paths().compiled_plan(), "{\"schema_version\": 1}").unwrap();
    let (code, doctor_text) = doctor(&ws);
    assert_eq!(code, Some(1));
    assert!(codes(&doctor_text).contains(&"mill::doctor::plan_invalid".to_string()));
}

#[test]
fn doctor_reports_an_interrupted_transition() {
    let ws = Ws::new();
    let w = ws.workspace();
    let journal = w.paths().journal();
    // A last record whose snapshot is not the one on disk is pending.
    let mut recorded = millrace::model::Snapshot::bootstrap(jiff::Timestamp::now());
    recorded.tick = 7;
    let record = serde_json::json!({"schema_version": 2, "snapshot": recorded, "effects": []});
    millrace::workspace::journal::append(&w, &record).unwrap();
    let (code, text) = doctor(&ws);
    assert_eq!(code, Some(0));
    assert_eq!(codes(&text), ["mill::doctor::journal_pending"]);
    // Once the snapshot on disk is the recorded one, nothing is pending.
    recorded.save(&w).unwrap();
    assert_eq!(doctor(&ws).0, Some(0));
    assert!(codes(&doctor(&ws).1).is_empty());
    // A torn append after it is no record: still settled.
    let mut text = std::fs::read_to_string(&journal).unwrap();
    text.push_str("{\"schema_version\": 2, \"snap");
    std::fs::write(&journal, &text).unwrap();
    assert!(codes(&doctor(&ws).1).is_empty());
    // A whole line that is not a record is damage.
    std::fs::write(&journal, "{torn\n").unwrap();
    let (code, text) = doctor(&ws);
    assert_eq!(code, Some(1));
    assert_eq!(codes(&text), ["mill::doctor::journal_invalid"]);
    std::fs::remove_file(&journal).unwrap();
    assert_eq!(doctor(&ws).0, Some(0));
}

#[test]
fn status_watches_several_workspaces() {
    let (a, b) = (Ws::new(), Ws::new());
    let other = b.root.to_str().unwrap();
    let out = a.run(&[
        "status",
        "--watch",
        "--interval",
        "0",
        "--max-updates",
        "2",
        "--also",
        other,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(text.matches("workspace: ").count(), 4, "{text}");
    assert!(text.contains(other));
    let out = a.run(&[
        "status",
        "--watch",
        "--json",
        "--interval",
        "0",
        "--max-updates",
        "3",
        "--also",
        other,
        "--also",
        other,
    ]);
    let lines: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(
        lines[0]["workspaces"].as_array().unwrap().len(),
        2,
        "duplicates collapse"
    );
    let bad = a.run(&["status", "--watch", "--interval", "-1"]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn doctor_flags_damaged_usage_files() {
    let ws = Ws::new();
    ws.write("state/usage_governance_ledger.jsonl", "{\"dedupe_key\": \n");
    ws.write("state/usage_governance_state.json", "not json");
    let (_, text) = doctor(&ws);
    let found = codes(&text);
    assert!(
        found.contains(&"mill::doctor::usage_ledger_damaged".to_string()),
        "{text}"
    );
    assert!(
        found.contains(&"mill::doctor::usage_state_invalid".to_string()),
        "{text}"
    );
}

/// A compiled plan changed by hand is not current, whether it was stored
/// with the compiler's hash or before there was one: the runtime then
/// compiles afresh instead of running it.
#[test]
fn a_plan_edited_by_hand_is_not_current() {
    let ws = Ws::new();
    let w = ws.workspace();
    assert!(ws.run(&["compile", "validate"]).status.success());
    let path = ws.path("state/compiled_plan.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let text_of = |out: &std::process::Output| field(&stdout(out), "compiled_plan_currentness");
    assert_eq!(text_of(&ws.run(&["status"])).as_deref(), Some("current"));
    let edited = text.replacen("\"limit\": 2", "\"limit\": 9", 1);
    assert_ne!(edited, text, "the plan has a counter limit to edit");
    std::fs::write(&path, &edited).unwrap();
    assert_eq!(text_of(&ws.run(&["status"])).as_deref(), Some("stale"));
    // Without the compiler's hash, the fingerprint is recomputed.
    std::fs::remove_file(ws.path("state/compiled_plan.sha256")).unwrap();
    let settings = Config::load(&w.paths().config()).unwrap().plan_settings();
    assert!(matches!(
        plan_store::currentness(&w, &settings),
        Currentness::Stale { .. }
    ));
    std::fs::write(&path, &text).unwrap();
    assert_eq!(plan_store::currentness(&w, &settings), Currentness::Current);
}
