//! Remembers event ids for the redelivery horizon, in bounded memory.
//!
//! Ids are kept as 64-bit XXH3 hashes (a fixed, documented algorithm, so checkpoints stay
//! valid across builds): at a million ids remembered the chance that a new id collides with one
//! of them is about 5 × 10⁻¹⁴. Expiry is by event time: an id is forgotten once the queue's
//! newest event is more than the horizon past it. Beyond `max_ids` the oldest are forgotten
//! early, and that is counted so an operator can raise the cap.
//!
//! The lookup set is as large as the ids within the horizon (tens of thousands per busy
//! queue), far larger than the caches, so each lookup is a cache miss: it is an open-addressing
//! table of the hashes themselves ([`IdSet`]), where a lookup reads one slot's cache line,
//! rather than a general hash set, which reads a control byte and then the slot, two lines.

use std::collections::VecDeque;

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
    seen: IdSet,
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
                self.seen.remove(old);
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
            self.seen.remove(hash);
        }
    }

    /// Rebuilds the lookup set from the ids a checkpoint holds; false (and nothing usable) if
    /// an id appears twice, which no `Dedup` ever holds.
    pub(super) fn reindex(&mut self) -> bool {
        self.seen = IdSet::with_capacity(self.by_time.len());
        self.by_time.iter().all(|&(_, hash)| self.seen.insert(hash))
    }

    #[cfg(test)]
    pub(super) fn remembered(&self) -> usize {
        self.by_time.len()
    }

    /// Heap bytes held: the set's slots and the time-ordered deque.
    pub(super) fn heap_bytes(&self) -> usize {
        self.seen.heap_bytes() + self.by_time.capacity() * std::mem::size_of::<(Millis, u64)>()
    }
}

/// A set of 64-bit hashes: linear probing in a power-of-two table of the hashes themselves,
/// the low bits of a hash its home slot (they are uniformly distributed already). 0 marks an
/// empty slot, so the hash 0 is kept apart. At most 3/4 full, so a lookup mostly reads one
/// cache line; a removal shifts the entries after it back (no tombstones, which would make
/// lookups longer as ids come and go).
#[derive(Debug, Default, Clone)]
struct IdSet {
    slots: Vec<u64>,
    len: usize,
    has_zero: bool,
}

impl IdSet {
    const MIN_SLOTS: usize = 16;

    fn with_capacity(n: usize) -> IdSet {
        let mut set = IdSet::default();
        if n > 0 {
            set.slots = vec![0; Self::slots_for(n)];
        }
        set
    }

    /// The table size that holds `n` hashes at most 3/4 full.
    fn slots_for(n: usize) -> usize {
        (n.saturating_mul(4) / 3 + 1)
            .next_power_of_two()
            .max(Self::MIN_SLOTS)
    }

    fn mask(&self) -> usize {
        self.slots.len() - 1
    }

    /// The slot holding `hash` (≠ 0), or the empty slot where it would go.
    fn find(&self, hash: u64) -> (usize, bool) {
        let mask = self.mask();
        let mut i = hash as usize & mask;
        loop {
            match self.slots[i] {
                0 => return (i, false),
                h if h == hash => return (i, true),
                _ => i = (i + 1) & mask,
            }
        }
    }

    fn contains(&self, hash: u64) -> bool {
        if hash == 0 {
            return self.has_zero;
        }
        !self.slots.is_empty() && self.find(hash).1
    }

    /// Adds `hash`; false if it was there.
    fn insert(&mut self, hash: u64) -> bool {
        if hash == 0 {
            return !std::mem::replace(&mut self.has_zero, true);
        }
        if (self.len + 1) * 4 > self.slots.len() * 3 {
            self.grow();
        }
        let (i, found) = self.find(hash);
        if found {
            return false;
        }
        self.slots[i] = hash;
        self.len += 1;
        true
    }

    /// Removes `hash`; false if it was not there.
    fn remove(&mut self, hash: u64) -> bool {
        if hash == 0 {
            return std::mem::replace(&mut self.has_zero, false);
        }
        if self.slots.is_empty() {
            return false;
        }
        let (mut hole, found) = self.find(hash);
        if !found {
            return false;
        }
        // Entries after the hole, up to the next empty slot, move into it when their home is
        // not between the hole and where they are (they would no longer be found past it).
        let mask = self.mask();
        let mut j = hole;
        loop {
            j = (j + 1) & mask;
            let h = self.slots[j];
            if h == 0 {
                break;
            }
            let home = h as usize & mask;
            if j.wrapping_sub(home) & mask >= j.wrapping_sub(hole) & mask {
                self.slots[hole] = h;
                hole = j;
            }
        }
        self.slots[hole] = 0;
        self.len -= 1;
        true
    }

    fn grow(&mut self) {
        let size = Self::slots_for(self.len + 1).max(self.slots.len() * 2);
        let old = std::mem::replace(&mut self.slots, vec![0; size]);
        for h in old.into_iter().filter(|&h| h != 0) {
            let (i, _) = self.find(h);
            self.slots[i] = h;
        }
    }

    fn heap_bytes(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<u64>()
    }
}

/// Sets are equal when they hold the same hashes, whatever their table sizes.
impl PartialEq for IdSet {
    fn eq(&self, other: &IdSet) -> bool {
        self.len == other.len
            && self.has_zero == other.has_zero
            && self
                .slots
                .iter()
                .filter(|&&h| h != 0)
                .all(|&h| other.contains(h))
    }
}

impl Eq for IdSet {}

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
