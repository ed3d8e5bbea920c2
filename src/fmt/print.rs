//! Printing the layout tree with its comments and blank lines.
//!
//! Input: the units of a file, its comments and its text. Output: the
//! formatted text.
//!
//! Where comments go: a comment before a unit leads it (on its own line);
//! a comment after a unit on the same line trails it; a comment between
//! the tokens of a statement stays after the token it followed when that
//! token still ends a line, and otherwise moves above the statement. A
//! comment before a block's `}` stays inside the block.
//!
//! Blank lines: a run of blank lines becomes one; none is kept after `{` or
//! before `}`; top-level blocks are always separated by one.

use super::comments::{Comment, has_blank_line};
use super::layout::{Line, columns, render};
use super::tree::{Align, Block, Body, Layout, Unit};

pub(super) struct Printer<'a> {
    text: &'a str,
    comments: Vec<Comment>,
    next: usize,
    /// The source offset of the last token or comment printed.
    pos: usize,
    out: Vec<String>,
    pending_blank: bool,
    /// Just after a `{` line, where no blank line may follow.
    fresh: bool,
}

impl<'a> Printer<'a> {
    pub(super) fn new(text: &'a str, comments: Vec<Comment>) -> Self {
        Printer {
            text,
            comments,
            next: 0,
            pos: 0,
            out: Vec::new(),
            pending_blank: false,
            fresh: true,
        }
    }

    /// Prints a file's items and the comments after them.
    pub(super) fn file(mut self, items: &[Unit]) -> String {
        self.items(items, 0, true);
        self.leading(self.text.len(), 0);
        if self.out.is_empty() {
            return String::new();
        }
        let mut text = self.out.join("\n");
        text.push('\n');
        text
    }

    fn emit(&mut self, line: String) {
        if self.pending_blank && !self.fresh {
            self.out.push(String::new());
        }
        self.pending_blank = false;
        self.fresh = false;
        self.out.push(line);
    }

    fn gap(&self, upto: usize) -> &str {
        self.text.get(self.pos.min(upto)..upto).unwrap_or("")
    }

    fn blank_if_gap(&mut self, upto: usize) {
        if has_blank_line(self.gap(upto)) {
            self.pending_blank = true;
        }
    }

    fn peek(&self) -> Option<&Comment> {
        self.comments.get(self.next)
    }

    /// Prints the comments that start before `upto` on their own lines.
    fn leading(&mut self, upto: usize, indent: usize) {
        while let Some(c) = self.peek().filter(|c| c.start < upto).cloned() {
            self.blank_if_gap(c.start);
            self.emit(format!("{}{}", " ".repeat(indent), c.text));
            self.pos = c.end;
            self.next += 1;
        }
    }

    /// Appends the comment that follows offset `end` on its line, if any.
    fn trailing(&mut self, end: usize) {
        if let Some(c) = self.peek().filter(|c| c.same_line && c.after == end).cloned() {
            if let Some(last) = self.out.last_mut() {
                last.push(' ');
                last.push_str(&c.text);
            }
            self.pos = c.end;
            self.next += 1;
        }
    }

    fn items(&mut self, items: &[Unit], indent: usize, top: bool) {
        let widths = group_widths(self.text, items);
        for (i, unit) in items.iter().enumerate() {
            if top && i > 0 {
                let prev = &items[i - 1];
                let apart = self.text.get(prev.end..unit.start).is_some_and(has_blank_line);
                if !apart && (is_block(prev) || is_block(unit)) {
                    self.pending_blank = true;
                }
            }
            self.leading(unit.start, indent);
            self.blank_if_gap(unit.start);
            match &unit.body {
                Body::Stmt(layout) => {
                    let lines = render(layout, indent, &widths[i]);
                    self.statement(lines, unit.end, indent);
                }
                Body::Block(block) => self.block(block, indent),
            }
        }
    }

