//! Time-bucketed accumulators behind every window.
//!
//! Everything that happens to a queue reaches this module as a [`Delta`]: "add `v` to this
//! count/sum at time `ts`", or "one more / one fewer agent is in state S from time `ts` on"
//! (a step). Deltas are additive and commutative, so applying them in any order gives the same
//! sums; that is what makes out-of-order events within the allowed lateness count exactly as if
//! they had arrived in order: the state machines retract what they had derived and add what
//! they derive now, and the buckets end up as if history had been written in order.
//!
//! * [`BucketRing`]: 10-second buckets covering the longest sliding window plus the lateness.
//!   A sliding window at `as_of` is the last `len / 10 s` buckets, the newest one partial, so a
//!   window edge is at most one bucket (10 s) coarser than the exact instant.
//! * [`Period`]: one accumulator for a calendar period (the current interval, today) that
//!   restarts when the period changes; deltas timed before the period start are not counted,
//!   except agent steps, which move the number of agents in a state at the period start.
//!
//! Agent time uses steps rather than per-agent intervals: per bucket, `d` = Σ steps and
//! `t` = Σ step × (step time − bucket start). With n agents in state S at the bucket start,
//! the agent-milliseconds in S over `[start, end)` are `(n + d) × (end − start) − t`, so time
//! is integrated exactly, up to the millisecond, without visiting each agent.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::event::Millis;
use crate::kpi::math::{AgentTime, Count, Sum, WindowSums, N_AGENT_TIMES, N_COUNTS, N_SUMS};

use super::settings::BUCKET_MS;

/// One additive change to the accumulators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Delta {
    Count {
        ts: Millis,
        what: CountKey,
        by: i64,
    },
    Sum {
        ts: Millis,
        what: SumKey,
        ms: i64,
    },
    AgentStep {
        ts: Millis,
        state: AgentTime,
        by: i64,
    },
}

/// `Count` with the ordering `Delta` needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct CountKey(pub u8);
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct SumKey(pub u8);

impl Delta {
    pub(crate) fn count(ts: Millis, what: Count, by: i64) -> Delta {
        Delta::Count {
            ts,
            what: CountKey(what as u8),
            by,
        }
    }

    pub(crate) fn sum(ts: Millis, what: Sum, ms: i64) -> Delta {
        Delta::Sum {
            ts,
            what: SumKey(what as u8),
            ms,
        }
    }

    pub(crate) fn step(ts: Millis, state: AgentTime, by: i64) -> Delta {
        Delta::AgentStep { ts, state, by }
    }

    pub(crate) fn ts(&self) -> Millis {
        match *self {
            Delta::Count { ts, .. } | Delta::Sum { ts, .. } | Delta::AgentStep { ts, .. } => ts,
        }
    }

    pub(crate) fn negated(self) -> Delta {
        match self {
            Delta::Count { ts, what, by } => Delta::Count { ts, what, by: -by },
            Delta::Sum { ts, what, ms } => Delta::Sum { ts, what, ms: -ms },
            Delta::AgentStep { ts, state, by } => Delta::AgentStep { ts, state, by: -by },
        }
    }
}

/// One 10-second bucket, 136 B. Which bucket (time / BUCKET_MS) a slot holds follows from its
/// position: slots are reused, and the slot of bucket `id` always holds that bucket while `id` is
/// one of the ring's `oldest()..=head`, so the bucket does not store its id (which would widen
/// every bucket of every queue by 8 B).
///
/// The agent steps are kept in 16 bits and their offsets in 32, added with wrapping arithmetic:
/// both are exact whenever the true value fits, whatever the values in between, since wrapping
/// addition is addition modulo 2^16 (2^32). A bucket's net step in a state is the change of
/// the number of agents in it, within ±[`MAX_AGENTS_PER_QUEUE`]; its offset sum is
/// `(n + d) × 10 s − (agent time in the state)`, within ±`MAX_AGENTS_PER_QUEUE` × 10 s, which
/// is less than 2^31 ms. That saves 32 B of every bucket, 11 KiB per queue.
///
/// [`MAX_AGENTS_PER_QUEUE`]: super::settings::MAX_AGENTS_PER_QUEUE
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Bucket {
    counts: [u32; N_COUNTS],
    sums_ms: [i64; N_SUMS],
    steps: [i16; N_AGENT_TIMES],
    step_offsets: [i32; N_AGENT_TIMES],
}

impl Bucket {
    fn is_empty(&self) -> bool {
        *self == Bucket::default()
    }
}

