//! `millrace skills ls|show|search|create|improve|install|export|promote`
//! and the learning-request intake `queue add-learning-request` shares.
//!
//! `install`, `export` and `promote` move whole skill directories (the work
//! is `workspace::skills::share`'s) and log each move in
//! `skills/skill_operations.jsonl`.
//!
//! Intake refuses a request the mode would never run (no learning plane, or
//! a target stage its learning loop lacks) instead of queueing it to sit
//! forever; with a daemon running, its mailbox carries the request and the
//! daemon checks it against the plan it runs.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use jiff::Timestamp;
use serde_json::json;

use super::{
    Context, Failure, Outcome, SkillCreateArgs, SkillIdArgs, SkillImproveArgs, SkillSearchArgs,
    SkillsCommand, print, print_fields, print_json,
};
use crate::config::Config;
use crate::model::{LearningRequest, WorkDocument};
use crate::plan::{LearningAction, Plane, WorkItemKind};
use crate::workspace::lock::{self, LockState};
use crate::workspace::mailbox::{self, Command};
use crate::workspace::queue::{QueueError, Queues};
use crate::workspace::skills::{self, Skill, share};
use crate::workspace::{Workspace, fsx, plan_store};

/// Why a skills command cannot do what it was asked.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub(super) enum SkillsError {
    #[error("no installed skill has the id `{0}`")]
    #[diagnostic(
        code(mill::cli::skill_not_found),
        help("`millrace skills ls` lists the installed skills")
    )]
    NotFound(String),

    #[error("the search phrase is empty")]
    #[diagnostic(code(mill::cli::empty_query), help("pass a word or phrase to look for"))]
    EmptyQuery,

    #[error("the request text is empty")]
    #[diagnostic(
        code(mill::cli::empty_prompt),
        help("say in a sentence what the skill should teach")
    )]
    EmptyPrompt,

    /// The mode would never run the request.
    #[error("learning request refused: {reason}")]
    #[diagnostic(code(mill::cli::learning_refused), help("{help}"))]
    Refused { reason: String, help: String },
}

pub(super) fn run(command: SkillsCommand, cx: &Context) -> Outcome {
    let ws = Workspace::open(cx.cli_workspace.as_deref())?;
    match command {
        SkillsCommand::Ls(args) => ls(&ws, args.json),
        SkillsCommand::Show(args) => show(&ws, &args),
        SkillsCommand::Search(args) => search(&ws, &args),
        SkillsCommand::Create(args) => create(&ws, &args, cx),
        SkillsCommand::Improve(args) => improve(&ws, &args, cx),
        SkillsCommand::Share(SkillsShareCommand::Install(args)) => install(&ws, &args),
        SkillsCommand::Share(SkillsShareCommand::Export(args)) => export(&ws, &args),
        SkillsCommand::Share(SkillsShareCommand::Promote(args)) => promote(&ws, &args),
    }
}

/// Moving whole skills in and out of the workspace.
#[derive(Debug, Subcommand)]
pub enum SkillsShareCommand {
    /// Install a skill from a directory, its SKILL.md, or a .tar archive of the directory.
    Install(SkillInstallArgs),
    /// Write an installed skill to a .tar archive.
    Export(SkillExportArgs),
    /// Copy an installed skill into a Millrace source checkout's shipped skills.
    Promote(SkillPromoteArgs),
}

#[derive(Debug, Args)]
pub struct SkillInstallArgs {
    /// A directory with a SKILL.md at its top, that SKILL.md, or a .tar archive of such a directory.
    pub source: PathBuf,
    /// Replace the installed skill that has the same id.
    #[arg(long, visible_alias = "update")]
    pub force: bool,
    /// Print one JSON value instead of `key: value` lines.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SkillExportArgs {
    /// A skill id from `millrace skills ls`.
    pub skill_id: String,
    /// Where to write the archive (its extension becomes `.tar`; default:
    /// `<workspace root>/<id>.tar`). An existing file is never replaced.
    #[arg(long, value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// Print one JSON value instead of `key: value` lines.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SkillPromoteArgs {
    /// A skill id from `millrace skills ls`.
    pub skill_id: String,
    /// The root of the Millrace source checkout (default: the nearest one
    /// above the workspace or the current directory).
    #[arg(long, value_name = "DIR")]
    pub to: Option<PathBuf>,
    /// Print one JSON value instead of `key: value` lines.
    #[arg(long)]
    pub json: bool,
}

