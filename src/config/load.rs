//! Turning TOML text into a [`Config`] while collecting every problem.
//!
//! serde stops at the first error, so the loader deserializes repeatedly:
//! after each error it finds the offending entry in the spanned document
//! (by the error's span), records a located problem, removes that entry and
//! tries again. The loop ends when deserialization succeeds (then the
//! cross-value checks run) or an error cannot be located. Each round removes
//! one entry, so the loop is bounded by the size of the document.

use std::ops::Range;

use serde::{Deserialize, Serialize};
use toml::Spanned;
use toml::de::{DeArray, DeTable, DeValue, Deserializer};

use super::{Config, ConfigError};
use crate::model::ids::id_problem;
use crate::workspace::problem::{Problem, ProblemSource};

/// The class of a config problem; each maps to a stable code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// Not valid TOML.
    Syntax,
    /// A key no section declares.
    UnknownKey,
    /// A value of the wrong TOML type.
    WrongType,
    /// A value of the right type outside the allowed set or range.
    InvalidValue,
    /// A required key is absent.
    MissingKey,
}

impl ProblemKind {
    pub fn code(self) -> &'static str {
        match self {
            ProblemKind::Syntax => "mill::config::syntax",
            ProblemKind::UnknownKey => "mill::config::unknown_key",
            ProblemKind::WrongType => "mill::config::wrong_type",
            ProblemKind::InvalidValue => "mill::config::invalid_value",
            ProblemKind::MissingKey => "mill::config::missing_key",
        }
    }
}

/// One step of a key path.
#[derive(Clone, Debug, PartialEq)]
enum Seg {
    Key(String),
    Index(usize),
}

struct Collector {
    source: ProblemSource,
    problems: Vec<Problem>,
}

impl Collector {
    fn push(
        &mut self,
        kind: ProblemKind,
        key: Option<String>,
        message: String,
        help: Option<String>,
        span: Option<Range<usize>>,
    ) {
        let problem = Problem::at(kind.code(), key, message, help, span, &self.source);
        self.problems.push(problem);
    }
}

pub(super) fn parse(text: &str, name: &str) -> Result<Config, ConfigError> {
    let mut cx = Collector {
        source: ProblemSource::new(name, text),
        problems: Vec::new(),
    };
    let (mut doc, syntax) = DeTable::parse_recoverable(text);
    for error in syntax {
        let message = format!("invalid TOML: {}", error.message().trim());
        cx.push(ProblemKind::Syntax, None, message, None, error.span());
    }
    if !cx.problems.is_empty() {
        return Err(invalid(name, cx.problems));
    }
    let original = doc.clone();
    let config = deserialize_collecting(&mut doc, &original, &mut cx);
    if let Some(config) = &config {
        let mut located = Located {
            doc: doc.get_ref(),
            original: original.get_ref(),
            cx: &mut cx,
        };
        cross_checks(config, &mut located);
    }
    match config {
        Some(config) if cx.problems.is_empty() => Ok(config),
        _ => {
            cx.problems.sort_by_key(|p| (p.line, p.column));
            Err(invalid(name, cx.problems))
        }
    }
}

fn invalid(name: &str, problems: Vec<Problem>) -> ConfigError {
    ConfigError::Invalid {
        file: name.to_string(),
        problems,
    }
}

/// Paths are reported against the untouched `original`: removing an array
/// element shifts the indices of the ones after it.
fn deserialize_collecting(
    doc: &mut Spanned<DeTable<'_>>,
    original: &Spanned<DeTable<'_>>,
    cx: &mut Collector,
) -> Option<Config> {
    loop {
        let error = match Config::deserialize(Deserializer::from(doc.clone())) {
            Ok(config) => return Some(config),
            Err(error) => error,
        };
        let span = error.span();
        let shown = span.as_ref().and_then(|s| locate_in_table(original.get_ref(), s));
        record(cx, error.message(), shown.as_deref(), span.clone());
        let path = span.as_ref().and_then(|s| locate_in_table(doc.get_ref(), s));
        let removed = path.is_some_and(|p| remove(doc.get_mut(), &p));
        if !removed {
            return None;
        }
    }
}

