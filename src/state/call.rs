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
    // Added after the steps above so that checkpoints keep their indices; their place in the
    // order of one instant matters little: they are checked against nothing at the same
    // instant but the offer (and a flow-out against a ringing), which sorts first.
    NoAnswer,
    Unavailable,
    FlowedOut,
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
    /// Moved to the time of the step it must follow (clock skew); in the padding byte.
    skewed: bool,
}

impl CallEvent {
    pub(super) fn new(ts: Millis, step: Step, agent: AgentKey) -> CallEvent {
        CallEvent {
            ts,
            step,
            agent_hi: (agent >> 32) as u16,
            agent_lo: agent as u32,
            skewed: false,
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

/// A call in this queue: its visits ("legs"), in time order.
///
/// A leg starts with an `offered`; `transferred` ends it, and the next `offered` of the call
/// starts a new leg, also in the same queue. A leg counts (is *live*) once it has its offer
/// and, unless it is the first, the leg before it was transferred out no later than that
/// offer: only then is the offer a new visit and not a second offer of one visit. A leg that
/// does not count yet holds the origins of its events, which resolve when it starts to
/// count, or are rejected once the watermark passes it (`no_offer` without an offer,
/// `out_of_sequence` for an offer no transfer came before).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "CallLegs")]
pub(super) struct Call {
    legs: Vec<Leg>,
    /// How many legs count ([`Call::count_live`]), kept by the two methods that change it,
    /// [`Call::insert`] and [`Call::drop_held_before`]: every derivation of a change reads it,
    /// several times per event. Rebuilt, not written.
    #[serde(skip)]
    live: u32,
    /// Where the queue's due sets have the call ([`Call::reschedule`]); rebuilt, not written.
    #[serde(skip)]
    scheduled: Due,
}

/// What a checkpoint holds of a call (the legs); the rest is derived from them.
#[derive(Deserialize)]
struct CallLegs {
    legs: Vec<Leg>,
}

impl From<CallLegs> for Call {
    fn from(CallLegs { legs }: CallLegs) -> Call {
        let mut call = Call {
            legs,
            ..Call::default()
        };
        call.live = call.count_live();
        call
    }
}

/// One visit of a call to the queue.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Leg {
    events: Vec<CallEvent>,
    /// The clock has passed offered + T while the leg was still waiting.
    pub reached_threshold: bool,
    /// Set when the leg is expired for age; frees its agents at that time.
    pub expired_at: Option<Millis>,
    /// Origins of the events held while the leg does not count.
    held: Vec<u64>,
}

/// Pairs (earlier step, later step, reason if violated) of a leg's steps. Durations that would
/// come out negative are `negative_duration`; other impossible orders are `out_of_sequence`.
const RULES: &[(Step, Step, RejectReason)] = {
    use RejectReason::{NegativeDuration, OutOfSequence};
    use Step::*;
    &[
        (Offered, Ringing, NegativeDuration),
        (Offered, Answered, NegativeDuration),
        (Offered, Hold, NegativeDuration),
        (Offered, Unhold, NegativeDuration),
        (Offered, Wrap, NegativeDuration),
        (Offered, WrapEnd, NegativeDuration),
        (Offered, Abandoned, NegativeDuration),
        (Offered, Transferred, NegativeDuration),
        (Offered, NoAnswer, NegativeDuration),
        (Offered, Unavailable, NegativeDuration),
        (Offered, FlowedOut, NegativeDuration),
        (Ringing, Answered, OutOfSequence),
        (Ringing, Abandoned, OutOfSequence),
        (Ringing, Transferred, OutOfSequence),
        (Ringing, FlowedOut, OutOfSequence),
        (Answered, Hold, NegativeDuration),
        (Answered, Unhold, NegativeDuration),
        (Answered, Wrap, NegativeDuration),
        (Answered, WrapEnd, NegativeDuration),
        (Answered, Transferred, OutOfSequence),
        (Hold, Wrap, OutOfSequence),
        (Unhold, Wrap, OutOfSequence),
        (Wrap, WrapEnd, NegativeDuration),
    ]
};

/// What a queue's sweep waits for to act on a call, and from when ([`Call::due`]): the queue
/// keeps its calls ordered by it, so that a sweep finds the few due among many in flight.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) enum Due {
    /// No sweep acts on it (it has no legs).
    #[default]
    Nothing,
    /// It holds events for legs that do not count, the first of which began here: once the
    /// watermark passes this, they are rejected or count ([`Call::drop_held_before`]).
    Held(Millis),
    /// Every leg ended, the last of them and its last event by here: the call is forgotten
    /// once the watermark passes this.
    Ended(Millis),
    /// A leg that counts has not ended; the oldest such was offered here: it expires
    /// `max_call_age` later.
    Open(Millis),
}

/// What bounds a call's events.
#[derive(Debug, Clone, Copy)]
pub(super) struct CallLimits {
    pub max_events: usize,
    /// How far a step may be timed before the step it must follow (`engine.max_clock_skew`).
    pub skew: Millis,
}

/// What [`Call::insert`] did with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Inserted {
    /// It counts now; otherwise it is held (its leg does not count yet).
    pub counts: bool,
    /// Events moved to the time of the step they must follow (clock skew).
    pub skewed: u32,
}

