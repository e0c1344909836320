//! The Prometheus sink: KPI snapshots, per-queue totals and the event ledger as `metrics`
//! gauges and counters, rendered on scrape by [`crate::http`] through a [`PrometheusHandle`].
//!
//! Publishing runs every `publish.interval` for up to `engine.max_queues` queues, i.e. up to a
//! million series per call. Registering a series (building its key, hashing it, looking it up
//! in the registry) costs far more than storing its value, so the sink registers each series
//! once and keeps the handle; a publish is then one map lookup per queue plus atomic stores.
//! Handles belong to the recorder that was current when they were registered, so publish only
//! after [`install`] (or, in tests, inside `metrics::with_local_recorder`).
//!
//! Series are never removed: a queue that stops appearing in snapshots keeps its last values.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use std::sync::Arc;
use std::time::Duration;

use metrics::{counter, gauge, histogram, Counter, Gauge};
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};

use super::SinkError;
use crate::event::Millis;
use crate::kpi::surge::Episode;
use crate::kpi::{KpiSnapshot, NowKpis, QueueTotals, WindowKpis};
use crate::ledger::{Ledger, RejectReason};
use crate::telemetry::{self as t, label};

/// Bucket bounds of [`t::EVENT_APPLY_LATENCY_SECONDS`]: applying an event normally takes
/// microseconds, so resolution is spent there; a second or more means the engine is stalled.
pub(crate) const APPLY_LATENCY_BUCKETS: [f64; 16] = [
    0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025,
    0.05, 0.1, 0.25, 0.5, 1.0,
];

/// Bucket bounds of [`t::SURGE_RESPONSE_SECONDS`]: around the 10-minute response limit.
pub(crate) const SURGE_RESPONSE_BUCKETS: [f64; 9] = [
    60.0, 120.0, 300.0, 450.0, 600.0, 900.0, 1200.0, 1800.0, 3600.0,
];

/// Gauges and counters not updated for this long disappear from `/metrics`: every publish
/// updates the series of the queues this instance owns, so the series of a queue whose
/// partition moved to another instance vanish here soon after ([`PrometheusSink::forget`]).
pub(crate) const IDLE_SERIES_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

/// The exporter configuration acdstream uses; [`install`] makes it the global recorder.
pub(crate) fn builder() -> Result<PrometheusBuilder, SinkError> {
    PrometheusBuilder::new()
        .idle_timeout(
            metrics_util::MetricKindMask::COUNTER | metrics_util::MetricKindMask::GAUGE,
            Some(IDLE_SERIES_TIMEOUT),
        )
        .set_buckets_for_metric(
            Matcher::Full(t::EVENT_APPLY_LATENCY_SECONDS.to_owned()),
            &APPLY_LATENCY_BUCKETS,
        )
        .and_then(|b| {
            b.set_buckets_for_metric(
                Matcher::Full(t::SURGE_RESPONSE_SECONDS.to_owned()),
                &SURGE_RESPONSE_BUCKETS,
            )
        })
        .map_err(|e| SinkError::Exporter(e.to_string()))
}

/// Installs the Prometheus recorder as the process's global `metrics` recorder (without an
/// HTTP listener: [`crate::http`] serves `/metrics`) and describes every metric.
pub fn install() -> Result<PrometheusHandle, SinkError> {
    let handle = builder()?.install_recorder().map_err(|e| match e {
        BuildError::FailedToSetGlobalRecorder(_) => SinkError::RecorderAlreadyInstalled,
        other => SinkError::Exporter(other.to_string()),
    })?;
    t::describe();
    Ok(handle)
}

/// Publishes snapshots, totals and the ledger as Prometheus series.
pub struct PrometheusSink {
    handle: PrometheusHandle,
    // Only `publish` locks this, and never across an await; the mutex exists so that the sink
    // can be shared (`&self`) with whatever task drives publishing.
    cache: Mutex<Cache>,
}

impl PrometheusSink {
    /// `handle` is the recorder's, from [`install`]; each publish also runs its upkeep, which
    /// folds recorded histogram samples into the buckets so they cannot pile up between scrapes.
    ///
    /// `sliding` names the sliding windows with their lengths: their arrival rate per minute
    /// is published too (a calendar window such as `today` has no fixed length).
    pub fn new(handle: PrometheusHandle, sliding: &[(String, Duration)]) -> PrometheusSink {
        let cache = Cache {
            window_minutes: sliding
                .iter()
                .map(|(name, len)| (name.clone(), len.as_secs_f64() / 60.0))
                .collect(),
            ..Cache::default()
        };
        PrometheusSink {
            handle,
            cache: Mutex::new(cache),
        }
    }

