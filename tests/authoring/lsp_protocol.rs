//! The language server over JSON-RPC: diagnostics as you type, definition,
//! references, hover, completion, code actions, formatting, symbols and
//! semantic tokens, against the real `millrace lsp` process.

use serde_json::{Value, json};

use super::lsp_client::{Client, apply, find, uri};

const LOOP: &str = "\
loop execution.quick {
    plane execution
    entry task -> builder
    counter retries limit 3 config recovery.max_fix_cycles

    builder {
        BUILDER_COMPLETE -> check
        BLOCKED          -> builder count retries else finish blocked
    }
    check: checker {
        CHECKER_PASS         -> finish done
        FIX_NEEDED | BLOCKED -> builder count retries else finish blocked
    }

    terminal done: success writes UPDATE_COMPLETE
    terminal blocked: blocked
}

mode quick extends default_pi {
    execution = execution.quick
}
";

struct Session {
    client: Client,
    _dir: tempfile::TempDir,
    uri: String,
    builtin: std::path::PathBuf,
}

fn session(text: &str) -> (Session, Vec<Value>) {
    let dir = tempfile::tempdir().unwrap();
    let builtin = dir.path().join("builtin");
    let mut client = Client::start(&builtin);
    let uri = uri(&dir.path().join("quick.mill"));
    let diags = client.open(&uri, text);
    let s = Session {
        client,
        _dir: dir,
        uri,
        builtin,
    };
    (s, diags)
}

fn pos(s: &Session, position: Value) -> Value {
    json!({"textDocument": {"uri": s.uri}, "position": position})
}

fn codes(diags: &[Value]) -> Vec<String> {
    diags
        .iter()
        .map(|d| d["code"].as_str().unwrap_or("").to_string())
        .collect()
}

#[test]
fn diagnostics_follow_every_change() {
    let (mut s, diags) = session(LOOP);
    assert!(diags.is_empty(), "{diags:?}");
    // Type a typo into the first route: `check` becomes `chekc`.
    let at = find(LOOP, "-> check", 0, 3);
    let end = find(LOOP, "-> check", 0, 8);
    let change = json!({"range": {"start": at, "end": end}, "text": "chekc"});
    let params = json!({"textDocument": {"uri": s.uri, "version": 2}, "contentChanges": [change]});
    s.client.notify("textDocument/didChange", params);
    let diags = s.client.diagnostics(&s.uri);
    assert_eq!(codes(&diags), ["mill::check::unknown_node"]);
    let d = &diags[0];
    assert_eq!(d["range"]["start"], json!({"line": 6, "character": 28}));
    assert_eq!(d["source"], "millrace");
    let message = d["message"].as_str().unwrap();
    assert!(
        message.contains("has no node `chekc`") && message.contains("help: did you mean `check`?"),
        "{message}"
    );
    // Undo it: the diagnostics clear.
    let change = json!({"range": {"start": at, "end": find(LOOP, "-> check", 0, 8)}, "text": "check"});
    let params = json!({"textDocument": {"uri": s.uri, "version": 3}, "contentChanges": [change]});
    s.client.notify("textDocument/didChange", params);
    assert!(s.client.diagnostics(&s.uri).is_empty());
    assert_eq!(s.client.shutdown(), Some(0));
}

#[test]
fn secondary_labels_become_related_information_in_the_shipped_loops() {
    let text = LOOP.replace(
        "        BLOCKED          -> builder count retries else finish blocked\n",
        "",
    );
    let (s, diags) = session(&text);
    assert_eq!(codes(&diags), ["mill::check::unhandled_outcome"]);
    let related = diags[0]["relatedInformation"].as_array().unwrap();
    assert_eq!(related[0]["message"], "declared here");
    let target = related[0]["location"]["uri"].as_str().unwrap();
    assert!(target.ends_with("builtin/loops/execution.mill"), "{target}");
    assert!(s.builtin.join("loops/execution.mill").is_file());
}

