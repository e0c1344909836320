//! The Kafka sink: KPI snapshots, alerts, dead letters and checkpoints, through one producer.
//!
//! Sends never block the ingest loop: records go to librdkafka's queue and a background thread
//! delivers them. Deliveries and failures are counted per role for the service's metrics.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::ClientContext;

use crate::alerts::Transition;
use crate::decode::{encode_alert, encode_snapshot, Format};
use crate::kafka::{client_config, default_property, ClientSettings, KafkaSinkError, Topics};
use crate::kpi::KpiSnapshot;
use crate::ledger::RejectReason;

/// What a record is for; an index into the per-role counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Kpi,
    DeadLetter,
    Checkpoint,
    Events,
    Alert,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Kpi,
        Role::DeadLetter,
        Role::Checkpoint,
        Role::Events,
        Role::Alert,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Role::Kpi => "kpi",
            Role::DeadLetter => "dead_letter",
            Role::Checkpoint => "checkpoint",
            Role::Events => "events",
            Role::Alert => "alert",
        }
    }
}

/// Delivered and failed records per role.
#[derive(Debug, Default)]
pub struct ProduceStats {
    delivered: [AtomicU64; 5],
    failed: [AtomicU64; 5],
}

impl ProduceStats {
    pub fn delivered(&self, role: Role) -> u64 {
        self.delivered[role as usize].load(Ordering::Relaxed)
    }

    pub fn failed(&self, role: Role) -> u64 {
        self.failed[role as usize].load(Ordering::Relaxed)
    }
}

pub struct DeliveryCounter {
    stats: Arc<ProduceStats>,
}

impl ClientContext for DeliveryCounter {}

impl ProducerContext for DeliveryCounter {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, role: usize) {
        let counters = match result {
            Ok(_) => &self.stats.delivered,
            Err(_) => &self.stats.failed,
        };
        if let Some(c) = counters.get(role) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// A rejected event on its way to the dead-letter topic.
#[derive(Debug, Clone, Copy)]
pub struct DeadLetter<'a> {
    pub key: Option<&'a [u8]>,
    pub payload: &'a [u8],
    pub reason: RejectReason,
    pub detail: &'a str,
    /// Where in the events topic it was read.
    pub partition: i32,
    pub offset: i64,
}

/// What the sink needs to know: where to connect, the topics and the payload formats.
#[derive(Debug, Clone, PartialEq)]
pub struct KafkaSinkSettings {
    pub client: ClientSettings,
    pub topics: Topics,
    pub kpi_format: Format,
    pub alerts_format: Format,
}

pub struct KafkaSink {
    producer: ThreadedProducer<DeliveryCounter>,
    events_topic: String,
    kpi_topic: String,
    kpi_format: Format,
    dlq_topic: String,
    checkpoint_topic: String,
    alerts_topic: String,
    alerts_format: Format,
    pub stats: Arc<ProduceStats>,
}

/// How long a send waits for room in librdkafka's queue before giving up on a record.
const QUEUE_FULL_PATIENCE: Duration = Duration::from_secs(5);

impl KafkaSink {
    pub fn new(settings: &KafkaSinkSettings) -> Result<KafkaSink, KafkaSinkError> {
        let stats = Arc::new(ProduceStats::default());
        let mut c = client_config(&settings.client);
        // Checkpoints and dead letters must not be lost to a leader change.
        c.set("acks", "all");
        default_property(&mut c, "linger.ms", "5");
        let producer = c
            .create_with_context(DeliveryCounter {
                stats: stats.clone(),
            })
            .map_err(|error| KafkaSinkError::Client {
                role: "producer",
                error,
            })?;
        let topics = &settings.topics;
        Ok(KafkaSink {
            producer,
            events_topic: topics.events.clone(),
            kpi_topic: topics.kpi.clone(),
            kpi_format: settings.kpi_format,
            dlq_topic: topics.dead_letters.clone(),
            checkpoint_topic: topics.checkpoints.clone(),
            alerts_topic: topics.alerts.clone(),
            alerts_format: settings.alerts_format,
            stats,
        })
    }

