//! The crash test: a daemon working through 20 tasks and 2 specs with the
//! scripted harness is SIGKILLed at random points and restarted each time;
//! every item must end exactly once, with nothing lost or duplicated and no
//! manual repair.
//!
//! The workload (`learning_codex` with every stage scripted) exercises fix
//! cycles, troubleshooter resumes (at the checker and at the updater),
//! dependencies, planner/manager writing tasks, closure passes that first
//! ask for remediation (a handoff incident, audited and planned into more
//! tasks) and then pass, learning requests filed by triggers and run on
//! the learning plane beside execution, and a plan-check gate after every
//! planner pass that its one-second timeout approves (so kills also land
//! while a gate waits, and between its timeout's decision and its route).
//!
//! One cycle: start `run daemon --exit-when-idle`, SIGKILL it after a random
//! delay, check the crashed state, and (every other cycle, at random)
//! restart it in a way that recovers without starting a stage (a `pause`
//! waits in the mailbox and the daemon runs one tick) and check the settled
//! state strictly. The kill delays follow the progress of the work so the
//! kill points spread over the whole campaign; if the work still finishes
//! before the last kill point, a fresh workspace continues the count.
//!
//! What `doctor` may report on a crashed (not yet restarted) workspace,
//! because a SIGKILL can land between two steps that are repaired at the
//! next start:
//! - `untracked_active_item` (error): the claim's rename happened, the
//!   run's record did not; the next start returns the item to its queue;
//! - `active_item_missing` (error), only together with `journal_pending`:
//!   a journaled move was applied, the snapshot not yet rewritten; the
//!   next start replays the journal;
//! - `lock_stale` and `journal_pending` (warnings).
//!
//! Nothing else, ever; and after a restart has settled, nothing at all.
//!
//! `MILLRACE_CRASH_POINTS` sets the number of kill points (default 30) and
//! `MILLRACE_CRASH_SEED` replays a seed; the seed is printed on failure.
//! The long form: `MILLRACE_CRASH_POINTS=300 cargo test proof::crash --
//! --nocapture`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use millrace::workspace::Workspace;
use millrace::workspace::mailbox::{self, Command};
use serde_json::Value;

use super::{Bench, group_alive, locate_all, panic_text, snapshot, spec_md, task_md, text, wait_for};

const TASKS: usize = 20;
const SPECS: [&str; 2] = ["spec-a", "spec-b"];

/// Errors `doctor` may report on a crashed workspace (see the module doc).
const MID_CRASH_ERRORS: &[&str] = &[
    "mill::doctor::untracked_active_item",
    "mill::doctor::active_item_missing",
];
const MID_CRASH_WARNINGS: &[&str] = &[
    "mill::doctor::lock_stale",
    "mill::doctor::journal_pending",
    // A kill during a command stage leaves its harness's child running
    // until the next start stops it.
    "mill::doctor::harness_survivor",
    // A gate waiting when the kill landed waits on.
    "mill::gate::waiting",
];

/// Who reaps a harness whose runtime was killed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reaping {
    /// The daemon is the test's child; its orphans go to init, which may
    /// leave the harness a zombie for a while.
    TestIsParent,
    /// The daemon runs under a subreaper that reaps every orphan at once
    /// (systemd, tini, a container's init): the harness is gone at once and
    /// only what it started is left.
    Subreaper,
}

/// A daemon the test started, and the pid to kill.
struct Daemon {
    /// The daemon itself, or the subreaper it runs under.
    child: std::process::Child,
    pid: u32,
}