/// Steps a leg may still take after it was transferred out, if an agent answered it: the
/// transferring agent's hold ending and after-call work.
fn follows_transfer(step: Step) -> bool {
    matches!(step, Step::Unhold | Step::Wrap | Step::WrapEnd)
}

/// Steps a call takes past `max_events_per_call`: those ending its wait or its handling.
fn ends_something(step: Step) -> bool {
    use Step::*;
    matches!(
        step,
        Answered | Wrap | WrapEnd | Abandoned | Transferred | FlowedOut
    )
}

/// How many ending steps a call may take past `max_events_per_call`: one leg's worth, and
/// some for legs that were open when the limit was reached.
pub(super) const ENDING_ROOM: usize = 16;

/// Steps that take a call out of its leg to somewhere else: a transfer, or a flow-out (the ACD
/// moved it on unanswered, wherever it goes next). The call's next offer starts a new leg.
fn leaves(step: Step) -> bool {
    matches!(step, Step::Transferred | Step::FlowedOut)
}

/// At most this many rings of one leg are open at once: the agents rung at one instant (a
/// `ringall` strategy rings every free member together). A ring beyond it is taken as not
/// answered when it starts; it still counts as a ring attempt.
const MAX_OPEN_RINGS: usize = 32;

/// The rings of a leg that have not ended, all started at one instant: a ringing at a later
/// instant ends them as not answered (the call rang elsewhere); a `no_answer` ends one, the
/// answer, a transfer or a flow-out end them all as neither, an abandon as ring-abandoned.
struct OpenRings {
    at: Millis,
    agents: [AgentKey; MAX_OPEN_RINGS],
    len: usize,
}

impl OpenRings {
    fn new() -> OpenRings {
        OpenRings {
            at: Millis::MIN,
            agents: [0; MAX_OPEN_RINGS],
            len: 0,
        }
    }

    fn agents(&self) -> &[AgentKey] {
        &self.agents[..self.len]
    }

    /// A ring of `agent` starting at `ts`, after `ended` is told of each open ring it ends
    /// (started earlier): the ring's start and its agent. `false` if it could not be kept open.
    fn ring(
        &mut self,
        ts: Millis,
        agent: AgentKey,
        mut ended: impl FnMut(Millis, AgentKey),
    ) -> bool {
        if self.len > 0 && self.at < ts {
            self.take(&mut ended);
        }
        self.at = ts;
        if self.len == MAX_OPEN_RINGS {
            return false;
        }
        self.agents[self.len] = agent;
        self.len += 1;
        true
    }

    /// Ends `agent`'s open ring, returning its start, if it has one.
    fn end(&mut self, agent: AgentKey) -> Option<Millis> {
        let i = self.agents().iter().position(|&a| a == agent)?;
        self.agents.copy_within(i + 1..self.len, i);
        self.len -= 1;
        Some(self.at)
    }

    /// Ends every open ring, telling `ended` of each.
    fn take(&mut self, mut ended: impl FnMut(Millis, AgentKey)) {
        for &agent in &self.agents[..self.len] {
            ended(self.at, agent);
        }
        self.len = 0;
    }
}

impl Call {
    pub(super) fn is_empty(&self) -> bool {
        self.legs.is_empty()
    }

    /// The legs that count, in time order.
    pub(super) fn live(&self) -> &[Leg] {
        &self.legs[..self.live_count()]
    }

    fn live_count(&self) -> usize {
        self.live as usize
    }