fn install(ws: &Workspace, args: &SkillInstallArgs) -> Outcome {
    let bundle = share::load(&args.source)?;
    let installed = share::install(ws, &bundle, args.force)?;
    let source = absolute(&args.source);
    let dir = installed.dir.display().to_string();
    share::log_operation(ws, "install", &bundle.id, &source, &dir)?;
    if args.json {
        print_json(
            &json!({"installed_skill": bundle.id, "path": dir, "replaced": installed.replaced,
            "files": bundle.files.len()}),
        )?;
    } else {
        print_fields(&[
            ("installed_skill", bundle.id.as_str()),
            ("path", &dir),
            ("replaced", if installed.replaced { "true" } else { "false" }),
            ("files", &bundle.files.len().to_string()),
        ])?;
    }
    Ok(ExitCode::SUCCESS)
}

fn export(ws: &Workspace, args: &SkillExportArgs) -> Outcome {
    let skill = installed(ws, &args.skill_id)?;
    let output = match &args.output {
        Some(path) => PathBuf::from(absolute(&path.with_extension("tar"))),
        None => ws.root().join(format!("{}.tar", skill.id)),
    };
    let files = share::export(ws, &skill, &output)?;
    let shown = output.display().to_string();
    share::log_operation(ws, "export", &skill.id, &skill.path, &shown)?;
    if args.json {
        print_json(&json!({"exported_skill": shown, "skill_id": skill.id, "files": files}))?;
    } else {
        print_fields(&[("exported_skill", shown.as_str()), ("files", &files.to_string())])?;
    }
    Ok(ExitCode::SUCCESS)
}

fn promote(ws: &Workspace, args: &SkillPromoteArgs) -> Outcome {
    let skill = installed(ws, &args.skill_id)?;
    let cwd = std::env::current_dir().unwrap_or_else(|_| ws.root().to_path_buf());
    let checkout = share::find_checkout(args.to.as_deref(), &[ws.root(), &cwd])?;
    let dir = share::promote(ws, &skill, &checkout)?;
    let shown = dir.display().to_string();
    share::log_operation(ws, "promote", &skill.id, &skill.path, &shown)?;
    let next = "rebuild millrace; `millrace upgrade --apply` then deploys the skill into other workspaces";
    if args.json {
        print_json(&json!({"promoted_skill": skill.id, "path": shown, "next": next}))?;
    } else {
        print_fields(&[
            ("promoted_skill", skill.id.as_str()),
            ("path", &shown),
            ("next", next),
        ])?;
    }
    Ok(ExitCode::SUCCESS)
}

fn installed(ws: &Workspace, id: &str) -> Result<Skill, Failure> {
    Ok(skills::find(ws, id)?.ok_or_else(|| SkillsError::NotFound(id.to_string()))?)
}

/// `path` made absolute (resolved when it exists), for records.
fn absolute(path: &std::path::Path) -> String {
    let path = fsx::canonical(path).unwrap_or_else(|| {
        std::env::current_dir()
            .map(|cwd| cwd.join(path))
            .unwrap_or_else(|_| path.to_path_buf())
    });
    path.display().to_string()
}

fn ls(ws: &Workspace, json: bool) -> Outcome {
    let all = skills::list(ws)?;
    if json {
        print_json(&all)?;
        return Ok(ExitCode::SUCCESS);
    }
    print(&table(&all))?;
    Ok(ExitCode::SUCCESS)
}

/// One line per skill: id, the stages it is for, its path.
fn table(all: &[Skill]) -> String {
    let width = all.iter().map(|s| s.id.len()).max().unwrap_or(0);
    let mut text = String::new();
    for s in all {
        let stages = if s.stages.is_empty() {
            "-".to_string()
        } else {
            s.stages.join(",")
        };
        text.push_str(&format!("{:<width$}  {stages:<14}  {}\n", s.id, s.path));
    }
    text
}

fn show(ws: &Workspace, args: &SkillIdArgs) -> Outcome {
    let skill =
        skills::find(ws, &args.skill_id)?.ok_or_else(|| SkillsError::NotFound(args.skill_id.clone()))?;
    let path = skills::skills_dir(ws).join(&skill.path);
    let text = fsx::read_text(&path)?;
    if args.json {
        print_json(&json!({"skill": skill, "absolute_path": path, "text": text}))?;
        return Ok(ExitCode::SUCCESS);
    }
    print_fields(&[
        ("skill_id", skill.id.as_str()),
        ("path", &path.display().to_string()),
        ("stages", &skill.stages.join(", ")),
        ("description", skill.description.as_deref().unwrap_or("-")),
    ])?;
    print(&format!("\n{text}"))?;
    Ok(ExitCode::SUCCESS)
}

