//! `[engine]`: windows, the reporting interval, lateness, dedup and the memory bounds.

use std::time::Duration;

use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

use super::duration::{format_duration as shown, millis, window_list, DurationText};
use super::{Config, Problems};
use crate::state::{EngineSettings, SlidingWindow, TimeMode, BUCKET_MS};

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

// The engine's own defaults are the configuration's, so that they are written once.
raw! { RawEngine(s = EngineSettings::default()) {
    #[serde(deserialize_with = "window_list")]
    windows: Vec<DurationText> =
        s.sliding.iter().map(|w| w.name.as_str().into()).collect::<Vec<_>>(),
    interval: DurationText = s.interval_ms,
    timezone: String = s.timezone.iana_name().unwrap_or("UTC"),
    allowed_lateness: DurationText = s.allowed_lateness_ms,
    dedup_horizon: DurationText = s.dedup_horizon_ms,
    dedup_max_ids_per_queue: usize = s.dedup_max_ids_per_queue,
    max_call_age: DurationText = s.max_call_age_ms,
    max_future_skew: DurationText = s.max_future_skew_ms,
    max_clock_skew: DurationText = s.max_clock_skew_ms,
    max_queues: usize = s.max_queues,
    max_agents_per_queue: usize = s.max_agents_per_queue,
    max_events_per_call: usize = s.max_events_per_call,
    clock: String = "wall",
} }

/// A positive multiple of the bucket width: a length the bucket ring can represent.
pub(super) fn bucketed(d: Duration) -> bool {
    !d.is_zero() && millis(d) % BUCKET_MS == 0
}

/// The valid windows, in order; the invalid ones are reported and left out, so that checks
/// against the windows (lateness, alert rules) run in the same report.
pub(super) fn windows(p: &mut Problems<'_>, e: &RawEngine) -> Vec<WindowConfig> {
    if e.windows.is_empty() {
        let why = "must list at least one window, e.g. [\"5m\", \"15m\", \"60m\"]";
        p.add("engine.windows", why);
    }
    let mut windows: Vec<WindowConfig> = Vec::new();
    for (i, text) in e.windows.iter().enumerate() {
        let path = format!("engine.windows[{i}]");
        let Some(len) = p.duration(&path, text) else {
            continue;
        };
        let why = match windows.iter().find(|w| w.len == len) {
            _ if !bucketed(len) => format!(
                "\"{}\" must be a positive multiple of {} (the bucket width), e.g. \"30s\" or \
                 \"5m\"",
                text.0,
                shown(Duration::from_millis(BUCKET_MS as u64))
            ),
            Some(w) => format!(
                "\"{}\" is as long as a window already listed (\"{}\"); list each window once",
                text.0, w.name
            ),
            None => {
                let name = text.0.trim().to_owned();
                windows.push(WindowConfig { name, len });
                continue;
            }
        };
        p.add(&path, why);
    }
    windows
}

/// The length of the `interval` window, on its own because the forecasts are checked against
/// it even when another engine setting is invalid.
pub(super) fn interval(p: &mut Problems<'_>, e: &RawEngine) -> Option<Duration> {
    let d = p.duration("engine.interval", &e.interval)?;
    let divides_day = bucketed(d) && (24 * 3_600_000) % millis(d) == 0;
    let why = format!(
        "\"{}\" must be a multiple of 10s that divides 24h evenly, e.g. \"15m\", \"30m\" or \"1h\"",
        e.interval.0
    );
    p.check("engine.interval", d, divides_day, why)
}

/// Every check runs; `None` when any of them reported a problem.
pub(super) fn validate(
    p: &mut Problems<'_>,
    e: &RawEngine,
    windows: &[WindowConfig],
    interval: Option<Duration>,
) -> Option<EngineConfig> {
    // `UTC` is built in so that the default works on hosts without a time zone database.
    let timezone = match e.timezone.trim() {
        "UTC" => Ok(TimeZone::UTC),
        name => TimeZone::get(name),
    };
    let timezone = timezone.map_err(|err| {
        let name = &e.timezone;
        format!(
            "unknown time zone \"{name}\" ({err}); use an IANA name such as \"Europe/London\" \
             or \"America/New_York\""
        )
    });
    let timezone = p.ok("engine.timezone", timezone);
    let shortest = windows.iter().map(|w| w.len).min();
    let lateness = p.duration("engine.allowed_lateness", &e.allowed_lateness);
    let lateness = lateness.and_then(|l| {
        let s = shortest.unwrap_or(Duration::MAX);
        let (l_shown, s_shown) = (shown(l), shown(s));
        let why = format!("{l_shown} must be shorter than the shortest window ({s_shown})");
        p.check("engine.allowed_lateness", l, l < s, why)
    });
    let horizon = p.duration("engine.dedup_horizon", &e.dedup_horizon);
    let horizon = horizon.and_then(|h| {
        let l = lateness.unwrap_or_default();
        let why = format!(
            "{} must be at least engine.allowed_lateness ({}), or a redelivered event that is \
             still on time would be counted twice",
            shown(h),
            shown(l)
        );
        p.check("engine.dedup_horizon", h, h >= l, why)
    });
    let clock = match e.clock.trim() {
        "wall" => Ok(TimeMode::Live),
        "event" => Ok(TimeMode::EventTime),
        other => Err(format!(
            "\"{other}\" is not a clock; use \"wall\" (live) or \"event\" (newest event time)"
        )),
    };
    let clock = p.ok("engine.clock", clock);
    let dedup_max_ids_per_queue =
        p.nonzero("engine.dedup_max_ids_per_queue", e.dedup_max_ids_per_queue);
    let max_call_age = p.positive("engine.max_call_age", &e.max_call_age);
    let max_future_skew = p.positive("engine.max_future_skew", &e.max_future_skew);
    // 0s turns the tolerance off.
    let max_clock_skew = p.duration("engine.max_clock_skew", &e.max_clock_skew);
    let max_queues = p.nonzero("engine.max_queues", e.max_queues);
    let max_agents_per_queue = p.nonzero("engine.max_agents_per_queue", e.max_agents_per_queue);
    let max_events_per_call = p.nonzero("engine.max_events_per_call", e.max_events_per_call);
    Some(EngineConfig {
        windows: windows.to_vec(),
        interval: interval?,
        timezone: timezone?,
        allowed_lateness: lateness?,
        dedup_horizon: horizon?,
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

impl Config {
    /// The settings the engine consumes, in its units (milliseconds).
    pub fn engine_settings(&self) -> EngineSettings {
        let e = &self.engine;
        let window = |w: &WindowConfig| SlidingWindow {
            name: w.name.clone(),
            len_ms: millis(w.len),
        };
        let queues = self.kpi.queues.iter();
        EngineSettings {
            sliding: e.windows.iter().map(window).collect(),
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
            queues: queues
                .map(|(id, q)| (id.clone(), q.settings(e.interval)))
                .collect(),
        }
    }
}
