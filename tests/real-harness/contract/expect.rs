//! What each case must show: the failure class the runner gives the real
//! CLI's behaviour, and what the runtime then does with it.
//!
//! Input: a [`Case`] and its [`Observed`]. Output: the problems found (none
//! when the contract holds). Invariants: every case checks that the stage
//! ran at the builder through the CLI's runner and that nothing is blocked
//! or sent to recovery; each class then checks its own runtime behaviour
//! (a completed stage moves on with its usage, a harness failure pauses
//! with the CLI's words and exit 3, a quota waits for its reset, a
//! transient failure retries uncharged and the retry completes).

use serde_json::Value;

use super::case::{Case, Cli, Observed, RESET_IN, Scenario};

/// The class a case must end with (`None`: the stage completed).
pub fn class(case: Case) -> Option<&'static str> {
    match case.scenario {
        Scenario::Success | Scenario::RateThenSuccess => None,
        Scenario::BadKey | Scenario::NoCredit => Some("harness_unavailable"),
        // Pi sleeps through the 429's hour-long retry-after in silence.
        Scenario::Quota if case.cli == Cli::Pi => Some("harness_stalled"),
        Scenario::Quota => Some("quota_exhausted"),
        Scenario::ServerError | Scenario::RateLimit => Some("provider_transient"),
        Scenario::Stall => Some("harness_stalled"),
    }
}

/// Whether the CLI names the quota's reset (Gemini's daily quota does not).
fn names_reset(cli: Cli) -> bool {
    matches!(cli, Cli::Codex | Cli::Claude)
}

/// The CLI's own words a harness failure must quote, for the operator.
fn words(case: Case) -> &'static str {
    match (case.cli, case.scenario) {
        // Silent while stalled: the runner says so instead of quoting a
        // start-up line.
        (_, Scenario::Stall | Scenario::Quota) => {
            "harness_stalled at execution/builder; the harness said: nothing for"
        }
        (Cli::Codex, Scenario::NoCredit) => "Quota exceeded",
        (Cli::Codex, _) => "401 Unauthorized",
        (Cli::Claude, _) => "authentication",
        (Cli::Pi, _) => "invalid x-api-key",
        (Cli::Gemini, _) => "API key not valid",
    }
}

/// What the `fix:` line must tell the operator to do.
fn remedy(scenario: Scenario) -> &'static str {
    match scenario {
        Scenario::BadKey => "credentials",
        Scenario::NoCredit => "add credit",
        _ => "network and provider",
    }
}

/// The total tokens the runner must read from the stand-in's usage.
fn total_tokens(cli: Cli) -> u64 {
    match cli {
        Cli::Codex => 1290,
        Cli::Claude | Cli::Pi => 513,
        Cli::Gemini => 1560,
    }
}

/// Every breach of the contract in `seen`.
pub fn check(case: Case, seen: &Observed) -> Vec<String> {
    let mut problems = Vec::new();
    common(case, seen, &mut problems);
    if problems.is_empty() {
        match class(case) {
            None => completed(case, seen, &mut problems),
            Some("harness_unavailable" | "harness_stalled") => paused(case, seen, &mut problems),
            Some("quota_exhausted") => quota(case, seen, &mut problems),
            Some(_) => transient(case, seen, &mut problems),
        }
    }
    problems
}

/// Pushes `what` when `ok` is false.
fn want(problems: &mut Vec<String>, ok: bool, what: impl FnOnce() -> String) {
    if !ok {
        problems.push(what());
    }
}

fn common(case: Case, seen: &Observed, p: &mut Vec<String>) {
    let r = &seen.result;
    want(p, seen.run.status.is_some(), || {
        "run once did not end before its deadline".into()
    });
    want(p, !seen.run.stderr.contains("panicked"), || {
        format!("Millrace panicked: {}", seen.run.stderr)
    });
    want(p, !r.is_null(), || "no stage result".into());
    if !p.is_empty() {
        return;
    }
    want(
        p,
        r["node"] == "builder" && r["runner"] == case.cli.runner(),
        || format!("stage ran at {} through {}", r["node"], r["runner"]),
    );
    let class = r["failure_class"].as_str();
    want(p, class == self::class(case), || {
        format!(
            "class {class:?}, want {:?}; notes {}",
            self::class(case),
            r["notes"]
        )
    });
    if case.stalls() {
        want(p, seen.model_requests > 0, || {
            "stopped before its model request: not the stall meant".into()
        });
    }
    want(p, seen.blocked.is_empty(), || {
        format!("blocked: {:?}", seen.blocked)
    });
    want(p, seen.active == ["t1.md"], || {
        format!("tasks/active: {:?}", seen.active)
    });
}

