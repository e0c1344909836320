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
        c.insert(e, 64).unwrap();
    }
    c
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
            Delta::Sum { what, ms, .. } => Some((
                [Sum::WaitAnswered, Sum::Talk, Sum::Hold, Sum::Acw][what.0 as usize],
                ms,
            )),
            _ => None,
        })
        .collect()
}

#[test]
fn answered_within_threshold_with_rings_talk_hold_and_acw() {
    // offered 0, ring 3 (agent A), answered 14 → wait 14 s ≤ 20 s, rings ceil(11/5) = 3;
    // hold 60–90, wrap 200 → talk 186 − 30 = 156 s, hold 30 s; wrap_end 230 → ACW 30 s.
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
            (Sum::Acw, 30_000)
        ]
    );
    assert_eq!(
        c.wait_sample(&QueueKpiSettings::default()),
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
    c.reached_threshold = true;
    assert!(counts(&c).contains(&(Count::ReachedT, 20, 1)));
    // A late answer timed before T replaces the miss by a hit.
    c.insert(ev(19, Step::Answered, A), 64).unwrap();
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
    assert_eq!(short.wait_sample(&QueueKpiSettings::default()), None);
    assert_eq!(
        after.wait_sample(&QueueKpiSettings::default()),
        Some((T0 + 50_000, 50_000))
    );
}

#[test]
fn transfer_before_t_has_no_sl_event_after_t_is_a_miss() {
    let early = call(&[ev(0, Step::Offered, 0), ev(10, Step::Transferred, 0)]);
    assert_eq!(
        counts(&early),
        vec![(Count::Offered, 0, 1), (Count::TransferredOut, 10, 1)]
    );
    let late = call(&[ev(0, Step::Offered, 0), ev(30, Step::Transferred, 0)]);
    assert!(counts(&late).contains(&(Count::ReachedT, 20, 1)));
}

#[test]
fn ring_no_answer_is_a_ring_followed_by_a_ring_or_an_abandon() {
    let c = call(&[
        ev(0, Step::Offered, 0),
        ev(2, Step::Ringing, A),
        ev(17, Step::Ringing, B),
        ev(30, Step::Abandoned, 0),
    ]);
    let got = counts(&c);
    assert!(got.contains(&(Count::RingNoAnswer, 2, 1)));
    assert!(got.contains(&(Count::RingNoAnswer, 17, 1)));
    let answered = call(&[
        ev(0, Step::Offered, 0),
        ev(2, Step::Ringing, A),
        ev(8, Step::Answered, A),
    ]);
    assert!(!counts(&answered).iter().any(|g| g.0 == Count::RingNoAnswer));
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
        c.insert(ev(16, Step::Answered, A), 64),
        Err(RejectReason::OutOfSequence)
    );
    assert_eq!(
        c.insert(ev(20, Step::Abandoned, 0), 64),
        Err(RejectReason::OutOfSequence)
    );
    assert_eq!(
        c.insert(ev(5, Step::Ringing, A), 64),
        Err(RejectReason::NegativeDuration)
    );
    assert_eq!(
        c.insert(ev(16, Step::Ringing, A), 64),
        Err(RejectReason::OutOfSequence)
    );
    assert_eq!(
        c.insert(ev(12, Step::Wrap, A), 64),
        Err(RejectReason::NegativeDuration)
    );
    c.insert(ev(40, Step::Wrap, A), 64).unwrap();
    assert_eq!(
        c.insert(ev(30, Step::WrapEnd, A), 64),
        Err(RejectReason::NegativeDuration)
    );
    assert_eq!(
        c.insert(ev(41, Step::Hold, A), 64),
        Err(RejectReason::OutOfSequence)
    );
    assert_eq!(
        c.insert(ev(50, Step::Offered, 0), 64),
        Err(RejectReason::OutOfSequence)
    );
    assert_eq!(
        c.insert(ev(50, Step::WrapEnd, A), 3),
        Err(RejectReason::CallEventLimit)
    );
    assert_eq!(c.events().len(), 3, "rejections leave the call unchanged");
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
