//! The dashboard's bars, measured: `millrace serve` (the built binary)
//! serves a finished demo campaign with 10,000 more tasks queued, and each
//! benchmark is one HTTP request to it over loopback (so a figure is the
//! server's time plus a local round trip), or, for the live stream, the
//! time from an event appended to the log to its arrival on an open
//! stream. After the timings, a table of the server's memory. Run with
//! `cargo bench --bench serve`. Measurements only; nothing here asserts a
//! time.

use std::cell::RefCell;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use millrace::model::QueueState;
use millrace::plan::WorkItemKind;
use millrace::workspace::Workspace;
use millrace::workspace::events::EventLog;

/// The queue depth the bar is set at.
const QUEUED: usize = 10_000;

struct Served {
    _dir: tempfile::TempDir,
    root: PathBuf,
    server: Child,
    port: u16,
}

fn served() -> &'static Served {
    static SERVED: OnceLock<Served> = OnceLock::new();
    SERVED.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let root = dir.path().join("demo");
        let bin = env!("CARGO_BIN_EXE_millrace");
        let demo = Command::new(bin)
            .args(["--workspace", root.to_str().expect("utf-8"), "demo", "--quiet"])
            .stdout(Stdio::null())
            .status()
            .expect("the demo runs");
        assert!(demo.success(), "the demo failed");
        let ws = Workspace::at(&root).expect("a workspace path");
        let queue = ws.paths().queue_dir(WorkItemKind::Task, QueueState::Queued);
        for i in 0..QUEUED {
            let text = format!(
                "# Task task-{i:05}\n\nTask-ID: task-{i:05}\nCreated-At: 2026-01-01T00:00:00Z\nCreated-By: bench\n\n\
                 Target-Paths:\n- src/lib.rs\n\nAcceptance:\n- it works\n\nRequired-Checks:\n- cargo test\n\n\
                 References:\n- none\n\nRisk:\n- low\n"
            );
            std::fs::write(queue.join(format!("task-{i:05}.md")), text).expect("a task");
        }
        let mut server = Command::new(bin)
            .args(["serve", "--bind", "127.0.0.1:0", "--workspace", root.to_str().expect("utf-8")])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("millrace serve starts");
        let mut out = server.stdout.take().expect("stdout");
        let mut text = String::new();
        let mut byte = [0u8; 1];
        while !text.contains("control: ") {
            out.read_exact(&mut byte).expect("serve prints its url");
            text.push(byte[0] as char);
        }
        std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
        let port = text
            .lines()
            .find_map(|l| l.strip_prefix("url: http://127.0.0.1:"))
            .and_then(|p| p.trim_end_matches('/').parse().ok())
            .expect("a port");
        Served {
            _dir: dir,
            root,
            server,
            port,
        }
    })
}

/// One GET on a fresh connection; the body's length.
fn get(path: &str) -> usize {
    let port = served().port;
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).expect("send");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).expect("receive");
    assert!(
        answer.starts_with(b"HTTP/1.1 200"),
        "{path}: {}",
        String::from_utf8_lossy(&answer[..80.min(answer.len())])
    );
    answer.len()
}

fn main() {
    let s = served();
    // Warm the server's view of the log once before timing.
    get("/api/w/demo/overview");
    divan::main();
    let status = std::fs::read_to_string(format!("/proc/{}/status", s.server.id())).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_string())
            .unwrap_or_else(|| "?".into())
    };
    println!();
    println!("| server memory after the benchmarks | value |");
    println!("| --- | ---: |");
    println!("| resident now (VmRSS) | {} |", field("VmRSS:"));
    println!("| peak resident (VmHWM) | {} |", field("VmHWM:"));
    println!("| threads | {} |", field("Threads:"));
    // Stopped by its pid: this benchmark started it.
    let _ = Command::new("kill").arg(s.server.id().to_string()).status();
}

/// `/api/w/{ws}/overview` with 10,000 tasks queued: the bar is 50 ms.
#[divan::bench(sample_count = 100)]
fn overview_10k_queued() -> usize {
    get("/api/w/demo/overview")
}

/// `/api/w/{ws}/status`: `status --json` over HTTP.
#[divan::bench(sample_count = 100)]
fn status_10k_queued() -> usize {
    get("/api/w/demo/status")
}

/// `/api/w/{ws}/queues`: depths and the first 200 ids of each kind.
#[divan::bench(sample_count = 50)]
fn queues_10k_queued() -> usize {
    get("/api/w/demo/queues")
}

/// `/api/w/{ws}/flow`: the plan laid out, with the active state.
#[divan::bench(sample_count = 100)]
fn flow_graph() -> usize {
    get("/api/w/demo/flow")
}

/// `/api/w/{ws}/runs`: the newest 100 runs (the demo has 9).
#[divan::bench(sample_count = 100)]
fn runs_list() -> usize {
    get("/api/w/demo/runs")
}

/// `/w/{ws}`: the page shell.
#[divan::bench(sample_count = 100)]
fn page_shell() -> usize {
    get("/w/demo")
}

/// From an event appended to `logs/runtime_events.jsonl` to its arrival on
/// an open `/events/stream`: the bar is 1 s (the log is polled every
/// 200 ms, so this is about half of that on average).
#[divan::bench(sample_count = 20, sample_size = 1)]
fn event_to_open_stream(bencher: divan::Bencher) {
    let s = served();
    let ws = Workspace::at(&s.root).expect("a workspace path");
    let mut log = EventLog::open(&ws).expect("the event log");
    let mut stream = TcpStream::connect(("127.0.0.1", s.port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let request = format!(
        "GET /api/w/demo/events/stream HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nAccept: text/event-stream\r\n\r\n",
        s.port
    );
    stream.write_all(request.as_bytes()).expect("send");
    let stream = RefCell::new(stream);
    let mut n = 0u64;
    bencher.bench_local(|| {
        n += 1;
        let marker = format!("\"probe\":{n}}}");
        log.append("bench_probe", serde_json::json!({ "probe": n }))
            .expect("appended");
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        while !String::from_utf8_lossy(&seen).contains(&marker) {
            let got = stream.borrow_mut().read(&mut buf).expect("the stream answers");
            seen.extend_from_slice(&buf[..got]);
        }
    });
}
