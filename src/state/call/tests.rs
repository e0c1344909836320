use super::*;
use crate::kpi::math::{Count, Sum};

const T0: Millis = 1_700_000_000_000;
const A: AgentKey = 11;
const B: AgentKey = 22;

fn ev(s: i64, step: Step, agent: AgentKey) -> CallEvent {
    CallEvent::new(T0 + s * 1000, step, agent)
}

fn call(events: &[CallEvent]) -> Call {
    let mut c = Call::default();
    for &e in events {
        put(&mut c, e, 64).unwrap();
    }
    c
}

/// Inserts an event; `Ok(true)` if it counts now, `Ok(false)` if it is held.
fn put(c: &mut Call, e: CallEvent, max_events: usize) -> Result<bool, RejectReason> {
    let limits = CallLimits {
        max_events,
        skew: 0,
    };
    c.insert(e, 0, limits, &mut Vec::new()).map(|i| i.counts)
}

/// Inserts an event with its origin, collecting the origins of held events it made count.
fn put_from(
    c: &mut Call,
    e: CallEvent,
    origin: u64,
    resolved: &mut Vec<u64>,
) -> Result<bool, RejectReason> {
    let limits = CallLimits {
        max_events: 64,
        skew: 0,
    };
    c.insert(e, origin, limits, resolved).map(|i| i.counts)
}

fn first(c: &Call) -> &Leg {
    &c.live()[0]
}

fn counts(c: &Call) -> Vec<(Count, i64, i64)> {
    let mut out = Vec::new();
    c.deltas(&QueueKpiSettings::default(), &mut out);
    out.into_iter()
        .filter_map(|d| match d {
            Delta::Count { ts, what, by } => Some((count_of(what.0), (ts - T0) / 1000, by)),
            _ => None,
        })
        .collect()
}

fn count_of(i: u8) -> Count {
    Count::ALL[i as usize]
}

fn sums(c: &Call) -> Vec<(Sum, i64)> {
    let mut out = Vec::new();
    c.deltas(&QueueKpiSettings::default(), &mut out);
    out.into_iter()
        .filter_map(|d| match d {
            Delta::Sum { what, ms, .. } => Some((Sum::ALL[what.0 as usize], ms)),
            _ => None,
        })
        .collect()
}

#[test]
fn answered_within_threshold_with_rings_talk_hold_and_acw() {
    // offered 0, ring 3 (agent A), answered 14 → wait 14 s ≤ 20 s, rings ceil(11/5) = 3;
    // hold 60–90, wrap 200 → talk 186 − 30 = 156 s, hold 30 s; wrap_end 230 → ACW 30 s;
    // handle time at the wrap_end 230 − 14 = 216 s = 156 + 30 + 30.
    let c = call(&[
        ev(0, Step::Offered, 0),
        ev(3, Step::Ringing, A),
        ev(14, Step::Answered, A),
        ev(60, Step::Hold, A),
        ev(90, Step::Unhold, A),
        ev(200, Step::Wrap, A),
        ev(230, Step::WrapEnd, A),
    ]);
    let got = counts(&c);
    assert!(got.contains(&(Count::Offered, 0, 1)));
    assert!(got.contains(&(Count::RingAttempts, 3, 1)));
    assert!(got.contains(&(Count::Answered, 14, 1)));
    assert!(got.contains(&(Count::AnsweredWithinT, 14, 1)));
    assert!(got.contains(&(Count::RingsToAnswer, 14, 3)));
    assert!(got.contains(&(Count::Handled, 200, 1)));
    assert!(got.contains(&(Count::AcwCompleted, 230, 1)));
    assert!(!got
        .iter()
        .any(|g| g.0 == Count::ReachedT || g.0 == Count::RingNoAnswer));
    assert_eq!(
        sums(&c),
        vec![
            (Sum::WaitAnswered, 14_000),
            (Sum::Talk, 156_000),
            (Sum::Hold, 30_000),
            (Sum::Acw, 30_000),
            (Sum::Handle, 216_000)
        ]
    );
    assert_eq!(
        first(&c).wait_sample(&QueueKpiSettings::default()),
        Some((T0 + 14_000, 14_000))
    );
}

#[test]
fn sl_event_for_a_late_answer_is_at_the_threshold() {
    // Answered at 45 s: missed, counted when the wait reached 20 s.
    let c = call(&[ev(0, Step::Offered, 0), ev(45, Step::Answered, A)]);
    let got = counts(&c);
    assert!(got.contains(&(Count::ReachedT, 20, 1)));
    assert!(!got.iter().any(|g| g.0 == Count::AnsweredWithinT));
    // Answered exactly at T is within.
    let c = call(&[ev(0, Step::Offered, 0), ev(20, Step::Answered, A)]);
    assert!(counts(&c).contains(&(Count::AnsweredWithinT, 20, 1)));
}

#[test]
fn waiting_call_counts_as_missed_once_the_clock_passes_t() {
    let mut c = call(&[ev(0, Step::Offered, 0)]);
    assert!(!counts(&c).iter().any(|g| g.0 == Count::ReachedT));
    c.waiting_leg().unwrap().reached_threshold = true;
    assert!(counts(&c).contains(&(Count::ReachedT, 20, 1)));
    // A late answer timed before T replaces the miss by a hit.
    put(&mut c, ev(19, Step::Answered, A), 64).unwrap();
    let got = counts(&c);
    assert!(got.contains(&(Count::AnsweredWithinT, 19, 1)));
    assert!(!got.iter().any(|g| g.0 == Count::ReachedT));
}

