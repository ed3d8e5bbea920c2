//! The pages: a small server-rendered shell per view (title, navigation,
//! the view's name and arguments as data attributes) that the embedded
//! script fills from the JSON API, the embedded assets, and the error page
//! for a URL that names nothing.
//!
//! Input: the view, the site and the URL's arguments. Output: HTML with
//! every interpolated value escaped; `app.js` and `style.css` from the
//! binary.
//!
//! Invariants: every answer carries a content security policy that allows
//! only this server's own script, styles and connections, so nothing an
//! agent wrote (a title, a last message) can run as script; the pages work
//! without any asset from elsewhere.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use super::error::ServeError;
use super::sites::App;

const APP_JS: &str = include_str!("assets/app.js");
const STYLE_CSS: &str = include_str!("assets/style.css");
const FAVICON_SVG: &str = include_str!("assets/favicon.svg");

/// The security headers every answer gets.
pub(crate) const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Escapes text for HTML content and attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// One page: `view` names what the script renders, `ws` and `arg` what.
pub(crate) fn shell(app: &App, view: &str, ws: Option<&str>, arg: Option<&str>, title: &str) -> Html<String> {
    Html(page(
        app,
        view,
        ws,
        arg,
        title,
        "<p class=\"loading\">Loading…</p>",
    ))
}

fn page(app: &App, view: &str, ws: Option<&str>, arg: Option<&str>, title: &str, body: &str) -> String {
    let mut nav = String::new();
    for site in &app.sites {
        let key = escape(&site.key);
        let current = if ws == Some(site.key.as_str()) {
            " current"
        } else {
            ""
        };
        nav.push_str(&format!(
            "<span class=\"site{current}\"><a href=\"/w/{key}\">{key}</a> \
             <a href=\"/w/{key}/flow\">Flow</a> <a href=\"/w/{key}/runs\">Runs</a> \
             <a href=\"/w/{key}/events\">Events</a></span>"
        ));
    }
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · Millrace</title><link rel=\"icon\" href=\"/assets/favicon.svg\">\
         <link rel=\"stylesheet\" href=\"/assets/style.css\"></head>\
         <body data-view=\"{view}\" data-ws=\"{ws}\" data-arg=\"{arg}\" data-control=\"{control}\">\
         <header><a class=\"brand\" href=\"/\">Millrace</a><nav>{nav}</nav>\
         <span id=\"live\" class=\"live off\" title=\"live updates\">offline</span></header>\
         <main id=\"view\">{body}</main><div id=\"controls-token\"></div>\
         <script src=\"/assets/app.js\"></script></body></html>\n",
        title = escape(title),
        view = escape(view),
        ws = escape(ws.unwrap_or_default()),
        arg = escape(arg.unwrap_or_default()),
        control = app.token.is_some(),
    )
}

/// A page that names nothing: the error panel, with its code, and the
/// error's status.
pub(crate) fn error_page(app: &App, ws: Option<&str>, error: &ServeError) -> Response {
    let panel = format!(
        "<section class=\"panel error\" data-code=\"{code}\"><h2>{message}</h2>\
         <p class=\"code\">{code}</p><p class=\"help\">{help}</p></section>",
        code = escape(&error.code_str()),
        message = escape(&error.to_string()),
        help = escape(&error.help_str()),
    );
    let html = page(app, "error", ws, None, "Not found", &panel);
    (error.status(), Html(html)).into_response()
}

/// `/assets/{name}`.
pub(crate) fn asset(name: &str) -> Response {
    let (body, kind) = match name {
        "app.js" => (APP_JS, "text/javascript; charset=utf-8"),
        "style.css" => (STYLE_CSS, "text/css; charset=utf-8"),
        "favicon.svg" => (FAVICON_SVG, "image/svg+xml"),
        _ => {
            let e = ServeError::NotFound(format!("no asset `{}`", super::sites::shorten(name)));
            return e.into_response();
        }
    };
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}