    fn block(&mut self, block: &Block, indent: usize) {
        let pad = " ".repeat(indent);
        let head: Vec<&str> = block.head.iter().map(|t| t.text.as_str()).collect();
        let open_end = block.head.last().map(|t| t.end).unwrap_or(0);
        let inside = self.comments[self.next..]
            .iter()
            .any(|c| c.start >= open_end && c.start < block.close_start);
        let empty = block.items.is_empty() && !inside;
        if empty {
            let line = format!("{pad}{}}}", head.join(" "));
            self.statement(
                vec![Line {
                    text: line,
                    end: block.close.end,
                }],
                block.close.end,
                indent,
            );
            return;
        }
        let line = Line {
            text: format!("{pad}{}", head.join(" ")),
            end: open_end,
        };
        self.statement(vec![line], open_end, indent);
        self.fresh = true;
        self.items(&block.items, indent + 4, false);
        self.leading(block.close_start, indent + 4);
        self.pending_blank = false;
        self.emit(format!("{pad}}}"));
        self.pos = block.close.end;
        self.trailing(block.close.end);
    }

    /// Prints a statement's lines with the comments inside it and the one
    /// trailing it.
    fn statement(&mut self, lines: Vec<Line>, end: usize, indent: usize) {
        let mut inner = Vec::new();
        while let Some(c) = self.peek().filter(|c| c.start < end).cloned() {
            self.next += 1;
            let line = lines
                .iter()
                .position(|l| l.end == c.after)
                .filter(|i| i + 1 < lines.len());
            inner.push((c, line));
        }
        // Comments keep their order: everything before the last comment
        // that must move above the statement moves with it.
        let split = inner
            .iter()
            .rposition(|(_, line)| line.is_none())
            .map_or(0, |i| i + 1);
        let mut after: Vec<Vec<Comment>> = vec![Vec::new(); lines.len()];
        let mut hoisted = Vec::new();
        for (i, (c, line)) in inner.into_iter().enumerate() {
            match line {
                Some(l) if i >= split => after[l].push(c),
                _ => hoisted.push(c),
            }
        }
        for c in &hoisted {
            self.emit(format!("{}{}", " ".repeat(indent), c.text));
        }
        let count = lines.len();
        for (i, line) in lines.into_iter().enumerate() {
            self.emit(line.text);
            let next_indent = indent + 4;
            for c in std::mem::take(&mut after[i]) {
                match (c.same_line, self.out.last_mut()) {
                    (true, Some(last)) if i + 1 < count => {
                        last.push(' ');
                        last.push_str(&c.text);
                    }
                    _ => self.emit(format!("{}{}", " ".repeat(next_indent), c.text)),
                }
            }
        }
        self.pos = self.pos.max(end);
        self.trailing(end);
    }
}

fn is_block(unit: &Unit) -> bool {
    matches!(unit.body, Body::Block(_))
}

/// What lines a statement up with its neighbours: its alignment kind and
/// number of columns.
fn group_key(unit: &Unit) -> Option<(Option<Align>, usize)> {
    match &unit.body {
        Body::Stmt(Layout::Aligned { align, cols, .. }) => Some((Some(*align), cols.len())),
        Body::Stmt(Layout::Route(_)) => Some((None, 1)),
        _ => None,
    }
}

/// The column widths of each unit's group: a run of statements of one kind
/// with no blank line between them.
fn group_widths(text: &str, items: &[Unit]) -> Vec<Vec<usize>> {
    let mut widths: Vec<Vec<usize>> = items
        .iter()
        .map(|u| match &u.body {
            Body::Stmt(l) => columns(l),
            Body::Block(_) => Vec::new(),
        })
        .collect();
    let mut start = 0;
    for i in 1..=items.len() {
        let ends_group = i == items.len()
            || group_key(&items[i]) != group_key(&items[i - 1])
            || group_key(&items[i]).is_none()
            || text
                .get(items[i - 1].end..items[i].start)
                .is_some_and(has_blank_line);
        if ends_group {
            let cols = widths[start].len();
            let max: Vec<usize> = (0..cols)
                .map(|c| {
                    widths[start..i]
                        .iter()
                        .filter_map(|w| w.get(c))
                        .copied()
                        .max()
                        .unwrap_or(0)
                })
                .collect();
            for w in &mut widths[start..i] {
                w.clone_from(&max);
            }
            start = i;
        }
    }
    widths
}
