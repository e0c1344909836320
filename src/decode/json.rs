//! The JSON form of the contract: one object per line, the proto's field names, enums as
//! lowercase names.
//!
//! The rule for a bad field: a value of the wrong JSON kind (a float or string `ts`, a number
//! `type`, an object `event_id`) is `Malformed`, since the producer is not speaking the format;
//! a value of the right kind that the contract does not know (`"type": "offerred"`) gets the
//! contract's reason (`UnknownType`), exactly as the protobuf decoder would give it.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::error::Category;

use super::contract::{Parts, WireEnum, WireEvent};
use super::{alert_transition, quote, DecodeError};
use crate::alerts::{Alert, AlertName, AlertState, Severity, Transition};
use crate::event::{AgentState, CtiEvent, EventType, Millis};
use crate::kpi::KpiSnapshot;

pub(crate) fn decode_event(bytes: &[u8], max_id_bytes: usize) -> Result<CtiEvent, DecodeError> {
    let event: JsonEvent = from_line(bytes, "a CTI event object")?;
    let ts = match event.ts {
        None => 0,
        Some(JsonTs::Millis(ts)) => ts,
        Some(JsonTs::NotInteger(got)) => return Err(DecodeError::TimestampNotInteger(got)),
    };
    WireEvent {
        event_id: event.event_id.unwrap_or_default(),
        ts,
        event_type: event.event_type.map_or(WireEnum::Absent, |n| n.0),
        call_id: event.call_id.unwrap_or_default(),
        queue_id: event.queue_id.unwrap_or_default(),
        agent_id: event.agent_id.unwrap_or_default(),
        target_queue_id: event.target_queue_id.unwrap_or_default(),
        state: event.state.map_or(WireEnum::Absent, |n| n.0),
        reason: event.reason.unwrap_or_default(),
    }
    .into_event(max_id_bytes)
}

pub(crate) fn encode_event(event: &CtiEvent) -> Vec<u8> {
    let parts = Parts::of(event);
    let out = JsonEventOut {
        event_id: &event.event_id,
        ts: event.ts,
        event_type: parts.event_type.as_str(),
        queue_id: &event.queue_id,
        call_id: present(parts.call_id),
        agent_id: present(parts.agent_id),
        target_queue_id: present(parts.target_queue_id),
        state: parts.state.map(AgentState::as_str),
        reason: present(parts.reason),
    };
    // Strings and integers into a Vec: serde_json has no way to fail here.
    serde_json::to_vec(&out).expect("an event always serializes to JSON")
}

/// Unused fields are empty in [`Parts`]; the JSON form leaves them out.
fn present(s: &str) -> Option<&str> {
    Some(s).filter(|s| !s.is_empty())
}

pub(crate) fn encode_snapshot(snapshot: &KpiSnapshot) -> Vec<u8> {
    // Map keys are strings and there is no I/O: serde_json has no way to fail here.
    serde_json::to_vec(snapshot).expect("a snapshot always serializes to JSON")
}

pub(crate) fn decode_snapshot(bytes: &[u8]) -> Result<KpiSnapshot, DecodeError> {
    from_line(bytes, "a KPI snapshot")
}

pub(crate) fn encode_alert(t: &Transition) -> Vec<u8> {
    let a = &t.alert;
    let out = JsonAlert {
        alert: a.name.as_str().to_owned(),
        queue: a.queue.clone(),
        severity: a.severity,
        state: t.state,
        starts_at: a.starts_at,
        ends_at: t.ends_at(),
        value: a.value,
        threshold: a.threshold,
        summary: a.summary.clone(),
        description: a.description.clone(),
    };
    // Strings and numbers into a Vec: serde_json has no way to fail here.
    serde_json::to_vec(&out).expect("an alert always serializes to JSON")
}

pub(crate) fn decode_alert(bytes: &[u8]) -> Result<Transition, DecodeError> {
    let m: JsonAlert = from_line(bytes, "an alert notification")?;
    // A string rather than the enum, so that a name from a newer version gets the same
    // message as in protobuf instead of serde's list of variants.
    let name =
        AlertName::parse(&m.alert).ok_or_else(|| DecodeError::UnknownAlert(quote(&m.alert)))?;
    let alert = Alert {
        name,
        queue: m.queue,
        severity: m.severity,
        starts_at: m.starts_at,
        value: m.value,
        threshold: m.threshold,
        summary: m.summary,
        description: m.description,
    };
    alert_transition(alert, m.state, m.ends_at)
}

/// `acd.v1.AlertNotification` with the proto's field names.
#[derive(Serialize, Deserialize)]
struct JsonAlert {
    alert: String,
    queue: Option<String>,
    severity: Severity,
    state: AlertState,
    starts_at: Millis,
    ends_at: Option<Millis>,
    value: f64,
    threshold: f64,
    summary: String,
    description: String,
}

