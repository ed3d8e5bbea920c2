//! `millrace compile validate|show|graph` and `millrace modes list|show`.

use std::process::ExitCode;

use serde_json::json;

use super::{
    CompileCommand, Context, DiagFormat, Failure, GraphFormat, ModesCommand, Outcome, print, print_json,
};
use crate::check::hir::Program;
use crate::compile::{Compiled, check_files, diagnostics_json, settings};
use crate::diag::{RenderOptions, render_human};
use crate::lower::{LowerError, lower};
use crate::plan::{DrawFormat, Plan, draw};
use crate::workspace::{Workspace, WorkspaceError};

/// The initialized workspace the command runs in, if any (compiling works
/// without one, unless `--config` names a file to read in one).
fn workspace(cx: &Context) -> Result<Option<Workspace>, WorkspaceError> {
    match cx.open_workspace() {
        Ok(ws) => Ok(Some(ws)),
        Err(e) if cx.config.is_some() => Err(e),
        Err(_) => Ok(None),
    }
}

pub(super) fn run(command: CompileCommand, cx: &Context) -> Outcome {
    match command {
        CompileCommand::Validate(args) => {
            let ws = workspace(cx)?;
            // Files named on the command line are checked, never written into
            // a workspace; without files, a workspace compile writes its plan.
            match (&ws, args.files.is_empty()) {
                (Some(ws), true) => {
                    let outcome = crate::compile::workspace(ws, args.mode.as_deref(), true)?;
                    let mode = outcome.mode.clone();
                    report(
                        outcome.compiled,
                        &mode,
                        outcome.lowered,
                        args.format,
                        args.deny_warnings,
                        cx,
                    )
                }
                _ => {
                    let settings = settings(ws.as_ref())?;
                    let compiled = check_files(ws.as_ref(), &args.files)?;
                    let mode = args.mode.clone().unwrap_or_else(|| settings.default_mode.clone());
                    let lowered = compiled
                        .program
                        .as_ref()
                        .map(|p| lower(p, &compiled.sources, &mode, &settings));
                    report(compiled, &mode, lowered, args.format, args.deny_warnings, cx)
                }
            }
        }
        CompileCommand::Show(args) => {
            let plan = compile_mode(args.mode.as_deref(), cx)?;
            print(&if args.json { plan.to_json() } else { plan.dump() })?;
            Ok(ExitCode::SUCCESS)
        }
        CompileCommand::Graph(args) => {
            let plan = compile_mode(args.mode.as_deref(), cx)?;
            let format = match args.format {
                GraphFormat::Mermaid => DrawFormat::Mermaid,
                GraphFormat::Dot => DrawFormat::Dot,
            };
            print(&draw(&plan, format))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Compiles one mode in memory (workspace loops and settings included) or
/// fails with the rendered diagnostics.
fn compile_mode(mode: Option<&str>, cx: &Context) -> Result<Plan, Failure> {
    compile_mode_with(mode, &[], cx)
}

/// [`compile_mode`] with extra `.mill` files checked after the workspace's.
pub(super) fn compile_mode_with(
    mode: Option<&str>,
    files: &[std::path::PathBuf],
    cx: &Context,
) -> Result<Plan, Failure> {
    let ws = workspace(cx)?;
    let settings = settings(ws.as_ref())?;
    let compiled = check_files(ws.as_ref(), files)?;
    let Some(program) = &compiled.program else {
        eprint!(
            "{}",
            render_human(compiled.diags.iter(), &compiled.sources, options(cx))
        );
        return Err(Failure::Reported(1));
    };
    Ok(lower(
        program,
        &compiled.sources,
        mode.unwrap_or(&settings.default_mode),
        &settings,
    )?)
}

fn options(cx: &Context) -> RenderOptions {
    let width = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(100);
    RenderOptions {
        color: cx.color,
        width,
    }
}

/// Reports every diagnostic and the outcome of lowering.
fn report(
    compiled: Compiled,
    mode: &str,
    lowered: Option<Result<Plan, LowerError>>,
    format: DiagFormat,
    deny_warnings: bool,
    cx: &Context,
) -> Outcome {
    let errors = compiled.diags.error_count() + usize::from(matches!(lowered, Some(Err(_))));
    let warnings = compiled.diags.warning_count();
    let ok = errors == 0 && lowered.is_some() && !(deny_warnings && warnings > 0);
    match format {
        DiagFormat::Json => {
            let mut value = diagnostics_json(&compiled, mode, lowered.as_ref());
            value["ok"] = json!(ok);
            print_json(&value)?;
        }
        DiagFormat::Human => {
            eprint!(
                "{}",
                render_human(compiled.diags.iter(), &compiled.sources, options(cx))
            );
            if let Some(Err(e)) = &lowered {
                eprint!("{}", super::render_diagnostic(e, cx.color));
            }
            let summary = summary(errors, warnings);
            match lowered.as_ref().and_then(|l| l.as_ref().ok()) {
                Some(plan) if ok => print(&format!(
                    "ok: mode {} compiled to {}{summary}\n",
                    plan.mode, plan.plan_id
                ))?,
                _ => eprintln!("error: compile failed{summary}"),
            }
        }
    }
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn summary(errors: usize, warnings: usize) -> String {
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    match (errors, warnings) {
        (0, 0) => String::new(),
        (0, w) => format!(" ({})", plural(w, "warning")),
        (e, 0) => format!(" ({})", plural(e, "error")),
        (e, w) => format!(" ({}, {})", plural(e, "error"), plural(w, "warning")),
    }
}

pub(super) fn modes(command: ModesCommand, cx: &Context) -> Outcome {
    let ws = workspace(cx)?;
    let settings = settings(ws.as_ref())?;
    let compiled = check_files(ws.as_ref(), &[])?;
    let Some(program) = &compiled.program else {
        eprint!(
            "{}",
            render_human(compiled.diags.iter(), &compiled.sources, options(cx))
        );
        return Err(Failure::Reported(1));
    };
    match command {
        ModesCommand::List(flag) => list_modes(program, flag.json),
        ModesCommand::Show(args) => {
            let plan = lower(program, &compiled.sources, &args.mode, &settings)?;
            let alias_of = program.aliases.get(&args.mode).cloned();
            show_mode(&plan, alias_of, args.json)
        }
    }
}
fn list_modes(program: &Program, json: bool) -> Outcome {
    let mut modes: Vec<&crate::check::hir::Mode> = program.modes.iter().collect();
    modes.sort_by(|a, b| a.name.cmp(&b.name));
    if json {
        let list: Vec<_> = modes
            .iter()
            .map(|m| {
                let loops: serde_json::Map<String, serde_json::Value> = m
                    .planes
                    .iter()
                    .map(|(p, l)| (p.to_string(), json!(program.loops[*l].name)))
                    .collect();
                json!({"mode": m.name, "loops": loops})
            })
            .collect();
        print_json(&json!({"modes": list, "aliases": program.aliases}))?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut text = String::new();
    for m in modes {
        let loops: Vec<String> = m
            .planes
            .iter()
            .map(|(p, l)| format!("{p}={}", program.loops[*l].name))
            .collect();
        text.push_str(&format!("{}: {}\n", m.name, loops.join(" ")));
    }
    for (alias, target) in &program.aliases {
        text.push_str(&format!("{alias} -> {target} (alias)\n"));
    }
    print(&text)?;
    Ok(ExitCode::SUCCESS)
}

fn show_mode(plan: &Plan, alias_of: Option<String>, json: bool) -> Outcome {
    let nodes: Vec<_> = plan
        .nodes
        .iter()
        .map(|n| {
            json!({"plane": n.plane, "node": n.name, "stage": plan.stages[n.stage].name, "runner": n.runner,
                   "model": n.model, "effort": n.effort, "timeout_seconds": n.timeout_seconds, "entrypoint": n.entrypoint})
        })
        .collect();
    if json {
        let loops: Vec<_> = plan
            .loops
            .iter()
            .map(|l| json!({"plane": l.plane, "loop": l.name}))
            .collect();
        print_json(
            &json!({"mode": plan.mode, "alias_of": alias_of, "plan_id": plan.plan_id, "loops": loops,
            "concurrency": plan.concurrency, "nodes": nodes,
            "triggers": plan.triggers.iter().map(|t| &t.rule_id).collect::<Vec<_>>()}),
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut text = String::new();
    if let Some(target) = alias_of {
        text.push_str(&format!("alias_of: {target}\n"));
    }
    text.push_str(&format!("mode: {}\nplan_id: {}\n", plan.mode, plan.plan_id));
    for l in plan.loops.iter() {
        text.push_str(&format!("loop.{}: {}\n", l.plane, l.name));
    }
    for n in plan.nodes.iter() {
        text.push_str(&format!(
            "node: {}/{} runner={} model={} effort={} timeout={}s\n",
            n.plane,
            n.name,
            n.runner,
            n.model.as_deref().unwrap_or("none"),
            n.effort.map(|e| e.as_str()).unwrap_or("none"),
            n.timeout_seconds
        ));
    }
    for t in &plan.triggers {
        text.push_str(&format!("trigger: {}\n", t.rule_id));
    }
    print(&text)?;
    Ok(ExitCode::SUCCESS)
}