    /// Sets every KPI gauge from `snapshots` (`None` → `NaN`), the `_total` counters from
    /// `totals` and `ledger`, and the service-health gauges.
    pub fn publish(
        &self,
        snapshots: &[KpiSnapshot],
        totals: &[(String, QueueTotals)],
        ledger: &Ledger,
    ) {
        self.publish_at(
            jiff::Timestamp::now().as_millisecond(),
            snapshots,
            totals,
            ledger,
        );
    }

    fn publish_at(
        &self,
        now_ms: Millis,
        snapshots: &[KpiSnapshot],
        totals: &[(String, QueueTotals)],
        ledger: &Ledger,
    ) {
        {
            let mut guard = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
            let cache = &mut *guard;
            let service = cache.service.get_or_insert_with(ServiceHandles::register);
            service.publish(now_ms, snapshots, ledger);

            for snapshot in snapshots {
                let queue = entry(&mut cache.queues, &snapshot.queue_id, QueueGauges::register);
                queue.publish(snapshot, &cache.window_minutes);
            }
            for (queue_id, queue_totals) in totals {
                entry(&mut cache.totals, queue_id, TotalCounters::register).publish(queue_totals);
            }
        }
        self.handle.run_upkeep();
    }

    /// Records the response time of finished surge episodes that were responded to (their
    /// counts by outcome are in the queue totals), and logs each: they are rare and exactly
    /// what an on-call engineer looks for after a page.
    pub fn record_episodes(&self, episodes: &[(Arc<str>, Episode)]) {
        for (queue, episode) in episodes {
            tracing::info!(
                queue = &**queue,
                onset = episode.onset,
                outcome = episode.outcome.label(),
                response_seconds = episode.response_ms().map(|ms| ms as f64 / 1000.0),
                "surge episode ended"
            );
            if let Some(ms) = episode.response_ms() {
                histogram!(t::SURGE_RESPONSE_SECONDS, label::QUEUE => queue.to_string())
                    .record(ms as f64 / 1000.0);
            }
        }
    }

    /// Stops publishing a queue (its partition moved elsewhere); its series leave `/metrics`
    /// after [`IDLE_SERIES_TIMEOUT`].
    pub fn forget(&self, queue_id: &str) {
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        cache.queues.remove(queue_id);
        cache.totals.remove(queue_id);
    }
}

/// Looks `id` up, registering its handles on first sight. Two lookups on a miss (once per
/// queue, ever) keep the hit path free of a key allocation.
fn entry<'a, T>(
    map: &'a mut HashMap<String, T>,
    id: &str,
    register: impl FnOnce(&str) -> T,
) -> &'a mut T {
    if !map.contains_key(id) {
        map.insert(id.to_owned(), register(id));
    }
    map.get_mut(id).expect("inserted above")
}

fn nan_if_none(value: Option<f64>) -> f64 {
    value.unwrap_or(f64::NAN)
}

/// `VmRSS` of `/proc/self/status`; `None` where there is no such file (not Linux).
fn resident_memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse::<u64>()
        .ok()?;
    Some(kib * 1024)
}

#[derive(Default)]
struct Cache {
    /// Registered on the first publish, so that every label value exists from then on at 0.
    service: Option<ServiceHandles>,
    queues: HashMap<String, QueueGauges>,
    totals: HashMap<String, TotalCounters>,
    /// Sliding windows by name, with their length in minutes.
    window_minutes: Vec<(String, f64)>,
}

struct ServiceHandles {
    /// In the order of [`t::EVENT_RESULTS`].
    results: [Counter; 4],
    /// In the order of [`RejectReason::ALL`].
    rejected: [Counter; RejectReason::ALL.len()],
    pending: Gauge,
    queues: Gauge,
    snapshot_age: Gauge,
    resident_memory: Gauge,
    /// Set again on every publish: a gauge left unchanged for [`IDLE_SERIES_TIMEOUT`] leaves
    /// `/metrics`.
    build_info: Gauge,
}

