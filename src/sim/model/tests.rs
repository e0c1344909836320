use std::collections::{HashMap, HashSet};

use super::*;
use crate::event::EventType;
use crate::sim::{AgentTransfer, Overflow, SharedAgents, Simulator, Surge};

const START: Millis = 1_700_000_000_000;
const HOUR_MS: Millis = 3_600_000;

/// Where a call stands in one queue, as seen from the stream.
#[derive(Debug, Clone, PartialEq)]
enum Life {
    /// Offered and not answered; `ringing` names the agent it rings, if any.
    Queued {
        ringing: Option<String>,
    },
    Talking {
        agent: String,
        on_hold: bool,
    },
    Wrapping {
        agent: String,
    },
    Ended,
}

#[derive(Debug, Default)]
struct AgentView {
    /// The call it is ringing for or handling, as (queue, call) in any of its queues, until
    /// wrap_end, abandon, RONA or a blind transfer.
    call: Option<(String, String)>,
}

/// What a stream that passed [`check_contract`] contained.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    pub(crate) per_type: HashMap<EventType, usize>,
    pub(crate) reasons: HashMap<String, usize>,
    /// `agent_state`s without a queue (a shared agent's state in all its queues).
    pub(crate) all_queues: usize,
}

impl Tally {
    pub(crate) fn count(&self, t: EventType) -> usize {
        self.per_type.get(&t).copied().unwrap_or(0)
    }
}