/// How much history a ring holds behind its newest bucket: every count, sum and agent step
/// for `wide_ms` (the sliding windows, the interval, the surge rule's short window), and the
/// offered count alone for `offered_ms` (the surge rule's baseline, which reaches an hour
/// further back): 4 B a bucket instead of 140 B for the part only the baseline reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RingSpan {
    pub wide_ms: Millis,
    pub offered_ms: Millis,
}

/// A ring holding everything for the whole span.
impl From<Millis> for RingSpan {
    fn from(span_ms: Millis) -> Self {
        RingSpan {
            wide_ms: span_ms,
            offered_ms: span_ms,
        }
    }
}

impl RingSpan {
    /// Lengths of the wide slots and of the offered counts (never fewer than the slots).
    fn lens(self) -> (usize, usize) {
        let len = |ms: Millis| (ms / BUCKET_MS + 2) as usize;
        let wide = len(self.wide_ms);
        (wide, len(self.offered_ms).max(wide))
    }
}

/// Ring of 10-second buckets for the sliding windows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BucketRing {
    slots: Box<[Bucket]>,
    /// Each bucket's offered count again, packed, over the longer span: the surge rule sums it
    /// over an hour of buckets every ten seconds, which through the wide slots would read the
    /// whole ring each time, and its baseline reaches back before the sliding windows.
    offered: Box<[u32]>,
    /// Newest bucket id the ring has advanced to.
    head: i64,
    /// Agents in each state at the start of the oldest bucket still in the ring.
    base_agents: [i64; N_AGENT_TIMES],
    /// A ring read from a checkpoint, until [`BucketRing::fit`] places its buckets. `None` in
    /// a live ring.
    written: Option<Written>,
    /// What [`BucketRing::offered_between`] summed last.
    offered_sum: OfferedSum,
}

/// The bucket ids `first..=last` that [`BucketRing::offered_between`] summed last, and their
/// offered count, kept equal to it by every write to `offered` while they are all held: the
/// surge rule asks at every bucket edge for the range one bucket on from the last, an hour
/// of buckets, and summing all of it again each time was an eighth of the bench day's apply
/// time. A cache, not state: any two are equal.
#[derive(Debug, Clone, Copy, Default)]
struct OfferedSum(Option<(i64, i64, u64)>);

impl PartialEq for OfferedSum {
    fn eq(&self, _: &OfferedSum) -> bool {
        true
    }
}

impl Eq for OfferedSum {}

/// What a checkpoint holds of a ring: `slots` are only the buckets written, these their ids,
/// and the offered counts older than the wide slots come apart.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Written {
    ids: Box<[i64]>,
    older_offered: Vec<(i64, u32)>,
}

impl BucketRing {
    /// Heap bytes of a ring for `span` (its slots and their packed offered counts).
    pub(crate) fn heap_bytes(span: RingSpan) -> u64 {
        let (wide, offered) = span.lens();
        (wide * std::mem::size_of::<Bucket>() + offered * std::mem::size_of::<u32>()) as u64
    }

    /// A ring long enough for `span` of history behind the newest bucket.
    pub(crate) fn new(span: impl Into<RingSpan>, start: Millis) -> BucketRing {
        let (wide, offered) = span.into().lens();
        BucketRing {
            slots: vec![Bucket::default(); wide].into_boxed_slice(),
            offered: vec![0; offered].into_boxed_slice(),
            head: start.div_euclid(BUCKET_MS),
            base_agents: [0; N_AGENT_TIMES],
            written: None,
            offered_sum: OfferedSum::default(),
        }
    }

    fn len(&self) -> i64 {
        self.slots.len() as i64
    }

    fn slot(&self, id: i64) -> usize {
        id.rem_euclid(self.len()) as usize
    }

    fn offered_slot(&self, id: i64) -> usize {
        id.rem_euclid(self.offered.len() as i64) as usize
    }

    /// Oldest bucket id still held.
    pub(crate) fn oldest(&self) -> i64 {
        self.head - self.len() + 1
    }

    /// Oldest bucket id whose offered count is still held.
    fn oldest_offered(&self) -> i64 {
        self.head - self.offered.len() as i64 + 1
    }

    /// Earliest time the ring still holds.
    pub(crate) fn horizon(&self) -> Millis {
        self.oldest() * BUCKET_MS
    }

    /// Earliest time the ring still holds the offered count of.
    pub(crate) fn offered_horizon(&self) -> Millis {
        self.oldest_offered() * BUCKET_MS
    }

