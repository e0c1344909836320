//! acdstream: a real-time ACD/CTI event stream processor.
//!
//! # Layout
//!
//! Data flows `source → decode → state → kpi → alerts → sinks (prometheus, kafka,
//! alertmanager)`: every publish tick turns the engine's state into KPI snapshots, the alert
//! evaluator turns those into firing and resolved transitions, and both leave through the sinks.
//!
//! - [`source`]: where events come from: recorded files; [`sim`], the seeded call-centre
//!   simulator (Erlang-A arrivals, handling, abandons, breaks, surges); and the Kafka consumer
//!   in [`kafka`], which also holds the Kafka sinks (KPI and alerts topics, dead letters,
//!   checkpoints).
//! - [`event`]: the CTI event contract as domain types (what every decoder produces).
//! - [`decode`]: the JSON and protobuf wire formats of events and KPI snapshots, and why a
//!   payload is rejected.
//! - `pb` (private): the code generated from `proto/acd/v1`, the only module naming its types.
//! - [`ledger`]: outcome of every consumed event and the reasons for rejections.
//! - [`state`]: per-queue state machines, sliding windows and the engine that applies events.
//! - [`kpi`]: pure KPI math over window sums, the KPI snapshot shape, Erlang C staffing and
//!   the surge-episode detector.
//! - [`alerts`]: alert rules over the KPI snapshots and the service's health, the pure
//!   evaluator that turns them into firing and resolved transitions, and the per-publish
//!   dispatch shared by `demo` and `run`.
//! - [`sinks`]: where KPIs and alerts go: Prometheus gauges and counters, Alertmanager.
//! - [`telemetry`]: the catalogue of metric names, described once at start-up.
//! - [`http`]: the HTTP edge: `/metrics`, `/healthz`, `/readyz`.
//! - [`config`]: the TOML file and `ACDSTREAM_…` overrides, checked at start-up.
//! - [`replay`]: a recorded file through the engine in event time, and its report.
//! - [`demo`]: the simulator → engine → `/metrics` (and alerts) pipeline in real time.
//! - [`run`]: the service: Kafka → engine → KPI and alerts topics, Prometheus, Alertmanager,
//!   dead letters, checkpoints.

pub mod alerts;
pub mod config;
pub mod decode;
pub mod demo;

pub mod event;
pub mod http;
pub mod kafka;
pub mod kpi;
pub mod ledger;
mod pb;
pub mod replay;
pub mod run;
pub mod sim;
pub mod sinks;
pub mod source;
pub mod state;
pub mod telemetry;
