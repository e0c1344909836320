//! One queue's state: its calls, agents, remembered event ids and window accumulators.
//!
//! Time is always a parameter. `clock` is the queue's notion of now: the wall clock in live
//! mode, the newest event time in replay, never behind the newest event the queue has applied.
//! The *watermark* is the queue's newest event time minus the allowed lateness: events older
//! than it are late, and state older than it is settled (can no longer change).

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Arc;

use hdrhistogram::Histogram;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::event::{CallStep, Millis};
use crate::kpi::math::{service_level, window_kpis, Count, WaitQuantiles, WindowSums, N_COUNTS};
use crate::kpi::surge::{Episode, EpisodeOutcome, SurgeDetector, SurgeInputs};
use crate::kpi::{
    erlang, IntervalKpis, KpiSnapshot, NowKpis, QueueTotals, Staffing, SurgeSnapshot, WindowKpis,
    Windows,
};
use crate::ledger::{Outcome, RejectReason};

use super::agent::{
    queue_tag, Agent, Effective, Input, InputKind, QueueTag, Scratch as AgentScratch,
};
use super::call::{
    agent_key, AgentKey, Call, CallEvent, CallKey, CallLimits, Due, Phase, PhaseChange, Step,
};
use super::dedup::{id_hash, BuildIdentity, Dedup};
use super::due::DueCalls;
use super::forms::{ascending_set, sorted_map};
use super::settings::{EngineSettings, BUCKET_MS};
use super::window::{BucketRing, Delta, Period, RingSpan};
use crate::kpi::QueueKpiSettings;

/// Waits above this are recorded as this (4 h, the default call expiry).
const MAX_RECORDED_WAIT_MS: u64 = 4 * 3_600_000;
/// Wait samples store their time as seconds since 2000-01-01 to fit in 32 bits.
const SAMPLE_EPOCH_MS: Millis = 946_684_800_000;

pub(super) fn wait_histogram() -> Histogram<u32> {
    // 2 significant digits (±1 %) from 10 ms: about 7.5 KiB.
    Histogram::new_with_bounds(10, MAX_RECORDED_WAIT_MS, 2)
        .expect("static histogram bounds are valid")
}

/// An event already checked by the engine, reduced to what the queue needs.
pub struct QueueEvent<'a> {
    pub event_id: &'a str,
    pub ts: Millis,
    pub body: &'a crate::event::EventBody,
}

/// What a queue did that its agents' other queues must hear of; the engine takes it after each
/// operation on the queue (see [`crate::state::engine`]).
#[derive(Debug, Default)]
pub(super) struct Outbox {
    /// Agents whose entry the queue created (true) or dropped (false), in that order.
    pub members: Vec<(AgentKey, bool)>,
    /// The agents' phases on this queue's calls added (true) or removed (false).
    pub phases: Vec<PhaseOp>,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct PhaseOp {
    pub agent: AgentKey,
    pub add: bool,
    pub ts: Millis,
    pub call: CallKey,
    pub phase: Phase,
}

impl Outbox {
    pub(super) fn is_empty(&self) -> bool {
        self.members.is_empty() && self.phases.is_empty()
    }

    pub(super) fn clear(&mut self) {
        self.members.clear();
        self.phases.clear();
    }
}

/// A pending event resolved later, identified by the origin given when it arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolution {
    pub origin: u64,
    pub outcome: Outcome,
}

/// A queue's state is also its checkpoint (see [`checkpoint`](super::checkpoint)): everything
/// it accumulates is serialised, with maps written sorted by key so that equal states give
/// equal bytes. Not written: the id (the checkpoint's header holds it), what the settings
/// define and scratch space. A deserialised queue is completed by [`QueueState::restored`].
#[derive(Serialize, Deserialize)]
pub struct QueueState {
    #[serde(skip)]
    pub id: Arc<str>,
    /// The id's tag in the agents of other queues (see [`queue_tag`]).
    #[serde(skip)]
    tag: QueueTag,
    /// From the settings.
    #[serde(skip)]
    kpi: QueueKpiSettings,
    #[serde(with = "sorted_map")]
    calls: HashMap<CallKey, Call, BuildIdentity>,
    /// The calls by when a sweep must act on them, kept by [`QueueState::change_call`] and
    /// [`QueueState::remove_call`]; rebuilt, not written.
    #[serde(skip)]
    due: DueCalls,
    #[serde(with = "sorted_map")]
    agents: HashMap<AgentKey, Agent, BuildIdentity>,
    dedup: Dedup,
    ring: BucketRing,
    interval: Period,
    today: Period,
    /// Written as its non-empty (value, count) pairs.
    #[serde(
        serialize_with = "recorded_pairs",
        deserialize_with = "wait_histogram_of_pairs"
    )]
    today_waits: Histogram<u32>,
    /// (seconds since SAMPLE_EPOCH, wait ms) of waits that ended within the sample horizon,
    /// sorted by time: the sliding windows' and the interval's wait percentiles.
    samples: VecDeque<(u32, u32)>,
    /// (offer, call) of the legs waiting for an answer.
    #[serde(with = "ascending_set")]
    waiting: BTreeSet<(Millis, CallKey)>,
    /// Waiting calls offered before this have been checked against the SL threshold; calls
    /// joining `waiting` later are checked when they join.
    threshold_cursor: Millis,
    /// No call in `waiting` offered at or after the cursor was offered before this (it may
    /// be lower than the first such offer, never higher): while the cursor stays below it,
    /// moving the cursor needs no look into `waiting`, which most events would otherwise do.
    /// Not written: a restored queue starts at the lowest value, which looks the first time.
    #[serde(skip, default = "lowest")]
    unreached_from: Millis,
    max_ts: Millis,
    clock: Millis,
    last_sweep: Millis,
    /// When a live queue last looked for calls to expire by the clock (not written: after a
    /// restore the first advance looks).
    #[serde(skip)]
    last_clock_expiry: Millis,
    /// A live queue's clock at its last admitted event, from which it is quiet: once quiet
    /// for the lateness, its held events resolve by the clock (see
    /// [`QueueState::resolve_held_when_quiet`]). Rebuilt, not written: after a restore the
    /// first advance starts the quiet time afresh, which can only put such a resolution off
    /// (by the quiet time before it), never bring one forward: the checkpoint's shape and
    /// replay's results stay as they were.
    #[serde(skip)]
    last_event_clock: Option<Millis>,
    totals: [i64; N_COUNTS],
    expired_calls: u64,
    /// Calls ended by their ACD's restart (see [`QueueState::end_calls_at_restart`]).
    ended_by_restart: u64,
    /// Events moved to the time of the step they must follow (`max_clock_skew`).
    skewed_events: u64,
    /// Events the calls hold for their offer (the sum of [`Call::held`]), kept up to date by
    /// [`QueueState::change_call`], through which every change of a call goes, for the
    /// `max_pending_per_queue` cap; recounted when a checkpoint is restored.
    #[serde(skip)]
    held: usize,
    #[serde(skip)]
    deltas: Vec<Delta>,
    #[serde(skip)]
    old_deltas: Vec<Delta>,
    #[serde(skip)]
    phases: Vec<PhaseChange>,
    #[serde(skip)]
    old_phases: Vec<PhaseChange>,
    #[serde(skip)]
    samples_scratch: Vec<(Millis, Millis)>,
    #[serde(skip)]
    old_samples: Vec<(Millis, Millis)>,
    /// Scratch of [`QueueState::apply_delta_diff`] and [`QueueState::apply_phase_diff`], kept
    /// for their allocations: an event's work allocates nothing in the steady state.
    #[serde(skip)]
    diff: Vec<Delta>,
    #[serde(skip)]
    touched: Vec<AgentKey>,
    /// The calls a sweep acts on ([`DueCalls`]), kept for its allocation: almost every sweep
    /// has calls that ended to forget.
    #[serde(skip)]
    due_keys: Vec<CallKey>,
    /// The origins of held events an event lets count ([`Call::insert`]), kept for its
    /// allocation.
    #[serde(skip)]
    resolved: Vec<u64>,
    #[serde(skip)]
    agent_scratch: AgentScratch,
    surge: SurgeDetector,
    /// The last bucket edge the surge rule was evaluated at.
    surge_evaluated: Millis,
    /// When the queue's state began: a trailing baseline needs this far back to be known.
    watched_since: Millis,
    /// Episodes that ended, until the engine takes them.
    finished_episodes: Vec<Episode>,
    /// The next interval to report, `[start, end)` ([`QueueState::report_intervals`]): kept,
    /// not computed per event, as its bounds take a time-zone lookup. Not written: a restored
    /// queue reports from the interval its watermark is in.
    #[serde(skip)]
    to_report: (Millis, Millis),
    /// An interval has been reported: where reporting starts is settled.
    #[serde(skip)]
    reported_any: bool,
    /// The engine wants closed intervals; set by it.
    #[serde(skip)]
    reports_intervals: bool,
    /// Intervals reported, until the engine takes them.
    #[serde(skip)]
    finished_intervals: Vec<IntervalKpis>,
    /// Finished episodes by outcome: responded, subsided.
    surge_outcomes: [u64; 2],
    /// Surge edges follow the queue's own events (event-time engines) rather than the clock;
    /// the engine sets it.
    #[serde(skip)]
    surge_follows_events: bool,
    /// The engine's scope of the queue: the input partition its events come from.
    #[serde(skip)]
    scope: u32,
    /// For the engine, which empties it after every operation.
    #[serde(skip)]
    outbox: Outbox,
}

