//! What to simulate: the queues, their traffic and staffing, and the delivery quirks.
//!
//! Durations of the model are in seconds (`f64`, as a workforce planner would write them);
//! the run length and jitter are in milliseconds like every timestamp in the engine. The
//! types deserialize from a TOML `[simulator]` table; unknown keys are rejected so that a typo
//! does not silently fall back to a default.

use serde::{Deserialize, Serialize};

use crate::event::Millis;

/// A whole simulated contact centre.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Scenario {
    pub queues: Vec<QueueModel>,
    /// A temporary multiplier on one queue's arrival rate.
    pub surge: Option<Surge>,
    /// Events are produced for `[start, start + duration_ms)`.
    pub duration_ms: i64,
    /// Up to this many ms of event time an event may be delivered after later events.
    pub out_of_order_jitter_ms: i64,
    /// Share of events delivered twice, in `[0, 1]`.
    pub duplicate_ratio: f64,
}

/// One queue: its arrival process, its dedicated agents and how callers and agents behave.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueueModel {
    pub id: String,
    /// Mean arrival rate before the wave and the surge are applied.
    pub calls_per_hour: f64,
    pub agents: u32,
    pub mean_talk_s: f64,
    pub mean_acw_s: f64,
    /// Mean of the caller's exponential patience, counted from the first offer; make it huge
    /// for callers who never hang up.
    pub mean_patience_s: f64,
    pub hold_probability: f64,
    pub mean_hold_s: f64,
    /// Mean time to pick up a ringing call; rings are cut at `ring_timeout_s`.
    pub mean_ring_s: f64,
    /// Chance that a ring is not answered and times out (redirect on no answer, RONA).
    pub ring_no_answer_probability: f64,
    pub ring_timeout_s: f64,
    /// Chance that an agent takes a break after wrap-up.
    pub break_probability: f64,
    pub mean_break_s: f64,
    /// Relative amplitude of the sinusoidal arrival-rate wave; 0 for a flat rate.
    pub rate_wave_amplitude: f64,
    pub rate_wave_period_s: f64,
    pub overflow: Option<Overflow>,
    /// Agents who transfer some answered calls at the end of the talk.
    pub transfer_after_answer: Option<AgentTransfer>,
    /// Some of this queue's agents are also logged into another queue.
    pub shared_agents: Option<SharedAgents>,
}

/// Move calls that have waited (unrung) this long in the queue to another queue.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Overflow {
    pub after_s: f64,
    pub target_queue: String,
}

/// At the end of the talk, the agent transfers the call to `target_queue` with `probability`:
/// `transferred` (naming the agent), and the call is `offered` there at the same instant, as a
/// new leg that waits with a fresh patience. The target may be this queue itself (a re-queue).
/// A share `blind_probability` of the transfers are blind, with no wrap (the agent is free at
/// once); the others are followed by the agent's wrap and after-call work. A call is only
/// transferred while it has had fewer than three legs, so transfers never loop.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AgentTransfer {
    pub probability: f64,
    pub target_queue: String,
    pub blind_probability: f64,
}

/// The last `agents` of this queue's agents also log into `queue`: they set their state in
/// both queues and, while idle, take whichever queue's call has waited longest, one call at a
/// time.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SharedAgents {
    pub queue: String,
    pub agents: u32,
}

/// Multiply `queue`'s arrival rate by `factor` during `[start_after_s, start_after_s + duration_s)`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Surge {
    pub queue: String,
    pub start_after_s: f64,
    pub duration_s: f64,
    pub factor: f64,
}

/// A scenario the simulator would have to bend to run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScenarioError {
    #[error("the scenario has no queues")]
    NoQueues,
    #[error("a queue has an empty id")]
    EmptyQueueId,
    #[error("queue `{0}` is defined twice")]
    DuplicateQueue(String),
    #[error("queue `{queue}`: `{field}` must be a finite number >= 0, got {value}")]
    NotNonNegative {
        queue: String,
        field: &'static str,
        value: f64,
    },
    #[error("queue `{queue}`: `{field}` must be > 0, got {value}")]
    NotPositive {
        queue: String,
        field: &'static str,
        value: f64,
    },
    #[error("queue `{queue}`: `{field}` must be a probability in [0, 1], got {value}")]
    NotProbability {
        queue: String,
        field: &'static str,
        value: f64,
    },
    #[error("queue `{queue}` overflows to unknown queue `{target}`")]
    UnknownOverflowTarget { queue: String, target: String },
    #[error("queue `{0}` overflows to itself")]
    OverflowToSelf(String),
    #[error("queue `{queue}`: `{field}` names unknown queue `{target}`")]
    UnknownQueue {
        queue: String,
        field: &'static str,
        target: String,
    },
    #[error("queue `{0}` shares agents with itself")]
    SharedWithSelf(String),
    #[error("queue `{queue}` shares {shared} agents but has {agents}")]
    TooManySharedAgents {
        queue: String,
        shared: u32,
        agents: u32,
    },
    #[error("the surge names unknown queue `{0}`")]
    UnknownSurgeQueue(String),
    #[error("`{field}` must be a finite number >= 0, got {value}")]
    InvalidGlobal { field: &'static str, value: f64 },
}

