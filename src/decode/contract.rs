//! The contract's presence rules, shared by every format so that one bad event is rejected for
//! the same reason whichever way it arrived.
//!
//! Each format first lifts its payload into [`WireEvent`], where "absent" has the proto3 shape
//! (empty string, zero `ts`, no enum value); only then are the rules applied, in one place.

use crate::event::{AgentState, CallStep, CtiEvent, EventBody, EventType, Millis};

use super::DecodeError;

/// 2000-01-01T00:00:00Z. Anything earlier is far more likely seconds than a real event.
pub(crate) const MIN_TS: Millis = 946_684_800_000;

/// An enum field as it came off the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum WireEnum<T> {
    Absent,
    Known(T),
    /// The offending value, already quoted or described for an error message.
    Unknown(String),
}

/// An event's fields before the contract is checked. Empty strings and `ts == 0` mean absent,
/// as in proto3, because that is the only absence protobuf can express.
#[derive(Debug, Clone)]
pub(crate) struct WireEvent {
    pub event_id: String,
    pub ts: Millis,
    pub event_type: WireEnum<EventType>,
    pub call_id: String,
    pub queue_id: String,
    pub agent_id: String,
    pub target_queue_id: String,
    pub state: WireEnum<AgentState>,
    pub reason: String,
}

impl WireEvent {
    /// Applies the contract. Checks run in a fixed order (identity, time, type, queue, then what
    /// the type needs, then the text of the fields the event keeps) so that an event with
    /// several faults always reports the same one. A field the event's type does not use is
    /// dropped here, so its text is not judged.
    pub(crate) fn into_event(self, max_id_bytes: usize) -> Result<CtiEvent, DecodeError> {
        let event = self.into_unchecked_event()?;
        event
            .check_text(max_id_bytes)
            .map_err(|(field, problem)| DecodeError::text(field, problem, max_id_bytes))?;
        Ok(event)
    }

    fn into_unchecked_event(self) -> Result<CtiEvent, DecodeError> {
        if self.event_id.is_empty() {
            return Err(DecodeError::MissingEventId);
        }
        match self.ts {
            0 => return Err(DecodeError::MissingTimestamp),
            ts if ts < MIN_TS => return Err(DecodeError::InvalidTimestamp(ts)),
            _ => {}
        }
        let event_type = match self.event_type {
            WireEnum::Absent => return Err(DecodeError::MissingType),
            WireEnum::Unknown(got) => return Err(DecodeError::UnknownType(got)),
            WireEnum::Known(t) => t,
        };
        // An agent_state without a queue applies to every queue the agent is logged in to
        // (Asterisk's PAUSEALL, Amazon Connect's agent status); a call is always in a queue.
        if self.queue_id.is_empty() && event_type != EventType::AgentState {
            return Err(DecodeError::MissingQueueId(event_type));
        }
        let call_id = |call_id: String| {
            if call_id.is_empty() {
                Err(DecodeError::MissingCallId(event_type))
            } else {
                Ok(call_id)
            }
        };
        let agent_id = |agent_id: String| {
            if agent_id.is_empty() {
                Err(DecodeError::MissingAgentId(event_type))
            } else {
                Ok(agent_id)
            }
        };

        let body = match Needs::of(event_type) {
            Needs::Call(step) => EventBody::Call {
                call_id: call_id(self.call_id)?,
                step,
            },
            Needs::CallAndAgent(step) => EventBody::Call {
                call_id: call_id(self.call_id)?,
                step: step(agent_id(self.agent_id)?),
            },
            Needs::CallAndTarget => {
                let call_id = call_id(self.call_id)?;
                if self.target_queue_id.is_empty() {
                    return Err(DecodeError::MissingTargetQueue);
                }
                EventBody::Call {
                    call_id,
                    step: CallStep::Transferred {
                        target_queue_id: self.target_queue_id,
                        agent_id: Some(self.agent_id).filter(|a| !a.is_empty()),
                    },
                }
            }
            Needs::CallAndReason(step) => EventBody::Call {
                call_id: call_id(self.call_id)?,
                step: step(Some(self.reason).filter(|r| !r.is_empty())),
            },
            Needs::AgentAndState => {
                let agent_id = agent_id(self.agent_id)?;
                let state = match self.state {
                    WireEnum::Absent => return Err(DecodeError::MissingState),
                    WireEnum::Unknown(got) => return Err(DecodeError::UnknownAgentState(got)),
                    WireEnum::Known(state) => state,
                };
                EventBody::AgentState {
                    agent_id,
                    state,
                    reason: Some(self.reason).filter(|r| !r.is_empty()),
                }
            }
        };

        Ok(CtiEvent {
            event_id: self.event_id,
            ts: self.ts,
            queue_id: self.queue_id,
            body,
        })
    }
}

