//! `[alerts]`: the rules the alert evaluator applies, and where alerts are pushed.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::duration::{format_duration, from_millis, millis, parse_duration, DurationText};
use super::engine::WindowConfig;
use super::Problems;
use crate::alerts::rules::{
    AlertSettings, LagRule, OldestWaitRule, QueueRules, RejectedRule, ServiceLevelRule,
    StalledRule, SurgeRule, ThresholdRule,
};
use crate::alerts::Severity;
use crate::event::Millis;

/// `[alerts]`. Rule tables hold only what they set: a table inherits the rest from its
/// base (the built-in rules, or `[alerts.default]` for a queue), key by key. The built-in
/// rules fill the defaults in, so that they are written once, in `crate::alerts::rules`.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawAlerts {
    pub alertmanager_url: String,
    pub generator_url: String,
    pub resend_interval: DurationText,
    pub push_timeout: DurationText,
    pub default: QueueAlerts,
    pub queues: BTreeMap<String, QueueAlerts>,
    pub source_stalled: SourceStalled,
    pub consumer_lag: ConsumerLag,
    pub rejected_events: RejectedEvents,
}

/// `[alerts.default]` and `[alerts.queues.<id>]`.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct QueueAlerts {
    pub min_calls: Option<u64>,
    pub surge: Option<SurgeAlert>,
    pub service_level: Option<ServiceLevelAlert>,
    pub asa: Option<ThresholdAlert>,
    pub abandon_rate: Option<ThresholdAlert>,
    pub oldest_wait: Option<OldestWaitAlert>,
    pub not_ready: Option<ThresholdAlert>,
    pub rings_per_answer: Option<ThresholdAlert>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SurgeAlert {
    pub enabled: Option<bool>,
    pub severity: Option<String>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ServiceLevelAlert {
    pub enabled: Option<bool>,
    pub window: Option<String>,
    pub clear_margin: Option<f64>,
    #[serde(rename = "for")]
    pub for_duration: Option<DurationText>,
    pub severity: Option<String>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ThresholdAlert {
    pub enabled: Option<bool>,
    pub window: Option<String>,
    pub threshold: Option<f64>,
    pub clear: Option<f64>,
    #[serde(rename = "for")]
    pub for_duration: Option<DurationText>,
    pub severity: Option<String>,
}

/// No `window`: the oldest wait is a point-in-time value.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct OldestWaitAlert {
    pub enabled: Option<bool>,
    pub threshold: Option<f64>,
    pub clear: Option<f64>,
    #[serde(rename = "for")]
    pub for_duration: Option<DurationText>,
    pub severity: Option<String>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SourceStalled {
    pub enabled: Option<bool>,
    pub after: Option<DurationText>,
    pub severity: Option<String>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ConsumerLag {
    pub enabled: Option<bool>,
    pub max: Option<u64>,
    #[serde(rename = "for")]
    pub for_duration: Option<DurationText>,
    pub severity: Option<String>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RejectedEvents {
    pub enabled: Option<bool>,
    pub max_ratio: Option<f64>,
    #[serde(rename = "for")]
    pub for_duration: Option<DurationText>,
    pub severity: Option<String>,
}

impl Default for RawAlerts {
    fn default() -> Self {
        let b = AlertSettings::default();
        let q = &b.default;
        let severity = |s: Severity| Some(s.as_str().to_owned());
        // No window: the built-in one depends on engine.windows (see validation).
        let threshold = |r: &ThresholdRule| ThresholdAlert {
            enabled: Some(r.enabled),
            window: None,
            threshold: Some(r.threshold),
            clear: Some(r.clear),
            for_duration: Some(ms_text(r.for_ms)),
            severity: severity(r.severity),
        };
        RawAlerts {
            alertmanager_url: b.alertmanager_url.clone().unwrap_or_default(),
            generator_url: b.generator_url.clone().unwrap_or_default(),
            resend_interval: DurationText::from(b.resend_interval),
            push_timeout: DurationText::from(b.push_timeout),
            default: QueueAlerts {
                min_calls: Some(q.min_calls),
                surge: Some(SurgeAlert {
                    enabled: Some(q.surge.enabled),
                    severity: severity(q.surge.severity),
                }),
                service_level: Some(ServiceLevelAlert {
                    enabled: Some(q.service_level.enabled),
                    window: None,
                    clear_margin: Some(q.service_level.clear_margin),
                    for_duration: Some(ms_text(q.service_level.for_ms)),
                    severity: severity(q.service_level.severity),
                }),
                asa: Some(threshold(&q.asa)),
                abandon_rate: Some(threshold(&q.abandon_rate)),
                oldest_wait: Some(OldestWaitAlert {
                    enabled: Some(q.oldest_wait.enabled),
                    threshold: Some(q.oldest_wait.threshold),
                    clear: Some(q.oldest_wait.clear),
                    for_duration: Some(ms_text(q.oldest_wait.for_ms)),
                    severity: severity(q.oldest_wait.severity),
                }),
                not_ready: Some(threshold(&q.not_ready)),
                rings_per_answer: Some(threshold(&q.rings_per_answer)),
            },
            queues: BTreeMap::new(),
            source_stalled: SourceStalled {
                enabled: Some(b.source_stalled.enabled),
                after: Some(ms_text(b.source_stalled.after_ms)),
                severity: severity(b.source_stalled.severity),
            },
            consumer_lag: ConsumerLag {
                enabled: Some(b.consumer_lag.enabled),
                max: Some(b.consumer_lag.max),
                for_duration: Some(ms_text(b.consumer_lag.for_ms)),
                severity: severity(b.consumer_lag.severity),
            },
            rejected_events: RejectedEvents {
                enabled: Some(b.rejected_events.enabled),
                max_ratio: Some(b.rejected_events.max_ratio),
                for_duration: Some(ms_text(b.rejected_events.for_ms)),
                severity: severity(b.rejected_events.severity),
            },
        }
    }
}

/// What a rule's threshold and clear level measure, for their range checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Seconds,
    /// A 0–1 fraction: a threshold of 5 is a typo for 0.05, not 500 %.
    Ratio,
    Count,
}

/// Checks for `[alerts]`; each reports at the key's path and yields `None` when invalid.
/// A table inherits what it leaves out from its base (the built-in rules for
/// `[alerts.default]`, that for `[alerts.queues.<id>]`); a base of `None` is invalid itself, and
/// then only the table's own fields are checked, so a bad default is reported once.
impl Problems<'_> {
    fn severity(&mut self, path: &str, text: &str) -> Option<Severity> {
        let parsed = Severity::parse(text.trim());
        if parsed.is_none() {
            self.add(
                path,
                format!("\"{text}\" is not a severity; use \"page\" or \"ticket\""),
            );
        }
        parsed
    }

    fn own_severity(&mut self, path: &str, own: Option<&String>) -> Option<Option<Severity>> {
        own.map(|text| self.severity(&format!("{path}.severity"), text))
    }

    fn own_for(&mut self, path: &str, own: Option<&DurationText>) -> Option<Option<Millis>> {
        own.map(|text| self.duration(&format!("{path}.for"), text).map(millis))
    }

    fn threshold(&mut self, path: &str, value: f64, level: Level) -> Option<f64> {
        // Written so that NaN fails too.
        let ok = match level {
            Level::Ratio => value > 0.0 && value < 1.0,
            Level::Seconds | Level::Count => value > 0.0 && value.is_finite(),
        };
        if ok {
            return Some(value);
        }
        let hint = match level {
            Level::Ratio => "must be a ratio in (0, 1), e.g. 0.05 for 5 %",
            Level::Seconds => "must be a number of seconds above 0, e.g. 20",
            Level::Count => "must be a number above 0",
        };
        self.add(path, format!("{value} {hint}"));
        None
    }

    fn clear_level(&mut self, path: &str, value: f64, level: Level) -> Option<f64> {
        let ok = match level {
            Level::Ratio => (0.0..1.0).contains(&value),
            Level::Seconds | Level::Count => value >= 0.0 && value.is_finite(),
        };
        if ok {
            return Some(value);
        }
        let hint = match level {
            Level::Ratio => "must be a ratio in [0, 1)",
            Level::Seconds | Level::Count => "must be a number, 0 or more",
        };
        self.add(path, format!("{value} {hint}"));
        None
    }

    fn window(&mut self, path: &str, name: &str, windows: &[WindowConfig]) -> Option<String> {
        let name = name.trim();
        if windows.iter().any(|w| w.name == name) || name == "interval" || name == "today" {
            return Some(name.to_owned());
        }
        let listed: Vec<String> = windows.iter().map(|w| format!("\"{}\"", w.name)).collect();
        self.add(
            path,
            format!(
                "\"{name}\" is not a window of the snapshots; use one of engine.windows ({}), \
                 \"interval\" or \"today\"",
                listed.join(", ")
            ),
        );
        None
    }

    fn own_window(
        &mut self,
        path: &str,
        own: Option<&String>,
        windows: &[WindowConfig],
    ) -> Option<Option<String>> {
        own.map(|name| self.window(&format!("{path}.window"), name, windows))
    }

    fn threshold_rule(
        &mut self,
        path: &str,
        o: Option<&ThresholdAlert>,
        base: Option<&ThresholdRule>,
        level: Level,
        windows: &[WindowConfig],
    ) -> Option<ThresholdRule> {
        let Some(o) = o else {
            return base.cloned();
        };
        let window = self
            .own_window(path, o.window.as_ref(), windows)
            .unwrap_or_else(|| base.map(|b| b.window.clone()));
        let threshold = match o.threshold {
            Some(v) => self.threshold(&format!("{path}.threshold"), v, level),
            None => base.map(|b| b.threshold),
        };
        let clear = match o.clear {
            Some(v) => self.clear_level(&format!("{path}.clear"), v, level),
            None => base.map(|b| b.clear),
        };
        let for_ms = self
            .own_for(path, o.for_duration.as_ref())
            .unwrap_or(base.map(|b| b.for_ms));
        let severity = self
            .own_severity(path, o.severity.as_ref())
            .unwrap_or(base.map(|b| b.severity));
        let (threshold, clear) = (threshold?, clear?);
        if clear > threshold {
            let (key, message) = if o.clear.is_some() {
                (
                    "clear",
                    format!(
                        "{clear} must be at most the threshold ({threshold}): a firing alert \
                         resolves once the value is back at or below `clear`"
                    ),
                )
            } else {
                (
                    "threshold",
                    format!(
                        "{threshold} is below the inherited clear level ({clear}); set a lower \
                         `clear` here as well"
                    ),
                )
            };
            self.add(&format!("{path}.{key}"), message);
            return None;
        }
        Some(ThresholdRule {
            enabled: o.enabled.or(base.map(|b| b.enabled))?,
            window: window?,
            threshold,
            clear,
            for_ms: for_ms?,
            severity: severity?,
        })
    }

    /// A threshold rule without a window: the oldest wait is a point-in-time value.
    fn oldest_wait_rule(
        &mut self,
        path: &str,
        o: Option<&OldestWaitAlert>,
        base: Option<&OldestWaitRule>,
    ) -> Option<OldestWaitRule> {
        let o = o.map(|o| ThresholdAlert {
            enabled: o.enabled,
            window: None,
            threshold: o.threshold,
            clear: o.clear,
            for_duration: o.for_duration.clone(),
            severity: o.severity.clone(),
        });
        let base = base.map(|b| ThresholdRule {
            enabled: b.enabled,
            window: String::new(),
            threshold: b.threshold,
            clear: b.clear,
            for_ms: b.for_ms,
            severity: b.severity,
        });
        let r = self.threshold_rule(path, o.as_ref(), base.as_ref(), Level::Seconds, &[])?;
        Some(OldestWaitRule {
            enabled: r.enabled,
            threshold: r.threshold,
            clear: r.clear,
            for_ms: r.for_ms,
            severity: r.severity,
        })
    }

    fn service_level_rule(
        &mut self,
        path: &str,
        o: Option<&ServiceLevelAlert>,
        base: Option<&ServiceLevelRule>,
        windows: &[WindowConfig],
    ) -> Option<ServiceLevelRule> {
        let Some(o) = o else {
            return base.cloned();
        };
        let window = self
            .own_window(path, o.window.as_ref(), windows)
            .unwrap_or_else(|| base.map(|b| b.window.clone()));
        let clear_margin = match o.clear_margin {
            // Written so that NaN fails too.
            Some(m) if (0.0..1.0).contains(&m) => Some(m),
            Some(m) => {
                self.add(
                    &format!("{path}.clear_margin"),
                    format!(
                        "{m} must be in [0, 1): the alert fires below the queue's sl_target and \
                         resolves at sl_target + clear_margin, e.g. 0.02"
                    ),
                );
                None
            }
            None => base.map(|b| b.clear_margin),
        };
        let for_ms = self
            .own_for(path, o.for_duration.as_ref())
            .unwrap_or(base.map(|b| b.for_ms));
        let severity = self
            .own_severity(path, o.severity.as_ref())
            .unwrap_or(base.map(|b| b.severity));
        Some(ServiceLevelRule {
            enabled: o.enabled.or(base.map(|b| b.enabled))?,
            window: window?,
            clear_margin: clear_margin?,
            for_ms: for_ms?,
            severity: severity?,
        })
    }

    fn queue_rules(
        &mut self,
        path: &str,
        o: &QueueAlerts,
        base: Option<&QueueRules>,
        windows: &[WindowConfig],
    ) -> Option<QueueRules> {
        let sub = |key: &str| format!("{path}.{key}");
        let surge = match &o.surge {
            Some(o) => {
                let severity = self
                    .own_severity(&sub("surge"), o.severity.as_ref())
                    .unwrap_or(base.map(|b| b.surge.severity));
                let enabled = o.enabled.or(base.map(|b| b.surge.enabled));
                enabled
                    .zip(severity)
                    .map(|(enabled, severity)| SurgeRule { enabled, severity })
            }
            None => base.map(|b| b.surge.clone()),
        };
        let service_level = self.service_level_rule(
            &sub("service_level"),
            o.service_level.as_ref(),
            base.map(|b| &b.service_level),
            windows,
        );
        let threshold = |p: &mut Self, key, o: &Option<ThresholdAlert>, base, level| {
            p.threshold_rule(&sub(key), o.as_ref(), base, level, windows)
        };
        let asa = threshold(self, "asa", &o.asa, base.map(|b| &b.asa), Level::Seconds);
        let abandon_rate = threshold(
            self,
            "abandon_rate",
            &o.abandon_rate,
            base.map(|b| &b.abandon_rate),
            Level::Ratio,
        );
        let oldest_wait = self.oldest_wait_rule(
            &sub("oldest_wait"),
            o.oldest_wait.as_ref(),
            base.map(|b| &b.oldest_wait),
        );
        let not_ready = threshold(
            self,
            "not_ready",
            &o.not_ready,
            base.map(|b| &b.not_ready),
            Level::Ratio,
        );
        let rings_per_answer = threshold(
            self,
            "rings_per_answer",
            &o.rings_per_answer,
            base.map(|b| &b.rings_per_answer),
            Level::Count,
        );
        Some(QueueRules {
            min_calls: o.min_calls.or(base.map(|b| b.min_calls))?,
            surge: surge?,
            service_level: service_level?,
            asa: asa?,
            abandon_rate: abandon_rate?,
            oldest_wait: oldest_wait?,
            not_ready: not_ready?,
            rings_per_answer: rings_per_answer?,
        })
    }

    /// `Some(None)` for an empty URL (the feature is off).
    fn url(&mut self, path: &str, text: &str, allow_https: bool) -> Option<Option<String>> {
        let url = text.trim().trim_end_matches('/');
        if url.is_empty() {
            return Some(None);
        }
        if !allow_https && url.starts_with("https://") {
            self.add(
                path,
                format!(
                    "\"{text}\": https is not supported by the built-in Alertmanager client; \
                     reach Alertmanager over http:// (e.g. inside the cluster) or through a \
                     local TLS-terminating proxy"
                ),
            );
            return None;
        }
        let scheme_ok = url.starts_with("http://") || (allow_https && url.starts_with("https://"));
        let parsed = url
            .parse::<hyper::Uri>()
            .ok()
            .filter(|u| u.host().is_some());
        if !scheme_ok || parsed.is_none() {
            self.add(
                path,
                format!(
                    "\"{text}\" is not an http{} URL; write e.g. \"http://alertmanager:9093\"",
                    if allow_https { "(s)" } else { "" }
                ),
            );
            return None;
        }
        Some(Some(url.to_owned()))
    }
}

/// The built-in rules watch `builtin` ("15m"); when engine.windows has no such window, the
/// sliding window nearest to it in length (the longer of two as near), so that changing the
/// windows does not mean rewriting every rule. A window written in `[alerts]` must exist.
fn builtin_alert_window(builtin: &str, windows: &[WindowConfig]) -> String {
    let Ok(len) = parse_duration(builtin) else {
        return builtin.to_owned();
    };
    if windows.iter().any(|w| w.name == builtin) {
        return builtin.to_owned();
    }
    windows
        .iter()
        .min_by_key(|w| (w.len.abs_diff(len), std::cmp::Reverse(w.len)))
        .map_or_else(|| builtin.to_owned(), |w| w.name.clone())
}

pub(super) fn validate(
    p: &mut Problems<'_>,
    a: &RawAlerts,
    windows: &[WindowConfig],
) -> Option<AlertSettings> {
    let mut builtin = AlertSettings::default();
    let q = &mut builtin.default;
    for window in [
        &mut q.service_level.window,
        &mut q.asa.window,
        &mut q.abandon_rate.window,
        &mut q.not_ready.window,
        &mut q.rings_per_answer.window,
    ] {
        *window = builtin_alert_window(window, windows);
    }
    let default = p.queue_rules(
        "alerts.default",
        &a.default,
        Some(&builtin.default),
        windows,
    );
    let mut queues = HashMap::new();
    for (id, over) in &a.queues {
        let path = format!("alerts.queues.{id}");
        if id.trim().is_empty() {
            p.add(&path, "queue id must not be empty");
            continue;
        }
        if let Some(rules) = p.queue_rules(&path, over, default.as_ref(), windows) {
            queues.insert(id.clone(), rules);
        }
    }

    // The service's own rules have no queue overrides: the built-in rule is their base.
    let (stalled, lag, rejected) = (&a.source_stalled, &a.consumer_lag, &a.rejected_events);
    let b = &builtin;
    let path = "alerts.source_stalled";
    let after_ms = match &stalled.after {
        Some(text) => p.positive(&format!("{path}.after"), text).map(millis),
        None => Some(b.source_stalled.after_ms),
    };
    let stalled_severity = p
        .own_severity(path, stalled.severity.as_ref())
        .unwrap_or(Some(b.source_stalled.severity));

    let path = "alerts.consumer_lag";
    let lag_max = match lag.max {
        Some(0) => {
            p.add(&format!("{path}.max"), "must be greater than 0");
            None
        }
        Some(n) => Some(n),
        None => Some(b.consumer_lag.max),
    };
    let lag_for = p
        .own_for(path, lag.for_duration.as_ref())
        .unwrap_or(Some(b.consumer_lag.for_ms));
    let lag_severity = p
        .own_severity(path, lag.severity.as_ref())
        .unwrap_or(Some(b.consumer_lag.severity));

    let path = "alerts.rejected_events";
    let max_ratio = match rejected.max_ratio {
        Some(v) => p.threshold(&format!("{path}.max_ratio"), v, Level::Ratio),
        None => Some(b.rejected_events.max_ratio),
    };
    let rejected_for = p
        .own_for(path, rejected.for_duration.as_ref())
        .unwrap_or(Some(b.rejected_events.for_ms));
    let rejected_severity = p
        .own_severity(path, rejected.severity.as_ref())
        .unwrap_or(Some(b.rejected_events.severity));

    let alertmanager_url = p
        .url("alerts.alertmanager_url", &a.alertmanager_url, false)
        .and_then(|url| match url {
            Some(url) if url.contains("/api/") => {
                p.add(
                    "alerts.alertmanager_url",
                    format!(
                        "\"{url}\" has an API path; give the base URL (e.g. \
                         \"http://alertmanager:9093\"), acdstream adds /api/v2/alerts"
                    ),
                );
                None
            }
            url => Some(url),
        });
    let generator_url = p.url("alerts.generator_url", &a.generator_url, true);
    let resend_interval = p
        .duration("alerts.resend_interval", &a.resend_interval)
        .and_then(|d| {
            if d < Duration::from_secs(1) {
                p.add(
                    "alerts.resend_interval",
                    format!(
                        "{} is too frequent; use at least 1s (Alertmanager's own default is 1m)",
                        format_duration(d)
                    ),
                );
                return None;
            }
            Some(d)
        });
    let push_timeout = p.positive("alerts.push_timeout", &a.push_timeout);

    Some(AlertSettings {
        default: default?,
        queues,
        source_stalled: StalledRule {
            enabled: stalled.enabled.unwrap_or(builtin.source_stalled.enabled),
            after_ms: after_ms?,
            severity: stalled_severity?,
        },
        consumer_lag: LagRule {
            enabled: lag.enabled.unwrap_or(builtin.consumer_lag.enabled),
            max: lag_max?,
            for_ms: lag_for?,
            severity: lag_severity?,
        },
        rejected_events: RejectedRule {
            enabled: rejected.enabled.unwrap_or(builtin.rejected_events.enabled),
            max_ratio: max_ratio?,
            for_ms: rejected_for?,
            severity: rejected_severity?,
        },
        alertmanager_url: alertmanager_url?,
        generator_url: generator_url?,
        resend_interval: resend_interval?,
        push_timeout: push_timeout?,
    })
}

fn ms_text(ms: Millis) -> DurationText {
    DurationText::from(from_millis(ms))
}
