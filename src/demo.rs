//! `acdstream demo`: the simulator feeding the live engine, KPIs on `/metrics`, no Kafka.
//!
//! Three tasks joined by a bounded channel and one shutdown token:
//! the simulator releases each event when the (optionally sped-up) demo clock reaches its
//! time; the engine task applies events and, every publish interval, computes snapshots and
//! publishes them to the registry and Prometheus; the HTTP task serves them. The simulation
//! starts `warmup` in the past so that the windows are full from the first scrape.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::alerts::{AlertDispatch, AlertSettings, HealthInputs};
use crate::event::{CtiEvent, Millis};
use crate::http::{serve, HttpState};
use crate::ledger::LedgerCounts;
use crate::sim::{Scenario, Simulator, Surge};
use crate::sinks::alertmanager::AlertmanagerError;
use crate::sinks::prometheus::{install, PrometheusSink};
use crate::sinks::SinkError;
use crate::state::{Engine, EngineSettings, SnapshotRegistry, TimeMode};
use crate::telemetry;

#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub listen: SocketAddr,
    /// Simulated seconds per real second.
    pub speed: f64,
    pub seed: u64,
    /// How much simulated history exists when the demo starts.
    pub warmup: Duration,
    pub publish_interval: Duration,
    /// The alert rules, and whether to push to Alertmanager.
    pub alerts: AlertSettings,
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("cannot listen on {addr}: {source}; pick another address with --listen")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Sink(#[from] SinkError),
    #[error("--speed must be a positive number of simulated seconds per second, got {0}")]
    Speed(f64),
    #[error(transparent)]
    Alertmanager(#[from] AlertmanagerError),
}

/// Simulated time: `origin_sim` at the real instant `origin`, advancing `speed` times faster.
/// It reads tokio's clock, so tests can run the pipeline with paused time.
#[derive(Debug, Clone, Copy)]
pub struct DemoClock {
    origin: Instant,
    origin_sim: Millis,
    speed: f64,
}

impl DemoClock {
    pub fn new(origin_sim: Millis, speed: f64) -> DemoClock {
        DemoClock {
            origin: Instant::now(),
            origin_sim,
            speed,
        }
    }

    pub fn now(&self) -> Millis {
        self.at(self.origin.elapsed())
    }

    fn at(&self, elapsed: Duration) -> Millis {
        self.origin_sim + (elapsed.as_secs_f64() * 1000.0 * self.speed) as Millis
    }

    /// Real time to wait until the clock reads `sim`.
    pub fn until(&self, sim: Millis) -> Duration {
        let ahead_ms = (sim - self.now()).max(0) as f64 / self.speed;
        Duration::from_secs_f64(ahead_ms / 1000.0)
    }
}

/// The demo contact centre, with its surge on `support` already under way at start-up.
pub fn demo_scenario(warmup: Duration) -> Scenario {
    let mut scenario = Scenario::demo();
    scenario.duration_ms = 24 * 3_600_000;
    scenario.surge = Some(Surge {
        queue: "support".into(),
        start_after_s: (warmup.as_secs_f64() - 300.0).max(0.0),
        duration_s: 1_200.0,
        factor: 2.5,
    });
    scenario
}

/// Runs until `shutdown` is cancelled; returns the final ledger.
pub async fn run(
    opts: DemoOptions,
    settings: Arc<EngineSettings>,
    shutdown: CancellationToken,
) -> Result<LedgerCounts, DemoError> {
    if !(opts.speed.is_finite() && opts.speed > 0.0) {
        return Err(DemoError::Speed(opts.speed));
    }
    let handle = install()?;
    let listener = TcpListener::bind(opts.listen)
        .await
        .map_err(|source| DemoError::Bind {
            addr: opts.listen,
            source,
        })?;
    let addr = listener.local_addr().unwrap_or(opts.listen);
    let ready = Arc::new(AtomicBool::new(false));
    let http = tokio::spawn(serve(
        listener,
        HttpState {
            handle: handle.clone(),
            ready: ready.clone(),
        },
        shutdown.clone(),
    ));
    println!(
        "acdstream demo: KPIs at http://{addr}/metrics (health: /healthz, /readyz); Ctrl-C to stop"
    );

    let real_now = jiff::Timestamp::now().as_millisecond();
    let sim_start = real_now - real_now.rem_euclid(1000) - opts.warmup.as_millis() as Millis;
    let clock = DemoClock::new(real_now, opts.speed);
    let (tx, rx) = mpsc::channel::<(CtiEvent, Instant)>(4096);
    let simulator = Simulator::new(demo_scenario(opts.warmup), opts.seed, sim_start);
    let producer = tokio::spawn(produce(simulator, clock, tx, shutdown.clone()));

    let engine = Engine::new(settings, TimeMode::Live);
    let mut outputs = Outputs {
        sink: PrometheusSink::new(handle),
        registry: SnapshotRegistry::default(),
        alerts: AlertDispatch::start(opts.alerts, &shutdown)?,
    };
    let ledger = consume(
        engine,
        rx,
        clock,
        &mut outputs,
        &ready,
        opts.publish_interval,
        &shutdown,
    )
    .await;

    shutdown.cancel();
    let _ = producer.await;
    let _ = http.await;
    Ok(ledger)
}

async fn produce(
    simulator: Simulator,
    clock: DemoClock,
    tx: mpsc::Sender<(CtiEvent, Instant)>,
    shutdown: CancellationToken,
) {
    for event in simulator {
        let wait = clock.until(event.ts);
        if !wait.is_zero() {
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
        }
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => return,
            sent = tx.send((event, Instant::now())) => if sent.is_err() { return },
        }
    }
    tracing::info!("simulation finished; windows will now decay");
}

