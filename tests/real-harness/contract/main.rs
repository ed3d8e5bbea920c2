//! The contract suite of the runners against the real harness CLIs: Codex
//! CLI, Claude Code, Pi and Gemini CLI, pinned and installed from npm by
//! `tests/real-harness/install.sh`, each run through Millrace itself
//! (`millrace run once` in a fresh workspace) against the loopback
//! stand-in for their model APIs (`standin.mjs`).
//!
//! Input: `node` (>= 20.6) and `npm` on `PATH`, and the npm registry the
//! first time. Output: one test per CLI; each runs that CLI's scenarios
//! concurrently and prints a table of scenario, failure class, seconds and
//! verdict to stderr. Invariants: a missing Node, npm or CLI fails the
//! test, never skips it; nothing is contacted but loopback (each CLI is
//! pointed at the stand-in, its telemetry and update checks off), nothing
//! is written outside temporary directories but the install under
//! `target/`; every process started is stopped by its pid.
//!
//! `cargo test --release --test real_harness -- pi` runs one CLI.
#![allow(clippy::unwrap_used, unreachable_pub)]

mod case;
mod config;
mod expect;
mod rig;

use std::io::Write as _;

use case::{Case, Cli, Observed, Scenario};

/// The scenarios every CLI runs.
const SCENARIOS: [Scenario; 7] = [
    Scenario::Success,
    Scenario::BadKey,
    Scenario::Quota,
    Scenario::RateLimit,
    Scenario::RateThenSuccess,
    Scenario::ServerError,
    Scenario::Stall,
];

/// `cli`'s scenarios: the common ones, and the account without credit
/// where the stand-in's API has one of its own (OpenAI's).
fn scenarios(cli: Cli) -> Vec<Scenario> {
    let mut all = SCENARIOS.to_vec();
    if cli == Cli::Codex {
        all.insert(3, Scenario::NoCredit);
    }
    all
}

#[test]
fn codex() {
    contract(Cli::Codex);
}

#[test]
fn claude() {
    contract(Cli::Claude);
}

#[test]
fn pi() {
    contract(Cli::Pi);
}

#[test]
fn gemini() {
    contract(Cli::Gemini);
}

/// Runs every scenario of `cli` at once (within the rig's slots), prints
/// the table, and fails with every breach found.
fn contract(cli: Cli) {
    let rig = rig::rig();
    let started = std::time::Instant::now();
    let seen: Vec<(Case, Observed, Vec<String>)> = std::thread::scope(|s| {
        let runs: Vec<_> = scenarios(cli)
            .into_iter()
            .map(|scenario| Case { cli, scenario })
            .map(|case| s.spawn(move || one(rig, case)))
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    });
    let version = rig
        .versions
        .iter()
        .find(|v| v.starts_with(&format!("{} ", cli.name())));
    let mut report = format!(
        "\nreal-harness: {} through millrace run once, {:.0} s\n",
        version.map_or(cli.name(), String::as_str),
        started.elapsed().as_secs_f64()
    );
    report.push_str(&table(&seen));
    // Straight to stderr: libtest would capture a print, and the table is
    // the point of a CI log.
    let _ = std::io::stderr().write_all(report.as_bytes());
    let failed: Vec<String> = seen.into_iter().filter_map(|(c, o, p)| breach(c, o, p)).collect();
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

fn one(rig: &rig::Rig, case: Case) -> (Case, Observed, Vec<String>) {
    let _slot = rig::Slot::take();
    let seen = case::run(rig, case);
    let problems = expect::check(case, &seen);
    (case, seen, problems)
}

/// A failed case's report; its directory is kept for a look.
fn breach(case: Case, mut seen: Observed, problems: Vec<String>) -> Option<String> {
    if problems.is_empty() {
        return None;
    }
    let dir = seen.dir.take().map(|d| d.keep());
    Some(format!(
        "{} {}: {}\n  kept: {}\n  run once said:\n{}",
        case.cli.name(),
        case.scenario.name(),
        problems.join("; "),
        dir.map_or_else(String::new, |d| d.display().to_string()),
        indent(&seen.run.stdout)
    ))
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("    {l}\n")).collect()
}

/// One line per case: scenario, class (or outcome), the retry's outcome,
/// seconds, model requests, verdict.
fn table(seen: &[(Case, Observed, Vec<String>)]) -> String {
    let mut text = format!(
        "  {:<18} {:<20} {:<17} {:>6} {:>5}  {:<3} {}\n",
        "scenario", "class", "retry", "secs", "reqs", "ok", "harness said"
    );
    for (case, o, problems) in seen {
        let class = o.result["failure_class"].as_str().unwrap_or("completed");
        let retry = o.retry.as_ref().map_or("-".into(), |r| {
            r.result["terminal_result"].as_str().unwrap_or("none").to_owned()
        });
        let secs = o.seconds + o.retry.as_ref().map_or(0.0, |r| r.seconds);
        let verdict = if problems.is_empty() { "yes" } else { "NO" };
        let said = o.result["harness_message"]
            .as_str()
            .unwrap_or("-")
            .replace('\n', " ");
        let said: String = said.chars().take(70).collect();
        text.push_str(&format!(
            "  {:<18} {:<20} {:<17} {:>6.1} {:>5}  {verdict:<3} {said}\n",
            case.scenario.name(),
            class,
            retry,
            secs,
            o.model_requests
        ));
    }
    text
}
