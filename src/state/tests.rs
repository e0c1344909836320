//! Engine-level tests: every KPI of a small hand-computed scenario, out-of-order and duplicate
//! delivery, pending offers, late events, expiry, window edges and the ledger.

use std::sync::Arc;

use crate::event::{AgentState, CallStep, CtiEvent, EventBody, Millis};
use crate::kpi::surge::EpisodeOutcome;
use crate::kpi::{KpiSnapshot, WindowKpis};
use crate::ledger::{Outcome, RejectReason};

use super::{Engine, EngineSettings, Resolution, TimeMode, BUCKET_MS, ORIGIN_SCOPE_SHIFT};

/// 2026-01-05 09:00:00 UTC, the start of an interval.
pub(super) const T0: Millis = 1_767_603_600_000;
pub(super) const WALL: Millis = T0 + 86_400_000;

pub(super) fn at(s: f64) -> Millis {
    T0 + (s * 1000.0) as Millis
}

pub(super) struct Script {
    pub(super) events: Vec<CtiEvent>,
}

impl Script {
    pub(super) fn new() -> Script {
        Script { events: Vec::new() }
    }

    pub(super) fn call(&mut self, s: f64, call: &str, step: CallStep) -> &mut Script {
        let n = self.events.len();
        self.events.push(CtiEvent {
            event_id: format!("e{n}"),
            ts: at(s),
            queue_id: "sales".into(),
            body: EventBody::Call {
                call_id: call.into(),
                step,
            },
        });
        self
    }

    pub(super) fn agent(&mut self, s: f64, agent: &str, state: AgentState) -> &mut Script {
        let n = self.events.len();
        self.events.push(CtiEvent {
            event_id: format!("e{n}"),
            ts: at(s),
            queue_id: "sales".into(),
            body: EventBody::AgentState {
                agent_id: agent.into(),
                state,
                reason: None,
            },
        });
        self
    }
}

pub(super) fn a(id: &str) -> String {
    id.to_string()
}

/// The scenario every KPI below is computed from by hand (times in seconds after T0):
///
/// | call | life |
/// |---|---|
/// | c1 | offered 0, ringing a1 2, answered a1 8, hold 30, unhold 50, wrap 100, wrap_end 130 |
/// | c2 | offered 10, ringing a2 12, abandoned 40 (wait 30 s: abandoned, missed at 30) |
/// | c3 | offered 20, abandoned 23 (wait 3 s: short abandon) |
/// | c4 | offered 50, transferred 60 (left before T: no SL event) |
/// | c5 | offered 70, still waiting (missed at 90) |
/// | c6 | offered 100, abandoned 110 (wait 10 s: abandoned within T) |
///
/// Agents a1 and a2 ready at 0; a2 not ready 200–260.
pub(super) fn scenario() -> Script {
    let mut s = Script::new();
    s.agent(0.0, "a1", AgentState::Ready)
        .agent(0.0, "a2", AgentState::Ready);
    s.call(0.0, "c1", CallStep::Offered)
        .call(2.0, "c1", CallStep::Ringing { agent_id: a("a1") })
        .call(8.0, "c1", CallStep::Answered { agent_id: a("a1") })
        .call(30.0, "c1", CallStep::Hold { agent_id: a("a1") })
        .call(50.0, "c1", CallStep::Unhold { agent_id: a("a1") })
        .call(100.0, "c1", CallStep::Wrap { agent_id: a("a1") })
        .call(130.0, "c1", CallStep::WrapEnd { agent_id: a("a1") });
    s.call(10.0, "c2", CallStep::Offered)
        .call(12.0, "c2", CallStep::Ringing { agent_id: a("a2") })
        .call(40.0, "c2", CallStep::Abandoned);
    s.call(20.0, "c3", CallStep::Offered)
        .call(23.0, "c3", CallStep::Abandoned);
    s.call(50.0, "c4", CallStep::Offered).call(
        60.0,
        "c4",
        CallStep::Transferred {
            target_queue_id: a("support"),
            agent_id: None,
        },
    );
    s.call(70.0, "c5", CallStep::Offered);
    s.call(100.0, "c6", CallStep::Offered)
        .call(110.0, "c6", CallStep::Abandoned);
    s.agent(200.0, "a2", AgentState::NotReady)
        .agent(260.0, "a2", AgentState::Ready);
    s.events.sort_by_key(|e| e.ts);
    s
}

pub(super) fn engine() -> Engine {
    Engine::new(Arc::new(EngineSettings::default()), TimeMode::EventTime)
}

/// Applies the events in order, checking after each that the indexes kept beside the state
/// agree with it (the due sets, which let a sweep act on the calls due without looking at the
/// others, and what spares most events a look at the waiting calls or the memberships).
fn run(engine: &mut Engine, events: &[CtiEvent]) -> Vec<Outcome> {
    events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let outcome = engine.apply(e, i as u64, WALL);
            assert!(engine.indexes_agree(), "indexes astray after {e:?}");
            outcome
        })
        .collect()
}

/// Every queue's snapshot with the event clock moved to `as_of` by a marker event.
fn snapshots_at(engine: &mut Engine, as_of: Millis) -> Vec<KpiSnapshot> {
    let marker = CtiEvent {
        event_id: format!("clock-{as_of}"),
        ts: as_of,
        queue_id: "clock".into(),
        body: EventBody::AgentState {
            agent_id: "x".into(),
            state: AgentState::LoggedOut,
            reason: None,
        },
    };
    engine.apply(&marker, u64::MAX, WALL);
    engine.snapshots(WALL)
}

/// Snapshot of "sales" with the event clock moved to `as_of` by a marker event elsewhere.
fn snapshot_at(engine: &mut Engine, as_of: Millis) -> KpiSnapshot {
    snapshots_at(engine, as_of)
        .into_iter()
        .find(|s| s.queue_id == "sales")
        .expect("sales has a snapshot")
}

fn close(a: Option<f64>, b: f64, tolerance: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() <= tolerance)
}

fn assert_scenario_window(w: &WindowKpis) {
    assert_eq!(w.offered, 6);
    assert_eq!(w.answered, 1);
    assert_eq!(w.abandoned, 2);
    assert_eq!(w.short_abandoned, 1);
    // c4 left at 60 unanswered: a flow-out, not a transfer out (which needs an answer here).
    assert_eq!((w.transferred_out, w.flowed_out), (0, 1));
    assert_eq!(
        (
            w.answered_within_threshold,
            w.abandoned_within_threshold,
            w.reached_threshold
        ),
        (1, 1, 2)
    );
    // SL: 1 / (1 + 1 + 2); ignoring abandons 1 / (1 + 2); positive (1 + 1) / 4.
    assert_eq!(w.service_level, Some(0.25));
    assert_eq!(w.service_level_ignore_abandons, Some(1.0 / 3.0));
    assert_eq!(w.service_level_positive, Some(0.5));
    assert_eq!(w.asa_seconds, Some(8.0));
    // Waits 8, 30 and 10 s (answered and abandoned, not the short abandon), ±1 %.
    assert!(
        close(w.wait_p50_seconds, 10.0, 0.1),
        "{:?}",
        w.wait_p50_seconds
    );
    assert!(
        close(w.wait_p90_seconds, 30.0, 0.3),
        "{:?}",
        w.wait_p90_seconds
    );
    assert_eq!(w.abandon_rate, Some(2.0 / 3.0));
    // c1: talk 100 − 8 − 20 s hold = 72 s, ACW 30 s; AHT = its handle time, 130 − 8 = 122 s.
    assert_eq!(
        (w.handled, w.avg_talk_seconds, w.avg_hold_seconds),
        (1, Some(72.0), Some(20.0))
    );
    assert_eq!(
        (w.acw_completed, w.avg_acw_seconds, w.aht_seconds),
        (1, Some(30.0), Some(122.0))
    );
    // Rings: c1 answered 6 s after its ring = 2 rings; c2's ring was ended by the caller's
    // abandon: ring-abandoned, not a ring-no-answer.
    assert_eq!(
        (w.ring_attempts, w.ring_no_answer, w.rings_per_answer),
        (2, 0, Some(2.0))
    );
    assert_eq!(w.ring_abandoned, 1);
    // transferred_out / answered = 0 / 1.
    assert_eq!(w.transfer_rate, Some(0.0));
}

#[test]
fn every_kpi_of_the_hand_computed_scenario() {
    let mut e = engine();
    let outcomes = run(&mut e, &scenario().events);
    assert!(
        outcomes.iter().all(|o| *o == Outcome::Applied),
        "{outcomes:?}"
    );
    let snap = snapshot_at(&mut e, at(300.0));
    for name in ["5m", "15m", "60m", "interval", "today"] {
        let w = snap.windows.get(name).expect(name);
        assert_scenario_window(w);
        // Over [0, 300]: a1 busy 2–100 (98 s), ACW 100–130 (30 s), ready 2 + 170 s;
        // a2 busy 12–40 (28 s), ready 12 + 160 + 40 s, not ready 200–260 (60 s).
        assert_eq!(w.busy_agent_seconds, 126.0, "{name}");
        assert_eq!(w.acw_agent_seconds, 30.0);
        assert_eq!(w.ready_agent_seconds, 384.0);
        assert_eq!(w.not_ready_agent_seconds, 60.0);
        assert_eq!(w.occupancy, Some(156.0 / 540.0));
        assert_eq!(w.not_ready_ratio, Some(0.1));
    }
    assert_eq!(snap.now.calls_waiting, 1);
    assert_eq!(snap.now.oldest_wait_seconds, 230.0);
    assert_eq!(
        (
            snap.now.agents_ready,
            snap.now.agents_logged_in,
            snap.now.agents_busy
        ),
        (2, 2, 0)
    );
    assert_eq!(snap.sl_threshold_seconds, 20.0);
    assert!(e.ledger().counts().balances());
}

