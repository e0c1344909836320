//! The CTI event contract as domain types.
//!
//! Every decoder (JSON, protobuf) produces a [`CtiEvent`]; nothing downstream sees wire types.
//! A `CtiEvent` is structurally valid by construction: each event type carries exactly the
//! fields the contract requires for it, so the state machine never re-checks presence.

use std::fmt;

/// Unix time in milliseconds (UTC), the unit of every timestamp in the engine.
pub type Millis = i64;

/// One CTI event after decoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CtiEvent {
    pub event_id: String,
    pub ts: Millis,
    pub queue_id: String,
    pub body: EventBody,
}

/// What happened, with the identifiers that event type requires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventBody {
    Call {
        call_id: String,
        step: CallStep,
    },
    AgentState {
        agent_id: String,
        state: AgentState,
        reason: Option<String>,
    },
}

/// A step in a call's life within one queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallStep {
    Offered,
    Ringing {
        agent_id: String,
    },
    Answered {
        agent_id: String,
    },
    Hold {
        agent_id: String,
    },
    Unhold {
        agent_id: String,
    },
    Wrap {
        agent_id: String,
    },
    WrapEnd {
        agent_id: String,
    },
    Abandoned,
    /// The call leaves this queue's current leg for `target_queue_id` (this queue too); the
    /// transferring agent, when given, is the one released.
    Transferred {
        target_queue_id: String,
        agent_id: Option<String>,
    },
    /// The agent's ringing ended without an answer (the ring timed out, or the agent declined).
    NoAnswer {
        agent_id: String,
    },
    /// The ACD offered the call to the agent, who could not be rung at all (busy on another
    /// call, in use, unreachable): not a ring attempt.
    Unavailable {
        agent_id: String,
    },
    /// The ACD took the call out of this queue unanswered, without the caller hanging up: a
    /// queue timeout, no agents left, a key the caller pressed, a supervisor's withdrawal.
    /// `reason` says which, as the ACD names it.
    FlowedOut {
        reason: Option<String>,
    },
}

/// The agent state an `agent_state` event sets.
///
/// Serialised by variant index in queue checkpoints: reordering the variants changes the
/// checkpoint format.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum AgentState {
    LoggedOut,
    Ready,
    NotReady,
}

/// The contract's `type` values, in the wire spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    Offered,
    Ringing,
    Answered,
    Hold,
    Unhold,
    Wrap,
    WrapEnd,
    Abandoned,
    Transferred,
    AgentState,
    NoAnswer,
    Unavailable,
    FlowedOut,
}

