//! The discrete-event model: an agenda of timed actions, applied in time order, each of
//! which may emit CTI events stamped with the current simulation time.
//!
//! Time is integer milliseconds, the resolution of the CTI contract, so the emitted stream is
//! exactly what the model saw. Ties are broken by scheduling order, which keeps causes before
//! effects at equal timestamps. Actions that a later change made moot (a patience timer for a
//! call already answered, a ring end for a call that abandoned) are left on the agenda and
//! recognised as stale when they come up, which is cheaper and simpler than cancelling them.

use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::f64::consts::TAU;

use crate::event::{AgentState, CallStep, CtiEvent, EventBody, Millis};

use super::rng::Rng;
use super::scenario::{QueueModel, Scenario};

/// How long an agent stays not ready after a ring went unanswered.
const RONA_PENALTY_MS: Millis = 30_000;

/// An agent transfers a call only while it has had fewer legs than this, so that transfers
/// (which may go back into the same queue) never loop.
pub(crate) const MAX_TRANSFER_LEGS: u32 = 3;

type CallKey = u64;

/// Emits the in-order event stream of a scenario; delivery quirks are layered on top by
/// [`super::Simulator`].
#[derive(Debug)]
pub(crate) struct Model {
    seed: u64,
    start: Millis,
    end: Millis,
    now: Millis,
    queues: Vec<QueueRt>,
    /// Every agent, by index; a queue lists its members' indices.
    agents: Vec<Agent>,
    calls: HashMap<CallKey, Call>,
    agenda: BinaryHeap<Scheduled>,
    out: VecDeque<CtiEvent>,
    next_schedule_seq: u64,
    next_event_seq: u64,
    next_call_seq: u64,
}

/// One queue's parameters (sanitised, in ms) and its live state.
#[derive(Debug)]
struct QueueRt {
    id: String,
    rng: Rng,
    /// Arrivals per ms before the wave and the surge.
    base_rate: f64,
    wave_amplitude: f64,
    wave_period_ms: f64,
    surge: Option<SurgeRt>,
    /// Upper bound of the rate over the whole run, the thinning envelope.
    max_rate: f64,
    /// Next candidate arrival, ms since start, kept fractional so that the candidate process
    /// is exactly Poisson and not rounded at every step.
    next_candidate: f64,
    mean_talk_ms: f64,
    mean_acw_ms: f64,
    mean_patience_ms: f64,
    hold_probability: f64,
    mean_hold_ms: f64,
    mean_ring_ms: f64,
    rona_probability: f64,
    ring_timeout_ms: Millis,
    break_probability: f64,
    mean_break_ms: f64,
    overflow: Option<OverflowRt>,
    transfer: Option<TransferRt>,
    /// Indices of the agents logged into this queue: its own, then those it shares with other
    /// queues. The position breaks ties of longest-idle routing.
    members: Vec<usize>,
    /// Calls waiting for an agent, oldest first.
    waiting: VecDeque<CallKey>,
}

#[derive(Debug, Clone, Copy)]
struct SurgeRt {
    from_ms: f64,
    until_ms: f64,
    factor: f64,
}

#[derive(Debug, Clone, Copy)]
struct OverflowRt {
    after_ms: Millis,
    target: usize,
}

#[derive(Debug, Clone, Copy)]
struct TransferRt {
    probability: f64,
    target: usize,
    blind_probability: f64,
}

