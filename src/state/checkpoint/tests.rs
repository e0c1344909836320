use std::sync::Arc;

use proptest::prelude::*;

use super::*;
use crate::event::{AgentState, CallStep, CtiEvent, EventBody, Millis};
use crate::kpi::KpiSnapshot;
use crate::kpi::QueueKpiSettings;
use crate::ledger::{Outcome, RejectReason};
use crate::state::tests::props::{events, life, pauses_everywhere};
use crate::state::tests::{a, at, scenario, Script, T0, WALL};
use crate::state::{Engine, Resolution, SlidingWindow, TimeMode};

fn settings() -> Arc<EngineSettings> {
    Arc::new(EngineSettings::default())
}

fn apply_all(e: &mut Engine, events: &[CtiEvent], first_origin: usize) -> Vec<Outcome> {
    events
        .iter()
        .enumerate()
        .map(|(i, ev)| e.apply(ev, (first_origin + i) as u64, WALL))
        .collect()
}

/// Every queue's snapshot at `as_of`, the event clock moved there by a marker event.
fn snapshots_at(e: &mut Engine, as_of: Millis) -> Vec<KpiSnapshot> {
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
    e.apply(&marker, u64::MAX, WALL);
    e.snapshots(WALL)
}

/// Engine B applies `events[..k]` and checkpoints every queue at position k; a fresh
/// engine C restores them all and applies the rest. Returns B's resolutions and C.
fn split_at(s: &Arc<EngineSettings>, events: &[CtiEvent], k: usize) -> (Vec<Resolution>, Engine) {
    let mut b = Engine::new(s.clone(), TimeMode::EventTime);
    apply_all(&mut b, &events[..k], 0);
    let mut c = Engine::new(s.clone(), TimeMode::EventTime);
    for id in b.queue_ids() {
        let bytes = b.checkpoint_queue(&id, k as u64).expect("listed queue");
        assert_eq!(c.restore_queue(&bytes, 0), Ok((id, k as u64)));
    }
    apply_all(&mut c, &events[k..], k);
    (b.take_resolutions(), c)
}

fn sorted(mut r: Vec<Resolution>) -> Vec<Resolution> {
    r.sort_by_key(|r| r.origin);
    r
}

/// The hand-computed scenario delivered out of order (as in
/// `out_of_order_within_the_lateness_counts_exactly_as_in_order`).
fn shuffled_scenario() -> Vec<CtiEvent> {
    let mut events = scenario().events;
    for chunk in events.chunk_by_mut(|a, b| (a.ts - T0) / 25_000 == (b.ts - T0) / 25_000) {
        chunk.reverse();
    }
    events
}

fn sales_checkpoint(position: u64) -> Vec<u8> {
    let mut e = Engine::new(settings(), TimeMode::EventTime);
    apply_all(&mut e, &scenario().events, 0);
    e.checkpoint_queue("sales", position).expect("sales exists")
}

#[test]
fn a_checkpoint_at_every_point_of_the_scenario_changes_nothing() {
    let s = settings();
    let events = shuffled_scenario();
    let mut whole = Engine::new(s.clone(), TimeMode::EventTime);
    apply_all(&mut whole, &events, 0);
    let whole_state = whole.checkpoint_queue("sales", 0);
    let expected = snapshots_at(&mut whole, at(300.0));
    for k in 0..=events.len() {
        let (_, mut c) = split_at(&s, &events, k);
        // Not only the KPIs: the whole state is the same, byte for byte.
        assert_eq!(c.checkpoint_queue("sales", 0), whole_state, "split at {k}");
        assert_eq!(snapshots_at(&mut c, at(300.0)), expected, "split at {k}");
        assert_eq!(c.totals(), whole.totals(), "split at {k}");
    }
}

#[test]
fn in_event_time_a_restore_brings_the_event_clock_along() {
    let mut s = Script::new();
    s.call(100.0, "c1", CallStep::Offered);
    s.call(200.0, "c2", CallStep::Offered);
    s.events[1].queue_id = "support".into();
    s.call(150.0, "c3", CallStep::Offered);
    let mut whole = Engine::new(settings(), TimeMode::EventTime);
    apply_all(&mut whole, &s.events, 0);
    let (_, c) = split_at(&settings(), &s.events, 2);
    assert_eq!(c.now(0), at(200.0));
    // c3 is applied at 200 s as without the restart, not at its own 150 s.
    assert_eq!(
        c.checkpoint_queue("sales", 0),
        whole.checkpoint_queue("sales", 0)
    );
}