    /// Moves the newest bucket up to the one holding `now`, folding evicted agent steps into
    /// the base counts so that agent time stays exact across evictions.
    pub(crate) fn advance(&mut self, now: Millis) {
        let target = now.div_euclid(BUCKET_MS);
        if target <= self.head {
            return;
        }
        debug_assert!(self.written.is_none(), "a ring read back is fitted first");
        let evict_to = (target - self.len() + 1).min(self.head + 1);
        for id in self.oldest()..evict_to {
            let i = self.slot(id);
            add_steps(&mut self.base_agents, &self.slots[i].steps);
        }
        for id in (self.head + 1).max(target - self.len() + 1)..=target {
            let i = self.slot(id);
            self.slots[i] = Bucket::default();
        }
        let offered_len = self.offered.len() as i64;
        for id in (self.head + 1).max(target - offered_len + 1)..=target {
            let i = self.offered_slot(id);
            self.offered[i] = 0;
        }
        self.head = target;
        // The new buckets are past the kept range; the ones dropped may be in it.
        if self
            .offered_sum
            .0
            .is_some_and(|(first, _, _)| first < self.oldest_offered())
        {
            self.offered_sum.0 = None;
        }
    }

    /// Applies a delta; deltas older than the ring are dropped except agent steps, which
    /// still change how many agents were in a state at the ring's start, and offered counts
    /// the longer span still holds. A delta ahead of the ring moves it up first (a ring that
    /// follows its queue's own events is behind the clock when a waiting call passes the
    /// threshold at a time no event of the queue has reached).
    pub(crate) fn apply(&mut self, d: &Delta) {
        let id = d.ts().div_euclid(BUCKET_MS);
        if id > self.head {
            self.advance(d.ts());
        }
        if id < self.oldest() {
            match *d {
                Delta::AgentStep { state, by, .. } => self.base_agents[state as usize] += by,
                Delta::Count { what, by, .. }
                    if what.0 == Count::Offered as u8 && id >= self.oldest_offered() =>
                {
                    let o = self.offered_slot(id);
                    self.set_offered(id, self.offered[o].wrapping_add_signed(by as i32));
                }
                _ => {}
            }
            return;
        }
        let i = self.slot(id);
        let b = &mut self.slots[i];
        match *d {
            Delta::Count { what, by, .. } => {
                let c = &mut b.counts[what.0 as usize];
                *c = c.wrapping_add_signed(by as i32);
                if what.0 == Count::Offered as u8 {
                    let c = *c;
                    self.set_offered(id, c);
                }
            }
            Delta::Sum { what, ms, .. } => b.sums_ms[what.0 as usize] += ms,
            // Wrapping and truncating: exact modulo 2^16 and 2^32 (see `Bucket`).
            Delta::AgentStep { ts, state, by } => {
                let s = state as usize;
                b.steps[s] = b.steps[s].wrapping_add(by as i16);
                let offset = by * (ts - id * BUCKET_MS);
                b.step_offsets[s] = b.step_offsets[s].wrapping_add(offset as i32);
            }
        }
    }

    /// Sums over `[as_of − len_ms, as_of]`, the trailing edge rounded up to a bucket boundary
    /// (so at most one bucket of the oldest part is missed; none when `as_of` is on one).
    /// `as_of` may lie past the ring's newest bucket: nothing happened there, and the agents
    /// stay in the states the last step left them in.
    pub(crate) fn window(&self, len_ms: Millis, as_of: Millis) -> WindowSums {
        self.windows(&[len_ms], as_of)[0]
    }

    /// [`BucketRing::window`] for several lengths, in one walk of the ring: each window needs
    /// the agents' states at its start, which the walk from the oldest bucket gives, so reading
    /// a snapshot's windows one by one walked the whole ring once per window (most of the time
    /// of a publish tick).
    pub(crate) fn windows(&self, lens_ms: &[Millis], as_of: Millis) -> Vec<WindowSums> {
        let froms: Vec<i64> = lens_ms
            .iter()
            .map(|len_ms| -(len_ms - as_of).div_euclid(BUCKET_MS))
            .collect();
        self.sums(&froms, as_of.div_euclid(BUCKET_MS), as_of)
    }

    /// Sums over `[from, to)`, both bucket edges, as far as the ring holds them: a closed
    /// interval's figures, read before the ring moves past it.
    pub(crate) fn between(&self, from: Millis, to: Millis) -> WindowSums {
        self.sums(
            &[from.div_euclid(BUCKET_MS)],
            to.div_euclid(BUCKET_MS) - 1,
            to,
        )[0]
    }

