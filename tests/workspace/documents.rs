//! Work documents: every problem reported at once, prose kept, canonical
//! rendering, JSON intake, lineage rules, and the round-trip properties.

use millrace::model::WorkDocument;
use millrace::plan::WorkItemKind;
use millrace::workspace::document::{check_stem, codes};
use proptest::prelude::*;

use super::{incident_md, learning_md, spec_md, task_md};

const TASK: &str = "\
# Add search

Task-ID: task-1
Created-At: 2026-04-16T14:03:00Z
Created-By: operator

Some prose the author wrote.

Depends-On:
- none

Target-Paths:
- src/search.rs

Acceptance:
- search works

Required-Checks:
- cargo test

References:
- docs/search.md

Risk:
- low

## Notes
- keep it simple
";

fn codes_of(err: &millrace::workspace::document::DocumentError) -> Vec<(&'static str, usize)> {
    err.problems().iter().map(|p| (p.code, p.line)).collect()
}

/// A task that depends on itself could never be claimed; intake refuses
/// it (markdown and JSON alike) instead of queueing it forever.
#[test]
fn a_task_that_depends_on_itself_is_refused() {
    let text = TASK.replace("Depends-On:\n- none", "Depends-On:\n- task-0\n- task-1");
    let err = WorkDocument::parse_markdown(None, &text, "task-1.md").unwrap_err();
    assert_eq!(codes_of(&err), [("mill::document::invalid_value", 9)]);
    let mut json = WorkDocument::parse_markdown(None, TASK, "task-1.md")
        .unwrap()
        .to_json();
    json["depends_on"] = serde_json::json!(["task-1"]);
    let err = WorkDocument::from_json_value(None, &json, "task-1.json").unwrap_err();
    assert_eq!(err.problems()[0].code, "mill::document::invalid_value");
}

#[test]
fn a_task_parses_and_keeps_its_prose() {
    let doc = WorkDocument::parse_markdown(None, TASK, "task-1.md").unwrap();
    let WorkDocument::Task(task) = &doc else {
        panic!("expected a task")
    };
    assert_eq!(task.task_id, "task-1");
    assert_eq!(task.title, "Add search");
    assert!(task.depends_on.is_empty(), "`none` means no dependency");
    assert_eq!(
        task.body,
        "Some prose the author wrote.\n\n## Notes\n- keep it simple"
    );
    let rendered = doc.render();
    assert!(rendered.contains("Some prose the author wrote."));
    assert!(rendered.contains("- keep it simple"));
    assert_eq!(
        WorkDocument::parse_markdown(None, &rendered, "again").unwrap(),
        doc
    );
}

#[test]
fn rendering_is_canonical() {
    let doc = WorkDocument::parse_markdown(
        Some(WorkItemKind::Task),
        &task_md("t-9", "2026-01-01T00:00:00+02:00", &["t-1"]),
        "x",
    )
    .unwrap();
    let text = doc.render();
    assert!(
        text.starts_with("# Task t-9\n\nTask-ID: t-9\nTitle: Task t-9\n"),
        "{text}"
    );
    // Offsets are normalized to UTC.
    assert!(text.contains("Created-At: 2025-12-31T22:00:00Z\n"), "{text}");
    assert!(text.contains("\nDepends-On:\n- t-1\n"), "{text}");
    // Rendering twice is stable.
    let again = WorkDocument::parse_markdown(None, &text, "x").unwrap().render();
    assert_eq!(text, again);
}

