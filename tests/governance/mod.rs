//! Usage governance: the governor over real workspace files with a clock
//! the test moves (`rules`), and the runtime driven through the CLI with
//! the scripted harness (`runtime`). Hermetic: temporary directories only,
//! and the Codex home is always a temporary directory.

mod rules;
mod runtime;

use jiff::Timestamp;
use millrace::model::StageResult;
use serde_json::json;

/// A stage result as a runner reports it.
pub fn stage_result(run: &str, request: &str, tokens: u64, completed: Timestamp) -> StageResult {
    serde_json::from_value(json!({
        "schema_version": 1, "kind": "stage_result", "request_id": request, "run_id": run,
        "plane": "execution", "node": "builder", "stage": "builder",
        "work_item_kind": "task", "work_item_id": "t1",
        "terminal_result": "BUILDER_COMPLETE", "result_class": "success", "success": true,
        "exit": "completed", "exit_code": 0, "failure_class": null, "detected_marker": null,
        "normalization_source": "final_message", "metadata": {}, "artifacts": [],
        "report_artifact": null, "notes": [],
        "token_usage": {"input_tokens": tokens / 2, "cached_input_tokens": 0,
            "output_tokens": tokens - tokens / 2, "thinking_tokens": 0, "total_tokens": tokens},
        "cost_usd": 0.25, "rate_limit": null, "quota_reset_at": null, "runner": "scripted",
        "model": null, "effort": null, "stdout_path": null, "stderr_path": null,
        "events_path": null, "started_at": completed, "completed_at": completed,
        "duration_seconds": 1.0
    }))
    .unwrap()
}
