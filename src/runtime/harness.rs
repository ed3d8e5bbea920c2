//! The production [`StageRunner`]: the built-in runners of
//! [`crate::runners`].

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

use super::{Missing, StageRunner};
use crate::model::{StageResult, StageRunRequest};
use crate::runners::{self, Cancel, RunnersConfig};

/// Dispatches by the runner name frozen in the plan.
pub struct Harnesses {
    config: Arc<RunnersConfig>,
    /// Relative harness commands resolve from here (the workspace root).
    base: PathBuf,
}

impl Harnesses {
    pub fn new(config: RunnersConfig, base: PathBuf) -> Self {
        Self {
            config: Arc::new(config),
            base,
        }
    }
}

impl StageRunner for Harnesses {
    fn preflight(&self, runner: &str) -> Result<(), Missing> {
        runners::preflight_in(runner, &self.config, &self.base).map_err(|e| {
            let program = match &e {
                runners::RunnerError::NotInstalled { command, .. } => Some(command.clone()),
                _ => None,
            };
            Missing {
                program,
                message: e.to_string(),
            }
        })
    }

    fn start(&self, request: StageRunRequest, cancel: Cancel) -> Pin<Box<dyn Future<Output = StageResult>>> {
        let config = Arc::clone(&self.config);
        Box::pin(async move { runners::run_stage(&request, &config, cancel).await })
    }
}
