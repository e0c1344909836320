//! `[kpi.default]` and `[kpi.queues.<id>]`: service level, abandons, rings and the surge rule.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::duration::{format_duration, millis, DurationText};
use super::engine::bucketed;
use super::Problems;
use crate::kpi::surge::SurgeSettings;
use crate::kpi::QueueKpiSettings;

#[derive(Debug, Clone, PartialEq)]
pub struct KpiConfig {
    pub default: QueueKpi,
    /// Per-queue definitions with the omitted fields already filled from `default`.
    pub queues: BTreeMap<String, QueueKpi>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct QueueKpi {
    pub sl_threshold: Duration,
    pub sl_target: f64,
    pub short_abandon: Duration,
    pub ring_cadence: Duration,
    pub surge: SurgeConfig,
}

/// A queue's surge rule (see [`crate::kpi::surge`]).
#[derive(Debug, Clone, PartialEq)]
pub struct SurgeConfig {
    /// The short window whose arrival rate is compared with the baseline.
    pub window: Duration,
    /// The trailing window before the short one that gives the baseline rate.
    pub baseline: Duration,
    pub factor: f64,
    pub subside_factor: f64,
    pub min_calls: u64,
    pub response_limit: Duration,
    /// Forecast calls per interval, by the interval's start as an offset from local midnight.
    pub forecast: BTreeMap<Duration, f64>,
}

impl QueueKpi {
    /// In the engine's units; `interval` turns forecast calls per interval into a rate.
    pub fn settings(&self, interval: Duration) -> QueueKpiSettings {
        let s = &self.surge;
        let per_minute = |(&start, &calls): (&Duration, &f64)| {
            (millis(start), calls / (interval.as_secs_f64() / 60.0))
        };
        QueueKpiSettings {
            sl_threshold_ms: millis(self.sl_threshold),
            sl_target: self.sl_target,
            short_abandon_ms: millis(self.short_abandon),
            ring_cadence_ms: millis(self.ring_cadence),
            surge: SurgeSettings {
                short_window_ms: millis(s.window),
                baseline_window_ms: millis(s.baseline),
                factor: s.factor,
                subside_factor: s.subside_factor,
                min_calls: s.min_calls,
                response_limit_ms: millis(s.response_limit),
                forecast_per_minute: s.forecast.iter().map(per_minute).collect(),
            },
        }
    }
}

// Every key set to the engine's default (`QueueKpiSettings::default`), so that the defaults
// list every setting; `[kpi.default]` overrides them key by key. There is no built-in forecast.
raw! { RawKpi(s = QueueKpiSettings::default()) {
    default: RawQueueKpi = RawQueueKpi {
        sl_threshold: Some(s.sl_threshold_ms.into()),
        sl_target: Some(s.sl_target),
        short_abandon: Some(s.short_abandon_ms.into()),
        ring_cadence: Some(s.ring_cadence_ms.into()),
        surge_window: Some(s.surge.short_window_ms.into()),
        surge_baseline: Some(s.surge.baseline_window_ms.into()),
        surge_factor: Some(s.surge.factor),
        surge_subside_factor: Some(s.surge.subside_factor),
        surge_min_calls: Some(s.surge.min_calls),
        surge_response_limit: Some(s.surge.response_limit_ms.into()),
        surge_forecast: Some(BTreeMap::new()),
    },
    queues: BTreeMap<String, RawQueueKpi> = BTreeMap::new(),
} }

/// `[kpi.default]` or `[kpi.queues.<id>]`: only what differs from what it inherits.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawQueueKpi {
    sl_threshold: Option<DurationText>,
    sl_target: Option<f64>,
    short_abandon: Option<DurationText>,
    ring_cadence: Option<DurationText>,
    surge_window: Option<DurationText>,
    surge_baseline: Option<DurationText>,
    surge_factor: Option<f64>,
    surge_subside_factor: Option<f64>,
    surge_min_calls: Option<u64>,
    surge_response_limit: Option<DurationText>,
    surge_forecast: Option<BTreeMap<String, f64>>,
}

/// Overrides are validated where they are written, then merged; an invalid queue is reported
/// and left out. The forecasts are checked against `engine.interval` here, for every valid
/// definition, even when `kpi.default` is invalid.
pub(super) fn validate(
    p: &mut Problems<'_>,
    raw: &RawKpi,
    interval: Option<Duration>,
) -> Option<KpiConfig> {
    // The built-in definition is read from the defaults, so that it is written once.
    let builtin = queue_kpi(p, "kpi.default", &RawKpi::default().default, None);
    let default = queue_kpi(p, "kpi.default", &raw.default, builtin.as_ref());
    let mut queues = BTreeMap::new();
    for (id, own) in &raw.queues {
        let path = format!("kpi.queues.{id}");
        if id.trim().is_empty() {
            p.add(&path, "queue id must not be empty");
        } else if let Some(q) = queue_kpi(p, &path, own, default.as_ref()) {
            queues.insert(id.clone(), q);
        }
    }
    // Forecasts are given per interval, so their keys must be interval starts.
    let kpis = default.iter().map(|k| ("kpi.default".to_owned(), k));
    let kpis = kpis.chain(queues.iter().map(|(id, k)| (format!("kpi.queues.{id}"), k)));
    for (path, k) in kpis {
        let Some(interval) = interval else { break };
        let starts = k.surge.forecast.keys().map(Duration::as_secs);
        for s in starts.filter(|s| s % interval.as_secs() != 0) {
            let (hh, mm, every) = (s / 3600, s / 60 % 60, format_duration(interval));
            let why = format!("\"{hh:02}:{mm:02}\" is not the start of an interval of {every}");
            p.add(&format!("{path}.surge_forecast"), why);
        }
    }
    default.map(|default| KpiConfig { default, queues })
}