/// Replays a time-ordered stream against the call contract and the agent model: each call's
/// life in each queue is a sequence of legs `offered → ringing* → answered → (hold → unhold)* →
/// wrap → wrap_end` or ending `abandoned` / `transferred`; a transfer is offered in its target
/// (the same queue included) at the same instant, and a transfer after an answer names the
/// answering agent, who wraps at that instant or, for a blind transfer, is free at once. Agents
/// ring only when ready in the ringing queue and engaged on no other call in any queue (one
/// call at a time across their queues), and answer what they ring.
pub(crate) fn check_contract(events: &[CtiEvent]) -> Result<Tally, String> {
    let mut lives: HashMap<(String, String), Life> = HashMap::new();
    // Readiness per (agent, queue); the call an agent is engaged on, across its queues.
    let mut ready: HashMap<(String, String), bool> = HashMap::new();
    let mut agents: HashMap<String, AgentView> = HashMap::new();
    let mut last_rona: HashMap<String, Millis> = HashMap::new();
    // Legs transferred after an answer whose agent has yet to end the wrap: (queue, call,
    // agent) → whether the wrap came.
    let mut after_transfer: HashMap<(String, String, String), bool> = HashMap::new();
    let mut pending_offer: HashMap<String, (String, Millis)> = HashMap::new();
    let mut tally = Tally::default();
    let mut last_ts = Millis::MIN;
    for (i, e) in events.iter().enumerate() {
        let fail = |msg: &str| Err(format!("event #{i} {e:?}: {msg}"));
        if e.ts < last_ts {
            return fail("time went backwards");
        }
        last_ts = e.ts;
        *tally.per_type.entry(e.event_type()).or_default() += 1;
        match &e.body {
            EventBody::AgentState {
                agent_id,
                state,
                reason,
            } => {
                if let Some(r) = reason {
                    *tally.reasons.entry(r.clone()).or_default() += 1;
                }
                // Without a queue: for every queue the agent is logged into.
                let queues: Vec<String> = if e.queue_id.is_empty() {
                    let mut q: Vec<String> = ready
                        .keys()
                        .filter(|(a, _)| a == agent_id)
                        .map(|(_, q)| q.clone())
                        .collect();
                    q.sort();
                    if q.len() < 2 {
                        return fail("a state without a queue for an agent of one queue");
                    }
                    tally.all_queues += 1;
                    q
                } else {
                    vec![e.queue_id.clone()]
                };
                for queue in queues {
                    let is_ready = ready.entry((agent_id.clone(), queue)).or_default();
                    let view = agents.entry(agent_id.clone()).or_default();
                    match (state, reason.as_deref()) {
                        (AgentState::Ready, None) => {
                            if *is_ready || view.call.is_some() {
                                return fail("ready while ready or busy");
                            }
                            *is_ready = true;
                        }
                        (AgentState::NotReady, Some("rona")) => {
                            if !*is_ready {
                                return fail("RONA while not ready");
                            }
                            *is_ready = false;
                            match view.call.take() {
                                Some(key) => {
                                    last_rona.insert(agent_id.clone(), e.ts);
                                    match lives.get_mut(&key) {
                                        Some(Life::Queued { ringing }) => *ringing = None,
                                        _ => return fail("RONA for a call that is not ringing"),
                                    }
                                }
                                // The same RONA in another of the agent's queues.
                                None if last_rona.get(agent_id) == Some(&e.ts) => {}
                                None => return fail("RONA without a ringing call"),
                            }
                        }
                        (AgentState::NotReady, Some("break")) => {
                            if !*is_ready || view.call.is_some() {
                                return fail("break while not ready or busy");
                            }
                            *is_ready = false;
                        }
                        _ => return fail("unexpected agent state"),
                    }
                }
            }
            EventBody::Call { call_id, step } => {
                let key = (e.queue_id.clone(), call_id.clone());
                let mut transfer_offer = false;
                if let Some((queue, ts)) = pending_offer.get(call_id) {
                    if !(matches!(step, CallStep::Offered) && *queue == e.queue_id) {
                        return fail("transferred call not offered in its target next");
                    }
                    if *ts != e.ts {
                        return fail("transfer offered at another time");
                    }
                    pending_offer.remove(call_id);
                    transfer_offer = true;
                }
                // The transferring agent's wrap and wrap_end belong to the leg they answered.
                if let CallStep::Wrap { agent_id } | CallStep::WrapEnd { agent_id } = step {
                    let k = (e.queue_id.clone(), call_id.clone(), agent_id.clone());
                    if let Some(wrapped) = after_transfer.get_mut(&k) {
                        match step {
                            CallStep::Wrap { .. } if !*wrapped => *wrapped = true,
                            CallStep::WrapEnd { .. } if *wrapped => {
                                if let Some(view) = agents.get_mut(agent_id) {
                                    view.call = None;
                                }
                                after_transfer.remove(&k);
                            }
                            _ => return fail("wrap steps of a transfer out of order"),
                        }
                        continue;
                    }
                }
                let life = lives.get(&key).cloned();
                let next = match (life, step) {
                    (None, CallStep::Offered) => Life::Queued { ringing: None },
                    (Some(Life::Ended), CallStep::Offered) if transfer_offer => {
                        Life::Queued { ringing: None }
                    }
                    (None, _) => return fail("call event before its offer"),
                    (Some(Life::Ended), _) => return fail("call event after its end"),
                    (Some(Life::Queued { ringing: None }), CallStep::Ringing { agent_id }) => {
                        if !ready
                            .get(&(agent_id.clone(), e.queue_id.clone()))
                            .copied()
                            .unwrap_or(false)
                        {
                            return fail("rang an agent not ready in this queue");
                        }
                        let view = agents.entry(agent_id.clone()).or_default();
                        if view.call.is_some() {
                            return fail("rang an agent engaged on another call");
                        }
                        view.call = Some(key.clone());
                        Life::Queued {
                            ringing: Some(agent_id.clone()),
                        }
                    }
                    (
                        Some(Life::Queued {
                            ringing: Some(ringing),
                        }),
                        CallStep::Answered { agent_id },
                    ) if ringing == *agent_id => Life::Talking {
                        agent: ringing,
                        on_hold: false,
                    },
                    (Some(Life::Queued { ringing }), CallStep::Abandoned) => {
                        if let Some(agent) = ringing {
                            if let Some(view) = agents.get_mut(&agent) {
                                view.call = None;
                            }
                        }
                        Life::Ended
                    }
                    (
                        Some(Life::Queued { ringing: None }),
                        CallStep::Transferred {
                            target_queue_id,
                            agent_id: None,
                        },
                    ) => {
                        pending_offer.insert(call_id.clone(), (target_queue_id.clone(), e.ts));
                        Life::Ended
                    }
                    (
                        Some(Life::Talking {
                            agent,
                            on_hold: false,
                        }),
                        CallStep::Transferred {
                            target_queue_id,
                            agent_id: Some(agent_id),
                        },
                    ) if agent == *agent_id => {
                        pending_offer.insert(call_id.clone(), (target_queue_id.clone(), e.ts));
                        // A wrap follows at the same instant, or it was a blind transfer.
                        let wraps = events[i + 1..]
                            .iter()
                            .take_while(|x| x.ts == e.ts)
                            .any(|x| {
                                x.queue_id == e.queue_id
                                    && matches!(&x.body, EventBody::Call {
                                        call_id: c,
                                        step: CallStep::Wrap { agent_id: a },
                                    } if c == call_id && a == agent_id)
                            });
                        if wraps {
                            after_transfer.insert((key.0.clone(), key.1.clone(), agent), false);
                        } else if let Some(view) = agents.get_mut(&agent) {
                            view.call = None;
                        }
                        Life::Ended
                    }
                    (
                        Some(Life::Talking {
                            agent,
                            on_hold: false,
                        }),
                        CallStep::Hold { agent_id },
                    ) if agent == *agent_id => Life::Talking {
                        agent,
                        on_hold: true,
                    },
                    (
                        Some(Life::Talking {
                            agent,
                            on_hold: true,
                        }),
                        CallStep::Unhold { agent_id },
                    ) if agent == *agent_id => Life::Talking {
                        agent,
                        on_hold: false,
                    },
                    (
                        Some(Life::Talking {
                            agent,
                            on_hold: false,
                        }),
                        CallStep::Wrap { agent_id },
                    ) if agent == *agent_id => Life::Wrapping { agent },
                    (Some(Life::Wrapping { agent }), CallStep::WrapEnd { agent_id })
                        if agent == *agent_id =>
                    {
                        if let Some(view) = agents.get_mut(&agent) {
                            view.call = None;
                        }
                        Life::Ended
                    }
                    (Some(life), _) => return fail(&format!("not allowed after {life:?}")),
                };
                lives.insert(key, next);
            }
        }
    }
    if let Some((call, _)) = pending_offer.into_iter().next() {
        return Err(format!(
            "transferred call {call} never offered in its target"
        ));
    }
    Ok(tally)
}