impl Daemon {
    fn start(bench: &Bench, args: &[&str], log: &std::path::Path, reaping: Reaping) -> Daemon {
        if reaping == Reaping::TestIsParent {
            let child = bench.spawn(args, log);
            let pid = child.id();
            return Daemon { child, pid };
        }
        let pid_file = log.with_extension("pid");
        let reaper = env!("CARGO_MANIFEST_DIR").to_string() + "/tests/fake/reaper";
        let mut wrapped = vec![reaper.as_str(), env!("CARGO_BIN_EXE_millrace"), "--workspace"];
        let root = bench.root.display().to_string();
        wrapped.push(&root);
        wrapped.extend_from_slice(args);
        let pid_text = pid_file.display().to_string();
        let child = bench.spawn_program(&wrapped, log, &[("REAPER_PID_FILE", &pid_text)]);
        let start = Instant::now();
        let pid = loop {
            if let Some(pid) = std::fs::read_to_string(&pid_file)
                .ok()
                .and_then(|t| t.trim().parse().ok())
            {
                break pid;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "the reaper did not start the daemon"
            );
            std::thread::sleep(Duration::from_millis(2));
        };
        Daemon { child, pid }
    }

    fn try_wait(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().unwrap()
    }

    /// SIGKILLs the daemon. A subreaper stays while orphans of the killed
    /// stage live: it is kept in `lingering` (the next start must stop
    /// those orphans, and the subreaper then ends).
    fn kill(mut self, lingering: &mut Vec<std::process::Child>) {
        super::signal(self.pid, libc::SIGKILL);
        if self.child.id() == self.pid {
            self.child.wait().unwrap();
            return;
        }
        let start = Instant::now();
        while std::path::Path::new(&format!("/proc/{}", self.pid)).exists() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "the killed daemon was not reaped"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        lingering.push(self.child);
    }
}

/// Processes that carry a stage marker of this workspace (a harness, or
/// what it started). None may be left once no daemon runs.
fn stage_processes(bench: &Bench) -> Vec<String> {
    let marker = format!("MILLRACE_STAGE_WORKSPACE={}", bench.root.display());
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let zombie = stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'));
        let environ = std::fs::read(entry.path().join("environ")).unwrap_or_default();
        if !zombie && environ.split(|b| *b == 0).any(|v| v == marker.as_bytes()) {
            found.push(format!("{name}: {}", stat.trim()));
        }
    }
    found
}

fn assert_no_stage_process(bench: &Bench, when: &str) {
    let left = stage_processes(bench);
    assert!(left.is_empty(), "{when}: processes of a stage survive: {left:#?}");
}

/// Every stage scripted in process, but the learning plane's analyst and
/// curator, which run as real processes that start a child of their own (a
/// build, a server): a kill during them leaves survivors to stop.
const MODE: &str = "mode crash extends learning_codex {
    planning       = planning.gated
    runner *       = scripted
    runner analyst = command
    runner curator = command
}

gate plan_check {
    plane planning
    ask   \"Plan looks right?\"
    outcomes {
        APPROVED: success
    }
    timeout 1 -> APPROVED
}
";

/// The shipped planning loop with the `plan_check` gate between the
/// planner and the manager.
fn planning_gated() -> String {
    let shipped = include_str!("../../loops/planning.mill");
    let from = shipped.find("loop planning.standard").unwrap();
    let gated = shipped[from..]
        .replace("loop planning.standard", "loop planning.gated")
        .replace(
            "        PLANNER_COMPLETE -> manager\n",
            "        PLANNER_COMPLETE -> plan_check\n",
        )
        .replace(
            "    manager {\n",
            "    plan_check {\n        APPROVED -> manager\n    }\n    manager {\n",
        );
    assert!(
        gated.contains("-> plan_check"),
        "the shipped planner routes changed"
    );
    gated
}

const CONFIG: &str = "[runtime]
default_mode = \"crash\"
idle_sleep_seconds = 0.01
# Interrupted stages count against the fuel budget; hundreds of kills must
# not exhaust it.
max_stage_runs_per_item = 1000

[runners.scripted]
script = \"crash/script.toml\"

