//! `millrace doctor`: integrity checks; exit 0 iff no errors.

use std::process::ExitCode;

use super::{Context, JsonFlag, Outcome, print, print_json};
use crate::runtime::doctor::{self, Severity};
use crate::workspace::Workspace;

pub(super) fn run(args: &JsonFlag, cx: &Context) -> Outcome {
    let ws = Workspace::open(cx.cli_workspace.as_deref())?;
    let report = doctor::run(&ws);
    if args.json {
        print_json(&report)?;
    } else {
        let mut text = format!(
            "ok: {}\nerrors: {}\nwarnings: {}\n",
            report.ok, report.errors, report.warnings
        );
        for f in &report.findings {
            let level = match f.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            text.push_str(&format!("{level}: {}", f.code));
            if let Some(path) = &f.path {
                text.push_str(&format!(" {path}"));
            }
            text.push_str(&format!(" {}", f.message));
            if let Some(fix) = &f.fix {
                text.push_str(&format!(" (fix: {fix})"));
            }
            text.push('\n');
        }
        print(&text)?;
    }
    Ok(if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