/// Turns one serde/toml message into a located, classified problem.
fn record(cx: &mut Collector, message: &str, path: Option<&[Seg]>, span: Option<Range<usize>>) {
    let key = path.map(dotted);
    let shown = key.clone().unwrap_or_else(|| "the document".into());
    let message = message.trim();
    if let Some(rest) = message.strip_prefix("unknown field ") {
        let (_, expected) = split_expected(rest);
        let help = expected.map(|e| format!("valid keys here: {e}"));
        cx.push(
            ProblemKind::UnknownKey,
            key,
            format!("unknown key `{shown}`"),
            help,
            span,
        );
    } else if let Some(rest) = message.strip_prefix("missing field ") {
        let field = rest.trim_matches('`');
        let full = match &key {
            Some(k) => format!("{k}.{field}"),
            None => field.to_string(),
        };
        // A required key removed after its own error is not missing twice.
        if !cx
            .problems
            .iter()
            .any(|p| p.subject.as_deref() == Some(full.as_str()))
        {
            let text = format!("missing required key `{full}`");
            cx.push(ProblemKind::MissingKey, Some(full), text, None, span);
        }
    } else if let Some(rest) = message.strip_prefix("invalid type: ") {
        let text = format!("wrong type for `{shown}`: found {rest}");
        cx.push(ProblemKind::WrongType, key, text, None, span);
    } else if let Some(rest) = message.strip_prefix("wanted ") {
        // toml's wording for a non-string where an enum word belongs.
        let expected = if rest == "string or table" {
            "a string"
        } else {
            rest
        };
        let text = format!("wrong type for `{shown}`: expected {expected}");
        cx.push(ProblemKind::WrongType, key, text, None, span);
    } else if let Some(rest) = message.strip_prefix("unknown variant ") {
        let (found, expected) = split_expected(rest);
        let text = format!("invalid value {found} for `{shown}`");
        let help = expected.map(|e| format!("allowed values: {e}"));
        cx.push(ProblemKind::InvalidValue, key, text, help, span);
    } else {
        let text = format!("invalid value for `{shown}`: {message}");
        cx.push(ProblemKind::InvalidValue, key, text, None, span);
    }
}

/// Splits "`x`, expected one of `a`, `b`" into ("`x`", Some("`a`, `b`")).
fn split_expected(rest: &str) -> (&str, Option<String>) {
    match rest.split_once(", expected ") {
        Some((found, expected)) => {
            let expected = expected.trim_start_matches("one of ").trim_end_matches('.');
            (found, Some(expected.to_string()))
        }
        None => match rest.split_once(", there are no fields") {
            Some((found, _)) => (found, Some("none (this table takes no keys)".into())),
            None => (rest, None),
        },
    }
}

