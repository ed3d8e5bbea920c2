//! The layout tree: the parse tree of a file cut into what the printer lays
//! out, one unit per item, block statement and route.
//!
//! Input: the pest tree of a file that parsed without errors. Output:
//! [`Unit`]s whose pieces carry their text as it will be printed and the
//! source offset where each piece ends (so comments can be put back after
//! the piece they followed).
//!
//! Invariants: every token of the source appears in exactly one piece, in
//! source order; a rule the printer does not know is an [`Unexpected`]
//! error, never a panic.

use pest::iterators::Pair;

use crate::syntax::Rule;

type P<'i> = Pair<'i, Rule>;

/// Printed text and the source offset where its last token ends.
#[derive(Clone, Debug)]
pub(super) struct Tok {
    pub text: String,
    pub end: usize,
}

/// An item, statement or block, with the source range of its tokens.
#[derive(Debug)]
pub(super) struct Unit {
    pub start: usize,
    pub end: usize,
    pub body: Body,
}

#[derive(Debug)]
pub(super) enum Body {
    Stmt(Layout),
    Block(Block),
}

/// `head {` children `}`.
#[derive(Debug)]
pub(super) struct Block {
    /// Ends with the `{` token.
    pub head: Vec<Tok>,
    pub items: Vec<Unit>,
    /// The `}` token and where it starts.
    pub close: Tok,
    pub close_start: usize,
}

/// Which statements line up with their neighbours.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Align {
    /// `plane execution`, `runner codex_cli`: values in one column.
    Keyword,
    /// `NAME: class`: classes in one column.
    Outcome,
    /// `entry kind -> node`: arrows in one column.
    Entry,
    /// `counter name limit n config key`.
    Counter,
    /// `runner * = x`, `execution = loop`: `=` in one column.
    Binding,
}

#[derive(Debug)]
pub(super) enum Layout {
    /// One line, pieces joined by spaces.
    Line(Vec<Tok>),
    /// Columns padded to the widest in the group, then the rest.
    Aligned {
        align: Align,
        cols: Vec<Vec<Tok>>,
        rest: Vec<Tok>,
    },
    Route(Route),
    /// A head, then clauses filled greedily, continuing on indented lines.
    Wrapped {
        head: Vec<Tok>,
        clauses: Vec<Tok>,
    },
}

/// `OUTCOMES -> level [else level]... [reset ...]`
#[derive(Debug)]
pub(super) struct Route {
    pub outcomes: Tok,
    pub levels: Vec<Level>,
    pub reset: Option<Tok>,
}

/// One destination of an `else` chain.
#[derive(Debug)]
pub(super) struct Level {
    pub dest: Tok,
    pub except: Option<Tok>,
    pub count: Option<Tok>,
}

/// A rule the printer does not expect: a bug, reported as an internal error.
#[derive(Debug)]
pub(super) struct Unexpected(pub String);

type Built<T> = Result<T, Unexpected>;

fn unexpected<T>(p: &P<'_>, context: &str) -> Built<T> {
    Err(Unexpected(format!("{:?} in {context}", p.as_rule())))
}

fn leaf(p: &P<'_>) -> Tok {
    Tok {
        text: p.as_str().to_string(),
        end: p.as_span().end(),
    }
}

/// Where the last token of a rule ends. Not the rule's own span end: a rule
/// ending in a repetition or an option also spans the whitespace and
/// comments skipped while looking for one more element.
fn token_end(p: &P<'_>) -> usize {
    let mut last = p.clone();
    while !matches!(last.as_rule(), Rule::string | Rule::result_key) {
        match last.clone().into_inner().last() {
            Some(child) => last = child,
            None => break,
        }
    }
    last.as_span().end()
}

fn word(text: &str, end: usize) -> Tok {
    Tok {
        text: text.to_string(),
        end,
    }
}

