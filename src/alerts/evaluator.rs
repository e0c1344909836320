//! The alert evaluator: one state machine per (alert, queue), advanced by each batch of KPI
//! snapshots — pure, with `now` passed in, so replay and tests drive it in any time.
//!
//! ```text
//!             breached               breached for `for`
//! inactive ──────────────▶ pending ─────────────────────▶ firing ──▶ resolved (→ inactive)
//!     ▲                       │ not breached                 │ back past `clear`, no data,
//!     └───────────────────────┘                              │ rule disabled, queue gone
//! ```
//!
//! A value that is absent (`None`: nothing to divide by), NaN, or below the volume guard never
//! fires, and resolves a firing alert: there is no evidence left that the condition holds.
//! (A queue whose calls all wait unanswered has no ASA; OldestWaitHigh covers that case.)
//!
//! Only queues with a pending or firing alert are kept, so a quiet floor costs one check per
//! rule and queue and no allocation.

use std::collections::{HashMap, VecDeque};

use super::rules::{AlertSettings, QueueRules, ThresholdRule};
use super::{number, percent, span, Alert, AlertName, AlertState, Severity, Transition};
use crate::event::Millis;
use crate::kpi::{KpiSnapshot, WindowKpis};

/// The rejected-events ratio is taken over this trailing window.
pub const REJECTED_WINDOW_MS: Millis = 5 * 60_000;

/// The service's own health at `now`, as far as it applies to the running pipeline.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct HealthInputs {
    /// Whether the event source is connected; `None` where there is no such source (the demo's
    /// simulator), which turns SourceStalled off.
    pub source_up: Option<bool>,
    /// Time since the last event was consumed; `None` before the first one.
    pub last_event_age_ms: Option<Millis>,
    /// Events not yet consumed, summed over the partitions this instance owns; `None` without
    /// Kafka.
    pub consumer_lag: Option<u64>,
    /// Every event processed since start (applied, duplicate, late, rejected), monotonic.
    pub events_total: u64,
    /// Of those, rejected.
    pub rejected_total: u64,
}

/// Queue alerts, in the order their state machines are kept and their transitions reported.
const QUEUE_ALERTS: [AlertName; 7] = [
    AlertName::SurgeResponseExceeded,
    AlertName::ServiceLevelBelowTarget,
    AlertName::AsaHigh,
    AlertName::AbandonRateHigh,
    AlertName::OldestWaitHigh,
    AlertName::NotReadyHigh,
    AlertName::RingsPerAnswerHigh,
];

const HEALTH_ALERTS: [AlertName; 3] = [
    AlertName::SourceStalled,
    AlertName::ConsumerLagHigh,
    AlertName::RejectedEventsHigh,
];

#[derive(Debug, Clone, PartialEq)]
enum Phase {
    Pending { since: Millis },
    Firing(Alert),
}

#[derive(Debug, Default)]
struct QueueSlots {
    slots: [Option<Phase>; QUEUE_ALERTS.len()],
    /// The evaluation that last saw this queue in the snapshots.
    seen: u64,
}

/// Totals at one evaluation, for the rejected ratio.
#[derive(Debug, Clone, Copy)]
struct Sample {
    at: Millis,
    events: u64,
    rejected: u64,
}

/// Holds every pending and firing alert between evaluations.
#[derive(Debug, Default)]
pub struct AlertEvaluator {
    queues: HashMap<String, QueueSlots>,
    health: [Option<Phase>; HEALTH_ALERTS.len()],
    evaluations: u64,
    /// Oldest first; the front is the newest sample at or before `now` − the window.
    samples: VecDeque<Sample>,
}

impl AlertEvaluator {
    pub fn new() -> AlertEvaluator {
        AlertEvaluator::default()
    }