    /// The kept count of legs that count is theirs (checked by the tests after each event).
    #[cfg(test)]
    pub(super) fn live_count_agrees(&self) -> bool {
        self.live == self.count_live()
    }

    /// Counts the legs that count (see [`Call`]).
    fn count_live(&self) -> u32 {
        let mut n = 0;
        for (i, leg) in self.legs.iter().enumerate() {
            let Some(offered) = leg.offered_at() else {
                break;
            };
            if i > 0 && self.legs[i - 1].left_at().is_none_or(|tx| tx > offered) {
                break;
            }
            n = i + 1;
        }
        n as u32
    }

    /// Events held for legs that do not count yet.
    pub(super) fn held(&self) -> usize {
        self.legs.iter().map(|l| l.held.len()).sum()
    }

    fn event_count(&self) -> usize {
        self.legs.iter().map(|l| l.events.len()).sum()
    }

    /// The leg an event belongs to: `Ok(index)` of an existing leg, `Err(index)` where a new
    /// leg starts. `Err(reason)` rejects it outright. Legs are kept in the order they start
    /// (their offer, or their first event while they have none).
    fn route(&self, new: &CallEvent, live: usize) -> Result<Result<usize, usize>, RejectReason> {
        let offered = |l: &Leg| l.offered_at();
        // The last leg offered at or before the event.
        let at = self
            .legs
            .iter()
            .rposition(|l| offered(l).is_some_and(|o| o <= new.ts));
        if new.step == Step::Offered {
            if self.legs.iter().any(|l| offered(l) == Some(new.ts)) {
                return Err(RejectReason::OutOfSequence);
            }
            // Legs that count are never reordered: an offer before the last of them is a
            // second offer of a visit already counted.
            if live > 0 && offered(&self.legs[live - 1]).is_some_and(|o| new.ts < o) {
                return Err(RejectReason::OutOfSequence);
            }
            // Events held for want of an offer get this one, unless they were transferred
            // out before it (then it starts the leg after them). A leg left at the very instant
            // of the offer is taken as this leg's own (a call that flowed out at once, common
            // where the ACD stamps whole seconds): read as the end of an earlier leg whose
            // offer has not arrived, it would leave this offer waiting with no end.
            let open = self
                .legs
                .iter()
                .position(|l| offered(l).is_none() && l.left_at().is_none_or(|tx| tx >= new.ts));
            if let Some(j) = open {
                return Ok(Ok(j));
            }
            return Ok(Err(self.legs.partition_point(|l| l.start() < new.ts)));
        }
        let Some(mut i) = at else {
            // Before every offer: into the first leg (where the order check rejects an event
            // before the call's first offer), or held until an offer comes.
            return Ok(if self.legs.is_empty() { Err(0) } else { Ok(0) });
        };
        if leaves(new.step) && i >= live && i > 0 {
            // A transfer (or flow-out) out of the leg before, stamped at or after the next offer
            // it explains.
            if self.legs[i - 1].left_at().is_none() {
                i -= 1;
            }
            return Ok(Ok(i));
        }
        let agent = new.agent();
        if follows_transfer(new.step) {
            // The wrap of a transferring agent goes to the leg they answered, even once the
            // call is offered again and answered by someone else.
            if let Some(j) = self.legs[..=i]
                .iter()
                .rposition(|l| l.answered_by() == Some(agent))
            {
                return Ok(Ok(j));
            }
        }
        let leg = &self.legs[i];
        let ended = leg.left_at().is_some_and(|tx| tx <= new.ts);
        if ended && !(follows_transfer(new.step) && leg.answered_by() == Some(agent)) {
            return Ok(if i + 1 < self.legs.len() {
                Ok(i + 1)
            } else {
                Err(i + 1)
            });
        }
        Ok(Ok(i))
    }

