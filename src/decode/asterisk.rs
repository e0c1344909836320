//! Asterisk's `queue_log`: one line per thing that happened in `app_queue`, turned into
//! [`CtiEvent`]s (see `docs/sources/asterisk.md` for the mapping and its reasons).
//!
//! A line is `epoch|callid|queue|agent|EVENT|data1|data2|…`: Unix seconds, the caller's channel
//! id (or `NONE`, `MANAGER`, `CLI`, `REALTIME` for lines that are not about a call), the queue
//! (or `NONE`), the member's interface or name (or `NONE`), the event and its parameters.
//!
//! Unlike the JSON and protobuf contracts, queue_log is not one event per payload, and some of
//! what the KPIs need is not on the line that tells it, so the [`Translator`] keeps a little
//! state across lines:
//!
//! - **Legs** by call id and queue, while they last: when a leg was offered (a ring start
//!   computed from a ring time never goes before it) and whether it was answered (a transfer
//!   or completion without its `CONNECT`, asterisk/asterisk#759, gets its answer back from the
//!   call time).
//! - **Members** by queue: a member first seen answering a call is logged in to that queue from
//!   then on (Asterisk only connects members; without it the agent would look logged out once
//!   the call ends).
//! - **Wrap-ups to come**: after a call the member is in after-call work for the queue's
//!   `wrapuptime`; the `wrap_end` is held until the stream's time reaches it, because an event
//!   stamped ahead of the lines still to come would make them late.
//!
//! A line yields zero or more events, is ignored with a counted reason ([`Ignored`]: a known
//! line with no KPI meaning), or is rejected with a [`QueueLogError`] whose
//! [`reason`](QueueLogError::reason) is counted in the ledger. Nothing in a line can panic the
//! translator.
//!
//! **Event ids** come from the line itself, so that a line delivered twice is dropped as a
//! duplicate by the engine: `aql-<XXH3-64 of the line>-<n>-<role>`, where `n` counts the
//! identical lines immediately before it (Asterisk writes a repeat back to back; a redelivery
//! repeats a run of lines, which breaks any run) and `role` tells the events of one line apart.

use std::collections::{BTreeMap, HashMap, HashSet};

use xxhash_rust::xxh3::{xxh3_64, Xxh3};

use super::contract::MIN_TS;
use super::quote;
use crate::event::{
    check_text, AgentState, CallStep, CtiEvent, EventBody, Millis, TextProblem,
    DEFAULT_MAX_ID_BYTES,
};
use crate::ledger::RejectReason;

/// How the agent field becomes an agent id.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AgentIds {
    /// A Local channel member (`Local/2004@from-queue/n`, as FreePBX configures members)
    /// becomes its extension, `2004`; every other value (`PJSIP/2001`, `Agent/1127`, a member
    /// name) is kept as written.
    #[default]
    Extension,
    /// The field exactly as written.
    Interface,
}

/// What the translator needs from the configuration (`[asterisk]`, and the engine's lateness).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueLogSettings {
    pub agent_ids: AgentIds,
    /// Agent field → agent id, looked up before `agent_ids` applies.
    pub agents: HashMap<String, String>,
    /// Each queue's `wrapuptime` (queues.conf): the after-call work after every call; 0 for a
    /// queue not listed.
    pub wrapuptime_ms: HashMap<String, Millis>,
    /// How far behind the newest line an event may be stamped and still count (the engine's
    /// `allowed_lateness`). A time worked out backwards from a line (a ring start from a long
    /// ring time, an answer made up from a call time) is put no further back than this, so
    /// that the engine does not drop it as late.
    pub lookback_ms: Millis,
    /// Longest call id, queue, agent id, reason or transfer target a line may give, in bytes
    /// (`engine.max_id_bytes`).
    pub max_id_bytes: usize,
}

impl Default for QueueLogSettings {
    fn default() -> Self {
        QueueLogSettings {
            agent_ids: AgentIds::default(),
            agents: HashMap::new(),
            wrapuptime_ms: HashMap::new(),
            lookback_ms: 30_000,
            max_id_bytes: DEFAULT_MAX_ID_BYTES,
        }
    }
}

impl QueueLogSettings {
    fn agent_id(&self, field: &str) -> String {
        if let Some(id) = self.agents.get(field) {
            return id.clone();
        }
        match self.agent_ids {
            AgentIds::Interface => field.to_owned(),
            AgentIds::Extension => local_extension(field).unwrap_or(field).to_owned(),
        }
    }

