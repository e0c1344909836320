//! One call's life in one queue, and everything the KPIs derive from it.
//!
//! A call keeps its events sorted by time (not by arrival). What it contributes to the windows
//! ([`Call::deltas`]) and to its agents' states ([`Call::agent_phases`]) is a pure function of
//! that sorted list (plus whether the clock has passed offered + T). When an event arrives —
//! in order or not — the queue retracts the old derivation and applies the new one, so an
//! event arriving a few seconds out of order counts exactly as if it had come in order.
//!
//! Validation is against the events already present: an event that contradicts them (answered
//! twice, abandoned after an answer, wrap before answer …) is rejected with a reason and the
//! call stays as it was. Until the call's `offered` is present, its other events are *pending*:
//! kept, not counted, and rejected as `no_offer` once the lateness runs out.

use serde::{Deserialize, Serialize};

use crate::event::Millis;
use crate::kpi::math::{rings_before_answer, Count, Sum};
use crate::kpi::QueueKpiSettings;
use crate::ledger::RejectReason;

use super::window::Delta;

/// Call steps in the order a life goes through them; the order breaks ties between events
/// with the same millisecond so that sorting is independent of arrival.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub(super) enum Step {
    Offered,
    Ringing,
    Answered,
    Hold,
    Unhold,
    Wrap,
    WrapEnd,
    Abandoned,
    Transferred,
}

/// Agent id hash cut to 48 bits (see [`agent_key`]); 0 for steps without an agent.
pub(super) type AgentKey = u64;
pub(super) type CallKey = u64;

/// The agent key of an agent id. 48 bits keep a call event in 16 bytes; the chance that two
/// of 5,000 agents in one queue share a key is about 4 × 10⁻⁸.
pub(super) fn agent_key(agent_id: &str) -> AgentKey {
    super::dedup::id_hash(agent_id) & 0xFFFF_FFFF_FFFF
}

/// One event of a call, 16 bytes. Fields are declared in sort order: time, then life order,
/// then agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub(super) struct CallEvent {
    pub ts: Millis,
    pub step: Step,
    agent_hi: u16,
    agent_lo: u32,
}

impl CallEvent {
    pub(super) fn new(ts: Millis, step: Step, agent: AgentKey) -> CallEvent {
        CallEvent {
            ts,
            step,
            agent_hi: (agent >> 32) as u16,
            agent_lo: agent as u32,
        }
    }

    pub(super) fn agent(&self) -> AgentKey {
        (self.agent_hi as u64) << 32 | self.agent_lo as u64
    }
}

/// What a call's agent is doing for this call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub(super) enum Phase {
    /// ringing, talking, holding: the agent is busy with this call
    Busy,
    Acw,
    Free,
}

/// A change of one agent's phase for this call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct PhaseChange {
    pub ts: Millis,
    pub agent: AgentKey,
    pub phase: Phase,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Call {
    events: Vec<CallEvent>,
    /// The clock has passed offered + T while the call was still waiting.
    pub reached_threshold: bool,
    /// Set when the call is expired for age; frees its agents at that time.
    pub expired_at: Option<Millis>,
}

impl Call {
    pub(super) fn events(&self) -> &[CallEvent] {
        &self.events
    }

    fn find(&self, step: Step) -> Option<&CallEvent> {
        self.events.iter().find(|e| e.step == step)
    }

    pub(super) fn offered_at(&self) -> Option<Millis> {
        self.find(Step::Offered).map(|e| e.ts)
    }

    /// When the caller stopped waiting in this queue: answer, abandon or transfer.
    pub(super) fn wait_end(&self) -> Option<&CallEvent> {
        self.events
            .iter()
            .find(|e| matches!(e.step, Step::Answered | Step::Abandoned | Step::Transferred))
    }

    /// Offered and still waiting for an answer in this queue.
    pub(super) fn is_waiting(&self) -> bool {
        self.offered_at().is_some() && self.wait_end().is_none() && self.expired_at.is_none()
    }

    /// The event after which nothing more can happen to the call in this queue.
    pub(super) fn terminal_at(&self) -> Option<Millis> {
        if let Some(e) = self
            .find(Step::WrapEnd)
            .or_else(|| self.find(Step::Abandoned))
        {
            return Some(e.ts);
        }
        match (self.find(Step::Transferred), self.find(Step::Answered)) {
            (Some(t), None) => Some(t.ts),
            _ => self.expired_at,
        }
    }

    /// The latest event time, for deciding when the call is settled.
    pub(super) fn last_ts(&self) -> Millis {
        self.events.last().map_or(Millis::MIN, |e| e.ts)
    }

    /// Inserts an event if it is consistent with the call so far.
    pub(super) fn insert(&mut self, new: CallEvent, max_events: usize) -> Result<(), RejectReason> {
        if self.events.len() >= max_events {
            return Err(RejectReason::CallEventLimit);
        }
        self.check(&new)?;
        let at = self.events.partition_point(|e| e < &new);
        self.events.insert(at, new);
        Ok(())
    }