#[derive(Debug)]
struct Agent {
    id: String,
    phase: AgentPhase,
    /// The queues the agent is logged into, its own first; its state is set in each.
    queues: Vec<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AgentPhase {
    /// Ready and free; `since` orders agents for longest-idle routing.
    Idle {
        since: Millis,
    },
    Ringing(CallKey),
    /// Talking or in after-call work.
    Busy(CallKey),
    /// Not ready (RONA penalty or break) until an `AgentReady` action.
    Away,
}

#[derive(Debug)]
struct Call {
    id: String,
    queue: usize,
    phase: CallPhase,
    /// Counts rings so that the end of an old ring is recognised as stale.
    rings: u32,
    /// The overflow deadline passed while the call was ringing: overflow instead of requeueing
    /// if that ring goes unanswered.
    overflow_due: bool,
    /// Queues this call has been offered in; overflow never re-enters one, because a call's
    /// life in a queue ends with its transfer out.
    visited: Vec<usize>,
    /// Legs so far (offers, the first included); the current leg is number `legs`.
    legs: u32,
    /// When the current leg was offered.
    offered_at: Millis,
    /// The leg whose offer armed the pending patience deadline: an overflow keeps it (the
    /// caller counts from the first offer), a transfer after an answer arms a new one.
    patience_leg: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CallPhase {
    Waiting,
    Ringing {
        agent: usize,
    },
    /// Answered: talking, on hold or in after-call work. Nothing can interrupt it any more.
    Connected {
        agent: usize,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Arrival {
        queue: usize,
    },
    RingEnd {
        call: CallKey,
        ring: u32,
        answered: bool,
    },
    PatienceEnd {
        call: CallKey,
        leg: u32,
    },
    OverflowDue {
        call: CallKey,
        leg: u32,
    },
    Hold {
        call: CallKey,
    },
    Unhold {
        call: CallKey,
    },
    TalkEnd {
        call: CallKey,
    },
    /// The end of `agent`'s after-call work for the call's leg in `queue` (which the call
    /// may have left by transfer).
    AcwEnd {
        call: CallKey,
        queue: usize,
        agent: usize,
    },
    AgentReady {
        agent: usize,
    },
}

#[derive(Debug, PartialEq, Eq)]
struct Scheduled {
    at: Millis,
    seq: u64,
    action: Action,
}

impl Ord for Scheduled {
    /// Reversed so that `BinaryHeap`, a max-heap, pops the earliest (then first scheduled).
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        other.at.cmp(&self.at).then(other.seq.cmp(&self.seq))
    }
}

impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// `x` if it is a finite number >= 0, else 0: the model's repair for values
/// [`Scenario::validate`] would reject.
fn non_negative(x: f64) -> f64 {
    if x.is_finite() && x > 0.0 {
        x
    } else {
        0.0
    }
}

fn probability(p: f64) -> f64 {
    if p.is_nan() {
        0.0
    } else {
        p.clamp(0.0, 1.0)
    }
}

/// A sampled duration in whole ms, at least 1 so that the steps of a call that are separated
/// by a sampled delay never share a timestamp and their order survives a sort by time.
fn sample_ms(ms: f64) -> Millis {
    // `as` saturates, so an absurd mean cannot overflow.
    (ms.round() as Millis).max(1)
}

impl QueueRt {
    fn new(
        index: usize,
        model: &QueueModel,
        scenario: &Scenario,
        seed: u64,
        overflow: Option<OverflowRt>,
        transfer: Option<TransferRt>,
    ) -> QueueRt {
        let base_rate = non_negative(model.calls_per_hour) / 3_600_000.0;
        let mut wave_amplitude = non_negative(model.rate_wave_amplitude);
        let wave_period_ms = non_negative(model.rate_wave_period_s) * 1000.0;
        if wave_period_ms <= 0.0 {
            wave_amplitude = 0.0;
        }
        let surge = scenario
            .surge
            .as_ref()
            .filter(|s| s.queue == model.id)
            .map(|s| {
                let from_ms = non_negative(s.start_after_s) * 1000.0;
                SurgeRt {
                    from_ms,
                    until_ms: from_ms + non_negative(s.duration_s) * 1000.0,
                    factor: non_negative(s.factor),
                }
            });
        let surge_peak = surge.map_or(1.0, |s| s.factor.max(1.0));
        QueueRt {
            id: model.id.clone(),
            // Streams 0 and u64::MAX are the delivery layer's.
            rng: Rng::stream(seed, index as u64 + 1),
            base_rate,
            wave_amplitude,
            wave_period_ms,
            surge,
            max_rate: base_rate * (1.0 + wave_amplitude) * surge_peak,
            next_candidate: 0.0,
            mean_talk_ms: non_negative(model.mean_talk_s) * 1000.0,
            mean_acw_ms: non_negative(model.mean_acw_s) * 1000.0,
            mean_patience_ms: non_negative(model.mean_patience_s) * 1000.0,
            hold_probability: probability(model.hold_probability),
            mean_hold_ms: non_negative(model.mean_hold_s) * 1000.0,
            mean_ring_ms: non_negative(model.mean_ring_s) * 1000.0,
            rona_probability: probability(model.ring_no_answer_probability),
            ring_timeout_ms: sample_ms(non_negative(model.ring_timeout_s) * 1000.0),
            break_probability: probability(model.break_probability),
            mean_break_ms: non_negative(model.mean_break_s) * 1000.0,
            overflow,
            transfer,
            members: Vec::new(),
            waiting: VecDeque::new(),
        }
    }

