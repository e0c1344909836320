//! One agent's effective state over time in one queue, and the agent-time steps it contributes.
//!
//! An agent's state in a queue is derived from four kinds of input: `agent_state` events of this
//! queue (logged out, ready, not ready), `agent_state` events without a queue (they set the
//! state here if the agent is logged in here), the phases of its calls in this queue (busy from
//! ringing/answered until wrap, ACW from wrap to wrap_end) and the phases of its calls in its
//! other queues, which the engine forwards. Any busy call of this queue makes the agent busy,
//! else any call of this queue in ACW makes it ACW; else a logged-out agent is logged out, and a
//! logged-in one engaged on a call of another queue (busy or ACW there) is **busy other**; else
//! its `agent_state` decides. Inputs are kept sorted by time until the watermark passes them
//! (nothing can be inserted before the watermark), then folded into a settled state; the
//! timeline after the settled point is re-derived on every change and the difference applied
//! as steps, so late inputs within the lateness count exactly.

use serde::{Deserialize, Serialize};

use crate::event::{AgentState, Millis};
use crate::kpi::math::AgentTime;

use super::call::{CallKey, Phase};
use super::window::Delta;

/// Which queue an engagement belongs to: [`OWN`] for this queue's calls, else the tag of the
/// other queue ([`queue_tag`]). Call keys are the same in every queue a call visits, so a
/// forwarded engagement is keyed by (queue tag, call).
pub(super) type QueueTag = u32;

/// The tag of this queue's own calls.
pub(super) const OWN: QueueTag = 0;

/// A queue's tag in the agents of its other queues: 32 bits of its id's hash, never [`OWN`].
/// Two of one agent's queues share a tag with a chance of 2⁻³², and even then their
/// engagements only mix if both hold the same call.
pub(super) fn queue_tag(queue_id: &str) -> QueueTag {
    (super::dedup::id_hash(queue_id) as QueueTag).max(1)
}

/// What the agent is doing, for the windows and the `now` gauges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub(super) enum Effective {
    LoggedOut,
    Ready,
    NotReady,
    Busy,
    Acw,
    /// Logged in here, on no call of this queue, engaged on a call of another queue.
    BusyOther,
}

impl Effective {
    pub(super) fn agent_time(self) -> Option<AgentTime> {
        match self {
            Effective::LoggedOut => None,
            Effective::Ready => Some(AgentTime::Ready),
            Effective::NotReady => Some(AgentTime::NotReady),
            Effective::Busy => Some(AgentTime::Busy),
            Effective::Acw => Some(AgentTime::Acw),
            Effective::BusyOther => Some(AgentTime::BusyOther),
        }
    }
}

/// Serialised by variant index in queue checkpoints: the order is part of the format. At one
/// instant the inputs fold in this order, so an `All` state wins over a `State` of the same
/// millisecond.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub(super) enum InputKind {
    /// An `agent_state` of this queue.
    State(AgentState),
    /// The agent's phase on a call of this queue.
    Call(CallKey, Phase),
    /// The agent's phase on a call of another queue, forwarded by the engine.
    Other(QueueTag, CallKey, Phase),
    /// An `agent_state` without a queue: sets the state if the agent is logged in here then.
    All(AgentState),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub(super) struct Input {
    pub ts: Millis,
    pub kind: InputKind,
}

/// A call the agent is engaged in (busy or ACW), with the queue it belongs to.
type Engaged = (QueueTag, CallKey, Phase);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Agent {
    settled_state: AgentState,
    /// Calls the agent is engaged in (busy or ACW), here and elsewhere, as of the settled point.
    settled_calls: Vec<Engaged>,
    settled_effective: Effective,
    inputs: Vec<Input>,
    /// Changes of effective state after the settled point, as last applied to the windows.
    timeline: Vec<(Millis, Effective)>,
}

