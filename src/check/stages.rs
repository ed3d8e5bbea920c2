//! Checking stage kinds: plane, paths, markers, outcomes and their classes.

use super::CheckError;
use super::hir::{Outcome, Stage};
use super::paths::check_path;
use crate::diag::{Diagnostics, did_you_mean};
use crate::plan::{MAX_TIMEOUT_SECONDS, Overridable, Plane, ResultClass, Role};
use crate::syntax::ast::{Name, StageDecl};

/// Checks one stage kind. Always returns a stage (with placeholders where
/// pieces are missing) and whether it is sound enough to check users of it.
pub(super) fn check_stage(decl: &StageDecl, diags: &mut Diagnostics) -> (Stage, bool) {
    let errors = diags.error_count();
    let name = decl.name.as_ref().map(|n| n.text.clone()).unwrap_or_default();
    let span = decl.name.as_ref().map(|n| n.span).unwrap_or(decl.span);
    let owner = format!("stage `{name}`");
    let plane = match &decl.plane {
        Some(p) => vocab(p, "plane", Plane::NAMES, diags),
        None => missing(
            &owner,
            "plane",
            "add `plane execution|planning|learning`",
            span,
            diags,
        ),
    };
    let entrypoint = match &decl.entrypoint {
        Some(path) => {
            check_path(path, "entrypoints", ".md", diags);
            path.value.clone()
        }
        // A gate runs no harness, so it reads no entrypoint.
        None if decl.gate.is_some() => String::new(),
        None => {
            let help = format!("add `entrypoint \"entrypoints/<plane>/{name}.md\"`");
            missing::<()>(&owner, "entrypoint", &help, span, diags);
            String::new()
        }
    };
    for skill in decl.skills.iter().chain(&decl.suggests) {
        check_path(skill, "skills", ".md", diags);
    }
    let running = match &decl.running {
        Some(marker) => {
            check_marker(marker, diags);
            marker.text.clone()
        }
        None => {
            // The derived marker must be a marker too (a stage `_x` would
            // give `_X_RUNNING`).
            let state = if decl.gate.is_some() { "WAITING" } else { "RUNNING" };
            let derived = format!("{}_{state}", name.to_uppercase());
            check_derived_marker(
                &Name {
                    text: name.clone(),
                    span,
                },
                &derived,
                "running",
                diags,
            );
            derived
        }
    };
    let outcomes = check_outcomes(decl, &name, span, diags);
    let gate = decl
        .gate
        .as_ref()
        .map(|g| super::gates::check_gate(g, &name, &outcomes, diags));
    let role = decl
        .role
        .as_ref()
        .and_then(|r| vocab::<Role>(r, "role", Role::NAMES, diags));
    let fixed = decl
        .fixed
        .iter()
        .filter_map(|f| vocab::<Overridable>(f, "setting", Overridable::NAMES, diags).map(|o| (o, f.span)))
        .collect();
    let stage = Stage {
        name,
        span,
        plane: plane.unwrap_or(Plane::Execution),
        title: decl.title.as_ref().map(|t| t.value.clone()),
        entrypoint,
        skills: decl.skills.iter().map(|s| s.value.clone()).collect(),
        suggests: decl.suggests.iter().map(|s| s.value.clone()).collect(),
        running,
        outcomes,
        emits: decl.emits.iter().map(|n| n.text.clone()).collect(),
        accepts: decl.accepts.iter().map(|n| n.text.clone()).collect(),
        role,
        fixed,
        defaults: check_defaults(decl, diags),
        gate,
    };
    // A stage whose plane or outcomes are unusable would only cause
    // follow-on errors in every loop that runs it.
    let ok = plane.is_some() && !stage.outcomes.is_empty() && diags.error_count() == errors;
    (stage, ok)
}

fn check_outcomes(
    decl: &StageDecl,
    stage: &str,
    span: crate::diag::Span,
    diags: &mut Diagnostics,
) -> Vec<Outcome> {
    let Some(block) = &decl.outcomes else {
        let help = "add `outcomes { DONE: success  BLOCKED: blocked | recoverable_failure }`";
        missing::<()>(&format!("stage `{stage}`"), "outcomes", help, span, diags);
        return Vec::new();
    };
    let mut outcomes: Vec<Outcome> = Vec::new();
    for decl in &block.outcomes {
        check_marker(&decl.name, diags);
        if let Some(first) = outcomes.iter().find(|o| o.name == decl.name.text) {
            diags.push(CheckError::DuplicateName {
                kind: "outcome",
                name: decl.name.text.clone(),
                owner: format!("stage `{stage}`"),
                span: decl.name.span.into(),
                first: first.span.into(),
            });
            continue;
        }
        let mut classes: Vec<ResultClass> = Vec::new();
        for class in &decl.classes {
            if let Some(c) = vocab(class, "result class", ResultClass::NAMES, diags)
                && !classes.contains(&c)
            {
                classes.push(c);
            }
        }
        let failure_only = classes
            .iter()
            .all(|c| matches!(c, ResultClass::Blocked | ResultClass::RecoverableFailure));
        if classes.len() > 1 && !failure_only {
            diags.push(CheckError::AmbiguousOutcome {
                outcome: decl.name.text.clone(),
                span: decl.span.into(),
            });
        }
        outcomes.push(Outcome {
            name: decl.name.text.clone(),
            classes,
            span: decl.name.span,
        });
    }
    let has_blocked = outcomes
        .iter()
        .any(|o| o.name == "BLOCKED" && o.classes.contains(&ResultClass::RecoverableFailure));
    // A gate never fails the way a harness does: it needs no BLOCKED.
    if !has_blocked && decl.gate.is_none() {
        diags.push(CheckError::MissingBlockedOutcome {
            stage: stage.into(),
            span: block.span.into(),
        });
    }
    outcomes
}

