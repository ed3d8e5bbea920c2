//! A real browser against a running campaign: headless Chromium loads
//! every page while a daemon runs the scripted harness, the page's own
//! script fetches and renders, and the test reads the rendered DOM. Fails
//! (never skips) when `chromium` is missing.
//!
//! Screenshots of each view are written to the test's temporary directory
//! (and also to `$MILLRACE_SCREENSHOTS`, when set, which is how the images
//! under `docs/dashboard/` are made).

use std::path::Path;

use super::cdp::{Browser, Page};
use super::{Daemon, Server, wait_for};
use crate::engine::Campaign;
use crate::workspace::task_md;

/// t-bad blocks at once; t-slow's builder runs long enough to watch it.
const SCRIPT: &str = r#"
[stages]
builder = [{ outcome = "BUILDER_COMPLETE", delay_ms = 6000, tokens = 1800, cost_usd = 0.02 }]
checker = ["CHECKER_PASS"]
updater = [{ outcome = "UPDATE_COMPLETE", tokens = 400 }]

[items."t-bad"]
builder = [{ outcome = "BLOCKED", tokens = 100 }]
troubleshooter = ["BLOCKED"]
consultant = ["BLOCKED"]

[items."t-late"]
builder = [{ outcome = "BUILDER_COMPLETE", delay_ms = 1500 }]
"#;

fn shoot(page: &mut Page, dir: &Path, name: &str) {
    let path = page.screenshot(&dir.join(format!("{name}.png")));
    assert!(
        std::fs::metadata(&path).unwrap().len() > 1000,
        "{name}.png is empty"
    );
    if let Some(out) = std::env::var_os("MILLRACE_SCREENSHOTS") {
        std::fs::create_dir_all(&out).unwrap();
        std::fs::copy(&path, Path::new(&out).join(format!("{name}.png"))).unwrap();
    }
}

