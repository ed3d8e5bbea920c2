//! The fuzz targets' checks, run in the suite on generated inputs: pieces
//! of the shipped loops, cut and spliced, with random bytes mixed in.

use proptest::prelude::*;

#[path = "fuzzing.rs"]
mod fuzzing;

fn shipped() -> Vec<u8> {
    millrace::embedded::LOOPS
        .iter()
        .flat_map(|(_, b)| b.iter().copied())
        .collect()
}

/// A slice of the shipped loops with a few bytes replaced.
fn mangled() -> impl Strategy<Value = Vec<u8>> {
    let len = shipped().len();
    (
        0..len,
        0..2000usize,
        proptest::collection::vec((0..2000usize, any::<u8>()), 0..6),
    )
        .prop_map(move |(start, take, edits)| {
            let all = shipped();
            let mut out: Vec<u8> = all[start..(start + take).min(all.len())].to_vec();
            for (at, byte) in edits {
                if !out.is_empty() {
                    let i = at % out.len();
                    out[i] = byte;
                }
            }
            out
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn fmt_never_panics_and_is_idempotent(data in mangled()) {
        fuzzing::mill_fmt(&data);
    }

    #[test]
    fn lsp_sessions_answer_every_request(data in mangled(), ops in proptest::collection::vec(any::<u8>(), 0..64)) {
        // The target reads the first half as the document, the second as
        // edits and queries.
        let mut input = data;
        input.extend(&ops);
        fuzzing::lsp_document(&input);
    }
}

#[test]
fn deep_and_odd_documents_do_not_take_the_server_down() {
    let deep = format!(
        "loop x {{\n n {{\n A -> a{}\n }}\n}}\n",
        " count c else a".repeat(5000)
    );
    for text in [
        deep,
        "{".repeat(10_000),
        "\"".repeat(3000),
        "é\n\r\n\u{0}".repeat(100),
    ] {
        let mut input = text.into_bytes();
        let ops: Vec<u8> = (0..64u8).map(|i| i.wrapping_mul(37)).collect();
        input.extend(&ops);
        fuzzing::lsp_document(&input);
        fuzzing::mill_fmt(&input);
    }
}
