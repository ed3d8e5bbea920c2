//! Pi's RPC wire: commands out, records in, and what the records say about
//! the session (has the run ended, is Pi retrying, how did its turn end).
//!
//! Input: a running Pi harness. Output: parsed records and a [`Session`]
//! kept up to date. Invariant: every record but streaming deltas is logged
//! to the events file; an extension dialog is cancelled at once (a headless
//! client cannot answer it).

use serde_json::{Value, json};
use tokio::time::Instant;

use super::QUERY_TIMEOUT;
use crate::runners::codex::parse_counted;
use crate::runners::lines::Line;
use crate::runners::process::{Harness, Step};

/// Why the exchange stopped early.
pub(crate) enum Stop {
    Deadline,
    Cancelled,
    /// No event for the stall limit.
    Stalled,
    /// An earlier wait of our own ran out (a query, a retry notice).
    Quiet,
    /// Transport failure with a note.
    Broken(String),
    /// Pi refused the prompt, in its own words.
    Refused(String),
}

/// What the Pi session told us.
#[derive(Default)]
pub(crate) struct Session {
    pub(crate) agent_ended: bool,
    /// Between `auto_retry_start` and `auto_retry_end`.
    pub(crate) retrying: bool,
    /// An `auto_retry_end` said Pi gave up.
    pub(crate) retry_gave_up: bool,
    pub(crate) last_stop_reason: Option<String>,
    pub(crate) last_error: Option<String>,
    pub(crate) records: u64,
    pub(crate) bad_lines: u64,
}

impl Session {
    /// Whether the run is over: its last `agent_end` came and no retry of
    /// Pi's own is under way.
    pub(crate) fn over(&self) -> bool {
        self.agent_ended && !self.retrying
    }

    pub(crate) fn failed(&self) -> bool {
        self.last_stop_reason.as_deref() == Some("error")
    }
}

pub(crate) async fn query(h: &mut Harness, s: &mut Session, id: &str, kind: &str) -> Result<Value, Stop> {
    send(h, &json!({"id": id, "type": kind})).await?;
    let until = h.deadline.min(Instant::now() + QUERY_TIMEOUT);
    let response = match await_response(h, s, id, until).await {
        Err(Stop::Quiet) => return Err(Stop::Broken("pi did not answer in time".into())),
        other => other?,
    };
    match response.get("success").and_then(Value::as_bool) {
        Some(false) => Err(Stop::Broken(format!("pi {kind} failed"))),
        _ => Ok(response),
    }
}

pub(crate) async fn send(h: &mut Harness, command: &Value) -> Result<(), Stop> {
    let until = h.deadline.min(Instant::now() + QUERY_TIMEOUT);
    send_until(h, command, until).await
}

pub(crate) async fn send_until(h: &mut Harness, command: &Value, until: Instant) -> Result<(), Stop> {
    if h.stdin.is_none() {
        return Err(Stop::Broken("pi's stdin is closed".into()));
    }
    let bytes = serde_json::to_vec(command).map_err(|e| Stop::Broken(e.to_string()))?;
    h.send_line(&bytes, until)
        .await
        .map_err(|e| Stop::Broken(format!("cannot write to pi: {e}")))
}

/// Reads until the response with `id` arrives, handling events meanwhile.
pub(crate) async fn await_response(
    h: &mut Harness,
    s: &mut Session,
    id: &str,
    until: Instant,
) -> Result<Value, Stop> {
    loop {
        let record = next_event(h, s, until).await?;
        let is_response = record.get("type").and_then(Value::as_str) == Some("response");
        if is_response && record.get("id").and_then(Value::as_str) == Some(id) {
            return Ok(record);
        }
    }
}

/// The next JSON record, after noting what it says about the session.
pub(crate) async fn next_event(h: &mut Harness, s: &mut Session, until: Instant) -> Result<Value, Stop> {
    loop {
        match h.step(until).await {
            Step::Line(line) => {
                if let Some(record) = record(h, s, &line) {
                    s.observe(&record);
                    answer_ui_request(h, &record).await;
                    return Ok(record);
                }
            }
            Step::Exited => {}
            Step::Eof | Step::Done => {
                return Err(Stop::Broken(
                    "pi's output ended before the exchange finished".into(),
                ));
            }
            Step::Deadline if until < h.deadline => return Err(Stop::Quiet),
            Step::Deadline => return Err(Stop::Deadline),
            Step::Cancelled => return Err(Stop::Cancelled),
        }
    }
}

pub(crate) fn record(h: &mut Harness, s: &mut Session, line: &Line) -> Option<Value> {
    let record = parse_counted(line, &mut s.bad_lines)?;
    s.records += 1;
    // Streaming deltas would double the log for no insight.
    if record.get("type").and_then(Value::as_str) != Some("message_update") {
        h.stdout.log_event(&line.bytes);
    }
    Some(record)
}

/// A headless client cannot answer dialogs: cancel them at once.
async fn answer_ui_request(h: &mut Harness, record: &Value) {
    if record.get("type").and_then(Value::as_str) != Some("extension_ui_request") {
        return;
    }
    let id = record.get("id").cloned().unwrap_or(Value::Null);
    let reply = json!({"type": "extension_ui_response", "id": id, "cancelled": true});
    if send(h, &reply).await.is_err() {
        h.notes.push("could not cancel a pi extension dialog".into());
    }
}

impl Session {
    pub(crate) fn observe(&mut self, record: &Value) {
        match record.get("type").and_then(Value::as_str).unwrap_or_default() {
            "message_end" | "turn_end" => self.message(record.get("message")),
            "agent_end" => {
                self.agent_ended = true;
                let messages = record.get("messages").and_then(Value::as_array);
                let last = messages.and_then(|m| m.iter().rev().find(|m| is_assistant(m)));
                self.message(last);
            }
            "auto_retry_start" => {
                // The failed agent_end before this one was not the end.
                self.retrying = true;
                self.agent_ended = false;
            }
            "auto_retry_end" => {
                self.retrying = false;
                let success = record.get("success").and_then(Value::as_bool).unwrap_or(false);
                self.retry_gave_up = !success;
                if !success && let Some(e) = record.get("finalError").and_then(Value::as_str) {
                    self.last_error = Some(e.to_owned());
                }
            }
            _ => {}
        }
    }

    fn message(&mut self, message: Option<&Value>) {
        let Some(message) = message.filter(|m| is_assistant(m)) else {
            return;
        };
        let reason = message
            .get("stopReason")
            .and_then(Value::as_str)
            .map(str::to_owned);
        if reason.as_deref() == Some("error") {
            let error = message
                .get("errorMessage")
                .and_then(Value::as_str)
                .unwrap_or("provider error");
            self.last_error = Some(error.to_owned());
        }
        if reason.is_some() {
            self.last_stop_reason = reason;
        }
    }
}

fn is_assistant(message: &Value) -> bool {
    message.get("role").and_then(Value::as_str) == Some("assistant")
}
