//! What the evaluator checks, and the defaults: common contact-centre practice, meant to be
//! tuned per queue.
//!
//! Every queue rule has a **volume guard** (`min_calls` offered in the rule's window, except for
//! the oldest wait, which needs no volume to matter): one slow answer on a quiet queue is not an
//! incident. Threshold rules have a **`for` duration** (the breach must last that long before
//! the alert fires, so a single bad minute does not page) and a **`clear` level** (hysteresis: a
//! firing alert resolves only once the value is back past it, so a value hovering at the
//! threshold does not flap).
//!
//! The validated form comes from `crate::config` (`[alerts]`); tests build it directly.

use std::collections::HashMap;
use std::time::Duration;

use super::Severity;
use crate::event::Millis;

const SECOND: Millis = 1_000;
const MINUTE: Millis = 60 * SECOND;

/// Everything the alert layer needs: the per-queue rules, the service-health rules and how
/// alerts are delivered to Alertmanager.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertSettings {
    /// Rules for every queue without an entry in `queues`.
    pub default: QueueRules,
    /// Per-queue rules, with the fields an override leaves out already filled from `default`.
    pub queues: HashMap<String, QueueRules>,
    pub source_stalled: StalledRule,
    pub consumer_lag: LagRule,
    pub rejected_events: RejectedRule,
    /// Base URL of Alertmanager (e.g. `http://alertmanager:9093`), without `/api/v2`; `None`
    /// pushes nothing.
    pub alertmanager_url: Option<String>,
    /// Link sent as each alert's `generatorURL` (e.g. a wallboard); `None` sends none.
    pub generator_url: Option<String>,
    /// How often firing alerts are re-sent to Alertmanager, which forgets an alert whose
    /// `endsAt` has passed; each push sets `endsAt` to 4 × this ahead.
    pub resend_interval: Duration,
    /// How long one push to Alertmanager may take.
    pub push_timeout: Duration,
}

impl Default for AlertSettings {
    fn default() -> Self {
        AlertSettings {
            default: QueueRules::default(),
            queues: HashMap::new(),
            source_stalled: StalledRule {
                enabled: true,
                after_ms: 5 * MINUTE,
                severity: Severity::Page,
            },
            consumer_lag: LagRule {
                enabled: true,
                max: 10_000,
                for_ms: 5 * MINUTE,
                severity: Severity::Ticket,
            },
            rejected_events: RejectedRule {
                enabled: true,
                max_ratio: 0.01,
                for_ms: 10 * MINUTE,
                severity: Severity::Ticket,
            },
            alertmanager_url: None,
            generator_url: None,
            resend_interval: Duration::from_secs(60),
            push_timeout: Duration::from_secs(5),
        }
    }
}

impl AlertSettings {
    /// The rules of `queue_id`.
    pub fn queue(&self, queue_id: &str) -> &QueueRules {
        self.queues.get(queue_id).unwrap_or(&self.default)
    }
}

/// The rules of one queue.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueRules {
    /// Calls offered in a rule's window below which the rule does not fire (and a firing alert
    /// resolves); 0 turns the guard off. Not applied to the oldest wait.
    pub min_calls: u64,
    pub surge: SurgeRule,
    pub service_level: ServiceLevelRule,
    /// Average speed of answer, seconds.
    pub asa: ThresholdRule,
    /// Abandoned / (answered + abandoned), 0–1.
    pub abandon_rate: ThresholdRule,
    /// Wait so far of the longest-waiting call, seconds.
    pub oldest_wait: OldestWaitRule,
    /// Agents' not-ready time / logged-in time, 0–1.
    pub not_ready: ThresholdRule,
    /// Rings before an answer, on average.
    pub rings_per_answer: ThresholdRule,
}

impl Default for QueueRules {
    fn default() -> Self {
        let rule = |threshold, clear, severity| ThresholdRule {
            enabled: true,
            window: "15m".to_owned(),
            threshold,
            clear,
            for_ms: 5 * MINUTE,
            severity,
        };
        QueueRules {
            min_calls: 10,
            surge: SurgeRule {
                enabled: true,
                severity: Severity::Page,
            },
            service_level: ServiceLevelRule {
                enabled: true,
                window: "15m".to_owned(),
                clear_margin: 0.02,
                for_ms: 2 * MINUTE,
                severity: Severity::Page,
            },
            asa: rule(20.0, 18.0, Severity::Ticket),
            abandon_rate: rule(0.05, 0.04, Severity::Ticket),
            oldest_wait: OldestWaitRule {
                enabled: true,
                threshold: 120.0,
                clear: 90.0,
                for_ms: 0,
                severity: Severity::Page,
            },
            not_ready: rule(0.06, 0.05, Severity::Ticket),
            rings_per_answer: rule(2.0, 1.8, Severity::Ticket),
        }
    }
}

/// A KPI over a window that must stay at or below `threshold`.
#[derive(Debug, Clone, PartialEq)]
pub struct ThresholdRule {
    pub enabled: bool,
    /// A window of the snapshot: a sliding one (`"15m"`), `"interval"` or `"today"`.
    pub window: String,
    /// Fires above this (after `for_ms`).
    pub threshold: f64,
    /// Resolves at or below this; at most `threshold`.
    pub clear: f64,
    pub for_ms: Millis,
    pub severity: Severity,
}

/// The service level over a window against the queue's own target (`kpi…sl_target`), so the
/// target is configured once, where the KPI is defined.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceLevelRule {
    pub enabled: bool,
    pub window: String,
    /// Resolves at target + this (capped at 100 %).
    pub clear_margin: f64,
    pub for_ms: Millis,
    pub severity: Severity,
}

/// The oldest wait is a point-in-time value: no window and no volume guard, since one caller
/// waiting too long matters however quiet the queue is.
#[derive(Debug, Clone, PartialEq)]
pub struct OldestWaitRule {
    pub enabled: bool,
    /// Seconds.
    pub threshold: f64,
    pub clear: f64,
    pub for_ms: Millis,
    pub severity: Severity,
}

/// SurgeResponseExceeded follows the snapshot's `surge.response_exceeded`: the surge detector
/// already has its own time limit and hysteresis, so there is no `for` or `clear` here.
#[derive(Debug, Clone, PartialEq)]
pub struct SurgeRule {
    pub enabled: bool,
    pub severity: Severity,
}

/// No event for `after_ms` while the source is connected: the CTI feed or its producer stopped,
/// and every KPI on the wallboard is going stale.
#[derive(Debug, Clone, PartialEq)]
pub struct StalledRule {
    pub enabled: bool,
    pub after_ms: Millis,
    pub severity: Severity,
}

/// Events not yet consumed, summed over partitions, above `max` for `for_ms`.
#[derive(Debug, Clone, PartialEq)]
pub struct LagRule {
    pub enabled: bool,
    pub max: u64,
    pub for_ms: Millis,
    pub severity: Severity,
}

/// Rejected / all events over the last [`super::REJECTED_WINDOW_MS`] above `max_ratio` for
/// `for_ms`: a producer sends events acdstream cannot use, so KPIs undercount.
#[derive(Debug, Clone, PartialEq)]
pub struct RejectedRule {
    pub enabled: bool,
    pub max_ratio: f64,
    pub for_ms: Millis,
    pub severity: Severity,
}

#[cfg(test)]
mod tests;