#[test]
fn every_problem_is_reported_at_once_with_lines() {
    let text = "# T\n\nTask-ID: a/b\nCreated-At: yesterday\nTask-ID: x\nSummary: s\n- stray\n\nAcceptance:\n- a\nprose right after\n";
    let err = WorkDocument::parse_markdown(Some(WorkItemKind::Task), text, "bad.md").unwrap_err();
    let found = codes_of(&err);
    for expected in [
        (codes::INVALID_VALUE, 3),
        (codes::INVALID_VALUE, 4),
        (codes::DUPLICATE_FIELD, 5),
        (codes::ITEMS_UNDER_SCALAR, 7),
        (codes::INVALID_LIST_ITEM, 11),
    ] {
        assert!(found.contains(&expected), "missing {expected:?} in {found:?}");
    }
    let missing: Vec<_> = err
        .problems()
        .iter()
        .filter(|p| p.code == codes::MISSING_FIELD)
        .map(|p| p.subject.clone().unwrap())
        .collect();
    assert_eq!(
        missing,
        [
            "Created-By",
            "Target-Paths",
            "Required-Checks",
            "References",
            "Risk"
        ]
    );
    // The rendered report names the file and line of each problem.
    let rendered = millrace::cli::render_report(&miette::Report::new(err), false);
    assert!(rendered.contains("bad.md:4:1"), "{rendered}");
    assert!(rendered.contains("mill::document::duplicate_field"), "{rendered}");
}

#[test]
fn a_missing_heading_and_a_title_mismatch_are_reported() {
    let no_title = task_md("t", "2026-01-01T00:00:00Z", &[]).replacen("# Task t\n", "", 1);
    let err = WorkDocument::parse_markdown(Some(WorkItemKind::Task), &no_title, "x").unwrap_err();
    assert!(codes_of(&err).iter().any(|(c, _)| *c == codes::MISSING_TITLE));
    let mismatch = task_md("t", "2026-01-01T00:00:00Z", &[])
        .replace("Created-By: test\n", "Created-By: test\nTitle: Other\n");
    let err = WorkDocument::parse_markdown(Some(WorkItemKind::Task), &mismatch, "x").unwrap_err();
    assert_eq!(codes_of(&err), [(codes::TITLE_MISMATCH, 6)]);
}

#[test]
fn required_lists_need_items() {
    let text = task_md("t", "2026-01-01T00:00:00Z", &[]).replace("Risk:\n- low\n", "Risk:\n");
    let err = WorkDocument::parse_markdown(Some(WorkItemKind::Task), &text, "x").unwrap_err();
    assert_eq!(err.problems().len(), 1);
    assert_eq!(err.problems()[0].code, codes::EMPTY_LIST);
}

#[test]
fn kinds_are_inferred_from_id_labels() {
    let task = task_md("t", "2026-01-01T00:00:00Z", &[])
        .replace("Created-By: test\n", "Created-By: test\nSpec-ID: s-1\n");
    assert_eq!(
        WorkDocument::parse_markdown(None, &task, "x").unwrap().kind(),
        WorkItemKind::Task
    );
    for (text, kind) in [
        (spec_md("s", "2026-01-01T00:00:00Z"), WorkItemKind::Spec),
        (incident_md("i", "2026-01-01T00:00:00Z"), WorkItemKind::Incident),
        (
            learning_md("l", "2026-01-01T00:00:00Z"),
            WorkItemKind::LearningRequest,
        ),
    ] {
        assert_eq!(
            WorkDocument::parse_markdown(None, &text, "x").unwrap().kind(),
            kind
        );
    }
    let both = format!(
        "{}Learning-Request-ID: l\n",
        task_md("t", "2026-01-01T00:00:00Z", &[])
    );
    let err = WorkDocument::parse_markdown(None, &both, "x").unwrap_err();
    assert_eq!(err.problems()[0].code, codes::AMBIGUOUS_KIND);
    let err = WorkDocument::parse_markdown(None, "# Nothing\n\nprose\n", "x").unwrap_err();
    assert_eq!(err.problems()[0].code, codes::UNKNOWN_KIND);
}

#[test]
fn parsing_a_spec_as_a_task_says_so() {
    let err = WorkDocument::parse_markdown(
        Some(WorkItemKind::Task),
        &spec_md("s", "2026-01-01T00:00:00Z"),
        "x",
    )
    .unwrap_err();
    assert!(
        codes_of(&err).iter().any(|(c, _)| *c == codes::KIND_MISMATCH),
        "{:?}",
        codes_of(&err)
    );
}

