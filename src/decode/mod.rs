//! The wire formats: bytes to [`CtiEvent`] and back, and [`KpiSnapshot`]s out (and back, for
//! consumers and tests).
//!
//! Two formats carry the same contract (`proto/acd/v1/events.proto`):
//!
//! - [`Format::Protobuf`]: one `acd.v1.CtiEvent` message per payload.
//! - [`Format::Json`]: one object per line with the proto's field names; `type` and `state` are
//!   lowercase strings (`wrap_end`, `agent_state`, `not_ready`), `ts` an integer of Unix ms,
//!   `reason` optional. Unknown fields are ignored so that producers can add their own.
//!
//! Both formats go through the same presence rules, so a bad event is rejected for the same
//! [`RejectReason`] whichever way it arrived. Empty strings count as absent in both, because
//! protobuf cannot tell them apart; `ts: 0` likewise is [`RejectReason::MissingTimestamp`].
//! An `agent_state` without `queue_id` is valid (its `queue_id` is empty): it is for every
//! queue the agent is logged in to; every call event needs one.
//!
//! A JSON `ts` that is a float (even `1.7e12`) or a string is rejected as
//! [`RejectReason::Malformed`] with a message saying so: it is a producer bug, not a missing
//! value, and rounding it silently would hide a unit mix-up.
//!
//! Alert notifications (`proto/acd/v1/alert.proto`) go out the same two ways: one
//! `acd.v1.AlertNotification` per transition, or its JSON form with the same field names
//! ([`encode_alert`], [`decode_alert`]).
//!
//! Encoders write no framing: no trailing newline for JSON, no length prefix for protobuf.
//!
//! [`asterisk`] is not a format of the contract but an ACD's own log, Asterisk's queue_log: a
//! line there can be several events or none, and means something only with the lines before
//! it, so it is translated by a stateful reader rather than decoded one payload at a time.

pub mod asterisk;
pub(crate) mod contract;
mod json;
mod pb;
mod protobuf;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::alerts::{Alert, AlertState, Transition};
use crate::event::{CtiEvent, EventType, Millis, TextProblem};
use crate::kpi::KpiSnapshot;
use crate::ledger::RejectReason;

/// A wire format of the event contract and KPI snapshots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Json,
    Protobuf,
}

impl Format {
    pub const ALL: [Format; 2] = [Format::Json, Format::Protobuf];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Protobuf => "protobuf",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A format name that is neither `json` nor `protobuf`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown format {0:?}: expected \"json\" or \"protobuf\"")]
pub struct ParseFormatError(String);

impl FromStr for Format {
    type Err = ParseFormatError;

    fn from_str(s: &str) -> Result<Format, ParseFormatError> {
        Format::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| ParseFormatError(s.to_owned()))
    }
}

/// Why a payload is not a valid event (or snapshot). The message is meant for an operator
/// reading a log line or a dead-letter header; [`DecodeError::reason`] is the bounded label.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("payload is empty")]
    Empty,
    #[error("line is not JSON: {0}")]
    NotJson(String),
    #[error("line is JSON but not {what}: {detail}")]
    JsonShape { what: &'static str, detail: String },
    #[error("`ts` must be an integer of Unix milliseconds, got {0}")]
    TimestampNotInteger(String),
    #[error("payload is not a protobuf {what}: {detail}")]
    NotProtobuf { what: &'static str, detail: String },
    #[error("KPI snapshot is incomplete: {0}")]
    IncompleteSnapshot(String),
    #[error("`alert` {0} is not an alert this version of acdstream knows")]
    UnknownAlert(String),
    #[error("alert notification is invalid: {0}")]
    InvalidAlert(String),
    #[error("`event_id` is required")]
    MissingEventId,
    #[error("`ts` (Unix milliseconds) is required")]
    MissingTimestamp,
    #[error("`ts` {0} is before 2000-01-01: is it in seconds instead of milliseconds?")]
    InvalidTimestamp(i64),
    #[error("`type` is required")]
    MissingType,
    #[error("`type` {0} is not a known event type")]
    UnknownType(String),
    #[error("`queue_id` is required for {0}")]
    MissingQueueId(EventType),
    #[error("`call_id` is required for {0}")]
    MissingCallId(EventType),
    #[error("`agent_id` is required for {0}")]
    MissingAgentId(EventType),
    #[error("`target_queue_id` is required for transferred")]
    MissingTargetQueue,
    #[error("`state` is required for agent_state")]
    MissingState,
    #[error("`state` {0} is not logged_out, ready or not_ready")]
    UnknownAgentState(String),
    #[error(
        "`{field}` is {bytes} bytes long, more than engine.max_id_bytes ({max}); shorten it \
         at the producer, or raise the limit if such ids are real"
    )]
    IdTooLong {
        field: &'static str,
        bytes: usize,
        max: usize,
    },
    #[error("`{0}` has a control character (a line end, a tab, ESC…); ids and reasons are text")]
    IdControlCharacter(&'static str),
}

