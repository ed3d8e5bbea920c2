//! Parity with the reference's operator surface, one module per part:
//! `upgrade`, skills moving in and out of a workspace, the reference's
//! command names, running as a service, and the agent skills.

mod aliases;
mod deploy;
mod skills;
mod skills_commands;
mod upgrade;

use crate::workspace::{Ws, stdout};

/// Runs a command in `ws` and returns (exit code, stdout, stderr) with the
/// workspace root written as `/ws`, so two workspaces compare equal.
pub fn outcome(ws: &Ws, args: &[&str]) -> (Option<i32>, String, String) {
    let out = ws.run(args);
    let root = ws.root.display().to_string();
    let clean = |s: String| s.replace(&root, "/ws");
    (
        out.status.code(),
        clean(stdout(&out)),
        clean(crate::workspace::stderr(&out)),
    )
}
