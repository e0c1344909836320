//! `[engine]`: windows, the reporting interval, lateness, dedup and the memory bounds.

use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

use super::duration::{shown, window_list, DurationText};
use super::{set, Problems};
use crate::event::Millis;
use crate::state::{EngineSettings, SlidingWindow, TimeMode, BUCKET_MS, MAX_AGENTS_PER_QUEUE};

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
    max_calls_per_queue: usize = s.max_calls_per_queue,
    max_pending_per_queue: usize = s.max_pending_per_queue,
    max_id_bytes: usize = s.max_id_bytes,
    memory_budget_mib: u64 = s.memory_budget_mib,
    clock: String = "wall",
} }

const HOUR: Millis = 3_600_000;

/// The longest a sliding window (or a surge window) may be. Every queue keeps a ring of one
/// 140-byte bucket per 10 s of its longest window (see `state::window` and the memory
/// bench): 4 h is 202 KB per queue, 2.0 GB at 10,000 queues; "24h" would be 1.2 MB per queue.
pub(super) const MAX_WINDOW_MS: Millis = 4 * HOUR;
/// The longest `max_call_age`, `dedup_horizon` and `max_future_skew` (and a surge's response
/// limit): a day is longer than any call or redelivery, and time arithmetic on event times
/// (an offer plus the age) stays far from overflowing.
pub(super) const MAX_LONG_MS: Millis = 24 * HOUR;
/// The longest `max_clock_skew` and per-queue thresholds (`sl_threshold`, `short_abandon`,
/// `ring_cadence`): beyond an hour they are not a service level or a clock difference.
pub(super) const MAX_SHORT_MS: Millis = HOUR;

/// Refuses settings whose worst case (every queue at every cap, `state::memory`) is more than
/// `engine.memory_budget_mib`; run once `[kpi]` is checked too, since its surge windows
/// lengthen the ring.
pub(super) fn check_memory(p: &mut Problems<'_>, s: &EngineSettings) {
    let worst = s.worst_case_memory();
    let (total, q) = (worst.total(), worst.per_queue);
    if total <= s.memory_budget_mib.saturating_mul(1 << 20) {
        return;
    }
    let kib = |bytes: u64| bytes.div_ceil(1 << 10);
    let why = format!(
        "the caps allow up to {} MiB of state, more than this budget of {} MiB: {} queues \
         (max_queues) × {} KiB (windows {}, ids {}, agents {}, calls {}, pending {}); lower \
         max_queues or the per-queue caps (dedup_max_ids_per_queue, max_agents_per_queue, \
         max_calls_per_queue, max_events_per_call, max_pending_per_queue), shorten the \
         longest window, or raise memory_budget_mib if the host has the memory",
        total.div_ceil(1 << 20),
        s.memory_budget_mib,
        worst.queues,
        kib(q.total()),
        kib(q.windows),
        kib(q.ids),
        kib(q.agents),
        kib(q.calls),
        kib(q.pending),
    );
    p.add("engine.memory_budget_mib", why);
}

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
        if p.within(&path, Some(len_ms), MAX_WINDOW_MS).is_none() {
            continue;
        }
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
    let horizon = p.within("engine.dedup_horizon", horizon, MAX_LONG_MS);
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
    let max_call_age = p.long("engine.max_call_age", &e.max_call_age);
    set(&mut s.max_call_age_ms, max_call_age);
    let max_future_skew = p.long("engine.max_future_skew", &e.max_future_skew);
    set(&mut s.max_future_skew_ms, max_future_skew);
    // 0s turns the tolerance off.
    let max_clock_skew = p.ms("engine.max_clock_skew", &e.max_clock_skew);
    let max_clock_skew = p.within("engine.max_clock_skew", max_clock_skew, MAX_SHORT_MS);
    set(&mut s.max_clock_skew_ms, max_clock_skew);
    let max_queues = p.nonzero("engine.max_queues", &e.max_queues);
    set(&mut s.max_queues, max_queues);
    let max_agents = p.nonzero("engine.max_agents_per_queue", &e.max_agents_per_queue);
    let max_agents = max_agents.and_then(|n| {
        let why = format!(
            "{n} is more than {MAX_AGENTS_PER_QUEUE}, the most agents a queue can count (the \
             windows keep a queue's agent counts in 16 bits); split the queue"
        );
        p.check(
            "engine.max_agents_per_queue",
            n,
            n <= MAX_AGENTS_PER_QUEUE,
            why,
        )
    });
    set(&mut s.max_agents_per_queue, max_agents);
    let max_events = p.nonzero("engine.max_events_per_call", &e.max_events_per_call);
    set(&mut s.max_events_per_call, max_events);
    let max_calls = p.nonzero("engine.max_calls_per_queue", &e.max_calls_per_queue);
    set(&mut s.max_calls_per_queue, max_calls);
    let max_pending = p.nonzero("engine.max_pending_per_queue", &e.max_pending_per_queue);
    set(&mut s.max_pending_per_queue, max_pending);
    let max_id_bytes = p.nonzero("engine.max_id_bytes", &e.max_id_bytes);
    set(&mut s.max_id_bytes, max_id_bytes);
    let budget = p.nonzero("engine.memory_budget_mib", &e.memory_budget_mib);
    set(&mut s.memory_budget_mib, budget);
    let clock = match e.clock.trim() {
        "wall" => Ok(TimeMode::Live),
        "event" => Ok(TimeMode::EventTime),
        other => Err(format!(
            "\"{other}\" is not a clock; use \"wall\" (live) or \"event\" (newest event time)"
        )),
    };
    p.ok("engine.clock", clock)
}
