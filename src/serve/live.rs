//! The live event stream: one task follows every served workspace's event
//! log, and each open page gets what was appended as server-sent events.
//!
//! Input: the sites' [`Tail`](super::tail::Tail)s, polled every
//! [`POLL`]; a client's `Last-Event-ID` header (or `?after=`: the kept
//! events after it are sent first; without either, only new ones). Output:
//! `event: runtime` messages (id = the event's `seq`, data = the pushed
//! event as JSON), `event: reset` when a log was replaced, and a comment
//! every 15 s to keep idle connections open.
//!
//! Invariants: an event reaches subscribers within one poll of being
//! written (the poll reads from the last offset: only what is new); a
//! client that reconnects with the last id it saw misses nothing still
//! kept and gets nothing twice; a slow client skips ahead rather than
//! holding the others back; polling stops and every open stream ends when
//! the server stops, so Ctrl-C never waits for a browser to leave.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::Stream;
use tokio::sync::broadcast::{self, error::RecvError};

use super::sites::{App, Live, Site};

/// How often the logs are looked at.
pub(crate) const POLL: Duration = Duration::from_millis(200);
/// Kept events a connecting client may be sent first.
const BACKLOG: usize = 500;

/// Follows every site's log until the server stops.
pub(crate) async fn follow(app: Arc<App>) {
    let mut ticker = tokio::time::interval(POLL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        for site in &app.sites {
            let site = site.clone();
            let polled = tokio::task::spawn_blocking(move || {
                let (fresh, reset) = site.tail().poll(&site.ws);
                (site, fresh, reset)
            })
            .await;
            let Ok((site, fresh, reset)) = polled else {
                continue;
            };
            let key: Arc<str> = Arc::from(site.key.as_str());
            let send = |live: Live| {
                // No subscriber is not an error: nobody is watching.
                let _ = app.all.send((key.clone(), live.clone()));
                let _ = site.live.send(live);
            };
            if reset {
                send(Live::Reset(site.tail().generation));
            }
            for event in fresh {
                send(Live::Event(event));
            }
        }
    }
}

/// The SSE answer carrying every site's live events (no backlog), each
/// tagged with its workspace key as `ws`.
pub(crate) fn stream_all(app: &App) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>> + use<>> {
    let state = (app.all.subscribe(), app.stopping.clone());
    let events = futures_util::stream::unfold(state, |(mut rx, mut stopping)| async move {
        loop {
            let received = tokio::select! {
                received = rx.recv() => received,
                _ = stopping.wait_for(|stop| *stop) => return None,
            };
            let (key, live) = match received {
                Ok(message) => message,
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return None,
            };
            let message = match live {
                Live::Event(event) => {
                    let mut data = serde_json::to_value(&*event).unwrap_or_default();
                    data["ws"] = serde_json::Value::from(&*key);
                    SseEvent::default().event("runtime").data(data.to_string())
                }
                Live::Reset(generation) => SseEvent::default()
                    .event("reset")
                    .data(serde_json::json!({ "ws": &*key, "generation": generation }).to_string()),
            };
            return Some((Ok(message), (rx, stopping)));
        }
    });
    Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

struct Feed {
    rx: broadcast::Receiver<Live>,
    stopping: tokio::sync::watch::Receiver<bool>,
    backlog: VecDeque<Live>,
    last: u64,
}

/// The SSE answer for one client, starting after `after`.
pub(crate) fn stream(
    app: &App,
    site: Arc<Site>,
    after: Option<u64>,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>> + use<>> {
    // Subscribe first, then read the backlog: nothing falls in between.
    let rx = site.live.subscribe();
    // Without `after` the client has just fetched what it shows: only
    // what comes next is sent.
    let backlog: VecDeque<Live> = match after {
        Some(after) => site
            .tail()
            .since(Some(after), BACKLOG)
            .into_iter()
            .map(Live::Event)
            .collect(),
        None => VecDeque::new(),
    };
    let feed = Feed {
        rx,
        stopping: app.stopping.clone(),
        backlog,
        last: after.unwrap_or(0),
    };
    let events = futures_util::stream::unfold(feed, |mut feed| async move {
        loop {
            let next = match feed.backlog.pop_front() {
                Some(live) => live,
                None => {
                    let received = tokio::select! {
                        received = feed.rx.recv() => received,
                        _ = feed.stopping.wait_for(|stop| *stop) => return None,
                    };
                    match received {
                        Ok(live) => live,
                        Err(RecvError::Lagged(_)) => continue,
                        Err(RecvError::Closed) => return None,
                    }
                }
            };
            let message = match next {
                Live::Event(event) if event.seq > feed.last || feed.last == 0 => {
                    feed.last = event.seq;
                    let data = serde_json::to_string(&*event).unwrap_or_default();
                    SseEvent::default()
                        .event("runtime")
                        .id(event.seq.to_string())
                        .data(data)
                }
                Live::Event(_) => continue,
                Live::Reset(generation) => {
                    feed.last = 0;
                    SseEvent::default()
                        .event("reset")
                        .data(format!("{{\"generation\":{generation}}}"))
                }
            };
            return Some((Ok(message), feed));
        }
    });
    Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
