//! The engine: routes events to their queue, keeps the ledger, and produces snapshots.
//!
//! It is a plain single-threaded struct; the caller owns it (one ingest task in live mode, the
//! replay loop in replay) and passes the time in. See the [`crate::state`] docs for how readers
//! get at its results without ever blocking it.

use std::collections::HashMap;
use std::sync::Arc;

use hdrhistogram::Histogram;

use crate::event::{CtiEvent, Millis};
use crate::kpi::surge::Episode;
use crate::kpi::{KpiSnapshot, QueueTotals};
use crate::ledger::{Ledger, Outcome, RejectReason};

use super::checkpoint::{self, CheckpointError};
use super::queue::{wait_histogram, QueueEvent, QueueState, Resolution};
use super::settings::EngineSettings;

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
    queues: HashMap<Arc<str>, QueueState>,
    ledger: Arc<Ledger>,
    /// Filled by the queues while they work.
    resolutions: Vec<Resolution>,
    /// Counted in the ledger, waiting for the caller to take them.
    resolved: Vec<Resolution>,
    newest_event: Millis,
    scratch: Histogram<u32>,
    /// Surge episodes that ended, with their queue, until the caller takes them.
    episodes: Vec<(Arc<str>, Episode)>,
}

impl Engine {
    pub fn new(settings: Arc<EngineSettings>, mode: TimeMode) -> Engine {
        Engine {
            settings,
            mode,
            queues: HashMap::new(),
            ledger: Arc::new(Ledger::default()),
            resolutions: Vec::new(),
            resolved: Vec::new(),
            newest_event: Millis::MIN,
            scratch: wait_histogram(),
            episodes: Vec::new(),
        }
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
        if self.mode == TimeMode::EventTime {
            self.newest_event = self.newest_event.max(event.ts);
        }
        let now = self.now(wall);
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
                self.queues.entry(id).or_insert(q)
            }
        };
        let ev = QueueEvent {
            event_id: &event.event_id,
            ts: event.ts,
            body: &event.body,
        };
        let outcome = queue.apply(ev, origin, now, &self.settings, &mut self.resolutions);
        collect_episodes(queue, &mut self.episodes);
        outcome
    }

    /// Counts an event that never reached the engine's state (undecodable).
    pub fn reject(&mut self, reason: RejectReason) {
        self.ledger.record(Outcome::Rejected(reason));
    }

    /// Moves every queue's clock to now (live mode calls this on a timer so that quiet queues
    /// decay and pending events resolve).
    pub fn tick(&mut self, wall: Millis) {
        let now = self.now(wall);
        for q in self.queues.values_mut() {
            q.advance(now, &self.settings, &mut self.resolutions);
            collect_episodes(q, &mut self.episodes);
        }
        self.count_resolutions();
    }

    /// End of input: every event still waiting for its call's offer is rejected.
    pub fn finish(&mut self) {
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
        let mut ids: Vec<Arc<str>> = self.queues.keys().cloned().collect();
        ids.sort();
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(q) = self.queues.get_mut(&id) {
                q.advance(now, &self.settings, &mut self.resolutions);
                collect_episodes(q, &mut self.episodes);
                out.push(q.snapshot(now, &self.settings, &mut self.scratch));
            }
        }
        self.count_resolutions();
        out
    }

    /// Surge episodes that ended since the last call, in the order they ended, with their
    /// queue id.
    pub fn take_episodes(&mut self) -> Vec<(Arc<str>, Episode)> {
        std::mem::take(&mut self.episodes)
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
    pub fn restore_queue(&mut self, bytes: &[u8]) -> Result<(String, u64), CheckpointError> {
        let (mut queue, position) = checkpoint::decode(bytes, &self.settings)?;
        queue.set_surge_follows_events(self.mode == TimeMode::EventTime);
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
        let id = queue.id.to_string();
        if let Some(old) = self.queues.insert(queue.id.clone(), queue) {
            self.ledger.hand_off_pending(old.pending_events());
        }
        Ok((id, position))
    }

    /// Drops a queue's state (its partition moved to another instance, which restores it from
    /// a checkpoint). Events it held for their call's offer leave with it: the ledger counts
    /// them as handed off. False if there was no such queue.
    pub fn remove_queue(&mut self, queue_id: &str) -> bool {
        match self.queues.remove(queue_id) {
            Some(queue) => {
                self.ledger.hand_off_pending(queue.pending_events());
                true
            }
            None => false,
        }
    }
}

fn collect_episodes(queue: &mut QueueState, into: &mut Vec<(Arc<str>, Episode)>) {
    if let Some(ended) = queue.take_finished_episodes() {
        into.extend(ended.into_iter().map(|e| (queue.id.clone(), e)));
    }
}