#[test]
fn abandons_short_within_and_after_threshold() {
    let short = call(&[ev(0, Step::Offered, 0), ev(4, Step::Abandoned, 0)]);
    assert_eq!(
        counts(&short),
        vec![(Count::Offered, 0, 1), (Count::ShortAbandoned, 4, 1)]
    );
    let within = call(&[ev(0, Step::Offered, 0), ev(5, Step::Abandoned, 0)]);
    assert!(counts(&within).contains(&(Count::AbandonedWithinT, 5, 1)));
    let after = call(&[ev(0, Step::Offered, 0), ev(50, Step::Abandoned, 0)]);
    let got = counts(&after);
    assert!(got.contains(&(Count::Abandoned, 50, 1)));
    assert!(got.contains(&(Count::ReachedT, 20, 1)));
    assert_eq!(
        first(&short).wait_sample(&QueueKpiSettings::default()),
        None
    );
    assert_eq!(
        first(&after).wait_sample(&QueueKpiSettings::default()),
        Some((T0 + 50_000, 50_000))
    );
}

#[test]
fn flow_out_before_t_has_no_sl_event_after_t_is_a_miss() {
    // Transferred unanswered: a flow-out, not a transfer out (that needs an answer here).
    let early = call(&[ev(0, Step::Offered, 0), ev(10, Step::Transferred, 0)]);
    assert_eq!(
        counts(&early),
        vec![(Count::Offered, 0, 1), (Count::FlowedOut, 10, 1)]
    );
    let late = call(&[ev(0, Step::Offered, 0), ev(30, Step::Transferred, 0)]);
    assert!(counts(&late).contains(&(Count::ReachedT, 20, 1)));
}

#[test]
fn ring_no_answer_is_a_ring_followed_by_a_ring_and_a_ring_ended_by_an_abandon_is_ring_abandoned() {
    // Rings at 2 (A) and 17 (B), the caller hangs up at 30 while B's phone rings: A did not
    // answer (ring-no-answer at 2); B's ring was ended by the caller (ring-abandoned at 17), not
    // a no-answer. Two ring attempts, each with one outcome.
    let c = call(&[
        ev(0, Step::Offered, 0),
        ev(2, Step::Ringing, A),
        ev(17, Step::Ringing, B),
        ev(30, Step::Abandoned, 0),
    ]);
    let got = counts(&c);
    let rings: Vec<_> = got
        .iter()
        .filter(|g| {
            matches!(
                g.0,
                Count::RingAttempts | Count::RingNoAnswer | Count::RingAbandoned
            )
        })
        .copied()
        .collect();
    assert_eq!(
        rings,
        vec![
            (Count::RingAttempts, 2, 1),
            (Count::RingAttempts, 17, 1),
            (Count::RingNoAnswer, 2, 1),
            (Count::RingAbandoned, 17, 1),
        ]
    );
    let answered = call(&[
        ev(0, Step::Offered, 0),
        ev(2, Step::Ringing, A),
        ev(8, Step::Answered, A),
    ]);
    assert!(!counts(&answered)
        .iter()
        .any(|g| g.0 == Count::RingNoAnswer || g.0 == Count::RingAbandoned));
    // An abandon while no phone rings (in queue) is no ring outcome at all.
    let queued = call(&[ev(0, Step::Offered, 0), ev(30, Step::Abandoned, 0)]);
    assert!(!counts(&queued)
        .iter()
        .any(|g| g.0 == Count::RingNoAnswer || g.0 == Count::RingAbandoned));
}

#[test]
fn a_ring_abandoned_is_the_same_whichever_of_ring_and_abandon_arrives_first() {
    let in_order = call(&[
        ev(0, Step::Offered, 0),
        ev(2, Step::Ringing, A),
        ev(9, Step::Abandoned, 0),
    ]);
    let abandon_first = call(&[
        ev(0, Step::Offered, 0),
        ev(9, Step::Abandoned, 0),
        ev(2, Step::Ringing, A),
    ]);
    assert_eq!(counts(&in_order), counts(&abandon_first));
    assert!(counts(&in_order).contains(&(Count::RingAbandoned, 2, 1)));
}

#[test]
fn a_call_event_is_sixteen_bytes_and_keeps_its_agent() {
    assert_eq!(std::mem::size_of::<CallEvent>(), 16);
    let key = agent_key("agent-0042");
    assert_eq!(key >> 48, 0);
    assert_eq!(CallEvent::new(T0, Step::Answered, key).agent(), key);
}

#[test]
fn invalid_sequences_are_rejected_with_reasons() {
    let mut c = call(&[ev(10, Step::Offered, 0), ev(15, Step::Answered, A)]);
    assert_eq!(
        put(&mut c, ev(16, Step::Answered, A), 64),
        Err(RejectReason::OutOfSequence)
    );
    assert_eq!(
        put(&mut c, ev(20, Step::Abandoned, 0), 64),
        Err(RejectReason::OutOfSequence)
    );
    assert_eq!(
        put(&mut c, ev(5, Step::Ringing, A), 64),
        Err(RejectReason::NegativeDuration)
    );
    assert_eq!(
        put(&mut c, ev(16, Step::Ringing, A), 64),
        Err(RejectReason::OutOfSequence)
    );
    assert_eq!(
        put(&mut c, ev(12, Step::Wrap, A), 64),
        Err(RejectReason::NegativeDuration)
    );
    put(&mut c, ev(40, Step::Wrap, A), 64).unwrap();
    assert_eq!(
        put(&mut c, ev(30, Step::WrapEnd, A), 64),
        Err(RejectReason::NegativeDuration)
    );
    assert_eq!(
        put(&mut c, ev(41, Step::Hold, A), 64),
        Err(RejectReason::OutOfSequence)
    );
    assert_eq!(
        put(&mut c, ev(50, Step::Unavailable, B), 3),
        Err(RejectReason::CallEventLimit)
    );
    assert_eq!(c.legs().len(), 1);
    assert_eq!(
        first(&c).events().len(),
        3,
        "rejections leave the call unchanged"
    );
}

