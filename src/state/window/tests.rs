use super::*;
use crate::state::MAX_AGENTS_PER_QUEUE;

const T0: Millis = 1_700_000_000_000; // a bucket boundary (divisible by 10 s)

#[test]
fn counts_land_in_the_window_that_holds_their_time() {
    let mut ring = BucketRing::new(3_600_000, T0);
    ring.advance(T0 + 600_000);
    ring.apply(&Delta::count(T0 + 10_000, Count::Offered, 1)); // 9m50s before as_of
    ring.apply(&Delta::count(T0 + 400_000, Count::Offered, 1)); // 3m20s before
    ring.apply(&Delta::count(T0 + 599_999, Count::Offered, 1));
    let as_of = T0 + 600_000;
    assert_eq!(ring.window(300_000, as_of).count(Count::Offered), 2);
    assert_eq!(ring.window(900_000, as_of).count(Count::Offered), 3);
}

#[test]
fn agent_time_is_integrated_to_the_millisecond() {
    let mut ring = BucketRing::new(3_600_000, T0);
    ring.advance(T0 + 120_000);
    // Agent A ready from T0+5s, busy from T0+65.5s; agent B ready from T0+30s.
    ring.apply(&Delta::step(T0 + 5_000, AgentTime::Ready, 1));
    ring.apply(&Delta::step(T0 + 30_000, AgentTime::Ready, 1));
    ring.apply(&Delta::step(T0 + 65_500, AgentTime::Ready, -1));
    ring.apply(&Delta::step(T0 + 65_500, AgentTime::Busy, 1));
    let w = ring.window(3_600_000, T0 + 120_000);
    // ready: A 60.5 s + B 90 s; busy: A 54.5 s
    assert_eq!(w.agent_ms(AgentTime::Ready), 60_500 + 90_000);
    assert_eq!(w.agent_ms(AgentTime::Busy), 54_500);
    // The last minute only: A ready 5.5 s then busy 54.5 s, B ready 60 s.
    let w = ring.window(60_000, T0 + 120_000);
    assert_eq!(w.agent_ms(AgentTime::Busy), 54_500);
    assert_eq!(w.agent_ms(AgentTime::Ready), 60_000 + 5_500);
}

#[test]
fn evicted_steps_keep_agents_counted() {
    let mut ring = BucketRing::new(300_000, T0);
    ring.apply(&Delta::step(T0, AgentTime::Ready, 1));
    ring.advance(T0 + 3_600_000); // far beyond the ring
    assert_eq!(ring.agents_now()[AgentTime::Ready as usize], 1);
    let w = ring.window(300_000, T0 + 3_600_000);
    assert_eq!(w.agent_ms(AgentTime::Ready), 300_000);
}

#[test]
fn order_of_deltas_does_not_matter() {
    let deltas = [
        Delta::count(T0 + 1_000, Count::Answered, 1),
        Delta::sum(T0 + 1_000, Sum::WaitAnswered, 12_000),
        Delta::step(T0 + 2_000, AgentTime::Busy, 1),
        Delta::step(T0 + 25_000, AgentTime::Busy, -1),
        Delta::step(T0 + 25_000, AgentTime::Acw, 1),
    ];
    let mut a = BucketRing::new(900_000, T0);
    let mut b = BucketRing::new(900_000, T0);
    a.advance(T0 + 60_000);
    b.advance(T0 + 60_000);
    for d in &deltas {
        a.apply(d);
    }
    for d in deltas.iter().rev() {
        b.apply(d);
    }
    assert_eq!(
        a.window(900_000, T0 + 60_000),
        b.window(900_000, T0 + 60_000)
    );
    // A retraction cancels exactly.
    a.apply(&deltas[1].negated());
    assert_eq!(a.window(900_000, T0 + 60_000).sum_ms(Sum::WaitAnswered), 0);
}

#[test]
fn period_counts_from_its_start_and_carries_agents_over() {
    let mut p = Period::new(T0, T0 + 1_800_000);
    p.apply(&Delta::step(T0 + 60_000, AgentTime::Ready, 2));
    p.apply(&Delta::count(T0 + 70_000, Count::Offered, 1));
    p.roll(T0 + 1_800_000, T0 + 3_600_000);
    p.apply(&Delta::count(T0 + 1_799_000, Count::Offered, 1)); // belongs to the old period
    p.apply(&Delta::step(T0 + 1_790_000, AgentTime::Ready, -1)); // before start: 1 agent at start
    let s = p.sums(T0 + 1_800_000 + 100_000);
    assert_eq!(s.count(Count::Offered), 0);
    assert_eq!(s.agent_ms(AgentTime::Ready), 100_000);
}

