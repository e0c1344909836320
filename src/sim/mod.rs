//! A deterministic call-centre simulator that produces [`CtiEvent`]s, for demos, load tests
//! and end-to-end checks of the KPI engine without a real ACD.
//!
//! # Model
//!
//! A discrete-event simulation in the Erlang-A mould (Poisson arrivals, exponential service
//! and exponential caller patience), with the CTI details a real stream has:
//!
//! - **Arrivals** per queue form a non-homogeneous Poisson process, drawn by thinning, at
//!   `calls_per_hour × (1 + amplitude × sin(2π t / period))`, times the surge factor inside the
//!   surge window of the surge queue. Each arrival is `offered`.
//! - **Agents** belong to one queue (`{queue}-a01`, `-a02`, …) and all log in `ready` at the
//!   start. Waiting calls are served first in, first out; a call that finds idle agents rings
//!   the one idle longest. With `shared_agents`, the last N agents of a queue are also logged
//!   into another queue (one agent, the same `agent_id`): they log in to each, set every later
//!   state (ready, RONA, break) in both at once with one `agent_state` without a queue, and
//!   when free take the call that has waited longest in either, one call at a time.
//! - **Ringing** lasts Exp(`mean_ring_s`), cut at `ring_timeout_s`, then `answered`; the ring
//!   counts as waiting, as an ACD measures it (offer to answer). With
//!   `ring_no_answer_probability` it instead times out (RONA): the agent is `not_ready`
//!   ("rona") for 30 s and the call goes back to the head of the line.
//! - **Patience** is Exp(`mean_patience_s`) from the first offer; a call not answered by then is
//!   `abandoned`, also mid-ring (which frees the agent).
//! - **Talk** lasts Exp(`mean_talk_s`) and, with `hold_probability`, contains one `hold` /
//!   `unhold` pair (Exp(`mean_hold_s`), cut to end before the wrap); then `wrap`,
//!   Exp(`mean_acw_s`) of after-call work and `wrap_end`. With `break_probability` the agent
//!   then takes an Exp(`mean_break_s`) break (`not_ready`, "break").
//! - **Overflow**: a call still waiting (not ringing) `after_s` after its offer in a queue is
//!   `transferred` and `offered` in the target queue at the same instant, keeping its patience.
//!   A call never overflows back into a queue it has already left.
//! - **Transfers after an answer**: with `transfer_after_answer`, at the end of the talk the
//!   agent transfers the call (`transferred` naming the agent) to the target queue, possibly
//!   its own, where it is `offered` at the same instant as a new leg with a fresh patience. A
//!   blind transfer has no wrap (the agent is free at once); otherwise the agent wraps at the
//!   transfer and does after-call work. Only calls with fewer than three legs are transferred.
//!
//! Scenarios that use neither option draw exactly the random numbers they drew before both
//! existed, so they produce the same events.
//!
//! Every leg of a call follows the contract: `offered → ringing* → answered → (hold →
//! unhold)* → wrap → wrap_end`, or ends `abandoned` or `transferred` (after an answer, possibly
//! followed by the transferring agent's `wrap` and `wrap_end`). Events are timed in
//! `[start, start + duration_ms)`; calls still in progress at the end are simply cut off.
//! Sampled delays are whole milliseconds, at least 1, so the steps of a call that are separated
//! by a delay never share a timestamp.
//!
//! # Delivery
//!
//! The model's stream is in time order. On top of it, `out_of_order_jitter_ms` delays each
//! event's delivery by a uniform 0…J ms of event time (as when several CTI servers feed one
//! topic), so an event can come out after events up to J ms newer but never more; and
//! `duplicate_ratio` delivers that share of events twice, with the same `event_id`, as an
//! at-least-once source does. Neither changes what the model does: the same seed gives the same
//! calls whatever the delivery settings.
//!
//! # Determinism
//!
//! All randomness comes from [`rng`]'s generator, seeded from the `seed` argument alone (one
//! sub-stream per queue, one each for jitter and duplicates), so a `(scenario, seed, start)` triple always
//! yields the same events. Event ids are `{seed:x}-{n}` and call ids `c{n}`.

mod model;
pub(crate) mod rng;
mod scenario;

use std::collections::BinaryHeap;

use crate::event::{CallStep, CtiEvent, EventBody, Millis};

use model::Model;
use rng::Rng;
pub use scenario::{
    AgentTransfer, Overflow, QueueModel, Scenario, ScenarioError, SharedAgents, Surge,
};

/// Random streams of the delivery layer; the model's queues use streams 1, 2, ….
const DUPLICATE_STREAM: u64 = 0;
const JITTER_STREAM: u64 = u64::MAX;

