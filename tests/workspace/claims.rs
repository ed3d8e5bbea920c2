//! Claim order, transitions, quarantine during claims, and the queue index
//! noticing files that agents add, remove or edit behind its back.

use std::io::Write;
use std::time::{Duration, SystemTime};

use millrace::model::QueueState;
use millrace::plan::{Plane, WorkItemKind};
use millrace::workspace::queue::{QueueError, QueueIndex, Queues};

use super::{Ws, incident_md, learning_md, spec_md, task_md, task_md_rooted};

fn claim_id(ws: &Ws, plane: Plane, root: Option<&str>) -> Option<String> {
    let w = ws.workspace();
    let claimed = Queues::new(&w).claim(plane, root).unwrap();
    claimed.map(|c| {
        assert_eq!(c.path, w.paths().document(c.kind, QueueState::Active, &c.id));
        assert_eq!(c.document.id(), c.id);
        c.id
    })
}

fn finish(ws: &Ws, kind: WorkItemKind, id: &str) {
    let w = ws.workspace();
    Queues::new(&w).complete(kind, id).unwrap();
}

/// Sets a directory's mtime (so the index's racy-clean rule can be tested
/// without sleeping).
fn set_dir_mtime(dir: &std::path::Path, when: SystemTime) {
    std::fs::File::open(dir).unwrap().set_modified(when).unwrap();
}

#[test]
fn tasks_wait_for_their_dependencies_then_go_oldest_first() {
    let ws = Ws::new();
    ws.write("tasks/queue/b.md", &task_md("b", "2026-01-01T00:00:00Z", &["a"]));
    ws.write("tasks/queue/a.md", &task_md("a", "2026-01-05T00:00:00Z", &[]));
    ws.write("tasks/queue/c2.md", &task_md("c2", "2026-01-06T00:00:00Z", &[]));
    ws.write("tasks/queue/c1.md", &task_md("c1", "2026-01-06T00:00:00Z", &[]));
    // b is oldest but waits for a.
    assert_eq!(claim_id(&ws, Plane::Execution, None).as_deref(), Some("a"));
    finish(&ws, WorkItemKind::Task, "a");
    assert_eq!(claim_id(&ws, Plane::Execution, None).as_deref(), Some("b"));
    finish(&ws, WorkItemKind::Task, "b");
    // Same time: id order.
    assert_eq!(claim_id(&ws, Plane::Execution, None).as_deref(), Some("c1"));
    finish(&ws, WorkItemKind::Task, "c1");
    assert_eq!(claim_id(&ws, Plane::Execution, None).as_deref(), Some("c2"));
    finish(&ws, WorkItemKind::Task, "c2");
    assert_eq!(claim_id(&ws, Plane::Execution, None), None);
}

#[test]
fn a_dependency_that_never_finishes_blocks_only_its_dependents() {
    let ws = Ws::new();
    ws.write(
        "tasks/queue/x.md",
        &task_md("x", "2026-01-01T00:00:00Z", &["missing"]),
    );
    assert_eq!(claim_id(&ws, Plane::Execution, None), None);
    ws.write("tasks/queue/y.md", &task_md("y", "2026-01-02T00:00:00Z", &[]));
    assert_eq!(claim_id(&ws, Plane::Execution, None).as_deref(), Some("y"));
}

#[test]
fn one_active_item_per_plane() {
    let ws = Ws::new();
    let w = ws.workspace();
    ws.write("tasks/queue/a.md", &task_md("a", "2026-01-01T00:00:00Z", &[]));
    ws.write("tasks/queue/b.md", &task_md("b", "2026-01-02T00:00:00Z", &[]));
    assert_eq!(claim_id(&ws, Plane::Execution, None).as_deref(), Some("a"));
    let err = Queues::new(&w).claim(Plane::Execution, None).unwrap_err();
    assert!(
        matches!(err, QueueError::ActiveOccupied { ref id, .. } if id == "a"),
        "{err:?}"
    );
    ws.write("tasks/active/z.md", &task_md("z", "2026-01-01T00:00:00Z", &[]));
    let err = Queues::new(&w).claim(Plane::Execution, None).unwrap_err();
    assert!(
        matches!(err, QueueError::MultipleActive { count: 2, .. }),
        "{err:?}"
    );
    // Other planes are independent.
    ws.write("specs/queue/s.md", &spec_md("s", "2026-01-01T00:00:00Z"));
    assert_eq!(claim_id(&ws, Plane::Planning, None).as_deref(), Some("s"));
}

