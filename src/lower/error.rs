//! Errors of lowering: the requested mode or the settings of `millrace.toml`
//! do not fit the checked program.

/// Everything `lower` reports.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum LowerError {
    /// The mode asked for (`--mode` or `runtime.default_mode`) does not exist.
    #[error("unknown mode `{name}`")]
    #[diagnostic(code(mill::lower::unknown_mode), help("{help}"))]
    UnknownMode { name: String, help: String },

    /// `[stages.<name>]` in `millrace.toml` names no stage or node of any loop.
    #[error("`millrace.toml` configures `[stages.{name}]`, but no loop has a stage or node `{name}`")]
    #[diagnostic(code(mill::lower::unknown_config_stage), help("{help}"))]
    UnknownConfigStage { name: String, help: String },

    /// A runner named in `millrace.toml` that the runtime cannot dispatch to.
    #[error("`millrace.toml` names unknown runner `{runner}` ({key})")]
    #[diagnostic(code(mill::lower::unknown_config_runner), help("{help}"))]
    UnknownConfigRunner {
        runner: String,
        key: String,
        help: String,
    },

    /// `millrace.toml` overrides a setting a stage kind declares `fixed`.
    #[error("`millrace.toml` overrides `{field}` of stage `{stage}`, which the stage declares fixed")]
    #[diagnostic(
        code(mill::lower::fixed_override),
        help("remove `{field}` from `[stages.{stage}]`")
    )]
    FixedOverride { stage: String, field: String },
}
