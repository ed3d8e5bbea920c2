//! `millrace fmt` through the real binary: rewriting, `--check`, `--stdin`,
//! refusal, directories and a closed stdout.

use std::io::Write;
use std::process::{Command, Stdio};

const UGLY: &str = "alias   a=default_codex\n";
const PRETTY: &str = "alias a = default_codex\n";

fn millrace() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_millrace"));
    cmd.args(["--color", "never"]).env_remove("MILLRACE_WORKSPACE");
    cmd
}

#[test]
fn fmt_rewrites_files_and_directories_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("sub");
    std::fs::create_dir(&nested).unwrap();
    std::fs::write(nested.join("a.mill"), UGLY).unwrap();
    std::fs::write(nested.join("notes.txt"), UGLY).unwrap();
    let status = millrace().arg("fmt").arg(dir.path()).status().unwrap();
    assert!(status.success());
    assert_eq!(std::fs::read_to_string(nested.join("a.mill")).unwrap(), PRETTY);
    assert_eq!(std::fs::read_to_string(nested.join("notes.txt")).unwrap(), UGLY);
    let leftovers: Vec<_> = std::fs::read_dir(&nested).unwrap().flatten().collect();
    assert_eq!(leftovers.len(), 2, "no temporary file is left behind");
}

#[test]
fn check_changes_nothing_and_fails_on_an_unformatted_file() {
    let dir = tempfile::tempdir().unwrap();
    let ugly = dir.path().join("ugly.mill");
    let pretty = dir.path().join("pretty.mill");
    std::fs::write(&ugly, UGLY).unwrap();
    std::fs::write(&pretty, PRETTY).unwrap();
    let out = millrace()
        .args(["fmt", "--check"])
        .arg(&ugly)
        .arg(&pretty)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("mill::fmt::unformatted"), "{stderr}");
    assert!(
        stderr.contains("ugly.mill") && !stderr.contains("pretty.mill"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&ugly).unwrap(), UGLY);
    let out = millrace().args(["fmt", "--check"]).arg(&pretty).output().unwrap();
    assert!(out.status.success());
}

#[test]
fn a_file_with_syntax_errors_is_left_alone_and_its_errors_printed() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.mill");
    let text = "stage a {\n  plnae   execution\n}\n";
    std::fs::write(&bad, text).unwrap();
    let out = millrace().arg("fmt").arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("mill::syntax::invalid_statement"), "{stderr}");
    assert!(stderr.contains("did you mean `plane`?"), "{stderr}");
    assert!(stderr.contains("mill::fmt::syntax_errors"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&bad).unwrap(), text);
}

fn with_stdin(args: &[&str], input: &str) -> std::process::Output {
    let mut child = millrace()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn stdin_is_formatted_to_stdout() {
    let out = with_stdin(&["fmt", "--stdin"], UGLY);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), PRETTY);
    assert_eq!(
        with_stdin(&["fmt", "--stdin", "--check"], UGLY).status.code(),
        Some(1)
    );
    assert!(
        with_stdin(&["fmt", "--stdin", "--check"], PRETTY)
            .status
            .success()
    );
}

#[test]
fn a_closed_stdout_ends_fmt_quietly() {
    let big: String = (0..5000)
        .map(|i| format!("alias a{i} = default_codex\n"))
        .collect();
    let mut child = millrace()
        .args(["fmt", "--stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(big.as_bytes());
    });
    drop(child.stdout.take());
    writer.join().unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
}

#[test]
fn nothing_to_format_outside_a_workspace_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = millrace().arg("fmt").current_dir(dir.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("mill::fmt::no_files"));
}
