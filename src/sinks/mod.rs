//! Where KPI snapshots, service health and alerts go once they have been computed, one file
//! per sink; each takes its own settings, never the whole configuration.
//!
//! - [`prometheus`]: the per-queue KPI series it writes itself, and gauges and counters in the
//!   process's `metrics` recorder, rendered together for scrapes by [`http`].
//! - [`alert_metrics`]: the alert evaluator's state as gauges and counters in the same recorder.
//! - [`alertmanager`]: the direct push of alerts to Alertmanager's API.
//! - [`kafka`]: the KPI and alerts topics, dead letters and checkpoints.
//! - [`http`]: `/metrics`, `/healthz` and `/readyz`, and the routes of [`wallboard`].
//! - [`wallboard`]: the page at `/` and its JSON API (`/api/v1/snapshots`, `/api/v1/alerts`),
//!   fed by the pipeline after each publish.
//! - [`charts`] and [`intervals`]: a queue's intervals as inline SVG charts and a table, for
//!   the day report (`replay --report`) and the live queue page.

pub(crate) mod alert_metrics;
pub(crate) mod alertmanager;
pub(crate) mod charts;
pub(crate) mod http;
pub(crate) mod intervals;
pub mod kafka;
pub(crate) mod prometheus;
pub(crate) mod queue_page;
pub mod wallboard;

pub use prometheus::{install, Exposition, PrometheusSink};

/// A sink could not be set up. Messages say what the operator (or a developer) should do.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error(
        "cannot install the Prometheus metrics recorder: another metrics recorder is already \
         installed in this process; install the Prometheus sink once, at start-up"
    )]
    RecorderAlreadyInstalled,

    #[error(
        "cannot configure the Prometheus exporter: {0}; this is a bug in acdstream, \
         please report it with this message"
    )]
    Exporter(String),
}
