//! Resolving a node's bindings. Precedence, lowest first: the stage kind's
//! default, the node's own settings, mode bindings for `*`, for the stage
//! kind, for the node name (a mode that extends another overrides it at
//! each level), then `millrace.toml` `[stages.<stage>]` and
//! `[stages.<node>]`. A stage's `fixed` settings ignore everything above the
//! node level; the checker rejects explicit `.mill` overrides of them.

use super::{LowerError, PlanSettings, StageOverride};
use crate::check::hir::{BindingValue, Mode, Node, Program};
use crate::plan::{DEFAULT_TIMEOUT_SECONDS, Effort, Overridable};

/// A node's settings after every layer is applied.
pub(super) struct Resolved {
    pub entrypoint: String,
    pub attached_skills: Vec<String>,
    pub runner: String,
    pub model: Option<String>,
    pub effort: Option<Effort>,
    pub timeout_seconds: u64,
}

pub(super) fn resolve(
    program: &Program,
    mode: &Mode,
    settings: &PlanSettings,
    node: &Node,
) -> Result<Resolved, LowerError> {
    let stage = &program.stages[node.stage];
    let fixed = |field: Overridable| stage.fixed_span(field).is_some();
    let (own, d) = (&node.settings, &stage.defaults);
    let mut r = Resolved {
        entrypoint: own.entrypoint.clone().unwrap_or_else(|| stage.entrypoint.clone()),
        attached_skills: own.attach.clone(),
        runner: own
            .runner
            .clone()
            .or_else(|| d.runner.clone())
            .unwrap_or_default(),
        model: own.model.clone().or_else(|| d.model.clone()),
        effort: own.effort.or(d.effort),
        timeout_seconds: own.timeout.or(d.timeout).unwrap_or(0),
    };
    // Mode bindings by specificity (wildcard, stage, node), each in
    // declaration order, base mode first.
    let specificity = |selector: &Option<String>| match selector.as_deref() {
        None => Some(0),
        Some(s) if s == stage.name && s != node.name => Some(1),
        Some(s) if s == node.name => Some(2),
        Some(_) => None,
    };
    let mut applicable: Vec<(u8, usize)> = mode
        .bindings
        .iter()
        .enumerate()
        .filter_map(|(i, b)| specificity(&b.selector).map(|s| (s, i)))
        .collect();
    applicable.sort();
    for (_, i) in applicable {
        let value = &mode.bindings[i].value;
        if fixed(value.field()) {
            continue;
        }
        match value {
            BindingValue::Runner(v) => r.runner = v.clone(),
            BindingValue::Model(v) => r.model = Some(v.clone()),
            BindingValue::Effort(v) => r.effort = Some(*v),
            BindingValue::Timeout(v) => r.timeout_seconds = *v,
            BindingValue::Entrypoint(v) => r.entrypoint = v.clone(),
            BindingValue::Attach(v) => r.attached_skills.extend(v.iter().cloned()),
        }
    }
    for name in [&stage.name, &node.name] {
        if let Some(o) = settings.stages.get(name) {
            apply_config(&mut r, o, &stage.name, &fixed)?;
        }
        if stage.name == node.name {
            break;
        }
    }
    if r.runner.is_empty() {
        r.runner = settings.default_runner.clone();
    }
    if r.timeout_seconds == 0 {
        r.timeout_seconds = DEFAULT_TIMEOUT_SECONDS;
    }
    let mut seen = std::collections::HashSet::new();
    r.attached_skills.retain(|s| seen.insert(s.clone()));
    Ok(r)
}

fn apply_config(
    r: &mut Resolved,
    o: &StageOverride,
    stage: &str,
    fixed: &dyn Fn(Overridable) -> bool,
) -> Result<(), LowerError> {
    let check = |field: Overridable, set: bool| {
        if set && fixed(field) {
            Err(LowerError::FixedOverride {
                stage: stage.into(),
                field: field.to_string(),
            })
        } else {
            Ok(())
        }
    };
    check(Overridable::Runner, o.runner.is_some())?;
    check(Overridable::Model, o.model.is_some())?;
    check(Overridable::Effort, o.model_reasoning_effort.is_some())?;
    check(Overridable::Timeout, o.timeout_seconds.is_some())?;
    if let Some(v) = &o.runner {
        r.runner = v.clone();
    }
    if let Some(v) = &o.model {
        r.model = Some(v.clone());
    }
    if let Some(v) = o.model_reasoning_effort {
        r.effort = Some(v);
    }
    if let Some(v) = o.timeout_seconds {
        r.timeout_seconds = v;
    }
    Ok(())
}
