//! `[engine]`: windows, the reporting interval, lateness, dedup and the memory bounds.

use std::collections::HashMap;
use std::time::Duration;

use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

use super::duration::{format_duration, from_millis, millis, DurationText, WindowList};
use super::{Config, Problems};
use crate::state::{EngineSettings, SlidingWindow, TimeMode, BUCKET_MS};

const DAY_MS: u128 = 24 * 3_600_000;

#[derive(Debug, Clone, PartialEq)]
pub struct EngineConfig {
    /// Sliding windows in configured order; each name is the duration as written (`"5m"`).
    pub windows: Vec<WindowConfig>,
    pub interval: Duration,
    pub timezone: TimeZone,
    pub allowed_lateness: Duration,
    pub dedup_horizon: Duration,
    pub dedup_max_ids_per_queue: usize,
    pub max_call_age: Duration,
    pub max_future_skew: Duration,
    pub max_clock_skew: Duration,
    pub max_queues: usize,
    pub max_agents_per_queue: usize,
    pub max_events_per_call: usize,
    /// Where "now" comes from in `run`.
    pub clock: TimeMode,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowConfig {
    pub name: String,
    pub len: Duration,
}

/// `[engine]` as written.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawEngine {
    windows: WindowList,
    interval: DurationText,
    timezone: String,
    allowed_lateness: DurationText,
    dedup_horizon: DurationText,
    dedup_max_ids_per_queue: u64,
    max_call_age: DurationText,
    max_future_skew: DurationText,
    max_clock_skew: DurationText,
    max_queues: u64,
    max_agents_per_queue: u64,
    max_events_per_call: u64,
    clock: String,
}

/// The engine's own defaults ([`EngineSettings::default`]) are the configuration's, so that
/// they are written once.
impl Default for RawEngine {
    fn default() -> Self {
        let s = EngineSettings::default();
        let d = |ms| DurationText::from(from_millis(ms));
        let n = |v: usize| v as u64;
        RawEngine {
            windows: WindowList(
                s.sliding
                    .iter()
                    .map(|w| DurationText(w.name.clone()))
                    .collect(),
            ),
            interval: d(s.interval_ms),
            timezone: s.timezone.iana_name().unwrap_or("UTC").to_owned(),
            allowed_lateness: d(s.allowed_lateness_ms),
            dedup_horizon: d(s.dedup_horizon_ms),
            dedup_max_ids_per_queue: n(s.dedup_max_ids_per_queue),
            max_call_age: d(s.max_call_age_ms),
            max_future_skew: d(s.max_future_skew_ms),
            max_clock_skew: d(s.max_clock_skew_ms),
            max_queues: n(s.max_queues),
            max_agents_per_queue: n(s.max_agents_per_queue),
            max_events_per_call: n(s.max_events_per_call),
            clock: "wall".to_owned(),
        }
    }
}

/// The valid windows, in order; the invalid ones are reported and left out, so that checks
/// against the windows (lateness, alert rules) run in the same report.
pub(super) fn windows(p: &mut Problems<'_>, e: &RawEngine) -> Vec<WindowConfig> {
    let mut windows: Vec<WindowConfig> = Vec::with_capacity(e.windows.0.len());
    if e.windows.0.is_empty() {
        p.add(
            "engine.windows",
            "must list at least one window, e.g. [\"5m\", \"15m\", \"60m\"]",
        );
    }
    for (i, text) in e.windows.0.iter().enumerate() {
        let path = format!("engine.windows[{i}]");
        let Some(len) = p.duration(&path, text) else {
            continue;
        };
        let ms = len.as_millis();
        if ms == 0 || ms % BUCKET_MS as u128 != 0 {
            p.add(
                &path,
                format!(
                    "\"{}\" must be a positive multiple of {} (the bucket width), e.g. \"30s\" or \"5m\"",
                    text.0,
                    format_duration(from_millis(BUCKET_MS))
                ),
            );
            continue;
        }
        if let Some(w) = windows.iter().find(|w| w.len == len) {
            p.add(
                &path,
                format!(
                    "\"{}\" is as long as a window already listed (\"{}\"); list each window once",
                    text.0, w.name
                ),
            );
            continue;
        }
        windows.push(WindowConfig {
            name: text.0.trim().to_owned(),
            len,
        });
    }
    windows
}

/// The length of the `interval` window, on its own because the forecasts are checked against
/// it even when another engine setting is invalid.
pub(super) fn interval(p: &mut Problems<'_>, e: &RawEngine) -> Option<Duration> {
    p.duration("engine.interval", &e.interval).and_then(|d| {
        let ms = d.as_millis();
        if ms == 0 || ms % BUCKET_MS as u128 != 0 || DAY_MS % ms != 0 {
            p.add(
                "engine.interval",
                format!(
                    "\"{}\" must be a multiple of 10s that divides 24h evenly, \
                     e.g. \"15m\", \"30m\" or \"1h\"",
                    e.interval.0
                ),
            );
            return None;
        }
        Some(d)
    })
}

