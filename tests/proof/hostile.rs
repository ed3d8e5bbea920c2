//! Files no reader may wait on, run out of memory on, or trip over: a FIFO,
//! a device behind a symlink, a huge document and a name at the
//! filesystem's limit, in a queue and in the mailbox. Each is refused with
//! a code and set aside; everything else goes on.

use std::process::Output;
use std::time::Duration;

use millrace::workspace::Workspace;
use millrace::workspace::mailbox::{self, Command};

use super::{Bench, assert_no_panic, scripted_bench, task_md, text, wait_for};

/// Runs a command, failing (instead of hanging the suite) if it takes more
/// than `limit`.
fn run_within(bench: &Bench, args: &[&str], limit: Duration) -> Output {
    let log = bench.root.join(format!("cmd-{}", fastrand::u32(..)));
    let mut child = bench.spawn(args, &log);
    let status = wait_for(&mut child, limit, &format!("millrace {}", args.join(" ")));
    let out = Output {
        status,
        stdout: std::fs::read(log.with_extension("out")).unwrap_or_default(),
        stderr: std::fs::read(log.with_extension("err")).unwrap_or_default(),
    };
    assert_no_panic(&args.join(" "), &out);
    out
}

fn mkfifo(path: &std::path::Path) {
    let status = std::process::Command::new("mkfifo").arg(path).status().unwrap();
    assert!(status.success(), "mkfifo failed");
}

/// A document name of exactly 255 bytes (the common `NAME_MAX`).
fn longest_name() -> String {
    format!("{}.md", "a".repeat(252))
}