impl ServiceHandles {
    fn register() -> ServiceHandles {
        ServiceHandles {
            results: t::EVENT_RESULTS
                .map(|result| counter!(t::EVENTS_TOTAL, label::RESULT => result)),
            rejected: RejectReason::ALL
                .map(|reason| counter!(t::EVENTS_REJECTED_TOTAL, label::REASON => reason.label())),
            pending: gauge!(t::EVENTS_PENDING),
            queues: gauge!(t::QUEUES),
            snapshot_age: gauge!(t::SNAPSHOT_AGE_SECONDS),
            resident_memory: gauge!(t::PROCESS_RESIDENT_MEMORY_BYTES),
            build_info: gauge!(t::BUILD_INFO, label::VERSION => env!("CARGO_PKG_VERSION")),
        }
    }

    fn publish(&self, now_ms: Millis, snapshots: &[KpiSnapshot], ledger: &Ledger) {
        // The per-reason counters are read once and summed here, so that `rejected` always
        // equals the sum of the reasons in one scrape (the ledger is written concurrently).
        let mut rejected = 0;
        for (counter, reason) in self.rejected.iter().zip(RejectReason::ALL) {
            let n = ledger.rejected_by(reason);
            rejected += n;
            counter.absolute(n);
        }
        let counts = ledger.counts();
        let [applied, duplicate, late, rejected_total] = &self.results;
        applied.absolute(counts.applied);
        duplicate.absolute(counts.duplicate);
        late.absolute(counts.late);
        rejected_total.absolute(rejected);
        self.pending.set(counts.pending as f64);
        self.queues.set(snapshots.len() as f64);
        self.build_info.set(1.0);

        let oldest = snapshots.iter().map(|s| s.as_of).min();
        let age_ms = oldest.map_or(0, |as_of| now_ms.saturating_sub(as_of).max(0));
        self.snapshot_age.set(age_ms as f64 / 1000.0);
        if let Some(bytes) = resident_memory_bytes() {
            self.resident_memory.set(bytes as f64);
        }
    }
}

struct QueueGauges {
    calls_waiting: Gauge,
    oldest_wait: Gauge,
    /// In the order of [`t::AGENT_STATES`].
    agents: [Gauge; 6],
    sl_target: Gauge,
    sl_threshold: Gauge,
    /// Required, staffed, predicted SL, predicted ASA.
    staffing: [Gauge; 4],
    /// Active, age, response limit, response exceeded, baseline.
    surge: [Gauge; 5],
    /// By window name; at most a handful, so a scan beats hashing.
    windows: Vec<(String, WindowGauges)>,
    queue_id: String,
}

impl QueueGauges {
    fn register(queue: &str) -> QueueGauges {
        let q = || queue.to_owned();
        QueueGauges {
            calls_waiting: gauge!(t::CALLS_WAITING, label::QUEUE => q()),
            oldest_wait: gauge!(t::OLDEST_CALL_WAIT_SECONDS, label::QUEUE => q()),
            agents: t::AGENT_STATES
                .map(|state| gauge!(t::AGENTS, label::QUEUE => q(), label::STATE => state)),
            sl_target: gauge!(t::SERVICE_LEVEL_TARGET_RATIO, label::QUEUE => q()),
            sl_threshold: gauge!(t::SERVICE_LEVEL_THRESHOLD_SECONDS, label::QUEUE => q()),
            staffing: [
                t::REQUIRED_AGENTS,
                t::STAFFED_AGENTS,
                t::PREDICTED_SERVICE_LEVEL_RATIO,
                t::PREDICTED_ASA_SECONDS,
            ]
            .map(|name| gauge!(name, label::QUEUE => q())),
            surge: [
                t::SURGE_ACTIVE,
                t::SURGE_AGE_SECONDS,
                t::SURGE_RESPONSE_LIMIT_SECONDS,
                t::SURGE_RESPONSE_EXCEEDED,
                t::SURGE_BASELINE_PER_MINUTE,
            ]
            .map(|name| gauge!(name, label::QUEUE => q())),
            windows: Vec::new(),
            queue_id: q(),
        }
    }