fn search(ws: &Workspace, args: &SkillSearchArgs) -> Outcome {
    let query = args.query.trim().to_lowercase();
    if query.is_empty() {
        return Err(SkillsError::EmptyQuery.into());
    }
    let root = skills::skills_dir(ws);
    let mut hits = Vec::new();
    for skill in skills::list(ws)? {
        let text = fsx::read_text(&root.join(&skill.path))?;
        let haystack = format!("{}\n{}", skill.id, text).to_lowercase();
        if haystack.contains(&query) {
            hits.push(skill);
        }
    }
    if args.json {
        print_json(&hits)?;
    } else {
        print(&table(&hits))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn create(ws: &Workspace, args: &SkillCreateArgs, cx: &Context) -> Outcome {
    let prompt = args.prompt.trim();
    if prompt.is_empty() {
        return Err(SkillsError::EmptyPrompt.into());
    }
    let request = new_request(LearningAction::Create, "Create a skill", prompt, None);
    submit(ws, request, args.mode.as_deref(), args.json, cx)
}

fn improve(ws: &Workspace, args: &SkillImproveArgs, cx: &Context) -> Outcome {
    let skill =
        skills::find(ws, &args.skill_id)?.ok_or_else(|| SkillsError::NotFound(args.skill_id.clone()))?;
    let summary = args.note.clone().unwrap_or_else(|| {
        format!(
            "Improve the installed skill {} from the evidence of recent runs.",
            skill.id
        )
    });
    let title = format!("Improve {}", skill.id);
    let request = new_request(LearningAction::Improve, &title, &summary, Some(skill.id));
    submit(ws, request, args.mode.as_deref(), args.json, cx)
}

fn new_request(action: LearningAction, title: &str, summary: &str, skill: Option<String>) -> WorkDocument {
    let id = format!("learn-{:012x}", fastrand::u64(..) & 0xffff_ffff_ffff);
    WorkDocument::LearningRequest(LearningRequest {
        learning_request_id: id,
        title: title.to_string(),
        summary: summary.to_string(),
        requested_action: action,
        target_skill_id: skill,
        target_stage: None,
        trigger_metadata: None,
        created_at: Timestamp::now(),
        created_by: "millrace skills".into(),
        updated_at: None,
        source_refs: Vec::new(),
        preferred_output_paths: Vec::new(),
        originating_run_ids: Vec::new(),
        artifact_paths: Vec::new(),
        references: Vec::new(),
        body: String::new(),
    })
}

/// Queues a learning request, or hands it to the running daemon.
pub(super) fn submit(
    ws: &Workspace,
    doc: WorkDocument,
    mode: Option<&str>,
    json: bool,
    cx: &Context,
) -> Outcome {
    let target = match &doc {
        WorkDocument::LearningRequest(r) => r.target_stage.clone(),
        _ => None,
    };
    let queues = Queues::new(ws);
    if let Some(found) = queues.find(doc.id())? {
        return Err(QueueError::DuplicateId {
            kind: found.kind,
            id: doc.id().to_string(),
            path: found.path,
        }
        .into());
    }
    if lock::inspect(ws)?.state == LockState::Active {
        // The daemon checks against the plan it runs; the stored plan is
        // that plan, so refuse early when it already says no.
        if let Ok(Some(plan)) = plan_store::load_plan(ws) {
            check(&plan, target.as_deref())?;
        }
        let command = Command::AddLearningRequest(doc.clone());
        let issued = mailbox::issue(ws, &command, "operator")?;
        return super::queue::report_mailbox(ws, json, true, command.name(), doc.id(), &issued);
    }
    let config = Config::load(&ws.paths().config())?;
    let plan = super::run::plan_for_check(ws, &config, mode, cx)?;
    check(&plan, target.as_deref())?;
    let path = queues.enqueue(&doc)?;
    let label = WorkItemKind::LearningRequest.as_str();
    if json {
        print_json(&json!({"mode": "direct", "kind": label, "id": doc.id(), "path": path}))?;
    } else {
        print_fields(&[
            ("mode", "direct"),
            ("learning_request_id", doc.id()),
            ("enqueued_learning_request", &path.display().to_string()),
        ])?;
    }
    Ok(ExitCode::SUCCESS)
}

fn check(plan: &crate::plan::Plan, target: Option<&str>) -> Result<(), Failure> {
    plan.accepts_learning_request(target).map_err(|reason| {
        let help = match plan.loop_for(Plane::Learning) {
            None => "run a mode that binds a learning loop (the shipped ones are `learning_codex` and \
                     `learning_pi`): pass `--mode`, or set `runtime.default_mode` in millrace.toml; \
                     `millrace modes list` shows every mode"
                .to_string(),
            Some(l) => {
                let stages: Vec<String> = plan.loops[l]
                    .nodes
                    .iter()
                    .map(|n| format!("`{}`", plan.stage_of(n).name))
                    .collect();
                format!(
                    "set `Target-Stage` to one of {}, or leave it out to start at the entry",
                    stages.join(", ")
                )
            }
        };
        SkillsError::Refused { reason, help }.into()
    })
}
