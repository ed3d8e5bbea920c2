//! The runner registry: every runner Millrace can drive, in one table.
//!
//! Input: a runner name frozen in the plan, and `[runners]` of
//! `millrace.toml`. Output: the runner's settings type, its preflight, its
//! run, and the help for a missing program, all reached by name through
//! [`Runner`]. Invariants: the names are exactly the language's runner
//! vocabulary (`plan::RUNNERS`, same order; a test checks), and adding a
//! runner is one file implementing [`Runner`] plus one line of the table
//! below; nothing else matches on runner names.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::raw::RawRun;
use super::stream::Ctx;
use super::{RunnerError, claude, codex, command, gemini, pi, scripted, which};
use crate::model::StageResult;
use crate::model::settings::known_runner;

/// Variables a runner adds to its harness's environment.
pub type Env = BTreeMap<String, String>;

/// One harness Millrace can drive. Each implementation lives in its own
/// file beside its settings, argv builder, event parser and classifier.
pub(crate) trait Runner {
    /// `[runners.<key>]`: this runner's own settings.
    type Config;
    /// How to get the program when it is missing.
    const INSTALL: &'static str;
    /// The key under `[runners.<key>]` that names the program.
    const PROGRAM_KEY: &'static str = "command";

    /// The programs a stage of this runner starts, with the environment
    /// each gets (its `PATH` decides where the program is looked up).
    fn programs(cfg: &Self::Config) -> Result<Vec<(&str, &Env)>, RunnerError>;

    /// Checks a stage could start: by default, every program resolves.
    fn preflight(name: &str, key: &str, cfg: &Self::Config, base: &Path) -> Result<(), RunnerError> {
        for (program, env) in Self::programs(cfg)? {
            if which::resolve_with_env(program, base, env).is_none() {
                return Err(RunnerError::NotInstalled {
                    runner: name.to_owned(),
                    command: program.to_owned(),
                    install: install_help(Self::INSTALL, &format!("{key}.{}", Self::PROGRAM_KEY), program),
                });
            }
        }
        Ok(())
    }

    /// Runs one stage to one raw run; never panics on harness behaviour.
    async fn run(ctx: &Ctx<'_>, cfg: &Self::Config, prompt: &str) -> RawRun;

    /// Adjusts the normalized result (the default changes nothing).
    fn finished(_cfg: &Self::Config, _result: &mut StageResult) {}

    /// Setup that will make the harness fail, said before the first stage
    /// (for `doctor`); the default finds nothing.
    fn advise(_cfg: &Self::Config) -> Vec<Advice> {
        Vec::new()
    }
}

/// A setup problem a runner foresees.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Advice {
    /// `mill::doctor::*`.
    pub code: &'static str,
    pub message: String,
    pub fix: String,
}

/// The help of a missing program; `setting` is its key under `runners.`.
pub(crate) fn install_help(how: &str, setting: &str, program: &str) -> String {
    format!("{how}, or set `runners.{setting}` to the full path of `{program}`")
}

