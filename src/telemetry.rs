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
//! Call [`describe`] once, after installing the recorder, so that every metric has its
//! `# HELP` text.

use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};

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

/// Registers unit and help text for every metric with the current recorder.
///
/// Ratios are given no unit: `metrics` has no ratio unit and `Percent` would suggest 0–100.
pub fn describe() {
    // Monotonic counters.
    describe_counter!(
        CALLS_OFFERED_TOTAL,
        Unit::Count,
        "Calls offered to the queue since acdstream started."
    );
    describe_counter!(
        CALLS_ANSWERED_TOTAL,
        Unit::Count,
        "Calls answered by an agent since acdstream started."
    );
    describe_counter!(
        CALLS_ABANDONED_TOTAL,
        Unit::Count,
        "Calls where the caller hung up while waiting, since acdstream started."
    );
    describe_counter!(
        CALLS_SHORT_ABANDONED_TOTAL,
        Unit::Count,
        "Abandoned calls that waited less than the queue's short-abandon time (often misdials), since acdstream started."
    );
    describe_counter!(
        CALLS_TRANSFERRED_TOTAL,
        Unit::Count,
        "Calls transferred out of the queue after an agent answered them here, since acdstream started."
    );
    describe_counter!(
        CALLS_FLOWED_OUT_TOTAL,
        Unit::Count,
        "Calls that left the queue unanswered without hanging up, by transfer (overflow, redirect) or flow-out (queue timeout, no agents, a key pressed), since acdstream started."
    );
    describe_counter!(
        RING_ATTEMPTS_TOTAL,
        Unit::Count,
        "Times a call was presented (rung) to an agent, since acdstream started."
    );
    describe_counter!(
        RING_NO_ANSWER_TOTAL,
        Unit::Count,
        "Rings that the agent did not answer (ring-no-answer: the ring timed out or the call rang elsewhere next), since acdstream started."
    );
    describe_counter!(
        RING_ABANDONED_TOTAL,
        Unit::Count,
        "Rings ended by the caller hanging up while the agent's phone rang (not a ring-no-answer), since acdstream started."
    );
    describe_counter!(
        MEMBER_UNAVAILABLE_TOTAL,
        Unit::Count,
        "Agents the ACD offered a call to who could not be rung at all (busy elsewhere, in use, unreachable; not ring attempts), since acdstream started."
    );
    describe_counter!(
        CALLS_ENDED_BY_RESTART_TOTAL,
        Unit::Count,
        "Calls in progress when the ACD reported a restart (Asterisk QUEUESTART), ended there neither answered nor abandoned, since acdstream started."
    );
    describe_counter!(
        CALLS_EXPIRED_TOTAL,
        Unit::Count,
        "Calls given up on because no end arrived within max_call_age (a lost event upstream), since acdstream started."
    );
    describe_counter!(
        CLOCK_SKEW_TOTAL,
        Unit::Count,
        "Call events stamped before the step they must follow by at most engine.max_clock_skew, applied at that step's time. A steady rate means two CTI servers' clocks differ."
    );

    // Window gauges.
    describe_gauge!(
        CALLS_OFFERED,
        Unit::Count,
        "Calls offered to the queue within the window."
    );
    describe_gauge!(
        CALLS_ANSWERED,
        Unit::Count,
        "Calls answered within the window."
    );
    describe_gauge!(
        CALLS_ABANDONED,
        Unit::Count,
        "Calls abandoned by the caller within the window."
    );
    describe_gauge!(
        SERVICE_LEVEL_RATIO,
        "Service level: share of calls answered within the queue's threshold, 0-1 (NaN with no calls). variant=default is the queue's service level; ignore_abandons counts answered calls only; positive also counts calls abandoned within the threshold as met."
    );
    describe_gauge!(
        ASA_SECONDS,
        Unit::Seconds,
        "Average speed of answer: mean wait of answered calls within the window (NaN with no answers)."
    );
    describe_gauge!(
        WAIT_SECONDS,
        Unit::Seconds,
        "Wait before answer or abandon within the window, at the given quantile (0.9 = 90 % of callers waited at most this long)."
    );
    describe_gauge!(
        ABANDON_RATIO,
        "Share of offered calls that were abandoned within the window, 0-1."
    );
    describe_gauge!(
        RINGS_PER_ANSWER,
        "Mean number of rings before a call was answered within the window."
    );
    describe_gauge!(
        RING_NO_ANSWER,
        Unit::Count,
        "Rings that the agent did not answer (the ring timed out or the call rang elsewhere next) within the window."
    );
    describe_gauge!(
        RING_ABANDONED,
        Unit::Count,
        "Rings ended by the caller hanging up while the agent's phone rang, within the window (not a ring-no-answer)."
    );
    describe_gauge!(
        MEMBER_UNAVAILABLE,
        Unit::Count,
        "Agents offered a call who could not be rung at all (busy elsewhere, in use, unreachable) within the window; not ring attempts."
    );
    describe_gauge!(
        TRANSFER_RATIO,
        "Calls transferred out after an answer per call answered within the window, 0-1."
    );
    describe_gauge!(
        TALK_SECONDS,
        Unit::Seconds,
        "Mean talk time of calls handled within the window."
    );
    describe_gauge!(
        HOLD_SECONDS,
        Unit::Seconds,
        "Mean time on hold of calls handled within the window."
    );
    describe_gauge!(
        ACW_SECONDS,
        Unit::Seconds,
        "Mean after-call work (wrap-up) time within the window."
    );
    describe_gauge!(
        AHT_SECONDS,
        Unit::Seconds,
        "Average handle time: talk + hold + after-call work of the calls whose after-call work ended within the window, divided by their number."
    );
    describe_gauge!(
        OCCUPANCY_RATIO,
        "Occupancy: share of agents' available time spent on this queue's calls or their after-call work within the window, 0-1 (time on other queues' calls is left out)."
    );
    describe_gauge!(
        NOT_READY_RATIO,
        "Share of agents' logged-in time (busy on other queues' calls included) spent not ready within the window, 0-1."
    );

    // Point-in-time gauges.
    describe_gauge!(
        CALLS_WAITING,
        Unit::Count,
        "Calls waiting in the queue right now."
    );
    describe_gauge!(
        OLDEST_CALL_WAIT_SECONDS,
        Unit::Seconds,
        "How long the longest-waiting call has waited so far (0 when none is waiting)."
    );
    describe_gauge!(
        AGENTS,
        Unit::Count,
        "Agents of the queue right now, by state: busy and acw on this queue's calls, busy_other logged in here but on a call of another of their queues (logged_in counts every logged-in agent)."
    );
    describe_gauge!(
        SERVICE_LEVEL_TARGET_RATIO,
        "The queue's configured service-level target, 0-1 (e.g. 0.8 = 80 %)."
    );
    describe_gauge!(
        SERVICE_LEVEL_THRESHOLD_SECONDS,
        Unit::Seconds,
        "The queue's configured service-level threshold: answers within it count as in service level."
    );

    // Service health.
    describe_counter!(
        EVENTS_TOTAL,
        Unit::Count,
        "CTI events processed, by result: applied, duplicate (redelivery, dropped), late (beyond allowed_lateness, dropped), rejected (see acd_events_rejected_total)."
    );
    describe_counter!(
        EVENTS_REJECTED_TOTAL,
        Unit::Count,
        "CTI events rejected, by reason; a rising rate means a CTI source sends events acdstream cannot use."
    );
    describe_gauge!(
        EVENTS_PENDING,
        Unit::Count,
        "Call events held until their call's offered event arrives."
    );
    describe_gauge!(QUEUES, Unit::Count, "Queues currently tracked.");
    describe_histogram!(
        EVENT_APPLY_LATENCY_SECONDS,
        Unit::Seconds,
        "Time from receiving an event to its effect being applied to the queue state."
    );
    describe_gauge!(
        SNAPSHOT_AGE_SECONDS,
        Unit::Seconds,
        "Age of the oldest published KPI snapshot; growing values mean the KPIs shown are stale."
    );
    describe_gauge!(
        PROCESS_RESIDENT_MEMORY_BYTES,
        Unit::Bytes,
        "Resident memory of the acdstream process."
    );
    describe_counter!(
        HTTP_CONNECTIONS_REFUSED_TOTAL,
        Unit::Count,
        "HTTP connections closed on accept because the maximum were open already (a flood of clients, or clients that never close)."
    );
    describe_gauge!(
        BUILD_INFO,
        "Always 1; the version label shows the running acdstream version."
    );
    describe_gauge!(
        REQUIRED_AGENTS,
        Unit::Count,
        "Agents needed to meet the service-level target at the last 15 minutes' arrival rate and handle time (Erlang C)."
    );
    describe_gauge!(
        STAFFED_AGENTS,
        Unit::Count,
        "Agents ready, busy or in after-call work on this queue now (not those busy on another queue's call)."
    );
    describe_gauge!(
        PREDICTED_SERVICE_LEVEL_RATIO,
        "Service level the agents staffed now should achieve at the current load (Erlang C); 0 when overloaded."
    );
    describe_gauge!(
        PREDICTED_ASA_SECONDS,
        Unit::Seconds,
        "Average speed of answer the agents staffed now should achieve (Erlang C); +Inf when the load exceeds them."
    );
    describe_gauge!(
        SURGE_ACTIVE,
        "1 while a surge episode is open on the queue: arrivals reached the surge factor times the baseline with the service level below target, and it has not recovered to target."
    );
    describe_gauge!(
        SURGE_AGE_SECONDS,
        Unit::Seconds,
        "Age of the open surge episode (0 with none): how long the floor has had to respond."
    );
    describe_gauge!(
        SURGE_RESPONSE_LIMIT_SECONDS,
        Unit::Seconds,
        "The queue's surge response limit: an open episode this old raises SurgeResponseExceeded."
    );
    describe_gauge!(
        SURGE_RESPONSE_EXCEEDED,
        "1 while the open surge episode is older than the response limit (SurgeResponseExceeded)."
    );
    describe_gauge!(
        SURGE_BASELINE_PER_MINUTE,
        "Arrivals per minute the short window is compared with: the trailing rate before it, or the forecast (NaN until the baseline window has been watched)."
    );
    describe_gauge!(
        ARRIVAL_RATE_PER_MINUTE,
        "Calls offered per minute over the window."
    );
    describe_histogram!(
        SURGE_RESPONSE_SECONDS,
        Unit::Seconds,
        "Surge response time of finished episodes: onset until the service level was back at target."
    );
    describe_counter!(
        SURGE_EPISODES_TOTAL,
        Unit::Count,
        "Finished surge episodes by outcome: responded (service level recovered) or subsided (arrivals fell back first)."
    );
    describe_counter!(
        SURGES_ABSORBED_TOTAL,
        Unit::Count,
        "Surges the floor absorbed: arrivals reached the surge factor times the baseline while the service level was at target, so no episode opened (counted once per rise)."
    );
    describe_gauge!(
        ALERTS_FIRING,
        "1 while the alert is firing, as evaluated by acdstream itself."
    );
    describe_counter!(
        ALERT_TRANSITIONS_TOTAL,
        Unit::Count,
        "Alert transitions evaluated by acdstream, by alert and state (firing, resolved)."
    );
    describe_counter!(
        ALERT_DELIVERIES_TOTAL,
        Unit::Count,
        "Alert notifications sent, by channel (kafka, alertmanager) and result (delivered, failed)."
    );
    describe_gauge!(
        SOURCE_UP,
        "1 while acdstream is connected to a Kafka broker; 0 means the KPIs shown are stale."
    );
    describe_gauge!(
        LAST_EVENT_AGE_SECONDS,
        Unit::Seconds,
        "Time since the last event was consumed."
    );
    describe_gauge!(
        CONSUMER_LAG,
        Unit::Count,
        "Events in the partition not yet consumed; a growing lag means acdstream falls behind."
    );
    describe_gauge!(
        PARTITIONS,
        Unit::Count,
        "Events-topic partitions owned by this instance (assigned), and those whose state is rebuilt (ready)."
    );
    describe_counter!(
        REBALANCES_TOTAL,
        Unit::Count,
        "Consumer-group rebalances seen by this instance."
    );
    describe_counter!(
        KAFKA_RECORDS_TOTAL,
        Unit::Count,
        "Records produced to Kafka, by role (kpi, dead_letter, checkpoint) and result (delivered, failed)."
    );
    describe_gauge!(
        CHECKPOINT_BYTES,
        Unit::Bytes,
        "Size of the last checkpoint round (all owned partitions)."
    );
    describe_gauge!(
        REBUILD_SECONDS,
        Unit::Seconds,
        "Time the last partition took from assignment to ready (checkpoint restore and catch-up)."
    );
    describe_counter!(
        EVENTS_SKIPPED_TOTAL,
        Unit::Count,
        "Events re-read after a restore that the restored state already held (not counted again)."
    );
}

