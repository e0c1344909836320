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
pub(crate) struct Prediction {
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
pub(crate) fn load(calls: f64, period_seconds: f64, aht_seconds: f64) -> f64 {
    if period_seconds <= 0.0 {
        return 0.0;
    }
    calls / period_seconds * aht_seconds
}

/// Erlang B: the probability that all `agents` are busy in a loss system with `load` Erlangs.
pub(crate) fn erlang_b(agents: u32, load: f64) -> f64 {
    (1..=agents).fold(1.0, |b, k| load * b / (k as f64 + load * b))
}

/// Erlang C: the probability that a caller has to wait.
pub(crate) fn erlang_c(agents: u32, load: f64) -> f64 {
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
pub(crate) fn predict(
    agents: u32,
    load: f64,
    aht_seconds: f64,
    threshold_seconds: f64,
) -> Prediction {
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
pub(crate) fn required_agents(
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
mod tests;
