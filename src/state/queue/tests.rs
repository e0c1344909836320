use super::*;
use crate::event::CallStep;
use crate::state::tests::{a, scenario, WALL};
use crate::state::{Engine, TimeMode};

#[test]
fn an_image_restores_every_field_but_scratch_space() {
    let s = Arc::new(EngineSettings::default());
    let mut e = Engine::new(s.clone(), TimeMode::EventTime);
    let mut script = scenario();
    script.call(260.0, "c8", CallStep::Answered { agent_id: a("a1") }); // offer to come
    for (i, ev) in script.events.iter().enumerate() {
        e.apply(ev, i as u64, WALL);
    }
    let q = e.queue("sales").expect("sales");
    assert!(!q.today_waits.is_empty() && !q.waiting.is_empty() && !q.pending.is_empty());
    let r = QueueState::from_image(q.id.clone(), q.image(), &s).expect("restores");
    let QueueState {
        id,
        kpi,
        calls,
        agents,
        dedup,
        ring,
        interval,
        today,
        today_waits,
        samples,
        waiting,
        pending,
        threshold_cursor,
        max_ts,
        clock,
        last_sweep,
        totals,
        expired_calls,
        deltas: _,
        old_deltas: _,
        phases: _,
        old_phases: _,
        surge,
        surge_evaluated,
        watched_since,
        finished_episodes,
        surge_outcomes,
        surge_follows_events: _,
    } = r;
    assert_eq!(id, q.id);
    assert_eq!(kpi, q.kpi);
    assert_eq!(calls, q.calls);
    assert_eq!(agents, q.agents);
    assert_eq!(dedup, q.dedup);
    assert_eq!(ring, q.ring);
    assert_eq!((interval, today), (q.interval.clone(), q.today.clone()));
    // Counts, total, min and max: the quantiles cannot tell the two apart.
    assert!(today_waits == q.today_waits);
    assert_eq!(samples, q.samples);
    assert_eq!(waiting, q.waiting);
    assert_eq!(pending, q.pending);
    assert_eq!(
        (threshold_cursor, max_ts, clock, last_sweep),
        (q.threshold_cursor, q.max_ts, q.clock, q.last_sweep)
    );
    assert_eq!((totals, expired_calls), (q.totals, q.expired_calls));
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
}
