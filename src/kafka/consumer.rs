//! The event source: a consumer-group member whose partitions start where their checkpoints
//! say, plus what librdkafka tells us about broker health and lag.
//!
//! librdkafka calls the rebalance callback from inside `poll`, on the ingest thread. On an
//! assignment the callback reads the newest checkpoints of the assigned partitions, plans where
//! each resumes ([`super::checkpoints::plan`]) and assigns them at those offsets; the ingest
//! loop then restores the checkpoints into the engine before it applies any message (the plan is
//! queued in [`SourceSignals`] and taken right after `poll` returns). A partition without a
//! usable checkpoint starts at its first retained event.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::statistics::Statistics;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::types::{RDKafkaErrorCode, RDKafkaRespErr};
use rdkafka::ClientContext;

use super::checkpoints::{self, ResumePlan};
use super::{client_config, default_property, KafkaSinkError};
use crate::config::KafkaConfig;

/// Reads a queue checkpoint's queue id and position, refusing what the engine cannot restore.
pub type Inspect = dyn Fn(&[u8]) -> Result<(String, u64), String> + Send + Sync;

/// A partition this instance now owns, and how to rebuild it.
#[derive(Debug, Clone)]
pub struct Assigned {
    pub partition: i32,
    pub plan: ResumePlan,
    /// The partition's first retained offset when it was assigned.
    pub low_watermark: i64,
    /// The partition's end when it was assigned: it is rebuilt once consumed up to here.
    pub high_watermark: i64,
    pub assigned_at: Instant,
}

#[derive(Debug, Clone)]
pub enum RebalanceEvent {
    Assigned(Vec<Assigned>),
    Revoked(Vec<i32>),
}

/// What the consumer's callbacks report to the ingest loop and the metrics.
#[derive(Debug, Default)]
pub struct SourceSignals {
    events: Mutex<Vec<RebalanceEvent>>,
    broker_up: AtomicBool,
    lag: Mutex<BTreeMap<i32, i64>>,
    pub rebalances: AtomicU64,
}