    /// Queues a record, waiting for room while librdkafka's queue is full. False (and counted
    /// as failed) if it could not be queued.
    fn send(&self, role: Role, mut record: BaseRecord<'_, [u8], [u8], usize>) -> bool {
        let deadline = std::time::Instant::now() + QUEUE_FULL_PATIENCE;
        loop {
            match self.producer.send(record) {
                Ok(()) => return true,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back))
                    if std::time::Instant::now() < deadline =>
                {
                    record = back;
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err((error, _)) => {
                    tracing::warn!(role = role.label(), %error, "cannot queue a Kafka record");
                    self.stats.failed[role as usize].fetch_add(1, Ordering::Relaxed);
                    return false;
                }
            }
        }
    }

    /// One KPI snapshot, keyed by queue id, in the configured format.
    pub fn kpi(&self, snapshot: &KpiSnapshot) -> bool {
        let payload = encode_snapshot(self.kpi_format, snapshot);
        let as_of = snapshot.as_of.to_string();
        let headers = OwnedHeaders::new()
            .insert(Header {
                key: "content-type",
                value: Some(content_type(self.kpi_format)),
            })
            .insert(Header {
                key: "acd-as-of",
                value: Some(as_of.as_str()),
            });
        let record = BaseRecord::with_opaque_to(&self.kpi_topic, Role::Kpi as usize)
            .key(snapshot.queue_id.as_bytes())
            .payload(&payload[..])
            .headers(headers);
        self.send(Role::Kpi, record)
    }

    /// One alert transition (firing or resolved), keyed by queue id (the alert name for
    /// service alerts) so that one queue's notifications stay in order.
    pub fn alert(&self, transition: &Transition) -> bool {
        let payload = encode_alert(self.alerts_format, transition);
        let a = &transition.alert;
        let key = a.queue.as_deref().unwrap_or(a.name.as_str());
        let headers = OwnedHeaders::new()
            .insert(Header {
                key: "content-type",
                value: Some(match self.alerts_format {
                    Format::Protobuf => "application/x-protobuf; proto=acd.v1.AlertNotification",
                    Format::Json => "application/json",
                }),
            })
            .insert(Header {
                key: "acd-alert",
                value: Some(a.name.as_str()),
            })
            .insert(Header {
                key: "acd-state",
                value: Some(transition.state.as_str()),
            });
        let record = BaseRecord::with_opaque_to(&self.alerts_topic, Role::Alert as usize)
            .key(key.as_bytes())
            .payload(&payload[..])
            .headers(headers);
        self.send(Role::Alert, record)
    }

    /// A rejected event with its original key and payload, the reason and where it came from.
    pub fn dead_letter(&self, d: &DeadLetter<'_>) -> bool {
        let partition = d.partition.to_string();
        let offset = d.offset.to_string();
        let headers = OwnedHeaders::new()
            .insert(Header {
                key: "acd-reason",
                value: Some(d.reason.label()),
            })
            .insert(Header {
                key: "acd-detail",
                value: Some(d.detail),
            })
            .insert(Header {
                key: "acd-source-topic",
                value: Some(self.events_topic.as_str()),
            })
            .insert(Header {
                key: "acd-source-partition",
                value: Some(partition.as_str()),
            })
            .insert(Header {
                key: "acd-source-offset",
                value: Some(offset.as_str()),
            });
        let mut record = BaseRecord::with_opaque_to(&self.dlq_topic, Role::DeadLetter as usize)
            .payload(d.payload)
            .headers(headers);
        if let Some(key) = d.key {
            record = record.key(key);
        }
        self.send(Role::DeadLetter, record)
    }

    /// One checkpoint record, into the checkpoint partition that mirrors the events partition.
    pub fn checkpoint(&self, partition: i32, key: &str, value: &[u8]) -> bool {
        let record = BaseRecord::with_opaque_to(&self.checkpoint_topic, Role::Checkpoint as usize)
            .partition(partition)
            .key(key.as_bytes())
            .payload(value);
        self.send(Role::Checkpoint, record)
    }

    /// An event, for `simulate --brokers`.
    pub fn event(&self, topic: &str, key: &[u8], payload: &[u8]) -> bool {
        let record = BaseRecord::with_opaque_to(topic, Role::Events as usize)
            .key(key)
            .payload(payload);
        self.send(Role::Events, record)
    }

    /// Waits until every queued record is delivered or failed.
    pub fn flush(&self, timeout: Duration) -> Result<(), KafkaSinkError> {
        self.producer
            .flush(timeout)
            .map_err(KafkaSinkError::Request)
    }

    /// Records still waiting for delivery.
    pub fn in_flight(&self) -> i32 {
        self.producer.in_flight_count()
    }
}

/// The content-type header of a payload format.
pub fn content_type(format: Format) -> &'static str {
    match format {
        Format::Protobuf => "application/x-protobuf; proto=acd.v1.KpiSnapshot",
        Format::Json => "application/json",
    }
}