/// The buffers [`Agent::refresh`] derives into, one per queue and reused: refreshing an agent
/// allocates nothing in the steady state.
#[derive(Debug, Default)]
pub(super) struct Scratch {
    calls: Vec<Engaged>,
    timeline: Vec<(Millis, Effective)>,
}

impl Default for Agent {
    fn default() -> Self {
        Agent {
            settled_state: AgentState::LoggedOut,
            settled_calls: Vec::new(),
            settled_effective: Effective::LoggedOut,
            inputs: Vec::new(),
            timeline: Vec::new(),
        }
    }
}

fn effective(state: AgentState, calls: &[Engaged]) -> Effective {
    let (mut acw, mut other) = (false, false);
    for &(queue, _, phase) in calls {
        match (queue == OWN, phase) {
            (true, Phase::Busy) => return Effective::Busy,
            (true, Phase::Acw) => acw = true,
            // Free is never held.
            (true, Phase::Free) => {}
            (false, _) => other = true,
        }
    }
    if acw {
        return Effective::Acw;
    }
    match state {
        AgentState::LoggedOut => Effective::LoggedOut,
        _ if other => Effective::BusyOther,
        AgentState::Ready => Effective::Ready,
        AgentState::NotReady => Effective::NotReady,
    }
}

fn fold(state: &mut AgentState, calls: &mut Vec<Engaged>, input: &Input) {
    let (queue, call, phase) = match input.kind {
        InputKind::State(s) => {
            *state = s;
            return;
        }
        InputKind::All(s) => {
            if *state != AgentState::LoggedOut {
                *state = s;
            }
            return;
        }
        InputKind::Call(call, phase) => (OWN, call, phase),
        InputKind::Other(queue, call, phase) => (queue, call, phase),
    };
    calls.retain(|&(q, c, _)| (q, c) != (queue, call));
    if phase != Phase::Free {
        calls.push((queue, call, phase));
    }
}

fn push_steps(
    timeline: &[(Millis, Effective)],
    mut prev: Effective,
    sign: i64,
    out: &mut Vec<Delta>,
) {
    for &(ts, next) in timeline {
        if let Some(s) = prev.agent_time() {
            out.push(Delta::step(ts, s, -sign));
        }
        if let Some(s) = next.agent_time() {
            out.push(Delta::step(ts, s, sign));
        }
        prev = next;
    }
}

impl Agent {
    pub(super) fn add(&mut self, input: Input) {
        let at = self.inputs.partition_point(|i| i <= &input);
        self.inputs.insert(at, input);
    }

    /// Removes one equal input if present (a call's re-derived phases replace its old ones).
    pub(super) fn remove(&mut self, input: &Input) {
        if let Some(at) = self.inputs.iter().position(|i| i == input) {
            self.inputs.remove(at);
        }
    }

    /// The timeline after every input, into `scratch.timeline`.
    fn derive(&self, scratch: &mut Scratch) {
        let mut state = self.settled_state;
        let calls = &mut scratch.calls;
        calls.clear();
        calls.extend_from_slice(&self.settled_calls);
        let timeline = &mut scratch.timeline;
        timeline.clear();
        let mut current = self.settled_effective;
        let mut i = 0;
        while i < self.inputs.len() {
            let ts = self.inputs[i].ts;
            // All inputs of one instant take effect together.
            while i < self.inputs.len() && self.inputs[i].ts == ts {
                fold(&mut state, calls, &self.inputs[i]);
                i += 1;
            }
            let next = effective(state, calls);
            if next != current {
                timeline.push((ts, next));
                current = next;
            }
        }
    }

    /// Re-derives the timeline and emits the steps that turn the old one into the new one.
    pub(super) fn refresh(&mut self, out: &mut Vec<Delta>, scratch: &mut Scratch) {
        self.derive(scratch);
        if scratch.timeline != self.timeline {
            push_steps(&self.timeline, self.settled_effective, -1, out);
            push_steps(&scratch.timeline, self.settled_effective, 1, out);
            std::mem::swap(&mut self.timeline, &mut scratch.timeline);
        }
    }

