//! KPI definitions over window sums, the snapshot that carries them out of the engine, and
//! Erlang C staffing.

pub(crate) mod erlang;
pub(crate) mod math;
mod settings;
mod snapshot;
pub mod surge;

pub use settings::QueueKpiSettings;
pub use snapshot::{
    IntervalKpis, KpiSnapshot, NowKpis, QueueTotals, Staffing, SurgeSnapshot, WindowKpis, Windows,
};
