//! What the live commands (`demo`, `run`) start around their pipeline, once: the Prometheus
//! recorder, the HTTP edge (`/metrics`, `/healthz`, `/readyz`, the wallboard) and the sinks
//! that go with them, all tied to one shutdown token and one task tracker that the caller joins.

use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::alerts::AlertSettings;
use crate::pipeline::{Alerting, Sinks};
use crate::sinks::alertmanager::AlertmanagerError;
use crate::sinks::http::{serve, HttpState, Limits};
use crate::sinks::kafka::KafkaSink;
use crate::sinks::prometheus::{install, Exposition, PrometheusSink};
use crate::sinks::wallboard::Board;
use crate::sinks::SinkError;
use crate::state::EngineSettings;

/// Why a live command could not start. Messages say what to change.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(
        "cannot listen on {addr}: {source}; pick another address with --listen or http.listen"
    )]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Sink(#[from] SinkError),
    #[error(transparent)]
    Alertmanager(#[from] AlertmanagerError),
}

/// The running HTTP edge and what the pipeline's sinks share with it.
pub(crate) struct Served {
    /// The address actually bound (the port, when 0 was asked for).
    pub addr: SocketAddr,
    metrics: Exposition,
    ready: Arc<AtomicBool>,
    board: Arc<Board>,
}

/// Installs the Prometheus recorder and serves HTTP on `listen` until `shutdown`; the server
/// task is tracked by `tasks`.
pub(crate) async fn start(
    listen: SocketAddr,
    shutdown: &CancellationToken,
    tasks: &TaskTracker,
) -> Result<Served, ServeError> {
    let metrics = install()?;
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|source| ServeError::Bind {
            addr: listen,
            source,
        })?;
    let addr = listener.local_addr().unwrap_or(listen);
    let ready = Arc::new(AtomicBool::new(false));
    let board = Arc::new(Board::default());
    let state = HttpState {
        metrics: metrics.clone(),
        ready: ready.clone(),
        board: board.clone(),
    };
    let server = serve(listener, state, Limits::default(), shutdown.clone());
    tasks.spawn(async move {
        if let Err(error) = server.await {
            tracing::error!(%error, "the HTTP server stopped");
        }
    });
    Ok(Served {
        addr,
        metrics,
        ready,
        board,
    })
}

impl Served {
    /// The sinks of a live pipeline: Prometheus (for the engine's sliding windows), alerting
    /// (its Alertmanager push task on `tasks`), the wallboard's registry and board (judged by
    /// the same alert rules) and, for `run`, Kafka.
    pub(crate) fn sinks(
        &self,
        engine: &EngineSettings,
        alerts: AlertSettings,
        kafka: Option<KafkaSink>,
        tasks: &TaskTracker,
    ) -> Result<Sinks, ServeError> {
        let sliding: Vec<(String, Duration)> = engine
            .sliding
            .iter()
            .map(|w| {
                let len = Duration::from_millis(w.len_ms.max(0) as u64);
                (w.name.clone(), len)
            })
            .collect();
        self.board.set_rules(alerts.clone());
        self.board.set_timezone(engine.timezone.clone());
        Ok(Sinks {
            prometheus: Some(PrometheusSink::new(self.metrics.clone(), &sliding)),
            alerts: Some(Alerting::start(alerts, tasks)?),
            kafka,
            ready: self.ready.clone(),
            registry: self.board.registry().clone(),
            board: Some(self.board.clone()),
        })
    }
}