/// A timeout is from one second to [`MAX_TIMEOUT_SECONDS`]; false (and
/// reported) otherwise.
pub(super) fn check_timeout(t: &crate::syntax::ast::Int, diags: &mut Diagnostics) -> bool {
    if t.value == 0 {
        diags.push(CheckError::InvalidValue {
            what: "a timeout",
            span: t.span.into(),
        });
        false
    } else if t.value > MAX_TIMEOUT_SECONDS {
        diags.push(CheckError::ValueTooLarge {
            what: "a timeout",
            found: t.value,
            max: MAX_TIMEOUT_SECONDS,
            span: t.span.into(),
        });
        false
    } else {
        true
    }
}

/// The stage kind's own binding defaults.
fn check_defaults(decl: &StageDecl, diags: &mut Diagnostics) -> super::hir::NodeSettings {
    let d = &decl.defaults;
    if let Some(t) = &d.timeout {
        check_timeout(t, diags);
    }
    super::hir::NodeSettings {
        runner: d
            .runner
            .as_ref()
            .filter(|r| super::loops::check_runner(r, diags))
            .map(|r| r.text.clone()),
        model: d.model.as_ref().map(|m| m.value.clone()),
        effort: d
            .effort
            .as_ref()
            .and_then(|e| vocab::<crate::plan::Effort>(e, "effort", crate::plan::Effort::NAMES, diags)),
        timeout: d.timeout.map(|t| t.value),
        entrypoint: None,
        attach: Vec::new(),
    }
}

/// Reads a word from a closed vocabulary, reporting `unknown_value` with a
/// suggestion otherwise.
pub(super) fn vocab<T: std::str::FromStr>(
    name: &Name,
    what: &'static str,
    names: &'static [&'static str],
    diags: &mut Diagnostics,
) -> Option<T> {
    if let Ok(value) = name.text.parse::<T>() {
        return Some(value);
    }
    let help = match did_you_mean(&name.text, names.iter().copied()) {
        Some(s) => format!("did you mean `{s}`?"),
        None => format!("expected one of: {}", names.join(", ")),
    };
    diags.push(CheckError::UnknownValue {
        what,
        name: name.text.clone(),
        span: name.span.into(),
        help: Some(help),
    });
    None
}

/// Reports a missing statement and returns `None`.
pub(super) fn missing<T>(
    owner: &str,
    field: &'static str,
    help: &str,
    span: crate::diag::Span,
    diags: &mut Diagnostics,
) -> Option<T> {
    diags.push(CheckError::MissingField {
        owner: owner.into(),
        field,
        span: span.into(),
        help: Some(help.into()),
    });
    None
}

/// Markers are printed as `### NAME`: upper case, digits and `_`, starting
/// with a letter.
pub(super) fn is_marker(text: &str) -> bool {
    text.starts_with(|c: char| c.is_ascii_uppercase())
        && text
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// The nearest valid marker to some text.
fn marker_like(text: &str) -> String {
    let upper: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    let trimmed = upper.trim_start_matches(|c: char| !c.is_ascii_uppercase());
    if trimmed.is_empty() {
        "MARKER".into()
    } else {
        trimmed.into()
    }
}

/// Reports a written marker that is not one.
pub(super) fn check_marker(name: &Name, diags: &mut Diagnostics) -> bool {
    let ok = is_marker(&name.text);
    if !ok {
        let suggestion = marker_like(&name.text);
        diags.push(CheckError::InvalidMarker {
            name: name.text.clone(),
            suggestion,
            span: name.span.into(),
        });
    }
    ok
}

/// Reports a marker derived from `name` (with `keyword` to declare one).
pub(super) fn check_derived_marker(
    name: &Name,
    derived: &str,
    keyword: &'static str,
    diags: &mut Diagnostics,
) {
    if !is_marker(derived) {
        diags.push(CheckError::InvalidDerivedMarker {
            name: name.text.clone(),
            derived: derived.into(),
            keyword,
            suggestion: marker_like(derived),
            span: name.span.into(),
        });
    }
}