    /// Inserts an event into its leg if it is consistent with that leg (see [`Leg::insert`]
    /// for `skew`). Origins of events held before whose legs now count are pushed to
    /// `resolved`.
    pub(super) fn insert(
        &mut self,
        new: CallEvent,
        origin: u64,
        limits: CallLimits,
        resolved: &mut Vec<u64>,
    ) -> Result<Inserted, RejectReason> {
        let CallLimits { max_events, skew } = limits;
        // Past the limit a call still takes the steps that end its wait or its handling (each
        // at most once per leg, so the overrun is bounded): a ringall queue's burst of rings
        // may fill a call, and losing its answer or abandon would leave it waiting for ever.
        let count = self.event_count();
        if count >= max_events + ENDING_ROOM || count >= max_events && !ends_something(new.step) {
            return Err(RejectReason::CallEventLimit);
        }
        let live = self.live_count();
        let mut skewed = 0;
        let route = self.route(&new, live)?;
        // A leg that expired (or ended at its ACD's restart) is over from then on: a step
        // after that has no offer in effect to belong to (an answer applied there would count
        // a wait of the whole outage, or of years).
        if let Ok(i) = route {
            if self.legs[i].expired_at.is_some_and(|at| new.ts >= at) {
                return Err(RejectReason::NoOffer);
            }
        }
        let index = match route {
            // An offer that the events held without one are timed too far before (beyond the
            // skew): the offer is right, they are not; it starts its own leg, and they are
            // rejected when the watermark passes them.
            Ok(i) if new.step == Step::Offered => match self.legs[i].insert(new, skew) {
                Ok(moved) => {
                    skewed = moved;
                    i
                }
                Err(RejectReason::NegativeDuration) => {
                    self.add_leg(i, Leg::starting(new));
                    i
                }
                Err(reason) => return Err(reason),
            },
            Ok(i) => {
                skewed = self.legs[i].insert(new, skew)?;
                i
            }
            Err(i) => {
                self.add_leg(i, Leg::starting(new));
                i
            }
        };
        self.live = self.count_live();
        let now_live = self.live_count();
        for leg in &mut self.legs[live..now_live] {
            resolved.append(&mut leg.held);
        }
        // (A moved step is only ever a transfer moved up to its own leg's offer, never past
        // the next leg's, so no leg stops counting.)
        debug_assert!(now_live >= live, "a leg that counted stopped counting");
        let counts = index < now_live;
        if !counts {
            self.legs[index].held.push(origin);
        }
        Ok(Inserted { counts, skewed })
    }

    fn add_leg(&mut self, at: usize, leg: Leg) {
        // Most calls have one leg: without this the first push reserves room for four.
        self.legs.reserve_exact(1);
        self.legs.insert(at, leg);
    }

    /// The offer of the leg still waiting for an answer, if one is.
    pub(super) fn waiting_since(&self) -> Option<Millis> {
        self.live()
            .iter()
            .find(|l| l.is_waiting())
            .and_then(Leg::offered_at)
    }

    /// The leg still waiting for an answer, if one is.
    pub(super) fn waiting_leg(&mut self) -> Option<&mut Leg> {
        let live = self.live_count();
        self.legs[..live].iter_mut().find(|l| l.is_waiting())
    }

    /// What a sweep waits for to act on the call. While it holds events nothing else is due:
    /// a held leg may still count, and the call is neither over nor expired before it does
    /// or is rejected.
    pub(super) fn due(&self) -> Due {
        if self.legs.iter().any(|l| !l.held.is_empty()) {
            let began = self.legs[self.live_count()..]
                .iter()
                .filter_map(|l| l.events.first())
                .map(|e| e.ts)
                .min();
            return began.map_or(Due::Nothing, Due::Held);
        }
        let (mut end, mut oldest_open, mut unoffered) = (None, None, false);
        for leg in &self.legs {
            match (leg.terminal_at(), leg.offered_at()) {
                (Some(t), _) => end = end.max(Some(t.max(leg.last_ts()))),
                (None, Some(o)) => oldest_open = Some(oldest_open.map_or(o, |m: Millis| m.min(o))),
                (None, None) => unoffered = true,
            }
        }
        match (oldest_open, end) {
            (Some(offered), _) => Due::Open(offered),
            // A leg with neither offer nor end that holds nothing never ends; none is made.
            (None, Some(end)) if !unoffered => Due::Ended(end),
            _ => Due::Nothing,
        }
    }

    /// Records where the queue's due sets have the call now: `Some((before, now))` when that
    /// changed, for the queue to move it.
    pub(super) fn reschedule(&mut self) -> Option<(Due, Due)> {
        let due = self.due();
        (due != self.scheduled).then(|| (std::mem::replace(&mut self.scheduled, due), due))
    }

    /// Where the queue's due sets have the call.
    pub(super) fn scheduled(&self) -> Due {
        self.scheduled
    }

