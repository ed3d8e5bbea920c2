//! Wake-ups: an idle daemon notices new work and commands when they
//! arrive, not at its next poll.

use std::time::Duration;

use super::daemon::{Daemon, wait_for};
use crate::workspace::{Ws, stderr};

/// With a poll of a minute, new work and a stop still reach an idle
/// daemon at once: it is woken by the change (inotify), not its poll.
#[test]
fn an_idle_daemon_wakes_when_work_or_a_command_arrives() {
    let ws = Ws::new();
    ws.write(
        "loops/campaign.mill",
        "mode campaign extends default_codex {\n    runner * = scripted\n}\n",
    );
    ws.write("campaign/script.toml", "[stages]\n");
    ws.write(
        "millrace.toml",
        "[runtime]\ndefault_mode = \"campaign\"\nidle_sleep_seconds = 60\n\n[runners.scripted]\nscript = \"campaign/script.toml\"\n",
    );
    let daemon = Daemon::start(&ws);
    // Past its first tick, the daemon sleeps (for up to a minute).
    std::thread::sleep(Duration::from_millis(300));
    ws.write(
        "tasks/queue/t1.md",
        &crate::workspace::task_md("t1", "2026-01-01T00:00:00Z", &[]),
    );
    // `wait_for` gives up after 20 s, well before the next poll.
    wait_for(|| ws.path("tasks/done/t1.md").is_file());
    std::thread::sleep(Duration::from_millis(300));
    let out = ws.run(&["stop"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(daemon.wait().success(), "the stop reached the sleeping daemon");
}
