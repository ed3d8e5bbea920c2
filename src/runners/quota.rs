//! Recognizing quota exhaustion in harness prose and reading its reset time.
//!
//! Input: an error text (Codex prints English only, no code) and the clock.
//! Output: whether the text is a usage-limit message and, when it names one,
//! the reset instant. Invariant: an unparseable time is `None`, never a
//! guess; naive local times are read in the given time zone.

use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp};

/// Whether `text` reads like a subscription usage limit (not a transient
/// per-minute rate limit the harness retries itself).
pub(crate) fn is_quota_text(text: &str) -> bool {
    let lower = text.to_lowercase();
    let hit_limit = lower.contains("hit your") && lower.contains("limit");
    hit_limit
        || [
            "usage limit",
            "usage_limit_reached",
            "daily quota",
            "resource_exhausted",
        ]
        .iter()
        .any(|needle| lower.contains(needle))
}

/// The reset time a usage-limit message names: "try again at <when>" or
/// "try again in <n> <unit>[ <n> <unit>]...".
pub(crate) fn reset_time(text: &str, now: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
    let lower = text.to_ascii_lowercase();
    if let Some(at) = lower.find("try again at") {
        let rest = text.get(at + "try again at".len()..)?;
        return parse_when(rest, now, tz);
    }
    if let Some(at) = lower.find("try again in") {
        let rest = lower.get(at + "try again in".len()..)?;
        return parse_relative(rest).and_then(|span| now.checked_add(span).ok());
    }
    // Claude Code: "resets 9:29pm (UTC)", "resets Dec 3, 2:37am (UTC)".
    if let Some(at) = lower.find("resets ") {
        let rest = text.get(at + "resets ".len()..)?;
        let zone = zone_in_parens(rest).unwrap_or_else(|| tz.clone());
        return parse_when(rest, now, &zone);
    }
    None
}

/// The time zone a message names in parentheses, `(UTC)` or
/// `(Europe/Paris)`.
fn zone_in_parens(text: &str) -> Option<TimeZone> {
    let open = text.find('(')?;
    let close = open + text.get(open..)?.find(')')?;
    let name = text.get(open + 1..close)?.trim();
    match name {
        "UTC" | "utc" | "GMT" => Some(TimeZone::UTC),
        _ => TimeZone::get(name).ok(),
    }
}

/// An absolute time: RFC 3339, or a month-day-year with a 12/24-hour time,
/// or a bare time (the next such time after `now`).
fn parse_when(rest: &str, now: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
    let cleaned = clean(rest);
    let first = cleaned.split_whitespace().next().unwrap_or_default();
    if let Ok(ts) = first.parse::<Timestamp>() {
        return Some(ts);
    }
    let words: Vec<&str> = cleaned.split_whitespace().collect();
    if let Some(date) = words.get(..3).and_then(parse_date) {
        let time = parse_time(words.get(3..).unwrap_or_default())?;
        return tz.to_timestamp(date.to_datetime(time)).ok();
    }
    if let Some(date) = words.get(..2).and_then(|w| month_day(w, now, tz)) {
        let time = parse_time(words.get(2..).unwrap_or_default())?;
        return tz.to_timestamp(date.to_datetime(time)).ok();
    }
    let time = parse_time(&words)?;
    let today = now.to_zoned_datetime(tz.clone()).date();
    let at = tz.to_timestamp(today.to_datetime(time)).ok()?;
    if at > now {
        Some(at)
    } else {
        let tomorrow = today.tomorrow().ok()?;
        tz.to_timestamp(tomorrow.to_datetime(time)).ok()
    }
}

/// Drops commas, ordinal suffixes ("18th") and trailing punctuation.
fn clean(text: &str) -> String {
    let stop = text.find(['\n', '(']).unwrap_or(text.len());
    let head = text.get(..stop).unwrap_or(text);
    let words: Vec<String> = head
        .replace(',', " ")
        .split_whitespace()
        .map(|w| strip_ordinal(w.trim_end_matches(['.', '!', ';', ')'])).to_owned())
        .collect();
    words.join(" ")
}

fn strip_ordinal(word: &str) -> &str {
    for suffix in ["st", "nd", "rd", "th"] {
        let Some(num) = word.strip_suffix(suffix) else {
            continue;
        };
        if !num.is_empty() && num.bytes().all(|b| b.is_ascii_digit()) {
            return num;
        }
    }
    word
}