    /// Sums over the buckets `from..=last` for each of `froms`, as far as the ring holds them,
    /// agent time up to `until` (within the last bucket, or past the ring's head, where the
    /// agents stay in the states the last step left them in).
    fn sums(&self, froms: &[i64], last: i64, until: Millis) -> Vec<WindowSums> {
        let newest = last.min(self.head);
        // One running total from the earliest start; each window is the total at the end less
        // the total just before its own start.
        let first = froms.iter().copied().min().unwrap_or(i64::MAX);
        let mut starts: Vec<usize> = (0..froms.len()).collect();
        starts.sort_unstable_by_key(|&k| froms[k]);
        let mut starts = starts.into_iter().peekable();
        let mut before = vec![None; froms.len()];
        let mut total = WindowSums::default();
        let mut agents = self.base_agents;
        // The slots in time order, from the oldest: the slot of the next id without a division.
        let mut slot = self.slot(self.oldest());
        for id in self.oldest()..=newest {
            while let Some(k) = starts.next_if(|&k| froms[k] <= id) {
                before[k] = Some(total);
            }
            let b = &self.slots[slot];
            slot = if slot + 1 == self.slots.len() {
                0
            } else {
                slot + 1
            };
            if id >= first {
                for (o, c) in total.counts.iter_mut().zip(b.counts) {
                    *o += c as u64;
                }
                for (o, s) in total.sums_ms.iter_mut().zip(b.sums_ms) {
                    *o += s;
                }
                let start = id * BUCKET_MS;
                let end = (start + BUCKET_MS).min(until).max(start);
                for (s, t) in total.agent_ms.iter_mut().enumerate() {
                    let n = agents[s] + b.steps[s] as i64;
                    *t += n * (end - start) - b.step_offsets[s] as i64;
                }
            }
            add_steps(&mut agents, &b.steps);
        }
        froms
            .iter()
            .zip(before)
            .map(|(&from, before)| {
                // A window starting after the newest bucket holds none of them.
                let mut out = total.less(&before.unwrap_or(total));
                let after_head = ((self.head + 1) * BUCKET_MS).max(from * BUCKET_MS);
                if until > after_head {
                    for (t, n) in out.agent_ms.iter_mut().zip(agents) {
                        *t += n * (until - after_head);
                    }
                }
                out
            })
            .collect()
    }

    /// Totals of a few counts over the buckets in `[from, to)` (bucket edges), as far as the
    /// ring holds them: the cheap path for a rule that needs a handful of counts rather than a
    /// whole window's KPIs.
    pub(crate) fn counts_between<const N: usize>(
        &self,
        from: Millis,
        to: Millis,
        which: [Count; N],
    ) -> [u64; N] {
        let first = from.div_euclid(BUCKET_MS).max(self.oldest());
        let last = (to.div_euclid(BUCKET_MS) - 1).min(self.head);
        let mut out = [0u64; N];
        if last < first {
            return out;
        }
        // The buckets are consecutive slots from `first`'s, wrapping once at the end.
        let start = self.slot(first);
        let n = (last - first + 1) as usize;
        let (tail, head) = self.slots.split_at(start);
        for bucket in head.iter().chain(tail).take(n) {
            for (total, c) in out.iter_mut().zip(which) {
                *total += bucket.counts[c as usize] as u64;
            }
        }
        out
    }

    /// Agents in each state after every step the ring has seen.
    #[cfg(test)]
    pub(crate) fn agents_now(&self) -> [i64; N_AGENT_TIMES] {
        let mut agents = self.base_agents;
        for (_, b) in self.buckets() {
            add_steps(&mut agents, &b.steps);
        }
        agents
    }

