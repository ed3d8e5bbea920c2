//! Learning-request intake and the skills commands: a request the mode
//! would never run is refused with a reason, never queued to wait forever.

use millrace::workspace::mailbox;

use super::Campaign;
use crate::workspace::{Ws, field, json, learning_md, stderr, stdout};

fn queued_requests(ws: &Ws) -> usize {
    ws.path("learning/requests/queue").read_dir().unwrap().count()
}

#[test]
fn a_mode_without_a_learning_plane_refuses_skills_create() {
    let ws = Ws::new();
    let out = ws.run(&["skills", "create", "Probe every new CLI flag"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("mill::cli::learning_refused"), "{err}");
    assert!(err.contains("has no learning plane"), "{err}");
    assert!(
        err.contains("learning_codex"),
        "the help names a learning mode: {err}"
    );
    assert_eq!(queued_requests(&ws), 0, "nothing is queued");
}

#[test]
fn a_learning_mode_queues_create_and_improve_requests() {
    let ws = Ws::new();
    let out = ws.run(&[
        "skills",
        "create",
        "Probe every new CLI flag",
        "--mode",
        "learning_codex",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let path = field(&stdout(&out), "enqueued_learning_request").unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("Requested-Action: create"), "{text}");
    assert!(text.contains("Summary: Probe every new CLI flag"), "{text}");
    assert!(text.contains("Created-By: millrace skills"), "{text}");

    let out = ws.run(&[
        "skills",
        "improve",
        "checker-core",
        "--mode",
        "learning_codex",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let value = json(&out);
    let text = std::fs::read_to_string(value["path"].as_str().unwrap()).unwrap();
    assert!(text.contains("Target-Skill-ID: checker-core"), "{text}");
    assert_eq!(queued_requests(&ws), 2);

    let out = ws.run(&["skills", "improve", "no-such-skill", "--mode", "learning_codex"]);
    assert!(stderr(&out).contains("mill::cli::skill_not_found"));
}

#[test]
fn add_learning_request_checks_the_target_stage_against_the_loop() {
    let ws = Ws::new();
    let file = ws.root.join("learn-a.md");
    let doc = learning_md("learn-a", "2026-01-01T00:00:00Z")
        .replace("Created-At:", "Target-Stage: builder\nCreated-At:");
    std::fs::write(&file, doc).unwrap();
    let path = file.to_str().unwrap();
    let out = ws.run(&["queue", "add-learning-request", path, "--mode", "learning_codex"]);
    let err = stderr(&out);
    assert!(err.contains("has no `builder` stage"), "{err}");
    assert!(
        err.contains("`analyst`, `professor`, `curator`"),
        "the help lists the stages: {err}"
    );
    let out = ws.run(&["skills", "create", " ", "--mode", "learning_codex"]);
    assert!(stderr(&out).contains("mill::cli::empty_prompt"));
    std::fs::write(&file, learning_md("learn-a", "2026-01-01T00:00:00Z")).unwrap();
    let out = ws.run(&["queue", "add-learning-request", path, "--mode", "learning_codex"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(ws.path("learning/requests/queue/learn-a.md").is_file());
}

#[test]
fn a_daemon_without_a_learning_plane_fails_the_mailbox_command() {
    let c = Campaign::new("default_codex", "[stages]\n", "");
    let doc = millrace::model::WorkDocument::parse_markdown(
        Some(millrace::plan::WorkItemKind::LearningRequest),
        &learning_md("learn-m", "2026-01-01T00:00:00Z"),
        "learn-m.md",
    )
    .unwrap();
    mailbox::issue(
        &c.ws.workspace(),
        &mailbox::Command::AddLearningRequest(doc),
        "operator",
    )
    .unwrap();
    c.run_until_idle();
    assert_eq!(queued_requests(&c.ws), 0);
    let failed: Vec<_> =
        c.ws.path("state/mailbox/failed")
            .read_dir()
            .unwrap()
            .flatten()
            .collect();
    assert_eq!(failed.len(), 1);
    let text = std::fs::read_to_string(failed[0].path()).unwrap();
    assert!(text.contains("has no learning plane"), "{text}");
}

#[test]
fn doctor_and_the_runtime_name_requests_no_stage_will_run() {
    let c = Campaign::new("default_codex", "[stages]\n", "");
    c.ws.write(
        "learning/requests/queue/learn-x.md",
        &learning_md("learn-x", "2026-01-01T00:00:00Z"),
    );
    let out = c.ws.run(&["doctor"]);
    assert!(
        stdout(&out).contains("mill::doctor::learning_stranded"),
        "{}",
        stdout(&out)
    );
    let out = c.run_until_idle();
    assert!(
        stdout(&out).contains("1 learning request(s) wait: mode campaign has no learning plane"),
        "{}",
        stdout(&out)
    );
    assert!(
        c.ws.path("learning/requests/queue/learn-x.md").is_file(),
        "nothing is lost"
    );
}

#[test]
fn skills_ls_show_and_search_read_the_installed_tree() {
    let ws = Ws::new();
    let out = ws.run(&["skills", "ls"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("checker-core") && text.contains("stage/execution/checker-core/SKILL.md"),
        "{text}"
    );
    let out = ws.run(&["skills", "show", "curator-core"]);
    assert!(field(&stdout(&out), "stages").unwrap().contains("curator"));
    let out = ws.run(&["skills", "search", "FIX CONTRACT", "--json"]);
    let hits = json(&out);
    assert!(
        hits.as_array().unwrap().iter().any(|h| h["id"] == "fixer-core"),
        "{hits}"
    );
    let out = ws.run(&["skills", "search", "  "]);
    assert!(stderr(&out).contains("mill::cli::empty_query"));
}

#[test]
fn checking_a_request_against_another_mode_leaves_the_stored_plan_alone() {
    let ws = Ws::new();
    assert!(ws.run(&["compile", "validate"]).status.success());
    let before = std::fs::read_to_string(ws.path("state/compiled_plan.json")).unwrap();
    let out = ws.run(&["skills", "create", "Probe flags", "--mode", "learning_codex"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let after = std::fs::read_to_string(ws.path("state/compiled_plan.json")).unwrap();
    assert_eq!(before, after);
}