/// A value as printed: lists are joined with their separator.
fn value(p: P<'_>) -> Tok {
    let sep = match p.as_rule() {
        Rule::ident_list | Rule::string_list => ", ",
        Rule::class_list | Rule::outcome_list => " | ",
        Rule::node_head => ": ",
        Rule::selector => "",
        _ => return leaf(&p),
    };
    let end = token_end(&p);
    let parts: Vec<String> = p.into_inner().map(|c| leaf(&c).text).collect();
    Tok {
        text: parts.join(sep),
        end,
    }
}

fn unit(start: usize, body: Body) -> Unit {
    let end = match &body {
        Body::Block(b) => b.close.end,
        Body::Stmt(layout) => layout_end(layout),
    };
    Unit { start, end, body }
}

fn layout_end(layout: &Layout) -> usize {
    let toks: Vec<&Tok> = match layout {
        Layout::Line(t) => t.iter().collect(),
        Layout::Aligned { cols, rest, .. } => cols.iter().flatten().chain(rest).collect(),
        Layout::Route(r) => {
            let mut t = vec![&r.outcomes];
            for l in &r.levels {
                t.extend(
                    [Some(&l.dest), l.except.as_ref(), l.count.as_ref()]
                        .into_iter()
                        .flatten(),
                );
            }
            t.extend(&r.reset);
            t
        }
        Layout::Wrapped { head, clauses } => head.iter().chain(clauses).collect(),
    };
    toks.iter().map(|t| t.end).max().unwrap_or(0)
}

/// The top-level items of a file.
pub(super) fn file(pair: P<'_>) -> Built<Vec<Unit>> {
    let mut items = Vec::new();
    for p in pair.into_inner() {
        let start = p.as_span().start();
        let body = match p.as_rule() {
            Rule::stage_decl | Rule::gate_decl => Body::Block(block(p, stage_stmt)?),
            Rule::loop_decl => Body::Block(block(p, loop_stmt)?),
            Rule::mode_decl => Body::Block(block(p, mode_stmt)?),
            Rule::alias_decl => Body::Stmt(line_with_eq(p)),
            Rule::EOI => continue,
            _ => return unexpected(&p, "a file"),
        };
        items.push(unit(start, body));
    }
    Ok(items)
}

/// A block rule: head tokens up to `{`, children built by `child`, `}`.
fn block(pair: P<'_>, child: fn(P<'_>) -> Built<Option<Unit>>) -> Built<Block> {
    let mut head = Vec::new();
    let mut items = Vec::new();
    let mut close = None;
    let mut opened = false;
    for p in pair.into_inner() {
        match p.as_rule() {
            Rule::LBRACE => {
                opened = true;
                head.push(leaf(&p));
            }
            Rule::RBRACE => close = Some((leaf(&p), p.as_span().start())),
            Rule::node_body => return node_body_into(p, head),
            _ if !opened => head.push(value(p)),
            _ => items.extend(child(p)?),
        }
    }
    let Some((close, close_start)) = close else {
        return Err(Unexpected("a block without `}`".into()));
    };
    Ok(Block {
        head,
        items,
        close,
        close_start,
    })
}

/// Node and closure blocks keep their braces in `node_body`.
fn node_body_into(body: P<'_>, head: Vec<Tok>) -> Built<Block> {
    let mut b = block(body, node_stmt)?;
    let mut full = head;
    full.append(&mut b.head);
    b.head = full;
    Ok(b)
}

fn keyword(p: P<'_>) -> Unit {
    let start = p.as_span().start();
    let mut inner = p.into_inner();
    let kw: Vec<Tok> = inner.next().map(|k| leaf(&k)).into_iter().collect();
    let rest = inner.map(value).collect();
    unit(
        start,
        Body::Stmt(Layout::Aligned {
            align: Align::Keyword,
            cols: vec![kw],
            rest,
        }),
    )
}

fn stage_stmt(p: P<'_>) -> Built<Option<Unit>> {
    Ok(Some(match p.as_rule() {
        Rule::outcomes_block => {
            let start = p.as_span().start();
            unit(start, Body::Block(block(p, outcome_decl)?))
        }
        Rule::stmt_error => return unexpected(&p, "a stage"),
        _ => keyword(p),
    }))
}

