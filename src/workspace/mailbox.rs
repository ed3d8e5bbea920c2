//! `state/mailbox/`: commands for a running daemon.
//!
//! Input: control commands from the CLI (or any process) while a daemon
//! owns the workspace. Output: envelopes in `incoming/`, drained by the
//! daemon in issue order and archived to `processed/` or `failed/`.
//!
//! Invariants:
//! - an envelope file is written atomically and never overwritten;
//! - file names are `<command_id>.json` with a time-first id
//!   (`cmd-<UTC ms>-<hex>`), so sorting names sorts by issue time (the
//!   reference sorted by command name first);
//! - every incoming file ends up archived exactly once, with the reason
//!   when it failed; an invalid envelope never stops the drain.

use std::path::PathBuf;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::fsx::{self, FsError};
use super::{MailboxBox, Workspace};
use crate::model::WorkDocument;
use crate::model::ids::{self, check_id, is_safe_id};
use crate::plan::{Plane, WorkItemKind};

/// The envelope format version.
pub const MAILBOX_SCHEMA_VERSION: u32 = 1;

/// The command names a daemon understands.
pub const COMMANDS: &[&str] = &[
    "stop",
    "stop_now",
    "pause",
    "resume",
    "reload_config",
    "add_task",
    "add_spec",
    "add_idea",
    "retry_active",
    "clear_stale_state",
    "gate_decide",
];

/// The code recorded with an incoming file archived as invalid.
pub const INVALID_COMMAND: &str = "mill::mailbox::invalid_command";

/// Why a command cannot be issued or archived.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum MailboxError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Fs(#[from] FsError),

    /// The command or its payload is not acceptable.
    #[error("invalid mailbox command: {0}")]
    #[diagnostic(code(mill::mailbox::invalid_command), help("this is a bug in the caller"))]
    Invalid(String),
}

/// The file format of one command.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    pub schema_version: u32,
    pub kind: String,
    pub command_id: String,
    pub command: String,
    pub issued_at: Timestamp,
    pub issuer: String,
    #[serde(default)]
    pub payload: Value,
}

/// A command with its payload decoded and checked.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    Stop,
    /// Stop now: kill the running harness and record the stage interrupted.
    StopNow,
    Pause,
    Resume,
    ReloadConfig,
    AddTask(WorkDocument),
    AddSpec(WorkDocument),
    AddLearningRequest(WorkDocument),
    /// Stage an idea: `source_name` is `<safe-id>.md`.
    AddIdea {
        source_name: String,
        markdown: String,
    },
    RetryActive {
        reason: String,
        plane: Option<Plane>,
    },
    ClearStaleState {
        reason: String,
    },
    /// Put a blocked item back in its queue.
    RetryItem {
        id: String,
        reason: String,
    },
    /// Decide a waiting gate.
    GateDecide {
        id: String,
        outcome: String,
        note: Option<String>,
    },
    /// Relabel a closure target's drifted lineage (`queue repair-lineage --apply`).
    RepairLineage {
        root_spec_id: String,
    },
}

