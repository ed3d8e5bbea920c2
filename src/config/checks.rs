//! Value checks run while deserializing `millrace.toml`, so a bad value is
//! reported at its own position with the same machinery as a type error.

use serde::Deserialize;
use serde::de::{Deserializer, Error};

use super::schema::{CommandStage, CommandStageWire};
use crate::plan::RUNNERS;

/// Flags the Pi runner sets itself; operators may not pass them in `args`.
pub const PI_RESERVED_FLAGS: &[&str] = &[
    "--mode",
    "--no-session",
    "--provider",
    "--model",
    "--thinking",
    "--no-context-files",
    "--no-skills",
];

pub(super) fn positive_u32<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let value = i64::deserialize(d)?;
    positive_int(value)
}

pub(super) fn positive_u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let value = i64::deserialize(d)?;
    positive_int(value)
}

pub(super) fn opt_positive_u32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    positive_u32(d).map(Some)
}

pub(super) fn opt_positive_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    positive_u64(d).map(Some)
}

pub(super) fn positive_f64<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let value = f64::deserialize(d)?;
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(D::Error::custom(format!(
            "must be a number greater than 0, found {value}"
        )))
    }
}

pub(super) fn opt_positive_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    positive_f64(d).map(Some)
}

/// A percentage in `(0, 100]`.
pub(super) fn percent<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let value = f64::deserialize(d)?;
    if value > 0.0 && value <= 100.0 {
        Ok(value)
    } else {
        Err(D::Error::custom(format!(
            "must be greater than 0 and at most 100, found {value}"
        )))
    }
}

pub(super) fn known_runner<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let name = String::deserialize(d)?;
    if RUNNERS.contains(&name.as_str()) {
        Ok(name)
    } else {
        Err(D::Error::custom(format!(
            "unknown runner `{name}`, expected one of {}",
            RUNNERS.join(", ")
        )))
    }
}

pub(super) fn opt_known_runner<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    known_runner(d).map(Some)
}

/// An IANA time zone name such as `UTC` or `Europe/Paris` (shape only: the
/// zone database is not consulted, so a config stays valid across hosts).
pub(super) fn timezone_name<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let name = String::deserialize(d)?;
    let shaped = !name.is_empty()
        && !name.starts_with('/')
        && !name.contains("..")
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-' | '+'));
    if shaped {
        Ok(name)
    } else {
        Err(D::Error::custom(format!(
            "`{name}` is not a time zone name such as `UTC`"
        )))
    }
}

pub(super) fn pi_args<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let args = Vec::<String>::deserialize(d)?;
    for arg in &args {
        let flag = arg.split('=').next().unwrap_or(arg);
        if PI_RESERVED_FLAGS.contains(&flag) {
            return Err(D::Error::custom(format!(
                "`{arg}` is set by the Pi runner itself; use the dedicated key instead"
            )));
        }
    }
    Ok(args)
}

/// Checks a command-runner stage as a whole.
pub(super) fn command_stage(wire: CommandStageWire) -> Result<CommandStage, String> {
    if wire.argv.is_empty() || wire.argv.first().is_some_and(|p| p.trim().is_empty()) {
        return Err("`argv` must name a program: a non-empty list whose first item is not blank".into());
    }
    for (key, outcome) in [("success", &wire.success), ("failure", &wire.failure)] {
        match outcome {
            Some(token) if !is_outcome_token(token) => {
                return Err(format!(
                    "`{key}` must be an outcome token like `CHECKER_PASS`, found `{token}`"
                ));
            }
            None if !wire.marker_from_output => {
                return Err(format!("`{key}` is required unless `marker_from_output = true`"));
            }
            _ => {}
        }
    }
    if let Some(cwd) = &wire.cwd {
        let path = std::path::Path::new(cwd);
        let escapes = path
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir));
        if path.is_absolute() || escapes {
            return Err(format!(
                "`cwd` must be relative to the workspace root without `..`, found `{cwd}`"
            ));
        }
    }
    Ok(CommandStage {
        argv: wire.argv,
        success: wire.success,
        failure: wire.failure,
        marker_from_output: wire.marker_from_output,
        env: wire.env,
        cwd: wire.cwd,
    })
}

/// `[A-Z][A-Z0-9_]*`: the shape of a terminal marker token.
pub fn is_outcome_token(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_uppercase())
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

fn positive_int<T: TryFrom<i64>, E: Error>(value: i64) -> Result<T, E> {
    if value > 0 {
        T::try_from(value).map_err(|_| E::custom(format!("{value} is too large")))
    } else {
        Err(E::custom(format!(
            "must be an integer greater than 0, found {value}"
        )))
    }
}
