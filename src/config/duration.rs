//! Durations as operators write them: `"250ms"`, `"30s"`, `"5m"`, `"2h30m"`.
//!
//! Hand-written rather than jiff's friendly format: that one also accepts spaces, fractions,
//! words (`"1 hour"`), ISO 8601 and negative spans, and its errors do not say how to write a
//! duration here. The grammar below is the one `acdstream.example.toml` documents.

use std::time::Duration;

use serde::de::{self, Deserializer, Unexpected};
use serde::{Deserialize, Serialize};

use crate::event::Millis;

/// A duration string that could not be parsed; the message says how to write it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("\"{input}\" is not a duration: {reason}")]
pub struct DurationError {
    input: String,
    reason: String,
}

const UNITS: [(&str, u64); 4] = [("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1)];
const UNITS_HINT: &str = "units are ms, s, m and h, e.g. \"250ms\", \"30s\", \"5m\", \"2h30m\"";

/// Parses `"250ms"`, `"30s"`, `"5m"`, `"1h"`, `"2h30m"` (and a bare `"0"`). Units go from
/// largest to smallest, each at most once; there are no fractions, so `"1.5s"` is `"1500ms"`.
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let fail = |reason: String| DurationError {
        input: text.to_owned(),
        reason,
    };
    let s = text.trim();
    if s.is_empty() {
        return Err(fail(format!("it is empty; {UNITS_HINT}")));
    }
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.starts_with('-') {
        return Err(fail("durations cannot be negative".to_owned()));
    }
    let mut rest = s;
    let mut total: u64 = 0;
    let mut last_rank: Option<usize> = None;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(fail(format!(
                "expected a number at \"{rest}\"; {UNITS_HINT}"
            )));
        }
        let (number, tail) = rest.split_at(digits);
        if tail.starts_with(['.', ',']) {
            return Err(fail(
                "fractions are not supported; use a smaller unit, e.g. \"1500ms\" for 1.5s"
                    .to_owned(),
            ));
        }
        let unit_len = tail.bytes().take_while(u8::is_ascii_alphabetic).count();
        let (unit, tail) = tail.split_at(unit_len);
        if unit.is_empty() {
            return Err(fail(if tail.is_empty() {
                format!("\"{number}\" has no unit; write e.g. \"{number}s\" ({UNITS_HINT})")
            } else {
                format!("unexpected \"{tail}\"; {UNITS_HINT}")
            }));
        }
        let Some(rank) = UNITS.iter().position(|(u, _)| *u == unit) else {
            return Err(fail(format!("unknown unit \"{unit}\"; {UNITS_HINT}")));
        };
        if last_rank.is_some_and(|last| rank <= last) {
            return Err(fail(
                "units must go from largest to smallest, each at most once, e.g. \"1h30m\""
                    .to_owned(),
            ));
        }
        last_rank = Some(rank);
        let too_long = || fail("too long".to_owned());
        let n: u64 = number.parse().map_err(|_| too_long())?;
        total = n
            .checked_mul(UNITS[rank].1)
            .and_then(|ms| total.checked_add(ms))
            .filter(|&ms| ms <= Millis::MAX as u64)
            .ok_or_else(too_long)?;
        rest = tail;
    }
    Ok(Duration::from_millis(total))
}

/// The shortest canonical spelling, e.g. `1h30m`, `250ms`, `0s`.
pub fn format_duration(d: Duration) -> String {
    let mut ms = d.as_millis();
    if ms == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    for (unit, size) in UNITS {
        let size = u128::from(size);
        if ms >= size {
            out.push_str(&(ms / size).to_string());
            out.push_str(unit);
            ms %= size;
        }
    }
    out
}

/// The parser caps durations at `Millis::MAX`, so this never saturates in practice.
pub(super) fn millis(d: Duration) -> Millis {
    Millis::try_from(d.as_millis()).unwrap_or(Millis::MAX)
}

/// A duration in the engine's milliseconds, for defaults taken from the engine's settings.
pub(super) fn from_millis(ms: Millis) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

/// A duration as written. Numbers are kept as their text so that `lateness = 30` is reported
/// by validation as a missing unit, alongside the other problems, instead of stopping serde.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub(super) struct DurationText(pub String);

impl From<Duration> for DurationText {
    fn from(d: Duration) -> Self {
        DurationText(format_duration(d))
    }
}

impl<'de> Deserialize<'de> for DurationText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match toml::Value::deserialize(deserializer)? {
            toml::Value::String(text) => Ok(DurationText(text)),
            n @ (toml::Value::Integer(_) | toml::Value::Float(_)) => {
                Ok(DurationText(n.to_string()))
            }
            other => Err(invalid_type(
                &other,
                "a duration such as \"30s\", \"5m\" or \"2h30m\"",
            )),
        }
    }
}

/// A list of windows: a TOML array, or (handy in an environment variable) `"5m,15m,60m"`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub(super) struct WindowList(pub Vec<DurationText>);

impl<'de> Deserialize<'de> for WindowList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = match toml::Value::deserialize(deserializer)? {
            toml::Value::String(text) => text,
            toml::Value::Array(list) => {
                let list = list.into_iter().map(DurationText::deserialize);
                let list = list.collect::<Result<_, _>>();
                return list
                    .map(WindowList)
                    .map_err(|e| de::Error::custom(e.message()));
            }
            other => {
                let expected = "a list of durations such as [\"5m\", \"15m\", \"60m\"]";
                return Err(invalid_type(&other, expected));
            }
        };
        let items = text.split(',').filter(|_| !text.trim().is_empty());
        let items = items.map(|w| DurationText(w.trim().to_owned()));
        Ok(WindowList(items.collect()))
    }
}

/// serde's "invalid type" error for a value that is not what `expected` says.
fn invalid_type<E: de::Error>(value: &toml::Value, expected: &str) -> E {
    let unexpected = match value {
        toml::Value::String(s) => Unexpected::Str(s),
        toml::Value::Integer(i) => Unexpected::Signed(*i),
        toml::Value::Float(f) => Unexpected::Float(*f),
        toml::Value::Boolean(b) => Unexpected::Bool(*b),
        toml::Value::Array(_) => Unexpected::Seq,
        toml::Value::Table(_) => Unexpected::Map,
        toml::Value::Datetime(_) => Unexpected::Other("a date or time"),
    };
    E::invalid_type(unexpected, &expected)
}
