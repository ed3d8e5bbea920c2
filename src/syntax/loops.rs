//! Builders for `loop` declarations: entries, counters, terminals, closure
//! passes, nodes and their routes.

use super::Rule;
use super::ast::*;
use super::builder::{Build, P, Seen};
use super::error::{SyntaxError, sspan};
use super::shapes::Block;
use crate::diag::Span;

/// The longest `else` chain of one route: real loops use two or three, and
/// every later stage walks a chain recursively.
pub(super) const MAX_CHAIN: usize = 64;

impl Build<'_> {
    pub(super) fn loop_decl(&mut self, pair: P<'_>) -> LoopDecl {
        let mut decl = LoopDecl {
            span: self.span(&pair),
            ..Default::default()
        };
        let (mut open, mut closed, mut seen) = (None, false, Seen::default());
        for p in pair.into_inner() {
            let span = self.span(&p);
            match p.as_rule() {
                Rule::KW_LOOP => {}
                Rule::LBRACE => open = Some(span),
                Rule::RBRACE => closed = true,
                Rule::dotted => decl.name = Some(self.name(p)),
                Rule::plane_stmt => {
                    if seen.first("plane", span, self.diags) {
                        decl.plane = self.value(p, Rule::ident).map(|v| self.name(v));
                    }
                }
                Rule::entry_stmt => {
                    let mut names = p
                        .into_inner()
                        .filter(|x| x.as_rule() == Rule::ident)
                        .map(|x| self.name(x));
                    if let (Some(kind), Some(node)) = (names.next(), names.next()) {
                        decl.entries.push(EntryDecl { kind, node, span });
                    }
                }
                Rule::counter_stmt => {
                    if let Some(counter) = self.counter_stmt(p) {
                        decl.counters.push(counter);
                    }
                }
                Rule::terminal_stmt => {
                    if let Some(terminal) = self.terminal_stmt(p) {
                        decl.terminals.push(terminal);
                    }
                }
                Rule::closure_stmt => {
                    if let Some(closure) = self.closure_stmt(p) {
                        decl.closures.push(closure);
                    }
                }
                Rule::node_block => {
                    let mut node = NodeDecl {
                        span,
                        ..Default::default()
                    };
                    for part in p.into_inner() {
                        match part.as_rule() {
                            Rule::node_head => self.node_head(part, &mut node),
                            Rule::node_body => self.node_body(part, &mut node),
                            other => self.internal(other, "a node"),
                        }
                    }
                    decl.nodes.push(node);
                }
                Rule::stmt_error => self.stmt_error(p, Block::Loop),
                other => self.internal(other, "a loop"),
            }
        }
        self.unclosed(Block::Loop, open, closed);
        decl
    }

    fn counter_stmt(&mut self, pair: P<'_>) -> Option<CounterDecl> {
        let span = self.span(&pair);
        let (mut name, mut limit, mut config) = (None, None, None);
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::KW_COUNTER | Rule::KW_LIMIT | Rule::KW_CONFIG => {}
                Rule::ident => name = Some(self.name(p)),
                Rule::integer => limit = Some(self.int(p)),
                Rule::dotted => config = Some(self.name(p)),
                other => self.internal(other, "a counter"),
            }
        }
        Some(CounterDecl {
            name: name?,
            limit: limit?,
            config,
            span,
        })
    }

    fn terminal_stmt(&mut self, pair: P<'_>) -> Option<TerminalDecl> {
        let span = self.span(&pair);
        let (mut names, mut writes, mut opens, mut emits) = (Vec::new(), None, None, Vec::new());
        let mut seen = Seen::default();
        for p in pair.into_inner() {
            let clause_span = self.span(&p);
            match p.as_rule() {
                Rule::KW_TERMINAL => {}
                Rule::ident => names.push(self.name(p)),
                Rule::writes_clause => {
                    if seen.first("writes", clause_span, self.diags) {
                        writes = self.value(p, Rule::ident).map(|v| self.name(v));
                    }
                }
                Rule::opens_clause => {
                    if seen.first("opens", clause_span, self.diags) {
                        opens = self.value(p, Rule::ident).map(|v| self.name(v));
                    }
                }
                Rule::emits_clause => emits.extend(self.list_names(p)),
                other => self.internal(other, "a terminal"),
            }
        }
        let mut names = names.into_iter();
        Some(TerminalDecl {
            name: names.next()?,
            class: names.next()?,
            writes,
            opens,
            emits,
            span,
        })
    }

    fn closure_stmt(&mut self, pair: P<'_>) -> Option<ClosureDecl> {
        let span = self.span(&pair);
        let mut node = NodeDecl {
            span,
            ..Default::default()
        };
        let (mut trigger, mut counter, mut after_count) = (None, None, false);
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::KW_CLOSURE | Rule::KW_WHEN => {}
                Rule::KW_COUNT => after_count = true,
                Rule::node_head => self.node_head(p, &mut node),
                Rule::node_body => self.node_body(p, &mut node),
                Rule::ident if after_count => counter = Some(self.name(p)),
                Rule::ident => trigger = Some(self.name(p)),
                other => self.internal(other, "a closure"),
            }
        }
        Some(ClosureDecl {
            node,
            trigger: trigger?,
            counter,
            span,
        })
    }

    fn node_head(&mut self, pair: P<'_>, node: &mut NodeDecl) {
        node.head_span = self.span(&pair);
        let mut names = pair.into_inner().map(|p| self.name(p));
        node.name = names.next();
        node.stage = names.next();
    }

    fn node_body(&mut self, pair: P<'_>, node: &mut NodeDecl) {
        let (mut open, mut closed, mut seen) = (None, false, Seen::default());
        for p in pair.into_inner() {
            let span = self.span(&p);
            let s = &mut node.settings;
            match p.as_rule() {
                Rule::LBRACE => open = Some(span),
                Rule::RBRACE => closed = true,
                Rule::runner_setting if seen.first("runner", span, self.diags) => {
                    s.runner = self.value(p, Rule::ident).map(|v| self.name(v));
                }
                Rule::model_setting if seen.first("model", span, self.diags) => {
                    s.model = self.value(p, Rule::string).map(|v| self.string(v));
                }
                Rule::effort_setting if seen.first("effort", span, self.diags) => {
                    s.effort = self.value(p, Rule::ident).map(|v| self.name(v));
                }
                Rule::timeout_setting if seen.first("timeout", span, self.diags) => {
                    s.timeout = self.value(p, Rule::integer).map(|v| self.int(v));
                }
                Rule::entrypoint_stmt if seen.first("entrypoint", span, self.diags) => {
                    s.entrypoint = self.value(p, Rule::string).map(|v| self.string(v));
                }
                Rule::runner_setting
                | Rule::model_setting
                | Rule::effort_setting
                | Rule::timeout_setting
                | Rule::entrypoint_stmt => {}
                Rule::attach_setting => s.attach.extend(self.list_strings(p)),
                Rule::route => {
                    if let Some(route) = self.route(p) {
                        node.routes.push(route);
                    }
                }
                Rule::stmt_error => self.stmt_error(p, Block::Node),
                other => self.internal(other, "a node"),
            }
        }
        self.unclosed(Block::Node, open, closed);
    }

    fn route(&mut self, pair: P<'_>) -> Option<Route> {
        let span = self.span(&pair);
        let (mut outcomes, mut branch, mut resets) = (Vec::new(), None, Vec::new());
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::ARROW => {}
                Rule::outcome_list => outcomes = self.names(p),
                Rule::branch => branch = self.branch(p),
                Rule::reset_clause => resets = self.list_names(p),
                other => self.internal(other, "a route"),
            }
        }
        Some(Route {
            outcomes,
            branch: branch?,
            resets,
            span,
        })
    }

    /// A chain `dest count c else dest ...`, nested as the AST wants it:
    /// each fallback is the branch that follows its guard.
    fn branch(&mut self, pair: P<'_>) -> Option<Branch> {
        let end = self.span(&pair).end;
        let mut dests: Vec<(Option<Dest>, u32)> = Vec::new();
        let mut counters: Vec<Name> = Vec::new();
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::guard if counters.len() == MAX_CHAIN => {
                    self.diags.push(SyntaxError::NestingTooDeep {
                        what: "`else` chain",
                        max: MAX_CHAIN,
                        span: sspan(self.span(&p)),
                        help: format!("a route may have at most {MAX_CHAIN} `count ... else` guards"),
                    });
                    break;
                }
                Rule::guard => {
                    for part in p.into_inner() {
                        match part.as_rule() {
                            Rule::KW_COUNT | Rule::KW_ELSE => {}
                            Rule::ident => counters.push(self.name(part)),
                            _ => {
                                let start = self.span(&part).start;
                                dests.push((self.dest(part), start));
                            }
                        }
                    }
                }
                _ => {
                    let start = self.span(&p).start;
                    dests.push((self.dest(p), start));
                }
            }
        }
        if dests.len() != counters.len() + 1 {
            self.internal(Rule::branch, "a guard without its destination");
            return None;
        }
        let (last, start) = dests.pop()?;
        let mut branch = Branch {
            dest: last?,
            guard: None,
            span: Span::new(start, end),
        };
        while let (Some((dest, start)), Some(counter)) = (dests.pop(), counters.pop()) {
            branch = Branch {
                dest: dest?,
                guard: Some(Guard {
                    counter,
                    otherwise: Box::new(branch),
                }),
                span: Span::new(start, end),
            };
        }
        Some(branch)
    }

    fn dest(&mut self, p: P<'_>) -> Option<Dest> {
        match p.as_rule() {
            Rule::finish_dest => self.value(p, Rule::ident).map(|v| Dest::Finish(self.name(v))),
            Rule::node_dest => self.value(p, Rule::ident).map(|v| Dest::Node(self.name(v))),
            Rule::resume_dest => self.resume_dest(p),
            other => {
                self.internal(other, "a branch");
                None
            }
        }
    }

    fn resume_dest(&mut self, pair: P<'_>) -> Option<Dest> {
        let (mut keys, mut default, mut except) = (Vec::new(), None, Vec::new());
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::KW_RESUME | Rule::KW_DEFAULT | Rule::KW_EXCEPT => {}
                Rule::result_key => {
                    let span = self.span(&p);
                    let key = p
                        .into_inner()
                        .next()
                        .map(|k| k.as_str().to_string())
                        .unwrap_or_default();
                    keys.push(Name { text: key, span });
                }
                Rule::ident => default = Some(self.name(p)),
                Rule::ident_list => except = self.names(p),
                other => self.internal(other, "a resume destination"),
            }
        }
        Some(Dest::Resume {
            keys,
            default: default?,
            except,
        })
    }
}
