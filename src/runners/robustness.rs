//! Property tests: no harness output, however garbled, makes a parser
//! panic or buffer without bound.

use proptest::prelude::*;

use super::claude::ClaudeEvents;
use super::codex::CodexEvents;
use super::gemini::GeminiEvents;
use super::lines::{LineReader, MAX_LINE};
use super::markers::{distinct_markers, parse_structured};
use super::quota::reset_time;
use super::stream::LineSink;

/// Bytes that look like harness output: JSON fragments, markers, junk.
fn output() -> impl Strategy<Value = Vec<u8>> {
    let pieces = prop::collection::vec(
        prop_oneof![
            Just(b"{\"type\":\"turn.completed\",\"usage\":{\"input_tokens\":-1}}\n".to_vec()),
            Just(b"{\"type\":\"result\",\"subtype\":7,\"is_error\":\"yes\"}\n".to_vec()),
            Just(b"{\"type\":\"rate_limit_event\",\"resetsAt\":1e300}\n".to_vec()),
            Just(
                b"{\"type\":\"item.completed\",\"item\":{\"type\":\"agent_message\",\"text\":null}}\n"
                    .to_vec()
            ),
            Just(b"### BUILDER_COMPLETE\r\n".to_vec()),
            Just("\u{2028}\u{2029}\n".as_bytes().to_vec()),
            prop::collection::vec(any::<u8>(), 0..64),
        ],
        0..40,
    );
    pieces.prop_map(|p| p.concat())
}

fn feed(bytes: &[u8], sink: &mut dyn LineSink) {
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    runtime.block_on(async {
        let mut reader = LineReader::new(bytes, None, None);
        while let Some(line) = reader.next_line().await {
            let _ = sink.line(&line);
        }
        assert!(reader.stats().peak_line_bytes <= MAX_LINE);
    });
}

proptest! {
    #[test]
    fn codex_claude_and_gemini_parsers_never_panic(bytes in output()) {
        feed(&bytes, &mut CodexEvents::default());
        feed(&bytes, &mut ClaudeEvents::default());
        feed(&bytes, &mut GeminiEvents::default());
    }

    #[test]
    fn marker_and_result_parsers_never_panic(bytes in output()) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = distinct_markers(&text);
        let _ = parse_structured(&bytes);
    }

    #[test]
    fn reset_time_never_panics(text in "(try again (at|in) |resets )?[A-Za-z0-9 :,.()/]{0,40}") {
        let now = jiff::Timestamp::now();
        let _ = reset_time(&text, now, &jiff::tz::TimeZone::UTC);
    }
}
