use super::*;

/// `demo --speed 1e-20` panicked in the demo clock and exited 0.
#[test]
fn a_speed_outside_its_range_is_refused_with_the_range() {
    for speed in [1e-20, 0.0, -1.0, f64::NAN, f64::INFINITY, 2e6] {
        let error = check_speed(speed).expect_err("refused");
        assert!(
            error.to_string().contains("between 0.001 and 1000000"),
            "{error}"
        );
    }
    for speed in [0.001, 1.0, 10.0, 1e6] {
        assert!(check_speed(speed).is_ok(), "{speed}");
    }
}