impl Command {
    /// The wire name.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Stop => "stop",
            Command::StopNow => "stop_now",
            Command::Pause => "pause",
            Command::Resume => "resume",
            Command::ReloadConfig => "reload_config",
            Command::AddTask(_) => "add_task",
            Command::AddSpec(_) => "add_spec",
            Command::AddLearningRequest(_) => "add_learning_request",
            Command::AddIdea { .. } => "add_idea",
            Command::RetryActive { .. } => "retry_active",
            Command::ClearStaleState { .. } => "clear_stale_state",
            Command::RetryItem { .. } => "retry_item",
            Command::GateDecide { .. } => "gate_decide",
            Command::RepairLineage { .. } => "repair_lineage",
        }
    }

    fn payload(&self) -> Value {
        match self {
            Command::AddTask(doc) | Command::AddSpec(doc) | Command::AddLearningRequest(doc) => {
                json!({ "document": doc.to_json() })
            }
            Command::AddIdea {
                source_name,
                markdown,
            } => {
                json!({ "source_name": source_name, "markdown": markdown })
            }
            Command::RetryActive { reason, plane } => match plane {
                Some(plane) => json!({ "reason": reason, "plane": plane.as_str() }),
                None => json!({ "reason": reason }),
            },
            Command::ClearStaleState { reason } => json!({ "reason": reason }),
            Command::RetryItem { id, reason } => json!({ "id": id, "reason": reason }),
            Command::GateDecide { id, outcome, note } => {
                json!({ "id": id, "outcome": outcome, "note": note })
            }
            Command::RepairLineage { root_spec_id } => json!({ "root_spec_id": root_spec_id }),
            _ => json!({}),
        }
    }

    /// Decodes and checks a payload for a command name.
    pub fn decode(name: &str, payload: &Value) -> Result<Command, String> {
        let text = |key: &str| payload.get(key).and_then(Value::as_str).map(str::to_string);
        let command = match name {
            "stop" => Command::Stop,
            "stop_now" => Command::StopNow,
            "pause" => Command::Pause,
            "resume" => Command::Resume,
            "reload_config" => Command::ReloadConfig,
            "add_task" | "add_spec" | "add_learning_request" => {
                let kind = match name {
                    "add_task" => WorkItemKind::Task,
                    "add_spec" => WorkItemKind::Spec,
                    _ => WorkItemKind::LearningRequest,
                };
                let document = payload.get("document").ok_or("the payload has no `document`")?;
                let doc = WorkDocument::from_json_value(Some(kind), document, "payload.document")
                    .map_err(|e| format!("invalid document: {}", e.summary()))?;
                match kind {
                    WorkItemKind::Task => Command::AddTask(doc),
                    WorkItemKind::Spec => Command::AddSpec(doc),
                    _ => Command::AddLearningRequest(doc),
                }
            }
            "add_idea" => {
                let source_name = text("source_name").ok_or("the payload has no `source_name`")?;
                let markdown = text("markdown").ok_or("the payload has no `markdown`")?;
                check_idea_name(&source_name)?;
                if markdown.trim().is_empty() {
                    return Err("the idea markdown is empty".into());
                }
                Command::AddIdea {
                    source_name,
                    markdown,
                }
            }
            "retry_active" => {
                let plane = match text("plane") {
                    None => None,
                    Some(p) => Some(p.parse::<Plane>().map_err(|()| format!("unknown plane `{p}`"))?),
                };
                Command::RetryActive {
                    reason: non_empty_reason(text("reason"))?,
                    plane,
                }
            }
            "clear_stale_state" => Command::ClearStaleState {
                reason: non_empty_reason(text("reason"))?,
            },
            "retry_item" => Command::RetryItem {
                id: text("id").ok_or("the payload has no `id`")?,
                reason: non_empty_reason(text("reason"))?,
            },
            "gate_decide" => Command::GateDecide {
                id: text("id").ok_or("the payload has no `id`")?,
                outcome: text("outcome").ok_or("the payload has no `outcome`")?,
                note: text("note"),
            },
            "repair_lineage" => Command::RepairLineage {
                root_spec_id: text("root_spec_id").ok_or("the payload has no `root_spec_id`")?,
            },
            other => return Err(format!("unknown command `{other}`")),
        };
        Ok(command)
    }
}

fn non_empty_reason(reason: Option<String>) -> Result<String, String> {
    reason
        .filter(|r| !r.trim().is_empty())
        .ok_or_else(|| "the payload needs a non-empty `reason`".to_string())
}

/// An idea file name: `<safe-id>.md`.
pub fn check_idea_name(name: &str) -> Result<(), String> {
    match name.strip_suffix(".md") {
        Some(stem) if is_safe_id(stem) => Ok(()),
        _ => Err(format!(
            "idea file name `{name}` must be `<id>.md` with a safe id"
        )),
    }
}

/// A command written to `incoming/`.
#[derive(Clone, Debug, PartialEq)]
pub struct Issued {
    pub command_id: String,
    pub path: PathBuf,
}

/// Writes a command for the daemon.
pub fn issue(ws: &Workspace, command: &Command, issuer: &str) -> Result<Issued, MailboxError> {
    let command_id = ids::new_command_id();
    let envelope = Envelope {
        schema_version: MAILBOX_SCHEMA_VERSION,
        kind: "mailbox_command".into(),
        command_id: command_id.clone(),
        command: command.name().into(),
        issued_at: Timestamp::now(),
        issuer: issuer.into(),
        payload: command.payload(),
    };
    // Refuse to write what the daemon would refuse to read.
    Command::decode(&envelope.command, &envelope.payload).map_err(MailboxError::Invalid)?;
    let path = ws
        .paths()
        .mailbox(MailboxBox::Incoming)
        .join(format!("{command_id}.json"));
    let text = serde_json::to_string_pretty(&envelope).unwrap_or_default() + "\n";
    fsx::write_new(&path, text.as_bytes())?;
    Ok(Issued { command_id, path })
}