/// `Sep 18 2026` or `September 18 2026`.
fn parse_date(words: &[&str]) -> Option<Date> {
    let [month, day, year] = words else { return None };
    let month = month_number(month)?;
    let day: i8 = day.parse().ok()?;
    let year: i16 = year.parse().ok()?;
    Date::new(year, month, day).ok()
}

/// `Dec 3` without a year: this year's, or next year's when that date has
/// passed.
fn month_day(words: &[&str], now: Timestamp, tz: &TimeZone) -> Option<Date> {
    let [month, day] = words else { return None };
    let month = month_number(month)?;
    let day: i8 = day.parse().ok()?;
    let today = now.to_zoned_datetime(tz.clone()).date();
    let this_year = Date::new(today.year(), month, day).ok()?;
    if this_year >= today {
        Some(this_year)
    } else {
        Date::new(today.year() + 1, month, day).ok()
    }
}

fn month_number(word: &str) -> Option<i8> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let lower = word.to_ascii_lowercase();
    let prefix = lower.get(..3)?;
    let index = MONTHS.iter().position(|m| *m == prefix)?;
    i8::try_from(index + 1).ok()
}

/// `12:04 AM`, `12:04:05 pm`, `00:04`, `7pm`.
fn parse_time(words: &[&str]) -> Option<Time> {
    let first = words.first()?.to_ascii_lowercase();
    let (clock, mut meridiem) = split_meridiem(&first);
    if meridiem.is_none() {
        meridiem = match words.get(1).map(|w| w.to_ascii_lowercase()).as_deref() {
            Some("am" | "a.m") => Some(false),
            Some("pm" | "p.m") => Some(true),
            _ => None,
        };
    }
    let mut parts = clock.split(':');
    let mut hour: i8 = parts.next()?.parse().ok()?;
    let minute: i8 = parts.next().map_or(Some(0), |m| m.parse().ok())?;
    let second: i8 = parts.next().map_or(Some(0), |s| s.parse().ok())?;
    match meridiem {
        Some(pm) if (1..=12).contains(&hour) => hour = hour % 12 + if pm { 12 } else { 0 },
        Some(_) => return None,
        None => {}
    }
    Time::new(hour, minute, second, 0).ok()
}

/// Splits `7pm` into (`7`, Some(true)); `am`/`pm` alone gives ("", Some).
fn split_meridiem(word: &str) -> (&str, Option<bool>) {
    for (suffix, pm) in [("a.m", false), ("p.m", true), ("am", false), ("pm", true)] {
        if let Some(head) = word.strip_suffix(suffix) {
            return (head, Some(pm));
        }
    }
    (word, None)
}

/// `2 hours 3 minutes`, `45 seconds`, `1 day`.
fn parse_relative(rest: &str) -> Option<Span> {
    let cleaned = clean(rest);
    let words: Vec<&str> = cleaned.split_whitespace().collect();
    let mut seconds: i64 = 0;
    let mut matched = false;
    for pair in words.chunks(2) {
        let [n, unit] = pair else { break };
        let Ok(n) = n.parse::<i64>() else { break };
        let unit_seconds = match unit.trim_end_matches('s') {
            "second" | "sec" => 1,
            "minute" | "min" => 60,
            "hour" | "hr" => 3600,
            "day" => 86_400,
            _ => break,
        };
        seconds = seconds.checked_add(n.checked_mul(unit_seconds)?)?;
        matched = true;
    }
    if !matched {
        return None;
    }
    Span::new().try_seconds(seconds).ok()
}

/// Seconds since the epoch (Claude's `resetsAt`) as a timestamp.
pub(crate) fn from_epoch(value: &serde_json::Value) -> Option<Timestamp> {
    let seconds = value.as_i64().or_else(|| value.as_f64().map(|f| f as i64))?;
    // Milliseconds slip through some payloads; no reset is 300 years away.
    let seconds = if seconds > 10_000_000_000 {
        seconds / 1000
    } else {
        seconds
    };
    Timestamp::from_second(seconds).ok()
}