fn outcome_decl(p: P<'_>) -> Built<Option<Unit>> {
    if p.as_rule() != Rule::outcome_decl {
        return unexpected(&p, "an outcomes block");
    }
    let start = p.as_span().start();
    let mut inner = p.into_inner();
    let (Some(name), Some(classes)) = (inner.next(), inner.next()) else {
        return Err(Unexpected("an outcome without classes".into()));
    };
    let name = leaf(&name);
    let layout = Layout::Aligned {
        align: Align::Outcome,
        cols: vec![vec![word(&format!("{}:", name.text), name.end)]],
        rest: vec![value(classes)],
    };
    Ok(Some(unit(start, Body::Stmt(layout))))
}

fn loop_stmt(p: P<'_>) -> Built<Option<Unit>> {
    let start = p.as_span().start();
    let body = match p.as_rule() {
        Rule::plane_stmt => return Ok(Some(keyword(p))),
        Rule::entry_stmt => {
            let toks: Vec<Tok> = p.into_inner().map(|t| leaf(&t)).collect();
            let (col, rest) = split_at(toks, 2);
            Body::Stmt(Layout::Aligned {
                align: Align::Entry,
                cols: vec![col],
                rest,
            })
        }
        Rule::counter_stmt => {
            let toks: Vec<Tok> = p.into_inner().map(|t| leaf(&t)).collect();
            let (name, more) = split_at(toks, 2);
            let (limit, rest) = split_at(more, 2);
            Body::Stmt(Layout::Aligned {
                align: Align::Counter,
                cols: vec![name, limit],
                rest,
            })
        }
        Rule::terminal_stmt => Body::Stmt(terminal(p)),
        Rule::closure_stmt | Rule::node_block => Body::Block(block(p, node_stmt)?),
        _ => return unexpected(&p, "a loop"),
    };
    Ok(Some(unit(start, body)))
}

fn split_at(mut toks: Vec<Tok>, at: usize) -> (Vec<Tok>, Vec<Tok>) {
    let rest = toks.split_off(at.min(toks.len()));
    (toks, rest)
}

fn terminal(p: P<'_>) -> Layout {
    let mut head = Vec::new();
    let mut clauses = Vec::new();
    for (i, c) in p.into_inner().enumerate() {
        match c.as_rule() {
            Rule::writes_clause | Rule::opens_clause | Rule::emits_clause => clauses.push(joined(c)),
            // `terminal name: class`: the colon belongs to the name.
            Rule::ident if i == 1 => {
                let name = leaf(&c);
                head.push(word(&format!("{}:", name.text), name.end));
            }
            _ => head.push(leaf(&c)),
        }
    }
    Layout::Wrapped { head, clauses }
}

/// A clause printed as one piece: its parts joined by spaces.
fn joined(p: P<'_>) -> Tok {
    let end = token_end(&p);
    let parts: Vec<String> = p.into_inner().map(|c| value(c).text).collect();
    Tok {
        text: parts.join(" "),
        end,
    }
}

fn node_stmt(p: P<'_>) -> Built<Option<Unit>> {
    match p.as_rule() {
        Rule::route => {
            let start = p.as_span().start();
            Ok(Some(unit(start, Body::Stmt(Layout::Route(route(p)?)))))
        }
        Rule::stmt_error => unexpected(&p, "a node"),
        _ => Ok(Some(keyword(p))),
    }
}

fn route(p: P<'_>) -> Built<Route> {
    let (mut outcomes, mut levels, mut reset) = (None, Vec::new(), None);
    for c in p.into_inner() {
        match c.as_rule() {
            Rule::outcome_list => outcomes = Some(value(c)),
            Rule::ARROW => {}
            Rule::branch => branch(c, &mut levels)?,
            Rule::reset_clause => reset = Some(joined(c)),
            _ => return unexpected(&c, "a route"),
        }
    }
    let outcomes = outcomes.ok_or_else(|| Unexpected("a route without outcomes".into()))?;
    Ok(Route {
        outcomes,
        levels,
        reset,
    })
}

