//! The Kafka edge of `acdstream run`, one file per role:
//!
//! - [`consumer`]: the event source: a group consumer whose rebalance callback restores the
//!   assigned partitions from their checkpoints and starts them at the right offset; it also
//!   watches broker health and consumer lag.
//! - [`producer`]: the sinks: KPI snapshots, dead letters and checkpoints.
//! - [`checkpoints`]: the checkpoint topic's protocol (keys, round markers, where to resume).
//! - [`admin`]: topic checks at start-up, and topic creation for tests and demos.

pub mod admin;
pub mod checkpoints;
pub mod consumer;
pub mod producer;

use rdkafka::ClientConfig;

use crate::config::KafkaConfig;

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
pub fn client_config(cfg: &KafkaConfig) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &cfg.brokers);
    for (key, value) in &cfg.properties {
        c.set(key, value);
    }
    c
}
