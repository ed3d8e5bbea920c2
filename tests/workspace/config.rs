//! `millrace.toml`: defaults, strict keys, located problems (all at once),
//! plan settings, and `config show|validate`.

use millrace::config::{Config, RunStyle, TokenWindow};

use super::{Ws, field, json, stderr, stdout};

#[test]
fn defaults_fill_every_key() {
    let config = Config::parse("", "millrace.toml").unwrap();
    assert_eq!(config, Config::default());
    assert_eq!(config.runtime.default_mode, "default_codex");
    assert_eq!(config.runtime.run_style, RunStyle::Daemon);
    assert_eq!(config.runtime.max_stage_runs_per_item, 40);
    assert_eq!(config.runners.codex.args, ["exec"]);
    assert_eq!(
        config.recovery.max_closure_attempts, None,
        "unset: loops keep their own limits"
    );
    let rules = &config.usage_governance.runtime_token_rules.rules;
    assert_eq!(
        rules.iter().map(|r| r.threshold).collect::<Vec<_>>(),
        [750_000, 5_000_000]
    );
    assert_eq!(config.usage_governance.subscription_quota_rules.rules.len(), 2);
}

#[test]
fn declared_rules_replace_the_defaults() {
    let text = "[[usage_governance.runtime_token_rules.rules]]\nrule_id = \"mine\"\nwindow = \"per_run\"\nthreshold = 10\n";
    let config = Config::parse(text, "millrace.toml").unwrap();
    let rules = &config.usage_governance.runtime_token_rules.rules;
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].window, TokenWindow::PerRun);
}

