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
fn an_agent_state_without_a_queue_is_for_every_queue_but_a_call_event_needs_one() {
    let mut event = sample(EventType::AgentState);
    event.queue_id = String::new();
    for format in Format::ALL {
        assert_eq!(
            decode(format, &encode(format, &event)),
            Ok(event.clone()),
            "{format}"
        );
    }
    let json = r#"{"event_id":"p1","ts":1700000000000,"type":"agent_state","agent_id":"a7","state":"not_ready","reason":"pause all"}"#;
    let decoded = decode(Format::Json, json.as_bytes()).unwrap();
    assert_eq!(decoded.queue_id, "");
    for event_type in EventType::ALL {
        if event_type == EventType::AgentState {
            continue;
        }
        let mut event = sample(event_type);
        event.queue_id = String::new();
        for format in Format::ALL {
            let err = decode(format, &encode(format, &event)).unwrap_err();
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
