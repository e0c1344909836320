//! Erlang C staffing: agents required for a service-level target, and the service level and
//! speed of answer a given number of agents should achieve, for Poisson arrivals and
//! exponential handle times (M/M/N).
//!
//! The blocking probability comes from the Erlang B recursion
//! `B(0) = 1, B(k) = A·B(k−1) / (k + A·B(k−1))`, which stays within [0, 1] at every step, so it
//! neither overflows (as `Aᴺ/N!` does past ~170 agents) nor loses precision. Then
//! `C = N·B / (N − A·(1 − B))`, `SL(T) = 1 − C·e^(−(N−A)·T/AHT)`, `ASA = C·AHT / (N − A)`.
//! With the load at or above the agents (`A ≥ N`) the queue grows without bound: service level
//! 0 and an infinite ASA, stated as such rather than computed into NaN.

/// What `agents` should achieve against `load` (Erlangs = arrival rate × AHT).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prediction {
    pub agents: u32,
    /// Probability a caller waits at all.
    pub wait_probability: f64,
    /// Share answered within the threshold.
    pub service_level: f64,
    /// Mean speed of answer, seconds; infinite when the load is at or above the agents.
    pub asa_seconds: f64,
    pub occupancy: f64,
}

/// Offered load in Erlangs for `calls` arriving over `period_seconds` with a mean handle time.
pub fn load(calls: f64, period_seconds: f64, aht_seconds: f64) -> f64 {
    if period_seconds <= 0.0 {
        return 0.0;
    }
    calls / period_seconds * aht_seconds
}

/// Erlang B: the probability that all `agents` are busy in a loss system with `load` Erlangs.
pub fn erlang_b(agents: u32, load: f64) -> f64 {
    (1..=agents).fold(1.0, |b, k| load * b / (k as f64 + load * b))
}

/// Erlang C: the probability that a caller has to wait.
pub fn erlang_c(agents: u32, load: f64) -> f64 {
    let n = agents as f64;
    if load <= 0.0 {
        return 0.0;
    }
    if load >= n {
        return 1.0;
    }
    let b = erlang_b(agents, load);
    n * b / (n - load * (1.0 - b))
}

/// The service level, ASA and occupancy `agents` should give.
pub fn predict(agents: u32, load: f64, aht_seconds: f64, threshold_seconds: f64) -> Prediction {
    let n = agents as f64;
    if load <= 0.0 {
        return Prediction {
            agents,
            wait_probability: 0.0,
            service_level: 1.0,
            asa_seconds: 0.0,
            occupancy: 0.0,
        };
    }
    if load >= n {
        return Prediction {
            agents,
            wait_probability: 1.0,
            service_level: 0.0,
            asa_seconds: f64::INFINITY,
            occupancy: 1.0,
        };
    }
    let c = erlang_c(agents, load);
    Prediction {
        agents,
        wait_probability: c,
        service_level: 1.0 - c * (-(n - load) * threshold_seconds / aht_seconds).exp(),
        asa_seconds: c * aht_seconds / (n - load),
        occupancy: load / n,
    }
}

/// The fewest agents whose predicted service level reaches `target`, with that prediction.
/// `None` when there is no load to staff for.
pub fn required_agents(
    load: f64,
    aht_seconds: f64,
    threshold_seconds: f64,
    target: f64,
) -> Option<Prediction> {
    if !(load > 0.0 && load.is_finite() && aht_seconds > 0.0) {
        return None;
    }
    // The first stable staffing is ⌊A⌋ + 1; service level only rises from there.
    let mut agents = load.floor() as u32 + 1;
    loop {
        let p = predict(agents, load, aht_seconds, threshold_seconds);
        if p.service_level >= target || agents == u32::MAX {
            return Some(p);
        }
        agents += 1;
    }
}

#[cfg(test)]
mod tests {
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
}