    fn publish(&mut self, snapshot: &KpiSnapshot, window_minutes: &[(String, f64)]) {
        let NowKpis {
            calls_waiting,
            oldest_wait_seconds,
            agents_ready,
            agents_not_ready,
            agents_busy,
            agents_acw,
            agents_busy_other,
            agents_logged_in,
        } = snapshot.now;
        self.calls_waiting.set(calls_waiting as f64);
        self.oldest_wait.set(oldest_wait_seconds);
        let agents = [
            agents_ready,
            agents_not_ready,
            agents_busy,
            agents_acw,
            agents_busy_other,
            agents_logged_in,
        ];
        for (gauge, n) in self.agents.iter().zip(agents) {
            gauge.set(n as f64);
        }
        self.sl_target.set(snapshot.sl_target);
        self.sl_threshold.set(snapshot.sl_threshold_seconds);
        let staffing = match snapshot.staffing {
            Some(s) => [
                s.required_agents as f64,
                s.staffed_agents as f64,
                s.predicted_service_level,
                // No finite wait: the load is at or above the staffed agents.
                s.predicted_asa_seconds.unwrap_or(f64::INFINITY),
            ],
            None => [f64::NAN; 4],
        };
        for (gauge, v) in self.staffing.iter().zip(staffing) {
            gauge.set(v);
        }
        let s = &snapshot.surge;
        let surge = [
            f64::from(u8::from(s.active)),
            s.age_seconds,
            s.response_limit_seconds,
            f64::from(u8::from(s.response_exceeded)),
            nan_if_none(s.baseline_per_minute),
        ];
        for (gauge, v) in self.surge.iter().zip(surge) {
            gauge.set(v);
        }

        for (name, kpis) in &snapshot.windows.0 {
            let gauges = match self.windows.iter().position(|(n, _)| n == name) {
                Some(i) => &self.windows[i].1,
                None => {
                    let minutes = window_minutes
                        .iter()
                        .find(|(n, _)| n == name)
                        .map(|&(_, m)| m);
                    let gauges = WindowGauges::register(&self.queue_id, name, minutes);
                    self.windows.push((name.clone(), gauges));
                    &self.windows[self.windows.len() - 1].1
                }
            };
            gauges.publish(kpis);
        }
    }
}

struct WindowGauges {
    offered: Gauge,
    answered: Gauge,
    abandoned: Gauge,
    /// In the order of [`t::SL_VARIANTS`].
    service_level: [Gauge; 3],
    asa: Gauge,
    /// In the order of [`t::WAIT_QUANTILES`].
    wait: [Gauge; 3],
    abandon_ratio: Gauge,
    rings_per_answer: Gauge,
    ring_no_answer: Gauge,
    ring_abandoned: Gauge,
    member_unavailable: Gauge,
    transfer_ratio: Gauge,
    talk: Gauge,
    hold: Gauge,
    acw: Gauge,
    aht: Gauge,
    occupancy: Gauge,
    not_ready: Gauge,
    /// Sliding windows only (their name is their length); with the length in minutes.
    arrival_rate: Option<(Gauge, f64)>,
}

impl WindowGauges {
    fn register(queue: &str, window: &str, minutes: Option<f64>) -> WindowGauges {
        let q = || queue.to_owned();
        let w = || window.to_owned();
        let g = |name: &'static str| gauge!(name, label::QUEUE => q(), label::WINDOW => w());
        WindowGauges {
            offered: g(t::CALLS_OFFERED),
            answered: g(t::CALLS_ANSWERED),
            abandoned: g(t::CALLS_ABANDONED),
            service_level: t::SL_VARIANTS.map(|variant| {
                gauge!(t::SERVICE_LEVEL_RATIO,
                    label::QUEUE => q(), label::WINDOW => w(), label::VARIANT => variant)
            }),
            asa: g(t::ASA_SECONDS),
            wait: t::WAIT_QUANTILES.map(|quantile| {
                gauge!(t::WAIT_SECONDS,
                    label::QUEUE => q(), label::WINDOW => w(), label::QUANTILE => quantile)
            }),
            abandon_ratio: g(t::ABANDON_RATIO),
            rings_per_answer: g(t::RINGS_PER_ANSWER),
            ring_no_answer: g(t::RING_NO_ANSWER),
            ring_abandoned: g(t::RING_ABANDONED),
            member_unavailable: g(t::MEMBER_UNAVAILABLE),
            transfer_ratio: g(t::TRANSFER_RATIO),
            talk: g(t::TALK_SECONDS),
            hold: g(t::HOLD_SECONDS),
            acw: g(t::ACW_SECONDS),
            aht: g(t::AHT_SECONDS),
            occupancy: g(t::OCCUPANCY_RATIO),
            not_ready: g(t::NOT_READY_RATIO),
            arrival_rate: minutes.map(|m| (g(t::ARRIVAL_RATE_PER_MINUTE), m)),
        }
    }