#[test]
fn a_ring_written_and_read_back_fits_into_the_same_ring() {
    let mut ring = BucketRing::new(3_600_000, T0);
    ring.apply(&Delta::step(T0, AgentTime::Ready, 2));
    ring.advance(T0 + 3_000_000);
    ring.apply(&Delta::step(T0 + 100_000, AgentTime::Busy, 1));
    ring.apply(&Delta::count(T0 + 2_990_000, Count::Offered, 3));
    ring.advance(T0 + 3_700_000); // the step at T0 is folded into the base counts
    let bytes = postcard::to_allocvec(&ring).expect("serialises");
    let read: BucketRing = postcard::from_bytes(&bytes).expect("deserialises");
    assert_eq!(read.fit(3_600_000), Some(ring.clone()));
    // A ring of a shorter span cannot hold the oldest bucket written.
    assert_eq!(read.fit(600_000), None);
    // Buckets are written oldest first, once each.
    let mut form: RingForm<Bucket> = postcard::from_bytes(&bytes).expect("the ring's form");
    form.buckets.reverse();
    let reversed = postcard::to_allocvec(&form).expect("serialises");
    assert!(postcard::from_bytes::<BucketRing>(&reversed).is_err());
}

#[test]
fn a_bucket_is_136_bytes() {
    // 16 counts × 4 + 5 sums × 8 + 5 agent steps × 2 + 5 step offsets × 4 = 134, padded to 136:
    // every queue holds about 360 of them, so 8 B more is about 2.8 KiB more per queue (README,
    // memory).
    assert_eq!(std::mem::size_of::<Bucket>(), 136);
}

#[test]
fn agent_steps_stay_exact_at_the_most_agents_a_queue_holds() {
    // Every agent of a full queue becomes ready 9.999 s into one bucket, the worst case for
    // the 16-bit steps and 32-bit offsets. Between steps that cancel (200,000 agents in and
    // out again, as retractions and re-derivations could add up to), the sums pass through
    // values neither type holds.
    let n = MAX_AGENTS_PER_QUEUE as i64;
    let mut ring = BucketRing::new(3_600_000, T0);
    ring.advance(T0 + 20_000);
    for _ in 0..2_000 {
        ring.apply(&Delta::step(T0 + 9_999, AgentTime::Ready, 100));
    }
    ring.apply(&Delta::step(T0 + 9_999, AgentTime::Ready, n));
    for _ in 0..2_000 {
        ring.apply(&Delta::step(T0 + 9_999, AgentTime::Ready, -100));
    }
    // 32,767 agents for 1 ms of the first bucket and 10 s of the second.
    let w = ring.window(3_600_000, T0 + 20_000);
    assert_eq!(w.agent_ms(AgentTime::Ready), n * 10_001);
    assert_eq!(ring.agents_now()[AgentTime::Ready as usize], n);
    // Half of them leave at the start of the next bucket: the net step is −16,383.
    ring.apply(&Delta::step(T0 + 10_000, AgentTime::Ready, -(n / 2)));
    let w = ring.window(10_000, T0 + 20_000);
    assert_eq!(w.agent_ms(AgentTime::Ready), (n - n / 2) * 10_000);
}

#[test]
fn the_offered_count_reaches_back_further_than_the_other_counts() {
    // Everything for 10 min, the offered count for an hour.
    let span = RingSpan {
        wide_ms: 600_000,
        offered_ms: 3_600_000,
    };
    let mut ring = BucketRing::new(span, T0);
    ring.apply(&Delta::count(T0 + 5_000, Count::Offered, 2));
    ring.apply(&Delta::count(T0 + 5_000, Count::Answered, 1));
    ring.advance(T0 + 1_800_000); // 30 min on: the first bucket left the wide slots
    ring.apply(&Delta::count(T0 + 60_000, Count::Offered, 1)); // late, but within the hour
    ring.apply(&Delta::count(T0 + 1_790_000, Count::Offered, 4));
    assert_eq!(ring.offered_between(T0, T0 + 1_800_000), 7);
    assert_eq!(ring.offered_horizon(), T0 + 1_800_000 - 3_610_000);
    let [offered, answered] =
        ring.counts_between(T0, T0 + 1_800_000, [Count::Offered, Count::Answered]);
    assert_eq!((offered, answered), (4, 0));
    // Written and read back: the older offered counts come apart and fit back in.
    let bytes = postcard::to_allocvec(&ring).expect("serialises");
    let read: BucketRing = postcard::from_bytes(&bytes).expect("deserialises");
    let fitted = read.fit(span).expect("fits the same span");
    assert_eq!(fitted, ring);
    assert_eq!(postcard::to_allocvec(&fitted).expect("serialises"), bytes);
    // Not into a ring whose offered counts do not reach back to them.
    assert_eq!(read.fit(600_000), None);
    // An hour after their buckets, they are gone.
    ring.advance(T0 + 3_680_000);
    assert_eq!(ring.offered_between(T0, T0 + 3_680_000), 4);
}
