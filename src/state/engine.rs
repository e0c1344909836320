//! The engine: routes events to their queue, keeps the ledger, and produces snapshots.
//!
//! It is a plain single-threaded struct; the caller owns it (one ingest task in live mode, the
//! replay loop in replay) and passes the time in. See the [`crate::state`] docs for how readers
//! get at its results without ever blocking it.
//!
//! # Agents across queues
//!
//! An agent is one person in every queue it is logged in to, but each queue keeps its own entry
//! for it (its state there, its calls there), so that a queue's state stays one checkpoint. The
//! engine ties the entries together:
//!
//! - **Memberships.** For each agent (by its 48-bit key, as in the queues), the queues holding
//!   an entry for it (a handful, sorted by id), kept as the queues create and drop entries,
//!   rebuilt from the queues' entries when one is restored from a checkpoint and updated when
//!   one is removed.
//! - **Engagement.** When a queue adds or removes one of its agents' phases on its calls, the
//!   engine passes the change on to the agent's entries in its other queues, keyed by the
//!   queue's tag, where a logged-in agent engaged only elsewhere is *busy other*. An entry a
//!   queue creates is given the agent's current engagements in its other queues (and the
//!   `agent_state`s without a queue they still hold, see below). Queues keep independent
//!   watermarks: a change from before the receiving queue's settled point counts from that
//!   point.
//! - **`agent_state` without a queue** goes to every queue holding an entry for the agent,
//!   where it sets the state if the agent is logged in there at that time; an entry created
//!   later is given it too while another entry still holds it, so a login arriving after it
//!   (within the lateness) sees it. It counts once in the ledger: applied if any queue applied
//!   it, else duplicate, else late; rejected as `unknown_agent` if no queue holds the agent.
//! - **Restores.** A queue restored beside others is checked against them before the next
//!   event: the engagements each side holds from the other are made to match what the other
//!   holds now, and engagements from queues this engine does not hold end. After a restart
//!   that restores every queue, they already match and nothing changes.
//!
//! **Scopes.** An agent is one person only among the queues of one *scope*: the input
//! partition its events come from (the bits of an origin from [`ORIGIN_SCOPE_SHIFT`] up; a
//! file or the simulator is one scope). Partitions are consumed at their own pace, so the
//! same agent's events in two partitions arrive in no fixed order; sharing across them would
//! make busy-other time, and with an `agent_state` without a queue (written to every
//! partition) even lateness, depend on which partition was read first. Within a partition the
//! order is the producer's, and every instance that owns it computes the same KPIs. Queues
//! whose agents are shared must therefore share a partition (key them by site, not by queue).

use std::collections::HashMap;
use std::sync::Arc;

use crate::event::{CtiEvent, EventBody, Millis};
use crate::kpi::surge::Episode;
use crate::kpi::{IntervalKpis, KpiSnapshot, QueueTotals};
use crate::ledger::{Ledger, Outcome, RejectReason};

use super::agent::OWN;
use super::call::{agent_key, AgentKey};
use super::checkpoint::{self, CheckpointError};
use super::dedup::BuildIdentity;
use super::queue::{Outbox, QueueEvent, QueueState, Resolution};
use super::settings::EngineSettings;

/// Fewer queues than this for each core are snapshot on the engine's thread alone: starting a
/// thread (tens of µs) would cost more than it saves.
const SNAPSHOTS_PER_THREAD: usize = 64;

/// An origin's bits from here up name its scope, the partition it was read from (see the
/// module documentation); the bits below are the caller's position within it.
pub const ORIGIN_SCOPE_SHIFT: u32 = 44;

fn scope_of(origin: u64) -> u32 {
    (origin >> ORIGIN_SCOPE_SHIFT) as u32
}

/// An agent in one scope: the 48-bit agent key with the scope above it (partitions beyond
/// 65,535 would share a scope with another: none is that large).
type MemberKey = u64;

fn member_key(scope: u32, agent: AgentKey) -> MemberKey {
    u64::from(scope & 0xFFFF) << 48 | agent
}

/// Where "now" comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeMode {
    /// Now is the wall clock the caller passes: windows slide and quiet queues decay.
    Live,
    /// Now is the newest event time seen: replay is deterministic whatever the machine's clock.
    EventTime,
}

