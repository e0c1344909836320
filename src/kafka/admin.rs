//! Topic checks at start-up, and topic creation (`acdstream topics`, tests).

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::RDKafkaErrorCode;

use super::{client_config, ClientSettings, KafkaSinkError, Topics};

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
pub fn topic_specs(topics: &Topics, partitions: i32) -> Vec<TopicSpec> {
    let spec = |name: &str, partitions, compact| TopicSpec {
        name: name.to_string(),
        partitions,
        compact,
    };
    vec![
        spec(&topics.events, partitions, false),
        spec(&topics.dead_letters, 1, false),
        spec(&topics.kpi, partitions, true),
        spec(&topics.checkpoints, partitions, true),
        spec(&topics.alerts, 1, false),
    ]
}

fn admin(cfg: &ClientSettings) -> Result<AdminClient<DefaultClientContext>, KafkaSinkError> {
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
    cfg: &ClientSettings,
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
    cfg: &ClientSettings,
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
pub fn check_topics(
    cfg: &ClientSettings,
    topics: &Topics,
    timeout: Duration,
) -> Result<usize, KafkaSinkError> {
    let events = partition_count(cfg, &topics.events, timeout)?;
    for topic in [&topics.kpi, &topics.dead_letters, &topics.alerts] {
        partition_count(cfg, topic, timeout)?;
    }
    let checkpoints = partition_count(cfg, &topics.checkpoints, timeout)?;
    if checkpoints < events {
        return Err(KafkaSinkError::CheckpointPartitions {
            checkpoints: topics.checkpoints.clone(),
            events: topics.events.clone(),
            have: checkpoints,
            need: events,
        });
    }
    Ok(events)
}
