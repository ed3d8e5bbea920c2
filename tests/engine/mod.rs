//! The runtime end to end: the built binary runs compiled modes over a
//! temporary workspace with the scripted harness, and the tests read what
//! it left (queues, runs, events, records).

mod daemon;
mod events;
mod gates;
mod golden;
mod harness;
mod intake;
mod learning;
mod pure;
mod replay;
mod stalls;
mod wake;

use std::process::Output;

use serde_json::Value;

use crate::workspace::{Ws, stderr, task_md};

/// A workspace set up to run a mode with the scripted harness.
pub struct Campaign {
    pub ws: Ws,
}

impl Campaign {
    /// `base` is the shipped mode to extend; `script` the scripted
    /// harness's TOML; `config` extra `millrace.toml` text.
    pub fn new(base: &str, script: &str, config: &str) -> Self {
        let c = Self::with_mode(
            &format!("mode campaign extends {base} {{\n    runner * = scripted\n}}\n"),
            &format!("[runners.scripted]\nscript = \"campaign/script.toml\"\n\n{config}"),
        );
        c.ws.write("campaign/script.toml", script);
        c
    }

    /// A workspace whose default mode is `campaign`, defined by `mode`.
    pub fn with_mode(mode: &str, config: &str) -> Self {
        let ws = Ws::new();
        ws.write("loops/campaign.mill", mode);
        ws.write(
            "millrace.toml",
            &format!("[runtime]\ndefault_mode = \"campaign\"\nidle_sleep_seconds = 0.01\n\n{config}"),
        );
        let out = ws.run(&["compile", "validate"]);
        assert!(out.status.success(), "compile failed: {}", stderr(&out));
        Self { ws }
    }

    pub fn add_task(&self, id: &str) {
        self.ws.write(
            &format!("tasks/queue/{id}.md"),
            &task_md(id, "2026-01-01T00:00:00Z", &[]),
        );
    }

    /// Runs the daemon until nothing is left to do.
    pub fn run_until_idle(&self) -> Output {
        let out = self.ws.run(&[
            "run",
            "daemon",
            "--exit-when-idle",
            "--max-ticks",
            "5000",
            "--monitor",
            "basic",
        ]);
        assert!(out.status.success(), "daemon failed: {}", stderr(&out));
        out
    }

    /// The runtime events, in order.
    pub fn events(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(self.ws.path("logs/runtime_events.jsonl")).unwrap_or_default();
        text.lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// The index of the first event of a type (matching `pred`).
    pub fn position(&self, event_type: &str, pred: impl Fn(&Value) -> bool) -> Option<usize> {
        self.events()
            .iter()
            .position(|e| e["event_type"] == event_type && pred(&e["data"]))
    }
}
