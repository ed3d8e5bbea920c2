//! A minimal LSP client over the real `millrace lsp` process: framed
//! JSON-RPC on its stdin and stdout, replies matched by id, notifications
//! kept in arrival order.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub(crate) struct Client {
    child: Child,
    stdin: ChildStdin,
    rx: Receiver<Value>,
    next_id: i64,
    pub notifications: Vec<Value>,
}

const WAIT: Duration = Duration::from_secs(30);

fn read_frame(reader: &mut impl BufRead) -> Option<Value> {
    let mut length = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some(v) = line.strip_prefix("Content-Length: ") {
            length = v.parse::<usize>().ok();
        }
    }
    let mut body = vec![0; length?];
    reader.read_exact(&mut body).ok()?;
    serde_json::from_slice(&body).ok()
}

pub(crate) fn uri(path: &Path) -> String {
    millrace::lsp::text::path_to_uri(path)
}

impl Client {
    /// Starts the server with its shipped loops copied into `builtin_dir`.
    pub(crate) fn start(builtin_dir: &Path) -> Client {
        let mut child = Command::new(env!("CARGO_BIN_EXE_millrace"))
            .arg("lsp")
            .env("MILLRACE_LSP_BUILTIN_DIR", builtin_dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            while let Some(message) = read_frame(&mut reader) {
                if tx.send(message).is_err() {
                    break;
                }
            }
        });
        let mut client = Client {
            child,
            stdin,
            rx,
            next_id: 1,
            notifications: Vec::new(),
        };
        let caps = client.request(
            "initialize",
            json!({"processId": null, "rootUri": null, "capabilities": {}}),
        );
        assert!(
            caps["capabilities"]["definitionProvider"].as_bool().unwrap(),
            "{caps}"
        );
        client.notify("initialized", json!({}));
        client
    }

    fn send(&mut self, message: &Value) {
        let body = message.to_string();
        write!(self.stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
        self.stdin.flush().unwrap();
    }

    pub(crate) fn notify(&mut self, method: &str, params: Value) {
        self.send(&json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    /// Sends a request and returns the whole response (`result` or `error`).
    pub(crate) fn call(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        let deadline = Instant::now() + WAIT;
        loop {
            let message = self
                .next(deadline)
                .unwrap_or_else(|| panic!("no reply to {method}"));
            if message.get("id") == Some(&json!(id)) {
                return message;
            }
            self.notifications.push(message);
        }
    }

    pub(crate) fn request(&mut self, method: &str, params: Value) -> Value {
        let reply = self.call(method, params);
        assert!(reply.get("error").is_none(), "{method} failed: {reply}");
        reply["result"].clone()
    }

    fn next(&mut self, deadline: Instant) -> Option<Value> {
        let left = deadline.saturating_duration_since(Instant::now());
        self.rx.recv_timeout(left).ok()
    }

    /// The next diagnostics published for `uri` (waiting for them).
    pub(crate) fn diagnostics(&mut self, uri: &str) -> Vec<Value> {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(i) = self
                .notifications
                .iter()
                .position(|n| n["method"] == "textDocument/publishDiagnostics" && n["params"]["uri"] == uri)
            {
                let n = self.notifications.remove(i);
                return n["params"]["diagnostics"].as_array().cloned().unwrap_or_default();
            }
            let message = self
                .next(deadline)
                .unwrap_or_else(|| panic!("no diagnostics for {uri}"));
            self.notifications.push(message);
        }
    }

    pub(crate) fn open(&mut self, uri: &str, text: &str) -> Vec<Value> {
        let item = json!({"uri": uri, "languageId": "mill", "version": 1, "text": text});
        self.notify("textDocument/didOpen", json!({"textDocument": item}));
        self.diagnostics(uri)
    }

    /// Ends the session the way a client must; returns the exit status.
    pub(crate) fn shutdown(mut self) -> Option<i32> {
        let _ = self.request("shutdown", Value::Null);
        self.notify("exit", Value::Null);
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        None
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        // Only the server this client started; a test that already shut it
        // down makes this a no-op.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A position as LSP wants it.
pub(crate) fn at(line: u32, character: u32) -> Value {
    json!({"line": line, "character": character})
}

/// The position of the `n`th occurrence of `needle` in `text`, plus `shift`
/// characters (ASCII text).
pub(crate) fn find(text: &str, needle: &str, n: usize, shift: u32) -> Value {
    let offset = text
        .match_indices(needle)
        .nth(n)
        .map(|(i, _)| i)
        .expect("needle in text");
    let line = text[..offset].matches('\n').count() as u32;
    let col = (offset - text[..offset].rfind('\n').map(|i| i + 1).unwrap_or(0)) as u32;
    at(line, col + shift)
}

/// Applies LSP text edits to ASCII text.
pub(crate) fn apply(text: &str, edits: &[Value]) -> String {
    let offset = |p: &Value| {
        let line = p["line"].as_u64().unwrap() as usize;
        let col = p["character"].as_u64().unwrap() as usize;
        let start: usize = text.split_inclusive('\n').take(line).map(str::len).sum();
        start + col
    };
    let mut spans: Vec<(usize, usize, String)> = edits
        .iter()
        .map(|e| {
            (
                offset(&e["range"]["start"]),
                offset(&e["range"]["end"]),
                e["newText"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    spans.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)));
    let mut out = text.to_string();
    for (s, e, t) in spans {
        out.replace_range(s..e, &t);
    }
    out
}
