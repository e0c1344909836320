use super::*;

#[test]
fn the_demo_clock_runs_at_its_speed() {
    let clock = DemoClock {
        origin: Instant::now(),
        origin_sim: 1_000_000,
        speed: 10.0,
    };
    assert_eq!(clock.at(Duration::from_millis(1500)), 1_015_000);
    let wait = clock.until(1_000_000 + 60_000);
    assert!(
        wait <= Duration::from_secs(6) && wait > Duration::from_millis(5_900),
        "{wait:?}"
    );
    assert_eq!(clock.until(0), Duration::ZERO);
}

/// `demo --speed 1e-20` panicked here: a minute of simulated time is 6·10^13 years.
#[test]
fn a_clock_all_but_stopped_waits_for_ever_without_panicking() {
    let clock = DemoClock {
        origin: Instant::now(),
        origin_sim: 0,
        speed: 1e-20,
    };
    assert_eq!(clock.until(60_000), Duration::MAX);
}

#[test]
fn the_demo_surge_is_running_when_the_demo_starts() {
    let warmup = 65.0 * 60.0;
    let s = demo_scenario(Duration::from_secs_f64(warmup));
    let surge = s.surge.clone().unwrap();
    assert!(surge.start_after_s < warmup && surge.start_after_s + surge.duration_s > warmup);
    assert!(s.validate().is_ok());
}
