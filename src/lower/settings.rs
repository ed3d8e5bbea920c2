//! Checking `millrace.toml`'s plan-shaping settings against a program:
//! every `[stages.x]` must name a stage or node of some loop, and every
//! runner must exist. The settings type itself lives in [`crate::plan`].

use super::LowerError;
use crate::check::hir::Program;
use crate::diag::did_you_mean;
use crate::plan::{PlanSettings, RUNNERS};

/// Checks names against the program.
pub(super) fn validate(settings: &PlanSettings, program: &Program) -> Result<(), LowerError> {
    check_runner(&settings.default_runner, "runners.default_runner")?;
    let names: Vec<&str> = program
        .stages
        .iter()
        .map(|s| s.name.as_str())
        .chain(
            program
                .loops
                .iter()
                .flat_map(|l| l.nodes.iter().map(|n| n.name.as_str())),
        )
        .collect();
    for (name, o) in &settings.stages {
        if !names.contains(&name.as_str()) {
            let help = did_you_mean(name, names.iter().copied())
                .map(|s| format!("did you mean `[stages.{s}]`?"))
                .unwrap_or_else(|| "name a stage of one of the loops, e.g. `[stages.builder]`".into());
            return Err(LowerError::UnknownConfigStage {
                name: name.clone(),
                help,
            });
        }
        if let Some(runner) = &o.runner {
            check_runner(runner, &format!("stages.{name}.runner"))?;
        }
    }
    Ok(())
}

fn check_runner(runner: &str, key: &str) -> Result<(), LowerError> {
    if RUNNERS.contains(&runner) {
        return Ok(());
    }
    let help = did_you_mean(runner, RUNNERS.iter().copied())
        .map(|s| format!("did you mean `{s}`?"))
        .unwrap_or_else(|| format!("runners: {}", RUNNERS.join(", ")));
    Err(LowerError::UnknownConfigRunner {
        runner: runner.into(),
        key: key.into(),
        help,
    })
}