/// Generates [`RunnersConfig`] and the by-name dispatch from one table.
macro_rules! registry {
    ($($name:literal => $key:ident: $runner:ty, $config:ty;)*) => {
        /// `[runners]`: the runner a stage uses when its mode names none,
        /// how harness failures are retried and watched, and each runner's
        /// own settings (defined beside the runner; a field name is the
        /// TOML key, a `Default` what a missing key means).
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields, default)]
        pub struct RunnersConfig {
            #[serde(deserialize_with = "known_runner")]
            pub default_runner: String,
            /// A harness silent this long (no progress event) has stalled;
            /// 0 turns the watchdog off.
            #[serde(deserialize_with = "crate::model::settings::int_in::<_, u64, 0, 604_800>")]
            pub stall_seconds: u64,
            /// Transient provider failures in a row (5xx, a rate limit that
            /// is not a quota) retried on the same stage before the runtime
            /// pauses and tries again later by itself.
            #[serde(deserialize_with = "crate::model::settings::int_in::<_, u32, 0, 100>")]
            pub transient_retries: u32,
            /// The first retry's wait; each next one doubles, up to an hour.
            #[serde(deserialize_with = "crate::model::settings::int_in::<_, u64, 0, 3600>")]
            pub transient_backoff_seconds: u64,
            $(pub $key: $config,)*
        }

        impl Default for RunnersConfig {
            fn default() -> Self {
                Self {
                    default_runner: crate::plan::DEFAULT_RUNNER.into(),
                    stall_seconds: DEFAULT_STALL_SECONDS,
                    transient_retries: 3,
                    transient_backoff_seconds: 30,
                    $($key: <$config>::default(),)*
                }
            }
        }

        /// Every runner's name, in table order.
        pub const NAMES: &[&str] = &[$($name),*];

        /// Runs a stage through the runner `name`; `None` for no such runner.
        pub(crate) async fn run(name: &str, ctx: &Ctx<'_>, cfg: &RunnersConfig, prompt: &str) -> Option<RawRun> {
            match name {
                $($name => Some(<$runner as Runner>::run(ctx, &cfg.$key, prompt).await),)*
                _ => None,
            }
        }

        /// Checks the runner `name` could start a stage.
        pub(crate) fn preflight(name: &str, cfg: &RunnersConfig, base: &Path) -> Result<(), RunnerError> {
            match name {
                $($name => <$runner as Runner>::preflight(name, stringify!($key), &cfg.$key, base),)*
                _ => Err(RunnerError::UnknownRunner { runner: name.to_owned() }),
            }
        }

        /// The programs the runner `name` starts (empty for an unknown one).
        pub(crate) fn programs<'a>(name: &str, cfg: &'a RunnersConfig) -> Vec<(&'a str, &'a Env)> {
            match name {
                $($name => <$runner as Runner>::programs(&cfg.$key).unwrap_or_default(),)*
                _ => Vec::new(),
            }
        }

        /// Lets the runner adjust its normalized result.
        pub(crate) fn finished(name: &str, cfg: &RunnersConfig, result: &mut StageResult) {
            match name {
                $($name => <$runner as Runner>::finished(&cfg.$key, result),)*
                _ => {}
            }
        }

        /// What the runner `name` foresees going wrong with `cfg`.
        pub(crate) fn advise(name: &str, cfg: &RunnersConfig) -> Vec<Advice> {
            match name {
                $($name => <$runner as Runner>::advise(&cfg.$key),)*
                _ => Vec::new(),
            }
        }

        /// The help for a missing `program` of the runner `name`.
        pub(crate) fn missing_help(name: &str, program: &str) -> String {
            match name {
                $($name => {
                    let setting = format!("{}.{}", stringify!($key), <$runner as Runner>::PROGRAM_KEY);
                    install_help(<$runner as Runner>::INSTALL, &setting, program)
                })*
                _ => format!("install `{program}`"),
            }
        }
    };
}

/// Long enough for a slow tool call (a build, a test suite) between two
/// events; short next to a stage timeout of an hour.
pub const DEFAULT_STALL_SECONDS: u64 = 900;

registry! {
    "codex_cli" => codex: codex::Codex, codex::CodexConfig;
    "claude_code" => claude: claude::Claude, claude::ClaudeConfig;
    "pi_rpc" => pi: pi::Pi, pi::PiConfig;
    "gemini_cli" => gemini: gemini::Gemini, gemini::GeminiConfig;
    "command" => command: command::Command, command::CommandConfig;
    "scripted" => scripted: scripted::Scripted, scripted::ScriptedConfig;
}

impl RunnersConfig {
    /// The stall watchdog's limit, if it is on.
    pub fn stall(&self) -> Option<Duration> {
        (self.stall_seconds > 0).then(|| Duration::from_secs(self.stall_seconds))
    }
}

/// Checks a table of environment variables has only usable names.
pub(crate) fn env_names<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Env, D::Error> {
    let env = Env::deserialize(d)?;
    if let Some(bad) = env.keys().find(|n| n.is_empty() || n.contains(['=', '\0'])) {
        return Err(serde::de::Error::custom(format!(
            "invalid environment variable name `{bad}`"
        )));
    }
    Ok(env)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_the_language_vocabulary() {
        assert_eq!(NAMES, crate::plan::RUNNERS);
    }

    #[test]
    fn an_unknown_runner_is_refused_by_name() {
        let err = preflight("nope", &RunnersConfig::default(), Path::new("/")).unwrap_err();
        assert_eq!(
            err,
            RunnerError::UnknownRunner {
                runner: "nope".into()
            }
        );
    }
}
