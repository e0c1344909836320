//! `[kafka]`: where `acdstream run` consumes events and publishes KPIs.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::duration::DurationText;
use super::Problems;
use crate::decode::Format;

/// `[kafka]`: where `acdstream run` consumes events and publishes KPIs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaConfig {
    /// `bootstrap.servers`.
    pub brokers: String,
    /// CTI events, keyed by queue id so that one partition owns each queue.
    pub events_topic: String,
    pub events_format: Format,
    pub group_id: String,
    /// KPI snapshots, keyed by queue id; meant to be compacted.
    pub kpi_topic: String,
    pub kpi_format: Format,
    /// Rejected events with their original payload and the reason in headers.
    pub dlq_topic: String,
    /// Per-partition state checkpoints; compacted, as many partitions as `events_topic`.
    pub checkpoint_topic: String,
    /// Alert notifications: one record per firing and per resolved transition.
    pub alerts_topic: String,
    pub alerts_format: Format,
    pub checkpoint_interval: Duration,
    /// How long a graceful shutdown may take before the process exits anyway.
    pub shutdown_timeout: Duration,
    /// librdkafka properties passed through (SASL, TLS, tuning), keys as librdkafka spells them.
    pub properties: BTreeMap<String, String>,
}

/// librdkafka properties that acdstream sets itself because its guarantees depend on them.
const OWNED_PROPERTIES: [(&str, &str); 5] = [
    ("bootstrap.servers", "kafka.brokers"),
    ("group.id", "kafka.group_id"),
    (
        "enable.auto.offset.store",
        "offsets are stored only after an event is applied",
    ),
    (
        "enable.auto.commit",
        "stored offsets are committed by acdstream",
    ),
    (
        "auto.offset.reset",
        "a partition without a checkpoint is rebuilt from its start",
    ),
];

/// `[kafka]` as written.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawKafka {
    brokers: String,
    events_topic: String,
    events_format: String,
    group_id: String,
    kpi_topic: String,
    kpi_format: String,
    dlq_topic: String,
    checkpoint_topic: String,
    alerts_topic: String,
    alerts_format: String,
    checkpoint_interval: DurationText,
    shutdown_timeout: DurationText,
    /// Scalars of any TOML type: an environment override of `6000` parses as an integer.
    properties: BTreeMap<String, toml::Value>,
}

impl Default for RawKafka {
    fn default() -> Self {
        let s = str::to_owned;
        RawKafka {
            brokers: s("127.0.0.1:9092"),
            events_topic: s("cti.events"),
            events_format: s("protobuf"),
            group_id: s("acdstream"),
            kpi_topic: s("acd.kpi"),
            kpi_format: s("protobuf"),
            dlq_topic: s("cti.events.dlq"),
            checkpoint_topic: s("acd.checkpoints"),
            alerts_topic: s("acd.alerts"),
            alerts_format: s("protobuf"),
            checkpoint_interval: DurationText(s("30s")),
            shutdown_timeout: DurationText(s("10s")),
            properties: BTreeMap::new(),
        }
    }
}

pub(super) fn validate(p: &mut Problems<'_>, k: &RawKafka) -> Option<KafkaConfig> {
    let mut ok = true;
    let mut name = |p: &mut Problems<'_>, path: &str, value: &str| -> String {
        let value = value.trim();
        if value.is_empty() {
            p.add(path, "must not be empty");
            ok = false;
        }
        value.to_owned()
    };
    let brokers = name(p, "kafka.brokers", &k.brokers);
    let group_id = name(p, "kafka.group_id", &k.group_id);
    let topics = [
        ("kafka.events_topic", &k.events_topic),
        ("kafka.kpi_topic", &k.kpi_topic),
        ("kafka.dlq_topic", &k.dlq_topic),
        ("kafka.checkpoint_topic", &k.checkpoint_topic),
        ("kafka.alerts_topic", &k.alerts_topic),
    ]
    .map(|(path, topic)| (path, name(p, path, topic)));
    for (i, (path, topic)) in topics.iter().enumerate() {
        let earlier = topics[..i]
            .iter()
            .find(|(_, t)| t == topic && !t.is_empty());
        if let Some((other, _)) = earlier {
            p.add(
                path,
                format!("\"{topic}\" is already {other}; each role needs its own topic"),
            );
            ok = false;
        }
    }
    let mut format = |path: &str, text: &str| match text.trim().parse::<Format>() {
        Ok(f) => Some(f),
        Err(_) => {
            p.add(
                path,
                format!("\"{text}\" is not a payload format; use \"protobuf\" or \"json\""),
            );
            None
        }
    };
    let events_format = format("kafka.events_format", &k.events_format);
    let kpi_format = format("kafka.kpi_format", &k.kpi_format);
    let alerts_format = format("kafka.alerts_format", &k.alerts_format);
    let checkpoint_interval = p.positive("kafka.checkpoint_interval", &k.checkpoint_interval);
    let shutdown_timeout = p.positive("kafka.shutdown_timeout", &k.shutdown_timeout);
    let mut properties = BTreeMap::new();
    for (key, value) in &k.properties {
        // Environment variables cannot hold dots, so `SASL_MECHANISM` means `sasl.mechanism`.
        let key = key.trim().replace('_', ".");
        let path = format!("kafka.properties.{key}");
        if let Some((_, instead)) = OWNED_PROPERTIES.iter().find(|(owned, _)| *owned == key) {
            p.add(&path, format!("is set by acdstream ({instead})"));
            ok = false;
            continue;
        }
        let value = match value {
            toml::Value::String(text) => text.clone(),
            toml::Value::Integer(_) | toml::Value::Float(_) | toml::Value::Boolean(_) => {
                value.to_string()
            }
            other => {
                let why = format!(
                    "must be a string, number or boolean, not {}",
                    other.type_str()
                );
                p.add(&path, why);
                ok = false;
                continue;
            }
        };
        properties.insert(key, value);
    }
    let [events_topic, kpi_topic, dlq_topic, checkpoint_topic, alerts_topic] =
        topics.map(|(_, topic)| topic);
    ok.then_some(())?;
    Some(KafkaConfig {
        brokers,
        events_topic,
        events_format: events_format?,
        group_id,
        kpi_topic,
        kpi_format: kpi_format?,
        dlq_topic,
        checkpoint_topic,
        alerts_topic,
        alerts_format: alerts_format?,
        checkpoint_interval: checkpoint_interval?,
        shutdown_timeout: shutdown_timeout?,
        properties,
    })
}