[runners.command.stages.analyst]
argv = [\"sh\", \"-c\", \"sleep 300 & sleep 0.15\"]
success = \"ANALYST_COMPLETE\"
failure = \"BLOCKED\"

[runners.command.stages.curator]
argv = [\"sh\", \"-c\", \"sleep 300 & sleep 0.1\"]
success = \"CURATOR_COMPLETE\"
failure = \"BLOCKED\"
";

/// A task the manager writes: `{work_item_id}-tNN`, in the root spec's
/// lineage.
fn manager_task(n: u32, depends: Option<u32>) -> String {
    let dep = depends
        .map(|d| format!("\nDepends-On:\n- {{work_item_id}}-t{d:02}\n"))
        .unwrap_or_default();
    format!(
        "  {{ path = \"millrace-agents/tasks/queue/{{work_item_id}}-t{n:02}.md\", content = \"\"\"
# Task {{work_item_id}}-t{n:02}

Task-ID: {{work_item_id}}-t{n:02}
Root-Spec-ID: {{root_spec_id}}
Spec-ID: {{root_spec_id}}
Created-At: 2026-02-01T00:00:{n:02}Z
Created-By: manager

Target-Paths:
- src/lib.rs

Acceptance:
- it works

Required-Checks:
- cargo test

References:
- none

Risk:
- low
{dep}\"\"\" }},
"
    )
}

fn script() -> String {
    let mut s = String::from("[stages]\n");
    s.push_str("planner = [{ outcome = \"PLANNER_COMPLETE\", delay_ms = 14 }]\n");
    s.push_str("manager = [{ outcome = \"MANAGER_COMPLETE\", delay_ms = 22, writes = [\n");
    s.push_str(&manager_task(1, None));
    s.push_str(&manager_task(2, Some(1)));
    s.push_str(&manager_task(3, None));
    s.push_str("] }]\n");
    s.push_str(
        r##"builder = [{ outcome = "BUILDER_COMPLETE", delay_ms = 9 }]
checker = [{ outcome = "CHECKER_PASS", delay_ms = 6 }]
fixer = [{ outcome = "FIXER_COMPLETE", delay_ms = 11 }]
doublechecker = [{ outcome = "DOUBLECHECK_PASS", delay_ms = 7 }]
updater = [{ outcome = "UPDATE_COMPLETE", delay_ms = 3 }]
troubleshooter = [{ outcome = "TROUBLESHOOT_COMPLETE", delay_ms = 13, result = { resume_stage = "checker" } }]
auditor = [{ outcome = "AUDITOR_COMPLETE", delay_ms = 5 }]
mechanic = [{ outcome = "MECHANIC_COMPLETE", delay_ms = 5 }]
analyst = [{ outcome = "ANALYST_COMPLETE", delay_ms = 4 }]
professor = [{ outcome = "PROFESSOR_COMPLETE", delay_ms = 8 }]
curator = [{ outcome = "CURATOR_COMPLETE", delay_ms = 2 }]
arbiter = [
  { outcome = "REMEDIATION_NEEDED", delay_ms = 17, writes = [
    { path = "millrace-agents/arbiter/verdicts/{root_spec_id}.json", content = '{"verdict": "gaps"}' },
    { path = "millrace-agents/runs/{run_id}/arbiter_report.md", content = "# Gaps\n" },
  ] },
  { outcome = "ARBITER_COMPLETE", delay_ms = 12, writes = [
    { path = "millrace-agents/arbiter/verdicts/{root_spec_id}.json", content = '{"verdict": "pass"}' },
    { path = "millrace-agents/runs/{run_id}/arbiter_report.md", content = "# Complete\n" },
  ] },
]

[items.t02]
builder = [{ outcome = "BUILDER_COMPLETE", delay_ms = 30 }]

[items.t03]
checker = [{ outcome = "FIX_NEEDED", delay_ms = 5 }, "CHECKER_PASS"]

[items.t05]
builder = [{ outcome = "BLOCKED", delay_ms = 4 }, { outcome = "BUILDER_COMPLETE", delay_ms = 9 }]

[items.t07]
checker = [{ outcome = "CHECKER_PASS", delay_ms = 25 }]

[items.t11]
checker = [{ outcome = "FIX_NEEDED", delay_ms = 6 }]
doublechecker = [{ outcome = "FIX_NEEDED", delay_ms = 6 }, "DOUBLECHECK_PASS"]

[items.t13]
builder = [{ outcome = "BLOCKED", delay_ms = 3 }, "BUILDER_COMPLETE"]

[items.t16]
checker = [{ outcome = "BLOCKED", delay_ms = 8 }, "CHECKER_PASS"]

[items.t19]
updater = [{ outcome = "BLOCKED", delay_ms = 3 }, "UPDATE_COMPLETE"]
troubleshooter = [{ outcome = "TROUBLESHOOT_COMPLETE", delay_ms = 10, result = { resume_stage = "updater" } }]

[items.t20]
builder = [{ outcome = "BUILDER_COMPLETE", delay_ms = 2 }]
checker = [{ outcome = "CHECKER_PASS", delay_ms = 2 }]
updater = [{ outcome = "UPDATE_COMPLETE", delay_ms = 2 }]
"##,
    );
    s
}

/// The 20 task ids.
fn task_ids() -> Vec<String> {
    (1..=TASKS).map(|i| format!("t{i:02}")).collect()
}

/// Fills a fresh workspace with the campaign.
fn setup(bench: &Bench) {
    bench.write("loops/crash.mill", &format!("{MODE}\n{}", planning_gated()));
    bench.write("millrace.toml", CONFIG);
    bench.write("crash/script.toml", &script());
    let deps: BTreeMap<&str, Vec<&str>> = [
        ("t04", vec!["t03"]),
        ("t10", vec!["t08", "t09"]),
        ("t15", vec!["t14"]),
        ("t18", vec!["t17"]),
    ]
    .into_iter()
    .collect();
    for (i, id) in task_ids().iter().enumerate() {
        let at = format!("2026-01-01T00:01:{i:02}Z");
        let depends = deps.get(id.as_str()).cloned().unwrap_or_default();
        bench.write(&format!("tasks/queue/{id}.md"), &task_md(id, &at, "", &depends));
    }
    for (i, id) in SPECS.iter().enumerate() {
        let at = format!("2026-01-01T00:00:{:02}Z", i * 30);
        bench.write(&format!("specs/queue/{id}.md"), &spec_md(id, &at));
    }
    let out = bench.run(&["compile", "validate"]);
    assert!(
        out.status.success(),
        "the crash mode does not compile: {}",
        text(&out.stderr)
    );
}

/// Stage results written so far (the campaign's progress).
fn stage_results(bench: &Bench) -> usize {
    bench
        .names("runs")
        .iter()
        .map(|run| bench.names(&format!("runs/{run}/stage_results")).len())
        .sum()
}

/// Invariants that hold at every instant, crashed or not.
fn check_any_moment(bench: &Bench, when: &str) {
    for (family, ids) in locate_all(bench) {
        for (id, states) in &ids {
            assert!(states.len() == 1, "{when}: {family} `{id}` is in {states:?}");
        }
        let _ = family;
    }
    let active = |rel: &str| bench.stems(rel).len();
    assert!(active("tasks/active") <= 1, "{when}: several active tasks");
    assert!(
        active("specs/active") + active("incidents/active") <= 1,
        "{when}: several active planning items"
    );
    assert!(
        active("learning/requests/active") <= 1,
        "{when}: several active learning requests"
    );
    for (family, states) in super::FAMILIES {
        for state in states {
            let rel = format!("{family}/{state}");
            let bad: Vec<String> = bench
                .names(&rel)
                .into_iter()
                .filter(|n| n.contains(".invalid"))
                .collect();
            assert!(bad.is_empty(), "{when}: quarantined files in {rel}: {bad:?}");
        }
    }
}

/// Severity and code of every doctor finding.
fn findings(report: &Value) -> Vec<(String, String, String)> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["severity"].as_str().unwrap_or_default().to_string(),
                f["code"].as_str().unwrap_or_default().to_string(),
                format!("{} {}", f["path"], f["message"]),
            )
        })
        .collect()
}