#[test]
fn agent_phases_follow_ring_talk_and_acw() {
    let c = call(&[
        ev(0, Step::Offered, 0),
        ev(2, Step::Ringing, A),
        ev(17, Step::Ringing, B),
        ev(20, Step::Answered, B),
        ev(100, Step::Wrap, B),
        ev(130, Step::WrapEnd, B),
    ]);
    let mut phases = Vec::new();
    c.agent_phases(&mut phases);
    let at = |s: i64| T0 + s * 1000;
    assert_eq!(
        phases,
        vec![
            PhaseChange {
                ts: at(2),
                agent: A,
                phase: Phase::Busy
            },
            PhaseChange {
                ts: at(17),
                agent: A,
                phase: Phase::Free
            },
            PhaseChange {
                ts: at(17),
                agent: B,
                phase: Phase::Busy
            },
            PhaseChange {
                ts: at(20),
                agent: B,
                phase: Phase::Busy
            },
            PhaseChange {
                ts: at(100),
                agent: B,
                phase: Phase::Acw
            },
            PhaseChange {
                ts: at(130),
                agent: B,
                phase: Phase::Free
            },
        ]
    );
}

#[test]
fn handle_time_is_counted_at_the_wrap_end_over_the_calls_acw_counts() {
    // Answered 5, wrap 65, wrap_end 95: handle 90 s at 95, beside ACW 30 s at 95. Before the
    // wrap_end there is talk at the wrap but no handle time (and no ACW completion).
    let wrapped = call(&[
        ev(0, Step::Offered, 0),
        ev(5, Step::Answered, A),
        ev(65, Step::Wrap, A),
    ]);
    assert!(!sums(&wrapped).iter().any(|s| s.0 == Sum::Handle));
    let mut done = wrapped.clone();
    put(&mut done, ev(95, Step::WrapEnd, A), 64).unwrap();
    let mut out = Vec::new();
    done.deltas(&QueueKpiSettings::default(), &mut out);
    assert!(out.contains(&Delta::sum(T0 + 95_000, Sum::Handle, 90_000)));
    assert!(out.contains(&Delta::count(T0 + 95_000, Count::AcwCompleted, 1)));
    // A wrap-up whose answer never arrived: its ACW only (talk and hold unknown), so that the
    // sum stays over the calls acw_completed counts.
    let no_answer = call(&[
        ev(0, Step::Offered, 0),
        ev(65, Step::Wrap, A),
        ev(95, Step::WrapEnd, A),
    ]);
    assert!(sums(&no_answer).contains(&(Sum::Handle, 30_000)));
}

mod props {
    use super::*;
    use proptest::prelude::*;

    /// A valid life: offered at 0, `rings` ringings, then an answer (with optional hold,
    /// wrap and wrap_end), an abandon or a transfer; steps `gap` ms apart at least.
    fn life(rings: u8, end: u8, gaps: &[u32], hold: bool, wrap_up: bool) -> Vec<CallEvent> {
        let mut t = 0i64;
        let mut g = gaps.iter().cycle();
        let mut next = |t: &mut i64| {
            *t += *g.next().unwrap() as i64;
            T0 + *t
        };
        let mut out = vec![CallEvent::new(T0, Step::Offered, 0)];
        for r in 0..rings {
            out.push(CallEvent::new(next(&mut t), Step::Ringing, 100 + r as u64));
        }
        match end {
            0 => {
                out.push(CallEvent::new(next(&mut t), Step::Answered, A));
                if hold {
                    out.push(CallEvent::new(next(&mut t), Step::Hold, A));
                    out.push(CallEvent::new(next(&mut t), Step::Unhold, A));
                }
                out.push(CallEvent::new(next(&mut t), Step::Wrap, A));
                if wrap_up {
                    out.push(CallEvent::new(next(&mut t), Step::WrapEnd, A));
                }
            }
            1 => out.push(CallEvent::new(next(&mut t), Step::Abandoned, 0)),
            _ => out.push(CallEvent::new(next(&mut t), Step::Transferred, 0)),
        }
        out
    }

    fn total(deltas: &[Delta], c: Count) -> i64 {
        deltas
            .iter()
            .map(|d| match *d {
                Delta::Count { what, by, .. } if what.0 == c as u8 => by,
                _ => 0,
            })
            .sum()
    }

    fn sum_ms(deltas: &[Delta], s: Sum) -> i64 {
        deltas
            .iter()
            .map(|d| match *d {
                Delta::Sum { what, ms, .. } if what.0 == s as u8 => ms,
                _ => 0,
            })
            .sum()
    }

