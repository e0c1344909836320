//! Topic checks at start-up, and topic creation (`acdstream topics`, tests).

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::RDKafkaErrorCode;

use super::{client_config, KafkaSinkError};
use crate::config::KafkaConfig;

/// A topic acdstream uses, with how it should be created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicSpec {
    pub name: String,
    pub partitions: i32,
    /// `cleanup.policy=compact`: the newest record per key is what matters.
    pub compact: bool,
}

/// The five topics of `acdstream run`: events and dead letters, the compacted KPI topic, the
/// compacted checkpoint topic with as many partitions as the events, and the alerts topic
/// (a log of transitions, not compacted: every firing and resolve is a notification).
pub fn topic_specs(cfg: &KafkaConfig, partitions: i32) -> Vec<TopicSpec> {
    let spec = |name: &str, partitions, compact| TopicSpec {
        name: name.to_string(),
        partitions,
        compact,
    };
    vec![
        spec(&cfg.events_topic, partitions, false),
        spec(&cfg.dlq_topic, 1, false),
        spec(&cfg.kpi_topic, partitions, true),
        spec(&cfg.checkpoint_topic, partitions, true),
        spec(&cfg.alerts_topic, 1, false),
    ]
}

fn admin(cfg: &KafkaConfig) -> Result<AdminClient<DefaultClientContext>, KafkaSinkError> {
    client_config(cfg)
        .create()
        .map_err(|error| KafkaSinkError::Client {
            role: "admin",
            error,
        })
}

/// Creates the topics with `replication_factor` replicas of each partition (1 for a single
/// broker; 3 for a production cluster); one that already exists is left as it is. Returns what
/// happened to each.
pub async fn create_topics(
    cfg: &KafkaConfig,
    specs: &[TopicSpec],
    replication_factor: i32,
) -> Result<Vec<(String, String)>, KafkaSinkError> {
    let admin = admin(cfg)?;
    let compact = [("cleanup.policy", "compact")];
    let topics: Vec<NewTopic<'_>> = specs
        .iter()
        .map(|s| {
            let t = NewTopic::new(
                &s.name,
                s.partitions,
                TopicReplication::Fixed(replication_factor),
            );
            if s.compact {
                compact.iter().fold(t, |t, (k, v)| t.set(k, v))
            } else {
                t
            }
        })
        .collect();
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let results = admin.create_topics(topics.iter(), &opts).await?;
    Ok(results
        .into_iter()
        .map(|r| match r {
            Ok(name) => (name, "created".to_string()),
            Err((name, RDKafkaErrorCode::TopicAlreadyExists)) => {
                (name, "already exists".to_string())
            }
            Err((name, code)) => (name, format!("failed: {code}")),
        })
        .collect())
}

/// Partition count of a topic, or an error saying it is missing.
pub fn partition_count(
    cfg: &KafkaConfig,
    topic: &str,
    timeout: Duration,
) -> Result<usize, KafkaSinkError> {
    let admin = admin(cfg)?;
    let metadata = admin
        .inner()
        .fetch_metadata(Some(topic), timeout)
        .map_err(|error| KafkaSinkError::Unreachable {
            brokers: cfg.brokers.clone(),
            seconds: timeout.as_secs(),
            error,
        })?;
    match metadata.topics().iter().find(|t| t.name() == topic) {
        Some(t) if t.error().is_none() && !t.partitions().is_empty() => Ok(t.partitions().len()),
        _ => Err(KafkaSinkError::MissingTopic {
            topic: topic.to_string(),
        }),
    }
}

/// Start-up check: every topic exists, and the checkpoint topic can hold one checkpoint
/// partition per events partition. Returns the events topic's partition count.
pub fn check_topics(cfg: &KafkaConfig, timeout: Duration) -> Result<usize, KafkaSinkError> {
    let events = partition_count(cfg, &cfg.events_topic, timeout)?;
    for topic in [&cfg.kpi_topic, &cfg.dlq_topic, &cfg.alerts_topic] {
        partition_count(cfg, topic, timeout)?;
    }
    let checkpoints = partition_count(cfg, &cfg.checkpoint_topic, timeout)?;
    if checkpoints < events {
        return Err(KafkaSinkError::CheckpointPartitions {
            checkpoints: cfg.checkpoint_topic.clone(),
            events: cfg.events_topic.clone(),
            have: checkpoints,
            need: events,
        });
    }
    Ok(events)
}