/// Doctor on a crashed workspace: only what the next start repairs.
fn check_doctor_crashed(bench: &Bench, when: &str) {
    let ws = Workspace::at(&bench.root).unwrap();
    let journal = millrace::workspace::journal::pending(&ws).unwrap();
    for (severity, code, detail) in findings(&bench.doctor()) {
        let allowed = match severity.as_str() {
            "error" => {
                MID_CRASH_ERRORS.contains(&code.as_str())
                    && (code != "mill::doctor::active_item_missing" || journal)
            }
            _ => MID_CRASH_WARNINGS.contains(&code.as_str()),
        };
        assert!(allowed, "{when}: doctor {severity} {code}: {detail}");
    }
}

/// Doctor after a clean exit: nothing at all (but a gate that is waiting
/// for its timeout).
fn check_doctor_settled(bench: &Bench, when: &str) {
    let report = bench.doctor();
    let mut all = findings(&report);
    all.retain(|(severity, code, _)| !(severity == "warning" && code == "mill::gate::waiting"));
    assert!(
        all.is_empty(),
        "{when}: doctor findings after a clean exit: {all:#?}"
    );
    let ws = Workspace::at(&bench.root).unwrap();
    assert!(
        !millrace::workspace::journal::pending(&ws).unwrap(),
        "{when}: a transition left pending after a clean exit"
    );
    assert!(
        !bench.path("state/runtime_daemon.lock.json").exists(),
        "{when}: lock left after a clean exit"
    );
}

