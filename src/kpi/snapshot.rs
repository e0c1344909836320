//! The KPI snapshot: the one shape in which a queue's KPIs leave the engine (replay `--json`,
//! Prometheus, the Kafka KPI topic). Ratios and means with nothing to divide by are `None`
//! (JSON `null`, Prometheus `NaN`), never a made-up 0 or 100 %.

use serde::{Deserialize, Serialize};

use crate::event::Millis;
use crate::kpi::math::WindowSums;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KpiSnapshot {
    pub queue_id: String,
    /// The instant the windows end at, Unix ms.
    pub as_of: Millis,
    pub sl_threshold_seconds: f64,
    pub sl_target: f64,
    pub now: NowKpis,
    /// Windows in configuration order: the sliding ones (`5m`, `15m`, `60m`), then `interval`
    /// and `today`.
    pub windows: Windows,
    /// Erlang C beside the actuals, from the 15-minute arrival rate and AHT; `None` without
    /// arrivals or a known AHT in that window.
    #[serde(default)]
    pub staffing: Option<Staffing>,
    /// The queue's surge episode, if one is open (see [`crate::kpi::surge`]).
    #[serde(default)]
    pub surge: SurgeSnapshot,
}

/// One closed interval of a queue (`kpi.interval`, 30 minutes by default): its figures once
/// nothing late can change them, read from the same buckets as the sliding windows. What the
/// day report and the queue page chart (`replay --intervals` prints them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntervalKpis {
    pub queue_id: String,
    /// `[start, end)`, Unix ms, aligned to local midnight in `kpi.timezone`.
    pub start: Millis,
    pub end: Millis,
    /// The figures end before `end`: the input ended (or the service stopped) within the
    /// interval.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub partial: bool,
    pub kpis: WindowKpis,
    /// What the figures are computed from, for adding intervals up exactly (a day's totals):
    /// in process only.
    #[serde(skip)]
    pub(crate) sums: WindowSums,
}

/// A queue's surge state at `as_of`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct SurgeSnapshot {
    /// A surge episode is open: arrivals reached the surge factor × baseline with the short-window
    /// service level below target, and it has not yet recovered to target.
    pub active: bool,
    /// When the open episode began, Unix ms.
    pub onset: Option<Millis>,
    /// `as_of` − onset; 0 with no open episode.
    pub age_seconds: f64,
    /// Arrivals per minute over the short window (5 min by default).
    pub rate_per_minute: f64,
    /// The rate the short window is compared with: the trailing rate before it, or the
    /// forecast. `None` until the queue has been watched for the whole baseline window.
    pub baseline_per_minute: Option<f64>,
    /// Age at which an unanswered surge raises SurgeResponseExceeded.
    pub response_limit_seconds: f64,
    /// The open episode is at least `response_limit_seconds` old.
    pub response_exceeded: bool,
    /// Surges absorbed since the engine started: arrivals rose to the surge level while the
    /// short-window service level was at target, so no episode opened (once per rise).
    #[serde(default)]
    pub absorbed: u64,
}

/// Agents required for the SL target, and what the agents staffed now should achieve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Staffing {
    pub arrival_rate_per_minute: f64,
    pub aht_seconds: f64,
    /// Fewest agents whose predicted service level reaches the target (Erlang C).
    pub required_agents: u32,
    /// Agents ready, busy or in ACW on this queue now (not those busy on another queue's call).
    pub staffed_agents: u32,
    pub predicted_service_level: f64,
    /// `None` when the load is at or above the staffed agents: the queue grows without bound.
    pub predicted_asa_seconds: Option<f64>,
}

/// Point-in-time values, not windowed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct NowKpis {
    pub calls_waiting: u64,
    /// 0 when nothing is waiting.
    pub oldest_wait_seconds: f64,
    pub agents_ready: u64,
    pub agents_not_ready: u64,
    pub agents_busy: u64,
    pub agents_acw: u64,
    /// Logged in here and engaged (ringing, talking, holding or in ACW) on a call of another
    /// of the agent's queues. Defaults to 0 when reading a snapshot written before it existed.
    #[serde(default)]
    pub agents_busy_other: u64,
    /// Every agent not logged out, busy other included.
    pub agents_logged_in: u64,
}

