//! `millrace doctor`: workspace integrity checks.
//!
//! Input: a workspace. Output: [`Finding`]s, each an error or a warning
//! with a stable code, a path and a suggested command.
//!
//! Invariants: nothing is written or moved (malformed queue files are
//! reported, not quarantined); a freshly initialized workspace has no
//! finding at all.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::config::Config;
use crate::model::Snapshot;
use crate::plan::Plane;
use crate::workspace::baseline::BaselineManifest;
use crate::workspace::layout::Paths;
use crate::workspace::lock::{self, LockState};
use crate::workspace::plan_store::{self, Currentness};
use crate::workspace::{MailboxBox, Workspace, events, fsx, mailbox, markers};

/// How bad a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Severity {
    Error,
    Warning,
}

/// One problem found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct Finding {
    pub severity: Severity,
    pub code: &'static str,
    /// Relative to the workspace root where possible.
    pub path: Option<String>,
    pub message: String,
    /// A command (or action) that fixes it.
    pub fix: Option<String>,
}

/// The whole check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct DoctorReport {
    pub ok: bool,
    pub errors: usize,
    pub warnings: usize,
    pub findings: Vec<Finding>,
}

mod harness;
mod work;

use work::{closure_targets, queues, stranded_learning};

struct Checks<'w> {
    ws: &'w Workspace,
    findings: Vec<Finding>,
}

impl Checks<'_> {
    fn add(
        &mut self,
        severity: Severity,
        code: &'static str,
        path: Option<&std::path::Path>,
        message: String,
        fix: &str,
    ) {
        let path = path.map(|p| p.strip_prefix(self.ws.root()).unwrap_or(p).display().to_string());
        let fix = (!fix.is_empty()).then(|| fix.to_string());
        self.findings.push(Finding {
            severity,
            code,
            path,
            message,
            fix,
        });
    }

    fn error(&mut self, code: &'static str, path: Option<&std::path::Path>, message: String, fix: &str) {
        self.add(Severity::Error, code, path, message, fix);
    }

    fn warning(&mut self, code: &'static str, path: Option<&std::path::Path>, message: String, fix: &str) {
        self.add(Severity::Warning, code, path, message, fix);
    }
}

/// Runs every check.
pub(crate) fn run(ws: &Workspace) -> DoctorReport {
    let mut checks = Checks {
        ws,
        findings: Vec::new(),
    };
    layout(&mut checks);
    baseline(&mut checks);
    let snapshot = state_files(&mut checks);
    lock_file(&mut checks);
    survivors(&mut checks, snapshot.as_ref());
    if let Some(snapshot) = &snapshot {
        harness::harness_pause(&mut checks, snapshot);
    }
    queues(&mut checks, snapshot.as_ref());
    closure_targets(&mut checks);
    work::gates(&mut checks, snapshot.as_ref());
    let config = config(&mut checks);
    plan(&mut checks, config.as_ref());
    journal(&mut checks);
    usage(&mut checks);
    mailbox_and_events(&mut checks);
    let mut findings = checks.findings;
    findings.sort_by(|a, b| {
        (a.severity, &a.path, a.code, &a.message).cmp(&(b.severity, &b.path, b.code, &b.message))
    });
    let errors = findings.iter().filter(|f| f.severity == Severity::Error).count();
    DoctorReport {
        ok: errors == 0,
        errors,
        warnings: findings.len() - errors,
        findings,
    }
}

fn layout(c: &mut Checks<'_>) {
    let agents = c.ws.agents().to_path_buf();
    for dir in Paths::canonical_dirs() {
        let path = agents.join(&dir);
        if !fsx::is_dir(&path) {
            c.error(
                "mill::doctor::missing_directory",
                Some(&path),
                format!("directory `{dir}` is missing"),
                "millrace init",
            );
        }
    }
    let inbox = c.ws.paths().ideas_inbox();
    if !fsx::is_dir(&inbox) {
        c.error(
            "mill::doctor::missing_directory",
            Some(&inbox),
            "the ideas inbox is missing".into(),
            "millrace init",
        );
    }
    let p = c.ws.paths();
    let mut files = vec![p.config(), p.outline(), p.historylog(), p.snapshot()];
    files.extend(Plane::ALL.iter().map(|plane| p.status_marker(*plane)));
    for file in files {
        if !fsx::is_file(&file) {
            let name = p.relative(&file).display().to_string();
            c.error(
                "mill::doctor::missing_file",
                Some(&file),
                format!("file `{name}` is missing"),
                "millrace init",
            );
        }
    }
}

