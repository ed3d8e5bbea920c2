//! Harness processes: spawn in their own group, stream their output, stop
//! them on time, on cancel, or when the runner has seen enough.
//!
//! Input: an [`Invocation`] (program, argv, cwd, added env), the run files,
//! a deadline and a [`Cancel`]. Output: [`Step`]s (stdout lines, exit,
//! deadline, cancel) for a runner to interpret. Invariants: no shell; stderr
//! goes straight to its file and stdout is copied to its file as it arrives;
//! on timeout, cancel or a runner's stop the whole group gets SIGTERM, a
//! grace period, then SIGKILL, and is reaped; dropping a [`Harness`] without
//! that still SIGKILLs the group.

use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::time::{Instant, sleep, sleep_until};

use super::lines::{Line, LineReader};
use super::{Cancel, sys};

/// How long a group gets between SIGTERM and SIGKILL.
pub(crate) const KILL_GRACE: Duration = Duration::from_secs(2);

/// How long stdout may stay open after the harness itself exited (a
/// leftover background process holding the pipe) before the group is
/// stopped.
const DRAIN_AFTER_EXIT: Duration = Duration::from_millis(500);

/// What to run.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Invocation {
    pub program: String,
    pub args: Vec<String>,
    /// Index in `args` of the prompt, recorded as a reference, not inline.
    pub prompt_arg: Option<usize>,
    pub cwd: PathBuf,
    /// Variables added to the inherited environment.
    pub env: BTreeMap<String, String>,
    /// Whether the runner talks to the harness on stdin.
    pub stdin: bool,
}

impl Invocation {
    /// The argv as recorded: the prompt replaced by a pointer to its file.
    pub(super) fn recorded_argv(&self, prompt_file: &str) -> Vec<String> {
        let mut argv = vec![self.program.clone()];
        for (i, arg) in self.args.iter().enumerate() {
            if Some(i) == self.prompt_arg {
                argv.push(format!("<prompt: {prompt_file}>"));
            } else {
                argv.push(arg.clone());
            }
        }
        argv
    }
}

/// Why spawning failed.
#[derive(Debug)]
pub(crate) enum SpawnError {
    NotInstalled(String),
    Io(String),
}

/// One event of a running harness.
#[derive(Debug)]
pub(crate) enum Step {
    Line(Line),
    /// Stdout reached end of stream (the process may still run).
    Eof,
    /// The harness process exited (its output may still be draining).
    Exited,
    /// Both: exited and its stdout is closed (or stayed open too long).
    Done,
    /// The `until` instant passed.
    Deadline,
    Cancelled,
}

/// A running harness and its output.
pub(crate) struct Harness {
    child: Child,
    pub pgid: i32,
    pub stdout: LineReader<ChildStdout>,
    pub stdin: Option<ChildStdin>,
    pub deadline: Instant,
    cancel: Cancel,
    status: Option<ExitStatus>,
    eof: bool,
    drain_until: Option<Instant>,
    disarmed: bool,
    pub notes: Vec<String>,
}

/// Spawns `inv` in a new process group, stderr to `stderr`, stdout through a
/// [`LineReader`] copying to `stdout` (and logging events to `events`).
pub(crate) fn spawn(
    inv: &Invocation,
    stdout: File,
    stderr: File,
    events: Option<File>,
    timeout: Duration,
    cancel: Cancel,
) -> Result<Harness, SpawnError> {
    let mut cmd = Command::new(&inv.program);
    cmd.args(&inv.args)
        .current_dir(&inv.cwd)
        .envs(&inv.env)
        .process_group(0)
        .stdin(if inv.stdin { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::from(stderr));
    let mut child = cmd.spawn().map_err(|e| match e.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::PermissionDenied => {
            SpawnError::NotInstalled(format!("cannot start `{}`: {e}", inv.program))
        }
        _ => SpawnError::Io(format!("cannot start `{}`: {e}", inv.program)),
    })?;
    let pgid = child.id().and_then(|id| i32::try_from(id).ok()).unwrap_or(0);
    tracing::debug!(program = %inv.program, pgid, timeout_s = timeout.as_secs(), "harness started");
    let Some(pipe) = child.stdout.take() else {
        return Err(SpawnError::Io("harness stdout pipe missing".into()));
    };
    Ok(Harness {
        stdin: child.stdin.take(),
        child,
        pgid,
        stdout: LineReader::new(pipe, Some(stdout), events),
        // A timeout too far out to represent waits as long as one can.
        deadline: Instant::now()
            .checked_add(timeout)
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(u32::MAX.into())),
        cancel,
        status: None,
        eof: false,
        drain_until: None,
        disarmed: false,
        notes: Vec::new(),
    })
}

