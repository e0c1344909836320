//! What defines a queue's KPIs: the service-level threshold and target, short abandons, the
//! ring cadence and the surge rule. The engine keeps one per queue; the math reads it.

use super::surge::SurgeSettings;
use crate::event::Millis;

/// Per-queue KPI definitions.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueKpiSettings {
    /// Service-level threshold T.
    pub sl_threshold_ms: Millis,
    /// Service-level target, a ratio in (0, 1].
    pub sl_target: f64,
    /// Abandons with a wait below this are short abandons.
    pub short_abandon_ms: Millis,
    /// Length of one ring, for `rings_per_answer`.
    pub ring_cadence_ms: Millis,
    /// Surge episode detection and the response limit.
    pub surge: SurgeSettings,
}

impl Default for QueueKpiSettings {
    fn default() -> Self {
        QueueKpiSettings {
            sl_threshold_ms: 20_000,
            sl_target: 0.80,
            short_abandon_ms: 5_000,
            ring_cadence_ms: 5_000,
            surge: SurgeSettings::default(),
        }
    }
}