/// The scenario's interval, 09:00–09:30, once closed: every KPI as computed by hand for the
/// scenario, agent time over the whole half hour, and a call offered at 29:55 that arrives
/// after an event at 30:10 (within the lateness) counted in it; the interval before is
/// reported empty.
#[test]
fn a_closed_interval_is_reported_with_the_figures_computed_by_hand() {
    let mut e = engine();
    e.set_report_intervals(true);
    let mut script = scenario();
    script.call(1810.0, "c8", CallStep::Offered);
    script.call(1795.0, "c7", CallStep::Offered);
    run(&mut e, &script.events);
    // Nothing closed at 30:10: the watermark (29:40) is before the interval's end.
    let closed = e.take_intervals();
    assert_eq!(
        closed.iter().map(|i| (i.start, i.end)).collect::<Vec<_>>(),
        [(at(-1800.0), at(0.0))]
    );
    assert_eq!(closed[0].kpis.offered, 0);
    assert_eq!(closed[0].kpis.ready_agent_seconds, 0.0);
    // An event at 31:00 moves the watermark past 30:00.
    let mut later = Script::new();
    later.agent(1860.0, "a1", AgentState::Ready);
    later.events[0].event_id = "later".into();
    run(&mut e, &later.events);
    let closed = e.take_intervals();
    assert_eq!(closed.len(), 1);
    let i = &closed[0];
    assert_eq!(
        (i.queue_id.as_str(), i.start, i.end, i.partial),
        ("sales", at(0.0), at(1800.0), false)
    );
    let mut w = i.kpis.clone();
    // c7 (offered 29:55, still waiting) is one more offer, and no SL event before 30:15.
    assert_eq!(w.offered, 7);
    w.offered -= 1;
    assert_scenario_window(&w);
    // Over [0, 1800]: a1 busy 2–100, ACW 100–130, ready 0–2 and 130–1800; a2 busy 12–40,
    // ready 0–12, 40–200 and 260–1800, not ready 200–260.
    assert_eq!(w.busy_agent_seconds, 98.0 + 28.0);
    assert_eq!(w.acw_agent_seconds, 30.0);
    assert_eq!(w.ready_agent_seconds, 2.0 + 1670.0 + 12.0 + 160.0 + 1540.0);
    assert_eq!(w.not_ready_agent_seconds, 60.0);
    assert_eq!(w.occupancy, Some(156.0 / (156.0 + 3384.0)));
    // The interval window of a snapshot no longer has c7: it rolled before c7 arrived.
    let snap = snapshot_at(&mut e, at(1860.0));
    assert_eq!(snap.windows.get("interval").unwrap().offered, 1);
}

/// Live, a queue that goes quiet still closes its interval: its watermark moves on with the
/// clock once it has been quiet for the lateness (closed at 30:00 + 2 × 30 s).
#[test]
fn in_live_mode_a_quiet_queue_closes_its_interval_by_the_clock() {
    let mut e = Engine::new(Arc::new(EngineSettings::default()), TimeMode::Live);
    e.set_report_intervals(true);
    let mut s = Script::new();
    s.call(100.0, "c1", CallStep::Offered)
        .call(110.0, "c1", CallStep::Abandoned);
    for ev in &s.events {
        e.apply(ev, 0, ev.ts);
    }
    e.tick(at(1859.0));
    assert!(e.take_intervals().iter().all(|i| i.start < at(0.0)));
    e.tick(at(1860.0));
    let closed = e.take_intervals();
    assert_eq!(closed.len(), 1);
    assert_eq!(
        (
            closed[0].start,
            closed[0].kpis.offered,
            closed[0].kpis.abandoned
        ),
        (at(0.0), 1, 1)
    );
}

/// Live, a queue created at the clock whose first events are older (a backlog, the demo's
/// warm-up) reports from the first interval the ring holds whole, not from the clock's.
#[test]
fn in_live_mode_a_queue_reports_the_intervals_of_its_older_first_events_that_it_holds_whole() {
    let mut e = Engine::new(Arc::new(EngineSettings::default()), TimeMode::Live);
    e.set_report_intervals(true);
    let now = at(4500.0); // 10:15
    let mut s = Script::new();
    // 08:30 (before the ring's 60-minute window and lateness: not held whole), 09:10, 09:40.
    for (i, t) in [-1800.0, 600.0, 2400.0].into_iter().enumerate() {
        s.call(t, &format!("c{i}"), CallStep::Offered).call(
            t + 5.0,
            &format!("c{i}"),
            CallStep::Abandoned,
        );
    }
    for (i, ev) in s.events.iter().enumerate() {
        e.apply(ev, i as u64, now);
    }
    // The backlog's intervals close as its events pass them, not by the clock: its last
    // event (09:40:05) leaves 09:30–10:00 open.
    e.tick(now);
    assert!(e.take_intervals().is_empty());
    // Quiet for 25 minutes: the watermark (09:39:35) moves on by the quiet time less the
    // lateness, to 10:04:05.
    e.tick(now + 25 * 60_000);
    let closed: Vec<(Millis, u64)> = e
        .take_intervals()
        .iter()
        .map(|i| (i.start, i.kpis.offered))
        .collect();
    // The ring reached back to 09:13:50 or so when the queue began at 10:15: 09:30–10:00 is
    // the first interval it held whole.
    assert_eq!(closed, [(at(1800.0), 1)]);
}

#[test]
fn a_window_counts_only_what_its_edges_hold_and_agent_time_is_cut_at_the_edge() {
    let mut e = engine();
    run(&mut e, &scenario().events);
    // 5m window at 420 s = [120, 420]: only c1's wrap_end (130) and agent time.
    let snap = snapshot_at(&mut e, at(420.0));
    let w = snap.windows.get("5m").unwrap();
    assert_eq!((w.offered, w.answered, w.abandoned), (0, 0, 0));
    assert_eq!(w.service_level, None);
    assert_eq!(w.asa_seconds, None);
    assert_eq!((w.acw_completed, w.avg_acw_seconds), (1, Some(30.0)));
    // a1: ACW 120–130, ready 130–420; a2: ready 120–200 and 260–420, not ready 200–260.
    assert_eq!(w.acw_agent_seconds, 10.0);
    assert_eq!(w.ready_agent_seconds, 290.0 + 80.0 + 160.0);
    assert_eq!(w.occupancy, Some(10.0 / 540.0));
    assert_eq!(w.not_ready_ratio, Some(60.0 / 600.0));
    // The 15-minute window still holds everything.
    assert_scenario_window(snap.windows.get("15m").unwrap());
}

#[test]
fn out_of_order_within_the_lateness_counts_exactly_as_in_order() {
    let mut in_order = engine();
    run(&mut in_order, &scenario().events);
    let expected = snapshot_at(&mut in_order, at(300.0));

    // Reverse the events inside every 25-second slice: each arrives up to 25 s late.
    let mut events = scenario().events;
    for chunk in events.chunk_by_mut(|a, b| (a.ts - T0) / 25_000 == (b.ts - T0) / 25_000) {
        chunk.reverse();
    }
    let mut shuffled = engine();
    let outcomes = run(&mut shuffled, &events);
    assert!(outcomes
        .iter()
        .all(|o| matches!(o, Outcome::Applied | Outcome::Pending)));
    assert_eq!(snapshot_at(&mut shuffled, at(300.0)), expected);
    assert_eq!(shuffled.ledger().counts().pending, 0);
}

#[test]
fn a_late_answer_replaces_the_miss_counted_while_the_call_waited() {
    let mut e = engine();
    let mut s = Script::new();
    s.call(0.0, "c1", CallStep::Offered);
    run(&mut e, &s.events);
    // The clock passes 20 s with c1 waiting: counted as reached T.
    let snap = snapshot_at(&mut e, at(25.0));
    assert_eq!(snap.windows.get("5m").unwrap().reached_threshold, 1);
    // Then the answer, timed at 19 s, arrives 6 s late.
    let mut late = Script::new();
    late.call(0.0, "x", CallStep::Offered);
    late.call(19.0, "c1", CallStep::Answered { agent_id: a("a1") });
    assert_eq!(e.apply(&late.events[1], 1, WALL), Outcome::Applied);
    let w = snapshot_at(&mut e, at(26.0))
        .windows
        .get("5m")
        .unwrap()
        .clone();
    assert_eq!((w.reached_threshold, w.answered_within_threshold), (0, 1));
    assert_eq!(w.service_level, Some(1.0));
}

#[test]
fn duplicates_late_events_and_pending_offers_balance_the_ledger() {
    let mut e = engine();
    let mut s = Script::new();
    s.call(100.0, "c1", CallStep::Answered { agent_id: a("a1") }); // before its offer
    s.call(95.0, "c1", CallStep::Offered);
    s.call(200.0, "c2", CallStep::Offered);
    s.call(150.0, "c3", CallStep::Offered); // 50 s behind the newest event: late
    s.call(210.0, "c9", CallStep::Ringing { agent_id: a("a1") }); // never offered
    let outcomes = run(&mut e, &s.events);
    assert_eq!(
        outcomes,
        vec![
            Outcome::Pending,
            Outcome::Applied,
            Outcome::Applied,
            Outcome::Late,
            Outcome::Pending
        ]
    );
    assert_eq!(
        e.take_resolutions(),
        vec![Resolution {
            origin: 0,
            outcome: Outcome::Applied
        }]
    );
    // Redelivery of the first event: same id.
    assert_eq!(e.apply(&s.events[0], 5, WALL), Outcome::Duplicate);
    // The watermark passes c9's ringing: rejected, reported with its origin.
    let mut later = Script::new();
    for i in 0..8 {
        later.call(250.0 + 10.0 * i as f64, &format!("d{i}"), CallStep::Offered);
    }
    for (i, ev) in later.events.iter_mut().enumerate() {
        ev.event_id = format!("later{i}");
    }
    run(&mut e, &later.events);
    assert_eq!(
        e.take_resolutions(),
        vec![Resolution {
            origin: 4,
            outcome: Outcome::Rejected(RejectReason::NoOffer)
        }]
    );
    let c = e.ledger().counts();
    assert_eq!(
        (
            c.consumed,
            c.applied,
            c.duplicate,
            c.late,
            c.rejected,
            c.pending
        ),
        (14, 11, 1, 1, 1, 0)
    );
    assert!(c.balances());
    assert_eq!(e.ledger().rejected_by(RejectReason::NoOffer), 1);
}

#[test]
fn end_of_input_rejects_what_still_waits_for_an_offer() {
    let mut e = engine();
    let mut s = Script::new();
    s.call(10.0, "c1", CallStep::Wrap { agent_id: a("a1") });
    run(&mut e, &s.events);
    assert_eq!(e.ledger().counts().pending, 1);
    e.finish();
    assert_eq!(
        e.take_resolutions(),
        vec![Resolution {
            origin: 0,
            outcome: Outcome::Rejected(RejectReason::NoOffer)
        }]
    );
    let c = e.ledger().counts();
    assert_eq!((c.pending, c.rejected), (0, 1));
    assert!(c.balances());
}

