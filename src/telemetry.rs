//! The metric catalogue: every metric name acdstream exports, and its description.
//!
//! Names follow the Prometheus conventions: prefix `acd_`, base units in the name (`_seconds`,
//! `_ratio` for 0–1 fractions), `_total` only on monotonic counters. Ratios are 0–1, never
//! percentages; a ratio or mean with nothing to divide by is `NaN`, not 0.
//!
//! Labels are bounded: `queue` (at most `engine.max_queues` values), `window` (the configured
//! windows plus `interval` and `today`), and the fixed value sets below. **No label ever carries
//! a call id, an agent id or a caller number**: those are unbounded (every call adds a time
//! series, which eventually exhausts Prometheus) and a caller's number is personal data that
//! must not leak into a monitoring system with different retention and access rules.
//!
//! [`CATALOGUE`] holds every metric's kind and help text. Call [`describe`] once, after
//! installing the recorder, so that every metric has its `# HELP` text.

use metrics::{KeyName, SharedString, Unit};

/// Label keys.
pub mod label {
    pub const QUEUE: &str = "queue";
    pub const WINDOW: &str = "window";
    pub const VARIANT: &str = "variant";
    pub const QUANTILE: &str = "quantile";
    pub const STATE: &str = "state";
    pub const RESULT: &str = "result";
    pub const REASON: &str = "reason";
    pub const VERSION: &str = "version";
    pub const PARTITION: &str = "partition";
    pub const ROLE: &str = "role";
    pub const OUTCOME: &str = "outcome";
    pub const ALERT: &str = "alert";
    pub const SEVERITY: &str = "severity";
    pub const CHANNEL: &str = "channel";
}

/// `variant` values of [`SERVICE_LEVEL_RATIO`].
pub const SL_VARIANTS: [&str; 3] = ["default", "ignore_abandons", "positive"];
/// `quantile` values of [`WAIT_SECONDS`].
pub const WAIT_QUANTILES: [&str; 3] = ["0.5", "0.9", "0.99"];
/// `state` values of [`AGENTS`].
pub const AGENT_STATES: [&str; 6] = [
    "ready",
    "not_ready",
    "busy",
    "acw",
    "busy_other",
    "logged_in",
];
/// `outcome` values of [`SURGE_EPISODES_TOTAL`].
pub const SURGE_OUTCOMES: [&str; 2] = ["responded", "subsided"];
/// `channel` values of [`ALERT_DELIVERIES_TOTAL`].
pub const ALERT_CHANNELS: [&str; 2] = ["kafka", "alertmanager"];
/// `result` values of [`EVENTS_TOTAL`] (pending events are a gauge, [`EVENTS_PENDING`]).
pub const EVENT_RESULTS: [&str; 4] = ["applied", "duplicate", "late", "rejected"];

// Monotonic per queue (label `queue`).
pub const CALLS_OFFERED_TOTAL: &str = "acd_calls_offered_total";
pub const CALLS_ANSWERED_TOTAL: &str = "acd_calls_answered_total";
pub const CALLS_ABANDONED_TOTAL: &str = "acd_calls_abandoned_total";
pub const CALLS_SHORT_ABANDONED_TOTAL: &str = "acd_calls_short_abandoned_total";
pub const CALLS_TRANSFERRED_TOTAL: &str = "acd_calls_transferred_total";
pub const CALLS_FLOWED_OUT_TOTAL: &str = "acd_calls_flowed_out_total";
pub const RING_ATTEMPTS_TOTAL: &str = "acd_ring_attempts_total";
pub const RING_NO_ANSWER_TOTAL: &str = "acd_ring_no_answer_total";
pub const RING_ABANDONED_TOTAL: &str = "acd_ring_abandoned_total";
pub const MEMBER_UNAVAILABLE_TOTAL: &str = "acd_member_unavailable_total";
pub const CALLS_EXPIRED_TOTAL: &str = "acd_calls_expired_total";
pub const CALLS_ENDED_BY_RESTART_TOTAL: &str = "acd_calls_ended_by_restart_total";
pub const CLOCK_SKEW_TOTAL: &str = "acd_clock_skew_total";