    fn wrapuptime(&self, queue: &str) -> Millis {
        self.wrapuptime_ms.get(queue).copied().unwrap_or(0)
    }
}

/// `Local/<exten>@<context>[/n]` → `<exten>`.
fn local_extension(field: &str) -> Option<&str> {
    let rest = field.strip_prefix("Local/")?;
    let exten = rest.split(['@', '/']).next()?;
    (!exten.is_empty()).then_some(exten)
}

/// Something a line said besides its events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Translated {
    Event(CtiEvent),
    /// Asterisk restarted (`QUEUESTART`) at this time: its calls in progress cannot end any more.
    Restart {
        at: Millis,
    },
}

/// A line recognised as holding no KPI event. Not an error and not an event: counted by reason
/// outside the event ledger, like a blank line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Ignored {
    /// Housekeeping and site rows that say nothing about a queue call or its members
    /// (`CONFIGRELOAD`, `DID`, `INFO`, `PENALTY`, `AGENTDUMP`, Wazo's `JOINEMPTY` …).
    NotACallEvent,
    /// Outbound calls logged by some platforms (MOR's `OUTDIAL`, `OUTANSWER` …): not queue calls.
    Outbound,
    /// A call event whose call id is `NONE`, `MANAGER`, `CLI` or `REALTIME`: not a call.
    NoCallId,
}

impl Ignored {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Ignored::NotACallEvent => "not_a_call_event",
            Ignored::Outbound => "outbound",
            Ignored::NoCallId => "no_call_id",
        }
    }
}

/// What a line was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LineKind {
    /// It gave events (or a restart), in the output.
    Translated,
    Ignored(Ignored),
}

/// Why a line is not read. The message is for the operator reading replay's report (which
/// gives the line number); [`QueueLogError::reason`] is the ledger's bounded label.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum QueueLogError {
    #[error(
        "a queue_log line has at least 5 `|`-separated fields \
         (epoch|callid|queue|agent|event), this one has {0}"
    )]
    TooFewFields(usize),
    #[error("the first field must be the time in whole Unix seconds, got {0}")]
    Epoch(String),
    #[error("the time {0} is before 2000-01-01: not a Unix time in seconds")]
    EpochBefore2000(u64),
    #[error("{0} is not a queue_log event acdstream knows")]
    UnknownEvent(String),
    #[error(
        "{event} needs at least {needed} data fields after the event name, this line has {got}"
    )]
    MissingData {
        event: &'static str,
        needed: usize,
        got: usize,
    },
    #[error("{event}'s {field} must be a whole number, got {value}")]
    NotANumber {
        event: &'static str,
        field: &'static str,
        value: String,
    },
    #[error("{0} needs the caller's call id; the callid field is empty")]
    MissingCallId(&'static str),
    #[error("{0} needs a queue; the queue field is empty or NONE")]
    MissingQueue(&'static str),
    #[error("{0} needs the member in the agent field; it is empty or NONE")]
    MissingAgent(&'static str),
    #[error(
        "the input ends in this line, without a line end: it may have been cut short while \
         Asterisk wrote it (a cut number still parses), so it is not read"
    )]
    Truncated,
    #[error("the {field} is {bytes} bytes long, more than engine.max_id_bytes ({max})")]
    IdTooLong {
        field: &'static str,
        bytes: usize,
        max: usize,
    },
    #[error("the {0} has a control character (a tab, ESC…)")]
    IdControlCharacter(&'static str),
}

impl QueueLogError {
    pub(crate) fn reason(&self) -> RejectReason {
        match self {
            QueueLogError::TooFewFields(_)
            | QueueLogError::Epoch(_)
            | QueueLogError::MissingData { .. }
            | QueueLogError::NotANumber { .. } => RejectReason::Malformed,
            QueueLogError::EpochBefore2000(_) => RejectReason::InvalidTimestamp,
            QueueLogError::UnknownEvent(_) => RejectReason::UnknownType,
            QueueLogError::MissingCallId(_) => RejectReason::MissingCallId,
            QueueLogError::MissingQueue(_) => RejectReason::MissingQueueId,
            QueueLogError::MissingAgent(_) => RejectReason::MissingAgentId,
            QueueLogError::Truncated => RejectReason::Truncated,
            QueueLogError::IdTooLong { .. } => RejectReason::IdTooLong,
            QueueLogError::IdControlCharacter(_) => RejectReason::IdControlCharacter,
        }
    }
}

/// Fields kept per line; further ones (a caller name with `log-caller-id-name`, columns of a
/// later version) are not needed.
const MAX_FIELDS: usize = 12;

/// Legs and wrap-ups older than this (by the stream's time) are forgotten: the engine has
/// expired their calls by then (`max_call_age`, 4 h by default).
const FORGET_AFTER_MS: Millis = 4 * 3_600_000;

/// What the translator remembers of a leg until it ends.
#[derive(Debug, Clone, Copy)]
struct Leg {
    offered: Millis,
    answered: bool,
}

/// Turns queue_log lines into events; see the module documentation.
#[derive(Debug, Default)]
pub(crate) struct Translator {
    settings: QueueLogSettings,
    /// By [`leg_key`].
    legs: HashMap<u64, Leg>,
    /// By [`member_key`].
    members: HashSet<u64>,
    /// `wrap_end`s held until the stream's time reaches them, by (due, sequence).
    wrap_ends: BTreeMap<(Millis, u64), CtiEvent>,
    sequence: u64,
    /// The newest time of a line read.
    newest: Millis,
    last_swept: Millis,
    /// Hash of the previous line and how many identical lines came right before it.
    previous: Option<(u64, u32)>,
}

/// One parsed line, borrowing its fields.
struct Line<'a> {
    ts: Millis,
    callid: &'a [u8],
    queue: &'a [u8],
    agent: &'a [u8],
    data: &'a [&'a [u8]],
    /// How many data fields the line has (some may be past `data`).
    data_count: usize,
}

