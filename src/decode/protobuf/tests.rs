use std::collections::BTreeSet;

use super::*;
use crate::decode::testing::{decoder_reasons, sample};
use crate::decode::DecodeError;
use crate::event::EventType;
use crate::event::DEFAULT_MAX_ID_BYTES as MAX_ID;
use crate::ledger::RejectReason;

/// A length-delimited field (wire type 2).
fn text(field: u8, value: &str) -> Vec<u8> {
    assert!(value.len() < 128, "one-byte length only");
    let mut out = vec![field << 3 | 2, value.len() as u8];
    out.extend_from_slice(value.as_bytes());
    out
}

/// A varint field (wire type 0).
fn varint(field: u8, mut value: u64) -> Vec<u8> {
    let mut out = vec![field << 3];
    loop {
        let low = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(low);
            return out;
        }
        out.push(low | 0x80);
    }
}

// Field numbers of acd.v1.CtiEvent, spelled out as a producer's hand-rolled encoder would.
const EVENT_ID: u8 = 1;
const TS: u8 = 2;
const TYPE: u8 = 3;
const CALL_ID: u8 = 4;
const QUEUE_ID: u8 = 5;
const AGENT_ID: u8 = 6;
const TARGET_QUEUE_ID: u8 = 7;
const STATE: u8 = 8;
const REASON: u8 = 9;

const OFFERED: u64 = 1;
const ANSWERED: u64 = 3;
const TRANSFERRED: u64 = 9;
const AGENT_STATE: u64 = 10;
const READY: u64 = 2;

fn message(fields: &[Vec<u8>]) -> Vec<u8> {
    fields.concat()
}

fn offered_without(skip: u8) -> Vec<u8> {
    let fields = [
        (EVENT_ID, text(EVENT_ID, "e")),
        (TS, varint(TS, 1_700_000_000_000)),
        (TYPE, varint(TYPE, OFFERED)),
        (QUEUE_ID, text(QUEUE_ID, "q")),
        (CALL_ID, text(CALL_ID, "c")),
    ];
    fields
        .into_iter()
        .filter(|(n, _)| *n != skip)
        .flat_map(|(_, f)| f)
        .collect()
}

#[test]
fn hand_written_bytes_decode_like_the_generated_encoder_writes_them() {
    let bytes = message(&[
        text(EVENT_ID, "ev-agent"),
        varint(TS, 1_700_000_000_123),
        varint(TYPE, AGENT_STATE),
        text(QUEUE_ID, "sales"),
        text(AGENT_ID, "agent-7"),
        varint(STATE, 3),
        text(REASON, "lunch"),
    ]);
    assert_eq!(
        decode_event(&bytes, MAX_ID),
        Ok(sample(EventType::AgentState))
    );
    assert_eq!(encode_event(&sample(EventType::AgentState)), bytes);
}

#[test]
fn every_rejection_reason_is_reachable() {
    let negative_ts = varint(TS, -5_i64 as u64);
    let cases: Vec<(Vec<u8>, RejectReason)> = vec![
        (vec![], RejectReason::Malformed),
        (vec![0xff; 12], RejectReason::Malformed),
        // event_id claims 10 bytes, 2 follow.
        (
            vec![EVENT_ID << 3 | 2, 10, b'a', b'b'],
            RejectReason::Malformed,
        ),
        // A string field that is not UTF-8.
        (vec![EVENT_ID << 3 | 2, 1, 0xff], RejectReason::Malformed),
        (offered_without(EVENT_ID), RejectReason::MissingEventId),
        (offered_without(TS), RejectReason::MissingTimestamp),
        (
            message(&[offered_without(TS), varint(TS, 1_700_000_000)]),
            RejectReason::InvalidTimestamp,
        ),
        (
            message(&[offered_without(TS), negative_ts]),
            RejectReason::InvalidTimestamp,
        ),
        (offered_without(TYPE), RejectReason::UnknownType),
        (
            message(&[offered_without(TYPE), varint(TYPE, 42)]),
            RejectReason::UnknownType,
        ),
        (offered_without(QUEUE_ID), RejectReason::MissingQueueId),
        (offered_without(CALL_ID), RejectReason::MissingCallId),
        (
            message(&[offered_without(TYPE), varint(TYPE, ANSWERED)]),
            RejectReason::MissingAgentId,
        ),
        (
            message(&[offered_without(TYPE), varint(TYPE, TRANSFERRED)]),
            RejectReason::MissingTargetQueue,
        ),
        (
            message(&[
                offered_without(TYPE),
                varint(TYPE, AGENT_STATE),
                text(AGENT_ID, "a"),
            ]),
            RejectReason::MissingState,
        ),
        (
            message(&[
                offered_without(TYPE),
                varint(TYPE, AGENT_STATE),
                text(AGENT_ID, "a"),
                varint(STATE, 7),
            ]),
            RejectReason::UnknownAgentState,
        ),
        (
            // 129 bytes: a two-byte length.
            message(&[
                offered_without(QUEUE_ID),
                [&[QUEUE_ID << 3 | 2, 0x81, 0x01][..], &[b'q'; 129]].concat(),
            ]),
            RejectReason::IdTooLong,
        ),
        (
            message(&[offered_without(QUEUE_ID), text(QUEUE_ID, "q\u{1b}[31m")]),
            RejectReason::IdControlCharacter,
        ),
    ];
    let mut reached = BTreeSet::new();
    for (bytes, reason) in cases {
        let err = decode_event(&bytes, MAX_ID).expect_err("rejected");
        assert_eq!(err.reason(), reason, "{bytes:?}: {err}");
        reached.insert(reason);
    }
    assert_eq!(reached, decoder_reasons());

    // The variants that complete the cases above decode.
    let ready = message(&[
        offered_without(TYPE),
        varint(TYPE, AGENT_STATE),
        text(AGENT_ID, "a"),
        varint(STATE, READY),
    ]);
    assert!(decode_event(&ready, MAX_ID).is_ok());
    let transferred = message(&[
        offered_without(TYPE),
        varint(TYPE, TRANSFERRED),
        text(TARGET_QUEUE_ID, "t"),
    ]);
    assert!(decode_event(&transferred, MAX_ID).is_ok());
}