// Window gauges (labels `queue`, `window`).
pub const CALLS_OFFERED: &str = "acd_calls_offered";
pub const CALLS_ANSWERED: &str = "acd_calls_answered";
pub const CALLS_ABANDONED: &str = "acd_calls_abandoned";
/// Extra label `variant`, one of [`SL_VARIANTS`].
pub const SERVICE_LEVEL_RATIO: &str = "acd_service_level_ratio";
pub const ASA_SECONDS: &str = "acd_asa_seconds";
/// Extra label `quantile`, one of [`WAIT_QUANTILES`].
pub const WAIT_SECONDS: &str = "acd_wait_seconds";
pub const ABANDON_RATIO: &str = "acd_abandon_ratio";
pub const RINGS_PER_ANSWER: &str = "acd_rings_per_answer";
pub const RING_NO_ANSWER: &str = "acd_ring_no_answer";
pub const RING_ABANDONED: &str = "acd_ring_abandoned";
pub const MEMBER_UNAVAILABLE: &str = "acd_member_unavailable";
pub const TRANSFER_RATIO: &str = "acd_transfer_ratio";
pub const TALK_SECONDS: &str = "acd_talk_seconds";
pub const HOLD_SECONDS: &str = "acd_hold_seconds";
pub const ACW_SECONDS: &str = "acd_acw_seconds";
pub const AHT_SECONDS: &str = "acd_aht_seconds";
pub const OCCUPANCY_RATIO: &str = "acd_occupancy_ratio";
pub const NOT_READY_RATIO: &str = "acd_not_ready_ratio";

// Point-in-time gauges (label `queue`).
pub const CALLS_WAITING: &str = "acd_calls_waiting";
pub const OLDEST_CALL_WAIT_SECONDS: &str = "acd_oldest_call_wait_seconds";
/// Extra label `state`, one of [`AGENT_STATES`].
pub const AGENTS: &str = "acd_agents";
pub const SERVICE_LEVEL_TARGET_RATIO: &str = "acd_service_level_target_ratio";
pub const SERVICE_LEVEL_THRESHOLD_SECONDS: &str = "acd_service_level_threshold_seconds";

// Erlang C staffing (label `queue`), from the 15-minute arrival rate and AHT.
pub const REQUIRED_AGENTS: &str = "acd_required_agents";
pub const STAFFED_AGENTS: &str = "acd_staffed_agents";
pub const PREDICTED_SERVICE_LEVEL_RATIO: &str = "acd_predicted_service_level_ratio";
pub const PREDICTED_ASA_SECONDS: &str = "acd_predicted_asa_seconds";

// Surge episodes (label `queue`; see `crate::kpi::surge`).
pub const SURGE_ACTIVE: &str = "acd_surge_active";
pub const SURGE_AGE_SECONDS: &str = "acd_surge_age_seconds";
pub const SURGE_RESPONSE_LIMIT_SECONDS: &str = "acd_surge_response_limit_seconds";
pub const SURGE_RESPONSE_EXCEEDED: &str = "acd_surge_response_exceeded";
pub const SURGE_BASELINE_PER_MINUTE: &str = "acd_surge_baseline_per_minute";
/// Extra label `window` (the sliding windows).
pub const ARRIVAL_RATE_PER_MINUTE: &str = "acd_arrival_rate_per_minute";
/// Histogram of finished episodes that were responded to.
pub const SURGE_RESPONSE_SECONDS: &str = "acd_surge_response_seconds";
/// Extra label `outcome`, one of [`SURGE_OUTCOMES`].
pub const SURGE_EPISODES_TOTAL: &str = "acd_surge_episodes_total";
/// Rises to the surge level with the service level at target: no episode.
pub const SURGES_ABSORBED_TOTAL: &str = "acd_surges_absorbed_total";