fn issue(bench: &Bench, command: &Command) {
    let ws = Workspace::at(&bench.root).unwrap();
    mailbox::issue(&ws, command, "proof").unwrap();
}

/// Fails if a process's logs hold panic text.
fn check_logs(log: &std::path::Path, when: &str) {
    for ext in ["out", "err"] {
        let t = std::fs::read_to_string(log.with_extension(ext)).unwrap_or_default();
        if let Some(needle) = panic_text(&t) {
            panic!("{when}: the daemon printed `{needle}`:\n{t}");
        }
    }
}

/// Every routing record of every run: (run id, record).
fn routing_records(bench: &Bench) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for run in bench.names("runs") {
        for name in bench.names(&format!("runs/{run}")) {
            if name.starts_with("routing.") && name.ends_with(".json") {
                let text = std::fs::read_to_string(bench.path(&format!("runs/{run}/{name}"))).unwrap();
                out.push((run.clone(), serde_json::from_str(&text).unwrap()));
            }
        }
    }
    out
}

/// The work item a run's requests name, if any.
fn work_item_of(bench: &Bench, run: &str) -> Option<(String, String)> {
    let request = bench
        .names(&format!("runs/{run}"))
        .into_iter()
        .find(|n| n.starts_with("request.") && n.ends_with(".json"))?;
    let text = std::fs::read_to_string(bench.path(&format!("runs/{run}/{request}"))).ok()?;
    let value: Value = serde_json::from_str(&text).ok()?;
    let item = value.get("work_item").filter(|v| !v.is_null())?;
    Some((
        item["kind"].as_str()?.to_string(),
        item["id"].as_str()?.to_string(),
    ))
}