    fn check(&self, new: &CallEvent) -> Result<(), RejectReason> {
        use RejectReason::{NegativeDuration, OutOfSequence};
        use Step::*;
        let singleton = matches!(
            new.step,
            Offered | Answered | Wrap | WrapEnd | Abandoned | Transferred
        );
        if singleton && self.find(new.step).is_some() {
            return Err(OutOfSequence);
        }
        // `a` must not come after `b` (in time, ties broken by life order).
        let ordered = |a: &CallEvent, b: &CallEvent| (a.ts, a.step) <= (b.ts, b.step);
        // Pairs (earlier step, later step, reason if violated). Durations that would come out
        // negative are `negative_duration`; other impossible orders are `out_of_sequence`.
        const RULES: &[(Step, Step, RejectReason)] = &[
            (Offered, Ringing, NegativeDuration),
            (Offered, Answered, NegativeDuration),
            (Offered, Hold, NegativeDuration),
            (Offered, Unhold, NegativeDuration),
            (Offered, Wrap, NegativeDuration),
            (Offered, WrapEnd, NegativeDuration),
            (Offered, Abandoned, NegativeDuration),
            (Offered, Transferred, NegativeDuration),
            (Ringing, Answered, OutOfSequence),
            (Ringing, Abandoned, OutOfSequence),
            (Ringing, Transferred, OutOfSequence),
            (Answered, Hold, NegativeDuration),
            (Answered, Unhold, NegativeDuration),
            (Answered, Wrap, NegativeDuration),
            (Answered, WrapEnd, NegativeDuration),
            (Answered, Transferred, OutOfSequence),
            (Hold, Wrap, OutOfSequence),
            (Unhold, Wrap, OutOfSequence),
            (Wrap, WrapEnd, NegativeDuration),
        ];
        for &(before, after, reason) in RULES {
            if new.step == before {
                if self
                    .events
                    .iter()
                    .any(|e| e.step == after && !ordered(new, e))
                {
                    return Err(reason);
                }
            } else if new.step == after
                && self
                    .events
                    .iter()
                    .any(|e| e.step == before && !ordered(e, new))
            {
                return Err(reason);
            }
        }
        // An abandoned call was never answered, held or wrapped; and it did not leave by transfer.
        let abandon_excludes = [Answered, Hold, Unhold, Wrap, WrapEnd, Transferred];
        if new.step == Abandoned
            && self
                .events
                .iter()
                .any(|e| abandon_excludes.contains(&e.step))
        {
            return Err(OutOfSequence);
        }
        if abandon_excludes.contains(&new.step) && self.find(Abandoned).is_some() {
            return Err(OutOfSequence);
        }
        Ok(())
    }

    /// Everything the call adds to the windows, given how far the clock has gone.
    pub(super) fn deltas(&self, q: &QueueKpiSettings, out: &mut Vec<Delta>) {
        let Some(offered) = self.offered_at() else {
            return;
        };
        let t = q.sl_threshold_ms;
        out.push(Delta::count(offered, Count::Offered, 1));

        let mut first_ring: Option<Millis> = None;
        let mut open_ring: Option<Millis> = None;
        for e in &self.events {
            match e.step {
                Step::Ringing => {
                    out.push(Delta::count(e.ts, Count::RingAttempts, 1));
                    if let Some(prev) = open_ring {
                        out.push(Delta::count(prev, Count::RingNoAnswer, 1));
                    }
                    first_ring.get_or_insert(e.ts);
                    open_ring = Some(e.ts);
                }
                // The caller hung up while it rang: not the agent's no-answer.
                Step::Abandoned => {
                    if let Some(prev) = open_ring.take() {
                        out.push(Delta::count(prev, Count::RingAbandoned, 1));
                    }
                }
                Step::Answered | Step::Transferred => open_ring = None,
                _ => {}
            }
        }

        let mut reached = false;
        match self.wait_end() {
            Some(&CallEvent {
                ts,
                step: Step::Answered,
                ..
            }) => {
                let wait = ts - offered;
                out.push(Delta::count(ts, Count::Answered, 1));
                out.push(Delta::sum(ts, Sum::WaitAnswered, wait));
                let rings = rings_before_answer(first_ring.map(|r| ts - r), q);
                out.push(Delta::count(ts, Count::RingsToAnswer, rings as i64));
                if wait <= t {
                    out.push(Delta::count(ts, Count::AnsweredWithinT, 1));
                } else {
                    reached = true;
                }
            }
            Some(&CallEvent {
                ts,
                step: Step::Abandoned,
                ..
            }) => {
                let wait = ts - offered;
                if wait < q.short_abandon_ms {
                    out.push(Delta::count(ts, Count::ShortAbandoned, 1));
                } else {
                    out.push(Delta::count(ts, Count::Abandoned, 1));
                    if wait <= t {
                        out.push(Delta::count(ts, Count::AbandonedWithinT, 1));
                    } else {
                        reached = true;
                    }
                }
            }
            Some(&CallEvent { ts, .. }) => reached = ts - offered > t,
            None => reached = self.reached_threshold,
        }
        if reached {
            out.push(Delta::count(offered + t, Count::ReachedT, 1));
        }
        if let Some(x) = self.find(Step::Transferred) {
            out.push(Delta::count(x.ts, Count::TransferredOut, 1));
        }

        if let (Some(answered), Some(wrap)) = (self.find(Step::Answered), self.find(Step::Wrap)) {
            let hold = self.hold_ms(wrap.ts);
            out.push(Delta::count(wrap.ts, Count::Handled, 1));
            out.push(Delta::sum(wrap.ts, Sum::Talk, wrap.ts - answered.ts - hold));
            out.push(Delta::sum(wrap.ts, Sum::Hold, hold));
        }
        if let (Some(wrap), Some(end)) = (self.find(Step::Wrap), self.find(Step::WrapEnd)) {
            out.push(Delta::count(end.ts, Count::AcwCompleted, 1));
            out.push(Delta::sum(end.ts, Sum::Acw, end.ts - wrap.ts));
            // Handle time, (wrap − answered) + (wrap_end − wrap), over the same calls as ACW
            // (talk and hold count 0 for a call whose answer never arrived).
            let answered = self.find(Step::Answered).map_or(wrap.ts, |a| a.ts);
            out.push(Delta::sum(end.ts, Sum::Handle, end.ts - answered));
        }
    }