/// What an event type requires beyond the fields every event has.
enum Needs {
    Call(CallStep),
    CallAndAgent(fn(String) -> CallStep),
    CallAndTarget,
    /// A call step with an optional reason.
    CallAndReason(fn(Option<String>) -> CallStep),
    AgentAndState,
}

impl Needs {
    fn of(event_type: EventType) -> Needs {
        match event_type {
            EventType::Offered => Needs::Call(CallStep::Offered),
            EventType::Abandoned => Needs::Call(CallStep::Abandoned),
            EventType::Ringing => Needs::CallAndAgent(|agent_id| CallStep::Ringing { agent_id }),
            EventType::Answered => Needs::CallAndAgent(|agent_id| CallStep::Answered { agent_id }),
            EventType::Hold => Needs::CallAndAgent(|agent_id| CallStep::Hold { agent_id }),
            EventType::Unhold => Needs::CallAndAgent(|agent_id| CallStep::Unhold { agent_id }),
            EventType::Wrap => Needs::CallAndAgent(|agent_id| CallStep::Wrap { agent_id }),
            EventType::WrapEnd => Needs::CallAndAgent(|agent_id| CallStep::WrapEnd { agent_id }),
            EventType::Transferred => Needs::CallAndTarget,
            EventType::AgentState => Needs::AgentAndState,
            EventType::NoAnswer => Needs::CallAndAgent(|agent_id| CallStep::NoAnswer { agent_id }),
            EventType::Unavailable => {
                Needs::CallAndAgent(|agent_id| CallStep::Unavailable { agent_id })
            }
            EventType::FlowedOut => Needs::CallAndReason(|reason| CallStep::FlowedOut { reason }),
        }
    }
}

/// The parts of an event each wire form writes, with the fields its type does not use left
/// empty. Both encoders start here so that they agree on what "unused" means.
pub(crate) struct Parts<'a> {
    pub event_type: EventType,
    pub call_id: &'a str,
    pub agent_id: &'a str,
    pub target_queue_id: &'a str,
    pub state: Option<AgentState>,
    pub reason: &'a str,
}

impl<'a> Parts<'a> {
    pub(crate) fn of(event: &'a CtiEvent) -> Parts<'a> {
        let mut parts = Parts {
            event_type: event.event_type(),
            call_id: "",
            agent_id: "",
            target_queue_id: "",
            state: None,
            reason: "",
        };
        match &event.body {
            EventBody::Call { call_id, step } => {
                parts.call_id = call_id;
                parts.agent_id = step.agent_id().unwrap_or("");
                match step {
                    CallStep::Transferred {
                        target_queue_id, ..
                    } => parts.target_queue_id = target_queue_id,
                    CallStep::FlowedOut { reason } => {
                        parts.reason = reason.as_deref().unwrap_or("");
                    }
                    _ => {}
                }
            }
            EventBody::AgentState {
                agent_id,
                state,
                reason,
            } => {
                parts.agent_id = agent_id;
                parts.state = Some(*state);
                parts.reason = reason.as_deref().unwrap_or("");
            }
        }
        parts
    }
}
