//! Laying out one statement as lines: alignment columns, route wrapping and
//! terminal wrapping.
//!
//! Input: a [`Layout`], its indentation and its group's column widths.
//! Output: lines, each with the source offset of its last token.
//!
//! Invariants: a layout depends only on the tokens (never on comments or on
//! the old whitespace), so formatting is idempotent; no line ends in a space.

use super::tree::{Layout, Route, Tok};

/// The column past which a route or terminal is wrapped.
pub const WIDTH: usize = 100;

/// One printed line of a statement.
#[derive(Debug)]
pub(super) struct Line {
    pub text: String,
    /// Where the last token on the line ends in the source.
    pub end: usize,
}

fn width(text: &str) -> usize {
    text.chars().count()
}

fn join(toks: &[Tok]) -> String {
    let parts: Vec<&str> = toks.iter().map(|t| t.text.as_str()).collect();
    parts.join(" ")
}

fn last_end(toks: &[Tok]) -> Option<usize> {
    toks.last().map(|t| t.end)
}

/// The widths of a layout's aligned columns (empty when it has none).
pub(super) fn columns(layout: &Layout) -> Vec<usize> {
    match layout {
        Layout::Aligned { cols, .. } => cols.iter().map(|c| width(&join(c))).collect(),
        Layout::Route(r) => vec![width(&r.outcomes.text)],
        _ => Vec::new(),
    }
}

/// Lays out a statement at `indent` with its group's column `widths`.
pub(super) fn render(layout: &Layout, indent: usize, widths: &[usize]) -> Vec<Line> {
    let pad = " ".repeat(indent);
    match layout {
        Layout::Line(toks) => vec![Line {
            text: format!("{pad}{}", join(toks)),
            end: last_end(toks).unwrap_or(0),
        }],
        Layout::Aligned { cols, rest, .. } => vec![aligned(&pad, cols, rest, widths)],
        Layout::Route(route) => render_route(route, indent, widths.first().copied().unwrap_or(0)),
        Layout::Wrapped { head, clauses } => wrapped(indent, head, clauses),
    }
}

fn aligned(pad: &str, cols: &[Vec<Tok>], rest: &[Tok], widths: &[usize]) -> Line {
    let mut text = pad.to_string();
    let mut end = 0;
    for (i, col) in cols.iter().enumerate() {
        let shown = join(col);
        let target = widths.get(i).copied().unwrap_or(0).max(width(&shown));
        if i > 0 {
            text.push(' ');
        }
        text.push_str(&shown);
        text.push_str(&" ".repeat(target - width(&shown)));
        end = last_end(col).unwrap_or(end);
    }
    if !rest.is_empty() {
        text.push(' ');
        text.push_str(&join(rest));
        end = last_end(rest).unwrap_or(end);
    }
    Line {
        text: text.trim_end().to_string(),
        end,
    }
}

/// How a route piece may start a new line.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Break {
    /// Never: `else` before a last, unguarded destination.
    Never,
    /// Only when its line is too long: `except`, `count`, `reset`.
    Soft,
    /// Always: `else` before a destination that is itself guarded, so a
    /// chain reads one fallback per line.
    Hard,
}

struct Piece {
    text: String,
    end: usize,
    brk: Break,
}

fn route_pieces(route: &Route) -> Vec<Piece> {
    let mut pieces = Vec::new();
    for (i, level) in route.levels.iter().enumerate() {
        let (text, brk) = if i == 0 {
            (level.dest.text.clone(), Break::Never)
        } else if level.count.is_some() {
            (format!("else {}", level.dest.text), Break::Hard)
        } else {
            (format!("else {}", level.dest.text), Break::Never)
        };
        pieces.push(Piece {
            text,
            end: level.dest.end,
            brk,
        });
        for extra in [&level.except, &level.count].into_iter().flatten() {
            pieces.push(Piece {
                text: extra.text.clone(),
                end: extra.end,
                brk: Break::Soft,
            });
        }
    }
    if let Some(reset) = &route.reset {
        pieces.push(Piece {
            text: reset.text.clone(),
            end: reset.end,
            brk: Break::Soft,
        });
    }
    pieces
}

/// `OUTCOMES -> dest ...`, continuation lines aligned under the first
/// destination.
fn render_route(route: &Route, indent: usize, outcome_width: usize) -> Vec<Line> {
    let shown = &route.outcomes.text;
    let target = outcome_width.max(width(shown));
    let prefix = format!(
        "{}{shown}{} -> ",
        " ".repeat(indent),
        " ".repeat(target - width(shown))
    );
    let cont = " ".repeat(width(&prefix));
    // Split at hard breaks first, then break a line that is still too long
    // at every soft break it holds.
    let mut groups: Vec<Vec<Piece>> = Vec::new();
    for piece in route_pieces(route) {
        match groups.last_mut() {
            Some(group) if piece.brk != Break::Hard => group.push(piece),
            _ => groups.push(vec![piece]),
        }
    }
    let mut lines = Vec::new();
    for group in groups {
        let lead = if lines.is_empty() { &prefix } else { &cont };
        let whole: Vec<&str> = group.iter().map(|p| p.text.as_str()).collect();
        let one = format!("{lead}{}", whole.join(" "));
        if width(&one) <= WIDTH {
            let end = group.last().map(|p| p.end).unwrap_or(0);
            lines.push(Line { text: one, end });
            continue;
        }
        let mut current: Option<Line> = None;
        for piece in group {
            match current.as_mut() {
                Some(line) if piece.brk == Break::Never => {
                    line.text.push(' ');
                    line.text.push_str(&piece.text);
                    line.end = piece.end;
                }
                _ => {
                    let lead = if lines.is_empty() && current.is_none() {
                        &prefix
                    } else {
                        &cont
                    };
                    lines.extend(current.take());
                    current = Some(Line {
                        text: format!("{lead}{}", piece.text),
                        end: piece.end,
                    });
                }
            }
        }
        lines.extend(current);
    }
    lines
}

/// A head, then clauses added while they fit; the rest continue on lines
/// indented one step further.
fn wrapped(indent: usize, head: &[Tok], clauses: &[Tok]) -> Vec<Line> {
    let mut lines = Vec::new();
    let mut line = Line {
        text: format!("{}{}", " ".repeat(indent), join(head)),
        end: last_end(head).unwrap_or(0),
    };
    for clause in clauses {
        if width(&line.text) + 1 + width(&clause.text) > WIDTH {
            lines.push(line);
            line = Line {
                text: format!("{}{}", " ".repeat(indent + 4), clause.text),
                end: clause.end,
            };
        } else {
            line.text.push(' ');
            line.text.push_str(&clause.text);
            line.end = clause.end;
        }
    }
    lines.push(line);
    lines
}
