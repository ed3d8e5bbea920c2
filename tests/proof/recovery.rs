//! Deterministic crash states, built by hand, that the random crash test
//! found: each must be repaired by the next start without help.

use super::{Bench, assert_no_panic, scripted_bench, snapshot, task_md, text};

const SCRIPT: &str = "[stages]\nbuilder = [\"BUILDER_COMPLETE\"]\nchecker = [\"CHECKER_PASS\"]\nupdater = [\"UPDATE_COMPLETE\"]\n";

/// The one run directory of a workspace.
fn only_run(bench: &Bench) -> String {
    let runs = bench.names("runs");
    assert_eq!(runs.len(), 1, "{runs:?}");
    runs[0].clone()
}

/// A stage whose result reached the disk but was never routed (the process
/// died in between) is routed at the next start. The next stage must wait
/// for the event loop: starting it while recovering panicked
/// (`spawn_local` outside a `LocalSet`).
#[test]
fn a_saved_but_unrouted_result_is_routed_at_the_next_start() {
    let bench = scripted_bench(SCRIPT);
    bench.write(
        "tasks/queue/t01.md",
        &task_md("t01", "2026-01-01T00:00:00Z", "", &[]),
    );
    let out = bench.run(&["run", "once"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // Rewind the snapshot to "builder dispatched, result not routed".
    let run = only_run(&bench);
    let request = bench
        .names(&format!("runs/{run}/stage_results"))
        .pop()
        .unwrap()
        .trim_end_matches(".json")
        .to_string();
    let mut snap = snapshot(&bench);
    let active = &mut snap["active_runs"]["execution"];
    assert_eq!(active["node"], "checker");
    active["node"] = "builder".into();
    active["stage"] = "builder".into();
    active["pending_request_id"] = request.clone().into();
    std::fs::write(bench.path("state/runtime_snapshot.json"), snap.to_string()).unwrap();
    // The journal's last record is that snapshot's (the dispatch that a
    // crash would have left last), so nothing is pending.
    let record = serde_json::json!({"schema_version": 2, "snapshot": snap, "effects": []});
    std::fs::write(bench.path("state/journal.jsonl"), format!("{record}\n")).unwrap();
    std::fs::remove_file(bench.path(&format!("runs/{run}/routing.{request}.json"))).unwrap();

    for args in [
        &["pause"][..],
        &["resume"],
        &["run", "daemon", "--exit-when-idle"],
    ] {
        let out = bench.run(args);
        assert_no_panic(&args.join(" "), &out);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    }
    assert_eq!(bench.stems("tasks/done"), ["t01"]);
    let routed = bench.names(&format!("runs/{run}"));
    assert!(routed.contains(&format!("routing.{request}.json")), "{routed:?}");
    let doctor = bench.doctor();
    assert_eq!(doctor["findings"], serde_json::json!([]), "{doctor:#}");
}

/// A start refused after the lock was taken (a damaged snapshot or
/// journal) gives the lock back: it left a stale lock behind, which the
/// next `doctor` reported and the next start had to take over.
#[test]
fn a_refused_start_leaves_no_lock() {
    let bench = scripted_bench(SCRIPT);
    let lock = bench.path("state/runtime_daemon.lock.json");
    for (file, damage, code) in [
        (
            "state/runtime_snapshot.json",
            "{\"schema_version\": 1",
            "mill::state::snapshot_invalid",
        ),
        ("state/journal.jsonl", "[1, 2\n", "mill::state::journal_invalid"),
    ] {
        let path = bench.path(file);
        let before = std::fs::read(&path).ok();
        std::fs::write(&path, damage).unwrap();
        for args in [
            &["run", "daemon", "--exit-when-idle"][..],
            &["run", "once"],
            &["pause"],
        ] {
            let out = bench.run(args);
            assert_no_panic(&args.join(" "), &out);
            assert_eq!(out.status.code(), Some(1), "{args:?}");
            assert!(
                text(&out.stderr).contains(code),
                "{args:?}: {}",
                text(&out.stderr)
            );
            assert!(
                !lock.exists(),
                "{args:?} with a damaged {file} left the lock behind"
            );
            assert_eq!(
                std::fs::read_to_string(&path).unwrap(),
                damage,
                "{file} was changed"
            );
        }
        match before {
            Some(bytes) => std::fs::write(&path, bytes).unwrap(),
            None => std::fs::remove_file(&path).unwrap(),
        }
    }
}

/// A snapshot file a crash (a power loss) left damaged is restored from the
/// journal's last record, which holds the same snapshot: the runtime does
/// not refuse to start, and nothing the snapshot said is lost.
#[test]
fn a_damaged_snapshot_is_restored_from_the_journal() {
    let bench = scripted_bench(SCRIPT);
    let out = bench.run(&["pause"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(snapshot(&bench)["pause_sources"], serde_json::json!(["operator"]));
    std::fs::write(bench.path("state/runtime_snapshot.json"), "{\"schema_vers").unwrap();
    let out = bench.run(&["resume"]);
    assert_no_panic("resume", &out);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // Restored (paused), then resumed: had it started from a bootstrap
    // snapshot, there would have been nothing to resume.
    assert!(text(&out.stdout).contains("resumed"), "{}", text(&out.stdout));
    assert_eq!(snapshot(&bench)["pause_sources"], serde_json::json!([]));
    let aside: Vec<String> = bench
        .names("state")
        .into_iter()
        .filter(|n| n.starts_with("runtime_snapshot.json.invalid-"))
        .collect();
    assert_eq!(aside.len(), 1, "the damaged file is kept aside");
    let doctor = bench.doctor();
    assert_eq!(doctor["findings"], serde_json::json!([]), "{doctor:#}");
}

/// Every error `doctor` answers with `millrace clear-stale-state` is
/// repaired by it, with nothing lost. It refused to run on an invalid lock
/// or snapshot, and did nothing about untracked active items or damaged
/// status files ("nothing to do").
#[test]
fn clear_stale_state_repairs_what_doctor_sends_to_it() {
    let bench = scripted_bench(SCRIPT);
    let (a1, a2) = (
        task_md("a1", "2026-01-01T00:00:00Z", "", &[]),
        task_md("a2", "2026-01-01T00:00:00Z", "", &[]),
    );
    let cases: [(&str, Vec<(&str, &str)>); 4] = [
        (
            "mill::doctor::lock_invalid",
            vec![("state/runtime_daemon.lock.json", "{ not a lock")],
        ),
        (
            "mill::doctor::snapshot_invalid",
            vec![("state/runtime_snapshot.json", "{\"schema_version\": 7}")],
        ),
        (
            "mill::doctor::status_marker_invalid",
            vec![("state/execution_status.md", "BUILDER\n")],
        ),
        (
            "mill::doctor::multiple_active",
            vec![("tasks/active/a1.md", &a1), ("tasks/active/a2.md", &a2)],
        ),
    ];
    for (code, damage) in cases {
        for (file, content) in damage {
            bench.write(file, content);
        }
        let before = bench.doctor();
        let codes: Vec<&str> = before["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|f| f["code"].as_str())
            .collect();
        assert!(codes.contains(&code), "{code} not reported: {before:#}");
        let out = bench.run(&["clear-stale-state", "--reason", "proof"]);
        assert_no_panic("clear-stale-state", &out);
        assert!(out.status.success(), "{code}: {}", text(&out.stderr));
        let after = bench.doctor();
        assert_eq!(after["errors"], 0, "{code} survived clear-stale-state: {after:#}");
        assert!(!bench.path("state/runtime_daemon.lock.json").exists());
    }
    // Nothing was lost: the items are queued, the damaged snapshot kept.
    assert_eq!(bench.stems("tasks/queue"), ["a1", "a2"]);
    assert!(bench.set_aside("state/runtime_snapshot.json").is_some());
    let out = bench.run(&["run", "daemon", "--exit-when-idle"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(bench.stems("tasks/done"), ["a1", "a2"]);
}

/// A lock or snapshot whose bytes are not UTF-8 is damaged state like any
/// other: doctor names it, and clear-stale-state repairs it. Both were
/// reported as I/O errors (`mill::fs::io`), which clear-stale-state could
/// not get past. Found by the bad-input corpus.
#[test]
fn state_files_that_are_not_utf8_are_repairable() {
    let bench = scripted_bench(SCRIPT);
    for (file, code) in [
        ("state/runtime_daemon.lock.json", "mill::doctor::lock_invalid"),
        ("state/runtime_snapshot.json", "mill::doctor::snapshot_invalid"),
    ] {
        std::fs::write(bench.path(file), b"{\"x\": \"\xff\xfe\"}").unwrap();
        let doctor = bench.doctor();
        let codes: Vec<&str> = doctor["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|f| f["code"].as_str())
            .collect();
        assert!(codes.contains(&code), "{file}: {doctor:#}");
        let out = bench.run(&["clear-stale-state", "--reason", "proof"]);
        assert_no_panic("clear-stale-state", &out);
        assert!(out.status.success(), "{file}: {}", text(&out.stderr));
        assert_eq!(bench.doctor()["errors"], 0, "{file}");
    }
}
