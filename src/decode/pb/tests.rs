use proptest::prelude::*;

use super::*;
use crate::decode::testing::{sample, sample_snapshot, valid_event};
use crate::decode::{self, Format};
use crate::event::DEFAULT_MAX_ID_BYTES as MAX_ID;

fn offered() -> wire::CtiEvent {
    wire::CtiEvent::from(&sample(event::EventType::Offered))
}

#[test]
fn conversions_round_trip_for_every_event_type() {
    for event_type in event::EventType::ALL {
        let event = sample(event_type);
        assert_eq!(CtiEvent::try_from(wire::CtiEvent::from(&event)), Ok(event));
    }
}

#[test]
fn try_from_gives_the_ledger_reason() {
    let cases = [
        (wire::CtiEvent::default(), RejectReason::MissingEventId),
        (
            wire::CtiEvent { ts: 0, ..offered() },
            RejectReason::MissingTimestamp,
        ),
        (
            wire::CtiEvent {
                ts: 946_684_799_999,
                ..offered()
            },
            RejectReason::InvalidTimestamp,
        ),
        (
            wire::CtiEvent {
                r#type: wire::EventType::Unspecified.into(),
                ..offered()
            },
            RejectReason::UnknownType,
        ),
        (
            wire::CtiEvent {
                r#type: -1,
                ..offered()
            },
            RejectReason::UnknownType,
        ),
        (
            wire::CtiEvent {
                queue_id: String::new(),
                ..offered()
            },
            RejectReason::MissingQueueId,
        ),
        (
            wire::CtiEvent {
                call_id: String::new(),
                ..offered()
            },
            RejectReason::MissingCallId,
        ),
        (
            wire::CtiEvent {
                r#type: wire::EventType::WrapEnd.into(),
                ..offered()
            },
            RejectReason::MissingAgentId,
        ),
        (
            wire::CtiEvent {
                r#type: wire::EventType::Transferred.into(),
                ..offered()
            },
            RejectReason::MissingTargetQueue,
        ),
        (
            wire::CtiEvent {
                r#type: wire::EventType::AgentState.into(),
                agent_id: "a".into(),
                ..offered()
            },
            RejectReason::MissingState,
        ),
        (
            wire::CtiEvent {
                r#type: wire::EventType::AgentState.into(),
                agent_id: "a".into(),
                state: 99,
                ..offered()
            },
            RejectReason::UnknownAgentState,
        ),
    ];
    for (message, reason) in cases {
        assert_eq!(
            CtiEvent::try_from(message.clone()),
            Err(reason),
            "{message:?}"
        );
    }
    // The boundary itself is valid.
    let at_2000 = wire::CtiEvent {
        ts: 946_684_800_000,
        ..offered()
    };
    assert!(CtiEvent::try_from(at_2000).is_ok());
}

#[test]
fn an_empty_reason_is_no_reason() {
    let message = wire::CtiEvent {
        r#type: wire::EventType::AgentState.into(),
        agent_id: "a".into(),
        state: wire::AgentState::Ready.into(),
        reason: String::new(),
        ..offered()
    };
    let event = CtiEvent::try_from(message).unwrap();
    assert!(matches!(
        event.body,
        event::EventBody::AgentState { reason: None, .. }
    ));
}

#[test]
fn snapshot_conversions_round_trip_with_absent_values() {
    let snapshot = sample_snapshot();
    let message = wire::KpiSnapshot::from(&snapshot);
    let fifteen = message.windows[1].kpis.unwrap();
    assert_eq!(message.windows[1].name, "15m");
    assert_eq!(fifteen.service_level, Some(0.7));
    assert_eq!(fifteen.wait_p50_seconds, None);
    assert_eq!(KpiSnapshot::try_from(message), Ok(snapshot));
}

