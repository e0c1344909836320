use proptest::prelude::*;

use super::testing::{sample, sample_snapshot, sample_transitions, valid_event};
use super::*;
use crate::alerts::AlertName;
use crate::event::DEFAULT_MAX_ID_BYTES as MAX_ID;

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
            assert_eq!(
                decode(format, &bytes, MAX_ID),
                Ok(event),
                "{format} {event_type}"
            );
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
        assert_eq!(
            decode(format, &encode(format, &event), MAX_ID),
            Ok(event.clone())
        );
    }
}

#[test]
fn an_agent_state_without_a_queue_is_for_every_queue_but_a_call_event_needs_one() {
    let mut event = sample(EventType::AgentState);
    event.queue_id = String::new();
    for format in Format::ALL {
        assert_eq!(
            decode(format, &encode(format, &event), MAX_ID),
            Ok(event.clone()),
            "{format}"
        );
    }
    let json = r#"{"event_id":"p1","ts":1700000000000,"type":"agent_state","agent_id":"a7","state":"not_ready","reason":"pause all"}"#;
    let decoded = decode(Format::Json, json.as_bytes(), MAX_ID).unwrap();
    assert_eq!(decoded.queue_id, "");
    for event_type in EventType::ALL {
        if event_type == EventType::AgentState {
            continue;
        }
        let mut event = sample(event_type);
        event.queue_id = String::new();
        for format in Format::ALL {
            let err = decode(format, &encode(format, &event), MAX_ID).unwrap_err();
            assert_eq!(
                err.reason(),
                RejectReason::MissingQueueId,
                "{format} {event_type}"
            );
        }
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
            let err = decode(format, bytes, MAX_ID).unwrap_err();
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
    let [firing, resolved, service] = <[Transition; 3]>::try_from(sample_transitions()).unwrap();
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
            if let Ok(event) = decode(format, &bytes, MAX_ID) {
                // Whatever decodes is a valid event, so it must survive a round trip.
                prop_assert_eq!(decode(format, &encode(format, &event), MAX_ID), Ok(event));
            }
            let _ = decode_snapshot(format, &bytes);
            let _ = decode_alert(format, &bytes);
        }
    }

    #[test]
    fn valid_events_round_trip(event in valid_event()) {
        for format in Format::ALL {
            let bytes = encode(format, &event);
            prop_assert_eq!(decode(format, &bytes, MAX_ID), Ok(event.clone()));
        }
    }
}

/// `event` with the text field `field` set to `value` (the field must be one its type has).
fn with_text(mut event: CtiEvent, field: &str, value: &str) -> CtiEvent {
    use crate::event::{CallStep, EventBody};
    let value = value.to_owned();
    match (field, &mut event.body) {
        ("event_id", _) => event.event_id = value,
        ("queue_id", _) => event.queue_id = value,
        ("call_id", EventBody::Call { call_id, .. }) => *call_id = value,
        ("agent_id", EventBody::AgentState { agent_id, .. })
        | (
            "agent_id",
            EventBody::Call {
                step: CallStep::Answered { agent_id },
                ..
            },
        ) => *agent_id = value,
        (
            "target_queue_id",
            EventBody::Call {
                step:
                    CallStep::Transferred {
                        target_queue_id, ..
                    },
                ..
            },
        ) => *target_queue_id = value,
        ("reason", EventBody::AgentState { reason, .. })
        | (
            "reason",
            EventBody::Call {
                step: CallStep::FlowedOut { reason },
                ..
            },
        ) => *reason = Some(value),
        _ => panic!("{field} is not a field of {event:?}"),
    }
    event
}

/// Every text field of the contract, on an event whose type has it.
const TEXT_FIELDS: [(&str, EventType); 7] = [
    ("event_id", EventType::Offered),
    ("queue_id", EventType::Offered),
    ("call_id", EventType::Offered),
    ("agent_id", EventType::Answered),
    ("target_queue_id", EventType::Transferred),
    ("reason", EventType::FlowedOut),
    ("reason", EventType::AgentState),
];