/// How an event's id tells it apart from the other events of its line.
#[derive(Debug, Clone, Copy)]
enum Role {
    Offered,
    Ring,
    NoAnswer,
    Unavailable,
    Login,
    Answer,
    Wrap,
    WrapEnd,
    Leave,
    State,
}

impl Role {
    fn tag(self) -> &'static str {
        match self {
            Role::Offered => "o",
            Role::Ring => "r",
            Role::NoAnswer => "n",
            Role::Unavailable => "u",
            Role::Login => "l",
            Role::Answer => "a",
            Role::Wrap => "w",
            Role::WrapEnd => "e",
            Role::Leave => "x",
            Role::State => "s",
        }
    }
}

/// Events of one line, as they are made.
struct Emit<'o> {
    /// `aql-<hash>-<n>-`, completed by each event's role.
    id_prefix: String,
    queue: String,
    out: &'o mut Vec<Translated>,
}

impl Emit<'_> {
    fn event(&mut self, role: Role, ts: Millis, body: EventBody) -> CtiEvent {
        CtiEvent {
            event_id: format!("{}{}", self.id_prefix, role.tag()),
            ts,
            queue_id: self.queue.clone(),
            body,
        }
    }

    fn call(&mut self, role: Role, ts: Millis, call_id: &str, step: CallStep) {
        let body = EventBody::Call {
            call_id: call_id.to_owned(),
            step,
        };
        let event = self.event(role, ts, body);
        self.out.push(Translated::Event(event));
    }

    fn agent_state(&mut self, role: Role, ts: Millis, agent_id: &str, state: AgentState) {
        self.agent_state_because(role, ts, agent_id, state, None);
    }

    fn agent_state_because(
        &mut self,
        role: Role,
        ts: Millis,
        agent_id: &str,
        state: AgentState,
        reason: Option<String>,
    ) {
        let body = EventBody::AgentState {
            agent_id: agent_id.to_owned(),
            state,
            reason,
        };
        let event = self.event(role, ts, body);
        self.out.push(Translated::Event(event));
    }
}

fn text(field: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(field)
}

/// `NONE` and the empty field mean "no value" in every column.
fn is_none(field: &[u8]) -> bool {
    field.is_empty() || field == b"NONE"
}

fn leg_key(callid: &[u8], queue: &[u8]) -> u64 {
    let mut h = Xxh3::new();
    h.update(callid);
    h.update(b"|");
    h.update(queue);
    h.digest()
}

