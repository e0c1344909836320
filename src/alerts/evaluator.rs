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
    pub fn evaluate(
        &mut self,
        snapshots: &[KpiSnapshot],
        health: &HealthInputs,
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
fn sl_clear(target: f64, margin: f64) -> f64 {
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
mod tests {
    use super::*;
    use crate::kpi::{NowKpis, Staffing, SurgeSnapshot, Windows};

    const MIN: Millis = 60_000;
    const T0: Millis = 1_700_000_000_000;

    /// A queue with `offered` calls in its 15m window and the given values; nothing else bad.
    fn snap(queue: &str, offered: u64, f: impl FnOnce(&mut WindowKpis)) -> KpiSnapshot {
        let mut w = WindowKpis {
            offered,
            service_level: Some(0.9),
            asa_seconds: Some(8.0),
            abandon_rate: Some(0.01),
            not_ready_ratio: Some(0.02),
            rings_per_answer: Some(1.1),
            ..WindowKpis::default()
        };
        f(&mut w);
        KpiSnapshot {
            queue_id: queue.into(),
            as_of: T0,
            sl_threshold_seconds: 20.0,
            sl_target: 0.8,
            now: NowKpis::default(),
            windows: Windows(vec![
                ("5m".into(), WindowKpis::default()),
                ("15m".into(), w),
            ]),
            staffing: None,
            surge: SurgeSnapshot::default(),
        }
    }

    fn asa(queue: &str, seconds: f64) -> KpiSnapshot {
        snap(queue, 40, |w| w.asa_seconds = Some(seconds))
    }

    fn run(
        ev: &mut AlertEvaluator,
        snapshots: &[KpiSnapshot],
        at: Millis,
        settings: &AlertSettings,
    ) -> Vec<(AlertName, Option<String>, AlertState)> {
        ev.evaluate(snapshots, &HealthInputs::default(), at, settings)
            .into_iter()
            .map(|t| (t.alert.name, t.alert.queue, t.state))
            .collect()
    }

    fn fired(name: AlertName, queue: &str) -> (AlertName, Option<String>, AlertState) {
        (name, Some(queue.into()), AlertState::Firing)
    }

    fn resolved(name: AlertName, queue: &str) -> (AlertName, Option<String>, AlertState) {
        (name, Some(queue.into()), AlertState::Resolved)
    }

    #[test]
    fn an_alert_is_pending_until_its_for_duration_has_passed() {
        let settings = AlertSettings::default();
        let mut ev = AlertEvaluator::new();
        // ASA 34 s > 20 s from T0; `for` is 5m.
        assert!(run(&mut ev, &[asa("sales", 34.0)], T0, &settings).is_empty());
        assert!(run(&mut ev, &[asa("sales", 30.0)], T0 + 4 * MIN, &settings).is_empty());
        assert_eq!(ev.firing().count(), 0, "pending is not firing");
        let t = ev.evaluate(
            &[asa("sales", 34.0)],
            &HealthInputs::default(),
            T0 + 5 * MIN,
            &settings,
        );
        assert_eq!(t.len(), 1);
        let a = &t[0].alert;
        assert_eq!((t[0].state, t[0].at), (AlertState::Firing, T0 + 5 * MIN));
        assert_eq!((a.name, a.severity), (AlertName::AsaHigh, Severity::Ticket));
        assert_eq!(
            (a.starts_at, a.value, a.threshold),
            (T0 + 5 * MIN, 34.0, 20.0)
        );
        assert_eq!(a.summary, "sales: ASA 15m 34 s above 20 s");
        assert!(
            a.description
                .contains("for at least 5m; the alert resolves at 18 s"),
            "{}",
            a.description
        );
        assert_eq!(ev.firing().count(), 1);
    }

    #[test]
    fn a_pending_alert_that_recovers_starts_its_for_again() {
        let settings = AlertSettings::default();
        let mut ev = AlertEvaluator::new();
        run(&mut ev, &[asa("sales", 34.0)], T0, &settings);
        // Back to 20 s (not above the threshold) at 4 min: the pending period ends.
        run(&mut ev, &[asa("sales", 20.0)], T0 + 4 * MIN, &settings);
        assert!(run(&mut ev, &[asa("sales", 34.0)], T0 + 5 * MIN, &settings).is_empty());
        assert!(run(&mut ev, &[asa("sales", 34.0)], T0 + 9 * MIN, &settings).is_empty());
        assert_eq!(
            run(&mut ev, &[asa("sales", 34.0)], T0 + 10 * MIN, &settings),
            [fired(AlertName::AsaHigh, "sales")]
        );
    }

    #[test]
    fn a_value_between_threshold_and_clear_neither_fires_again_nor_resolves() {
        let settings = AlertSettings::default();
        let mut ev = AlertEvaluator::new();
        run(&mut ev, &[asa("sales", 25.0)], T0, &settings);
        assert_eq!(
            run(&mut ev, &[asa("sales", 25.0)], T0 + 5 * MIN, &settings),
            [fired(AlertName::AsaHigh, "sales")]
        );
        // Hovering at 19–21 s, between clear (18) and threshold (20): no transition.
        for (i, v) in [19.0, 21.0, 19.5, 20.5, 18.5].into_iter().enumerate() {
            let at = T0 + (6 + i as i64) * MIN;
            assert!(
                run(&mut ev, &[asa("sales", v)], at, &settings).is_empty(),
                "{v}"
            );
        }
        // The firing alert reports the latest value.
        let a = ev.firing().next().unwrap();
        assert_eq!((a.value, a.starts_at), (18.5, T0 + 5 * MIN));
        assert_eq!(a.summary, "sales: ASA 15m 18.5 s above 20 s");
        // 18 s is back at the clear level.
        assert_eq!(
            run(&mut ev, &[asa("sales", 18.0)], T0 + 12 * MIN, &settings),
            [resolved(AlertName::AsaHigh, "sales")]
        );
        assert_eq!(ev.firing().count(), 0);
    }

    #[test]
    fn the_resolved_transition_ends_at_its_time_and_keeps_the_last_firing_alert() {
        let settings = AlertSettings::default();
        let mut ev = AlertEvaluator::new();
        run(&mut ev, &[asa("sales", 25.0)], T0, &settings);
        run(&mut ev, &[asa("sales", 26.0)], T0 + 5 * MIN, &settings);
        let t = ev.evaluate(
            &[asa("sales", 10.0)],
            &HealthInputs::default(),
            T0 + 7 * MIN,
            &settings,
        );
        assert_eq!(t[0].state, AlertState::Resolved);
        assert_eq!(t[0].ends_at(), Some(T0 + 7 * MIN));
        assert_eq!(
            (t[0].alert.value, t[0].alert.starts_at),
            (26.0, T0 + 5 * MIN)
        );
    }

    #[test]
    fn the_volume_guard_keeps_quiet_queues_from_firing_and_resolves_when_volume_drops() {
        let settings = AlertSettings::default();
        let mut ev = AlertEvaluator::new();
        // 9 calls offered, ASA 60 s and SL 10 %: below min_calls 10, nothing even pends.
        let quiet = snap("night", 9, |w| {
            w.asa_seconds = Some(60.0);
            w.service_level = Some(0.1);
        });
        for m in 0..=10 {
            assert!(run(
                &mut ev,
                std::slice::from_ref(&quiet),
                T0 + m * MIN,
                &settings
            )
            .is_empty());
        }
        // 10 calls: the guard passes; SL fires after its 2m, ASA after 5m.
        let busy = snap("night", 10, |w| {
            w.asa_seconds = Some(60.0);
            w.service_level = Some(0.1);
        });
        run(
            &mut ev,
            std::slice::from_ref(&busy),
            T0 + 11 * MIN,
            &settings,
        );
        assert_eq!(
            run(
                &mut ev,
                std::slice::from_ref(&busy),
                T0 + 13 * MIN,
                &settings
            ),
            [fired(AlertName::ServiceLevelBelowTarget, "night")]
        );
        assert_eq!(
            run(&mut ev, &[busy], T0 + 16 * MIN, &settings),
            [fired(AlertName::AsaHigh, "night")]
        );
        // Volume drops below the guard: no evidence left, both resolve.
        assert_eq!(
            run(&mut ev, &[quiet], T0 + 17 * MIN, &settings),
            [
                resolved(AlertName::ServiceLevelBelowTarget, "night"),
                resolved(AlertName::AsaHigh, "night")
            ]
        );
    }

    #[test]
    fn service_level_is_judged_against_the_queue_target_with_a_clear_margin() {
        let settings = AlertSettings::default();
        let mut ev = AlertEvaluator::new();
        let sl = |v: f64| snap("sales", 40, |w| w.service_level = Some(v));
        // Target 0.8: 0.8 itself is not below it.
        assert!(run(&mut ev, &[sl(0.8)], T0, &settings).is_empty());
        run(&mut ev, &[sl(0.625)], T0 + MIN, &settings);
        let t = ev.evaluate(
            &[sl(0.625)],
            &HealthInputs::default(),
            T0 + 3 * MIN,
            &settings,
        );
        let a = &t[0].alert;
        assert_eq!(
            (a.name, a.severity),
            (AlertName::ServiceLevelBelowTarget, Severity::Page)
        );
        assert_eq!((a.value, a.threshold), (0.625, 0.8));
        assert_eq!(
            a.summary,
            "sales: service level 15m 62.5 % below target 80 %"
        );
        assert!(
            a.description.contains("answered within 20 s"),
            "{}",
            a.description
        );
        assert!(
            a.description.contains("resolves at 82 %"),
            "{}",
            a.description
        );
        // 0.81 is back at target but not at target + 0.02: still firing.
        assert!(run(&mut ev, &[sl(0.81)], T0 + 4 * MIN, &settings).is_empty());
        assert_eq!(
            run(&mut ev, &[sl(0.82)], T0 + 5 * MIN, &settings),
            [resolved(AlertName::ServiceLevelBelowTarget, "sales")]
        );
    }

    #[test]
    fn a_clear_level_above_100_percent_is_capped() {
        let settings = AlertSettings::default();
        let mut ev = AlertEvaluator::new();
        let sl = |v: f64| {
            let mut s = snap("vip", 40, |w| w.service_level = Some(v));
            s.sl_target = 0.99;
            s
        };
        run(&mut ev, &[sl(0.9)], T0, &settings);
        assert_eq!(run(&mut ev, &[sl(0.9)], T0 + 2 * MIN, &settings).len(), 1);
        // Clear at min(0.99 + 0.02, 1) = 1.
        assert!(run(&mut ev, &[sl(0.995)], T0 + 3 * MIN, &settings).is_empty());
        assert_eq!(run(&mut ev, &[sl(1.0)], T0 + 4 * MIN, &settings).len(), 1);
    }

    #[test]
    fn none_and_nan_never_fire_and_resolve_a_firing_alert() {
        let settings = AlertSettings::default();
        let mut ev = AlertEvaluator::new();
        let nan = snap("sales", 40, |w| {
            w.asa_seconds = Some(f64::NAN);
            w.service_level = None;
            w.rings_per_answer = Some(f64::INFINITY);
        });
        for m in 0..=10 {
            assert!(run(&mut ev, std::slice::from_ref(&nan), T0 + m * MIN, &settings).is_empty());
        }
        run(&mut ev, &[asa("sales", 40.0)], T0 + 11 * MIN, &settings);
        assert_eq!(
            run(&mut ev, &[asa("sales", 40.0)], T0 + 16 * MIN, &settings).len(),
            1
        );
        let none = snap("sales", 40, |w| w.asa_seconds = None);
        assert_eq!(
            run(&mut ev, &[none], T0 + 17 * MIN, &settings),
            [resolved(AlertName::AsaHigh, "sales")]
        );
    }

    #[test]
    fn oldest_wait_fires_at_once_without_a_volume_guard() {
        let settings = AlertSettings::default();
        let mut ev = AlertEvaluator::new();
        let wait = |seconds: f64| {
            let mut s = snap("night", 0, |_| {});
            s.now.oldest_wait_seconds = seconds;
            s.now.calls_waiting = 2;
            s
        };
        assert!(
            run(&mut ev, &[wait(120.0)], T0, &settings).is_empty(),
            "not above"
        );
        let t = ev.evaluate(
            &[wait(155.0)],
            &HealthInputs::default(),
            T0 + 1_000,
            &settings,
        );
        let a = &t[0].alert;
        assert_eq!(
            (a.name, a.severity),
            (AlertName::OldestWaitHigh, Severity::Page)
        );
        assert_eq!(a.summary, "night: oldest call waiting 2m 35s, above 2m");
        assert!(
            a.description.contains("2 calls are waiting"),
            "{}",
            a.description
        );
        assert!(run(&mut ev, &[wait(91.0)], T0 + 2_000, &settings).is_empty());
        assert_eq!(
            run(&mut ev, &[wait(0.0)], T0 + 3_000, &settings),
            [resolved(AlertName::OldestWaitHigh, "night")]
        );
    }

    #[test]
    fn each_threshold_rule_reads_its_own_kpi() {
        let settings = AlertSettings::default();
        let mut ev = AlertEvaluator::new();
        let bad = snap("sales", 40, |w| {
            w.abandon_rate = Some(0.075);
            w.not_ready_ratio = Some(0.082);
            w.rings_per_answer = Some(2.4);
        });
        run(&mut ev, std::slice::from_ref(&bad), T0, &settings);
        let t = ev.evaluate(&[bad], &HealthInputs::default(), T0 + 5 * MIN, &settings);
        let summaries: Vec<_> = t.iter().map(|t| t.alert.summary.as_str()).collect();
        assert_eq!(
            summaries,
            [
                "sales: abandon rate 15m 7.5 % above 5 %",
                "sales: not ready 15m 8.2 % above 6 %",
                "sales: rings per answer 15m 2.4 above 2",
            ]
        );
    }

    fn surging(queue: &str, exceeded: bool, age: f64) -> KpiSnapshot {
        let mut s = snap(queue, 40, |_| {});
        s.surge = SurgeSnapshot {
            active: true,
            onset: Some(T0 - (age * 1_000.0) as Millis),
            age_seconds: age,
            rate_per_minute: 9.6,
            baseline_per_minute: Some(4.0),
            response_limit_seconds: 600.0,
            response_exceeded: exceeded,
        };
        s.staffing = Some(Staffing {
            arrival_rate_per_minute: 9.6,
            aht_seconds: 300.0,
            required_agents: 14,
            staffed_agents: 9,
            predicted_service_level: 0.0,
            predicted_asa_seconds: None,
        });
        s
    }

    #[test]
    fn surge_alert_fires_for_the_queue_whose_response_is_late_and_resolves() {
        let settings = AlertSettings::default();
        let mut ev = AlertEvaluator::new();
        let calm = snap("sales", 40, |_| {});
        // support's surge is 9 min old: open but within the limit.
        assert!(run(
            &mut ev,
            &[calm.clone(), surging("support", false, 540.0)],
            T0,
            &settings
        )
        .is_empty());
        let t = ev.evaluate(
            &[calm.clone(), surging("support", true, 680.0)],
            &HealthInputs::default(),
            T0 + 140_000,
            &settings,
        );
        assert_eq!(t.len(), 1, "{t:?}");
        let a = &t[0].alert;
        assert_eq!(a.queue.as_deref(), Some("support"));
        assert_eq!(
            (a.name, a.severity),
            (AlertName::SurgeResponseExceeded, Severity::Page)
        );
        assert_eq!((a.value, a.threshold), (680.0, 600.0));
        assert_eq!(
            a.summary,
            "support: surge unanswered for 11m 20s (arrivals 9.6/min vs 4.0/min baseline); \
             needs 14 agents, 9 staffed"
        );
        assert!(
            a.description
                .contains("Erlang C needs 14 agents for the target at 9.6 calls/min and 300 s"),
            "{}",
            a.description
        );
        assert!(
            a.description.contains("response limit of 10m"),
            "{}",
            a.description
        );
        // Still late a minute on: no new transition, the age moves on.
        assert!(run(
            &mut ev,
            &[calm.clone(), surging("support", true, 740.0)],
            T0 + 200_000,
            &settings
        )
        .is_empty());
        assert!(ev.firing().next().unwrap().summary.contains("for 12m 20s"));
        // Responded: response_exceeded is false again.
        assert_eq!(
            run(
                &mut ev,
                &[calm, snap("support", 40, |_| {})],
                T0 + 260_000,
                &settings
            ),
            [resolved(AlertName::SurgeResponseExceeded, "support")]
        );
    }

    #[test]
    fn surge_summary_without_baseline_or_staffing_leaves_them_out() {
        let settings = AlertSettings::default();
        let mut ev = AlertEvaluator::new();
        let mut s = surging("support", true, 600.0);
        s.surge.baseline_per_minute = None;
        s.staffing = None;
        let t = ev.evaluate(&[s], &HealthInputs::default(), T0, &settings);
        assert_eq!(
            t[0].alert.summary,
            "support: surge unanswered for 10m (arrivals 9.6/min)"
        );
    }

    #[test]
    fn a_queue_that_disappears_resolves_its_alerts_and_drops_pending_ones() {
        let settings = AlertSettings::default();
        let mut ev = AlertEvaluator::new();
        let both = || {
            let mut b = asa("b", 40.0);
            b.now.oldest_wait_seconds = 200.0;
            vec![b, asa("a", 40.0)]
        };
        assert_eq!(
            run(&mut ev, &both(), T0, &settings),
            [fired(AlertName::OldestWaitHigh, "b")]
        );
        assert_eq!(
            run(&mut ev, &both(), T0 + 5 * MIN, &settings),
            [
                fired(AlertName::AsaHigh, "b"),
                fired(AlertName::AsaHigh, "a")
            ]
        );
        // Only c is left, and starts pending: a's and b's alerts resolve, sorted by queue id,
        // each queue's in alert order.
        assert_eq!(
            run(&mut ev, &[asa("c", 40.0)], T0 + 6 * MIN, &settings),
            [
                resolved(AlertName::AsaHigh, "a"),
                resolved(AlertName::AsaHigh, "b"),
                resolved(AlertName::OldestWaitHigh, "b"),
            ]
        );
        // c goes too: it was only pending, so nothing to resolve.
        assert!(run(&mut ev, &[], T0 + 7 * MIN, &settings).is_empty());
        assert_eq!(ev.firing().count(), 0);
        assert!(ev.queues.is_empty());
    }

    #[test]
    fn a_disabled_rule_never_fires_and_resolves_when_disabled() {
        let mut settings = AlertSettings::default();
        let mut ev = AlertEvaluator::new();
        run(&mut ev, &[asa("sales", 40.0)], T0, &settings);
        assert_eq!(
            run(&mut ev, &[asa("sales", 40.0)], T0 + 5 * MIN, &settings).len(),
            1
        );
        settings.default.asa.enabled = false;
        assert_eq!(
            run(&mut ev, &[asa("sales", 40.0)], T0 + 6 * MIN, &settings),
            [resolved(AlertName::AsaHigh, "sales")]
        );
        for m in 7..20 {
            assert!(run(&mut ev, &[asa("sales", 40.0)], T0 + m * MIN, &settings).is_empty());
        }
    }

    #[test]
    fn per_queue_overrides_apply_to_their_queue_only() {
        let mut settings = AlertSettings::default();
        let mut vip = QueueRules::default();
        vip.asa.threshold = 10.0;
        vip.asa.clear = 8.0;
        vip.asa.for_ms = 0;
        vip.asa.severity = Severity::Page;
        settings.queues.insert("vip".into(), vip);
        let mut ev = AlertEvaluator::new();
        let t = ev.evaluate(
            &[asa("sales", 15.0), asa("vip", 15.0)],
            &HealthInputs::default(),
            T0,
            &settings,
        );
        assert_eq!(t.len(), 1);
        let a = &t[0].alert;
        assert_eq!(a.queue.as_deref(), Some("vip"));
        assert_eq!((a.threshold, a.severity), (10.0, Severity::Page));
        assert_eq!(a.summary, "vip: ASA 15m 15 s above 10 s");
    }

    #[test]
    fn a_rule_on_another_window_reads_that_window() {
        let mut settings = AlertSettings::default();
        settings.default.asa.window = "5m".into();
        settings.default.asa.for_ms = 0;
        let mut ev = AlertEvaluator::new();
        // 15m has ASA 40 s, 5m only 9 calls.
        let mut s = asa("sales", 40.0);
        s.windows.0[0].1 = WindowKpis {
            offered: 9,
            asa_seconds: Some(50.0),
            ..WindowKpis::default()
        };
        assert!(run(&mut ev, &[s.clone()], T0, &settings).is_empty());
        s.windows.0[0].1.offered = 10;
        let t = ev.evaluate(&[s], &HealthInputs::default(), T0, &settings);
        assert_eq!(t[0].alert.summary, "sales: ASA 5m 50 s above 20 s");
    }

    fn health(
        source_up: Option<bool>,
        age_ms: Option<Millis>,
        lag: Option<u64>,
        events: u64,
        rejected: u64,
    ) -> HealthInputs {
        HealthInputs {
            source_up,
            last_event_age_ms: age_ms,
            consumer_lag: lag,
            events_total: events,
            rejected_total: rejected,
        }
    }

    fn health_run(
        ev: &mut AlertEvaluator,
        h: HealthInputs,
        at: Millis,
    ) -> Vec<(AlertName, AlertState)> {
        ev.evaluate(&[], &h, at, &AlertSettings::default())
            .into_iter()
            .map(|t| {
                assert_eq!(t.alert.queue, None);
                (t.alert.name, t.state)
            })
            .collect()
    }

    #[test]
    fn source_stalled_fires_only_while_the_source_is_up() {
        let mut ev = AlertEvaluator::new();
        let five_min = 5 * MIN;
        // Down for an hour without events: a different problem (acd_source_up), not a stall.
        assert!(
            health_run(&mut ev, health(Some(false), Some(60 * MIN), None, 0, 0), T0).is_empty()
        );
        // No source at all (demo).
        assert!(health_run(&mut ev, health(None, Some(60 * MIN), None, 0, 0), T0).is_empty());
        assert!(health_run(
            &mut ev,
            health(Some(true), Some(five_min - 1), None, 0, 0),
            T0
        )
        .is_empty());
        let t = ev.evaluate(
            &[],
            &health(Some(true), Some(370_000), None, 0, 0),
            T0,
            &AlertSettings::default(),
        );
        let a = &t[0].alert;
        assert_eq!(
            (a.name, a.severity),
            (AlertName::SourceStalled, Severity::Page)
        );
        assert_eq!((a.value, a.threshold), (370.0, 300.0));
        assert_eq!(
            a.summary,
            "acdstream: no CTI event for 6m 10s while the source is up"
        );
        // An event arrives.
        assert_eq!(
            health_run(
                &mut ev,
                health(Some(true), Some(200), None, 0, 0),
                T0 + 1_000
            ),
            [(AlertName::SourceStalled, AlertState::Resolved)]
        );
    }

    #[test]
    fn consumer_lag_needs_its_for_duration() {
        let mut ev = AlertEvaluator::new();
        let lag = |n| health(Some(true), Some(0), Some(n), 0, 0);
        assert!(health_run(&mut ev, lag(10_000), T0).is_empty(), "not above");
        assert!(health_run(&mut ev, lag(25_000), T0 + MIN).is_empty());
        assert!(
            health_run(&mut ev, lag(25_000), T0 + 5 * MIN).is_empty(),
            "4 min"
        );
        assert_eq!(
            health_run(&mut ev, lag(25_000), T0 + 6 * MIN),
            [(AlertName::ConsumerLagHigh, AlertState::Firing)]
        );
        assert_eq!(
            ev.firing().next().unwrap().summary,
            "acdstream: consumer lag 25000 events above 10000"
        );
        assert_eq!(
            health_run(&mut ev, lag(9_000), T0 + 7 * MIN),
            [(AlertName::ConsumerLagHigh, AlertState::Resolved)]
        );
        // No Kafka: no lag alert.
        assert!(health_run(&mut ev, health(None, None, None, 0, 0), T0 + 8 * MIN).is_empty());
    }

    #[test]
    fn rejected_ratio_is_taken_over_the_last_five_minutes() {
        let mut ev = AlertEvaluator::new();
        let totals = |events, rejected| health(None, None, None, events, rejected);
        // Minute 0–5: 1000 events, 50 rejected (5 %) — but then 5 clean minutes.
        assert!(health_run(&mut ev, totals(0, 0), T0).is_empty());
        assert!(health_run(&mut ev, totals(1_000, 50), T0 + 5 * MIN).is_empty());
        let ratio = |ev: &mut AlertEvaluator, h: HealthInputs, at| ev.rejected_ratio(&h, at);
        // At 10 min the window (5–10 min) holds 1000 clean events.
        let mut probe = AlertEvaluator::new();
        ratio(&mut probe, totals(0, 0), T0);
        ratio(&mut probe, totals(1_000, 50), T0 + 5 * MIN);
        // At 7 min the oldest sample at or before 2 min is the first: 50 of 1500.
        assert_eq!(
            ratio(&mut probe, totals(1_500, 50), T0 + 7 * MIN),
            Some(50.0 / 1_500.0)
        );
        // At 10 min it is the one at 5 min: no rejection since.
        assert_eq!(
            ratio(&mut probe, totals(2_000, 50), T0 + 10 * MIN),
            Some(0.0)
        );
        // 2 % rejected from minute 10 on: pending, firing after 10 min.
        let mut at = T0 + 10 * MIN;
        let (mut events, mut rejected) = (2_000, 50);
        health_run(&mut ev, totals(events, rejected), at);
        let mut fired_at = None;
        for _ in 0..25 {
            at += MIN;
            events += 500;
            rejected += 10;
            if !health_run(&mut ev, totals(events, rejected), at).is_empty() {
                fired_at = Some(at);
                break;
            }
        }
        // Measured from the sample at 5 min until minute 15: 10 of 1500 at minute 11, 20 of
        // 2000 (1 %, not above) at 12, 30 of 2500 at 13: pending from 13, firing at 23.
        assert_eq!(fired_at, Some(T0 + 23 * MIN));
        let a = ev.firing().next().unwrap();
        assert_eq!(a.value, 0.02);
        assert_eq!(
            a.summary,
            "acdstream: 2 % of events rejected over 5m, above 1 %"
        );
    }
}
