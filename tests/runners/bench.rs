//! Runner overhead, measured not asserted: builder → checker → updater
//! through `codex_cli` with an instant fake Codex. Run with
//! `cargo test --test suite runners::bench -- --ignored --nocapture`.
//!
//! Overhead = time in `run_stage` minus the time to spawn and wait for
//! the same fake with the same argv directly (the fake's own runtime).

use std::time::{Duration, Instant};

use millrace::plan::ResultClass;
use millrace::runners::{Cancel, RunnersConfig, run_stage};

use super::{Fixture, fake, outcome};

const ROUNDS: usize = 40;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

#[tokio::test]
#[ignore = "measurement; prints numbers"]
async fn sequence_overhead() {
    let fx = Fixture::new();
    let mut cfg = RunnersConfig::default();
    cfg.codex.command = fake("codex-instant");
    let stages = [
        ("builder", "BUILDER_COMPLETE"),
        ("checker", "CHECKER_PASS"),
        ("updater", "UPDATE_COMPLETE"),
    ];
    let mut totals = Vec::new();
    let mut fakes = Vec::new();
    for round in 0..ROUNDS {
        let mut total = Duration::ZERO;
        let mut own = Duration::ZERO;
        for (i, (stage, marker)) in stages.iter().enumerate() {
            let mut req = fx.request("codex_cli");
            req.request_id = format!("req-{round}-{i}");
            req.stage = (*stage).into();
            req.node = (*stage).into();
            req.outcomes = vec![outcome(marker, &[ResultClass::Success])];
            let start = Instant::now();
            let result = run_stage(&req, &cfg, Cancel::never()).await;
            total += start.elapsed();
            assert!(result.success, "{:?}", result.notes);
            // The fake alone, same argv, spawned and waited directly.
            let prompt = millrace::runners::prompt::render(&req);
            let last = fx.run_dir().join("bench_last.txt");
            let argv = millrace::runners::codex::argv(&req, &cfg.codex, &last, &prompt);
            let start = Instant::now();
            let status = std::process::Command::new(&cfg.codex.command)
                .args(&argv)
                .stdout(std::process::Stdio::null())
                .status()
                .unwrap();
            own += start.elapsed();
            assert!(status.success());
        }
        totals.push(total);
        fakes.push(own);
    }
    let total = median(totals);
    let own = median(fakes);
    println!(
        "builder→checker→updater via codex_cli, median of {ROUNDS}: total {:.1} ms, fake alone {:.1} ms, \
         runner overhead {:.1} ms per sequence",
        total.as_secs_f64() * 1e3,
        own.as_secs_f64() * 1e3,
        (total.as_secs_f64() - own.as_secs_f64()) * 1e3
    );
}