#[test]
fn planning_takes_incidents_before_older_specs() {
    let ws = Ws::new();
    ws.write("specs/queue/s-old.md", &spec_md("s-old", "2020-01-01T00:00:00Z"));
    ws.write(
        "incidents/incoming/i-2.md",
        &incident_md("i-2", "2026-02-01T00:00:00Z"),
    );
    ws.write(
        "incidents/incoming/i-1.md",
        &incident_md("i-1", "2026-01-01T00:00:00Z"),
    );
    assert_eq!(claim_id(&ws, Plane::Planning, None).as_deref(), Some("i-1"));
    finish(&ws, WorkItemKind::Incident, "i-1");
    assert!(ws.path("incidents/resolved/i-1.md").is_file());
    assert_eq!(claim_id(&ws, Plane::Planning, None).as_deref(), Some("i-2"));
    finish(&ws, WorkItemKind::Incident, "i-2");
    assert_eq!(claim_id(&ws, Plane::Planning, None).as_deref(), Some("s-old"));
    ws.write(
        "learning/requests/queue/l.md",
        &learning_md("l", "2026-01-01T00:00:00Z"),
    );
    assert_eq!(claim_id(&ws, Plane::Learning, None).as_deref(), Some("l"));
}

#[test]
fn a_root_filter_keeps_to_one_closure_family() {
    let ws = Ws::new();
    ws.write(
        "tasks/queue/other.md",
        &task_md_rooted("other", "2026-01-01T00:00:00Z", "root-b"),
    );
    ws.write(
        "tasks/queue/mine.md",
        &task_md_rooted("mine", "2026-01-02T00:00:00Z", "root-a"),
    );
    ws.write(
        "tasks/queue/loose.md",
        &task_md("loose", "2026-01-01T00:00:00Z", &[]),
    );
    assert_eq!(
        claim_id(&ws, Plane::Execution, Some("root-a")).as_deref(),
        Some("mine")
    );
    finish(&ws, WorkItemKind::Task, "mine");
    assert_eq!(claim_id(&ws, Plane::Execution, Some("root-a")), None);
    assert_eq!(claim_id(&ws, Plane::Execution, None).as_deref(), Some("loose"));
}