    /// Arrivals per ms at `t` ms after the start.
    fn rate(&self, t: f64) -> f64 {
        let mut rate = self.base_rate;
        if self.wave_amplitude > 0.0 {
            let wave = 1.0 + self.wave_amplitude * (TAU * t / self.wave_period_ms).sin();
            // An amplitude above 1 would make the rate negative in the trough: read it as
            // "no calls" there.
            rate *= wave.max(0.0);
        }
        if let Some(s) = self.surge {
            if t >= s.from_ms && t < s.until_ms {
                rate *= s.factor;
            }
        }
        rate
    }
}

impl Model {
    pub(crate) fn new(scenario: &Scenario, seed: u64, start: Millis) -> Model {
        let index_of = |id: &str| scenario.queues.iter().position(|q| q.id == id);
        let queues = scenario
            .queues
            .iter()
            .enumerate()
            .map(|(i, q)| {
                // An overflow to an unknown queue or to itself cannot be honoured; drop it.
                let overflow = q.overflow.as_ref().and_then(|o| {
                    let target = index_of(&o.target_queue).filter(|&t| t != i)?;
                    Some(OverflowRt {
                        after_ms: (non_negative(o.after_s) * 1000.0).round() as Millis,
                        target,
                    })
                });
                // Any known queue, this one included, can take a transfer after an answer.
                let transfer = q.transfer_after_answer.as_ref().and_then(|t| {
                    Some(TransferRt {
                        probability: probability(t.probability),
                        target: index_of(&t.target_queue)?,
                        blind_probability: probability(t.blind_probability),
                    })
                });
                QueueRt::new(i, q, scenario, seed, overflow, transfer)
            })
            .collect::<Vec<_>>();
        let mut queues = queues;
        let mut agents = Vec::new();
        for (i, q) in scenario.queues.iter().enumerate() {
            for n in 1..=q.agents {
                queues[i].members.push(agents.len());
                agents.push(Agent {
                    id: format!("{}-a{n:02}", q.id),
                    phase: AgentPhase::Idle { since: start },
                    queues: vec![i],
                });
            }
        }
        // Shared agents join the other queue's members after its own, in scenario order.
        for (i, q) in scenario.queues.iter().enumerate() {
            let Some(shared) = &q.shared_agents else {
                continue;
            };
            let Some(other) = index_of(&shared.queue).filter(|&o| o != i) else {
                continue;
            };
            let own = queues[i].members.clone();
            let from = own.len() - (shared.agents as usize).min(own.len());
            for &a in &own[from..] {
                if !agents[a].queues.contains(&other) {
                    agents[a].queues.push(other);
                    queues[other].members.push(a);
                }
            }
        }
        let mut model = Model {
            seed,
            start,
            end: start.saturating_add(scenario.duration_ms.max(0)),
            now: start,
            queues,
            agents,
            calls: HashMap::new(),
            agenda: BinaryHeap::new(),
            out: VecDeque::new(),
            next_schedule_seq: 0,
            next_event_seq: 1,
            next_call_seq: 1,
        };
        if model.end > start {
            // Each queue's members log in there (a shared agent in each of its queues).
            for q in 0..model.queues.len() {
                for m in 0..model.queues[q].members.len() {
                    let a = model.queues[q].members[m];
                    model.emit_agent_state_in(q, a, AgentState::Ready, None);
                }
            }
            for q in 0..model.queues.len() {
                model.schedule_next_candidate(q);
            }
        }
        model
    }