#[test]
fn unknown_values_are_named_in_the_message() {
    let bytes = message(&[offered_without(TYPE), varint(TYPE, 42)]);
    assert_eq!(
        decode_event(&bytes, MAX_ID).unwrap_err().to_string(),
        "`type` 42 is not a known event type"
    );
    let bytes = message(&[offered_without(TYPE), varint(TYPE, ANSWERED)]);
    assert_eq!(
        decode_event(&bytes, MAX_ID).unwrap_err(),
        DecodeError::MissingAgentId(EventType::Answered)
    );
}

/// A double field (wire type 1).
fn double(field: u8, value: f64) -> Vec<u8> {
    let mut out = vec![field << 3 | 1];
    out.extend_from_slice(&value.to_le_bytes());
    out
}

#[test]
fn hand_written_alert_bytes_decode_like_the_generated_encoder_writes_them() {
    use crate::alerts::{AlertName, AlertState, Severity};
    // acd.v1.AlertNotification: alert 1, queue 2, severity 3 (TICKET = 2), state 4
    // (RESOLVED = 2), starts_at 5, ends_at 6, value 7, threshold 8, summary 9.
    let bytes = message(&[
        text(1, "AsaHigh"),
        text(2, "sales"),
        varint(3, 2),
        varint(4, 2),
        varint(5, 1_700_000_000_000),
        varint(6, 1_700_000_420_000),
        double(7, 34.25),
        double(8, 20.0),
        text(9, "sales: ASA 15m 34.3 s above 20 s"),
    ]);
    let t = decode_alert(&bytes).unwrap();
    assert_eq!(
        (t.alert.name, t.alert.queue.as_deref(), t.alert.severity),
        (AlertName::AsaHigh, Some("sales"), Severity::Ticket)
    );
    assert_eq!((t.state, t.at), (AlertState::Resolved, 1_700_000_420_000));
    assert_eq!((t.alert.value, t.alert.threshold), (34.25, 20.0));
    assert_eq!(t.alert.description, "");
    assert_eq!(encode_alert(&t), bytes);

    let unspecified = message(&[text(1, "AsaHigh"), text(2, "sales"), varint(4, 1)]);
    assert_eq!(
        decode_alert(&unspecified).unwrap_err().to_string(),
        "alert notification is invalid: `severity` 0 is not PAGE or TICKET"
    );
}

#[test]
fn unknown_fields_are_skipped() {
    let bytes = message(&[
        text(EVENT_ID, "ev-offered"),
        varint(TS, 1_700_000_000_123),
        text(100, "from a newer producer"),
        varint(TYPE, OFFERED),
        text(QUEUE_ID, "sales"),
        text(CALL_ID, "call-1"),
        text(AGENT_ID, "ignored for offered"),
    ]);
    assert_eq!(decode_event(&bytes, MAX_ID), Ok(sample(EventType::Offered)));
}

#[test]
fn truncation_never_panics_and_a_cut_inside_a_field_is_malformed() {
    for event_type in EventType::ALL {
        let bytes = encode_event(&sample(event_type));
        for len in 0..bytes.len() {
            // Cut at a field boundary, a prefix can be a valid but different event.
            assert_ne!(decode_event(&bytes[..len], MAX_ID), Ok(sample(event_type)));
        }
        // The first field is event_id, so two bytes in is inside its value.
        let err = decode_event(&bytes[..3], MAX_ID).unwrap_err();
        assert_eq!(err.reason(), RejectReason::Malformed, "{err}");
        assert!(
            err.to_string()
                .starts_with("payload is not a protobuf acd.v1.CtiEvent: "),
            "{err}"
        );
    }
}
