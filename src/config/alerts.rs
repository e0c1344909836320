//! `[alerts]`: the rules the alert evaluator applies, and where alerts are pushed.
//!
//! Rule tables hold only what they set: a table inherits the rest from its base (the built-in
//! rules, or `[alerts.default]` for a queue), key by key. A base of `None` is invalid itself,
//! and then only the table's own keys are checked, so a bad default is reported once. The
//! built-in rules fill the defaults in, so that they are written once, in `crate::alerts::rules`.

use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::duration::{millis, parse_duration, DurationText};
use super::engine::WindowConfig;
use super::Problems;
use crate::alerts::rules::{
    AlertSettings, LagRule, OldestWaitRule, QueueRules, RejectedRule, ServiceLevelRule,
    StalledRule, SurgeRule, ThresholdRule,
};
use crate::alerts::Severity;
use crate::event::Millis;

/// One declaration per rule gives its table's keys (serde rejects any other, listing the
/// rule's own), the built-in rule as written, and the key-by-key inheritance: each key the
/// table sets is checked by the [`Rules`] method of its name, or is a nested `rule` table. A
/// `then` check runs on the merged values.
macro_rules! rules {
    ($($rule:ident $raw:ident {
        $($field:ident $(as $key:literal)?: $ty:ty = $how:ident$(($level:ident))?),* $(,)?
    } $(then $hook:ident($($arg:ident),*))?;)*) => {$(
        #[derive(Debug, Default, Deserialize, Serialize)]
        #[serde(deny_unknown_fields)]
        pub(super) struct $raw { $($(#[serde(rename = $key)])? $field: Option<$ty>,)* }

        impl From<&$rule> for $raw {
            fn from(rule: &$rule) -> Self {
                $raw { $($field: rules!(@written $how, &rule.$field),)* }
            }
        }

        impl Rule for $rule {
            type Raw = $raw;

            fn inherit(
                c: &mut Rules<'_, '_>, path: &str, own: Option<&$raw>, base: Option<&Self>,
            ) -> Option<Self> {
                let Some(own) = own else { return base.cloned() };
                $(let key = format!("{path}.{}", [$($key,)? stringify!($field)][0]);
                let $field = rules!(@check c, key, own, base, $field, $how$(($level))?);)*
                $(let ($($arg),*) = c.$hook(path, [$(own.$arg.is_some()),*], $($arg),*);)?
                Some($rule { $($field: $field?,)* })
            }
        }
    )*};
    (@written rule, $value:expr) => { Some($value.into()) };
    (@written $how:ident, $value:expr) => { $how($value) };
    (@check $c:ident, $key:ident, $own:ident, $base:ident, $field:ident, rule($level:ident)) => {{
        let (own, base) = ($own.$field.as_ref(), $base.map(|b| &b.$field));
        $c.rule(&$key, Level::$level, own, base)
    }};
    (@check $c:ident, $key:ident, $own:ident, $base:ident, $field:ident, $how:ident) => {
        match &$own.$field {
            Some(v) => $c.$field(&$key, v),
            None => $base.map(|b| b.$field.clone()),
        }
    };
}

/// The rule at `$key` of a table, inheriting key by key from that rule of `$base`.
macro_rules! rule {
    ($c:ident, $path:expr, $own:ident, $base:ident . $key:ident, $level:ident) => {{
        let path = format!("{}.{}", $path, stringify!($key));
        let (own, base) = ($own.$key.as_ref(), $base.map(|b| &b.$key));
        $c.rule(&path, Level::$level, own, base)
    }};
}

rules! {
    SurgeRule RawSurge { enabled: bool = some, severity: String = name };
    ServiceLevelRule RawServiceLevel {
        enabled: bool = some, window: String = none, clear_margin: f64 = some,
        for_ms as "for": DurationText = ms, severity: String = name,
    };
    ThresholdRule RawThreshold {
        enabled: bool = some, window: String = none, threshold: f64 = some, clear: f64 = some,
        for_ms as "for": DurationText = ms, severity: String = name,
    } then hysteresis(threshold, clear);
    // No `window`: the oldest wait is a point-in-time value.
    OldestWaitRule RawOldestWait {
        enabled: bool = some, threshold: f64 = some, clear: f64 = some,
        for_ms as "for": DurationText = ms, severity: String = name,
    } then hysteresis(threshold, clear);
    StalledRule RawStalled {
        enabled: bool = some, after_ms as "after": DurationText = ms, severity: String = name,
    };
    LagRule RawLag {
        enabled: bool = some, max: u64 = some, for_ms as "for": DurationText = ms,
        severity: String = name,
    };
    // `[alerts.default]` and `[alerts.queues.<id>]`.
    QueueRules QueueAlerts {
        min_calls: u64 = some, surge: RawSurge = rule(Count),
        service_level: RawServiceLevel = rule(Count), asa: RawThreshold = rule(Seconds),
        abandon_rate: RawThreshold = rule(Ratio), oldest_wait: RawOldestWait = rule(Seconds),
        not_ready: RawThreshold = rule(Ratio), rings_per_answer: RawThreshold = rule(Count),
    };
    RejectedRule RawRejected {
        enabled: bool = some, max_ratio: f64 = some, for_ms as "for": DurationText = ms,
        severity: String = name,
    };
}

fn some<T: Clone>(value: &T) -> Option<T> {
    Some(value.clone())
}

fn ms(value: &Millis) -> Option<DurationText> {
    Some((*value).into())
}

fn name(severity: &Severity) -> Option<String> {
    Some(severity.as_str().to_owned())
}

/// No window: the built-in one depends on engine.windows (see [`builtin_window`]).
fn none(_: &String) -> Option<String> {
    None
}

trait Rule: Sized + Clone {
    type Raw;
    fn inherit(
        c: &mut Rules<'_, '_>,
        path: &str,
        own: Option<&Self::Raw>,
        base: Option<&Self>,
    ) -> Option<Self>;
}

raw! { RawAlerts(b = AlertSettings::default()) {
    alertmanager_url: String = b.alertmanager_url.clone().unwrap_or_default(),
    generator_url: String = b.generator_url.clone().unwrap_or_default(),
    resend_interval: DurationText = b.resend_interval,
    push_timeout: DurationText = b.push_timeout,
    default: QueueAlerts = &b.default,
    queues: BTreeMap<String, QueueAlerts> = BTreeMap::new(),
    source_stalled: Option<RawStalled> = Some((&b.source_stalled).into()),
    consumer_lag: Option<RawLag> = Some((&b.consumer_lag).into()),
    rejected_events: Option<RawRejected> = Some((&b.rejected_events).into()),
} }

/// What a rule's threshold and clear level measure, for their range checks.
#[derive(Debug, Clone, Copy)]
enum Level {
    Seconds,
    /// A 0–1 fraction: a threshold of 5 is a typo for 0.05, not 500 %.
    Ratio,
    Count,
}

impl Level {
    /// What a threshold or clear level must stay below.
    fn bound(self) -> f64 {
        match self {
            Level::Ratio => 1.0,
            Level::Seconds | Level::Count => f64::INFINITY,
        }
    }
}

/// Checks each key of a rule at its path; `None` when invalid.
struct Rules<'a, 'f> {
    p: &'a mut Problems<'f>,
    windows: &'a [WindowConfig],
    level: Level,
}

impl Rules<'_, '_> {
    fn rule<R: Rule>(
        &mut self,
        path: &str,
        level: Level,
        own: Option<&R::Raw>,
        base: Option<&R>,
    ) -> Option<R> {
        self.level = level;
        R::inherit(self, path, own, base)
    }

    fn enabled(&mut self, _: &str, &on: &bool) -> Option<bool> {
        Some(on)
    }

    fn min_calls(&mut self, _: &str, &n: &u64) -> Option<u64> {
        Some(n)
    }

    fn severity(&mut self, path: &str, text: &str) -> Option<Severity> {
        let why = format!("\"{text}\" is not a severity; use \"page\" or \"ticket\"");
        self.p.ok(path, Severity::parse(text.trim()).ok_or(why))
    }

    fn for_ms(&mut self, path: &str, text: &DurationText) -> Option<Millis> {
        self.p.duration(path, text).map(millis)
    }

    fn after_ms(&mut self, path: &str, text: &DurationText) -> Option<Millis> {
        self.p.positive(path, text).map(millis)
    }

    fn max(&mut self, path: &str, &n: &u64) -> Option<u64> {
        self.p.nonzero(path, n)
    }

    fn max_ratio(&mut self, path: &str, ratio: &f64) -> Option<f64> {
        self.threshold(path, ratio)
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
        self.p.check(path, name.to_owned(), known, why)
    }

    fn threshold(&mut self, path: &str, &v: &f64) -> Option<f64> {
        let hint = match self.level {
            Level::Ratio => "must be a ratio in (0, 1), e.g. 0.05 for 5 %",
            Level::Seconds => "must be a number of seconds above 0, e.g. 20",
            Level::Count => "must be a number above 0",
        };
        // Written so that NaN fails too.
        self.p
            .number(path, v, v > 0.0 && v < self.level.bound(), hint)
    }

    fn clear(&mut self, path: &str, &v: &f64) -> Option<f64> {
        let hint = match self.level {
            Level::Ratio => "must be a ratio in [0, 1)",
            Level::Seconds | Level::Count => "must be a number, 0 or more",
        };
        self.p
            .number(path, v, v >= 0.0 && v < self.level.bound(), hint)
    }

    fn clear_margin(&mut self, path: &str, &m: &f64) -> Option<f64> {
        let rule = "must be in [0, 1): the alert fires below the queue's sl_target and resolves \
                    at sl_target + clear_margin, e.g. 0.02";
        self.p.number(path, m, (0.0..1.0).contains(&m), rule)
    }

    /// A firing alert resolves at `clear`, so it must be at most the threshold; reported at the
    /// key the table sets (both inherited have been checked where they were written).
    fn hysteresis(
        &mut self,
        path: &str,
        [_, clear_written]: [bool; 2],
        threshold: Option<f64>,
        clear: Option<f64>,
    ) -> (Option<f64>, Option<f64>) {
        let (Some(t), Some(c)) = (threshold, clear) else {
            return (threshold, clear);
        };
        if c <= t {
            return (threshold, clear);
        }
        let (key, why) = if clear_written {
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
        self.p.add(&format!("{path}.{key}"), why);
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
fn builtin_window(builtin: &str, windows: &[WindowConfig]) -> String {
    let len = parse_duration(builtin).unwrap_or_default();
    let rank = |w: &&WindowConfig| (w.name != builtin, w.len.abs_diff(len), Reverse(w.len));
    let nearest = windows.iter().min_by_key(rank);
    nearest.map_or_else(|| builtin.to_owned(), |w| w.name.clone())
}

pub(super) fn validate(
    p: &mut Problems<'_>,
    a: &RawAlerts,
    windows: &[WindowConfig],
) -> Option<AlertSettings> {
    let mut b = AlertSettings::default();
    let q = &mut b.default;
    for window in [
        &mut q.service_level.window,
        &mut q.asa.window,
        &mut q.abandon_rate.window,
        &mut q.not_ready.window,
        &mut q.rings_per_answer.window,
    ] {
        *window = builtin_window(window, windows);
    }
    let level = Level::Count;
    let c = &mut Rules { p, windows, level };
    let default = c.rule(
        "alerts.default",
        Level::Count,
        Some(&a.default),
        Some(&b.default),
    );
    let mut queues = HashMap::new();
    for (id, own) in &a.queues {
        let path = format!("alerts.queues.{id}");
        if id.trim().is_empty() {
            c.p.add(&path, "queue id must not be empty");
        } else if let Some(rules) = c.rule(&path, Level::Count, Some(own), default.as_ref()) {
            queues.insert(id.clone(), rules);
        }
    }
    // The service's own rules have no queue overrides: the built-in rule is their base.
    let (a, b) = (a, Some(&b));
    let stalled = rule!(c, "alerts", a, b.source_stalled, Count);
    let lag = rule!(c, "alerts", a, b.consumer_lag, Count);
    let rejected = rule!(c, "alerts", a, b.rejected_events, Ratio);
    let p = &mut *c.p;
    let alertmanager_url = p.ok("alerts.alertmanager_url", url(&a.alertmanager_url, true));
    let generator_url = p.ok("alerts.generator_url", url(&a.generator_url, false));
    let (resend, advice) = (&a.resend_interval, " (Alertmanager's own default is 1m)");
    let resend = p.at_least(
        "alerts.resend_interval",
        resend,
        Duration::from_secs(1),
        advice,
    );
    let push_timeout = p.positive("alerts.push_timeout", &a.push_timeout);
    Some(AlertSettings {
        default: default?,
        queues,
        source_stalled: stalled?,
        consumer_lag: lag?,
        rejected_events: rejected?,
        alertmanager_url: alertmanager_url?,
        generator_url: generator_url?,
        resend_interval: resend?,
        push_timeout: push_timeout?,
    })
}
