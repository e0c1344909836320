use super::*;
use crate::event::CallStep;
use crate::sim::{Scenario, Simulator};
use crate::state::tests::{a, scenario, T0, WALL};
use crate::state::{Engine, TimeMode};

#[test]
fn an_image_restores_every_field_but_scratch_space() {
    let s = Arc::new(EngineSettings::default());
    let mut e = Engine::new(s.clone(), TimeMode::EventTime);
    e.set_report_intervals(true);
    let mut script = scenario();
    script.call(260.0, "c8", CallStep::Answered { agent_id: a("a1") }); // offer to come
    for (i, ev) in script.events.iter().enumerate() {
        e.apply(ev, i as u64, WALL);
    }
    let q = e.queue("sales").expect("sales");
    assert!(!q.today_waits.is_empty() && !q.waiting.is_empty() && q.pending_events() == 1);
    let bytes = postcard::to_allocvec(q).expect("serialises");
    let r = postcard::from_bytes::<QueueState>(&bytes)
        .expect("deserialises")
        .restored(q.id.clone(), &s)
        .expect("restores");
    let QueueState {
        id,
        tag,
        kpi,
        calls,
        due,
        agents,
        dedup,
        ring,
        interval,
        today,
        today_waits,
        samples,
        waiting,
        threshold_cursor,
        // Restored at the lowest value: the first cursor move looks into `waiting`.
        unreached_from,
        max_ts,
        clock,
        last_sweep,
        last_clock_expiry: _,
        // Rebuilt: the quiet time starts afresh at the first advance after a restore.
        last_event_clock: _,
        totals,
        expired_calls,
        ended_by_restart,
        skewed_events,
        held,
        deltas: _,
        old_deltas: _,
        phases: _,
        old_phases: _,
        samples_scratch: _,
        old_samples: _,
        diff: _,
        touched: _,
        due_keys: _,
        resolved: _,
        agent_scratch: _,
        surge,
        surge_evaluated,
        watched_since,
        finished_episodes,
        // Rebuilt from the watermark: a restored queue reports the interval it is in.
        to_report,
        finished_intervals: _,
        reported_any: _,
        reports_intervals: _,
        surge_outcomes,
        surge_follows_events: _,
        scope: _,
        outbox: _,
    } = r;
    assert_eq!((id, tag), (q.id.clone(), q.tag));
    assert_eq!(kpi, q.kpi);
    assert_eq!(calls, q.calls);
    // Rebuilt from the calls.
    assert_eq!(due, q.due);
    assert_eq!(agents, q.agents);
    assert_eq!(unreached_from, Millis::MIN);
    assert_eq!(dedup, q.dedup);
    assert_eq!(ring, q.ring);
    assert_eq!((interval, today), (q.interval.clone(), q.today.clone()));
    // Counts, total, min and max: the quantiles cannot tell the two apart.
    assert!(today_waits == q.today_waits);
    assert_eq!(samples, q.samples);
    assert_eq!(waiting, q.waiting);
    // Held events are in the calls, and counted again from them.
    assert_eq!((held, q.held), (1, 1));
    assert_eq!(
        (threshold_cursor, max_ts, clock, last_sweep),
        (q.threshold_cursor, q.max_ts, q.clock, q.last_sweep)
    );
    assert_eq!(
        (totals, expired_calls, ended_by_restart, skewed_events),
        (
            q.totals,
            q.expired_calls,
            q.ended_by_restart,
            q.skewed_events
        )
    );
    assert_eq!(surge, q.surge);
    assert_eq!(
        (surge_evaluated, watched_since, finished_episodes),
        (
            q.surge_evaluated,
            q.watched_since,
            q.finished_episodes.clone()
        )
    );
    assert_eq!(surge_outcomes, q.surge_outcomes);
    assert_eq!(to_report, q.to_report);
}

/// Prints the size of the busiest demo queue's checkpoint after an hour (run with
/// `--nocapture`); the bound only catches an encoding gone badly wrong.
#[test]
fn checkpoint_size_of_a_busy_queue_after_an_hour_of_the_demo() {
    let scenario = Scenario {
        duration_ms: 3_600_000,
        ..Scenario::demo()
    };
    let mut e = Engine::new(Arc::new(EngineSettings::default()), TimeMode::EventTime);
    let mut n = 0;
    for (i, ev) in Simulator::new(scenario, 7, T0).enumerate() {
        e.apply(&ev, i as u64, WALL);
        n = i as u64;
    }
    let q = e.queue("support").expect("support is in the demo");
    let bytes = e.checkpoint_queue("support", n).unwrap();
    fn size<T: Serialize>(v: &T) -> usize {
        postcard::to_allocvec(v).map_or(0, |v| v.len())
    }
    // As written: a map's pairs in key order are as long as the map; the histogram's pairs.
    let today_waits: Vec<(u64, u32)> = q
        .today_waits
        .iter_recorded()
        .map(|v| (v.value_iterated_to(), v.count_at_value()))
        .collect();
    println!(
        "checkpoint of `support` after 1 h of the demo: {} bytes \
         (remembered ids {} × {} B, ring {} B in {} non-empty buckets, calls {} in {} B, \
         agents {} in {} B, wait samples {} in {} B, today histogram {} pairs in {} B)",
        bytes.len(),
        q.dedup.remembered(),
        size(&q.dedup) / q.dedup.remembered().max(1),
        size(&q.ring),
        q.ring.non_empty_buckets(),
        q.calls.len(),
        size(&q.calls),
        q.agents.len(),
        size(&q.agents),
        q.samples.len(),
        size(&q.samples),
        today_waits.len(),
        size(&today_waits),
    );
    assert!(bytes.len() < 200_000, "{} bytes", bytes.len());
}

proptest::proptest! {
    /// Wait quantiles found by selection are the histogram's, value for value: waits from 0
    /// to past the histogram's top, many equal, in any order.
    #[test]
    fn selected_quantiles_are_the_histograms(
        waits in proptest::collection::vec(
            proptest::prop_oneof![0u32..100, 0u32..600_000, 14_000_000u32..20_000_000],
            0..300,
        ),
    ) {
        let mut h = wait_histogram();
        for &w in &waits {
            h.saturating_record((w as u64).min(MAX_RECORDED_WAIT_MS));
        }
        let mut scratch = waits.clone();
        proptest::prop_assert_eq!(
            selected_quantiles(&mut scratch, &wait_histogram()),
            quantiles(&h)
        );
    }
}