fn member_key(queue: &str, agent_id: &str) -> u64 {
    let mut h = Xxh3::new();
    h.update(queue.as_bytes());
    h.update(b"|");
    h.update(agent_id.as_bytes());
    h.digest()
}

/// The events whose translation is a call's: they need a call id and a queue.
const CALL_EVENTS: &[&str] = &[
    "ENTERQUEUE",
    "RINGNOANSWER",
    "RINGINUSE",
    "RINGCANCELED",
    "CONNECT",
    "COMPLETEAGENT",
    "COMPLETECALLER",
    "ABANDON",
    "EXITWITHTIMEOUT",
    "EXITEMPTY",
    "EXITWITHKEY",
    "WITHDRAW",
    "BLINDTRANSFER",
    "ATTENDEDTRANSFER",
    "TRANSFER",
];

/// Member and agent-session events: the agent field names the member.
const MEMBER_EVENTS: &[&str] = &[
    "ADDMEMBER",
    "REMOVEMEMBER",
    "AGENTLOGIN",
    "AGENTLOGOFF",
    "AGENTCALLBACKLOGIN",
    "AGENTCALLBACKLOGOFF",
    "PAUSE",
    "UNPAUSE",
    "PAUSEALL",
    "UNPAUSEALL",
];

/// Known lines that carry no KPI event.
const NOT_CALL_EVENTS: &[&str] = &[
    "CONFIGRELOAD",
    "DID",
    "INFO",
    "PENALTY",
    "AGENTDUMP",
    "SYSCOMPAT",
    "PAUSEREASON",
    "CALLSTATUS",
    "FULL",
    "CLOSED",
    "JOINEMPTY",
    "LEAVEEMPTY",
    "JOINUNAVAIL",
    "LEAVEUNAVAIL",
    "WRAPUPSTART",
];

const OUTBOUND_EVENTS: &[&str] = &[
    "OUTDIAL",
    "OUTANSWER",
    "OUTCANCEL",
    "OUTCHANUNAVAIL",
    "OUTCONGESTION",
    "OUTTRANSFER",
    "OUTBUSY",
    "OUTNOANSWER",
    "OUTFAIL",
];

/// The event's name as a `'static` string, if it is one the translator knows.
fn known(event: &[u8]) -> Option<&'static str> {
    [
        CALL_EVENTS,
        MEMBER_EVENTS,
        NOT_CALL_EVENTS,
        OUTBOUND_EVENTS,
        &["QUEUESTART"],
    ]
    .into_iter()
    .flatten()
    .find(|name| name.as_bytes() == event)
    .copied()
}

impl Translator {
    pub(crate) fn new(settings: QueueLogSettings) -> Translator {
        Translator {
            settings,
            newest: Millis::MIN,
            last_swept: Millis::MIN,
            ..Translator::default()
        }
    }

    /// Translates one line (without its line end) into `out`. `out` also receives, first, the
    /// held `wrap_end`s the line's time has reached, whatever the line turns out to be once
    /// its time is read; the caller takes everything in `out` either way.
    pub(crate) fn line(
        &mut self,
        bytes: &[u8],
        out: &mut Vec<Translated>,
    ) -> Result<LineKind, QueueLogError> {
        // A line end that came with the line (a shipper's CRLF) is not part of it.
        let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
        let hash = xxh3_64(bytes);
        let n = match self.previous {
            Some((h, n)) if h == hash => n + 1,
            _ => 0,
        };
        self.previous = Some((hash, n));

        let mut fields: [&[u8]; MAX_FIELDS] = [&[]; MAX_FIELDS];
        let mut count = 0;
        for field in bytes.split(|&b| b == b'|') {
            if count < MAX_FIELDS {
                fields[count] = field;
            }
            count += 1;
        }
        if count < 5 {
            return Err(QueueLogError::TooFewFields(count));
        }
        let ts = epoch(fields[0])?;
        let Some(event) = known(fields[4]) else {
            return Err(QueueLogError::UnknownEvent(quote(&text(fields[4]))));
        };
        let kept = count.min(MAX_FIELDS);
        let line = Line {
            ts,
            callid: fields[1],
            queue: fields[2],
            agent: fields[3],
            data: &fields[5..kept],
            data_count: count - 5,
        };
        let start = out.len();
        let kind = self.translate(event, &line, hash, n, out)?;
        self.release(ts, start, out);
        Ok(kind)
    }