    /// Legs that do not count and began before `watermark` can no longer start to: they are
    /// removed, and their held origins pushed to `rejected` with the reason they are rejected
    /// for. Legs that count once those are gone push their held origins to `resolved`.
    pub(super) fn drop_held_before(
        &mut self,
        watermark: Millis,
        rejected: &mut Vec<(u64, RejectReason)>,
        resolved: &mut Vec<u64>,
    ) {
        let live = self.live_count();
        let mut i = live;
        while i < self.legs.len() {
            if self.legs[i].began_before(watermark) {
                let leg = self.legs.remove(i);
                // Held events timed before the offer of the leg they were left behind by
                // were too early for it, not without an offer.
                let before_offer = i.checked_sub(1).and_then(|p| self.legs[p].offered_at());
                let first = leg.events.first().map_or(Millis::MIN, |e| e.ts);
                let reason = if leg.offered_at().is_some() {
                    RejectReason::OutOfSequence
                } else if before_offer.is_some_and(|o| o > first) {
                    RejectReason::NegativeDuration
                } else {
                    RejectReason::NoOffer
                };
                rejected.extend(leg.held.into_iter().map(|o| (o, reason)));
                // Legs held only behind the one removed (a transfer or flow-out whose offer
                // never came, a second offer of one visit) may count now: they are visits of
                // the call after all, not ones to remove.
                i = i.max(self.count_live() as usize);
            } else {
                i += 1;
            }
        }
        self.live = self.count_live();
        let now_live = self.live_count();
        for leg in &mut self.legs[live..now_live] {
            resolved.append(&mut leg.held);
        }
    }

    /// Whether a leg that counts has not ended and was offered at least `max_age` before
    /// `max_ts`.
    /// Expires the legs that have not ended and were offered at least `max_age` before
    /// `max_ts`, at offered + `max_age` but not before `floor`.
    pub(super) fn expire(&mut self, max_age: Millis, max_ts: Millis, floor: Millis) {
        let live = self.live_count();
        for leg in &mut self.legs[..live] {
            if leg.expiry_due(max_age, max_ts) {
                let offered = leg.offered_at().unwrap_or(max_ts);
                leg.expired_at = Some((offered + max_age).max(floor));
            }
        }
    }

    /// A leg that counts was offered by `at` and has not ended (by then or since).
    pub(super) fn open_at(&self, at: Millis) -> bool {
        self.live()
            .iter()
            .any(|l| l.terminal_at().is_none() && l.offered_at().is_some_and(|o| o <= at))
    }

    /// Ends at `at` the legs that count, were offered by then and have not ended: the ACD
    /// restarted, so they cannot end any more (their agents are freed there).
    pub(super) fn end_open_legs(&mut self, at: Millis) {
        let live = self.live_count();
        for leg in &mut self.legs[..live] {
            if leg.terminal_at().is_none() && leg.offered_at().is_some_and(|o| o <= at) {
                leg.expired_at = Some(at);
            }
        }
    }

    /// Everything the call adds to the windows, given how far the clock has gone.
    pub(super) fn deltas(&self, q: &QueueKpiSettings, out: &mut Vec<Delta>) {
        for leg in self.live() {
            leg.deltas(q, out);
        }
    }

    /// The wait samples of the legs whose wait is over (see [`Leg::wait_sample`]).
    pub(super) fn wait_samples(&self, q: &QueueKpiSettings, out: &mut Vec<(Millis, Millis)>) {
        out.extend(self.live().iter().filter_map(|l| l.wait_sample(q)));
    }

    /// How each agent's phase for this call changes over time.
    pub(super) fn agent_phases(&self, out: &mut Vec<PhaseChange>) {
        let start = out.len();
        for leg in self.live() {
            leg.agent_phases(out);
        }
        // Several changes for one agent at one instant: only the last one matters.
        let mine = &mut out[start..];
        mine.sort_by_key(|c| (c.agent, c.ts));
        // Compacted in place (what is kept moves only towards the front, past what was read).
        let mut kept = 0;
        for i in 0..mine.len() {
            let c = mine[i];
            let superseded = mine
                .get(i + 1)
                .is_some_and(|n| n.agent == c.agent && n.ts == c.ts);
            if !superseded {
                mine[kept] = c;
                kept += 1;
            }
        }
        out.truncate(start + kept);
    }

    #[cfg(test)]
    pub(super) fn legs(&self) -> &[Leg] {
        &self.legs
    }
}

