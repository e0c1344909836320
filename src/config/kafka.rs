//! `[kafka]`: where `acdstream run` consumes events and publishes KPIs.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::duration::DurationText;
use super::Problems;
use crate::decode::Format;
use crate::kafka::{ClientSettings, Topics};
use crate::sinks::kafka::KafkaSinkSettings;

/// `[kafka]`: the Kafka sink's settings (the brokers, properties and topics are the source's
/// too), and what the source and the pipeline take besides.
#[derive(Debug, Clone, PartialEq)]
pub struct KafkaConfig {
    pub sink: KafkaSinkSettings,
    pub events_format: EventsFormat,
    pub group_id: String,
    pub checkpoint_interval: Duration,
    /// How long a graceful shutdown may take before the process exits anyway.
    pub shutdown_timeout: Duration,
}

/// What the events topic's records hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventsFormat {
    /// Events of acdstream's contract, in this payload format.
    Contract(Format),
    /// Asterisk queue_log lines, one per record, as a log shipper sends the file.
    AsteriskQueueLog,
}

/// Why acdstream sets a librdkafka property itself: its guarantees depend on it.
fn owned(property: &str) -> Option<&'static str> {
    Some(match property {
        "bootstrap.servers" => "kafka.brokers",
        "group.id" => "kafka.group_id",
        "enable.auto.offset.store" => "offsets are stored only after an event is applied",
        "enable.auto.commit" => "stored offsets are committed by acdstream",
        "auto.offset.reset" => "a partition without a checkpoint is rebuilt from its start",
        _ => return None,
    })
}

raw! { RawKafka {
    brokers: String = "127.0.0.1:9092",
    events_topic: String = "cti.events",
    events_format: String = "protobuf",
    group_id: String = "acdstream",
    kpi_topic: String = "acd.kpi",
    kpi_format: String = "protobuf",
    dlq_topic: String = "cti.events.dlq",
    checkpoint_topic: String = "acd.checkpoints",
    alerts_topic: String = "acd.alerts",
    alerts_format: String = "protobuf",
    checkpoint_interval: DurationText = "30s",
    shutdown_timeout: DurationText = "10s",
    /// Scalars of any TOML type: an environment override of `6000` parses as an integer.
    properties: BTreeMap<String, toml::Value> = BTreeMap::new(),
} }

pub(super) fn validate(p: &mut Problems<'_>, k: &RawKafka) -> Option<KafkaConfig> {
    let name = |p: &mut Problems<'_>, path: &str, v: &str| {
        let v = v.trim();
        p.check(path, v.to_owned(), !v.is_empty(), "must not be empty")
    };
    let brokers = name(p, "kafka.brokers", &k.brokers);
    let group_id = name(p, "kafka.group_id", &k.group_id);
    let mut topics = [
        ("kafka.events_topic", &k.events_topic),
        ("kafka.kpi_topic", &k.kpi_topic),
        ("kafka.dlq_topic", &k.dlq_topic),
        ("kafka.checkpoint_topic", &k.checkpoint_topic),
        ("kafka.alerts_topic", &k.alerts_topic),
    ]
    .map(|(path, topic)| (path, name(p, path, topic)));
    for i in 0..topics.len() {
        let (path, topic) = &topics[i];
        let earlier = topics[..i].iter().find(|(_, t)| t.is_some() && t == topic);
        if let Some((other, Some(topic))) = earlier {
            let why = format!("\"{topic}\" is already {other}; each role needs its own topic");
            p.add(path, why);
            topics[i].1 = None;
        }
    }
    let events_format = match k.events_format.trim() {
        "asterisk_queue_log" => Some(EventsFormat::AsteriskQueueLog),
        text => p.ok(
            "kafka.events_format",
            text.parse::<Format>().map(EventsFormat::Contract).map_err(|_| {
                format!(
                    "\"{text}\" is not an events format; use \"protobuf\", \"json\" or \"asterisk_queue_log\""
                )
            }),
        ),
    };
    let mut format = |path: &str, text: &str| {
        let why = format!("\"{text}\" is not a payload format; use \"protobuf\" or \"json\"");
        p.ok(path, text.trim().parse::<Format>().map_err(|_| why))
    };
    let kpi_format = format("kafka.kpi_format", &k.kpi_format);
    let alerts_format = format("kafka.alerts_format", &k.alerts_format);
    let checkpoint_interval = p.positive("kafka.checkpoint_interval", &k.checkpoint_interval);
    let shutdown_timeout = p.positive("kafka.shutdown_timeout", &k.shutdown_timeout);
    let mut properties = BTreeMap::new();
    for (key, value) in &k.properties {
        // Environment variables cannot hold dots, so `SASL_MECHANISM` means `sasl.mechanism`.
        let key = key.trim().replace('_', ".");
        let value = match (owned(&key), value) {
            (Some(instead), _) => Err(format!("is set by acdstream ({instead})")),
            (_, toml::Value::String(text)) => Ok(text.clone()),
            (_, v) if v.is_integer() || v.is_float() || v.is_bool() => Ok(v.to_string()),
            (_, v) => Err(format!(
                "must be a string, number or boolean, not {}",
                v.type_str()
            )),
        };
        let value = p.ok(&format!("kafka.properties.{key}"), value);
        properties.extend(value.map(|value| (key, value)));
    }
    let [events, kpi, dead_letters, checkpoints, alerts] = topics.map(|(_, topic)| topic);
    let client = ClientSettings {
        brokers: brokers?,
        properties,
    };
    let topics = Topics {
        events: events?,
        dead_letters: dead_letters?,
        kpi: kpi?,
        checkpoints: checkpoints?,
        alerts: alerts?,
    };
    Some(KafkaConfig {
        sink: KafkaSinkSettings {
            client,
            topics,
            kpi_format: kpi_format?,
            alerts_format: alerts_format?,
        },
        events_format: events_format?,
        group_id: group_id?,
        checkpoint_interval: checkpoint_interval?,
        shutdown_timeout: shutdown_timeout?,
    })
}
