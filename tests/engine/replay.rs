//! `millrace replay` through the binary: a recorded campaign replayed
//! against its own plan diverges nowhere; against a plan with one route
//! changed, exactly the runs that took that route diverge, at that node,
//! with the changed route's source location; and a thousand recorded runs
//! replay quickly (the time is printed, not asserted).

use std::collections::BTreeSet;

use serde_json::Value;

use super::Campaign;
use crate::workspace::{json, stderr};

/// Four tasks; t2 and t4 need one fix cycle, the others pass at once.
const SCRIPT: &str = r#"
[stages]
builder = ["BUILDER_COMPLETE"]
checker = ["CHECKER_PASS"]
fixer = ["FIXER_COMPLETE"]
doublechecker = ["DOUBLECHECK_PASS"]
updater = ["UPDATE_COMPLETE"]

[items."t2"]
checker = ["FIX_NEEDED", "CHECKER_PASS"]

[items."t4"]
checker = ["FIX_NEEDED", "CHECKER_PASS"]
"#;

fn recorded() -> Campaign {
    let c = Campaign::new("default_codex", SCRIPT, "");
    for id in ["t1", "t2", "t3", "t4"] {
        c.add_task(id);
    }
    c.run_until_idle();
    for id in ["t1", "t2", "t3", "t4"] {
        assert!(c.ws.path(&format!("tasks/done/{id}.md")).is_file(), "{id} done");
    }
    c
}

/// The shipped execution loop with the checker's FIX_NEEDED sent to the
/// troubleshooter instead of the fixer, and a mode running it.
fn changed_loop() -> String {
    let shipped = include_str!("../../loops/execution.mill");
    let from = shipped.find("loop execution.standard").unwrap();
    let old = "    checker {\n        CHECKER_PASS -> updater\n        FIX_NEEDED   -> fixer count fix_cycles\n                        else troubleshooter count troubleshoots else consultant\n";
    let new = "    checker {\n        CHECKER_PASS -> updater\n        FIX_NEEDED   -> troubleshooter count troubleshoots else consultant\n";
    assert!(
        shipped[from..].contains(old),
        "the shipped checker routes changed"
    );
    let body = shipped[from..]
        .replace(old, new)
        .replace("loop execution.standard", "loop execution.changed");
    format!("{body}\nmode changed extends campaign {{\n    execution = execution.changed\n}}\n")
}

fn replay(c: &Campaign, args: &[&str]) -> (bool, Value) {
    let out = c.ws.run(&[&["replay", "--json"], args].concat());
    assert!(
        out.status.code().is_some_and(|code| code <= 1),
        "replay failed: {}",
        stderr(&out)
    );
    (out.status.success(), json(&out))
}

/// Run id → work item id, from `runs ls`.
fn items(c: &Campaign) -> Vec<(String, String)> {
    let runs = json(&c.ws.run(&["runs", "ls", "--json"]));
    runs.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["run_id"].as_str().unwrap().to_string(),
                r["work_item_id"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[test]
fn a_recorded_campaign_replays_against_its_own_plan_without_divergence() {
    let c = recorded();
    let (ok, report) = replay(&c, &[]);
    assert!(ok, "{report:#}");
    assert_eq!(report["runs"], 4);
    assert_eq!(report["diverged"], 0);
    // t1, t3: builder, checker, updater; t2, t4: five decisions each.
    assert_eq!(report["decisions"], 3 + 5 + 3 + 5);
    let (_, newest) = replay(&c, &["--runs", "1"]);
    assert_eq!(newest["runs"], 1);
    let (_, none) = replay(&c, &["--since", "2999-01-01"]);
    assert_eq!(none["runs"], 0);
}

#[test]
fn a_changed_route_diverges_exactly_the_runs_that_took_it_at_its_node() {
    let c = recorded();
    let file = c.ws.write("candidate/changed.mill", &changed_loop());
    let (ok, report) = replay(&c, &["--mode", "changed", file.to_str().unwrap()]);
    assert!(!ok, "a divergence exits 1");
    assert_eq!(report["diverged"], 2, "{report:#}");
    let by_run: std::collections::BTreeMap<String, String> = items(&c).into_iter().collect();
    let mut diverged = BTreeSet::new();
    for r in report["results"].as_array().unwrap() {
        let Some(d) = r["divergence"].as_object() else {
            assert_eq!(r["matched"], r["decisions"]);
            continue;
        };
        diverged.insert(by_run[r["run_id"].as_str().unwrap()].clone());
        assert_eq!(d["kind"], "route");
        assert_eq!(d["node"], "checker");
        assert_eq!(d["outcome"], "FIX_NEEDED");
        assert_eq!(d["old_route"], "node fixer");
        assert_eq!(d["new_route"], "node troubleshooter");
        // builder matched first; the checker is the first divergence.
        assert_eq!(r["matched"], 1);
        let span = d["span"].as_str().unwrap();
        assert!(span.contains("changed.mill:"), "{span}");
    }
    assert_eq!(diverged, BTreeSet::from(["t2".to_string(), "t4".to_string()]));
}

#[test]
fn an_outcome_the_candidate_stage_no_longer_declares_is_its_own_finding() {
    let c = recorded();
    let text = changed_loop()
        .replace("loop execution.changed", "loop execution.narrow")
        .replace("execution = execution.changed", "execution = execution.narrow")
        .replace("mode changed", "mode narrow");
    // The checker node runs a kind that no longer declares FIX_NEEDED.
    let stage = "stage strict_checker {\n    plane      execution\n    entrypoint \"entrypoints/execution/checker.md\"\n    outcomes {\n        CHECKER_PASS: success\n        BLOCKED:      blocked | recoverable_failure\n    }\n}\n";
    let text = text
        .replace(
            "        FIX_NEEDED   -> troubleshooter count troubleshoots else consultant\n",
            "",
        )
        .replace("    checker {\n", "    checker: strict_checker {\n");
    let file = c.ws.write("candidate/narrow.mill", &format!("{stage}\n{text}"));
    let (ok, report) = replay(&c, &["--mode", "narrow", file.to_str().unwrap()]);
    assert!(!ok);
    let kinds: Vec<&str> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["divergence"]["kind"].as_str())
        .collect();
    assert_eq!(kinds, ["undeclared_outcome", "undeclared_outcome"], "{report:#}");
}

#[test]
fn a_thousand_recorded_runs_replay_quickly() {
    let c = recorded();
    let runs = c.ws.path("runs");
    let (template, _) = items(&c).into_iter().find(|(_, item)| item == "t2").unwrap();
    let source = runs.join(&template);
    for i in 0..1000 {
        let dir = runs.join(format!("run-20260101T000000000-{i:08x}"));
        std::fs::create_dir_all(dir.join("stage_results")).unwrap();
        for entry in std::fs::read_dir(source.join("stage_results")).unwrap().flatten() {
            std::fs::copy(entry.path(), dir.join("stage_results").join(entry.file_name())).unwrap();
        }
        for entry in std::fs::read_dir(&source).unwrap().flatten() {
            if entry.file_name().to_string_lossy().starts_with("routing.") {
                std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
            }
        }
    }
    let (ok, report) = replay(&c, &[]);
    assert!(ok, "{report:#}");
    assert_eq!(report["runs"], 1004);
    println!(
        "replay: {} runs, {} decisions in {:.1} ms",
        report["runs"], report["decisions"], report["elapsed_ms"]
    );
}