/// The checks once the campaign has run to completion.
fn check_finished(bench: &Bench, when: &str) {
    check_any_moment(bench, when);
    check_doctor_settled(bench, when);
    let records = routing_records(bench);
    let where_ = locate_all(bench);

    // Incidents: exactly the closure passes that asked for remediation,
    // each once, each resolved.
    let expected_incidents: BTreeSet<String> = records
        .iter()
        .filter(|(_, r)| r["target"]["terminal"] == "remediation_needed")
        .map(|(run, r)| {
            let root = work_root(bench, run).unwrap_or_default();
            let hash = millrace::plan::sha256_hex(r["request_id"].as_str().unwrap().as_bytes());
            format!("arbiter-gap-{root}-{}", &hash[..8])
        })
        .collect();
    let incidents = &where_["incidents"];
    let found: BTreeSet<String> = incidents.keys().cloned().collect();
    assert_eq!(found, expected_incidents, "{when}: incidents");
    for (id, states) in incidents {
        assert_eq!(states, &vec!["resolved"], "{when}: incident {id}");
    }

    // Tasks: the 20, three per spec and three per incident, all done once.
    let mut expected: BTreeSet<String> = task_ids().into_iter().collect();
    for parent in SPECS
        .iter()
        .map(|s| s.to_string())
        .chain(expected_incidents.iter().cloned())
    {
        for n in 1..=3 {
            expected.insert(format!("{parent}-t{n:02}"));
        }
    }
    let tasks = &where_["tasks"];
    let found: BTreeSet<String> = tasks.keys().cloned().collect();
    assert_eq!(found, expected, "{when}: tasks");
    for (id, states) in tasks {
        assert_eq!(states, &vec!["done"], "{when}: task {id}");
    }
    let specs = &where_["specs"];
    assert_eq!(
        specs.keys().map(String::as_str).collect::<Vec<_>>(),
        SPECS.to_vec(),
        "{when}: specs"
    );
    for (id, states) in specs {
        assert_eq!(states, &vec!["done"], "{when}: spec {id}");
    }

    // Learning requests: one per trigger firing, each done.
    let fired: BTreeSet<String> = records
        .iter()
        .filter(|(_, r)| {
            let (node, outcome) = (
                r["node"].as_str().unwrap_or(""),
                r["outcome"].as_str().unwrap_or(""),
            );
            matches!(
                (node, outcome),
                ("doublechecker", "DOUBLECHECK_PASS")
                    | ("troubleshooter", "TROUBLESHOOT_COMPLETE" | "BLOCKED")
                    | ("consultant", _)
            )
        })
        .map(|(_, r)| r["request_id"].as_str().unwrap().to_string())
        .collect();
    let learning = &where_["learning/requests"];
    let mut sources = Vec::new();
    for (id, states) in learning {
        assert_eq!(states, &vec!["done"], "{when}: learning request {id}");
        let doc = std::fs::read_to_string(bench.path(&format!("learning/requests/done/{id}.md"))).unwrap();
        let source = doc
            .lines()
            .find_map(|l| l.strip_prefix("- request:"))
            .unwrap_or_else(|| panic!("{when}: learning request {id} names no source request"));
        sources.push(source.trim().to_string());
    }
    let unique: BTreeSet<String> = sources.iter().cloned().collect();
    assert_eq!(
        unique.len(),
        sources.len(),
        "{when}: two learning requests for one trigger firing"
    );
    assert_eq!(unique, fired, "{when}: learning requests against trigger firings");

    // Exactly once: one success terminal per work item, one passing closure
    // pass per root spec.
    let mut finished: BTreeMap<(String, String), usize> = BTreeMap::new();
    for (run, r) in &records {
        if r["target"]["class"] != "success" {
            continue;
        }
        let key = match work_item_of(bench, run) {
            Some(item) => item,
            None => ("closure".into(), work_root(bench, run).unwrap_or_default()),
        };
        *finished.entry(key).or_default() += 1;
    }
    for (item, count) in &finished {
        assert_eq!(
            *count, 1,
            "{when}: {item:?} reached a success terminal {count} times"
        );
    }
    let done_items = tasks.len() + specs.len() + incidents.len() + learning.len() + SPECS.len();
    assert_eq!(
        finished.len(),
        done_items,
        "{when}: success terminals {finished:?}"
    );

    // Closure targets closed, state idle, nothing pending.
    for root in SPECS {
        let target: Value = serde_json::from_str(
            &std::fs::read_to_string(bench.path(&format!("arbiter/targets/{root}.json"))).unwrap(),
        )
        .unwrap();
        assert_eq!(target["closure_open"], false, "{when}: closure target {root}");
        assert_eq!(target["closed_reason"], "passed", "{when}: closure target {root}");
    }
    let snap = snapshot(bench);
    assert_eq!(
        snap["active_runs"],
        serde_json::json!({}),
        "{when}: active runs left"
    );
    assert_eq!(
        snap["process_running"], false,
        "{when}: snapshot says a process runs"
    );
    assert_eq!(
        snap["pause_sources"],
        serde_json::json!([]),
        "{when}: still paused"
    );
    for box_ in ["incoming", "failed"] {
        let names = bench.names(&format!("state/mailbox/{box_}"));
        assert!(names.is_empty(), "{when}: mailbox {box_}: {names:?}");
    }
}