#[test]
fn an_offer_held_behind_a_flow_out_without_its_offer_counts_once_the_watermark_passes_that() {
    // c1 flowed out at 0 with no offer before it (lost), and is offered at 20 and rung at 25:
    // held, as the visit after the one that flowed out. When the watermark passes 0 (c2's
    // offer at 40), the flow-out is no_offer and c1's offer is its first visit: it counts and
    // waits, with its ring, as if the flow-out had never come.
    let mut e = engine();
    let mut s = Script::new();
    s.call(0.0, "c1", CallStep::FlowedOut { reason: None })
        .call(20.0, "c1", CallStep::Offered)
        .call(25.0, "c1", CallStep::Ringing { agent_id: a("a1") })
        .call(40.0, "c2", CallStep::Offered);
    let outcomes = run(&mut e, &s.events);
    assert_eq!(outcomes[..3], [Outcome::Pending; 3]);
    assert_eq!(
        e.take_resolutions(),
        vec![
            Resolution {
                origin: 0,
                outcome: Outcome::Rejected(RejectReason::NoOffer)
            },
            Resolution {
                origin: 1,
                outcome: Outcome::Applied
            },
            Resolution {
                origin: 2,
                outcome: Outcome::Applied
            }
        ]
    );
    let snap = snapshot_at(&mut e, at(45.0));
    assert_eq!(snap.now.calls_waiting, 2);
    let (_, totals) = e.totals().into_iter().find(|(q, _)| q == "sales").unwrap();
    assert_eq!((totals.offered, totals.ring_attempts), (2, 1));
    // c1's offer and ring, c2's offer and the snapshot's clock marker.
    let c = e.ledger().counts();
    assert_eq!((c.applied, c.rejected, c.pending), (4, 1, 0), "{c:?}");
    assert!(c.balances());
}

#[test]
fn future_timestamps_and_the_queue_cap_are_rejected() {
    let settings = EngineSettings {
        max_queues: 1,
        ..EngineSettings::default()
    };
    let mut e = Engine::new(Arc::new(settings), TimeMode::EventTime);
    let mut s = Script::new();
    s.call(0.0, "c1", CallStep::Offered);
    s.call(1.0, "c2", CallStep::Offered);
    s.events[1].queue_id = "support".into();
    let far = CtiEvent {
        ts: WALL + 600_000,
        event_id: "f".into(),
        ..s.events[0].clone()
    };
    assert_eq!(e.apply(&s.events[0], 0, WALL), Outcome::Applied);
    assert_eq!(
        e.apply(&s.events[1], 1, WALL),
        Outcome::Rejected(RejectReason::QueueLimit)
    );
    assert_eq!(
        e.apply(&far, 2, WALL),
        Outcome::Rejected(RejectReason::FutureTimestamp)
    );
}

#[test]
fn a_call_whose_end_never_comes_expires_and_frees_its_agent() {
    let mut e = engine();
    let mut s = Script::new();
    s.agent(0.0, "a1", AgentState::Ready);
    s.call(0.0, "c1", CallStep::Offered);
    s.call(5.0, "c1", CallStep::Answered { agent_id: a("a1") });
    s.call(10.0, "c2", CallStep::Offered);
    run(&mut e, &s.events);
    let snap = snapshot_at(&mut e, at(3600.0));
    assert_eq!((snap.now.calls_waiting, snap.now.agents_busy), (1, 1));
    // The wall clock alone does not expire calls (a replayed backlog may still end them)…
    let snap = snapshot_at(&mut e, at(4.0 * 3600.0 + 60.0));
    assert_eq!((snap.now.calls_waiting, snap.now.agents_busy), (1, 1));
    // …the queue's own events four hours on do: nothing waits, the agent is ready again.
    let mut later = Script::new();
    later.agent(4.0 * 3600.0 + 60.0, "a2", AgentState::LoggedOut);
    later.events[0].event_id = "later".into();
    e.apply(&later.events[0], 9, WALL);
    let snap = snapshot_at(&mut e, at(4.0 * 3600.0 + 120.0));
    assert_eq!(
        (
            snap.now.calls_waiting,
            snap.now.agents_busy,
            snap.now.agents_ready
        ),
        (0, 0, 1)
    );
    // The agent was busy from the answer at 5 s until c1 expired at offered + 4 h (14,400 s),
    // not until the sweep that noticed it (the queue's events jumped to 14,460 s).
    let today = snap.windows.get("today").unwrap();
    assert_eq!(today.busy_agent_seconds, 14_395.0);
    let totals = e.totals();
    let sales = totals.iter().find(|(q, _)| q == "sales").unwrap();
    assert_eq!(sales.1.expired_calls, 2);
}

/// The ghost of issue 12: c1's `answered` is lost (or came too late), its wrap and wrap_end
/// arrive. c1 stops waiting at the wrap and the agent it rang is free there, so five hours
/// later nothing waits and nobody is busy (before: 1 call waiting for 18,005 s, a2 busy after
/// logging out, and a checkpoint kept both).
fn answer_lost() -> Script {
    let mut s = Script::new();
    s.agent(0.0, "a1", AgentState::Ready)
        .agent(0.0, "a2", AgentState::Ready);
    s.call(0.0, "c1", CallStep::Offered)
        .call(2.0, "c1", CallStep::Ringing { agent_id: a("a2") })
        .call(60.0, "c1", CallStep::Wrap { agent_id: a("a1") })
        .call(90.0, "c1", CallStep::WrapEnd { agent_id: a("a1") });
    s.agent(100.0, "a2", AgentState::LoggedOut);
    s.call(5.0 * 3600.0, "c2", CallStep::Offered).call(
        5.0 * 3600.0 + 30.0,
        "c2",
        CallStep::Abandoned,
    );
    s
}

#[test]
fn a_call_whose_answer_is_lost_stops_waiting_at_its_wrap_and_frees_the_agent_it_rang() {
    let mut e = engine();
    let outcomes = run(&mut e, &answer_lost().events);
    assert!(
        outcomes.iter().all(|o| *o == Outcome::Applied),
        "{outcomes:?}"
    );
    let snap = snapshot_at(&mut e, at(5.0 * 3600.0 + 60.0));
    assert_eq!(
        (
            snap.now.calls_waiting,
            snap.now.oldest_wait_seconds,
            snap.now.agents_busy,
            snap.now.agents_acw,
            snap.now.agents_ready,
            snap.now.agents_logged_in,
        ),
        (0, 0.0, 0, 0, 1, 1)
    );
    let today = snap.windows.get("today").unwrap();
    // c1 was taken after T (its wrap at 60 s): missed at 20 s, neither answered nor
    // abandoned; c2 abandoned after 30 s: missed too.
    assert_eq!(
        (
            today.offered,
            today.answered,
            today.abandoned,
            today.reached_threshold
        ),
        (2, 0, 1, 2)
    );
    assert_eq!(today.service_level, Some(0.0));
    // a2 rang from 2 s until the wrap at 60 s; a1 was in ACW 60–90 s.
    assert_eq!(
        (today.busy_agent_seconds, today.acw_agent_seconds),
        (58.0, 30.0)
    );
    // c1 is forgotten (c2 ended within the lateness, so it is still held), and a restored
    // queue shows the same.
    assert_eq!(e.queue("sales").unwrap().calls_in_flight(), 1);
    let bytes = e.checkpoint_queue("sales", 9).unwrap();
    let mut restored = engine();
    restored.restore_queue(&bytes, 0).unwrap();
    let again = snapshot_at(&mut restored, at(5.0 * 3600.0 + 60.0));
    assert_eq!((again.now.calls_waiting, again.now.agents_busy), (0, 0));
}

/// Taken before T without its answer: no SL event, and it is not waiting from its hold on.
#[test]
fn a_call_taken_before_the_threshold_without_its_answer_has_no_sl_event() {
    let mut e = engine();
    let mut s = Script::new();
    s.agent(0.0, "a1", AgentState::Ready);
    s.call(0.0, "c1", CallStep::Offered)
        .call(2.0, "c1", CallStep::Ringing { agent_id: a("a1") })
        .call(15.0, "c1", CallStep::Hold { agent_id: a("a1") });
    run(&mut e, &s.events);
    let snap = snapshot_at(&mut e, at(60.0));
    // Still in flight (no wrap yet): a1 busy on it, but nobody waits.
    assert_eq!((snap.now.calls_waiting, snap.now.agents_busy), (0, 1));
    let w = snap.windows.get("today").unwrap();
    assert_eq!(
        (w.offered, w.answered, w.reached_threshold, w.service_level),
        (1, 0, 0, None)
    );
}

/// Issue 12, item 6: an answer in the very step that expires its call (stamped past offered +
/// `max_call_age`) was applied with a wait of the whole age (ASA 849,414,350 s in one run).
#[test]
fn a_step_for_a_call_that_has_expired_is_rejected_as_no_offer() {
    let mut e = engine();
    let mut s = Script::new();
    s.agent(0.0, "a1", AgentState::Ready);
    s.call(0.0, "c1", CallStep::Offered);
    s.call(
        4.0 * 3600.0 + 100.0,
        "c1",
        CallStep::Answered { agent_id: a("a1") },
    );
    let outcomes = run(&mut e, &s.events);
    assert_eq!(
        outcomes,
        vec![
            Outcome::Applied,
            Outcome::Applied,
            Outcome::Rejected(RejectReason::NoOffer)
        ]
    );
    let snap = snapshot_at(&mut e, at(4.0 * 3600.0 + 100.0));
    let today = snap.windows.get("today").unwrap();
    assert_eq!(
        (today.offered, today.answered, today.asa_seconds),
        (1, 0, None)
    );
    assert_eq!((snap.now.calls_waiting, snap.now.agents_busy), (0, 0));
    let totals = e.totals();
    assert_eq!(totals[1].1.expired_calls, 1);
}

/// Issue 12, item 6: live, an event older than now − `max_call_age` is late even as a new
/// queue's first event (one stamped 2000-01-01 was accepted and made a queue).
#[test]
fn in_live_mode_an_event_older_than_the_call_age_is_late_even_for_a_new_queue() {
    let mut e = Engine::new(Arc::new(EngineSettings::default()), TimeMode::Live);
    let age = EngineSettings::default().max_call_age_ms;
    let mut s = Script::new();
    s.call(0.0, "c1", CallStep::Offered);
    let mut old = s.events[0].clone();
    old.ts = WALL - age - 1;
    assert_eq!(e.apply(&old, 0, WALL), Outcome::Late);
    let mut y2k = s.events[0].clone();
    y2k.ts = 946_684_800_000;
    y2k.event_id = "y2k".into();
    assert_eq!(e.apply(&y2k, 1, WALL), Outcome::Late);
    assert_eq!(e.queue_count(), 0);
    let mut recent = s.events[0].clone();
    recent.ts = WALL - age + 60_000;
    recent.event_id = "recent".into();
    assert_eq!(e.apply(&recent, 2, WALL), Outcome::Applied);
    let c = e.ledger().counts();
    assert_eq!((c.consumed, c.late, c.applied), (3, 2, 1));
}