/// How far back in settled time missed bucket edges are still evaluated after the clock jumped
/// (a sparse queue in replay); the ring keeps this much extra history for it.
const SURGE_CATCH_UP_MS: Millis = 2 * 60_000;

impl QueueState {
    pub fn new(id: Arc<str>, settings: &EngineSettings, clock: Millis) -> QueueState {
        let span = ring_span(settings);
        let (i_start, i_end) = interval_bounds(clock, settings);
        let (d_start, d_end) = day_bounds(clock, settings);
        QueueState {
            kpi: settings.queue(&id).clone(),
            tag: queue_tag(&id),
            id,
            calls: HashMap::default(),
            due: DueCalls::default(),
            agents: HashMap::default(),
            dedup: Dedup::default(),
            ring: BucketRing::new(span, clock),
            interval: Period::new(i_start, i_end),
            today: Period::new(d_start, d_end),
            today_waits: wait_histogram(),
            samples: VecDeque::new(),
            waiting: BTreeSet::new(),
            threshold_cursor: Millis::MIN,
            unreached_from: Millis::MIN,
            max_ts: Millis::MIN,
            clock,
            last_sweep: Millis::MIN,
            last_clock_expiry: Millis::MIN,
            last_event_clock: None,
            totals: [0; N_COUNTS],
            expired_calls: 0,
            ended_by_restart: 0,
            skewed_events: 0,
            held: 0,
            deltas: Vec::new(),
            old_deltas: Vec::new(),
            phases: Vec::new(),
            old_phases: Vec::new(),
            samples_scratch: Vec::new(),
            old_samples: Vec::new(),
            diff: Vec::new(),
            due_keys: Vec::new(),
            resolved: Vec::new(),
            touched: Vec::new(),
            agent_scratch: AgentScratch::default(),
            surge: SurgeDetector::default(),
            surge_evaluated: settled_edge(clock, settings),
            watched_since: clock,
            finished_episodes: Vec::new(),
            // An event up to the lateness before the first may still come.
            to_report: interval_bounds(
                clock.saturating_sub(settings.allowed_lateness_ms),
                settings,
            ),
            finished_intervals: Vec::new(),
            reported_any: false,
            reports_intervals: false,
            surge_outcomes: [0; 2],
            surge_follows_events: false,
            scope: 0,
            outbox: Outbox::default(),
        }
    }

