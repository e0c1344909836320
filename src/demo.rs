//! `acdstream demo`: the simulator feeding the live pipeline, KPIs on `/metrics`, no Kafka.
//! The simulation starts `warmup` in the past so that the windows are full from the first
//! scrape; its KPIs are published (and alerted on) once that history has been applied.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::alerts::AlertSettings;
use crate::event::Millis;
use crate::ledger::LedgerCounts;
use crate::pipeline::{Clock, Pipeline, PipelineSettings};
use crate::serve::{self, ServeError};
use crate::sim::Simulator;
use crate::sources::sim::{demo_scenario, DemoClock, SimSource};
use crate::state::{Engine, EngineSettings, TimeMode};

#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub listen: SocketAddr,
    /// Simulated seconds per real second.
    pub speed: f64,
    pub seed: u64,
    /// How much simulated history exists when the demo starts.
    pub warmup: Duration,
    pub publish_interval: Duration,
    pub shutdown_timeout: Duration,
    /// The alert rules, and whether to push to Alertmanager.
    pub alerts: AlertSettings,
}

/// Slower than this, a simulated minute takes over 16 hours: nothing would ever be seen.
const MIN_SPEED: f64 = 0.001;
/// Faster than this, a simulated day passes in under a tenth of a second: a replay, not a demo.
const MAX_SPEED: f64 = 1_000_000.0;

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(transparent)]
    Serve(#[from] ServeError),
    #[error(
        "--speed must be between {MIN_SPEED} and {MAX_SPEED} simulated seconds per second, got {0:e}"
    )]
    Speed(f64),
}

/// Runs until `shutdown` is cancelled; returns the final ledger. Its tasks (HTTP, the
/// Alertmanager push) are on `tasks`, for the caller to join.
pub async fn run(
    opts: DemoOptions,
    settings: Arc<EngineSettings>,
    shutdown: &CancellationToken,
    tasks: &TaskTracker,
) -> Result<LedgerCounts, DemoError> {
    check_speed(opts.speed)?;
    let served = serve::start(opts.listen, shutdown, tasks).await?;
    println!(
        "acdstream demo: wallboard at http://{0}/, KPIs at http://{0}/metrics (health: /healthz, \
         /readyz); Ctrl-C to stop",
        served.addr
    );
    let sinks = served.sinks(&settings, opts.alerts, None, tasks)?;

    let real_now = jiff::Timestamp::now().as_millisecond();
    let sim_start = real_now - real_now.rem_euclid(1000) - opts.warmup.as_millis() as Millis;
    let clock = DemoClock::new(real_now, opts.speed);
    let simulator = Simulator::new(demo_scenario(opts.warmup), opts.seed, sim_start);
    let pipeline = Pipeline::new(
        Engine::new(settings, TimeMode::Live),
        Clock::Demo(clock),
        PipelineSettings {
            publish_interval: Some(opts.publish_interval),
            shutdown_timeout: opts.shutdown_timeout,
            log_floor: true,
            ..PipelineSettings::default()
        },
        sinks,
    );
    let report = pipeline
        .run(&mut SimSource::new(simulator, clock), shutdown)
        .await;
    Ok(report.ledger)
}

/// NaN is in no range, so it is refused too.
fn check_speed(speed: f64) -> Result<(), DemoError> {
    if (MIN_SPEED..=MAX_SPEED).contains(&speed) {
        Ok(())
    } else {
        Err(DemoError::Speed(speed))
    }
}

#[cfg(test)]
mod tests;