/// Every metric name, for tests and tooling that check the catalogue.
pub const ALL: [&str; 70] = [
    CALLS_OFFERED_TOTAL,
    CALLS_ANSWERED_TOTAL,
    CALLS_ABANDONED_TOTAL,
    CALLS_SHORT_ABANDONED_TOTAL,
    CALLS_TRANSFERRED_TOTAL,
    CALLS_FLOWED_OUT_TOTAL,
    RING_ATTEMPTS_TOTAL,
    RING_NO_ANSWER_TOTAL,
    RING_ABANDONED_TOTAL,
    MEMBER_UNAVAILABLE_TOTAL,
    CALLS_EXPIRED_TOTAL,
    CALLS_ENDED_BY_RESTART_TOTAL,
    CLOCK_SKEW_TOTAL,
    CALLS_OFFERED,
    CALLS_ANSWERED,
    CALLS_ABANDONED,
    SERVICE_LEVEL_RATIO,
    ASA_SECONDS,
    WAIT_SECONDS,
    ABANDON_RATIO,
    RINGS_PER_ANSWER,
    RING_NO_ANSWER,
    RING_ABANDONED,
    MEMBER_UNAVAILABLE,
    TRANSFER_RATIO,
    TALK_SECONDS,
    HOLD_SECONDS,
    ACW_SECONDS,
    AHT_SECONDS,
    OCCUPANCY_RATIO,
    NOT_READY_RATIO,
    CALLS_WAITING,
    OLDEST_CALL_WAIT_SECONDS,
    AGENTS,
    SERVICE_LEVEL_TARGET_RATIO,
    SERVICE_LEVEL_THRESHOLD_SECONDS,
    EVENTS_TOTAL,
    EVENTS_REJECTED_TOTAL,
    EVENTS_PENDING,
    QUEUES,
    EVENT_APPLY_LATENCY_SECONDS,
    SNAPSHOT_AGE_SECONDS,
    HTTP_CONNECTIONS_REFUSED_TOTAL,
    BUILD_INFO,
    PROCESS_RESIDENT_MEMORY_BYTES,
    REQUIRED_AGENTS,
    STAFFED_AGENTS,
    PREDICTED_SERVICE_LEVEL_RATIO,
    PREDICTED_ASA_SECONDS,
    SURGE_ACTIVE,
    SURGE_AGE_SECONDS,
    SURGE_RESPONSE_LIMIT_SECONDS,
    SURGE_RESPONSE_EXCEEDED,
    SURGE_BASELINE_PER_MINUTE,
    ARRIVAL_RATE_PER_MINUTE,
    SURGE_RESPONSE_SECONDS,
    SURGE_EPISODES_TOTAL,
    SURGES_ABSORBED_TOTAL,
    ALERTS_FIRING,
    ALERT_TRANSITIONS_TOTAL,
    ALERT_DELIVERIES_TOTAL,
    SOURCE_UP,
    LAST_EVENT_AGE_SECONDS,
    CONSUMER_LAG,
    PARTITIONS,
    REBALANCES_TOTAL,
    KAFKA_RECORDS_TOTAL,
    CHECKPOINT_BYTES,
    REBUILD_SECONDS,
    EVENTS_SKIPPED_TOTAL,
];

#[cfg(test)]
mod tests;
