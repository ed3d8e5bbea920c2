//! Real runner adapters under the daemon, against the fake harnesses in
//! `tests/fake/`: what each harness outcome becomes on the route.

use super::Campaign;
use crate::runners::{fake, require_python};

fn codex_campaign(scenario: &str) -> Campaign {
    let config = format!(
        "[runners.codex]\ncommand = \"{}\"\nenv = {{ FAKE_SCENARIO = \"{scenario}\" }}\n",
        fake("codex")
    );
    Campaign::with_mode("mode campaign extends default_codex {}\n", &config)
}

fn nodes(c: &Campaign) -> Vec<String> {
    c.events()
        .iter()
        .filter(|e| e["event_type"] == "stage_started")
        .map(|e| e["data"]["node"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_task_runs_through_the_codex_adapter() {
    require_python();
    let c = codex_campaign("success");
    c.add_task("t1");
    c.run_until_idle();
    assert!(c.ws.path("tasks/done/t1.md").is_file());
    assert_eq!(nodes(&c), ["builder", "checker", "updater"]);
    let done = c
        .events()
        .into_iter()
        .find(|e| e["event_type"] == "stage_completed")
        .unwrap();
    assert_eq!(
        done["data"]["total_tokens"], 1500,
        "usage comes from the harness's own fields"
    );
}

#[test]
fn a_harness_that_prints_two_markers_goes_to_recovery_not_forward() {
    require_python();
    let c = codex_campaign("two_markers");
    c.add_task("t1");
    c.run_until_idle();
    let ran = nodes(&c);
    assert_eq!(ran[..2], ["builder", "troubleshooter"], "{ran:?}");
    assert!(!ran.contains(&"checker".to_string()), "{ran:?}");
    assert!(
        c.ws.path("tasks/blocked/t1.md").is_file(),
        "recovery is bounded: {ran:?}"
    );
    let first = c
        .events()
        .into_iter()
        .find(|e| e["event_type"] == "stage_completed")
        .unwrap();
    assert_eq!(first["data"]["outcome"], "BLOCKED");
    assert_eq!(first["data"]["failure_class"], "conflicting_terminal_results");
}

/// A campaign whose codex plays the scenario named in `scenario_file`,
/// counting its runs in `count_file`, watched for stalls after 2 s.
fn switchable_campaign() -> (Campaign, std::path::PathBuf, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap().keep();
    let (scenario, count) = (dir.join("scenario"), dir.join("count"));
    let config = format!(
        "[runners]\nstall_seconds = 2\n\n[runners.codex]\ncommand = \"{}\"\nenv = {{ FAKE_SCENARIO_FILE = \"{}\", FAKE_COUNT_FILE = \"{}\" }}\n",
        fake("codex"),
        scenario.display(),
        count.display()
    );
    let c = Campaign::with_mode("mode campaign extends default_codex {}\n", &config);
    (c, scenario, count)
}

fn harness_runs(count: &std::path::Path) -> usize {
    std::fs::read_to_string(count).map_or(0, |t| t.lines().count())
}

fn json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

/// The bar of the runner issue: a broken harness blocks nothing, pauses
/// once with its cause, and once fixed and resumed every task gets done.
#[test]
fn a_broken_harness_pauses_once_and_blocks_nothing() {
    require_python();
    for (scenario, class, words) in [
        ("bad_key", "harness_unavailable", "Incorrect API key"),
        ("insufficient_quota", "harness_unavailable", "Quota exceeded"),
        ("stall", "harness_stalled", "waiting for network"),
    ] {
        let (c, scenario_file, count) = switchable_campaign();
        std::fs::write(&scenario_file, scenario).unwrap();
        for id in ["t1", "t2", "t3"] {
            c.add_task(id);
        }
        let out =
            c.ws.run(&["run", "daemon", "--exit-when-idle", "--max-ticks", "5000"]);
        assert_eq!(
            out.status.code(),
            Some(3),
            "{scenario}: needs the operator: {}",
            crate::workspace::stdout(&out)
        );
        assert_eq!(
            harness_runs(&count),
            1,
            "{scenario}: a broken harness is not retried in a loop"
        );
        assert!(
            c.ws.names("tasks/blocked").is_empty(),
            "{scenario}: nothing blocked"
        );
        assert_eq!(c.ws.names("tasks/queue").len(), 2, "{scenario}");
        assert_eq!(
            c.ws.names("tasks/active").len(),
            1,
            "{scenario}: the item stays where it was"
        );
        let paused: Vec<_> = c
            .events()
            .into_iter()
            .filter(|e| e["event_type"] == "harness_paused")
            .collect();
        assert_eq!(paused.len(), 1, "{scenario}: one pause");
        let status = json(&c.ws.run(&["status", "--json"]));
        assert_eq!(
            status["pause_sources"],
            serde_json::json!(["harness_failed"]),
            "{scenario}"
        );
        let pause = &status["harness_pause"];
        assert_eq!(
            (pause["runner"].as_str(), pause["failure_class"].as_str()),
            (Some("codex_cli"), Some(class))
        );
        assert!(
            pause["message"].as_str().unwrap().contains(words),
            "{scenario}: {pause}"
        );
        let attention = &status["attention"][0];
        assert_eq!(attention["code"], "mill::runtime::harness_failed");
        assert!(
            attention["fix"]
                .as_str()
                .unwrap()
                .ends_with("then `millrace resume`"),
            "{attention}"
        );
        let run = &status["active_runs"][0];
        assert_eq!(
            (run["node"].as_str(), run["stage_runs"].as_u64()),
            (Some("builder"), Some(0)),
            "uncharged"
        );
        let doctor = json(&c.ws.run(&["doctor", "--json"]));
        let codes: Vec<&str> = doctor["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|f| f["code"].as_str())
            .collect();
        assert!(
            codes.contains(&"mill::doctor::harness_failed"),
            "{scenario}: {codes:?}"
        );

        // The operator fixes the harness and resumes: all three get done.
        std::fs::write(&scenario_file, "success").unwrap();
        let out = c.ws.run(&["resume"]);
        assert!(out.status.success(), "{}", crate::workspace::stderr(&out));
        c.run_until_idle();
        let mut done = c.ws.names("tasks/done");
        done.sort();
        assert_eq!(done, ["t1.md", "t2.md", "t3.md"], "{scenario}");
        assert!(c.ws.names("tasks/blocked").is_empty());
        let status = json(&c.ws.run(&["status", "--json"]));
        assert_eq!(status["pause_sources"], serde_json::json!([]));
        assert!(status["harness_pause"].is_null());
    }
}