#[test]
fn every_problem_is_located_and_reported_together() {
    let text = "\
[runtime]
bogus = 1
idle_sleep_seconds = \"fast\"
run_style = \"sometimes\"
max_stage_runs_per_item = 0

[runners.pi]
args = [\"--model=x\"]

[runners.command.stages.check]
success = \"PASS\"

[[usage_governance.subscription_quota_rules.rules]]
rule_id = \"q\"
window = \"weekly\"
pause_at_percent_used = 150

[compile]
x = 1
";
    let err = Config::parse(text, "millrace.toml").unwrap_err();
    let found: Vec<(&str, String, usize)> = err
        .problems()
        .iter()
        .map(|p| (p.code, p.subject.clone().unwrap_or_default(), p.line))
        .collect();
    assert_eq!(
        found,
        [
            ("mill::config::unknown_key", "runtime.bogus".to_string(), 2),
            (
                "mill::config::wrong_type",
                "runtime.idle_sleep_seconds".to_string(),
                3
            ),
            ("mill::config::invalid_value", "runtime.run_style".to_string(), 4),
            (
                "mill::config::invalid_value",
                "runtime.max_stage_runs_per_item".to_string(),
                5
            ),
            ("mill::config::invalid_value", "runners.pi.args".to_string(), 8),
            (
                "mill::config::missing_key",
                "runners.command.stages.check.argv".to_string(),
                10
            ),
            (
                "mill::config::invalid_value",
                "usage_governance.subscription_quota_rules.rules[0].pause_at_percent_used".to_string(),
                16
            ),
            ("mill::config::unknown_key", "compile".to_string(), 18),
        ]
    );
    // Columns point at the value, not the line start.
    let wrong_type = &err.problems()[1];
    assert_eq!(wrong_type.column, 22);
    let allowed = err.problems()[2].help.clone().unwrap();
    assert!(
        allowed.contains("`once`") && allowed.contains("`daemon`"),
        "{allowed}"
    );
}

#[test]
fn syntax_errors_are_located() {
    let err = Config::parse("[runtime\ndefault_mode = 1\n", "millrace.toml").unwrap_err();
    assert_eq!(err.problems()[0].code, "mill::config::syntax");
    assert_eq!(err.problems()[0].line, 1);
}

#[test]
fn cross_value_checks_run_too() {
    let text = "\
[[usage_governance.runtime_token_rules.rules]]
rule_id = \"a\"
window = \"per_run\"
threshold = 1

[[usage_governance.runtime_token_rules.rules]]
rule_id = \"a\"
window = \"per_run\"
threshold = 2

[stages.\"../x\"]
model = \"m\"
";
    let err = Config::parse(text, "millrace.toml").unwrap_err();
    let found: Vec<_> = err
        .problems()
        .iter()
        .map(|p| (p.subject.clone().unwrap(), p.line))
        .collect();
    assert_eq!(
        found,
        [
            (
                "usage_governance.runtime_token_rules.rules[1].rule_id".to_string(),
                7
            ),
            ("stages.../x".to_string(), 11),
        ]
    );
}

#[test]
fn command_stages_are_checked_as_a_whole() {
    let ok = "[runners.command.stages.checker]\nargv = [\"cargo\", \"test\"]\nsuccess = \"CHECKER_PASS\"\nfailure = \"FIX_NEEDED\"\ncwd = \"crates/core\"\n";
    let config = Config::parse(ok, "m").unwrap();
    assert_eq!(config.runners.command.stages["checker"].argv, ["cargo", "test"]);
    for bad in [
        "argv = []\nsuccess = \"A\"\nfailure = \"B\"",
        "argv = [\"x\"]\nsuccess = \"lower\"\nfailure = \"B\"",
        "argv = [\"x\"]\nsuccess = \"A\"\nfailure = \"B\"\ncwd = \"../out\"",
        "argv = [\"x\"]\nsuccess = \"A\"",
    ] {
        let text = format!("[runners.command.stages.checker]\n{bad}\n");
        let err = Config::parse(&text, "m").unwrap_err();
        assert_eq!(err.problems().len(), 1, "{bad}");
        assert_eq!(err.problems()[0].code, "mill::config::invalid_value", "{bad}");
    }
    let from_output = "[runners.command.stages.checker]\nargv = [\"x\"]\nmarker_from_output = true\n";
    assert!(Config::parse(from_output, "m").is_ok());
}

#[test]
fn plan_settings_ignore_keys_that_do_not_shape_a_plan() {
    let base = Config::default().plan_settings().fingerprint();
    let governance = Config::parse(
        "[usage_governance]\nenabled = true\n[watchers]\ndebounce_ms = 9\n",
        "m",
    )
    .unwrap();
    assert_eq!(governance.plan_settings().fingerprint(), base);
    let runner_flags = Config::parse("[runners.codex]\nextra_config = [\"a=b\"]\n", "m").unwrap();
    assert_eq!(runner_flags.plan_settings().fingerprint(), base);
    for shaping in [
        "[runtime]\ndefault_mode = \"learning_codex\"\n",
        "[stages.builder]\nmodel = \"gpt\"\n",
        "[recovery]\nmax_fix_cycles = 5\n",
        "[runners]\ndefault_runner = \"pi_rpc\"\n",
    ] {
        let config = Config::parse(shaping, "m").unwrap();
        assert_ne!(config.plan_settings().fingerprint(), base, "{shaping}");
    }
}

#[test]
fn config_show_prints_the_effective_config() {
    let ws = Ws::new();
    let out = ws.run(&["config", "show"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(
        field(&text, "runtime.default_mode").as_deref(),
        Some("default_codex")
    );
    assert_eq!(field(&text, "runtime.idle_sleep_seconds").as_deref(), Some("1.0"));
    assert_eq!(field(&text, "runners.codex.profile").as_deref(), Some("none"));
    assert_eq!(
        field(&text, "usage_governance.runtime_token_rules.rules[1].threshold").as_deref(),
        Some("5000000")
    );
    let out = ws.run(&["config", "show", "--json"]);
    let value = json(&out);
    assert_eq!(
        value["config"]["recovery"]["max_fix_cycles"],
        serde_json::Value::Null
    );
    assert_eq!(value["plan_settings_fingerprint"].as_str().unwrap().len(), 64);
}

#[test]
fn config_validate_exits_1_and_names_key_and_line() {
    let ws = Ws::new();
    let out = ws.run(&["config", "validate"]);
    assert!(out.status.success());
    assert_eq!(field(&stdout(&out), "ok").as_deref(), Some("true"));

    ws.write(
        "millrace.toml",
        "[runtime]\ndefault_mode = \"x\"\ncolour = \"red\"\nrun_style = 3\n\n[watchers]\ndebounce_ms = -5\n",
    );
    let out = ws.run(&["config", "validate"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(field(&stdout(&out), "problems").as_deref(), Some("3"));
    let err = stderr(&out);
    for needle in [
        "mill::config::unknown_key",
        "unknown key `runtime.colour`",
        "millrace.toml:3:1",
        "mill::config::wrong_type",
        "`runtime.run_style`",
        "millrace.toml:4:13",
        "mill::config::invalid_value",
        "`watchers.debounce_ms`",
        "millrace.toml:7:15",
    ] {
        assert!(err.contains(needle), "missing {needle:?} in\n{err}");
    }
    let out = ws.run(&["config", "validate", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let value = json(&out);
    assert_eq!(value["ok"], false);
    let problems = value["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 3);
    assert_eq!(problems[0]["code"], "mill::config::unknown_key");
    assert_eq!(problems[0]["subject"], "runtime.colour");
    assert_eq!(problems[0]["line"], 3);
    // Commands that need the config fail with the same coded error.
    let out = ws.run(&["config", "show"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("mill::config::invalid"));
}

mod properties {
    use millrace::config::Config;
    use proptest::prelude::*;

    const VALID: &str = "[runtime]\ndefault_mode = \"x\"\nidle_sleep_seconds = 2\n\n[runners.pi]\nargs = [\"-v\"]\n\n[[usage_governance.runtime_token_rules.rules]]\nrule_id = \"r\"\nwindow = \"per_run\"\nthreshold = 5\n\n[stages.builder]\ntimeout_seconds = 60\n";

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,300}") {
            let _ = Config::parse(&text, "m.toml");
        }

        /// Splicing junk into a valid file yields a config or located
        /// problems, never a panic or an endless loop.
        #[test]
        fn damaged_files_give_located_problems(at in 0usize..200, junk in "[a-z_=\\[\\]\" 0-9.\n-]{0,30}") {
            let at = at.min(VALID.len());
            let text = format!("{}{}{}", &VALID[..at], junk, &VALID[at..]);
            if let Err(e) = Config::parse(&text, "m.toml") {
                prop_assert!(!e.problems().is_empty());
                for p in e.problems() {
                    prop_assert!(p.code.starts_with("mill::config::"));
                    prop_assert!(p.line >= 1, "{:?}", p);
                }
            }
        }
    }
}

#[test]
fn counter_limits_cover_every_counter_config_key() {
    let mut text = String::from("[recovery]\n");
    for (i, key) in millrace::plan::COUNTER_CONFIG_KEYS.iter().enumerate() {
        text.push_str(&format!("{} = {}\n", key.trim_start_matches("recovery."), i + 5));
    }
    let limits = Config::parse(&text, "m")
        .unwrap()
        .plan_settings()
        .counter_limits();
    let keys: Vec<&str> = limits.keys().map(String::as_str).collect();
    let mut expected = millrace::plan::COUNTER_CONFIG_KEYS.to_vec();
    expected.sort();
    assert_eq!(keys, expected);
    assert_eq!(limits["recovery.max_fix_cycles"], 5);
    // Only what the file sets: the loops' own limits hold for the rest.
    let some = Config::parse("[recovery]\nmax_fix_cycles = 7\n", "m")
        .unwrap()
        .plan_settings();
    assert_eq!(
        some.counter_limits().into_iter().collect::<Vec<_>>(),
        [("recovery.max_fix_cycles".to_string(), 7)]
    );
}
