//! Wiring: the workspace's parsed `[runners]` table to [`RunnersConfig`].
//!
//! Input: `crate::config::RunnersConfig` (parsed and checked by
//! the workspace layer). Output: the runners' own settings. Invariant: a
//! field-for-field copy; enums map by their TOML spelling.

use super::{
    ClaudeConfig, CodexConfig, CommandConfig, CommandStage, Permission, PiConfig, PiEventLogPolicy,
    RunnersConfig, ScriptedConfig,
};
use crate::config as ws;

impl From<&ws::RunnersConfig> for RunnersConfig {
    fn from(cfg: &ws::RunnersConfig) -> RunnersConfig {
        RunnersConfig {
            default_runner: cfg.default_runner.clone(),
            codex: codex(&cfg.codex),
            claude: claude(&cfg.claude),
            pi: pi(&cfg.pi),
            command: CommandConfig {
                stages: cfg
                    .command
                    .stages
                    .iter()
                    .map(|(k, v)| (k.clone(), command_stage(v)))
                    .collect(),
            },
            scripted: ScriptedConfig {
                script: cfg.scripted.script.clone().map(Into::into),
                inline: None,
            },
        }
    }
}

fn permission(p: ws::Permission) -> Permission {
    match p {
        ws::Permission::Basic => Permission::Basic,
        ws::Permission::Elevated => Permission::Elevated,
        ws::Permission::Maximum => Permission::Maximum,
    }
}

fn codex(c: &ws::CodexConfig) -> CodexConfig {
    CodexConfig {
        command: c.command.clone(),
        args: c.args.clone(),
        profile: c.profile.clone(),
        permission_default: permission(c.permission_default),
        permission_by_stage: c
            .permission_by_stage
            .iter()
            .map(|(k, v)| (k.clone(), permission(*v)))
            .collect(),
        permission_by_model: c
            .permission_by_model
            .iter()
            .map(|(k, v)| (k.clone(), permission(*v)))
            .collect(),
        model_reasoning_effort: c.model_reasoning_effort,
        skip_git_repo_check: c.skip_git_repo_check,
        extra_config: c.extra_config.clone(),
        env: c.env.clone(),
    }
}

fn claude(c: &ws::ClaudeConfig) -> ClaudeConfig {
    let permission_mode = match c.permission_mode {
        ws::ClaudePermissionMode::Default => "default",
        ws::ClaudePermissionMode::AcceptEdits => "acceptEdits",
        ws::ClaudePermissionMode::Plan => "plan",
        ws::ClaudePermissionMode::BypassPermissions => "bypassPermissions",
    };
    ClaudeConfig {
        command: c.command.clone(),
        args: c.args.clone(),
        model: c.model.clone(),
        permission_mode: permission_mode.into(),
        max_turns: c.max_turns,
        max_budget_usd: c.max_budget_usd,
        allowed_tools: c.allowed_tools.clone(),
        disallowed_tools: c.disallowed_tools.clone(),
        bare: c.bare,
        env: c.env.clone(),
    }
}

fn pi(c: &ws::PiConfig) -> PiConfig {
    PiConfig {
        command: c.command.clone(),
        args: c.args.clone(),
        provider: c.provider.clone(),
        thinking: c.thinking.clone(),
        disable_context_files: c.disable_context_files,
        disable_skills: c.disable_skills,
        event_log_policy: match c.event_log_policy {
            ws::PiEventLogPolicy::FailureFull => PiEventLogPolicy::FailureFull,
            ws::PiEventLogPolicy::Full => PiEventLogPolicy::Full,
        },
        env: c.env.clone(),
    }
}

fn command_stage(s: &ws::CommandStage) -> CommandStage {
    CommandStage {
        argv: s.argv.clone(),
        success: s.success.clone(),
        failure: s.failure.clone(),
        marker_from_output: s.marker_from_output,
        env: s.env.clone(),
        cwd: s.cwd.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_agree_with_the_workspace_defaults() {
        let converted = RunnersConfig::from(&ws::RunnersConfig::default());
        assert_eq!(converted, RunnersConfig::default());
    }
}
