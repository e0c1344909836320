//! One agent's effective state over time, and the agent-time steps it contributes.
//!
//! An agent's state is derived from two kinds of input: `agent_state` events (logged out,
//! ready, not ready) and its calls' phases (busy from ringing/answered until wrap, ACW from wrap
//! to wrap_end). Any busy call makes the agent busy, else any call in ACW makes it ACW, else its
//! `agent_state` decides. Inputs are kept sorted by time until the watermark passes them
//! (nothing can be inserted before the watermark), then folded into a settled state; the
//! timeline after the settled point is re-derived on every change and the difference applied
//! as steps, so late inputs within the lateness count exactly.

use serde::{Deserialize, Serialize};

use crate::event::{AgentState, Millis};
use crate::kpi::math::AgentTime;

use super::call::{CallKey, Phase};
use super::window::Delta;

/// What the agent is doing, for the windows and the `now` gauges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub(super) enum Effective {
    LoggedOut,
    Ready,
    NotReady,
    Busy,
    Acw,
}

impl Effective {
    pub(super) fn agent_time(self) -> Option<AgentTime> {
        match self {
            Effective::LoggedOut => None,
            Effective::Ready => Some(AgentTime::Ready),
            Effective::NotReady => Some(AgentTime::NotReady),
            Effective::Busy => Some(AgentTime::Busy),
            Effective::Acw => Some(AgentTime::Acw),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub(super) enum InputKind {
    State(AgentState),
    Call(CallKey, Phase),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub(super) struct Input {
    pub ts: Millis,
    pub kind: InputKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Agent {
    settled_state: AgentState,
    /// Calls the agent is engaged in (busy or ACW) as of the settled point.
    settled_calls: Vec<(CallKey, Phase)>,
    settled_effective: Effective,
    inputs: Vec<Input>,
    /// Changes of effective state after the settled point, as last applied to the windows.
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

fn effective(state: AgentState, calls: &[(CallKey, Phase)]) -> Effective {
    if calls.iter().any(|&(_, p)| p == Phase::Busy) {
        Effective::Busy
    } else if calls.iter().any(|&(_, p)| p == Phase::Acw) {
        Effective::Acw
    } else {
        match state {
            AgentState::LoggedOut => Effective::LoggedOut,
            AgentState::Ready => Effective::Ready,
            AgentState::NotReady => Effective::NotReady,
        }
    }
}

fn fold(state: &mut AgentState, calls: &mut Vec<(CallKey, Phase)>, input: &Input) {
    match input.kind {
        InputKind::State(s) => *state = s,
        InputKind::Call(call, phase) => {
            calls.retain(|&(c, _)| c != call);
            if phase != Phase::Free {
                calls.push((call, phase));
            }
        }
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

    fn derive(&self) -> Vec<(Millis, Effective)> {
        let mut state = self.settled_state;
        let mut calls = self.settled_calls.clone();
        let mut timeline: Vec<(Millis, Effective)> = Vec::new();
        let mut current = self.settled_effective;
        let mut i = 0;
        while i < self.inputs.len() {
            let ts = self.inputs[i].ts;
            // All inputs of one instant take effect together.
            while i < self.inputs.len() && self.inputs[i].ts == ts {
                fold(&mut state, &mut calls, &self.inputs[i]);
                i += 1;
            }
            let next = effective(state, &calls);
            if next != current {
                timeline.push((ts, next));
                current = next;
            }
        }
        timeline
    }

    /// Re-derives the timeline and emits the steps that turn the old one into the new one.
    pub(super) fn refresh(&mut self, out: &mut Vec<Delta>) {
        let timeline = self.derive();
        if timeline != self.timeline {
            push_steps(&self.timeline, self.settled_effective, -1, out);
            push_steps(&timeline, self.settled_effective, 1, out);
            self.timeline = timeline;
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

    /// Logged out, on no call, nothing pending: the entry can be dropped without changing any KPI.
    pub(super) fn is_idle(&self) -> bool {
        self.inputs.is_empty()
            && self.settled_calls.is_empty()
            && self.settled_effective == Effective::LoggedOut
    }
}

#[cfg(test)]
mod tests;