fn baseline(c: &mut Checks<'_>) {
    let path = c.ws.paths().baseline_manifest();
    match BaselineManifest::load(c.ws) {
        Ok(None) => c.error(
            "mill::doctor::baseline_manifest_missing",
            Some(&path),
            "the baseline manifest is missing".into(),
            "millrace init",
        ),
        Err(e) => c.error(
            "mill::doctor::baseline_manifest_invalid",
            Some(&path),
            e.to_string(),
            "delete it, then run `millrace init`",
        ),
        Ok(Some(manifest)) => {
            for entry in &manifest.entries {
                let file = c.ws.agents().join(&entry.path);
                if !fsx::is_file(&file) {
                    let message = format!("deployed asset `{}` is missing", entry.path);
                    c.error(
                        "mill::doctor::managed_file_missing",
                        Some(&file),
                        message,
                        "millrace init",
                    );
                }
            }
        }
    }
}

fn state_files(c: &mut Checks<'_>) -> Option<Snapshot> {
    for plane in Plane::ALL {
        if let Err(e) = markers::read_marker(c.ws, *plane) {
            let path = c.ws.paths().status_marker(*plane);
            c.error(
                "mill::doctor::status_marker_invalid",
                Some(&path),
                e.to_string(),
                "millrace clear-stale-state",
            );
        }
    }
    match Snapshot::load(c.ws) {
        Ok(snapshot) => Some(snapshot),
        Err(e) => {
            let path = c.ws.paths().snapshot();
            c.error(
                "mill::doctor::snapshot_invalid",
                Some(&path),
                e.to_string(),
                "millrace clear-stale-state",
            );
            None
        }
    }
}

/// Processes of a stage no runtime is running any more (a killed runtime's
/// harness, or what it started): the next start stops them, and until then
/// they may be working beside anything else.
fn survivors(c: &mut Checks<'_>, snapshot: Option<&Snapshot>) {
    let owned = matches!(lock::inspect(c.ws), Ok(seen) if seen.state == LockState::Active);
    let running: Vec<&str> = match snapshot {
        Some(s) if owned => s
            .active_runs
            .values()
            .filter_map(|r| r.pending_request_id.as_deref())
            .collect(),
        _ => Vec::new(),
    };
    let mut by_request: BTreeMap<String, Vec<i32>> = BTreeMap::new();
    for p in crate::runners::stage_processes(c.ws.root()) {
        if !running.contains(&p.request_id.as_str()) {
            by_request.entry(p.request_id).or_default().push(p.pid);
        }
    }
    for (request, pids) in by_request {
        let list: Vec<String> = pids.iter().map(i32::to_string).collect();
        c.warning(
            "mill::doctor::harness_survivor",
            None,
            format!(
                "processes of stage {request} are still running though no runtime runs it: pid {}",
                list.join(", ")
            ),
            &format!(
                "the next `millrace run` stops them before the stage runs again; or `kill -9 {}`",
                list.join(" ")
            ),
        );
    }
}

fn lock_file(c: &mut Checks<'_>) {
    let path = c.ws.paths().lock();
    match lock::inspect(c.ws) {
        Ok(seen) => match seen.state {
            LockState::Absent => {}
            LockState::Active => c.warning(
                "mill::doctor::lock_active",
                Some(&path),
                format!("a runtime owns this workspace: {}", seen.detail),
                "millrace status",
            ),
            LockState::Stale => c.warning(
                "mill::doctor::lock_stale",
                Some(&path),
                format!(
                    "the ownership lock is stale ({}); the next start takes it over",
                    seen.detail
                ),
                "millrace run daemon",
            ),
            LockState::Invalid => c.error(
                "mill::doctor::lock_invalid",
                Some(&path),
                format!("the ownership lock is invalid: {}", seen.detail),
                "millrace clear-stale-state",
            ),
        },
        Err(e) => c.error(
            "mill::doctor::lock_invalid",
            Some(&path),
            e.to_string(),
            "millrace clear-stale-state",
        ),
    }
}

fn config(c: &mut Checks<'_>) -> Option<Config> {
    let path = c.ws.paths().config();
    if !fsx::is_file(&path) {
        return None; // reported as a missing file
    }
    match Config::load(&path) {
        Ok(config) => Some(config),
        Err(e) => {
            let problems = e.problems();
            if problems.is_empty() {
                c.error(
                    "mill::doctor::config_invalid",
                    Some(&path),
                    e.to_string(),
                    "millrace config validate",
                );
            }
            for p in problems {
                let message = format!("{} ({}, line {})", p.message, p.code, p.line);
                c.error(
                    "mill::doctor::config_invalid",
                    Some(&path),
                    message,
                    "millrace config validate",
                );
            }
            None
        }
    }
}