    /// Every bucket held with its id, oldest first.
    fn buckets(&self) -> Box<dyn Iterator<Item = (i64, &Bucket)> + '_> {
        match &self.written {
            Some(w) => Box::new(w.ids.iter().copied().zip(self.slots.iter())),
            None => {
                Box::new((self.oldest()..=self.head).map(|id| (id, &self.slots[self.slot(id)])))
            }
        }
    }

    /// The offered counts held further back than the wide slots, with their ids, oldest
    /// first; only those that are not 0.
    fn older_offered(&self) -> Vec<(i64, u32)> {
        match &self.written {
            Some(w) => w.older_offered.clone(),
            None => (self.oldest_offered()..self.oldest())
                .map(|id| (id, self.offered[self.offered_slot(id)]))
                .filter(|&(_, c)| c != 0)
                .collect(),
        }
    }

    /// A ring of `span` (the span it is built with) holding this ring's buckets, base counts
    /// and head: what completes a ring read from a checkpoint, which holds only the buckets
    /// written (its length is the settings', not the checkpoint's). `None` if a bucket is
    /// older than such a ring holds.
    pub(crate) fn fit(&self, span: impl Into<RingSpan>) -> Option<BucketRing> {
        let mut ring = BucketRing::new(span, self.head.checked_mul(BUCKET_MS)?);
        ring.base_agents = self.base_agents;
        for (id, bucket) in self.buckets().filter(|(_, b)| !b.is_empty()) {
            if !(ring.oldest()..=ring.head).contains(&id) {
                return None;
            }
            let (i, o) = (ring.slot(id), ring.offered_slot(id));
            ring.offered[o] = bucket.counts[Count::Offered as usize];
            ring.slots[i] = *bucket;
        }
        for (id, count) in self.older_offered() {
            if !(ring.oldest_offered()..ring.oldest()).contains(&id) {
                return None;
            }
            let o = ring.offered_slot(id);
            ring.offered[o] = count;
        }
        Some(ring)
    }

    #[cfg(test)]
    pub(crate) fn non_empty_buckets(&self) -> usize {
        self.slots.iter().filter(|b| !b.is_empty()).count()
    }

    /// Sets the offered count of bucket `id` (held), keeping [`OfferedSum`] up to date.
    fn set_offered(&mut self, id: i64, count: u32) {
        let o = self.offered_slot(id);
        if let Some((first, last, sum)) = &mut self.offered_sum.0 {
            if (*first..=*last).contains(&id) {
                *sum = *sum - u64::from(self.offered[o]) + u64::from(count);
            }
        }
        self.offered[o] = count;
    }

    /// Calls offered in the buckets of `[from, to)` (bucket edges), as far as the ring holds
    /// them: [`Self::counts_between`] for the one count the surge baseline needs, read from
    /// the packed copy, which reaches further back. From the last range's sum when most of
    /// it is the same (see [`OfferedSum`]).
    pub(crate) fn offered_between(&mut self, from: Millis, to: Millis) -> u64 {
        let first = from.div_euclid(BUCKET_MS).max(self.oldest_offered());
        let last = (to.div_euclid(BUCKET_MS) - 1).min(self.head);
        if last < first {
            return 0;
        }
        let sum = match self.offered_sum.0 {
            // Both ranges are held: what the old one has that the new one does not comes off,
            // what the new one has more goes on.
            Some((f, l, sum)) if (first - f).abs() + (last - l).abs() < last - first => {
                sum + self.offered_in(first, f - 1) - self.offered_in(f, first - 1)
                    + self.offered_in(l + 1, last)
                    - self.offered_in(last + 1, l)
            }
            _ => self.offered_in(first, last),
        };
        #[cfg(test)]
        assert_eq!(
            sum,
            self.offered_in(first, last),
            "kept offered sum is stale"
        );
        self.offered_sum.0 = Some((first, last, sum));
        sum
    }

    /// The offered count of buckets `first..=last`, all held (none when `last < first`).
    fn offered_in(&self, first: i64, last: i64) -> u64 {
        if last < first {
            return 0;
        }
        let start = self.offered_slot(first);
        let n = ((last - first + 1) as usize).min(self.offered.len());
        // The range as the (at most) two runs of the ring it covers, each summed on its own:
        // a plain slice sum is vectorised, a chained iterator is not.
        let sum = |run: &[u32]| run.iter().map(|&c| u64::from(c)).sum::<u64>();
        let to_end = n.min(self.offered.len() - start);
        sum(&self.offered[start..start + to_end]) + sum(&self.offered[..n - to_end])
    }
}

/// A ring as written in a checkpoint: only buckets with something in them (a quiet queue's
/// ring is almost all empty, and a checkpoint of 10,000 quiet queues should not cost 10,000
/// full rings), oldest first, each with its distance back from `head`; then the offered
/// counts older than the wide buckets, the same way.
#[derive(Serialize, Deserialize)]
#[serde(rename = "BucketRing")]
struct RingForm<B> {
    head: i64,
    base_agents: [i64; N_AGENT_TIMES],
    buckets: Vec<(u32, B)>,
    older_offered: Vec<(u32, u32)>,
}

impl Serialize for BucketRing {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let back = |id: i64| (self.head - id) as u32;
        // In time order from the oldest bucket.
        let buckets = self
            .buckets()
            .filter(|(_, b)| !b.is_empty())
            .map(|(id, b)| (back(id), b))
            .collect();
        let older_offered = self.older_offered();
        RingForm {
            head: self.head,
            base_agents: self.base_agents,
            buckets,
            older_offered: older_offered.iter().map(|&(id, c)| (back(id), c)).collect(),
        }
        .serialize(ser)
    }
}