#[test]
fn calls_expire_after_a_restore_as_without_it_and_expired_counts_survive() {
    let mut s = Script::new();
    s.agent(0.0, "a1", AgentState::Ready);
    s.call(0.0, "c1", CallStep::Offered);
    s.call(5.0, "c1", CallStep::Answered { agent_id: a("a1") });
    s.call(10.0, "c2", CallStep::Offered);
    let restored = |e: &Engine| {
        let mut c = Engine::new(settings(), TimeMode::EventTime);
        for id in e.queue_ids() {
            c.restore_queue(&e.checkpoint_queue(&id, 0).unwrap(), 0)
                .unwrap();
        }
        c
    };
    let mut whole = Engine::new(settings(), TimeMode::EventTime);
    apply_all(&mut whole, &s.events, 0);
    snapshots_at(&mut whole, at(3600.0));
    let mut c = restored(&whole);
    // Calls expire by the queue's own event time: a sales event four hours on.
    let mut later = Script::new();
    later.agent(4.0 * 3600.0 + 60.0, "a2", AgentState::LoggedOut);
    later.events[0].event_id = "later".into();
    whole.apply(&later.events[0], 9, WALL);
    c.apply(&later.events[0], 9, WALL);
    let expired_at = at(4.0 * 3600.0 + 120.0);
    assert_eq!(
        snapshots_at(&mut c, expired_at),
        snapshots_at(&mut whole, expired_at)
    );
    let sales = |e: &Engine| {
        e.totals()
            .into_iter()
            .find(|(q, _)| q == "sales")
            .unwrap()
            .1
    };
    assert_eq!(sales(&c).expired_calls, 2);
    assert_eq!(sales(&restored(&c)).expired_calls, 2);
}

#[test]
fn a_checkpoint_between_an_answer_and_its_late_offer_resolves_it_after_the_restore() {
    let mut s = Script::new();
    s.agent(90.0, "a1", AgentState::Ready);
    s.call(100.0, "c1", CallStep::Answered { agent_id: a("a1") }); // pending
    s.call(95.0, "c1", CallStep::Offered); // 5 s late: resolves the answer
    s.call(210.0, "c9", CallStep::Ringing { agent_id: a("a1") }); // never offered
    let mut events = s.events;
    for i in 0..8 {
        let mut later = Script::new();
        later.call(250.0 + 10.0 * i as f64, &format!("d{i}"), CallStep::Offered);
        later.events[0].event_id = format!("later{i}");
        events.extend(later.events);
    }
    let settings = settings();
    let mut whole = Engine::new(settings.clone(), TimeMode::EventTime);
    let outcomes = apply_all(&mut whole, &events, 0);
    assert_eq!(
        &outcomes[..4],
        &[
            Outcome::Applied,
            Outcome::Pending,
            Outcome::Applied,
            Outcome::Pending
        ]
    );
    let expected_resolutions = sorted(whole.take_resolutions());
    assert_eq!(
        expected_resolutions,
        vec![
            Resolution {
                origin: 1,
                outcome: Outcome::Applied
            },
            Resolution {
                origin: 3,
                outcome: Outcome::Rejected(RejectReason::NoOffer)
            },
        ]
    );
    let expected = snapshots_at(&mut whole, at(400.0));

    // Split while the answer waits for its offer, and while c9 waits for the watermark.
    for k in [2, 4, 5] {
        let (before, mut c) = split_at(&settings, &events, k);
        let mut resolutions = before;
        resolutions.extend(c.take_resolutions());
        assert_eq!(sorted(resolutions), expected_resolutions, "split at {k}");
        assert_eq!(snapshots_at(&mut c, at(400.0)), expected, "split at {k}");
        assert_eq!(c.totals(), whole.totals());
        let l = c.ledger().counts();
        assert!(l.balances() && l.pending == 0, "split at {k}: {l:?}");
    }
}

#[test]
fn the_header_holds_the_position_and_the_queue_id() {
    let bytes = sales_checkpoint(42);
    assert_eq!(&bytes[..4], b"ACDQ");
    assert_eq!(
        bytes[VERSION_AT..FINGERPRINT_AT],
        FORMAT_VERSION.to_le_bytes()
    );
    assert_eq!(
        bytes[FINGERPRINT_AT..POSITION_AT],
        settings_fingerprint(&EngineSettings::default(), "sales").to_le_bytes()
    );
    assert_eq!(bytes[POSITION_AT..ID_LEN_AT], 42u64.to_le_bytes());
    assert_eq!(bytes[ID_LEN_AT..ID_AT], 5u32.to_le_bytes());
    assert_eq!(&bytes[ID_AT..ID_AT + 5], b"sales");
    let mut e = Engine::new(settings(), TimeMode::EventTime);
    assert_eq!(e.restore_queue(&bytes, 0), Ok(("sales".to_string(), 42)));
    assert_eq!(e.queue_ids(), vec!["sales".to_string()]);
    // Restoring and writing again gives the same bytes: nothing is lost on the way.
    assert_eq!(e.checkpoint_queue("sales", 42), Some(bytes));
}