    /// The held `wrap_end`s due by `now` (a live source calls this as its clock moves).
    pub(crate) fn due(&mut self, now: Millis, out: &mut Vec<Translated>) {
        while let Some(entry) = self.wrap_ends.first_entry() {
            if entry.key().0 > now {
                break;
            }
            out.push(Translated::Event(entry.remove()));
        }
    }

    /// Moves the stream's time to `ts`, a line's that was read: the `wrap_end`s it reached go
    /// into `out` at `at`, before that line's own events (which are later), and now and then
    /// legs that never ended are forgotten. A line that is not read moves nothing: its time
    /// may be the reason it is not.
    fn release(&mut self, ts: Millis, at: usize, out: &mut Vec<Translated>) {
        if ts <= self.newest {
            return;
        }
        self.newest = ts;
        let mut due = Vec::new();
        self.due(ts, &mut due);
        if !due.is_empty() {
            out.splice(at..at, due);
        }
        if ts.saturating_sub(self.last_swept) >= FORGET_AFTER_MS / 4 {
            self.last_swept = ts;
            let horizon = ts - FORGET_AFTER_MS;
            self.legs.retain(|_, leg| leg.offered >= horizon);
            self.wrap_ends.retain(|&(due, _), _| due >= horizon);
        }
    }

    fn translate(
        &mut self,
        event: &'static str,
        line: &Line<'_>,
        hash: u64,
        n: u32,
        out: &mut Vec<Translated>,
    ) -> Result<LineKind, QueueLogError> {
        if NOT_CALL_EVENTS.contains(&event) {
            return Ok(LineKind::Ignored(Ignored::NotACallEvent));
        }
        if OUTBOUND_EVENTS.contains(&event) {
            return Ok(LineKind::Ignored(Ignored::Outbound));
        }
        if event == "QUEUESTART" {
            // Asterisk started again: what it had in flight is gone, wrap-ups included.
            self.legs.clear();
            self.wrap_ends.clear();
            out.push(Translated::Restart { at: line.ts });
            return Ok(LineKind::Translated);
        }
        let id_prefix = format!("aql-{hash:016x}-{n}-");
        if MEMBER_EVENTS.contains(&event) {
            return self.member(event, line, id_prefix, out);
        }
        self.call(event, line, id_prefix, out)
    }

    fn member(
        &mut self,
        event: &'static str,
        line: &Line<'_>,
        id_prefix: String,
        out: &mut Vec<Translated>,
    ) -> Result<LineKind, QueueLogError> {
        if is_none(line.agent) {
            return Err(QueueLogError::MissingAgent(event));
        }
        let agent = self.settings.agent_id(&text(line.agent));
        self.check("agent field", &agent)?;
        // `NONE` (and every PAUSEALL/UNPAUSEALL): every queue the member is in, which the
        // engine resolves; an empty queue id says so.
        let all_queues = is_none(line.queue) || matches!(event, "PAUSEALL" | "UNPAUSEALL");
        let queue = if all_queues {
            String::new()
        } else {
            text(line.queue).into_owned()
        };
        let reason = line
            .data
            .first()
            .filter(|r| !r.is_empty())
            .map(|r| text(r).into_owned());
        self.check("queue field", &queue)?;
        let (state, reason) = match event {
            "ADDMEMBER" | "AGENTLOGIN" | "AGENTCALLBACKLOGIN" => (AgentState::Ready, None),
            "REMOVEMEMBER" | "AGENTLOGOFF" | "AGENTCALLBACKLOGOFF" => (AgentState::LoggedOut, None),
            "PAUSE" | "PAUSEALL" => (AgentState::NotReady, reason),
            _ => (AgentState::Ready, reason),
        };
        if let Some(reason) = &reason {
            self.check("pause reason", reason)?;
        }
        if !all_queues {
            let key = member_key(&queue, &agent);
            if state == AgentState::LoggedOut {
                self.members.remove(&key);
            } else {
                self.members.insert(key);
            }
        }
        let mut emit = Emit {
            id_prefix,
            queue,
            out,
        };
        emit.agent_state_because(Role::State, line.ts, &agent, state, reason);
        Ok(LineKind::Translated)
    }