    /// Advances every alert to `now`: the queue alerts of each snapshot (with that queue's
    /// rules), the alerts of queues no longer in `snapshots` (resolved), then the service
    /// alerts. Returns the transitions in that order, each queue's in [`AlertName`] order.
    ///
    /// `health` is `None` while the source catches up (a backlog being read, partitions
    /// being rebuilt): lag, stalls and rejections of history are not the service's health
    /// now. The service alerts then make no transition: a firing one stays firing, a pending
    /// one starts over, and the rejected ratio's history is dropped, so that their timers and
    /// the ratio start at the first evaluation after the catch-up.
    pub fn evaluate(
        &mut self,
        snapshots: &[KpiSnapshot],
        health: Option<&HealthInputs>,
        now: Millis,
        settings: &AlertSettings,
    ) -> Vec<Transition> {
        let mut out = Vec::new();
        self.evaluations += 1;
        let epoch = self.evaluations;

        for s in snapshots {
            let rules = settings.queue(&s.queue_id);
            let checks = queue_checks(s, rules);
            if !self.queues.contains_key(s.queue_id.as_str()) {
                // The common case: nothing pending or firing and nothing breached.
                if !checks.iter().any(|c| c.breached) {
                    continue;
                }
                self.queues
                    .insert(s.queue_id.clone(), QueueSlots::default());
            }
            let Some(queue) = self.queues.get_mut(s.queue_id.as_str()) else {
                continue;
            };
            queue.seen = epoch;
            for ((slot, check), name) in queue.slots.iter_mut().zip(&checks).zip(QUEUE_ALERTS) {
                let text = |value| queue_text(name, s, rules, value, check.threshold);
                out.extend(step(slot, name, Some(&s.queue_id), check, now, text));
            }
            if queue.slots.iter().all(Option::is_none) {
                self.queues.remove(s.queue_id.as_str());
            }
        }

        let mut gone: Vec<String> = self
            .queues
            .iter()
            .filter(|(_, q)| q.seen != epoch)
            .map(|(id, _)| id.clone())
            .collect();
        gone.sort_unstable();
        for id in gone {
            let Some(queue) = self.queues.remove(&id) else {
                continue;
            };
            for phase in queue.slots.into_iter().flatten() {
                if let Phase::Firing(alert) = phase {
                    out.push(Transition {
                        alert,
                        state: AlertState::Resolved,
                        at: now,
                    });
                }
            }
        }

        let Some(health) = health else {
            for slot in &mut self.health {
                if matches!(slot, Some(Phase::Pending { .. })) {
                    *slot = None;
                }
            }
            self.samples.clear();
            return out;
        };
        let ratio = self.rejected_ratio(health, now);
        let checks = health_checks(health, ratio, settings);
        for ((slot, check), name) in self.health.iter_mut().zip(&checks).zip(HEALTH_ALERTS) {
            let text = |value| health_text(name, value, check.threshold, settings);
            out.extend(step(slot, name, None, check, now, text));
        }
        out
    }

    /// Every alert firing now, for re-sending to Alertmanager and for `/metrics`; in no
    /// particular order.
    pub fn firing(&self) -> impl Iterator<Item = &Alert> {
        self.queues
            .values()
            .flat_map(|q| q.slots.iter())
            .chain(self.health.iter())
            .filter_map(|phase| match phase {
                Some(Phase::Firing(alert)) => Some(alert),
                _ => None,
            })
    }

    /// Rejected / all events since the oldest sample kept, which covers the window once the
    /// evaluator has run that long. `None` with no events in it.
    fn rejected_ratio(&mut self, h: &HealthInputs, now: Millis) -> Option<f64> {
        // Totals that go back (a restarted engine) or time that does: start over rather than
        // subtract across the gap.
        if let Some(last) = self.samples.back() {
            if h.events_total < last.events || h.rejected_total < last.rejected || now < last.at {
                self.samples.clear();
            }
        }
        self.samples.push_back(Sample {
            at: now,
            events: h.events_total,
            rejected: h.rejected_total,
        });
        let start = now - REJECTED_WINDOW_MS;
        while self.samples.len() >= 2 && self.samples[1].at <= start {
            self.samples.pop_front();
        }
        let first = self.samples.front()?;
        let events = h.events_total - first.events;
        let rejected = h.rejected_total - first.rejected;
        (events > 0).then(|| rejected as f64 / events as f64)
    }
}

/// One rule's verdict at `now`.
#[derive(Debug, Clone, Copy)]
struct Check {
    /// Beyond the threshold: starts (or keeps) the pending period.
    breached: bool,
    /// Back past the clear level, or no data: resolves a firing alert.
    cleared: bool,
    /// Finite whenever `breached`.
    value: Option<f64>,
    threshold: f64,
    for_ms: Millis,
    severity: Severity,
}

impl Check {
    /// A disabled rule, or one without data: never fires, resolves what fires.
    fn off() -> Check {
        Check {
            breached: false,
            cleared: true,
            value: None,
            threshold: f64::NAN,
            for_ms: 0,
            severity: Severity::Ticket,
        }
    }

    fn above(
        value: Option<f64>,
        threshold: f64,
        clear: f64,
        for_ms: Millis,
        severity: Severity,
    ) -> Check {
        let value = value.filter(|v| v.is_finite());
        Check {
            breached: value.is_some_and(|v| v > threshold),
            cleared: value.is_none_or(|v| v <= clear),
            value,
            threshold,
            for_ms,
            severity,
        }
    }