#[test]
fn incident_defaults_are_applied_and_not_rendered() {
    let doc = WorkDocument::parse_markdown(None, &incident_md("i-1", "2026-01-01T00:00:00Z"), "x").unwrap();
    let WorkDocument::Incident(incident) = &doc else {
        panic!()
    };
    assert_eq!(incident.severity.as_str(), "medium");
    assert!(incident.needs_planning);
    let text = doc.render();
    assert!(
        !text.contains("Severity:") && !text.contains("Needs-Planning:"),
        "{text}"
    );
    let bad = incident_md("i-1", "2026-01-01T00:00:00Z")
        .replace("Source-Plane: execution", "Source-Plane: kitchen");
    let err = WorkDocument::parse_markdown(None, &bad, "x").unwrap_err();
    assert_eq!(codes_of(&err), [(codes::INVALID_VALUE, 6)]);
}

#[test]
fn effective_root_spec_ids_follow_the_lineage_rules() {
    let parse = |t: &str| WorkDocument::parse_markdown(None, t, "x").unwrap();
    let plain = parse(&task_md("t", "2026-01-01T00:00:00Z", &[]));
    assert_eq!(plain.effective_root_spec_id(), None);
    let with_spec = parse(
        &task_md("t", "2026-01-01T00:00:00Z", &[])
            .replace("Created-By: test\n", "Created-By: test\nSpec-ID: s-1\n"),
    );
    assert_eq!(with_spec.effective_root_spec_id(), Some("s-1"));
    let rooted = parse(&task_md("t", "2026-01-01T00:00:00Z", &[]).replace(
        "Created-By: test\n",
        "Created-By: test\nSpec-ID: s-1\nRoot-Spec-ID: r-1\n",
    ));
    assert_eq!(rooted.effective_root_spec_id(), Some("r-1"));
    let manual_spec = parse(&spec_md("s-2", "2026-01-01T00:00:00Z"));
    assert_eq!(manual_spec.effective_root_spec_id(), Some("s-2"));
    assert!(manual_spec.is_root_spec());
    let derived = parse(
        &spec_md("s-3", "2026-01-01T00:00:00Z").replace("Source-Type: manual", "Source-Type: derived_spec"),
    );
    assert_eq!(derived.effective_root_spec_id(), None);
    assert!(!derived.is_root_spec());
    let incident = parse(
        &incident_md("i", "2026-01-01T00:00:00Z").replace("Opened-By", "Source-Spec-ID: s-4\nOpened-By"),
    );
    assert_eq!(incident.effective_root_spec_id(), Some("s-4"));
}

#[test]
fn a_file_name_must_match_the_id() {
    let doc = WorkDocument::parse_markdown(None, &task_md("t-1", "2026-01-01T00:00:00Z", &[]), "x").unwrap();
    assert!(check_stem(&doc, std::path::Path::new("q/t-1.md")).is_ok());
    let err = check_stem(&doc, std::path::Path::new("q/t-2.md")).unwrap_err();
    assert_eq!(err.problems()[0].code, codes::ID_MISMATCH);
}

#[test]
fn json_intake_checks_the_same_rules_and_reports_everything() {
    let text = r#"{"kind":"task","task_id":"../x","title":"T","created_at":"soon","created_by":"me",
        "target_paths":["a"],"acceptance":[],"required_checks":"cargo test","references":["r"],"risk":["r"],"colour":"red"}"#;
    let err = WorkDocument::parse_json(None, text, "t.json").unwrap_err();
    let mut found: Vec<_> = err
        .problems()
        .iter()
        .map(|p| (p.code, p.subject.clone().unwrap_or_default()))
        .collect();
    found.sort();
    assert_eq!(
        found,
        [
            (codes::EMPTY_LIST, "Acceptance".to_string()),
            (codes::INVALID_VALUE, "Created-At".to_string()),
            (codes::INVALID_VALUE, "Task-ID".to_string()),
            (codes::INVALID_VALUE, "required_checks".to_string()),
            (codes::UNKNOWN_FIELD, "colour".to_string()),
        ]
    );
    let err = WorkDocument::parse_json(Some(WorkItemKind::Spec), r#"{"kind":"task"}"#, "t.json").unwrap_err();
    assert_eq!(err.problems()[0].code, codes::KIND_MISMATCH);
    let err = WorkDocument::parse_json(None, "{not json", "t.json").unwrap_err();
    assert_eq!(err.problems()[0].code, codes::INVALID_JSON);
}

