//! acdstream: a real-time ACD/CTI event stream processor.
//!
//! # Layout
//!
//! Data flows `source → decode → state → kpi → sinks`:
//!
//! - [`source`]: where events come from (recorded files; the simulator in [`sim`]).
//! - [`event`]: the CTI event contract as domain types (what every decoder produces).
//! - [`ledger`]: outcome of every consumed event and the reasons for rejections.
//! - [`decode`]: the JSON and protobuf wire formats of events and KPI snapshots, and why a
//!   payload is rejected.
//! - `pb` (private): the code generated from `proto/acd/v1`, the only module naming its types.
//! - [`state`]: per-queue state machines, sliding windows and the engine that applies events.
//! - [`kpi`]: pure KPI math over window sums, and the KPI snapshot shape.
//! - [`replay`]: a recorded file through the engine in event time, and its report.

pub mod decode;
pub mod event;
pub mod kpi;
pub mod ledger;
mod pb;
pub mod replay;
pub mod source;
pub mod state;
