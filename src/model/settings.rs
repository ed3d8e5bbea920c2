//! Checks of settings values (positive numbers, percentages, runner and
//! time zone names), as serde `deserialize_with` helpers.
//!
//! Input: one TOML value while `millrace.toml` is deserialized. Output: the
//! value, or a message the config loader turns into a located problem.
//! Invariant: every settings struct, wherever it is defined (each runner
//! owns its own), checks its values with these, so a bad value is reported
//! at its own position with the same machinery as a type error.

use serde::Deserialize;
use serde::de::{Deserializer, Error};

use crate::plan::RUNNERS;

/// An integer in `MIN..=MAX` (every integer setting has a range, so no
/// value that passes validation can overflow the code that uses it).
pub fn int_in<'de, D: Deserializer<'de>, T: TryFrom<i64>, const MIN: i64, const MAX: i64>(
    d: D,
) -> Result<T, D::Error> {
    let value = i64::deserialize(d)?;
    if !(MIN..=MAX).contains(&value) {
        return Err(D::Error::custom(format!(
            "must be an integer from {MIN} to {MAX}, found {value}"
        )));
    }
    T::try_from(value).map_err(|_| D::Error::custom(format!("{value} is out of range")))
}

/// [`int_in`] for an optional key.
pub fn opt_int_in<'de, D: Deserializer<'de>, T: TryFrom<i64>, const MIN: i64, const MAX: i64>(
    d: D,
) -> Result<Option<T>, D::Error> {
    int_in::<D, T, MIN, MAX>(d).map(Some)
}

/// A number of seconds for the idle sleep: from 0.01 to 3600.
pub fn idle_seconds<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    number_in(d, 0.01, 3600.0)
}

/// An amount of US dollars: more than 0, at most a million.
pub fn opt_usd<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    number_in(d, f64::MIN_POSITIVE, 1e6).map(Some)
}

fn number_in<'de, D: Deserializer<'de>>(d: D, min: f64, max: f64) -> Result<f64, D::Error> {
    let value = f64::deserialize(d)?;
    if value.is_finite() && value >= min && value <= max {
        Ok(value)
    } else {
        let low = if min == f64::MIN_POSITIVE {
            "more than 0".to_string()
        } else {
            format!("from {min}")
        };
        Err(D::Error::custom(format!(
            "must be a number {low} to {max}, found {value}"
        )))
    }
}

/// A percentage in `(0, 100]`.
pub fn percent<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let value = f64::deserialize(d)?;
    if value > 0.0 && value <= 100.0 {
        Ok(value)
    } else {
        Err(D::Error::custom(format!(
            "must be greater than 0 and at most 100, found {value}"
        )))
    }
}

pub fn known_runner<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
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

pub fn opt_known_runner<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    known_runner(d).map(Some)
}

/// An IANA time zone name such as `UTC` or `Europe/Paris` (shape only: the
/// zone database is not consulted, so a config stays valid across hosts).
pub fn timezone_name<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
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
