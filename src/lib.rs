//! acdstream: a real-time ACD/CTI event stream processor.
//!
//! # Layout
//!
//! Data flows `source → decode → state → kpi → sinks`:
//!
//! - [`event`]: the CTI event contract as domain types (what every decoder produces).
//! - [`ledger`]: outcome of every consumed event and the reasons for rejections.
//! - [`state`]: per-queue state machines, sliding windows and the engine that applies events.
//! - [`kpi`]: pure KPI math over window sums, and the KPI snapshot shape.
//! - [`config`]: settings from defaults, a TOML file and `ACDSTREAM_…` variables, validated.
//! - [`telemetry`]: the catalogue of exported metric names and their descriptions.
//! - [`sinks`]: where snapshots go; today the Prometheus recorder and its publisher.
//! - [`http`]: the HTTP edge serving `/metrics`, `/healthz` and `/readyz`.

pub mod config;
pub mod event;
pub mod http;
pub mod kpi;
pub mod ledger;
pub mod sinks;
pub mod state;
pub mod telemetry;
