//! The bad-input corpus: for every input the product reads, malformed
//! examples under `corpus/<input>/`, each with its expected diagnostic code
//! in `corpus/<input>/expect.toml`. Each case goes through the real CLI
//! path that reads it, and must give the code and the right exit status,
//! print no panic, and lose nothing (the file stays, or is set aside with
//! its reason).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

use super::{Bench, assert_no_panic, scripted_bench, snapshot, task_md, text};
use crate::runners::{fake, require_python};

fn corpus(kind: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/proof/corpus")
        .join(kind)
}

/// The expectations of one input kind, by case file name (the harness's
/// `[scenario.*]` tables are not files and are left out).
fn manifest(kind: &str) -> BTreeMap<String, toml::Table> {
    let text = std::fs::read_to_string(corpus(kind).join("expect.toml")).unwrap();
    let table: toml::Table = toml::from_str(&text).unwrap();
    table
        .into_iter()
        .filter(|(name, _)| name != "scenario")
        .map(|(name, value)| (name, value.as_table().cloned().unwrap()))
        .collect()
}

fn expected<'a>(case: &'a toml::Table, key: &str) -> &'a str {
    case.get(key)
        .and_then(toml::Value::as_str)
        .unwrap_or_else(|| panic!("no `{key}` in {case:?}"))
}

fn both(out: &Output) -> String {
    format!("{}{}", text(&out.stdout), text(&out.stderr))
}

/// Runs a command and checks exit status, code and the absence of panics.
fn expect(bench: &Bench, args: &[&str], status: i32, code: &str, case: &str) -> Output {
    let out = bench.run(args);
    assert_no_panic(&format!("{case}: {args:?}"), &out);
    assert_eq!(
        out.status.code(),
        Some(status),
        "{case}: {args:?}\n{}",
        both(&out)
    );
    assert!(
        both(&out).contains(code),
        "{case}: {args:?} does not report {code}:\n{}",
        both(&out)
    );
    out
}

