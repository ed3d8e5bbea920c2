//! `millrace skills ls|show|search|create|improve` and the learning-request
//! intake `queue add-learning-request` shares.
//!
//! Intake refuses a request the mode would never run (no learning plane, or
//! a target stage its learning loop lacks) instead of queueing it to sit
//! forever; with a daemon running, its mailbox carries the request and the
//! daemon checks it against the plan it runs.

use std::process::ExitCode;

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
use crate::workspace::skills::{self, Skill};
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
    }
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
        return super::queue::report_mailbox(json, command.name(), doc.id(), &issued);
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
