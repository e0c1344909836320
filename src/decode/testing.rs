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
            agent_id: None,
        },
        EventType::NoAnswer => CallStep::NoAnswer {
            agent_id: agent_id(),
        },
        EventType::Unavailable => CallStep::Unavailable {
            agent_id: agent_id(),
        },
        EventType::FlowedOut => CallStep::FlowedOut {
            reason: Some("timeout".into()),
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
            agents_busy_other: 1,
            agents_logged_in: 9,
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
            absorbed: 2,
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
                    ring_no_answer: 2,
                    ring_abandoned: 1,
                    handled: 8,
                    avg_talk_seconds: Some(180.5),
                    transfer_rate: Some(0.0),
                    busy_agent_seconds: 1234.5,
                    ready_agent_seconds: 100.0,
                    busy_other_agent_seconds: 60.5,
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
        IdTooLong,
        IdControlCharacter,
    ]
    .into_iter()
    .collect()
}

/// A non-empty identifier, including characters JSON must escape (`"`, `\\`), though not
/// the control characters the contract refuses.
fn id() -> impl Strategy<Value = String> {
    r#"[^\p{Cc}]{1,12}"#
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
        (id(), proptest::option::of(id())).prop_map(|(target_queue_id, agent_id)| {
            CallStep::Transferred {
                target_queue_id,
                agent_id,
            }
        }),
        id().prop_map(|agent_id| CallStep::NoAnswer { agent_id }),
        id().prop_map(|agent_id| CallStep::Unavailable { agent_id }),
        proptest::option::of(id()).prop_map(|reason| CallStep::FlowedOut { reason }),
    ]
}

/// Any event a decoder can produce. `reason` is never `Some("")`: on the wire an empty
/// reason is no reason.
pub(crate) fn valid_event() -> impl Strategy<Value = CtiEvent> {
    let body = prop_oneof![
        (id(), call_step()).prop_map(|(call_id, step)| EventBody::Call { call_id, step }),
        (id(), agent_state(), proptest::option::of(id())).prop_map(|(agent_id, state, reason)| {
            EventBody::AgentState {
                agent_id,
                state,
                reason,
            }
        }),
    ];
    // An agent_state may have no queue (every queue the agent is logged in to).
    (
        id(),
        super::contract::MIN_TS..=i64::MAX,
        id(),
        any::<bool>(),
        body,
    )
        .prop_map(|(event_id, ts, queue_id, all_queues, body)| {
            let all_queues = all_queues && matches!(body, EventBody::AgentState { .. });
            CtiEvent {
                event_id,
                ts,
                queue_id: if all_queues { String::new() } else { queue_id },
                body,
            }
        })
}
