//! The routes: which URL answers with what, and the guards every answer
//! passes (the host check, the security headers).
//!
//! Input: HTTP requests. Output: pages, JSON, artifact text, the live
//! stream, control answers. Reads run on the blocking pool, so a slow disk
//! never stalls the live stream.
//!
//! Invariants: every workspace key and id from a URL is checked before
//! use (an unknown or invalid one is a 404 with a code, as a page or as
//! JSON); an unknown path is a 404 with a code; when bound to loopback,
//! a request whose `Host` is not this server is refused (a page of another
//! site cannot reach the dashboard through DNS rebinding).

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::control::{self, RetryBody};
use super::error::ServeError;
use super::history::{self, RunFilter};
use super::pages::{self, CSP};
use super::sites::{App, Site, shorten};
use super::{api, flow, live};
use crate::model::ids::check_id;

type Shared = State<Arc<App>>;

/// The whole router.
pub(crate) fn router(app: Arc<App>, allowed_hosts: Option<Vec<String>>) -> Router {
    let api = Router::new()
        .route("/api/workspaces", get(workspaces))
        .route(
            "/api/events/stream",
            get(|s: Shared| async move { live::stream_all(&s).into_response() }),
        )
        .route("/api/w/{ws}/overview", get(overview))
        .route("/api/w/{ws}/status", get(status))
        .route("/api/w/{ws}/doctor", get(doctor))
        .route("/api/w/{ws}/queues", get(queues))
        .route("/api/w/{ws}/plan", get(plan))
        .route("/api/w/{ws}/flow", get(flow_json))
        .route("/api/w/{ws}/runs", get(runs))
        .route("/api/w/{ws}/runs/{run}", get(run))
        .route("/api/w/{ws}/runs/{run}/artifacts/{*name}", get(artifact))
        .route("/api/w/{ws}/items/{id}", get(item))
        .route("/api/w/{ws}/events", get(events))
        .route("/api/w/{ws}/events/stream", get(stream))
        .route("/api/w/{ws}/control/{action}", post(control_route));
    let pages = Router::new()
        .route(
            "/",
            get(|s: Shared| async move { pages::shell(&s, "home", None, None, "Overview") }),
        )
        .route("/w/{ws}", get(page_overview))
        .route("/w/{ws}/flow", get(page_flow))
        .route("/w/{ws}/runs", get(page_runs))
        .route("/w/{ws}/runs/{run}", get(page_run))
        .route("/w/{ws}/items/{id}", get(page_item))
        .route("/w/{ws}/events", get(page_events))
        .route(
            "/assets/{name}",
            get(|Path(name): Path<String>| async move { pages::asset(&name) }),
        );
    api.merge(pages)
        .fallback(fallback)
        .with_state(app)
        .layer(middleware::from_fn(move |req: Request, next: Next| {
            let allowed = allowed_hosts.clone();
            async move { guard(allowed, req, next).await }
        }))
}

/// Refuses a foreign `Host`; adds the security headers.
async fn guard(allowed: Option<Vec<String>>, req: Request, next: Next) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let mut response = match allowed {
        Some(hosts) if !hosts.iter().any(|h| h.eq_ignore_ascii_case(&host)) => {
            let e = ServeError::NotFound(format!(
                "this server does not answer for host `{}`",
                shorten(&host)
            ));
            (StatusCode::MISDIRECTED_REQUEST, Json(e.body())).into_response()
        }
        _ => next.run(req).await,
    };
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

async fn fallback(State(app): Shared, req: Request) -> Response {
    let path = req.uri().path().to_string();
    let e = ServeError::NotFound(format!("no page or API at `{}`", shorten(&path)));
    if path.starts_with("/api/") {
        e.into_response()
    } else {
        pages::error_page(&app, None, &e)
    }
}

/// Runs a read on the blocking pool.
async fn read<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ServeError> + Send + 'static,
) -> Result<T, ServeError> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| {
        Err(ServeError::ServerFailed {
            detail: e.to_string(),
        })
    })
}

/// A JSON read of one site.
async fn site_json(
    app: &App,
    key: &str,
    f: impl FnOnce(&Site) -> Result<Value, ServeError> + Send + 'static,
) -> Result<Json<Value>, ServeError> {
    let site = app.site(key)?;
    read(move || f(&site)).await.map(Json)
}

fn checked(what: &str, id: &str) -> Result<(), ServeError> {
    check_id(what, id).map_err(|e| ServeError::NotFound(e.to_string()))
}

async fn workspaces(State(app): Shared) -> Json<Value> {
    let list: Vec<Value> = app
        .sites
        .iter()
        .map(|s| json!({ "key": s.key, "root": s.ws.root(), "initialized": s.ws.is_initialized() }))
        .collect();
    Json(json!({ "workspaces": list, "control": app.token.is_some() }))
}

async fn overview(State(app): Shared, Path(ws): Path<String>) -> Result<Json<Value>, ServeError> {
    site_json(&app, &ws, api::overview).await
}

async fn status(State(app): Shared, Path(ws): Path<String>) -> Result<Json<Value>, ServeError> {
    site_json(&app, &ws, api::status_json).await
}

async fn doctor(State(app): Shared, Path(ws): Path<String>) -> Result<Json<Value>, ServeError> {
    site_json(&app, &ws, api::doctor_json).await
}

#[derive(Deserialize)]
struct Limit {
    limit: Option<usize>,
    after: Option<u64>,
}

