//! Every route over HTTP on loopback: pages, the JSON API and its shapes,
//! bad ids and traversal attempts, damaged and missing workspaces, the
//! control routes' guards, files replaced while serving, and the proof
//! that serving writes nothing and never takes the lock.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{Server, request};
use crate::workspace::{Ws, json, millrace_in, stderr};

/// A finished demo campaign (runs, events, a closed closure target).
fn demo() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap().join("demo");
    let out = millrace_in(
        dir.path(),
        &["--workspace", root.to_str().unwrap(), "demo", "--quiet"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    (dir, root)
}

/// Every file under `root` with its length and modification time.
fn tree(root: &Path) -> BTreeMap<PathBuf, (u64, std::time::SystemTime)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let meta = entry.metadata().unwrap();
            if meta.is_dir() {
                stack.push(entry.path());
            } else if !entry.file_name().to_string_lossy().ends_with(".depth.json") {
                // The CLI `status` this test calls for comparison records
                // queue depths; serving never does, and that is what is checked.
                out.insert(entry.path(), (meta.len(), meta.modified().unwrap()));
            }
        }
    }
    out
}

fn first_run(server: &Server) -> String {
    let runs = server.json("/api/w/demo/runs");
    runs["runs"][0]["run_id"].as_str().unwrap().to_string()
}