#[test]
fn ids_and_reasons_longer_than_the_limit_in_bytes_are_rejected_in_both_formats() {
    // "€" is 3 bytes: 42 of them are 126 bytes, 43 are 129, though only 43 characters.
    let cases: [(String, Option<usize>); 6] = [
        ("x".repeat(1 << 20), Some(1 << 20)),
        ("x".repeat(129), Some(129)),
        ("x".repeat(128), None),
        ("€".repeat(43), Some(129)),
        ("€".repeat(42), None),
        (format!("{}é", "x".repeat(127)), Some(129)),
    ];
    for format in Format::ALL {
        for (field, event_type) in TEXT_FIELDS {
            for (value, too_long) in &cases {
                let event = with_text(sample(event_type), field, value);
                let got = decode(format, &encode(format, &event), MAX_ID);
                let what = format!("{format} {event_type} {field} of {} bytes", value.len());
                match too_long {
                    None => assert_eq!(got, Ok(event), "{what}"),
                    Some(bytes) => {
                        let err = got.expect_err(&what);
                        let expected = DecodeError::IdTooLong {
                            field,
                            bytes: *bytes,
                            max: 128,
                        };
                        assert_eq!(err, expected, "{what}");
                        assert_eq!(err.reason(), RejectReason::IdTooLong);
                        assert_eq!(err.reason().label(), "id_too_long");
                    }
                }
            }
        }
    }
    // The limit is the caller's (`engine.max_id_bytes`).
    let event = with_text(sample(EventType::Offered), "queue_id", "sales-1");
    let event = with_text(with_text(event, "event_id", "e1"), "call_id", "c1");
    for format in Format::ALL {
        let bytes = encode(format, &event);
        assert_eq!(decode(format, &bytes, 7), Ok(event.clone()));
        let err = decode(format, &bytes, 6).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`queue_id` is 7 bytes long, more than engine.max_id_bytes (6); shorten it at the \
             producer, or raise the limit if such ids are real"
        );
    }
}

#[test]
fn ids_and_reasons_with_control_characters_are_rejected_in_both_formats() {
    let refused = [
        "a\nb",
        "sales\r",
        "\u{1b}[31mred",
        "tab\there",
        "\u{0}",
        "\u{85}",
    ];
    for format in Format::ALL {
        for (field, event_type) in TEXT_FIELDS {
            for value in refused {
                let event = with_text(sample(event_type), field, value);
                let err = decode(format, &encode(format, &event), MAX_ID).unwrap_err();
                let what = format!("{format} {event_type} {field} {value:?}");
                assert_eq!(err, DecodeError::IdControlCharacter(field), "{what}");
                assert_eq!(err.reason().label(), "id_control_character", "{what}");
            }
            // Printable text beyond ASCII, quotes and spaces are fine.
            let event = with_text(sample(event_type), field, "Vertrieb \"Süd\" 🚀");
            assert_eq!(decode(format, &encode(format, &event), MAX_ID), Ok(event));
        }
    }
    // As a JSON producer writes them: escaped.
    let line = br#"{"event_id":"e1","ts":1700000000000,"type":"offered","queue_id":"sales\u001b[2J","call_id":"c1"}"#;
    assert_eq!(
        decode(Format::Json, line, MAX_ID),
        Err(DecodeError::IdControlCharacter("queue_id"))
    );
}

#[test]
fn a_field_the_event_type_does_not_use_is_not_judged() {
    // An offered event's `reason` and `agent_id` are dropped by the contract, so their text
    // cannot reach anything.
    let line = format!(
        r#"{{"event_id":"e1","ts":1700000000000,"type":"offered","queue_id":"q","call_id":"c1","reason":"{}","agent_id":"a\n"}}"#,
        "x".repeat(1000)
    );
    assert!(decode(Format::Json, line.as_bytes(), MAX_ID).is_ok());
}

/// What a decoder may answer to any input: an event whose text passes the limits, or a
/// rejection with one of the decoders' reasons. Anything else (a panic included) fails.
fn check_decoded(format: Format, bytes: &[u8], max: usize) -> Result<(), TestCaseError> {
    match decode(format, bytes, max) {
        Ok(event) => {
            prop_assert_eq!(event.check_text(max), Ok(()), "{} {:?}", format, event);
            prop_assert!(event.ts >= contract::MIN_TS);
        }
        Err(err) => {
            let reason = err.reason();
            prop_assert!(
                super::testing::decoder_reasons().contains(&reason),
                "{format}: {reason:?}"
            );
            // Messages quote at most a bounded part of what the producer sent.
            prop_assert!(err.to_string().len() < 400, "{}", err);
        }
    }
    Ok(())
}

