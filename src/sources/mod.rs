//! Where events come from, one file per source, all behind [`Source`]:
//!
//! - [`file`]: a recorded file or standard input (`replay`), one event per JSON line or an
//!   Asterisk `queue_log` (see [`LineFormat`]).
//! - [`follow`]: a file still being written, followed across rotations (`tail`).
//! - [`sim`]: the seeded simulator, releasing each event when the demo clock reaches its time
//!   (`demo`).
//! - [`kafka`]: a consumer-group member whose partitions start where their checkpoints say
//!   (`run`).
//!
//! A source hands the pipeline [`Input`]s: events (encoded, or already decoded) with their
//! [`Origin`], and the partitions it starts or stops owning. The pipeline does everything
//! else — decode, apply, reject, publish — the same way for every source.
//!
//! A source of lines reads them through [`Lines`], whichever way it gets them (a file, a
//! followed file, Kafka records): JSON lines go on encoded, for the pipeline to decode; an
//! Asterisk queue_log line is translated here (it can be several events, or none, and its
//! meaning depends on the lines before it) into decoded events, rejections, ignored lines and
//! restarts, each with the line's origin. A replayed file's JSON lines are decoded on a
//! thread of their own instead ([`file::FileSource::decode_ahead`]), so that a replay uses a
//! second core.

pub mod file;
pub mod follow;
pub(crate) mod kafka;
pub(crate) mod sim;

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Instant;

use crate::decode::asterisk::{LineKind, QueueLogError, QueueLogSettings, Translated, Translator};
use crate::decode::Format;
use crate::event::{CtiEvent, Millis};
use crate::ledger::RejectReason;

/// Where an event came from: a partition of its source and its position there (a Kafka offset,
/// a file's line number, the simulator's sequence number).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Origin {
    pub partition: i32,
    pub position: i64,
}

/// Bits of [`Origin::pack`] that hold the position: 2^44 positions per partition. The
/// partition above them is the engine's scope of agents across queues.
const POSITION_BITS: u32 = crate::state::ORIGIN_SCOPE_SHIFT;

impl Origin {
    /// The engine's opaque `u64` origin: the partition in the high bits, the position below.
    pub fn pack(self) -> u64 {
        (self.partition as u64) << POSITION_BITS
            | (self.position as u64 & ((1 << POSITION_BITS) - 1))
    }

    pub fn unpack(origin: u64) -> Origin {
        Origin {
            partition: (origin >> POSITION_BITS) as i32,
            position: (origin & ((1 << POSITION_BITS) - 1)) as i64,
        }
    }
}

/// One thing a source hands the pipeline.
pub enum Input<'a> {
    /// An event as its producer wrote it, in the source's [`Source::format`].
    Encoded {
        origin: Origin,
        key: Option<&'a [u8]>,
        payload: &'a [u8],
        /// When it was received, for the receipt-to-state latency; `None` where that means
        /// nothing (a file).
        received: Option<Instant>,
    },
    /// An event the source decoded or made itself (a file's JSON lines decoded ahead, an
    /// Asterisk queue_log line translated, the simulator).
    Decoded {
        origin: Origin,
        event: &'a CtiEvent,
        /// The event as received, for a rejection's dead letter or report; empty when there
        /// is none of its own (made by the simulator, one of a queue_log line's events).
        payload: &'a [u8],
        received: Option<Instant>,
    },
    /// A line with nothing on it: counted, never an event.
    Blank,
    /// A payload the source decoded itself and could not use, with why.
    Rejected {
        origin: Origin,
        payload: &'a [u8],
        reason: RejectReason,
        detail: &'a str,
    },
    /// A line the source recognised as holding no event (an Asterisk `CONFIGRELOAD`, an
    /// outbound call): counted by `reason`, never an event (so not in the event ledger).
    Ignored {
        origin: Origin,
        reason: &'static str,
    },
    /// The ACD behind the source restarted at `at` (Asterisk's `QUEUESTART`): calls of the
    /// partition's queues still in progress then cannot end any more.
    Restarted { origin: Origin, at: Millis },
    /// The source now owns these partitions.
    Assigned(Vec<Assignment>),
    /// The source no longer owns these partitions: their queues leave this instance.
    Revoked(Vec<i32>),
    /// The partition's history has been read: what comes next is live. For a source that
    /// cannot tell ahead where the present starts (the simulator's warm-up).
    CaughtUp(i32),
}

/// A partition the source starts reading, and how to rebuild its state.
#[derive(Debug, Clone)]
pub struct Assignment {
    pub partition: i32,
    /// Position of the first event that will be read.
    pub start: i64,
    /// The partition has caught up (its KPIs mean something) once read up to here.
    pub caught_up_at: i64,
    /// Checkpoints to restore first: queue id, the position its queue resumes at (earlier
    /// events are already in it), the checkpoint's bytes.
    pub restore: Vec<(String, i64, Vec<u8>)>,
    pub since: Instant,
}