fn plan(c: &mut Checks<'_>, config: Option<&Config>) {
    let path = c.ws.paths().compiled_plan();
    match plan_store::load_plan(c.ws) {
        Ok(None) => return,
        Ok(Some(plan)) => {
            stranded_learning(c, &plan);
            if let Some(config) = config {
                harness::harnesses(c, &plan, config);
            }
        }
        Err(e) => {
            c.error(
                "mill::doctor::plan_invalid",
                Some(&path),
                e.to_string(),
                "millrace compile validate",
            );
            return;
        }
    }
    let Some(config) = config else { return };
    if let Currentness::Stale { reasons } = plan_store::currentness(c.ws, &config.plan_settings()) {
        let message = format!("the compiled plan is stale: {}", reasons.join("; "));
        c.warning(
            "mill::doctor::plan_stale",
            Some(&path),
            message,
            "millrace compile validate",
        );
    }
}

/// Usage governance's files: a damaged ledger line is skipped (its tokens
/// no longer count), an unreadable state file is rebuilt at the next
/// evaluation; both deserve a look.
fn usage(c: &mut Checks<'_>) {
    let ledger = c.ws.paths().governance_ledger();
    match crate::workspace::usage::read_ledger(c.ws) {
        Ok(read) if !read.damaged.is_empty() => {
            let lines: Vec<String> = read.damaged.iter().map(|d| d.line.to_string()).collect();
            let message = format!(
                "{} damaged ledger line(s) are skipped and their tokens not counted (line {})",
                read.damaged.len(),
                lines.join(", ")
            );
            c.warning(
                "mill::doctor::usage_ledger_damaged",
                Some(&ledger),
                message,
                "inspect the lines; delete them if they are torn writes",
            );
        }
        Ok(_) => {}
        Err(e) => c.error(
            "mill::doctor::usage_ledger_damaged",
            Some(&ledger),
            e.to_string(),
            "check the file's permissions",
        ),
    }
    if let Err(e) = crate::workspace::usage::GovernanceState::load(c.ws) {
        let path = c.ws.paths().governance_state();
        c.warning(
            "mill::doctor::usage_state_invalid",
            Some(&path),
            e.to_string(),
            "delete it; the next evaluation writes a fresh one",
        );
    }
}

/// A last journal record whose snapshot is not the one on disk means a
/// transition was interrupted; the next start applies it again. An
/// unreadable record needs a human.
fn journal(c: &mut Checks<'_>) {
    let path = c.ws.paths().journal();
    match crate::workspace::journal::pending(c.ws) {
        Ok(false) => {}
        Ok(true) => c.warning(
            "mill::doctor::journal_pending",
            Some(&path),
            "an interrupted transition is recorded; the next start applies it".into(),
            "millrace run daemon",
        ),
        Err(e) => c.error(
            "mill::doctor::journal_invalid",
            Some(&path),
            e.to_string(),
            "inspect the file, then run `millrace clear-stale-state`, which sets it aside",
        ),
    }
}

fn mailbox_and_events(c: &mut Checks<'_>) {
    let incoming = c.ws.paths().mailbox(MailboxBox::Incoming);
    if let Ok(names) = crate::workspace::fsx::list_names(&incoming) {
        for name in names
            .iter()
            .filter(|n| n.ends_with(".json") && !n.starts_with('.'))
        {
            let path = incoming.join(name);
            // The daemon's own check: envelope, version, kind, command id
            // matching the file name, command and payload.
            let valid = crate::workspace::fsx::read_optional(&path)
                .ok()
                .flatten()
                .is_some_and(|text| mailbox::decode_file(name, &text).is_ok());
            if !valid {
                let message =
                    "an invalid mailbox command waits in incoming/; the daemon will archive it as failed"
                        .to_string();
                c.warning(
                    "mill::doctor::mailbox_invalid_command",
                    Some(&path),
                    message,
                    "millrace run daemon",
                );
            }
        }
    }
    if let Ok(read) = events::read_events(c.ws)
        && read.malformed > 0
    {
        let path = c.ws.paths().events_log();
        let message = format!(
            "{} malformed line(s) in the event log (readers skip them)",
            read.malformed
        );
        c.warning("mill::doctor::event_log_malformed", Some(&path), message, "");
    }
}