/// Issue 12, item 1: live, a call left open in a backlog was shown waiting 7916 h (its wait
/// measured by the clock, its expiry by its queue's lagging events). One clock for both: by
/// the clock it is older than `max_call_age`, so it is expired, not shown.
#[test]
fn in_live_mode_a_call_older_than_the_call_age_by_the_clock_is_expired_not_shown() {
    let mut e = Engine::new(Arc::new(EngineSettings::default()), TimeMode::Live);
    let mut s = Script::new();
    s.call(0.0, "c1", CallStep::Offered);
    let mut offered = s.events[0].clone();
    offered.ts = WALL - 3_600_000;
    assert_eq!(e.apply(&offered, 0, WALL), Outcome::Applied);
    let snap = e.snapshots(WALL);
    assert_eq!(
        (snap[0].now.calls_waiting, snap[0].now.oldest_wait_seconds),
        (1, 3600.0)
    );
    // No event since; the clock is 5 h past the offer.
    let later = WALL + 4 * 3_600_000;
    e.tick(later);
    let snap = e.snapshots(later);
    assert_eq!(
        (snap[0].now.calls_waiting, snap[0].now.oldest_wait_seconds),
        (0, 0.0)
    );
    assert_eq!(e.totals()[0].1.expired_calls, 1);
}

/// Issue 12, item 11: live, a step held for its call's offer on a queue that then goes quiet
/// was pending for ever (30 after a broker kill): the watermark follows the queue's events,
/// and none came. Once the queue has been quiet for the lateness, its hold horizon moves on
/// with the clock, so the step is rejected as `no_offer` as the watermark would have.
#[test]
fn in_live_mode_a_step_held_on_a_quiet_queue_is_rejected_by_the_clock() {
    let s = EngineSettings::default();
    let lateness = s.allowed_lateness_ms;
    let mut e = Engine::new(Arc::new(s), TimeMode::Live);
    let mut script = Script::new();
    script.call(0.0, "c1", CallStep::Answered { agent_id: a("a1") });
    let mut answered = script.events[0].clone();
    answered.ts = WALL;
    assert_eq!(e.apply(&answered, 0, WALL), Outcome::Pending);
    assert_eq!(e.ledger().counts().pending, 1);
    // Quiet for longer than the lateness, but the horizon (watermark + quiet − lateness) has
    // not passed the step yet: an offer could still come.
    e.tick(WALL + 2 * lateness - 1_000);
    assert_eq!(e.ledger().counts().pending, 1);
    assert!(e.take_resolutions().is_empty());
    e.tick(WALL + 2 * lateness + BUCKET_MS);
    assert_eq!(
        e.take_resolutions(),
        vec![Resolution {
            origin: 0,
            outcome: Outcome::Rejected(RejectReason::NoOffer)
        }]
    );
    let c = e.ledger().counts();
    assert_eq!((c.consumed, c.pending, c.rejected), (1, 0, 1));
    assert_eq!(e.ledger().rejected_by(RejectReason::NoOffer), 1);
    assert!(c.balances());
}

/// The other side of the one above: the offer comes within the lateness, before the queue
/// has been quiet long enough, so the held step is applied and the clock rejects nothing.
#[test]
fn in_live_mode_a_held_step_whose_offer_comes_in_time_is_applied_not_rejected() {
    let s = EngineSettings::default();
    let lateness = s.allowed_lateness_ms;
    let mut e = Engine::new(Arc::new(s), TimeMode::Live);
    let mut script = Script::new();
    script
        .call(0.0, "c1", CallStep::Answered { agent_id: a("a1") })
        .call(0.0, "c1", CallStep::Offered);
    let (mut answered, mut offered) = (script.events[0].clone(), script.events[1].clone());
    answered.ts = WALL;
    offered.ts = WALL - 5_000;
    assert_eq!(e.apply(&answered, 0, WALL), Outcome::Pending);
    assert_eq!(e.apply(&offered, 1, WALL + 20_000), Outcome::Applied);
    assert_eq!(
        e.take_resolutions(),
        vec![Resolution {
            origin: 0,
            outcome: Outcome::Applied
        }]
    );
    e.tick(WALL + 4 * lateness + BUCKET_MS);
    assert!(e.take_resolutions().is_empty());
    let c = e.ledger().counts();
    assert_eq!((c.consumed, c.applied, c.pending, c.rejected), (2, 2, 0, 0));
    assert!(c.balances());
}

/// Why the horizon follows quiet time and not the clock (now − lateness): in a catch-up the
/// queue's events are an hour behind the clock, and a step held at a batch boundary, with a
/// publish between it and its offer, must still meet its offer as in a replay.
#[test]
fn in_live_mode_a_step_held_in_a_catch_up_waits_for_its_offer() {
    let mut e = Engine::new(Arc::new(EngineSettings::default()), TimeMode::Live);
    let mut script = Script::new();
    script
        .call(0.0, "c1", CallStep::Answered { agent_id: a("a1") })
        .call(0.0, "c1", CallStep::Offered);
    let (mut answered, mut offered) = (script.events[0].clone(), script.events[1].clone());
    answered.ts = WALL - 3_600_000;
    offered.ts = answered.ts - 2_000;
    assert_eq!(e.apply(&answered, 0, WALL), Outcome::Pending);
    e.tick(WALL + BUCKET_MS);
    assert_eq!(
        e.apply(&offered, 1, WALL + BUCKET_MS + 1_000),
        Outcome::Applied
    );
    assert_eq!(
        e.take_resolutions(),
        vec![Resolution {
            origin: 0,
            outcome: Outcome::Applied
        }]
    );
    let c = e.ledger().counts();
    assert_eq!((c.applied, c.pending, c.rejected), (2, 0, 0));
}

#[test]
fn in_live_mode_a_quiet_queue_decays_to_no_value() {
    let mut e = Engine::new(Arc::new(EngineSettings::default()), TimeMode::Live);
    let events = scenario().events;
    for (i, ev) in events.iter().enumerate() {
        e.apply(ev, i as u64, ev.ts);
    }
    let busy = e.snapshots(at(300.0));
    assert_eq!(busy[0].windows.get("5m").unwrap().offered, 6);
    let quiet = e.snapshots(at(300.0 + 15.0 * 60.0));
    let w = quiet[0].windows.get("5m").unwrap();
    assert_eq!((w.offered, w.service_level, w.asa_seconds), (0, None, None));
    assert_eq!(quiet[0].windows.get("60m").unwrap().offered, 6);
}

/// The generators are reused by the checkpoint tests, hence `pub(in crate::state)`: `pub(super)`
/// here would stop at this file's module.
pub(super) mod props {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    pub(in crate::state) enum Life {
        Answered {
            rings: u8,
            wait: u32,
            talk: u32,
            hold: Option<(u32, u32)>,
            acw: u32,
        },
        Abandoned {
            rings: u8,
            wait: u32,
        },
        Transferred {
            wait: u32,
        },
    }

    pub(in crate::state) fn life() -> impl Strategy<Value = Life> {
        prop_oneof![
            (
                0u8..3,
                0u32..60_000,
                1u32..300_000,
                prop::option::of((0u32..100, 1u32..60_000)),
                0u32..90_000
            )
                .prop_map(|(rings, wait, talk, hold, acw)| Life::Answered {
                    rings,
                    wait,
                    talk,
                    hold,
                    acw
                }),
            (0u8..3, 0u32..90_000).prop_map(|(rings, wait)| Life::Abandoned { rings, wait }),
            (0u32..90_000).prop_map(|wait| Life::Transferred { wait }),
        ]
    }