fn exit_code(seen: &Observed) -> Option<i32> {
    seen.run.status.and_then(|s| s.code())
}

fn active(seen: &Observed) -> &Value {
    &seen.status["active_runs"][0]
}

/// The run is still at the builder, with no recovery counter touched: the
/// failure was not routed as the agent's.
fn not_routed(seen: &Observed, p: &mut Vec<String>) {
    let run = active(seen);
    let counters = run["counters"].as_object().map_or(0, serde_json::Map::len);
    want(p, run["node"] == "builder" && counters == 0, || {
        format!("routed: node {} counters {}", run["node"], run["counters"])
    });
}

/// Not routed, and the failed stage cost the run no fuel either.
fn uncharged(seen: &Observed, p: &mut Vec<String>) {
    not_routed(seen, p);
    let runs = &active(seen)["stage_runs"];
    want(p, *runs == 0, || format!("charged: stage_runs {runs}"));
}

fn completed(case: Case, seen: &Observed, p: &mut Vec<String>) {
    let r = &seen.result;
    want(p, exit_code(seen) == Some(0), || {
        format!("exit {:?}: {}", exit_code(seen), seen.run.stdout)
    });
    want(p, r["terminal_result"] == "BUILDER_COMPLETE", || {
        format!("outcome {}", r["terminal_result"])
    });
    let total = r["token_usage"]["total_tokens"].as_u64();
    want(p, total == Some(total_tokens(case.cli)), || {
        format!(
            "usage {}, want total {}",
            r["token_usage"],
            total_tokens(case.cli)
        )
    });
    want(p, active(seen)["node"] == "checker", || {
        format!("next node {}", active(seen)["node"])
    });
}

fn paused(case: Case, seen: &Observed, p: &mut Vec<String>) {
    let out = &seen.run.stdout;
    want(p, exit_code(seen) == Some(3), || {
        format!("exit {:?}, want 3", exit_code(seen))
    });
    want(p, out.contains("ended: needs_operator"), || {
        format!("no needs_operator: {out}")
    });
    let attention = out
        .lines()
        .find(|l| l.starts_with("attention: mill::runtime::harness_failed"));
    want(p, attention.is_some_and(|a| a.contains(words(case))), || {
        format!("attention does not quote {:?}: {attention:?}", words(case))
    });
    let fix = out.lines().find(|l| l.starts_with("fix: "));
    want(p, fix.is_some_and(|f| f.contains(remedy(case.scenario))), || {
        format!("fix does not say {:?}: {fix:?}", remedy(case.scenario))
    });
    want(
        p,
        seen.status["pause_sources"] == serde_json::json!(["harness_failed"]),
        || format!("pause sources {}", seen.status["pause_sources"]),
    );
    uncharged(seen, p);
}

fn quota(case: Case, seen: &Observed, p: &mut Vec<String>) {
    // A quota lifts by itself at its reset: no reason to call the operator.
    want(p, exit_code(seen) == Some(0), || {
        format!("exit {:?}, want 0", exit_code(seen))
    });
    let sources = &seen.status["pause_sources"];
    want(p, *sources == serde_json::json!(["usage_governance"]), || {
        format!("pause sources {sources}")
    });
    let reset = seen.result["quota_reset_at"]
        .as_str()
        .and_then(|t| t.parse::<jiff::Timestamp>().ok());
    if names_reset(case.cli) {
        let want_at = seen.started.as_second() + RESET_IN;
        // The stand-in rounds its reset down to the minute.
        let off = reset.map(|r| (r.as_second() - want_at).abs());
        want(p, off.is_some_and(|s| s <= 180), || {
            format!(
                "quota_reset_at {:?}, want about {RESET_IN} s after the start",
                seen.result["quota_reset_at"]
            )
        });
    } else {
        want(p, reset.is_none(), || {
            format!("a reset the CLI never gave: {reset:?}")
        });
    }
    // A quota stop uses its unit of fuel (docs/runtime.md, Counters and
    // fuel), unlike a harness or transient failure.
    not_routed(seen, p);
}

fn transient(case: Case, seen: &Observed, p: &mut Vec<String>) {
    want(p, exit_code(seen) == Some(0), || {
        format!("exit {:?}, want 0", exit_code(seen))
    });
    want(p, seen.status_text.contains("retry_scheduled: "), || {
        "no retry_scheduled: in status".into()
    });
    uncharged(seen, p);
    match &seen.retry {
        Some(retry) => {
            let mut theirs = Vec::new();
            completed(case, retry, &mut theirs);
            p.extend(theirs.into_iter().map(|t| format!("retry: {t}")));
        }
        None => p.push("the retry did not run".into()),
    }
}