async fn queues(
    State(app): Shared,
    Path(ws): Path<String>,
    Query(q): Query<Limit>,
) -> Result<Json<Value>, ServeError> {
    let limit = q.limit.unwrap_or(200).min(10_000);
    site_json(&app, &ws, move |s| api::queues(s, limit)).await
}

async fn plan(State(app): Shared, Path(ws): Path<String>) -> Result<Json<Value>, ServeError> {
    site_json(&app, &ws, api::plan_json).await
}

async fn flow_json(State(app): Shared, Path(ws): Path<String>) -> Result<Json<Value>, ServeError> {
    site_json(&app, &ws, |site| {
        api::require(site)?;
        let plan = match crate::workspace::plan_store::load_plan(&site.ws) {
            Ok(Some(plan)) => plan,
            Ok(None) => {
                return Err(ServeError::NotFound(
                    "no compiled plan yet: run `millrace compile validate`".into(),
                ));
            }
            Err(e) => {
                return Err(ServeError::WorkspaceUnreadable {
                    key: site.key.clone(),
                    detail: e.to_string(),
                });
            }
        };
        let report = crate::runtime::status::report(&site.ws);
        let tail = site.tail();
        let taken = tail.taken_counts();
        let graphs = flow::graphs(&plan, &report.active_runs, report.closure.attempts, &taken);
        Ok(json!({
            "plan_id": plan.plan_id, "mode": plan.mode, "running_plan_id": report.running_plan_id,
            "decisions_counted": tail.decisions.len(), "planes": graphs, "problems": report.problems,
        }))
    })
    .await
}

async fn runs(
    State(app): Shared,
    Path(ws): Path<String>,
    Query(filter): Query<RunFilter>,
) -> Result<Json<Value>, ServeError> {
    site_json(&app, &ws, move |s| history::list(s, &filter)).await
}

async fn run(State(app): Shared, Path((ws, run)): Path<(String, String)>) -> Result<Json<Value>, ServeError> {
    checked("run id", &run)?;
    site_json(&app, &ws, move |s| history::run(s, &run)).await
}

async fn artifact(
    State(app): Shared,
    Path((ws, run, name)): Path<(String, String, String)>,
) -> Result<Response, ServeError> {
    checked("run id", &run)?;
    let site = app.site(&ws)?;
    let (text, cut) = read(move || history::artifact(&site, &run, &name)).await?;
    let mut response = text.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(
        "x-millrace-truncated",
        HeaderValue::from_static(if cut { "true" } else { "false" }),
    );
    Ok(response)
}

async fn item(State(app): Shared, Path((ws, id)): Path<(String, String)>) -> Result<Json<Value>, ServeError> {
    checked("work item id", &id)?;
    site_json(&app, &ws, move |s| history::item(s, &id)).await
}

async fn events(
    State(app): Shared,
    Path(ws): Path<String>,
    Query(q): Query<Limit>,
) -> Result<Json<Value>, ServeError> {
    let site = app.site(&ws)?;
    Ok(Json(api::events(
        &site,
        q.after,
        q.limit.unwrap_or(200).min(2000),
    )))
}

async fn stream(
    State(app): Shared,
    Path(ws): Path<String>,
    Query(q): Query<Limit>,
    headers: HeaderMap,
) -> Result<Response, ServeError> {
    let site = app.site(&ws)?;
    let last_id = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    Ok(live::stream(&app, site, last_id.or(q.after)).into_response())
}

async fn control_route(
    State(app): Shared,
    Path((ws, action)): Path<(String, String)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ServeError> {
    control::authorize(&app, &headers)?;
    let site = app.site(&ws)?;
    let retry: RetryBody = if body.iter().all(u8::is_ascii_whitespace) {
        RetryBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ServeError::ControlFailed(format!("bad body: {e}")))?
    };
    read(move || control::issue(&site, &action, retry))
        .await
        .map(Json)
}

/// A page of one site; `arg` is an id the page is about (checked).
fn site_page(app: &App, ws: &str, view: &str, arg: Option<(&str, &str)>, title: &str) -> Response {
    if let Err(e) = app.site(ws) {
        return pages::error_page(app, None, &e);
    }
    if let Some((what, id)) = arg
        && let Err(e) = checked(what, id)
    {
        return pages::error_page(app, Some(ws), &e);
    }
    pages::shell(app, view, Some(ws), arg.map(|(_, id)| id), title).into_response()
}

async fn page_overview(State(app): Shared, Path(ws): Path<String>) -> Response {
    site_page(&app, &ws, "workspace", None, &ws)
}

async fn page_flow(State(app): Shared, Path(ws): Path<String>) -> Response {
    site_page(&app, &ws, "flow", None, &format!("Flow · {ws}"))
}

async fn page_runs(State(app): Shared, Path(ws): Path<String>) -> Response {
    site_page(&app, &ws, "runs", None, &format!("Runs · {ws}"))
}

async fn page_run(State(app): Shared, Path((ws, run)): Path<(String, String)>) -> Response {
    site_page(&app, &ws, "run", Some(("run id", &run)), &format!("Run {run}"))
}

async fn page_item(State(app): Shared, Path((ws, id)): Path<(String, String)>) -> Response {
    site_page(
        &app,
        &ws,
        "item",
        Some(("work item id", &id)),
        &format!("Item {id}"),
    )
}

async fn page_events(State(app): Shared, Path(ws): Path<String>) -> Response {
    site_page(&app, &ws, "events", None, &format!("Events · {ws}"))
}