fn dotted(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

fn contains(outer: &Range<usize>, inner: &Range<usize>) -> bool {
    outer.start <= inner.start && inner.end <= outer.end
}

/// The deepest entry whose key or value covers `span`. Children are tried
/// first because a table declared by a `[header]` may have a span that does
/// not cover its keys.
fn locate_in_table(table: &DeTable<'_>, span: &Range<usize>) -> Option<Vec<Seg>> {
    for (key, value) in table.iter() {
        if contains(&key.span(), span) {
            return Some(vec![Seg::Key(key.get_ref().to_string())]);
        }
        let inner = match value.get_ref() {
            DeValue::Table(t) => locate_in_table(t, span),
            DeValue::Array(a) => locate_in_array(a, span),
            _ => None,
        };
        if let Some(mut rest) = inner {
            rest.insert(0, Seg::Key(key.get_ref().to_string()));
            return Some(rest);
        }
        if contains(&value.span(), span) {
            return Some(vec![Seg::Key(key.get_ref().to_string())]);
        }
    }
    None
}

fn locate_in_array(array: &DeArray<'_>, span: &Range<usize>) -> Option<Vec<Seg>> {
    for (index, value) in array.iter().enumerate() {
        let inner = match value.get_ref() {
            DeValue::Table(t) => locate_in_table(t, span),
            DeValue::Array(a) => locate_in_array(a, span),
            _ => None,
        };
        if let Some(mut rest) = inner {
            rest.insert(0, Seg::Index(index));
            return Some(rest);
        }
        if contains(&value.span(), span) {
            return Some(vec![Seg::Index(index)]);
        }
    }
    None
}

/// Removes the entry at `path`; false if the path does not resolve.
fn remove(table: &mut DeTable<'_>, path: &[Seg]) -> bool {
    let Some((last, parents)) = path.split_last() else {
        return false;
    };
    match (parents.split_first(), last) {
        (None, Seg::Key(key)) => table.remove(key.as_str()).is_some(),
        (None, Seg::Index(_)) => false,
        (Some((Seg::Key(first), rest)), _) => match table.get_mut(first.as_str()).map(|v| v.get_mut()) {
            Some(DeValue::Table(inner)) => remove(inner, &[rest, std::slice::from_ref(last)].concat()),
            Some(DeValue::Array(inner)) => {
                remove_in_array(inner, &[rest, std::slice::from_ref(last)].concat())
            }
            _ => false,
        },
        (Some((Seg::Index(_), _)), _) => false,
    }
}

fn remove_in_array(array: &mut DeArray<'_>, path: &[Seg]) -> bool {
    match path {
        [Seg::Index(i)] if *i < array.len() => {
            let mut kept = DeArray::new();
            for (index, value) in array.iter().enumerate() {
                if index != *i {
                    kept.push(value.clone());
                }
            }
            *array = kept;
            true
        }
        [Seg::Index(i), rest @ ..] => match array.get_mut(*i).map(|v| v.get_mut()) {
            Some(DeValue::Table(inner)) => remove(inner, rest),
            Some(DeValue::Array(inner)) => remove_in_array(inner, rest),
            _ => false,
        },
        _ => false,
    }
}

/// Finds the span of the key (or value, with `value`) at a dotted path.
fn span_at(table: &DeTable<'_>, path: &[Seg], value: bool) -> Option<Range<usize>> {
    let (first, rest) = path.split_first()?;
    let Seg::Key(k) = first else { return None };
    let (key, val) = table.get_key_value(k.as_str())?;
    if rest.is_empty() {
        return Some(if value { val.span() } else { key.span() });
    }
    match (val.get_ref(), rest) {
        (DeValue::Table(t), _) => span_at(t, rest, value),
        (DeValue::Array(a), [Seg::Index(i), tail @ ..]) => {
            let item = a.get(*i)?;
            match item.get_ref() {
                DeValue::Table(t) if !tail.is_empty() => span_at(t, tail, value),
                _ if tail.is_empty() => Some(item.span()),
                _ => None,
            }
        }
        _ => None,
    }
}

fn keys(path: &[&str]) -> Vec<Seg> {
    path.iter().map(|k| Seg::Key((*k).to_string())).collect()
}

/// The pruned document (what the config was built from), the original one
/// (what the operator wrote) and the sink.
struct Located<'d, 'i> {
    doc: &'d DeTable<'i>,
    original: &'d DeTable<'i>,
    cx: &'d mut Collector,
}

impl Located<'_, '_> {
    /// Reports at the key (or value) found at `path` in the pruned document,
    /// naming it by its path in the original one.
    fn report(&mut self, path: &[Seg], at_value: bool, message: String, help: Option<&str>) {
        let span = span_at(self.doc, path, at_value);
        let shown = span
            .as_ref()
            .and_then(|s| locate_in_table(self.original, s))
            .unwrap_or_else(|| path.to_vec());
        let help = help.map(str::to_string);
        self.cx.push(
            ProblemKind::InvalidValue,
            Some(dotted(&shown)),
            message,
            help,
            span,
        );
    }
}

/// Checks that need more than one value: unique rule ids, safe stage names,
/// sane environment variable names.
fn cross_checks(config: &Config, at: &mut Located<'_, '_>) {
    let gov = &config.usage_governance;
    let token_ids = gov.runtime_token_rules.rules.iter().map(|r| r.rule_id.as_str());
    unique_rule_ids(
        &["usage_governance", "runtime_token_rules", "rules"],
        token_ids,
        at,
    );
    let quota_ids = gov
        .subscription_quota_rules
        .rules
        .iter()
        .map(|r| r.rule_id.as_str());
    unique_rule_ids(
        &["usage_governance", "subscription_quota_rules", "rules"],
        quota_ids,
        at,
    );

    let runners = &config.runners;
    let stage_tables: [(&[&str], Vec<&String>); 3] = [
        (&["stages"], config.stages.keys().collect()),
        (
            &["runners", "command", "stages"],
            runners.command.stages.keys().collect(),
        ),
        (
            &["runners", "codex", "permission_by_stage"],
            runners.codex.permission_by_stage.keys().collect(),
        ),
    ];
    for (table, names) in stage_tables {
        for name in names {
            if let Some(reason) = id_problem(name) {
                let mut path = keys(table);
                path.push(Seg::Key(name.clone()));
                at.report(
                    &path,
                    false,
                    format!("invalid stage name `{name}`: {reason}"),
                    None,
                );
            }
        }
    }
    let envs = [
        ("codex", &runners.codex.env),
        ("claude", &runners.claude.env),
        ("pi", &runners.pi.env),
    ];
    for (runner, env) in envs {
        for name in env.keys().filter(|n| n.is_empty() || n.contains(['=', '\0'])) {
            let path = keys(&["runners", runner, "env", name]);
            at.report(
                &path,
                false,
                format!("invalid environment variable name `{name}`"),
                None,
            );
        }
    }
}

fn unique_rule_ids<'a>(table: &[&str], ids: impl Iterator<Item = &'a str>, at: &mut Located<'_, '_>) {
    let mut seen = std::collections::BTreeSet::new();
    for (index, id) in ids.enumerate() {
        let mut path = keys(table);
        path.extend([Seg::Index(index), Seg::Key("rule_id".into())]);
        if id.trim().is_empty() {
            at.report(&path, true, "`rule_id` must not be empty".into(), None);
        } else if !seen.insert(id) {
            let help = Some("give every rule its own `rule_id`");
            at.report(&path, true, format!("duplicate rule id `{id}`"), help);
        }
    }
}
