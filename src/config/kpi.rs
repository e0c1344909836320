//! `[kpi.default]` and `[kpi.queues.<id>]`: service level, abandons, rings and the surge rule.
//! `[kpi.default]` inherits what it leaves out from the engine's defaults
//! (`QueueKpiSettings::default`), and a queue's table from `[kpi.default]`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::duration::{shown, DurationText};
use super::engine::{bucketed, MAX_WINDOW_MS};
use super::{ms, none, set, some, Problems};
use crate::event::Millis;
use crate::kpi::QueueKpiSettings;
use crate::state::EngineSettings;

// Every key of `[kpi.default]` is the engine's default, so that the defaults list every setting.
raw! { RawKpi {
    default: RawQueueKpi = &QueueKpiSettings::default(),
    queues: BTreeMap<String, RawQueueKpi> = BTreeMap::new(),
} }

inherits! { QueueKpiSettings RawQueueKpi {
    sl_threshold => sl_threshold_ms: DurationText = short_span / ms,
    sl_target: f64 = sl_target / some,
    short_abandon => short_abandon_ms: DurationText = short_span / ms,
    ring_cadence => ring_cadence_ms: DurationText = short_span / ms,
    surge_window => surge.short_window_ms: DurationText = span / ms,
    surge_baseline => surge.baseline_window_ms: DurationText = span / ms,
    surge_factor => surge.factor: f64 = surge_factor / some,
    surge_subside_factor => surge.subside_factor: f64 = subside_factor / some,
    surge_min_calls => surge.min_calls: u64 = min_calls / some,
    surge_response_limit => surge.response_limit_ms: DurationText = long / ms,
    // Calls per interval by the interval's start; there is no built-in forecast.
    surge_forecast => surge.forecast_per_minute: BTreeMap<String, f64> = forecast / none,
} then surges(surge_factor, surge_subside_factor); }

/// Checks `[kpi]` into the engine's settings `s`; an invalid queue is reported and left out.
pub(super) fn validate(p: &mut Problems<'_>, raw: &RawKpi, s: &mut EngineSettings) {
    let builtin = Some(&s.default_queue);
    let default = raw.default.inherit(p, "kpi.default", builtin);
    for (id, own) in &raw.queues {
        let path = format!("kpi.queues.{id}");
        if id.trim().is_empty() {
            p.add(&path, "queue id must not be empty");
        } else if let Some(q) = own.inherit(p, &path, default.as_ref()) {
            s.queues.insert(id.clone(), q);
        }
    }
    set(&mut s.default_queue, default);
}

impl Problems<'_> {
    /// A window the bucket ring can represent.
    fn span(&mut self, path: &str, text: &DurationText) -> Option<Millis> {
        let ms = self.positive_ms(path, text);
        let ms = self.within(path, ms, MAX_WINDOW_MS)?;
        let why = format!("{} is not a multiple of 10s", shown(ms));
        self.check(path, ms, bucketed(ms), why)
    }

    // Written so that NaN fails too.
    fn sl_target(&mut self, path: &str, &t: &f64) -> Option<f64> {
        let rule = "must be in (0, 1], e.g. 0.8 for 80 %";
        self.number(path, t, t > 0.0 && t <= 1.0, rule)
    }

    fn surge_factor(&mut self, path: &str, &f: &f64) -> Option<f64> {
        let rule = "must be a number above 1, e.g. 1.5 for \"50 % above baseline\"";
        self.number(path, f, f > 1.0 && f.is_finite(), rule)
    }

    fn subside_factor(&mut self, path: &str, &f: &f64) -> Option<f64> {
        let rule = "must be a number of at least 1 (and at most surge_factor)";
        self.number(path, f, f >= 1.0 && f.is_finite(), rule)
    }

    fn min_calls(&mut self, path: &str, &n: &u64) -> Option<u64> {
        self.check(path, n, n > 0, "must be at least 1")
    }

    /// Interval starts ("HH:MM", from local midnight) to forecast calls, each ≥ 0, as a rate
    /// per minute. Without a valid `engine.interval` (reported) the starts are not checked
    /// against it, and the rates are not used.
    fn forecast(
        &mut self,
        path: &str,
        raw: &BTreeMap<String, f64>,
    ) -> Option<BTreeMap<Millis, f64>> {
        let minutes = self.interval.map_or(1.0, |i| i as f64 / 60_000.0);
        let parse = |n: &str| n.parse::<Millis>().ok();
        let checked = raw.iter().map(|(start, &calls)| {
            let hh_mm = start.split_once(':').filter(|_| start.len() == 5);
            let hh_mm = hh_mm.and_then(|(h, m)| Some((parse(h)?, parse(m)?)));
            let offset = hh_mm.filter(|&(h, m)| (0..24).contains(&h) && (0..60).contains(&m));
            let entry = match offset.map(|(h, m)| (h * 60 + m) * 60_000) {
                None => Err(format!(
                    "\"{start}\" is not an interval start; write it as \"HH:MM\", e.g. \"09:30\""
                )),
                Some(_) if !(calls.is_finite() && calls >= 0.0) => Err(format!(
                    "\"{start}\" = {calls}: forecast calls must be a number ≥ 0"
                )),
                Some(ms) => match self.interval {
                    Some(every) if ms % every != 0 => Err(format!(
                        "\"{start}\" is not the start of an interval of {}",
                        shown(every)
                    )),
                    _ => Ok((ms, calls / minutes)),
                },
            };
            self.ok(path, entry)
        });
        checked.collect::<Vec<_>>().into_iter().collect()
    }

    /// A surge must be able to start before it ends; reported at the key the table sets.
    fn surges(
        &mut self,
        path: &str,
        [_, subside_set]: [bool; 2],
        factor: Option<f64>,
        subside: Option<f64>,
    ) -> (Option<f64>, Option<f64>) {
        let Some((f, sub)) = factor.zip(subside).filter(|(f, sub)| sub > f) else {
            return (factor, subside);
        };
        let (key, why) = if subside_set {
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
        self.add(&format!("{path}.{key}"), why);
        (None, None)
    }
}