    /// A valid life for each call, plus agent state changes, in event-time order.
    pub(in crate::state) fn events(
        calls: &[(u32, u8, Life)],
        states: &[(u32, u8, u8)],
    ) -> Vec<CtiEvent> {
        let mut s = Script::new();
        for agent in 0..3 {
            s.agent(0.0, &format!("a{agent}"), AgentState::Ready);
        }
        for &(at_ms, agent, state) in states {
            let state = [
                AgentState::Ready,
                AgentState::NotReady,
                AgentState::LoggedOut,
            ][state as usize];
            s.agent(at_ms as f64 / 1000.0, &format!("a{agent}"), state);
        }
        for (i, (start, agent, life)) in calls.iter().enumerate() {
            let id = format!("c{i}");
            let agent = format!("a{agent}");
            let t = |ms: u32| (*start as f64 + ms as f64) / 1000.0;
            s.call(t(0), &id, CallStep::Offered);
            let ring = |s: &mut Script, rings: u8, wait: u32| {
                for r in 0..rings as u32 {
                    s.call(
                        t(wait * r / (rings as u32 + 1)),
                        &id,
                        CallStep::Ringing {
                            agent_id: agent.clone(),
                        },
                    );
                }
            };
            match life {
                Life::Answered {
                    rings,
                    wait,
                    talk,
                    hold,
                    acw,
                } => {
                    ring(&mut s, *rings, *wait);
                    s.call(
                        t(*wait),
                        &id,
                        CallStep::Answered {
                            agent_id: agent.clone(),
                        },
                    );
                    if let Some((pct, len)) = hold {
                        let h = wait + talk * pct / 100;
                        s.call(
                            t(h),
                            &id,
                            CallStep::Hold {
                                agent_id: agent.clone(),
                            },
                        );
                        s.call(
                            t((h + len).min(wait + talk)),
                            &id,
                            CallStep::Unhold {
                                agent_id: agent.clone(),
                            },
                        );
                    }
                    s.call(
                        t(wait + talk),
                        &id,
                        CallStep::Wrap {
                            agent_id: agent.clone(),
                        },
                    );
                    s.call(
                        t(wait + talk + acw),
                        &id,
                        CallStep::WrapEnd {
                            agent_id: agent.clone(),
                        },
                    );
                }
                Life::Abandoned { rings, wait } => {
                    ring(&mut s, *rings, *wait);
                    s.call(t(*wait), &id, CallStep::Abandoned);
                }
                Life::Transferred { wait } => {
                    s.call(
                        t(*wait),
                        &id,
                        CallStep::Transferred {
                            target_queue_id: "other".into(),
                            agent_id: None,
                        },
                    );
                }
            }
        }
        s.events.sort_by_key(|e| e.ts);
        s.events
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Delivering a valid history with each event up to 25 s late (lateness 30 s) gives
        /// exactly the snapshot of in-order delivery, and every event is applied.
        #[test]
        fn arrival_order_within_the_lateness_never_changes_a_kpi(
            calls in prop::collection::vec((0u32..1_800_000, 0u8..3, life()), 1..25),
            states in prop::collection::vec((1u32..1_800_000, 0u8..3, 0u8..3), 0..10),
            delays in prop::collection::vec(0i64..25_000, 200),
            as_of_s in 600.0f64..2400.0,
        ) {
            let history = events(&calls, &states);
            let mut in_order = engine();
            run(&mut in_order, &history);
            let expected = snapshot_at(&mut in_order, at(as_of_s).max(history.last().unwrap().ts));

            let mut arrival: Vec<(Millis, usize)> =
                history.iter().enumerate().map(|(i, e)| (e.ts + delays[i % delays.len()], i)).collect();
            arrival.sort();
            let shuffled_events: Vec<CtiEvent> = arrival.iter().map(|&(_, i)| history[i].clone()).collect();
            let mut shuffled = engine();
            let outcomes = run(&mut shuffled, &shuffled_events);
            prop_assert!(outcomes.iter().all(|o| matches!(o, Outcome::Applied | Outcome::Pending)), "{:?}", outcomes);
            let got = snapshot_at(&mut shuffled, expected.as_of);
            prop_assert_eq!(got, expected);
            let c = shuffled.ledger().counts();
            prop_assert!(c.balances() && c.pending == 0 && c.applied == c.consumed);
        }

        /// The same with the agents in two queues: support gets a copy of sales' history
        /// `shift` later (where a logout is a not ready, so that the agents stay in a queue),
        /// and `pauses` are `agent_state`s without a queue, each after every login has
        /// arrived. Both queues' snapshots are those of in-order delivery.
        #[test]
        fn arrival_order_never_changes_a_kpi_of_agents_in_two_queues(
            calls in prop::collection::vec((0u32..1_800_000, 0u8..3, life()), 1..25),
            states in prop::collection::vec((1u32..1_800_000, 0u8..3, 0u8..3), 0..10),
            pauses in prop::collection::vec((25_000u32..1_800_000, 0u8..3, any::<bool>()), 0..10),
            shift in 0i64..20_000,
            delays in prop::collection::vec(0i64..25_000, 200),
            as_of_s in 600.0f64..2400.0,
        ) {
            let history = two_queues(&events(&calls, &states), shift, &pauses);
            let mut in_order = engine();
            let outcomes = run(&mut in_order, &history);
            let as_of = at(as_of_s).max(history.last().unwrap().ts);
            let expected = snapshots_at(&mut in_order, as_of);

            let mut arrival: Vec<(Millis, usize)> =
                history.iter().enumerate().map(|(i, e)| (e.ts + delays[i % delays.len()], i)).collect();
            arrival.sort();
            let shuffled_events: Vec<CtiEvent> = arrival.iter().map(|&(_, i)| history[i].clone()).collect();
            let mut shuffled = engine();
            let shuffled_outcomes = run(&mut shuffled, &shuffled_events);
            // A pause for an agent logged out of every queue for longer than the lateness is
            // unknown; nothing else is rejected, and nothing is late.
            for o in outcomes.iter().chain(&shuffled_outcomes) {
                prop_assert!(
                    matches!(o, Outcome::Applied | Outcome::Pending | Outcome::Rejected(RejectReason::UnknownAgent)),
                    "{:?}", o
                );
            }
            let got = snapshots_at(&mut shuffled, as_of);
            prop_assert_eq!(got, expected);
            let c = shuffled.ledger().counts();
            prop_assert!(c.balances() && c.pending == 0);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        /// Whatever events of valid calls are lost (about one in four, any of them: offers,
        /// answers, wraps, ends, logins), once the queue's clock has moved `max_call_age` past
        /// its last event nothing waits and no agent is busy or in ACW because of a call.
        #[test]
        fn after_max_call_age_of_silence_nothing_waits_and_nobody_is_engaged_whatever_was_lost(
            calls in prop::collection::vec((0u32..1_800_000, 0u8..3, life()), 1..25),
            lost in prop::collection::vec(prop::bool::weighted(0.25), 300),
        ) {
            let history: Vec<CtiEvent> = events(&calls, &[])
                .into_iter()
                .enumerate()
                .filter(|(i, _)| !lost[i % lost.len()])
                .map(|(_, e)| e)
                .collect();
            let last = history.iter().map(|e| e.ts).max().unwrap_or(T0);
            let mut e = engine();
            run(&mut e, &history);
            let age = EngineSettings::default().max_call_age_ms;
            // The queue's own clock moves on by an event of its own (in event time a quiet
            // queue's clock stands still).
            let mut later = Script::new();
            later.agent(0.0, "x", AgentState::LoggedOut);
            later.events[0].ts = last + age + 60_000;
            later.events[0].event_id = "later".into();
            e.apply(&later.events[0], u64::MAX, WALL);
            let snap = e.snapshots(WALL).into_iter().find(|s| s.queue_id == "sales").unwrap();
            prop_assert_eq!(
                (snap.now.calls_waiting, snap.now.oldest_wait_seconds, snap.now.agents_busy, snap.now.agents_acw),
                (0, 0.0, 0, 0)
            );
            let c = e.ledger().counts();
            prop_assert!(c.balances() && c.pending == 0);
        }

        /// The same live: each event arrives at its own time on the clock, and then the
        /// clock alone (no event) moves `max_call_age` on; expiry and held events resolve by
        /// it (the indexes checked after every step).
        #[test]
        fn live_after_max_call_age_of_silence_nothing_waits_and_nobody_is_engaged_whatever_was_lost(
            calls in prop::collection::vec((0u32..1_800_000, 0u8..3, life()), 1..25),
            lost in prop::collection::vec(prop::bool::weighted(0.25), 300),
        ) {
            let mut e = Engine::new(Arc::new(EngineSettings::default()), TimeMode::Live);
            let mut last = T0;
            for (i, ev) in events(&calls, &[]).iter().enumerate() {
                if lost[i % lost.len()] {
                    continue;
                }
                last = last.max(ev.ts);
                e.apply(ev, i as u64, ev.ts);
                prop_assert!(e.indexes_agree());
            }
            let later = last + EngineSettings::default().max_call_age_ms + 60_000;
            let mut clock = last;
            while clock < later {
                clock = (clock + 600_000).min(later);
                e.tick(clock);
                prop_assert!(e.indexes_agree());
            }
            let snap = e.snapshots(later).into_iter().find(|s| s.queue_id == "sales").unwrap();
            prop_assert_eq!(
                (snap.now.calls_waiting, snap.now.oldest_wait_seconds, snap.now.agents_busy, snap.now.agents_acw),
                (0, 0.0, 0, 0)
            );
            let c = e.ledger().counts();
            prop_assert!(c.balances() && c.pending == 0);
        }
    }

    /// Sales' history, a copy for support `shift` ms later (its logouts made not ready), and
    /// the pauses without a queue (ready or not ready), in event-time order.
    pub(in crate::state) fn two_queues(
        sales: &[CtiEvent],
        shift: Millis,
        pauses: &[(u32, u8, bool)],
    ) -> Vec<CtiEvent> {
        let support = sales.iter().map(|e| {
            let mut e = CtiEvent {
                event_id: format!("s-{}", e.event_id),
                ts: e.ts + shift,
                queue_id: "support".into(),
                ..e.clone()
            };
            if let EventBody::AgentState { state, .. } = &mut e.body {
                if *state == AgentState::LoggedOut {
                    *state = AgentState::NotReady;
                }
            }
            e
        });
        let mut all: Vec<CtiEvent> = sales
            .iter()
            .cloned()
            .chain(support)
            .chain(pauses_everywhere(pauses))
            .collect();
        all.sort_by_key(|e| e.ts);
        all
    }

    /// `agent_state`s without a queue: (ms after T0, agent, ready or not ready).
    pub(in crate::state) fn pauses_everywhere(pauses: &[(u32, u8, bool)]) -> Vec<CtiEvent> {
        pauses
            .iter()
            .enumerate()
            .map(|(i, &(at_ms, agent, ready))| CtiEvent {
                event_id: format!("p{i}"),
                ts: T0 + at_ms as Millis,
                queue_id: String::new(),
                body: EventBody::AgentState {
                    agent_id: format!("a{agent}"),
                    state: if ready {
                        AgentState::Ready
                    } else {
                        AgentState::NotReady
                    },
                    reason: None,
                },
            })
            .collect()
    }
}

#[test]
fn a_queue_far_behind_the_engine_clock_still_settles_its_state() {
    // Another partition ran ten hours ahead, so "now" is far past this queue's events: its
    // sweeps must follow its own event time, or agent inputs would pile up unsettled.
    let mut e = engine();
    let mut ahead = Script::new();
    ahead.agent(10.0 * 3600.0, "x", AgentState::Ready);
    ahead.events[0].queue_id = "ahead".into();
    ahead.events[0].event_id = "ahead".into();
    e.apply(&ahead.events[0], 0, WALL);
    let mut s = Script::new();
    for i in 0..720 {
        let state = if i % 2 == 0 {
            AgentState::Ready
        } else {
            AgentState::NotReady
        };
        s.agent(i as f64 * 10.0, "a1", state);
    }
    run(&mut e, &s.events);
    let size = e.checkpoint_queue("sales", 0).unwrap().len();
    // The same queue alone, its clock never ahead of its events.
    let mut alone = engine();
    run(&mut alone, &s.events);
    let alone = alone.checkpoint_queue("sales", 0).unwrap().len();
    // Settled: the ids of the last hour (360), a few inputs and the ring of its own last hour,
    // as alone; unsettled, all 720 inputs and ids on top, about 16 KB more.
    assert!(
        size < alone + 1_000,
        "sales holds {size} bytes against {alone} alone: its state was never settled"
    );
}

#[test]
fn staffing_is_erlang_c_at_the_15_minute_rate_and_aht() {
    let mut e = engine();
    run(&mut e, &scenario().events);
    let snap = snapshot_at(&mut e, at(300.0));
    let s = snap.staffing.expect("arrivals and an AHT in 15m");
    // 6 offered in 15 min (0.4/min), AHT 122 s: 0.813 Erlangs. By hand, one agent gives
    // SL 21 %, two give 80.6 % (C = 0.235, ASA = 0.235 × 122 / 1.187 = 24.2 s); both are ready.
    assert_eq!((s.arrival_rate_per_minute, s.aht_seconds), (0.4, 122.0));
    assert_eq!((s.required_agents, s.staffed_agents), (2, 2));
    assert!((s.predicted_service_level - 0.8065).abs() < 1e-3, "{s:?}");
    assert!(
        s.predicted_asa_seconds
            .is_some_and(|a| (a - 24.2).abs() < 0.1),
        "{s:?}"
    );
}

/// Applies the events up to `until` not applied yet (`next` is the first of those), then
/// snapshots "sales" at `until`.
fn snapshot_after(
    engine: &mut Engine,
    events: &[CtiEvent],
    next: &mut usize,
    until: Millis,
) -> KpiSnapshot {
    while let Some(ev) = events.get(*next).filter(|e| e.ts <= until) {
        engine.apply(ev, *next as u64, WALL);
        *next += 1;
    }
    snapshot_at(engine, until)
}

/// A surge on "sales" (times in minutes after T0): one call a minute from 0 to 64, each answered
/// after 5 s; from 65:00 to 79:45 four a minute, each abandoned after 60 s (20 s is T); from 80:00
/// four a minute again, each answered after 5 s.
fn surge_day() -> Vec<CtiEvent> {
    let mut s = Script::new();
    s.agent(0.0, "a1", AgentState::Ready);
    let answered = |s: &mut Script, t: f64, id: &str| {
        s.call(t, id, CallStep::Offered)
            .call(t + 5.0, id, CallStep::Answered { agent_id: a("a1") })
            .call(t + 10.0, id, CallStep::Wrap { agent_id: a("a1") })
            .call(t + 12.0, id, CallStep::WrapEnd { agent_id: a("a1") });
    };
    for m in 0..65 {
        answered(&mut s, m as f64 * 60.0, &format!("steady{m}"));
    }
    for j in 0..60 {
        let t = 3900.0 + j as f64 * 15.0;
        s.call(t, &format!("surge{j}"), CallStep::Offered).call(
            t + 60.0,
            &format!("surge{j}"),
            CallStep::Abandoned,
        );
    }
    for i in 0..40 {
        answered(&mut s, 4800.0 + i as f64 * 15.0, &format!("after{i}"));
    }
    s.events.sort_by_key(|e| e.ts);
    s.events
}

#[test]
fn a_surge_is_detected_timed_and_responded_to_as_computed_by_hand() {
    let events = surge_day();
    let mut e = engine();
    let n = &mut 0;
    // Episodes are judged at bucket edges 30 s (the lateness) behind the queue's newest event
    // (the engine runs in event time). At the edge
    // 66:30 the last 5 minutes hold 9 calls (62, 63, 64, 65:00 … 66:15): 1.8/min against a
    // baseline of 60 calls in [1:30, 61:30) = 1/min, but fewer than 10 calls.
    let s = snapshot_after(&mut e, &events, n, at(4020.0)).surge;
    assert!(!s.active, "{s:?}");
    assert_eq!((s.rate_per_minute, s.baseline_per_minute), (1.8, Some(1.0)));
    // At 66:40 the window holds 10 (65:00 … 66:30 and 62–64): 2/min ≥ 1.5 × 1/min, and its service
    // level is 3 answered in T / (3 + 6 reached T unanswered) = 1/3: a surge from 66:40.
    // (In event time the edges follow the queue's own events: the next one, at 67:15, settles
    // the edge 66:40.)
    let s = snapshot_after(&mut e, &events, n, at(4035.0)).surge;
    assert!(s.active && s.onset == Some(at(4000.0)), "{s:?}");
    assert_eq!((s.age_seconds, s.rate_per_minute), (35.0, 2.0));
    assert!(!s.response_exceeded && s.response_limit_seconds == 600.0);
    // The age runs on the clock: the 600 s limit is reached at 76:40, not 30 s later.
    let s = snapshot_after(&mut e, &events, n, at(4599.0)).surge;
    assert!(s.active && !s.response_exceeded && s.age_seconds == 599.0);
    let s = snapshot_after(&mut e, &events, n, at(4600.0)).surge;
    assert!(s.active && s.response_exceeded, "{s:?}");
    assert!(e.take_episodes().is_empty());
    // Edge 84:00 (settled by the offer at 84:30): window [79:00, 84:00) has 16 answered in T
    // and 5 surge calls reaching T (79:05 … 80:05): 16/21 = 76 % < 80 %. Edge 84:10 (settled by
    // the wrap at 84:40): 17 / (17 + 4) = 81 %: responded.
    let s = snapshot_after(&mut e, &events, n, at(5070.0)).surge;
    assert!(s.active && s.response_exceeded);
    let s = snapshot_after(&mut e, &events, n, at(5080.0)).surge;
    assert!(
        !s.active && !s.response_exceeded && s.onset.is_none(),
        "{s:?}"
    );
    let episodes = e.take_episodes();
    assert_eq!(episodes.len(), 1);
    let (queue, episode) = &episodes[0];
    assert_eq!(&**queue, "sales");
    assert_eq!(
        (episode.onset, episode.ended, episode.outcome),
        (at(4000.0), at(5050.0), EpisodeOutcome::Responded)
    );
    assert_eq!(episode.response_ms(), Some(1_050_000), "17 min 30 s");
    // Arrivals stay at 4/min, above the subside level: no new episode (hysteresis).
    let s = snapshot_after(&mut e, &events, n, at(5400.0)).surge;
    assert!(!s.active);
    assert!(e.take_episodes().is_empty());
}

#[test]
fn a_surge_is_judged_the_same_whatever_the_arrival_order_within_the_lateness() {
    let mut events = surge_day();
    // Swap neighbours up to 20 s apart: within the 30 s lateness.
    let mut i = 0;
    while i + 1 < events.len() {
        if events[i + 1].ts - events[i].ts <= 20_000 {
            events.swap(i, i + 1);
            i += 2;
        } else {
            i += 1;
        }
    }
    let mut e = engine();
    run(&mut e, &events);
    let episodes = e.take_episodes();
    assert_eq!(episodes.len(), 1);
    assert_eq!(
        (episodes[0].1.onset, episodes[0].1.ended),
        (at(4000.0), at(5050.0))
    );
}

#[test]
fn a_forecast_gives_a_new_queue_its_baseline() {
    // Two calls a minute from 09:00, each abandoned after 60 s; the queue is new, so it has no
    // trailing hour. A forecast of 30 calls for the 09:00 interval is 1/min: the tenth call
    // (at 4:30) makes the window to the edge 4:40 hold 10 calls = 2/min, a surge.
    let mut s = Script::new();
    for k in 0..12 {
        let t = k as f64 * 30.0;
        s.call(t, &format!("c{k}"), CallStep::Offered).call(
            t + 60.0,
            &format!("c{k}"),
            CallStep::Abandoned,
        );
    }
    s.events.sort_by_key(|e| e.ts);

    let mut plain = engine();
    let snap = snapshot_after(&mut plain, &s.events, &mut 0, at(330.0)).surge;
    assert!(
        !snap.active && snap.baseline_per_minute.is_none(),
        "{snap:?}"
    );

    let mut settings = EngineSettings::default();
    settings
        .default_queue
        .surge
        .forecast_per_minute
        .insert(9 * 3_600_000, 1.0);
    let mut forecast = Engine::new(Arc::new(settings), TimeMode::EventTime);
    let n = &mut 0;
    let snap = snapshot_after(&mut forecast, &s.events, n, at(300.0)).surge;
    assert!(
        !snap.active && snap.baseline_per_minute == Some(1.0),
        "edge 4:30: 9 calls"
    );
    // The next event, at 5:30, settles the edges up to 5:00; 4:40 is the first surging one.
    let snap = snapshot_after(&mut forecast, &s.events, n, at(330.0)).surge;
    assert!(snap.active && snap.onset == Some(at(280.0)), "{snap:?}");
}

#[test]
fn a_restart_ends_calls_in_progress_and_counts_them() {
    // The scenario at 100 s: c5 waits since 70 (missed at 90); c1 is in its talk (answered 8).
    // A restart at 100 ends both there: nothing waits any more, a1 is free from 100, c5 stays
    // missed, and neither is abandoned or flowed out (the abandon and the flow-out counted are
    // c2's at 40 and c4's at 60).
    let mut e = engine();
    let before: Vec<CtiEvent> = scenario()
        .events
        .into_iter()
        .filter(|ev| ev.ts < at(100.0))
        .collect();
    run(&mut e, &before);
    e.end_calls_at_restart(["sales", "no such queue"], at(100.0));
    let s = snapshot_at(&mut e, at(120.0));
    assert_eq!(s.now.calls_waiting, 0);
    assert_eq!((s.now.agents_busy, s.now.agents_ready), (0, 2));
    let w = s.windows.get("today").expect("today");
    assert_eq!((w.reached_threshold, w.abandoned, w.flowed_out), (2, 1, 1));
    assert_eq!(w.handled, 0, "c1 never wrapped");
    let totals = e.totals();
    let sales = &totals.iter().find(|(q, _)| q == "sales").expect("sales").1;
    assert_eq!((sales.ended_by_restart, sales.expired_calls), (2, 0));
    // a1 busy from its ring at 2 to the restart at 100.
    assert_eq!(w.busy_agent_seconds, 98.0 + 28.0);
}

#[test]
fn without_reported_holds_the_average_hold_is_absent_not_zero() {
    let mut e = engine();
    e.set_hold_reported(false);
    run(&mut e, &scenario().events);
    let s = snapshot_at(&mut e, at(300.0));
    for (name, w) in &s.windows.0 {
        assert_eq!(w.avg_hold_seconds, None, "{name}");
    }
    assert_eq!(
        s.windows.get("today").and_then(|w| w.avg_talk_seconds),
        Some(72.0)
    );
}

#[test]
fn an_event_without_a_queue_is_rejected_not_a_queue_named_empty() {
    let mut e = engine();
    let mut ev = scenario()
        .events
        .into_iter()
        .find(|ev| matches!(ev.body, EventBody::Call { .. }))
        .expect("a call event");
    ev.queue_id.clear();
    assert_eq!(
        e.apply(&ev, 0, WALL),
        Outcome::Rejected(RejectReason::MissingQueueId)
    );
    assert_eq!(e.queue_count(), 0);
}

// Agents across queues: one agent in several queues (see `engine`'s module documentation).

fn state_in(id: &str, s: f64, queue: &str, agent: &str, state: AgentState) -> CtiEvent {
    CtiEvent {
        event_id: id.into(),
        ts: at(s),
        queue_id: queue.into(),
        body: EventBody::AgentState {
            agent_id: agent.into(),
            state,
            reason: None,
        },
    }
}

fn call_in(id: &str, s: f64, queue: &str, call: &str, step: CallStep) -> CtiEvent {
    CtiEvent {
        event_id: id.into(),
        ts: at(s),
        queue_id: queue.into(),
        body: EventBody::Call {
            call_id: call.into(),
            step,
        },
    }
}

fn of<'a>(snapshots: &'a [KpiSnapshot], queue: &str) -> &'a KpiSnapshot {
    snapshots
        .iter()
        .find(|s| s.queue_id == queue)
        .unwrap_or_else(|| panic!("no snapshot of {queue}"))
}