/// `dest count c else dest ...` as levels: each guard's counter belongs to
/// the level before it.
fn branch(p: P<'_>, levels: &mut Vec<Level>) -> Built<()> {
    for c in p.into_inner() {
        match c.as_rule() {
            Rule::guard => {
                for part in c.into_inner() {
                    match part.as_rule() {
                        Rule::KW_COUNT | Rule::KW_ELSE => {}
                        Rule::ident => {
                            let counter = leaf(&part);
                            let level = levels
                                .last_mut()
                                .ok_or_else(|| Unexpected("a guard first".into()))?;
                            level.count = Some(word(&format!("count {}", counter.text), counter.end));
                        }
                        _ => levels.push(level(part)?),
                    }
                }
            }
            _ => levels.push(level(c)?),
        }
    }
    Ok(())
}

fn level(p: P<'_>) -> Built<Level> {
    let (dest, except) = match p.as_rule() {
        Rule::node_dest | Rule::finish_dest => (joined(p), None),
        Rule::resume_dest => resume(p),
        _ => return unexpected(&p, "a branch"),
    };
    Ok(Level {
        dest,
        except,
        count: None,
    })
}

/// `resume keys default node` and its `except` clause, apart.
fn resume(p: P<'_>) -> (Tok, Option<Tok>) {
    let mut head: Vec<Tok> = Vec::new();
    let mut except: Option<Tok> = None;
    let mut keys_seen = false;
    for c in p.into_inner() {
        match c.as_rule() {
            Rule::KW_EXCEPT => except = Some(leaf(&c)),
            Rule::ident_list => {
                let list = value(c);
                let kw = except.take().map(|k| k.text).unwrap_or_default();
                except = Some(word(&format!("{kw} {}", list.text), list.end));
            }
            // Keys after the first are joined to the previous one by `,`.
            Rule::result_key if keys_seen => {
                let key = leaf(&c);
                if let Some(last) = head.last_mut() {
                    last.text.push(',');
                }
                head.push(key);
            }
            Rule::result_key => {
                keys_seen = true;
                head.push(leaf(&c));
            }
            _ => head.push(leaf(&c)),
        }
    }
    let end = head.last().map(|t| t.end).unwrap_or(0);
    let text: Vec<String> = head.into_iter().map(|t| t.text).collect();
    (word(&text.join(" "), end), except)
}

fn mode_stmt(p: P<'_>) -> Built<Option<Unit>> {
    let start = p.as_span().start();
    let body = match p.as_rule() {
        Rule::runner_binding
        | Rule::model_binding
        | Rule::effort_binding
        | Rule::timeout_binding
        | Rule::entrypoint_binding
        | Rule::attach_binding => {
            let toks: Vec<Tok> = p.into_inner().map(value).collect();
            let (col, rest) = split_at(toks, 2);
            binding(col, rest)
        }
        Rule::plane_binding => {
            let toks: Vec<Tok> = p.into_inner().map(value).collect();
            let (col, rest) = split_at(toks, 1);
            binding(col, rest)
        }
        Rule::exclusive_stmt | Rule::concurrent_stmt | Rule::trigger_stmt | Rule::unattended_stmt => {
            Body::Stmt(Layout::Line(p.into_inner().map(value).collect()))
        }
        _ => return unexpected(&p, "a mode"),
    };
    Ok(Some(unit(start, body)))
}

/// `lhs = rhs`: the `=` is a literal of the grammar, not a token.
fn binding(col: Vec<Tok>, rest: Vec<Tok>) -> Body {
    let eq_end = col.last().map(|t| t.end).unwrap_or(0);
    let mut rhs = vec![word("=", eq_end)];
    rhs.extend(rest);
    Body::Stmt(Layout::Aligned {
        align: Align::Binding,
        cols: vec![col],
        rest: rhs,
    })
}

/// `alias name = target`.
fn line_with_eq(p: P<'_>) -> Layout {
    let mut toks: Vec<Tok> = p.into_inner().map(|t| leaf(&t)).collect();
    if toks.len() == 3 {
        let at = toks[1].end;
        toks.insert(2, word("=", at));
    }
    Layout::Line(toks)
}