    fn publish(&self, w: &WindowKpis) {
        self.offered.set(w.offered as f64);
        self.answered.set(w.answered as f64);
        self.abandoned.set(w.abandoned as f64);
        let sl = [
            w.service_level,
            w.service_level_ignore_abandons,
            w.service_level_positive,
        ];
        for (gauge, value) in self.service_level.iter().zip(sl) {
            gauge.set(nan_if_none(value));
        }
        self.asa.set(nan_if_none(w.asa_seconds));
        let wait = [w.wait_p50_seconds, w.wait_p90_seconds, w.wait_p99_seconds];
        for (gauge, value) in self.wait.iter().zip(wait) {
            gauge.set(nan_if_none(value));
        }
        self.abandon_ratio.set(nan_if_none(w.abandon_rate));
        self.rings_per_answer.set(nan_if_none(w.rings_per_answer));
        self.ring_no_answer.set(w.ring_no_answer as f64);
        self.ring_abandoned.set(w.ring_abandoned as f64);
        self.member_unavailable.set(w.member_unavailable as f64);
        self.transfer_ratio.set(nan_if_none(w.transfer_rate));
        self.talk.set(nan_if_none(w.avg_talk_seconds));
        self.hold.set(nan_if_none(w.avg_hold_seconds));
        self.acw.set(nan_if_none(w.avg_acw_seconds));
        self.aht.set(nan_if_none(w.aht_seconds));
        self.occupancy.set(nan_if_none(w.occupancy));
        self.not_ready.set(nan_if_none(w.not_ready_ratio));
        if let Some((gauge, minutes)) = &self.arrival_rate {
            gauge.set(w.offered as f64 / minutes);
        }
    }
}

/// In the order of the fields of [`QueueTotals`].
struct TotalCounters([Counter; 16]);

impl TotalCounters {
    const NAMES: [&'static str; 13] = [
        t::CALLS_OFFERED_TOTAL,
        t::CALLS_ANSWERED_TOTAL,
        t::CALLS_ABANDONED_TOTAL,
        t::CALLS_SHORT_ABANDONED_TOTAL,
        t::CALLS_TRANSFERRED_TOTAL,
        t::CALLS_FLOWED_OUT_TOTAL,
        t::RING_ATTEMPTS_TOTAL,
        t::RING_NO_ANSWER_TOTAL,
        t::RING_ABANDONED_TOTAL,
        t::MEMBER_UNAVAILABLE_TOTAL,
        t::CALLS_EXPIRED_TOTAL,
        t::CALLS_ENDED_BY_RESTART_TOTAL,
        t::CLOCK_SKEW_TOTAL,
    ];

    fn register(queue: &str) -> TotalCounters {
        let q = || queue.to_owned();
        let [a, b, c, d, e, f, g, h, i, j, k, l, m] =
            Self::NAMES.map(|name| counter!(name, label::QUEUE => q()));
        let [responded, subsided] = t::SURGE_OUTCOMES.map(|outcome| {
            counter!(t::SURGE_EPISODES_TOTAL, label::QUEUE => q(), label::OUTCOME => outcome)
        });
        let absorbed = counter!(t::SURGES_ABSORBED_TOTAL, label::QUEUE => q());
        TotalCounters([
            a, b, c, d, e, f, g, h, i, j, k, l, m, responded, subsided, absorbed,
        ])
    }

    fn publish(&self, totals: &QueueTotals) {
        let QueueTotals {
            offered,
            answered,
            abandoned,
            short_abandoned,
            transferred_out,
            flowed_out,
            ring_attempts,
            ring_no_answer,
            ring_abandoned,
            member_unavailable,
            expired_calls,
            ended_by_restart,
            clock_skew,
            surge_responded,
            surge_subsided,
            surge_absorbed,
        } = *totals;
        let values = [
            offered,
            answered,
            abandoned,
            short_abandoned,
            transferred_out,
            flowed_out,
            ring_attempts,
            ring_no_answer,
            ring_abandoned,
            member_unavailable,
            expired_calls,
            ended_by_restart,
            clock_skew,
            surge_responded,
            surge_subsided,
            surge_absorbed,
        ];
        for (counter, value) in self.0.iter().zip(values) {
            counter.absolute(value);
        }
    }
}

#[cfg(test)]
mod tests;
