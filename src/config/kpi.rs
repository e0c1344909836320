//! `[kpi.default]` and `[kpi.queues.<id>]`: service level, abandons, rings and the surge rule.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::duration::{format_duration, from_millis, millis, DurationText};
use super::Problems;
use crate::kpi::surge::SurgeSettings;
use crate::kpi::QueueKpiSettings;
use crate::state::BUCKET_MS;

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
        let interval_minutes = interval.as_secs_f64() / 60.0;
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
                forecast_per_minute: s
                    .forecast
                    .iter()
                    .map(|(&start, &calls)| (millis(start), calls / interval_minutes))
                    .collect(),
            },
        }
    }
}

/// `[kpi]` as written.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawKpi {
    default: RawQueueKpi,
    queues: BTreeMap<String, RawQueueKpi>,
}

/// `[kpi.default]` or `[kpi.queues.<id>]`: only what differs from what it inherits.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawQueueKpi {
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

/// Every key set to the engine's default ([`QueueKpiSettings::default`]), so that the defaults
/// list every setting; `[kpi.default]` overrides them key by key. There is no built-in forecast.
impl Default for RawKpi {
    fn default() -> Self {
        let s = QueueKpiSettings::default();
        let d = |ms| Some(DurationText::from(from_millis(ms)));
        let default = RawQueueKpi {
            sl_threshold: d(s.sl_threshold_ms),
            sl_target: Some(s.sl_target),
            short_abandon: d(s.short_abandon_ms),
            ring_cadence: d(s.ring_cadence_ms),
            surge_window: d(s.surge.short_window_ms),
            surge_baseline: d(s.surge.baseline_window_ms),
            surge_factor: Some(s.surge.factor),
            surge_subside_factor: Some(s.surge.subside_factor),
            surge_min_calls: Some(s.surge.min_calls),
            surge_response_limit: d(s.surge.response_limit_ms),
            surge_forecast: Some(BTreeMap::new()),
        };
        RawKpi {
            default,
            queues: BTreeMap::new(),
        }
    }
}

/// Overrides are validated where they are written, then merged. The valid definitions come
/// back on their own (an invalid one is reported and left out), so that the forecast check,
/// which needs `engine.interval`, covers them even when `kpi.default` is invalid.
pub(super) fn validate(
    p: &mut Problems<'_>,
    raw: &RawKpi,
) -> (Option<QueueKpi>, BTreeMap<String, QueueKpi>) {
    // The built-in definition is read from the defaults, so that it is written once.
    let builtin = p.queue_kpi("kpi.default", &RawKpi::default().default, None);
    let default = p.queue_kpi("kpi.default", &raw.default, builtin.as_ref());
    let mut queues = BTreeMap::new();
    for (id, over) in &raw.queues {
        let path = format!("kpi.queues.{id}");
        if id.trim().is_empty() {
            p.add(&path, "queue id must not be empty");
            continue;
        }
        if let Some(q) = p.queue_kpi(&path, over, default.as_ref()) {
            queues.insert(id.clone(), q);
        }
    }
    (default, queues)
}

/// Forecasts are given per interval, so their keys must be interval starts.
pub(super) fn check_forecasts(
    p: &mut Problems<'_>,
    default: Option<&QueueKpi>,
    queues: &BTreeMap<String, QueueKpi>,
    interval: Duration,
) {
    let kpis = default.map(|k| ("kpi.default".to_owned(), k)).into_iter();
    let kpis = kpis.chain(queues.iter().map(|(id, k)| (format!("kpi.queues.{id}"), k)));
    for (path, k) in kpis {
        let misaligned = k.surge.forecast.keys();
        for start in misaligned.filter(|s| s.as_millis() % interval.as_millis() != 0) {
            let secs = start.as_secs();
            p.add(
                &format!("{path}.surge_forecast"),
                format!(
                    "\"{:02}:{:02}\" is not the start of an interval of {}",
                    secs / 3600,
                    secs / 60 % 60,
                    format_duration(interval)
                ),
            );
        }
    }
}

/// "HH:MM" as an offset from local midnight.
fn forecast_start(start: &str) -> Option<Duration> {
    let (h, m) = start.split_once(':')?;
    let (h, m): (u64, u64) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60 && start.len() == 5).then(|| Duration::from_secs(h * 3600 + m * 60))
}