/// The RFC 3339 date-time of `dt` in `tz`, for tests and notes.
#[cfg(test)]
fn at(dt: jiff::civil::DateTime, tz: &TimeZone) -> Timestamp {
    tz.to_timestamp(dt).unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn now() -> Timestamp {
        "2026-09-17T20:00:00Z".parse().unwrap()
    }

    #[test]
    fn codex_usage_limit_message() {
        let text = "You've hit your usage limit. Upgrade to Pro or try again at Sep 18th, 2026 12:04 AM.";
        assert!(is_quota_text(text));
        let got = reset_time(text, now(), &TimeZone::UTC).unwrap();
        assert_eq!(got, at(date(2026, 9, 18).at(0, 4, 0, 0), &TimeZone::UTC));
    }

    #[test]
    fn long_month_seconds_and_pm() {
        let text = "usage limit reached, try again at September 3, 2026 1:30:15 PM";
        let got = reset_time(text, now(), &TimeZone::UTC).unwrap();
        assert_eq!(got, at(date(2026, 9, 3).at(13, 30, 15, 0), &TimeZone::UTC));
    }

    #[test]
    fn time_only_rolls_to_tomorrow() {
        let got = reset_time("try again at 7:15 PM", now(), &TimeZone::UTC).unwrap();
        assert_eq!(got, at(date(2026, 9, 18).at(19, 15, 0, 0), &TimeZone::UTC));
        let got = reset_time("try again at 21:00", now(), &TimeZone::UTC).unwrap();
        assert_eq!(got, at(date(2026, 9, 17).at(21, 0, 0, 0), &TimeZone::UTC));
    }

    #[test]
    fn rfc3339_and_relative() {
        let got = reset_time("try again at 2026-09-18T05:00:00Z.", now(), &TimeZone::UTC);
        assert_eq!(got, Some("2026-09-18T05:00:00Z".parse().unwrap()));
        let got = reset_time("Try again in 2 hours 30 minutes.", now(), &TimeZone::UTC).unwrap();
        assert_eq!(got, "2026-09-17T22:30:00Z".parse::<Timestamp>().unwrap());
    }

    #[test]
    fn garbage_is_none() {
        assert_eq!(reset_time("try again at some point", now(), &TimeZone::UTC), None);
        assert_eq!(
            reset_time("try again at Sep 99th, 2026 1:00 AM", now(), &TimeZone::UTC),
            None
        );
        assert_eq!(reset_time("try again in forever", now(), &TimeZone::UTC), None);
        assert!(!is_quota_text("connection reset"));
    }

    #[test]
    fn claude_reset_texts() {
        let text = "You've hit your 5-hour limit · resets 9:29pm (UTC)";
        assert!(is_quota_text(text));
        let got = reset_time(text, now(), &TimeZone::fixed(jiff::tz::offset(5))).unwrap();
        assert_eq!(got, at(date(2026, 9, 17).at(21, 29, 0, 0), &TimeZone::UTC));
        let text = "You've hit your session limit · resets Dec 3, 2:37am (UTC)";
        let got = reset_time(text, now(), &TimeZone::UTC).unwrap();
        assert_eq!(got, at(date(2026, 12, 3).at(2, 37, 0, 0), &TimeZone::UTC));
        let got = reset_time("resets Sep 1, 2:37am (UTC)", now(), &TimeZone::UTC).unwrap();
        assert_eq!(got, at(date(2027, 9, 1).at(2, 37, 0, 0), &TimeZone::UTC));
    }

    #[test]
    fn codex_reset_texts_of_the_captures() {
        let text = "You’ve hit your usage limit. Upgrade to Pro (https://chatgpt.com/explore/pro), visit https://chatgpt.com/settings/usage to purchase more credits or try again at 10:24 PM.";
        assert!(is_quota_text(text));
        let got = reset_time(text, now(), &TimeZone::UTC).unwrap();
        assert_eq!(got, at(date(2026, 9, 17).at(22, 24, 0, 0), &TimeZone::UTC));
        let got = reset_time("try again at Dec 3rd, 2026 2:37 AM.", now(), &TimeZone::UTC).unwrap();
        assert_eq!(got, at(date(2026, 12, 3).at(2, 37, 0, 0), &TimeZone::UTC));
    }

    #[test]
    fn epoch_seconds_and_millis() {
        let s = from_epoch(&serde_json::json!(1_790_000_000)).unwrap();
        let ms = from_epoch(&serde_json::json!(1_790_000_000_000_i64)).unwrap();
        assert_eq!(s, ms);
    }
}