/// Room for a leg's events from its first. Most answered calls' legs have five (offer, ring,
/// answer, end, wrap-up), some seven (a hold and its end): growing from one to four to eight
/// took two of the engine's allocations per call. Six holds the five at once for 32 B more
/// per call in flight than four would; eight would also hold the seven, for 64 B more
/// (`cargo bench --bench memory`: allocations per event, heap per in-flight call).
const LEG_EVENTS: usize = 6;

impl Leg {
    /// A leg of `first` alone.
    fn starting(first: CallEvent) -> Leg {
        let mut events = Vec::with_capacity(LEG_EVENTS);
        events.push(first);
        Leg {
            events,
            ..Leg::default()
        }
    }

    #[cfg(test)]
    pub(super) fn events(&self) -> &[CallEvent] {
        &self.events
    }

    fn find(&self, step: Step) -> Option<&CallEvent> {
        self.events.iter().find(|e| e.step == step)
    }

    pub(super) fn offered_at(&self) -> Option<Millis> {
        self.find(Step::Offered).map(|e| e.ts)
    }

    fn answered_by(&self) -> Option<AgentKey> {
        self.find(Step::Answered).map(CallEvent::agent)
    }

    /// When the call left this leg for another: its transfer or its flow-out.
    fn left_at(&self) -> Option<Millis> {
        self.events.iter().find(|e| leaves(e.step)).map(|e| e.ts)
    }

    /// When the caller stopped waiting in this leg: answer, abandon, transfer or flow-out.
    pub(super) fn wait_end(&self) -> Option<&CallEvent> {
        self.events.iter().find(|e| {
            matches!(
                e.step,
                Step::Answered | Step::Abandoned | Step::Transferred | Step::FlowedOut
            )
        })
    }

    /// When an agent was with the caller although the answer never arrived (lost, or rejected):
    /// the first hold, unhold, wrap or wrap_end of a leg without a wait end. The wait was over
    /// by then, so the leg stops waiting there.
    pub(super) fn connected_at(&self) -> Option<Millis> {
        if self.wait_end().is_some() {
            return None;
        }
        self.events
            .iter()
            .find(|e| {
                matches!(
                    e.step,
                    Step::Hold | Step::Unhold | Step::Wrap | Step::WrapEnd
                )
            })
            .map(|e| e.ts)
    }

    /// Offered and still waiting for an answer in this leg: no wait end, no sign that an agent
    /// took it (see [`Leg::connected_at`]), not expired. A leg that ended is never waiting.
    pub(super) fn is_waiting(&self) -> bool {
        self.offered_at().is_some()
            && self.wait_end().is_none()
            && self.connected_at().is_none()
            && self.expired_at.is_none()
    }

    /// The event after which nothing more can happen in this leg: the end of after-call work,
    /// an abandon, a flow-out, or a transfer without a wrap (a blind transfer releases its
    /// agent).
    pub(super) fn terminal_at(&self) -> Option<Millis> {
        let (mut transferred, mut wrapped) = (None, false);
        for e in &self.events {
            match e.step {
                Step::WrapEnd | Step::Abandoned | Step::FlowedOut => return Some(e.ts),
                Step::Transferred => transferred = Some(e.ts),
                Step::Wrap => wrapped = true,
                _ => {}
            }
        }
        match transferred {
            Some(t) if !wrapped => Some(t),
            _ => self.expired_at,
        }
    }

    fn expiry_due(&self, max_age: Millis, max_ts: Millis) -> bool {
        self.terminal_at().is_none() && self.offered_at().is_some_and(|o| o + max_age <= max_ts)
    }

    /// When the leg starts: its offer, or its first event while it has none.
    fn start(&self) -> Millis {
        self.offered_at()
            .or_else(|| self.events.first().map(|e| e.ts))
            .unwrap_or(Millis::MIN)
    }

    /// The latest event time.
    pub(super) fn last_ts(&self) -> Millis {
        self.events.last().map_or(Millis::MIN, |e| e.ts)
    }

    /// Its first event is before `watermark`: if it does not count by then, it never will.
    fn began_before(&self, watermark: Millis) -> bool {
        self.events.first().is_some_and(|e| e.ts < watermark)
    }