    fn call(
        &mut self,
        event: &'static str,
        line: &Line<'_>,
        id_prefix: String,
        out: &mut Vec<Translated>,
    ) -> Result<LineKind, QueueLogError> {
        if line.callid.is_empty() {
            return Err(QueueLogError::MissingCallId(event));
        }
        if matches!(line.callid, b"NONE" | b"MANAGER" | b"CLI" | b"REALTIME") {
            return Ok(LineKind::Ignored(Ignored::NoCallId));
        }
        if is_none(line.queue) {
            return Err(QueueLogError::MissingQueue(event));
        }
        let data = Data { event, line };
        let needs_agent = !matches!(
            event,
            "ENTERQUEUE" | "ABANDON" | "EXITWITHTIMEOUT" | "EXITEMPTY" | "EXITWITHKEY" | "WITHDRAW"
        );
        let agent = if needs_agent {
            if is_none(line.agent) {
                return Err(QueueLogError::MissingAgent(event));
            }
            self.settings.agent_id(&text(line.agent))
        } else {
            String::new()
        };
        let call_id = text(line.callid).into_owned();
        let queue = text(line.queue).into_owned();
        self.check("callid field", &call_id)?;
        self.check("queue field", &queue)?;
        self.check("agent field", &agent)?;
        // Every number the event documents is checked before anything is emitted, so that a
        // rejected line leaves no trace.
        let ts = line.ts;
        let key = leg_key(line.callid, line.queue);
        let leg = self.legs.get(&key).copied();
        // A ring time reaches back from the line's time, but not before the offer (the line's
        // second is cut, the ring time is not).
        let earliest = self.earliest(ts);
        let ring_start = |ms: Millis| {
            (ts - ms)
                .max(leg.map_or(Millis::MIN, |l| l.offered))
                .max(earliest)
        };
        match event {
            "ENTERQUEUE" => {
                let mut emit = self.emit(id_prefix, queue, out);
                emit.call(Role::Offered, ts, &call_id, CallStep::Offered);
                self.legs.insert(
                    key,
                    Leg {
                        offered: ts,
                        answered: false,
                    },
                );
            }
            "RINGNOANSWER" => {
                data.need(1)?;
                let ms = data.number(0, "ring time (ms)")?;
                let mut emit = self.emit(id_prefix, queue, out);
                if ms == 0 {
                    // Not rung at all: busy, in use or unreachable (typical of ringall).
                    let step = CallStep::Unavailable { agent_id: agent };
                    emit.call(Role::Unavailable, ts, &call_id, step);
                } else {
                    let ringing = CallStep::Ringing {
                        agent_id: agent.clone(),
                    };
                    emit.call(Role::Ring, ring_start(ms), &call_id, ringing);
                    let no_answer = CallStep::NoAnswer { agent_id: agent };
                    emit.call(Role::NoAnswer, ts, &call_id, no_answer);
                }
            }
            "RINGINUSE" => {
                let mut emit = self.emit(id_prefix, queue, out);
                let step = CallStep::Unavailable { agent_id: agent };
                emit.call(Role::Unavailable, ts, &call_id, step);
            }
            "RINGCANCELED" => {
                // The caller hung up while it rang; the ABANDON that follows ends the ring.
                data.need(1)?;
                let ms = data.number(0, "ring time (ms)")?;
                let mut emit = self.emit(id_prefix, queue, out);
                let step = CallStep::Ringing { agent_id: agent };
                emit.call(Role::Ring, ring_start(ms), &call_id, step);
            }
            "CONNECT" => {
                data.need(1)?;
                data.number(0, "hold time")?;
                // The ring time came with Asterisk 1.6; without it the ring's length is unknown.
                let ring_s = match data.get(2) {
                    Some(f) if !f.is_empty() => data.number(2, "ring time")?,
                    _ => 0,
                };
                let start = ring_start(ring_s.saturating_mul(1000));
                self.login_if_new(&id_prefix, start, &queue, &agent, out);
                let mut emit = self.emit(id_prefix, queue, out);
                let ringing = CallStep::Ringing {
                    agent_id: agent.clone(),
                };
                emit.call(Role::Ring, start, &call_id, ringing);
                let step = CallStep::Answered { agent_id: agent };
                emit.call(Role::Answer, ts, &call_id, step);
                if let Some(leg) = self.legs.get_mut(&key) {
                    leg.answered = true;
                }
            }
            "COMPLETEAGENT" | "COMPLETECALLER" => {
                data.need(2)?;
                data.number(0, "hold time")?;
                let talk_s = data.number(1, "call time")?;
                self.answer_if_missing(leg, &id_prefix, &call_id, &queue, &agent, ts, talk_s, out);
                self.wrap(id_prefix, ts, call_id, queue, agent, None, out);
                self.legs.remove(&key);
            }
            "ABANDON" => {
                data.need(3)?;
                data.number(0, "position")?;
                data.number(1, "original position")?;
                data.number(2, "wait time")?;
                let mut emit = self.emit(id_prefix, queue, out);
                emit.call(Role::Leave, ts, &call_id, CallStep::Abandoned);
                self.legs.remove(&key);
            }
            "EXITWITHTIMEOUT" | "EXITEMPTY" | "EXITWITHKEY" | "WITHDRAW" => {
                let reason = match event {
                    "EXITWITHTIMEOUT" => {
                        data.need(1)?;
                        data.number(0, "position")?;
                        "timeout"
                    }
                    "EXITEMPTY" => {
                        data.need(1)?;
                        data.number(0, "position")?;
                        "empty"
                    }
                    "EXITWITHKEY" => {
                        data.need(2)?;
                        data.number(1, "position")?;
                        "key"
                    }
                    _ => "withdraw",
                };
                let mut emit = self.emit(id_prefix, queue, out);
                let step = CallStep::FlowedOut {
                    reason: Some(reason.to_owned()),
                };
                emit.call(Role::Leave, ts, &call_id, step);
                self.legs.remove(&key);
            }
            // BLINDTRANSFER / TRANSFER (exten, context, …), ATTENDEDTRANSFER (method, method
            // data, …); then hold time, call time, original position.
            _ => {
                data.need(4)?;
                data.number(2, "hold time")?;
                let talk_s = data.number(3, "call time")?;
                let field = |i: usize| text(data.get(i).unwrap_or(&[][..])).into_owned();
                let (a, b) = (field(0), field(1));
                let target = match (event, a.is_empty(), b.is_empty()) {
                    ("ATTENDEDTRANSFER", _, false) => format!("{a}:{b}"),
                    ("ATTENDEDTRANSFER", false, true) => a,
                    ("ATTENDEDTRANSFER", true, true) => "attended transfer".to_owned(),
                    (_, false, false) => format!("{a}@{b}"),
                    (_, false, true) => a,
                    (_, true, _) => "blind transfer".to_owned(),
                };
                self.check("transfer target", &target)?;
                self.answer_if_missing(leg, &id_prefix, &call_id, &queue, &agent, ts, talk_s, out);
                self.wrap(id_prefix, ts, call_id, queue, agent, Some(target), out);
                self.legs.remove(&key);
            }
        }
        Ok(LineKind::Translated)
    }