    /// Completes a deserialised queue: its id, and what the settings define (the KPI settings,
    /// the ring's length) from `s`, which the checkpoint's settings fingerprint has already
    /// been matched against; the remembered ids' lookup set is rebuilt. Refuses a state that
    /// breaks an invariant the queue relies on, so that damage that got past the checksum is
    /// an error here rather than a panic or a wrong KPI later. (What each part can check on
    /// its own, such as keys listed twice, it refuses while being read.)
    pub(super) fn restored(
        mut self,
        id: Arc<str>,
        s: &EngineSettings,
    ) -> Result<QueueState, &'static str> {
        if !self.samples.iter().is_sorted_by_key(|&(t, _)| t) {
            return Err("wait samples out of time order");
        }
        if !self.dedup.reindex() {
            return Err("an event id remembered twice");
        }
        self.ring = self
            .ring
            .fit(ring_span(s))
            .ok_or("bucket ring does not fit the windows")?;
        self.kpi = s.queue(&id).clone();
        self.tag = queue_tag(&id);
        self.id = id;
        self.held = self.calls.values().map(Call::held).sum();
        self.to_report = interval_bounds(self.watermark(s), s);
        for (&key, call) in &mut self.calls {
            if let Some((from, to)) = call.reschedule() {
                self.due.moved(key, from, to);
            }
        }
        Ok(self)
    }

    /// Origins of events held for their call's offer.
    pub(super) fn pending_events(&self) -> u64 {
        self.held as u64
    }

    pub(super) fn clock(&self) -> Millis {
        self.clock
    }

    fn watermark(&self, s: &EngineSettings) -> Millis {
        self.max_ts.saturating_sub(s.allowed_lateness_ms)
    }

    /// Applies one event. `clock` is the caller's now (already ≥ nothing in particular; the
    /// queue never lets its own clock go backwards).
    pub fn apply(
        &mut self,
        ev: QueueEvent<'_>,
        origin: u64,
        clock: Millis,
        s: &EngineSettings,
        resolutions: &mut Vec<Resolution>,
    ) -> Outcome {
        if let Some(outcome) = self.admit(&ev, clock, s, resolutions) {
            return outcome;
        }
        match ev.body {
            crate::event::EventBody::AgentState {
                agent_id, state, ..
            } => {
                match self.agent_input(
                    agent_key(agent_id),
                    Input {
                        ts: ev.ts,
                        kind: InputKind::State(*state),
                    },
                    s,
                ) {
                    Ok(()) => Outcome::Applied,
                    Err(reason) => Outcome::Rejected(reason),
                }
            }
            crate::event::EventBody::Call { call_id, step } => {
                let agent = step.agent_id().map_or(0, agent_key);
                if agent != 0 && !self.agents.contains_key(&agent) {
                    if self.agents.len() >= s.max_agents_per_queue {
                        return Outcome::Rejected(RejectReason::AgentLimit);
                    }
                    self.agents.insert(agent, Agent::default());
                    self.outbox.members.push((agent, true));
                }
                let event = CallEvent::new(ev.ts, step_of(step), agent);
                self.apply_call(id_hash(call_id), event, origin, s, resolutions)
            }
        }
    }

    /// What every event goes through first: a redelivery is a duplicate, an event behind the
    /// watermark late; otherwise the queue's event time and clock move on to it. `None` when
    /// the event is to be applied.
    fn admit(
        &mut self,
        ev: &QueueEvent<'_>,
        clock: Millis,
        s: &EngineSettings,
        resolutions: &mut Vec<Resolution>,
    ) -> Option<Outcome> {
        let id = id_hash(ev.event_id);
        if self
            .dedup
            .check_and_insert(id, ev.ts, s.dedup_max_ids_per_queue)
        {
            return Some(Outcome::Duplicate);
        }
        // Only the queue's own event time decides lateness: when partitions or a backlog are
        // consumed unevenly, "now" can run far ahead of a queue's events, and those events must
        // still reach its calls, agents and `today`; what is older than the sliding windows'
        // ring simply falls outside them.
        if ev.ts < self.watermark(s) {
            return Some(Outcome::Late);
        }
        self.max_ts = self.max_ts.max(ev.ts);
        // Before the advance, which would otherwise judge the queue quiet against its new
        // watermark. (The clock the advance moves to: never behind the event or the queue.)
        self.last_event_clock = Some(clock.max(ev.ts).max(self.clock));
        // History reaches back to the oldest event, not to when the queue was created (a
        // replayed backlog or the demo's warm-up is older than the clock).
        self.watched_since = self.watched_since.min(ev.ts);
        if ev.ts < self.to_report.0 && !self.reported_any {
            self.report_from(ev.ts, s);
        }
        self.advance(clock.max(ev.ts), s, resolutions);
        None
    }

    /// Applies an `agent_state` without a queue (`ev.body`'s state) to this one of the queues
    /// the agent has an entry in: it sets the agent's state here if the agent is logged in here
    /// at that time. Rejected as `unknown_agent` if the entry is gone (dropped by this very
    /// event's sweep: logged out here for longer than the lateness).
    pub(super) fn apply_to_member(
        &mut self,
        ev: QueueEvent<'_>,
        clock: Millis,
        s: &EngineSettings,
        resolutions: &mut Vec<Resolution>,
    ) -> Outcome {
        let crate::event::EventBody::AgentState {
            agent_id, state, ..
        } = ev.body
        else {
            return Outcome::Rejected(RejectReason::MissingQueueId);
        };
        if let Some(outcome) = self.admit(&ev, clock, s, resolutions) {
            return outcome;
        }
        let Some(a) = self.agents.get_mut(&agent_key(agent_id)) else {
            return Outcome::Rejected(RejectReason::UnknownAgent);
        };
        let input = Input {
            ts: ev.ts,
            kind: InputKind::All(*state),
        };
        // Given to the entry already when it was created (see `add_all_states`).
        if a.holds(&input) {
            return Outcome::Duplicate;
        }
        a.add(input);
        self.deltas.clear();
        a.refresh(&mut self.deltas, &mut self.agent_scratch);
        self.flush_deltas();
        Outcome::Applied
    }

    fn agent_input(
        &mut self,
        agent: AgentKey,
        input: Input,
        s: &EngineSettings,
    ) -> Result<(), RejectReason> {
        if !self.agents.contains_key(&agent) {
            if self.agents.len() >= s.max_agents_per_queue {
                return Err(RejectReason::AgentLimit);
            }
            self.outbox.members.push((agent, true));
        }
        let a = self.agents.entry(agent).or_default();
        a.add(input);
        self.deltas.clear();
        a.refresh(&mut self.deltas, &mut self.agent_scratch);
        self.flush_deltas();
        Ok(())
    }

    fn apply_call(
        &mut self,
        key: CallKey,
        event: CallEvent,
        origin: u64,
        s: &EngineSettings,
        resolutions: &mut Vec<Resolution>,
    ) -> Outcome {
        // The caps that bound a queue's calls: a new call beyond `max_calls_per_queue`, and an
        // event that would wait for an offer (one for a call none of whose legs counts yet)
        // beyond `max_pending_per_queue`, are refused before anything is kept of them.
        let call = self.calls.get(&key);
        if call.is_none() && self.calls.len() >= s.max_calls_per_queue {
            return Outcome::Rejected(RejectReason::CallLimit);
        }
        let unoffered = call.is_none_or(|c| c.live().is_empty());
        if event.step != Step::Offered && unoffered && self.held >= s.max_pending_per_queue {
            return Outcome::Rejected(RejectReason::PendingLimit);
        }
        let mut resolved = std::mem::take(&mut self.resolved);
        let limits = CallLimits {
            max_events: s.max_events_per_call,
            skew: s.max_clock_skew_ms,
        };
        let inserted = self.change_call(key, |call, _| {
            call.insert(event, origin, limits, &mut resolved)
        });
        let inserted = match inserted {
            Ok(inserted) => inserted,
            Err(reason) => {
                // (A refused event lets nothing count; cleared all the same, as dropping the
                // list did before it was kept.)
                resolved.clear();
                self.resolved = resolved;
                if self.calls.get(&key).is_some_and(Call::is_empty) {
                    self.remove_call(key);
                }
                return Outcome::Rejected(reason);
            }
        };
        resolutions.extend(resolved.drain(..).map(|origin| Resolution {
            origin,
            outcome: Outcome::Applied,
        }));
        self.resolved = resolved;
        self.skewed_events += u64::from(inserted.skewed);
        if inserted.counts {
            Outcome::Applied
        } else {
            Outcome::Pending
        }
    }

    /// Changes the call `key` by `change` (given the call and the queue's newest event time;
    /// the call is made first if there is none) and applies what that changes in what the
    /// call derives: the windows, its agents' phases, the calls waiting and the wait samples.
    fn change_call<R>(&mut self, key: CallKey, change: impl FnOnce(&mut Call, Millis) -> R) -> R {
        let kpi = &self.kpi;
        let call = self.calls.entry(key).or_default();
        self.old_deltas.clear();
        self.old_phases.clear();
        self.old_samples.clear();
        call.deltas(kpi, &mut self.old_deltas);
        call.agent_phases(&mut self.old_phases);
        call.wait_samples(kpi, &mut self.old_samples);
        let old_waiting = call.waiting_since();
        let old_held = call.held();

        let changed = change(call, self.max_ts);

        self.held = self.held - old_held + call.held();
        if let Some((from, to)) = call.reschedule() {
            self.due.moved(key, from, to);
        }

        let new_waiting = call.waiting_since();
        // A leg that starts to wait (count) after its threshold passed is behind the cursor
        // that marks the waiting calls reaching it.
        if let (Some(offered), Some(leg)) = (new_waiting, call.waiting_leg()) {
            if offered + kpi.sl_threshold_ms < self.clock {
                leg.reached_threshold = true;
            }
        }
        self.deltas.clear();
        self.phases.clear();
        self.samples_scratch.clear();
        call.deltas(kpi, &mut self.deltas);
        call.agent_phases(&mut self.phases);
        call.wait_samples(kpi, &mut self.samples_scratch);

        if old_waiting != new_waiting {
            if let Some(o) = old_waiting {
                self.waiting.remove(&(o, key));
            }
            if let Some(o) = new_waiting {
                self.waiting.insert((o, key));
                if o >= self.threshold_cursor {
                    self.unreached_from = self.unreached_from.min(o);
                }
            }
        }
        // A finished wait never changes, so new samples are the ones not there before.
        for i in 0..self.samples_scratch.len() {
            let sample = self.samples_scratch[i];
            if !self.old_samples.contains(&sample) {
                self.record_wait(sample);
            }
        }
        self.apply_delta_diff();
        self.apply_phase_diff(key);
        changed
    }

    /// Applies `deltas − old_deltas`, skipping what both derivations agree on.
    fn apply_delta_diff(&mut self) {
        self.old_deltas.sort_unstable();
        self.deltas.sort_unstable();
        let (mut i, mut j) = (0, 0);
        let mut diff = std::mem::take(&mut self.diff);
        diff.clear();
        while i < self.old_deltas.len() || j < self.deltas.len() {
            match (self.old_deltas.get(i), self.deltas.get(j)) {
                (Some(a), Some(b)) if a == b => {
                    i += 1;
                    j += 1;
                }
                (Some(a), Some(b)) if a < b => {
                    diff.push(a.negated());
                    i += 1;
                }
                (Some(a), None) => {
                    diff.push(a.negated());
                    i += 1;
                }
                (_, Some(b)) => {
                    diff.push(*b);
                    j += 1;
                }
                (None, None) => break,
            }
        }
        self.diff = std::mem::replace(&mut self.deltas, diff);
        self.flush_deltas();
    }

    fn apply_phase_diff(&mut self, call: CallKey) {
        self.old_phases.sort_unstable();
        self.phases.sort_unstable();
        let mut touched = std::mem::take(&mut self.touched);
        touched.clear();
        for old in &self.old_phases {
            if self.phases.binary_search(old).is_err() {
                if let Some(a) = self.agents.get_mut(&old.agent) {
                    a.remove(&Input {
                        ts: old.ts,
                        kind: InputKind::Call(call, old.phase),
                    });
                    touched.push(old.agent);
                    self.outbox.phases.push(PhaseOp {
                        agent: old.agent,
                        add: false,
                        ts: old.ts,
                        call,
                        phase: old.phase,
                    });
                }
            }
        }
        for new in &self.phases {
            if self.old_phases.binary_search(new).is_err() {
                // The agent was admitted when its event arrived, but may have been dropped
                // as idle (logged out, no call) while the call waited for its offer.
                let a = self.agents.entry(new.agent).or_insert_with(|| {
                    self.outbox.members.push((new.agent, true));
                    Agent::default()
                });
                a.add(Input {
                    ts: new.ts,
                    kind: InputKind::Call(call, new.phase),
                });
                touched.push(new.agent);
                self.outbox.phases.push(PhaseOp {
                    agent: new.agent,
                    add: true,
                    ts: new.ts,
                    call,
                    phase: new.phase,
                });
            }
        }
        touched.sort_unstable();
        touched.dedup();
        self.deltas.clear();
        for agent in &touched {
            if let Some(a) = self.agents.get_mut(agent) {
                a.refresh(&mut self.deltas, &mut self.agent_scratch);
            }
        }
        self.touched = touched;
        self.flush_deltas();
    }

    /// Applies `self.deltas` to every accumulator.
    fn flush_deltas(&mut self) {
        for d in &self.deltas {
            self.ring.apply(d);
            self.interval.apply(d);
            self.today.apply(d);
            if let Delta::Count { what, by, .. } = *d {
                self.totals[what.0 as usize] += by;
            }
        }
        self.deltas.clear();
    }

    fn record_wait(&mut self, (ts, wait): (Millis, Millis)) {
        let wait = wait.max(0) as u64;
        if ts >= self.today.start {
            self.today_waits
                .saturating_record(wait.min(MAX_RECORDED_WAIT_MS));
        }
        let sample = (
            ((ts - SAMPLE_EPOCH_MS) / 1000).max(0) as u32,
            wait.min(u32::MAX as u64) as u32,
        );
        let at = self.samples.partition_point(|x| x.0 <= sample.0);
        self.samples.insert(at, sample);
    }

    /// Moves the queue's clock forward: slides the windows, rolls periods, counts waiting calls
    /// that just passed the threshold, and periodically settles and expires state.
    pub fn advance(
        &mut self,
        clock: Millis,
        s: &EngineSettings,
        resolutions: &mut Vec<Resolution>,
    ) {
        let clock = clock.max(self.clock).max(self.max_ts);
        self.clock = clock;
        if clock >= self.interval.end {
            let (start, end) = interval_bounds(clock, s);
            self.interval.roll(start, end);
        }
        if clock >= self.today.end {
            let (start, end) = day_bounds(clock, s);
            self.today.roll(start, end);
            self.today_waits.reset();
        }
        // Before the ring moves on: it holds every interval not reported yet until then.
        if self.reports_intervals {
            self.report_intervals(self.interval_settled(s), s);
        }
        // An event-time engine's clock is its newest event of any queue, which can be far
        // ahead of a queue consumed from a lagging partition. Its ring then follows the
        // queue's own events, so that it still holds the history its unjudged surge edges
        // need; windows read past the ring's head see nothing new there.
        self.ring.advance(if self.surge_follows_events {
            self.max_ts
        } else {
            clock
        });
        self.mark_threshold_reached();
        self.evaluate_surge(s);
        // Everything a sweep does follows the queue's own event time (the watermark), so that
        // is what paces it: a clock far ahead of the queue (a partition consumed behind the
        // others) would otherwise stop the sweeps and let unsettled state pile up.
        if self.max_ts.saturating_sub(self.last_sweep) >= BUCKET_MS {
            self.sweep(s, resolutions);
            self.last_sweep = self.max_ts;
        }
        // A live queue shows its waits against the clock, so it expires against the clock
        // too: a call older than `max_call_age` by that clock is never shown (a backlog's call
        // left open would otherwise be shown waiting for days while its queue's events lag).
        // Its held events likewise resolve by the clock once it is quiet.
        if !self.surge_follows_events {
            let last_event = *self.last_event_clock.get_or_insert(self.clock);
            if self.clock.saturating_sub(self.last_clock_expiry) >= BUCKET_MS {
                self.last_clock_expiry = self.clock;
                self.resolve_held_when_quiet(last_event, s, resolutions);
                self.expire_due(s);
            }
        }
    }

    /// The watermark follows the queue's events, so on a queue that goes quiet (its producer
    /// or broker gone) events held for an offer would be pending for ever. Once a live queue
    /// has had no event for the lateness, its hold horizon moves on with the clock from the
    /// watermark: watermark + (quiet − lateness), rejecting what is held before it as the
    /// watermark would have. Not against the clock itself (now − lateness): in a catch-up the
    /// queue's events are far behind the clock, and a step held at a batch boundary would be
    /// rejected or not by when the next batch came; quiet time counts only real silence.
    /// Only held events resolve so: what else the watermark settles (ended calls, agents)
    /// stays on it.
    fn resolve_held_when_quiet(
        &mut self,
        last_event: Millis,
        s: &EngineSettings,
        resolutions: &mut Vec<Resolution>,
    ) {
        let beyond = self
            .clock
            .saturating_sub(last_event)
            .saturating_sub(s.allowed_lateness_ms);
        if beyond > 0 {
            let horizon = self.watermark(s).saturating_add(beyond);
            self.drop_held_before(horizon, resolutions);
        }
    }

    /// The time expiry is judged by: the queue's event time in an event-time engine (replaying
    /// a backlog must not expire calls whose end is still in it), the clock in a live one.
    fn expiry_now(&self) -> Millis {
        if self.surge_follows_events {
            self.max_ts
        } else {
            self.clock
        }
    }

    /// Expires the calls older than the maximum age by [`QueueState::expiry_now`].
    fn expire_due(&mut self, s: &EngineSettings) {
        let settled = self.last_sweep.saturating_sub(s.allowed_lateness_ms);
        for key in self.expiry_due(s) {
            self.expire_call(key, s.max_call_age_ms, settled);
        }
    }

    /// Calls with a leg that has not ended and is `max_call_age` old by
    /// [`QueueState::expiry_now`]: in replay the queue's event time, so that a backlog's calls
    /// whose end is still in it are not expired.
    fn expiry_due(&self, s: &EngineSettings) -> Vec<CallKey> {
        let now = self.expiry_now();
        self.due.open_since(now.saturating_sub(s.max_call_age_ms))
    }

    /// In an event-time engine "now" is the newest event of any queue, which a queue consumed
    /// from a lagging partition can be far behind; its surge edges then follow its own events,
    /// so that every edge is judged on complete data, as in a replay. A live engine follows
    /// the clock, so that an episode on a queue whose calls stop still ends.
    pub(super) fn set_surge_follows_events(&mut self, follows: bool) {
        self.surge_follows_events = follows;
    }

    pub(super) fn set_reports_intervals(&mut self, on: bool) {
        self.reports_intervals = on;
    }

    pub(super) fn set_scope(&mut self, scope: u32) {
        self.scope = scope;
    }

    pub(super) fn scope(&self) -> u32 {
        self.scope
    }

    /// Surge episodes are judged at bucket edges in settled time, `allowed_lateness` behind
    /// now, so that an event arriving late within the lateness cannot change an episode: the
    /// same events in any admissible order give the same episodes.
    fn evaluate_surge(&mut self, s: &EngineSettings) {
        let now = if self.surge_follows_events {
            self.max_ts.min(self.clock)
        } else {
            self.clock
        };
        let settled = settled_edge(now, s);
        if settled <= self.surge_evaluated {
            return;
        }
        let mut edge = (self.surge_evaluated + BUCKET_MS).max(settled - SURGE_CATCH_UP_MS);
        while edge <= settled {
            self.evaluate_surge_at(edge, s);
            edge += BUCKET_MS;
        }
        self.surge_evaluated = settled;
    }

    fn evaluate_surge_at(&mut self, edge: Millis, s: &EngineSettings) {
        let rule = &self.kpi.surge;
        // A window reaching back past what the ring holds would be judged short of calls.
        let held_from = self.ring.horizon();
        if edge - rule.short_window_ms < held_from {
            return;
        }
        let short_from = edge - rule.short_window_ms;
        let [short_offered, answered_in, abandoned_in, reached] = self.ring.counts_between(
            short_from,
            edge,
            [
                Count::Offered,
                Count::AnsweredWithinT,
                Count::AbandonedWithinT,
                Count::ReachedT,
            ],
        );
        let lookback = rule.short_window_ms + rule.baseline_window_ms;
        // Where the edge's interval starts in its day takes a time-zone lookup: only asked
        // when there is a forecast to look up (it cost 2 % of a replay's instructions).
        let forecast = (!rule.forecast_per_minute.is_empty())
            .then(|| {
                let (day_start, _) = day_bounds(edge - 1, s);
                let (interval_start, _) = interval_bounds(edge - 1, s);
                rule.forecast_per_minute.get(&(interval_start - day_start))
            })
            .flatten()
            .map(|per_minute| per_minute * rule.baseline_window_ms as f64 / 60_000.0);
        let baseline_offered = forecast.or_else(|| {
            (edge - lookback >= self.watched_since.max(self.ring.offered_horizon()))
                .then(|| self.ring.offered_between(edge - lookback, short_from) as f64)
        });
        let inputs = SurgeInputs {
            now: edge,
            short_offered,
            baseline_offered,
            short_service_level: service_level(answered_in, abandoned_in, reached),
            sl_target: self.kpi.sl_target,
        };
        if let Some(episode) = self.surge.evaluate(&inputs, rule) {
            self.surge_outcomes[episode.outcome as usize] += 1;
            self.finished_episodes.push(episode);
        }
    }

    /// Surge episodes that ended since the last call.
    pub fn take_finished_episodes(&mut self) -> Option<Vec<Episode>> {
        (!self.finished_episodes.is_empty()).then(|| std::mem::take(&mut self.finished_episodes))
    }

    /// Intervals reported since the last call, oldest first.
    pub(super) fn take_finished_intervals(&mut self) -> Option<Vec<IntervalKpis>> {
        (!self.finished_intervals.is_empty()).then(|| std::mem::take(&mut self.finished_intervals))
    }

    /// Up to where nothing can change an interval any more: the watermark (an event behind it
    /// is late). A live queue that goes quiet moves it on with the clock once it has been
    /// quiet for the lateness, as its held events (see
    /// [`QueueState::resolve_held_when_quiet`]), so that its intervals still close; an event
    /// for a closed interval that still comes then counts in the windows and `today`, not in
    /// the interval's report. Not by the clock itself: a backlog read at start-up is behind
    /// the clock, and its intervals close as its events pass them.
    fn interval_settled(&self, s: &EngineSettings) -> Millis {
        let watermark = self.watermark(s);
        match self.last_event_clock {
            Some(last) if !self.surge_follows_events => {
                let quiet = self.clock.saturating_sub(last);
                watermark.saturating_add(quiet.saturating_sub(s.allowed_lateness_ms).max(0))
            }
            _ => watermark,
        }
    }

    /// Moves the first interval to report back to the one holding `ts` (less the lateness):
    /// a live queue is created at the clock, but its first events (a backlog, the demo's
    /// warm-up) can be older. Only as far back as the ring holds a whole interval: one that
    /// began before the ring's horizon would be reported short of its start.
    fn report_from(&mut self, ts: Millis, s: &EngineSettings) {
        let horizon = self.ring.horizon();
        let (start, end) =
            interval_bounds(ts.saturating_sub(s.allowed_lateness_ms).max(horizon), s);
        let first = if start < horizon {
            interval_bounds(end, s)
        } else {
            (start, end)
        };
        if first.0 < self.to_report.0 {
            self.to_report = first;
        }
    }

    /// Reports every interval that ends by `settled` and is not reported yet, from the ring,
    /// which holds it until the ring next moves on. The calls reaching the SL threshold within
    /// an interval are counted in it first.
    fn report_intervals(&mut self, settled: Millis, s: &EngineSettings) {
        while self.to_report.1 <= settled {
            self.reported_any = true;
            let (start, end) = self.to_report;
            self.mark_reached_before(end);
            self.push_interval(start, end, end);
            self.to_report = interval_bounds(end, s);
        }
    }

    /// End of input at `as_of` (the queue advanced to it): the intervals that end by then,
    /// and the one it ends in, as far as it went.
    pub(super) fn close_intervals(&mut self, as_of: Millis, s: &EngineSettings) {
        if !self.reports_intervals {
            return;
        }
        self.report_intervals(as_of, s);
        let (start, end) = self.to_report;
        if as_of > start {
            self.push_interval(start, end, as_of);
            self.to_report = interval_bounds(end, s);
        }
    }

    /// Reports `[start, end)` as far as `until`: to its end, or, input having stopped within
    /// it, as the `interval` window stood at `until`.
    fn push_interval(&mut self, start: Millis, end: Millis, until: Millis) {
        let mut scratch = Vec::new();
        let (sums, waits) = if until >= end {
            let waits = self.sample_quantiles(start, end - 1, &mut scratch);
            (self.ring.between(start, end), waits)
        } else {
            let waits = self.sample_quantiles(start, until, &mut scratch);
            (self.ring.window(until - start, until), waits)
        };
        self.finished_intervals.push(IntervalKpis {
            queue_id: self.id.to_string(),
            start,
            end,
            partial: until < end,
            kpis: self.kpis(&sums, waits),
            sums,
        });
    }

    fn mark_threshold_reached(&mut self) {
        self.mark_reached_before(self.clock);
    }

    /// Counts the waiting calls that reached the SL threshold before `at`.
    fn mark_reached_before(&mut self, at: Millis) {
        let t = self.kpi.sl_threshold_ms;
        let due = at - t;
        if due <= self.threshold_cursor {
            return;
        }
        let from = self.threshold_cursor;
        self.threshold_cursor = due;
        if due <= self.unreached_from {
            return;
        }
        for &(offered, key) in self.waiting.range((from, 0)..(due, 0)) {
            if let Some(leg) = self.calls.get_mut(&key).and_then(Call::waiting_leg) {
                if !leg.reached_threshold {
                    leg.reached_threshold = true;
                    let d = Delta::count(offered + t, Count::ReachedT, 1);
                    self.ring.apply(&d);
                    self.interval.apply(&d);
                    self.today.apply(&d);
                    self.totals[Count::ReachedT as usize] += 1;
                }
            }
        }
        self.unreached_from = self
            .waiting
            .range((due, 0)..)
            .next()
            .map_or(Millis::MAX, |&(offered, _)| offered);
    }

    /// Settles what the watermark has passed, rejects offers that never came, expires calls
    /// older than the maximum age, and forgets old ids and samples.
    fn sweep(&mut self, s: &EngineSettings, resolutions: &mut Vec<Resolution>) {
        let watermark = self.watermark(s);
        self.resolve_calls(watermark, s, resolutions);
        let dropped = &mut self.outbox.members;
        self.agents.retain(|&key, a| {
            a.settle(watermark);
            let keep = !a.is_idle();
            if !keep {
                dropped.push((key, false));
            }
            keep
        });
        self.dedup
            .expire(self.max_ts.saturating_sub(s.dedup_horizon_ms));
        let keep_from = ((self.ring.horizon() - SAMPLE_EPOCH_MS) / 1000).max(0) as u32;
        while self.samples.front().is_some_and(|x| x.0 < keep_from) {
            self.samples.pop_front();
        }
    }

    fn resolve_calls(
        &mut self,
        watermark: Millis,
        s: &EngineSettings,
        resolutions: &mut Vec<Resolution>,
    ) {
        self.drop_held_before(watermark, resolutions);
        let expire = self.expiry_due(s);
        let mut keys = std::mem::take(&mut self.due_keys);
        self.due.ended_before(watermark, &mut keys);
        for &key in &keys {
            self.forget_call(key);
        }
        keys.clear();
        self.due_keys = keys;
        // Agents are settled up to the previous sweep's watermark: an expiry may go back to
        // there, so that it frees its agents at offered + max_call_age even when the queue's
        // event time jumped (a quiet queue), not at this sweep.
        let settled = self.last_sweep.saturating_sub(s.allowed_lateness_ms);
        for key in expire {
            self.expire_call(key, s.max_call_age_ms, settled);
        }
    }

    /// Drops a call that is over. A call that ended waits for nothing, but its place in the
    /// waiting set goes with it in any case: a call the queue no longer holds must never be
    /// shown as waiting.
    fn forget_call(&mut self, key: CallKey) {
        if let Some(call) = self.remove_call(key) {
            if let Some(offered) = call.waiting_since() {
                debug_assert!(false, "a call that ended still waits");
                self.waiting.remove(&(offered, key));
            }
        }
    }

    /// Removes a call, and its place in the due sets.
    fn remove_call(&mut self, key: CallKey) -> Option<Call> {
        let call = self.calls.remove(&key)?;
        self.due.moved(key, call.scheduled(), Due::Nothing);
        Some(call)
    }

    /// Expires the call's legs that are older than the maximum age, if any are.
    fn expire_call(&mut self, key: CallKey, max_age: Millis, floor: Millis) {
        let now = self.expiry_now();
        self.change_call(key, |call, _| call.expire(max_age, now, floor));
        self.expired_calls += 1;
    }

    /// The ACD restarted at `at` (Asterisk's `QUEUESTART`): calls in progress then can no
    /// longer end, so every leg offered by then that has not ended ends at `at` (not before
    /// the settled point), freeing its agents, and is counted in `ended_by_restart`. Calls
    /// that ended properly before the restart are untouched.
    pub fn end_calls_at_restart(&mut self, at: Millis, s: &EngineSettings) {
        let floor = self.last_sweep.saturating_sub(s.allowed_lateness_ms);
        let at = at.max(floor);
        let keys: Vec<CallKey> = self
            .calls
            .iter()
            .filter(|(_, call)| call.open_at(at))
            .map(|(&key, _)| key)
            .collect();
        for key in keys {
            self.change_call(key, |call, _| call.end_open_legs(at));
            self.ended_by_restart += 1;
        }
    }

    /// End of input: what is held for a leg that does not count by now never will.
    pub fn resolve_all_pending(&mut self, resolutions: &mut Vec<Resolution>) {
        self.drop_held_before(Millis::MAX, resolutions);
    }

    /// Rejects what calls hold for legs that began before `watermark` and do not count (see
    /// [`Call::drop_held_before`]), and applies the legs that count once those are gone; a
    /// call left with no leg is forgotten.
    fn drop_held_before(&mut self, watermark: Millis, resolutions: &mut Vec<Resolution>) {
        let (mut rejected, mut resolved) = (Vec::new(), Vec::new());
        let mut keys = std::mem::take(&mut self.due_keys);
        self.due.held_before(watermark, &mut keys);
        for &key in &keys {
            self.change_call(key, |call, _| {
                call.drop_held_before(watermark, &mut rejected, &mut resolved)
            });
            if self.calls.get(&key).is_some_and(Call::is_empty) {
                self.remove_call(key);
            }
        }
        keys.clear();
        self.due_keys = keys;
        resolutions.extend(rejected.into_iter().map(|(origin, reason)| Resolution {
            origin,
            outcome: Outcome::Rejected(reason),
        }));
        resolutions.extend(resolved.into_iter().map(|origin| Resolution {
            origin,
            outcome: Outcome::Applied,
        }));
    }

    pub fn totals(&self) -> QueueTotals {
        let t = |c: Count| self.totals[c as usize].max(0) as u64;
        QueueTotals {
            offered: t(Count::Offered),
            answered: t(Count::Answered),
            abandoned: t(Count::Abandoned),
            short_abandoned: t(Count::ShortAbandoned),
            transferred_out: t(Count::TransferredOut),
            flowed_out: t(Count::FlowedOut),
            ring_attempts: t(Count::RingAttempts),
            ring_no_answer: t(Count::RingNoAnswer),
            ring_abandoned: t(Count::RingAbandoned),
            member_unavailable: t(Count::MemberUnavailable),
            expired_calls: self.expired_calls,
            ended_by_restart: self.ended_by_restart,
            clock_skew: self.skewed_events,
            surge_responded: self.surge_outcomes[EpisodeOutcome::Responded as usize],
            surge_subsided: self.surge_outcomes[EpisodeOutcome::Subsided as usize],
            surge_absorbed: self.surge.absorbed(),
        }
    }

    /// The KPIs at `as_of` (the caller advances the queue to `as_of` first).
    pub fn snapshot(
        &self,
        as_of: Millis,
        s: &EngineSettings,
        scratch: &mut Vec<u32>,
    ) -> KpiSnapshot {
        let mut windows = Vec::with_capacity(s.sliding.len() + 2);
        let lens: Vec<Millis> = s.sliding.iter().map(|w| w.len_ms).collect();
        let all = self.ring.windows(&lens, as_of);
        for (w, sums) in s.sliding.iter().zip(all) {
            let from = -(w.len_ms - as_of).div_euclid(BUCKET_MS) * BUCKET_MS;
            windows.push((
                w.name.clone(),
                self.kpis(&sums, self.sample_quantiles(from, as_of, scratch)),
            ));
        }
        let interval = self.interval.sums(as_of);
        let q = self.sample_quantiles(self.interval.start, as_of, scratch);
        windows.push(("interval".to_string(), self.kpis(&interval, q)));
        let today = self.today.sums(as_of);
        windows.push((
            "today".to_string(),
            self.kpis(&today, quantiles(&self.today_waits)),
        ));

        let now = self.now_kpis(as_of);
        let staffing =
            staffing_window(s, &windows).and_then(|(len_ms, w)| self.staffing(len_ms, w, &now));
        KpiSnapshot {
            queue_id: self.id.to_string(),
            as_of,
            sl_threshold_seconds: self.kpi.sl_threshold_ms as f64 / 1000.0,
            sl_target: self.kpi.sl_target,
            now,
            windows: Windows(windows),
            staffing,
            surge: self.surge_snapshot(as_of),
        }
    }

    /// The surge state as of `as_of`: the episode was judged in settled time, its age runs on
    /// the clock so that the response limit is met on time, not `allowed_lateness` late.
    fn surge_snapshot(&self, as_of: Millis) -> SurgeSnapshot {
        let status = self.surge.status();
        let limit_ms = self.kpi.surge.response_limit_ms;
        let age_ms = status.onset.map_or(0, |onset| (as_of - onset).max(0));
        SurgeSnapshot {
            active: status.active,
            onset: status.onset,
            age_seconds: age_ms as f64 / 1000.0,
            rate_per_minute: status.rate_per_minute,
            baseline_per_minute: status.baseline_per_minute,
            response_limit_seconds: limit_ms as f64 / 1000.0,
            response_exceeded: status.active && age_ms >= limit_ms,
            absorbed: self.surge.absorbed(),
        }
    }

    /// Erlang C from a window's arrival rate and AHT, against the agents staffed now.
    fn staffing(&self, len_ms: Millis, w: &WindowKpis, now: &NowKpis) -> Option<Staffing> {
        let aht = w.aht_seconds?;
        if w.offered == 0 || aht <= 0.0 {
            return None;
        }
        let seconds = len_ms as f64 / 1000.0;
        let load = erlang::load(w.offered as f64, seconds, aht);
        let threshold = self.kpi.sl_threshold_ms as f64 / 1000.0;
        let required = erlang::required_agents(load, aht, threshold, self.kpi.sl_target)?;
        // Agents busy on another queue's call are not staffed here until they are free.
        let staffed = (now.agents_ready + now.agents_busy + now.agents_acw) as u32;
        let predicted = erlang::predict(staffed, load, aht, threshold);
        Some(Staffing {
            arrival_rate_per_minute: w.offered as f64 / (seconds / 60.0),
            aht_seconds: aht,
            required_agents: required.agents,
            staffed_agents: staffed,
            predicted_service_level: predicted.service_level,
            predicted_asa_seconds: predicted
                .asa_seconds
                .is_finite()
                .then_some(predicted.asa_seconds),
        })
    }

    fn kpis(&self, sums: &WindowSums, q: WaitQuantiles) -> WindowKpis {
        window_kpis(sums, q)
    }

    /// The wait quantiles of the samples in `[from, to]`, as a histogram of them would read
    /// them (see [`selected_quantiles`]).
    fn sample_quantiles(&self, from: Millis, to: Millis, scratch: &mut Vec<u32>) -> WaitQuantiles {
        let secs = |t: Millis| ((t - SAMPLE_EPOCH_MS).div_euclid(1000)).max(0) as u32;
        let (lo, hi) = (secs(from), secs(to));
        let start = self.samples.partition_point(|x| x.0 < lo);
        let end = self.samples.partition_point(|x| x.0 <= hi);
        scratch.clear();
        scratch.extend(self.samples.range(start..end).map(|&(_, wait)| wait));
        selected_quantiles(scratch, &self.today_waits)
    }

    fn now_kpis(&self, as_of: Millis) -> NowKpis {
        let mut now = NowKpis {
            calls_waiting: self.waiting.len() as u64,
            oldest_wait_seconds: self.waiting.first().map_or(0.0, |&(offered, _)| {
                (as_of - offered).max(0) as f64 / 1000.0
            }),
            ..NowKpis::default()
        };
        for a in self.agents.values() {
            match a.now() {
                Effective::LoggedOut => continue,
                Effective::Ready => now.agents_ready += 1,
                Effective::NotReady => now.agents_not_ready += 1,
                Effective::Busy => now.agents_busy += 1,
                Effective::Acw => now.agents_acw += 1,
                Effective::BusyOther => now.agents_busy_other += 1,
            }
            now.agents_logged_in += 1;
        }
        now
    }

    /// Where the agents' settled state ends: inputs can be added at or after it. It is the
    /// watermark of the last sweep (an expiry goes back to it too).
    fn settled_point(&self, s: &EngineSettings) -> Millis {
        self.last_sweep.saturating_sub(s.allowed_lateness_ms)
    }

    pub(super) fn tag(&self) -> QueueTag {
        self.tag
    }

    /// Hands what the agents' other queues must hear of to the engine (swapped with `into`,
    /// which the engine has emptied).
    pub(super) fn take_outbox(&mut self, into: &mut Outbox) {
        std::mem::swap(&mut self.outbox, into);
    }

    pub(super) fn outbox_is_empty(&self) -> bool {
        self.outbox.is_empty()
    }

    pub(super) fn has_agent(&self, agent: AgentKey) -> bool {
        self.agents.contains_key(&agent)
    }

    pub(super) fn agent_keys(&self) -> impl Iterator<Item = AgentKey> + '_ {
        self.agents.keys().copied()
    }

    /// A change of the agent's phase on a call of the queue tagged `from`: added (or removed)
    /// at its time, or at the settled point if that is later (the queues' event times move
    /// independently; what another queue reports from before this one's settled point counts
    /// from there). Nothing without an entry for the agent. The caller has advanced the queue
    /// to the change's time.
    pub(super) fn other_phase(&mut self, from: QueueTag, op: &PhaseOp, s: &EngineSettings) {
        let settled = self.settled_point(s);
        let Some(a) = self.agents.get_mut(&op.agent) else {
            return;
        };
        let input = Input {
            ts: op.ts.max(settled),
            kind: InputKind::Other(from, op.call, op.phase),
        };
        debug_assert!(input.ts <= self.clock, "advance the queue first");
        if op.add {
            a.add(input);
        } else {
            a.remove(&input);
        }
        self.deltas.clear();
        a.refresh(&mut self.deltas, &mut self.agent_scratch);
        self.flush_deltas();
    }

    /// The agent's phases on this queue's calls that still matter, as additions: the settled
    /// engagements (timed `Millis::MIN`, for the receiving queue to clamp) and every pending
    /// change. For an entry another queue has just created.
    pub(super) fn own_phases(&self, agent: AgentKey, out: &mut Vec<PhaseOp>) {
        let Some(a) = self.agents.get(&agent) else {
            return;
        };
        let mut phases = Vec::new();
        a.own_phases(Millis::MIN, &mut phases);
        out.extend(phases.into_iter().map(|(ts, call, phase)| PhaseOp {
            agent,
            add: true,
            ts,
            call,
            phase,
        }));
    }

    /// The pending `agent_state`s without a queue the agent's entry holds.
    pub(super) fn all_states(&self, agent: AgentKey, out: &mut Vec<Input>) {
        if let Some(a) = self.agents.get(&agent) {
            a.all_states(out);
        }
    }

    /// Gives an entry just created the `agent_state`s without a queue its other queues still
    /// hold (`inputs`, sorted), so that one that arrived before the agent's login here (within
    /// the lateness) applies here too. Those before the settled point are left out: the entry
    /// is new, so the agent logged in here after them. The caller has advanced the queue to
    /// the newest of them.
    pub(super) fn add_all_states(&mut self, agent: AgentKey, inputs: &[Input], s: &EngineSettings) {
        let settled = self.settled_point(s);
        let Some(a) = self.agents.get_mut(&agent) else {
            return;
        };
        let mut added = false;
        for input in inputs.iter().filter(|i| i.ts >= settled) {
            if !a.holds(input) {
                debug_assert!(input.ts <= self.clock, "advance the queue first");
                a.add(*input);
                added = true;
            }
        }
        if added {
            self.deltas.clear();
            a.refresh(&mut self.deltas, &mut self.agent_scratch);
            self.flush_deltas();
        }
    }

    /// The calls of the queue tagged `queue` (`OWN` for this one) the agent is engaged in once
    /// everything seen has taken effect; empty without an entry.
    pub(super) fn engaged_at_end(&self, agent: AgentKey, queue: QueueTag) -> Vec<(CallKey, Phase)> {
        self.agents
            .get(&agent)
            .map_or_else(Vec::new, |a| a.engaged_at_end(queue))
    }

    /// The other queues whose engagements the agent's entry holds.
    pub(super) fn other_queues_of(&self, agent: AgentKey) -> Vec<QueueTag> {
        self.agents
            .get(&agent)
            .map_or_else(Vec::new, Agent::other_queues)
    }

    /// Makes the agent's engagements from the queue tagged `from` end up as `expected` (sorted;
    /// empty to end them all): each call that differs is set to what it should be after
    /// everything the entry holds, at the settled point or its newest input if later. A no-op
    /// when they agree. For a queue that left this engine, or one restored beside it.
    pub(super) fn sync_other(
        &mut self,
        agent: AgentKey,
        from: QueueTag,
        expected: &[(CallKey, Phase)],
        s: &EngineSettings,
    ) {
        let settled = self.settled_point(s);
        let Some(a) = self.agents.get_mut(&agent) else {
            return;
        };
        let have = a.engaged_at_end(from);
        if have == expected {
            return;
        }
        let at = a.last_input_ts().map_or(settled, |ts| ts.max(settled));
        let phase_in = |list: &[(CallKey, Phase)], call: CallKey| {
            list.iter()
                .find(|&&(c, _)| c == call)
                .map_or(Phase::Free, |&(_, p)| p)
        };
        let mut calls: Vec<CallKey> = have.iter().chain(expected).map(|&(c, _)| c).collect();
        calls.sort_unstable();
        calls.dedup();
        for call in calls {
            let want = phase_in(expected, call);
            if phase_in(&have, call) != want {
                a.add(Input {
                    ts: at,
                    kind: InputKind::Other(from, call, want),
                });
            }
        }
        self.deltas.clear();
        a.refresh(&mut self.deltas, &mut self.agent_scratch);
        self.flush_deltas();
    }

    /// The indexes kept beside the calls agree with them: each call's count of its legs that
    /// count, the due sets hold each call where its [`Call::due`] puts it, and nothing else,
    /// and no call waiting at or after the threshold cursor was offered before
    /// `unreached_from`. What every change of a call must keep, checked by the tests after
    /// each event.
    #[cfg(test)]
    pub(super) fn indexes_agree(&self) -> bool {
        let mut expected = DueCalls::default();
        for (&key, call) in &self.calls {
            if call.scheduled() != call.due() || !call.live_count_agrees() {
                return false;
            }
            expected.moved(key, Due::Nothing, call.due());
        }
        let unreached = self.waiting.range((self.threshold_cursor, 0)..).next();
        expected == self.due && unreached.is_none_or(|&(offered, _)| offered >= self.unreached_from)
    }

    /// In-flight calls (offered or pending, not yet settled).
    pub fn calls_in_flight(&self) -> usize {
        self.calls.len()
    }

    /// Heap bytes of the remembered event ids (for the memory bench).
    pub fn remembered_id_bytes(&self) -> usize {
        self.dedup.heap_bytes()
    }
}