    proptest! {
        /// Every ringing has at most one outcome, counted at that ringing: all but the last are
        /// ring-no-answer; the last is ring-abandoned if the caller hung up, none otherwise.
        /// Handle time is talk + hold + ACW, at the wrap_end, exactly when ACW completes.
        /// Whatever order the events arrive in, the derivation is the same.
        #[test]
        fn ring_outcomes_partition_the_rings_and_handle_time_adds_up(
            rings in 0u8..4,
            end in 0u8..3,
            gaps in prop::collection::vec(1u32..40_000, 1..8),
            hold: bool,
            wrap_up: bool,
            order in prop::collection::vec(any::<prop::sample::Index>(), 12),
        ) {
            let events = life(rings, end, &gaps, hold, wrap_up);
            let c = call(&events);
            let mut d = Vec::new();
            c.deltas(&QueueKpiSettings::default(), &mut d);
            let rings = rings as i64;
            prop_assert_eq!(total(&d, Count::RingAttempts), rings);
            prop_assert_eq!(total(&d, Count::RingNoAnswer), (rings - 1).max(0));
            let abandoned_ringing = end == 1 && rings > 0;
            prop_assert_eq!(total(&d, Count::RingAbandoned), abandoned_ringing as i64);
            let ring_times: Vec<Millis> =
                events.iter().filter(|e| e.step == Step::Ringing).map(|e| e.ts).collect();
            for delta in &d {
                if let Delta::Count { ts, what, .. } = *delta {
                    if what.0 == Count::RingNoAnswer as u8 || what.0 == Count::RingAbandoned as u8 {
                        prop_assert!(ring_times.contains(&ts));
                    }
                }
            }
            let completed = total(&d, Count::AcwCompleted);
            prop_assert_eq!(completed, (end == 0 && wrap_up) as i64);
            if completed == 1 {
                prop_assert_eq!(
                    sum_ms(&d, Sum::Handle),
                    sum_ms(&d, Sum::Talk) + sum_ms(&d, Sum::Hold) + sum_ms(&d, Sum::Acw)
                );
            } else {
                prop_assert_eq!(sum_ms(&d, Sum::Handle), 0);
            }

            // Any arrival order gives the same derivation (validation is by time, not arrival).
            let mut shuffled = events.clone();
            let n = shuffled.len();
            for (i, ix) in order.iter().enumerate().take(n) {
                shuffled.swap(i, ix.index(n));
            }
            let mut d2 = Vec::new();
            call(&shuffled).deltas(&QueueKpiSettings::default(), &mut d2);
            d.sort_unstable();
            d2.sort_unstable();
            prop_assert_eq!(d, d2);
        }
    }
}

/// Every order of `events` that `admit` accepts, each applied to a fresh call.
fn every_order(events: &[CallEvent], admit: impl Fn(&[CallEvent]) -> bool, check: impl Fn(&Call)) {
    type Admit<'a> = &'a dyn Fn(&[CallEvent]) -> bool;
    fn permute(
        rest: &mut Vec<CallEvent>,
        done: &mut Vec<CallEvent>,
        admit: Admit<'_>,
        check: &dyn Fn(&Call),
    ) {
        if rest.is_empty() {
            if !admit(done) {
                return;
            }
            let mut c = Call::default();
            for (i, &e) in done.iter().enumerate() {
                if let Err(reason) = put(&mut c, e, 64) {
                    panic!("{reason:?} for {e:?} after {:?}", &done[..i]);
                }
            }
            check(&c);
            return;
        }
        for i in 0..rest.len() {
            let e = rest.remove(i);
            done.push(e);
            permute(rest, done, admit, check);
            done.pop();
            rest.insert(i, e);
        }
    }
    permute(&mut events.to_vec(), &mut Vec::new(), &admit, &check);
}

#[test]
fn a_transfer_back_into_the_same_queue_is_a_second_leg_in_any_arrival_order() {
    // Leg 1: offered 0, A rings 2, answers 5, blind transfer by A at 60 (no wrap).
    // Leg 2: offered again at 60 (same ms as the transfer), B answers 70, wraps 100, ends 110.
    // Counts: offered 2 (at 0 and 60), answered 2 (5 and 70, both within 20 s), transferred
    // out 1 (leg 1 was answered), no flow-out. A is free at 60, B busy 70–100, ACW 100–110.
    let events = [
        ev(0, Step::Offered, 0),
        ev(2, Step::Ringing, A),
        ev(5, Step::Answered, A),
        ev(60, Step::Transferred, A),
        ev(60, Step::Offered, 0),
        ev(70, Step::Answered, B),
        ev(100, Step::Wrap, B),
        ev(110, Step::WrapEnd, B),
    ];
    // The call's first offer arrives first; after it, the two legs' events interleave in
    // every way (35 orders), the second offer arriving before or after the transfer that
    // explains it.
    let leg_one = |e: &CallEvent| e.ts < T0 + 60_000 || e.step == Step::Transferred;
    let admit = |order: &[CallEvent]| {
        order[0] == events[0]
            && order.iter().filter(|e| leg_one(e)).is_sorted()
            && order.iter().filter(|e| !leg_one(e)).is_sorted()
    };
    every_order(&events, admit, |c| {
        assert_eq!(c.live().len(), 2, "{c:?}");
        assert_eq!(c.held(), 0);
        let got = counts(c);
        for want in [
            (Count::Offered, 0, 1),
            (Count::Offered, 60, 1),
            (Count::AnsweredWithinT, 5, 1),
            (Count::AnsweredWithinT, 70, 1),
            (Count::TransferredOut, 60, 1),
        ] {
            assert!(got.contains(&want), "{want:?} not in {got:?}");
        }
        assert!(!got.iter().any(|g| g.0 == Count::FlowedOut));
        let mut phases = Vec::new();
        c.agent_phases(&mut phases);
        let at = |s: i64| T0 + s * 1000;
        let a: Vec<_> = phases.iter().filter(|p| p.agent == A).collect();
        assert_eq!(
            a.last().map(|p| (p.ts, p.phase)),
            Some((at(60), Phase::Free))
        );
        let b: Vec<_> = phases
            .iter()
            .filter(|p| p.agent == B)
            .map(|p| (p.ts, p.phase))
            .collect();
        assert_eq!(
            b,
            vec![
                (at(70), Phase::Busy),
                (at(100), Phase::Acw),
                (at(110), Phase::Free)
            ]
        );
        assert_eq!(c.due(), Due::Ended(at(110)));
    });
}

