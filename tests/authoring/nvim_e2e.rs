//! One end-to-end run with a real client: headless Neovim opens a `.mill`
//! file with an error through `millrace lsp`, receives the diagnostic with
//! its code, jumps to a definition and formats the buffer. Neovim must be
//! installed (`.ci/run` installs Debian's `neovim` when `nvim` is missing):
//! without it this test fails rather than pass unseen.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::root;

const TEXT: &str = "\
loop execution.quick {
  plane execution
  entry task -> builder
  counter retries limit 3
  builder {
    BUILDER_COMPLETE -> chekcer
    BLOCKED -> builder count retries else finish blocked
  }
  terminal blocked: blocked
}
";

#[test]
fn neovim_gets_diagnostics_jumps_and_formats() {
    let found = Command::new("nvim")
        .arg("--version")
        .stdout(Stdio::null())
        .status();
    assert!(
        found.is_ok_and(|s| s.success()),
        "this test needs Neovim: `apt-get install neovim` (.ci/run installs it)"
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("quick.mill");
    std::fs::write(&file, TEXT).unwrap();
    let out = dir.path().join("result.json");
    let mut child = Command::new("nvim")
        .args(["--headless", "--clean", "-n", "-i", "NONE", "-u", "NONE", "-c"])
        .arg(format!(
            "luafile {}",
            root().join("tests/authoring/nvim/e2e.lua").display()
        ))
        .env("MILL_BIN", env!("CARGO_BIN_EXE_millrace"))
        .env("MILL_FILE", &file)
        .env("MILL_OUT", &out)
        .env("MILLRACE_LSP_BUILTIN_DIR", dir.path().join("builtin"))
        .env("XDG_STATE_HOME", dir.path().join("state"))
        .env("XDG_DATA_HOME", dir.path().join("data"))
        .env("HOME", dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("neovim did not finish");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let result: Value = match std::fs::read_to_string(&out) {
        Ok(text) => serde_json::from_str(&text).unwrap(),
        Err(_) => {
            let mut stderr = String::new();
            std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
            panic!("neovim wrote no result; stderr:\n{stderr}");
        }
    };
    assert_eq!(result["client"], true, "{result}");
    let diags = result["diagnostics"].as_array().unwrap();
    assert_eq!(diags.len(), 1, "{result}");
    assert_eq!(diags[0]["code"], "mill::check::unknown_node");
    assert_eq!(
        (diags[0]["line"].as_u64(), diags[0]["col"].as_u64()),
        (Some(5), Some(24))
    );
    assert!(
        diags[0]["message"]
            .as_str()
            .unwrap()
            .contains("has no node `chekcer`"),
        "{result}"
    );
    // The cursor landed on `retries` in `counter retries limit 3`.
    assert_eq!(
        result["definition"],
        serde_json::json!({"line": 3, "col": 10}),
        "{result}"
    );
    let formatted: Vec<&str> = result["formatted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    let expected = millrace::fmt::format_text("quick.mill", TEXT).unwrap();
    assert_eq!(formatted.join("\n") + "\n", expected);
    assert_ne!(expected, TEXT, "the buffer really was reformatted");
}