fn run(scenario: Scenario, seed: u64) -> Vec<CtiEvent> {
    Simulator::new(scenario, seed, START).collect()
}

fn one_queue(queue: QueueModel, hours: i64) -> Scenario {
    Scenario {
        queues: vec![queue],
        duration_ms: hours * HOUR_MS,
        ..Scenario::default()
    }
}

fn offered_times(events: &[CtiEvent], queue: &str) -> Vec<Millis> {
    events
        .iter()
        .filter(|e| e.queue_id == queue && e.event_type() == EventType::Offered)
        .map(|e| e.ts - START)
        .collect()
}

#[test]
fn demo_runs_follow_the_contract_and_exercise_every_path() {
    let mut seen: HashSet<EventType> = HashSet::new();
    for seed in [1, 2, 0xDEAD_BEEF] {
        let events = run(Scenario::demo(), seed);
        let tally = check_contract(&events).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        seen.extend(tally.per_type.keys());
        for t in SIMULATED {
            assert!(tally.count(t) > 0, "seed {seed}: no {t} events");
        }
        // Sales and support agents transfer calls (to retention and billing), and the three
        // sales agents logged into retention answer some of its calls.
        let by_agent = |q: &str| {
            events.iter().any(|e| {
                e.queue_id == q
                    && matches!(
                        &e.body,
                        EventBody::Call {
                            step: CallStep::Transferred {
                                agent_id: Some(_),
                                ..
                            },
                            ..
                        }
                    )
            })
        };
        assert!(by_agent("sales") && by_agent("support"), "seed {seed}");
        let shared_answers = events
            .iter()
            .filter(|e| {
                e.queue_id == "retention"
                    && matches!(&e.body, EventBody::Call {
                        step: CallStep::Answered { agent_id },
                        ..
                    } if agent_id.starts_with("sales-"))
            })
            .count();
        assert!(shared_answers > 0, "seed {seed}");
        assert!(tally.reasons.get("rona").is_some_and(|&n| n > 0));
        // The shared agents' breaks and RONAs, in both their queues at once.
        assert!(tally.all_queues > 0, "seed {seed}");
        assert!(tally.reasons.get("break").is_some_and(|&n| n > 0));
        // 600 calls/h nominal over 2 h plus the surge: a few thousand offers.
        let offered = tally.count(EventType::Offered);
        assert!((1_200..2_200).contains(&offered), "seed {seed}: {offered}");
        // Agents per queue as configured, all logged in at the start.
        let logins = events
            .iter()
            .take_while(|e| e.ts == START && e.event_type() == EventType::AgentState)
            .count();
        // 73 agents, three of them (sales') logged into retention too.
        assert_eq!(logins, 20 + 32 + 12 + 9 + 3);
    }
    assert_eq!(seen.len(), SIMULATED.len());
}

