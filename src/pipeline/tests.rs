use std::sync::atomic::Ordering;

use tokio::time::Instant;

use super::*;
use crate::sim::{Scenario, Simulator};
use crate::sources::sim::SimSource;
use crate::state::{EngineSettings, TimeMode};

#[tokio::test(start_paused = true)]
async fn the_pipeline_releases_each_event_on_time_and_applies_all_of_them() {
    let start = 1_767_600_000_000;
    let mut scenario = Scenario::demo();
    scenario.queues.truncate(1);
    scenario.surge = None;
    scenario.duration_ms = 30 * 60_000;
    let expected = Simulator::new(scenario.clone(), 3, start).count() as u64;
    // Ten minutes of history at start-up, then twenty in (paused) real time.
    let clock = DemoClock::new(start + 10 * 60_000, 1.0);
    let began = Instant::now();
    let shutdown = CancellationToken::new();
    let mut source = SimSource::new(Simulator::new(scenario, 3, start), clock);
    let recorder = crate::sinks::prometheus::builder()
        .unwrap()
        .build_recorder();
    let tasks = TaskTracker::new();
    let sinks = metrics::with_local_recorder(&recorder, || Sinks {
        prometheus: Some(PrometheusSink::new(recorder.handle(), &[])),
        alerts: Some(Alerting::start(AlertSettings::default(), &tasks).unwrap()),
        ..Sinks::default()
    });
    let (registry, ready) = (sinks.registry.clone(), sinks.ready.clone());
    let engine = Engine::new(Arc::new(EngineSettings::default()), TimeMode::Live);
    let settings = PipelineSettings {
        publish_interval: Some(Duration::from_secs(1)),
        ..PipelineSettings::default()
    };
    let pipeline = Pipeline::new(engine, Clock::Demo(clock), settings, sinks);
    let ledger = pipeline.run(&mut source, &shutdown).await.ledger;

    assert_eq!((ledger.consumed, ledger.applied), (expected, expected));
    let elapsed = began.elapsed();
    assert!(
        elapsed >= Duration::from_secs(19 * 60) && elapsed <= Duration::from_secs(20 * 60),
        "{elapsed:?}"
    );
    assert!(ready.load(Ordering::Relaxed));
    let sales = registry.get("sales").expect("published");
    assert!(sales.snapshot.windows.get("15m").unwrap().offered > 20);
    assert!(sales.snapshot.as_of >= start + 29 * 60_000);
}