/// Where a restored queue's `unreached_from` starts (serde's default takes a function).
fn lowest() -> Millis {
    Millis::MIN
}

/// History the bucket ring holds, plus the lateness: in full, the longest window, the interval
/// (whose wait percentiles come from the samples the ring's horizon keeps) and the surge rule's
/// short window; its offered count alone, the surge rule's baseline before that. Missed bucket
/// edges are judged up to [`SURGE_CATCH_UP_MS`] late, from as far back.
pub(super) fn ring_span(s: &EngineSettings) -> RingSpan {
    let short = s.longest_surge_short_ms() + SURGE_CATCH_UP_MS;
    let wide = s.longest_window_ms().max(s.interval_ms).max(short);
    let offered = wide.max(s.longest_surge_lookback_ms() + SURGE_CATCH_UP_MS);
    RingSpan {
        wide_ms: wide + s.allowed_lateness_ms,
        offered_ms: offered + s.allowed_lateness_ms,
    }
}

/// The newest bucket edge at or before settled time (the clock less the lateness).
fn settled_edge(clock: Millis, s: &EngineSettings) -> Millis {
    (clock - s.allowed_lateness_ms).div_euclid(BUCKET_MS) * BUCKET_MS
}

fn recorded_pairs<S: Serializer>(h: &Histogram<u32>, ser: S) -> Result<S::Ok, S::Error> {
    let pairs: Vec<(u64, u32)> = h
        .iter_recorded()
        .map(|v| (v.value_iterated_to(), v.count_at_value()))
        .collect();
    pairs.serialize(ser)
}

