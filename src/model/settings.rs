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

pub fn positive_u32<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let value = i64::deserialize(d)?;
    positive_int(value)
}

pub fn positive_u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let value = i64::deserialize(d)?;
    positive_int(value)
}

pub fn opt_positive_u32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    positive_u32(d).map(Some)
}

pub fn opt_positive_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    positive_u64(d).map(Some)
}

pub fn positive_f64<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let value = f64::deserialize(d)?;
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(D::Error::custom(format!(
            "must be a number greater than 0, found {value}"
        )))
    }
}

pub fn opt_positive_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    positive_f64(d).map(Some)
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

fn positive_int<T: TryFrom<i64>, E: Error>(value: i64) -> Result<T, E> {
    if value > 0 {
        T::try_from(value).map_err(|_| E::custom(format!("{value} is too large")))
    } else {
        Err(E::custom(format!(
            "must be an integer greater than 0, found {value}"
        )))
    }
}
