//! Learning triggers of a mode: the source stage and outcomes, the
//! learning stage they start, and the action.

use super::{Flat, Resolver};
use crate::check::CheckError;
use crate::check::hir::{Mode, Trigger};
use crate::check::stages::vocab;
use crate::diag::did_you_mean;
use crate::plan::{LearningAction, Plane};
use crate::syntax::ast::{self, ModeDecl, Name};

impl Resolver<'_, '_> {
    pub(super) fn bind_triggers(&mut self, decl: &ModeDecl, flat: &mut Flat) {
        if decl.triggers.is_empty() {
            return;
        }
        let names = self.names_in_mode(&flat.mode);
        for t in &decl.triggers {
            if let Some(trigger) = self.trigger(t, &names, &flat.mode) {
                flat.mode.triggers.retain(|x| x.rule_id != trigger.rule_id);
                flat.mode.triggers.push(trigger);
            }
        }
    }

    fn trigger(
        &mut self,
        t: &ast::TriggerDecl,
        names: &[(String, usize, Plane)],
        mode: &Mode,
    ) -> Option<Trigger> {
        if !mode.planes.contains_key(&Plane::Learning) {
            self.diags.push(CheckError::InvalidPolicy {
                message: format!(
                    "mode `{}` has a learning trigger but binds no learning loop",
                    mode.name
                ),
                span: t.span.into(),
                help: Some("add `learning = <loop>` to the mode".into()),
            });
            return None;
        }
        let source = self.lookup(&t.source, names, &mode.name)?;
        if source.2 == Plane::Learning {
            self.diags.push(CheckError::InvalidPolicy {
                message: "a learning trigger must start outside the learning plane".into(),
                span: t.source.span.into(),
                help: Some("name an execution or planning stage".into()),
            });
            return None;
        }
        let stage = &self.program.stages[source.1];
        let mut outcomes = Vec::new();
        for o in &t.outcomes {
            match stage.outcome_index(&o.text) {
                Some(i) => outcomes.push(i),
                None => {
                    let declared: Vec<&str> = stage.outcomes.iter().map(|x| x.name.as_str()).collect();
                    let help = did_you_mean(&o.text, declared.iter().copied())
                        .map(|s| format!("did you mean `{s}`?"))
                        .or_else(|| Some(format!("`{}` declares: {}", stage.name, declared.join(", "))));
                    self.diags.push(CheckError::UnknownOutcome {
                        stage: stage.name.clone(),
                        outcome: o.text.clone(),
                        span: o.span.into(),
                        help,
                    });
                }
            }
        }
        let target = self.lookup(&t.target, names, &mode.name)?;
        if target.2 != Plane::Learning {
            self.diags.push(CheckError::InvalidPolicy {
                message: format!("trigger target `{}` is not a learning stage", t.target.text),
                span: t.target.span.into(),
                help: Some("name a stage of the learning loop, such as `analyst`".into()),
            });
            return None;
        }
        let action = match &t.action {
            Some(a) => vocab::<LearningAction>(a, "learning action", LearningAction::NAMES, self.diags)?,
            None => LearningAction::Improve,
        };
        if outcomes.len() != t.outcomes.len() {
            return None;
        }
        let outcome_names: Vec<String> = outcomes
            .iter()
            .map(|o| stage.outcomes[*o].name.to_lowercase())
            .collect();
        let rule_id = format!(
            "{}.{}.{}-to-{}",
            source.2,
            stage.name,
            outcome_names.join("+"),
            self.program.stages[target.1].name
        );
        Some(Trigger {
            rule_id,
            source_plane: source.2,
            source_stage: source.1,
            outcomes,
            target_stage: target.1,
            action,
        })
    }

    fn lookup(
        &mut self,
        name: &Name,
        names: &[(String, usize, Plane)],
        mode: &str,
    ) -> Option<(String, usize, Plane)> {
        let found = names.iter().find(|(n, _, _)| *n == name.text).cloned();
        if found.is_none() {
            let help = did_you_mean(&name.text, names.iter().map(|(n, _, _)| n.as_str()))
                .map(|s| format!("did you mean `{s}`?"));
            self.diags.push(CheckError::StageOutsideMode {
                mode: mode.into(),
                name: name.text.clone(),
                span: name.span.into(),
                help,
            });
        }
        found
    }
}