/// The largest mailbox envelope read (a command with a whole work document
/// in it fits many times over).
const MAX_ENVELOPE_BYTES: u64 = 4 * 1024 * 1024;

/// A valid incoming command, not yet archived.
#[derive(Clone, Debug, PartialEq)]
pub struct Pending {
    pub file_name: String,
    pub envelope: Envelope,
    pub command: Command,
}

/// Reads every incoming command in issue order. Invalid files (not UTF-8,
/// not an envelope, not a known command) are archived to `failed/` with
/// the reason on the spot and are not returned. One bad entry never stops
/// the others: an entry that cannot even be read or archived (a directory,
/// no permission) is left in `incoming/` for `doctor` to report.
pub fn pending(ws: &Workspace) -> Result<Vec<Pending>, MailboxError> {
    let dir = ws.paths().mailbox(MailboxBox::Incoming);
    let mut names: Vec<String> = fsx::list_names(&dir)?
        .into_iter()
        .filter(|n| n.ends_with(".json") && !fsx::is_temp_name(n))
        .collect();
    names.sort();
    let mut out = Vec::new();
    for name in names {
        let path = dir.join(&name);
        if already_archived(ws, &name) {
            // Handled before a crash that left the incoming copy behind.
            let _ = fsx::remove_file(&path);
            continue;
        }
        let bytes = match fsx::read_optional_bytes_capped(&path, MAX_ENVELOPE_BYTES) {
            Ok(Some(bytes)) => bytes,
            Ok(None) => continue,
            Err(e) => {
                // A FIFO, a device or a huge file: archived as failed with
                // the reason, like any other bad envelope (its content is
                // never read).
                let record = json!({ "code": INVALID_COMMAND, "error": e.to_string() });
                let _ = archive(ws, &name, MailboxBox::Failed, record);
                continue;
            }
        };
        let decoded = match std::str::from_utf8(&bytes) {
            Ok(text) => decode_file(&name, text),
            Err(e) => Err(format!("not UTF-8 text: {e}")),
        };
        match decoded {
            Ok((envelope, command)) => out.push(Pending {
                file_name: name,
                envelope,
                command,
            }),
            Err(error) => {
                let text = String::from_utf8_lossy(&bytes);
                let raw = serde_json::from_str::<Value>(&text).unwrap_or(Value::String(text.into_owned()));
                let mut record = json!({ "code": INVALID_COMMAND, "error": error, "raw_payload": raw });
                if std::str::from_utf8(&bytes).is_err() {
                    record["raw_bytes_hex"] = bytes
                        .iter()
                        .map(|b| format!("{b:02x}"))
                        .collect::<String>()
                        .into();
                }
                let _ = archive(ws, &name, MailboxBox::Failed, record);
            }
        }
    }
    Ok(out)
}

/// Decodes and checks one incoming file's text (`name` is its file name).
pub fn decode_file(name: &str, text: &str) -> Result<(Envelope, Command), String> {
    let envelope: Envelope = serde_json::from_str(text).map_err(|e| format!("not an envelope: {e}"))?;
    if envelope.schema_version != MAILBOX_SCHEMA_VERSION || envelope.kind != "mailbox_command" {
        return Err(format!(
            "unsupported envelope (schema_version {}, kind `{}`)",
            envelope.schema_version, envelope.kind
        ));
    }
    check_id("command id", &envelope.command_id).map_err(|e| e.to_string())?;
    if name != format!("{}.json", envelope.command_id) {
        return Err(format!(
            "file name `{name}` does not match command id `{}`",
            envelope.command_id
        ));
    }
    let command = Command::decode(&envelope.command, &envelope.payload)?;
    Ok((envelope, command))
}

/// Archives a handled command to `processed/` with the handler's result.
pub fn complete(ws: &Workspace, pending: &Pending, result: Value) -> Result<PathBuf, MailboxError> {
    let record = json!({ "envelope": pending.envelope, "result": result });
    archive(ws, &pending.file_name, MailboxBox::Processed, record)
}

/// Archives a command whose handler failed to `failed/` with the error.
pub fn fail(ws: &Workspace, pending: &Pending, error: &str) -> Result<PathBuf, MailboxError> {
    let record = json!({ "envelope": pending.envelope, "error": error });
    archive(ws, &pending.file_name, MailboxBox::Failed, record)
}