/// Where each publish goes.
struct Outputs {
    sink: PrometheusSink,
    registry: SnapshotRegistry,
    alerts: AlertDispatch,
}

async fn consume(
    mut engine: Engine,
    mut rx: mpsc::Receiver<(CtiEvent, Instant)>,
    clock: DemoClock,
    outputs: &mut Outputs,
    ready: &AtomicBool,
    publish_every: Duration,
    shutdown: &CancellationToken,
) -> LedgerCounts {
    let latency = metrics::histogram!(telemetry::EVENT_APPLY_LATENCY_SECONDS);
    let mut publish = tokio::time::interval(publish_every);
    publish.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut report = tokio::time::interval(Duration::from_secs(30));
    report.tick().await;
    loop {
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => break,
            received = rx.recv() => match received {
                Some((event, sent)) => {
                    engine.apply(&event, 0, clock.now());
                    latency.record(sent.elapsed().as_secs_f64());
                }
                None => break,
            },
            _ = publish.tick() => {
                publish_all(&mut engine, clock.now(), outputs);
                ready.store(true, Ordering::Relaxed);
            }
            _ = report.tick() => log_floor(&outputs.registry),
        }
    }
    // Drain what was already received, then publish once more so the last scrape is complete.
    while let Ok((event, _)) = rx.try_recv() {
        engine.apply(&event, 0, clock.now());
    }
    publish_all(&mut engine, clock.now(), outputs);
    engine.ledger().counts()
}

fn publish_all(engine: &mut Engine, now: Millis, out: &mut Outputs) {
    engine.tick(now);
    engine.take_resolutions();
    let snapshots = engine.snapshots(now);
    let totals = engine.totals();
    out.sink.publish(&snapshots, &totals, engine.ledger());
    out.sink.record_episodes(&engine.take_episodes());
    let counts = engine.ledger().counts();
    // The simulator is no source that can stall or lag: only the rejected ratio applies.
    let health = HealthInputs {
        events_total: counts.consumed - counts.pending,
        rejected_total: counts.rejected,
        ..HealthInputs::default()
    };
    // Alert timing runs on the real clock, whatever the demo's speed.
    out.alerts
        .evaluate(&snapshots, &health, jiff::Timestamp::now().as_millisecond());
    for (snapshot, (_, t)) in snapshots.into_iter().zip(totals) {
        out.registry.publish(snapshot, t);
    }
}

/// One log line per queue: what a supervisor would glance at.
fn log_floor(registry: &SnapshotRegistry) {
    for q in registry.all() {
        let s = &q.snapshot;
        let w = s.windows.get("15m");
        tracing::info!(
            queue = %s.queue_id,
            waiting = s.now.calls_waiting,
            oldest_wait_s = s.now.oldest_wait_seconds,
            sl_15m = ?w.and_then(|w| w.service_level).map(|v| (v * 1000.0).round() / 10.0),
            asa_15m_s = ?w.and_then(|w| w.asa_seconds).map(|v| v.round()),
            agents_ready = s.now.agents_ready,
            agents_busy = s.now.agents_busy + s.now.agents_acw,
            "floor"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let (tx, rx) = mpsc::channel(16);
        let shutdown = CancellationToken::new();
        let simulator = Simulator::new(scenario, 3, start);
        let producer = tokio::spawn(produce(simulator, clock, tx, shutdown.clone()));
        let recorder = crate::sinks::prometheus::builder()
            .unwrap()
            .build_recorder();
        let mut outputs = metrics::with_local_recorder(&recorder, || Outputs {
            sink: PrometheusSink::new(recorder.handle()),
            registry: SnapshotRegistry::default(),
            alerts: AlertDispatch::start(AlertSettings::default(), &shutdown).unwrap(),
        });
        let ready = AtomicBool::new(false);
        let engine = Engine::new(Arc::new(EngineSettings::default()), TimeMode::Live);
        let every = Duration::from_secs(1);
        let ledger = consume(engine, rx, clock, &mut outputs, &ready, every, &shutdown).await;
        producer.await.unwrap();

        assert_eq!((ledger.consumed, ledger.applied), (expected, expected));
        let elapsed = began.elapsed();
        assert!(
            elapsed >= Duration::from_secs(19 * 60) && elapsed <= Duration::from_secs(20 * 60),
            "{elapsed:?}"
        );
        assert!(ready.load(Ordering::Relaxed));
        let sales = outputs.registry.get("sales").expect("published");
        assert!(sales.snapshot.windows.get("15m").unwrap().offered > 20);
        assert!(sales.snapshot.as_of >= start + 29 * 60_000);
    }

    #[test]
    fn the_demo_clock_runs_at_its_speed() {
        let clock = DemoClock {
            origin: Instant::now(),
            origin_sim: 1_000_000,
            speed: 10.0,
        };
        assert_eq!(clock.at(Duration::from_millis(1500)), 1_015_000);
        let wait = clock.until(1_000_000 + 60_000);
        assert!(
            wait <= Duration::from_secs(6) && wait > Duration::from_millis(5_900),
            "{wait:?}"
        );
        assert_eq!(clock.until(0), Duration::ZERO);
    }

    #[test]
    fn the_demo_surge_is_running_when_the_demo_starts() {
        let warmup = 65.0 * 60.0;
        let s = demo_scenario(Duration::from_secs_f64(warmup));
        let surge = s.surge.clone().unwrap();
        assert!(surge.start_after_s < warmup && surge.start_after_s + surge.duration_s > warmup);
        assert!(s.validate().is_ok());
    }
}
