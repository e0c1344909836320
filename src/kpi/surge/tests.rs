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
fn a_surge_the_floor_absorbs_is_counted_once_and_opens_no_episode() {
    let s = SurgeSettings::default();
    let mut d = SurgeDetector::default();
    // 25 calls = 5/min ≥ 1.5 × 1/min with the service level at 90 % ≥ 80 %: absorbed, no
    // episode, no response clock.
    assert_eq!(d.evaluate(&at(3, 25, Some(0.9)), &s), None);
    assert!(!d.status().active && d.status().onset.is_none());
    assert_eq!(d.absorbed(), 1);
    // The rate stays high for the next edges: the same rise, not counted again.
    for m in 4..10 {
        assert_eq!(d.evaluate(&at(m, 25, Some(0.85)), &s), None);
    }
    assert_eq!(d.absorbed(), 1);
    // Below the subside level (6 calls = 1.2/min < 1.25/min) re-arms; the next rise counts.
    d.evaluate(&at(10, 6, Some(0.9)), &s);
    d.evaluate(&at(11, 12, Some(0.95)), &s);
    assert_eq!(d.absorbed(), 2);
    assert!(!d.status().active);
}

#[test]
fn the_service_level_dropping_during_an_absorbed_rise_opens_an_episode_at_that_edge() {
    let s = SurgeSettings::default();
    let mut d = SurgeDetector::default();
    d.evaluate(&at(0, 20, Some(0.9)), &s);
    assert_eq!(d.absorbed(), 1);
    d.evaluate(&at(1, 22, Some(0.8)), &s);
    assert!(!d.status().active, "exactly at target is not below it");
    // Still surging (24 calls = 4.8/min) and 75 % < 80 %: the episode opens now, at minute 2.
    d.evaluate(&at(2, 24, Some(0.75)), &s);
    assert_eq!(d.status().onset, Some(2 * MIN));
    assert_eq!(d.absorbed(), 1, "the rise was counted once");
    // Back at 82 % at minute 5: responded after 3 minutes.
    let ended = d.evaluate(&at(5, 24, Some(0.82)), &s).unwrap();
    assert_eq!((ended.onset, ended.response_ms()), (2 * MIN, Some(3 * MIN)));
    // The rate is still high: no new episode and no new absorbed rise until it falls back.
    d.evaluate(&at(6, 24, Some(0.5)), &s);
    d.evaluate(&at(7, 24, Some(0.9)), &s);
    assert!(!d.status().active);
    assert_eq!(d.absorbed(), 1);
}

#[test]
fn an_elevated_rate_below_the_onset_level_opens_nothing_whatever_the_service_level() {
    let s = SurgeSettings {
        min_calls: 5,
        ..SurgeSettings::default()
    };
    let mut d = SurgeDetector::default();
    d.evaluate(&at(0, 20, Some(0.9)), &s);
    // 7 calls = 1.4/min (at least 5): above the subside level (1.25), below the onset level
    // (1.5); the service level drops, but the surge condition does not hold.
    d.evaluate(&at(1, 7, Some(0.3)), &s);
    assert!(!d.status().active);
    // The rate rises again within the same rise (never below subside) with the SL low: episode.
    d.evaluate(&at(2, 15, Some(0.3)), &s);
    assert_eq!(d.status().onset, Some(2 * MIN));
    assert_eq!(d.absorbed(), 1);
}

#[test]
fn a_rise_without_a_service_level_yet_is_judged_at_the_next_edge_that_has_one() {
    let s = SurgeSettings::default();
    let mut d = SurgeDetector::default();
    d.evaluate(&at(0, 15, None), &s);
    assert!(!d.status().active);
    assert_eq!(d.absorbed(), 0);
    d.evaluate(&at(1, 16, Some(0.5)), &s);
    assert_eq!(d.status().onset, Some(MIN));
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Over any sequence of edges: an episode opens only at an edge that surges with the
        /// service level below target; a rise (the edges between two below-subside edges)
        /// counts as absorbed at most once and opens at most one episode; an absorbed count
        /// happens only at a surging edge at or above target.
        #[test]
        fn episodes_need_a_low_service_level_and_each_rise_counts_once(
            edges in prop::collection::vec((0u64..40, prop::option::of(0.0f64..1.0)), 1..120),
        ) {
            let s = SurgeSettings::default();
            let mut d = SurgeDetector::default();
            let (mut absorbed_in_rise, mut onsets_in_rise) = (0, 0);
            for (m, &(short, sl)) in edges.iter().enumerate() {
                let i = at(m as i64, short, sl);
                let was_active = d.status().active;
                let before = d.absorbed();
                d.evaluate(&i, &s);
                let rate = short as f64 / 5.0;
                let surging = short >= s.min_calls && rate >= s.factor;
                let below_subside = short < s.min_calls || rate < s.subside_factor;
                if below_subside {
                    absorbed_in_rise = 0;
                    onsets_in_rise = 0;
                }
                let st = d.status();
                if st.active && !was_active {
                    prop_assert!(surging && sl.is_some_and(|sl| sl < 0.8), "edge {m}");
                    prop_assert_eq!(st.onset, Some(i.now));
                    onsets_in_rise += 1;
                }
                if d.absorbed() > before {
                    prop_assert_eq!(d.absorbed(), before + 1);
                    prop_assert!(surging && sl.is_some_and(|sl| sl >= 0.8) && !st.active);
                    absorbed_in_rise += 1;
                }
                prop_assert!(absorbed_in_rise <= 1 && onsets_in_rise <= 1, "edge {m}");
            }
        }
    }
}