    /// A text the line gives an event must pass the contract's rule for ids (see
    /// [`check_text`]); checked before anything is emitted or remembered.
    fn check(&self, field: &'static str, value: &str) -> Result<(), QueueLogError> {
        let max = self.settings.max_id_bytes;
        check_text(value, max).map_err(|problem| match problem {
            TextProblem::TooLong { bytes } => QueueLogError::IdTooLong { field, bytes, max },
            TextProblem::ControlCharacter => QueueLogError::IdControlCharacter(field),
        })
    }

    fn emit<'o>(&self, id_prefix: String, queue: String, out: &'o mut Vec<Translated>) -> Emit<'o> {
        Emit {
            id_prefix,
            queue,
            out,
        }
    }

    /// The earliest an event worked out backwards from a line at `ts` may be stamped (see
    /// [`QueueLogSettings::lookback_ms`]).
    fn earliest(&self, ts: Millis) -> Millis {
        self.newest
            .max(ts)
            .saturating_sub(self.settings.lookback_ms)
    }

    /// A member first seen on a call in `queue` is logged in there from `ts` on.
    fn login_if_new(
        &mut self,
        id_prefix: &str,
        ts: Millis,
        queue: &str,
        agent: &str,
        out: &mut Vec<Translated>,
    ) {
        if self.members.insert(member_key(queue, agent)) {
            let mut emit = self.emit(id_prefix.to_owned(), queue.to_owned(), out);
            emit.agent_state(Role::Login, ts, agent, AgentState::Ready);
        }
    }

    /// A completion or transfer of a leg seen offered but never answered (the `CONNECT` line
    /// is missing: asterisk/asterisk#759 for attended transfers): the answer was `talk_s`
    /// before it.
    #[allow(clippy::too_many_arguments)]
    fn answer_if_missing(
        &mut self,
        leg: Option<Leg>,
        id_prefix: &str,
        call_id: &str,
        queue: &str,
        agent: &str,
        ts: Millis,
        talk_s: Millis,
        out: &mut Vec<Translated>,
    ) {
        let Some(leg) = leg.filter(|l| !l.answered) else {
            return;
        };
        let at = (ts - talk_s.saturating_mul(1000))
            .max(leg.offered)
            .max(self.earliest(ts));
        self.login_if_new(id_prefix, at, queue, agent, out);
        let mut emit = self.emit(id_prefix.to_owned(), queue.to_owned(), out);
        let step = CallStep::Answered {
            agent_id: agent.to_owned(),
        };
        emit.call(Role::Answer, at, call_id, step);
    }

    /// The end of the member's part in a call at `ts`: the transfer out (if `target`), the
    /// wrap, and the wrap_end after the queue's wrap-up time (held until the stream gets there).
    #[allow(clippy::too_many_arguments)]
    fn wrap(
        &mut self,
        id_prefix: String,
        ts: Millis,
        call_id: String,
        queue: String,
        agent: String,
        target: Option<String>,
        out: &mut Vec<Translated>,
    ) {
        let wrapup = self.settings.wrapuptime(&queue);
        let mut emit = self.emit(id_prefix, queue, out);
        if let Some(target_queue_id) = target {
            let step = CallStep::Transferred {
                target_queue_id,
                agent_id: Some(agent.clone()),
            };
            emit.call(Role::Leave, ts, &call_id, step);
        }
        let step = CallStep::Wrap {
            agent_id: agent.clone(),
        };
        emit.call(Role::Wrap, ts, &call_id, step);
        let body = EventBody::Call {
            call_id,
            step: CallStep::WrapEnd { agent_id: agent },
        };
        let wrap_end = emit.event(Role::WrapEnd, ts + wrapup, body);
        if wrapup == 0 {
            emit.out.push(Translated::Event(wrap_end));
        } else {
            self.sequence += 1;
            self.wrap_ends
                .insert((ts + wrapup, self.sequence), wrap_end);
        }
    }
}

