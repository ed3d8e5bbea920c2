//! `millrace lsp`: a language server for `.mill` files over stdio.
//!
//! Input: LSP JSON-RPC messages. Output: replies, and diagnostics published
//! after every change: the same codes, spans, labels and help as
//! `millrace compile validate`, checked against the shipped loops (and, in
//! `millrace-agents/loops/`, the workspace's other loop files).
//!
//! Invariants:
//! - Nothing but protocol messages is written to stdout.
//! - A request never takes the server down: a handler that panics is
//!   answered with an internal error and the server goes on.
//! - Built on the compiler directly (`syntax`, `check`, `fmt`), never on
//!   the command line.

mod actions;
mod complete;
mod convert;
mod hover;
mod index;
mod navigate;
mod symbols;
pub mod text;
pub mod world;

use std::panic::{AssertUnwindSafe, catch_unwind};

use lsp_server::{Connection, ErrorCode, Message, Notification, Request, Response};
use lsp_types::notification::{self as notif, Notification as _};
use lsp_types::{
    CodeActionProviderCapability, CompletionOptions, InitializeParams, OneOf, PublishDiagnosticsParams,
    SemanticTokensFullOptions, SemanticTokensOptions, SemanticTokensServerCapabilities, ServerCapabilities,
    TextDocumentSyncCapability, TextDocumentSyncKind, Uri,
};
use serde_json::Value;

use world::{Analysis, Doc, World};

/// The server could not talk to its client.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("language server: {0}")]
#[diagnostic(
    code(mill::lsp::protocol),
    help("`millrace lsp` speaks LSP on stdin and stdout; start it from an editor")
)]
pub struct LspError(String);

/// Serves one client on stdin and stdout until it exits.
pub fn serve_stdio() -> Result<(), LspError> {
    let (connection, io_threads) = Connection::stdio();
    serve(connection)?;
    io_threads.join().map_err(|e| LspError(e.to_string()))
}

/// Serves one client on `connection` (stdio, or in memory for tests).
pub fn serve(connection: Connection) -> Result<(), LspError> {
    let caps = serde_json::to_value(capabilities()).map_err(|e| LspError(e.to_string()))?;
    let params = connection.initialize(caps).map_err(|e| LspError(e.to_string()))?;
    let params: InitializeParams = serde_json::from_value(params).unwrap_or_default();
    let dir = params
        .initialization_options
        .as_ref()
        .and_then(|o| o.get("builtinDir"))
        .and_then(Value::as_str)
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("MILLRACE_LSP_BUILTIN_DIR").map(Into::into));
    let mut server = Server {
        world: World::new(dir),
        connection: &connection,
        last: None,
    };
    server.run()
}

fn capabilities() -> ServerCapabilities {
    ServerCapabilities {
        text_document_sync: Some(TextDocumentSyncCapability::Kind(
            TextDocumentSyncKind::INCREMENTAL,
        )),
        definition_provider: Some(OneOf::Left(true)),
        references_provider: Some(OneOf::Left(true)),
        hover_provider: Some(true.into()),
        completion_provider: Some(CompletionOptions {
            trigger_characters: Some(vec![" ".into(), ">".into()]),
            ..CompletionOptions::default()
        }),
        code_action_provider: Some(CodeActionProviderCapability::Simple(true)),
        document_symbol_provider: Some(OneOf::Left(true)),
        document_formatting_provider: Some(OneOf::Left(true)),
        semantic_tokens_provider: Some(SemanticTokensServerCapabilities::SemanticTokensOptions(
            SemanticTokensOptions {
                legend: symbols::legend(),
                full: Some(SemanticTokensFullOptions::Bool(true)),
                range: None,
                ..SemanticTokensOptions::default()
            },
        )),
        ..ServerCapabilities::default()
    }
}

struct Server<'c> {
    world: World,
    connection: &'c Connection,
    /// The latest analysis, with the URI and version it is for.
    last: Option<(String, i32, Analysis)>,
}

