//! Micro-benchmarks of the loop authors' tools: the language server's
//! re-check on a keystroke, the checker on loops of growing size, and the
//! formatter. Run with `cargo bench --bench authoring`; divan prints the
//! table. Measurements only; nothing here asserts a time.

use divan::Bencher;

use millrace::diag::{Diagnostics, Layer, Sources};
use millrace::lsp::world::{Doc, World};

fn main() {
    divan::main();
}

/// The four shipped loop files as one workspace document: a file of the
/// size of the shipped loops (it overrides every shipped definition).
fn shipped_as_one_file() -> String {
    millrace::embedded::LOOPS
        .iter()
        .map(|(_, bytes)| String::from_utf8_lossy(bytes).into_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

/// One keystroke in the editor: the document changes by one character and
/// the server parses and checks it again with the shipped loops.
#[divan::bench]
fn lsp_recheck_on_keystroke(bencher: Bencher) {
    let dir = std::env::temp_dir().join("millrace-bench-builtin");
    let mut world = World::new(Some(dir));
    let uri = "file:///bench/loops.mill".to_string();
    let text = shipped_as_one_file();
    let mut flip = false;
    bencher.bench_local(|| {
        flip = !flip;
        let mut edited = text.clone();
        edited.push_str(if flip { "# a\n" } else { "# b\n" });
        world.docs.insert(
            uri.clone(),
            Doc {
                text: edited,
                version: 1,
            },
        );
        let analysis = world.analyze(&uri).expect("the document is open");
        assert!(!analysis.diags.has_errors());
        analysis
    });
}

/// A loop of `nodes` nodes in one long chain, every node able to fall back
/// to the first (one big cycle, bounded by a counter).
fn big_loop(nodes: usize) -> String {
    let mut text = String::from(
        "stage step {\n    plane      execution\n    entrypoint \"entrypoints/execution/step.md\"\n    outcomes {\n        DONE:    success\n        BLOCKED: blocked | recoverable_failure\n    }\n}\n\nloop execution.big {\n    plane execution\n    entry task -> n0\n    counter retries limit 3\n",
    );
    for i in 0..nodes {
        let next = if i + 1 == nodes {
            "finish done".to_string()
        } else {
            format!("n{}", i + 1)
        };
        text.push_str(&format!(
            "    n{i}: step {{\n        DONE    -> {next}\n        BLOCKED -> n0 count retries else finish blocked\n    }}\n"
        ));
    }
    text.push_str("    terminal done: success\n    terminal blocked: blocked\n}\n");
    text
}

/// Parse and check the shipped loops plus one loop of the given size.
#[divan::bench(args = [500, 2000, 8000], sample_count = 5, sample_size = 1)]
fn check_loop_of_nodes(bencher: Bencher, nodes: usize) {
    let text = big_loop(nodes);
    bencher.bench_local(|| {
        let mut sources = Sources::new();
        millrace::check::add_builtin_sources(&mut sources);
        sources.add("big.mill", text.as_str(), Layer::Workspace);
        let mut diags = Diagnostics::new();
        let program = millrace::check::check_sources(&sources, &mut diags);
        assert!(program.is_some(), "{:?}", diags.codes());
        program
    });
}

/// Formatting a file of the size of the shipped loops.
#[divan::bench]
fn fmt_shipped_size_file(bencher: Bencher) {
    let text = shipped_as_one_file();
    bencher.bench_local(|| millrace::fmt::format_text("loops.mill", &text).ok());
}