impl SourceSignals {
    pub fn take_events(&self) -> Vec<RebalanceEvent> {
        std::mem::take(&mut *self.events.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// At least one broker connection is up (from librdkafka's statistics).
    pub fn broker_up(&self) -> bool {
        self.broker_up.load(Ordering::Relaxed)
    }

    /// Consumer lag per assigned partition, as of the last statistics.
    pub fn lag(&self) -> BTreeMap<i32, i64> {
        self.lag
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn push(&self, event: RebalanceEvent) {
        self.events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(event);
    }
}

pub struct SourceContext {
    cfg: KafkaConfig,
    inspect: Box<Inspect>,
    pub signals: Arc<SourceSignals>,
}

/// How long start-up and rebalance requests to the broker may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

impl ClientContext for SourceContext {
    fn stats(&self, stats: Statistics) {
        let up = stats.brokers.values().any(|b| b.state == "UP");
        self.signals.broker_up.store(up, Ordering::Relaxed);
        if let Some(topic) = stats.topics.get(&self.cfg.events_topic) {
            let lag: BTreeMap<i32, i64> = topic
                .partitions
                .values()
                .filter(|p| p.partition >= 0 && p.consumer_lag >= 0)
                .map(|p| (p.partition, p.consumer_lag))
                .collect();
            *self
                .signals
                .lag
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = lag;
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        if error.rdkafka_error_code() == Some(RDKafkaErrorCode::AllBrokersDown) {
            self.signals.broker_up.store(false, Ordering::Relaxed);
        }
        // Transport errors repeat while a broker is down; the ingest loop logs the state change.
        tracing::debug!(%error, reason, "librdkafka");
    }
}

impl ConsumerContext for SourceContext {
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        self.signals.rebalances.fetch_add(1, Ordering::Relaxed);
        match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                let assigned = self.plan_assignment(consumer, tpl);
                if let Err(error) = consumer.assign(tpl) {
                    tracing::error!(%error, "cannot take the assigned partitions");
                }
                tracing::info!(partitions = ?assigned.iter().map(|a| a.partition).collect::<Vec<_>>(), "partitions assigned");
                self.signals.push(RebalanceEvent::Assigned(assigned));
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                let revoked: Vec<i32> = tpl.elements().iter().map(|e| e.partition()).collect();
                tracing::info!(partitions = ?revoked, "partitions revoked");
                self.signals.push(RebalanceEvent::Revoked(revoked));
                if let Err(error) = consumer.unassign() {
                    tracing::warn!(%error, "cannot give up the revoked partitions");
                }
            }
            other => {
                tracing::error!(error = ?other, "rebalance failed; giving up every partition");
                let revoked: Vec<i32> = tpl.elements().iter().map(|e| e.partition()).collect();
                self.signals.push(RebalanceEvent::Revoked(revoked));
                let _ = consumer.unassign();
            }
        }
    }
}

impl SourceContext {
    /// Reads the assigned partitions' checkpoints and sets each partition's start offset.
    fn plan_assignment(
        &self,
        consumer: &BaseConsumer<Self>,
        tpl: &mut TopicPartitionList,
    ) -> Vec<Assigned> {
        let topic = self.cfg.events_topic.clone();
        let partitions: Vec<i32> = tpl
            .elements_for_topic(&topic)
            .iter()
            .map(|e| e.partition())
            .collect();
        let latest = match read_checkpoints(&self.cfg, &partitions) {
            Ok(latest) => latest,
            Err(error) => {
                tracing::error!(%error, "cannot read checkpoints; rebuilding the assigned partitions from their start");
                HashMap::new()
            }
        };
        let empty = HashMap::new();
        let mut assigned = Vec::with_capacity(partitions.len());
        for partition in partitions {
            let plan =
                checkpoints::plan(partition, latest.get(&partition).unwrap_or(&empty), |b| {
                    (self.inspect)(b)
                });
            let offset = plan.resume_at.map_or(Offset::Beginning, Offset::Offset);
            if let Err(error) = tpl.set_partition_offset(&topic, partition, offset) {
                tracing::error!(partition, %error, "cannot set the start offset");
            }
            let (low_watermark, high_watermark) = match consumer.fetch_watermarks(
                &topic,
                partition,
                REQUEST_TIMEOUT,
            ) {
                Ok(watermarks) => watermarks,
                Err(error) => {
                    tracing::warn!(partition, %error, "cannot read the partition's bounds; it is ready from its first message");
                    (0, 0)
                }
            };
            if let Some(reason) = &plan.rebuild_reason {
                tracing::info!(
                    partition,
                    reason,
                    "rebuilding the partition from its first event"
                );
            } else {
                tracing::info!(partition, resume_at = ?plan.resume_at, queues = plan.queues.len(), "restoring the partition from its checkpoint");
            }
            assigned.push(Assigned {
                partition,
                plan,
                low_watermark,
                high_watermark,
                assigned_at: Instant::now(),
            });
        }
        assigned
    }
}

/// Creates the group consumer, subscribed to the events topic.
pub fn consumer(
    cfg: &KafkaConfig,
    inspect: Box<Inspect>,
) -> Result<BaseConsumer<SourceContext>, KafkaSinkError> {
    let signals = Arc::new(SourceSignals::default());
    let mut c = client_config(cfg);
    c.set("group.id", &cfg.group_id)
        // Offsets are stored only once an event is applied, then committed in the background.
        .set("enable.auto.offset.store", "false")
        .set("enable.auto.commit", "true")
        .set("auto.offset.reset", "earliest");
    default_property(&mut c, "statistics.interval.ms", "1000");
    default_property(&mut c, "auto.commit.interval.ms", "1000");
    let context = SourceContext {
        cfg: cfg.clone(),
        inspect,
        signals,
    };
    let consumer: BaseConsumer<SourceContext> =
        c.create_with_context(context)
            .map_err(|error| KafkaSinkError::Client {
                role: "consumer",
                error,
            })?;
    consumer.subscribe(&[&cfg.events_topic])?;
    Ok(consumer)
}

/// The newest value of every key in the given checkpoint partitions (tombstones remove keys).
pub fn read_checkpoints(
    cfg: &KafkaConfig,
    partitions: &[i32],
) -> Result<HashMap<i32, HashMap<String, Vec<u8>>>, KafkaSinkError> {
    let mut out: HashMap<i32, HashMap<String, Vec<u8>>> =
        partitions.iter().map(|&p| (p, HashMap::new())).collect();
    if partitions.is_empty() {
        return Ok(out);
    }
    // librdkafka wants a group for assign(); this one never commits or subscribes.
    let reader: BaseConsumer = client_config(cfg)
        .set("group.id", format!("{}-checkpoint-reader", cfg.group_id))
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .create()
        .map_err(|error| KafkaSinkError::Client {
            role: "checkpoint reader",
            error,
        })?;
    let topic = &cfg.checkpoint_topic;
    let mut ends = HashMap::new();
    let mut tpl = TopicPartitionList::new();
    for &p in partitions {
        let (low, high) = reader
            .fetch_watermarks(topic, p, REQUEST_TIMEOUT)
            .map_err(|error| KafkaSinkError::CheckpointRead {
                partition: p,
                error,
            })?;
        if high > low {
            ends.insert(p, high);
            tpl.add_partition_offset(topic, p, Offset::Beginning)?;
        }
    }
    if ends.is_empty() {
        return Ok(out);
    }
    reader.assign(&tpl)?;
    let deadline = Instant::now() + REQUEST_TIMEOUT * 3;
    loop {
        if Instant::now() > deadline {
            let partition = *ends.keys().next().unwrap_or(&-1);
            return Err(KafkaSinkError::CheckpointRead {
                partition,
                error: KafkaError::NoMessageReceived,
            });
        }
        // Past every partition's end, keep reading until the fetch runs dry: some brokers
        // (tansu 0.6) report a partition's end as the start of its last batch.
        let wait = if ends.is_empty() {
            Duration::from_millis(300)
        } else {
            Duration::from_millis(200)
        };
        let Some(message) = reader.poll(wait) else {
            if ends.is_empty() {
                break;
            }
            continue;
        };
        let message = message.map_err(|error| KafkaSinkError::CheckpointRead {
            partition: -1,
            error,
        })?;
        let p = message.partition();
        if let (Some(key), Some(latest)) = (message.key(), out.get_mut(&p)) {
            let key = String::from_utf8_lossy(key).to_string();
            match message.payload() {
                Some(value) => latest.insert(key, value.to_vec()),
                None => latest.remove(&key),
            };
        }
        if ends.get(&p).is_some_and(|&end| message.offset() + 1 >= end) {
            ends.remove(&p);
        }
    }
    Ok(out)
}

/// The signals of a consumer created by [`consumer`].
pub fn signals(consumer: &BaseConsumer<SourceContext>) -> Arc<SourceSignals> {
    consumer.context().signals.clone()
}