impl Server<'_> {
    fn run(&mut self) -> Result<(), LspError> {
        let receiver = self.connection.receiver.clone();
        for message in &receiver {
            match message {
                Message::Request(req) => {
                    if self
                        .connection
                        .handle_shutdown(&req)
                        .map_err(|e| LspError(e.to_string()))?
                    {
                        return Ok(());
                    }
                    let id = req.id.clone();
                    let reply = catch_unwind(AssertUnwindSafe(|| self.request(req))).unwrap_or_else(|_| {
                        Response::new_err(id, ErrorCode::InternalError as i32, "internal error".into())
                    });
                    self.send(Message::Response(reply));
                }
                Message::Notification(n) => {
                    // A panic while handling a notification loses only it.
                    let _ = catch_unwind(AssertUnwindSafe(|| self.notification(n)));
                }
                Message::Response(_) => {}
            }
        }
        Ok(())
    }

    fn send(&self, message: Message) {
        // The client went away; the receive loop ends by itself.
        let _ = self.connection.sender.send(message);
    }

    fn notification(&mut self, n: Notification) {
        match n.method.as_str() {
            notif::DidOpenTextDocument::METHOD => {
                if let Ok(p) =
                    n.extract::<lsp_types::DidOpenTextDocumentParams>(notif::DidOpenTextDocument::METHOD)
                {
                    let uri = p.text_document.uri.as_str().to_string();
                    let doc = Doc {
                        text: p.text_document.text,
                        version: p.text_document.version,
                    };
                    self.world.docs.insert(uri.clone(), doc);
                    // A reopened document may reuse an old version number.
                    self.last = None;
                    self.publish(&uri);
                }
            }
            notif::DidChangeTextDocument::METHOD => {
                if let Ok(p) =
                    n.extract::<lsp_types::DidChangeTextDocumentParams>(notif::DidChangeTextDocument::METHOD)
                {
                    let uri = p.text_document.uri.as_str().to_string();
                    if let Some(doc) = self.world.docs.get_mut(&uri) {
                        for change in p.content_changes {
                            text::apply_change(&mut doc.text, change);
                        }
                        doc.version = p.text_document.version;
                    }
                    self.last = None;
                    self.publish(&uri);
                }
            }
            notif::DidSaveTextDocument::METHOD => {
                if let Ok(p) =
                    n.extract::<lsp_types::DidSaveTextDocumentParams>(notif::DidSaveTextDocument::METHOD)
                {
                    self.last = None;
                    self.publish(p.text_document.uri.as_str());
                }
            }
            notif::DidCloseTextDocument::METHOD => {
                if let Ok(p) =
                    n.extract::<lsp_types::DidCloseTextDocumentParams>(notif::DidCloseTextDocument::METHOD)
                {
                    let uri = p.text_document.uri;
                    self.world.docs.remove(uri.as_str());
                    self.last = None;
                    self.publish_one(uri, Vec::new(), None);
                }
            }
            _ => {}
        }
    }

    /// The analysis of `uri` at its current version, computed at most once.
    fn analysis(&mut self, uri: &str) -> Option<&Analysis> {
        let version = self.world.docs.get(uri).map(|d| d.version).unwrap_or(-1);
        let fresh = matches!(&self.last, Some((u, v, _)) if u == uri && *v == version);
        if !fresh {
            let analysis = self.world.analyze(uri)?;
            self.last = Some((uri.to_string(), version, analysis));
        }
        self.last.as_ref().map(|(_, _, a)| a)
    }

    /// Re-checks `uri` and publishes the diagnostics of every workspace
    /// file of its analysis.
    fn publish(&mut self, uri: &str) {
        if self.world.is_builtin_uri(uri) {
            return;
        }
        let version = self.world.docs.get(uri).map(|d| d.version);
        let Some(analysis) = self.analysis(uri) else {
            return;
        };
        let mut out = Vec::new();
        for (file, diags) in convert::by_file(analysis) {
            let Some(file_uri) = analysis.uris.get(file.0 as usize) else {
                continue;
            };
            let Ok(parsed) = file_uri.parse::<Uri>() else {
                continue;
            };
            let v = if file_uri == uri { version } else { None };
            out.push((parsed, diags, v));
        }
        for (u, d, v) in out {
            self.publish_one(u, d, v);
        }
    }

    fn publish_one(&self, uri: Uri, diagnostics: Vec<lsp_types::Diagnostic>, version: Option<i32>) {
        let params = PublishDiagnosticsParams {
            uri,
            diagnostics,
            version,
        };
        let n = Notification::new(notif::PublishDiagnostics::METHOD.into(), params);
        self.send(Message::Notification(n));
    }

    fn request(&mut self, req: Request) -> Response {
        let id = req.id.clone();
        let uri = req
            .params
            .pointer("/textDocument/uri")
            .and_then(Value::as_str)
            .map(String::from);
        let result = match uri {
            Some(uri) => self.handle(&req, &uri),
            None => Err(format!("`{}` needs a textDocument", req.method)),
        };
        match result {
            Ok(value) => Response::new_ok(id, value),
            Err(message) => Response::new_err(id, ErrorCode::RequestFailed as i32, message),
        }
    }

    fn handle(&mut self, req: &Request, uri: &str) -> Result<Value, String> {
        if req.method == "textDocument/formatting" {
            return self.format(uri);
        }
        let Some(a) = self.analysis(uri) else {
            return Err(format!("cannot read `{uri}`"));
        };
        let p = &req.params;
        let value = match req.method.as_str() {
            "textDocument/definition" => navigate::definition(a, p),
            "textDocument/references" => navigate::references(a, p),
            "textDocument/hover" => hover::hover(a, p),
            "textDocument/completion" => complete::completion(a, p),
            "textDocument/codeAction" => actions::code_actions(a, p),
            "textDocument/documentSymbol" => symbols::document_symbols(a),
            "textDocument/semanticTokens/full" => symbols::semantic_tokens(a),
            other => return Err(format!("`{other}` is not supported")),
        };
        Ok(value)
    }

    fn format(&mut self, uri: &str) -> Result<Value, String> {
        let text = self
            .world
            .text_of(uri)
            .ok_or_else(|| format!("cannot read `{uri}`"))?;
        match crate::fmt::format_text(uri, &text) {
            Ok(out) if out == text => Ok(Value::Array(Vec::new())),
            Ok(out) => {
                let index = text::LineIndex::new(&text);
                let range = index.range(&text, 0, text.len());
                Ok(serde_json::json!([{ "range": range, "newText": out }]))
            }
            Err(refused) => {
                let codes = refused.diags.codes().join(", ");
                Err(format!("not formatted: the file has syntax errors ({codes})"))
            }
        }
    }
}