/// The event types the simulator makes: every type but those only some ACDs report (an
/// Asterisk queue_log's ring timeouts, members it could not ring and flow-outs), which the
/// simulator's model expresses with the others (a ring ends at the next ring or the answer,
/// an overflow is an unanswered transfer).
const SIMULATED: [EventType; 10] = {
    use EventType::*;
    [
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
    ]
};

#[test]
fn homogeneous_arrival_count_matches_rate() {
    let queue = QueueModel {
        id: "flat".into(),
        calls_per_hour: 600.0,
        agents: 200,
        ..QueueModel::default()
    };
    let events = run(one_queue(queue, 10), 21);
    check_contract(&events).unwrap();
    let n = offered_times(&events, "flat").len() as f64;
    // Expected 6 000, σ ≈ 77 (1.3 %): ±5 % is almost 4σ.
    assert!((n - 6_000.0).abs() <= 300.0, "{n} offered");
}

#[test]
fn surge_multiplies_the_rate_inside_its_window_only() {
    let queue = QueueModel {
        id: "s".into(),
        calls_per_hour: 600.0,
        agents: 300,
        ..QueueModel::default()
    };
    let scenario = Scenario {
        surge: Some(Surge {
            queue: "s".into(),
            start_after_s: 7_200.0,
            duration_s: 7_200.0,
            factor: 2.5,
        }),
        ..one_queue(queue, 6)
    };
    let events = run(scenario, 22);
    check_contract(&events).unwrap();
    let times = offered_times(&events, "s");
    let inside = times
        .iter()
        .filter(|&&t| (2 * HOUR_MS..4 * HOUR_MS).contains(&t))
        .count() as f64;
    let outside = times.len() as f64 - inside;
    // 2 h at 1 500/h against 4 h at 600/h: rates 1 500 vs 600 per hour. Relative standard
    // error of the ratio ≈ √(1/3000 + 1/2400) ≈ 2.7 %; allow ±10 %.
    let ratio = (inside / 2.0) / (outside / 4.0);
    assert!((ratio - 2.5).abs() <= 0.25, "surge ratio {ratio}");
    // The baseline itself is undisturbed by the surge.
    assert!(
        (outside / 4.0 - 600.0).abs() <= 60.0,
        "baseline {}",
        outside / 4.0
    );
}

#[test]
fn wave_shapes_the_rate() {
    let queue = QueueModel {
        id: "w".into(),
        calls_per_hour: 600.0,
        agents: 200,
        rate_wave_amplitude: 0.5,
        rate_wave_period_s: 3_600.0,
        ..QueueModel::default()
    };
    let events = run(one_queue(queue, 10), 23);
    let times = offered_times(&events, "w");
    let crest = times.iter().filter(|&&t| t % HOUR_MS < HOUR_MS / 2).count() as f64;
    let trough = times.len() as f64 - crest;
    // Mean of 1 + a·sin over each half period is 1 ± 2a/π, so the halves compare as
    // (1 + 1/π) / (1 − 1/π) ≈ 1.93 for a = 0.5; allow ±10 %.
    let expected = (1.0 + 1.0 / std::f64::consts::PI) / (1.0 - 1.0 / std::f64::consts::PI);
    let ratio = crest / trough;
    assert!((ratio / expected - 1.0).abs() <= 0.10, "wave ratio {ratio}");
    assert!((times.len() as f64 - 6_000.0).abs() <= 300.0);
}

#[test]
fn impatient_callers_abandon_and_patient_ones_never_do() {
    let understaffed = QueueModel {
        id: "u".into(),
        calls_per_hour: 300.0,
        agents: 2,
        mean_patience_s: 5.0,
        ..QueueModel::default()
    };
    let events = run(one_queue(understaffed.clone(), 2), 31);
    let tally = check_contract(&events).unwrap();
    let offered = tally.count(EventType::Offered);
    let abandoned = tally.count(EventType::Abandoned);
    assert!(
        abandoned * 2 > offered,
        "{abandoned} of {offered} abandoned"
    );

    let patient = QueueModel {
        mean_patience_s: 1e12,
        ..understaffed
    };
    let events = run(one_queue(patient, 2), 31);
    let tally = check_contract(&events).unwrap();
    assert_eq!(tally.count(EventType::Abandoned), 0);
    assert!(tally.count(EventType::Answered) > 0);
}

