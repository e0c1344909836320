//! What became of every consumed event: the ledger `consumed = applied + duplicate + late +
//! rejected + handed_off (+ pending, transiently)`.
//!
//! Pending events move between engines with their queue's checkpoint: the engine a queue
//! leaves counts them as handed off, the one restoring it as consumed (and pending) there.
//!
//! Rejections are a closed set of cheap `Copy` reasons so the hot path counts them without
//! allocating or logging; the reason's `label()` is the Prometheus `reason` label value.

use std::sync::atomic::{AtomicU64, Ordering};

/// Why an event was not applied. Every variant is a bounded-cardinality label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RejectReason {
    /// Not parseable as the configured format at all.
    Malformed,
    /// `type` is not one of the contract's event types.
    UnknownType,
    /// `state` of an agent_state event is not logged_out / ready / not_ready.
    UnknownAgentState,
    MissingEventId,
    MissingTimestamp,
    MissingQueueId,
    MissingCallId,
    MissingAgentId,
    MissingTargetQueue,
    MissingState,
    /// Timestamp zero, negative or before 2000-01-01.
    InvalidTimestamp,
    /// Timestamp further ahead of the clock than the allowed skew.
    FutureTimestamp,
    /// A call event whose call was never offered in this queue within the allowed lateness.
    NoOffer,
    /// The event is timed before the step that must precede it (e.g. answered before offered).
    NegativeDuration,
    /// The step cannot follow what the call already did (answered twice, abandoned after answer…).
    OutOfSequence,
    /// More events for one call than the engine keeps per call.
    CallEventLimit,
    /// A new queue id beyond `max_queues`.
    QueueLimit,
    /// A new agent id beyond `max_agents_per_queue`.
    AgentLimit,
    /// The queue's events arrive on more than one Kafka partition.
    PartitionMismatch,
    /// An `agent_state` without `queue_id` for an agent the engine holds in no queue.
    UnknownAgent,
    /// A line the input ends in the middle of (no line end after it): it may have been cut
    /// short while being written, and a cut number would still parse.
    Truncated,
    /// An id or reason longer than `engine.max_id_bytes`.
    IdTooLong,
    /// An id or reason with a control character (a line end, a tab, ESC…).
    IdControlCharacter,
    /// A new call beyond `max_calls_per_queue`.
    CallLimit,
    /// An event that would wait for its call's offer beyond `max_pending_per_queue`.
    PendingLimit,
}

impl RejectReason {
    pub const ALL: [RejectReason; 25] = [
        RejectReason::Malformed,
        RejectReason::UnknownType,
        RejectReason::UnknownAgentState,
        RejectReason::MissingEventId,
        RejectReason::MissingTimestamp,
        RejectReason::MissingQueueId,
        RejectReason::MissingCallId,
        RejectReason::MissingAgentId,
        RejectReason::MissingTargetQueue,
        RejectReason::MissingState,
        RejectReason::InvalidTimestamp,
        RejectReason::FutureTimestamp,
        RejectReason::NoOffer,
        RejectReason::NegativeDuration,
        RejectReason::OutOfSequence,
        RejectReason::CallEventLimit,
        RejectReason::QueueLimit,
        RejectReason::AgentLimit,
        RejectReason::PartitionMismatch,
        RejectReason::UnknownAgent,
        RejectReason::Truncated,
        RejectReason::IdTooLong,
        RejectReason::IdControlCharacter,
        RejectReason::CallLimit,
        RejectReason::PendingLimit,
    ];

    pub fn label(self) -> &'static str {
        match self {
            RejectReason::Malformed => "malformed",
            RejectReason::UnknownType => "unknown_type",
            RejectReason::UnknownAgentState => "unknown_agent_state",
            RejectReason::MissingEventId => "missing_event_id",
            RejectReason::MissingTimestamp => "missing_ts",
            RejectReason::MissingQueueId => "missing_queue_id",
            RejectReason::MissingCallId => "missing_call_id",
            RejectReason::MissingAgentId => "missing_agent_id",
            RejectReason::MissingTargetQueue => "missing_target_queue_id",
            RejectReason::MissingState => "missing_state",
            RejectReason::InvalidTimestamp => "invalid_ts",
            RejectReason::FutureTimestamp => "future_ts",
            RejectReason::NoOffer => "no_offer",
            RejectReason::NegativeDuration => "negative_duration",
            RejectReason::OutOfSequence => "out_of_sequence",
            RejectReason::CallEventLimit => "call_event_limit",
            RejectReason::QueueLimit => "queue_limit",
            RejectReason::AgentLimit => "agent_limit",
            RejectReason::PartitionMismatch => "partition_mismatch",
            RejectReason::UnknownAgent => "unknown_agent",
            RejectReason::Truncated => "truncated",
            RejectReason::IdTooLong => "id_too_long",
            RejectReason::IdControlCharacter => "id_control_character",
            RejectReason::CallLimit => "call_limit",
            RejectReason::PendingLimit => "pending_limit",
        }
    }

    /// One sentence for a person reading a replay report or a dead-letter header.
    pub fn explain(self) -> &'static str {
        match self {
            RejectReason::Malformed => "payload is not a valid event in the configured format",
            RejectReason::UnknownType => "`type` is not a known CTI event type",
            RejectReason::UnknownAgentState => "`state` must be logged_out, ready or not_ready",
            RejectReason::MissingEventId => "`event_id` is required",
            RejectReason::MissingTimestamp => "`ts` (Unix milliseconds) is required",
            RejectReason::MissingQueueId => "`queue_id` is required",
            RejectReason::MissingCallId => "`call_id` is required for call events",
            RejectReason::MissingAgentId => "`agent_id` is required for this event type",
            RejectReason::MissingTargetQueue => "`target_queue_id` is required for transferred",
            RejectReason::MissingState => "`state` is required for agent_state",
            RejectReason::InvalidTimestamp => "`ts` is before 2000-01-01; is it in seconds?",
            RejectReason::FutureTimestamp => {
                "`ts` is ahead of the clock by more than max_future_skew"
            }
            RejectReason::NoOffer => "no `offered` for this call in this queue within the lateness",
            RejectReason::NegativeDuration => "event is timed before the step it must follow",
            RejectReason::OutOfSequence => "step cannot follow what the call already did",
            RejectReason::CallEventLimit => "call has more events than max_events_per_call",
            RejectReason::QueueLimit => "new queue beyond max_queues",
            RejectReason::AgentLimit => "new agent beyond max_agents_per_queue",
            RejectReason::PartitionMismatch => {
                "queue's events arrive on several partitions; key a queue's events by one key"
            }
            RejectReason::UnknownAgent => {
                "agent_state without queue_id, but the agent is logged in to no queue here"
            }
            RejectReason::Truncated => {
                "the input ends in this line (no line end): it may be cut short, so it is not read"
            }
            RejectReason::IdTooLong => "an id or reason is longer than engine.max_id_bytes",
            RejectReason::IdControlCharacter => {
                "an id or reason has a control character (line end, tab, ESC…)"
            }
            RejectReason::CallLimit => "new call beyond max_calls_per_queue",
            RejectReason::PendingLimit => {
                "event would wait for its call's offer beyond max_pending_per_queue"
            }
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// What happened to one event at the moment it was offered to the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Applied,
    /// Held until its call's `offered` arrives (or the lateness runs out, then rejected).
    Pending,
    Duplicate,
    Late,
    Rejected(RejectReason),
}