#[test]
fn a_snapshot_missing_its_parts_is_rejected() {
    let mut message = wire::KpiSnapshot::from(&sample_snapshot());
    message.windows[0].kpis = None;
    let err = KpiSnapshot::try_from(message.clone()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "KPI snapshot is incomplete: window \"5m\" has no `kpis`"
    );
    message.now = None;
    let err = decode_snapshot(&message.encode_to_vec()).unwrap_err();
    assert_eq!(err.reason(), RejectReason::Malformed);
    assert_eq!(
        err.to_string(),
        "KPI snapshot is incomplete: queue \"sales\" has no `now`"
    );
}

/// An event as any producer might send it: each field empty, plausible or out of range.
fn wire_event_strategy() -> impl Strategy<Value = wire::CtiEvent> {
    let text = || prop_oneof![Just(String::new()), "[a-z]{1,3}"];
    (
        text(),
        prop_oneof![
            Just(0_i64),
            Just(1_700_000_000),
            Just(1_700_000_000_000),
            any::<i64>()
        ],
        -1_i32..12,
        (text(), text(), text(), text()),
        -1_i32..5,
        text(),
    )
        .prop_map(
            |(
                event_id,
                ts,
                r#type,
                (call_id, queue_id, agent_id, target_queue_id),
                state,
                reason,
            )| {
                wire::CtiEvent {
                    event_id,
                    ts,
                    r#type,
                    call_id,
                    queue_id,
                    agent_id,
                    target_queue_id,
                    state,
                    reason,
                }
            },
        )
}

/// The same fields as a JSON producer would write them, leaving out empty strings.
fn as_json(m: &wire::CtiEvent) -> Vec<u8> {
    let mut object = serde_json::Map::new();
    let mut put = |key: &str, value: serde_json::Value| {
        object.insert(key.to_owned(), value);
    };
    for (key, value) in [
        ("event_id", &m.event_id),
        ("call_id", &m.call_id),
        ("queue_id", &m.queue_id),
        ("agent_id", &m.agent_id),
        ("target_queue_id", &m.target_queue_id),
        ("reason", &m.reason),
    ] {
        if !value.is_empty() {
            put(key, value.as_str().into());
        }
    }
    put("ts", m.ts.into());
    let type_name = match wire::EventType::try_from(m.r#type) {
        Ok(t) => event_type_from_wire(t)
            .map_or("", |t| t.as_str())
            .to_owned(),
        Err(_) => format!("type_{}", m.r#type),
    };
    put("type", type_name.into());
    let state_name = match wire::AgentState::try_from(m.state) {
        Ok(s) => agent_state_from_wire(s)
            .map_or("", |s| s.as_str())
            .to_owned(),
        Err(_) => format!("state_{}", m.state),
    };
    put("state", state_name.into());
    serde_json::to_vec(&object).unwrap()
}

proptest! {
    #[test]
    fn json_and_protobuf_judge_every_event_alike(message in wire_event_strategy()) {
        let bytes = message.encode_to_vec();
        let via_json = decode::decode(Format::Json, &as_json(&message), MAX_ID);
        if bytes.is_empty() {
            // An all-default message is zero bytes, which protobuf rejects as an empty
            // payload before the contract is consulted; JSON still has `{}` to judge.
            prop_assert_eq!(decode::decode(Format::Protobuf, &bytes, MAX_ID), Err(DecodeError::Empty));
            prop_assert_eq!(via_json, Err(DecodeError::MissingEventId));
            return Ok(());
        }
        let via_protobuf = decode::decode(Format::Protobuf, &bytes, MAX_ID);
        match (via_protobuf, via_json) {
            (Ok(a), Ok(b)) => prop_assert_eq!(a, b),
            (Err(a), Err(b)) => prop_assert_eq!(a.reason(), b.reason(), "{} / {}", a, b),
            (a, b) => prop_assert!(false, "protobuf {:?} but JSON {:?}", a, b),
        }
    }

    #[test]
    fn generated_conversions_round_trip(event in valid_event()) {
        prop_assert_eq!(CtiEvent::try_from(wire::CtiEvent::from(&event)), Ok(event));
    }
}