#[test]
fn the_transferring_agents_wrap_stays_with_the_leg_it_transferred() {
    // A answers at 5 and transfers at 60; the call is offered again at 60 and rings B at 61
    // while A wraps at 62 and ends ACW at 80: the wrap belongs to leg 1 (A busy 5–62, ACW
    // 62–80), talk 57 s counted once, at 62.
    let c = call(&[
        ev(0, Step::Offered, 0),
        ev(5, Step::Answered, A),
        ev(60, Step::Transferred, 0),
        ev(60, Step::Offered, 0),
        ev(61, Step::Ringing, B),
        ev(62, Step::Wrap, A),
        ev(80, Step::WrapEnd, A),
    ]);
    assert_eq!(c.live().len(), 2);
    assert_eq!(c.live()[0].events().len(), 5);
    assert!(counts(&c).contains(&(Count::Handled, 62, 1)));
    assert!(sums(&c).contains(&(Sum::Talk, 57_000)));
    // Leg 2 still waits (ringing B), from its own offer.
    assert_eq!(c.waiting_since(), Some(T0 + 60_000));
}

#[test]
fn a_second_offer_without_a_transfer_is_held_and_then_out_of_sequence() {
    let mut c = call(&[ev(0, Step::Offered, 0), ev(5, Step::Answered, A)]);
    assert_eq!(put(&mut c, ev(50, Step::Offered, 0), 64), Ok(false));
    assert_eq!(put(&mut c, ev(55, Step::Ringing, B), 64), Ok(false));
    assert_eq!((c.live().len(), c.held()), (1, 2));
    // Same millisecond as the offer already counted: a plain duplicate offer.
    assert_eq!(
        put(&mut c, ev(0, Step::Offered, 0), 64),
        Err(RejectReason::OutOfSequence)
    );
    let (mut rejected, mut resolved) = (Vec::new(), Vec::new());
    c.drop_held_before(T0 + 51_000, &mut rejected, &mut resolved);
    assert_eq!(
        rejected,
        vec![
            (0, RejectReason::OutOfSequence),
            (0, RejectReason::OutOfSequence)
        ]
    );
    assert!(resolved.is_empty());
    assert_eq!((c.legs().len(), c.held()), (1, 0));
}

#[test]
fn legs_held_only_behind_a_dropped_leg_count_once_it_is_gone() {
    // A flow-out at 0 whose offer never comes, then offers at 20 and 30 (the second with no
    // transfer before it): all held. At the end of input the flow-out is no_offer, the offer
    // at 20 is the call's visit after all and counts (waiting), the one at 30 is a second
    // offer of it. Before, the offer at 20 was left held: pending for ever, the call open.
    let mut c = Call::default();
    let (mut rejected, mut resolved) = (Vec::new(), Vec::new());
    for (e, origin) in [
        (ev(0, Step::FlowedOut, 0), 1),
        (ev(20, Step::Offered, 0), 2),
        (ev(30, Step::Offered, 0), 3),
    ] {
        assert_eq!(put_from(&mut c, e, origin, &mut resolved), Ok(false));
    }
    c.drop_held_before(Millis::MAX, &mut rejected, &mut resolved);
    assert_eq!(
        rejected,
        vec![(1, RejectReason::NoOffer), (3, RejectReason::OutOfSequence)]
    );
    assert_eq!(resolved, [2]);
    assert_eq!((c.live().len(), c.held()), (1, 0));
    assert_eq!(c.waiting_since(), Some(T0 + 20_000));
    // A second offer of a visit, at 50, is dropped: the offer after the visit's transfer at 60,
    // held behind it, counts.
    let mut c = call(&[ev(0, Step::Offered, 0)]);
    let (mut rejected, mut resolved) = (Vec::new(), Vec::new());
    let mut put = |c: &mut Call, e, origin| put_from(c, e, origin, &mut resolved);
    assert_eq!(put(&mut c, ev(50, Step::Offered, 0), 5), Ok(false));
    assert_eq!(put(&mut c, ev(60, Step::Transferred, 0), 6), Ok(true));
    assert_eq!(put(&mut c, ev(60, Step::Offered, 0), 7), Ok(false));
    // Held since the second offer's arrival at 50: rejected by a watermark past that.
    assert_eq!(c.due(), Due::Held(T0 + 50_000));
    c.drop_held_before(T0 + 55_000, &mut rejected, &mut resolved);
    assert_eq!(rejected, vec![(5, RejectReason::OutOfSequence)]);
    assert_eq!(resolved, [7]);
    assert_eq!((c.live().len(), c.held()), (2, 0));
    // Nothing held: the visit offered at 60 is open, the one before it ended at its transfer.
    assert_eq!(c.due(), Due::Open(T0 + 60_000));
}

