//! What the Kafka source and the Kafka sink share:
//!
//! - [`ClientSettings`] and [`Topics`]: the brokers, librdkafka's pass-through properties and
//!   the five topic names, as plain values (the configuration builds them; nothing here reads
//!   the configuration).
//! - [`checkpoints`]: the checkpoint topic's protocol (keys, round markers, where to resume),
//!   written by [`crate::sinks::kafka`] and read by [`crate::sources::kafka`].
//! - [`admin`]: topic checks at start-up, and topic creation (`acdstream topics`, tests).

pub mod admin;
pub(crate) mod checkpoints;

use std::collections::BTreeMap;

use rdkafka::ClientConfig;

/// The brokers and librdkafka properties every client of acdstream is created with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientSettings {
    /// `bootstrap.servers`.
    pub brokers: String,
    /// librdkafka properties passed through (SASL, TLS, tuning), keys as librdkafka spells them.
    pub properties: BTreeMap<String, String>,
}

/// The topics of `acdstream run`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topics {
    /// CTI events, keyed by queue id so that one partition owns each queue.
    pub events: String,
    /// Rejected events with their original payload and the reason in headers.
    pub dead_letters: String,
    /// KPI snapshots, keyed by queue id; compacted.
    pub kpi: String,
    /// Per-partition state checkpoints; compacted, as many partitions as `events`.
    pub checkpoints: String,
    /// Alert notifications: one record per firing and per resolved transition.
    pub alerts: String,
}

/// Errors at the Kafka boundary, phrased for the operator.
#[derive(Debug, thiserror::Error)]
pub enum KafkaSinkError {
    #[error(
        "cannot create the Kafka {role} client: {error}; check kafka.brokers and kafka.properties"
    )]
    Client {
        role: &'static str,
        error: rdkafka::error::KafkaError,
    },
    #[error("cannot reach the Kafka brokers at {brokers} within {seconds} s: {error}; is the broker up and kafka.brokers right?")]
    Unreachable {
        brokers: String,
        seconds: u64,
        error: rdkafka::error::KafkaError,
    },
    #[error("topic {topic} does not exist; create it first (see the README's Kafka section)")]
    MissingTopic { topic: String },
    #[error(
        "checkpoint topic {checkpoints} has {have} partitions but {events} has {need}; create it with \
         the same partition count (and cleanup.policy=compact)"
    )]
    CheckpointPartitions {
        checkpoints: String,
        events: String,
        have: usize,
        need: usize,
    },
    #[error("reading checkpoints of partition {partition} failed: {error}")]
    CheckpointRead {
        partition: i32,
        error: rdkafka::error::KafkaError,
    },
    #[error(
        "cannot start the Kafka poll thread: {0}; the process may be out of threads or memory"
    )]
    Thread(String),
    #[error("Kafka request failed: {0}")]
    Request(#[from] rdkafka::error::KafkaError),
}

/// Sets a property unless the operator already did in `kafka.properties`.
pub(crate) fn default_property(c: &mut ClientConfig, key: &str, value: &str) {
    if c.get(key).is_none() {
        c.set(key, value);
    }
}

/// Client settings shared by every client: the brokers, then the pass-through properties.
pub(crate) fn client_config(cfg: &ClientSettings) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &cfg.brokers);
    for (key, value) in &cfg.properties {
        c.set(key, value);
    }
    c
}
