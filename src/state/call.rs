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
use crate::ledger::RejectReason;
use crate::state::QueueKpiSettings;

use super::window::Delta;

/// Call steps in the order a life goes through them; the order breaks ties between events
/// with the same millisecond so that sorting is independent of arrival.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Step {
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
pub type AgentKey = u64;
pub type CallKey = u64;

/// The agent key of an agent id. 48 bits keep a call event in 16 bytes; the chance that two
/// of 5,000 agents in one queue share a key is about 4 × 10⁻⁸.
pub fn agent_key(agent_id: &str) -> AgentKey {
    super::dedup::id_hash(agent_id) & 0xFFFF_FFFF_FFFF
}

/// One event of a call, 16 bytes. Fields are declared in sort order: time, then life order,
/// then agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CallEvent {
    pub ts: Millis,
    pub step: Step,
    agent_hi: u16,
    agent_lo: u32,
}

impl CallEvent {
    pub fn new(ts: Millis, step: Step, agent: AgentKey) -> CallEvent {
        CallEvent {
            ts,
            step,
            agent_hi: (agent >> 32) as u16,
            agent_lo: agent as u32,
        }
    }

    pub fn agent(&self) -> AgentKey {
        (self.agent_hi as u64) << 32 | self.agent_lo as u64
    }
}

/// What a call's agent is doing for this call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Phase {
    /// ringing, talking, holding: the agent is busy with this call
    Busy,
    Acw,
    Free,
}

/// A change of one agent's phase for this call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct PhaseChange {
    pub ts: Millis,
    pub agent: AgentKey,
    pub phase: Phase,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Call {
    events: Vec<CallEvent>,
    /// The clock has passed offered + T while the call was still waiting.
    pub reached_threshold: bool,
    /// Set when the call is expired for age; frees its agents at that time.
    pub expired_at: Option<Millis>,
}

impl Call {
    pub fn events(&self) -> &[CallEvent] {
        &self.events
    }

    fn find(&self, step: Step) -> Option<&CallEvent> {
        self.events.iter().find(|e| e.step == step)
    }

    pub fn offered_at(&self) -> Option<Millis> {
        self.find(Step::Offered).map(|e| e.ts)
    }

    /// When the caller stopped waiting in this queue: answer, abandon or transfer.
    pub fn wait_end(&self) -> Option<&CallEvent> {
        self.events
            .iter()
            .find(|e| matches!(e.step, Step::Answered | Step::Abandoned | Step::Transferred))
    }

    /// Offered and still waiting for an answer in this queue.
    pub fn is_waiting(&self) -> bool {
        self.offered_at().is_some() && self.wait_end().is_none() && self.expired_at.is_none()
    }