/// Whole Unix seconds, in milliseconds.
fn epoch(field: &[u8]) -> Result<Millis, QueueLogError> {
    let bad = || QueueLogError::Epoch(quote(&text(field)));
    let seconds = digits(field).ok_or_else(bad)?;
    let ms = Millis::try_from(seconds)
        .ok()
        .and_then(|s| s.checked_mul(1000))
        .ok_or_else(bad)?;
    if ms < MIN_TS {
        return Err(QueueLogError::EpochBefore2000(seconds));
    }
    Ok(ms)
}

/// A field of ASCII digits only (no sign, no spaces) as a number, if it fits.
fn digits(field: &[u8]) -> Option<u64> {
    if field.is_empty() || field.len() > 19 || !field.iter().all(u8::is_ascii_digit) {
        return None;
    }
    field.iter().try_fold(0u64, |n, &d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

/// A line's data fields, checked the same way for every event.
struct Data<'l, 'a> {
    event: &'static str,
    line: &'l Line<'a>,
}

impl Data<'_, '_> {
    fn need(&self, needed: usize) -> Result<(), QueueLogError> {
        if self.line.data_count < needed {
            return Err(QueueLogError::MissingData {
                event: self.event,
                needed,
                got: self.line.data_count,
            });
        }
        Ok(())
    }

    fn get(&self, i: usize) -> Option<&[u8]> {
        self.line.data.get(i).copied()
    }

    /// Data field `i` as a whole number; `field` names it in the error.
    fn number(&self, i: usize, field: &'static str) -> Result<Millis, QueueLogError> {
        let value = self.get(i).unwrap_or(&[]);
        digits(value)
            .and_then(|n| Millis::try_from(n).ok())
            .ok_or_else(|| QueueLogError::NotANumber {
                event: self.event,
                field,
                value: quote(&text(value)),
            })
    }
}

mod writer;
pub use writer::Writer;

#[cfg(test)]
mod tests;