/// The encoding of a fixed state, and the fingerprint of the default settings, are part of
/// the format: if this fails, bump `FORMAT_VERSION` (or undo the change), then update the
/// constants.
#[test]
fn format_is_pinned() {
    assert_eq!(FORMAT_VERSION, 8);
    assert_eq!(
        settings_fingerprint(&EngineSettings::default(), "sales"),
        18145577065560788318,
        "settings fingerprint"
    );
    let bytes = sales_checkpoint(7);
    assert_eq!(
        (bytes.len(), xxh3_64(&bytes)),
        (1163, 16484875600435108006),
        "checkpoint bytes"
    );
}

#[test]
fn a_checkpoint_of_an_earlier_format_is_refused_with_a_clear_message() {
    let mut old = sales_checkpoint(3);
    old[VERSION_AT..FINGERPRINT_AT].copy_from_slice(&(FORMAT_VERSION - 1).to_le_bytes());
    let mut e = Engine::new(settings(), TimeMode::EventTime);
    let err = e.restore_queue(&old, 0).unwrap_err();
    assert_eq!(
        err,
        CheckpointError::UnsupportedVersion {
            found: FORMAT_VERSION - 1
        }
    );
    let msg = err.to_string();
    assert!(
        msg.contains("an earlier acdstream") && msg.contains("rebuilt from the events"),
        "{msg}"
    );
    assert_eq!(e.queue_count(), 0);
}

#[test]
fn a_checkpoint_written_under_other_settings_is_refused() {
    let bytes = sales_checkpoint(1);
    let refused = |s: EngineSettings| {
        let mut e = Engine::new(Arc::new(s), TimeMode::EventTime);
        e.restore_queue(&bytes, 0)
    };
    let error = CheckpointError::SettingsChanged {
        queue_id: "sales".into(),
    };
    let changed = Err(error.clone());
    let d = EngineSettings::default;
    assert_eq!(
        refused(EngineSettings {
            sliding: vec![SlidingWindow::minutes(5), SlidingWindow::minutes(30)],
            ..d()
        }),
        changed
    );
    assert_eq!(
        refused(EngineSettings {
            interval_ms: 15 * 60_000,
            ..d()
        }),
        changed
    );
    assert_eq!(
        refused(EngineSettings {
            timezone: jiff::tz::TimeZone::fixed(jiff::tz::offset(1)),
            ..d()
        }),
        changed
    );
    assert_eq!(
        refused(EngineSettings {
            allowed_lateness_ms: 60_000,
            ..d()
        }),
        changed
    );
    let mut sales = d();
    sales.queues.insert(
        "sales".into(),
        QueueKpiSettings {
            sl_threshold_ms: 30_000,
            ..QueueKpiSettings::default()
        },
    );
    assert_eq!(refused(sales), changed);
    let mut target = d();
    target.default_queue.sl_target = 0.9;
    assert_eq!(refused(target), changed);

    // Another queue's KPI settings, caps and horizons do not change what the state means.
    let mut other = d();
    other.queues.insert(
        "support".into(),
        QueueKpiSettings {
            sl_threshold_ms: 30_000,
            ..QueueKpiSettings::default()
        },
    );
    other.dedup_horizon_ms = 2 * 3_600_000;
    other.max_call_age_ms = 3_600_000;
    other.max_agents_per_queue = 10;
    assert!(refused(other).is_ok());
    let msg = error.to_string();
    assert!(
        msg.contains("different engine settings") && msg.contains("rebuilt from the events"),
        "{msg}"
    );
}

