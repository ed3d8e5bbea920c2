//! The authoring tools' readers of untrusted input, shared by the fuzz
//! targets (`fuzz/fuzz_targets/mill_fmt.rs`, `lsp_document.rs`, which
//! include this file) and the property test beside them in the suite. A
//! panic is a bug. It may use only `millrace`, `serde_json` and
//! `lsp-server` (the fuzz crate's dependencies).

#![allow(dead_code)]

use std::time::Duration;

use lsp_server::{Connection, Message, Notification, Request, RequestId};
use serde_json::{Value, json};

/// `millrace fmt`: whatever it accepts, formatting again changes nothing.
pub fn mill_fmt(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(once) = millrace::fmt::format_text("fuzz.mill", &text) {
        let twice = millrace::fmt::format_text("fuzz.mill", &once);
        assert_eq!(
            twice.ok().as_deref(),
            Some(once.as_str()),
            "formatting is not idempotent"
        );
    }
}

/// Reads little-endian numbers off the input, zero when it runs out.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn byte(&mut self) -> u8 {
        let (b, rest) = self.0.split_first().map(|(b, r)| (*b, r)).unwrap_or((0, &[]));
        self.0 = rest;
        b
    }
}

const METHODS: &[&str] = &[
    "textDocument/hover",
    "textDocument/definition",
    "textDocument/references",
    "textDocument/completion",
    "textDocument/codeAction",
    "textDocument/documentSymbol",
    "textDocument/semanticTokens/full",
    "textDocument/formatting",
];

/// A whole language-server session over an in-memory connection: the text
/// is opened, then edited and queried at positions the input chooses. Every
/// request must be answered, and the session must end cleanly.
pub fn lsp_document(data: &[u8]) {
    let split = data.len() / 2;
    let (text, ops) = data.split_at(split);
    let mut ops = Bytes(ops);
    let dir = std::env::temp_dir().join("millrace-fuzz-builtin");
    let (server, client) = Connection::memory();
    let thread = std::thread::spawn(move || millrace::lsp::serve(server));
    let uri = "file:///fuzz/loops.mill";
    let mut id = 0;
    let mut call = |method: &str, params: Value| {
        id += 1;
        let req = Request::new(RequestId::from(id), method.into(), params);
        client.sender.send(Message::Request(req)).unwrap();
        loop {
            match client.receiver.recv_timeout(Duration::from_secs(30)) {
                Ok(Message::Response(r)) if r.id == RequestId::from(id) => return r,
                Ok(_) => {}
                Err(e) => panic!("no reply to {method}: {e}"),
            }
        }
    };
    let init = json!({"processId": null, "rootUri": null, "capabilities": {},
        "initializationOptions": {"builtinDir": dir}});
    assert!(call("initialize", init).response_result.is_ok());
    let notify = |method: &str, params: Value| {
        let _ = client
            .sender
            .send(Message::Notification(Notification::new(method.into(), params)));
    };
    notify("initialized", json!({}));
    let item = json!({"uri": uri, "languageId": "mill", "version": 1, "text": String::from_utf8_lossy(text)});
    notify("textDocument/didOpen", json!({"textDocument": item}));
    for version in 2..10 {
        let (line, character) = (u32::from(ops.byte() % 40), u32::from(ops.byte()));
        let position = json!({"line": line, "character": character});
        match ops.byte() % 3 {
            0 => {
                let end = json!({"line": line + u32::from(ops.byte() % 3), "character": ops.byte()});
                let inserted = ["", "x", "->", "{", "}", "\"", "count ", "\n", "# c\n", "é"]
                    [usize::from(ops.byte() % 10)];
                let change = json!({"range": {"start": position, "end": end}, "text": inserted});
                notify(
                    "textDocument/didChange",
                    json!({"textDocument": {"uri": uri, "version": version}, "contentChanges": [change]}),
                );
            }
            _ => {
                let method = METHODS[usize::from(ops.byte()) % METHODS.len()];
                let range = json!({"start": position, "end": {"line": line + 2, "character": 0}});
                let params = json!({"textDocument": {"uri": uri}, "position": position, "range": range,
                    "context": {"includeDeclaration": true, "diagnostics": []}, "options": {"tabSize": 4, "insertSpaces": true}});
                let reply = call(method, params);
                if let Err(e) = &reply.response_result {
                    assert_ne!(e.message, "internal error", "{method} panicked in the server");
                }
            }
        }
    }
    assert!(call("shutdown", Value::Null).response_result.is_ok());
    notify("exit", Value::Null);
    assert!(thread.join().unwrap().is_ok(), "the session did not end cleanly");
}