    fn below(
        value: Option<f64>,
        threshold: f64,
        clear: f64,
        for_ms: Millis,
        severity: Severity,
    ) -> Check {
        let value = value.filter(|v| v.is_finite());
        Check {
            breached: value.is_some_and(|v| v < threshold),
            cleared: value.is_none_or(|v| v >= clear),
            value,
            threshold,
            for_ms,
            severity,
        }
    }

    /// A condition decided elsewhere (the surge detector, the stall timer); `value` is what
    /// the alert reports.
    fn flag(on: bool, value: f64, threshold: f64, severity: Severity) -> Check {
        let on = on && value.is_finite();
        Check {
            breached: on,
            cleared: !on,
            value: value.is_finite().then_some(value),
            threshold,
            for_ms: 0,
            severity,
        }
    }
}

struct Text {
    summary: String,
    description: String,
}

/// Advances one state machine; returns the transition it made, if any. `text` renders the
/// summary and description for a value, and is only called for a firing alert.
fn step(
    slot: &mut Option<Phase>,
    name: AlertName,
    queue: Option<&str>,
    check: &Check,
    now: Millis,
    text: impl Fn(f64) -> Text,
) -> Option<Transition> {
    let since = match slot {
        Some(Phase::Firing(alert)) => {
            if check.cleared {
                let Some(Phase::Firing(alert)) = slot.take() else {
                    unreachable!("matched as firing above");
                };
                return Some(Transition {
                    alert,
                    state: AlertState::Resolved,
                    at: now,
                });
            }
            // Still firing: resends carry the current value.
            if let Some(value) = check.value.filter(|&v| v != alert.value) {
                let Text {
                    summary,
                    description,
                } = text(value);
                alert.value = value;
                alert.summary = summary;
                alert.description = description;
            }
            return None;
        }
        Some(Phase::Pending { since }) => *since,
        None => now,
    };
    let value = match check.value {
        Some(value) if check.breached => value,
        _ => {
            *slot = None;
            return None;
        }
    };
    if now - since < check.for_ms {
        *slot = Some(Phase::Pending { since });
        return None;
    }
    let Text {
        summary,
        description,
    } = text(value);
    let alert = Alert {
        name,
        queue: queue.map(str::to_owned),
        severity: check.severity,
        starts_at: now,
        value,
        threshold: check.threshold,
        summary,
        description,
    };
    *slot = Some(Phase::Firing(alert.clone()));
    Some(Transition {
        alert,
        state: AlertState::Firing,
        at: now,
    })
}

/// The verdict of each queue rule, in [`QUEUE_ALERTS`] order.
fn queue_checks(s: &KpiSnapshot, r: &QueueRules) -> [Check; QUEUE_ALERTS.len()] {
    let windowed = |enabled: bool, window: &str, kpi: fn(&WindowKpis) -> Option<f64>| {
        if !enabled {
            return None;
        }
        s.windows
            .get(window)
            .filter(|w| w.offered >= r.min_calls)
            .and_then(kpi)
    };
    let threshold = |rule: &ThresholdRule, kpi: fn(&WindowKpis) -> Option<f64>| {
        Check::above(
            windowed(rule.enabled, &rule.window, kpi),
            rule.threshold,
            rule.clear,
            rule.for_ms,
            rule.severity,
        )
    };
    let surge = if r.surge.enabled {
        Check::flag(
            s.surge.response_exceeded,
            s.surge.age_seconds,
            s.surge.response_limit_seconds,
            r.surge.severity,
        )
    } else {
        Check::off()
    };
    let sl = &r.service_level;
    let wait = &r.oldest_wait;
    [
        surge,
        Check::below(
            windowed(sl.enabled, &sl.window, |w| w.service_level),
            s.sl_target,
            sl_clear(s.sl_target, sl.clear_margin),
            sl.for_ms,
            sl.severity,
        ),
        threshold(&r.asa, |w| w.asa_seconds),
        threshold(&r.abandon_rate, |w| w.abandon_rate),
        Check::above(
            wait.enabled.then_some(s.now.oldest_wait_seconds),
            wait.threshold,
            wait.clear,
            wait.for_ms,
            wait.severity,
        ),
        threshold(&r.not_ready, |w| w.not_ready_ratio),
        threshold(&r.rings_per_answer, |w| w.rings_per_answer),
    ]
}

