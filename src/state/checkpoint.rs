//! One queue's complete state as bytes, and back: what lets a queue survive a restart or move
//! to another instance.
//!
//! A checkpoint is taken together with the caller's input position (a Kafka offset, a replay
//! line) that the state reflects; restoring it and then applying the events after that
//! position gives exactly the state, and so the KPIs, that applying everything would have.
//!
//! # Format
//!
//! All integers of the header are little-endian; magic and version stay where they are in
//! every future version, so that any build can tell what it is looking at.
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 4 | magic `ACDQ` |
//! | 4 | 2 | format version ([`FORMAT_VERSION`]) |
//! | 6 | 8 | settings fingerprint ([`settings_fingerprint`]) |
//! | 14 | 8 | position (the caller's, opaque here) |
//! | 22 | 4 | queue id length *n* |
//! | 26 | *n* | queue id, UTF-8 |
//! | 26 + *n* | … | the queue's state, [postcard](https://postcard.jamesmunns.com) |
//! | end − 8 | 8 | XXH3-64 of every byte before it |
//!
//! The state is the queue's own serialisation: [`QueueState`] and its parts (calls, agents,
//! remembered ids, the bucket ring's non-empty buckets, both periods, the `today` wait
//! histogram as its non-empty (value, count) pairs, wait samples, waiting calls, clocks, totals
//! and the surge detector) derive it, with maps written sorted by key so that equal states give
//! equal bytes. This module only frames it. What the settings define (the queue's KPI
//! settings, the ring's length) is taken from the restoring engine, which is why a checkpoint
//! only restores under the settings it was written with.
//!
//! Changing what the state holds, or how, changes the format: bump [`FORMAT_VERSION`] (the
//! `format_is_pinned` test fails until then). Old checkpoints are then refused and their queues
//! rebuilt from the events, never misread.

use xxhash_rust::xxh3::xxh3_64;

use super::queue::QueueState;
use super::settings::{EngineSettings, BUCKET_MS};

const MAGIC: &[u8; 4] = b"ACDQ";

/// Version of the layout above and of the state's encoding. 8: a window bucket's agent steps
/// are 16-bit and their offsets 32-bit, and the ring writes the offered counts older than its
/// full buckets (the surge baseline's) apart. 7: the same encoding as 6, but a state
/// written by 6 may hold a call whose answer was lost still waiting, or the agent it rang
/// still busy (since fixed): such checkpoints are refused so that the queue is rebuilt from the
/// events, under the fixed rules. 6: a call's steps include
/// no-answer, unavailable and flow-out; window buckets, periods and totals hold the
/// member-unavailable count, the queue its count of calls ended by a restart. 5: window
/// buckets, periods and the ring's base counts hold a fifth agent state (busy other); an
/// agent's entry holds its engagements on other queues' calls and `agent_state`s without a
/// queue. 4: calls hold their legs; window buckets, periods and totals hold the flowed-out and
/// ring-abandoned counts and the handle-time sum, the queue its count of skewed events, and the
/// surge detector its absorbed rises. 3: the queue's parts serialise themselves, and a ring
/// bucket is written with its distance back from the newest bucket (2: from the oldest).
pub(crate) const FORMAT_VERSION: u16 = 8;

const VERSION_AT: usize = 4;
const FINGERPRINT_AT: usize = 6;
const POSITION_AT: usize = 14;
const ID_LEN_AT: usize = 22;
const ID_AT: usize = 26;
const CHECKSUM_LEN: usize = 8;

/// Why a checkpoint was not restored. Every case but the queue limit leaves the caller one
/// course: rebuild the queue from the events, as if there had been no checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    #[error(
        "not an acdstream queue checkpoint (no `ACDQ` magic); the queue will be rebuilt from \
         the events instead"
    )]
    NotACheckpoint,
    #[error(
        "checkpoint is truncated ({len} bytes); the queue will be rebuilt from the events instead"
    )]
    Truncated { len: usize },
    #[error(
        "checkpoint has format version {found} (written by {} acdstream), this build reads \
         only version {FORMAT_VERSION}; the queue will be rebuilt from the events instead",
        written_by(.found)
    )]
    UnsupportedVersion { found: u16 },
    #[error("checkpoint is corrupt ({0}); the queue will be rebuilt from the events instead")]
    Corrupt(String),
    #[error(
        "checkpoint of queue {queue_id:?} was written with different engine settings \
         (windows/interval/timezone/lateness/queue KPI settings); the queue will be rebuilt \
         from the events instead"
    )]
    SettingsChanged { queue_id: String },
    #[error(
        "checkpoint of queue {queue_id:?} not restored: the engine already holds max_queues \
         ({max_queues}) queues; raise engine.max_queues"
    )]
    QueueLimit { queue_id: String, max_queues: usize },
}

fn written_by(version: &u16) -> &'static str {
    if *version < FORMAT_VERSION {
        "an earlier"
    } else {
        "a later"
    }
}

impl CheckpointError {
    fn corrupt(what: impl Into<String>) -> CheckpointError {
        CheckpointError::Corrupt(what.into())
    }
}