/// Iterates over the events of a simulated scenario, in delivery order.
///
/// Construction never fails: values [`Scenario::validate`] would reject are repaired (negative
/// or non-finite numbers read as 0, probabilities clamped, overflow and surge rules naming an
/// unknown queue ignored). Validate first to report such a scenario instead.
#[derive(Debug)]
pub struct Simulator {
    model: Model,
    model_done: bool,
    /// Timestamp of the newest event taken from the model: no later model event is older.
    horizon: Option<Millis>,
    jitter_ms: Millis,
    duplicate_ratio: f64,
    /// Separate streams, so that which events are duplicated does not depend on the jitter.
    jitter_rng: Rng,
    duplicate_rng: Rng,
    /// Events taken from the model but not yet delivered, by release time.
    held: BinaryHeap<Held>,
    next_held_seq: u64,
}

#[derive(Debug)]
struct Held {
    release: Millis,
    seq: u64,
    event: CtiEvent,
}

impl PartialEq for Held {
    fn eq(&self, other: &Self) -> bool {
        (self.release, self.seq) == (other.release, other.seq)
    }
}

impl Eq for Held {}

impl Ord for Held {
    /// Reversed so that `BinaryHeap`, a max-heap, pops the earliest release (then the first
    /// taken, which keeps the model's order among equal releases).
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (other.release, other.seq).cmp(&(self.release, self.seq))
    }
}

impl PartialOrd for Held {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Simulator {
    /// A run of `scenario` from `start_ms` (Unix ms) for `scenario.duration_ms`.
    pub fn new(scenario: Scenario, seed: u64, start_ms: i64) -> Simulator {
        let duplicate_ratio = if scenario.duplicate_ratio.is_nan() {
            0.0
        } else {
            scenario.duplicate_ratio.clamp(0.0, 1.0)
        };
        Simulator {
            model: Model::new(&scenario, seed, start_ms),
            model_done: false,
            horizon: None,
            jitter_ms: scenario.out_of_order_jitter_ms.max(0),
            duplicate_ratio,
            jitter_rng: Rng::stream(seed, JITTER_STREAM),
            duplicate_rng: Rng::stream(seed, DUPLICATE_STREAM),
            held: BinaryHeap::new(),
            next_held_seq: 0,
        }
    }

    /// End of the simulated interval (exclusive): every event is timed before it.
    pub fn end_ms(&self) -> Millis {
        self.model.end()
    }

    fn hold(&mut self, event: CtiEvent) {
        let delay = if self.jitter_ms > 0 {
            self.jitter_rng.below(self.jitter_ms as u64 + 1) as Millis
        } else {
            0
        };
        let seq = self.next_held_seq;
        self.next_held_seq += 1;
        self.held.push(Held {
            release: event.ts.saturating_add(delay),
            seq,
            event,
        });
    }
}

/// Makes a simulated event one of copy `copy` of the contact centre: its queue ids and agent
/// ids get the suffix `-{copy:03}`, so that copies run side by side (a bench's many queues)
/// share no queue and no agent. An agent is one person across queues: copies that kept the
/// agent ids would have each agent busy in all of them at once. An `agent_state` without a
/// queue keeps it empty.
pub fn as_copy(event: &mut CtiEvent, copy: u64) {
    let rename = |id: &mut String| {
        if !id.is_empty() {
            *id = format!("{id}-{copy:03}");
        }
    };
    rename(&mut event.queue_id);
    match &mut event.body {
        EventBody::AgentState { agent_id, .. } => rename(agent_id),
        EventBody::Call { step, .. } => match step {
            CallStep::Ringing { agent_id }
            | CallStep::Answered { agent_id }
            | CallStep::Hold { agent_id }
            | CallStep::Unhold { agent_id }
            | CallStep::Wrap { agent_id }
            | CallStep::WrapEnd { agent_id }
            | CallStep::NoAnswer { agent_id }
            | CallStep::Unavailable { agent_id } => rename(agent_id),
            CallStep::Transferred {
                target_queue_id,
                agent_id,
            } => {
                rename(target_queue_id);
                if let Some(agent_id) = agent_id {
                    rename(agent_id);
                }
            }
            CallStep::Offered | CallStep::Abandoned | CallStep::FlowedOut { .. } => {}
        },
    }
}

impl Iterator for Simulator {
    type Item = CtiEvent;

    fn next(&mut self) -> Option<CtiEvent> {
        loop {
            // Safe to deliver once nothing still to come from the model can be released
            // earlier: later model events have ts >= horizon, hence release >= horizon, and
            // on a tie they were taken later.
            if let Some(top) = self.held.peek() {
                let due = self.model_done || self.horizon.is_some_and(|h| top.release <= h);
                if due {
                    return self.held.pop().map(|h| h.event);
                }
            } else if self.model_done {
                return None;
            }
            match self.model.next() {
                None => self.model_done = true,
                Some(event) => {
                    self.horizon = Some(event.ts);
                    if self.duplicate_ratio > 0.0 && self.duplicate_rng.chance(self.duplicate_ratio)
                    {
                        self.hold(event.clone());
                    }
                    self.hold(event);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