#[test]
fn every_route_answers_and_the_shapes_match_the_cli() {
    let (_dir, root) = demo();
    let before = tree(&root);
    let server = Server::start(&[&root], &[]);
    for page in [
        "/",
        "/w/demo",
        "/w/demo/flow",
        "/w/demo/runs",
        "/w/demo/events",
        "/w/demo/items/idea-greet-t01",
    ] {
        let r = server.get(page);
        assert_eq!(r.status, 200, "{page}");
        assert!(r.text().contains("/assets/app.js"), "{page}");
        assert!(
            r.header("content-security-policy")
                .unwrap()
                .contains("script-src 'self'")
        );
    }
    for asset in ["/assets/app.js", "/assets/style.css", "/assets/favicon.svg"] {
        assert_eq!(server.get(asset).status, 200, "{asset}");
    }
    let list = server.json("/api/workspaces");
    assert_eq!(list["workspaces"][0]["key"], "demo");
    assert_eq!(list["control"], false);

    // The same shapes as the commands' --json.
    let cli = |args: &[&str]| {
        json(&millrace_in(
            &root,
            &[&["--workspace", root.to_str().unwrap()], args].concat(),
        ))
    };
    let status = server.json("/api/w/demo/status");
    let keys = |v: &serde_json::Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&status), keys(&cli(&["status", "--json"])));
    assert_eq!(server.json("/api/w/demo/doctor"), cli(&["doctor", "--json"]));
    let overview = server.json("/api/w/demo/overview");
    assert_eq!(keys(&overview["status"]), keys(&status));
    assert_eq!(overview["daemon"]["state"], "absent");
    assert_eq!(overview["plan"]["current"], true);
    assert_eq!(overview["planes"].as_array().unwrap().len(), 3);

    let runs = server.json("/api/w/demo/runs");
    let cli_runs = cli(&["runs", "ls", "--json"]);
    assert_eq!(
        runs["runs"].as_array().unwrap().len(),
        cli_runs.as_array().unwrap().len()
    );
    for key in keys(&cli_runs[0]) {
        assert!(runs["runs"][0].get(&key).is_some(), "runs lack `{key}`");
    }
    let run_id = first_run(&server);
    let run = server.json(&format!("/api/w/demo/runs/{run_id}"));
    assert_eq!(run["run"], cli(&["runs", "show", &run_id, "--json"]));
    let artifacts = run["artifacts"].as_array().unwrap();
    assert!(
        artifacts
            .iter()
            .any(|a| a["name"].as_str().unwrap().starts_with("stage_results/"))
    );
    for a in artifacts {
        let name = a["name"].as_str().unwrap();
        let r = server.get(&format!("/api/w/demo/runs/{run_id}/artifacts/{name}"));
        assert_eq!(r.status, 200, "{name}");
        assert_eq!(r.body.len() as u64, a["size"].as_u64().unwrap(), "{name}");
        assert!(r.header("content-type").unwrap().starts_with("text/plain"));
    }
    let filtered = server.json("/api/w/demo/runs?plane=execution&outcome=UPDATE_COMPLETE");
    assert!(
        filtered["runs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["plane"] == "execution")
    );
    assert!(!filtered["runs"].as_array().unwrap().is_empty());

    let item = server.json("/api/w/demo/items/idea-greet-t01");
    assert_eq!(item["state"], "done");
    assert!(!item["history"].as_array().unwrap().is_empty());
    assert!(item["history"][0]["stages"][0]["last_message"].is_string());
    assert_eq!(
        server.json("/api/w/demo/queues")["kinds"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    assert!(
        server.json("/api/w/demo/plan")["listing"]
            .as_str()
            .unwrap()
            .starts_with("plan plan-demo-")
    );
    let flow = server.json("/api/w/demo/flow");
    let execution = &flow["planes"][0];
    assert_eq!(execution["plane"], "execution");
    assert!(
        execution["edges"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["weight"].as_u64().unwrap() > 0)
    );
    assert!(
        execution["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["kind"] == "terminal")
    );
    for graph in flow["planes"].as_array().unwrap() {
        let nodes = graph["nodes"].as_array().unwrap();
        let key = |n: &serde_json::Value| n["key"].as_str().unwrap().to_string();
        for e in graph["edges"].as_array().unwrap() {
            for end in ["from", "to"] {
                assert!(nodes.iter().any(|n| key(n) == e[end]), "{e}");
            }
            assert!(e["path"].as_str().unwrap().starts_with('M'), "{e}");
        }
        // No two boxes of a layer overlap.
        for (i, a) in nodes.iter().enumerate() {
            for b in &nodes[i + 1..] {
                let (ax, bx) = (a["x"].as_f64().unwrap(), b["x"].as_f64().unwrap());
                let overlap = a["y"] == b["y"]
                    && ax < bx + b["w"].as_f64().unwrap()
                    && bx < ax + a["w"].as_f64().unwrap();
                assert!(!overlap, "{} overlaps {}", key(a), key(b));
            }
        }
    }
    assert_eq!(
        server.json("/api/w/demo/flow"),
        flow,
        "the same plan, the same picture"
    );
    let events = server.json("/api/w/demo/events?after=40");
    assert!(
        events["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["seq"].as_u64().unwrap() > 40)
    );
    let stream = read_stream(server.port, "/api/w/demo/events/stream?after=43", "id: 45");
    assert!(
        stream.contains("event: runtime") && !stream.contains("id: 43\n"),
        "{stream}"
    );

    drop(server);
    assert_eq!(tree(&root), before, "serving changed the workspace");
}

/// Reads an SSE answer until `until` shows up (10 s at most).
fn read_stream(port: u16, path: &str, until: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let head = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: text/event-stream\r\n\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline && !String::from_utf8_lossy(&seen).contains(until) {
        if let Ok(n) = stream.read(&mut buf) {
            seen.extend_from_slice(&buf[..n]);
        }
    }
    String::from_utf8_lossy(&seen).into_owned()
}

#[test]
fn bad_ids_and_traversal_attempts_are_404_with_a_code() {
    let (_dir, root) = demo();
    let server = Server::start(&[&root], &[]);
    let run_id = first_run(&server);
    for path in [
        "/api/w/demo/runs/..%2F..%2Fstate".to_string(),
        "/api/w/demo/runs/.hidden".to_string(),
        "/api/w/demo/runs/run-does-not-exist".to_string(),
        "/api/w/demo/items/a%20b".to_string(),
        "/api/w/demo/items/..".to_string(),
        "/api/w/demo/items/nobody".to_string(),
        format!("/api/w/demo/runs/{run_id}/artifacts/..%2F..%2Fmillrace.toml"),
        format!("/api/w/demo/runs/{run_id}/artifacts/../../millrace.toml"),
        format!("/api/w/demo/runs/{run_id}/artifacts/stage_results/../../../millrace.toml"),
        format!("/api/w/demo/runs/{run_id}/artifacts/%2Fetc%2Fpasswd"),
        format!("/api/w/demo/runs/{run_id}/artifacts/stage_results"),
        "/api/w/demo/control/pause/../../items/x".to_string(),
        "/api/nothing".to_string(),
    ] {
        let r = request(server.port, "GET", &path, &[], b"");
        assert_eq!(r.status, 404, "{path}: {}", r.text());
        assert!(r.code().starts_with("mill::serve::"), "{path}: {}", r.text());
        assert!(!r.text().contains("[runtime]"), "{path} leaked a file");
    }
    for path in [
        "/api/w/nope/overview",
        "/api/w/..%2F/overview",
        "/api/w/%2Fetc/flow",
    ] {
        let r = server.get(path);
        assert_eq!(
            (r.status, r.code().as_str()),
            (404, "mill::serve::unknown_workspace"),
            "{path}"
        );
    }
    for page in [
        "/w/demo/items/..%2Fx",
        "/w/demo/runs/.x",
        "/w/nope",
        "/nothing",
        "/assets/..%2Fapp.js",
    ] {
        let r = server.get(page);
        assert_eq!(r.status, 404, "{page}");
        assert!(r.text().contains("mill::serve::"), "{page}: {}", r.text());
    }
    // A foreign Host (DNS rebinding) is not answered.
    let r = request(
        server.port,
        "GET",
        "/api/workspaces",
        &[("Host", "evil.example")],
        b"",
    );
    assert_eq!(r.status, 421);
}

#[test]
fn damaged_missing_and_crashed_workspaces_are_shown_with_a_code() {
    let ws = Ws::new();
    ws.write("state/runtime_snapshot.json", "{ not json");
    let bare = tempfile::tempdir().unwrap();
    let server = Server::start(&[&ws.root, bare.path()], &[]);
    let list = server.json("/api/workspaces");
    let key = list["workspaces"][0]["key"].as_str().unwrap().to_string();
    let bare_key = list["workspaces"][1]["key"].as_str().unwrap().to_string();
    let overview = server.json(&format!("/api/w/{key}/overview"));
    let problems = overview["problems"].as_array().unwrap();
    assert!(
        problems
            .iter()
            .any(|p| p.as_str().unwrap().starts_with("mill::state::snapshot_invalid")),
        "{problems:?}"
    );
    assert_eq!(server.get(&format!("/w/{key}")).status, 200);
    assert_eq!(
        server.get(&format!("/api/w/{key}/flow")).status,
        404,
        "no plan yet"
    );
    for route in ["overview", "status", "queues", "flow", "runs", "items/x", "plan"] {
        let r = server.get(&format!("/api/w/{bare_key}/{route}"));
        assert_eq!(
            (r.status, r.code().as_str()),
            (503, "mill::serve::workspace_unreadable"),
            "{route}"
        );
    }
    assert_eq!(server.get(&format!("/api/w/{bare_key}/doctor")).status, 200);
    // A workspace initialized while served is read at the next request.
    let out = millrace_in(
        bare.path(),
        &["--workspace", bare.path().to_str().unwrap(), "init"],
    );
    assert!(out.status.success());
    assert_eq!(server.get(&format!("/api/w/{bare_key}/overview")).status, 200);
}

#[test]
fn control_routes_need_allow_control_the_token_and_the_same_origin() {
    let (_dir, root) = demo();
    let incoming = root.join("millrace-agents/state/mailbox/incoming");
    let count = || std::fs::read_dir(&incoming).map_or(0, |d| d.count());
    let read_only = Server::start(&[&root], &[]);
    let r = read_only.post(
        "/api/w/demo/control/pause",
        &[("x-millrace-token", "anything")],
        b"",
    );
    assert_eq!(
        (r.status, r.code().as_str()),
        (403, "mill::serve::control_disabled")
    );
    drop(read_only);

    let server = Server::start(&[&root], &["--allow-control"]);
    let token = server.token.clone().expect("a token is printed");
    let origin = format!("http://127.0.0.1:{}", server.port);
    let refused: &[&[(&str, &str)]] = &[
        &[],
        &[("x-millrace-token", "wrong")],
        &[("x-millrace-token", &token), ("Origin", "http://evil.example")],
        &[("x-millrace-token", &token), ("Sec-Fetch-Site", "cross-site")],
    ];
    for headers in refused {
        let r = server.post("/api/w/demo/control/pause", headers, b"");
        assert_eq!(
            (r.status, r.code().as_str()),
            (403, "mill::serve::control_refused"),
            "{headers:?}"
        );
    }
    assert_eq!(
        server.get("/api/w/demo/control/pause").status,
        405,
        "GET never controls"
    );
    assert_eq!(count(), 0, "a refused control wrote nothing");
    let ok = [("x-millrace-token", token.as_str()), ("Origin", origin.as_str())];
    let r = server.post("/api/w/demo/control/stop", &ok, b"");
    assert_eq!(
        (r.status, r.code().as_str()),
        (409, "mill::serve::control_failed"),
        "no daemon to stop"
    );
    let r = server.post("/api/w/demo/control/pause", &ok, b"");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["mode"], "mailbox");
    let r = server.post(
        "/api/w/demo/control/retry-active",
        &ok,
        br#"{"plane": "execution", "reason": "try again"}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(count(), 2, "the commands went to the mailbox");
    let r = server.post(
        "/api/w/demo/control/retry-active",
        &ok,
        br#"{"plane": "nowhere"}"#,
    );
    assert_eq!(r.status, 409);
    let r = server.post(
        "/api/w/demo/control/queue-retry",
        &ok,
        br#"{"id": "idea-greet-t01", "reason": "fixed"}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(count(), 3, "queue-retry went to the mailbox");
    let r = server.post(
        "/api/w/demo/control/queue-retry",
        &ok,
        br#"{"id": "../etc/passwd"}"#,
    );
    assert_eq!(r.status, 409, "a bad id is refused before any path is built");
    let r = server.post("/api/w/demo/control/format-disk", &ok, b"");
    assert_eq!((r.status, r.code().as_str()), (404, "mill::serve::not_found"));
    assert!(
        !root
            .join("millrace-agents/state/runtime_daemon.lock.json")
            .exists()
    );
}

#[test]
fn serving_goes_on_while_files_are_replaced_under_it() {
    let (_dir, root) = demo();
    let server = Server::start(&[&root], &[]);
    let state = root.join("millrace-agents/state");
    let snapshot = std::fs::read(state.join("runtime_snapshot.json")).unwrap();
    let log = root.join("millrace-agents/logs/runtime_events.jsonl");
    let writer = {
        let (state, snapshot) = (state.clone(), snapshot.clone());
        std::thread::spawn(move || {
            for i in 0..200 {
                let tmp = state.join(".snap.tmp");
                let bytes: &[u8] = if i % 3 == 0 { b"{ torn" } else { &snapshot };
                std::fs::write(&tmp, bytes).unwrap();
                std::fs::rename(&tmp, state.join("runtime_snapshot.json")).unwrap();
            }
        })
    };
    for _ in 0..40 {
        let r = server.get("/api/w/demo/overview");
        assert_eq!(r.status, 200, "{}", r.text());
    }
    writer.join().unwrap();
    std::fs::write(state.join("runtime_snapshot.json"), &snapshot).unwrap();

    // An event appended to the log reaches the stream of every workspace,
    // tagged with its key.
    let mut all = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    all.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let head = format!(
        "GET /api/events/stream HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n\r\n",
        server.port
    );
    all.write_all(head.as_bytes()).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let ws = millrace::workspace::Workspace::at(&root).unwrap();
    let mut events = millrace::workspace::events::EventLog::open(&ws).unwrap();
    events
        .append("operator_note", serde_json::json!({ "note": "hello" }))
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline && !String::from_utf8_lossy(&seen).contains("\"note\":\"hello\"") {
        if let Ok(n) = all.read(&mut buf) {
            seen.extend_from_slice(&buf[..n]);
        }
    }
    let seen = String::from_utf8_lossy(&seen);
    assert!(
        seen.contains("\"ws\":\"demo\"") && seen.contains("operator_note"),
        "{seen}"
    );

    // The event log replaced by a shorter one: read again from the start.
    let first = server.json("/api/w/demo/events")["generation"].as_u64().unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    let head: String = text.lines().take(3).map(|l| format!("{l}\n")).collect();
    std::fs::write(log.with_extension("new"), head).unwrap();
    std::fs::rename(log.with_extension("new"), &log).unwrap();
    super::wait_for("the replaced log to be read", || {
        let events = server.json("/api/w/demo/events");
        events["generation"].as_u64().unwrap() > first && events["events"].as_array().unwrap().len() == 3
    });
}

#[test]
fn sigterm_stops_the_server_while_a_stream_is_open() {
    let (_dir, root) = demo();
    let mut server = Server::start(&[&root], &[]);
    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    let head = format!(
        "GET /api/w/demo/events/stream HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n\r\n",
        server.port
    );
    stream.write_all(head.as_bytes()).unwrap();
    let mut first = [0u8; 12];
    stream.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");
    let status = server
        .terminate()
        .expect("the server did not stop with a stream open");
    assert!(status.success(), "{status:?}");
}
