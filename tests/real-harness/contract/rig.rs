//! The machinery under every case: the pinned CLIs (installed by
//! `install.sh`), the loopback stand-in, each CLI's environment, and child
//! processes that cannot outlive their deadline.
//!
//! Input: the scripts in `tests/real-harness/`, `node` and `npm` on `PATH`
//! (`install.sh` fetches a Node 20 when that one is older).
//! Output: [`Rig`] (where node and the CLIs are), [`Standin`] (a running
//! stand-in and its port), [`harness_env`], [`run_bounded`] and [`Slot`].
//! Invariants: a missing node, npm or CLI panics with what to do about it,
//! never skips; every process started here is stopped by its own pid, the
//! stand-in when its handle drops.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Condvar, Mutex, OnceLock, mpsc};
use std::time::{Duration, Instant};

/// Where the pinned CLIs and the node that runs them are.
pub struct Rig {
    pub node: PathBuf,
    /// `node_modules/.bin` of the install: `codex`, `claude`, `pi`, `gemini`.
    pub bin: PathBuf,
    /// `name version` per CLI, as `install.sh` printed them.
    pub versions: Vec<String>,
    /// `tests/real-harness/`.
    pub scripts: PathBuf,
}

impl Rig {
    /// The `PATH` every process of a case gets: node's directory first (the
    /// CLIs are `#!/usr/bin/env node` scripts), then the system's, nothing
    /// of the developer's own.
    pub fn path_var(&self) -> String {
        let node_dir = self.node.parent().unwrap().display();
        format!("{node_dir}:/usr/local/bin:/usr/bin:/bin")
    }
}

/// The rig, installed once per test binary.
pub fn rig() -> &'static Rig {
    static RIG: OnceLock<Rig> = OnceLock::new();
    RIG.get_or_init(install)
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `install.sh` (idempotent: under a second when current) and reads
/// where it put the CLIs.
fn install() -> Rig {
    let scripts = repo().join("tests/real-harness");
    for program in ["node", "npm"] {
        assert!(
            which(program).is_some(),
            "real-harness: `{program}` is not on PATH. The contract suite runs the real CLIs and \
             needs Node.js and npm (Debian: `apt-get install nodejs npm`; `.ci/run` installs them)"
        );
    }
    let out = Command::new("bash")
        .arg(scripts.join("install.sh"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "real-harness: install.sh failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let line = |key: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .map(PathBuf::from)
            .unwrap_or_else(|| panic!("real-harness: install.sh printed no `{key}` line:\n{stdout}"))
    };
    // install.sh brings a Node 20 of its own when the one on PATH is older.
    let (node, bin) = (line("node "), line("bin "));
    check_node_version(&node);
    let versions = stdout
        .lines()
        .filter(|l| {
            ["codex ", "claude ", "pi ", "gemini "]
                .iter()
                .any(|p| l.starts_with(p))
        })
        .map(str::to_owned)
        .collect();
    Rig {
        node,
        bin,
        versions,
        scripts,
    }
}

/// Pi and Gemini CLI need Node 20.6 or later; an older one fails in ways
/// that look like runner bugs, so say it up front (install.sh should have
/// made sure).
fn check_node_version(node: &Path) {
    let out = Command::new(node)
        .args(["-p", "process.versions.node"])
        .output()
        .unwrap();
    let version = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    assert!(
        (major, minor) >= (20, 6),
        "real-harness: {} is Node {version}; the pinned CLIs need Node >= 20.6",
        node.display()
    );
}

/// The first executable `name` on `PATH`.
fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|p| {
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

/// A running stand-in; killed by its pid when dropped.
pub struct Standin {
    child: Child,
    pub port: u16,
}

impl Standin {
    /// Starts `standin.mjs` on an ephemeral loopback port with `args`, its
    /// request log in `log`.
    pub fn start(rig: &Rig, args: &[String], log: &Path) -> Standin {
        let mut child = Command::new(&rig.node)
            .arg(rig.scripts.join("standin.mjs"))
            // A stand-in a crashed test left behind still ends by itself.
            .args(["--max-seconds", "900"])
            .args(args)
            .env_clear()
            .env("PATH", rig.path_var())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        match first_line(stdout, Duration::from_secs(30))
            .as_deref()
            .and_then(port_of)
        {
            Some(port) => Standin { child, port },
            None => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "real-harness: the stand-in printed no `PORT n` line (log: {})",
                    log.display()
                )
            }
        }
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Switches the scenario at run time (`POST /_standin/scenario`).
    pub fn switch(&self, scenario: &str) {
        let body = format!("{{\"scenario\":\"{scenario}\"}}");
        let reply = self.http("POST", "/_standin/scenario", &body);
        assert!(
            reply.starts_with("HTTP/1.1 200"),
            "stand-in refused {scenario}: {reply}"
        );
    }

    /// How many model requests (not start-up chatter) the stand-in answered.
    pub fn model_requests(&self) -> usize {
        let reply = self.http("GET", "/_standin/requests", "");
        let body = reply.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        let seen: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
        let models = ["openai", "anthropic", "gemini"];
        seen.as_array().map_or(0, |a| {
            a.iter()
                .filter(|r| models.iter().any(|m| r["kind"] == *m))
                .count()
        })
    }

    /// One HTTP/1.1 request with `Connection: close`; the whole reply.
    fn http(&self, method: &str, path: &str, body: &str) -> String {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).unwrap();
        let mut reply = String::new();
        let _ = stream.read_to_string(&mut reply);
        reply
    }
}