// Alerts the service evaluates itself (labels `alert`, `severity`, and `queue` for queue alerts).
pub const ALERTS_FIRING: &str = "acd_alerts_firing";
/// Labels `alert`, `state` = firing | resolved.
pub const ALERT_TRANSITIONS_TOTAL: &str = "acd_alert_transitions_total";
/// Labels `channel`, one of [`ALERT_CHANNELS`], and `result` = delivered | failed.
pub const ALERT_DELIVERIES_TOTAL: &str = "acd_alert_deliveries_total";

// Service health.
/// Label `result`, one of [`EVENT_RESULTS`].
pub const EVENTS_TOTAL: &str = "acd_events_total";
/// Label `reason`, one of [`crate::ledger::RejectReason::label`].
pub const EVENTS_REJECTED_TOTAL: &str = "acd_events_rejected_total";
pub const EVENTS_PENDING: &str = "acd_events_pending";
pub const QUEUES: &str = "acd_queues";
pub const EVENT_APPLY_LATENCY_SECONDS: &str = "acd_event_apply_latency_seconds";
pub const SNAPSHOT_AGE_SECONDS: &str = "acd_snapshot_age_seconds";
/// Connections closed on accept because the HTTP edge served its maximum already.
pub const HTTP_CONNECTIONS_REFUSED_TOTAL: &str = "acd_http_connections_refused_total";
/// Always 1; label `version` carries the running version.
pub const BUILD_INFO: &str = "acd_build_info";
/// The standard process metric (Linux, from `/proc/self/status`), under its standard name so
/// that existing dashboards and alerts find it.
pub const PROCESS_RESIDENT_MEMORY_BYTES: &str = "process_resident_memory_bytes";

// The Kafka pipeline (`acdstream run`).
/// 1 while a broker connection is up, 0 while the source is unreachable (KPIs are stale).
pub const SOURCE_UP: &str = "acd_source_up";
pub const LAST_EVENT_AGE_SECONDS: &str = "acd_last_event_age_seconds";
/// Label `partition` (bounded by the events topic's partition count).
pub const CONSUMER_LAG: &str = "acd_consumer_lag";
/// Label `state` = assigned | ready.
pub const PARTITIONS: &str = "acd_partitions";
pub const REBALANCES_TOTAL: &str = "acd_rebalances_total";
/// Labels `role` = kpi | dead_letter | checkpoint | events, `result` = delivered | failed.
pub const KAFKA_RECORDS_TOTAL: &str = "acd_kafka_records_total";
pub const CHECKPOINT_BYTES: &str = "acd_checkpoint_bytes";
pub const REBUILD_SECONDS: &str = "acd_rebuild_seconds";
/// Events at or after a partition's resume point that a restored queue already held.
pub const EVENTS_SKIPPED_TOTAL: &str = "acd_events_skipped_total";

/// A metric's kind, as the exposition format's `# TYPE` line names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// One entry of the catalogue: what `# HELP` and `# TYPE` say about a metric.
#[derive(Clone, Copy, Debug)]
pub struct Metric {
    pub name: &'static str,
    pub kind: Kind,
    pub unit: Option<Unit>,
    pub help: &'static str,
}

const fn counter(name: &'static str, help: &'static str) -> Metric {
    Metric {
        name,
        kind: Kind::Counter,
        unit: Some(Unit::Count),
        help,
    }
}

const fn gauge(name: &'static str, unit: Option<Unit>, help: &'static str) -> Metric {
    Metric {
        name,
        kind: Kind::Gauge,
        unit,
        help,
    }
}

const fn histogram(name: &'static str, help: &'static str) -> Metric {
    Metric {
        name,
        kind: Kind::Histogram,
        unit: Some(Unit::Seconds),
        help,
    }
}