fn wait_histogram_of_pairs<'de, D: Deserializer<'de>>(de: D) -> Result<Histogram<u32>, D::Error> {
    let mut h = wait_histogram();
    for (value, count) in Vec::<(u64, u32)>::deserialize(de)? {
        h.record_n(value, count)
            .map_err(|_| D::Error::custom("a wait beyond the wait histogram's bounds"))?;
    }
    Ok(h)
}

/// The quantiles a [`wait_histogram`] holding `waits` would give (its `value_at_quantile`: the
/// k-th smallest wait, k = ⌈p × n⌉ and at least 1, read as the middle of its bucket of the
/// histogram `h`, of which only the bucket layout is used), found by selection: a histogram
/// had to be cleared (7.5 KiB), filled and scanned three times for every window of every
/// queue at every publish tick, half the tick's instructions, for a few hundred waits.
fn selected_quantiles(waits: &mut [u32], h: &Histogram<u32>) -> WaitQuantiles {
    let n = waits.len();
    if n == 0 {
        return WaitQuantiles::default();
    }
    // Each selection leaves the larger waits after the one it found, where the next (higher)
    // quantile is.
    let mut from = 0;
    let [p50, p90, p99] = [0.50, 0.90, 0.99].map(|p: f64| {
        let k = ((p * n as f64).ceil() as usize).clamp(1, n) - 1;
        let (_, &mut wait, _) = waits[from..].select_nth_unstable(k - from);
        from = k;
        let wait = (wait as u64).min(MAX_RECORDED_WAIT_MS);
        Some(h.median_equivalent(wait) as f64 / 1000.0)
    });
    WaitQuantiles {
        p50_seconds: p50,
        p90_seconds: p90,
        p99_seconds: p99,
    }
}

