//! The learning plane: triggers file requests, the learning lane runs
//! beside foreground work, and staged skill changes land only between
//! foreground stages.

use super::Campaign;

/// A fix cycle (so the doublechecker passes and the curator trigger fires)
/// with a slow updater, and a curator that stages a skill patch.
const SCRIPT: &str = r##"
[stages]
builder = ["BUILDER_COMPLETE"]
checker = ["FIX_NEEDED"]
fixer = ["FIXER_COMPLETE"]
doublechecker = ["DOUBLECHECK_PASS"]
updater = [{ outcome = "UPDATE_COMPLETE", delay_ms = 700 }]
curator = [{ outcome = "CURATOR_COMPLETE", result = { summary_artifact_paths = ["curator_skill_update.md"] }, writes = [
  { path = "millrace-agents/runs/{run_id}/skill_update/stage/execution/checker-core/SKILL.md", content = "# Checker core, revised\n" },
  { path = "millrace-agents/runs/{run_id}/curator_skill_update.md", content = "# Skill update: checker-core\n" },
] }]
"##;

#[test]
fn a_trigger_runs_the_curator_beside_the_updater_and_its_update_lands_after() {
    let c = Campaign::new("learning_codex", SCRIPT, "");
    c.add_task("t1");
    let skill = c.ws.path("skills/stage/execution/checker-core/SKILL.md");
    let before = std::fs::read_to_string(&skill).unwrap();
    c.run_until_idle();

    assert!(c.ws.path("tasks/done/t1.md").is_file());
    let enqueued = c
        .position("learning_request_enqueued", |d| d["target_stage"] == "curator")
        .expect("the doublechecker pass files a curator request");
    // The curator started while the updater was still running.
    let updater_started = c.position("stage_started", |d| d["node"] == "updater").unwrap();
    let updater_done = c.position("stage_completed", |d| d["node"] == "updater").unwrap();
    let curator_started = c.position("stage_started", |d| d["node"] == "curator").unwrap();
    assert!(enqueued < curator_started);
    assert!(
        updater_started < curator_started && curator_started < updater_done,
        "the learning lane must run beside the foreground stage"
    );
    // Its update waited for the updater, then landed.
    let deferred = c.position("learning_promotion_deferred", |_| true).unwrap();
    let status = crate::workspace::stdout(&c.ws.run(&["status"]));
    assert_eq!(
        crate::workspace::field(&status, "learning_promotions_deferred").as_deref(),
        Some("0"),
        "landed by the time the daemon stopped"
    );
    let applied = c
        .position("learning_promotion_applied", |d| {
            d["files"][0] == "stage/execution/checker-core/SKILL.md"
        })
        .unwrap();
    assert!(deferred < updater_done && updater_done < applied);
    assert_eq!(
        std::fs::read_to_string(&skill).unwrap(),
        "# Checker core, revised\n"
    );

    let dir = c.ws.path("learning/update-candidates/applied");
    let records: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert_eq!(records.len(), 1);
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(records[0].as_ref().unwrap().path()).unwrap()).unwrap();
    assert_eq!(record["state"], "applied");
    assert_eq!(
        record["foreground_active_planes"],
        serde_json::json!(["execution"])
    );
    let file = &record["files"][0];
    assert_eq!(
        file["before_sha256"],
        millrace::plan::sha256_hex(before.as_bytes())
    );
    assert_eq!(file["after_sha256"], file["staged_sha256"]);
    assert!(
        record["update_record"]
            .as_str()
            .unwrap()
            .ends_with("curator_skill_update.md")
    );
    assert!(c.ws.path("learning/requests/done").read_dir().unwrap().count() == 1);

    // Each stage recorded which skill text it was given.
    let checker = &c.events()[c.position("stage_started", |d| d["node"] == "checker").unwrap()]["data"];
    let evidence = c.ws.path(&format!(
        "runs/{}/skill_revision_evidence.{}.json",
        checker["run_id"].as_str().unwrap(),
        checker["request_id"].as_str().unwrap()
    ));
    let evidence: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(evidence).unwrap()).unwrap();
    let used = &evidence["skills"][0];
    assert!(used["path"].as_str().unwrap().ends_with("checker-core/SKILL.md"));
    assert_eq!(used["sha256"], millrace::plan::sha256_hex(before.as_bytes()));
}

#[test]
fn a_skill_changed_after_the_curator_judged_it_is_never_overwritten() {
    // The updater (running while the curator stages) edits the same skill.
    let script = SCRIPT.replace(
        r#"updater = [{ outcome = "UPDATE_COMPLETE", delay_ms = 700 }]"#,
        r##"updater = [{ outcome = "UPDATE_COMPLETE", delay_ms = 700, writes = [
  { path = "millrace-agents/skills/stage/execution/checker-core/SKILL.md", content = "# Operator edit\n" },
] }]"##,
    );
    let c = Campaign::new("learning_codex", &script, "");
    c.add_task("t1");
    c.run_until_idle();
    let skill = c.ws.path("skills/stage/execution/checker-core/SKILL.md");
    assert_eq!(std::fs::read_to_string(skill).unwrap(), "# Operator edit\n");
    let rejected = c.position("learning_promotion_rejected", |d| {
        d["reason"]
            .as_str()
            .unwrap_or("")
            .contains("changed after the curator judged it")
    });
    assert!(rejected.is_some(), "{:#?}", c.events());
    assert_eq!(
        c.ws.path("learning/update-candidates/rejected")
            .read_dir()
            .unwrap()
            .count(),
        1
    );
}

#[test]
fn run_once_runs_one_stage_and_learning_only_when_nothing_else_is_claimable() {
    let c = Campaign::new("learning_codex", SCRIPT, "");
    c.add_task("t1");
    c.ws.write(
        "learning/requests/queue/learn-1.md",
        &crate::workspace::learning_md("learn-1", "2026-01-01T00:00:00Z"),
    );
    let out = c.ws.run(&["run", "once", "--json"]);
    assert!(out.status.success(), "{}", crate::workspace::stderr(&out));
    let started: Vec<String> = c
        .events()
        .iter()
        .filter(|e| e["event_type"] == "stage_started")
        .map(|e| e["data"]["node"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(started, ["builder"], "one stage, the foreground first");
    for _ in 0..4 {
        assert!(c.ws.run(&["run", "once"]).status.success());
    }
    assert!(c.ws.path("tasks/done/t1.md").is_file());
    assert!(
        c.position("stage_started", |d| d["plane"] == "learning")
            .is_none()
    );
    assert!(c.ws.run(&["run", "once"]).status.success());
    let last = c
        .events()
        .into_iter()
        .rfind(|e| e["event_type"] == "stage_started")
        .unwrap();
    assert_eq!(last["data"]["plane"], "learning", "then the learning lane");
}
