//! The alert evaluator's output on `/metrics`: `acd_alerts_firing{alert,severity[,queue]}` (1 while
//! firing, 0 once resolved) and `acd_alert_transitions_total{alert,state}`.
//!
//! The exporter drops a series that has not been updated for its idle timeout
//! ([`super::prometheus::IDLE_SERIES_TIMEOUT`]), so [`AlertMetrics::record`] runs after every
//! evaluation and re-states every value: the firing gauges, and the transition counters as
//! absolute values kept here. A resolved alert's gauge is set to 0 once and then left to expire,
//! which keeps the series count bounded by the alerts firing.

use metrics::{counter, gauge, Counter};

use crate::alerts::{Alert, AlertName, AlertState, Transition};
use crate::telemetry::{self as t, label};

/// Records alert state in the process's `metrics` recorder.
pub struct AlertMetrics {
    /// Per alert in [`AlertName::ALL`] order: firing, resolved.
    transitions: Vec<[(Counter, u64); 2]>,
}

impl AlertMetrics {
    /// Registers every transition counter with the current recorder, at 0, so that `rate()`
    /// and `increase()` have a series before the first transition.
    pub fn new() -> AlertMetrics {
        let transitions = AlertName::ALL
            .into_iter()
            .map(|name| {
                [AlertState::Firing, AlertState::Resolved].map(|state| {
                    let c = counter!(
                        t::ALERT_TRANSITIONS_TOTAL,
                        label::ALERT => name.as_str(),
                        label::STATE => state.as_str()
                    );
                    c.absolute(0);
                    (c, 0)
                })
            })
            .collect();
        AlertMetrics { transitions }
    }

    /// Call after each evaluation with its transitions and every alert firing now
    /// ([`crate::alerts::AlertEvaluator::firing`]).
    pub fn record<'a>(
        &mut self,
        transitions: &[Transition],
        firing: impl IntoIterator<Item = &'a Alert>,
    ) {
        for tr in transitions {
            let slot = &mut self.transitions[tr.alert.name as usize][tr.state as usize];
            slot.1 += 1;
            if tr.state == AlertState::Resolved {
                firing_gauge(&tr.alert, 0.0);
            }
        }
        for alert in firing {
            firing_gauge(alert, 1.0);
        }
        for (counter, n) in self.transitions.iter().flatten() {
            counter.absolute(*n);
        }
    }
}

impl Default for AlertMetrics {
    fn default() -> Self {
        AlertMetrics::new()
    }
}

fn firing_gauge(alert: &Alert, value: f64) {
    let name = alert.name.as_str();
    let severity = alert.severity.as_str();
    match &alert.queue {
        Some(queue) => gauge!(
            t::ALERTS_FIRING,
            label::ALERT => name,
            label::SEVERITY => severity,
            label::QUEUE => queue.clone()
        )
        .set(value),
        None => gauge!(
            t::ALERTS_FIRING,
            label::ALERT => name,
            label::SEVERITY => severity
        )
        .set(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::Severity;
    use crate::sinks::prometheus::builder;

    fn alert(name: AlertName, queue: Option<&str>, severity: Severity) -> Alert {
        Alert {
            name,
            queue: queue.map(str::to_owned),
            severity,
            starts_at: 1_000,
            value: 1.0,
            threshold: 1.0,
            summary: String::new(),
            description: String::new(),
        }
    }

    #[test]
    fn firing_alerts_are_1_resolved_0_and_transitions_count() {
        let recorder = builder().unwrap().build_recorder();
        let handle = recorder.handle();
        let asa = alert(AlertName::AsaHigh, Some("sales"), Severity::Ticket);
        let lag = alert(AlertName::ConsumerLagHigh, None, Severity::Page);
        let wait = alert(AlertName::OldestWaitHigh, Some("vip"), Severity::Page);
        metrics::with_local_recorder(&recorder, || {
            t::describe();
            let mut m = AlertMetrics::new();
            let fire = |a: &Alert| Transition {
                alert: a.clone(),
                state: AlertState::Firing,
                at: 1_000,
            };
            m.record(&[fire(&asa), fire(&wait)], [&asa, &wait]);
            m.record(&[fire(&lag)], [&asa, &wait, &lag]);
            let resolve = Transition {
                alert: wait.clone(),
                state: AlertState::Resolved,
                at: 2_000,
            };
            m.record(&[resolve], [&asa, &lag]);
        });
        let text = handle.render();
        for line in [
            r#"acd_alerts_firing{alert="AsaHigh",severity="ticket",queue="sales"} 1"#,
            r#"acd_alerts_firing{alert="OldestWaitHigh",severity="page",queue="vip"} 0"#,
            r#"acd_alerts_firing{alert="ConsumerLagHigh",severity="page"} 1"#,
            r#"acd_alert_transitions_total{alert="AsaHigh",state="firing"} 1"#,
            r#"acd_alert_transitions_total{alert="AsaHigh",state="resolved"} 0"#,
            r#"acd_alert_transitions_total{alert="OldestWaitHigh",state="firing"} 1"#,
            r#"acd_alert_transitions_total{alert="OldestWaitHigh",state="resolved"} 1"#,
            r#"acd_alert_transitions_total{alert="ConsumerLagHigh",state="firing"} 1"#,
            r#"acd_alert_transitions_total{alert="RejectedEventsHigh",state="firing"} 0"#,
            "# TYPE acd_alerts_firing gauge",
            "# TYPE acd_alert_transitions_total counter",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in:\n{text}"
            );
        }
        assert_eq!(
            text.lines()
                .filter(|l| l.starts_with("acd_alert_transitions_total{"))
                .count(),
            20,
            "every alert and state from the start"
        );
    }
}