impl DecodeError {
    /// The ledger reason this error is counted under.
    pub fn reason(&self) -> RejectReason {
        match self {
            DecodeError::Empty
            | DecodeError::NotJson(_)
            | DecodeError::JsonShape { .. }
            | DecodeError::TimestampNotInteger(_)
            | DecodeError::NotProtobuf { .. }
            | DecodeError::IncompleteSnapshot(_)
            | DecodeError::UnknownAlert(_)
            | DecodeError::InvalidAlert(_) => RejectReason::Malformed,
            DecodeError::MissingEventId => RejectReason::MissingEventId,
            DecodeError::MissingTimestamp => RejectReason::MissingTimestamp,
            DecodeError::InvalidTimestamp(_) => RejectReason::InvalidTimestamp,
            DecodeError::MissingType | DecodeError::UnknownType(_) => RejectReason::UnknownType,
            DecodeError::MissingQueueId(_) => RejectReason::MissingQueueId,
            DecodeError::MissingCallId(_) => RejectReason::MissingCallId,
            DecodeError::MissingAgentId(_) => RejectReason::MissingAgentId,
            DecodeError::MissingTargetQueue => RejectReason::MissingTargetQueue,
            DecodeError::MissingState => RejectReason::MissingState,
            DecodeError::UnknownAgentState(_) => RejectReason::UnknownAgentState,
            DecodeError::IdTooLong { .. } => RejectReason::IdTooLong,
            DecodeError::IdControlCharacter(_) => RejectReason::IdControlCharacter,
        }
    }
}

/// Decodes one event (one JSON line, or one protobuf message). Its ids and reason are at most
/// `max_id_bytes` bytes long and hold no control character (`engine.max_id_bytes`).
pub fn decode(format: Format, bytes: &[u8], max_id_bytes: usize) -> Result<CtiEvent, DecodeError> {
    match format {
        Format::Json => json::decode_event(bytes, max_id_bytes),
        Format::Protobuf => protobuf::decode_event(bytes, max_id_bytes),
    }
}

impl DecodeError {
    /// The error for a text field [`check_text`](crate::event::check_text) refused.
    pub(crate) fn text(field: &'static str, problem: TextProblem, max: usize) -> DecodeError {
        match problem {
            TextProblem::TooLong { bytes } => DecodeError::IdTooLong { field, bytes, max },
            TextProblem::ControlCharacter => DecodeError::IdControlCharacter(field),
        }
    }
}

/// Encodes one event; JSON leaves out the fields its type does not use.
pub fn encode(format: Format, event: &CtiEvent) -> Vec<u8> {
    match format {
        Format::Json => json::encode_event(event),
        Format::Protobuf => protobuf::encode_event(event),
    }
}

/// Encodes a KPI snapshot as published on the KPI topic (JSON: the replay `--json` shape).
pub fn encode_snapshot(format: Format, snapshot: &KpiSnapshot) -> Vec<u8> {
    match format {
        Format::Json => json::encode_snapshot(snapshot),
        Format::Protobuf => protobuf::encode_snapshot(snapshot),
    }
}

/// Decodes a KPI snapshot written by [`encode_snapshot`].
pub fn decode_snapshot(format: Format, bytes: &[u8]) -> Result<KpiSnapshot, DecodeError> {
    match format {
        Format::Json => json::decode_snapshot(bytes),
        Format::Protobuf => protobuf::decode_snapshot(bytes),
    }
}

/// Encodes an alert transition as published on the alerts topic.
pub fn encode_alert(format: Format, transition: &Transition) -> Vec<u8> {
    match format {
        Format::Json => json::encode_alert(transition),
        Format::Protobuf => protobuf::encode_alert(transition),
    }
}

/// Decodes an alert transition written by [`encode_alert`].
pub fn decode_alert(format: Format, bytes: &[u8]) -> Result<Transition, DecodeError> {
    match format {
        Format::Json => json::decode_alert(bytes),
        Format::Protobuf => protobuf::decode_alert(bytes),
    }
}

/// The rules both alert decoders share: `ends_at` is set exactly for a resolved alert (it is
/// the transition's time; a firing transition happens at `starts_at`), and queue alerts name
/// their queue while service alerts do not.
pub(crate) fn alert_transition(
    alert: Alert,
    state: AlertState,
    ends_at: Option<Millis>,
) -> Result<Transition, DecodeError> {
    let name = alert.name;
    match (name.is_queue_alert(), alert.queue.as_deref()) {
        (true, None | Some("")) => {
            return Err(DecodeError::InvalidAlert(format!(
                "{name} is a queue alert but `queue` is missing"
            )))
        }
        (false, Some(queue)) => {
            return Err(DecodeError::InvalidAlert(format!(
                "{name} is a service alert but has `queue` {}",
                quote(queue)
            )))
        }
        _ => {}
    }
    let at = match (state, ends_at) {
        (AlertState::Firing, None) => alert.starts_at,
        (AlertState::Resolved, Some(ends_at)) => ends_at,
        (AlertState::Firing, Some(_)) => {
            return Err(DecodeError::InvalidAlert(format!(
                "firing {name} has `ends_at`; only a resolved alert ends"
            )))
        }
        (AlertState::Resolved, None) => {
            return Err(DecodeError::InvalidAlert(format!(
                "resolved {name} has no `ends_at`"
            )))
        }
    };
    Ok(Transition { alert, state, at })
}

/// At most this many characters of a producer's value go into an error message: enough to
/// recognise it, bounded so a hostile payload cannot flood logs or dead-letter headers.
const QUOTE_MAX_CHARS: usize = 40;

/// A producer's string value, quoted and escaped for an error message.
pub(crate) fn quote(value: &str) -> String {
    match value.char_indices().nth(QUOTE_MAX_CHARS) {
        None => format!("{value:?}"),
        Some((cut, _)) => format!("{:?}…", &value[..cut]),
    }
}

#[cfg(test)]
pub(crate) mod testing;

#[cfg(test)]
mod tests;
