//! Surge episodes: detect a traffic surge on a queue, time the floor's response, and say when
//! the response is late — a pure state machine, evaluated with `now` and window counts.
//!
//! * **Onset**: the short-window arrival rate (5 min) reaches `factor` (1.5) × the baseline
//!   rate, with at least `min_calls` (10) offered in the short window. The baseline is the
//!   trailing rate before the short window (60 min) or, when configured, a forecast.
//! * **Responded**: the short-window service level is at or above the queue's target.
//!   **Subsided**: arrivals fall below `subside_factor` (1.25) × baseline while the service level
//!   is still below target: the episode ends, recorded as not responded.
//! * **Response time** = onset → responded. An open episode's age reaching `response_limit`
//!   (600 s) is what the SurgeResponseExceeded alert fires on, until the episode ends.
//! * **Hysteresis**: after an episode ends, a new onset needs the rate to have fallen below the
//!   subside level first, so a rate hovering at the onset level does not flap.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::event::Millis;

#[derive(Debug, Clone, PartialEq)]
pub struct SurgeSettings {
    pub short_window_ms: Millis,
    pub baseline_window_ms: Millis,
    pub factor: f64,
    pub subside_factor: f64,
    pub min_calls: u64,
    pub response_limit_ms: Millis,
    /// Forecast arrivals per minute by interval, keyed by the interval's start as an offset
    /// from local midnight; where the current interval has one, it is the baseline.
    pub forecast_per_minute: BTreeMap<Millis, f64>,
}

impl Default for SurgeSettings {
    fn default() -> Self {
        SurgeSettings {
            short_window_ms: 5 * 60_000,
            baseline_window_ms: 60 * 60_000,
            factor: 1.5,
            subside_factor: 1.25,
            min_calls: 10,
            response_limit_ms: 10 * 60_000,
            forecast_per_minute: BTreeMap::new(),
        }
    }
}

/// What one evaluation looks at.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SurgeInputs {
    pub now: Millis,
    /// Calls offered in the short window ending now.
    pub short_offered: u64,
    /// Calls offered in the baseline window before the short window (or forecast for it);
    /// `None` while the queue has not been watched for the whole baseline window, when no
    /// surge can start.
    pub baseline_offered: Option<f64>,
    /// Service level over the short window, if there is one.
    pub short_service_level: Option<f64>,
    pub sl_target: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EpisodeOutcome {
    Responded = 0,
    Subsided = 1,
}

impl EpisodeOutcome {
    /// The `outcome` label value.
    pub fn label(self) -> &'static str {
        match self {
            EpisodeOutcome::Responded => "responded",
            EpisodeOutcome::Subsided => "subsided",
        }
    }
}

/// A finished episode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Episode {
    pub onset: Millis,
    pub ended: Millis,
    pub outcome: EpisodeOutcome,
}

impl Episode {
    /// Onset to response; `None` when the surge subsided unanswered.
    pub fn response_ms(&self) -> Option<Millis> {
        (self.outcome == EpisodeOutcome::Responded).then_some(self.ended - self.onset)
    }
}

/// The live view of a queue's surge state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct SurgeStatus {
    pub active: bool,
    pub onset: Option<Millis>,
    pub age_ms: Millis,
    pub rate_per_minute: f64,
    pub baseline_per_minute: Option<f64>,
    /// The open episode is older than the response limit.
    pub response_exceeded: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SurgeDetector {
    onset: Option<Millis>,
    /// Off after an episode until the rate has fallen below the subside level.
    disarmed: bool,
    last: SurgeStatus,
}

fn per_minute(calls: f64, window_ms: Millis) -> f64 {
    calls / (window_ms as f64 / 60_000.0)
}

impl SurgeDetector {
    /// Evaluates the queue at `i.now`; returns the episode that ended, if one did.
    pub fn evaluate(&mut self, i: &SurgeInputs, s: &SurgeSettings) -> Option<Episode> {
        let rate = per_minute(i.short_offered as f64, s.short_window_ms);
        let baseline = i
            .baseline_offered
            .map(|calls| per_minute(calls, s.baseline_window_ms));
        let surging =
            baseline.is_some_and(|b| i.short_offered >= s.min_calls && rate >= s.factor * b);
        let below_subside =
            baseline.is_none_or(|b| rate < s.subside_factor * b) || i.short_offered < s.min_calls;
        let sl_met = i.short_service_level.is_some_and(|sl| sl >= i.sl_target);

        let mut ended = None;
        match self.onset {
            None => {
                if self.disarmed && below_subside {
                    self.disarmed = false;
                }
                if !self.disarmed && surging {
                    self.onset = Some(i.now);
                }
            }
            Some(onset) => {
                let outcome = if sl_met {
                    Some(EpisodeOutcome::Responded)
                } else if below_subside {
                    Some(EpisodeOutcome::Subsided)
                } else {
                    None
                };
                if let Some(outcome) = outcome {
                    ended = Some(Episode {
                        onset,
                        ended: i.now,
                        outcome,
                    });
                    self.onset = None;
                    self.disarmed = true;
                }
            }
        }
        // An episode responded to at its very onset (the floor absorbed it) still counts.
        if let (Some(onset), true) = (self.onset, sl_met) {
            if onset == i.now {
                ended = Some(Episode {
                    onset,
                    ended: i.now,
                    outcome: EpisodeOutcome::Responded,
                });
                self.onset = None;
                self.disarmed = true;
            }
        }
        let age_ms = self.onset.map_or(0, |o| i.now - o);
        self.last = SurgeStatus {
            active: self.onset.is_some(),
            onset: self.onset,
            age_ms,
            rate_per_minute: rate,
            baseline_per_minute: baseline,
            response_exceeded: self.onset.is_some() && age_ms >= s.response_limit_ms,
        };
        ended
    }

