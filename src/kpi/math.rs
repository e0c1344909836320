//! KPI definitions as pure functions of window sums.
//!
//! The state layer adds up, per window, how many of each countable thing happened and how many
//! milliseconds of each duration were spent ([`WindowSums`]); everything a supervisor reads is
//! derived here, in one place, from those sums. Keeping the division out of the state layer
//! means sums from several queues or partitions can be added before dividing.

use super::QueueKpiSettings;
use crate::kpi::WindowKpis;

/// Things counted per window, each at the time of the event that defines it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub(crate) enum Count {
    /// at `offered`
    Offered,
    /// at `answered`
    Answered,
    /// at `abandoned`, wait ≥ short-abandon threshold
    Abandoned,
    /// at `abandoned`, wait < short-abandon threshold
    ShortAbandoned,
    /// at `transferred`, of a leg an agent answered here
    TransferredOut,
    /// SL event: answered with wait ≤ T, at `answered`
    AnsweredWithinT,
    /// SL event: abandoned (not short) with wait ≤ T, at `abandoned`
    AbandonedWithinT,
    /// SL event: still waiting when the wait reached T, at offered + T
    ReachedT,
    /// calls whose talk and hold are known, at `wrap`
    Handled,
    /// after-call work completed, at `wrap_end`
    AcwCompleted,
    /// at each `ringing`
    RingAttempts,
    /// a ringing that ended unanswered (its `no_answer`, or a ringing at a later instant: the
    /// call rang elsewhere), at that ringing
    RingNoAnswer,
    /// sum over answered calls of ceil((answered − first ringing) / cadence), at `answered`
    RingsToAnswer,
    /// at `transferred` of a leg that left unanswered, or at `flowed_out`
    FlowedOut,
    /// a ringing ended by the caller's abandon, at that ringing
    RingAbandoned,
    /// an agent offered the call who could not be rung (`unavailable`), at that event
    MemberUnavailable,
}

pub(crate) const N_COUNTS: usize = 16;

impl Count {
    /// Every count, in index order.
    #[cfg(test)]
    pub(crate) const ALL: [Count; N_COUNTS] = [
        Count::Offered,
        Count::Answered,
        Count::Abandoned,
        Count::ShortAbandoned,
        Count::TransferredOut,
        Count::AnsweredWithinT,
        Count::AbandonedWithinT,
        Count::ReachedT,
        Count::Handled,
        Count::AcwCompleted,
        Count::RingAttempts,
        Count::RingNoAnswer,
        Count::RingsToAnswer,
        Count::FlowedOut,
        Count::RingAbandoned,
        Count::MemberUnavailable,
    ];
}

/// Durations summed per window, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub(crate) enum Sum {
    /// offered → answered of answered calls, at `answered`
    WaitAnswered,
    /// answered → wrap minus hold, at `wrap`
    Talk,
    /// total hold of a handled call, at `wrap`
    Hold,
    /// wrap → wrap_end, at `wrap_end`
    Acw,
    /// handle time of a call, at `wrap_end`: (wrap − answered) + (wrap_end − wrap), i.e. talk +
    /// hold + ACW over the calls counted in `AcwCompleted`
    Handle,
}

pub(crate) const N_SUMS: usize = 5;

impl Sum {
    /// Every sum, in index order.
    #[cfg(test)]
    pub(crate) const ALL: [Sum; N_SUMS] = [
        Sum::WaitAnswered,
        Sum::Talk,
        Sum::Hold,
        Sum::Acw,
        Sum::Handle,
    ];
}

/// The agent states whose time is integrated per window (logged-out time is not counted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(usize)]
pub(crate) enum AgentTime {
    /// ringing, talking or holding a call
    Busy,
    /// after-call work
    Acw,
    Ready,
    NotReady,
    /// logged in here, engaged on a call of another of the agent's queues
    BusyOther,
}

pub(crate) const N_AGENT_TIMES: usize = 5;

/// What a window adds up to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct WindowSums {
    pub counts: [u64; N_COUNTS],
    pub sums_ms: [i64; N_SUMS],
    pub agent_ms: [i64; N_AGENT_TIMES],
}

impl WindowSums {
    pub(crate) fn count(&self, c: Count) -> u64 {
        self.counts[c as usize]
    }

    pub(crate) fn sum_ms(&self, s: Sum) -> i64 {
        self.sums_ms[s as usize]
    }

    pub(crate) fn agent_ms(&self, a: AgentTime) -> i64 {
        self.agent_ms[a as usize]
    }

    /// Adds another span's sums: the sums of the two spans together (they do not overlap).
    pub(crate) fn add(&mut self, other: &WindowSums) {
        for (a, b) in self.counts.iter_mut().zip(other.counts) {
            *a += b;
        }
        for (a, b) in self.sums_ms.iter_mut().zip(other.sums_ms) {
            *a += b;
        }
        for (a, b) in self.agent_ms.iter_mut().zip(other.agent_ms) {
            *a += b;
        }
    }

    /// What is left of `self` without `part`, which it includes (a running total less an
    /// earlier one).
    pub(crate) fn less(mut self, part: &WindowSums) -> WindowSums {
        for (a, b) in self.counts.iter_mut().zip(part.counts) {
            *a -= b;
        }
        for (a, b) in self.sums_ms.iter_mut().zip(part.sums_ms) {
            *a -= b;
        }
        for (a, b) in self.agent_ms.iter_mut().zip(part.agent_ms) {
            *a -= b;
        }
        self
    }
}

