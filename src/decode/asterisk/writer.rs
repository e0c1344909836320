//! Events written back as queue_log lines, as Asterisk would have logged them: what
//! `acdstream simulate --format asterisk-queue-log` writes, for trying the queue_log source on
//! any amount of traffic.
//!
//! The way back loses what queue_log cannot say: milliseconds (lines are in whole seconds),
//! holds and the end of after-call work (a queue's `wrapuptime` says that), and where a
//! transfer went (a blind transfer names the target queue as its extension). A ring that ends
//! without an answer is written when the call moves on: `RINGNOANSWER` with its length when
//! it rings elsewhere, `RINGCANCELED` when the caller hangs up.

use std::collections::{HashMap, HashSet};
use std::io::{self, Write};

use crate::event::{AgentState, CallStep, CtiEvent, EventBody, Millis};

/// A leg being written.
#[derive(Debug, Default)]
struct Leg {
    offered: Millis,
    /// The ring not yet written: its agent and start.
    ring: Option<(String, Millis)>,
    answered: Option<Millis>,
}

/// Writes events as queue_log lines; see the module documentation.
#[derive(Debug, Default)]
pub struct Writer {
    legs: HashMap<(String, String), Leg>,
    /// (queue, agent) of the members added so far.
    members: HashSet<(String, String)>,
    /// Numbers the member channels' unique ids in CONNECT lines.
    channels: u64,
}

fn secs(ms: Millis) -> Millis {
    ms.div_euclid(1000)
}

impl Writer {
    pub fn new() -> Writer {
        Writer::default()
    }

    /// Writes the lines `event` makes (none for a hold or a wrap_end).
    pub fn write(&mut self, event: &CtiEvent, out: &mut impl Write) -> io::Result<()> {
        let t = secs(event.ts);
        let queue = event.queue_id.as_str();
        match &event.body {
            EventBody::AgentState {
                agent_id,
                state,
                reason,
            } => {
                let member = (queue.to_owned(), agent_id.clone());
                let reason = reason.as_deref().unwrap_or("");
                if *state == AgentState::LoggedOut {
                    if self.members.remove(&member) {
                        writeln!(out, "{t}|NONE|{queue}|{agent_id}|REMOVEMEMBER|")?;
                    }
                    return Ok(());
                }
                if self.members.insert(member) {
                    writeln!(out, "{t}|MANAGER|{queue}|{agent_id}|ADDMEMBER|")?;
                }
                match state {
                    AgentState::NotReady => {
                        writeln!(out, "{t}|NONE|{queue}|{agent_id}|PAUSE|{reason}")
                    }
                    _ => writeln!(out, "{t}|NONE|{queue}|{agent_id}|UNPAUSE|{reason}"),
                }
            }
            EventBody::Call { call_id, step } => {
                let key = (call_id.clone(), queue.to_owned());
                let line = |out: &mut dyn Write, agent: &str, what: std::fmt::Arguments<'_>| {
                    writeln!(out, "{t}|{call_id}|{queue}|{agent}|{what}")
                };
                if let CallStep::Offered = step {
                    self.legs.insert(
                        key,
                        Leg {
                            offered: event.ts,
                            ..Leg::default()
                        },
                    );
                    return line(out, "NONE", format_args!("ENTERQUEUE||{call_id}|1"));
                }
                let Some(leg) = self.legs.get_mut(&key) else {
                    // A step of a leg whose offer was not written: queue_log would not have it.
                    return Ok(());
                };
                let waited = secs(event.ts - leg.offered);
                let talked = |leg: &Leg| leg.answered.map_or(0, |a| secs(event.ts - a));
                match step {
                    CallStep::Ringing { agent_id } => {
                        if let Some((agent, at)) = leg.ring.take() {
                            let ms = (event.ts - at).max(1);
                            line(out, &agent, format_args!("RINGNOANSWER|{ms}"))?;
                        }
                        leg.ring = Some((agent_id.clone(), event.ts));
                        Ok(())
                    }
                    CallStep::NoAnswer { agent_id } => {
                        let at = match leg.ring.take() {
                            Some((agent, at)) if agent == *agent_id => at,
                            other => {
                                leg.ring = other;
                                return Ok(());
                            }
                        };
                        let ms = (event.ts - at).max(1);
                        line(out, agent_id, format_args!("RINGNOANSWER|{ms}"))
                    }
                    CallStep::Unavailable { agent_id } => {
                        line(out, agent_id, format_args!("RINGNOANSWER|0"))
                    }
                    CallStep::Answered { agent_id } => {
                        let mut ring_s = 0;
                        if let Some((agent, at)) = leg.ring.take() {
                            if agent == *agent_id {
                                ring_s = secs(event.ts - at);
                            } else {
                                let ms = (event.ts - at).max(1);
                                line(out, &agent, format_args!("RINGNOANSWER|{ms}"))?;
                            }
                        }
                        leg.answered = Some(event.ts);
                        self.channels += 1;
                        let channel = format!("{t}.{}", self.channels);
                        line(
                            out,
                            agent_id,
                            format_args!("CONNECT|{waited}|{channel}|{ring_s}"),
                        )
                    }
                    CallStep::Wrap { agent_id } => {
                        let Some(answered) = leg.answered else {
                            return Ok(());
                        };
                        let hold = secs(answered - leg.offered);
                        let talk = talked(leg);
                        self.legs.remove(&key);
                        line(out, agent_id, format_args!("COMPLETEAGENT|{hold}|{talk}|1"))
                    }
                    CallStep::Abandoned => {
                        if let Some((agent, at)) = leg.ring.take() {
                            let ms = (event.ts - at).max(1);
                            line(out, &agent, format_args!("RINGCANCELED|{ms}"))?;
                        }
                        self.legs.remove(&key);
                        line(out, "NONE", format_args!("ABANDON|1|1|{waited}"))
                    }
                    CallStep::Transferred {
                        target_queue_id,
                        agent_id,
                    } => {
                        // The member's part ends here: a wrap after it is not written again.
                        let answered = leg.answered;
                        let talk = talked(leg);
                        let offered = leg.offered;
                        self.legs.remove(&key);
                        let Some(answered) = answered else {
                            // Unanswered: the queue moved the caller on.
                            return line(out, "NONE", format_args!("EXITWITHTIMEOUT|1|1|{waited}"));
                        };
                        let hold = secs(answered - offered);
                        let agent = agent_id.as_deref().unwrap_or("NONE");
                        line(
                            out,
                            agent,
                            format_args!(
                                "BLINDTRANSFER|{target_queue_id}|from-queue|{hold}|{talk}|1"
                            ),
                        )
                    }
                    CallStep::FlowedOut { .. } => {
                        self.legs.remove(&key);
                        line(out, "NONE", format_args!("EXITWITHTIMEOUT|1|1|{waited}"))
                    }
                    CallStep::Offered
                    | CallStep::Hold { .. }
                    | CallStep::Unhold { .. }
                    | CallStep::WrapEnd { .. } => Ok(()),
                }
            }
        }
    }
}