impl Harness {
    /// Waits for the next thing to happen, `until` at the latest.
    pub(super) async fn step(&mut self, until: Instant) -> Step {
        if self.eof && self.status.is_some() {
            return Step::Done;
        }
        let drain_at = self.drain_until.unwrap_or(until);
        tokio::select! {
            biased;
            () = self.cancel.cancelled() => Step::Cancelled,
            () = sleep_until(until) => Step::Deadline,
            status = self.child.wait(), if self.status.is_none() => {
                self.status = Some(status.unwrap_or_else(|_| ExitStatus::from_raw(1 << 8)));
                self.drain_until = Some(Instant::now() + DRAIN_AFTER_EXIT);
                if self.eof { Step::Done } else { Step::Exited }
            }
            () = sleep_until(drain_at), if self.drain_until.is_some() => {
                self.notes.push("stdout stayed open after the harness exited".into());
                Step::Done
            }
            line = self.stdout.next_line(), if !self.eof => match line {
                Some(line) => Step::Line(line),
                None => {
                    self.eof = true;
                    if self.status.is_some() { Step::Done } else { Step::Eof }
                }
            },
        }
    }

    /// The exit status, once the process exited.
    pub(super) fn status(&self) -> Option<ExitStatus> {
        self.status
    }

    /// Writes one line to the harness's stdin, `until` at the latest.
    pub(super) async fn send_line(&mut self, line: &[u8], until: Instant) -> io::Result<()> {
        let Some(stdin) = self.stdin.as_mut() else {
            return Err(io::Error::new(io::ErrorKind::BrokenPipe, "stdin closed"));
        };
        let write = async {
            stdin.write_all(line).await?;
            stdin.write_all(b"\n").await?;
            stdin.flush().await
        };
        match tokio::time::timeout_at(until, write).await {
            Ok(result) => result,
            Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "stdin write timed out")),
        }
    }

    /// Closes stdin (the harness sees end of input).
    pub(super) fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Stops the whole group: SIGTERM, up to `grace` for every member to
    /// die, SIGKILL, then reaps the harness. Returns once no member runs.
    pub(super) async fn stop_group(&mut self, grace: Duration) {
        if self.pgid < 2 {
            return;
        }
        tracing::info!(pgid = self.pgid, "stopping the harness's process group");
        if sys::terminate_group(self.pgid).is_err() && !sys::group_exists(self.pgid) {
            self.reap().await;
            self.disarmed = true;
            return;
        }
        if !self.wait_group_gone(Instant::now() + grace).await {
            let _ = sys::kill_group(self.pgid);
            tracing::warn!(
                pgid = self.pgid,
                "the process group ignored SIGTERM and was killed"
            );
            self.notes.push(format!(
                "process group {} ignored SIGTERM and was killed",
                self.pgid
            ));
            self.wait_group_gone(Instant::now() + Duration::from_secs(5))
                .await;
        }
        self.reap().await;
    }

    /// After a normal exit: stops members the harness left behind.
    pub(super) async fn stop_leftovers(&mut self) {
        if self.pgid >= 2 && sys::group_has_live_members(self.pgid) {
            self.notes
                .push("stopped processes the harness left running".into());
            self.stop_group(KILL_GRACE).await;
        } else {
            self.disarmed = true;
        }
    }

    /// Polls until no member of the group runs (reaping the harness so its
    /// zombie does not count) or `until` passes.
    async fn wait_group_gone(&mut self, until: Instant) -> bool {
        loop {
            if self.status.is_none()
                && let Ok(Some(status)) = self.child.try_wait()
            {
                self.status = Some(status);
            }
            if !sys::group_has_live_members(self.pgid) {
                self.disarmed = true;
                return true;
            }
            if Instant::now() >= until {
                return false;
            }
            sleep(Duration::from_millis(10)).await;
        }
    }

    async fn reap(&mut self) {
        if self.status.is_none()
            && let Ok(status) = self.child.wait().await
        {
            self.status = Some(status);
        }
    }

    /// Reads what is left of stdout after the group is gone, `until` at the
    /// latest, passing each line to `on_line`.
    pub(super) async fn drain(&mut self, until: Instant, mut on_line: impl FnMut(&mut Self, Line)) {
        while !self.eof {
            match tokio::time::timeout_at(until, self.stdout.next_line()).await {
                Ok(Some(line)) => on_line(self, line),
                Ok(None) | Err(_) => break,
            }
        }
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        // A runner future dropped mid-run (the engine gave up on it) must
        // not leave the harness behind.
        if !self.disarmed && sys::group_exists(self.pgid) {
            let _ = sys::kill_group(self.pgid);
        }
    }
}

/// The exit code, or `None` when a signal ended the process.
pub(crate) fn exit_code(status: ExitStatus) -> Option<i32> {
    status.code()
}

/// A human description of how the process ended.
pub(crate) fn describe_status(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        _ => "ended".into(),
    }
}