/// The root spec a run worked for (closure runs carry it in the request).
fn work_root(bench: &Bench, run: &str) -> Option<String> {
    let request = bench
        .names(&format!("runs/{run}"))
        .into_iter()
        .find(|n| n.starts_with("request.") && n.ends_with(".json"))?;
    let text = std::fs::read_to_string(bench.path(&format!("runs/{run}/{request}"))).ok()?;
    let value: Value = serde_json::from_str(&text).ok()?;
    let closure = value.get("closure").filter(|v| !v.is_null())?;
    Some(closure["root_spec_id"].as_str()?.to_string())
}

/// Temporary files a killed writer left behind (harmless, counted).
fn leftover_temps(dir: &std::path::Path) -> usize {
    let mut n = 0;
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            n += leftover_temps(&path);
        } else if name.contains(".tmp") {
            n += 1;
        }
    }
    n
}

/// Prints the seed (and keeps the workspace) when the test fails.
struct OnFailure {
    seed: u64,
    root: Option<std::path::PathBuf>,
}

impl Drop for OnFailure {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "crash test failed: replay with MILLRACE_CRASH_SEED={}; workspace kept at {:?}",
                self.seed, self.root
            );
        }
    }
}

/// What the campaign did.
#[derive(Debug, Default)]
struct Tally {
    kill_points: usize,
    cycles: usize,
    settles: usize,
    exited_before_kill: usize,
    rounds: usize,
    stages: usize,
}

/// Runs the whole campaign once, uncrashed: the stage count and timing the
/// kill delays are scaled to, and a check that the checks pass without
/// crashes.
fn calibrate() -> (usize, Duration, Duration) {
    let bench = Bench::init();
    setup(&bench);
    let start = Instant::now();
    let out = bench.run(&["run", "daemon", "--exit-when-idle"]);
    let took = start.elapsed();
    super::assert_no_panic("calibration run", &out);
    assert!(
        out.status.success(),
        "calibration run failed: {}",
        text(&out.stderr)
    );
    check_finished(&bench, "calibration");
    let stages = stage_results(&bench);
    let start = Instant::now();
    let out = bench.run(&["run", "daemon", "--exit-when-idle"]);
    assert!(out.status.success());
    (stages, took, start.elapsed())
}

#[test]
fn sigkill_at_random_points_loses_and_duplicates_nothing() {
    campaign(Reaping::TestIsParent);
}

#[test]
fn sigkill_under_a_subreaper_that_reaps_at_once_leaves_no_survivor() {
    campaign(Reaping::Subreaper);
}

