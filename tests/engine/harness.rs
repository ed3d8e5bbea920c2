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
