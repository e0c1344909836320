//! `[alerts]`: the rules the alert evaluator applies, and where alerts are pushed.
//!
//! Rule tables hold only what they set: a table inherits the rest from its base (the built-in
//! rules, or `[alerts.default]` for a queue), key by key (see `inherits!`). The built-in rules
//! fill the defaults in, so that they are written once, in `crate::alerts::rules`.

use std::cmp::Reverse;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::duration::{millis, parse_duration, DurationText};
use super::{ms, none, set, some, Problems};
use crate::alerts::rules::{
    AlertSettings, LagRule, OldestWaitRule, QueueRules, RejectedRule, ServiceLevelRule,
    StalledRule, SurgeRule, ThresholdRule,
};
use crate::alerts::Severity;
use crate::state::SlidingWindow;

inherits! {
    SurgeRule RawSurge { enabled: bool = any / some, severity: String = severity / name };
    ServiceLevelRule RawServiceLevel {
        enabled: bool = any / some, window: String = window / none,
        clear_margin: f64 = clear_margin / some, for_ms as "for": DurationText = ms / ms,
        severity: String = severity / name,
    };
    ThresholdRule RawThreshold {
        enabled: bool = any / some, window: String = window / none,
        threshold: f64 = threshold / some, clear: f64 = clear / some,
        for_ms as "for": DurationText = ms / ms, severity: String = severity / name,
    } then hysteresis(threshold, clear);
    // No `window`: the oldest wait is a point-in-time value.
    OldestWaitRule RawOldestWait {
        enabled: bool = any / some, threshold: f64 = threshold / some, clear: f64 = clear / some,
        for_ms as "for": DurationText = ms / ms, severity: String = severity / name,
    } then hysteresis(threshold, clear);
    StalledRule RawStalled {
        enabled: bool = any / some, after_ms as "after": DurationText = positive_ms / ms,
        severity: String = severity / name,
    };
    LagRule RawLag {
        enabled: bool = any / some, max: u64 = nonzero / some,
        for_ms as "for": DurationText = ms / ms, severity: String = severity / name,
    };
    // `[alerts.default]` and `[alerts.queues.<id>]`.
    QueueRules QueueAlerts {
        min_calls: u64 = any / some, surge: RawSurge = rule(Count) / nested,
        service_level: RawServiceLevel = rule(Count) / nested,
        asa: RawThreshold = rule(Seconds) / nested,
        abandon_rate: RawThreshold = rule(Ratio) / nested,
        oldest_wait: RawOldestWait = rule(Seconds) / nested,
        not_ready: RawThreshold = rule(Ratio) / nested,
        rings_per_answer: RawThreshold = rule(Count) / nested,
    };
    RejectedRule RawRejected {
        enabled: bool = any / some, max_ratio: f64 = threshold / some,
        for_ms as "for": DurationText = ms / ms, severity: String = severity / name,
    };
}

fn name(severity: &Severity) -> Option<String> {
    Some(severity.as_str().to_owned())
}

fn nested<S, R: for<'a> From<&'a S>>(rule: &S) -> Option<R> {
    Some(rule.into())
}

raw! { RawAlerts(b = AlertSettings::default()) {
    alertmanager_url: String = b.alertmanager_url.clone().unwrap_or_default(),
    generator_url: String = b.generator_url.clone().unwrap_or_default(),
    resend_interval: DurationText = millis(b.resend_interval),
    push_timeout: DurationText = millis(b.push_timeout),
    default: QueueAlerts = &b.default,
    queues: BTreeMap<String, QueueAlerts> = BTreeMap::new(),
    source_stalled: RawStalled = &b.source_stalled,
    consumer_lag: RawLag = &b.consumer_lag,
    rejected_events: RawRejected = &b.rejected_events,
} }

/// What a rule's threshold and clear level measure, for their range checks.
#[derive(Debug, Clone, Copy)]
pub(super) enum Level {
    Seconds,
    /// A 0–1 fraction: a threshold of 5 is a typo for 0.05, not 500 %.
    Ratio,
    Count,
}

impl Problems<'_> {
    fn severity(&mut self, path: &str, text: &str) -> Option<Severity> {
        let why = format!("\"{text}\" is not a severity; use \"page\" or \"ticket\"");
        self.ok(path, Severity::parse(text.trim()).ok_or(why))
    }

    fn window(&mut self, path: &str, name: &str) -> Option<String> {
        let name = name.trim();
        let windows = self.windows.iter();
        let known =
            windows.clone().any(|w| w.name == name) || ["interval", "today"].contains(&name);
        let listed: Vec<String> = windows.map(|w| format!("\"{}\"", w.name)).collect();
        let why = format!(
            "\"{name}\" is not a window of the snapshots; use one of engine.windows ({}), \
             \"interval\" or \"today\"",
            listed.join(", ")
        );
        self.check(path, name.to_owned(), known, why)
    }

    // Written so that NaN fails too; a ratio must stay below 1.
    fn threshold(&mut self, path: &str, &v: &f64) -> Option<f64> {
        let inf = f64::INFINITY;
        let (hint, bound) = match self.level {
            Level::Ratio => ("must be a ratio in (0, 1), e.g. 0.05 for 5 %", 1.0),
            Level::Seconds => ("must be a number of seconds above 0, e.g. 20", inf),
            Level::Count => ("must be a number above 0", inf),
        };
        self.number(path, v, v > 0.0 && v < bound, hint)
    }

    fn clear(&mut self, path: &str, &v: &f64) -> Option<f64> {
        let (hint, bound) = match self.level {
            Level::Ratio => ("must be a ratio in [0, 1)", 1.0),
            Level::Seconds | Level::Count => ("must be a number, 0 or more", f64::INFINITY),
        };
        self.number(path, v, v >= 0.0 && v < bound, hint)
    }

    fn clear_margin(&mut self, path: &str, &m: &f64) -> Option<f64> {
        let rule = "must be in [0, 1): the alert fires below the queue's sl_target and resolves \
                    at sl_target + clear_margin, e.g. 0.02";
        self.number(path, m, (0.0..1.0).contains(&m), rule)
    }

    /// A firing alert resolves at `clear`, so it must be at most the threshold; reported at the
    /// key the table sets (both inherited have been checked where they were written).
    fn hysteresis(
        &mut self,
        path: &str,
        [_, clear_set]: [bool; 2],
        threshold: Option<f64>,
        clear: Option<f64>,
    ) -> (Option<f64>, Option<f64>) {
        let Some((t, c)) = threshold.zip(clear).filter(|(t, c)| c > t) else {
            return (threshold, clear);
        };
        let (key, why) = if clear_set {
            let why = format!(
                "{c} must be at most the threshold ({t}): a firing alert resolves once the value \
                 is back at or below `clear`"
            );
            ("clear", why)
        } else {
            let why = format!(
                "{t} is below the inherited clear level ({c}); set a lower `clear` here as well"
            );
            ("threshold", why)
        };
        self.add(&format!("{path}.{key}"), why);
        (None, None)
    }
}

