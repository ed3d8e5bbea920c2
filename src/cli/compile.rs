//! `millrace compile validate|show|graph` and `millrace modes list|show`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde_json::json;

use super::{
    CompileCommand, Context, DiagFormat, Failure, GraphFormat, ModesCommand, Outcome, print, print_json,
};
use crate::check::hir::Program;
use crate::diag::{Diagnostics, Layer, RenderOptions, Sources, render_human, render_json};
use crate::lower::{LowerError, PlanSettings, lower};
use crate::plan::{DrawFormat, Plan, draw};

/// The mode compiled when none is named.
pub const DEFAULT_MODE: &str = "default_codex";

/// Everything one compile produced.
pub struct Compiled {
    pub sources: Sources,
    pub diags: Diagnostics,
    pub program: Option<Program>,
}

/// A `.mill` file named on the command line could not be read.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("cannot read `{path}`: {reason}")]
#[diagnostic(code(mill::cli::unreadable_file), help("check the path and its permissions"))]
pub struct UnreadableFile {
    pub path: String,
    pub reason: String,
}

/// Parses and checks the shipped loops plus `files` (in the order given).
pub fn compile_files(files: &[PathBuf]) -> Result<Compiled, UnreadableFile> {
    let mut sources = Sources::new();
    crate::check::add_builtin_sources(&mut sources);
    for path in files {
        let text = std::fs::read_to_string(path).map_err(|e| UnreadableFile {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        sources.add(display_path(path), text, Layer::Workspace);
    }
    let mut diags = Diagnostics::new();
    let program = crate::check::check_sources(&sources, &mut diags);
    diags.sort();
    Ok(Compiled {
        sources,
        diags,
        program,
    })
}

/// A path as the user will recognize it: relative to the current directory
/// when it is inside it.
fn display_path(path: &Path) -> String {
    let cwd = std::env::current_dir().ok();
    let shown = cwd
        .as_deref()
        .and_then(|c| path.strip_prefix(c).ok())
        .unwrap_or(path);
    shown.display().to_string()
}

pub(super) fn run(command: CompileCommand, cx: &Context) -> Outcome {
    match command {
        CompileCommand::Validate(args) => {
            let compiled = compile_files(&args.files)?;
            let mode = args.mode.as_deref().unwrap_or(DEFAULT_MODE);
            validate(
                compiled,
                mode,
                &PlanSettings::default(),
                args.format,
                args.deny_warnings,
                cx,
            )
        }
        CompileCommand::Show(args) => {
            let plan = compile_mode(args.mode.as_deref(), cx)?;
            if args.json {
                print(&plan.to_json())?;
            } else {
                print(&plan.dump())?;
            }
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

/// Compiles one mode or fails with the rendered diagnostics.
fn compile_mode(mode: Option<&str>, cx: &Context) -> Result<Plan, Failure> {
    let compiled = compile_files(&[])?;
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
        mode.unwrap_or(DEFAULT_MODE),
        &PlanSettings::default(),
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

/// Reports every diagnostic and, when the sources are clean, lowers `mode`.
pub fn validate(
    compiled: Compiled,
    mode: &str,
    settings: &PlanSettings,
    format: DiagFormat,
    deny_warnings: bool,
    cx: &Context,
) -> Outcome {
    let Compiled {
        sources,
        diags,
        program,
    } = compiled;
    let lowered: Option<Result<Plan, LowerError>> =
        program.as_ref().map(|p| lower(p, &sources, mode, settings));
    let errors = diags.error_count() + usize::from(matches!(lowered, Some(Err(_))));
    let warnings = diags.warning_count();
    let ok = errors == 0 && !(deny_warnings && warnings > 0);
    let plan = lowered.as_ref().and_then(|l| l.as_ref().ok());
    match format {
        DiagFormat::Json => {
            let mut list = render_json(diags.iter(), &sources);
            if let (Some(Err(e)), Some(array)) = (&lowered, list.as_array_mut()) {
                array.push(
                    json!({"code": crate::diag::code_of(e), "severity": "error", "message": e.to_string(),
                    "help": miette::Diagnostic::help(e).map(|h| h.to_string())}),
                );
            }
            print_json(&json!({
                "ok": ok, "mode": mode, "plan_id": plan.map(|p| &p.plan_id),
                "errors": errors, "warnings": warnings, "diagnostics": list,
            }))?;
        }
        DiagFormat::Human => {
            eprint!("{}", render_human(diags.iter(), &sources, options(cx)));
            if let Some(Err(e)) = &lowered {
                eprint!("{}", super::render_diagnostic(e, cx.color));
            }
            let summary = summary(errors, warnings);
            match plan {
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
    let compiled = compile_files(&[])?;
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
            let plan = lower(program, &compiled.sources, &args.mode, &PlanSettings::default())?;
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