#[test]
fn malformed_and_duplicate_files_are_quarantined_and_the_claim_goes_on() {
    let ws = Ws::new();
    ws.write("tasks/queue/bad.md", "# Broken\n\nTask-ID: bad\n");
    ws.write(
        "tasks/queue/named-wrong.md",
        &task_md("other-id", "2026-01-01T00:00:00Z", &[]),
    );
    ws.write(
        "tasks/done/again.md",
        &task_md("again", "2026-01-01T00:00:00Z", &[]),
    );
    ws.write(
        "tasks/queue/again.md",
        &task_md("again", "2025-01-01T00:00:00Z", &[]),
    );
    ws.write(
        "tasks/queue/good.md",
        &task_md("good", "2026-06-01T00:00:00Z", &[]),
    );
    assert_eq!(claim_id(&ws, Plane::Execution, None).as_deref(), Some("good"));
    for name in ["bad.md.invalid", "named-wrong.md.invalid", "again.md.invalid"] {
        assert!(ws.path(&format!("tasks/queue/{name}")).is_file(), "{name}");
    }
    let log = std::fs::read_to_string(ws.path("tasks/queue/invalid-artifacts.jsonl")).unwrap();
    let records: Vec<serde_json::Value> = log.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(records.len(), 3);
    let reason = |name: &str| {
        records.iter().find(|r| r["source_name"] == name).unwrap()["error"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(reason("bad.md").contains("missing required field `Created-At`"));
    assert!(reason("named-wrong.md").contains("named `named-wrong`"));
    assert!(reason("again.md").contains("duplicate id"));
    // A second quarantine of the same name gets a numbered suffix.
    ws.write("tasks/queue/bad.md", "still broken");
    let w = ws.workspace();
    assert!(
        Queues::new(&w)
            .queued_in_order(WorkItemKind::Task)
            .unwrap()
            .is_empty()
    );
    assert!(ws.path("tasks/queue/bad.md.invalid.1").is_file());
}

#[test]
fn transitions_follow_the_lifecycle() {
    let ws = Ws::new();
    let w = ws.workspace();
    let q = Queues::new(&w);
    ws.write("tasks/queue/t.md", &task_md("t", "2026-01-01T00:00:00Z", &[]));
    let err = q.complete(WorkItemKind::Task, "t").unwrap_err();
    assert!(matches!(
        err,
        QueueError::NotFound {
            state: QueueState::Active,
            ..
        }
    ));
    let err = q
        .transition(WorkItemKind::Task, "t", QueueState::Queued, QueueState::Done)
        .unwrap_err();
    assert!(matches!(err, QueueError::IllegalTransition { .. }));
    assert_eq!(claim_id(&ws, Plane::Execution, None).as_deref(), Some("t"));
    assert!(matches!(
        q.requeue(WorkItemKind::Task, "t", " "),
        Err(QueueError::EmptyReason)
    ));
    q.requeue(WorkItemKind::Task, "t", "operator asked").unwrap();
    let log = std::fs::read_to_string(ws.path("tasks/queue/t.requeue.jsonl")).unwrap();
    let line: serde_json::Value = serde_json::from_str(log.trim()).unwrap();
    assert_eq!(line["reason"], "operator asked");
    assert_eq!(line["kind"], "task");
    assert_eq!(claim_id(&ws, Plane::Execution, None).as_deref(), Some("t"));
    ws.write("tasks/blocked/t.md", "occupied");
    let err = q.block(WorkItemKind::Task, "t").unwrap_err();
    assert!(matches!(err, QueueError::DestinationExists { .. }), "{err:?}");
    assert!(
        ws.path("tasks/active/t.md").is_file(),
        "a refused move loses nothing"
    );
}

#[test]
fn enqueue_refuses_ids_used_anywhere_in_the_family() {
    let ws = Ws::new();
    let w = ws.workspace();
    let q = Queues::new(&w);
    let doc =
        millrace::model::WorkDocument::parse_markdown(None, &task_md("t", "2026-01-01T00:00:00Z", &[]), "x")
            .unwrap();
    ws.write("tasks/blocked/t.md", "anything");
    assert!(matches!(q.enqueue(&doc), Err(QueueError::DuplicateId { .. })));
    std::fs::remove_file(ws.path("tasks/blocked/t.md")).unwrap();
    let path = q.enqueue(&doc).unwrap();
    assert_eq!(path, ws.path("tasks/queue/t.md"));
}

#[test]
fn the_index_is_trusted_only_while_the_directory_is_unchanged_and_not_racy() {
    let ws = Ws::new();
    let w = ws.workspace();
    let dir = ws.path("tasks/queue");
    for i in 0..50 {
        ws.write(
            &format!("tasks/queue/t{i:02}.md"),
            &task_md(&format!("t{i:02}"), "2026-01-01T00:00:00Z", &[]),
        );
    }
    let an_hour_ago = SystemTime::now() - Duration::from_secs(3600);
    set_dir_mtime(&dir, an_hour_ago);
    let (index, report) = QueueIndex::refresh(&w, WorkItemKind::Task).unwrap();
    assert!(!report.trusted);
    assert_eq!((index.len(), report.parsed), (50, 50));
    let (_, report) = QueueIndex::refresh(&w, WorkItemKind::Task).unwrap();
    assert!(report.trusted, "unchanged and long settled: no readdir, no parse");

    // An agent adds a file behind the index's back: one new parse only.
    // (The directory's mtime is then put in the future, so the builds
    // below are racy however slowly this test runs.)
    ws.write("tasks/queue/new.md", &task_md("new", "2025-01-01T00:00:00Z", &[]));
    set_dir_mtime(&dir, SystemTime::now() + Duration::from_secs(3600));
    let (index, report) = QueueIndex::refresh(&w, WorkItemKind::Task).unwrap();
    assert!(!report.trusted);
    assert_eq!((index.len(), report.parsed), (51, 1));
    assert_eq!(
        index.entries()[0].id(),
        "new",
        "claim order includes the new file"
    );

    // Built right after a change (racy): a rescan inside the racy window
    // could not settle it, so none is made and nothing is stored again (a
    // rename would give a new inode); it is verified once the window ends.
    let stored =
        || std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(ws.path("state/index/task.json")).unwrap());
    let before = stored();
    let (_, report) = QueueIndex::refresh(&w, WorkItemKind::Task).unwrap();
    assert!(!report.trusted && report.parsed == 0);
    assert_eq!(stored(), before, "an unchanged racy index is not rewritten");

    // A file removed behind its back is dropped.
    std::fs::remove_file(ws.path("tasks/queue/t07.md")).unwrap();
    set_dir_mtime(&dir, an_hour_ago);
    let (index, report) = QueueIndex::refresh(&w, WorkItemKind::Task).unwrap();
    assert_eq!((index.len(), report.parsed), (50, 0));
    assert!(index.entries().iter().all(|e| e.id() != "t07"));
    // The same mtime again (a change hidden by timestamp granularity would
    // look like this) is trusted only because the build was not racy.
    let (_, report) = QueueIndex::refresh(&w, WorkItemKind::Task).unwrap();
    assert!(report.trusted);
}

#[test]
fn claims_notice_files_removed_or_edited_behind_the_index() {
    let ws = Ws::new();
    let dir = ws.path("tasks/queue");
    ws.write(
        "tasks/queue/first.md",
        &task_md("first", "2026-01-01T00:00:00Z", &[]),
    );
    ws.write(
        "tasks/queue/second.md",
        &task_md("second", "2026-01-02T00:00:00Z", &[]),
    );
    ws.write(
        "tasks/queue/third.md",
        &task_md("third", "2026-01-03T00:00:00Z", &[]),
    );
    ws.write(
        "tasks/queue/fourth.md",
        &task_md("fourth", "2026-01-04T00:00:00Z", &[]),
    );
    let old = SystemTime::now() - Duration::from_secs(3600);
    set_dir_mtime(&dir, old);
    let w = ws.workspace();
    assert_eq!(QueueIndex::refresh(&w, WorkItemKind::Task).unwrap().1.parsed, 4);
    // Behind the trusted index: `first` vanishes, `second` gains a
    // dependency by an in-place edit (same inode).
    std::fs::remove_file(dir.join("first.md")).unwrap();
    let edited = task_md("second", "2026-01-02T00:00:00Z", &["not-done"]);
    std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(dir.join("second.md"))
        .unwrap()
        .write_all(edited.as_bytes())
        .unwrap();
    set_dir_mtime(&dir, old);
    assert!(QueueIndex::refresh(&w, WorkItemKind::Task).unwrap().1.trusted);
    assert_eq!(claim_id(&ws, Plane::Execution, None).as_deref(), Some("third"));
    finish(&ws, WorkItemKind::Task, "third");
    // `fourth` is rewritten by rename (as editors do) to be the oldest.
    let temp = dir.join(".fourth.md.swp");
    std::fs::write(&temp, task_md("fourth", "2025-01-01T00:00:00Z", &[])).unwrap();
    std::fs::rename(&temp, dir.join("fourth.md")).unwrap();
    let (index, report) = QueueIndex::refresh(&w, WorkItemKind::Task).unwrap();
    assert_eq!(report.parsed, 1, "only the replaced file is read again");
    assert_eq!(index.entries()[0].id(), "fourth");
    assert_eq!(claim_id(&ws, Plane::Execution, None).as_deref(), Some("fourth"));
}

/// A workspace that holds its indexes (the runtime's) reads them from
/// memory, under the same trust rule as the file: a file that lands in the
/// same timestamp tick as the runtime's own claim is found once the racy
/// window has passed, never lost; one that moves the mtime, at once.
#[test]
fn a_held_index_finds_a_file_added_in_the_tick_of_a_claim_after_the_window() {
    let ws = Ws::new();
    let dir = ws.path("tasks/queue");
    for id in ["a", "b"] {
        ws.write(
            &format!("tasks/queue/{id}.md"),
            &task_md(id, "2026-01-02T00:00:00Z", &[]),
        );
    }
    let w = ws.workspace().holding_indexes();
    let queues = Queues::new(&w);
    assert_eq!(queues.claim(Plane::Execution, None).unwrap().unwrap().id, "a");
    assert_eq!(queues.depth(WorkItemKind::Task).unwrap(), 1);
    // Same tick as the claim: the mtime does not move.
    let claimed_at = std::fs::metadata(&dir).unwrap().modified().unwrap();
    ws.write("tasks/queue/c.md", &task_md("c", "2026-01-01T00:00:00Z", &[]));
    set_dir_mtime(&dir, claimed_at);
    let (index, report) = QueueIndex::refresh(&w, WorkItemKind::Task).unwrap();
    assert!(!report.trusted, "a racy index is never called trusted");
    assert_eq!(index.len(), 1, "inside the window the index is used as it is");
    std::thread::sleep(Duration::from_millis(60));
    let (index, report) = QueueIndex::refresh(&w, WorkItemKind::Task).unwrap();
    assert_eq!(
        (index.len(), report.parsed),
        (2, 1),
        "verified once the window passed"
    );
    assert_eq!(queues.depth(WorkItemKind::Task).unwrap(), 2);
    // A change that moves the mtime is seen at once.
    ws.write("tasks/queue/d.md", &task_md("d", "2026-01-03T00:00:00Z", &[]));
    set_dir_mtime(&dir, SystemTime::now() + Duration::from_secs(60));
    assert_eq!(queues.depth(WorkItemKind::Task).unwrap(), 3);
    queues.complete(WorkItemKind::Task, "a").unwrap();
    assert_eq!(queues.claim(Plane::Execution, None).unwrap().unwrap().id, "c");
}

#[test]
fn a_large_queue_is_indexed_once_and_claimed_without_reparsing() {
    let ws = Ws::new();
    let w = ws.workspace();
    for i in 0..2000 {
        ws.write(
            &format!("tasks/queue/t{i:05}.md"),
            &task_md(&format!("t{i:05}"), "2026-01-01T00:00:00Z", &[]),
        );
    }
    assert_eq!(claim_id(&ws, Plane::Execution, None).as_deref(), Some("t00000"));
    finish(&ws, WorkItemKind::Task, "t00000");
    let (index, report) = QueueIndex::refresh(&w, WorkItemKind::Task).unwrap();
    assert_eq!(index.len(), 1999);
    assert_eq!(report.parsed, 0, "known names are never parsed again");
    assert_eq!(claim_id(&ws, Plane::Execution, None).as_deref(), Some("t00001"));
}

#[test]
fn lineage_work_finds_open_items_of_a_root_in_every_state() {
    let ws = Ws::new();
    let w = ws.workspace();
    ws.write(
        "tasks/queue/q.md",
        &task_md_rooted("q", "2026-01-01T00:00:00Z", "root-a"),
    );
    ws.write(
        "tasks/queue/other.md",
        &task_md_rooted("other", "2026-01-01T00:00:00Z", "root-b"),
    );
    ws.write(
        "tasks/blocked/b.md",
        &task_md_rooted("b", "2026-01-01T00:00:00Z", "root-a"),
    );
    ws.write(
        "tasks/done/d.md",
        &task_md_rooted("d", "2026-01-01T00:00:00Z", "root-a"),
    );
    ws.write(
        "specs/active/root-a.md",
        &spec_md("root-a", "2026-01-01T00:00:00Z"),
    );
    let found = Queues::new(&w).lineage_work("root-a").unwrap();
    let ids: Vec<_> = found.iter().map(|i| (i.kind, i.id.as_str(), i.state)).collect();
    assert_eq!(
        ids,
        [
            (WorkItemKind::Task, "q", QueueState::Queued),
            (WorkItemKind::Task, "b", QueueState::Blocked),
            (WorkItemKind::Spec, "root-a", QueueState::Active),
        ]
    );
}

#[test]
fn an_idea_is_represented_once_by_its_spec() {
    use millrace::workspace::document::normalize_idea;
    let ws = Ws::new();
    let w = ws.workspace();
    let q = Queues::new(&w);
    let idea = normalize_idea("fast.md", "# Fast\n\nbe quick\n", jiff::Timestamp::now());
    assert!(!q.idea_represented(idea.spec.id(), &idea.idea_reference).unwrap());
    q.enqueue(&idea.spec).unwrap();
    assert!(q.idea_represented(idea.spec.id(), &idea.idea_reference).unwrap());
    // A hand-written spec that references the idea file also counts.
    let other = normalize_idea("slow.md", "# Slow\n", jiff::Timestamp::now());
    let manual = spec_md("manual-1", "2026-01-01T00:00:00Z")
        .replace("References:\n- none", "References:\n- ideas/inbox/slow.md");
    ws.write("specs/done/manual-1.md", &manual);
    assert!(
        q.idea_represented(other.spec.id(), &other.idea_reference)
            .unwrap()
    );
}