pub struct Engine {
    settings: Arc<EngineSettings>,
    mode: TimeMode,
    queues: HashMap<Arc<str>, QueueState, foldhash::fast::RandomState>,
    ledger: Arc<Ledger>,
    /// Filled by the queues while they work.
    resolutions: Vec<Resolution>,
    /// Counted in the ledger, waiting for the caller to take them.
    resolved: Vec<Resolution>,
    newest_event: Millis,
    scratch: Vec<u32>,
    /// Surge episodes that ended, with their queue, until the caller takes them.
    episodes: Vec<(Arc<str>, Episode)>,
    /// Intervals the queues closed, until the caller takes them.
    intervals: Vec<IntervalKpis>,
    /// The queues report their closed intervals ([`Engine::set_report_intervals`]).
    report_intervals: bool,
    /// The source reports holds; when it does not (Asterisk's queue_log), a call without a
    /// hold is not known to have had none, so the average hold is absent rather than 0.
    hold_reported: bool,
    /// Each agent's queues in a scope (keyed by [`member_key`]): those holding an entry for
    /// it, sorted by id.
    members: HashMap<MemberKey, Vec<Arc<str>>, BuildIdentity>,
    /// How many of `members`' agents are in two queues or more. While none is, what a queue
    /// does with its agents concerns no other queue, and its phase changes are not looked up
    /// one by one (each lookup a cache miss, on every call event of a centre without
    /// multi-skilled agents).
    shared_agents: usize,
    /// Restored queues not yet checked against the queues beside them.
    unreconciled: Vec<Arc<str>>,
    /// A queue's outbox while it is passed on (kept for its allocation).
    outbox: Outbox,
}

impl Engine {
    pub fn new(settings: Arc<EngineSettings>, mode: TimeMode) -> Engine {
        Engine {
            settings,
            mode,
            queues: HashMap::default(),
            ledger: Arc::new(Ledger::default()),
            resolutions: Vec::new(),
            resolved: Vec::new(),
            newest_event: Millis::MIN,
            scratch: Vec::new(),
            episodes: Vec::new(),
            intervals: Vec::new(),
            report_intervals: false,
            hold_reported: true,
            members: HashMap::default(),
            shared_agents: 0,
            unreconciled: Vec::new(),
            outbox: Outbox::default(),
        }
    }

    /// Whether the queues report each interval they close ([`Engine::take_intervals`]); off
    /// by default, as nothing may take them.
    pub fn set_report_intervals(&mut self, on: bool) {
        self.report_intervals = on;
        for q in self.queues.values_mut() {
            q.set_reports_intervals(on);
        }
    }

    /// Says whether the source reports holds at all (see [`crate::sources::Source::reports_hold`]).
    pub fn set_hold_reported(&mut self, reported: bool) {
        self.hold_reported = reported;
    }

    pub fn settings(&self) -> &Arc<EngineSettings> {
        &self.settings
    }

    pub fn ledger(&self) -> &Arc<Ledger> {
        &self.ledger
    }

    /// The engine's now: the wall clock in live mode, the newest event time in replay.
    pub fn now(&self, wall: Millis) -> Millis {
        match self.mode {
            TimeMode::Live => wall,
            TimeMode::EventTime => self.newest_event,
        }
    }

    /// Applies one decoded event. `origin` identifies it to the caller (replay line number,
    /// Kafka offset) for rejections resolved later; `wall` is the real clock, used in live mode
    /// as now and in both modes to refuse timestamps from the future.
    pub fn apply(&mut self, event: &CtiEvent, origin: u64, wall: Millis) -> Outcome {
        let outcome = self.route(event, origin, wall);
        self.ledger.record(outcome);
        self.count_resolutions();
        outcome
    }

    fn count_resolutions(&mut self) {
        for r in self.resolutions.drain(..) {
            self.ledger.resolve_pending(r.outcome);
            self.resolved.push(r);
        }
    }