    /// Total hold up to the wrap; a hold still open at the wrap ends there.
    fn hold_ms(&self, wrap: Millis) -> Millis {
        let mut total = 0;
        let mut since: Option<Millis> = None;
        for e in &self.events {
            match e.step {
                Step::Hold if since.is_none() => since = Some(e.ts),
                Step::Unhold => {
                    if let Some(s) = since.take() {
                        total += e.ts - s;
                    }
                }
                _ => {}
            }
        }
        if let Some(s) = since {
            total += wrap - s;
        }
        total
    }

    /// The wait sample this call contributes to the wait percentiles, if its wait is over:
    /// (time the wait ended, wait). Answered and abandoned calls count, short abandons not.
    pub(super) fn wait_sample(&self, q: &QueueKpiSettings) -> Option<(Millis, Millis)> {
        let offered = self.offered_at()?;
        let end = self.wait_end()?;
        let wait = end.ts - offered;
        match end.step {
            Step::Answered => Some((end.ts, wait)),
            Step::Abandoned if wait >= q.short_abandon_ms => Some((end.ts, wait)),
            _ => None,
        }
    }

    /// How each agent's phase for this call changes over time.
    pub(super) fn agent_phases(&self, out: &mut Vec<PhaseChange>) {
        if self.offered_at().is_none() {
            return;
        }
        let start = out.len();
        let mut ringing: Option<AgentKey> = None;
        let mut talking: Option<AgentKey> = None;
        let set = |out: &mut Vec<PhaseChange>, ts, agent, phase| {
            out.push(PhaseChange { ts, agent, phase });
        };
        for e in &self.events {
            match e.step {
                Step::Ringing => {
                    if let Some(prev) = ringing.filter(|&p| p != e.agent()) {
                        set(out, e.ts, prev, Phase::Free);
                    }
                    set(out, e.ts, e.agent(), Phase::Busy);
                    ringing = Some(e.agent());
                }
                Step::Answered => {
                    if let Some(prev) = ringing.take().filter(|&p| p != e.agent()) {
                        set(out, e.ts, prev, Phase::Free);
                    }
                    set(out, e.ts, e.agent(), Phase::Busy);
                    talking = Some(e.agent());
                }
                Step::Abandoned | Step::Transferred => {
                    if let Some(prev) = ringing.take() {
                        set(out, e.ts, prev, Phase::Free);
                    }
                }
                Step::Wrap => {
                    if let Some(prev) = talking.filter(|&p| p != e.agent()) {
                        set(out, e.ts, prev, Phase::Free);
                    }
                    set(out, e.ts, e.agent(), Phase::Acw);
                    talking = Some(e.agent());
                }
                Step::WrapEnd => {
                    let prev = talking.take();
                    if let Some(p) = prev {
                        set(out, e.ts, p, Phase::Free);
                    }
                    if prev != Some(e.agent()) {
                        set(out, e.ts, e.agent(), Phase::Free);
                    }
                }
                Step::Offered | Step::Hold | Step::Unhold => {}
            }
        }
        if let Some(at) = self.expired_at {
            for agent in ringing.into_iter().chain(talking) {
                set(out, at, agent, Phase::Free);
            }
        }
        // Several changes for one agent at one instant: only the last one matters.
        let mine = &mut out[start..];
        mine.sort_by_key(|c| (c.agent, c.ts));
        let mut keep = Vec::with_capacity(mine.len());
        for (i, c) in mine.iter().enumerate() {
            let superseded = mine
                .get(i + 1)
                .is_some_and(|n| n.agent == c.agent && n.ts == c.ts);
            if !superseded {
                keep.push(*c);
            }
        }
        out.truncate(start);
        out.extend(keep);
    }
}

#[cfg(test)]
mod tests;