fn doctor_codes(bench: &Bench) -> Vec<(String, String)> {
    bench.doctor()["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["code"].as_str().unwrap().to_string(),
                f["message"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn no_lock(bench: &Bench, case: &str) {
    assert!(
        !bench.path("state/runtime_daemon.lock.json").exists(),
        "{case}: lock left behind"
    );
}

/// Sets each JSON pointer of `patch` in `doc` (creating a missing last key).
fn patch(doc: &mut Value, patch: &Value) {
    for (pointer, new) in patch.as_object().unwrap() {
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        match doc.pointer_mut(parent).unwrap() {
            Value::Object(map) => {
                map.insert(key.to_string(), new.clone());
            }
            Value::Array(items) => items[key.parse::<usize>().unwrap()] = new.clone(),
            other => panic!("cannot set {pointer} in {other}"),
        }
    }
}

/// Writes a case over `target`: a patch applied to the current file, or
/// the case's bytes. Returns the bytes written.
fn damage(target: &Path, case: &Path) -> Vec<u8> {
    let name = case.file_name().unwrap().to_string_lossy();
    let bytes = if name.ends_with(".patch.json") {
        let mut doc: Value = serde_json::from_str(&std::fs::read_to_string(target).unwrap()).unwrap();
        patch(
            &mut doc,
            &serde_json::from_str(&std::fs::read_to_string(case).unwrap()).unwrap(),
        );
        serde_json::to_vec_pretty(&doc).unwrap()
    } else {
        std::fs::read(case).unwrap()
    };
    std::fs::write(target, &bytes).unwrap();
    bytes
}

#[test]
fn every_case_has_an_expectation_and_every_expectation_a_case() {
    for kind in [
        "mill",
        "config",
        "documents",
        "mailbox",
        "plan",
        "snapshot",
        "harness",
    ] {
        let mut files: Vec<String> = std::fs::read_dir(corpus(kind))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n != "expect.toml")
            .collect();
        files.sort();
        let listed: Vec<String> = manifest(kind).into_keys().collect();
        assert_eq!(files, listed, "corpus/{kind}: files and expect.toml disagree");
    }
}

/// `.mill` sources: `compile validate` reports every case with its code,
/// and the last good plan stays in place.
#[test]
fn bad_mill_sources() {
    let bench = Bench::init();
    let out = bench.run(&["compile", "validate"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let plan = std::fs::read(bench.path("state/compiled_plan.json")).unwrap();
    for (name, case) in manifest("mill") {
        let source = std::fs::read(corpus("mill").join(&name)).unwrap();
        let placed = bench.path(&format!("loops/{name}"));
        std::fs::write(&placed, &source).unwrap();
        expect(
            &bench,
            &["compile", "validate", "--format", "json"],
            1,
            expected(&case, "code"),
            &name,
        );
        expect(
            &bench,
            &["compile", "validate"],
            1,
            expected(&case, "code"),
            &name,
        );
        assert_eq!(
            std::fs::read(&placed).unwrap(),
            source,
            "{name}: the source changed"
        );
        let after = std::fs::read(bench.path("state/compiled_plan.json")).unwrap();
        assert!(
            after == plan,
            "{name}: a failed compile replaced the last good plan"
        );
        // The runtime never starts on sources that do not compile.
        let out = bench.run(&["run", "daemon", "--exit-when-idle"]);
        assert_no_panic(&name, &out);
        assert_eq!(out.status.code(), Some(1), "{name}: the daemon started");
        let said = both(&out);
        assert!(
            said.contains("mill::engine::no_current_plan") || said.contains(expected(&case, "code")),
            "{name}: {said}"
        );
        no_lock(&bench, &name);
        std::fs::remove_file(&placed).unwrap();
    }
}

/// `millrace.toml`: `config validate` and `run daemon` refuse each case
/// with its code; `status` still answers and names it.
#[test]
fn bad_configs() {
    let bench = Bench::init();
    let config = bench.path("millrace.toml");
    let good = std::fs::read(&config).unwrap();
    for (name, case) in manifest("config") {
        let code = expected(&case, "code");
        let bytes = std::fs::read(corpus("config").join(&name)).unwrap();
        std::fs::write(&config, &bytes).unwrap();
        expect(&bench, &["config", "validate"], 1, code, &name);
        expect(&bench, &["run", "daemon", "--exit-when-idle"], 1, code, &name);
        no_lock(&bench, &name);
        expect(&bench, &["status"], 0, "problem: mill::config::", &name);
        assert!(
            doctor_codes(&bench)
                .iter()
                .any(|(c, _)| c == "mill::doctor::config_invalid"),
            "{name}"
        );
        assert_eq!(std::fs::read(&config).unwrap(), bytes, "{name}: the file changed");
    }
    std::fs::write(&config, good).unwrap();
}

/// Work documents: intake refuses each with its code and writes nothing;
/// the same file found in a queue is quarantined with its reason, shown by
/// `status` and `doctor`, and never stops the daemon.
#[test]
fn bad_work_documents() {
    for (name, case) in manifest("documents") {
        let bench = Bench::init();
        let source = corpus("documents").join(&name);
        let bytes = std::fs::read(&source).unwrap();
        let family = if name.starts_with("spec") {
            "specs"
        } else {
            "tasks"
        };
        let add = if family == "specs" { "add-spec" } else { "add-task" };
        match expected(&case, "code") {
            "ok" => {
                let out = bench.run(&["queue", add, source.to_str().unwrap()]);
                assert!(out.status.success(), "{name}: {}", both(&out));
            }
            code => {
                expect(&bench, &["queue", add, source.to_str().unwrap()], 1, code, &name);
                assert!(
                    bench.names(&format!("{family}/queue")).is_empty(),
                    "{name}: intake wrote something"
                );
            }
        }
        assert_eq!(
            std::fs::read(&source).unwrap(),
            bytes,
            "{name}: the source changed"
        );
        let Some(reason) = case.get("quarantine").and_then(toml::Value::as_str) else {
            continue;
        };
        // The same file dropped straight into a queue directory.
        let bench = Bench::init();
        let stem = name.trim_end_matches(".md");
        let dropped = bench.path(&format!("{family}/queue/{stem}.md"));
        std::fs::write(&dropped, &bytes).unwrap();
        let out = bench.run(&["queue", "ls", "--all"]);
        assert_no_panic(&name, &out);
        assert!(out.status.success(), "{name}: {}", both(&out));
        let aside = bench.path(&format!("{family}/queue/{stem}.md.invalid"));
        assert_eq!(
            std::fs::read(&aside).ok(),
            Some(bytes.clone()),
            "{name}: not set aside whole"
        );
        let log =
            std::fs::read_to_string(bench.path(&format!("{family}/queue/invalid-artifacts.jsonl"))).unwrap();
        let record: Value = serde_json::from_str(log.lines().last().unwrap()).unwrap();
        assert!(
            record["error"].as_str().unwrap().contains(reason),
            "{name}: reason {record}"
        );
        let status = text(&bench.run(&["status"]).stdout);
        assert!(status.contains("quarantined_count: 1"), "{name}:\n{status}");
        let found = doctor_codes(&bench);
        assert!(
            found
                .iter()
                .any(|(c, m)| c == "mill::doctor::quarantined_file" && m.contains(reason)),
            "{name}: {found:?}"
        );
        let out = bench.run(&["run", "daemon", "--exit-when-idle"]);
        assert_no_panic(&name, &out);
        assert!(out.status.success(), "{name}: {}", both(&out));
        assert!(aside.is_file());
    }
}

/// Mailbox envelopes: each bad file is archived to `failed/` with the code,
/// its reason and its raw payload, and a valid command issued after them
/// still applies.
#[test]
fn bad_mailbox_envelopes() {
    let bench = Bench::init();
    let incoming = bench.path("state/mailbox/incoming");
    let cases = manifest("mailbox");
    for name in cases.keys() {
        std::fs::copy(corpus("mailbox").join(name), incoming.join(name)).unwrap();
    }
    let ws = millrace::workspace::Workspace::at(&bench.root).unwrap();
    millrace::workspace::mailbox::issue(&ws, &millrace::workspace::mailbox::Command::Pause, "proof").unwrap();
    let warned: Vec<String> = doctor_codes(&bench).into_iter().map(|(c, _)| c).collect();
    assert_eq!(warned.len(), cases.len(), "{warned:?}");
    assert!(
        warned
            .iter()
            .all(|c| c == "mill::doctor::mailbox_invalid_command"),
        "{warned:?}"
    );
    let out = bench.run(&["run", "daemon", "--exit-when-idle"]);
    assert_no_panic("mailbox drain", &out);
    assert!(out.status.success(), "{}", both(&out));
    assert!(bench.names("state/mailbox/incoming").is_empty());
    assert_eq!(snapshot(&bench)["pause_sources"], serde_json::json!(["operator"]));
    for (name, case) in cases {
        let record = std::fs::read_to_string(bench.path(&format!("state/mailbox/failed/{name}")))
            .unwrap_or_else(|_| panic!("{name} was not archived to failed/"));
        let record: Value = serde_json::from_str(&record).unwrap();
        assert_eq!(record["code"], expected(&case, "code"), "{name}");
        let error = record["error"].as_str().unwrap();
        assert!(error.contains(expected(&case, "reason")), "{name}: {error}");
        let original = std::fs::read(corpus("mailbox").join(&name)).unwrap();
        match std::str::from_utf8(&original) {
            Ok(t) => {
                let raw = serde_json::from_str::<Value>(t).unwrap_or(Value::String(t.to_string()));
                assert_eq!(record["raw_payload"], raw, "{name}: the payload was not kept");
            }
            Err(_) => {
                let hex: String = original.iter().map(|b| format!("{b:02x}")).collect();
                assert_eq!(
                    record["raw_bytes_hex"],
                    hex.as_str(),
                    "{name}: the bytes were not kept"
                );
            }
        }
    }
}

/// `state/compiled_plan.json`: doctor reports each case; status answers;
/// the daemon recompiles rather than run it.
#[test]
fn bad_compiled_plans() {
    for (name, case) in manifest("plan") {
        let bench = scripted_bench("[stages]\nbuilder = [\"BUILDER_COMPLETE\"]\n");
        let out = bench.run(&["compile", "validate"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let path = bench.path("state/compiled_plan.json");
        damage(&path, &corpus("plan").join(&name));
        let found = doctor_codes(&bench);
        let detail = expected(&case, "detail");
        assert!(
            found
                .iter()
                .any(|(c, m)| c == expected(&case, "code") && m.contains(detail)),
            "{name}: {found:?}"
        );
        let out = bench.run(&["status"]);
        assert_no_panic(&name, &out);
        assert!(out.status.success(), "{name}: {}", both(&out));
        let out = bench.run(&["run", "daemon", "--exit-when-idle"]);
        assert_no_panic(&name, &out);
        assert!(out.status.success(), "{name}: {}", both(&out));
        assert!(
            doctor_codes(&bench).is_empty(),
            "{name}: the plan was not rebuilt"
        );
    }
}

/// `state/runtime_snapshot.json` of a workspace with an active run: every
/// command names the code, nothing starts on it, and `clear-stale-state`
/// sets it aside and requeues the work, which then finishes.
#[test]
fn bad_runtime_snapshots() {
    let script = "[stages]\nbuilder = [\"BUILDER_COMPLETE\"]\nchecker = [\"CHECKER_PASS\"]\nupdater = [\"UPDATE_COMPLETE\"]\n";
    for (name, case) in manifest("snapshot") {
        let code = expected(&case, "code");
        let bench = scripted_bench(script);
        bench.write(
            "tasks/queue/t1.md",
            &task_md("t1", "2026-01-01T00:00:00Z", "", &[]),
        );
        let out = bench.run(&["run", "once"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let path = bench.path("state/runtime_snapshot.json");
        let bytes = damage(&path, &corpus("snapshot").join(&name));
        expect(&bench, &["status"], 0, &format!("problem: {code}"), &name);
        assert!(
            doctor_codes(&bench)
                .iter()
                .any(|(c, _)| c == "mill::doctor::snapshot_invalid"),
            "{name}"
        );
        // With the journal's last record a start restores the snapshot
        // from it (`recovery::a_damaged_snapshot_is_restored_from_the_journal`);
        // without one, nothing can, and every start refuses.
        std::fs::remove_file(bench.path("state/journal.jsonl")).unwrap();
        for args in [
            &["run", "daemon", "--exit-when-idle"][..],
            &["run", "once"],
            &["pause"],
        ] {
            expect(&bench, args, 1, code, &name);
            no_lock(&bench, &name);
            assert_eq!(
                std::fs::read(&path).unwrap(),
                bytes,
                "{name}: {args:?} changed the file"
            );
        }
        let out = bench.run(&["clear-stale-state", "--reason", "damaged snapshot"]);
        assert_no_panic(&name, &out);
        assert!(out.status.success(), "{name}: {}", both(&out));
        let kept = bench.set_aside("state/runtime_snapshot.json");
        assert_eq!(
            kept.and_then(|k| std::fs::read(k).ok()),
            Some(bytes),
            "{name}: the damaged snapshot was not kept"
        );
        let errors: Vec<_> = doctor_codes(&bench);
        assert!(errors.is_empty(), "{name}: {errors:?}");
        assert_eq!(bench.stems("tasks/queue"), ["t1"], "{name}");
        let out = bench.run(&["run", "daemon", "--exit-when-idle"]);
        assert!(out.status.success(), "{name}: {}", both(&out));
        assert_eq!(bench.stems("tasks/done"), ["t1"], "{name}");
    }
}

/// The one stage result `run once` wrote.
fn only_stage_result(bench: &Bench) -> Value {
    let runs = bench.names("runs");
    assert_eq!(runs.len(), 1, "{runs:?}");
    let results = bench.names(&format!("runs/{}/stage_results", runs[0]));
    assert_eq!(results.len(), 1, "{results:?}");
    let text = std::fs::read_to_string(bench.path(&format!("runs/{}/stage_results/{}", runs[0], results[0])))
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn check_harness_case(bench: &Bench, name: &str, case: &toml::Table, env: &[(&str, &str)]) {
    bench.write(
        "tasks/queue/t1.md",
        &task_md("t1", "2026-01-01T00:00:00Z", "", &[]),
    );
    let out = bench
        .command(&["run", "once"])
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert_no_panic(name, &out);
    // A harness only an operator can fix ends the run with exit status 3.
    let status = case.get("exit").and_then(toml::Value::as_integer).unwrap_or(0);
    assert_eq!(out.status.code(), Some(status as i32), "{name}: {}", both(&out));
    let result = only_stage_result(bench);
    let class = match &result["failure_class"] {
        Value::Null => "none".to_string(),
        v => v.as_str().unwrap().to_string(),
    };
    assert_eq!(class, expected(case, "failure_class"), "{name}: {result:#}");
    assert_eq!(
        bench.stems("tasks/active"),
        ["t1"],
        "{name}: the task left active/"
    );
    let snap = snapshot(bench);
    assert_eq!(
        snap["active_runs"]["execution"]["node"],
        expected(case, "node"),
        "{name}: {snap:#}"
    );
}

/// Harness output: garbled, empty, conflicting or illegal output is a
/// classified failure that routes the task, never a crash or a lost task.
#[test]
fn bad_harness_output() {
    for (name, case) in manifest("harness") {
        let bench = Bench::init();
        bench.write(
            "loops/h.mill",
            "mode h extends default_codex {\n    runner * = command\n}\n",
        );
        let fixture = corpus("harness").join(&name);
        bench.write(
            "millrace.toml",
            &format!(
                "[runtime]\ndefault_mode = \"h\"\n\n[runners.command.stages.builder]\nargv = [\"cat\", {:?}]\nmarker_from_output = true\n",
                fixture.display().to_string()
            ),
        );
        check_harness_case(&bench, &name, &case, &[]);
    }
    require_python();
    let text = std::fs::read_to_string(corpus("harness").join("expect.toml")).unwrap();
    let table: toml::Table = toml::from_str(&text).unwrap();
    for (name, case) in table["scenario"].as_table().unwrap() {
        let case = case.as_table().unwrap();
        let bench = Bench::init();
        bench.write(
            "millrace.toml",
            &format!("[runners.codex]\ncommand = {:?}\n", fake("codex")),
        );
        let scenario = case.get("scenario").and_then(toml::Value::as_str).unwrap_or(name);
        let mut env = vec![("FAKE_SCENARIO", scenario)];
        if let Some(result) = case.get("result").and_then(toml::Value::as_str) {
            env.push(("FAKE_RESULT", result));
        }
        check_harness_case(&bench, name, case, &env);
    }
}