/// Writes the archive record, then removes the incoming file. A crash in
/// between leaves both; the next drain finds the archive and just removes
/// the incoming copy, so a command is never handled twice.
fn archive(ws: &Workspace, name: &str, to: MailboxBox, mut record: Value) -> Result<PathBuf, MailboxError> {
    if let Value::Object(map) = &mut record {
        map.insert("schema_version".into(), json!(MAILBOX_SCHEMA_VERSION));
        map.insert("kind".into(), json!("mailbox_archive"));
        map.insert("disposition".into(), json!(to.as_str()));
        map.insert("archived_at".into(), json!(Timestamp::now()));
    }
    let target = ws.paths().mailbox(to).join(name);
    let text = serde_json::to_string_pretty(&record).unwrap_or_default() + "\n";
    match fsx::write_new(&target, text.as_bytes()) {
        Ok(()) | Err(FsError::Exists { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    fsx::remove_file(&ws.paths().mailbox(MailboxBox::Incoming).join(name))?;
    Ok(target)
}

/// A command the daemon refused, as `status` lists it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Refusal {
    pub command_id: String,
    pub command: String,
    pub archived_at: Option<Timestamp>,
    /// The daemon's words, led by the error's code.
    pub error: String,
}

/// Commands refused since `since` (by their archive file's time): how
/// many, and the latest `max` of them, newest first.
pub fn refusals_since(ws: &Workspace, since: std::time::SystemTime, max: usize) -> (usize, Vec<Refusal>) {
    let dir = ws.paths().mailbox(MailboxBox::Failed);
    let mut recent: Vec<(std::time::SystemTime, String)> = fsx::list_names(&dir)
        .unwrap_or_default()
        .into_iter()
        .filter(|n| n.ends_with(".json"))
        .filter_map(|n| Some((fsx::modified(&dir.join(&n))?, n)))
        .filter(|(at, _)| *at >= since)
        .collect();
    recent.sort();
    let latest = recent
        .iter()
        .rev()
        .take(max)
        .filter_map(|(_, name)| {
            let record: Value = serde_json::from_str(&fsx::read_optional(&dir.join(name)).ok()??).ok()?;
            let field = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
            let envelope = record.get("envelope").unwrap_or(&Value::Null);
            Some(Refusal {
                command_id: field(envelope, "command_id")
                    .unwrap_or_else(|| name.trim_end_matches(".json").into()),
                command: field(envelope, "command").unwrap_or_else(|| "unknown".into()),
                archived_at: field(&record, "archived_at").and_then(|t| t.parse().ok()),
                error: field(&record, "error").unwrap_or_else(|| "refused".into()),
            })
        })
        .collect();
    (recent.len(), latest)
}

/// What the daemon made of an issued command, once it is archived.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// Applied; the handler's result.
    Applied(Value),
    /// Refused; the handler's error.
    Refused(String),
}

/// The verdict on `command_id`, if the daemon has archived it.
pub fn verdict(ws: &Workspace, command_id: &str) -> Option<Verdict> {
    let name = format!("{command_id}.json");
    let read = |b: MailboxBox| {
        let text = fsx::read_optional(&ws.paths().mailbox(b).join(&name)).ok()??;
        serde_json::from_str::<Value>(&text).ok()
    };
    if let Some(record) = read(MailboxBox::Processed) {
        return Some(Verdict::Applied(
            record.get("result").cloned().unwrap_or(Value::Null),
        ));
    }
    let record = read(MailboxBox::Failed)?;
    let error = record.get("error").and_then(Value::as_str).unwrap_or("refused");
    Some(Verdict::Refused(error.to_string()))
}

/// Waits up to `limit` for the verdict on `command_id` (the daemon drains
/// its mailbox every tick, and between a stage's events).
pub fn wait_verdict(ws: &Workspace, command_id: &str, limit: std::time::Duration) -> Option<Verdict> {
    let until = std::time::Instant::now() + limit;
    loop {
        if let Some(v) = verdict(ws, command_id) {
            return Some(v);
        }
        if std::time::Instant::now() >= until {
            return None;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Whether a command was already archived (handled before a crash).
pub fn already_archived(ws: &Workspace, file_name: &str) -> bool {
    [MailboxBox::Processed, MailboxBox::Failed]
        .iter()
        .any(|b| fsx::exists(&ws.paths().mailbox(*b).join(file_name)))
}