    fn route(&mut self, event: &CtiEvent, origin: u64, wall: Millis) -> Outcome {
        if event.ts > wall.saturating_add(self.settings.max_future_skew_ms) {
            return Outcome::Rejected(RejectReason::FutureTimestamp);
        }
        // Live, nothing older than a call may live is news: a queue's first event would
        // otherwise never be late (its watermark starts at that event), and one stamped years
        // ago would open a call that expires at once or an answer with a wait of years.
        if self.mode == TimeMode::Live
            && event.ts < wall.saturating_sub(self.settings.max_call_age_ms)
        {
            return Outcome::Late;
        }
        if self.mode == TimeMode::EventTime {
            self.newest_event = self.newest_event.max(event.ts);
        }
        let now = self.now(wall);
        self.reconcile();
        if event.queue_id.is_empty() {
            return match &event.body {
                EventBody::AgentState { agent_id, .. } => {
                    self.route_to_members(event, agent_id, scope_of(origin), now)
                }
                EventBody::Call { .. } => Outcome::Rejected(RejectReason::MissingQueueId),
            };
        }
        let queue = match self.queues.get_mut(event.queue_id.as_str()) {
            Some(q) => q,
            None => {
                if self.queues.len() >= self.settings.max_queues {
                    return Outcome::Rejected(RejectReason::QueueLimit);
                }
                let id: Arc<str> = Arc::from(event.queue_id.as_str());
                // In event time a queue starts at its own first event: the engine's newest
                // event may belong to a queue far ahead of this one.
                let start = match self.mode {
                    TimeMode::Live => now.max(event.ts),
                    TimeMode::EventTime => event.ts,
                };
                let mut q = QueueState::new(id.clone(), &self.settings, start);
                q.set_surge_follows_events(self.mode == TimeMode::EventTime);
                q.set_reports_intervals(self.report_intervals);
                q.set_scope(scope_of(origin));
                self.queues.entry(id).or_insert(q)
            }
        };
        let ev = QueueEvent {
            event_id: &event.event_id,
            ts: event.ts,
            body: &event.body,
        };
        let outcome = queue.apply(ev, origin, now, &self.settings, &mut self.resolutions);
        collect_finished(queue, &mut self.episodes, &mut self.intervals);
        if !queue.outbox_is_empty() {
            let mut out = std::mem::take(&mut self.outbox);
            queue.take_outbox(&mut out);
            let source = queue.id.clone();
            self.pass_on(out, source, now);
        }
        outcome
    }