#[test]
fn json_round_trips_through_markdown_and_back() {
    let doc = WorkDocument::parse_markdown(None, TASK, "x").unwrap();
    let value = doc.to_json();
    assert_eq!(value["kind"], "task");
    assert_eq!(WorkDocument::from_json_value(None, &value, "x").unwrap(), doc);
}

#[test]
fn a_json_body_that_would_read_back_as_fields_is_refused() {
    let mut value = WorkDocument::parse_markdown(None, TASK, "x").unwrap().to_json();
    value["body"] = "Acceptance: sneaky".into();
    let err = WorkDocument::from_json_value(None, &value, "x").unwrap_err();
    assert_eq!(err.problems()[0].subject.as_deref(), Some("body"));
}

// ---- properties -----------------------------------------------------------

fn id() -> impl Strategy<Value = String> {
    "[A-Za-z0-9][A-Za-z0-9._-]{0,12}".prop_filter("no ..", |s| !s.contains(".."))
}

fn text() -> impl Strategy<Value = String> {
    "[A-Za-z0-9][A-Za-z0-9 ,.:/_()#-]{0,24}[A-Za-z0-9)]".prop_map(|s| s.trim().to_string())
}

fn timestamp() -> impl Strategy<Value = jiff::Timestamp> {
    (0i64..4_000_000_000, 0i32..1_000_000_000).prop_map(|(s, n)| jiff::Timestamp::new(s, n).unwrap())
}

fn body() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        "[a-z][a-z ]{0,16}[a-z.]",
        "## [A-Za-z ]{1,12}[a-z]",
        "- [a-z][a-z ]{0,10}[a-z]",
        "> [a-z ]{1,12}[a-z]"
    ];
    prop::collection::vec(prop::collection::vec(line, 1..4), 0..3).prop_map(|paragraphs| {
        paragraphs
            .iter()
            .map(|p| p.join("\n"))
            .collect::<Vec<_>>()
            .join("\n\n")
    })
}

fn list(min: usize) -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(text(), min..3)
}

prop_compose! {
    fn task()(
        id in id(), title in text(), summary in prop::option::of(text()), spec in prop::option::of(id()),
        root in prop::option::of(id()), created in timestamp(), updated in prop::option::of(timestamp()),
        deps in prop::collection::vec(id(), 0..3), tags in list(0), paths in list(1), acceptance in list(1),
        checks in list(1), refs in list(1), risk in list(1), body in body(),
    ) -> WorkDocument {
        // A task may not depend on itself (intake refuses it), nor on the
        // words that mean "no dependency".
        let deps = deps
            .into_iter()
            .filter(|d| !["none", "n/a"].contains(&d.to_ascii_lowercase().as_str()) && *d != id)
            .collect();
        WorkDocument::Task(millrace::model::Task {
            task_id: id, title, summary: summary.unwrap_or_default(), root_idea_id: None, root_spec_id: root,
            spec_id: spec, parent_task_id: None, incident_id: None, status_hint: None, created_at: created,
            created_by: "prop".into(), updated_at: updated, depends_on: deps, blocks: vec![], tags,
            target_paths: paths, acceptance, required_checks: checks, references: refs, risk, body,
        })
    }
}

prop_compose! {
    fn incident()(
        id in id(), title in text(), summary in text(), opened in timestamp(), severity in 0usize..4,
        needs_planning: bool, symptoms in list(0), body in body(),
    ) -> WorkDocument {
        use millrace::model::{ConsultantDecision, Incident, Severity};
        let severity = [Severity::Low, Severity::Medium, Severity::High, Severity::Critical][severity];
        WorkDocument::Incident(Incident {
            incident_id: id, title, summary, root_idea_id: None, root_spec_id: None, source_task_id: None,
            source_spec_id: None, source_stage: "checker".into(), source_plane: millrace::plan::Plane::Execution,
            failure_class: "blocked".into(), status_hint: None, severity, needs_planning,
            trigger_reason: "escalated".into(), consultant_decision: ConsultantDecision::Blocked,
            opened_at: opened, opened_by: "consultant".into(), updated_at: None, observed_symptoms: symptoms,
            failed_attempts: vec![], evidence_paths: vec![], related_run_ids: vec![], related_stage_results: vec![],
            references: vec![], body,
        })
    }
}

