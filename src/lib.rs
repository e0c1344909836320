//! acdstream: a real-time ACD/CTI event stream processor.
//!
//! # Layout
//!
//! Data flows `sources → decode → state → kpi → pipeline → sinks`. An event enters through a
//! [`sources`] file, is decoded by [`decode`] and applied to the per-queue state by the
//! [`pipeline`]; every publish tick the pipeline turns [`state`] into [`kpi`] snapshots,
//! evaluates the [`alerts`] rules on them, and hands both to the [`sinks`].
//!
//! - [`sources`]: where events come from, one file per source behind one trait: recorded
//!   files (JSON lines or an Asterisk queue_log), a followed live file, the simulator (timed
//!   by the demo clock), Kafka.
//! - [`event`]: the CTI event contract as domain types (what every decoder produces).
//! - [`decode`]: the JSON and protobuf wire formats of events, KPI snapshots and alerts, and
//!   why a payload is rejected; the generated protobuf code stays private inside it. Also
//!   the translation of an ACD's own log into events ([`decode::asterisk`]: queue_log).
//! - [`ledger`]: outcome of every consumed event and the reasons for rejections.
//! - [`state`]: per-queue state machines, sliding windows and the engine that applies events
//!   and ties a multi-skilled agent's queues together.
//! - [`kpi`]: pure KPI math over window sums, the KPI snapshot shape, Erlang C staffing and
//!   the surge-episode detector.
//! - [`alerts`]: alert rules over the KPI snapshots and the service's health, and the pure
//!   evaluator that turns them into firing and resolved transitions.
//! - [`pipeline`]: the one loop: apply, publish, alert, hand to the sinks; partitions,
//!   checkpoints and the bounded stop.
//! - [`sinks`]: where KPIs and alerts go: Prometheus and the HTTP edge (with the wallboard,
//!   its JSON API and the queue pages), Alertmanager, Kafka; the interval charts the queue
//!   pages and the day report share.
//! - [`sim`]: the seeded call-centre simulator (Erlang-A arrivals, handling, abandons, breaks,
//!   surges) behind the demo source, `simulate` and the benches.
//! - [`kafka`]: what the Kafka source and sink share: client settings, topics, the checkpoint
//!   protocol, topic admin.
//! - [`telemetry`]: the catalogue of metrics: name, kind and help text of each.
//! - [`config`]: the TOML file and `ACDSTREAM_…` overrides, checked at start-up.
//! - The commands, each a thin wiring of a source, a clock and sinks: [`replay`] (a file in
//!   event time, its report and its HTML day report), [`demo`] (the simulator in real time), [`run`] (the Kafka
//!   service), [`tail`] (one PBX's live file); [`serve`] starts what the live three share
//!   (the recorder, HTTP, alerting).

// Public only what `main.rs`, the benches and `tests/` use; the rest says `pub(crate)`.
#![warn(unreachable_pub)]

pub mod alerts;
pub mod config;
pub mod decode;
pub mod demo;
pub mod event;
pub mod kafka;
pub mod kpi;
pub mod ledger;
pub(crate) mod pipeline;
pub mod replay;
pub mod run;
pub(crate) mod serve;
pub mod sim;
pub mod sinks;
pub mod sources;
pub mod state;
pub mod tail;
pub mod telemetry;