fn from_line<'a, T: Deserialize<'a>>(
    bytes: &'a [u8],
    what: &'static str,
) -> Result<T, DecodeError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(DecodeError::Empty);
    }
    // From bytes, serde_json checks the UTF-8 of each string it reads; a line checked whole
    // once (which std does a word at a time) reads without that. Invalid UTF-8 is left to
    // serde_json, whose message says where it is.
    let parsed = match std::str::from_utf8(bytes) {
        Ok(text) => serde_json::from_str(text),
        Err(_) => serde_json::from_slice(bytes),
    };
    parsed.map_err(|e| match e.classify() {
        Category::Data => DecodeError::JsonShape {
            what,
            detail: describe(&e),
        },
        Category::Syntax | Category::Eof | Category::Io => DecodeError::NotJson(describe(&e)),
    })
}

/// serde_json's message, without the "line 1" that is noise for a one-line payload.
fn describe(e: &serde_json::Error) -> String {
    let full = e.to_string();
    let position = format!(" at line {} column {}", e.line(), e.column());
    match full.strip_suffix(&position) {
        Some(message) if e.line() == 1 => format!("{message} at column {}", e.column()),
        _ => full,
    }
}

/// The accepted input. Every field is optional here: absence is the contract's business, so
/// that it is judged by the same rules as protobuf. Unknown fields are skipped.
#[derive(Deserialize)]
struct JsonEvent {
    event_id: Option<String>,
    ts: Option<JsonTs>,
    #[serde(rename = "type")]
    event_type: Option<Named<EventType>>,
    call_id: Option<String>,
    queue_id: Option<String>,
    agent_id: Option<String>,
    target_queue_id: Option<String>,
    state: Option<Named<AgentState>>,
    reason: Option<String>,
}

#[derive(Serialize)]
struct JsonEventOut<'a> {
    event_id: &'a str,
    ts: Millis,
    #[serde(rename = "type")]
    event_type: &'static str,
    queue_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    call_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    agent_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    target_queue_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    state: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
}

/// A `ts` of any JSON kind, so that a float or a string gets its own message instead of
/// serde's generic "invalid type".
enum JsonTs {
    Millis(Millis),
    /// What was there instead, for the error message.
    NotInteger(String),
}

impl<'de> Deserialize<'de> for JsonTs {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<JsonTs, D::Error> {
        deserializer.deserialize_any(JsonTsVisitor)
    }
}

struct JsonTsVisitor;

impl Visitor<'_> for JsonTsVisitor {
    type Value = JsonTs;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("`ts` as an integer of Unix milliseconds")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<JsonTs, E> {
        Ok(JsonTs::Millis(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<JsonTs, E> {
        Ok(Millis::try_from(v).map_or_else(
            |_| JsonTs::NotInteger(format!("{v}, which is out of range")),
            JsonTs::Millis,
        ))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<JsonTs, E> {
        // Debug keeps the fraction (`1700000000000.0`), which is the point of the message.
        Ok(JsonTs::NotInteger(format!("the number {v:?}")))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<JsonTs, E> {
        Ok(JsonTs::NotInteger(format!("the string {}", quote(v))))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<JsonTs, E> {
        Ok(JsonTs::NotInteger(format!("{v}")))
    }
}

/// An enum the contract spells as a lowercase name.
trait WireName: Sized {
    const EXPECTING: &'static str;
    fn parse(name: &str) -> Option<Self>;
}

impl WireName for EventType {
    const EXPECTING: &'static str = "`type` as a lowercase event type name such as \"offered\"";
    fn parse(name: &str) -> Option<EventType> {
        EventType::parse(name)
    }
}

impl WireName for AgentState {
    const EXPECTING: &'static str = "`state` as \"logged_out\", \"ready\" or \"not_ready\"";
    fn parse(name: &str) -> Option<AgentState> {
        AgentState::parse(name)
    }
}

/// Parsed while deserializing so that a known name costs no allocation.
struct Named<T>(WireEnum<T>);

impl<'de, T: WireName> Deserialize<'de> for Named<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Named<T>, D::Error> {
        deserializer.deserialize_str(NamedVisitor(PhantomData))
    }
}

struct NamedVisitor<T>(PhantomData<T>);

impl<T: WireName> Visitor<'_> for NamedVisitor<T> {
    type Value = Named<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(T::EXPECTING)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Named<T>, E> {
        Ok(Named(if v.is_empty() {
            WireEnum::Absent
        } else {
            T::parse(v).map_or_else(|| WireEnum::Unknown(quote(v)), WireEnum::Known)
        }))
    }
}

#[cfg(test)]
mod tests;