/// `None` for an empty URL (the feature is off). Alertmanager is reached by the built-in
/// client, which speaks plain http and adds the API path itself.
fn url(text: &str, alertmanager: bool) -> Result<Option<String>, String> {
    let url = text.trim().trim_end_matches('/');
    let http = url.starts_with("http://") || url.starts_with("https://");
    let host = url.parse::<hyper::Uri>().is_ok_and(|u| u.host().is_some());
    if url.is_empty() {
        Ok(None)
    } else if alertmanager && url.starts_with("https://") {
        Err(format!(
            "\"{text}\": https is not supported by the built-in Alertmanager client; reach \
             Alertmanager over http:// (e.g. inside the cluster) or through a local \
             TLS-terminating proxy"
        ))
    } else if !http || !host {
        let s = if alertmanager { "" } else { "(s)" };
        Err(format!(
            "\"{text}\" is not an http{s} URL; write e.g. \"http://alertmanager:9093\""
        ))
    } else if alertmanager && url.contains("/api/") {
        Err(format!(
            "\"{url}\" has an API path; give the base URL (e.g. \"http://alertmanager:9093\"), \
             acdstream adds /api/v2/alerts"
        ))
    } else {
        Ok(Some(url.to_owned()))
    }
}

/// The built-in rules watch `builtin` ("15m"); when engine.windows has no such window, the
/// sliding window nearest to it in length (the longer of two as near), so that changing the
/// windows does not mean rewriting every rule. A window written in `[alerts]` must exist.
fn builtin_window(builtin: &str, windows: &[SlidingWindow]) -> String {
    let len = parse_duration(builtin).map_or(0, millis);
    let rank = |w: &&SlidingWindow| (w.name != builtin, w.len_ms.abs_diff(len), Reverse(w.len_ms));
    let nearest = windows.iter().min_by_key(rank);
    nearest.map_or_else(|| builtin.to_owned(), |w| w.name.clone())
}

/// Checks `[alerts]` over the built-in settings; the service's own rules have no queue
/// overrides, so the built-in rule is their base.
pub(super) fn validate(p: &mut Problems<'_>, a: &RawAlerts) -> AlertSettings {
    let mut b = AlertSettings::default();
    let q = &mut b.default;
    for window in [
        &mut q.service_level.window,
        &mut q.asa.window,
        &mut q.abandon_rate.window,
        &mut q.not_ready.window,
        &mut q.rings_per_answer.window,
    ] {
        *window = builtin_window(window, &p.windows);
    }
    let default = a.default.inherit(p, "alerts.default", Some(&b.default));
    for (id, own) in &a.queues {
        let path = format!("alerts.queues.{id}");
        if id.trim().is_empty() {
            p.add(&path, "queue id must not be empty");
        } else if let Some(rules) = own.inherit(p, &path, default.as_ref()) {
            b.queues.insert(id.clone(), rules);
        }
    }
    set(&mut b.default, default);
    let (own, builtin) = (&a.source_stalled, Some(&b.source_stalled));
    let stalled = own.inherit(p, "alerts.source_stalled", builtin);
    set(&mut b.source_stalled, stalled);
    let (own, builtin) = (&a.consumer_lag, Some(&b.consumer_lag));
    let lag = own.inherit(p, "alerts.consumer_lag", builtin);
    set(&mut b.consumer_lag, lag);
    p.level = Level::Ratio;
    let (own, builtin) = (&a.rejected_events, Some(&b.rejected_events));
    let rejected = own.inherit(p, "alerts.rejected_events", builtin);
    set(&mut b.rejected_events, rejected);
    let alertmanager_url = p.ok("alerts.alertmanager_url", url(&a.alertmanager_url, true));
    set(&mut b.alertmanager_url, alertmanager_url);
    let generator_url = p.ok("alerts.generator_url", url(&a.generator_url, false));
    set(&mut b.generator_url, generator_url);
    let min = (1_000, " (Alertmanager's own default is 1m)");
    let resend = p.at_least("alerts.resend_interval", &a.resend_interval, min);
    set(&mut b.resend_interval, resend);
    let push_timeout = p.positive("alerts.push_timeout", &a.push_timeout);
    set(&mut b.push_timeout, push_timeout);
    b
}