/// Checks only the keys the table sets: an inherited bad value is reported once, where it has
/// to be fixed (`base` is `None` then, and so is the result).
fn queue_kpi(
    p: &mut Problems<'_>,
    path: &str,
    o: &RawQueueKpi,
    base: Option<&QueueKpi>,
) -> Option<QueueKpi> {
    let key = |k: &str| format!("{path}.{k}");
    // What the table sets, checked (`$v` is the value, `$p` the problems, `$at` the path), else
    // what it inherits.
    macro_rules! own {
        ($key:ident => $($field:ident).+, |$p:ident, $at:ident, $v:pat_param| $check:expr) => {
            match o.$key.as_ref() {
                Some($v) => (|$p: &mut Problems<'_>, $at: &str| $check)(p, &key(stringify!($key))),
                None => base.map(|b| b.$($field).+.clone()),
            }
        };
    }
    // Written so that NaN fails too.
    let sl_target = own!(sl_target => sl_target, |p, at, &t| {
        p.number(at, t, t > 0.0 && t <= 1.0, "must be in (0, 1], e.g. 0.8 for 80 %")
    });
    let sl_threshold = own!(sl_threshold => sl_threshold, |p, at, t| p.positive(at, t));
    let short_abandon = own!(short_abandon => short_abandon, |p, at, t| p.positive(at, t));
    let ring_cadence = own!(ring_cadence => ring_cadence, |p, at, t| p.positive(at, t));
    let window = own!(surge_window => surge.window, |p, at, t| span(p, at, t));
    let baseline = own!(surge_baseline => surge.baseline, |p, at, t| span(p, at, t));
    let factor = own!(surge_factor => surge.factor, |p, at, &f| {
        let rule = "must be a number above 1, e.g. 1.5 for \"50 % above baseline\"";
        p.number(at, f, f > 1.0 && f.is_finite(), rule)
    });
    let subside_factor = own!(surge_subside_factor => surge.subside_factor, |p, at, &f| {
        let rule = "must be a number of at least 1 (and at most surge_factor)";
        p.number(at, f, f >= 1.0 && f.is_finite(), rule)
    });
    let min_calls = own!(surge_min_calls => surge.min_calls, |p, at, &n| {
        p.check(at, n, n > 0, "must be at least 1")
    });
    let response_limit = own!(surge_response_limit => surge.response_limit, |p, at, t| {
        p.positive(at, t)
    });
    let forecast = own!(surge_forecast => surge.forecast, |p, at, f| forecast(p, at, f));
    // Reported at the key this table sets, where it can be fixed.
    if let Some((f, sub)) = factor.zip(subside_factor).filter(|(f, sub)| sub > f) {
        let (k, why) = if o.surge_subside_factor.is_some() {
            let why =
                format!("{sub} is above surge_factor {f}: a surge would end before it could start");
            ("surge_subside_factor", why)
        } else {
            let why = format!(
                "{f} is below the inherited surge_subside_factor ({sub}): a surge would end \
                 before it could start; set a lower surge_subside_factor here as well"
            );
            ("surge_factor", why)
        };
        p.add(&key(k), why);
        return None;
    }
    Some(QueueKpi {
        sl_threshold: sl_threshold?,
        sl_target: sl_target?,
        short_abandon: short_abandon?,
        ring_cadence: ring_cadence?,
        surge: SurgeConfig {
            window: window?,
            baseline: baseline?,
            factor: factor?,
            subside_factor: subside_factor?,
            min_calls: min_calls?,
            response_limit: response_limit?,
            forecast: forecast?,
        },
    })
}

/// A window the bucket ring can represent.
fn span(p: &mut Problems<'_>, path: &str, text: &DurationText) -> Option<Duration> {
    let d = p.positive(path, text)?;
    let why = format!("{} is not a multiple of 10s", format_duration(d));
    p.check(path, d, bucketed(d), why)
}

/// Offsets from local midnight ("HH:MM") to forecast calls, each ≥ 0.
fn forecast(
    p: &mut Problems<'_>,
    path: &str,
    raw: &BTreeMap<String, f64>,
) -> Option<BTreeMap<Duration, f64>> {
    let (mut out, mut valid) = (BTreeMap::new(), true);
    for (start, &calls) in raw {
        let hh_mm = start.split_once(':').filter(|_| start.len() == 5);
        let hh_mm = hh_mm.and_then(|(h, m)| Some((h.parse::<u64>().ok()?, m.parse::<u64>().ok()?)));
        let offset = hh_mm
            .filter(|&(h, m)| h < 24 && m < 60)
            .map(|(h, m)| h * 3600 + m * 60);
        let entry = match offset {
            None => Err(format!(
                "\"{start}\" is not an interval start; write it as \"HH:MM\", e.g. \"09:30\""
            )),
            Some(_) if !(calls.is_finite() && calls >= 0.0) => Err(format!(
                "\"{start}\" = {calls}: forecast calls must be a number ≥ 0"
            )),
            Some(secs) => Ok((Duration::from_secs(secs), calls)),
        };
        valid &= p.ok(path, entry).map(|(o, c)| out.insert(o, c)).is_some();
    }
    valid.then_some(out)
}