    /// The event after which nothing more can happen to the call in this queue.
    pub fn terminal_at(&self) -> Option<Millis> {
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
    pub fn last_ts(&self) -> Millis {
        self.events.last().map_or(Millis::MIN, |e| e.ts)
    }

    /// Inserts an event if it is consistent with the call so far.
    pub fn insert(&mut self, new: CallEvent, max_events: usize) -> Result<(), RejectReason> {
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
    pub fn deltas(&self, q: &QueueKpiSettings, out: &mut Vec<Delta>) {
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
                Step::Abandoned => {
                    if let Some(prev) = open_ring.take() {
                        out.push(Delta::count(prev, Count::RingNoAnswer, 1));
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
    pub fn wait_sample(&self, q: &QueueKpiSettings) -> Option<(Millis, Millis)> {
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
    pub fn agent_phases(&self, out: &mut Vec<PhaseChange>) {
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
mod tests {
    use super::*;
    use crate::kpi::math::{Count, Sum};

    const T0: Millis = 1_700_000_000_000;
    const A: AgentKey = 11;
    const B: AgentKey = 22;

    fn ev(s: i64, step: Step, agent: AgentKey) -> CallEvent {
        CallEvent::new(T0 + s * 1000, step, agent)
    }

    fn call(events: &[CallEvent]) -> Call {
        let mut c = Call::default();
        for &e in events {
            c.insert(e, 64).unwrap();
        }
        c
    }

    fn counts(c: &Call) -> Vec<(Count, i64, i64)> {
        let mut out = Vec::new();
        c.deltas(&QueueKpiSettings::default(), &mut out);
        out.into_iter()
            .filter_map(|d| match d {
                Delta::Count { ts, what, by } => Some((count_of(what.0), (ts - T0) / 1000, by)),
                _ => None,
            })
            .collect()
    }

    fn count_of(i: u8) -> Count {
        Count::ALL[i as usize]
    }

    fn sums(c: &Call) -> Vec<(Sum, i64)> {
        let mut out = Vec::new();
        c.deltas(&QueueKpiSettings::default(), &mut out);
        out.into_iter()
            .filter_map(|d| match d {
                Delta::Sum { what, ms, .. } => Some((
                    [Sum::WaitAnswered, Sum::Talk, Sum::Hold, Sum::Acw][what.0 as usize],
                    ms,
                )),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn answered_within_threshold_with_rings_talk_hold_and_acw() {
        // offered 0, ring 3 (agent A), answered 14 → wait 14 s ≤ 20 s, rings ceil(11/5) = 3;
        // hold 60–90, wrap 200 → talk 186 − 30 = 156 s, hold 30 s; wrap_end 230 → ACW 30 s.
        let c = call(&[
            ev(0, Step::Offered, 0),
            ev(3, Step::Ringing, A),
            ev(14, Step::Answered, A),
            ev(60, Step::Hold, A),
            ev(90, Step::Unhold, A),
            ev(200, Step::Wrap, A),
            ev(230, Step::WrapEnd, A),
        ]);
        let got = counts(&c);
        assert!(got.contains(&(Count::Offered, 0, 1)));
        assert!(got.contains(&(Count::RingAttempts, 3, 1)));
        assert!(got.contains(&(Count::Answered, 14, 1)));
        assert!(got.contains(&(Count::AnsweredWithinT, 14, 1)));
        assert!(got.contains(&(Count::RingsToAnswer, 14, 3)));
        assert!(got.contains(&(Count::Handled, 200, 1)));
        assert!(got.contains(&(Count::AcwCompleted, 230, 1)));
        assert!(!got
            .iter()
            .any(|g| g.0 == Count::ReachedT || g.0 == Count::RingNoAnswer));
        assert_eq!(
            sums(&c),
            vec![
                (Sum::WaitAnswered, 14_000),
                (Sum::Talk, 156_000),
                (Sum::Hold, 30_000),
                (Sum::Acw, 30_000)
            ]
        );
        assert_eq!(
            c.wait_sample(&QueueKpiSettings::default()),
            Some((T0 + 14_000, 14_000))
        );
    }

    #[test]
    fn sl_event_for_a_late_answer_is_at_the_threshold() {
        // Answered at 45 s: missed, counted when the wait reached 20 s.
        let c = call(&[ev(0, Step::Offered, 0), ev(45, Step::Answered, A)]);
        let got = counts(&c);
        assert!(got.contains(&(Count::ReachedT, 20, 1)));
        assert!(!got.iter().any(|g| g.0 == Count::AnsweredWithinT));
        // Answered exactly at T is within.
        let c = call(&[ev(0, Step::Offered, 0), ev(20, Step::Answered, A)]);
        assert!(counts(&c).contains(&(Count::AnsweredWithinT, 20, 1)));
    }

    #[test]
    fn waiting_call_counts_as_missed_once_the_clock_passes_t() {
        let mut c = call(&[ev(0, Step::Offered, 0)]);
        assert!(!counts(&c).iter().any(|g| g.0 == Count::ReachedT));
        c.reached_threshold = true;
        assert!(counts(&c).contains(&(Count::ReachedT, 20, 1)));
        // A late answer timed before T replaces the miss by a hit.
        c.insert(ev(19, Step::Answered, A), 64).unwrap();
        let got = counts(&c);
        assert!(got.contains(&(Count::AnsweredWithinT, 19, 1)));
        assert!(!got.iter().any(|g| g.0 == Count::ReachedT));
    }

    #[test]
    fn abandons_short_within_and_after_threshold() {
        let short = call(&[ev(0, Step::Offered, 0), ev(4, Step::Abandoned, 0)]);
        assert_eq!(
            counts(&short),
            vec![(Count::Offered, 0, 1), (Count::ShortAbandoned, 4, 1)]
        );
        let within = call(&[ev(0, Step::Offered, 0), ev(5, Step::Abandoned, 0)]);
        assert!(counts(&within).contains(&(Count::AbandonedWithinT, 5, 1)));
        let after = call(&[ev(0, Step::Offered, 0), ev(50, Step::Abandoned, 0)]);
        let got = counts(&after);
        assert!(got.contains(&(Count::Abandoned, 50, 1)));
        assert!(got.contains(&(Count::ReachedT, 20, 1)));
        assert_eq!(short.wait_sample(&QueueKpiSettings::default()), None);
        assert_eq!(
            after.wait_sample(&QueueKpiSettings::default()),
            Some((T0 + 50_000, 50_000))
        );
    }

    #[test]
    fn transfer_before_t_has_no_sl_event_after_t_is_a_miss() {
        let early = call(&[ev(0, Step::Offered, 0), ev(10, Step::Transferred, 0)]);
        assert_eq!(
            counts(&early),
            vec![(Count::Offered, 0, 1), (Count::TransferredOut, 10, 1)]
        );
        let late = call(&[ev(0, Step::Offered, 0), ev(30, Step::Transferred, 0)]);
        assert!(counts(&late).contains(&(Count::ReachedT, 20, 1)));
    }

    #[test]
    fn ring_no_answer_is_a_ring_followed_by_a_ring_or_an_abandon() {
        let c = call(&[
            ev(0, Step::Offered, 0),
            ev(2, Step::Ringing, A),
            ev(17, Step::Ringing, B),
            ev(30, Step::Abandoned, 0),
        ]);
        let got = counts(&c);
        assert!(got.contains(&(Count::RingNoAnswer, 2, 1)));
        assert!(got.contains(&(Count::RingNoAnswer, 17, 1)));
        let answered = call(&[
            ev(0, Step::Offered, 0),
            ev(2, Step::Ringing, A),
            ev(8, Step::Answered, A),
        ]);
        assert!(!counts(&answered).iter().any(|g| g.0 == Count::RingNoAnswer));
    }

    #[test]
    fn a_call_event_is_sixteen_bytes_and_keeps_its_agent() {
        assert_eq!(std::mem::size_of::<CallEvent>(), 16);
        let key = agent_key("agent-0042");
        assert_eq!(key >> 48, 0);
        assert_eq!(CallEvent::new(T0, Step::Answered, key).agent(), key);
    }

    #[test]
    fn invalid_sequences_are_rejected_with_reasons() {
        let mut c = call(&[ev(10, Step::Offered, 0), ev(15, Step::Answered, A)]);
        assert_eq!(
            c.insert(ev(16, Step::Answered, A), 64),
            Err(RejectReason::OutOfSequence)
        );
        assert_eq!(
            c.insert(ev(20, Step::Abandoned, 0), 64),
            Err(RejectReason::OutOfSequence)
        );
        assert_eq!(
            c.insert(ev(5, Step::Ringing, A), 64),
            Err(RejectReason::NegativeDuration)
        );
        assert_eq!(
            c.insert(ev(16, Step::Ringing, A), 64),
            Err(RejectReason::OutOfSequence)
        );
        assert_eq!(
            c.insert(ev(12, Step::Wrap, A), 64),
            Err(RejectReason::NegativeDuration)
        );
        c.insert(ev(40, Step::Wrap, A), 64).unwrap();
        assert_eq!(
            c.insert(ev(30, Step::WrapEnd, A), 64),
            Err(RejectReason::NegativeDuration)
        );
        assert_eq!(
            c.insert(ev(41, Step::Hold, A), 64),
            Err(RejectReason::OutOfSequence)
        );
        assert_eq!(
            c.insert(ev(50, Step::Offered, 0), 64),
            Err(RejectReason::OutOfSequence)
        );
        assert_eq!(
            c.insert(ev(50, Step::WrapEnd, A), 3),
            Err(RejectReason::CallEventLimit)
        );
        assert_eq!(c.events().len(), 3, "rejections leave the call unchanged");
    }

    #[test]
    fn agent_phases_follow_ring_talk_and_acw() {
        let c = call(&[
            ev(0, Step::Offered, 0),
            ev(2, Step::Ringing, A),
            ev(17, Step::Ringing, B),
            ev(20, Step::Answered, B),
            ev(100, Step::Wrap, B),
            ev(130, Step::WrapEnd, B),
        ]);
        let mut phases = Vec::new();
        c.agent_phases(&mut phases);
        let at = |s: i64| T0 + s * 1000;
        assert_eq!(
            phases,
            vec![
                PhaseChange {
                    ts: at(2),
                    agent: A,
                    phase: Phase::Busy
                },
                PhaseChange {
                    ts: at(17),
                    agent: A,
                    phase: Phase::Free
                },
                PhaseChange {
                    ts: at(17),
                    agent: B,
                    phase: Phase::Busy
                },
                PhaseChange {
                    ts: at(20),
                    agent: B,
                    phase: Phase::Busy
                },
                PhaseChange {
                    ts: at(100),
                    agent: B,
                    phase: Phase::Acw
                },
                PhaseChange {
                    ts: at(130),
                    agent: B,
                    phase: Phase::Free
                },
            ]
        );
    }
}