/// One change to a payload: flip bits of a byte, insert a byte, delete a byte, cut the rest.
#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Insert(usize, u8),
    Delete(usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1..=255u8).prop_map(|(at, bits)| Mutation::Flip(at, bits)),
        (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Mutation::Insert(at, b)),
        any::<usize>().prop_map(Mutation::Delete),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn mutate(bytes: &mut Vec<u8>, mutations: &[Mutation]) {
    for m in mutations {
        let len = bytes.len();
        match *m {
            Mutation::Flip(at, bits) if len > 0 => bytes[at % len] ^= bits,
            Mutation::Insert(at, b) => bytes.insert(at % (len + 1), b),
            Mutation::Delete(at) if len > 0 => {
                bytes.remove(at % len);
            }
            Mutation::Truncate(at) => bytes.truncate(at % (len + 1)),
            _ => {}
        }
    }
}

/// Text at the edges of the rules: around the limit in bytes (with characters of 1 to 4
/// bytes), control characters, and ordinary ids.
fn edge_text() -> impl Strategy<Value = String> {
    let unit = prop_oneof![Just("x"), Just("é"), Just("€"), Just("🚀")];
    prop_oneof![
        (unit.clone(), 30..=130usize).prop_map(|(u, n)| u.repeat(n)),
        (unit, 0..=128usize, any::<char>()).prop_map(|(u, n, c)| format!("{}{c}", u.repeat(n))),
        Just("\n".to_owned()),
        Just("\u{1b}[31m".to_owned()),
        Just(String::new()),
        "[a-z0-9-]{1,20}",
    ]
}

/// A valid event with one text field (by index in [`TEXT_FIELDS`]) set to `value`.
fn with_edge_text(i: usize, value: &str) -> CtiEvent {
    let (field, event_type) = TEXT_FIELDS[i % TEXT_FIELDS.len()];
    with_text(sample(event_type), field, value)
}

proptest! {
    // A bounded fuzz of both event decoders, run with every `cargo test`: a few thousand
    // cases each, well under ten seconds in release.
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn fuzz_arbitrary_bytes_give_a_checked_event_or_a_reason(
        bytes in proptest::collection::vec(any::<u8>(), 0..512),
        max in prop_oneof![Just(MAX_ID), 1..=16usize],
    ) {
        for format in Format::ALL {
            check_decoded(format, &bytes, max)?;
        }
    }

    #[test]
    fn fuzz_mutated_valid_payloads_give_a_checked_event_or_a_reason(
        event in valid_event(),
        mutations in proptest::collection::vec(mutation(), 1..6),
    ) {
        for format in Format::ALL {
            let mut bytes = encode(format, &event);
            mutate(&mut bytes, &mutations);
            check_decoded(format, &bytes, MAX_ID)?;
        }
    }

    #[test]
    fn fuzz_field_values_at_their_extremes_are_accepted_exactly_when_the_contract_allows(
        field in 0..TEXT_FIELDS.len(),
        value in edge_text(),
        ts in prop_oneof![
            Just(i64::MIN), Just(-1i64), Just(0i64), Just(contract::MIN_TS - 1),
            Just(contract::MIN_TS), Just(i64::MAX), contract::MIN_TS..=i64::MAX,
        ],
    ) {
        let mut event = with_edge_text(field, &value);
        event.ts = ts;
        let (name, _) = TEXT_FIELDS[field];
        for format in Format::ALL {
            let bytes = encode(format, &event);
            check_decoded(format, &bytes, MAX_ID)?;
            let got = decode(format, &bytes, MAX_ID);
            let text_ok = crate::event::check_text(&value, MAX_ID).is_ok();
            // An empty text is an absent field: required ones are missing, a reason is none.
            let present = !value.is_empty();
            if ts >= contract::MIN_TS && text_ok && present {
                prop_assert_eq!(got, Ok(event.clone()), "{} {}", format, name);
            } else if ts >= contract::MIN_TS && present {
                let reason = got.expect_err("refused text").reason();
                prop_assert!(
                    matches!(reason, RejectReason::IdTooLong | RejectReason::IdControlCharacter),
                    "{format} {name}: {reason:?}"
                );
            } else {
                prop_assert!(got.is_err() || !present, "{} {} {:?}", format, name, got);
            }
        }
    }
}
