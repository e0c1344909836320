//! Remembers event ids for the redelivery horizon, in bounded memory.
//!
//! Ids are kept as 64-bit XXH3 hashes (a fixed, documented algorithm, so checkpoints stay
//! valid across builds): at a million ids remembered the chance that a new id collides with one
//! of them is about 5 × 10⁻¹⁴. Expiry is by event time: an id is forgotten once the queue's
//! newest event is more than the horizon past it. Beyond `max_ids` the oldest are forgotten
//! early, and that is counted so an operator can raise the cap.

use std::collections::{HashSet, VecDeque};

use serde::{Deserialize, Serialize};

use crate::event::Millis;

pub fn id_hash(id: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(id.as_bytes())
}

/// The event ids seen within the horizon. A checkpoint holds them in the order they are
/// forgotten; the set is not written (see [`Dedup::reindex`]).
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Dedup {
    /// Exactly the ids of `by_time`, for lookups.
    #[serde(skip)]
    seen: HashSet<u64, BuildIdentity>,
    by_time: VecDeque<(Millis, u64)>,
    /// Ids forgotten before their horizon because of the cap.
    pub evicted_early: u64,
}

impl Dedup {
    /// True if the id was seen within the horizon; otherwise remembers it.
    pub(super) fn check_and_insert(&mut self, hash: u64, ts: Millis, max_ids: usize) -> bool {
        if !self.seen.insert(hash) {
            return true;
        }
        self.by_time.push_back((ts, hash));
        while self.by_time.len() > max_ids {
            if let Some((_, old)) = self.by_time.pop_front() {
                self.seen.remove(&old);
                self.evicted_early += 1;
            }
        }
        false
    }

    /// Forgets ids older than `cutoff`. Ids arrive roughly in time order, so the front of the
    /// deque is (nearly) the oldest; an id slightly out of order is forgotten a little late,
    /// never early.
    pub(super) fn expire(&mut self, cutoff: Millis) {
        while let Some(&(ts, hash)) = self.by_time.front() {
            if ts >= cutoff {
                break;
            }
            self.by_time.pop_front();
            self.seen.remove(&hash);
        }
    }

    /// Rebuilds the lookup set from the ids a checkpoint holds; false (and nothing usable) if
    /// an id appears twice, which no `Dedup` ever holds.
    pub(super) fn reindex(&mut self) -> bool {
        self.seen = HashSet::with_capacity_and_hasher(self.by_time.len(), BuildIdentity);
        self.by_time.iter().all(|&(_, hash)| self.seen.insert(hash))
    }

    #[cfg(test)]
    pub(super) fn remembered(&self) -> usize {
        self.by_time.len()
    }

    /// Heap bytes held: the hash set's table (8-byte key + 1 control byte per bucket) and
    /// the time-ordered deque.
    pub(super) fn heap_bytes(&self) -> usize {
        self.seen.capacity() * 9 + self.by_time.capacity() * std::mem::size_of::<(Millis, u64)>()
    }
}

/// The keys are already uniformly distributed hashes; hashing them again is wasted work.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct BuildIdentity;

#[derive(Debug, Default, Clone, Copy)]
pub(super) struct IdentityHasher(u64);

impl std::hash::Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ b as u64;
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

impl std::hash::BuildHasher for BuildIdentity {
    type Hasher = IdentityHasher;
    fn build_hasher(&self) -> IdentityHasher {
        IdentityHasher::default()
    }
}

#[cfg(test)]
mod tests;