#[test]
fn the_pages_render_live_state_in_a_real_browser() {
    let c = Campaign::new("default_codex", SCRIPT, "");
    c.ws.write(
        "tasks/queue/t-bad.md",
        &task_md("t-bad", "2026-01-01T00:00:00Z", &[]),
    );
    c.ws.write(
        "tasks/queue/t-slow.md",
        &task_md("t-slow", "2026-01-01T00:00:01Z", &[]),
    );
    let shots = tempfile::tempdir().unwrap();
    // The server and the browser start first, so t-slow's builder only has
    // to outlast opening two tabs, however loaded the machine is.
    // A second root that holds no workspace: its card is an error panel.
    let bare = tempfile::tempdir().unwrap();
    let server = Server::start(&[&c.ws.root, bare.path()], &["--allow-control"]);
    let key = server.json("/api/workspaces")["workspaces"][0]["key"]
        .as_str()
        .unwrap()
        .to_string();
    let browser = Browser::start();
    let _daemon = Daemon::start(&c.ws);
    wait_for("t-bad to be blocked and t-slow's builder to run", || {
        c.ws.path("tasks/blocked/t-bad.md").is_file()
            && c.position("stage_started", |d| d["work_item"]["id"] == "t-slow")
                .is_some()
    });

    // The item page opens before its stage finishes...
    let mut item = browser.open(&server.url(&format!("/w/{key}/items/t-slow")));
    item.wait_until(
        "the item page",
        "document.querySelector('h1') && document.querySelector('h1').textContent.includes('t-slow')",
        20,
    );
    assert_eq!(
        item.eval("document.querySelectorAll('tr[data-outcome=\"BUILDER_COMPLETE\"]').length"),
        0,
        "the builder had already finished when the page opened"
    );
    let loaded_at = item.eval("window.__millraceLoadedAt");

    // ...meanwhile Flow lights the running node...
    let mut flow = browser.open(&server.url(&format!("/w/{key}/flow")));
    flow.wait_until(
        "the builder node lit",
        "document.querySelector('svg.flow[data-plane=\"execution\"] g.node.active[data-node=\"n:builder\"]')",
        20,
    );
    assert_eq!(
        flow.eval("document.querySelectorAll('svg.flow g.node.active').length"),
        1,
        "one node is lit"
    );
    shoot(&mut flow, shots.path(), "flow");
    flow.close();

    // ...and the overview names the active stage and the blocked item.
    let mut overview = browser.open(&server.url(&format!("/w/{key}")));
    overview.wait_until(
        "the active stage",
        "document.querySelector('tr[data-plane=\"execution\"] .active-stage')",
        20,
    );
    overview.wait_until(
        "the blocked item",
        "document.querySelector('tr[data-blocked=\"t-bad\"] .reason-text')",
        20,
    );
    let daemon_state = overview.eval("document.querySelector('[data-daemon]').dataset.daemon");
    assert_eq!(daemon_state, "active");
    shoot(&mut overview, shots.path(), "overview");
    overview.close();

    // The stage result reaches the open item page without a reload.
    item.wait_until(
        "the builder's result on the item page",
        "document.querySelector('tr[data-outcome=\"BUILDER_COMPLETE\"]')",
        20,
    );
    assert_eq!(
        item.eval("window.__millraceLoadedAt"),
        loaded_at,
        "the page was reloaded"
    );
    assert_eq!(item.eval("performance.getEntriesByType('navigation').length"), 1);
    item.close();

    // A blocked item's page says why, and what fixes it.
    let reason = std::fs::read_to_string(c.ws.path("tasks/blocked/t-bad.blocked.jsonl")).unwrap();
    let reason: serde_json::Value = serde_json::from_str(reason.lines().last().unwrap()).unwrap();
    let mut blocked = browser.open(&server.url(&format!("/w/{key}/items/t-bad")));
    blocked.wait_until(
        "the block reason",
        "document.querySelector('#block .reason-text')",
        20,
    );
    assert_eq!(
        blocked.eval("document.querySelector('#block .reason-text').textContent"),
        reason["reason"]
    );
    let fix = blocked.eval("document.querySelector('#block .fix code').textContent");
    assert!(
        fix.as_str().unwrap().contains("millrace queue retry t-bad"),
        "{fix}"
    );
    assert!(
        blocked
            .eval("document.querySelectorAll('tr[data-outcome=\"BLOCKED\"]').length")
            .as_u64()
            .unwrap()
            >= 3,
        "the history shows each blocked stage"
    );
    shoot(&mut blocked, shots.path(), "item");
    blocked.close();

    // The events page appends what happens after it opened.
    let mut events = browser.open(&server.url(&format!("/w/{key}/events")));
    events.wait_until(
        "the kept events",
        "document.querySelectorAll('#events li').length > 5",
        20,
    );
    c.ws.write(
        "tasks/queue/t-late.md",
        &task_md("t-late", "2026-01-01T00:00:02Z", &[]),
    );
    events.wait_until(
        "a live claim of t-late",
        "[...document.querySelectorAll('#events li[data-live=\"true\"][data-type=\"work_item_claimed\"]')].some(li => li.textContent.includes('t-late'))",
        20,
    );
    shoot(&mut events, shots.path(), "events");
    events.close();

    // Runs, filtered, and one run with its artifacts.
    let mut runs = browser.open(&server.url(&format!("/w/{key}/runs?item=t-bad")));
    runs.wait_until(
        "the runs table",
        "document.querySelector('table.runs tbody tr')",
        20,
    );
    assert_eq!(
        runs.eval("[...document.querySelectorAll('table.runs tbody tr')].every(tr => tr.textContent.includes('t-bad'))"),
        true
    );
    let mut all_runs = browser.open(&server.url(&format!("/w/{key}/runs")));
    all_runs.wait_until(
        "every run",
        "document.querySelectorAll('table.runs tbody tr').length >= 2",
        20,
    );
    shoot(&mut all_runs, shots.path(), "runs");
    all_runs.close();
    let run_id = runs.eval("document.querySelector('table.runs tbody tr').dataset.run");
    runs.close();
    let mut run = browser.open(&server.url(&format!("/w/{key}/runs/{}", run_id.as_str().unwrap())));
    run.wait_until(
        "the run's artifacts",
        "document.querySelectorAll('ul.artifacts li').length > 3",
        20,
    );
    shoot(&mut run, shots.path(), "run");
    run.close();

    let mut home = browser.open(&server.url("/"));
    home.wait_until(
        "the workspace card",
        "document.querySelector('section.summary[data-ws]')",
        20,
    );
    home.wait_until(
        "the error panel of the empty root",
        "document.querySelector('.panel.error[data-code=\"mill::serve::workspace_unreadable\"]')",
        20,
    );
    shoot(&mut home, shots.path(), "home");
    home.close();

    // The control buttons, with the token from the link `serve` prints:
    // through the mailbox to the running daemon, and back on the page.
    let token = server.token.clone().unwrap();
    let mut control = browser.open(&server.url(&format!("/w/{key}#token={token}")));
    control.wait_until(
        "the control panel",
        "document.querySelector('button[data-action=\"pause\"]')",
        20,
    );
    assert_eq!(
        control.eval("location.hash"),
        "",
        "the token is taken out of the address"
    );
    control.eval("document.querySelector('button[data-action=\"pause\"]').click()");
    control.wait_until(
        "the pause to be queued",
        "document.querySelector('.control-result.ok')",
        20,
    );
    control.wait_until(
        "the page to show the pause",
        "[...document.querySelectorAll('.pill')].some(p => p.textContent === 'paused')",
        20,
    );
    control.wait_until(
        "the fix for the pause",
        "[...document.querySelectorAll('.fix code')].some(c => c.textContent === 'millrace resume')",
        20,
    );
    shoot(&mut control, shots.path(), "control");
    control.eval("document.querySelector('button[data-action=\"resume\"]').click()");
    control.wait_until(
        "the page to show the resume",
        "[...document.querySelectorAll('.pill')].some(p => p.textContent === 'not paused')",
        20,
    );
    control.close();
}
