//! Per-queue state and the engine that applies events to it.
//!
//! # Design
//!
//! * **One writer.** An [`Engine`] is a plain struct driven by one task: it applies events and,
//!   on a timer, computes [`KpiSnapshot`](crate::kpi::KpiSnapshot)s (the queues shared out among
//!   the cores for that, since it only reads them). It takes no lock at all.
//! * **Readers never block it.** Results leave the writer as immutable snapshots published
//!   into the [`SnapshotRegistry`]: a `DashMap` from queue id to an `ArcSwap` slot. Publishing
//!   is an atomic pointer swap; a reader (a scrape, the Kafka publisher, the API) loads an `Arc`
//!   and reads at leisure. The map's shard lock is only taken for writing when a queue is first
//!   seen, and readers hold shard read guards only long enough to clone an `Arc`. Event
//!   counters are relaxed atomics in the [`Ledger`](crate::ledger::Ledger).
//! * **Exact out-of-order handling.** Calls and agents keep their recent events sorted by event
//!   time and re-derive their contributions when one arrives; the window accumulators receive
//!   the difference (see [`window`]). Within the allowed lateness, arrival order never changes
//!   a KPI.
//! * **Restartable.** A queue's complete state can be written as a [`checkpoint`] with the
//!   input position it reflects, and restored in another engine (after a restart, or on the
//!   instance a partition moved to), which then applies the events after that position.
//! * **One agent across queues.** Each queue keeps its own entry per agent; the engine passes an
//!   agent's call phases on to its other queues (busy other there) and applies an
//!   `agent_state` without a queue to each of them (see [`Engine`]'s module documentation).
//! * **Bounded memory.** Queues (`max_queues`), agents, calls and pending events per queue,
//!   events per call and remembered ids are capped; calls are dropped once settled or
//!   expired. What the caps allow at most is [`EngineSettings::worst_case_memory`].

mod agent;
mod call;
pub(crate) mod checkpoint;
mod dedup;
mod due;
mod engine;
mod forms;
mod memory;
mod queue;
mod registry;
mod settings;
pub(crate) mod window;

pub use checkpoint::{settings_fingerprint, CheckpointError};
pub use dedup::id_hash;
pub use engine::{Engine, TimeMode, ORIGIN_SCOPE_SHIFT};
pub use memory::{QueueMemory, WorstCase};
pub use queue::{QueueState, Resolution};
pub use registry::SnapshotRegistry;
pub use settings::{EngineSettings, SlidingWindow, BUCKET_MS, MAX_AGENTS_PER_QUEUE};

#[cfg(test)]
mod tests;