/// The events with each run of 25 s (from T0) delivered backwards: within the 30 s lateness.
fn reversed_in_chunks(events: &[CtiEvent]) -> Vec<CtiEvent> {
    let mut events = events.to_vec();
    for chunk in events.chunk_by_mut(|a, b| (a.ts - T0) / 25_000 == (b.ts - T0) / 25_000) {
        chunk.reverse();
    }
    events
}

/// m is in sales and support, s1 in support only; m takes sales call k1: ringing 12, answered
/// 15, wrap 75, wrap_end 90.
fn shared_agent_day() -> Vec<CtiEvent> {
    let m = || a("m");
    vec![
        state_in("e0", 0.0, "sales", "m", AgentState::Ready),
        state_in("e1", 0.0, "support", "m", AgentState::Ready),
        state_in("e2", 0.0, "support", "s1", AgentState::Ready),
        call_in("e3", 10.0, "sales", "k1", CallStep::Offered),
        call_in(
            "e4",
            12.0,
            "sales",
            "k1",
            CallStep::Ringing { agent_id: m() },
        ),
        call_in(
            "e5",
            15.0,
            "sales",
            "k1",
            CallStep::Answered { agent_id: m() },
        ),
        call_in("e6", 75.0, "sales", "k1", CallStep::Wrap { agent_id: m() }),
        call_in(
            "e7",
            90.0,
            "sales",
            "k1",
            CallStep::WrapEnd { agent_id: m() },
        ),
    ]
}