#[test]
fn definition_jumps_to_stages_counters_terminals_and_modes() {
    let (mut s, _) = session(LOOP);
    // `check: checker` -> the shipped stage kind, a read-only file.
    let loc = s
        .client
        .request("textDocument/definition", pos(&s, find(LOOP, "checker {", 0, 2)));
    let file = millrace::lsp::text::uri_to_path(loc["uri"].as_str().unwrap()).unwrap();
    assert_eq!(file, s.builtin.join("loops/execution.mill"));
    assert!(std::fs::metadata(&file).unwrap().permissions().readonly());
    let line = loc["range"]["start"]["line"].as_u64().unwrap() as usize;
    let shown = std::fs::read_to_string(&file).unwrap();
    assert_eq!(shown.lines().nth(line).unwrap(), "stage checker {");
    // `count retries` -> the counter declaration on line 3.
    let loc = s.client.request(
        "textDocument/definition",
        pos(&s, find(LOOP, "count retries", 0, 7)),
    );
    assert_eq!(loc["uri"], s.uri);
    assert_eq!(loc["range"]["start"], json!({"line": 3, "character": 12}));
    // `finish done` -> the terminal.
    let loc = s.client.request(
        "textDocument/definition",
        pos(&s, find(LOOP, "finish done", 0, 8)),
    );
    assert_eq!(loc["range"]["start"]["line"], 14);
    // `extends default_pi` -> the shipped mode.
    let loc = s
        .client
        .request("textDocument/definition", pos(&s, find(LOOP, "default_pi", 0, 1)));
    assert!(loc["uri"].as_str().unwrap().ends_with("loops/modes.mill"));
}