fn quantiles(h: &Histogram<u32>) -> WaitQuantiles {
    if h.is_empty() {
        return WaitQuantiles::default();
    }
    let q = |p: f64| Some(h.median_equivalent(h.value_at_quantile(p)) as f64 / 1000.0);
    WaitQuantiles {
        p50_seconds: q(0.50),
        p90_seconds: q(0.90),
        p99_seconds: q(0.99),
    }
}

fn step_of(step: &CallStep) -> Step {
    match step {
        CallStep::Offered => Step::Offered,
        CallStep::Ringing { .. } => Step::Ringing,
        CallStep::Answered { .. } => Step::Answered,
        CallStep::Hold { .. } => Step::Hold,
        CallStep::Unhold { .. } => Step::Unhold,
        CallStep::Wrap { .. } => Step::Wrap,
        CallStep::WrapEnd { .. } => Step::WrapEnd,
        CallStep::Abandoned => Step::Abandoned,
        CallStep::Transferred { .. } => Step::Transferred,
        CallStep::NoAnswer { .. } => Step::NoAnswer,
        CallStep::Unavailable { .. } => Step::Unavailable,
        CallStep::FlowedOut { .. } => Step::FlowedOut,
    }
}

/// The sliding window staffing is computed over: `15m` when configured (the industry's
/// staffing interval), else the longest sliding window.
fn staffing_window<'a>(
    s: &EngineSettings,
    windows: &'a [(String, WindowKpis)],
) -> Option<(Millis, &'a WindowKpis)> {
    let chosen = s
        .sliding
        .iter()
        .find(|w| w.len_ms == 15 * 60_000)
        .or_else(|| s.sliding.iter().max_by_key(|w| w.len_ms))?;
    let kpis = windows
        .iter()
        .find(|(name, _)| *name == chosen.name)
        .map(|(_, k)| k)?;
    Some((chosen.len_ms, kpis))
}

/// Start of the local day holding `ts`, and of the next one (23 or 25 h away across DST).
pub(super) fn day_bounds(ts: Millis, s: &EngineSettings) -> (Millis, Millis) {
    let start_of = |t: Millis| -> Millis {
        jiff::Timestamp::from_millisecond(t)
            .ok()
            .map(|t| t.to_zoned_datetime(s.timezone.clone()))
            .and_then(|z| z.start_of_day().ok())
            .map_or(t - t.rem_euclid(86_400_000), |z| {
                z.timestamp().as_millisecond()
            })
    };
    let start = start_of(ts);
    let end = start_of(start + 26 * 3_600_000);
    (start, end.max(start + 1))
}

/// The interval holding `ts`: intervals count from local midnight; the last one of a day ends
/// at the next midnight.
pub(super) fn interval_bounds(ts: Millis, s: &EngineSettings) -> (Millis, Millis) {
    let (day_start, day_end) = day_bounds(ts, s);
    let start = day_start + (ts - day_start) / s.interval_ms * s.interval_ms;
    (start, (start + s.interval_ms).min(day_end))
}

#[cfg(test)]
mod tests;