    /// Inserts an event if it is consistent with the leg so far. A step timed before a step
    /// it must follow by at most `skew` (clocks of two servers) is moved to that step's time:
    /// returns how many events were moved.
    fn insert(&mut self, new: CallEvent, skew: Millis) -> Result<u32, RejectReason> {
        match self.check(&new) {
            Ok(()) => {
                let at = self.events.partition_point(|e| e < &new);
                self.events.insert(at, new);
                Ok(0)
            }
            Err(RejectReason::NegativeDuration) if skew > 0 => self.insert_skewed(new, skew),
            Err(reason) => Err(reason),
        }
    }

    /// The rare path of [`Leg::insert`]: works on a copy, so that a rejection leaves the leg
    /// as it was. Moving a step only ever makes it later, so the result is the same whichever
    /// order the events arrived in.
    fn insert_skewed(&mut self, new: CallEvent, skew: Millis) -> Result<u32, RejectReason> {
        let mut events = self.events.clone();
        events.push(new);
        let mut moved = 0;
        // Each pass moves steps forward to the step they must follow; a chain (answer before
        // the offer, a hold before the answer) settles in at most one pass per event. An
        // event is counted the first time it moves, so the count does not depend on the
        // order the events arrived in either.
        for _ in 0..events.len() {
            let mut changed = false;
            for &(before, after, reason) in RULES {
                if reason != RejectReason::NegativeDuration {
                    continue;
                }
                let Some(at) = events.iter().find(|e| e.step == before).map(|e| e.ts) else {
                    continue;
                };
                for e in events.iter_mut().filter(|e| e.step == after && e.ts < at) {
                    if at - e.ts > skew {
                        return Err(RejectReason::NegativeDuration);
                    }
                    e.ts = at;
                    moved += u32::from(!e.skewed);
                    e.skewed = true;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        // The moved events must still make a consistent leg under every other rule.
        events.sort_unstable();
        let mut leg = Leg {
            events: Vec::with_capacity(events.len()),
            ..Leg::default()
        };
        for e in events {
            leg.check(&e)?;
            leg.events.push(e);
        }
        self.events = leg.events;
        Ok(moved)
    }

    fn check(&self, new: &CallEvent) -> Result<(), RejectReason> {
        use RejectReason::OutOfSequence;
        use Step::*;
        let singleton = matches!(
            new.step,
            Offered | Answered | Wrap | WrapEnd | Abandoned | Transferred | FlowedOut
        );
        if singleton && self.find(new.step).is_some() {
            return Err(OutOfSequence);
        }
        // `a` must not come after `b` (in time, ties broken by life order).
        let ordered = |a: &CallEvent, b: &CallEvent| (a.ts, a.step) <= (b.ts, b.step);
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
        // A leg that ended unanswered (abandoned, or flowed out) was never answered, held or
        // wrapped, and did not also leave another way.
        let unanswered_end = |s: Step| matches!(s, Abandoned | FlowedOut);
        let excluded = |s: Step| {
            matches!(
                s,
                Answered | Hold | Unhold | Wrap | WrapEnd | Transferred | Abandoned | FlowedOut
            )
        };
        if unanswered_end(new.step) && self.events.iter().any(|e| excluded(e.step)) {
            return Err(OutOfSequence);
        }
        if excluded(new.step) && self.events.iter().any(|e| unanswered_end(e.step)) {
            return Err(OutOfSequence);
        }
        Ok(())
    }

    /// Everything the leg adds to the windows, given how far the clock has gone.
    pub(super) fn deltas(&self, q: &QueueKpiSettings, out: &mut Vec<Delta>) {
        let Some(offered) = self.offered_at() else {
            return;
        };
        let t = q.sl_threshold_ms;
        out.push(Delta::count(offered, Count::Offered, 1));

        let mut first_ring: Option<Millis> = None;
        let mut open = OpenRings::new();
        let no_answer = |at| Delta::count(at, Count::RingNoAnswer, 1);
        for e in &self.events {
            match e.step {
                Step::Ringing => {
                    out.push(Delta::count(e.ts, Count::RingAttempts, 1));
                    if !open.ring(e.ts, e.agent(), |at, _| out.push(no_answer(at))) {
                        out.push(no_answer(e.ts));
                    }
                    first_ring.get_or_insert(e.ts);
                }
                Step::NoAnswer => {
                    if let Some(at) = open.end(e.agent()) {
                        out.push(no_answer(at));
                    }
                }
                Step::Unavailable => out.push(Delta::count(e.ts, Count::MemberUnavailable, 1)),
                // The caller hung up while it rang: not the agent's no-answer.
                Step::Abandoned => {
                    open.take(|at, _| out.push(Delta::count(at, Count::RingAbandoned, 1)));
                }
                Step::Answered | Step::Transferred | Step::FlowedOut => open.take(|_, _| {}),
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
            // Taken by an agent whose answer never arrived: like a flow-out, missed if that
            // happened after T, no SL event before it (whatever the arrival order).
            None => {
                reached = match self.connected_at() {
                    Some(ts) => ts - offered > t,
                    None => self.reached_threshold,
                }
            }
        }
        if reached {
            out.push(Delta::count(offered + t, Count::ReachedT, 1));
        }
        if let Some(x) = self.find(Step::Transferred) {
            // Transferred after an agent answered it here, or flowed out unanswered.
            let what = match self.find(Step::Answered) {
                Some(_) => Count::TransferredOut,
                None => Count::FlowedOut,
            };
            out.push(Delta::count(x.ts, what, 1));
        }
        if let Some(x) = self.find(Step::FlowedOut) {
            out.push(Delta::count(x.ts, Count::FlowedOut, 1));
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

    /// The wait sample this leg contributes to the wait percentiles, if its wait is over:
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

    /// How each agent's phase for this leg changes over time (several changes of one agent at
    /// one instant are left for [`Call::agent_phases`] to reduce).
    fn agent_phases(&self, out: &mut Vec<PhaseChange>) {
        if self.offered_at().is_none() {
            return;
        }
        let mut ringing = OpenRings::new();
        let mut talking: Option<AgentKey> = None;
        let set = |out: &mut Vec<PhaseChange>, ts, agent, phase| {
            out.push(PhaseChange { ts, agent, phase });
        };
        let wraps = self.find(Step::Wrap).is_some();
        for e in &self.events {
            match e.step {
                Step::Ringing => {
                    // Rings of an earlier instant end here: those agents are free again (the
                    // agent rung now, if one of them, is busy again at once).
                    let open = ringing.ring(e.ts, e.agent(), |_, agent| {
                        if agent != e.agent() {
                            set(out, e.ts, agent, Phase::Free);
                        }
                    });
                    // A ring beyond the open rings' room is over as it starts (see
                    // `MAX_OPEN_RINGS`): nothing would free its agent.
                    if open {
                        set(out, e.ts, e.agent(), Phase::Busy);
                    }
                }
                Step::NoAnswer => {
                    if ringing.end(e.agent()).is_some() {
                        set(out, e.ts, e.agent(), Phase::Free);
                    }
                }
                Step::Answered => {
                    ringing.take(|_, agent| {
                        if agent != e.agent() {
                            set(out, e.ts, agent, Phase::Free);
                        }
                    });
                    set(out, e.ts, e.agent(), Phase::Busy);
                    talking = Some(e.agent());
                }
                Step::Abandoned | Step::FlowedOut => {
                    ringing.take(|_, agent| set(out, e.ts, agent, Phase::Free));
                }
                Step::Transferred => {
                    ringing.take(|_, agent| set(out, e.ts, agent, Phase::Free));
                    // A transfer with no wrap after it releases the transferring agent (the
                    // one who answered, unless the event names another) when it happens;
                    // with a wrap, the agent goes on into after-call work as usual.
                    if !wraps {
                        let agent = Some(e.agent()).filter(|&a| a != 0).or(talking);
                        if let Some(agent) = agent {
                            set(out, e.ts, agent, Phase::Free);
                            if talking == Some(agent) {
                                talking = None;
                            }
                        }
                    }
                }
                Step::Wrap => {
                    // Rings still open at a wrap (its answer never arrived) are over: someone
                    // took the call.
                    ringing.take(|_, agent| {
                        if agent != e.agent() {
                            set(out, e.ts, agent, Phase::Free);
                        }
                    });
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
                Step::Offered | Step::Hold | Step::Unhold | Step::Unavailable => {}
            }
        }
        // Once the leg has ended (or expired) nobody is engaged in it any more, whatever
        // was lost on the way (a wrap_end whose answer and wrap never came leaves a ring
        // open): a call that is over must not keep an agent busy after it is forgotten.
        if let Some(end) = self.terminal_at() {
            let at = end.max(self.last_ts());
            for &agent in ringing.agents().iter().chain(&talking) {
                set(out, at, agent, Phase::Free);
            }
        }
    }
}

#[cfg(test)]
mod tests;
