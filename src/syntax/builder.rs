//! Turning pest pairs into the AST: one function per grammar rule, named
//! after the rule. Each captures its span first, then walks its children
//! with an exhaustive match: token rules are skipped, catch-all rules become
//! diagnostics, and anything else is an internal error (never a panic).

use pest::iterators::Pair;

use super::Rule;
use super::ast::*;
use super::error::{SyntaxError, sspan};
use super::shapes::{Block, item_help, statement_help};
use crate::diag::{Diagnostics, Span};

/// Builder state for one file.
pub(super) struct Build<'d> {
    /// Global offset of the file's first byte.
    pub(super) base: u32,
    pub(super) diags: &'d mut Diagnostics,
}

/// Remembers where single-valued statements of one block were first given.
#[derive(Default)]
pub(super) struct Seen(Vec<(&'static str, Span)>);

impl Seen {
    /// True the first time; reports a duplicate otherwise.
    pub(super) fn first(&mut self, keyword: &'static str, span: Span, diags: &mut Diagnostics) -> bool {
        if let Some((_, first)) = self.0.iter().find(|(k, _)| *k == keyword) {
            diags.push(SyntaxError::DuplicateStatement {
                keyword,
                span: sspan(span),
                first: sspan(*first),
            });
            return false;
        }
        self.0.push((keyword, span));
        true
    }
}

pub(super) type P<'i> = Pair<'i, Rule>;

impl Build<'_> {
    pub(super) fn span(&self, pair: &P<'_>) -> Span {
        let s = pair.as_span();
        Span::new(self.base + s.start() as u32, self.base + s.end() as u32)
    }

    pub(super) fn name(&self, pair: P<'_>) -> Name {
        Name {
            text: pair.as_str().to_string(),
            span: self.span(&pair),
        }
    }

    pub(super) fn string(&self, pair: P<'_>) -> Str {
        let span = self.span(&pair);
        let raw = pair.into_inner().next().map(|p| p.as_str()).unwrap_or("");
        Str {
            value: raw.replace("\\\"", "\"").replace("\\\\", "\\"),
            span,
        }
    }

    pub(super) fn int(&mut self, pair: P<'_>) -> Int {
        let span = self.span(&pair);
        let value = pair.as_str().parse::<u64>().unwrap_or_else(|_| {
            self.diags.push(SyntaxError::InvalidNumber {
                text: pair.as_str().into(),
                span: sspan(span),
            });
            u64::MAX
        });
        Int { value, span }
    }

    pub(super) fn names(&self, pair: P<'_>) -> Vec<Name> {
        pair.into_inner()
            .filter(|p| p.as_rule() == Rule::ident)
            .map(|p| self.name(p))
            .collect()
    }

    pub(super) fn strings(&self, pair: P<'_>) -> Vec<Str> {
        pair.into_inner()
            .filter(|p| p.as_rule() == Rule::string)
            .map(|p| self.string(p))
            .collect()
    }

    /// The first child of a rule that has exactly the shape `KEYWORD value`.
    pub(super) fn value<'i>(&mut self, pair: P<'i>, want: Rule) -> Option<P<'i>> {
        let context = pair.as_rule();
        let found = pair.into_inner().find(|p| p.as_rule() == want);
        if found.is_none() {
            self.internal(context, "a statement without its value");
        }
        found
    }

    pub(super) fn internal(&mut self, rule: Rule, context: &str) {
        self.diags.push(SyntaxError::Internal {
            rule: format!("{rule:?}"),
            context: context.into(),
        });
    }

    pub(super) fn unclosed(&mut self, block: Block, open: Option<Span>, closed: bool) {
        if let (Some(open), false) = (open, closed) {
            self.diags.push(SyntaxError::UnclosedBlock {
                block: block.noun(),
                span: sspan(open),
            });
        }
    }

    pub(super) fn stmt_error(&mut self, pair: P<'_>, block: Block) {
        let span = self.span(&pair);
        let line = pair.as_str().lines().next().unwrap_or("").trim_end();
        let word = line
            .split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .next()
            .unwrap_or("");
        if self.unterminated(span, line) {
            return;
        }
        let shown = Span::new(span.start, span.start + line.len() as u32);
        self.diags.push(SyntaxError::InvalidStatement {
            found: line.to_string(),
            block: block.describe(),
            span: sspan(shown),
            help: Some(statement_help(block, word, line)),
        });
    }

    /// Reports a string left open on a bad line (the reason it did not
    /// parse) at its opening quote; true if there was one.
    fn unterminated(&mut self, span: Span, line: &str) -> bool {
        let Some(at) = open_quote(line) else { return false };
        let at = span.start + at as u32;
        self.diags.push(SyntaxError::UnterminatedString {
            span: sspan(Span::new(at, at + 1)),
        });
        true
    }

    // ---- file ----

    pub(super) fn file(&mut self, pair: P<'_>) -> Vec<Item> {
        let mut items = Vec::new();
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::stage_decl | Rule::gate_decl => items.push(Item::Stage(Box::new(self.stage_decl(p)))),
                Rule::loop_decl => items.push(Item::Loop(self.loop_decl(p))),
                Rule::mode_decl => items.push(Item::Mode(self.mode_decl(p))),
                Rule::alias_decl => {
                    if let Some(alias) = self.alias_decl(p) {
                        items.push(Item::Alias(alias));
                    }
                }
                Rule::item_error => self.item_error(p),
                Rule::EOI => {}
                other => self.internal(other, "a file"),
            }
        }
        items
    }

    fn item_error(&mut self, pair: P<'_>) {
        let span = self.span(&pair);
        let line = pair.as_str().lines().next().unwrap_or("").trim_end();
        let word = line
            .split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .next()
            .unwrap_or("");
        if self.unterminated(span, line) {
            return;
        }
        let shown = Span::new(span.start, span.start + line.len().max(1) as u32);
        self.diags.push(SyntaxError::InvalidItem {
            found: line.to_string(),
            span: sspan(shown),
            help: item_help(word),
        });
    }

    fn alias_decl(&mut self, pair: P<'_>) -> Option<AliasDecl> {
        let span = self.span(&pair);
        let mut names = pair
            .into_inner()
            .filter(|p| p.as_rule() == Rule::ident)
            .map(|p| self.name(p));
        let (name, target) = (names.next()?, names.next()?);
        Some(AliasDecl { name, target, span })
    }

    // ---- stages ----

    fn stage_decl(&mut self, pair: P<'_>) -> StageDecl {
        let mut decl = StageDecl {
            span: self.span(&pair),
            ..Default::default()
        };
        let (mut open, mut closed, mut seen) = (None, false, Seen::default());
        for p in pair.into_inner() {
            let span = self.span(&p);
            match p.as_rule() {
                Rule::KW_STAGE => {}
                Rule::KW_GATE => {
                    decl.gate = Some(GateDecl {
                        span,
                        ..Default::default()
                    })
                }
                Rule::ask_stmt | Rule::show_stmt | Rule::gate_timeout => {
                    self.gate_stmt(p, &mut decl, &mut seen)
                }
                Rule::LBRACE => open = Some(span),
                Rule::RBRACE => closed = true,
                Rule::ident => decl.name = Some(self.name(p)),
                Rule::plane_stmt => {
                    if seen.first("plane", span, self.diags) {
                        decl.plane = self.value(p, Rule::ident).map(|v| self.name(v));
                    }
                }
                Rule::title_stmt => {
                    if seen.first("title", span, self.diags) {
                        decl.title = self.value(p, Rule::string).map(|v| self.string(v));
                    }
                }
                Rule::entrypoint_stmt => {
                    if seen.first("entrypoint", span, self.diags) {
                        decl.entrypoint = self.value(p, Rule::string).map(|v| self.string(v));
                    }
                }
                Rule::skills_stmt => decl.skills.extend(self.list_strings(p)),
                Rule::suggests_stmt => decl.suggests.extend(self.list_strings(p)),
                Rule::running_stmt => {
                    if seen.first("running", span, self.diags) {
                        decl.running = self.value(p, Rule::ident).map(|v| self.name(v));
                    }
                }
                Rule::outcomes_block => {
                    if seen.first("outcomes", span, self.diags) {
                        decl.outcomes = Some(self.outcomes_block(p));
                    }
                }
                Rule::emits_stmt => decl.emits.extend(self.list_names(p)),
                Rule::accepts_stmt => decl.accepts.extend(self.list_names(p)),
                Rule::role_stmt => {
                    if seen.first("role", span, self.diags) {
                        decl.role = self.value(p, Rule::ident).map(|v| self.name(v));
                    }
                }
                Rule::fixed_stmt => decl.fixed.extend(self.list_names(p)),
                Rule::runner_setting => {
                    if seen.first("runner", span, self.diags) {
                        decl.defaults.runner = self.value(p, Rule::ident).map(|v| self.name(v));
                    }
                }
                Rule::model_setting => {
                    if seen.first("model", span, self.diags) {
                        decl.defaults.model = self.value(p, Rule::string).map(|v| self.string(v));
                    }
                }
                Rule::effort_setting => {
                    if seen.first("effort", span, self.diags) {
                        decl.defaults.effort = self.value(p, Rule::ident).map(|v| self.name(v));
                    }
                }
                Rule::timeout_setting => {
                    if seen.first("timeout", span, self.diags) {
                        decl.defaults.timeout = self.value(p, Rule::integer).map(|v| self.int(v));
                    }
                }
                Rule::stmt_error if decl.gate.is_some() => self.stmt_error(p, Block::Gate),
                Rule::stmt_error => self.stmt_error(p, Block::Stage),
                other => self.internal(other, "a stage"),
            }
        }
        let block = if decl.gate.is_some() {
            Block::Gate
        } else {
            Block::Stage
        };
        self.unclosed(block, open, closed);
        decl
    }

    /// `ask`, `show` and `timeout ... -> OUTCOME` of a gate.
    fn gate_stmt(&mut self, pair: P<'_>, decl: &mut StageDecl, seen: &mut Seen) {
        let span = self.span(&pair);
        let rule = pair.as_rule();
        if decl.gate.is_none() {
            return;
        }
        match rule {
            Rule::ask_stmt if seen.first("ask", span, self.diags) => {
                let ask = pair
                    .into_inner()
                    .find(|p| p.as_rule() == Rule::string)
                    .map(|v| self.string(v));
                if let Some(gate) = decl.gate.as_mut() {
                    gate.ask = ask;
                }
            }
            Rule::show_stmt => {
                let shown = self.list_strings(pair);
                if let Some(gate) = decl.gate.as_mut() {
                    gate.show.extend(shown);
                }
            }
            Rule::gate_timeout if seen.first("timeout", span, self.diags) => {
                let (mut seconds, mut outcome) = (None, None);
                for p in pair.into_inner() {
                    match p.as_rule() {
                        Rule::integer => seconds = Some(self.int(p)),
                        Rule::ident => outcome = Some(self.name(p)),
                        _ => {}
                    }
                }
                if let (Some(seconds), Some(outcome), Some(gate)) = (seconds, outcome, decl.gate.as_mut()) {
                    gate.timeout = Some(GateTimeout {
                        seconds,
                        outcome,
                        span,
                    });
                }
            }
            _ => {}
        }
    }

    pub(super) fn list_strings(&mut self, pair: P<'_>) -> Vec<Str> {
        self.value(pair, Rule::string_list)
            .map(|v| self.strings(v))
            .unwrap_or_default()
    }

    pub(super) fn list_names(&mut self, pair: P<'_>) -> Vec<Name> {
        self.value(pair, Rule::ident_list)
            .map(|v| self.names(v))
            .unwrap_or_default()
    }

    fn outcomes_block(&mut self, pair: P<'_>) -> OutcomesBlock {
        let mut block = OutcomesBlock {
            span: self.span(&pair),
            outcomes: Vec::new(),
        };
        let (mut open, mut closed) = (None, false);
        for p in pair.into_inner() {
            let span = self.span(&p);
            match p.as_rule() {
                Rule::KW_OUTCOMES => {}
                Rule::LBRACE => open = Some(span),
                Rule::RBRACE => closed = true,
                Rule::outcome_decl => {
                    let mut inner = p.into_inner();
                    let name = inner.next().map(|n| self.name(n));
                    let classes = inner.next().map(|c| self.names(c)).unwrap_or_default();
                    if let Some(name) = name {
                        block.outcomes.push(OutcomeDecl { name, classes, span });
                    }
                }
                Rule::stmt_error => self.stmt_error(p, Block::Outcomes),
                other => self.internal(other, "an outcomes block"),
            }
        }
        self.unclosed(Block::Outcomes, open, closed);
        block
    }
}

/// The offset of a `"` that opens a string the line never closes (outside
/// a comment), if any.
pub(super) fn open_quote(line: &str) -> Option<usize> {
    let mut open = None;
    let mut chars = line.char_indices();
    while let Some((i, c)) = chars.next() {
        match (c, open) {
            ('#', None) => return None,
            ('"', None) => open = Some(i),
            ('"', Some(_)) => open = None,
            ('\\', Some(_)) => {
                chars.next();
            }
            _ => {}
        }
    }
    open
}
