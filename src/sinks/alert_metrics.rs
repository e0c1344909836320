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
pub(crate) struct AlertMetrics {
    /// Per alert in [`AlertName::ALL`] order: firing, resolved.
    transitions: Vec<[(Counter, u64); 2]>,
}

impl AlertMetrics {
    /// Registers every transition counter with the current recorder, at 0, so that `rate()`
    /// and `increase()` have a series before the first transition.
    pub(crate) fn new() -> AlertMetrics {
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
    pub(crate) fn record<'a>(
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
mod tests;