#[test]
fn a_held_offer_counts_once_the_transfer_before_it_arrives() {
    let mut c = call(&[ev(0, Step::Offered, 0)]);
    let mut resolved = Vec::new();
    let mut put = |c: &mut Call, e, origin| put_from(c, e, origin, &mut resolved);
    assert_eq!(put(&mut c, ev(30, Step::Offered, 0), 7), Ok(false));
    assert_eq!(put(&mut c, ev(31, Step::Ringing, B), 8), Ok(false));
    // The flow-out at 30 (unanswered, after T = 20 s: a miss) explains the second offer.
    assert_eq!(put(&mut c, ev(30, Step::Transferred, 0), 9), Ok(true));
    assert_eq!(resolved, vec![7, 8]);
    let got = counts(&c);
    assert!(got.contains(&(Count::FlowedOut, 30, 1)));
    assert!(got.contains(&(Count::ReachedT, 20, 1)));
    assert!(got.contains(&(Count::Offered, 30, 1)));
    assert!(got.contains(&(Count::RingAttempts, 31, 1)));
}

/// Inserts with a clock-skew tolerance of `skew_s` seconds; how many events were moved.
fn put_skewed(c: &mut Call, e: CallEvent, skew_s: i64) -> Result<u32, RejectReason> {
    let limits = CallLimits {
        max_events: 64,
        skew: skew_s * 1000,
    };
    c.insert(e, 0, limits, &mut Vec::new()).map(|i| i.skewed)
}

#[test]
fn a_step_stamped_a_little_before_the_step_it_follows_is_put_at_that_steps_time() {
    // Answer stamped 5 s before its offer (another server's clock), a hold 2 s before the
    // answer: with 10 s of tolerance both move to the offer at 10 (wait 0, answered within
    // T), in either order; each moved event counts once.
    let events = [
        ev(10, Step::Offered, 0),
        ev(5, Step::Answered, A),
        ev(3, Step::Hold, A),
        ev(40, Step::Unhold, A),
        ev(100, Step::Wrap, A),
    ];
    let mut orders = vec![events.to_vec()];
    orders.push(events.iter().rev().copied().collect());
    orders.push(vec![events[1], events[0], events[2], events[3], events[4]]);
    for order in orders {
        let mut c = Call::default();
        let moved: u32 = order
            .iter()
            .map(|&e| put_skewed(&mut c, e, 10).unwrap())
            .sum();
        assert_eq!(moved, 2, "{order:?}");
        let got = counts(&c);
        assert!(got.contains(&(Count::AnsweredWithinT, 10, 1)), "{got:?}");
        // Talk 100 − 10 − hold (40 − 10) = 60 s.
        assert!(sums(&c).contains(&(Sum::WaitAnswered, 0)));
        assert!(sums(&c).contains(&(Sum::Talk, 60_000)), "{:?}", sums(&c));
        assert!(sums(&c).contains(&(Sum::Hold, 30_000)));
    }
}

#[test]
fn beyond_the_tolerance_the_step_is_rejected_and_the_call_unchanged() {
    let mut c = call(&[ev(20, Step::Offered, 0)]);
    assert_eq!(
        put_skewed(&mut c, ev(9, Step::Answered, A), 10),
        Err(RejectReason::NegativeDuration)
    );
    // Exactly at the tolerance is within it (inclusive).
    assert_eq!(put_skewed(&mut c, ev(10, Step::Answered, A), 10), Ok(1));
    // Without tolerance, as before: rejected.
    let mut strict = call(&[ev(20, Step::Offered, 0)]);
    assert_eq!(
        put_skewed(&mut strict, ev(19, Step::Answered, A), 0),
        Err(RejectReason::NegativeDuration)
    );
    assert_eq!(strict.live()[0].events().len(), 1);
    // An answer timed before its ringing is out of sequence, not a duration: no tolerance.
    let mut rung = call(&[ev(0, Step::Offered, 0), ev(8, Step::Ringing, A)]);
    assert_eq!(
        put_skewed(&mut rung, ev(6, Step::Answered, A), 10),
        Err(RejectReason::OutOfSequence)
    );
}

#[test]
fn a_flow_out_at_the_instant_of_the_offer_arriving_first_is_that_leg_s_end() {
    // Offered and flowed out in the same millisecond (an ACD stamping whole seconds), the
    // transfer delivered first: one leg, offered and flowed out at 0, nothing waiting. Before,
    // the offer started a leg of its own after the held transfer, which was then rejected
    // (no_offer) and left the call waiting until max_call_age.
    let mut c = Call::default();
    let mut resolved = Vec::new();
    let mut put = |c: &mut Call, e, origin| put_from(c, e, origin, &mut resolved);
    assert_eq!(put(&mut c, ev(0, Step::Transferred, 0), 1), Ok(false));
    assert_eq!(put(&mut c, ev(0, Step::Offered, 0), 2), Ok(true));
    assert_eq!(resolved, vec![1]);
    assert_eq!((c.live().len(), c.held()), (1, 0));
    let got = counts(&c);
    assert!(got.contains(&(Count::Offered, 0, 1)), "{got:?}");
    assert!(got.contains(&(Count::FlowedOut, 0, 1)), "{got:?}");
    assert_eq!(c.waiting_since(), None);
}

fn phases(c: &Call) -> Vec<(i64, AgentKey, Phase)> {
    let mut out = Vec::new();
    c.agent_phases(&mut out);
    out.into_iter()
        .map(|p| ((p.ts - T0) / 1000, p.agent, p.phase))
        .collect()
}