const DEFAULT_DURATION_MS: Millis = 2 * 3_600_000;

impl Default for Scenario {
    /// Empty: a `[simulator]` table must list its queues. Use [`Scenario::demo`] for a ready
    /// contact centre.
    fn default() -> Self {
        Scenario {
            queues: Vec::new(),
            surge: None,
            duration_ms: DEFAULT_DURATION_MS,
            out_of_order_jitter_ms: 0,
            duplicate_ratio: 0.0,
        }
    }
}

impl Default for QueueModel {
    /// A small inbound queue of 60 calls/h, staffed for roughly 85 % answered within 20 s.
    fn default() -> Self {
        QueueModel {
            id: "default".to_string(),
            calls_per_hour: 60.0,
            agents: 8,
            mean_talk_s: 240.0,
            mean_acw_s: 45.0,
            mean_patience_s: 90.0,
            hold_probability: 0.2,
            mean_hold_s: 40.0,
            mean_ring_s: 4.0,
            ring_no_answer_probability: 0.03,
            ring_timeout_s: 20.0,
            break_probability: 0.1,
            mean_break_s: 300.0,
            rate_wave_amplitude: 0.0,
            rate_wave_period_s: 3_600.0,
            overflow: None,
            transfer_after_answer: None,
            shared_agents: None,
        }
    }
}

impl Scenario {
    /// The demo contact centre: four queues of different size and handling time, a support
    /// surge (×2.5 from minute 10 to minute 30) and billing overflowing to support after 30 s;
    /// sales agents transfer 4 % of their answered calls to retention and support agents 6 %
    /// to billing, and three sales agents also take retention calls.
    /// Staffing was tuned against this simulator for a steady-state service level (answered
    /// within 20 s) of roughly 80–90 % per 15 minutes outside the surge.
    pub fn demo() -> Scenario {
        let base = QueueModel::default();
        Scenario {
            queues: vec![
                QueueModel {
                    id: "sales".to_string(),
                    calls_per_hour: 180.0,
                    agents: 20,
                    mean_talk_s: 240.0,
                    mean_acw_s: 40.0,
                    mean_patience_s: 90.0,
                    rate_wave_amplitude: 0.1,
                    rate_wave_period_s: 3_600.0,
                    // Callers who turn out to want to cancel are passed on to retention.
                    transfer_after_answer: Some(AgentTransfer {
                        probability: 0.04,
                        target_queue: "retention".to_string(),
                        blind_probability: 0.6,
                    }),
                    // Three sales agents also take retention calls.
                    shared_agents: Some(SharedAgents {
                        queue: "retention".to_string(),
                        agents: 3,
                    }),
                    ..base.clone()
                },
                QueueModel {
                    id: "support".to_string(),
                    calls_per_hour: 240.0,
                    agents: 32,
                    mean_talk_s: 300.0,
                    mean_acw_s: 60.0,
                    mean_patience_s: 120.0,
                    mean_hold_s: 60.0,
                    // Billing questions that reached support are passed on to billing.
                    transfer_after_answer: Some(AgentTransfer {
                        probability: 0.06,
                        target_queue: "billing".to_string(),
                        blind_probability: 0.4,
                    }),
                    ..base.clone()
                },
                QueueModel {
                    id: "billing".to_string(),
                    calls_per_hour: 120.0,
                    agents: 12,
                    mean_talk_s: 200.0,
                    mean_acw_s: 45.0,
                    mean_patience_s: 75.0,
                    rate_wave_amplitude: 0.15,
                    rate_wave_period_s: 2_400.0,
                    overflow: Some(Overflow {
                        after_s: 30.0,
                        target_queue: "support".to_string(),
                    }),
                    ..base.clone()
                },
                QueueModel {
                    id: "retention".to_string(),
                    calls_per_hour: 60.0,
                    agents: 9,
                    mean_talk_s: 280.0,
                    mean_acw_s: 50.0,
                    mean_patience_s: 100.0,
                    hold_probability: 0.25,
                    ..base
                },
            ],
            surge: Some(Surge {
                queue: "support".to_string(),
                start_after_s: 600.0,
                duration_s: 1_200.0,
                factor: 2.5,
            }),
            duration_ms: DEFAULT_DURATION_MS,
            out_of_order_jitter_ms: 0,
            duplicate_ratio: 0.0,
        }
    }

