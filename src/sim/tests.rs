use std::collections::HashMap;

use super::*;

const START: Millis = 1_700_000_000_000;

fn short_demo(minutes: i64) -> Scenario {
    Scenario {
        duration_ms: minutes * 60_000,
        ..Scenario::demo()
    }
}

fn run(scenario: Scenario, seed: u64) -> Vec<CtiEvent> {
    Simulator::new(scenario, seed, START).collect()
}

#[test]
fn same_seed_same_events_different_seed_different_events() {
    let a = run(short_demo(30), 7);
    let b = run(short_demo(30), 7);
    assert!(a.len() > 1_000, "{}", a.len());
    assert_eq!(a, b);

    let c = run(short_demo(30), 8);
    assert_ne!(a, c);
    // Not merely different ids: the calls themselves differ.
    let shape = |events: &[CtiEvent]| -> Vec<(Millis, String)> {
        events
            .iter()
            .map(|e| (e.ts, e.event_type().to_string()))
            .collect()
    };
    assert_ne!(shape(&a), shape(&c));
}

#[test]
fn without_jitter_time_is_nondecreasing_and_ids_unique() {
    let seed = 0xACD;
    let sim = Simulator::new(Scenario::demo(), seed, START);
    let end = sim.end_ms();
    assert_eq!(end, START + 7_200_000);
    let events: Vec<CtiEvent> = sim.collect();
    assert!(events.windows(2).all(|w| w[0].ts <= w[1].ts));
    assert!(events.iter().all(|e| (START..end).contains(&e.ts)));
    let mut ids: Vec<&str> = events.iter().map(|e| e.event_id.as_str()).collect();
    assert!(ids.iter().all(|id| id.starts_with("acd-")));
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), events.len());
}

#[test]
fn jitter_is_bounded_real_and_leaves_the_model_alone() {
    let jitter = 5_000;
    let plain = run(short_demo(60), 3);
    let jittered = run(
        Scenario {
            out_of_order_jitter_ms: jitter,
            ..short_demo(60)
        },
        3,
    );

    let mut newest = Millis::MIN;
    let mut late = 0;
    let mut worst = 0;
    for e in &jittered {
        if e.ts < newest {
            late += 1;
            worst = worst.max(newest - e.ts);
        }
        newest = newest.max(e.ts);
    }
    assert!(worst <= jitter, "an event came out {worst} ms behind");
    assert!(late > jittered.len() / 10, "only {late} events reordered");
    assert!(worst > jitter / 2, "worst lateness only {worst} ms");

    // The same events, only in another order.
    let mut sorted = jittered.clone();
    sorted.sort_by_key(|e| {
        let n: u64 = e.event_id.rsplit('-').next().unwrap().parse().unwrap();
        n
    });
    assert_eq!(sorted, plain);
}

#[test]
fn duplicates_are_exact_copies_at_the_configured_share() {
    let plain = run(short_demo(60), 5);
    let duplicated = run(
        Scenario {
            duplicate_ratio: 0.05,
            ..short_demo(60)
        },
        5,
    );
    let mut first_seen: HashMap<&str, &CtiEvent> = HashMap::new();
    let mut copies = 0usize;
    let mut deduped = Vec::new();
    for e in &duplicated {
        match first_seen.get(e.event_id.as_str()) {
            Some(original) => {
                assert_eq!(*original, e, "a duplicate differs from its original");
                copies += 1;
            }
            None => {
                first_seen.insert(&e.event_id, e);
                deduped.push(e.clone());
            }
        }
    }
    assert_eq!(deduped, plain);
    assert_eq!(duplicated.len(), plain.len() + copies);
    // Binomial with n ≈ 5 000, p = 0.05: σ ≈ 0.3 points; 1.5 points is ~5σ.
    let share = copies as f64 / plain.len() as f64;
    assert!((share - 0.05).abs() < 0.015, "duplicate share {share}");
    // At most one copy each.
    let mut counts: HashMap<&str, u32> = HashMap::new();
    for e in &duplicated {
        *counts.entry(&e.event_id).or_default() += 1;
    }
    assert!(counts.values().all(|&c| c <= 2));
}

#[test]
fn jitter_and_duplicates_together_stay_within_bounds() {
    let jitter = 2_000;
    let events = run(
        Scenario {
            out_of_order_jitter_ms: jitter,
            duplicate_ratio: 0.1,
            ..short_demo(30)
        },
        11,
    );
    let mut newest = Millis::MIN;
    for e in &events {
        assert!(e.ts >= newest || newest - e.ts <= jitter);
        newest = newest.max(e.ts);
    }
    let mut seen: HashMap<&str, &CtiEvent> = HashMap::new();
    let mut duplicated = Vec::new();
    for e in &events {
        if let Some(prev) = seen.insert(&e.event_id, e) {
            assert_eq!(prev, e);
            duplicated.push(e.event_id.clone());
        }
    }
    // Jitter reorders deliveries but does not change which events are duplicated.
    let unjittered = run(
        Scenario {
            duplicate_ratio: 0.1,
            ..short_demo(30)
        },
        11,
    );
    let mut unjittered_dups: Vec<String> = unjittered
        .windows(2)
        .filter(|w| w[0].event_id == w[1].event_id)
        .map(|w| w[1].event_id.clone())
        .collect();
    duplicated.sort();
    unjittered_dups.sort();
    assert!(!duplicated.is_empty());
    assert_eq!(duplicated, unjittered_dups);
    // The deduplicated, time-sorted stream is still a valid contact-centre history.
    let mut unique: Vec<CtiEvent> = seen.into_values().cloned().collect();
    unique.sort_by_key(|e| {
        let n: u64 = e.event_id.rsplit('-').next().unwrap().parse().unwrap();
        n
    });
    model::tests::check_contract(&unique).unwrap();
}