/// Where a service-level alert resolves: target + margin, at most 100 %. Rounded to 1e-9 so
/// that 0.8 + 0.02 is the 0.82 that 41 of 50 calls make, not 0.8200000000000001.
pub(crate) fn sl_clear(target: f64, margin: f64) -> f64 {
    (((target + margin) * 1e9).round() / 1e9).min(1.0)
}

/// The verdict of each service rule, in [`HEALTH_ALERTS`] order.
fn health_checks(
    h: &HealthInputs,
    rejected_ratio: Option<f64>,
    settings: &AlertSettings,
) -> [Check; HEALTH_ALERTS.len()] {
    let stalled = &settings.source_stalled;
    let lag = &settings.consumer_lag;
    let rejected = &settings.rejected_events;
    let stall = match (stalled.enabled, h.source_up, h.last_event_age_ms) {
        (true, Some(true), Some(age)) => Check::flag(
            age >= stalled.after_ms,
            age as f64 / 1_000.0,
            stalled.after_ms as f64 / 1_000.0,
            stalled.severity,
        ),
        _ => Check::off(),
    };
    let max = lag.max as f64;
    [
        stall,
        Check::above(
            h.consumer_lag.filter(|_| lag.enabled).map(|l| l as f64),
            max,
            max,
            lag.for_ms,
            lag.severity,
        ),
        Check::above(
            rejected_ratio.filter(|_| rejected.enabled),
            rejected.max_ratio,
            rejected.max_ratio,
            rejected.for_ms,
            rejected.severity,
        ),
    ]
}

/// " for at least 2m" (nothing for a rule that fires at once).
fn lasting(for_ms: Millis) -> String {
    if for_ms > 0 {
        format!(" for at least {}", span(for_ms as f64 / 1_000.0))
    } else {
        String::new()
    }
}

fn queue_text(
    name: AlertName,
    s: &KpiSnapshot,
    r: &QueueRules,
    value: f64,
    threshold: f64,
) -> Text {
    let q = &s.queue_id;
    let staffing = s.staffing.map(|st| {
        (
            format!(
                "; needs {} agents, {} staffed",
                st.required_agents, st.staffed_agents
            ),
            format!(
                " Erlang C needs {} agents for the target at {} calls/min and {} s handle \
                 time; {} are staffed.",
                st.required_agents,
                number(st.arrival_rate_per_minute),
                number(st.aht_seconds),
                st.staffed_agents
            ),
        )
    });
    let (staff_short, staff_long) = staffing.unwrap_or_default();
    fn window_rule(rule: &ThresholdRule) -> (&str, String, f64) {
        (rule.window.as_str(), lasting(rule.for_ms), rule.clear)
    }
    match name {
        AlertName::SurgeResponseExceeded => {
            let surge = &s.surge;
            let baseline = surge
                .baseline_per_minute
                .map(|b| format!(" vs {b:.1}/min baseline"))
                .unwrap_or_default();
            Text {
                summary: format!(
                    "{q}: surge unanswered for {} (arrivals {:.1}/min{baseline}){staff_short}",
                    span(value),
                    surge.rate_per_minute
                ),
                description: format!(
                    "Arrivals on {q} surged {} ago ({:.1} calls/min{baseline}) and the service \
                     level has not recovered to its target of {} within the response limit of \
                     {}.{staff_long} Move agents to the queue, bring agents back from not ready \
                     or breaks, or open overflow routing.",
                    span(value),
                    surge.rate_per_minute,
                    percent(s.sl_target),
                    span(threshold)
                ),
            }
        }
        AlertName::ServiceLevelBelowTarget => {
            let rule = &r.service_level;
            Text {
                summary: format!(
                    "{q}: service level {} {} below target {}",
                    rule.window,
                    percent(value),
                    percent(threshold)
                ),
                description: format!(
                    "{} of the calls of the last {} on {q} were answered within {} s, below the \
                     target of {}{}; the alert resolves at {}.{staff_long} Check staffing \
                     against arrivals, agents in not ready, and whether a surge is open.",
                    percent(value),
                    rule.window,
                    number(s.sl_threshold_seconds),
                    percent(threshold),
                    lasting(rule.for_ms),
                    percent(sl_clear(threshold, rule.clear_margin))
                ),
            }
        }
        AlertName::AsaHigh => {
            let (window, lasting, clear) = window_rule(&r.asa);
            Text {
                summary: format!(
                    "{q}: ASA {window} {} s above {} s",
                    number(value),
                    number(threshold)
                ),
                description: format!(
                    "Answered calls on {q} waited {} s on average over the last {window}, above \
                     {} s{lasting}; the alert resolves at {} s. Callers wait too long: check \
                     staffing against arrivals and agents in not ready.",
                    number(value),
                    number(threshold),
                    number(clear)
                ),
            }
        }
        AlertName::AbandonRateHigh => {
            let (window, lasting, clear) = window_rule(&r.abandon_rate);
            Text {
                summary: format!(
                    "{q}: abandon rate {window} {} above {}",
                    percent(value),
                    percent(threshold)
                ),
                description: format!(
                    "{} of the callers on {q} hung up while waiting over the last {window}, \
                     above {}{lasting}; the alert resolves at {}. Check the waits (ASA, oldest \
                     wait) and staffing.",
                    percent(value),
                    percent(threshold),
                    percent(clear)
                ),
            }
        }
        AlertName::OldestWaitHigh => {
            let rule = &r.oldest_wait;
            Text {
                summary: format!(
                    "{q}: oldest call waiting {}, above {}",
                    span(value),
                    span(threshold)
                ),
                description: format!(
                    "A caller on {q} has been waiting {}, above {}{}; the alert resolves once \
                     the longest wait is {} or less. {} calls are waiting; check that agents \
                     are ready and that calls are routed to them.",
                    span(value),
                    span(threshold),
                    lasting(rule.for_ms),
                    span(rule.clear),
                    s.now.calls_waiting
                ),
            }
        }
        AlertName::NotReadyHigh => {
            let (window, lasting, clear) = window_rule(&r.not_ready);
            Text {
                summary: format!(
                    "{q}: not ready {window} {} above {}",
                    percent(value),
                    percent(threshold)
                ),
                description: format!(
                    "Agents of {q} spent {} of their logged-in time not ready over the last \
                     {window}, above {}{lasting}; the alert resolves at {}. Check breaks and \
                     not-ready reasons against the schedule.",
                    percent(value),
                    percent(threshold),
                    percent(clear)
                ),
            }
        }
        AlertName::RingsPerAnswerHigh => {
            let (window, lasting, clear) = window_rule(&r.rings_per_answer);
            Text {
                summary: format!(
                    "{q}: rings per answer {window} {} above {}",
                    number(value),
                    number(threshold)
                ),
                description: format!(
                    "Calls on {q} rang {} times on average before an answer over the last \
                     {window}, above {}{lasting}; the alert resolves at {}. Agents let calls \
                     ring out: check for agents ready but away, and phone or routing problems.",
                    number(value),
                    number(threshold),
                    number(clear)
                ),
            }
        }
        AlertName::SourceStalled | AlertName::ConsumerLagHigh | AlertName::RejectedEventsHigh => {
            unreachable!("{name} is not a queue alert")
        }
    }
}

