//! Alerts that acdstream evaluates itself, from the KPI snapshots it has just computed and from
//! its own health: the domain types, the rules and their defaults ([`rules`]), and the pure
//! evaluator that turns snapshots into firing and resolved transitions ([`evaluator`]).
//!
//! Evaluating here, and not only in Prometheus, lets the notification carry what a scrape
//! cannot: the surge's onset and the Erlang C staffing gap ("needs 14 agents, 9 staffed"), and
//! reach the pager within one publish interval instead of a scrape plus a rule interval. The
//! Prometheus rules file uses the same alert names, so either source reads the same way.
//!
//! Transitions leave through the sinks: the Kafka alerts topic (wire format in
//! [`crate::decode::encode_alert`]), Alertmanager's API ([`crate::sinks::alertmanager`]) and
//! `/metrics` ([`crate::sinks::alert_metrics`]).

pub(crate) mod evaluator;
pub(crate) mod rules;

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::event::Millis;

pub use evaluator::{AlertEvaluator, HealthInputs, REJECTED_WINDOW_MS};
pub use rules::{
    AlertSettings, LagRule, OldestWaitRule, QueueRules, RejectedRule, ServiceLevelRule,
    StalledRule, SurgeRule, ThresholdRule,
};

/// Every alert acdstream raises. The names are the `alertname` label in Alertmanager and the
/// alert names of the Prometheus rules file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum AlertName {
    SurgeResponseExceeded,
    ServiceLevelBelowTarget,
    AsaHigh,
    AbandonRateHigh,
    OldestWaitHigh,
    NotReadyHigh,
    RingsPerAnswerHigh,
    SourceStalled,
    ConsumerLagHigh,
    RejectedEventsHigh,
}

impl AlertName {
    pub const ALL: [AlertName; 10] = [
        AlertName::SurgeResponseExceeded,
        AlertName::ServiceLevelBelowTarget,
        AlertName::AsaHigh,
        AlertName::AbandonRateHigh,
        AlertName::OldestWaitHigh,
        AlertName::NotReadyHigh,
        AlertName::RingsPerAnswerHigh,
        AlertName::SourceStalled,
        AlertName::ConsumerLagHigh,
        AlertName::RejectedEventsHigh,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AlertName::SurgeResponseExceeded => "SurgeResponseExceeded",
            AlertName::ServiceLevelBelowTarget => "ServiceLevelBelowTarget",
            AlertName::AsaHigh => "AsaHigh",
            AlertName::AbandonRateHigh => "AbandonRateHigh",
            AlertName::OldestWaitHigh => "OldestWaitHigh",
            AlertName::NotReadyHigh => "NotReadyHigh",
            AlertName::RingsPerAnswerHigh => "RingsPerAnswerHigh",
            AlertName::SourceStalled => "SourceStalled",
            AlertName::ConsumerLagHigh => "ConsumerLagHigh",
            AlertName::RejectedEventsHigh => "RejectedEventsHigh",
        }
    }

    /// The name as [`AlertName::as_str`] spells it; `None` for a name this version does not know.
    pub fn parse(name: &str) -> Option<AlertName> {
        AlertName::ALL.into_iter().find(|n| n.as_str() == name)
    }

    /// Alerts about one queue (the others are about the service and have no queue).
    pub fn is_queue_alert(self) -> bool {
        !matches!(
            self,
            AlertName::SourceStalled | AlertName::ConsumerLagHigh | AlertName::RejectedEventsHigh
        )
    }
}

impl fmt::Display for AlertName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How urgently a person must act: `page` wakes someone up, `ticket` waits for working hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Page,
    Ticket,
}

impl Severity {
    pub const ALL: [Severity; 2] = [Severity::Page, Severity::Ticket];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Page => "page",
            Severity::Ticket => "ticket",
        }
    }

    pub fn parse(text: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One alert instance: an alert name for one queue (or for the service).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub name: AlertName,
    /// `None` for the service-health alerts.
    pub queue: Option<String>,
    pub severity: Severity,
    /// When the alert started firing (after its `for` duration), Unix ms.
    pub starts_at: Millis,
    /// The value that breached, in the unit of the threshold; always finite.
    pub value: f64,
    pub threshold: f64,
    /// One line for a pager notification, e.g. `"sales: ASA 15m 34 s above 20 s"`.
    pub summary: String,
    /// What the numbers mean and what to check first.
    pub description: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    Firing,
    Resolved,
}

impl AlertState {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Firing => "firing",
            AlertState::Resolved => "resolved",
        }
    }
}

/// An alert starting to fire or resolving. A firing transition happens at the alert's
/// `starts_at`; a resolved one carries the alert as it last fired, and ends at `at`.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub alert: Alert,
    pub state: AlertState,
    pub at: Millis,
}

impl Transition {
    /// When the alert stopped firing: `Some(at)` for a resolved transition.
    pub fn ends_at(&self) -> Option<Millis> {
        (self.state == AlertState::Resolved).then_some(self.at)
    }
}

/// A ratio as a percentage with at most one decimal: 0.625 → `62.5 %`, 0.8 → `80 %`.
pub(crate) fn percent(ratio: f64) -> String {
    format!("{} %", number(ratio * 100.0))
}

/// At most one decimal, none when it is 0: 34.04 → `34`, 2.45 → `2.5`, 9.6 → `9.6`.
pub(crate) fn number(x: f64) -> String {
    let rounded = (x * 10.0).round() / 10.0;
    if rounded.fract() == 0.0 {
        format!("{rounded:.0}")
    } else {
        format!("{rounded:.1}")
    }
}

/// Whole seconds as people say them: 680 → `11m 20s`, 600 → `10m`, 3_660 → `1h 1m`, 0 → `0s`.
pub(crate) fn span(seconds: f64) -> String {
    let total = if seconds.is_finite() && seconds > 0.0 {
        seconds.round() as u64
    } else {
        0
    };
    let (h, m, s) = (total / 3_600, total / 60 % 60, total % 60);
    let parts: Vec<String> = [(h, "h"), (m, "m"), (s, "s")]
        .into_iter()
        .filter(|&(n, _)| n > 0)
        .map(|(n, unit)| format!("{n}{unit}"))
        .collect();
    if parts.is_empty() {
        "0s".to_owned()
    } else {
        parts.join(" ")
    }
}

#[cfg(test)]
mod tests;