    /// The ACD behind `queue_ids` restarted at `at` (Asterisk's `QUEUESTART`): their calls in
    /// progress end there (see [`QueueState::end_calls_at_restart`]). Each queue's clock is
    /// first moved to `at`, so that a call that had waited past the threshold by then is
    /// counted as missed before it ends.
    pub fn end_calls_at_restart<'a>(
        &mut self,
        queue_ids: impl IntoIterator<Item = &'a str>,
        at: Millis,
    ) {
        for id in queue_ids {
            if let Some(q) = self.queues.get_mut(id) {
                q.advance(at, &self.settings, &mut self.resolutions);
                q.end_calls_at_restart(at, &self.settings);
                collect_finished(q, &mut self.episodes, &mut self.intervals);
            }
            // The agents the ended calls held are free in their other queues too.
            self.pass_on_from(id, at);
        }
        self.count_resolutions();
    }

    /// An `agent_state` without a queue: to each queue of the scope holding an entry for the
    /// agent, in the order of their ids.
    fn route_to_members(
        &mut self,
        event: &CtiEvent,
        agent_id: &str,
        scope: u32,
        now: Millis,
    ) -> Outcome {
        let Some(queues) = self.members.get(&member_key(scope, agent_key(agent_id))) else {
            return Outcome::Rejected(RejectReason::UnknownAgent);
        };
        let mut outcome = Outcome::Rejected(RejectReason::UnknownAgent);
        for id in queues.clone() {
            let Some(queue) = self.queues.get_mut(&id) else {
                continue;
            };
            let ev = QueueEvent {
                event_id: &event.event_id,
                ts: event.ts,
                body: &event.body,
            };
            let here = queue.apply_to_member(ev, now, &self.settings, &mut self.resolutions);
            collect_finished(queue, &mut self.episodes, &mut self.intervals);
            self.pass_on_from(&id, now);
            // Applied anywhere is applied; a redelivery is a duplicate wherever it went.
            let rank = |o: Outcome| match o {
                Outcome::Applied => 3,
                Outcome::Duplicate => 2,
                Outcome::Late => 1,
                _ => 0,
            };
            if rank(here) > rank(outcome) {
                outcome = here;
            }
        }
        outcome
    }

    /// Passes on what a queue did (its outbox, which the caller took from it) to the agents'
    /// other queues, and what that in turn made those queues do, until nothing is left.
    fn pass_on(&mut self, mut out: Outbox, mut source: Arc<str>, now: Millis) {
        let mut more: Vec<Arc<str>> = Vec::new();
        loop {
            self.pass_on_one(&out, &source, now, &mut more);
            out.clear();
            let next = loop {
                let Some(id) = more.pop() else {
                    break None;
                };
                if let Some(q) = self.queues.get_mut(&id) {
                    if !q.outbox_is_empty() {
                        q.take_outbox(&mut out);
                        break Some(id);
                    }
                }
            };
            match next {
                Some(id) => source = id,
                None => break,
            }
        }
        self.outbox = out;
    }

    /// [`Self::pass_on`] for the queue `id`, if its outbox holds anything.
    fn pass_on_from(&mut self, id: &str, now: Millis) {
        let Some(q) = self.queues.get_mut(id) else {
            return;
        };
        if q.outbox_is_empty() {
            return;
        }
        let mut out = std::mem::take(&mut self.outbox);
        q.take_outbox(&mut out);
        let source = q.id.clone();
        self.pass_on(out, source, now);
    }

    fn pass_on_one(
        &mut self,
        out: &Outbox,
        source: &Arc<str>,
        now: Millis,
        more: &mut Vec<Arc<str>>,
    ) {
        let Some((tag, scope)) = self.queues.get(source).map(|q| (q.tag(), q.scope())) else {
            return;
        };
        for &(agent, created) in &out.members {
            let key = member_key(scope, agent);
            if created {
                self.joined(agent, key, source, now, more);
            } else {
                self.left(agent, key, source);
            }
        }
        let phases = if self.shared_agents == 0 {
            &[][..]
        } else {
            &out.phases[..]
        };
        for op in phases {
            let key = member_key(scope, op.agent);
            let Some(queues) = self.members.get(&key).filter(|q| q.len() > 1) else {
                continue;
            };
            for other in queues.iter().filter(|&q| q != source) {
                let Some(q) = self.queues.get_mut(other) else {
                    continue;
                };
                if op.ts > q.clock() {
                    q.advance(now.max(op.ts), &self.settings, &mut self.resolutions);
                    collect_finished(q, &mut self.episodes, &mut self.intervals);
                }
                q.other_phase(tag, op, &self.settings);
                if !q.outbox_is_empty() {
                    more.push(other.clone());
                }
            }
        }
    }

    /// The queue `id` created an entry for the agent: it joins the agent's queues, and the
    /// entry is given the agent's engagements in the others.
    fn joined(
        &mut self,
        agent: AgentKey,
        key: MemberKey,
        id: &Arc<str>,
        now: Millis,
        more: &mut Vec<Arc<str>>,
    ) {
        if !self.queues.get(id).is_some_and(|q| q.has_agent(agent)) {
            return;
        }
        self.join(key, id);
        let Some(queues) = self.members.get(&key).filter(|q| q.len() > 1) else {
            return;
        };
        let mut phases = Vec::new();
        let mut from = Vec::new();
        let mut states = Vec::new();
        for other in queues.iter().filter(|&q| q != id) {
            if let Some(q) = self.queues.get(other) {
                let start = phases.len();
                q.own_phases(agent, &mut phases);
                from.push((q.tag(), start..phases.len()));
                q.all_states(agent, &mut states);
            }
        }
        if phases.is_empty() && states.is_empty() {
            return;
        }
        states.sort_unstable();
        states.dedup();
        let Some(q) = self.queues.get_mut(id) else {
            return;
        };
        let newest = phases
            .iter()
            .map(|op| op.ts)
            .chain(states.iter().map(|i| i.ts))
            .max()
            .unwrap_or(Millis::MIN);
        if newest > q.clock() {
            q.advance(now.max(newest), &self.settings, &mut self.resolutions);
            collect_finished(q, &mut self.episodes, &mut self.intervals);
        }
        for (tag, range) in from {
            for op in &phases[range] {
                q.other_phase(tag, op, &self.settings);
            }
        }
        q.add_all_states(agent, &states, &self.settings);
        if !q.outbox_is_empty() {
            more.push(id.clone());
        }
    }

    /// The queue `id` dropped its entry for the agent (unless it has made a new one since).
    fn left(&mut self, agent: AgentKey, key: MemberKey, id: &Arc<str>) {
        if self.queues.get(id).is_some_and(|q| q.has_agent(agent)) {
            return;
        }
        self.leave(key, id);
    }

    /// Checks each queue restored since the last event against the queues beside it: for each
    /// agent in both, what each holds of the other's engagements is made to match what the
    /// other holds now; engagements from queues this engine does not hold end. A no-op when
    /// they already agree, as after a restart that restores every queue.
    fn reconcile(&mut self) {
        if self.unreconciled.is_empty() {
            return;
        }
        let s = self.settings.clone();
        for id in std::mem::take(&mut self.unreconciled) {
            let Some(restored) = self.queues.get(&id) else {
                continue;
            };
            let (tag, scope) = (restored.tag(), restored.scope());
            let agents: Vec<AgentKey> = restored.agent_keys().collect();
            for agent in agents {
                let key = member_key(scope, agent);
                let others: Vec<Arc<str>> = self.members.get(&key).map_or_else(Vec::new, |q| {
                    q.iter().filter(|&q| *q != id).cloned().collect()
                });
                let mut held = Vec::new();
                for other in &others {
                    let (Some(r), Some(q)) = (self.queues.get(&id), self.queues.get(other)) else {
                        continue;
                    };
                    let theirs = q.engaged_at_end(agent, OWN);
                    let ours = r.engaged_at_end(agent, OWN);
                    let other_tag = q.tag();
                    held.push(other_tag);
                    if let Some(r) = self.queues.get_mut(&id) {
                        r.sync_other(agent, other_tag, &theirs, &s);
                    }
                    if let Some(q) = self.queues.get_mut(other) {
                        q.sync_other(agent, tag, &ours, &s);
                    }
                }
                if let Some(r) = self.queues.get_mut(&id) {
                    for gone in r.other_queues_of(agent) {
                        if !held.contains(&gone) {
                            r.sync_other(agent, gone, &[], &s);
                        }
                    }
                }
            }
        }
    }

    /// Counts an event that never reached the engine's state (undecodable).
    pub fn reject(&mut self, reason: RejectReason) {
        self.ledger.record(Outcome::Rejected(reason));
    }

    /// Moves every queue's clock to now (live mode calls this on a timer so that quiet queues
    /// decay and pending events resolve).
    pub fn tick(&mut self, wall: Millis) {
        let now = self.now(wall);
        self.reconcile();
        self.advance_all(now);
        self.count_resolutions();
    }

    /// Moves every queue's clock to now, then passes on what that made them do.
    fn advance_all(&mut self, now: Millis) {
        let mut changed = Vec::new();
        for q in self.queues.values_mut() {
            q.advance(now, &self.settings, &mut self.resolutions);
            collect_finished(q, &mut self.episodes, &mut self.intervals);
            if !q.outbox_is_empty() {
                changed.push(q.id.clone());
            }
        }
        changed.sort_unstable();
        for id in changed {
            self.pass_on_from(&id, now);
        }
    }

    /// End of input: every event still waiting for its call's offer is rejected.
    pub fn finish(&mut self) {
        self.reconcile();
        for q in self.queues.values_mut() {
            q.resolve_all_pending(&mut self.resolutions);
        }
        self.count_resolutions();
    }

    /// Pending events resolved since the last call (applied once their offer came, or
    /// rejected), with the origin given when they arrived.
    pub fn take_resolutions(&mut self) -> Vec<Resolution> {
        std::mem::take(&mut self.resolved)
    }

    /// A snapshot of every queue at now, sorted by queue id.
    pub fn snapshots(&mut self, wall: Millis) -> Vec<KpiSnapshot> {
        let now = self.now(wall);
        self.reconcile();
        self.advance_all(now);
        let mut queues: Vec<&QueueState> = self.queues.values().collect();
        queues.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let threads = threads.min(queues.len() / SNAPSHOTS_PER_THREAD).max(1);
        let mut out = snapshots_of(&queues, now, &self.settings, &mut self.scratch, threads);
        if !self.hold_reported {
            for (_, w) in out.iter_mut().flat_map(|s| &mut s.windows.0) {
                w.avg_hold_seconds = None;
            }
        }
        self.count_resolutions();
        out
    }

    /// Intervals the queues closed since the last call (each queue's in time order).
    pub fn take_intervals(&mut self) -> Vec<IntervalKpis> {
        let mut intervals = std::mem::take(&mut self.intervals);
        if !self.hold_reported {
            for i in &mut intervals {
                i.kpis.avg_hold_seconds = None;
            }
        }
        intervals
    }

    /// End of input at now: every queue closes its intervals up to now, the last one as far
    /// as it went (what the `interval` window of a snapshot at now shows).
    pub fn close_intervals(&mut self, wall: Millis) {
        let now = self.now(wall);
        self.advance_all(now);
        for q in self.queues.values_mut() {
            q.close_intervals(now, &self.settings);
            collect_finished(q, &mut self.episodes, &mut self.intervals);
        }
    }

    /// Surge episodes that ended since the last call, in the order they ended, with their
    /// queue id.
    pub fn take_episodes(&mut self) -> Vec<(Arc<str>, Episode)> {
        std::mem::take(&mut self.episodes)
    }

    /// The queues holding an entry for the agent, sorted by id: its memberships.
    pub fn agent_queues(&self, scope: u32, agent_id: &str) -> Vec<String> {
        self.members
            .get(&member_key(scope, agent_key(agent_id)))
            .map_or_else(Vec::new, |q| q.iter().map(|id| id.to_string()).collect())
    }

    pub fn totals(&self) -> Vec<(String, QueueTotals)> {
        let mut t: Vec<_> = self
            .queues
            .values()
            .map(|q| (q.id.to_string(), q.totals()))
            .collect();
        t.sort_by(|a, b| a.0.cmp(&b.0));
        t
    }

    pub fn queue_count(&self) -> usize {
        self.queues.len()
    }

    pub fn queue(&self, id: &str) -> Option<&QueueState> {
        self.queues.get(id)
    }

    /// Every index kept beside the state agrees with it: each queue's (see
    /// [`QueueState::indexes_agree`]) and the count of agents in two queues or more.
    #[cfg(test)]
    pub(super) fn indexes_agree(&self) -> bool {
        let shared = self.members.values().filter(|q| q.len() > 1).count();
        shared == self.shared_agents && self.queues.values().all(QueueState::indexes_agree)
    }

    /// Every queue id held, sorted.
    pub fn queue_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.queues.keys().map(|id| id.to_string()).collect();
        ids.sort_unstable();
        ids
    }

    /// One queue's complete state as bytes (see [`checkpoint`](super::checkpoint) for the
    /// format), stamped with `position`: the caller's input position the state reflects, i.e.
    /// the last event applied. `None` if the engine holds no such queue.
    pub fn checkpoint_queue(&self, queue_id: &str, position: u64) -> Option<Vec<u8>> {
        let queue = self.queues.get(queue_id)?;
        Some(checkpoint::encode(queue, &self.settings, position))
    }

    /// Restores a queue from a checkpoint, replacing any queue of that id, and returns the
    /// queue id and the position it was written with: the caller applies the events after that
    /// position next. On error the engine is unchanged.
    ///
    /// Events the checkpoint holds for their call's offer are counted in this engine's ledger
    /// as consumed and pending, so that the ledger balances when they resolve here.
    pub fn restore_queue(
        &mut self,
        bytes: &[u8],
        scope: u32,
    ) -> Result<(String, u64), CheckpointError> {
        let (mut queue, position) = checkpoint::decode(bytes, &self.settings)?;
        queue.set_surge_follows_events(self.mode == TimeMode::EventTime);
        queue.set_reports_intervals(self.report_intervals);
        queue.set_scope(scope);
        let replaces = self.queues.contains_key(&queue.id);
        if !replaces && self.queues.len() >= self.settings.max_queues {
            return Err(CheckpointError::QueueLimit {
                queue_id: queue.id.to_string(),
                max_queues: self.settings.max_queues,
            });
        }
        if self.mode == TimeMode::EventTime {
            // The restored queue has seen event time up to its clock; without this, events
            // after the checkpoint would be applied at an earlier now than without the restart.
            self.newest_event = self.newest_event.max(queue.clock());
        }
        self.ledger.carry_in_pending(queue.pending_events());
        let id = queue.id.clone();
        let agents: Vec<AgentKey> = queue.agent_keys().collect();
        if let Some(old) = self.queues.insert(id.clone(), queue) {
            self.ledger.hand_off_pending(old.pending_events());
            let (tag, old_scope) = (old.tag(), old.scope());
            for agent in old.agent_keys() {
                let key = member_key(old_scope, agent);
                self.leave(key, &id);
                if old_scope == scope && agents.contains(&agent) {
                    continue;
                }
                // Not in the restored state: what the replaced queue passed on ends.
                let others = self.members.get(&key).cloned().unwrap_or_default();
                for other in others {
                    if let Some(q) = self.queues.get_mut(&other) {
                        q.sync_other(agent, tag, &[], &self.settings);
                    }
                }
            }
        }
        for agent in agents {
            self.join(member_key(scope, agent), &id);
        }
        if !self.unreconciled.contains(&id) {
            self.unreconciled.push(id.clone());
        }
        Ok((id.to_string(), position))
    }

    /// Takes the queue `id` out of the agent's queues.
    fn leave(&mut self, key: MemberKey, id: &Arc<str>) {
        if let Some(queues) = self.members.get_mut(&key) {
            if let Ok(at) = queues.binary_search(id) {
                queues.remove(at);
                if queues.len() == 1 {
                    self.shared_agents -= 1;
                }
            }
            if queues.is_empty() {
                self.members.remove(&key);
            }
        }
    }

    /// Puts the queue `id` among the agent's queues.
    fn join(&mut self, key: MemberKey, id: &Arc<str>) {
        let queues = self.members.entry(key).or_insert_with(one_queue);
        if let Err(at) = queues.binary_search(id) {
            queues.insert(at, id.clone());
            if queues.len() == 2 {
                self.shared_agents += 1;
            }
        }
    }

    /// Drops a queue's state (its partition moved to another instance, which restores it from
    /// a checkpoint). Events it held for their call's offer leave with it: the ledger counts
    /// them as handed off. False if there was no such queue.
    ///
    /// The queue's agents leave it; in their other queues here, the engagements it had passed
    /// on end (at the point each queue can still take them).
    pub fn remove_queue(&mut self, queue_id: &str) -> bool {
        let Some(queue) = self.queues.remove(queue_id) else {
            return false;
        };
        self.ledger.hand_off_pending(queue.pending_events());
        self.unreconciled.retain(|q| **q != *queue_id);
        let (tag, scope) = (queue.tag(), queue.scope());
        for agent in queue.agent_keys() {
            let key = member_key(scope, agent);
            self.leave(key, &queue.id);
            let others = self.members.get(&key).cloned().unwrap_or_default();
            for other in others {
                if let Some(q) = self.queues.get_mut(&other) {
                    q.sync_other(agent, tag, &[], &self.settings);
                }
            }
        }
        true
    }
}