#[test]
fn abandon_while_ringing_frees_the_agent() {
    // Rings always run to a long timeout and patience is short, so callers give up mid-ring.
    let queue = QueueModel {
        id: "r".into(),
        calls_per_hour: 120.0,
        agents: 3,
        mean_patience_s: 10.0,
        mean_ring_s: 1e6,
        ring_timeout_s: 600.0,
        ..QueueModel::default()
    };
    let events = run(one_queue(queue, 2), 32);
    check_contract(&events).unwrap();
    let mut ringing: HashMap<&str, &str> = HashMap::new();
    let mut abandoned_mid_ring = 0;
    let mut rang_after = HashSet::new();
    for e in &events {
        if let EventBody::Call { call_id, step } = &e.body {
            match step {
                CallStep::Ringing { agent_id } => {
                    if ringing.values().any(|a| a == agent_id) {
                        rang_after.insert(agent_id.clone());
                    }
                    ringing.insert(call_id, agent_id);
                }
                CallStep::Abandoned if ringing.contains_key(call_id.as_str()) => {
                    abandoned_mid_ring += 1;
                }
                _ => {}
            }
        }
    }
    assert!(abandoned_mid_ring > 50, "{abandoned_mid_ring}");
    // Freed agents went on to ring other calls (checked free by the contract checker).
    assert!(!rang_after.is_empty());
}

#[test]
fn overflow_moves_unserved_calls_at_the_deadline() {
    let scenario = Scenario {
        queues: vec![
            QueueModel {
                id: "front".into(),
                calls_per_hour: 240.0,
                agents: 0,
                mean_patience_s: 1e9,
                overflow: Some(Overflow {
                    after_s: 30.0,
                    target_queue: "back".into(),
                }),
                ..QueueModel::default()
            },
            QueueModel {
                id: "back".into(),
                calls_per_hour: 0.0,
                agents: 40,
                // Would send calls back; a call must never re-enter a queue it left.
                overflow: Some(Overflow {
                    after_s: 0.0,
                    target_queue: "front".into(),
                }),
                ..QueueModel::default()
            },
        ],
        duration_ms: HOUR_MS,
        ..Scenario::default()
    };
    scenario.validate().unwrap();
    let events = run(scenario, 41);
    let tally = check_contract(&events).unwrap();
    let mut offered_front: HashMap<&str, Millis> = HashMap::new();
    let mut transferred = 0;
    for e in &events {
        let EventBody::Call { call_id, step } = &e.body else {
            continue;
        };
        match (e.queue_id.as_str(), step) {
            ("front", CallStep::Offered) => {
                offered_front.insert(call_id, e.ts);
            }
            (
                "front",
                CallStep::Transferred {
                    target_queue_id, ..
                },
            ) => {
                assert_eq!(target_queue_id, "back");
                assert_eq!(e.ts - offered_front[call_id.as_str()], 30_000);
                transferred += 1;
            }
            ("front", other) => panic!("unexpected {other:?} in an unstaffed queue"),
            ("back", CallStep::Transferred { .. }) => panic!("overflowed back"),
            _ => {}
        }
    }
    // Everything offered more than 30 s before the end was moved.
    let due = offered_front
        .values()
        .filter(|&&ts| ts + 30_000 < START + HOUR_MS)
        .count();
    assert_eq!(transferred, due);
    assert!(transferred > 150);
    assert_eq!(
        tally.count(EventType::Offered),
        offered_front.len() + transferred
    );
}