    /// Folds inputs before `watermark` into the settled state; they can no longer change.
    pub(super) fn settle(&mut self, watermark: Millis) {
        let done = self.inputs.partition_point(|i| i.ts < watermark);
        if done == 0 {
            return;
        }
        for input in self.inputs.drain(..done) {
            fold(&mut self.settled_state, &mut self.settled_calls, &input);
        }
        let passed = self.timeline.partition_point(|&(ts, _)| ts < watermark);
        if let Some(&(_, last)) = self.timeline[..passed].last() {
            self.settled_effective = last;
        }
        self.timeline.drain(..passed);
        debug_assert_eq!(
            self.settled_effective,
            effective(self.settled_state, &self.settled_calls)
        );
    }

    /// The state after every input seen.
    pub(super) fn now(&self) -> Effective {
        self.timeline
            .last()
            .map_or(self.settled_effective, |&(_, e)| e)
    }

    /// Nothing of its own here (logged out, on no call of this queue, nothing of this queue
    /// pending): the entry can be dropped without changing any KPI. What other queues forwarded
    /// goes with it; it only counts while the agent is logged in here, and a new entry is given
    /// the agent's engagements elsewhere again.
    pub(super) fn is_idle(&self) -> bool {
        self.settled_state == AgentState::LoggedOut
            && self.settled_calls.iter().all(|&(queue, ..)| queue != OWN)
            && self
                .inputs
                .iter()
                .all(|i| matches!(i.kind, InputKind::Other(..)))
    }

    /// The agent's phases on this queue's calls that can still matter from `from` on: each
    /// settled engagement at `from`, then every pending phase change, as (time, call, phase).
    pub(super) fn own_phases(&self, from: Millis, out: &mut Vec<(Millis, CallKey, Phase)>) {
        for &(queue, call, phase) in &self.settled_calls {
            if queue == OWN {
                out.push((from, call, phase));
            }
        }
        for input in &self.inputs {
            if let InputKind::Call(call, phase) = input.kind {
                out.push((input.ts, call, phase));
            }
        }
    }

    /// The calls of queue `queue` ([`OWN`] for this one's) the agent is engaged in once every
    /// input seen has taken effect, sorted.
    pub(super) fn engaged_at_end(&self, queue: QueueTag) -> Vec<(CallKey, Phase)> {
        let mut state = self.settled_state;
        let mut calls = self.settled_calls.clone();
        for input in &self.inputs {
            fold(&mut state, &mut calls, input);
        }
        let mut out: Vec<(CallKey, Phase)> = calls
            .into_iter()
            .filter(|&(q, ..)| q == queue)
            .map(|(_, call, phase)| (call, phase))
            .collect();
        out.sort_unstable();
        out
    }

    /// The other queues whose engagements the agent holds, settled or pending, sorted.
    pub(super) fn other_queues(&self) -> Vec<QueueTag> {
        let mut tags: Vec<QueueTag> = self
            .settled_calls
            .iter()
            .map(|&(queue, ..)| queue)
            .chain(self.inputs.iter().filter_map(|i| match i.kind {
                InputKind::Other(queue, ..) => Some(queue),
                _ => None,
            }))
            .filter(|&queue| queue != OWN)
            .collect();
        tags.sort_unstable();
        tags.dedup();
        tags
    }

    /// The pending `agent_state`s without a queue.
    pub(super) fn all_states(&self, out: &mut Vec<Input>) {
        out.extend(
            self.inputs
                .iter()
                .filter(|i| matches!(i.kind, InputKind::All(_))),
        );
    }

    /// Whether an equal input is pending.
    pub(super) fn holds(&self, input: &Input) -> bool {
        self.inputs.binary_search(input).is_ok()
    }

    /// Time of the newest pending input, if any.
    pub(super) fn last_input_ts(&self) -> Option<Millis> {
        self.inputs.last().map(|i| i.ts)
    }
}

#[cfg(test)]
mod tests;