    pub(crate) fn end(&self) -> Millis {
        self.end
    }

    fn schedule(&mut self, at: Millis, action: Action) {
        // Nothing at or after the end can emit, so it need not take up space.
        if at >= self.end {
            return;
        }
        let seq = self.next_schedule_seq;
        self.next_schedule_seq += 1;
        self.agenda.push(Scheduled { at, seq, action });
    }

    fn after(&self, ms: Millis) -> Millis {
        self.now.saturating_add(ms)
    }

    fn emit(&mut self, queue: usize, body: EventBody) {
        let queue_id = self.queues[queue].id.clone();
        self.emit_in(queue_id, body);
    }

    /// An event of the queue `queue_id` (empty: an agent's state in all its queues).
    fn emit_in(&mut self, queue_id: String, body: EventBody) {
        let event_id = format!("{:x}-{}", self.seed, self.next_event_seq);
        self.next_event_seq += 1;
        self.out.push_back(CtiEvent {
            event_id,
            ts: self.now,
            queue_id,
            body,
        });
    }

    fn emit_call(&mut self, queue: usize, call: CallKey, step: CallStep) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        let call_id = c.id.clone();
        self.emit(queue, EventBody::Call { call_id, step });
    }

    /// The agent's state in one of its queues.
    fn emit_agent_state_in(
        &mut self,
        queue: usize,
        agent: usize,
        state: AgentState,
        reason: Option<&str>,
    ) {
        let agent_id = self.agents[agent].id.clone();
        self.emit(
            queue,
            EventBody::AgentState {
                agent_id,
                state,
                reason: reason.map(str::to_string),
            },
        );
    }

    /// The agent's state in every queue it is logged into: for an agent of several queues one
    /// `agent_state` without a queue, as Asterisk's PAUSEALL or an Amazon Connect agent status
    /// sets it.
    fn emit_agent_state(&mut self, agent: usize, state: AgentState, reason: Option<&str>) {
        if let [q] = self.agents[agent].queues[..] {
            self.emit_agent_state_in(q, agent, state, reason);
            return;
        }
        let agent_id = self.agents[agent].id.clone();
        self.emit_in(
            String::new(),
            EventBody::AgentState {
                agent_id,
                state,
                reason: reason.map(str::to_string),
            },
        );
    }

    fn agent_id(&self, agent: usize) -> String {
        self.agents[agent].id.clone()
    }

    /// The member of queue `q` idle longest (the first listed on a tie).
    fn longest_idle(&self, q: usize) -> Option<usize> {
        self.queues[q]
            .members
            .iter()
            .enumerate()
            .filter_map(|(i, &a)| match self.agents[a].phase {
                AgentPhase::Idle { since } => Some((since, i, a)),
                _ => None,
            })
            .min()
            .map(|(_, _, a)| a)
    }

    fn schedule_next_candidate(&mut self, q: usize) {
        let queue = &mut self.queues[q];
        if queue.max_rate <= 0.0 {
            return;
        }
        let gap = queue.rng.exp(1.0 / queue.max_rate);
        queue.next_candidate += gap;
        // Floor so the arrival is never stamped after the instant its rate was evaluated at.
        let at = self
            .start
            .saturating_add(queue.next_candidate.floor() as Millis);
        self.schedule(at, Action::Arrival { queue: q });
    }

    fn apply(&mut self, action: Action) {
        match action {
            Action::Arrival { queue } => self.on_arrival_candidate(queue),
            Action::RingEnd {
                call,
                ring,
                answered,
            } => self.on_ring_end(call, ring, answered),
            Action::PatienceEnd { call, leg } => self.on_patience_end(call, leg),
            Action::OverflowDue { call, leg } => self.on_overflow_due(call, leg),
            Action::Hold { call } => {
                self.on_connected_step(call, |agent_id| CallStep::Hold { agent_id })
            }
            Action::Unhold { call } => {
                self.on_connected_step(call, |agent_id| CallStep::Unhold { agent_id })
            }
            Action::TalkEnd { call } => self.on_talk_end(call),
            Action::AcwEnd { call, queue, agent } => self.on_acw_end(call, queue, agent),
            Action::AgentReady { agent } => {
                self.emit_agent_state(agent, AgentState::Ready, None);
                self.agent_free(agent);
            }
        }
    }