/// Every windowed KPI, plus the raw components so that consumers can aggregate queues
/// correctly (sum the components, then divide) instead of averaging ratios.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WindowKpis {
    pub offered: u64,
    pub answered: u64,
    pub abandoned: u64,
    pub short_abandoned: u64,
    /// Legs transferred out after an agent answered them here.
    pub transferred_out: u64,
    /// Legs that left the queue unanswered, by transfer.
    pub flowed_out: u64,
    pub answered_within_threshold: u64,
    pub abandoned_within_threshold: u64,
    pub reached_threshold: u64,
    pub service_level: Option<f64>,
    pub service_level_ignore_abandons: Option<f64>,
    pub service_level_positive: Option<f64>,
    pub asa_seconds: Option<f64>,
    pub wait_p50_seconds: Option<f64>,
    pub wait_p90_seconds: Option<f64>,
    pub wait_p99_seconds: Option<f64>,
    pub abandon_rate: Option<f64>,
    pub handled: u64,
    pub avg_talk_seconds: Option<f64>,
    pub avg_hold_seconds: Option<f64>,
    pub acw_completed: u64,
    pub avg_acw_seconds: Option<f64>,
    pub aht_seconds: Option<f64>,
    pub ring_attempts: u64,
    /// Rings that ended unanswered (timed out, declined, or the call rang elsewhere).
    pub ring_no_answer: u64,
    /// Rings ended by the caller hanging up (not a ring-no-answer). Defaults to 0 when reading
    /// a snapshot written before it existed.
    #[serde(default)]
    pub ring_abandoned: u64,
    /// Agents offered a call who could not be rung (busy elsewhere, in use, unreachable): not
    /// ring attempts. Defaults to 0 when reading a snapshot written before it existed.
    #[serde(default)]
    pub member_unavailable: u64,
    pub rings_per_answer: Option<f64>,
    pub transfer_rate: Option<f64>,
    pub busy_agent_seconds: f64,
    pub acw_agent_seconds: f64,
    pub ready_agent_seconds: f64,
    pub not_ready_agent_seconds: f64,
    /// Agent time logged in here while engaged on another queue's call: in neither term of
    /// `occupancy`, in the logged-in time of `not_ready_ratio`. Defaults to 0 when reading a
    /// snapshot written before it existed.
    #[serde(default)]
    pub busy_other_agent_seconds: f64,
    pub occupancy: Option<f64>,
    pub not_ready_ratio: Option<f64>,
}

/// Monotonic per-queue counts since the engine started (Prometheus `_total` counters).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueTotals {
    pub offered: u64,
    pub answered: u64,
    pub abandoned: u64,
    pub short_abandoned: u64,
    pub transferred_out: u64,
    pub flowed_out: u64,
    pub ring_attempts: u64,
    pub ring_no_answer: u64,
    pub ring_abandoned: u64,
    pub member_unavailable: u64,
    /// Calls whose end never arrived within `max_call_age`.
    pub expired_calls: u64,
    /// Calls in progress when their ACD said it had restarted (Asterisk's `QUEUESTART`): they
    /// can no longer end, so they end there, neither answered nor abandoned (`pbx_restart`).
    pub ended_by_restart: u64,
    /// Call events timed before the step they must follow by at most `max_clock_skew`, and
    /// applied at that step's time.
    pub clock_skew: u64,
    /// Finished surge episodes whose service level recovered.
    pub surge_responded: u64,
    /// Finished surge episodes whose arrivals fell back before the service level recovered.
    pub surge_subsided: u64,
    /// Surges the floor absorbed: arrivals rose to the surge level with the service level at
    /// target, so no episode opened (counted once per rise).
    pub surge_absorbed: u64,
}

/// Named windows that keep their configured order in JSON (a map keyed by window name).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Windows(pub Vec<(String, WindowKpis)>);

impl Windows {
    pub fn get(&self, name: &str) -> Option<&WindowKpis> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, w)| w)
    }
}

impl Serialize for Windows {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, kpis) in &self.0 {
            map.serialize_entry(name, kpis)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Windows {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Windows;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a map of window name to window KPIs")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut access: A,
            ) -> Result<Windows, A::Error> {
                let mut windows = Vec::new();
                while let Some((name, kpis)) = access.next_entry::<String, WindowKpis>()? {
                    windows.push((name, kpis));
                }
                Ok(Windows(windows))
            }
        }
        deserializer.deserialize_map(Visitor)
    }
}

#[cfg(test)]
mod tests;