impl EventType {
    pub const ALL: [EventType; 13] = [
        EventType::Offered,
        EventType::Ringing,
        EventType::Answered,
        EventType::Hold,
        EventType::Unhold,
        EventType::Wrap,
        EventType::WrapEnd,
        EventType::Abandoned,
        EventType::Transferred,
        EventType::AgentState,
        EventType::NoAnswer,
        EventType::Unavailable,
        EventType::FlowedOut,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Offered => "offered",
            EventType::Ringing => "ringing",
            EventType::Answered => "answered",
            EventType::Hold => "hold",
            EventType::Unhold => "unhold",
            EventType::Wrap => "wrap",
            EventType::WrapEnd => "wrap_end",
            EventType::Abandoned => "abandoned",
            EventType::Transferred => "transferred",
            EventType::AgentState => "agent_state",
            EventType::NoAnswer => "no_answer",
            EventType::Unavailable => "unavailable",
            EventType::FlowedOut => "flowed_out",
        }
    }

    pub fn parse(s: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl AgentState {
    pub fn as_str(self) -> &'static str {
        match self {
            AgentState::LoggedOut => "logged_out",
            AgentState::Ready => "ready",
            AgentState::NotReady => "not_ready",
        }
    }

    pub fn parse(s: &str) -> Option<AgentState> {
        [
            AgentState::LoggedOut,
            AgentState::Ready,
            AgentState::NotReady,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }
}

impl CallStep {
    pub fn event_type(&self) -> EventType {
        match self {
            CallStep::Offered => EventType::Offered,
            CallStep::Ringing { .. } => EventType::Ringing,
            CallStep::Answered { .. } => EventType::Answered,
            CallStep::Hold { .. } => EventType::Hold,
            CallStep::Unhold { .. } => EventType::Unhold,
            CallStep::Wrap { .. } => EventType::Wrap,
            CallStep::WrapEnd { .. } => EventType::WrapEnd,
            CallStep::Abandoned => EventType::Abandoned,
            CallStep::Transferred { .. } => EventType::Transferred,
            CallStep::NoAnswer { .. } => EventType::NoAnswer,
            CallStep::Unavailable { .. } => EventType::Unavailable,
            CallStep::FlowedOut { .. } => EventType::FlowedOut,
        }
    }

    pub fn agent_id(&self) -> Option<&str> {
        match self {
            CallStep::Ringing { agent_id }
            | CallStep::Answered { agent_id }
            | CallStep::Hold { agent_id }
            | CallStep::Unhold { agent_id }
            | CallStep::Wrap { agent_id }
            | CallStep::WrapEnd { agent_id }
            | CallStep::NoAnswer { agent_id }
            | CallStep::Unavailable { agent_id } => Some(agent_id),
            CallStep::Transferred { agent_id, .. } => agent_id.as_deref(),
            CallStep::Offered | CallStep::Abandoned | CallStep::FlowedOut { .. } => None,
        }
    }
}

impl CtiEvent {
    pub fn event_type(&self) -> EventType {
        match &self.body {
            EventBody::Call { step, .. } => step.event_type(),
            EventBody::AgentState { .. } => EventType::AgentState,
        }
    }
}

/// The default for `engine.max_id_bytes`: far longer than any real queue, call or agent id
/// (a UUID is 36 bytes, an Asterisk unique id about 20), far shorter than what breaks a
/// scrape or a Kafka record when a producer sends a megabyte.
pub const DEFAULT_MAX_ID_BYTES: usize = 128;

/// Why a text field of an event is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextProblem {
    /// Longer than the limit, in bytes of UTF-8.
    TooLong { bytes: usize },
    /// A control character (`char::is_control`: a line end, a tab, ESC…), which would forge
    /// log lines or reach a terminal.
    ControlCharacter,
}

/// The rule for one text field: at most `max_bytes` bytes of UTF-8, no control character.
/// Ids end up as Prometheus label values, log fields, checkpoint keys and Kafka record keys,
/// so their size is the size of everything downstream.
pub fn check_text(value: &str, max_bytes: usize) -> Result<(), TextProblem> {
    if value.len() > max_bytes {
        return Err(TextProblem::TooLong { bytes: value.len() });
    }
    if has_control(value) {
        return Err(TextProblem::ControlCharacter);
    }
    Ok(())
}

/// `value.chars().any(char::is_control)` on the bytes, which every event pays for each id: the
/// controls (Unicode's Cc) are U+0000–U+001F and U+007F, single bytes, and U+0080–U+009F,
/// encoded 0xC2 0x80–0x9F. The fold has no early exit, so it vectorises.
fn has_control(value: &str) -> bool {
    let bytes = value.as_bytes();
    let c0 = bytes
        .iter()
        .fold(false, |any, &b| any | (b < 0x20) | (b == 0x7F));
    c0 || (!value.is_ascii() && bytes.windows(2).any(|w| w[0] == 0xC2 && w[1] < 0xA0))
}

impl CtiEvent {
    /// Checks every text field the event carries against [`check_text`], in the order of the
    /// contract (`event_id`, `queue_id`, `call_id`, `agent_id`, `target_queue_id`, `reason`);
    /// the first field refused is named.
    pub fn check_text(&self, max_bytes: usize) -> Result<(), (&'static str, TextProblem)> {
        let mut fields: [(&'static str, Option<&str>); 6] = [
            ("event_id", Some(&self.event_id)),
            ("queue_id", Some(&self.queue_id)),
            ("call_id", None),
            ("agent_id", None),
            ("target_queue_id", None),
            ("reason", None),
        ];
        match &self.body {
            EventBody::Call { call_id, step } => {
                fields[2].1 = Some(call_id);
                fields[3].1 = step.agent_id();
                match step {
                    CallStep::Transferred {
                        target_queue_id, ..
                    } => fields[4].1 = Some(target_queue_id),
                    CallStep::FlowedOut { reason } => fields[5].1 = reason.as_deref(),
                    _ => {}
                }
            }
            EventBody::AgentState {
                agent_id, reason, ..
            } => {
                fields[3].1 = Some(agent_id);
                fields[5].1 = reason.as_deref();
            }
        }
        for (name, value) in fields {
            if let Some(value) = value {
                check_text(value, max_bytes).map_err(|problem| (name, problem))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
