//! `millrace serve`: a live web dashboard of one or more workspaces, built
//! into the binary.
//!
//! Input: workspace roots, an address to bind, and whether control buttons
//! are allowed. Output: an HTTP server (axum on a single-threaded tokio
//! runtime, reads on a small blocking pool) serving pages, a JSON API
//! under `/api/`, and server-sent events of each workspace's event log.
//!
//! Invariants:
//! - read-only unless started with `--allow-control`; even then the only
//!   write is a mailbox command ([`crate::workspace::mailbox::issue`]),
//!   guarded by a token printed at start;
//! - never takes the ownership lock (it is only inspected);
//! - a missing, partial or corrupt workspace is an error panel or a JSON
//!   error with a code, never a panic or a backtrace, and a workspace whose
//!   files are replaced while it is served is read afresh at each request;
//! - every id from a URL is checked before it becomes a path.

mod api;
mod control;
mod error;
mod flow;
mod history;
mod layout;
mod live;
mod pages;
mod routes;
mod sites;
mod tail;

use std::net::SocketAddr;
use std::sync::Arc;

pub use error::ServeError;

use crate::workspace::Workspace;

/// How to serve.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    pub workspaces: Vec<Workspace>,
    pub bind: SocketAddr,
    pub allow_control: bool,
}

/// What the server tells its caller once it listens.
#[derive(Clone, Debug)]
pub struct Listening {
    /// The address actually bound (the port is known even for port 0).
    pub addr: SocketAddr,
    pub url: String,
    /// The control token, with `--allow-control`.
    pub token: Option<String>,
    /// The workspaces served, as `(key, root)`.
    pub sites: Vec<(String, String)>,
}

/// Binds, reports through `on_listen`, and serves until interrupted
/// (Ctrl-C or SIGTERM).
pub fn serve(options: ServeOptions, on_listen: impl FnOnce(&Listening)) -> Result<(), ServeError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .max_blocking_threads(4)
        .build()
        .map_err(|e| ServeError::ServerFailed {
            detail: e.to_string(),
        })?;
    runtime.block_on(run(options, on_listen))
}

async fn run(options: ServeOptions, on_listen: impl FnOnce(&Listening)) -> Result<(), ServeError> {
    let listener = tokio::net::TcpListener::bind(options.bind)
        .await
        .map_err(|e| ServeError::BindFailed {
            addr: options.bind.to_string(),
            detail: e.to_string(),
        })?;
    let addr = listener.local_addr().map_err(|e| ServeError::BindFailed {
        addr: options.bind.to_string(),
        detail: e.to_string(),
    })?;
    let token = options.allow_control.then(new_token);
    let host = host_of(addr);
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let app = Arc::new(sites::App::new(options.workspaces, token.clone(), stopping));
    // On loopback only this server's own names are answered.
    let allowed = addr.ip().is_loopback().then(|| {
        let port = addr.port();
        vec![
            host.clone(),
            format!("localhost:{port}"),
            format!("127.0.0.1:{port}"),
            format!("[::1]:{port}"),
        ]
    });
    let router = routes::router(app.clone(), allowed);
    on_listen(&Listening {
        addr,
        url: format!("http://{host}/"),
        token,
        sites: app
            .sites
            .iter()
            .map(|s| (s.key.clone(), s.ws.root().display().to_string()))
            .collect(),
    });
    let follower = tokio::spawn(live::follow(app));
    let served = axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            shutdown().await;
            let _ = stop.send(true);
        })
        .await
        .map_err(|e| ServeError::ServerFailed {
            detail: e.to_string(),
        });
    follower.abort();
    served
}

/// `host:port` as a browser writes it.
fn host_of(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V4(v4) => format!("{}:{}", v4.ip(), v4.port()),
        SocketAddr::V6(v6) => format!("[{}]:{}", v6.ip(), v6.port()),
    }
}

/// 32 hex digits keyed by the operating system's randomness (the keys
/// std's hash maps draw from it), so the token cannot be guessed.
fn new_token() -> String {
    use std::hash::{BuildHasher, Hasher};
    let keyed = std::collections::hash_map::RandomState::new();
    let half = |salt: u64| {
        let mut h = keyed.build_hasher();
        h.write_u64(salt);
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        h.write_u64(fastrand::u64(..));
        h.finish()
    };
    format!("{:016x}{:016x}", half(1), half(2))
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
}
