//! Surge episodes: detect a traffic surge on a queue, time the floor's response, and say when
//! the response is late — a pure state machine, evaluated with `now` and window counts.
//!
//! * **Surging**: the short-window arrival rate (5 min) is at least `factor` (1.5) × the
//!   baseline rate, with at least `min_calls` (10) offered in the short window. The baseline is
//!   the trailing rate before the short window (60 min) or, when configured, a forecast.
//! * **Onset** of an episode: surging *and* the short-window service level below the queue's
//!   target. A rise the floor absorbs (surging with the service level at target) is counted as
//!   **absorbed**, once per rise, and is no episode: no response clock, no page. If the
//!   service level drops while that rise is still surging, an episode opens at that edge.
//! * **Responded**: the short-window service level is at or above the queue's target.
//!   **Subsided**: arrivals fall below `subside_factor` (1.25) × baseline while the service level
//!   is still below target: the episode ends, recorded as not responded.
//! * **Response time** = onset → responded. An open episode's age reaching `response_limit`
//!   (600 s) is what the SurgeResponseExceeded alert fires on, until the episode ends.
//! * **Hysteresis**: after an episode ends, a new onset needs the rate to have fallen below the
//!   subside level first, so a rate hovering at the onset level does not flap; likewise a rise
//!   counted as absorbed is counted again only after the rate has fallen below the subside level.
//!   A rise with no service level yet (no SL event in the short window) is judged at the next
//!   edge that has one.

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
    /// The current rise was counted as absorbed; until the rate falls below the subside level
    /// it is not counted again (an episode can still open if the service level drops).
    absorbing: bool,
    /// Rises counted as absorbed since the detector started.
    absorbed: u64,
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
        // Below target needs a service level: a rise with none yet is judged at a later edge.
        let sl_below = i.short_service_level.is_some_and(|sl| sl < i.sl_target);

        let mut ended = None;
        match self.onset {
            None => {
                if below_subside {
                    self.disarmed = false;
                    self.absorbing = false;
                }
                if !self.disarmed && surging {
                    if sl_below {
                        self.onset = Some(i.now);
                        self.absorbing = false;
                    } else if sl_met && !self.absorbing {
                        self.absorbing = true;
                        self.absorbed += 1;
                    }
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

    /// Rises absorbed (no episode) since the detector started.
    pub fn absorbed(&self) -> u64 {
        self.absorbed
    }
}

#[cfg(test)]
mod tests;