#[test]
fn hostile_files_in_a_queue_are_quarantined_and_the_claim_goes_on() {
    let bench = scripted_bench(
        "[stages]\nbuilder = [\"BUILDER_COMPLETE\"]\nchecker = [\"CHECKER_PASS\"]\nupdater = [\"UPDATE_COMPLETE\"]\n",
    );
    let queue = bench.path("tasks/queue");
    bench.write(
        "tasks/queue/t01.md",
        &task_md("t01", "2026-01-01T00:00:09Z", "", &[]),
    );
    mkfifo(&queue.join("a0-fifo.md"));
    std::os::unix::fs::symlink("/dev/zero", queue.join("a1-zero.md")).unwrap();
    std::fs::write(queue.join("a2-big.md"), vec![b'x'; 3 * 1024 * 1024]).unwrap();
    std::fs::write(queue.join(longest_name()), "# not a task\n").unwrap();

    for args in [&["queue", "ls", "--all"][..], &["doctor"][..], &["status"][..]] {
        run_within(&bench, args, Duration::from_secs(30));
    }
    let out = run_within(
        &bench,
        &["run", "daemon", "--exit-when-idle"],
        Duration::from_secs(60),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        bench.stems("tasks/done"),
        ["t01"],
        "the valid task was claimed and finished"
    );

    // Every hostile entry was set aside under a name that fits, with its
    // reason logged; none is left to trip the next reader.
    let names = bench.names("tasks/queue");
    let left: Vec<&String> = names.iter().filter(|n| n.ends_with(".md")).collect();
    assert!(left.is_empty(), "left in the queue: {left:?}");
    for name in names.iter().filter(|n| !n.ends_with(".jsonl")) {
        assert!(
            name.len() <= 255,
            "a derived name is too long: {} bytes",
            name.len()
        );
        assert!(name.contains(".invalid"), "not quarantined: {name}");
    }
    let log = std::fs::read_to_string(queue.join("invalid-artifacts.jsonl")).unwrap();
    for reason in ["is a FIFO", "is a device", "is larger than 1048576 bytes", "id"] {
        assert!(log.contains(reason), "no quarantine reason `{reason}` in:\n{log}");
    }
    let doctor = bench.doctor();
    let codes: Vec<&str> = doctor["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["code"].as_str())
        .collect();
    assert_eq!(
        codes
            .iter()
            .filter(|c| **c == "mill::doctor::quarantined_file")
            .count(),
        4,
        "{doctor:#}"
    );
}

#[test]
fn a_fifo_in_the_mailbox_is_archived_as_failed_and_the_next_command_applies() {
    let bench = scripted_bench("[stages]\n");
    let incoming = bench.path("state/mailbox/incoming");
    std::fs::create_dir_all(&incoming).unwrap();
    mkfifo(&incoming.join("20260101T000000000-00000001.json"));
    let ws = Workspace::at(&bench.root).unwrap();
    mailbox::issue(&ws, &Command::Pause, "proof").unwrap();
    let out = run_within(
        &bench,
        &["run", "daemon", "--max-ticks", "2"],
        Duration::from_secs(30),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(bench.names("state/mailbox/incoming").is_empty());
    let failed = bench.names("state/mailbox/failed");
    assert_eq!(failed, ["20260101T000000000-00000001.json"]);
    let record = std::fs::read_to_string(incoming.parent().unwrap().join("failed").join(&failed[0])).unwrap();
    assert!(record.contains("is a FIFO"), "{record}");
    let snapshot = super::snapshot(&bench);
    assert_eq!(
        snapshot["pause_sources"],
        serde_json::json!(["operator"]),
        "the pause behind it applied"
    );
}

/// A full disk: every state write fails. The runtime stops with
/// `mill::engine::persist_failed` (what the docs promise), never with a
/// bare I/O code or a panic. The disk is a small tmpfs mounted over
/// `state/` in a private mount namespace (`unshare -m`, as root).
#[test]
fn a_full_disk_stops_the_runtime_with_persist_failed() {
    let bench = scripted_bench("[stages]\nbuilder = [\"BUILDER_COMPLETE\"]\n");
    bench.write(
        "tasks/queue/t01.md",
        &task_md("t01", "2026-01-01T00:00:09Z", "", &[]),
    );
    // Compiled beforehand: the runtime's own writes are what is tested.
    assert!(bench.run(&["compile", "validate"]).status.success());
    let state = bench.path("state");
    let copy = bench.root.join("state-copy");
    let script = r#"cp -a "$S" "$C" && mount -t tmpfs -o size=256k tmpfs "$S" && cp -a "$C"/. "$S"/ \
        && { dd if=/dev/zero of="$S/filler" bs=4k 2>/dev/null || true; } \
        && exec "$BIN" --workspace "$W" run once"#;
    let out = std::process::Command::new("unshare")
        .args(["-m", "sh", "-c", script])
        .env("S", &state)
        .env("C", &copy)
        .env("W", &bench.root)
        .env("BIN", env!("CARGO_BIN_EXE_millrace"))
        .env("NO_COLOR", "1")
        .output()
        .expect("unshare (util-linux) runs the scenario");
    assert_no_panic("run once on a full disk", &out);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("mill::engine::persist_failed"), "{err}");
}

/// A temporary file a killed writer left (its pid is gone) is removed by
/// the next start, one whose writer still runs is left alone, and a
/// dot-file in a queue, never read as work, is named by `doctor`.
#[test]
fn leftovers_of_killed_writers_are_swept_and_dot_files_are_reported() {
    let bench = scripted_bench("[stages]\n");
    let dead = bench.write("tasks/queue/.t9.md.tmp-999999999-0000abcd", "half a task");
    let in_state = bench.write("state/.runtime_snapshot.json.tmp-999999999-00000001", "{");
    let live_pid = std::process::id();
    let live = bench.write(&format!("state/.compiled_plan.json.tmp-{live_pid}-00000002"), "{");
    bench.write(
        "tasks/queue/.t8.md",
        &task_md("t8", "2026-01-01T00:00:00Z", "", &[]),
    );
    let doctor = bench.doctor();
    let hidden: Vec<&serde_json::Value> = doctor["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "mill::doctor::hidden_file")
        .collect();
    assert_eq!(hidden.len(), 1, "{doctor:#}");
    assert!(
        hidden[0]["path"]
            .as_str()
            .unwrap()
            .ends_with("tasks/queue/.t8.md")
    );
    let out = run_within(
        &bench,
        &["run", "daemon", "--max-ticks", "1"],
        Duration::from_secs(30),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        !dead.exists() && !in_state.exists(),
        "leftovers of a dead writer were kept"
    );
    assert!(live.exists(), "a live writer's temporary file was removed");
}
