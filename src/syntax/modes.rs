//! Builders for `mode` declarations: plane bindings, stage bindings,
//! concurrency policy and learning triggers.

use super::Rule;
use super::ast::*;
use super::builder::{Build, P};
use super::shapes::Block;

impl Build<'_> {
    pub(super) fn mode_decl(&mut self, pair: P<'_>) -> ModeDecl {
        let mut decl = ModeDecl {
            span: self.span(&pair),
            ..Default::default()
        };
        let (mut open, mut closed, mut after_extends) = (None, false, false);
        for p in pair.into_inner() {
            let span = self.span(&p);
            match p.as_rule() {
                Rule::KW_MODE => {}
                Rule::KW_EXTENDS => after_extends = true,
                Rule::LBRACE => open = Some(span),
                Rule::RBRACE => closed = true,
                Rule::ident if after_extends => decl.extends = Some(self.name(p)),
                Rule::ident => decl.name = Some(self.name(p)),
                Rule::runner_binding => self.binding(p, BindingKind::Runner, &mut decl),
                Rule::model_binding => self.binding(p, BindingKind::Model, &mut decl),
                Rule::effort_binding => self.binding(p, BindingKind::Effort, &mut decl),
                Rule::timeout_binding => self.binding(p, BindingKind::Timeout, &mut decl),
                Rule::entrypoint_binding => self.binding(p, BindingKind::Entrypoint, &mut decl),
                Rule::attach_binding => self.binding(p, BindingKind::Attach, &mut decl),
                Rule::plane_binding => {
                    let mut inner = p.into_inner();
                    if let (Some(plane), Some(target)) = (inner.next(), inner.next()) {
                        decl.planes.push(PlaneBinding {
                            plane: self.name(plane),
                            loop_name: self.name(target),
                            span,
                        });
                    }
                }
                Rule::unattended_stmt => {
                    decl.unattended.get_or_insert(span);
                }
                Rule::exclusive_stmt => {
                    let planes = self.list_names(p);
                    decl.exclusive.push(PlaneGroup { planes, span });
                }
                Rule::concurrent_stmt => {
                    let mut plane = None;
                    let mut with = Vec::new();
                    for part in p.into_inner() {
                        match part.as_rule() {
                            Rule::KW_CONCURRENT | Rule::KW_WITH => {}
                            Rule::ident => plane = Some(self.name(part)),
                            Rule::ident_list => with = self.names(part),
                            other => self.internal(other, "a concurrent statement"),
                        }
                    }
                    if let Some(plane) = plane {
                        decl.concurrent.push(ConcurrentDecl { plane, with, span });
                    }
                }
                Rule::trigger_stmt => {
                    if let Some(trigger) = self.trigger_stmt(p) {
                        decl.triggers.push(trigger);
                    }
                }
                Rule::stmt_error => self.stmt_error(p, Block::Mode),
                other => self.internal(other, "a mode"),
            }
        }
        self.unclosed(Block::Mode, open, closed);
        decl
    }

    fn binding(&mut self, pair: P<'_>, kind: BindingKind, decl: &mut ModeDecl) {
        let span = self.span(&pair);
        let (mut selector, mut selector_span, mut value) = (None, span, None);
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::KW_RUNNER
                | Rule::KW_MODEL
                | Rule::KW_EFFORT
                | Rule::KW_TIMEOUT
                | Rule::KW_ENTRYPOINT
                | Rule::KW_ATTACH => {}
                Rule::selector => {
                    selector_span = self.span(&p);
                    selector = p
                        .into_inner()
                        .find(|s| s.as_rule() == Rule::ident)
                        .map(|s| self.name(s));
                }
                Rule::ident => value = Some(BindingValue::Name(self.name(p))),
                Rule::string => value = Some(BindingValue::Str(self.string(p))),
                Rule::integer => value = Some(BindingValue::Int(self.int(p))),
                Rule::string_list => value = Some(BindingValue::Strs(self.strings(p))),
                other => self.internal(other, "a binding"),
            }
        }
        if let Some(value) = value {
            decl.bindings.push(Binding {
                kind,
                selector,
                selector_span,
                value,
                span,
            });
        }
    }

    fn trigger_stmt(&mut self, pair: P<'_>) -> Option<TriggerDecl> {
        let span = self.span(&pair);
        let (mut idents, mut outcomes, mut action, mut after_action) = (Vec::new(), Vec::new(), None, false);
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::KW_TRIGGER | Rule::ARROW => {}
                Rule::KW_ACTION => after_action = true,
                Rule::outcome_list => outcomes = self.names(p),
                Rule::ident if after_action => action = Some(self.name(p)),
                Rule::ident => idents.push(self.name(p)),
                other => self.internal(other, "a trigger"),
            }
        }
        let mut idents = idents.into_iter();
        Some(TriggerDecl {
            source: idents.next()?,
            outcomes,
            target: idents.next()?,
            action,
            span,
        })
    }
}
