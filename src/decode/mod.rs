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

pub(crate) mod contract;
mod json;
mod pb;
mod protobuf;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::alerts::{Alert, AlertState, Transition};
use crate::event::{CtiEvent, EventType, Millis};
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
        }
    }
}

/// Decodes one event (one JSON line, or one protobuf message).
pub fn decode(format: Format, bytes: &[u8]) -> Result<CtiEvent, DecodeError> {
    match format {
        Format::Json => json::decode_event(bytes),
        Format::Protobuf => protobuf::decode_event(bytes),
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
pub(crate) mod testing {
    //! Events and snapshots shared by the format tests.

    use std::collections::BTreeSet;

    use proptest::prelude::*;

    use crate::alerts::{Alert, AlertName, AlertState, Severity, Transition};
    use crate::event::{AgentState, CallStep, CtiEvent, EventBody, EventType};
    use crate::kpi::{KpiSnapshot, NowKpis, SurgeSnapshot, WindowKpis, Windows};
    use crate::ledger::RejectReason;

    /// One valid event of the given type, with every field its type uses filled in.
    pub(crate) fn sample(event_type: EventType) -> CtiEvent {
        let agent_id = || "agent-7".to_owned();
        let step = match event_type {
            EventType::Offered => CallStep::Offered,
            EventType::Ringing => CallStep::Ringing {
                agent_id: agent_id(),
            },
            EventType::Answered => CallStep::Answered {
                agent_id: agent_id(),
            },
            EventType::Hold => CallStep::Hold {
                agent_id: agent_id(),
            },
            EventType::Unhold => CallStep::Unhold {
                agent_id: agent_id(),
            },
            EventType::Wrap => CallStep::Wrap {
                agent_id: agent_id(),
            },
            EventType::WrapEnd => CallStep::WrapEnd {
                agent_id: agent_id(),
            },
            EventType::Abandoned => CallStep::Abandoned,
            EventType::Transferred => CallStep::Transferred {
                target_queue_id: "billing".into(),
            },
            EventType::AgentState => {
                return CtiEvent {
                    event_id: "ev-agent".into(),
                    ts: 1_700_000_000_123,
                    queue_id: "sales".into(),
                    body: EventBody::AgentState {
                        agent_id: agent_id(),
                        state: AgentState::NotReady,
                        reason: Some("lunch".into()),
                    },
                }
            }
        };
        CtiEvent {
            event_id: format!("ev-{event_type}"),
            ts: 1_700_000_000_123,
            queue_id: "sales".into(),
            body: EventBody::Call {
                call_id: "call-1".into(),
                step,
            },
        }
    }

    /// A snapshot with a mix of present and absent values in every window.
    pub(crate) fn sample_snapshot() -> KpiSnapshot {
        KpiSnapshot {
            queue_id: "sales".into(),
            as_of: 1_700_000_000_000,
            sl_threshold_seconds: 20.0,
            sl_target: 0.8,
            now: NowKpis {
                calls_waiting: 3,
                oldest_wait_seconds: 41.5,
                agents_ready: 2,
                agents_not_ready: 1,
                agents_busy: 4,
                agents_acw: 1,
                agents_logged_in: 8,
            },
            staffing: None,
            surge: SurgeSnapshot {
                active: true,
                onset: Some(1_699_999_700_000),
                age_seconds: 300.0,
                rate_per_minute: 4.4,
                baseline_per_minute: Some(2.0),
                response_limit_seconds: 600.0,
                response_exceeded: false,
            },
            windows: Windows(vec![
                ("5m".into(), WindowKpis::default()),
                (
                    "15m".into(),
                    WindowKpis {
                        offered: 12,
                        answered: 9,
                        abandoned: 2,
                        short_abandoned: 1,
                        answered_within_threshold: 7,
                        reached_threshold: 3,
                        service_level: Some(0.7),
                        service_level_ignore_abandons: Some(0.7),
                        asa_seconds: Some(12.25),
                        wait_p90_seconds: Some(33.0),
                        abandon_rate: Some(2.0 / 11.0),
                        handled: 8,
                        avg_talk_seconds: Some(180.5),
                        transfer_rate: Some(0.0),
                        busy_agent_seconds: 1234.5,
                        ready_agent_seconds: 100.0,
                        occupancy: Some(0.925),
                        ..WindowKpis::default()
                    },
                ),
                ("today".into(), WindowKpis::default()),
            ]),
        }
    }

    /// A firing queue alert, the same alert resolved, and a firing service alert.
    pub(crate) fn sample_transitions() -> Vec<Transition> {
        let abandon = Alert {
            name: AlertName::AbandonRateHigh,
            queue: Some("sales".into()),
            severity: Severity::Ticket,
            starts_at: 1_700_000_000_000,
            value: 2.0 / 11.0,
            threshold: 0.05,
            summary: "sales: abandon rate 15m 18.2 % above 5 %".into(),
            description: "Anrufer legten auf — \"quoted\"\nnext line".into(),
        };
        let lag = Alert {
            name: AlertName::ConsumerLagHigh,
            queue: None,
            severity: Severity::Page,
            starts_at: 1_700_000_060_000,
            value: 25_000.0,
            threshold: 10_000.0,
            summary: "acdstream: consumer lag 25000 events above 10000".into(),
            description: String::new(),
        };
        vec![
            Transition {
                alert: abandon.clone(),
                state: AlertState::Firing,
                at: abandon.starts_at,
            },
            Transition {
                alert: abandon,
                state: AlertState::Resolved,
                at: 1_700_000_420_000,
            },
            Transition {
                alert: lag,
                state: AlertState::Firing,
                at: 1_700_000_060_000,
            },
        ]
    }

    /// The reasons a decoder can give; the rest are the engine's.
    pub(crate) fn decoder_reasons() -> BTreeSet<RejectReason> {
        use crate::ledger::RejectReason::*;
        [
            Malformed,
            UnknownType,
            UnknownAgentState,
            MissingEventId,
            MissingTimestamp,
            MissingQueueId,
            MissingCallId,
            MissingAgentId,
            MissingTargetQueue,
            MissingState,
            InvalidTimestamp,
        ]
        .into_iter()
        .collect()
    }

    /// A non-empty identifier, including characters JSON must escape.
    fn id() -> impl Strategy<Value = String> {
        "(?s).{1,12}"
    }

    fn agent_state() -> impl Strategy<Value = AgentState> {
        prop_oneof![
            Just(AgentState::LoggedOut),
            Just(AgentState::Ready),
            Just(AgentState::NotReady),
        ]
    }

    fn call_step() -> impl Strategy<Value = CallStep> {
        prop_oneof![
            Just(CallStep::Offered),
            id().prop_map(|agent_id| CallStep::Ringing { agent_id }),
            id().prop_map(|agent_id| CallStep::Answered { agent_id }),
            id().prop_map(|agent_id| CallStep::Hold { agent_id }),
            id().prop_map(|agent_id| CallStep::Unhold { agent_id }),
            id().prop_map(|agent_id| CallStep::Wrap { agent_id }),
            id().prop_map(|agent_id| CallStep::WrapEnd { agent_id }),
            Just(CallStep::Abandoned),
            id().prop_map(|target_queue_id| CallStep::Transferred { target_queue_id }),
        ]
    }

    /// Any event a decoder can produce. `reason` is never `Some("")`: on the wire an empty
    /// reason is no reason.
    pub(crate) fn valid_event() -> impl Strategy<Value = CtiEvent> {
        let body = prop_oneof![
            (id(), call_step()).prop_map(|(call_id, step)| EventBody::Call { call_id, step }),
            (id(), agent_state(), proptest::option::of(id())).prop_map(
                |(agent_id, state, reason)| EventBody::AgentState {
                    agent_id,
                    state,
                    reason,
                }
            ),
        ];
        (id(), super::contract::MIN_TS..=i64::MAX, id(), body).prop_map(
            |(event_id, ts, queue_id, body)| CtiEvent {
                event_id,
                ts,
                queue_id,
                body,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::testing::{sample, sample_snapshot, sample_transitions, valid_event};
    use super::*;
    use crate::alerts::AlertName;

    #[test]
    fn format_parses_from_cli_and_config_spelling() {
        assert_eq!("json".parse::<Format>(), Ok(Format::Json));
        assert_eq!("protobuf".parse::<Format>(), Ok(Format::Protobuf));
        let err = "proto".parse::<Format>().unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"unknown format "proto": expected "json" or "protobuf""#
        );
        let from_config: Vec<Format> = serde_json::from_str(r#"["json","protobuf"]"#).unwrap();
        assert_eq!(from_config, Format::ALL);
        for format in Format::ALL {
            assert_eq!(format.to_string().parse::<Format>(), Ok(format));
        }
    }

    #[test]
    fn every_event_type_round_trips_in_both_formats() {
        for format in Format::ALL {
            for event_type in EventType::ALL {
                let event = sample(event_type);
                let bytes = encode(format, &event);
                assert_eq!(decode(format, &bytes), Ok(event), "{format} {event_type}");
            }
        }
    }

    #[test]
    fn an_agent_state_without_reason_round_trips_in_both_formats() {
        let mut event = sample(EventType::AgentState);
        if let crate::event::EventBody::AgentState { reason, .. } = &mut event.body {
            *reason = None;
        }
        for format in Format::ALL {
            assert_eq!(decode(format, &encode(format, &event)), Ok(event.clone()));
        }
    }

    #[test]
    fn snapshots_round_trip_in_both_formats_keeping_absent_values() {
        let snapshot = sample_snapshot();
        for format in Format::ALL {
            let back = decode_snapshot(format, &encode_snapshot(format, &snapshot)).unwrap();
            assert_eq!(back, snapshot, "{format}");
            let names: Vec<_> = back.windows.0.iter().map(|(n, _)| n.as_str()).collect();
            assert_eq!(names, ["5m", "15m", "today"], "{format}");
            let fifteen = back.windows.get("15m").unwrap();
            assert_eq!(fifteen.service_level_positive, None, "{format}");
            assert_eq!(fifteen.transfer_rate, Some(0.0), "{format}");
            // Needs serde_json's `float_roundtrip`: the default parser can be one ulp off.
            assert_eq!(fifteen.abandon_rate, Some(2.0 / 11.0), "{format}");
        }
    }

    #[test]
    fn a_snapshot_without_windows_round_trips() {
        let mut snapshot = sample_snapshot();
        snapshot.windows.0.clear();
        for format in Format::ALL {
            let bytes = encode_snapshot(format, &snapshot);
            assert_eq!(decode_snapshot(format, &bytes), Ok(snapshot.clone()));
        }
    }

    #[test]
    fn empty_and_garbage_payloads_are_malformed_in_both_formats() {
        let garbage: [&[u8]; 4] = [
            b"",
            b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff",
            b"\x0a\xc8\x01abc",
            b"\x00\x01\x02\x03",
        ];
        for format in Format::ALL {
            for bytes in garbage {
                let err = decode(format, bytes).unwrap_err();
                assert_eq!(
                    err.reason(),
                    RejectReason::Malformed,
                    "{format} {bytes:?}: {err}"
                );
                let err = decode_snapshot(format, bytes).unwrap_err();
                assert_eq!(
                    err.reason(),
                    RejectReason::Malformed,
                    "{format} {bytes:?}: {err}"
                );
            }
        }
    }

    #[test]
    fn messages_tell_the_operator_what_is_wrong() {
        let cases = [
            (
                DecodeError::MissingAgentId(EventType::Answered),
                "`agent_id` is required for answered",
            ),
            (
                DecodeError::InvalidTimestamp(1_700_000_000),
                "`ts` 1700000000 is before 2000-01-01: is it in seconds instead of milliseconds?",
            ),
            (
                DecodeError::UnknownType(quote("offerred")),
                "`type` \"offerred\" is not a known event type",
            ),
            (
                DecodeError::MissingCallId(EventType::WrapEnd),
                "`call_id` is required for wrap_end",
            ),
        ];
        for (err, message) in cases {
            assert_eq!(err.to_string(), message);
        }
    }

    #[test]
    fn quoted_values_are_escaped_and_bounded() {
        assert_eq!(quote("a\"b\n"), r#""a\"b\n""#);
        let long = "é".repeat(1000);
        let quoted = quote(&long);
        assert_eq!(
            quoted.chars().filter(|&c| c == 'é').count(),
            QUOTE_MAX_CHARS
        );
        assert!(quoted.ends_with('…'));
    }

    #[test]
    fn snapshot_json_is_the_domain_serde_shape() {
        let snapshot = sample_snapshot();
        let bytes = encode_snapshot(Format::Json, &snapshot);
        assert_eq!(bytes, serde_json::to_vec(&snapshot).unwrap());
        assert!(String::from_utf8(bytes)
            .unwrap()
            .contains(r#""5m":{"offered":0"#));
    }

    #[test]
    fn alerts_round_trip_in_both_formats() {
        for format in Format::ALL {
            for t in sample_transitions() {
                let bytes = encode_alert(format, &t);
                assert_eq!(decode_alert(format, &bytes), Ok(t.clone()), "{format}");
            }
        }
    }

    #[test]
    fn alert_json_has_the_proto_field_names() {
        let [_, resolved, service] = <[Transition; 3]>::try_from(sample_transitions()).unwrap();
        let json = String::from_utf8(encode_alert(Format::Json, &resolved)).unwrap();
        assert_eq!(
            json,
            r#"{"alert":"AbandonRateHigh","queue":"sales","severity":"ticket","state":"resolved","starts_at":1700000000000,"ends_at":1700000420000,"value":0.18181818181818182,"threshold":0.05,"summary":"sales: abandon rate 15m 18.2 % above 5 %","description":"Anrufer legten auf — \"quoted\"\nnext line"}"#
        );
        let json = String::from_utf8(encode_alert(Format::Json, &service)).unwrap();
        assert!(
            json.starts_with(
                r#"{"alert":"ConsumerLagHigh","queue":null,"severity":"page","state":"firing","starts_at":1700000060000,"ends_at":null,"value":25000.0,"#
            ),
            "{json}"
        );
        // Absent optional fields may be left out; unknown fields are ignored.
        let minimal = br#"{"alert":"SourceStalled","severity":"page","state":"firing","starts_at":5,"value":400,"threshold":300,"summary":"s","description":"","extra":1}"#;
        let t = decode_alert(Format::Json, minimal).unwrap();
        assert_eq!(
            (t.alert.name, t.at, t.alert.value),
            (AlertName::SourceStalled, 5, 400.0)
        );
    }

    #[test]
    fn inconsistent_alerts_are_rejected_with_the_reason() {
        let [firing, resolved, service] =
            <[Transition; 3]>::try_from(sample_transitions()).unwrap();
        let json = |t: &Transition| String::from_utf8(encode_alert(Format::Json, t)).unwrap();
        let cases = [
            (
                json(&resolved).replace(r#""ends_at":1700000420000"#, r#""ends_at":null"#),
                "alert notification is invalid: resolved AbandonRateHigh has no `ends_at`",
            ),
            (
                json(&firing).replace(r#""ends_at":null"#, r#""ends_at":7"#),
                "alert notification is invalid: firing AbandonRateHigh has `ends_at`; only a \
                 resolved alert ends",
            ),
            (
                json(&firing).replace(r#""queue":"sales""#, r#""queue":null"#),
                "alert notification is invalid: AbandonRateHigh is a queue alert but `queue` is \
                 missing",
            ),
            (
                json(&service).replace(r#""queue":null"#, r#""queue":"sales""#),
                "alert notification is invalid: ConsumerLagHigh is a service alert but has \
                 `queue` \"sales\"",
            ),
            (
                json(&firing).replace("AbandonRateHigh", "QueueOnFire"),
                "`alert` \"QueueOnFire\" is not an alert this version of acdstream knows",
            ),
        ];
        for (payload, message) in cases {
            let err = decode_alert(Format::Json, payload.as_bytes()).unwrap_err();
            assert_eq!(err.to_string(), message);
            assert_eq!(err.reason(), RejectReason::Malformed);
        }
        let err = decode_alert(
            Format::Json,
            json(&firing).replace("ticket", "sms").as_bytes(),
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                DecodeError::JsonShape {
                    what: "an alert notification",
                    ..
                }
            ),
            "{err}"
        );
        for format in Format::ALL {
            assert_eq!(decode_alert(format, b""), Err(DecodeError::Empty));
        }
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            for format in Format::ALL {
                if let Ok(event) = decode(format, &bytes) {
                    // Whatever decodes is a valid event, so it must survive a round trip.
                    prop_assert_eq!(decode(format, &encode(format, &event)), Ok(event));
                }
                let _ = decode_snapshot(format, &bytes);
                let _ = decode_alert(format, &bytes);
            }
        }

        #[test]
        fn valid_events_round_trip(event in valid_event()) {
            for format in Format::ALL {
                let bytes = encode(format, &event);
                prop_assert_eq!(decode(format, &bytes), Ok(event.clone()));
            }
        }
    }
}
