//! `millrace queue add-task|add-spec|add-idea|ls|show` through the binary,
//! including every bad-input path and the mailbox route under a daemon.

use millrace::workspace::lock::record_for_this_process;
use millrace::workspace::mailbox;

use super::{Ws, field, fields, json, spec_md, stderr, stdout, task_md};

fn write_input(ws: &Ws, name: &str, text: &str) -> String {
    let path = ws.root.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn add_task_enqueues_a_canonical_document() {
    let ws = Ws::new();
    let file = write_input(
        &ws,
        "t.md",
        &task_md("task-1", "2026-01-01T00:00:00Z", &[]).replace("Risk:", "Some prose.\n\nRisk:"),
    );
    let out = ws.run(&["queue", "add-task", &file]);
    assert!(out.status.success(), "{}", stderr(&out));
    let queued = ws.path("tasks/queue/task-1.md");
    assert_eq!(
        field(&stdout(&out), "enqueued_task").as_deref(),
        Some(queued.to_str().unwrap())
    );
    assert_eq!(field(&stdout(&out), "mode").as_deref(), Some("direct"));
    let text = std::fs::read_to_string(&queued).unwrap();
    assert!(
        text.starts_with("# Task task-1\n\nTask-ID: task-1\nTitle: Task task-1\n"),
        "{text}"
    );
    assert!(text.contains("Some prose."), "prose must survive intake: {text}");
}

#[test]
fn add_task_accepts_json_and_prints_json() {
    let ws = Ws::new();
    let doc = serde_json::json!({
        "task_id": "j-1", "title": "From JSON", "created_at": "2026-01-01T00:00:00Z", "created_by": "agent",
        "target_paths": ["a"], "acceptance": ["b"], "required_checks": ["c"], "references": ["d"], "risk": ["e"]
    });
    let file = write_input(&ws, "j-1.json", &doc.to_string());
    let out = ws.run(&["queue", "add-task", &file, "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let value = json(&out);
    assert_eq!(value["mode"], "direct");
    assert_eq!(value["id"], "j-1");
    assert!(ws.path("tasks/queue/j-1.md").is_file());
}

#[test]
fn duplicate_ids_are_refused_across_the_family() {
    let ws = Ws::new();
    let file = write_input(&ws, "t.md", &task_md("dup", "2026-01-01T00:00:00Z", &[]));
    assert!(ws.run(&["queue", "add-task", &file]).status.success());
    let out = ws.run(&["queue", "add-task", &file]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("mill::queue::duplicate_id"),
        "{}",
        stderr(&out)
    );
    // An id that already finished is a duplicate too.
    std::fs::rename(ws.path("tasks/queue/dup.md"), ws.path("tasks/done/dup.md")).unwrap();
    let out = ws.run(&["queue", "add-task", &file]);
    assert!(stderr(&out).contains("mill::queue::duplicate_id"));
    assert!(!ws.path("tasks/queue/dup.md").exists());
}

#[test]
fn a_malformed_document_reports_every_problem_and_writes_nothing() {
    let ws = Ws::new();
    let text = "# Broken\n\nTask-ID: ok-id\nCreated-At: tomorrow\nCreated-By: me\nStatus-Hint: maybe\n\nAcceptance:\n- fine\nnot an item\n";
    let file = write_input(&ws, "b.md", text);
    let out = ws.run(&["queue", "add-task", &file]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    for needle in [
        "mill::document::invalid",
        "b.md:4:1",
        "`Created-At`",
        "b.md:6:1",
        "`maybe` is not one of",
        "mill::document::invalid_list_item",
        "b.md:10:1",
        "missing required field `Risk`",
    ] {
        assert!(err.contains(needle), "missing {needle:?} in\n{err}");
    }
    assert_eq!(std::fs::read_dir(ws.path("tasks/queue")).unwrap().count(), 0);
}

#[test]
fn path_traversal_ids_never_become_paths() {
    let ws = Ws::new();
    let file = write_input(
        &ws,
        "evil.md",
        &task_md("x", "2026-01-01T00:00:00Z", &[]).replace("Task-ID: x", "Task-ID: ../../escape"),
    );
    let out = ws.run(&["queue", "add-task", &file]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("is not a valid id"), "{}", stderr(&out));
    assert!(!ws.root.join("escape.md").exists() && !ws.path("escape.md").exists());
    for id in ["../etc", "a/b", ".hidden"] {
        let out = ws.run(&["queue", "show", id]);
        assert_eq!(out.status.code(), Some(1));
        assert!(
            stderr(&out).contains("mill::id::invalid"),
            "{id}: {}",
            stderr(&out)
        );
    }
}

#[test]
fn other_bad_inputs_have_codes() {
    let ws = Ws::new();
    let txt = write_input(&ws, "t.txt", "hello");
    let out = ws.run(&["queue", "add-task", &txt]);
    assert!(stderr(&out).contains("mill::document::unsupported_extension"));
    let missing = ws.root.join("nope.md");
    let out = ws.run(&["queue", "add-task", missing.to_str().unwrap()]);
    assert!(
        stderr(&out).contains("mill::document::unreadable"),
        "{}",
        stderr(&out)
    );
    let spec = write_input(&ws, "s.md", &spec_md("s-1", "2026-01-01T00:00:00Z"));
    let out = ws.run(&["queue", "add-task", &spec]);
    assert!(
        stderr(&out).contains("mill::document::kind_mismatch"),
        "{}",
        stderr(&out)
    );
    let out = ws.run(&["queue", "add-spec", &spec]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(ws.path("specs/queue/s-1.md").is_file());
}

#[test]
fn add_idea_stages_without_overwriting() {
    let ws = Ws::new();
    let file = write_input(&ws, "fast-search.md", "# Fast search\n\nMake it fast.\n");
    let out = ws.run(&["queue", "add-idea", &file]);
    assert!(out.status.success(), "{}", stderr(&out));
    let staged = ws.root.join("ideas/inbox/fast-search.md");
    assert_eq!(
        std::fs::read_to_string(&staged).unwrap(),
        "# Fast search\n\nMake it fast.\n"
    );
    let out = ws.run(&["queue", "add-idea", &file]);
    assert!(stderr(&out).contains("mill::queue::idea_exists"));
    let bad = write_input(&ws, "my idea.md", "# x\n");
    assert!(stderr(&ws.run(&["queue", "add-idea", &bad])).contains("mill::queue::invalid_idea"));
    let empty = write_input(&ws, "empty.md", "  \n");
    assert!(stderr(&ws.run(&["queue", "add-idea", &empty])).contains("mill::queue::invalid_idea"));
}

#[test]
fn under_a_daemon_additions_go_through_the_mailbox() {
    let ws = Ws::new();
    let record = record_for_this_process(&ws.workspace(), "daemon-session");
    std::fs::write(
        ws.path("state/runtime_daemon.lock.json"),
        serde_json::to_string(&record).unwrap(),
    )
    .unwrap();
    let file = write_input(&ws, "t.md", &task_md("via-mail", "2026-01-01T00:00:00Z", &[]));
    let out = ws.run(&["queue", "add-task", &file]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(field(&text, "mode").as_deref(), Some("mailbox"));
    let command_id = field(&text, "command_id").unwrap();
    assert!(command_id.starts_with("cmd-"));
    assert!(
        !ws.path("tasks/queue/via-mail.md").exists(),
        "the daemon owns the queues"
    );
    let idea = write_input(&ws, "idea-a.md", "# A\n");
    assert!(ws.run(&["queue", "add-idea", &idea]).status.success());
    let pending = mailbox::pending(&ws.workspace()).unwrap();
    assert_eq!(pending.len(), 2);
    assert_eq!(pending[0].envelope.command_id, command_id);
    let mailbox::Command::AddTask(doc) = &pending[0].command else {
        panic!("{:?}", pending[0].command)
    };
    assert_eq!(doc.id(), "via-mail");
    assert!(
        matches!(&pending[1].command, mailbox::Command::AddIdea { source_name, .. } if source_name == "idea-a.md")
    );
    assert!(!ws.root.join("ideas/inbox/idea-a.md").exists());
}

#[test]
fn ls_and_show_report_queues_and_items() {
    let ws = Ws::new();
    ws.write("tasks/queue/b.md", &task_md("b", "2026-01-02T00:00:00Z", &["a"]));
    ws.write("tasks/queue/a.md", &task_md("a", "2026-01-03T00:00:00Z", &[]));
    ws.write("tasks/active/c.md", &task_md("c", "2026-01-01T00:00:00Z", &[]));
    ws.write("specs/queue/s.md", &spec_md("s", "2026-01-01T00:00:00Z"));
    let out = ws.run(&["queue", "ls"]);
    let text = stdout(&out);
    assert_eq!(field(&text, "execution_queue_depth").as_deref(), Some("2"));
    assert_eq!(field(&text, "execution_active").as_deref(), Some("task:c"));
    assert_eq!(field(&text, "planning_queue_depth").as_deref(), Some("1"));
    assert_eq!(field(&text, "learning_active").as_deref(), Some("none"));
    assert!(fields(&text, "queued").is_empty(), "plain ls lists counts only");

    let all = stdout(&ws.run(&["queue", "ls", "--all"]));
    let queued = fields(&all, "queued");
    assert_eq!(queued.len(), 3, "{all}");
    assert!(
        queued[0].starts_with("task b at=2026-01-02T00:00:00Z eligible=false"),
        "{}",
        queued[0]
    );
    assert!(
        queued[1].starts_with("task a at=2026-01-03T00:00:00Z eligible=true"),
        "{}",
        queued[1]
    );
    assert!(queued[2].starts_with("spec s "), "{}", queued[2]);
    let value = json(&ws.run(&["queue", "ls", "--all", "--json"]));
    assert_eq!(value["planes"]["execution"]["depth"], 2);
    assert_eq!(value["planes"]["execution"]["queued"][0]["id"], "b");
    assert_eq!(value["planes"]["execution"]["queued"][0]["depends_on"][0], "a");

    let show = stdout(&ws.run(&["queue", "show", "c"]));
    assert_eq!(field(&show, "work_item_kind").as_deref(), Some("task"));
    assert_eq!(field(&show, "work_item_state").as_deref(), Some("active"));
    assert_eq!(field(&show, "title").as_deref(), Some("Task c"));
    let value = json(&ws.run(&["queue", "show", "s", "--json"]));
    assert_eq!(value["kind"], "spec");
    assert_eq!(value["root_spec_id"], "s");
    assert_eq!(value["document"]["source_type"], "manual");
    let out = ws.run(&["queue", "show", "ghost"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("mill::queue::unknown_item"));
}