#[test]
fn rona_sends_the_agent_away_for_thirty_seconds_and_rerings_the_call() {
    let queue = QueueModel {
        id: "n".into(),
        calls_per_hour: 120.0,
        agents: 6,
        ring_no_answer_probability: 0.3,
        mean_patience_s: 1e9,
        ..QueueModel::default()
    };
    let events = run(one_queue(queue, 3), 51);
    check_contract(&events).unwrap();
    let mut rona_at: HashMap<&str, Millis> = HashMap::new();
    let mut penalties = 0;
    let mut rerung = 0;
    let mut last_ring: HashMap<&str, &str> = HashMap::new();
    for e in &events {
        match &e.body {
            EventBody::AgentState {
                agent_id,
                state,
                reason,
            } => match state {
                AgentState::NotReady => {
                    if reason.as_deref() == Some("rona") {
                        rona_at.insert(agent_id, e.ts);
                    }
                }
                AgentState::Ready => {
                    if let Some(t) = rona_at.remove(agent_id.as_str()) {
                        assert_eq!(e.ts - t, RONA_PENALTY_MS);
                        penalties += 1;
                    }
                }
                AgentState::LoggedOut => panic!("nobody logs out"),
            },
            EventBody::Call {
                call_id,
                step: CallStep::Ringing { agent_id },
            } => {
                // Whether the agent that missed it was back in time is the contract
                // checker's business (it only lets ready agents ring).
                if last_ring.insert(call_id, agent_id).is_some() {
                    rerung += 1;
                }
            }
            EventBody::Call { .. } => {}
        }
    }
    assert!(penalties > 20, "{penalties}");
    assert!(rerung > 20, "{rerung}");
}

#[test]
fn holds_sit_inside_the_talk() {
    let queue = QueueModel {
        id: "h".into(),
        calls_per_hour: 120.0,
        agents: 20,
        hold_probability: 1.0,
        // Far longer than the talk, so truncation is exercised.
        mean_hold_s: 10_000.0,
        ..QueueModel::default()
    };
    let events = run(one_queue(queue, 2), 61);
    let tally = check_contract(&events).unwrap();
    assert!(tally.count(EventType::Hold) > 100);
    // Every completed talk had its hold; the checker already enforces hold < unhold < wrap.
    let wraps = tally.count(EventType::Wrap);
    assert!(tally.count(EventType::Unhold) >= wraps);
}

#[test]
fn unrunnable_settings_are_repaired_not_panicked_on() {
    let scenario = Scenario {
        queues: vec![QueueModel {
            id: "odd".into(),
            calls_per_hour: 200.0,
            agents: 4,
            mean_talk_s: f64::NAN,
            mean_acw_s: -3.0,
            mean_patience_s: f64::INFINITY,
            hold_probability: 7.0,
            ring_no_answer_probability: f64::NAN,
            ring_timeout_s: 0.0,
            rate_wave_amplitude: 3.0,
            rate_wave_period_s: 0.0,
            overflow: Some(Overflow {
                after_s: 10.0,
                target_queue: "missing".into(),
            }),
            ..QueueModel::default()
        }],
        surge: Some(Surge {
            queue: "missing".into(),
            start_after_s: 0.0,
            duration_s: 60.0,
            factor: 100.0,
        }),
        duration_ms: HOUR_MS,
        ..Scenario::default()
    };
    assert!(scenario.validate().is_err());
    let events = run(scenario, 71);
    let tally = check_contract(&events).unwrap();
    assert!(tally.count(EventType::Offered) > 100);
    assert_eq!(tally.count(EventType::Transferred), 0);
}

/// Answered within 20 s over answered plus abandoned, for calls offered in `queue` during
/// `[from, to)` ms after the start; the wait includes the ring, as an ACD measures it.
fn service_level(events: &[CtiEvent], queue: &str, from: Millis, to: Millis) -> f64 {
    let mut offered: HashMap<&str, Millis> = HashMap::new();
    let (mut within, mut total) = (0u32, 0u32);
    for e in events.iter().filter(|e| e.queue_id == queue) {
        let EventBody::Call { call_id, step } = &e.body else {
            continue;
        };
        match step {
            CallStep::Offered => {
                offered.insert(call_id, e.ts);
            }
            CallStep::Answered { .. } | CallStep::Abandoned => {
                let at = offered[call_id.as_str()];
                if (from..to).contains(&(at - START)) {
                    total += 1;
                    if matches!(step, CallStep::Answered { .. }) && e.ts - at <= 20_000 {
                        within += 1;
                    }
                }
            }
            _ => {}
        }
    }
    f64::from(within) / f64::from(total)
}