fn count(c: &Call, what: Count) -> Vec<(i64, i64)> {
    counts(c)
        .into_iter()
        .filter(|&(w, _, _)| w == what)
        .map(|(_, at, by)| (at, by))
        .collect()
}

#[test]
fn a_no_answer_ends_the_agents_ring_so_a_later_abandon_is_not_ring_abandoned() {
    // offered 0; A rings 1, no answer at 16 (ring timeout); the caller hangs up at 19, before
    // the queue rings anyone else. A's ring is a ring-no-answer (at its ringing, 1), not a
    // ring-abandoned, and A is free from 16, not until the abandon.
    let c = call(&[
        ev(0, Step::Offered, 0),
        ev(1, Step::Ringing, A),
        ev(16, Step::NoAnswer, A),
        ev(19, Step::Abandoned, 0),
    ]);
    assert_eq!(count(&c, Count::RingAttempts), [(1, 1)]);
    assert_eq!(count(&c, Count::RingNoAnswer), [(1, 1)]);
    assert_eq!(count(&c, Count::RingAbandoned), []);
    assert_eq!(phases(&c), [(1, A, Phase::Busy), (16, A, Phase::Free)]);
    // A no-answer of an agent not ringing changes nothing; nor does one for a ring already
    // ended by the next ring.
    let rang_on = call(&[
        ev(0, Step::Offered, 0),
        ev(1, Step::Ringing, A),
        ev(5, Step::NoAnswer, B),
        ev(6, Step::Ringing, B),
        ev(8, Step::NoAnswer, A),
        ev(9, Step::Answered, B),
    ]);
    assert_eq!(count(&rang_on, Count::RingNoAnswer), [(1, 1)]);
    assert_eq!(
        phases(&rang_on),
        [
            (1, A, Phase::Busy),
            (6, A, Phase::Free),
            (6, B, Phase::Busy),
            (9, B, Phase::Busy)
        ]
    );
}

#[test]
fn rings_of_one_instant_ring_together_as_a_ringall_does() {
    // A and B ring at 2 together. The caller hangs up at 10: both rings are ring-abandoned and
    // both agents are busy until then.
    let abandoned = call(&[
        ev(0, Step::Offered, 0),
        ev(2, Step::Ringing, A),
        ev(2, Step::Ringing, B),
        ev(10, Step::Abandoned, 0),
    ]);
    assert_eq!(count(&abandoned, Count::RingAttempts), [(2, 1), (2, 1)]);
    assert_eq!(count(&abandoned, Count::RingAbandoned), [(2, 1), (2, 1)]);
    assert_eq!(count(&abandoned, Count::RingNoAnswer), []);
    let mut p = phases(&abandoned);
    p.sort_unstable();
    assert_eq!(
        p,
        [
            (2, A, Phase::Busy),
            (2, B, Phase::Busy),
            (10, A, Phase::Free),
            (10, B, Phase::Free)
        ]
    );
    // B answers at 6: A's ring ends there, neither no-answer nor abandoned.
    let answered = call(&[
        ev(0, Step::Offered, 0),
        ev(2, Step::Ringing, A),
        ev(2, Step::Ringing, B),
        ev(6, Step::Answered, B),
    ]);
    assert_eq!(count(&answered, Count::RingNoAnswer), []);
    assert!(phases(&answered).contains(&(6, A, Phase::Free)));
    // Both time out at 17 and the queue rings them again at 20 (a second round): two
    // no-answers at 2, whether their no_answer events come before the next round or not.
    for timed_out in [true, false] {
        let mut events = vec![
            ev(0, Step::Offered, 0),
            ev(2, Step::Ringing, A),
            ev(2, Step::Ringing, B),
            ev(20, Step::Ringing, A),
            ev(20, Step::Ringing, B),
        ];
        if timed_out {
            events.extend([ev(17, Step::NoAnswer, A), ev(17, Step::NoAnswer, B)]);
        }
        let c = call(&events);
        assert_eq!(
            count(&c, Count::RingNoAnswer),
            [(2, 1), (2, 1)],
            "{timed_out}"
        );
    }
}

#[test]
fn an_agent_that_could_not_be_rung_is_member_unavailable_and_no_ring() {
    let c = call(&[
        ev(0, Step::Offered, 0),
        ev(1, Step::Unavailable, A),
        ev(1, Step::Ringing, B),
        ev(4, Step::Answered, B),
        ev(4, Step::Unavailable, A),
    ]);
    assert_eq!(count(&c, Count::MemberUnavailable), [(1, 1), (4, 1)]);
    assert_eq!(count(&c, Count::RingAttempts), [(1, 1)]);
    assert_eq!(count(&c, Count::RingNoAnswer), []);
    assert!(phases(&c).iter().all(|&(_, agent, _)| agent == B));
    // Not before the offer.
    let mut early = call(&[ev(10, Step::Offered, 0)]);
    assert_eq!(
        put(&mut early, ev(9, Step::Unavailable, A), 64),
        Err(RejectReason::NegativeDuration)
    );
}