fn health_text(name: AlertName, value: f64, threshold: f64, settings: &AlertSettings) -> Text {
    match name {
        AlertName::SourceStalled => Text {
            summary: format!(
                "acdstream: no CTI event for {} while the source is up",
                span(value)
            ),
            description: format!(
                "acdstream is connected to Kafka but has consumed no event for {} (limit {}): \
                 every KPI is going stale. Check that the CTI producer is running and writing \
                 to the events topic.",
                span(value),
                span(threshold)
            ),
        },
        AlertName::ConsumerLagHigh => Text {
            summary: format!(
                "acdstream: consumer lag {} events above {}",
                number(value),
                number(threshold)
            ),
            description: format!(
                "{} events are waiting to be consumed, above {}{}: the KPIs trail real time. \
                 Check acd_event_apply_latency_seconds and the host's CPU, or run more \
                 instances (up to the events topic's partition count).",
                number(value),
                number(threshold),
                lasting(settings.consumer_lag.for_ms)
            ),
        },
        AlertName::RejectedEventsHigh => Text {
            summary: format!(
                "acdstream: {} of events rejected over {}, above {}",
                percent(value),
                span(REJECTED_WINDOW_MS as f64 / 1_000.0),
                percent(threshold)
            ),
            description: format!(
                "{} of the events of the last {} were rejected, above {}{}: the KPIs undercount. \
                 acd_events_rejected_total says why by reason; the dead-letter topic holds the \
                 payloads. Check the CTI producer's event format.",
                percent(value),
                span(REJECTED_WINDOW_MS as f64 / 1_000.0),
                percent(threshold),
                lasting(settings.rejected_events.for_ms)
            ),
        },
        _ => unreachable!("{name} is a queue alert"),
    }
}

#[cfg(test)]
mod tests;
