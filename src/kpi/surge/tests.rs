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