    pub fn status(&self) -> SurgeStatus {
        self.last
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Millis = 60_000;

    /// Baseline 60 calls in the hour before (1/min); `short` calls in the last 5 minutes.
    fn at(minute: i64, short: u64, sl: Option<f64>) -> SurgeInputs {
        SurgeInputs {
            now: minute * MIN,
            short_offered: short,
            baseline_offered: Some(60.0),
            short_service_level: sl,
            sl_target: 0.8,
        }
    }

    #[test]
    fn onset_needs_the_factor_and_the_minimum_volume() {
        let s = SurgeSettings::default();
        let mut d = SurgeDetector::default();
        // 7 calls in 5 min = 1.4/min: below 1.5 × 1/min.
        assert_eq!(d.evaluate(&at(0, 7, Some(0.5)), &s), None);
        assert!(!d.status().active);
        // 8 calls = 1.6/min ≥ 1.5, but fewer than 10 calls.
        d.evaluate(&at(1, 8, Some(0.5)), &s);
        assert!(!d.status().active);
        // 10 calls = 2/min: a surge.
        d.evaluate(&at(2, 10, Some(0.5)), &s);
        let st = d.status();
        assert!(st.active && st.onset == Some(2 * MIN));
        assert_eq!(
            (st.rate_per_minute, st.baseline_per_minute),
            (2.0, Some(1.0))
        );
    }

    #[test]
    fn no_surge_starts_without_a_baseline() {
        let s = SurgeSettings::default();
        let mut d = SurgeDetector::default();
        let unknown = SurgeInputs {
            baseline_offered: None,
            ..at(0, 50, Some(0.2))
        };
        assert_eq!(d.evaluate(&unknown, &s), None);
        assert!(!d.status().active);
        assert_eq!(d.status().baseline_per_minute, None);
    }

    #[test]
    fn response_time_runs_from_onset_to_the_sl_back_at_target_and_the_limit_fires_at_600s() {
        let s = SurgeSettings::default();
        let mut d = SurgeDetector::default();
        d.evaluate(&at(0, 20, Some(0.6)), &s);
        d.evaluate(&at(9, 20, Some(0.5)), &s);
        assert!(!d.status().response_exceeded, "9 min old");
        d.evaluate(&at(10, 20, Some(0.5)), &s);
        assert!(d.status().response_exceeded && d.status().age_ms == 10 * MIN);
        let ended = d.evaluate(&at(13, 20, Some(0.82)), &s).unwrap();
        assert_eq!(
            ended,
            Episode {
                onset: 0,
                ended: 13 * MIN,
                outcome: EpisodeOutcome::Responded
            }
        );
        assert_eq!(ended.response_ms(), Some(13 * MIN));
        assert!(!d.status().active && !d.status().response_exceeded);
    }

    #[test]
    fn arrivals_falling_back_with_the_sl_still_low_end_the_episode_unresponded() {
        let s = SurgeSettings::default();
        let mut d = SurgeDetector::default();
        d.evaluate(&at(0, 20, Some(0.6)), &s);
        // 6 calls = 1.2/min < 1.25 × baseline: subsided.
        let ended = d.evaluate(&at(4, 6, Some(0.6)), &s).unwrap();
        assert_eq!(
            (ended.outcome, ended.response_ms()),
            (EpisodeOutcome::Subsided, None)
        );
    }

    #[test]
    fn a_rate_hovering_at_the_onset_level_does_not_flap() {
        let s = SurgeSettings::default();
        let mut d = SurgeDetector::default();
        d.evaluate(&at(0, 10, Some(0.5)), &s);
        assert!(
            d.evaluate(&at(1, 10, Some(0.85)), &s).is_some(),
            "responded"
        );
        // Still at 2/min (above the subside level): no new episode.
        for m in 2..10 {
            d.evaluate(&at(m, 10, Some(0.5)), &s);
            assert!(!d.status().active, "minute {m}");
        }
        // Falls below 1.25/min, then surges again: a new episode.
        d.evaluate(&at(10, 5, Some(0.5)), &s);
        d.evaluate(&at(11, 12, Some(0.5)), &s);
        assert_eq!(d.status().onset, Some(11 * MIN));
    }

    #[test]
    fn a_surge_absorbed_by_the_floor_is_responded_at_onset() {
        let s = SurgeSettings::default();
        let mut d = SurgeDetector::default();
        let ended = d.evaluate(&at(3, 25, Some(0.9)), &s).unwrap();
        assert_eq!(ended.response_ms(), Some(0));
        assert!(!d.status().active);
    }
}
