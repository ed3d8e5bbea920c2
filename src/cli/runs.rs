//! `millrace runs ls|show|tail`: read-only inspection of run directories.

use std::process::ExitCode;

use super::{Context, Outcome, RunsCommand, print, print_json};
use crate::model::TokenUsage;
use crate::workspace::Workspace;
use crate::workspace::runs::{self, RunView, StageView};

pub(super) fn run(command: RunsCommand, cx: &Context) -> Outcome {
    let ws = Workspace::open(cx.cli_workspace.as_deref())?;
    match command {
        RunsCommand::Ls(args) => {
            let mut all = runs::list(&ws)?;
            if let Some(item) = &args.item {
                all.retain(|r| r.work_item_id.as_deref() == Some(item.as_str()));
            }
            if let Some(limit) = args.limit {
                all.drain(..all.len().saturating_sub(limit));
            }
            if args.json {
                let summaries: Vec<_> = all.iter().map(summary_json).collect();
                print_json(&summaries)?;
            } else {
                let blocks: Vec<String> = all.iter().map(summary_text).collect();
                print(&blocks.join("\n"))?;
            }
        }
        RunsCommand::Show(args) => {
            let run = runs::show(&ws, &args.run_id)?;
            if args.json {
                print_json(&run)?;
            } else {
                print(&detail_text(&run))?;
            }
        }
        RunsCommand::Tail(args) => {
            let (path, text) = runs::tail(&ws, &args.run_id)?;
            if args.json {
                print_json(&serde_json::json!({ "path": path, "content": text }))?;
            } else {
                print(&text)?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn none(value: Option<&str>) -> &str {
    value.unwrap_or("none")
}

fn time(value: Option<jiff::Timestamp>) -> String {
    value.map_or("none".into(), |t| t.to_string())
}

fn summary_json(run: &RunView) -> serde_json::Value {
    serde_json::json!({
        "run_id": run.run_id, "status": run.status, "plane": run.plane,
        "work_item_kind": run.work_item_kind, "work_item_id": run.work_item_id,
        "terminal_result": run.terminal_result, "failure_class": run.failure_class,
        "started_at": run.started_at, "completed_at": run.completed_at, "stage_count": run.stages.len(),
    })
}

fn summary_text(run: &RunView) -> String {
    format!(
        "run_id: {}\nstatus: {}\nplane: {}\nwork_item_kind: {}\nwork_item_id: {}\nterminal_result: {}\nfailure_class: {}\nstarted_at: {}\nstage_count: {}\n",
        run.run_id,
        run.status.as_str(),
        none(run.plane.as_deref()),
        none(run.work_item_kind.as_deref()),
        none(run.work_item_id.as_deref()),
        none(run.terminal_result.as_deref()),
        none(run.failure_class.as_deref()),
        time(run.started_at),
        run.stages.len(),
    )
}

fn tokens_text(tokens: &TokenUsage) -> String {
    format!(
        "input_tokens: {}\ncached_input_tokens: {}\noutput_tokens: {}\nthinking_tokens: {}\ntotal_tokens: {}\n",
        tokens.input_tokens,
        tokens.cached_input_tokens,
        tokens.output_tokens,
        tokens.thinking_tokens,
        tokens.total_tokens
    )
}

fn detail_text(run: &RunView) -> String {
    let mut out = summary_text(run);
    out.push_str(&format!(
        "completed_at: {}\nduration_seconds: {}\n",
        time(run.completed_at),
        run.duration_seconds.map_or("none".into(), |d| d.to_string())
    ));
    if let Some(tokens) = &run.tokens {
        out.push_str(&tokens_text(tokens));
    }
    if let Some(cost) = run.cost_usd {
        out.push_str(&format!("cost_usd: {cost}\n"));
    }
    for note in &run.notes {
        out.push_str(&format!("note: {note}\n"));
    }
    for stage in &run.stages {
        out.push('\n');
        out.push_str(&stage_text(stage));
    }
    out
}

fn stage_text(stage: &StageView) -> String {
    let r = &stage.result;
    let mut out = format!(
        "stage_result_path: {}\nrequest_id: {}\nstage: {}\nnode: {}\nterminal_result: {}\nresult_class: {}\nfailure_class: {}\nrunner: {}\nmodel: {}\nstarted_at: {}\ncompleted_at: {}\nduration_seconds: {}\nstdout_path: {}\nstderr_path: {}\nreport_artifact: {}\nrouting_path: {}\n",
        stage.result_path,
        stage.request_id,
        r.stage,
        none(r.node.as_deref()),
        r.terminal_result,
        none(r.result_class.as_deref()),
        none(r.failure_class.as_deref()),
        none(r.runner.as_deref()),
        none(r.model.as_deref()),
        time(r.started_at),
        time(r.completed_at),
        stage.duration_seconds.map_or("none".into(), |d| d.to_string()),
        none(r.stdout_path.as_deref()),
        none(r.stderr_path.as_deref()),
        none(r.report_artifact.as_deref()),
        none(stage.routing_path.as_deref()),
    );
    if let Some(tokens) = &r.token_usage {
        out.push_str(&tokens_text(tokens));
    }
    if let Some(cost) = r.cost_usd {
        out.push_str(&format!("cost_usd: {cost}\n"));
    }
    for note in &r.notes {
        out.push_str(&format!("note: {note}\n"));
    }
    if let Some(routing) = &stage.routing {
        out.push_str(&format!("routed: {}\n", routed(routing)));
    }
    out.push_str(&format!(
        "last_message_path: runner_last_message.{}.txt\n",
        stage.request_id
    ));
    out
}

/// A routing decision in one line: where the outcome led, why, and what it
/// counted.
fn routed(record: &serde_json::Value) -> String {
    let target = &record["target"];
    let to = match (target["node"].as_str(), target["terminal"].as_str()) {
        (Some(node), _) => format!("-> {node}"),
        (None, Some(terminal)) => format!("finish {terminal} ({})", target["class"].as_str().unwrap_or("-")),
        _ => "-".into(),
    };
    let mut line = format!("{to} reason={}", record["reason"].as_str().unwrap_or("-"));
    if let Some([name, n]) = record["counted"].as_array().map(Vec::as_slice) {
        line.push_str(&format!(" counted={}={n}", name.as_str().unwrap_or("-")));
    }
    if let Some(exhausted) = record["exhausted"].as_array().filter(|e| !e.is_empty()) {
        let names: Vec<&str> = exhausted.iter().filter_map(|e| e.as_str()).collect();
        line.push_str(&format!(" exhausted={}", names.join(",")));
    }
    line
}