prop_compose! {
    fn learning()(
        id in id(), title in text(), created in timestamp(), meta in prop::collection::btree_map("[a-z]{1,6}", "[a-z0-9 ]{0,6}", 0..3),
        skill in prop::option::of(id()), body in body(),
    ) -> WorkDocument {
        use millrace::model::LearningRequest;
        let metadata: serde_json::Map<String, serde_json::Value> = meta.into_iter().map(|(k, v)| (k, v.into())).collect();
        WorkDocument::LearningRequest(LearningRequest {
            learning_request_id: id, title, summary: String::new(), requested_action: millrace::plan::LearningAction::Improve,
            target_skill_id: skill, target_stage: Some("analyst".into()),
            trigger_metadata: (!metadata.is_empty()).then_some(metadata), created_at: created,
            created_by: "prop".into(), updated_at: None, source_refs: vec![], preferred_output_paths: vec![],
            originating_run_ids: vec![], artifact_paths: vec![], references: vec![], body,
        })
    }
}

/// Lines inserted into a valid document: prose, blanks, stray items and
/// unknown labels, which the parser must keep or reject, never mangle.
fn inserted_line() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "[a-z][a-z ]{0,12}",
        "- ?[a-z0-9 ]{0,8}",
        "(Note|See-Also|Https): ?[a-z0-9 /:]{0,10}",
        "## [a-z ]{1,8}",
        "(Tags|Blocks|Summary): ?[a-z0-9-]{0,6}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn markdown_round_trips(doc in prop_oneof![task(), incident(), learning()]) {
        let text = doc.render();
        match WorkDocument::parse_markdown(Some(doc.kind()), &text, "p.md") {
            Ok(back) => prop_assert_eq!(back, doc),
            Err(e) => prop_assert!(false, "{}\n{}", text, e.summary()),
        }
    }

    #[test]
    fn json_round_trips(doc in prop_oneof![task(), incident(), learning()]) {
        let back = WorkDocument::from_json_value(None, &doc.to_json(), "p.json").unwrap();
        prop_assert_eq!(back, doc);
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,400}") {
        let _ = WorkDocument::parse_markdown(None, &text, "p.md");
        for kind in WorkItemKind::ALL {
            let _ = WorkDocument::parse_markdown(Some(*kind), &text, "p.md");
        }
        let _ = WorkDocument::parse_json(None, &text, "p.json");
    }

    #[test]
    fn perturbed_documents_never_lose_text(inserts in prop::collection::vec((0usize..40, inserted_line()), 0..6)) {
        let mut lines: Vec<String> = TASK.lines().map(str::to_string).collect();
        for (at, line) in inserts {
            let at = 1 + at % lines.len();
            lines.insert(at, line);
        }
        let text = lines.join("\n");
        if let Ok(doc) = WorkDocument::parse_markdown(None, &text, "p.md") {
            let rendered = doc.render();
            // Every prose word survives rendering, and rendering is stable.
            for line in text.lines().filter(|l| l.starts_with("Note") || l.starts_with("## ")) {
                prop_assert!(rendered.contains(line.trim()), "lost {:?} in\n{}", line, rendered);
            }
            let again = WorkDocument::parse_markdown(Some(doc.kind()), &rendered, "p.md");
            prop_assert_eq!(again.ok(), Some(doc));
        }
    }
}

#[test]
fn prose_and_unknown_labels_between_fields_are_kept() {
    let text = TASK.replace(
        "Created-By: operator\n",
        "Created-By: operator\nNote: see https://example.org\n",
    );
    let doc = WorkDocument::parse_markdown(None, &text, "x").unwrap();
    let WorkDocument::Task(task) = &doc else { panic!() };
    assert!(
        task.body
            .starts_with("Note: see https://example.org\n\nSome prose"),
        "{}",
        task.body
    );
}
