//! Inputs that once broke a reader (found by fuzzing or by hand), kept as
//! files under `regressions/<reader>/` and replayed through the same
//! checks the fuzz targets run (`readers.rs`).

use std::path::Path;

use super::readers::READERS;

#[test]
fn every_regression_input_passes_its_reader() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/proof/regressions");
    let mut replayed = 0;
    for (name, reader) in READERS {
        let dir = root.join(name);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut paths: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        paths.sort();
        for path in paths {
            let data = std::fs::read(&path).unwrap();
            let outcome = std::panic::catch_unwind(|| reader(&data));
            assert!(outcome.is_ok(), "{name}: {} panics", path.display());
            replayed += 1;
        }
    }
    eprintln!("replayed {replayed} regression inputs");
}

/// A diagnostic whose label sits past column 65535 of its line made
/// miette's snippet renderer panic ("Formatting argument out of range"):
/// a `.mill` source or a `millrace.toml` with one very long line crashed
/// `compile validate` and `config validate`. Found by the bad-input corpus.
#[test]
fn diagnostics_far_along_a_line_render_without_a_snippet() {
    let bench = super::Bench::init();
    let long = "x".repeat(100_000);
    bench.write("loops/long.mill", &format!("stage {long} {{\n"));
    let out = bench.run(&["compile", "validate"]);
    super::assert_no_panic("compile validate", &out);
    let err = super::text(&out.stderr);
    assert!(err.contains("mill::syntax::unclosed_block"), "{err}");
    assert!(
        err.contains("loops/long.mill:1:100008"),
        "the location is given in words: {err}"
    );
    std::fs::remove_file(bench.path("loops/long.mill")).unwrap();
    bench.write(
        "millrace.toml",
        &format!("[runtime]\ndefault_mode = \"{long}\" bogus\n"),
    );
    for args in [&["config", "validate"][..], &["status"], &["run", "once"]] {
        let out = bench.run(args);
        super::assert_no_panic(&args.join(" "), &out);
    }
    let out = bench.run(&["config", "validate"]);
    assert!(super::text(&out.stderr).contains("mill::config::syntax"));
}