    /// Checks what [`crate::sim::Simulator::new`] would otherwise quietly repair (clamping
    /// numbers, ignoring unknown queue references), so a configuration error can be reported.
    pub fn validate(&self) -> Result<(), ScenarioError> {
        if self.queues.is_empty() {
            return Err(ScenarioError::NoQueues);
        }
        for (i, q) in self.queues.iter().enumerate() {
            if q.id.is_empty() {
                return Err(ScenarioError::EmptyQueueId);
            }
            if self.queues[..i].iter().any(|p| p.id == q.id) {
                return Err(ScenarioError::DuplicateQueue(q.id.clone()));
            }
            q.validate()?;
            if let Some(o) = &q.overflow {
                if o.target_queue == q.id {
                    return Err(ScenarioError::OverflowToSelf(q.id.clone()));
                }
                if !self.queues.iter().any(|p| p.id == o.target_queue) {
                    return Err(ScenarioError::UnknownOverflowTarget {
                        queue: q.id.clone(),
                        target: o.target_queue.clone(),
                    });
                }
            }
        }
        // References of the newer options, once every queue id is known to be sound.
        for q in &self.queues {
            let known = |id: &str| self.queues.iter().any(|p| p.id == id);
            if let Some(t) = &q.transfer_after_answer {
                if !known(&t.target_queue) {
                    return Err(ScenarioError::UnknownQueue {
                        queue: q.id.clone(),
                        field: "transfer_after_answer.target_queue",
                        target: t.target_queue.clone(),
                    });
                }
            }
            if let Some(s) = &q.shared_agents {
                if s.queue == q.id {
                    return Err(ScenarioError::SharedWithSelf(q.id.clone()));
                }
                if !known(&s.queue) {
                    return Err(ScenarioError::UnknownQueue {
                        queue: q.id.clone(),
                        field: "shared_agents.queue",
                        target: s.queue.clone(),
                    });
                }
                if s.agents > q.agents {
                    return Err(ScenarioError::TooManySharedAgents {
                        queue: q.id.clone(),
                        shared: s.agents,
                        agents: q.agents,
                    });
                }
            }
        }
        if let Some(s) = &self.surge {
            if !self.queues.iter().any(|q| q.id == s.queue) {
                return Err(ScenarioError::UnknownSurgeQueue(s.queue.clone()));
            }
            for (field, value) in [
                ("surge.start_after_s", s.start_after_s),
                ("surge.duration_s", s.duration_s),
                ("surge.factor", s.factor),
            ] {
                if !(value.is_finite() && value >= 0.0) {
                    return Err(ScenarioError::InvalidGlobal { field, value });
                }
            }
        }
        for (field, value) in [
            ("duration_ms", self.duration_ms as f64),
            ("out_of_order_jitter_ms", self.out_of_order_jitter_ms as f64),
        ] {
            if value < 0.0 {
                return Err(ScenarioError::InvalidGlobal { field, value });
            }
        }
        if !(0.0..=1.0).contains(&self.duplicate_ratio) {
            return Err(ScenarioError::InvalidGlobal {
                field: "duplicate_ratio",
                value: self.duplicate_ratio,
            });
        }
        Ok(())
    }
}

impl QueueModel {
    fn validate(&self) -> Result<(), ScenarioError> {
        let non_negative = [
            ("calls_per_hour", self.calls_per_hour),
            ("mean_talk_s", self.mean_talk_s),
            ("mean_acw_s", self.mean_acw_s),
            ("mean_patience_s", self.mean_patience_s),
            ("mean_hold_s", self.mean_hold_s),
            ("mean_ring_s", self.mean_ring_s),
            ("ring_timeout_s", self.ring_timeout_s),
            ("mean_break_s", self.mean_break_s),
            ("rate_wave_amplitude", self.rate_wave_amplitude),
        ];
        for (field, value) in non_negative {
            if !(value.is_finite() && value >= 0.0) {
                return Err(ScenarioError::NotNonNegative {
                    queue: self.id.clone(),
                    field,
                    value,
                });
            }
        }
        if let Some(o) = &self.overflow {
            if !(o.after_s.is_finite() && o.after_s >= 0.0) {
                return Err(ScenarioError::NotNonNegative {
                    queue: self.id.clone(),
                    field: "overflow.after_s",
                    value: o.after_s,
                });
            }
        }
        // Only a wave needs a period; a flat queue may leave it at anything.
        if self.rate_wave_amplitude > 0.0
            && !(self.rate_wave_period_s.is_finite() && self.rate_wave_period_s > 0.0)
        {
            return Err(ScenarioError::NotPositive {
                queue: self.id.clone(),
                field: "rate_wave_period_s",
                value: self.rate_wave_period_s,
            });
        }
        let mut probabilities = vec![
            ("hold_probability", self.hold_probability),
            (
                "ring_no_answer_probability",
                self.ring_no_answer_probability,
            ),
            ("break_probability", self.break_probability),
        ];
        if let Some(t) = &self.transfer_after_answer {
            probabilities.push(("transfer_after_answer.probability", t.probability));
            probabilities.push((
                "transfer_after_answer.blind_probability",
                t.blind_probability,
            ));
        }
        for (field, value) in probabilities {
            if !(0.0..=1.0).contains(&value) {
                return Err(ScenarioError::NotProbability {
                    queue: self.id.clone(),
                    field,
                    value,
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