#[test]
fn truncated_damaged_and_foreign_bytes_are_errors_never_panics() {
    let bytes = sales_checkpoint(9);
    let mut e = Engine::new(settings(), TimeMode::EventTime);
    for len in 0..bytes.len() {
        let err = e.restore_queue(&bytes[..len], 0).unwrap_err();
        assert!(
            matches!(
                err,
                CheckpointError::Truncated { .. } | CheckpointError::Corrupt(_)
            ),
            "{len}: {err}"
        );
    }
    for i in 0..bytes.len() {
        let mut damaged = bytes.clone();
        damaged[i] ^= 0x10;
        assert!(e.restore_queue(&damaged, 0).is_err(), "byte {i} flipped");
    }
    assert_eq!(
        e.queue_count(),
        0,
        "failed restores leave the engine unchanged"
    );

    let mut other = bytes.clone();
    other[VERSION_AT] = 1;
    assert_eq!(
        e.restore_queue(&other, 0),
        Err(CheckpointError::UnsupportedVersion { found: 1 })
    );
    assert_eq!(
        e.restore_queue(br#"{"queue_id":"sales"}"#, 0),
        Err(CheckpointError::NotACheckpoint)
    );
    let mut rng = crate::sim::rng::Rng::new(1);
    for len in [0, 1, 7, 40, 500, 5_000] {
        let mut garbage: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
        assert!(e.restore_queue(&garbage, 0).is_err());
        // Garbage behind a valid magic and version: the checksum catches it.
        if len >= 6 {
            garbage[..4].copy_from_slice(MAGIC);
            garbage[4..6].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
            assert!(e.restore_queue(&garbage, 0).is_err());
        }
    }
    // Damage that keeps the checksum right still cannot panic: the state is checked.
    let mut resealed = bytes[..bytes.len() - CHECKSUM_LEN].to_vec();
    let state_at = ID_AT + 5;
    for i in state_at..resealed.len() {
        let mut d = resealed.clone();
        d[i] = d[i].wrapping_add(0x41);
        let sum = xxh3_64(&d);
        d.extend_from_slice(&sum.to_le_bytes());
        let _ = e.restore_queue(&d, 0);
        e.remove_queue("sales");
    }
    resealed.truncate(state_at + 3);
    let sum = xxh3_64(&resealed);
    resealed.extend_from_slice(&sum.to_le_bytes());
    assert!(matches!(
        e.restore_queue(&resealed, 0),
        Err(CheckpointError::Corrupt(_))
    ));
}

#[test]
fn a_removed_queue_is_gone_and_its_pending_events_are_handed_off() {
    let mut e = Engine::new(settings(), TimeMode::EventTime);
    let mut s = scenario();
    s.call(300.0, "c7", CallStep::Answered { agent_id: a("a1") }); // offer not yet seen
    s.events.last_mut().unwrap().queue_id = "support".into();
    apply_all(&mut e, &s.events, 0);
    assert_eq!(
        e.queue_ids(),
        vec!["sales".to_string(), "support".to_string()]
    );
    assert_eq!(e.ledger().counts().pending, 1);
    let bytes = e.checkpoint_queue("support", 17).unwrap();

    assert!(e.remove_queue("support"));
    assert!(!e.remove_queue("support"));
    assert_eq!(e.checkpoint_queue("support", 17), None);
    let ids: Vec<String> = e.snapshots(WALL).into_iter().map(|s| s.queue_id).collect();
    assert_eq!(ids, vec!["sales".to_string()]);
    assert_eq!(e.queue_ids(), ids);
    let l = e.ledger().counts();
    assert_eq!((l.pending, l.handed_off), (0, 1));
    assert!(l.balances());

    // The instance that takes the queue over holds the pending event, and resolves it.
    let mut next = Engine::new(settings(), TimeMode::EventTime);
    assert_eq!(
        next.restore_queue(&bytes, 0),
        Ok(("support".to_string(), 17))
    );
    assert_eq!(next.ledger().counts().pending, 1);
    let mut offer = Script::new();
    offer.call(299.0, "c7", CallStep::Offered);
    offer.events[0].queue_id = "support".into();
    offer.events[0].event_id = "late-offer".into();
    assert_eq!(next.apply(&offer.events[0], 18, WALL), Outcome::Applied);
    let l = next.ledger().counts();
    assert_eq!((l.consumed, l.applied, l.pending), (2, 2, 0));
    assert!(l.balances());
}

#[test]
fn a_restore_replaces_the_queue_of_that_id_and_respects_max_queues() {
    let s = Arc::new(EngineSettings {
        max_queues: 1,
        ..EngineSettings::default()
    });
    let early = {
        let mut e = Engine::new(s.clone(), TimeMode::EventTime);
        apply_all(&mut e, &scenario().events[..5], 0);
        e.checkpoint_queue("sales", 4).unwrap()
    };
    let mut e = Engine::new(s.clone(), TimeMode::EventTime);
    apply_all(&mut e, &scenario().events, 0);
    // Replacing the one queue held is within the cap.
    assert_eq!(e.restore_queue(&early, 0), Ok(("sales".to_string(), 4)));
    assert_eq!(e.checkpoint_queue("sales", 4), Some(early));

    let mut other = Script::new();
    other.call(0.0, "c1", CallStep::Offered);
    other.events[0].queue_id = "support".into();
    let mut o = Engine::new(s, TimeMode::EventTime);
    apply_all(&mut o, &other.events, 0);
    let support = o.checkpoint_queue("support", 0).unwrap();
    let err = e.restore_queue(&support, 0).unwrap_err();
    assert_eq!(
        err,
        CheckpointError::QueueLimit {
            queue_id: "support".into(),
            max_queues: 1
        }
    );
    assert_eq!(e.queue_ids(), vec!["sales".to_string()]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Two queues' valid histories, delivered out of order, split anywhere: restoring the
    /// checkpoints taken at the split and applying the rest gives exactly the state,
    /// snapshots, totals and resolutions of applying everything in one engine. The queues
    /// share their agents (busy other in one while on the other's call), and `pauses` are
    /// `agent_state`s without a queue. Offers are
    /// delivered later than the other steps (but within the lateness), so that events wait
    /// for their offer often; `at_pending` moves the split to where some do.
    #[test]
    fn a_checkpoint_anywhere_in_the_stream_changes_nothing(
        calls in prop::collection::vec((0u32..1_800_000, 0u8..3, life()), 1..25),
        states in prop::collection::vec((1u32..1_800_000, 0u8..3, 0u8..3), 0..10),
        pauses in prop::collection::vec((25_000u32..1_800_000, 0u8..3, any::<bool>()), 0..6),
        delays in prop::collection::vec(0i64..25_000, 200),
        offer_lag in 0i64..20_000,
        shift in 0i64..600_000,
        split in 0.0f64..=1.0,
        at_pending in any::<bool>(),
        as_of_s in 600.0f64..2400.0,
    ) {
        let sales = events(&calls, &states);
        let support = sales.iter().map(|e| CtiEvent {
            event_id: format!("s-{}", e.event_id),
            ts: e.ts + shift,
            queue_id: "support".into(),
            ..e.clone()
        });
        let history: Vec<CtiEvent> = sales
            .iter()
            .cloned()
            .chain(support)
            .chain(pauses_everywhere(&pauses))
            .collect();
        let offered = |e: &CtiEvent| {
            matches!(e.body, EventBody::Call { step: CallStep::Offered, .. })
        };
        let mut arrival: Vec<(Millis, usize)> = history
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let delay = delays[i % delays.len()];
                // At most 29 s behind the newest event: never late (lateness 30 s).
                let delay = if offered(e) { (delay + offer_lag).min(29_000) } else { delay };
                (e.ts + delay, i)
            })
            .collect();
        arrival.sort();
        let delivered: Vec<CtiEvent> = arrival.iter().map(|&(_, i)| history[i].clone()).collect();
        let s = settings();

        let mut whole = Engine::new(s.clone(), TimeMode::EventTime);
        let mut pending_after = vec![0];
        for (i, ev) in delivered.iter().enumerate() {
            let outcome = whole.apply(ev, i as u64, WALL);
            // A pause for an agent logged out everywhere for longer than the lateness is unknown.
            prop_assert!(
                matches!(outcome, Outcome::Applied | Outcome::Pending | Outcome::Rejected(RejectReason::UnknownAgent)),
                "{:?}", outcome
            );
            pending_after.push(whole.ledger().counts().pending);
        }
        let mut k = (split * delivered.len() as f64).round() as usize;
        if at_pending {
            k = (k..=delivered.len()).find(|&k| pending_after[k] > 0).unwrap_or(k);
        }
        let (mut resolutions, mut c) = split_at(&s, &delivered, k);
        // Not only the KPIs: the whole state is the same, byte for byte, before anything
        // moves the clocks on.
        prop_assert_eq!(c.queue_ids(), whole.queue_ids());
        for id in whole.queue_ids() {
            prop_assert!(c.checkpoint_queue(&id, 0) == whole.checkpoint_queue(&id, 0), "state of {}", id);
        }
        resolutions.extend(c.take_resolutions());
        prop_assert_eq!(sorted(resolutions), sorted(whole.take_resolutions()));

        let as_of = at(as_of_s).max(history.iter().map(|e| e.ts).max().unwrap());
        let expected = snapshots_at(&mut whole, as_of);
        prop_assert_eq!(snapshots_at(&mut c, as_of), expected);
        prop_assert_eq!(c.totals(), whole.totals());
        let l = c.ledger().counts();
        prop_assert!(l.balances() && l.pending == 0, "{:?}", l);
    }
}