/// Wait-time quantiles of the window, if it holds any wait.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct WaitQuantiles {
    pub p50_seconds: Option<f64>,
    pub p90_seconds: Option<f64>,
    pub p99_seconds: Option<f64>,
}

fn ratio(numerator: f64, denominator: f64) -> Option<f64> {
    (denominator > 0.0).then(|| numerator / denominator)
}

fn seconds(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

/// The queue's service level (the default variant) from calls answered within T, abandoned
/// within T and reaching T unanswered; `None` with no calls.
pub(crate) fn service_level(answered_in: u64, abandoned_in: u64, reached: u64) -> Option<f64> {
    let answered_in = answered_in as f64;
    ratio(
        answered_in,
        answered_in + abandoned_in as f64 + reached as f64,
    )
}

/// Every windowed KPI, by the definitions in `docs/kpis.md`.
pub(crate) fn window_kpis(s: &WindowSums, quantiles: WaitQuantiles) -> WindowKpis {
    let answered = s.count(Count::Answered);
    let abandoned = s.count(Count::Abandoned);
    let answered_in = s.count(Count::AnsweredWithinT) as f64;
    let abandoned_in = s.count(Count::AbandonedWithinT) as f64;
    let reached = s.count(Count::ReachedT) as f64;
    let handled = s.count(Count::Handled);
    let acw_completed = s.count(Count::AcwCompleted);

    let avg_talk = ratio(seconds(s.sum_ms(Sum::Talk)), handled as f64);
    let avg_hold = ratio(seconds(s.sum_ms(Sum::Hold)), handled as f64);
    let avg_acw = ratio(seconds(s.sum_ms(Sum::Acw)), acw_completed as f64);
    // One set of calls: those whose ACW ended in the window, each with its whole handle time
    // (not the sum of three means over calls wrapped and wrapped up at different times).
    let aht = ratio(seconds(s.sum_ms(Sum::Handle)), acw_completed as f64);

    // Busy and ACW on this queue's calls; time on another queue's calls is in neither
    // occupancy term, but it is logged-in time.
    let busy = s.agent_ms(AgentTime::Busy) + s.agent_ms(AgentTime::Acw);
    let ready = s.agent_ms(AgentTime::Ready);
    let not_ready = s.agent_ms(AgentTime::NotReady);
    let busy_other = s.agent_ms(AgentTime::BusyOther);

    WindowKpis {
        offered: s.count(Count::Offered),
        answered,
        abandoned,
        short_abandoned: s.count(Count::ShortAbandoned),
        transferred_out: s.count(Count::TransferredOut),
        flowed_out: s.count(Count::FlowedOut),
        answered_within_threshold: answered_in as u64,
        abandoned_within_threshold: abandoned_in as u64,
        reached_threshold: reached as u64,
        service_level: service_level(answered_in as u64, abandoned_in as u64, reached as u64),
        service_level_ignore_abandons: ratio(answered_in, answered_in + reached),
        service_level_positive: ratio(
            answered_in + abandoned_in,
            answered_in + abandoned_in + reached,
        ),
        asa_seconds: ratio(seconds(s.sum_ms(Sum::WaitAnswered)), answered as f64),
        wait_p50_seconds: quantiles.p50_seconds,
        wait_p90_seconds: quantiles.p90_seconds,
        wait_p99_seconds: quantiles.p99_seconds,
        abandon_rate: ratio(abandoned as f64, (answered + abandoned) as f64),
        handled,
        avg_talk_seconds: avg_talk,
        avg_hold_seconds: avg_hold,
        acw_completed,
        avg_acw_seconds: avg_acw,
        aht_seconds: aht,
        ring_attempts: s.count(Count::RingAttempts),
        ring_no_answer: s.count(Count::RingNoAnswer),
        ring_abandoned: s.count(Count::RingAbandoned),
        member_unavailable: s.count(Count::MemberUnavailable),
        rings_per_answer: ratio(s.count(Count::RingsToAnswer) as f64, answered as f64),
        transfer_rate: ratio(s.count(Count::TransferredOut) as f64, answered as f64),
        busy_agent_seconds: seconds(s.agent_ms(AgentTime::Busy)),
        acw_agent_seconds: seconds(s.agent_ms(AgentTime::Acw)),
        ready_agent_seconds: seconds(ready),
        not_ready_agent_seconds: seconds(not_ready),
        busy_other_agent_seconds: seconds(busy_other),
        occupancy: ratio(busy as f64, (busy + ready) as f64),
        not_ready_ratio: ratio(
            not_ready as f64,
            (busy + ready + not_ready + busy_other) as f64,
        ),
    }
}

/// Rings a caller heard before an answer: ceil(elapsed / cadence), 0 without a ringing.
pub(crate) fn rings_before_answer(
    first_ring_to_answer_ms: Option<i64>,
    q: &QueueKpiSettings,
) -> u64 {
    match first_ring_to_answer_ms {
        Some(ms) if ms > 0 => (ms as u64).div_ceil(q.ring_cadence_ms as u64),
        _ => 0,
    }
}

#[cfg(test)]
mod tests;
