//! `millrace serve`: starts the dashboard and says where it is.
//!
//! Input: the workspaces (`--workspace`, repeatable, else the global one or
//! the nearest), the address, `--allow-control`, `--open`. Output: the URL,
//! the served workspaces and (with controls) the token on stdout, a warning
//! on stderr when the address is not loopback; then serving until Ctrl-C.

use std::process::ExitCode;

use super::{Context, Outcome, ServeArgs, print_fields};
use crate::serve::{self, Listening, ServeOptions};
use crate::workspace::Workspace;

pub(super) fn run(args: ServeArgs, cx: &Context) -> Outcome {
    let mut workspaces: Vec<Workspace> = Vec::new();
    let roots = if args.workspaces.is_empty() {
        vec![Workspace::locate(cx.cli_workspace.as_deref())?]
    } else {
        args.workspaces
            .iter()
            .map(|p| Workspace::locate(Some(p)))
            .collect::<Result<_, _>>()?
    };
    for ws in roots {
        // A missing or uninitialized workspace is served too: its pages
        // show what is wrong, and it may be initialized while served.
        if workspaces.iter().all(|w| w.root() != ws.root()) {
            workspaces.push(ws);
        }
    }
    let options = ServeOptions {
        workspaces,
        bind: args.bind,
        allow_control: args.allow_control,
    };
    let open = args.open;
    let mut printed = Ok(());
    serve::serve(options, |listening| {
        printed = announce(listening, open);
    })?;
    printed?;
    Ok(ExitCode::SUCCESS)
}

fn announce(l: &Listening, open: bool) -> Result<(), super::OutputError> {
    if !l.addr.ip().is_loopback() {
        eprintln!(
            "warning: serving on {} is reachable from other machines; the dashboard shows your workspaces to anyone who can connect",
            l.addr
        );
    }
    // The token rides in the fragment, which browsers never send.
    let link = match &l.token {
        Some(token) => format!("{}#token={token}", l.url),
        None => l.url.clone(),
    };
    let mut fields: Vec<(String, String)> = vec![("url".into(), l.url.clone())];
    for (key, root) in &l.sites {
        fields.push(("workspace".into(), format!("{key} {root}")));
    }
    fields.push((
        "control".into(),
        if l.token.is_some() { "allowed" } else { "read-only" }.into(),
    ));
    if let Some(token) = &l.token {
        fields.push(("token".into(), token.clone()));
        fields.push(("open".into(), link.clone()));
    }
    print_fields(&fields)?;
    if open {
        // Best effort: a machine without a desktop still serves.
        let _ = std::process::Command::new("xdg-open")
            .arg(&link)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
    }
    Ok(())
}