impl Assignment {
    /// A partition read from its start, caught up at [`Input::CaughtUp`].
    pub fn from_start(partition: i32) -> Assignment {
        Assignment {
            partition,
            start: 0,
            caught_up_at: i64::MAX,
            restore: Vec::new(),
            since: Instant::now(),
        }
    }
}

/// What a source that can stall or lag says about itself, for the health alerts and metrics.
#[derive(Debug, Clone, Default)]
pub struct SourceStatus {
    /// The source's server is reachable.
    pub up: bool,
    /// Events not yet read, per partition.
    pub lag: BTreeMap<i32, i64>,
    /// When `lag` was measured (librdkafka reports it once a second): a figure from before a
    /// partition caught up says nothing about it since.
    pub lag_at: Option<Instant>,
    /// Partition assignments and revocations so far.
    pub rebalances: u64,
}

/// An event source. The pipeline waits on [`Source::wait`] (together with its timers and the
/// shutdown signal) and then takes what is available with [`Source::drain`], so that a busy
/// source is read in batches without an await per event.
pub trait Source {
    /// The format of [`Input::Encoded`] payloads.
    fn format(&self) -> Format;

    /// Name of the source for dead letters and logs (a topic, a file).
    fn name(&self) -> &str;

    /// Waits until input is available (`true`) or the source has ended (`false`). Must be
    /// cancel-safe: the pipeline drops it when a timer or shutdown comes first.
    fn wait(&mut self) -> impl Future<Output = bool>;

    /// Hands at most `max` inputs that are available now to `each`, without waiting.
    fn drain(&mut self, max: usize, each: &mut dyn FnMut(Input<'_>));

    /// `None` for a source that cannot stall or lag (a file, the simulator).
    fn status(&self) -> Option<SourceStatus> {
        None
    }

    /// Whether the source reports holds. Asterisk's queue_log does not: a call without a
    /// hold there is not known to have had none, so the average hold is left absent.
    fn reports_hold(&self) -> bool {
        true
    }

    /// Stops taking new input: [`Source::wait`] turns `false` once what was already received
    /// has been drained.
    fn stop(&mut self) {}

    /// The graceful end, after the final publish: say how far the source was read.
    fn finish(&mut self) {}
}

/// What a source of lines holds in them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LineFormat {
    /// One event of the contract per line, as JSON (`acdstream simulate` writes these).
    #[default]
    Json,
    /// Asterisk's `queue_log` (`/var/log/asterisk/queue_log`).
    AsteriskQueueLog,
}

/// How a source of lines reads them (see the module documentation).
pub(crate) enum Lines {
    Json,
    QueueLog {
        translator: Box<Translator>,
        /// What the translator made of the current line (kept for its allocation).
        out: Vec<Translated>,
    },
}

impl Lines {
    pub(crate) fn new(format: LineFormat, settings: QueueLogSettings) -> Lines {
        match format {
            LineFormat::Json => Lines::Json,
            LineFormat::AsteriskQueueLog => Lines::QueueLog {
                translator: Box::new(Translator::new(settings)),
                out: Vec::new(),
            },
        }
    }

    /// The format [`Input::Encoded`] payloads are in.
    pub(crate) fn format(&self) -> Format {
        Format::Json
    }

    pub(crate) fn reports_hold(&self) -> bool {
        matches!(self, Lines::Json)
    }

    /// Hands what one line holds to `each`. `ended` says the line had its line end: a
    /// queue_log line the input stops in the middle of may be cut short and is not read.
    pub(crate) fn line(
        &mut self,
        origin: Origin,
        bytes: &[u8],
        ended: bool,
        each: &mut dyn FnMut(Input<'_>),
    ) {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            each(Input::Blank);
            return;
        }
        let (translator, out) = match self {
            Lines::Json => {
                each(Input::Encoded {
                    origin,
                    key: None,
                    payload: bytes,
                    received: None,
                });
                return;
            }
            Lines::QueueLog { translator, out } => (translator, out),
        };
        let kind = if ended {
            translator.line(bytes, out)
        } else {
            Err(QueueLogError::Truncated)
        };
        for translated in out.drain(..) {
            match translated {
                Translated::Event(event) => each(Input::Decoded {
                    origin,
                    event: &event,
                    payload: &[],
                    received: None,
                }),
                Translated::Restart { at } => each(Input::Restarted { origin, at }),
            }
        }
        match kind {
            Ok(LineKind::Translated) => {}
            Ok(LineKind::Ignored(why)) => each(Input::Ignored {
                origin,
                reason: why.label(),
            }),
            Err(error) => each(Input::Rejected {
                origin,
                payload: bytes,
                reason: error.reason(),
                detail: &error.to_string(),
            }),
        }
    }
}
