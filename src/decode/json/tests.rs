use std::collections::BTreeSet;

use super::*;
use crate::decode::testing::{decoder_reasons, sample};
use crate::event::DEFAULT_MAX_ID_BYTES as MAX_ID;
use crate::ledger::RejectReason;

fn reject(line: &str) -> DecodeError {
    match decode_event(line.as_bytes(), MAX_ID) {
        Ok(event) => panic!("accepted {line}: {event:?}"),
        Err(e) => e,
    }
}

#[test]
fn every_rejection_reason_is_reachable() {
    let cases: &[(&str, RejectReason)] = &[
        ("", RejectReason::Malformed),
        ("   \r\n", RejectReason::Malformed),
        ("{\"event_id\":", RejectReason::Malformed),
        ("\u{0}\u{1}garbage", RejectReason::Malformed),
        ("[1,2,3]", RejectReason::Malformed),
        (
            r#"{"event_id":"e","ts":1.7e12,"type":"offered","queue_id":"q","call_id":"c"}"#,
            RejectReason::Malformed,
        ),
        (
            r#"{"event_id":"e","ts":"1700000000000","type":"offered","queue_id":"q","call_id":"c"}"#,
            RejectReason::Malformed,
        ),
        (
            r#"{"event_id":"e","ts":1700000000000,"type":1,"queue_id":"q","call_id":"c"}"#,
            RejectReason::Malformed,
        ),
        (
            r#"{"ts":1700000000000,"type":"offered","queue_id":"q","call_id":"c"}"#,
            RejectReason::MissingEventId,
        ),
        (
            r#"{"event_id":"","ts":1700000000000,"type":"offered","queue_id":"q","call_id":"c"}"#,
            RejectReason::MissingEventId,
        ),
        (
            r#"{"event_id":"e","type":"offered","queue_id":"q","call_id":"c"}"#,
            RejectReason::MissingTimestamp,
        ),
        (
            r#"{"event_id":"e","ts":0,"type":"offered","queue_id":"q","call_id":"c"}"#,
            RejectReason::MissingTimestamp,
        ),
        (
            r#"{"event_id":"e","ts":null,"type":"offered","queue_id":"q","call_id":"c"}"#,
            RejectReason::MissingTimestamp,
        ),
        (
            r#"{"event_id":"e","ts":1700000000,"type":"offered","queue_id":"q","call_id":"c"}"#,
            RejectReason::InvalidTimestamp,
        ),
        (
            r#"{"event_id":"e","ts":-5,"type":"offered","queue_id":"q","call_id":"c"}"#,
            RejectReason::InvalidTimestamp,
        ),
        (
            r#"{"event_id":"e","ts":1700000000000,"queue_id":"q","call_id":"c"}"#,
            RejectReason::UnknownType,
        ),
        (
            r#"{"event_id":"e","ts":1700000000000,"type":"OFFERED","queue_id":"q","call_id":"c"}"#,
            RejectReason::UnknownType,
        ),
        (
            r#"{"event_id":"e","ts":1700000000000,"type":"offered","call_id":"c"}"#,
            RejectReason::MissingQueueId,
        ),
        (
            r#"{"event_id":"e","ts":1700000000000,"type":"offered","queue_id":"q"}"#,
            RejectReason::MissingCallId,
        ),
        (
            r#"{"event_id":"e","ts":1700000000000,"type":"answered","queue_id":"q","call_id":"c"}"#,
            RejectReason::MissingAgentId,
        ),
        (
            r#"{"event_id":"e","ts":1700000000000,"type":"agent_state","queue_id":"q","state":"ready"}"#,
            RejectReason::MissingAgentId,
        ),
        (
            r#"{"event_id":"e","ts":1700000000000,"type":"transferred","queue_id":"q","call_id":"c"}"#,
            RejectReason::MissingTargetQueue,
        ),
        (
            r#"{"event_id":"e","ts":1700000000000,"type":"agent_state","queue_id":"q","agent_id":"a"}"#,
            RejectReason::MissingState,
        ),
        (
            r#"{"event_id":"e","ts":1700000000000,"type":"agent_state","queue_id":"q","agent_id":"a","state":"busy"}"#,
            RejectReason::UnknownAgentState,
        ),
        (
            r#"{"event_id":"e","ts":1700000000000,"type":"offered","queue_id":"qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq","call_id":"c"}"#,
            RejectReason::IdTooLong,
        ),
        (
            r#"{"event_id":"e","ts":1700000000000,"type":"offered","queue_id":"q\nFAKE log line","call_id":"c"}"#,
            RejectReason::IdControlCharacter,
        ),
    ];
    let mut reached = BTreeSet::new();
    for (line, reason) in cases {
        let err = reject(line);
        assert_eq!(err.reason(), *reason, "{line}: {err}");
        reached.insert(*reason);
    }
    assert_eq!(reached, decoder_reasons());
}

