//! The global offset space of every loaded `.mill` file.

use std::sync::Arc;

use miette::{MietteError, MietteSpanContents, SourceCode, SourceSpan, SpanContents};

/// Index of a file in [`Sources`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId(pub u32);

/// A half-open range of global byte offsets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(start: u32, end: u32) -> Self {
        Self { start, end }
    }

    pub fn len(self) -> u32 {
        self.end - self.start
    }

    pub fn is_empty(self) -> bool {
        self.start == self.end
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }
}

impl From<Span> for SourceSpan {
    fn from(span: Span) -> Self {
        SourceSpan::new((span.start as usize).into(), span.len() as usize)
    }
}

/// Where a source file came from; a later layer may redefine an earlier
/// layer's names (a workspace overriding a shipped loop).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Layer {
    /// Embedded in the binary.
    Builtin,
    /// `millrace-agents/loops/*.mill` or files named on the command line.
    Workspace,
}

/// One registered file.
#[derive(Clone, Debug)]
pub struct SourceFile {
    /// Display name, relative where possible (`loops/execution.mill`).
    pub name: String,
    pub text: Arc<str>,
    pub layer: Layer,
    /// Global offset of the first byte.
    pub base: u32,
    /// Local offsets where each line starts (the first is 0), so a
    /// location is a binary search, not a scan from the top of the file:
    /// lowering asks for one per node.
    line_starts: Arc<[u32]>,
}

impl SourceFile {
    /// The global span of the whole file.
    pub fn span(&self) -> Span {
        Span::new(self.base, self.base + self.text.len() as u32)
    }
}

/// A 1-based line and column in a named file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    pub file: String,
    pub line: u32,
    pub column: u32,
}

/// Every file of a compile, laid out in one offset space.
#[derive(Clone, Debug, Default)]
pub struct Sources {
    files: Vec<SourceFile>,
}

impl Sources {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a file; files must be added in the order they should be
    /// reported in.
    pub fn add(&mut self, name: impl Into<String>, text: impl Into<Arc<str>>, layer: Layer) -> FileId {
        let base = self.files.last().map(|f| f.span().end + 1).unwrap_or(0);
        let id = FileId(self.files.len() as u32);
        let text: Arc<str> = text.into();
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i as u32 + 1))
            .collect();
        self.files.push(SourceFile {
            name: name.into(),
            text,
            layer,
            base,
            line_starts,
        });
        id
    }

    pub fn file(&self, id: FileId) -> &SourceFile {
        &self.files[id.0 as usize]
    }

    pub fn files(&self) -> impl Iterator<Item = (FileId, &SourceFile)> {
        self.files.iter().enumerate().map(|(i, f)| (FileId(i as u32), f))
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The file containing a global offset (the last file starting at or
    /// before it).
    pub fn file_of(&self, offset: u32) -> FileId {
        let index = self.files.partition_point(|f| f.base <= offset).saturating_sub(1);
        FileId(index as u32)
    }

    /// The source text under a span.
    pub fn text(&self, span: Span) -> &str {
        let file = self.file(self.file_of(span.start));
        let start = (span.start - file.base) as usize;
        let end = ((span.end - file.base) as usize).min(file.text.len());
        file.text.get(start..end).unwrap_or("")
    }

    /// The 1-based line and column of a global offset.
    pub fn location(&self, offset: u32) -> Location {
        let file = self.file(self.file_of(offset));
        let local = ((offset - file.base) as usize).min(file.text.len());
        let local = floor_char_boundary(&file.text, local);
        // The last line starting at or before the offset.
        let index = file.line_starts.partition_point(|&start| start as usize <= local) - 1;
        let line_start = file.line_starts[index] as usize;
        let line = index as u32 + 1;
        let column = file.text[line_start..local].chars().count() as u32 + 1;
        Location {
            file: file.name.clone(),
            line,
            column,
        }
    }
}

fn floor_char_boundary(text: &str, mut index: usize) -> usize {
    while index > 0 && !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

impl SourceCode for Sources {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        if self.files.is_empty() {
            return Err(MietteError::OutOfBounds);
        }
        let file = self.file(self.file_of(span.offset() as u32));
        let local_start = span.offset().saturating_sub(file.base as usize);
        if local_start > file.text.len() {
            return Err(MietteError::OutOfBounds);
        }
        let local_len = span.len().min(file.text.len() - local_start);
        let local = SourceSpan::new(local_start.into(), local_len);
        let contents = file
            .text
            .read_span(&local, context_lines_before, context_lines_after)?;
        let global = SourceSpan::new(
            (contents.span().offset() + file.base as usize).into(),
            contents.span().len(),
        );
        Ok(Box::new(MietteSpanContents::new_named(
            file.name.clone(),
            contents.data(),
            global,
            contents.line(),
            contents.column(),
            contents.line_count(),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_map_back_to_their_files() {
        let mut sources = Sources::new();
        let a = sources.add("a.mill", "one\ntwo\n", Layer::Builtin);
        let b = sources.add("b.mill", "three", Layer::Workspace);
        let b_base = sources.file(b).base;
        assert_eq!(sources.file_of(0), a);
        assert_eq!(sources.file_of(7), a);
        assert_eq!(sources.file_of(b_base), b);
        assert_eq!(
            sources.location(4),
            Location {
                file: "a.mill".into(),
                line: 2,
                column: 1
            }
        );
        assert_eq!(sources.location(b_base + 2).line, 1);
        assert_eq!(sources.text(Span::new(b_base, b_base + 5)), "three");
    }

    /// The line index gives what counting from the top of the file gives,
    /// at every offset (inside multi-byte characters too).
    #[test]
    fn locations_match_a_count_from_the_top() {
        let text = "stage é {\n\n  «x» -> y\r\nend\n";
        let mut sources = Sources::new();
        sources.add("a.mill", text, Layer::Workspace);
        for offset in 0..=text.len() {
            let mut at = offset;
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            let before = &text[..at];
            let line = before.matches('\n').count() as u32 + 1;
            let start = before.rfind('\n').map_or(0, |i| i + 1);
            let column = before[start..].chars().count() as u32 + 1;
            let got = sources.location(offset as u32);
            assert_eq!((got.line, got.column), (line, column), "offset {offset}");
        }
    }
}
