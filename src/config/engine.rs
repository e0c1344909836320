//! `[engine]`: windows, the reporting interval, lateness, dedup and the memory bounds.

use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

use super::duration::{shown, window_list, DurationText};
use super::{set, Problems};
use crate::event::Millis;
use crate::state::{EngineSettings, SlidingWindow, TimeMode, BUCKET_MS};

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
pub(super) fn bucketed(ms: Millis) -> bool {
    ms > 0 && ms % BUCKET_MS == 0
}

/// The valid windows, in order; the invalid ones are reported and left out, so that checks
/// against the windows (lateness, alert rules) run in the same report.
fn windows(p: &mut Problems<'_>, e: &RawEngine) -> Vec<SlidingWindow> {
    if e.windows.is_empty() {
        let why = "must list at least one window, e.g. [\"5m\", \"15m\", \"60m\"]";
        p.add("engine.windows", why);
    }
    let mut windows: Vec<SlidingWindow> = Vec::new();
    for (i, text) in e.windows.iter().enumerate() {
        let path = format!("engine.windows[{i}]");
        let Some(len_ms) = p.ms(&path, text) else {
            continue;
        };
        let why = match windows.iter().find(|w| w.len_ms == len_ms) {
            _ if !bucketed(len_ms) => format!(
                "\"{}\" must be a positive multiple of {} (the bucket width), e.g. \"30s\" or \
                 \"5m\"",
                text.0,
                shown(BUCKET_MS)
            ),
            Some(w) => format!(
                "\"{}\" is as long as a window already listed (\"{}\"); list each window once",
                text.0, w.name
            ),
            None => {
                let name = text.0.trim().to_owned();
                windows.push(SlidingWindow { name, len_ms });
                continue;
            }
        };
        p.add(&path, why);
    }
    windows
}

/// Checks `[engine]` into `s`, which holds the defaults, and keeps the valid windows and
/// interval for the checks of `[kpi]` and `[alerts]`; returns the clock.
pub(super) fn validate(
    p: &mut Problems<'_>,
    e: &RawEngine,
    s: &mut EngineSettings,
) -> Option<TimeMode> {
    s.sliding = windows(p, e);
    p.windows = s.sliding.clone();
    p.interval = p.ms("engine.interval", &e.interval).and_then(|ms| {
        let why = format!(
            "\"{}\" must be a multiple of 10s that divides 24h evenly, e.g. \"15m\", \"30m\" or \
             \"1h\"",
            e.interval.0
        );
        let divides_day = bucketed(ms) && 86_400_000 % ms == 0;
        p.check("engine.interval", ms, divides_day, why)
    });
    set(&mut s.interval_ms, p.interval);
    // `UTC` is built in so that the default works on hosts without a time zone database.
    let timezone = match e.timezone.trim() {
        "UTC" => Ok(TimeZone::UTC),
        name => TimeZone::get(name),
    };
    let timezone = timezone.map_err(|err| {
        format!(
            "unknown time zone \"{}\" ({err}); use an IANA name such as \"Europe/London\" or \
             \"America/New_York\"",
            e.timezone
        )
    });
    set(&mut s.timezone, p.ok("engine.timezone", timezone));
    let shortest = s.sliding.iter().map(|w| w.len_ms).min();
    let shortest = shortest.unwrap_or(Millis::MAX);
    let lateness = p.ms("engine.allowed_lateness", &e.allowed_lateness);
    let lateness = lateness.and_then(|l| {
        let (l_shown, s_shown) = (shown(l), shown(shortest));
        let why = format!("{l_shown} must be shorter than the shortest window ({s_shown})");
        p.check("engine.allowed_lateness", l, l < shortest, why)
    });
    let horizon = p.ms("engine.dedup_horizon", &e.dedup_horizon);
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
    set(&mut s.allowed_lateness_ms, lateness);
    set(&mut s.dedup_horizon_ms, horizon);
    let max_ids = p.nonzero("engine.dedup_max_ids_per_queue", &e.dedup_max_ids_per_queue);
    set(&mut s.dedup_max_ids_per_queue, max_ids);
    let max_call_age = p.positive_ms("engine.max_call_age", &e.max_call_age);
    set(&mut s.max_call_age_ms, max_call_age);
    let max_future_skew = p.positive_ms("engine.max_future_skew", &e.max_future_skew);
    set(&mut s.max_future_skew_ms, max_future_skew);
    // 0s turns the tolerance off.
    let max_clock_skew = p.ms("engine.max_clock_skew", &e.max_clock_skew);
    set(&mut s.max_clock_skew_ms, max_clock_skew);
    let max_queues = p.nonzero("engine.max_queues", &e.max_queues);
    set(&mut s.max_queues, max_queues);
    let max_agents = p.nonzero("engine.max_agents_per_queue", &e.max_agents_per_queue);
    set(&mut s.max_agents_per_queue, max_agents);
    let max_events = p.nonzero("engine.max_events_per_call", &e.max_events_per_call);
    set(&mut s.max_events_per_call, max_events);
    let clock = match e.clock.trim() {
        "wall" => Ok(TimeMode::Live),
        "event" => Ok(TimeMode::EventTime),
        other => Err(format!(
            "\"{other}\" is not a clock; use \"wall\" (live) or \"event\" (newest event time)"
        )),
    };
    p.ok("engine.clock", clock)
}