#[test]
fn messages_point_at_the_problem() {
    assert_eq!(reject("").to_string(), "payload is empty");
    assert_eq!(
        reject("hello").to_string(),
        "line is not JSON: expected value at column 1"
    );
    assert_eq!(
        reject(r#"{"event_id":"e","ts":1700000000000.0}"#).to_string(),
        "`ts` must be an integer of Unix milliseconds, got the number 1700000000000.0"
    );
    assert_eq!(
        reject(r#"{"event_id":"e","ts":"1700000000000"}"#).to_string(),
        "`ts` must be an integer of Unix milliseconds, got the string \"1700000000000\""
    );
    assert_eq!(
        reject(r#"{"event_id":"e","ts":18446744073709551615}"#).to_string(),
        "`ts` must be an integer of Unix milliseconds, got 18446744073709551615, which is out of range"
    );
    assert_eq!(
        reject(
            r#"{"event_id":"e","ts":1700000000000,"type":"answered","queue_id":"q","call_id":"c"}"#
        )
        .to_string(),
        "`agent_id` is required for answered"
    );
    assert_eq!(
        reject(r#"{"event_id":"e","ts":1700000000000,"type":"offerred","queue_id":"q"}"#)
            .to_string(),
        "`type` \"offerred\" is not a known event type"
    );
    assert_eq!(
        reject(r#"{"event_id":"e","ts":1700000000000,"type":3}"#).to_string(),
        "line is JSON but not a CTI event object: invalid type: integer `3`, expected `type` as a lowercase event type name such as \"offered\" at column 43"
    );
}

#[test]
fn unknown_fields_and_unused_fields_are_ignored() {
    let line = r#"{"event_id":"ev-offered","ts":1700000000123,"type":"offered","queue_id":"sales","call_id":"call-1","agent_id":"x","state":"weird","site":{"id":[1,2]},"v":2}"#;
    assert_eq!(
        decode_event(line.as_bytes(), MAX_ID),
        Ok(sample(EventType::Offered))
    );
}

#[test]
fn a_trailing_newline_is_part_of_the_line() {
    let mut line = encode_event(&sample(EventType::Hold));
    line.extend_from_slice(b"\r\n");
    assert_eq!(decode_event(&line, MAX_ID), Ok(sample(EventType::Hold)));
}

#[test]
fn two_objects_on_one_line_are_malformed() {
    let one = encode_event(&sample(EventType::Hold));
    let two = [one.clone(), one].concat();
    assert!(matches!(
        decode_event(&two, MAX_ID),
        Err(DecodeError::NotJson(_))
    ));
}

#[test]
fn encoding_leaves_out_what_the_type_does_not_use() {
    let offered = String::from_utf8(encode_event(&sample(EventType::Offered))).unwrap();
    assert_eq!(
        offered,
        r#"{"event_id":"ev-offered","ts":1700000000123,"type":"offered","queue_id":"sales","call_id":"call-1"}"#
    );
    let agent = String::from_utf8(encode_event(&sample(EventType::AgentState))).unwrap();
    assert_eq!(
        agent,
        r#"{"event_id":"ev-agent","ts":1700000000123,"type":"agent_state","queue_id":"sales","agent_id":"agent-7","state":"not_ready","reason":"lunch"}"#
    );
    let transferred = String::from_utf8(encode_event(&sample(EventType::Transferred))).unwrap();
    assert!(transferred.contains(r#""type":"transferred""#));
    assert!(transferred.contains(r#""target_queue_id":"billing""#));
    assert!(!transferred.contains("agent_id"));
}

#[test]
fn deep_nesting_neither_overflows_the_stack_nor_hides_the_event() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let line = format!(r#"{{"x":{deep},"event_id":"e"}}"#);
    assert_eq!(reject(&line).reason(), RejectReason::MissingTimestamp);
    let line = format!(r#"{{"event_id":{deep}}}"#);
    assert_eq!(reject(&line).reason(), RejectReason::Malformed);
}

#[test]
fn invalid_utf8_is_malformed() {
    let err = decode_event(b"{\"event_id\":\"\xff\"}", MAX_ID).unwrap_err();
    assert_eq!(err.reason(), RejectReason::Malformed);
}