#[test]
fn a_flow_out_ends_the_wait_unanswered_and_the_next_offer_is_a_new_leg() {
    // Offered 0, A rings 2 and is still ringing when the queue times the caller out at 30:
    // flowed out at 30, missed at T = 20 (it waited past T), A's ring is neither outcome and A
    // is free at 30. The caller is queued again at 30: a second leg.
    let c = call(&[
        ev(0, Step::Offered, 0),
        ev(2, Step::Ringing, A),
        ev(30, Step::FlowedOut, 0),
        ev(30, Step::Offered, 0),
        ev(35, Step::Answered, B),
    ]);
    assert_eq!(c.live().len(), 2);
    assert_eq!(count(&c, Count::FlowedOut), [(30, 1)]);
    assert_eq!(count(&c, Count::ReachedT), [(20, 1)]);
    assert_eq!(count(&c, Count::Offered), [(0, 1), (30, 1)]);
    assert_eq!(count(&c, Count::Answered), [(35, 1)]);
    assert_eq!(count(&c, Count::RingNoAnswer), []);
    assert_eq!(count(&c, Count::RingAbandoned), []);
    assert!(phases(&c).contains(&(30, A, Phase::Free)));
    assert_eq!(first(&c).terminal_at(), Some(T0 + 30_000));
    assert!(!first(&c).is_waiting());
    // Before T: no SL event at all.
    let early = call(&[ev(0, Step::Offered, 0), ev(8, Step::FlowedOut, 0)]);
    assert_eq!(count(&early, Count::ReachedT), []);
}

#[test]
fn a_flow_out_cannot_follow_an_answer_an_abandon_or_another_flow_out() {
    let mut answered = call(&[ev(0, Step::Offered, 0), ev(5, Step::Answered, A)]);
    assert_eq!(
        put(&mut answered, ev(3, Step::FlowedOut, 0), 64),
        Err(RejectReason::OutOfSequence)
    );
    let mut flowed = call(&[ev(0, Step::Offered, 0), ev(9, Step::FlowedOut, 0)]);
    for step in [Step::Abandoned, Step::FlowedOut, Step::Answered] {
        assert_eq!(
            put(&mut flowed, ev(8, step, A), 64),
            Err(RejectReason::OutOfSequence),
            "{step:?}"
        );
    }
    let mut abandoned = call(&[ev(0, Step::Offered, 0), ev(9, Step::Abandoned, 0)]);
    assert_eq!(
        put(&mut abandoned, ev(8, Step::FlowedOut, 0), 64),
        Err(RejectReason::OutOfSequence)
    );
    // A ringing after the flow-out belongs to the call's next leg, held until its offer.
    let mut c = call(&[ev(0, Step::Offered, 0), ev(9, Step::FlowedOut, 0)]);
    assert!(put(&mut c, ev(10, Step::Ringing, A), 64).is_ok_and(|counts| !counts));
}

#[test]
fn past_the_event_limit_a_call_still_takes_the_steps_that_end_it() {
    // A ringall queue's rings fill the call (limit 4); the answer, wrap and wrap_end still
    // count, so the call does not wait for ever. Rings beyond the limit do not.
    let mut c = Call::default();
    for e in [
        ev(0, Step::Offered, 0),
        ev(1, Step::Ringing, A),
        ev(2, Step::NoAnswer, A),
        ev(3, Step::Ringing, B),
    ] {
        put(&mut c, e, 4).unwrap();
    }
    assert_eq!(
        put(&mut c, ev(4, Step::Ringing, A), 4),
        Err(RejectReason::CallEventLimit)
    );
    for e in [
        ev(5, Step::Answered, B),
        ev(50, Step::Wrap, B),
        ev(60, Step::WrapEnd, B),
    ] {
        assert_eq!(put(&mut c, e, 4), Ok(true), "{e:?}");
    }
    assert_eq!(first(&c).terminal_at(), Some(T0 + 60_000));
    // The overrun is bounded: past the room for ending steps, nothing more is taken.
    let mut full = Call::default();
    put(&mut full, ev(0, Step::Offered, 0), 64).unwrap();
    let mut taken = 1;
    for i in 1..40 {
        let leave = put(&mut full, ev(i, Step::Transferred, 0), 1);
        let offer = put(&mut full, ev(i, Step::Offered, 0), 1);
        taken += usize::from(leave.is_ok()) + usize::from(offer.is_ok());
    }
    assert!(taken <= 1 + ENDING_ROOM, "{taken}");
}

#[test]
fn a_restart_ends_the_legs_still_open_then_and_frees_their_agents() {
    // Waiting since 0 (A ringing since 2), and another leg answered by B at 5 and in ACW: at
    // the restart at 40 both end. A leg that ended before (abandoned at 9) is not touched.
    let mut waiting = call(&[ev(0, Step::Offered, 0), ev(2, Step::Ringing, A)]);
    let mut acw = call(&[
        ev(0, Step::Offered, 0),
        ev(5, Step::Answered, B),
        ev(30, Step::Wrap, B),
    ]);
    let ended = call(&[ev(0, Step::Offered, 0), ev(9, Step::Abandoned, 0)]);
    let at = T0 + 40_000;
    assert!(waiting.open_at(at) && acw.open_at(at) && !ended.open_at(at));
    assert!(!waiting.open_at(T0 - 1), "not offered by then");
    waiting.end_open_legs(at);
    acw.end_open_legs(at);
    assert!(!waiting.open_at(at) && !acw.open_at(at));
    assert!(!first(&waiting).is_waiting());
    assert!(phases(&waiting).contains(&(40, A, Phase::Free)));
    assert!(phases(&acw).contains(&(40, B, Phase::Free)));
    // Neither answered nor abandoned nor flowed out: the restart is no outcome of the call.
    for what in [Count::Abandoned, Count::FlowedOut, Count::AcwCompleted] {
        assert_eq!(count(&waiting, what), [], "{what:?}");
    }
}
