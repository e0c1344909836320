use super::*;

fn pct(x: f64) -> f64 {
    (x * 1000.0).round() / 10.0
}

fn tenth(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

#[test]
fn reference_360_calls_per_half_hour_aht_240_threshold_15() {
    let a = load(360.0, 1800.0, 240.0);
    assert_eq!(a, 48.0);
    let p54 = predict(54, a, 240.0, 15.0);
    assert_eq!(
        (pct(p54.service_level), tenth(p54.asa_seconds)),
        (79.3, 12.1)
    );
    let p55 = predict(55, a, 240.0, 15.0);
    assert_eq!(
        (
            pct(p55.service_level),
            tenth(p55.asa_seconds),
            pct(p55.occupancy)
        ),
        (84.6, 8.2, 87.3)
    );
    assert_eq!(required_agents(a, 240.0, 15.0, 0.80).unwrap().agents, 55);
}

#[test]
fn reference_100_calls_per_half_hour_aht_180_threshold_20() {
    let a = load(100.0, 1800.0, 180.0);
    assert_eq!(a, 10.0);
    assert_eq!(pct(predict(13, a, 180.0, 20.0).service_level), 79.6);
    assert_eq!(pct(predict(14, a, 180.0, 20.0).service_level), 88.8);
    assert_eq!(required_agents(a, 180.0, 20.0, 0.80).unwrap().agents, 14);
}

#[test]
fn overload_is_no_service_and_infinite_wait_not_nan() {
    for agents in [0, 5, 10] {
        let p = predict(agents, 10.0, 180.0, 20.0);
        assert_eq!(p.service_level, 0.0);
        assert_eq!(p.asa_seconds, f64::INFINITY);
        assert_eq!(p.wait_probability, 1.0);
    }
    assert_eq!(erlang_c(10, 10.0), 1.0);
}

#[test]
fn no_load_needs_nobody_and_large_loads_stay_finite() {
    assert_eq!(required_agents(0.0, 180.0, 20.0, 0.8), None);
    let p = predict(3, 0.0, 180.0, 20.0);
    assert_eq!((p.service_level, p.asa_seconds), (1.0, 0.0));
    // Beyond where Aᴺ/N! overflows: the recursion stays exact and bounded.
    let big = required_agents(1000.0, 300.0, 20.0, 0.8).unwrap();
    assert!(big.agents > 1000 && big.agents < 1100, "{big:?}");
    assert!(big.service_level >= 0.8 && big.asa_seconds.is_finite());
    assert!((0.0..=1.0).contains(&erlang_b(2000, 1500.0)));
}