#[test]
fn empty_or_zero_length_runs_produce_nothing() {
    assert_eq!(run(short_demo(0), 1).len(), 0);
    assert_eq!(run(Scenario::default(), 1).len(), 0);
    let negative = Scenario {
        duration_ms: -5,
        out_of_order_jitter_ms: -5,
        duplicate_ratio: f64::NAN,
        ..Scenario::demo()
    };
    assert_eq!(run(negative, 1).len(), 0);
}

/// Replays `events` through an engine in event time and returns the "today" snapshots.
fn replay(events: &[CtiEvent]) -> (Vec<crate::kpi::KpiSnapshot>, crate::state::Engine) {
    use crate::state::{Engine, EngineSettings, TimeMode};
    let mut engine = Engine::new(
        std::sync::Arc::new(EngineSettings::default()),
        TimeMode::EventTime,
    );
    let wall = events.iter().map(|e| e.ts).max().unwrap_or(DAY_START);
    for (i, e) in events.iter().enumerate() {
        engine.apply(e, i as u64, wall);
    }
    engine.finish();
    let mut snapshots = engine.snapshots(wall);
    snapshots.sort_by(|a, b| a.queue_id.cmp(&b.queue_id));
    (snapshots, engine)
}

/// 2026-01-05 08:00 UTC, so that a few simulated hours stay within one `today`.
const DAY_START: Millis = 1_767_600_000_000;

#[test]
fn a_simulated_day_with_legs_replays_through_the_engine_without_rejections() {
    use crate::ledger::RejectReason;
    let day = Scenario {
        duration_ms: 6 * 3_600_000,
        ..Scenario::demo()
    };
    let events: Vec<CtiEvent> = Simulator::new(day.clone(), 17, DAY_START).collect();
    let (snapshots, engine) = replay(&events);
    let ledger = engine.ledger().counts();
    assert_eq!(ledger.consumed, events.len() as u64);
    assert_eq!(ledger.applied, ledger.consumed, "{ledger:?}");
    for reason in [
        RejectReason::OutOfSequence,
        RejectReason::NoOffer,
        RejectReason::NegativeDuration,
    ] {
        assert_eq!(engine.ledger().rejected_by(reason), 0, "{reason:?}");
    }
    let today = |q: &str| {
        let s = snapshots.iter().find(|s| s.queue_id == q).unwrap();
        s.windows.get("today").unwrap().clone()
    };
    // Agents transfer in sales (to retention) and support (to billing); billing overflows.
    for q in ["sales", "support"] {
        let w = today(q);
        assert!(w.transferred_out > 10, "{q}: {w:?}");
        assert!(w.transfer_rate.is_some_and(|r| r > 0.0 && r < 0.2), "{q}");
    }
    assert!(today("billing").flowed_out > 0);
    assert_eq!(today("retention").transferred_out, 0);
    // Every leg counts: offers in the engine are the simulator's offers, queue by queue.
    for s in &snapshots {
        let offered = events
            .iter()
            .filter(|e| {
                e.queue_id == s.queue_id && e.event_type() == crate::event::EventType::Offered
            })
            .count() as u64;
        assert_eq!(
            s.windows.get("today").unwrap().offered,
            offered,
            "{}",
            s.queue_id
        );
    }

    // Delivered with 20 s of reordering and 5 % redeliveries, the same day gives the same KPIs.
    let messy: Vec<CtiEvent> = Simulator::new(
        Scenario {
            out_of_order_jitter_ms: 20_000,
            duplicate_ratio: 0.05,
            ..day
        },
        17,
        DAY_START,
    )
    .collect();
    let (messy_snapshots, messy_engine) = replay(&messy);
    let counts = messy_engine.ledger().counts();
    assert_eq!((counts.late, counts.rejected), (0, 0), "{counts:?}");
    assert!(counts.duplicate > 0);
    assert_eq!(messy_snapshots, snapshots);
}

#[test]
fn transfers_back_into_the_same_queue_replay_without_rejections() {
    let scenario = model::tests::legs_scenario(4);
    let events: Vec<CtiEvent> = Simulator::new(scenario, 19, DAY_START).collect();
    let (snapshots, engine) = replay(&events);
    let ledger = engine.ledger().counts();
    assert_eq!(ledger.applied, events.len() as u64, "{ledger:?}");
    let front = snapshots.iter().find(|s| s.queue_id == "front").unwrap();
    let today = front.windows.get("today").unwrap();
    assert!(today.transferred_out > 50, "{today:?}");
    let desk = snapshots.iter().find(|s| s.queue_id == "desk").unwrap();
    let today = desk.windows.get("today").unwrap();
    assert!(
        today.transferred_out > 0 && today.flowed_out > 0,
        "{today:?}"
    );
}
