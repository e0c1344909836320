//! `acdstream run`: the service. The Kafka source feeds the pipeline, whose sinks are the KPI
//! and alerts topics, dead letters and checkpoints, Prometheus and Alertmanager.
//!
//! **At least once, counted once.** A message's offset is stored (and committed in the
//! background) only after it is handled; redeliveries are dropped by `event_id`. A restart or a
//! partition move resumes from the partition's checkpoint (see [`crate::kafka::checkpoints`]),
//! skipping, per queue, the events its restored state already holds.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::{Config, EventsFormat};
use crate::decode::Format;
use crate::kafka::{admin, KafkaSinkError};
use crate::ledger::LedgerCounts;
use crate::pipeline::{Clock, Pipeline, PipelineSettings};
use crate::serve::{self, ServeError};
use crate::sinks::kafka::KafkaSink;
use crate::sources::kafka::{KafkaSource, KafkaSourceSettings, REQUEST_TIMEOUT};
use crate::state::{Engine, TimeMode};

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Serve(#[from] ServeError),
    #[error(transparent)]
    Kafka(#[from] KafkaSinkError),
}

/// Checks the topics, then runs until `shutdown`; the HTTP and Alertmanager tasks are on
/// `tasks`, for the caller to join.
pub async fn run(
    config: Config,
    shutdown: &CancellationToken,
    tasks: &TaskTracker,
) -> Result<LedgerCounts, RunError> {
    let served = serve::start(config.http.listen, shutdown, tasks).await?;
    println!(
        "acdstream: wallboard at http://{0}/, metrics at http://{0}/metrics, health at /healthz \
         and /readyz",
        served.addr
    );
    let k = &config.kafka;
    let client = k.sink.client.clone();
    let partitions = {
        let (client, topics) = (client.clone(), k.sink.topics.clone());
        tokio::task::spawn_blocking(move || admin::check_topics(&client, &topics, REQUEST_TIMEOUT))
            .await
            .map_err(|e| KafkaSinkError::Thread(e.to_string()))??
    };
    tracing::info!(topic = %k.sink.topics.events, partitions, group = %k.group_id, "consuming");
    let (events_format, queue_log) = match k.events_format {
        EventsFormat::Contract(format) => (format, None),
        EventsFormat::AsteriskQueueLog => (Format::Json, Some(config.queue_log_settings())),
    };
    let settings = Arc::new(config.engine);
    let sinks = served.sinks(
        &settings,
        config.alerts.clone(),
        Some(KafkaSink::new(&k.sink)?),
        tasks,
    )?;
    let inspect_settings = settings.clone();
    // A scratch engine tells whether a checkpoint can be restored here (format, settings).
    let inspect = Box::new(move |bytes: &[u8]| {
        Engine::new(inspect_settings.clone(), TimeMode::Live)
            .restore_queue(bytes, 0)
            .map_err(|e| e.to_string())
    });
    let mut source = KafkaSource::start(
        &KafkaSourceSettings {
            client,
            events_topic: k.sink.topics.events.clone(),
            events_format,
            queue_log,
            group_id: k.group_id.clone(),
            checkpoint_topic: k.sink.topics.checkpoints.clone(),
        },
        inspect,
    )?;
    let pipeline = Pipeline::new(
        Engine::new(settings, config.clock),
        Clock::Wall,
        PipelineSettings {
            publish_interval: Some(config.publish.interval),
            checkpoint_interval: k.checkpoint_interval,
            shutdown_timeout: k.shutdown_timeout,
            ..PipelineSettings::default()
        },
        sinks,
    );
    let report = pipeline.run(&mut source, shutdown).await;
    let ledger = report.ledger;
    tracing::info!(
        consumed = ledger.consumed,
        applied = ledger.applied,
        rejected = ledger.rejected,
        "stopped"
    );
    Ok(ledger)
}
