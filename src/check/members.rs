//! Checking a loop's counters and terminals: names, limits, configuration
//! keys, classes and status markers.

use super::CheckError;
use super::hir::{Counter, Terminal};
use super::stages::{check_marker, vocab};
use crate::diag::Diagnostics;
use crate::plan::{COUNTER_CONFIG_KEYS, CounterScope, ResultClass};
use crate::syntax::ast::LoopDecl;

pub(super) fn check_counters(decl: &LoopDecl, owner: &str, diags: &mut Diagnostics) -> Vec<Counter> {
    let mut counters: Vec<Counter> = Vec::new();
    for c in &decl.counters {
        if let Some(first) = counters.iter().find(|x| x.name == c.name.text) {
            diags.push(CheckError::DuplicateName {
                kind: "counter",
                name: c.name.text.clone(),
                owner: owner.into(),
                span: c.name.span.into(),
                first: first.span.into(),
            });
            continue;
        }
        if c.limit.value == 0 || c.limit.value > u64::from(MAX_LIMIT) {
            diags.push(CheckError::InvalidLimit {
                name: c.name.text.clone(),
                limit: c.limit.value,
                max: MAX_LIMIT,
                span: c.limit.span.into(),
            });
        }
        let config_key = c.config.as_ref().and_then(|key| {
            vocab::<ConfigKey>(key, "configuration key", COUNTER_CONFIG_KEYS, diags).map(|_| key.text.clone())
        });
        counters.push(Counter {
            name: c.name.text.clone(),
            span: c.name.span,
            limit: u32::try_from(c.limit.value).unwrap_or(u32::MAX),
            config_key,
            scope: CounterScope::Item,
        });
    }
    counters
}

/// The largest counter limit: beyond it a counter bounds nothing useful.
const MAX_LIMIT: u32 = 10_000;

struct ConfigKey;

impl std::str::FromStr for ConfigKey {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        if COUNTER_CONFIG_KEYS.contains(&s) {
            Ok(ConfigKey)
        } else {
            Err(())
        }
    }
}

const TERMINAL_CLASSES: &[&str] = &["success", "followup_needed", "escalate_planning", "blocked"];

/// The loop's terminals and the indices of those whose class is unknown
/// (routes to them are not class-checked, to avoid follow-on errors).
pub(super) fn check_terminals(
    decl: &LoopDecl,
    owner: &str,
    diags: &mut Diagnostics,
) -> (Vec<Terminal>, Vec<usize>) {
    let mut terminals: Vec<Terminal> = Vec::new();
    let mut bad = Vec::new();
    for t in &decl.terminals {
        if let Some(first) = terminals.iter().find(|x| x.name == t.name.text) {
            diags.push(CheckError::DuplicateName {
                kind: "terminal",
                name: t.name.text.clone(),
                owner: owner.into(),
                span: t.name.span.into(),
                first: first.span.into(),
            });
            continue;
        }
        let class = vocab::<ResultClass>(&t.class, "terminal class", TERMINAL_CLASSES, diags);
        let class = class.filter(|c| {
            let ok = *c != ResultClass::RecoverableFailure;
            if !ok {
                let help = Some(format!(
                    "a terminal's class is one of: {}",
                    TERMINAL_CLASSES.join(", ")
                ));
                diags.push(CheckError::UnknownValue {
                    what: "terminal class",
                    name: t.class.text.clone(),
                    span: t.class.span.into(),
                    help,
                });
            }
            ok
        });
        let writes = match &t.writes {
            Some(marker) => {
                check_marker(marker, diags);
                marker.text.clone()
            }
            None => {
                let derived = t.name.text.to_uppercase();
                super::stages::check_derived_marker(&t.name, &derived, "writes", diags);
                derived
            }
        };
        let opens_incident = match &t.opens {
            Some(what) if what.text == "incident" => true,
            Some(what) => {
                let help = Some("a terminal can only `opens incident`".into());
                diags.push(CheckError::UnknownValue {
                    what: "`opens` target",
                    name: what.text.clone(),
                    span: what.span.into(),
                    help,
                });
                false
            }
            None => false,
        };
        if class.is_none() {
            bad.push(terminals.len());
        }
        terminals.push(Terminal {
            name: t.name.text.clone(),
            span: t.name.span,
            class: class.unwrap_or(ResultClass::Blocked),
            writes,
            opens_incident,
            emits: t.emits.iter().map(|e| e.text.clone()).collect(),
        });
    }
    (terminals, bad)
}
