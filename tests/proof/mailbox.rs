//! The mailbox under bad entries: whatever lands in `incoming/`, later
//! commands still reach the daemon, and nothing is deleted.

use millrace::workspace::Workspace;
use millrace::workspace::mailbox::{self, Command};

use super::{Bench, assert_no_panic, snapshot, text};

/// A file that is not UTF-8, or an entry that is not a file at all, sat in
/// `incoming/` forever and made every drain fail, so no later command
/// (not even `stop`) was applied.
#[test]
fn a_bad_entry_never_blocks_later_commands() {
    let bench = Bench::init();
    let incoming = bench.path("state/mailbox/incoming");
    std::fs::write(incoming.join("cmd-00000000000001-aa.json"), b"\xff\xfe{\"x\": 1}").unwrap();
    std::fs::create_dir_all(incoming.join("cmd-00000000000002-bb.json")).unwrap();
    let ws = Workspace::at(&bench.root).unwrap();
    mailbox::issue(&ws, &Command::Pause, "proof").unwrap();
    let out = bench.run(&["run", "daemon", "--exit-when-idle"]);
    assert_no_panic("daemon", &out);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(snapshot(&bench)["pause_sources"], serde_json::json!(["operator"]));
    let failed = bench.path("state/mailbox/failed/cmd-00000000000001-aa.json");
    let record: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(failed).unwrap()).unwrap();
    assert!(
        record["error"].as_str().unwrap().contains("not UTF-8"),
        "{record:#}"
    );
    assert_eq!(
        record["raw_bytes_hex"], "fffe7b2278223a20317d",
        "the bytes are kept"
    );
    // The directory is left where it is, for doctor to point at.
    assert!(incoming.join("cmd-00000000000002-bb.json").is_dir());
    let codes: Vec<String> = bench.doctor()["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_string())
        // The bench has no `codex` on PATH; that warning is not this test's.
        .filter(|c| c != "mill::doctor::runner_binary_unavailable")
        .collect();
    assert_eq!(codes, ["mill::doctor::mailbox_invalid_command"]);
}

/// doctor warns about every incoming file the daemon would refuse. It
/// skipped an envelope of another schema version or kind, and one whose
/// command id is not its file name. Found by the bad-input corpus.
#[test]
fn doctor_warns_about_every_file_the_daemon_refuses() {
    let bench = Bench::init();
    let incoming = bench.path("state/mailbox/incoming");
    let envelope = |id: &str, version: u32| {
        serde_json::json!({"schema_version": version, "kind": "mailbox_command", "command_id": id,
            "command": "pause", "issued_at": "2026-01-01T00:00:00Z", "issuer": "x", "payload": {}})
        .to_string()
    };
    std::fs::write(incoming.join("cmd-1.json"), envelope("cmd-1", 9)).unwrap();
    std::fs::write(incoming.join("cmd-2.json"), envelope("cmd-3", 1)).unwrap();
    let warned: Vec<String> = bench.doctor()["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| format!("{} {}", f["code"].as_str().unwrap(), f["path"].as_str().unwrap()))
        .collect();
    assert_eq!(
        warned,
        [
            "mill::doctor::mailbox_invalid_command millrace-agents/state/mailbox/incoming/cmd-1.json",
            "mill::doctor::mailbox_invalid_command millrace-agents/state/mailbox/incoming/cmd-2.json",
        ]
    );
}