/// Reads the written buckets only: the ring's length comes from the settings, so a restored
/// queue calls [`BucketRing::fit`] before anything else touches the ring.
impl<'de> Deserialize<'de> for BucketRing {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<BucketRing, D::Error> {
        let form = RingForm::<Bucket>::deserialize(de)?;
        // Oldest first, once per bucket.
        let in_order = form.buckets.is_sorted_by(|a, b| a.0 > b.0)
            && form.older_offered.is_sorted_by(|a, b| a.0 > b.0);
        if !in_order {
            return Err(D::Error::custom(
                "ring buckets out of order or listed twice",
            ));
        }
        let id = |distance: u32| form.head.checked_sub(distance as i64);
        let before_first = || D::Error::custom("ring bucket before the first representable one");
        let ids = form.buckets.iter().map(|&(distance, _)| id(distance));
        let ids = ids
            .collect::<Option<Box<[i64]>>>()
            .ok_or_else(before_first)?;
        let older = form.older_offered.iter().map(|&(d, c)| Some((id(d)?, c)));
        let older_offered = older.collect::<Option<Vec<_>>>().ok_or_else(before_first)?;
        Ok(BucketRing {
            slots: form.buckets.into_iter().map(|(_, b)| b).collect(),
            offered: Box::default(),
            head: form.head,
            base_agents: form.base_agents,
            written: Some(Written { ids, older_offered }),
            offered_sum: OfferedSum::default(),
        })
    }
}

fn add_steps(agents: &mut [i64; N_AGENT_TIMES], steps: &[i16; N_AGENT_TIMES]) {
    for (n, step) in agents.iter_mut().zip(steps) {
        *n += *step as i64;
    }
}

/// Accumulator for one calendar period `[start, end)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Period {
    pub start: Millis,
    pub end: Millis,
    counts: [i64; N_COUNTS],
    sums_ms: [i64; N_SUMS],
    agents_at_start: [i64; N_AGENT_TIMES],
    steps: [i64; N_AGENT_TIMES],
    step_offsets: [i64; N_AGENT_TIMES],
}

impl Period {
    pub(crate) fn new(start: Millis, end: Millis) -> Period {
        Period {
            start,
            end,
            counts: [0; N_COUNTS],
            sums_ms: [0; N_SUMS],
            agents_at_start: [0; N_AGENT_TIMES],
            steps: [0; N_AGENT_TIMES],
            step_offsets: [0; N_AGENT_TIMES],
        }
    }

    /// Starts the next period, carrying over how many agents are in each state.
    pub(crate) fn roll(&mut self, start: Millis, end: Millis) {
        let mut next = Period::new(start, end);
        for s in 0..N_AGENT_TIMES {
            next.agents_at_start[s] = self.agents_at_start[s] + self.steps[s];
        }
        *self = next;
    }

    pub(crate) fn apply(&mut self, d: &Delta) {
        let ts = d.ts();
        debug_assert!(ts < self.end, "delta after the period: roll first");
        if ts < self.start {
            if let Delta::AgentStep { state, by, .. } = *d {
                self.agents_at_start[state as usize] += by;
            }
            return;
        }
        match *d {
            Delta::Count { what, by, .. } => self.counts[what.0 as usize] += by,
            Delta::Sum { what, ms, .. } => self.sums_ms[what.0 as usize] += ms,
            Delta::AgentStep { ts, state, by } => {
                self.steps[state as usize] += by;
                self.step_offsets[state as usize] += by * (ts - self.start);
            }
        }
    }