    /// Thinning: a candidate from the envelope process is a real arrival with probability
    /// rate(t) / max_rate, which yields a Poisson process of intensity rate(t).
    fn on_arrival_candidate(&mut self, q: usize) {
        let queue = &mut self.queues[q];
        let t = queue.next_candidate;
        let accept_p = queue.rate(t) / queue.max_rate;
        if !queue.rng.chance(accept_p) {
            self.schedule_next_candidate(q);
            return;
        }
        let patience = sample_ms(queue.rng.exp(queue.mean_patience_ms));
        self.schedule_next_candidate(q);
        let key = self.next_call_seq;
        self.next_call_seq += 1;
        self.calls.insert(
            key,
            Call {
                id: format!("c{key}"),
                queue: q,
                phase: CallPhase::Waiting,
                rings: 0,
                overflow_due: false,
                visited: vec![q],
                legs: 1,
                offered_at: self.now,
                patience_leg: 1,
            },
        );
        let deadline = self.after(patience);
        self.schedule(deadline, Action::PatienceEnd { call: key, leg: 1 });
        self.offer(q, key);
    }

    /// Offers `call` in queue `q` (its first queue or a transfer target): announce it, ring an
    /// idle agent or join the back of the line, and arm the queue's overflow timer.
    fn offer(&mut self, q: usize, call: CallKey) {
        self.emit_call(q, call, CallStep::Offered);
        match self.longest_idle(q) {
            Some(agent) => self.ring(q, agent, call),
            None => self.queues[q].waiting.push_back(call),
        }
        if let Some(rule) = self.queues[q].overflow {
            let leg = self
                .calls
                .get(&call)
                .filter(|c| !c.visited.contains(&rule.target))
                .map(|c| c.legs);
            if let Some(leg) = leg {
                let at = self.after(rule.after_ms);
                self.schedule(at, Action::OverflowDue { call, leg });
            }
        }
    }

    fn ring(&mut self, q: usize, agent: usize, call: CallKey) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        c.phase = CallPhase::Ringing { agent };
        c.rings += 1;
        let ring = c.rings;
        self.agents[agent].phase = AgentPhase::Ringing(call);
        let agent_id = self.agent_id(agent);
        self.emit_call(q, call, CallStep::Ringing { agent_id });
        let queue = &mut self.queues[q];
        let answered = !queue.rng.chance(queue.rona_probability);
        let duration = if answered {
            // An agent who has not picked up by the timeout would be a RONA; the cut keeps
            // answered rings shorter than unanswered ones.
            sample_ms(queue.rng.exp(queue.mean_ring_ms)).min(queue.ring_timeout_ms)
        } else {
            queue.ring_timeout_ms
        };
        let at = self.after(duration);
        self.schedule(
            at,
            Action::RingEnd {
                call,
                ring,
                answered,
            },
        );
    }