impl Drop for Standin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn port_of(line: &str) -> Option<u16> {
    line.trim().strip_prefix("PORT ")?.parse().ok()
}

/// The first line of `from`, or `None` after `limit` (a thread reads, so a
/// silent child cannot hang the test).
fn first_line(from: impl Read + Send + 'static, limit: Duration) -> Option<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(from).read_line(&mut line);
        let _ = tx.send(line);
    });
    rx.recv_timeout(limit).ok()
}

/// The environment `harness-env.mjs` gives `variant` (codex, claude,
/// claude-oauth, pi, gemini) under `root`, pointed at `base_url`. It also
/// writes the CLI's config files and the fake HOME there.
pub fn harness_env(rig: &Rig, variant: &str, root: &Path, base_url: &str) -> BTreeMap<String, String> {
    let out = Command::new(&rig.node)
        .arg(rig.scripts.join("harness-env.mjs"))
        .arg(variant)
        .arg(root)
        .arg(base_url)
        .env_clear()
        .env("PATH", rig.path_var())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "harness-env.mjs {variant}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// How a bounded command ended.
pub struct Bounded {
    /// `None` when it was killed at its deadline.
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `cmd` with its output in `dir/<name>.{out,err}`; at `limit` it gets
/// SIGTERM twice (Millrace then stops its harness's group) and, 5 s later,
/// SIGKILL. All by the pid this started.
pub fn run_bounded(mut cmd: Command, dir: &Path, name: &str, limit: Duration) -> Bounded {
    let (out_path, err_path) = (dir.join(format!("{name}.out")), dir.join(format!("{name}.err")));
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    let status = wait_until(&mut child, Instant::now() + limit).or_else(|| {
        signal(&child, "TERM");
        std::thread::sleep(Duration::from_millis(300));
        signal(&child, "TERM");
        let stopped = wait_until(&mut child, Instant::now() + Duration::from_secs(5));
        if stopped.is_none() {
            let _ = child.kill();
            let _ = child.wait();
        }
        None
    });
    let read = |p: &Path| String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).into_owned();
    Bounded {
        status,
        stdout: read(&out_path),
        stderr: read(&err_path),
    }
}

fn wait_until(child: &mut Child, deadline: Instant) -> Option<ExitStatus> {
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `kill -<sig> <pid>`: the test may not use `unsafe`, and `Child::kill`
/// only sends SIGKILL, which would leave Millrace's harness running.
fn signal(child: &Child, sig: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(child.id().to_string())
        .status();
}

/// One of a few places for a running case: the CLIs are heavy to start
/// (Gemini CLI takes seconds of CPU), and starving them on a small machine
/// would make their timings, not the runners, the thing tested.
pub struct Slot;

static SLOTS: (Mutex<usize>, Condvar) = (Mutex::new(0), Condvar::new());

impl Slot {
    /// Waits for a place; `MILLRACE_REAL_HARNESS_JOBS` (default 4) many.
    pub fn take() -> Slot {
        let jobs = std::env::var("MILLRACE_REAL_HARNESS_JOBS")
            .ok()
            .and_then(|j| j.parse::<usize>().ok())
            .unwrap_or(4)
            .max(1);
        let (lock, freed) = &SLOTS;
        let mut busy = lock.lock().unwrap();
        while *busy >= jobs {
            busy = freed.wait(busy).unwrap();
        }
        *busy += 1;
        Slot
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let (lock, freed) = &SLOTS;
        *lock.lock().unwrap() -= 1;
        freed.notify_one();
    }
}