#[test]
fn references_find_every_use_of_a_counter_and_a_node() {
    let (mut s, _) = session(LOOP);
    let params =
        |p| json!({"textDocument": {"uri": s.uri}, "position": p, "context": {"includeDeclaration": true}});
    let refs = s
        .client
        .request("textDocument/references", params(find(LOOP, "retries", 0, 1)));
    assert_eq!(refs.as_array().unwrap().len(), 3, "{refs}");
    let refs = s
        .client
        .request("textDocument/references", params(find(LOOP, "builder {", 0, 1)));
    let lines: Vec<u64> = refs
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["range"]["start"]["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [2, 5, 7, 11]);
}

fn hover(s: &mut Session, position: Value) -> String {
    let h = s.client.request("textDocument/hover", pos(s, position));
    h["contents"]["value"].as_str().unwrap_or_default().to_string()
}

#[test]
fn hover_shows_outcomes_limits_and_resolved_modes() {
    let (mut s, _) = session(LOOP);
    let stage = hover(&mut s, find(LOOP, "checker {", 0, 1));
    assert!(stage.contains("**stage `checker`** (plane execution)"), "{stage}");
    assert!(stage.contains("`FIX_NEEDED`: followup_needed"), "{stage}");
    assert!(
        stage.contains("entrypoint `entrypoints/execution/checker.md`"),
        "{stage}"
    );
    assert!(
        stage.contains("skill `skills/stage/execution/checker-core/SKILL.md`"),
        "{stage}"
    );
    let counter = hover(&mut s, find(LOOP, "count retries", 0, 7));
    assert!(
        counter.contains("limit 3") && counter.contains("`recovery.max_fix_cycles`"),
        "{counter}"
    );
    let mode = hover(&mut s, find(LOOP, "mode quick", 0, 6));
    assert!(
        mode.contains("extends: `quick` → `default_pi` → `default_codex`"),
        "{mode}"
    );
    assert!(mode.contains("`runner * = pi_rpc` (from `default_pi`)"), "{mode}");
    assert!(
        mode.contains("`planning = planning.standard` (from `default_codex`)"),
        "{mode}"
    );
    assert!(
        mode.contains("`execution = execution.quick` (from `quick`)"),
        "{mode}"
    );
    let outcome = hover(&mut s, find(LOOP, "FIX_NEEDED", 0, 1));
    assert!(outcome.contains("followup_needed"), "{outcome}");
}

fn labels(s: &mut Session, text: &str, position: Value) -> Vec<String> {
    let item = json!({"uri": s.uri, "languageId": "mill", "version": 9, "text": text});
    s.client
        .notify("textDocument/didOpen", json!({"textDocument": item}));
    let _ = s.client.diagnostics(&s.uri);
    let list = s.client.request("textDocument/completion", pos(s, position));
    list.as_array()
        .unwrap()
        .iter()
        .map(|i| i["label"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn completion_offers_what_fits_the_cursor() {
    let (mut s, _) = session(LOOP);
    let with = |before: &str, typed: &str| LOOP.replacen(before, &format!("{before}{typed}\n"), 1);
    let text = with("    check: checker {\n", "        CHECKER_PASS -> ");
    let got = labels(&mut s, &text, find(&text, "CHECKER_PASS -> \n", 0, 16));
    assert!(
        got.contains(&"builder".into()) && got.contains(&"finish".into()),
        "{got:?}"
    );
    let text = with("    check: checker {\n", "        CHECKER_PASS -> finish ");
    let got = labels(&mut s, &text, find(&text, "finish \n", 0, 7));
    assert_eq!(got, ["done", "blocked"]);
    let text = with("    check: checker {\n", "        CHECKER_PASS -> builder count ");
    assert_eq!(labels(&mut s, &text, find(&text, "count \n", 0, 6)), ["retries"]);
    let text = LOOP.replace("        CHECKER_PASS         -> finish done\n", "        \n");
    let got = labels(&mut s, &text, find(&text, "        \n", 0, 8));
    assert_eq!(got.first().map(String::as_str), Some("CHECKER_PASS"), "{got:?}");
    assert!(
        !got.contains(&"BLOCKED".into()),
        "routed outcomes are not offered: {got:?}"
    );
    let text = with("    check: checker {\n", "        runner ");
    assert!(labels(&mut s, &text, find(&text, "runner \n", 0, 7)).contains(&"codex_cli".into()));
    let text = with("    plane execution\n", "    entry ");
    assert_eq!(labels(&mut s, &text, find(&text, "entry \n", 0, 6)), ["task"]);
    let text = with("    check: checker {\n", "        plane ");
    assert_eq!(
        labels(&mut s, &text, find(&text, "plane \n", 0, 6)),
        ["execution", "planning", "learning"]
    );
}

fn actions(s: &mut Session, text: &str) -> Vec<Value> {
    let item = json!({"uri": s.uri, "languageId": "mill", "version": 5, "text": text});
    s.client
        .notify("textDocument/didOpen", json!({"textDocument": item}));
    let diags = s.client.diagnostics(&s.uri);
    assert!(!diags.is_empty());
    let whole = json!({"start": {"line": 0, "character": 0}, "end": {"line": 999, "character": 0}});
    let params = json!({"textDocument": {"uri": s.uri}, "range": whole, "context": {"diagnostics": []}});
    s.client
        .request("textDocument/codeAction", params)
        .as_array()
        .unwrap()
        .clone()
}

/// Applies the first action whose title contains `title`, returns the
/// result and its diagnostics.
fn fix(s: &mut Session, text: &str, title: &str) -> (String, Vec<Value>) {
    let all = actions(s, text);
    let action = all.iter().find(|a| a["title"].as_str().unwrap().contains(title));
    let action = action.unwrap_or_else(|| panic!("no `{title}` in {all:?}"));
    let edits = action["edit"]["changes"][&s.uri].as_array().unwrap();
    let fixed = apply(text, edits);
    let item = json!({"uri": s.uri, "languageId": "mill", "version": 6, "text": fixed});
    s.client
        .notify("textDocument/didOpen", json!({"textDocument": item}));
    let diags = s.client.diagnostics(&s.uri);
    (fixed, diags)
}

#[test]
fn code_actions_fix_typos_missing_routes_and_unbounded_cycles() {
    let (mut s, _) = session(LOOP);
    let typo = LOOP.replace("-> check\n", "-> chekc\n");
    let (fixed, diags) = fix(&mut s, &typo, "Replace `chekc` with `check`");
    assert_eq!(fixed, LOOP);
    assert!(diags.is_empty(), "{diags:?}");
    let missing = LOOP.replace(
        "        FIX_NEEDED | BLOCKED -> builder count retries else finish blocked\n",
        "",
    );
    let (fixed, diags) = fix(&mut s, &missing, "Route FIX_NEEDED, BLOCKED in node `check`");
    assert!(fixed.contains("FIX_NEEDED -> finish blocked"), "{fixed}");
    assert!(
        diags.iter().all(|d| d["severity"] == 2),
        "only warnings may remain: {diags:?}"
    );
    let unbounded = LOOP.replace(
        "BLOCKED          -> builder count retries else finish blocked",
        "BLOCKED          -> builder",
    );
    let (fixed, diags) = fix(&mut s, &unbounded, "Guard the route to `builder`");
    assert!(fixed.contains("counter cycle_guard limit 3\n"), "{fixed}");
    assert!(diags.is_empty(), "the cycle is bounded now: {diags:?}\n{fixed}");
}

#[test]
fn formatting_returns_the_fmt_layout_and_refuses_syntax_errors() {
    let ugly = LOOP.replace("    plane execution", "  plane    execution");
    let (mut s, _) = session(&ugly);
    let params = json!({"textDocument": {"uri": s.uri}, "options": {"tabSize": 4, "insertSpaces": true}});
    let edits = s.client.request("textDocument/formatting", params.clone());
    assert_eq!(apply(&ugly, edits.as_array().unwrap()), LOOP);
    let item = json!({"uri": s.uri, "languageId": "mill", "version": 2, "text": "stage {\n"});
    s.client
        .notify("textDocument/didOpen", json!({"textDocument": item}));
    let reply = s.client.call("textDocument/formatting", params);
    assert!(
        reply["error"]["message"]
            .as_str()
            .unwrap()
            .contains("syntax errors"),
        "{reply}"
    );
}

#[test]
fn symbols_and_semantic_tokens_describe_the_file() {
    let (mut s, _) = session(LOOP);
    let doc = json!({"textDocument": {"uri": s.uri}});
    let symbols = s.client.request("textDocument/documentSymbol", doc.clone());
    let names: Vec<&str> = symbols
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["execution.quick", "quick"]);
    let children: Vec<&str> = symbols[0]["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap())
        .collect();
    assert_eq!(children, ["builder", "check", "retries", "done", "blocked"]);
    let tokens = s.client.request("textDocument/semanticTokens/full", doc);
    let data = tokens["data"].as_array().unwrap();
    assert_eq!(data.len() % 5, 0);
    // The first token is the `loop` keyword at 0:0, four characters long.
    assert_eq!(&data[..5], &[json!(0), json!(0), json!(4), json!(0), json!(0)]);
    // Every token but the nine braces is classified.
    assert_eq!(data.len() / 5, 55, "every token is classified");
}

#[test]
fn a_file_in_a_workspace_sees_the_other_loop_files() {
    let dir = tempfile::tempdir().unwrap();
    let loops = dir.path().join("millrace-agents/loops");
    std::fs::create_dir_all(&loops).unwrap();
    let stage = "stage tester {\n    plane      execution\n    entrypoint \"entrypoints/execution/tester.md\"\n    outcomes {\n        TEST_COMPLETE: success\n        BLOCKED:       blocked | recoverable_failure\n    }\n}\n";
    std::fs::write(loops.join("a_stage.mill"), stage).unwrap();
    let mut client = Client::start(&dir.path().join("builtin"));
    let text = "loop execution.t {\n    plane execution\n    entry task -> tester\n    tester {\n        TEST_COMPLETE -> finish done\n        BLOCKED       -> finish done\n    }\n    terminal done: blocked\n}\n";
    let u = uri(&loops.join("b_loop.mill"));
    let diags = client.open(&u, text);
    assert!(
        !codes(&diags).contains(&"mill::check::unknown_stage".to_string()),
        "{diags:?}"
    );
    let outside = uri(&dir.path().join("b_loop.mill"));
    let diags = client.open(&outside, text);
    assert_eq!(
        codes(&diags),
        ["mill::check::unknown_stage"],
        "outside a workspace only the shipped loops count"
    );
}

#[test]
fn bad_requests_get_errors_and_the_server_goes_on() {
    let (mut s, _) = session(LOOP);
    let reply = s.client.call(
        "textDocument/hover",
        json!({"textDocument": {"uri": s.uri}, "position": {"line": 9999, "character": 9999}}),
    );
    assert!(reply.get("error").is_none(), "{reply}");
    let reply = s.client.call("textDocument/hover", json!({"nonsense": true}));
    assert!(reply.get("error").is_some(), "{reply}");
    let reply = s
        .client
        .call("workspace/unknownThing", json!({"textDocument": {"uri": s.uri}}));
    assert!(reply.get("error").is_some(), "{reply}");
    let reply = s.client.call("textDocument/definition", json!({"textDocument": {"uri": "file:///nonexistent/x.mill"}, "position": {"line": 0, "character": 0}}));
    assert!(reply.get("error").is_some(), "{reply}");
    // Still answering.
    let loc = s.client.request(
        "textDocument/definition",
        pos(&s, find(LOOP, "count retries", 0, 7)),
    );
    assert_eq!(loc["range"]["start"]["line"], 3);
    assert_eq!(s.client.shutdown(), Some(0));
}