    fn on_ring_end(&mut self, call: CallKey, ring: u32, answered: bool) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let CallPhase::Ringing { agent } = c.phase else {
            return;
        };
        if c.rings != ring {
            return;
        }
        let q = c.queue;
        if answered {
            c.phase = CallPhase::Connected { agent };
            self.agents[agent].phase = AgentPhase::Busy(call);
            let agent_id = self.agent_id(agent);
            self.emit_call(q, call, CallStep::Answered { agent_id });
            self.plan_talk(q, call);
        } else {
            c.phase = CallPhase::Waiting;
            let overflow_due = c.overflow_due;
            self.agents[agent].phase = AgentPhase::Away;
            self.emit_agent_state(agent, AgentState::NotReady, Some("rona"));
            let back = self.after(RONA_PENALTY_MS);
            self.schedule(back, Action::AgentReady { agent });
            if overflow_due {
                self.transfer(call);
            } else {
                // It keeps its place: it was at the head when it was sent to this agent.
                match self.longest_idle(q) {
                    Some(next) => self.ring(q, next, call),
                    None => self.queues[q].waiting.push_front(call),
                }
            }
        }
    }

    /// Schedules the talk (with at most one hold inside it) and the wrap.
    fn plan_talk(&mut self, q: usize, call: CallKey) {
        let queue = &mut self.queues[q];
        let talk = sample_ms(queue.rng.exp(queue.mean_talk_ms));
        let hold = if queue.rng.chance(queue.hold_probability) && talk >= 3 {
            // answered < hold < unhold < wrap, each at least 1 ms apart.
            let latest_start = talk - 2;
            let start = (1 + (queue.rng.uniform() * (latest_start - 1) as f64) as Millis)
                .clamp(1, latest_start);
            let length = sample_ms(queue.rng.exp(queue.mean_hold_ms)).min(talk - 1 - start);
            Some((start, length))
        } else {
            None
        };
        if let Some((start, length)) = hold {
            let at = self.after(start);
            self.schedule(at, Action::Hold { call });
            let at = self.after(start + length);
            self.schedule(at, Action::Unhold { call });
        }
        let at = self.after(talk);
        self.schedule(at, Action::TalkEnd { call });
    }

    fn on_connected_step(&mut self, call: CallKey, step: impl FnOnce(String) -> CallStep) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        let CallPhase::Connected { agent } = c.phase else {
            return;
        };
        let q = c.queue;
        let agent_id = self.agent_id(agent);
        self.emit_call(q, call, step(agent_id));
    }

    /// The end of the talk: the wrap, or with the queue's transfer rule a transfer.
    fn on_talk_end(&mut self, call: CallKey) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        let CallPhase::Connected { agent } = c.phase else {
            return;
        };
        let (q, legs) = (c.queue, c.legs);
        // Drawn only in queues with the rule, so that other queues' streams are unchanged.
        if let Some(rule) = self.queues[q].transfer.filter(|_| legs < MAX_TRANSFER_LEGS) {
            let queue = &mut self.queues[q];
            if queue.rng.chance(rule.probability) {
                let blind = queue.rng.chance(rule.blind_probability);
                self.transfer_answered(call, agent, rule.target, blind);
                return;
            }
        }
        self.on_connected_step(call, |agent_id| CallStep::Wrap { agent_id });
        self.start_acw(call, q, agent);
    }

    /// Schedules the end of `agent`'s after-call work for the call's leg in `q`.
    fn start_acw(&mut self, call: CallKey, q: usize, agent: usize) {
        let queue = &mut self.queues[q];
        let acw = sample_ms(queue.rng.exp(queue.mean_acw_ms));
        let at = self.after(acw);
        self.schedule(
            at,
            Action::AcwEnd {
                call,
                queue: q,
                agent,
            },
        );
    }

    /// `agent` transfers the call it talks to into queue `to` (possibly its own): `transferred`
    /// naming the agent, the offer there at the same instant with a fresh patience (the caller
    /// was served and starts waiting again), then the agent's wrap at the transfer, or for a
    /// blind transfer none: the agent is free at once.
    fn transfer_answered(&mut self, call: CallKey, agent: usize, to: usize, blind: bool) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        let from = c.queue;
        let agent_id = self.agent_id(agent);
        let target_queue_id = self.queues[to].id.clone();
        self.emit_call(
            from,
            call,
            CallStep::Transferred {
                target_queue_id,
                agent_id: Some(agent_id.clone()),
            },
        );
        let mean_patience = self.queues[to].mean_patience_ms;
        let patience = sample_ms(self.queues[from].rng.exp(mean_patience));
        let now = self.now;
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        c.queue = to;
        c.phase = CallPhase::Waiting;
        c.overflow_due = false;
        if !c.visited.contains(&to) {
            c.visited.push(to);
        }
        c.legs += 1;
        c.offered_at = now;
        c.patience_leg = c.legs;
        let leg = c.legs;
        let deadline = self.after(patience);
        self.schedule(deadline, Action::PatienceEnd { call, leg });
        // The agent is still engaged here, so the offer cannot ring them.
        self.offer(to, call);
        if blind {
            self.agent_free(agent);
        } else {
            self.emit_call(from, call, CallStep::Wrap { agent_id });
            self.start_acw(call, from, agent);
        }
    }

    fn on_acw_end(&mut self, call: CallKey, q: usize, agent: usize) {
        let agent_id = self.agent_id(agent);
        self.emit(
            q,
            EventBody::Call {
                call_id: format!("c{call}"),
                step: CallStep::WrapEnd { agent_id },
            },
        );
        // The call ends here unless it was transferred and lives on in another leg.
        let ends = self
            .calls
            .get(&call)
            .is_some_and(|c| c.phase == CallPhase::Connected { agent });
        if ends {
            self.calls.remove(&call);
        }
        let queue = &mut self.queues[q];
        if queue.rng.chance(queue.break_probability) {
            let back = sample_ms(queue.rng.exp(queue.mean_break_ms));
            self.agents[agent].phase = AgentPhase::Away;
            self.emit_agent_state(agent, AgentState::NotReady, Some("break"));
            let at = self.after(back);
            self.schedule(at, Action::AgentReady { agent });
        } else {
            self.agent_free(agent);
        }
    }

    /// The agent is ready and has nothing: take the call that has waited longest in its
    /// queues (its own queue's on a tie), else idle.
    fn agent_free(&mut self, agent: usize) {
        let mut best: Option<(Millis, usize)> = None;
        for &q in &self.agents[agent].queues {
            let Some(head) = self.queues[q].waiting.front() else {
                continue;
            };
            let since = self.calls.get(head).map_or(Millis::MAX, |c| c.offered_at);
            if best.is_none_or(|(t, _)| since < t) {
                best = Some((since, q));
            }
        }
        match best.and_then(|(_, q)| Some((q, self.queues[q].waiting.pop_front()?))) {
            Some((q, call)) => self.ring(q, agent, call),
            None => self.agents[agent].phase = AgentPhase::Idle { since: self.now },
        }
    }

    fn on_patience_end(&mut self, call: CallKey, leg: u32) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        if c.patience_leg != leg {
            return;
        }
        let q = c.queue;
        let ringing = match c.phase {
            CallPhase::Connected { .. } => return,
            CallPhase::Waiting => None,
            CallPhase::Ringing { agent } => Some(agent),
        };
        self.emit_call(q, call, CallStep::Abandoned);
        self.calls.remove(&call);
        match ringing {
            Some(agent) => self.agent_free(agent),
            None => self.queues[q].waiting.retain(|&k| k != call),
        }
    }

    fn on_overflow_due(&mut self, call: CallKey, leg: u32) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if c.legs != leg {
            return;
        }
        match c.phase {
            CallPhase::Waiting => self.transfer(call),
            CallPhase::Ringing { .. } => c.overflow_due = true,
            CallPhase::Connected { .. } => {}
        }
    }

    /// Moves a waiting call along its queue's overflow rule: `transferred` here, `offered`
    /// there at the same instant. Its patience deadline is unchanged: the caller is still
    /// counting from the first offer.
    fn transfer(&mut self, call: CallKey) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        let from = c.queue;
        let Some(rule) = self.queues[from].overflow else {
            return;
        };
        self.queues[from].waiting.retain(|&k| k != call);
        let target_queue_id = self.queues[rule.target].id.clone();
        self.emit_call(
            from,
            call,
            CallStep::Transferred {
                target_queue_id,
                agent_id: None,
            },
        );
        let now = self.now;
        if let Some(c) = self.calls.get_mut(&call) {
            c.queue = rule.target;
            c.phase = CallPhase::Waiting;
            c.overflow_due = false;
            c.visited.push(rule.target);
            c.legs += 1;
            c.offered_at = now;
        }
        self.offer(rule.target, call);
    }
}

impl Iterator for Model {
    type Item = CtiEvent;

    fn next(&mut self) -> Option<CtiEvent> {
        loop {
            if let Some(event) = self.out.pop_front() {
                return Some(event);
            }
            let next = self.agenda.pop()?;
            self.now = next.at;
            self.apply(next.action);
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