/// Every metric acdstream exports. Ratios are given no unit: `metrics` has no ratio unit and
/// `Percent` would suggest 0–100.
pub const CATALOGUE: [Metric; 70] = [
    counter(CALLS_OFFERED_TOTAL, "Calls offered to the queue since acdstream started."),
    counter(CALLS_ANSWERED_TOTAL, "Calls answered by an agent since acdstream started."),
    counter(CALLS_ABANDONED_TOTAL, "Calls where the caller hung up while waiting, since acdstream started."),
    counter(CALLS_SHORT_ABANDONED_TOTAL, "Abandoned calls that waited less than the queue's short-abandon time (often misdials), since acdstream started."),
    counter(CALLS_TRANSFERRED_TOTAL, "Calls transferred out of the queue after an agent answered them here, since acdstream started."),
    counter(CALLS_FLOWED_OUT_TOTAL, "Calls that left the queue unanswered without hanging up, by transfer (overflow, redirect) or flow-out (queue timeout, no agents, a key pressed), since acdstream started."),
    counter(RING_ATTEMPTS_TOTAL, "Times a call was presented (rung) to an agent, since acdstream started."),
    counter(RING_NO_ANSWER_TOTAL, "Rings that the agent did not answer (ring-no-answer: the ring timed out or the call rang elsewhere next), since acdstream started."),
    counter(RING_ABANDONED_TOTAL, "Rings ended by the caller hanging up while the agent's phone rang (not a ring-no-answer), since acdstream started."),
    counter(MEMBER_UNAVAILABLE_TOTAL, "Agents the ACD offered a call to who could not be rung at all (busy elsewhere, in use, unreachable; not ring attempts), since acdstream started."),
    counter(CALLS_EXPIRED_TOTAL, "Calls given up on because no end arrived within max_call_age (a lost event upstream), since acdstream started."),
    counter(CALLS_ENDED_BY_RESTART_TOTAL, "Calls in progress when the ACD reported a restart (Asterisk QUEUESTART), ended there neither answered nor abandoned, since acdstream started."),
    counter(CLOCK_SKEW_TOTAL, "Call events stamped before the step they must follow by at most engine.max_clock_skew, applied at that step's time. A steady rate means two CTI servers' clocks differ."),
    gauge(CALLS_OFFERED, Some(Unit::Count), "Calls offered to the queue within the window."),
    gauge(CALLS_ANSWERED, Some(Unit::Count), "Calls answered within the window."),
    gauge(CALLS_ABANDONED, Some(Unit::Count), "Calls abandoned by the caller within the window."),
    gauge(SERVICE_LEVEL_RATIO, None, "Service level: share of calls answered within the queue's threshold, 0-1 (NaN with no calls). variant=default is the queue's service level; ignore_abandons counts answered calls only; positive also counts calls abandoned within the threshold as met."),
    gauge(ASA_SECONDS, Some(Unit::Seconds), "Average speed of answer: mean wait of answered calls within the window (NaN with no answers)."),
    gauge(WAIT_SECONDS, Some(Unit::Seconds), "Wait before answer or abandon within the window, at the given quantile (0.9 = 90 % of callers waited at most this long)."),
    gauge(ABANDON_RATIO, None, "Share of offered calls that were abandoned within the window, 0-1."),
    gauge(RINGS_PER_ANSWER, None, "Mean number of rings before a call was answered within the window."),
    gauge(RING_NO_ANSWER, Some(Unit::Count), "Rings that the agent did not answer (the ring timed out or the call rang elsewhere next) within the window."),
    gauge(RING_ABANDONED, Some(Unit::Count), "Rings ended by the caller hanging up while the agent's phone rang, within the window (not a ring-no-answer)."),
    gauge(MEMBER_UNAVAILABLE, Some(Unit::Count), "Agents offered a call who could not be rung at all (busy elsewhere, in use, unreachable) within the window; not ring attempts."),
    gauge(TRANSFER_RATIO, None, "Calls transferred out after an answer per call answered within the window, 0-1."),
    gauge(TALK_SECONDS, Some(Unit::Seconds), "Mean talk time of calls handled within the window."),
    gauge(HOLD_SECONDS, Some(Unit::Seconds), "Mean time on hold of calls handled within the window."),
    gauge(ACW_SECONDS, Some(Unit::Seconds), "Mean after-call work (wrap-up) time within the window."),
    gauge(AHT_SECONDS, Some(Unit::Seconds), "Average handle time: talk + hold + after-call work of the calls whose after-call work ended within the window, divided by their number."),
    gauge(OCCUPANCY_RATIO, None, "Occupancy: share of agents' available time spent on this queue's calls or their after-call work within the window, 0-1 (time on other queues' calls is left out)."),
    gauge(NOT_READY_RATIO, None, "Share of agents' logged-in time (busy on other queues' calls included) spent not ready within the window, 0-1."),
    gauge(CALLS_WAITING, Some(Unit::Count), "Calls waiting in the queue right now."),
    gauge(OLDEST_CALL_WAIT_SECONDS, Some(Unit::Seconds), "How long the longest-waiting call has waited so far (0 when none is waiting)."),
    gauge(AGENTS, Some(Unit::Count), "Agents of the queue right now, by state: busy and acw on this queue's calls, busy_other logged in here but on a call of another of their queues (logged_in counts every logged-in agent)."),
    gauge(SERVICE_LEVEL_TARGET_RATIO, None, "The queue's configured service-level target, 0-1 (e.g. 0.8 = 80 %)."),
    gauge(SERVICE_LEVEL_THRESHOLD_SECONDS, Some(Unit::Seconds), "The queue's configured service-level threshold: answers within it count as in service level."),
    counter(EVENTS_TOTAL, "CTI events processed, by result: applied, duplicate (redelivery, dropped), late (beyond allowed_lateness, dropped), rejected (see acd_events_rejected_total)."),
    counter(EVENTS_REJECTED_TOTAL, "CTI events rejected, by reason; a rising rate means a CTI source sends events acdstream cannot use."),
    gauge(EVENTS_PENDING, Some(Unit::Count), "Call events held until their call's offered event arrives."),
    gauge(QUEUES, Some(Unit::Count), "Queues currently tracked."),
    histogram(EVENT_APPLY_LATENCY_SECONDS, "Time from receiving an event to its effect being applied to the queue state."),
    gauge(SNAPSHOT_AGE_SECONDS, Some(Unit::Seconds), "Age of the oldest published KPI snapshot; growing values mean the KPIs shown are stale."),
    counter(HTTP_CONNECTIONS_REFUSED_TOTAL, "HTTP connections closed on accept because the maximum were open already (a flood of clients, or clients that never close)."),
    gauge(BUILD_INFO, None, "Always 1; the version label shows the running acdstream version."),
    gauge(PROCESS_RESIDENT_MEMORY_BYTES, Some(Unit::Bytes), "Resident memory of the acdstream process."),
    gauge(REQUIRED_AGENTS, Some(Unit::Count), "Agents needed to meet the service-level target at the last 15 minutes' arrival rate and handle time (Erlang C)."),
    gauge(STAFFED_AGENTS, Some(Unit::Count), "Agents ready, busy or in after-call work on this queue now (not those busy on another queue's call)."),
    gauge(PREDICTED_SERVICE_LEVEL_RATIO, None, "Service level the agents staffed now should achieve at the current load (Erlang C); 0 when overloaded."),
    gauge(PREDICTED_ASA_SECONDS, Some(Unit::Seconds), "Average speed of answer the agents staffed now should achieve (Erlang C); +Inf when the load exceeds them."),
    gauge(SURGE_ACTIVE, None, "1 while a surge episode is open on the queue: arrivals reached the surge factor times the baseline with the service level below target, and it has not recovered to target."),
    gauge(SURGE_AGE_SECONDS, Some(Unit::Seconds), "Age of the open surge episode (0 with none): how long the floor has had to respond."),
    gauge(SURGE_RESPONSE_LIMIT_SECONDS, Some(Unit::Seconds), "The queue's surge response limit: an open episode this old raises SurgeResponseExceeded."),
    gauge(SURGE_RESPONSE_EXCEEDED, None, "1 while the open surge episode is older than the response limit (SurgeResponseExceeded)."),
    gauge(SURGE_BASELINE_PER_MINUTE, None, "Arrivals per minute the short window is compared with: the trailing rate before it, or the forecast (NaN until the baseline window has been watched)."),
    gauge(ARRIVAL_RATE_PER_MINUTE, None, "Calls offered per minute over the window."),
    histogram(SURGE_RESPONSE_SECONDS, "Surge response time of finished episodes: onset until the service level was back at target."),
    counter(SURGE_EPISODES_TOTAL, "Finished surge episodes by outcome: responded (service level recovered) or subsided (arrivals fell back first)."),
    counter(SURGES_ABSORBED_TOTAL, "Surges the floor absorbed: arrivals reached the surge factor times the baseline while the service level was at target, so no episode opened (counted once per rise)."),
    gauge(ALERTS_FIRING, None, "1 while the alert is firing, as evaluated by acdstream itself."),
    counter(ALERT_TRANSITIONS_TOTAL, "Alert transitions evaluated by acdstream, by alert and state (firing, resolved)."),
    counter(ALERT_DELIVERIES_TOTAL, "Alert notifications sent, by channel (kafka, alertmanager) and result (delivered, failed)."),
    gauge(SOURCE_UP, None, "1 while acdstream is connected to a Kafka broker; 0 means the KPIs shown are stale."),
    gauge(LAST_EVENT_AGE_SECONDS, Some(Unit::Seconds), "Time since the last event was consumed."),
    gauge(CONSUMER_LAG, Some(Unit::Count), "Events in the partition not yet consumed; a growing lag means acdstream falls behind."),
    gauge(PARTITIONS, Some(Unit::Count), "Events-topic partitions owned by this instance (assigned), and those whose state is rebuilt (ready)."),
    counter(REBALANCES_TOTAL, "Consumer-group rebalances seen by this instance."),
    counter(KAFKA_RECORDS_TOTAL, "Records produced to Kafka, by role (kpi, dead_letter, checkpoint) and result (delivered, failed)."),
    gauge(CHECKPOINT_BYTES, Some(Unit::Bytes), "Size of the last checkpoint round (all owned partitions)."),
    gauge(REBUILD_SECONDS, Some(Unit::Seconds), "Time the last partition took from assignment to ready (checkpoint restore and catch-up)."),
    counter(EVENTS_SKIPPED_TOTAL, "Events re-read after a restore that the restored state already held (not counted again)."),
];

/// The catalogue's entry for `name`.
pub fn metric(name: &str) -> Option<&'static Metric> {
    CATALOGUE.iter().find(|m| m.name == name)
}

/// Registers unit and help text for every metric with the current recorder (the per-queue KPI
/// families, which [`crate::sinks::prometheus`] writes itself, take theirs from [`CATALOGUE`]).
pub fn describe() {
    metrics::with_recorder(|recorder| {
        for m in &CATALOGUE {
            let (key, help) = (
                KeyName::from_const_str(m.name),
                SharedString::const_str(m.help),
            );
            match m.kind {
                Kind::Counter => recorder.describe_counter(key, m.unit, help),
                Kind::Gauge => recorder.describe_gauge(key, m.unit, help),
                Kind::Histogram => recorder.describe_histogram(key, m.unit, help),
            }
        }
    });
}

#[cfg(test)]
mod tests;