/// Every check runs; `None` when any of them reported a problem.
pub(super) fn validate(
    p: &mut Problems<'_>,
    e: &RawEngine,
    windows: &[WindowConfig],
    interval: Option<Duration>,
) -> Option<EngineConfig> {
    let timezone = match time_zone(e.timezone.trim()) {
        Ok(tz) => Some(tz),
        Err(err) => {
            p.add(
                "engine.timezone",
                format!(
                    "unknown time zone \"{}\" ({err}); use an IANA name such as \
                     \"Europe/London\" or \"America/New_York\"",
                    e.timezone
                ),
            );
            None
        }
    };
    let shortest_window = windows.iter().map(|w| w.len).min();
    let allowed_lateness = p
        .duration("engine.allowed_lateness", &e.allowed_lateness)
        .and_then(|lateness| match shortest_window {
            Some(shortest) if lateness >= shortest => {
                p.add(
                    "engine.allowed_lateness",
                    format!(
                        "{} must be shorter than the shortest window ({})",
                        format_duration(lateness),
                        format_duration(shortest)
                    ),
                );
                None
            }
            _ => Some(lateness),
        });
    let dedup_horizon = p
        .duration("engine.dedup_horizon", &e.dedup_horizon)
        .and_then(|horizon| match allowed_lateness {
            Some(lateness) if horizon < lateness => {
                p.add(
                    "engine.dedup_horizon",
                    format!(
                        "{} must be at least engine.allowed_lateness ({}), or a redelivered \
                         event that is still on time would be counted twice",
                        format_duration(horizon),
                        format_duration(lateness)
                    ),
                );
                None
            }
            _ => Some(horizon),
        });
    let dedup_max_ids_per_queue =
        p.cap("engine.dedup_max_ids_per_queue", e.dedup_max_ids_per_queue);
    let max_call_age = p.positive("engine.max_call_age", &e.max_call_age);
    let max_future_skew = p.positive("engine.max_future_skew", &e.max_future_skew);
    // 0s turns the tolerance off.
    let max_clock_skew = p.duration("engine.max_clock_skew", &e.max_clock_skew);
    let max_queues = p.cap("engine.max_queues", e.max_queues);
    let max_agents_per_queue = p.cap("engine.max_agents_per_queue", e.max_agents_per_queue);
    let max_events_per_call = p.cap("engine.max_events_per_call", e.max_events_per_call);
    let clock = match e.clock.trim() {
        "wall" => Some(TimeMode::Live),
        "event" => Some(TimeMode::EventTime),
        other => {
            p.add(
                "engine.clock",
                format!("\"{other}\" is not a clock; use \"wall\" (live) or \"event\" (newest event time)"),
            );
            None
        }
    };
    Some(EngineConfig {
        windows: windows.to_vec(),
        interval: interval?,
        timezone: timezone?,
        allowed_lateness: allowed_lateness?,
        dedup_horizon: dedup_horizon?,
        dedup_max_ids_per_queue: dedup_max_ids_per_queue?,
        max_call_age: max_call_age?,
        max_future_skew: max_future_skew?,
        max_clock_skew: max_clock_skew?,
        max_queues: max_queues?,
        max_agents_per_queue: max_agents_per_queue?,
        max_events_per_call: max_events_per_call?,
        clock: clock?,
    })
}

/// `UTC` is built in so that the default works on hosts without a time zone database.
fn time_zone(name: &str) -> Result<TimeZone, jiff::Error> {
    if name == "UTC" {
        Ok(TimeZone::UTC)
    } else {
        TimeZone::get(name)
    }
}

impl Config {
    /// The settings the engine consumes, in its units (milliseconds).
    pub fn engine_settings(&self) -> EngineSettings {
        let e = &self.engine;
        EngineSettings {
            sliding: e
                .windows
                .iter()
                .map(|w| SlidingWindow {
                    name: w.name.clone(),
                    len_ms: millis(w.len),
                })
                .collect(),
            interval_ms: millis(e.interval),
            timezone: e.timezone.clone(),
            allowed_lateness_ms: millis(e.allowed_lateness),
            dedup_horizon_ms: millis(e.dedup_horizon),
            dedup_max_ids_per_queue: e.dedup_max_ids_per_queue,
            max_call_age_ms: millis(e.max_call_age),
            max_future_skew_ms: millis(e.max_future_skew),
            max_clock_skew_ms: millis(e.max_clock_skew),
            max_queues: e.max_queues,
            max_agents_per_queue: e.max_agents_per_queue,
            max_events_per_call: e.max_events_per_call,
            default_queue: self.kpi.default.settings(e.interval),
            queues: self
                .kpi
                .queues
                .iter()
                .map(|(id, q)| (id.clone(), q.settings(e.interval)))
                .collect::<HashMap<_, _>>(),
        }
    }
}