impl Outcome {
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Applied => "applied",
            Outcome::Pending => "pending",
            Outcome::Duplicate => "duplicate",
            Outcome::Late => "late",
            Outcome::Rejected(_) => "rejected",
        }
    }
}

/// Monotonic counters of event outcomes, written by the single ingest thread and read by
/// exporters without locks (relaxed atomics: each counter is independently monotonic).
#[derive(Debug, Default)]
pub struct Ledger {
    consumed: AtomicU64,
    applied: AtomicU64,
    duplicate: AtomicU64,
    late: AtomicU64,
    pending: AtomicU64,
    handed_off: AtomicU64,
    rejected: [AtomicU64; RejectReason::ALL.len()],
}

/// A consistent-enough copy of the ledger for reports and assertions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LedgerCounts {
    pub consumed: u64,
    pub applied: u64,
    pub duplicate: u64,
    pub late: u64,
    pub pending: u64,
    /// Pending events that left with their queue's state (see [`Ledger::hand_off_pending`]).
    pub handed_off: u64,
    pub rejected: u64,
}

impl LedgerCounts {
    /// The ledger identity; holds exactly once pending events are resolved.
    pub fn balances(&self) -> bool {
        self.consumed
            == self.applied
                + self.duplicate
                + self.late
                + self.rejected
                + self.pending
                + self.handed_off
    }
}

impl Ledger {
    /// Records a fresh event's outcome.
    pub fn record(&self, outcome: Outcome) {
        self.consumed.fetch_add(1, Ordering::Relaxed);
        self.count(outcome);
    }

    /// A pending event resolved later (applied once its offer arrived, or rejected).
    pub fn resolve_pending(&self, outcome: Outcome) {
        self.pending.fetch_sub(1, Ordering::Relaxed);
        self.count(outcome);
    }

    /// Pending events that arrive with a restored queue: another run consumed them, this one
    /// holds them now and will resolve them.
    pub fn carry_in_pending(&self, n: u64) {
        self.consumed.fetch_add(n, Ordering::Relaxed);
        self.pending.fetch_add(n, Ordering::Relaxed);
    }

    /// Pending events that leave with a queue's state, to be resolved wherever it is restored.
    pub fn hand_off_pending(&self, n: u64) {
        self.pending.fetch_sub(n, Ordering::Relaxed);
        self.handed_off.fetch_add(n, Ordering::Relaxed);
    }

    fn count(&self, outcome: Outcome) {
        let counter = match outcome {
            Outcome::Applied => &self.applied,
            Outcome::Pending => &self.pending,
            Outcome::Duplicate => &self.duplicate,
            Outcome::Late => &self.late,
            Outcome::Rejected(reason) => &self.rejected[reason.index()],
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn rejected_by(&self, reason: RejectReason) -> u64 {
        self.rejected[reason.index()].load(Ordering::Relaxed)
    }

    pub fn counts(&self) -> LedgerCounts {
        LedgerCounts {
            consumed: self.consumed.load(Ordering::Relaxed),
            applied: self.applied.load(Ordering::Relaxed),
            duplicate: self.duplicate.load(Ordering::Relaxed),
            late: self.late.load(Ordering::Relaxed),
            pending: self.pending.load(Ordering::Relaxed),
            handed_off: self.handed_off.load(Ordering::Relaxed),
            rejected: self
                .rejected
                .iter()
                .map(|c| c.load(Ordering::Relaxed))
                .sum(),
        }
    }
}

#[cfg(test)]
mod tests;
