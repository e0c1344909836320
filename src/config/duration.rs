//! Durations as operators write them: `"250ms"`, `"30s"`, `"5m"`, `"2h30m"`.
//!
//! Parsed by hand rather than with jiff's friendly format: that one also accepts spaces,
//! fractions, words (`"1 hour"`), ISO 8601 and negative spans, and its errors do not say how to
//! write a duration here. The grammar below is the one `acdstream.example.toml` documents;
//! jiff prints durations in it.

use std::time::Duration;

use jiff::fmt::friendly::{Spacing, SpanPrinter};
use serde::de::{Deserializer, Error as _};
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
const HINT: &str = "units are ms, s, m and h, e.g. \"250ms\", \"30s\", \"5m\", \"2h30m\"";

/// Parses `"250ms"`, `"30s"`, `"5m"`, `"1h"`, `"2h30m"` (and a bare `"0"`). Units go from
/// largest to smallest, each at most once; there are no fractions, so `"1.5s"` is `"1500ms"`.
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let ms = match text.trim() {
        "" => Err(format!("it is empty; {HINT}")),
        "0" => Ok(0),
        s if s.starts_with('-') => Err("durations cannot be negative".to_owned()),
        s => sum(s),
    };
    let input = text.to_owned();
    ms.map(Duration::from_millis)
        .map_err(|reason| DurationError { input, reason })
}

fn sum(mut rest: &str) -> Result<u64, String> {
    let (mut total, mut last) = (0u64, None);
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (number, tail) = rest.split_at(digits);
        let (unit, tail) = tail.split_at(tail.bytes().take_while(u8::is_ascii_alphabetic).count());
        let why = match UNITS.iter().position(|(u, _)| *u == unit) {
            _ if digits == 0 => format!("expected a number at \"{rest}\"; {HINT}"),
            _ if unit.is_empty() && tail.starts_with(['.', ',']) => {
                "fractions are not supported; use a smaller unit, e.g. \"1500ms\" for 1.5s".into()
            }
            _ if unit.is_empty() && tail.is_empty() => {
                format!("\"{number}\" has no unit; write e.g. \"{number}s\" ({HINT})")
            }
            _ if unit.is_empty() => format!("unexpected \"{tail}\"; {HINT}"),
            None => format!("unknown unit \"{unit}\"; {HINT}"),
            Some(rank) if last.is_some_and(|last| rank <= last) => {
                "units must go from largest to smallest, each at most once, e.g. \"1h30m\"".into()
            }
            Some(rank) => {
                let n = number
                    .parse::<u64>()
                    .ok()
                    .and_then(|n| n.checked_mul(UNITS[rank].1));
                let sum = n.and_then(|ms| total.checked_add(ms));
                total = sum
                    .filter(|&ms| ms <= Millis::MAX as u64)
                    .ok_or("too long")?;
                (last, rest) = (Some(rank), tail);
                continue;
            }
        };
        return Err(why);
    }
    Ok(total)
}

/// The shortest canonical spelling, e.g. `1h30m`, `250ms`, `0s`.
pub fn format_duration(d: Duration) -> String {
    SpanPrinter::new()
        .spacing(Spacing::None)
        .unsigned_duration_to_string(&d)
}

/// How a length in milliseconds is written, e.g. in messages.
pub(super) fn shown(ms: Millis) -> String {
    format_duration(Duration::from_millis(ms.max(0) as u64))
}

/// The parser caps durations at `Millis::MAX`, so this never saturates in practice.
pub(super) fn millis(d: Duration) -> Millis {
    Millis::try_from(d.as_millis()).unwrap_or(Millis::MAX)
}

/// A duration as written. Numbers are kept as their text so that `lateness = 30` is reported
/// by validation as a missing unit, alongside the other problems, instead of stopping serde.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub(super) struct DurationText(pub String);

impl From<&str> for DurationText {
    fn from(text: &str) -> Self {
        DurationText(text.to_owned())
    }
}

/// From the engine's milliseconds, for defaults taken from the engine's settings.
impl From<Millis> for DurationText {
    fn from(ms: Millis) -> Self {
        DurationText(shown(ms))
    }
}

impl<'de> Deserialize<'de> for DurationText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        text(toml::Value::deserialize(deserializer)?).map_err(D::Error::custom)
    }
}

fn text(value: toml::Value) -> Result<DurationText, String> {
    match value {
        toml::Value::String(text) => Ok(DurationText(text)),
        n @ (toml::Value::Integer(_) | toml::Value::Float(_)) => Ok(DurationText(n.to_string())),
        other => Err(format!(
            "expected a duration such as \"30s\", \"5m\" or \"2h30m\", not {}",
            other.type_str()
        )),
    }
}

/// A list of windows: a TOML array, or (handy in an environment variable) `"5m,15m,60m"`.
pub(super) fn window_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<DurationText>, D::Error> {
    match toml::Value::deserialize(d)? {
        toml::Value::Array(list) => list.into_iter().map(text).collect(),
        toml::Value::String(s) if s.trim().is_empty() => Ok(Vec::new()),
        toml::Value::String(s) => Ok(s.split(',').map(|w| w.trim().into()).collect()),
        other => Err(format!(
            "expected a list of durations such as [\"5m\", \"15m\", \"60m\"], not {}",
            other.type_str()
        )),
    }
    .map_err(D::Error::custom)
}
