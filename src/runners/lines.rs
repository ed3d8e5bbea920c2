//! Reading a harness's stdout: raw bytes to a file as they arrive, and
//! LF-framed lines to the runner.
//!
//! Input: the child's stdout pipe. Output: the `runner_stdout` file (exact
//! bytes), optionally the `runner_events` file (lines the runner logs), and
//! [`Line`]s. Invariants: lines split on `\n` only (a trailing `\r` is
//! dropped; U+2028/U+2029 are ordinary bytes); memory stays bounded by one
//! read chunk plus [`MAX_LINE`], whatever the harness prints; a line longer
//! than that is cut and flagged rather than buffered.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufWriter, Write};

use tokio::io::{AsyncRead, AsyncReadExt};

/// The longest line kept for parsing; longer lines are truncated.
pub(crate) const MAX_LINE: usize = 4 * 1024 * 1024;

const CHUNK: usize = 64 * 1024;

/// One stdout line, without its line ending.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Line {
    pub bytes: Vec<u8>,
    /// The line was longer than [`MAX_LINE`] and was cut.
    pub truncated: bool,
}

/// Byte counts for the completion record.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct StreamStats {
    pub bytes: u64,
    pub lines: u64,
    pub truncated_lines: u64,
    /// The most bytes ever held for one partial line.
    pub peak_line_bytes: usize,
}

/// Splits a pipe into lines, copying every byte to `raw` first.
pub(crate) struct LineReader<R> {
    inner: R,
    raw: Option<File>,
    events: Option<BufWriter<File>>,
    chunk: Vec<u8>,
    partial: Vec<u8>,
    overflow: bool,
    ready: VecDeque<Line>,
    eof: bool,
    stats: StreamStats,
    write_error: Option<String>,
}

impl<R: AsyncRead + Unpin> LineReader<R> {
    pub(super) fn new(inner: R, raw: Option<File>, events: Option<File>) -> Self {
        LineReader {
            inner,
            raw,
            events: events.map(BufWriter::new),
            chunk: vec![0; CHUNK],
            partial: Vec::new(),
            overflow: false,
            ready: VecDeque::new(),
            eof: false,
            stats: StreamStats::default(),
            write_error: None,
        }
    }

    /// The next line, or `None` at end of stream. Cancel-safe: the only
    /// await is a pipe read, and bytes are handled before the next await.
    pub(super) async fn next_line(&mut self) -> Option<Line> {
        loop {
            if let Some(line) = self.ready.pop_front() {
                return Some(line);
            }
            if self.eof {
                return None;
            }
            self.flush_events();
            match self.inner.read(&mut self.chunk).await {
                Ok(0) | Err(_) => self.finish(),
                Ok(n) => self.accept(n),
            }
        }
    }

    /// Appends one line to the events file.
    pub(super) fn log_event(&mut self, line: &[u8]) {
        if let Some(events) = &mut self.events {
            let written = events.write_all(line).and_then(|()| events.write_all(b"\n"));
            if let Err(e) = written {
                self.write_error
                    .get_or_insert_with(|| format!("events file write failed: {e}"));
            }
        }
    }

    pub(super) fn stats(&self) -> StreamStats {
        self.stats
    }

    /// The first write error, if copying to a file ever failed.
    pub(super) fn write_error(&self) -> Option<&str> {
        self.write_error.as_deref()
    }

    /// Flushes the events file (also done before every read).
    pub(super) fn flush_events(&mut self) {
        let flushed = self.events.as_mut().map_or(Ok(()), |events| events.flush());
        if let Err(e) = flushed {
            self.write_error
                .get_or_insert_with(|| format!("events file write failed: {e}"));
        }
    }

    fn accept(&mut self, n: usize) {
        self.stats.bytes += n as u64;
        let chunk = std::mem::take(&mut self.chunk);
        let data = chunk.get(..n).unwrap_or_default();
        let copied = self.raw.as_mut().map_or(Ok(()), |raw| raw.write_all(data));
        if let Err(e) = copied {
            self.write_error
                .get_or_insert_with(|| format!("stdout file write failed: {e}"));
        }
        let mut rest = data;
        while let Some(pos) = rest.iter().position(|&b| b == b'\n') {
            let (head, tail) = rest.split_at(pos);
            push_bounded(&mut self.partial, &mut self.overflow, head);
            self.stats.peak_line_bytes = self.stats.peak_line_bytes.max(self.partial.len());
            self.end_line();
            rest = tail.get(1..).unwrap_or_default();
        }
        push_bounded(&mut self.partial, &mut self.overflow, rest);
        self.stats.peak_line_bytes = self.stats.peak_line_bytes.max(self.partial.len());
        self.chunk = chunk;
    }

    fn end_line(&mut self) {
        let mut bytes = std::mem::take(&mut self.partial);
        if bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
        let truncated = std::mem::replace(&mut self.overflow, false);
        self.stats.lines += 1;
        self.stats.truncated_lines += u64::from(truncated);
        self.ready.push_back(Line { bytes, truncated });
    }

    fn finish(&mut self) {
        self.eof = true;
        if !self.partial.is_empty() || self.overflow {
            self.end_line();
        }
        self.flush_events();
    }
}

/// Appends `data` to `buf` up to [`MAX_LINE`], flagging what was dropped.
fn push_bounded(buf: &mut Vec<u8>, overflow: &mut bool, data: &[u8]) {
    let room = MAX_LINE.saturating_sub(buf.len());
    if data.len() > room {
        *overflow = true;
    }
    buf.extend_from_slice(data.get(..room.min(data.len())).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn all_lines(input: &[u8]) -> Vec<Line> {
        let mut reader = LineReader::new(input, None, None);
        let mut out = Vec::new();
        while let Some(line) = reader.next_line().await {
            out.push(line);
        }
        out
    }

    #[tokio::test]
    async fn lf_framing_only() {
        let text = "a\u{2028}b\r\nc\n\nd".as_bytes();
        let lines: Vec<Vec<u8>> = all_lines(text).await.into_iter().map(|l| l.bytes).collect();
        assert_eq!(
            lines,
            vec![
                "a\u{2028}b".as_bytes().to_vec(),
                b"c".to_vec(),
                Vec::new(),
                b"d".to_vec()
            ]
        );
    }

    #[tokio::test]
    async fn long_lines_are_cut_not_buffered() {
        let mut input = vec![b'x'; MAX_LINE + 10_000];
        input.extend_from_slice(b"\nok\n");
        let mut reader = LineReader::new(input.as_slice(), None, None);
        let first = reader.next_line().await.unwrap();
        assert!(first.truncated);
        assert_eq!(first.bytes.len(), MAX_LINE);
        assert_eq!(reader.next_line().await.unwrap().bytes, b"ok");
        assert!(reader.next_line().await.is_none());
        assert!(reader.stats().peak_line_bytes <= MAX_LINE);
        assert_eq!(reader.stats().truncated_lines, 1);
    }

    #[tokio::test]
    async fn raw_copy_is_exact() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out");
        let input: Vec<u8> = (0..=255u8).cycle().take(300_000).collect();
        let mut reader = LineReader::new(input.as_slice(), Some(File::create(&path).unwrap()), None);
        while reader.next_line().await.is_some() {}
        assert_eq!(std::fs::read(&path).unwrap(), input);
    }
}