    /// Sums from the period start to `as_of`.
    pub(crate) fn sums(&self, as_of: Millis) -> WindowSums {
        let mut out = WindowSums::default();
        for (o, c) in out.counts.iter_mut().zip(self.counts) {
            *o = c.max(0) as u64;
        }
        out.sums_ms = self.sums_ms;
        let elapsed = (as_of.min(self.end) - self.start).max(0);
        for s in 0..N_AGENT_TIMES {
            out.agent_ms[s] =
                (self.agents_at_start[s] + self.steps[s]) * elapsed - self.step_offsets[s];
        }
        out
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    const T0: Millis = 1_700_000_000_000;
    const SPAN: Millis = 3_600_000;

    /// Agent-milliseconds in `state` over [from, to], by walking the sorted steps.
    fn brute_agent_ms(steps: &[(Millis, i64)], from: Millis, to: Millis) -> i64 {
        let mut sorted = steps.to_vec();
        sorted.sort();
        let mut n = 0;
        let mut total = 0;
        let mut t = from;
        for &(ts, by) in &sorted {
            if ts > to {
                break;
            }
            if ts > t {
                total += n * (ts - t);
                t = ts;
            }
            n += by;
        }
        total + n * (to - t)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Sliding sums equal a brute-force recount over the window's exact span, and agent
        /// time equals the integral of the step function, whatever order deltas came in.
        #[test]
        fn sliding_window_equals_brute_force_recount(
            counts in prop::collection::vec((0..SPAN, 1i64..4), 0..60),
            steps in prop::collection::vec((0..SPAN, prop::bool::ANY), 0..60),
            len_buckets in 1i64..=360,
            other_buckets in 1i64..=360,
            as_of_offset in 0..SPAN,
        ) {
            let as_of = T0 + SPAN + as_of_offset;
            let mut ring = BucketRing::new(SPAN + 30_000, T0);
            ring.advance(as_of);
            // Steps +1/−1 kept non-negative in time order, so they model agents.
            let mut timed: Vec<(Millis, i64)> = steps.iter().map(|&(t, up)| (T0 + SPAN + t - SPAN / 2, if up { 1 } else { -1 })).collect();
            timed.sort();
            let mut n = 0;
            timed.retain(|&(_, by)| { if n + by < 0 { false } else { n += by; true } });
            timed.retain(|&(ts, _)| ts <= as_of);
            let deltas: Vec<Delta> = counts
                .iter()
                .map(|&(t, by)| Delta::count(as_of - t, Count::Offered, by))
                .chain(timed.iter().map(|&(ts, by)| Delta::step(ts, AgentTime::Ready, by)))
                .collect();
            for d in deltas.iter().rev() {
                ring.apply(d);
            }
            let len = len_buckets * BUCKET_MS;
            let from = -(len - as_of).div_euclid(BUCKET_MS) * BUCKET_MS;
            let expected: i64 = counts.iter().filter(|&&(t, _)| as_of - t >= from).map(|&(_, by)| by).sum();
            let w = ring.window(len, as_of);
            prop_assert_eq!(w.count(Count::Offered) as i64, expected);
            prop_assert_eq!(w.agent_ms(AgentTime::Ready), brute_agent_ms(&timed, from, as_of));
            prop_assert!(as_of - from <= len && as_of - from > len - BUCKET_MS);
            // The cheap path agrees with the window ending at a bucket edge.
            let edge = as_of.div_euclid(BUCKET_MS) * BUCKET_MS;
            let [offered] = ring.counts_between(edge - len, edge, [Count::Offered]);
            let expected: i64 = counts
                .iter()
                .filter(|&&(t, _)| (edge - len..edge).contains(&(as_of - t)))
                .map(|&(_, by)| by)
                .sum();
            prop_assert_eq!(offered as i64, expected);
            prop_assert_eq!(offered, ring.window(len, edge - 1).count(Count::Offered));
            prop_assert_eq!(offered, ring.offered_between(edge - len, edge));
            // Several windows read in one walk (a snapshot's) equal each read alone.
            let other = other_buckets * BUCKET_MS;
            let both = ring.windows(&[other, len, other], as_of);
            prop_assert_eq!(both[1], w);
            prop_assert_eq!(both[0], ring.window(other, as_of));
            prop_assert_eq!(both[2], both[0]);
        }

        /// A ring left at its newest delta (a queue behind the engine's clock) reads a window
        /// ending later exactly as a ring moved up to that time: nothing in between, agents
        /// unchanged. A delta past its head moves it up first.
        #[test]
        fn a_window_read_past_the_head_equals_the_ring_moved_up(
            counts in prop::collection::vec((0..SPAN, 1i64..4), 0..40),
            steps in prop::collection::vec((0..SPAN, prop::bool::ANY), 0..40),
            len_buckets in 1i64..=360,
            past_head in 0..2 * SPAN,
            late in prop::option::of(0..SPAN),
        ) {
            let head = T0 + SPAN;
            let as_of = head + past_head;
            let mut moved = BucketRing::new(SPAN + 30_000, T0);
            moved.advance(as_of);
            let mut behind = BucketRing::new(SPAN + 30_000, T0);
            behind.advance(head);
            let mut n = 0;
            let mut timed: Vec<(Millis, i64)> = steps.iter().map(|&(t, up)| (head - t, if up { 1 } else { -1 })).collect();
            timed.sort();
            timed.retain(|&(_, by)| { if n + by < 0 { false } else { n += by; true } });
            let deltas: Vec<Delta> = counts
                .iter()
                .map(|&(t, by)| Delta::count(head - t, Count::Offered, by))
                .chain(timed.iter().map(|&(ts, by)| Delta::step(ts, AgentTime::Ready, by)))
                .chain(late.map(|t| Delta::count((head + t).min(as_of), Count::ReachedT, 1)))
                .collect();
            for d in &deltas {
                moved.apply(d);
                behind.apply(d);
            }
            let len = len_buckets * BUCKET_MS;
            prop_assert_eq!(behind.window(len, as_of), moved.window(len, as_of));
            let lens = [len, (len / 2).max(BUCKET_MS), BUCKET_MS];
            prop_assert_eq!(behind.windows(&lens, as_of), moved.windows(&lens, as_of));
        }

        /// The offered count of a range read one edge after another, as the surge rule does,
        /// from the last range's sum while offers come in and are taken back (some late, into
        /// buckets of the range) and the ring moves on, equals the count summed afresh every
        /// time.
        #[test]
        fn an_offered_count_kept_across_edges_equals_one_summed_afresh(
            steps in prop::collection::vec(
                (0i64..4, prop::collection::vec((0..SPAN, -1i64..4), 0..6), 0i64..=20, 1i64..=400),
                1..80,
            ),
        ) {
            let span = RingSpan { wide_ms: 600_000, offered_ms: SPAN };
            let mut ring = BucketRing::new(span, T0);
            let mut edge = T0;
            for (moves, offers, short, baseline) in steps {
                // Offers up to an hour back from the edge: into the range, before it, after.
                for (back, by) in offers {
                    ring.apply(&Delta::count((edge - back).max(T0), Count::Offered, by));
                }
                edge += moves * BUCKET_MS;
                ring.advance(edge);
                let (from, to) = (edge - (short + baseline) * BUCKET_MS, edge - short * BUCKET_MS);
                let mut afresh = ring.clone();
                afresh.offered_sum = OfferedSum::default();
                prop_assert_eq!(ring.offered_between(from, to), afresh.offered_between(from, to));
            }
        }

        /// A ring that keeps only the offered count for the older part of its span reads every
        /// window its full part holds, and the offered count over the whole span, as a ring
        /// that keeps everything, whatever order the deltas came in; written and read back, it
        /// fits into the same ring.
        #[test]
        fn a_ring_of_two_spans_reads_as_one_that_keeps_everything(
            counts in prop::collection::vec((0..2 * SPAN, 1i64..4, prop::bool::ANY), 0..60),
            steps in prop::collection::vec((0..2 * SPAN, prop::bool::ANY), 0..60),
            past in 0..SPAN,
            len_buckets in 1i64..=60,
            back_buckets in 1i64..=720,
        ) {
            let span = RingSpan { wide_ms: 600_000, offered_ms: 2 * SPAN };
            let mut two = BucketRing::new(span, T0);
            let mut full = BucketRing::new(2 * SPAN, T0);
            let counts = counts.iter().map(|&(t, by, offered)| {
                let what = if offered { Count::Offered } else { Count::Answered };
                Delta::count(T0 + t, what, by)
            });
            let mut n = 0;
            let mut timed: Vec<(Millis, i64)> =
                steps.iter().map(|&(t, up)| (T0 + t, if up { 1 } else { -1 })).collect();
            timed.sort();
            timed.retain(|&(_, by)| { if n + by < 0 { false } else { n += by; true } });
            // Times at random: many arrive after their bucket left the full part.
            for d in counts.chain(timed.iter().map(|&(ts, by)| Delta::step(ts, AgentTime::Ready, by))) {
                two.apply(&d);
                full.apply(&d);
            }
            let as_of = T0 + 2 * SPAN + past;
            two.advance(as_of);
            full.advance(as_of);
            let lens = [len_buckets * BUCKET_MS, 600_000];
            prop_assert_eq!(two.windows(&lens, as_of), full.windows(&lens, as_of));
            let edge = as_of.div_euclid(BUCKET_MS) * BUCKET_MS;
            let from = edge - back_buckets * BUCKET_MS;
            prop_assert_eq!(two.offered_between(from, edge), full.offered_between(from, edge));
            let bytes = postcard::to_allocvec(&two).expect("serialises");
            let read: BucketRing = postcard::from_bytes(&bytes).expect("deserialises");
            prop_assert_eq!(read.fit(span), Some(two));
        }
    }
}
