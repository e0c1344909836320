//! Validated engine settings: what the state machine and the KPI math need, already checked.
//!
//! `crate::config` turns the TOML file and `ACDSTREAM_…` overrides into this; tests build it
//! directly. Every duration is in milliseconds.
//!
//! The `Default` impls here are the configuration's defaults too: `crate::config` reads them
//! rather than repeating them, and its tests check that `acdstream.example.toml` shows them.

use std::collections::HashMap;

use crate::event::Millis;
use crate::kpi::QueueKpiSettings;

/// Width of one bucket of the sliding windows: the coarsest a window edge can be.
pub const BUCKET_MS: Millis = 10_000;

/// The most agents a queue may hold (`engine.max_agents_per_queue`): what keeps the agent
/// steps of a bucket of the sliding windows exact in 16 bits (see `state::window`).
pub const MAX_AGENTS_PER_QUEUE: usize = i16::MAX as usize;

/// A sliding window: its name in snapshots and labels, and its length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlidingWindow {
    pub name: String,
    pub len_ms: Millis,
}

impl SlidingWindow {
    pub fn minutes(m: i64) -> SlidingWindow {
        SlidingWindow {
            name: format!("{m}m"),
            len_ms: m * 60_000,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct EngineSettings {
    /// Sliding windows, each a multiple of [`BUCKET_MS`].
    pub sliding: Vec<SlidingWindow>,
    /// Length of the `interval` window (aligned to local midnight); divides 24 h.
    pub interval_ms: Millis,
    /// Timezone that defines midnight for `today` and interval alignment.
    pub timezone: jiff::tz::TimeZone,
    /// How far behind a queue's newest event an event may be and still count as in order.
    pub allowed_lateness_ms: Millis,
    /// How long event ids are remembered to drop redeliveries.
    pub dedup_horizon_ms: Millis,
    /// Upper bound on remembered ids per queue; the oldest are forgotten first beyond it.
    pub dedup_max_ids_per_queue: usize,
    /// A call with no end after this age is expired (counted, its state freed).
    pub max_call_age_ms: Millis,
    /// Events may be at most this far ahead of the clock.
    pub max_future_skew_ms: Millis,
    /// A step of a call timed at most this much before the step it must follow (two CTI
    /// servers whose clocks differ) is applied at that step's time instead of rejected.
    pub max_clock_skew_ms: Millis,
    pub max_queues: usize,
    /// At most [`MAX_AGENTS_PER_QUEUE`] (the configuration refuses more).
    pub max_agents_per_queue: usize,
    pub max_events_per_call: usize,
    /// In-flight calls (offered or pending, not yet settled) per queue.
    pub max_calls_per_queue: usize,
    /// Events per queue held for their call's offer.
    pub max_pending_per_queue: usize,
    /// Longest id or reason an event may carry, in bytes of UTF-8.
    pub max_id_bytes: usize,
    /// The most memory the caps may allow ([`EngineSettings::worst_case_memory`]), in MiB;
    /// a configuration that allows more is refused at start-up.
    pub memory_budget_mib: u64,
    pub default_queue: QueueKpiSettings,
    pub queues: HashMap<String, QueueKpiSettings>,
}

impl Default for EngineSettings {
    fn default() -> Self {
        EngineSettings {
            sliding: vec![
                SlidingWindow::minutes(5),
                SlidingWindow::minutes(15),
                SlidingWindow::minutes(60),
            ],
            interval_ms: 30 * 60_000,
            timezone: jiff::tz::TimeZone::UTC,
            allowed_lateness_ms: 30_000,
            dedup_horizon_ms: 60 * 60_000,
            dedup_max_ids_per_queue: 200_000,
            max_call_age_ms: 4 * 3_600_000,
            max_future_skew_ms: 5 * 60_000,
            max_clock_skew_ms: 10_000,
            // With the per-queue caps below, 1,000 queues fit the 16 GiB budget (see
            // `worst_case_memory`); a site with more raises both.
            max_queues: 1_000,
            max_agents_per_queue: 5_000,
            max_events_per_call: 64,
            // A queue holds its calls waiting plus those being handled: a busy queue holds a
            // few hundred; 2,000 is a storm with every agent of a large site on the queue
            // (a call every 100 ms, each in the queue for over 3 minutes). Each costs up to
            // 1.5 KiB at the caps (`worst_case_memory`), so the cap is the largest share of
            // the budget after the remembered ids.
            max_calls_per_queue: 2_000,
            // Held events wait at most `allowed_lateness` (30 s) for their offer: 10,000 is
            // over 300 events a second arriving before their offers, in one queue.
            max_pending_per_queue: 10_000,
            max_id_bytes: crate::event::DEFAULT_MAX_ID_BYTES,
            memory_budget_mib: 16_384,
            default_queue: QueueKpiSettings::default(),
            queues: HashMap::new(),
        }
    }
}

impl EngineSettings {
    pub fn queue(&self, queue_id: &str) -> &QueueKpiSettings {
        self.queues.get(queue_id).unwrap_or(&self.default_queue)
    }

    /// The longest sliding window, which sets how much history the bucket ring keeps.
    pub fn longest_window_ms(&self) -> Millis {
        self.sliding
            .iter()
            .map(|w| w.len_ms)
            .max()
            .unwrap_or(BUCKET_MS)
    }

    /// The longest history a queue's surge rule looks back over (short plus baseline window).
    pub fn longest_surge_lookback_ms(&self) -> Millis {
        self.longest_of(|q| q.surge.short_window_ms + q.surge.baseline_window_ms)
    }

    /// The longest short window of a queue's surge rule, every count of which the rule reads.
    pub(crate) fn longest_surge_short_ms(&self) -> Millis {
        self.longest_of(|q| q.surge.short_window_ms)
    }

    fn longest_of(&self, span: impl Fn(&QueueKpiSettings) -> Millis) -> Millis {
        let queues = std::iter::once(&self.default_queue).chain(self.queues.values());
        queues.map(span).max().unwrap_or(0)
    }
}