/// Most agents are in one queue: room for one, not the four a first push would reserve.
fn one_queue() -> Vec<Arc<str>> {
    Vec::with_capacity(1)
}

fn collect_finished(
    queue: &mut QueueState,
    episodes: &mut Vec<(Arc<str>, Episode)>,
    intervals: &mut Vec<IntervalKpis>,
) {
    if let Some(ended) = queue.take_finished_episodes() {
        episodes.extend(ended.into_iter().map(|e| (queue.id.clone(), e)));
    }
    if let Some(closed) = queue.take_finished_intervals() {
        intervals.extend(closed);
    }
}

/// The queues' snapshots at `now`, in their order, computed on `threads` threads: reading a
/// snapshot does not change a queue, so the queues are shared out among the cores (each
/// thread with its own scratch space) while the engine, and every event that arrives
/// meanwhile, waits for the tick.
pub(super) fn snapshots_of(
    queues: &[&QueueState],
    now: Millis,
    settings: &EngineSettings,
    scratch: &mut Vec<u32>,
    threads: usize,
) -> Vec<KpiSnapshot> {
    let mut parts = queues.chunks(queues.len().div_ceil(threads.max(1)).max(1));
    let own = parts.next().unwrap_or_default();
    std::thread::scope(|scope| {
        let others: Vec<_> = parts
            .map(|part| {
                scope.spawn(move || {
                    let mut scratch = Vec::new();
                    let snapshots = part.iter().map(|q| q.snapshot(now, settings, &mut scratch));
                    snapshots.collect::<Vec<_>>()
                })
            })
            .collect();
        let mut out = Vec::with_capacity(queues.len());
        out.extend(own.iter().map(|q| q.snapshot(now, settings, scratch)));
        for other in others {
            out.extend(
                other
                    .join()
                    .unwrap_or_else(|p| std::panic::resume_unwind(p)),
            );
        }
        out
    })
}
