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
//! - [`sim`]: a deterministic call-centre simulator that produces [`event::CtiEvent`]s, for demos
//!   and load tests without a real ACD.

pub mod event;
pub mod kpi;
pub mod ledger;
pub mod sim;
pub mod state;
