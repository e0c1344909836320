//! KPI definitions over window sums, and the snapshot that carries them out of the engine.

mod snapshot;

pub use snapshot::{KpiSnapshot, NowKpis, QueueTotals, WindowKpis, Windows};
pub mod math;