/// A hash of every setting whose change makes a queue's state meaningless: the sliding
/// windows (they size the bucket ring), the interval and time zone (they place the periods'
/// edges), the allowed lateness (it sizes the ring and decides what is settled), the bucket
/// width and the queue's KPI settings (its derivations count against the SL threshold, the
/// short-abandon limit and the ring cadence).
///
/// Computed over a byte encoding defined here, with XXH3, so that it is the same in every
/// build and on every machine (unlike `DefaultHasher`). Caps (`max_…`), the dedup horizon and
/// call expiry are not in it: they bound what is kept from now on, and a state written under
/// other values is still right.
pub fn settings_fingerprint(s: &EngineSettings, queue_id: &str) -> u64 {
    let mut c = Canonical(Vec::with_capacity(128));
    c.bytes(b"acdstream engine settings 1");
    c.i64(BUCKET_MS);
    c.u64(s.sliding.len() as u64);
    for w in &s.sliding {
        c.bytes(w.name.as_bytes());
        c.i64(w.len_ms);
    }
    c.i64(s.interval_ms);
    c.bytes(timezone_name(&s.timezone).as_bytes());
    c.i64(s.allowed_lateness_ms);
    let q = s.queue(queue_id);
    c.i64(q.sl_threshold_ms);
    c.u64(q.sl_target.to_bits());
    c.i64(q.short_abandon_ms);
    c.i64(q.ring_cadence_ms);
    // The surge windows set how much history the ring holds, in full and of offered counts.
    c.i64(s.longest_surge_lookback_ms());
    c.i64(s.longest_surge_short_ms());
    xxh3_64(&c.0)
}

/// Fixed-width little-endian integers; byte strings prefixed by their length, so that no two
/// different settings concatenate to the same bytes.
struct Canonical(Vec<u8>);

impl Canonical {
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }

    fn i64(&mut self, v: i64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }

    fn bytes(&mut self, b: &[u8]) {
        self.u64(b.len() as u64);
        self.0.extend_from_slice(b);
    }
}

/// The configured name (`UTC`, `Europe/Berlin`). The configuration only builds named zones;
/// the other kinds are told apart as well as jiff allows.
fn timezone_name(tz: &jiff::tz::TimeZone) -> String {
    if let Some(name) = tz.iana_name() {
        return name.to_owned();
    }
    match tz.to_fixed_offset() {
        Ok(offset) => format!("fixed {}", offset.seconds()),
        Err(_) => format!("{tz:?}"),
    }
}

pub(super) fn encode(queue: &QueueState, s: &EngineSettings, position: u64) -> Vec<u8> {
    let id = queue.id.as_bytes();
    let id_len = u32::try_from(id.len()).expect("queue ids are far shorter than 4 GiB");
    let mut out = Vec::with_capacity(4096);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&settings_fingerprint(s, &queue.id).to_le_bytes());
    out.extend_from_slice(&position.to_le_bytes());
    out.extend_from_slice(&id_len.to_le_bytes());
    out.extend_from_slice(id);
    let mut out = postcard::to_extend(queue, out)
        .expect("a queue's state serialises: every sequence in it has a known length");
    let checksum = xxh3_64(&out);
    out.extend_from_slice(&checksum.to_le_bytes());
    out
}

/// The queue a checkpoint holds and the position it was written with. Checks run from the
/// outside in (magic, version, checksum, settings, state), so the error names the first thing
/// that is wrong.
pub(super) fn decode(
    bytes: &[u8],
    s: &EngineSettings,
) -> Result<(QueueState, u64), CheckpointError> {
    let truncated = CheckpointError::Truncated { len: bytes.len() };
    if !bytes.starts_with(MAGIC) {
        return Err(if MAGIC.starts_with(bytes) {
            truncated
        } else {
            CheckpointError::NotACheckpoint
        });
    }
    let version = u16::from_le_bytes(array(bytes, VERSION_AT).ok_or(truncated.clone())?);
    if version != FORMAT_VERSION {
        return Err(CheckpointError::UnsupportedVersion { found: version });
    }
    if bytes.len() < ID_AT + CHECKSUM_LEN {
        return Err(truncated);
    }
    let (body, checksum) = bytes.split_at(bytes.len() - CHECKSUM_LEN);
    if xxh3_64(body).to_le_bytes() != checksum {
        return Err(CheckpointError::corrupt(
            "checksum mismatch: the bytes were cut short or damaged",
        ));
    }
    let word = |at| array(body, at).map(u64::from_le_bytes);
    let (Some(fingerprint), Some(position), Some(id_len)) = (
        word(FINGERPRINT_AT),
        word(POSITION_AT),
        array(body, ID_LEN_AT).map(u32::from_le_bytes),
    ) else {
        return Err(truncated);
    };
    let state_at = ID_AT
        .checked_add(id_len as usize)
        .filter(|&end| end <= body.len())
        .ok_or_else(|| CheckpointError::corrupt("queue id longer than the checkpoint"))?;
    let queue_id = std::str::from_utf8(&body[ID_AT..state_at])
        .map_err(|_| CheckpointError::corrupt("queue id is not UTF-8"))?;
    if fingerprint != settings_fingerprint(s, queue_id) {
        return Err(CheckpointError::SettingsChanged {
            queue_id: queue_id.to_owned(),
        });
    }
    let (queue, rest) =
        postcard::take_from_bytes::<QueueState>(&body[state_at..]).map_err(|e| match e {
            // postcard keeps no message for what a part of the state refuses while being read.
            postcard::Error::SerdeDeCustom => CheckpointError::corrupt(
                "state breaks an invariant (an entry out of order, listed twice or out of bounds)",
            ),
            e => CheckpointError::corrupt(format!("state does not decode: {e}")),
        })?;
    if !rest.is_empty() {
        return Err(CheckpointError::corrupt("bytes left over after the state"));
    }
    let queue = queue
        .restored(queue_id.into(), s)
        .map_err(CheckpointError::corrupt)?;
    Ok((queue, position))
}

fn array<const N: usize>(bytes: &[u8], at: usize) -> Option<[u8; N]> {
    bytes.get(at..at.checked_add(N)?)?.try_into().ok()
}

#[cfg(test)]
mod tests;
