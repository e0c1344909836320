//! The most memory a configuration lets the engine hold: every queue at every cap at once.
//! Printed at start-up and checked against `engine.memory_budget`.
//!
//! Sizes come from the types (`size_of`), so they follow the code; `benches/memory.rs`
//! (`cargo bench --bench memory`) measures what is really allocated with the defaults (62.6
//! KiB per queue, 355.5 B per in-flight call of three events) and stays below these figures.
//! The bound is meant to be safe rather than tight: a hash table is counted just after it
//! grew (each entry and its control byte take 16/7 of their size), and every call is counted
//! with as many events as it may take.

use std::mem::size_of;

use super::agent::{Agent, Input};
use super::call::{Call, CallEvent, CallKey, Leg, ENDING_ROOM};
use super::queue::{ring_span, wait_histogram, QueueState};
use super::settings::EngineSettings;
use super::window::BucketRing;
use crate::event::Millis;

/// Bytes of one entry of a hash table (`hashbrown`) of `entry` bytes, just after it grew.
fn hashed(entry: usize) -> u64 {
    ((entry + 1) * 16).div_ceil(7) as u64
}

/// The agent's own inputs, timeline and engagements are short lists that settle every 10 s;
/// this many of each are counted per agent.
const AGENT_LIST_ITEMS: usize = 8;

/// What each part of one queue may take at the caps, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueMemory {
    /// The bucket ring of the sliding windows (and surge rule), the longest of which sets it.
    pub windows: u64,
    /// The queue itself, its periods and its wait histogram.
    pub fixed: u64,
    /// `dedup_max_ids_per_queue` remembered event ids.
    pub ids: u64,
    /// `max_agents_per_queue` agents.
    pub agents: u64,
    /// `max_calls_per_queue` calls, each with every event it may take.
    pub calls: u64,
    /// `max_pending_per_queue` events held for their offer (their origins; the events are in
    /// the calls).
    pub pending: u64,
}

impl QueueMemory {
    pub fn total(&self) -> u64 {
        self.windows + self.fixed + self.ids + self.agents + self.calls + self.pending
    }
}

/// The worst case of a configuration: `queues` queues of `per_queue` each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorstCase {
    pub queues: u64,
    pub per_queue: QueueMemory,
}

impl WorstCase {
    pub fn total(&self) -> u64 {
        self.queues.saturating_mul(self.per_queue.total())
    }
}

/// Bytes per remembered event id: its (time, hash) in the expiry order and its hash in the
/// lookup set, whose 8 B slots are at least 3/8 full (just after it grew).
const ID_BYTES: u64 = (size_of::<(Millis, u64)>() + (8 * 8usize).div_ceil(3)) as u64;

impl EngineSettings {
    /// The most the engine may hold under these settings (see the module documentation).
    pub fn worst_case_memory(&self) -> WorstCase {
        let n = |cap: usize| cap as u64;
        let histogram = wait_histogram().distinct_values() * size_of::<u32>();
        let agent = hashed(size_of::<(u64, Agent)>())
            + n(AGENT_LIST_ITEMS * (size_of::<Input>() + 2 * size_of::<(Millis, u64, u64)>()));
        let events = self.max_events_per_call + ENDING_ROOM;
        let call = hashed(size_of::<(CallKey, Call)>())
            + n(size_of::<Leg>())
            + n(events * size_of::<CallEvent>())
            // Its places among the calls waiting and the calls due (B-tree entries, with room).
            + n(2 * 2 * size_of::<(Millis, CallKey)>());
        let per_queue = QueueMemory {
            windows: BucketRing::heap_bytes(ring_span(self)),
            fixed: n(size_of::<QueueState>() + histogram),
            ids: n(self.dedup_max_ids_per_queue).saturating_mul(ID_BYTES),
            agents: n(self.max_agents_per_queue).saturating_mul(agent),
            calls: n(self.max_calls_per_queue).saturating_mul(call),
            pending: n(self.max_pending_per_queue).saturating_mul(n(size_of::<u64>())),
        };
        WorstCase {
            queues: n(self.max_queues),
            per_queue,
        }
    }
}