#[test]
fn demo_staffing_meets_its_planned_service_level_outside_the_surge() {
    const MIN: Millis = 60_000;
    // Planned for 80–90 %. One run gives each queue a few hundred calls, whose service
    // level has a sampling spread of several points, hence the margin.
    const PLANNED: std::ops::RangeInclusive<f64> = 0.75..=0.95;
    for seed in [2024, 2025, 2026] {
        let events = run(Scenario::demo(), seed);
        for queue in ["sales", "support", "billing", "retention"] {
            // Skip the first 15 minutes (agents start idle), and for support and billing
            // (which overflows into it) the surge until its backlog has drained.
            let from = if matches!(queue, "support" | "billing") {
                45 * MIN
            } else {
                15 * MIN
            };
            let sl = service_level(&events, queue, from, 120 * MIN);
            assert!(
                PLANNED.contains(&sl),
                "seed {seed} {queue}: service level {sl}"
            );
        }
        // The surge is meant to be felt.
        let surge = service_level(&events, "support", 10 * MIN, 30 * MIN);
        assert!(
            surge < 0.5,
            "seed {seed}: support held {surge} in the surge"
        );
    }
    // The default queue is staffed to the same standard.
    let events = run(one_queue(QueueModel::default(), 8), 2027);
    let sl = service_level(&events, "default", 15 * MIN, 480 * MIN);
    assert!(PLANNED.contains(&sl), "default queue: {sl}");
}

/// Two queues with every new path: front agents re-queue half their calls into front itself,
/// desk agents transfer some to front, desk overflows to front after 20 s, and the last three
/// front agents also take desk calls.
pub(crate) fn legs_scenario(hours: i64) -> Scenario {
    Scenario {
        queues: vec![
            QueueModel {
                id: "front".into(),
                calls_per_hour: 120.0,
                agents: 16,
                transfer_after_answer: Some(AgentTransfer {
                    probability: 0.5,
                    target_queue: "front".into(),
                    blind_probability: 0.5,
                }),
                shared_agents: Some(SharedAgents {
                    queue: "desk".into(),
                    agents: 3,
                }),
                ..QueueModel::default()
            },
            QueueModel {
                id: "desk".into(),
                calls_per_hour: 60.0,
                agents: 4,
                transfer_after_answer: Some(AgentTransfer {
                    probability: 0.3,
                    target_queue: "front".into(),
                    blind_probability: 0.3,
                }),
                overflow: Some(Overflow {
                    after_s: 20.0,
                    target_queue: "front".into(),
                }),
                ..QueueModel::default()
            },
        ],
        duration_ms: hours * HOUR_MS,
        ..Scenario::default()
    }
}

#[test]
fn agent_transfers_are_offered_at_once_in_their_target_and_legs_stay_bounded() {
    let scenario = legs_scenario(4);
    scenario.validate().unwrap();
    let events = run(scenario, 81);
    // Also: each transfer is offered in its target at its instant, the transferring agent is
    // the one who answered, and wraps at that instant unless the transfer was blind.
    check_contract(&events).unwrap();
    let (mut blind, mut wrapped, mut to_self, mut to_other, mut flowed) = (0, 0, 0, 0, 0);
    let mut offers: HashMap<&str, u32> = HashMap::new();
    for (i, e) in events.iter().enumerate() {
        let EventBody::Call { call_id, step } = &e.body else {
            continue;
        };
        match step {
            CallStep::Offered => *offers.entry(call_id).or_default() += 1,
            CallStep::Transferred {
                target_queue_id,
                agent_id: Some(agent),
            } => {
                if *target_queue_id == e.queue_id {
                    to_self += 1;
                } else {
                    to_other += 1;
                }
                let offer = &events[i + 1];
                assert_eq!(
                    (offer.ts, &offer.queue_id, offer.event_type()),
                    (e.ts, target_queue_id, EventType::Offered)
                );
                let wraps = events[i + 1..]
                    .iter()
                    .take_while(|x| x.ts == e.ts)
                    .any(|x| {
                        x.queue_id == e.queue_id
                            && x.body
                                == EventBody::Call {
                                    call_id: call_id.clone(),
                                    step: CallStep::Wrap {
                                        agent_id: agent.clone(),
                                    },
                                }
                    });
                if wraps {
                    wrapped += 1;
                } else {
                    blind += 1;
                }
            }
            CallStep::Transferred { agent_id: None, .. } => flowed += 1,
            _ => {}
        }
    }
    assert!(to_self > 50 && to_other > 5, "{to_self} {to_other}");
    assert!(blind > 20 && wrapped > 20, "{blind} {wrapped}");
    assert!(flowed > 0);
    // At most three legs a call, and the bound is reached.
    let most = offers.values().copied().max().unwrap();
    assert_eq!(most, MAX_TRANSFER_LEGS);
}