impl Problems<'_> {
    /// A window the bucket ring can represent: a positive multiple of the bucket width.
    fn bucketed(&mut self, path: &str, text: &DurationText) -> Option<Duration> {
        let d = self.positive(path, text)?;
        if millis(d) % BUCKET_MS != 0 {
            self.add(
                path,
                format!("{} is not a multiple of 10s", format_duration(d)),
            );
            return None;
        }
        Some(d)
    }

    /// Offsets from local midnight ("HH:MM") to forecast calls, each ≥ 0.
    fn forecast(
        &mut self,
        path: &str,
        raw: &BTreeMap<String, f64>,
    ) -> Option<BTreeMap<Duration, f64>> {
        let mut out = BTreeMap::new();
        let mut ok = true;
        for (start, &calls) in raw {
            let Some(offset) = forecast_start(start) else {
                self.add(path, format!("\"{start}\" is not an interval start; write it as \"HH:MM\", e.g. \"09:30\""));
                ok = false;
                continue;
            };
            if !(calls.is_finite() && calls >= 0.0) {
                self.add(
                    path,
                    format!("\"{start}\" = {calls}: forecast calls must be a number ≥ 0"),
                );
                ok = false;
                continue;
            }
            out.insert(offset, calls);
        }
        ok.then_some(out)
    }

    /// Checks only the fields the table sets: an inherited bad value is reported once, where it
    /// has to be fixed (`base` is `None` then, and so is the result).
    fn queue_kpi(
        &mut self,
        path: &str,
        raw: &RawQueueKpi,
        base: Option<&QueueKpi>,
    ) -> Option<QueueKpi> {
        let key = |k: &str| format!("{path}.{k}");
        let sl_threshold = match &raw.sl_threshold {
            Some(text) => self.positive(&key("sl_threshold"), text),
            None => base.map(|d| d.sl_threshold),
        };
        let sl_target = match raw.sl_target {
            // Written so that NaN fails too.
            Some(t) if t > 0.0 && t <= 1.0 => Some(t),
            Some(t) => {
                let why = format!("{t} must be in (0, 1], e.g. 0.8 for 80 %");
                self.add(&key("sl_target"), why);
                None
            }
            None => base.map(|d| d.sl_target),
        };
        let short_abandon = match &raw.short_abandon {
            Some(text) => self.positive(&key("short_abandon"), text),
            None => base.map(|d| d.short_abandon),
        };
        let ring_cadence = match &raw.ring_cadence {
            Some(text) => self.positive(&key("ring_cadence"), text),
            None => base.map(|d| d.ring_cadence),
        };
        let inherited = base.map(|d| &d.surge);
        let window = match &raw.surge_window {
            Some(text) => self.bucketed(&key("surge_window"), text),
            None => inherited.map(|d| d.window),
        };
        let baseline = match &raw.surge_baseline {
            Some(text) => self.bucketed(&key("surge_baseline"), text),
            None => inherited.map(|d| d.baseline),
        };
        let factor = match raw.surge_factor {
            // Written so that NaN fails too.
            Some(f) if f > 1.0 && f.is_finite() => Some(f),
            Some(f) => {
                self.add(
                    &key("surge_factor"),
                    format!("{f} must be a number above 1, e.g. 1.5 for \"50 % above baseline\""),
                );
                None
            }
            None => inherited.map(|d| d.factor),
        };
        let subside_factor = match raw.surge_subside_factor {
            Some(f) if f >= 1.0 && f.is_finite() => Some(f),
            Some(f) => {
                self.add(
                    &key("surge_subside_factor"),
                    format!("{f} must be a number of at least 1 (and at most surge_factor)"),
                );
                None
            }
            None => inherited.map(|d| d.subside_factor),
        };
        let min_calls = match raw.surge_min_calls {
            Some(0) => {
                self.add(&key("surge_min_calls"), "must be at least 1");
                None
            }
            Some(n) => Some(n),
            None => inherited.map(|d| d.min_calls),
        };
        let response_limit = match &raw.surge_response_limit {
            Some(text) => self.positive(&key("surge_response_limit"), text),
            None => inherited.map(|d| d.response_limit),
        };
        let forecast = match &raw.surge_forecast {
            Some(table) => self.forecast(&key("surge_forecast"), table),
            None => inherited.map(|d| d.forecast.clone()),
        };
        let subside_factor = match (factor, subside_factor) {
            (Some(f), Some(sub)) if sub > f => {
                self.add(
                    &key("surge_subside_factor"),
                    format!(
                        "{sub} is above surge_factor {f}: a surge would end before it could start"
                    ),
                );
                None
            }
            (_, sub) => sub,
        };
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
}
