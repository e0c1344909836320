//! `acdstream tail`: one PBX's live file (an Asterisk `queue_log`, or JSON lines) feeding the
//! live pipeline, KPIs on `/metrics` and alerts as `run` has them, no Kafka.
//!
//! The file is read from its start on every start-up: that backlog rebuilds today's windows,
//! each event at its own time, and is the partition's history: nothing is published or alerted
//! on (and `/readyz` answers 503) until the file as it was at start-up has been applied, so a
//! restart neither counts a line twice nor pages for calls long over. Appended lines then come
//! in as they are written, against the wall clock.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::ledger::LedgerCounts;
use crate::pipeline::{Clock, Pipeline, PipelineSettings};
use crate::serve::{self, ServeError};
use crate::sources::file::SourceError;
use crate::sources::follow::FollowSource;
use crate::sources::LineFormat;
use crate::state::{Engine, TimeMode};

/// What `tail` follows, and where it serves.
#[derive(Debug, Clone)]
pub struct TailOptions {
    pub file: PathBuf,
    pub format: LineFormat,
    /// Address for `/metrics`, `/healthz` and `/readyz`.
    pub listen: SocketAddr,
}

#[derive(Debug, thiserror::Error)]
pub enum TailError {
    #[error(transparent)]
    Serve(#[from] ServeError),
    #[error(transparent)]
    Source(#[from] SourceError),
}

/// Runs until `shutdown` is cancelled; returns the final ledger. Its tasks (HTTP, the
/// Alertmanager push) are on `tasks`, for the caller to join.
pub async fn run(
    opts: TailOptions,
    config: Config,
    shutdown: &CancellationToken,
    tasks: &TaskTracker,
) -> Result<LedgerCounts, TailError> {
    // Opened first: a wrong path is said before anything listens.
    let mut source = FollowSource::open(&opts.file, opts.format, config.queue_log_settings())?;
    let served = serve::start(opts.listen, shutdown, tasks).await?;
    println!(
        "acdstream tail: following {}; wallboard at http://{1}/, KPIs at http://{1}/metrics \
         (health: /healthz, /readyz)",
        opts.file.display(),
        served.addr
    );
    let settings = Arc::new(config.engine);
    let sinks = served.sinks(&settings, config.alerts, None, tasks)?;
    let pipeline = Pipeline::new(
        Engine::new(settings, TimeMode::Live),
        Clock::Wall,
        PipelineSettings {
            publish_interval: Some(config.publish.interval),
            shutdown_timeout: config.kafka.shutdown_timeout,
            ..PipelineSettings::default()
        },
        sinks,
    );
    let report = pipeline.run(&mut source, shutdown).await;
    Ok(report.ledger)
}