#[test]
fn shared_agents_serve_both_queues_one_call_at_a_time() {
    let events = run(legs_scenario(4), 82);
    // The checker lets an agent ring only when ready in that queue and engaged on no call of
    // any queue.
    check_contract(&events).unwrap();
    let mut state_queues: HashMap<&str, HashSet<&str>> = HashMap::new();
    let mut answered_in: HashMap<&str, HashSet<&str>> = HashMap::new();
    for e in &events {
        match &e.body {
            // Logins name the queue; the later states of a shared agent have none.
            EventBody::AgentState { agent_id, .. } if !e.queue_id.is_empty() => {
                state_queues
                    .entry(agent_id)
                    .or_default()
                    .insert(&e.queue_id);
            }
            EventBody::AgentState { .. } => {}
            EventBody::Call {
                step: CallStep::Answered { agent_id },
                ..
            } => {
                answered_in.entry(agent_id).or_default().insert(&e.queue_id);
            }
            EventBody::Call { .. } => {}
        }
    }
    let both: HashSet<&str> = ["front", "desk"].into();
    for n in 1..=16 {
        let id = format!("front-a{n:02}");
        let expected: HashSet<&str> = if n >= 14 {
            both.clone()
        } else {
            ["front"].into()
        };
        assert_eq!(state_queues[id.as_str()], expected, "{id}");
        if n >= 14 {
            assert_eq!(answered_in[id.as_str()], both, "{id} answered in both");
        } else {
            assert!(!answered_in[id.as_str()].contains("desk"), "{id}");
        }
    }
    // Breaks and RONAs of a shared agent are set in both queues at once, by one event without
    // a queue; the agents of one queue name theirs.
    let not_ready = |all_queues: bool| {
        events
            .iter()
            .filter(|e| {
                e.queue_id.is_empty() == all_queues
                    && matches!(
                        &e.body,
                        EventBody::AgentState {
                            state: AgentState::NotReady,
                            ..
                        }
                    )
            })
            .map(|e| match &e.body {
                EventBody::AgentState { agent_id, .. } => agent_id.as_str(),
                EventBody::Call { .. } => unreachable!(),
            })
            .collect::<HashSet<&str>>()
    };
    let shared = not_ready(true);
    assert!(!shared.is_empty());
    assert!(shared.iter().all(|a| a >= &"front-a14"), "{shared:?}");
    assert!(not_ready(false).iter().all(|a| !shared.contains(a)));

    // And the checker does catch an agent rung in one queue while on a call of the other.
    let ev = |n: u64, queue: &str, body: EventBody| CtiEvent {
        event_id: format!("x{n}"),
        ts: START + n as Millis,
        queue_id: queue.into(),
        body,
    };
    let call = |id: &str, step: CallStep| EventBody::Call {
        call_id: id.into(),
        step,
    };
    let ready = EventBody::AgentState {
        agent_id: "s".into(),
        state: AgentState::Ready,
        reason: None,
    };
    let s = || "s".to_string();
    let mut bad = vec![
        ev(0, "front", ready.clone()),
        ev(0, "desk", ready),
        ev(1, "front", call("k1", CallStep::Offered)),
        ev(2, "front", call("k1", CallStep::Ringing { agent_id: s() })),
        ev(3, "front", call("k1", CallStep::Answered { agent_id: s() })),
        ev(4, "desk", call("k2", CallStep::Offered)),
    ];
    check_contract(&bad).unwrap();
    bad.push(ev(
        5,
        "desk",
        call("k2", CallStep::Ringing { agent_id: s() }),
    ));
    let err = check_contract(&bad).unwrap_err();
    assert!(err.contains("engaged on another call"), "{err}");
}

#[test]
fn legs_and_shared_agents_are_deterministic() {
    let a = run(legs_scenario(2), 83);
    assert_eq!(a, run(legs_scenario(2), 83));
    assert_ne!(a, run(legs_scenario(2), 84));
}
