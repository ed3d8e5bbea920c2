//! The operator's three reading commands, byte for byte: `queue ls`,
//! `queue show` of a blocked item and `runs show` of the run that blocked
//! it, after a campaign whose one task blocks. What varies from run to run
//! (the workspace path, times, run ids, durations, ages) is replaced by a
//! placeholder first. Review a diff, then bless with `MILL_BLESS=1`.

use std::path::Path;

use super::Campaign;
use crate::workspace::{spec_md, stderr, stdout};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/golden");

#[test]
fn queue_ls_queue_show_and_runs_show_match_their_golden_files() {
    let c = Campaign::new("default_codex", &super::stalls::script("BLOCKED"), "");
    c.ws.write(
        "specs/queue/spec-a.md",
        &spec_md("spec-a", "2026-01-01T00:00:00Z"),
    );
    c.ws.write(
        "specs/queue/spec-b.md",
        &spec_md("spec-b", "2026-01-02T00:00:00Z"),
    );
    c.ws.write("ideas/../../ideas/inbox/greet.md", "# Say hello\n");
    let out =
        c.ws.run(&["run", "daemon", "--exit-when-idle", "--max-ticks", "500"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let runs = crate::workspace::fields(
        &stdout(&c.ws.run(&["runs", "ls", "--item", "spec-a-t1"])),
        "run_id",
    );
    assert_eq!(runs.len(), 1, "{runs:?}");
    let run = &runs[0];

    let mut differ = Vec::new();
    for (name, args) in [
        ("queue_ls.txt", vec!["queue", "ls"]),
        ("queue_show_blocked.txt", vec!["queue", "show", "spec-a-t1"]),
        ("runs_show.txt", vec!["runs", "show", run.as_str()]),
    ] {
        let out = c.ws.run(&args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        let got = normalize(&stdout(&out), &c.ws.root, run);
        let path = Path::new(DIR).join(name);
        if std::env::var_os("MILL_BLESS").is_some() {
            std::fs::create_dir_all(DIR).unwrap();
            std::fs::write(&path, &got).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if got != want {
            let diff = similar::TextDiff::from_lines(&want, &got)
                .unified_diff()
                .to_string();
            differ.push(format!("{name}:\n{diff}"));
        }
    }
    assert!(
        differ.is_empty(),
        "golden output differs (MILL_BLESS=1 to accept):\n{}",
        differ.join("\n")
    );
}

/// Replaces the workspace root, the run id (and its handle, also inside
/// request ids), timestamps, durations and ages with placeholders.
fn normalize(text: &str, root: &Path, run: &str) -> String {
    let stamp = run.strip_prefix("run-").unwrap_or(run);
    let handle = stamp.rsplit('-').next().unwrap_or(stamp);
    let text = text
        .replace(&root.display().to_string(), "<ws>")
        .replace(stamp, "<run>")
        .replace(handle, "<handle>");
    text.lines()
        .map(|line| {
            let line = times(line);
            let line = value_after(&line, "duration_seconds: ", "<secs>");
            value_after(&line, "age=", "<age>")
        })
        .map(|line| line + "\n")
        .collect()
}

/// Each RFC 3339 UTC time (`2026-12-02T04:16:11.8383Z`) becomes `<time>`.
fn times(line: &str) -> String {
    let b = line.as_bytes();
    let (mut out, mut i, mut copied) = (String::new(), 0, 0);
    while i + 12 <= b.len() {
        let date = b[i..i + 10].iter().enumerate().all(|(k, c)| {
            if k == 4 || k == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        });
        let clock = |c: &u8| c.is_ascii_digit() || *c == b':' || *c == b'.';
        if date && b[i + 10] == b'T' {
            let len = b[i + 11..].iter().take_while(|c| clock(c)).count();
            if b.get(i + 11 + len) == Some(&b'Z') {
                out.push_str(&line[copied..i]);
                out.push_str("<time>");
                i += 12 + len;
                copied = i;
                continue;
            }
        }
        i += 1;
    }
    out + &line[copied..]
}

/// The token after `key` (up to a space) becomes `placeholder`.
fn value_after(line: &str, key: &str, placeholder: &str) -> String {
    let Some(at) = line.find(key) else {
        return line.to_string();
    };
    let start = at + key.len();
    let end = line[start..].find(' ').map_or(line.len(), |e| start + e);
    format!("{}{placeholder}{}", &line[..start], &line[end..])
}