#[test]
fn an_agent_on_a_call_of_one_queue_is_busy_other_in_its_others_in_any_arrival_order() {
    let day = shared_agent_day();
    for events in [day.clone(), reversed_in_chunks(&day)] {
        let mut e = engine();
        let (to_60, rest): (Vec<CtiEvent>, Vec<CtiEvent>) =
            events.into_iter().partition(|ev| ev.ts <= at(60.0));
        assert!(run(&mut e, &to_60)
            .iter()
            .all(|o| matches!(o, Outcome::Applied | Outcome::Pending)));
        assert_eq!(e.agent_queues(0, "m"), ["sales", "support"]);
        // During the call: busy in sales, busy other in support (not ready there).
        let snaps = snapshots_at(&mut e, at(60.0));
        let (sales, support) = (of(&snaps, "sales"), of(&snaps, "support"));
        assert_eq!((sales.now.agents_busy, sales.now.agents_busy_other), (1, 0));
        assert_eq!(
            (
                support.now.agents_ready,
                support.now.agents_busy_other,
                support.now.agents_logged_in
            ),
            (1, 1, 2)
        );
        run(&mut e, &rest);
        // To 100: m in support ready 0–12 and 90–100, busy other 12–90; s1 ready 0–100.
        let snaps = snapshots_at(&mut e, at(100.0));
        let w = of(&snaps, "support").windows.get("today").unwrap().clone();
        assert_eq!(
            (
                w.ready_agent_seconds,
                w.busy_other_agent_seconds,
                w.busy_agent_seconds
            ),
            (122.0, 78.0, 0.0)
        );
        // Busy other is neither busy nor available: occupancy 0 / 122, not ready 0 of 200.
        assert_eq!((w.occupancy, w.not_ready_ratio), (Some(0.0), Some(0.0)));
        let w = of(&snaps, "sales").windows.get("today").unwrap().clone();
        assert_eq!(
            (
                w.busy_agent_seconds,
                w.acw_agent_seconds,
                w.ready_agent_seconds,
                w.busy_other_agent_seconds
            ),
            (63.0, 15.0, 22.0, 0.0)
        );
    }
}

#[test]
fn a_state_without_a_queue_applies_where_the_agent_is_logged_in_and_counts_once() {
    let mut e = engine();
    let mut events = vec![
        state_in("e0", 0.0, "sales", "m", AgentState::Ready),
        state_in("e1", 0.0, "support", "m", AgentState::Ready),
        state_in("e2", 0.0, "support", "s1", AgentState::Ready),
        state_in("e3", 20.0, "support", "m", AgentState::LoggedOut),
        // Paused everywhere: in sales only, m being logged out of support.
        state_in("e4", 30.0, "", "m", AgentState::NotReady),
    ];
    let outcomes = run(&mut e, &events);
    assert!(outcomes.iter().all(|&o| o == Outcome::Applied));
    let snaps = snapshots_at(&mut e, at(40.0));
    let (sales, support) = (of(&snaps, "sales"), of(&snaps, "support"));
    assert_eq!(
        (sales.now.agents_not_ready, sales.now.agents_logged_in),
        (1, 1)
    );
    assert_eq!(
        (support.now.agents_not_ready, support.now.agents_logged_in),
        (0, 1)
    );
    // A redelivery is a duplicate; an agent no queue holds is unknown; a call event needs its
    // queue; a pause older than the watermark of every queue holding the agent is late.
    events.clear();
    events.push(state_in("e4", 30.0, "", "m", AgentState::NotReady));
    events.push(state_in("e5", 31.0, "", "nobody", AgentState::Ready));
    events.push(call_in("e6", 32.0, "", "k", CallStep::Offered));
    events.push(state_in("e7", 100.0, "sales", "s2", AgentState::Ready));
    events.push(state_in("e8", 101.0, "support", "s3", AgentState::Ready));
    events.push(state_in("e9", 50.0, "", "m", AgentState::Ready));
    let outcomes: Vec<Outcome> = events.iter().map(|ev| e.apply(ev, 0, WALL)).collect();
    assert_eq!(
        outcomes,
        [
            Outcome::Duplicate,
            Outcome::Rejected(RejectReason::UnknownAgent),
            Outcome::Rejected(RejectReason::MissingQueueId),
            Outcome::Applied,
            Outcome::Applied,
            Outcome::Late,
        ]
    );
    let c = e.ledger().counts();
    // 5 + 6 events and the snapshot's marker.
    assert_eq!(
        (c.consumed, c.applied, c.duplicate, c.late, c.rejected),
        (12, 8, 1, 1, 2)
    );
    assert!(c.balances());
    assert_eq!(e.ledger().rejected_by(RejectReason::UnknownAgent), 1);
}

#[test]
fn a_login_while_busy_on_another_queues_call_starts_busy_other() {
    // m answers sales call k1 at 15 and logs in to support at 30, mid-call: busy other there
    // from 30 to the call's wrap_end at 90, whichever of the login and the answer came first.
    let m = || a("m");
    let day = vec![
        state_in("e0", 0.0, "sales", "m", AgentState::Ready),
        state_in("e1", 0.0, "support", "s1", AgentState::Ready),
        call_in("e2", 10.0, "sales", "k1", CallStep::Offered),
        call_in(
            "e3",
            15.0,
            "sales",
            "k1",
            CallStep::Answered { agent_id: m() },
        ),
        state_in("e4", 30.0, "support", "m", AgentState::NotReady),
        call_in("e5", 75.0, "sales", "k1", CallStep::Wrap { agent_id: m() }),
        call_in(
            "e6",
            90.0,
            "sales",
            "k1",
            CallStep::WrapEnd { agent_id: m() },
        ),
    ];
    let mut login_first = day.clone();
    login_first.swap(3, 4);
    login_first.swap(2, 3);
    for events in [day, login_first] {
        let mut e = engine();
        let (to_45, rest): (Vec<CtiEvent>, Vec<CtiEvent>) =
            events.into_iter().partition(|ev| ev.ts <= at(45.0));
        run(&mut e, &to_45);
        let snaps = snapshots_at(&mut e, at(45.0));
        let support = of(&snaps, "support");
        assert_eq!(
            (
                support.now.agents_busy_other,
                support.now.agents_not_ready,
                support.now.agents_logged_in
            ),
            (1, 0, 2)
        );
        run(&mut e, &rest);
        let snaps = snapshots_at(&mut e, at(120.0));
        let w = of(&snaps, "support").windows.get("today").unwrap().clone();
        // m: busy other 30–90, not ready 90–120.
        assert_eq!(
            (w.busy_other_agent_seconds, w.not_ready_agent_seconds),
            (60.0, 30.0)
        );
    }
}

#[test]
fn a_phase_older_than_the_receiving_queues_settled_point_counts_from_that_point() {
    // "ahead" has seen 200 s (settled to 170 s); "behind" only 50 s, so its call at 50 is in
    // time there. m, in both, answers it at 50: busy other in "ahead" from 170, not 50.
    let mut e = engine();
    let events = vec![
        state_in("e0", 0.0, "ahead", "m", AgentState::Ready),
        state_in("e1", 200.0, "ahead", "s2", AgentState::Ready),
        state_in("e2", 40.0, "behind", "m", AgentState::Ready),
        call_in("e3", 45.0, "behind", "k", CallStep::Offered),
        call_in(
            "e4",
            50.0,
            "behind",
            "k",
            CallStep::Answered { agent_id: a("m") },
        ),
    ];
    assert!(run(&mut e, &events).iter().all(|&o| o == Outcome::Applied));
    let snaps = snapshots_at(&mut e, at(260.0));
    let w = of(&snaps, "ahead").windows.get("today").unwrap().clone();
    // m ready 0–170, busy other 170–260; s2 ready 200–260.
    assert_eq!(
        (w.busy_other_agent_seconds, w.ready_agent_seconds),
        (90.0, 230.0)
    );
    let w = of(&snaps, "behind").windows.get("today").unwrap().clone();
    assert_eq!((w.busy_agent_seconds, w.ready_agent_seconds), (210.0, 10.0));
}

