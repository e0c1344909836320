//! The Prometheus sink: KPI snapshots and per-queue totals as series that [`queues`] keeps and
//! writes itself, the event ledger and service health as `metrics` gauges and counters; both
//! rendered on scrape by [`crate::sinks::http`] through an [`Exposition`].
//!
//! Publishing runs every `publish.interval` for up to `engine.max_queues` queues, about 150
//! series per queue. The per-queue series go to [`queues`] as plain values (rendering them
//! through the recorder cost 466 ms per scrape for 1,000 queues); the few service series are
//! registered once and their handles kept. Handles belong to the recorder that was current
//! when they were registered, so publish only after [`install`] (or, in tests, inside
//! `metrics::with_local_recorder`).
//!
//! A queue's series stay until [`PrometheusSink::forget`]: a queue that stops appearing in
//! snapshots keeps its last values.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use metrics::{counter, gauge, histogram, Counter, Gauge};
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};

use super::SinkError;
use crate::event::Millis;
use crate::kpi::surge::Episode;
use crate::kpi::{KpiSnapshot, QueueTotals};
use crate::ledger::{Ledger, RejectReason};
use crate::telemetry::{self as t, label};

mod queues;

use queues::QueueSeries;

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

/// Gauges and counters of the recorder not updated for this long disappear from `/metrics`
/// (every publish sets the service series again).
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

/// What `/metrics` shows: the recorder's series, then the per-queue KPI series. Cheap to clone.
#[derive(Clone)]
pub struct Exposition {
    handle: PrometheusHandle,
    queues: Arc<QueueSeries>,
}

impl std::fmt::Debug for Exposition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exposition").finish_non_exhaustive()
    }
}

impl Exposition {
    /// Around a recorder's `handle` (from [`builder`]; [`install`] makes the global one).
    pub fn new(handle: PrometheusHandle) -> Exposition {
        Exposition {
            handle,
            queues: Arc::new(QueueSeries::new()),
        }
    }

    /// The `/metrics` text in the Prometheus exposition format.
    pub fn render(&self) -> String {
        let recorder = self.handle.render();
        // Sized like the previous render with an eighth to spare (values change length): the
        // text is megabytes, and growing it by doubling would copy it about once more.
        let queues = self.queues.last_len();
        let mut text = String::with_capacity(recorder.len() + queues + queues / 8);
        text.push_str(&recorder);
        self.queues.render_into(&mut text);
        text
    }
}

/// Installs the Prometheus recorder as the process's global `metrics` recorder (without an
/// HTTP listener: [`crate::sinks::http`] serves `/metrics`) and describes every metric.
pub fn install() -> Result<Exposition, SinkError> {
    let handle = builder()?.install_recorder().map_err(|e| match e {
        BuildError::FailedToSetGlobalRecorder(_) => SinkError::RecorderAlreadyInstalled,
        other => SinkError::Exporter(other.to_string()),
    })?;
    t::describe();
    Ok(Exposition::new(handle))
}

/// Publishes snapshots, totals and the ledger as Prometheus series.
pub struct PrometheusSink {
    exposition: Exposition,
    /// Registered on the first publish, so that every label value exists from then on at 0.
    // Only `publish` locks this, and never across an await; the mutex exists so that the sink
    // can be shared (`&self`) with whatever task drives publishing.
    service: Mutex<Option<ServiceHandles>>,
}

impl PrometheusSink {
    /// `exposition` is the one `/metrics` serves; each publish also runs the recorder's
    /// upkeep, which folds recorded histogram samples into the buckets so they cannot pile up
    /// between scrapes.
    ///
    /// `sliding` names the sliding windows with their lengths: their arrival rate per minute
    /// is published too (a calendar window such as `today` has no fixed length).
    pub fn new(exposition: Exposition, sliding: &[(String, Duration)]) -> PrometheusSink {
        exposition.queues.set_sliding(
            sliding
                .iter()
                .map(|(name, len)| (name.clone(), len.as_secs_f64() / 60.0))
                .collect(),
        );
        PrometheusSink {
            exposition,
            service: Mutex::new(None),
        }
    }

    /// Sets every KPI series from `snapshots` (`None` → `NaN`), the `_total` counters from
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
        self.service
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_or_insert_with(ServiceHandles::register)
            .publish(now_ms, snapshots, ledger);
        self.exposition.queues.publish(snapshots, totals);
        self.exposition.handle.run_upkeep();
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

    /// Stops publishing a queue (its partition moved elsewhere): its series leave `/metrics`
    /// at the next render.
    pub fn forget(&self, queue_id: &str) {
        self.exposition.queues.forget(queue_id);
    }
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

#[cfg(test)]
mod tests;