fn campaign(reaping: Reaping) {
    let points: usize = std::env::var("MILLRACE_CRASH_POINTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let seed: u64 = std::env::var("MILLRACE_CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    let verbose = std::env::var_os("MILLRACE_CRASH_VERBOSE").is_some();
    let mut guard = OnFailure { seed, root: None };
    let mut rng = fastrand::Rng::with_seed(seed);
    let began = Instant::now();
    let (stages, full, startup) = calibrate();
    let stage_ms = full.as_secs_f64() * 1000.0 / stages.max(1) as f64;
    let startup_ms = startup.as_secs_f64() * 1000.0;

    let mut tally = Tally::default();
    let mut pgids = Vec::new();
    let mut lingering = Vec::new();
    let mut bench = Bench::init();
    setup(&bench);
    guard.root = Some(bench.keep());
    tally.rounds = 1;
    let mut logs = bench.root.join("proof-logs");
    std::fs::create_dir_all(&logs).unwrap();
    while tally.kill_points < points {
        tally.cycles += 1;
        let cycle = tally.cycles;
        let when = format!("cycle {cycle} (kill point {})", tally.kill_points + 1);
        // Spread the remaining work over the remaining kill points and the
        // final run, never letting one cycle run it all.
        let left = (points - tally.kill_points) as f64;
        // (A crash can shorten a path, say by skipping a fix cycle, so aim
        // for a bit less work than the calibration run did.)
        let remaining = (stages as f64 * 0.85 - stage_results(&bench) as f64).max(0.0);
        let budget = startup_ms + remaining * stage_ms / (left + 1.0);
        let cap = startup_ms + 0.8 * remaining * stage_ms;
        let delay = Duration::from_secs_f64((rng.f64() * 2.0 * budget).min(cap) / 1000.0);
        let log = logs.join(format!("daemon-{cycle}"));
        let mut daemon = Daemon::start(&bench, &["run", "daemon", "--exit-when-idle"], &log, reaping);
        pgids.push(daemon.child.id());
        std::thread::sleep(delay);
        let finished = daemon.try_wait();
        if verbose {
            eprintln!(
                "{when}: delay {delay:?} (budget {budget:.0} ms), {} stage results, exited: {}",
                stage_results(&bench),
                finished.is_some()
            );
        }
        match finished {
            Some(status) => {
                tally.exited_before_kill += 1;
                check_logs(&log, &when);
                assert!(status.success(), "{when}: the daemon failed on its own: {status}");
            }
            None => {
                daemon.kill(&mut lingering);
                tally.kill_points += 1;
                check_logs(&log, &when);
            }
        }
        check_any_moment(&bench, &when);
        if finished.is_some() {
            check_doctor_settled(&bench, &when);
        } else {
            check_doctor_crashed(&bench, &when);
        }
        if finished.is_some()
            && stage_results(&bench) > 0
            && snapshot(&bench)["active_runs"] == serde_json::json!({})
        {
            // The work ran out before the kill points did: verify this
            // round and go on in a fresh workspace.
            check_finished(&bench, &format!("round {} end", tally.rounds));
            tally.stages += stage_results(&bench);
            let _ = std::fs::remove_dir_all(&bench.root);
            bench = Bench::init();
            setup(&bench);
            guard.root = Some(bench.keep());
            logs = bench.root.join("proof-logs");
            std::fs::create_dir_all(&logs).unwrap();
            tally.rounds += 1;
            continue;
        }
        if rng.bool() {
            // A restart that recovers but starts nothing: a pause waits in
            // the mailbox, the daemon runs one tick and exits cleanly.
            tally.settles += 1;
            issue(&bench, &Command::Pause);
            let log = logs.join(format!("settle-{cycle}"));
            let mut settle = Daemon::start(&bench, &["run", "daemon", "--max-ticks", "1"], &log, reaping);
            pgids.push(settle.child.id());
            let status = wait_for(&mut settle.child, Duration::from_secs(60), "the settling daemon");
            check_logs(&log, &format!("{when}, settling"));
            assert!(status.success(), "{when}: the settling daemon failed: {status}");
            assert_no_stage_process(&bench, &format!("{when}, settled"));
            check_any_moment(&bench, &format!("{when}, settled"));
            check_doctor_settled(&bench, &format!("{when}, settled"));
            assert_eq!(snapshot(&bench)["process_running"], false);
            issue(&bench, &Command::Resume);
        }
    }

    // Run to completion without killing.
    let log = logs.join("final");
    let mut last = Daemon::start(&bench, &["run", "daemon", "--exit-when-idle"], &log, reaping);
    pgids.push(last.child.id());
    let status = wait_for(&mut last.child, Duration::from_secs(300), "the final daemon");
    check_logs(&log, "final run");
    assert!(status.success(), "final run failed: {status}");
    check_finished(&bench, "end");
    assert_no_stage_process(&bench, "end");
    tally.stages += stage_results(&bench);
    // Each subreaper ends once the orphans it reaped are all gone.
    for mut reaper in lingering {
        wait_for(
            &mut reaper,
            Duration::from_secs(30),
            "a subreaper whose orphans should be stopped",
        );
    }
    for pgid in pgids {
        assert!(!group_alive(pgid), "process group {pgid} survived");
    }
    let temps = leftover_temps(&bench.agents());
    eprintln!(
        "crash test ({reaping:?}): seed {seed}, {tally:?}, calibration {stages} stages in {full:?} (startup {startup:?}), \
         {temps} leftover temp files, {:?} in all",
        began.elapsed()
    );
    // Passed: the kept workspace is not needed (unless asked for).
    if let Some(root) = guard.root.take() {
        match std::env::var_os("MILLRACE_CRASH_KEEP") {
            Some(_) => eprintln!("crash test workspace kept at {}", root.display()),
            None => {
                let _ = std::fs::remove_dir_all(root);
            }
        }
    }
}