#[test]
fn memberships_follow_entries_restores_and_removals() {
    let s = Arc::new(EngineSettings::default());
    let m = || a("m");
    let mut e = Engine::new(s.clone(), TimeMode::EventTime);
    let events = vec![
        state_in("e0", 0.0, "a", "m", AgentState::Ready),
        state_in("e1", 0.0, "b", "m", AgentState::Ready),
        state_in("e2", 0.0, "c", "m", AgentState::Ready),
        state_in("e3", 5.0, "c", "m", AgentState::LoggedOut),
        call_in("e4", 10.0, "b", "k", CallStep::Offered),
        call_in("e5", 12.0, "b", "k", CallStep::Answered { agent_id: m() }),
        // c's watermark passes the logout: its entry goes.
        state_in("e6", 60.0, "c", "s", AgentState::Ready),
    ];
    run(&mut e, &events);
    assert_eq!(e.agent_queues(0, "m"), ["a", "b"]);
    let busy_other_in_a =
        |e: &mut Engine| of(&snapshots_at(e, at(70.0)), "a").now.agents_busy_other;
    assert_eq!(busy_other_in_a(&mut e), 1);

    // A restart restores every queue: nothing changes, byte for byte.
    let mut restarted = Engine::new(s.clone(), TimeMode::EventTime);
    for id in e.queue_ids() {
        restarted
            .restore_queue(&e.checkpoint_queue(&id, 7).unwrap(), 0)
            .unwrap();
    }
    assert_eq!(restarted.agent_queues(0, "m"), ["a", "b"]);
    assert_eq!(busy_other_in_a(&mut restarted), 1);
    for id in e.queue_ids() {
        assert_eq!(
            restarted.checkpoint_queue(&id, 0),
            e.checkpoint_queue(&id, 0),
            "{id}"
        );
    }

    // "a" alone on another instance: b's call is not seen there, so m is not left busy other.
    let mut alone = Engine::new(s.clone(), TimeMode::EventTime);
    alone
        .restore_queue(&e.checkpoint_queue("a", 7).unwrap(), 0)
        .unwrap();
    assert_eq!(alone.agent_queues(0, "m"), ["a"]);
    assert_eq!(busy_other_in_a(&mut alone), 0);
    assert_eq!(
        of(&snapshots_at(&mut alone, at(70.0)), "a")
            .now
            .agents_ready,
        1
    );

    // b leaves this engine (its partition moved): what it passed on to a ends.
    assert!(e.remove_queue("b"));
    assert_eq!(e.agent_queues(0, "m"), ["a"]);
    assert_eq!(busy_other_in_a(&mut e), 0);
    assert!(e.remove_queue("a"));
    assert!(e.agent_queues(0, "m").is_empty());
}

/// Queues read from different partitions (scopes) do not share agents: an agent's call in one
/// leaves it ready in the other, and a state without a queue reaches only the queues of the
/// partition it was read from. The same events from one partition are shared.
#[test]
fn agents_are_shared_only_within_the_partition_their_events_come_from() {
    let s = Arc::new(EngineSettings::default());
    let events = vec![
        state_in("e0", 0.0, "a", "m", AgentState::Ready),
        state_in("e1", 0.0, "b", "m", AgentState::Ready),
        call_in("e2", 10.0, "b", "k", CallStep::Offered),
        call_in(
            "e3",
            12.0,
            "b",
            "k",
            CallStep::Answered { agent_id: a("m") },
        ),
        CtiEvent {
            queue_id: String::new(),
            ..state_in("e4", 20.0, "", "m", AgentState::NotReady)
        },
    ];
    // Partition of each event: "a" on 1, "b" and the state without a queue on 2.
    let split = |i: usize| if i == 0 { 1u64 } else { 2 };
    let mut apart = Engine::new(s.clone(), TimeMode::EventTime);
    let outcomes: Vec<Outcome> = events
        .iter()
        .enumerate()
        .map(|(i, ev)| apart.apply(ev, split(i) << ORIGIN_SCOPE_SHIFT | i as u64, WALL))
        .collect();
    assert!(
        outcomes.iter().all(|&o| o == Outcome::Applied),
        "{outcomes:?}"
    );
    assert_eq!(apart.agent_queues(1, "m"), ["a"]);
    assert_eq!(apart.agent_queues(2, "m"), ["b"]);
    let snaps = snapshots_at(&mut apart, at(30.0));
    // a: m ready all along (0–30); b: busy from 12, the state without a queue applied there.
    let now = &of(&snaps, "a").now;
    assert_eq!((now.agents_ready, now.agents_busy_other), (1, 0));
    let w = of(&snaps, "a").windows.get("today").unwrap().clone();
    assert_eq!(
        (w.ready_agent_seconds, w.busy_other_agent_seconds),
        (30.0, 0.0)
    );

    // One partition: m is busy other in a from 12, and not ready there from 20 (still engaged
    // in b, so busy other until the call ends).
    let mut together = Engine::new(s, TimeMode::EventTime);
    run(&mut together, &events);
    assert_eq!(together.agent_queues(0, "m"), ["a", "b"]);
    let snaps = snapshots_at(&mut together, at(30.0));
    let w = of(&snaps, "a").windows.get("today").unwrap().clone();
    assert_eq!(
        (w.ready_agent_seconds, w.busy_other_agent_seconds),
        (12.0, 18.0)
    );
}

#[test]
fn a_new_call_beyond_the_calls_cap_is_rejected_and_counted_until_calls_end() {
    let settings = EngineSettings {
        max_calls_per_queue: 2,
        ..EngineSettings::default()
    };
    let mut e = Engine::new(Arc::new(settings), TimeMode::EventTime);
    let mut s = Script::new();
    s.call(0.0, "c1", CallStep::Offered)
        .call(1.0, "c2", CallStep::Offered)
        .call(2.0, "c3", CallStep::Offered)
        // c1 is held already: its steps still count.
        .call(5.0, "c1", CallStep::Abandoned)
        .call(6.0, "c4", CallStep::Ringing { agent_id: a("a1") })
        // 60 s on, c1's end is behind the watermark (30 s) and the sweep forgets it.
        .call(60.0, "c5", CallStep::Offered);
    let outcomes: Vec<Outcome> = s
        .events
        .iter()
        .enumerate()
        .map(|(i, ev)| e.apply(ev, i as u64, WALL))
        .collect();
    let limit = Outcome::Rejected(RejectReason::CallLimit);
    let applied = Outcome::Applied;
    assert_eq!(outcomes, [applied, applied, limit, applied, limit, applied]);
    assert_eq!(e.ledger().rejected_by(RejectReason::CallLimit), 2);
    assert_eq!(e.queue("sales").unwrap().calls_in_flight(), 2);
    let (_, totals) = e.totals().into_iter().next().unwrap();
    assert_eq!((totals.offered, totals.abandoned), (3, 1));
    let c = e.ledger().counts();
    assert_eq!((c.consumed, c.applied, c.rejected), (6, 4, 2));
    assert!(c.balances());
}

#[test]
fn an_event_waiting_for_its_offer_beyond_the_pending_cap_is_rejected_and_counted() {
    let settings = EngineSettings {
        max_pending_per_queue: 2,
        ..EngineSettings::default()
    };
    let mut e = Engine::new(Arc::new(settings), TimeMode::EventTime);
    let mut s = Script::new();
    s.call(8.0, "c1", CallStep::Answered { agent_id: a("a1") })
        .call(2.0, "c1", CallStep::Ringing { agent_id: a("a1") })
        // Two held: a third event without its offer is refused…
        .call(9.0, "c2", CallStep::Answered { agent_id: a("a2") })
        // …but an offer is never held, and a step of an offered call is applied.
        .call(3.0, "c3", CallStep::Offered)
        .call(4.0, "c3", CallStep::Abandoned)
        // c1's offer applies what it held, which makes room again.
        .call(0.0, "c1", CallStep::Offered)
        .call(9.5, "c2", CallStep::Ringing { agent_id: a("a2") });
    let outcomes: Vec<Outcome> = s
        .events
        .iter()
        .enumerate()
        .map(|(i, ev)| e.apply(ev, i as u64, WALL))
        .collect();
    use Outcome::{Applied, Pending};
    let limit = Outcome::Rejected(RejectReason::PendingLimit);
    assert_eq!(
        outcomes,
        [Pending, Pending, limit, Applied, Applied, Applied, Pending]
    );
    let resolved: Vec<u64> = e.take_resolutions().iter().map(|r| r.origin).collect();
    assert_eq!(resolved, [0, 1]);
    assert_eq!(e.ledger().rejected_by(RejectReason::PendingLimit), 1);
    let c = e.ledger().counts();
    assert_eq!(
        (c.consumed, c.applied, c.pending, c.rejected),
        (7, 5, 1, 1),
        "{c:?}"
    );
    assert!(c.balances());
}

/// A tick's snapshots shared out among threads are the ones taken one after the other, in the
/// same (queue id) order, whatever the number of threads, including more threads than queues.
#[test]
fn snapshots_taken_on_several_threads_are_the_ones_taken_on_one() {
    let mut e = Engine::new(Arc::new(EngineSettings::default()), TimeMode::EventTime);
    let mut scenario = crate::sim::Scenario::demo();
    scenario.duration_ms = 1_800_000;
    let mut n = 0;
    for copy in 0..5 {
        for mut event in crate::sim::Simulator::new(scenario.clone(), copy, T0) {
            crate::sim::as_copy(&mut event, copy);
            e.apply(&event, n, WALL);
            n += 1;
        }
    }
    let snapshots = e.snapshots(WALL);
    let ids = e.queue_ids();
    assert_eq!(ids.len(), 20);
    let queues: Vec<_> = ids.iter().filter_map(|id| e.queue(id)).collect();
    let now = e.now(WALL);
    let one = super::engine::snapshots_of(&queues, now, e.settings(), &mut Vec::new(), 1);
    assert_eq!(one, snapshots);
    assert!(one.windows(2).all(|w| w[0].queue_id < w[1].queue_id));
    assert!(one.iter().any(|s| s
        .windows
        .0
        .iter()
        .any(|(_, w)| w.wait_p90_seconds.is_some())));
    for threads in [2, 3, 7, 20, 64] {
        let many =
            super::engine::snapshots_of(&queues, now, e.settings(), &mut Vec::new(), threads);
        assert_eq!(many, one, "{threads} threads");
    }
}
