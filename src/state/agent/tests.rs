use super::*;

fn state(ts: Millis, s: AgentState) -> Input {
    Input {
        ts,
        kind: InputKind::State(s),
    }
}

fn phase(ts: Millis, call: CallKey, p: Phase) -> Input {
    Input {
        ts,
        kind: InputKind::Call(call, p),
    }
}

fn steps(inputs: &[Input]) -> Vec<Delta> {
    let mut a = Agent::default();
    let mut out = Vec::new();
    for &i in inputs {
        a.add(i);
        a.refresh(&mut out, &mut Scratch::default());
    }
    // Net steps per (ts, state), dropping the ones that cancelled.
    let mut net: std::collections::BTreeMap<(Millis, AgentTime), i64> = Default::default();
    for d in out {
        if let Delta::AgentStep { ts, state, by } = d {
            *net.entry((ts, state)).or_default() += by;
        }
    }
    net.into_iter()
        .filter(|&(_, v)| v != 0)
        .map(|((ts, s), by)| Delta::step(ts, s, by))
        .collect()
}

#[test]
fn calls_override_the_agent_state_and_acw_follows_wrap() {
    let got = steps(&[
        state(0, AgentState::Ready),
        phase(10, 1, Phase::Busy),
        phase(50, 1, Phase::Acw),
        phase(60, 1, Phase::Free),
    ]);
    assert_eq!(
        got,
        vec![
            Delta::step(0, AgentTime::Ready, 1),
            Delta::step(10, AgentTime::Busy, 1),
            Delta::step(10, AgentTime::Ready, -1),
            Delta::step(50, AgentTime::Busy, -1),
            Delta::step(50, AgentTime::Acw, 1),
            Delta::step(60, AgentTime::Acw, -1),
            Delta::step(60, AgentTime::Ready, 1),
        ]
    );
}

#[test]
fn arrival_order_does_not_change_the_steps() {
    let inputs = [
        state(0, AgentState::Ready),
        phase(10, 1, Phase::Busy),
        state(30, AgentState::NotReady),
        phase(50, 1, Phase::Acw),
        phase(60, 1, Phase::Free),
        state(90, AgentState::Ready),
    ];
    let in_order = steps(&inputs);
    let mut shuffled = inputs;
    shuffled.reverse();
    assert_eq!(steps(&shuffled), in_order);
    // Not ready set during the call takes effect when the ACW ends.
    assert!(in_order.contains(&Delta::step(60, AgentTime::NotReady, 1)));
}

#[test]
fn settling_keeps_the_current_state() {
    let mut a = Agent::default();
    let mut out = Vec::new();
    a.add(state(0, AgentState::Ready));
    a.add(phase(10, 1, Phase::Busy));
    a.refresh(&mut out, &mut Scratch::default());
    a.settle(20);
    assert_eq!(a.now(), Effective::Busy);
    out.clear();
    a.add(phase(30, 1, Phase::Free));
    a.refresh(&mut out, &mut Scratch::default());
    assert_eq!(
        out,
        vec![
            Delta::step(30, AgentTime::Busy, -1),
            Delta::step(30, AgentTime::Ready, 1)
        ]
    );
    a.add(state(40, AgentState::LoggedOut));
    a.refresh(&mut out, &mut Scratch::default());
    a.settle(100);
    assert!(a.is_idle());
}

fn other(ts: Millis, queue: QueueTag, call: CallKey, p: Phase) -> Input {
    Input {
        ts,
        kind: InputKind::Other(queue, call, p),
    }
}

fn all(ts: Millis, s: AgentState) -> Input {
    Input {
        ts,
        kind: InputKind::All(s),
    }
}

#[test]
fn a_call_of_another_queue_makes_a_logged_in_agent_busy_other() {
    // Ready here from 0; busy on a call of queue 7 from 10, in its ACW from 50, free at 60.
    let got = steps(&[
        state(0, AgentState::Ready),
        other(10, 7, 1, Phase::Busy),
        other(50, 7, 1, Phase::Acw),
        other(60, 7, 1, Phase::Free),
    ]);
    assert_eq!(
        got,
        vec![
            Delta::step(0, AgentTime::Ready, 1),
            Delta::step(10, AgentTime::Ready, -1),
            Delta::step(10, AgentTime::BusyOther, 1),
            Delta::step(60, AgentTime::Ready, 1),
            Delta::step(60, AgentTime::BusyOther, -1),
        ]
    );
}

#[test]
fn own_calls_come_first_and_busy_other_needs_a_login() {
    // Not ready here, then busy elsewhere (busy other, not not-ready); a call of this queue
    // at 20–40 wins over the one elsewhere; logged out at 70 while still busy elsewhere.
    let got = steps(&[
        state(0, AgentState::NotReady),
        other(10, 7, 1, Phase::Busy),
        phase(20, 2, Phase::Busy),
        phase(30, 2, Phase::Acw),
        phase(40, 2, Phase::Free),
        state(70, AgentState::LoggedOut),
        other(90, 7, 1, Phase::Free),
    ]);
    assert_eq!(
        got,
        vec![
            Delta::step(0, AgentTime::NotReady, 1),
            Delta::step(10, AgentTime::NotReady, -1),
            Delta::step(10, AgentTime::BusyOther, 1),
            Delta::step(20, AgentTime::Busy, 1),
            Delta::step(20, AgentTime::BusyOther, -1),
            Delta::step(30, AgentTime::Busy, -1),
            Delta::step(30, AgentTime::Acw, 1),
            Delta::step(40, AgentTime::Acw, -1),
            Delta::step(40, AgentTime::BusyOther, 1),
            Delta::step(70, AgentTime::BusyOther, -1),
        ]
    );
    // Queues are told apart: the same call key in another queue is another engagement.
    let mut a = Agent::default();
    let mut out = Vec::new();
    for i in [
        state(0, AgentState::Ready),
        other(10, 7, 1, Phase::Busy),
        other(10, 8, 1, Phase::Busy),
        other(20, 7, 1, Phase::Free),
    ] {
        a.add(i);
    }
    a.refresh(&mut out, &mut Scratch::default());
    assert_eq!(a.now(), Effective::BusyOther);
    assert_eq!(a.engaged_at_end(8), vec![(1, Phase::Busy)]);
    assert_eq!(a.engaged_at_end(7), vec![]);
    assert_eq!(a.other_queues(), vec![7, 8]);
}

#[test]
fn a_state_without_a_queue_applies_only_while_logged_in_here() {
    // Paused everywhere at 10 (logged in here: not ready), ready everywhere at 30; logged out
    // here at 40, so the pause at 50 does not log the agent back in.
    let got = steps(&[
        state(0, AgentState::Ready),
        all(10, AgentState::NotReady),
        all(30, AgentState::Ready),
        state(40, AgentState::LoggedOut),
        all(50, AgentState::NotReady),
    ]);
    assert_eq!(
        got,
        vec![
            Delta::step(0, AgentTime::Ready, 1),
            Delta::step(10, AgentTime::Ready, -1),
            Delta::step(10, AgentTime::NotReady, 1),
            Delta::step(30, AgentTime::Ready, 1),
            Delta::step(30, AgentTime::NotReady, -1),
            Delta::step(40, AgentTime::Ready, -1),
        ]
    );
    // In any arrival order, and at one instant the state without a queue wins.
    let inputs = [
        state(0, AgentState::Ready),
        all(10, AgentState::NotReady),
        other(15, 7, 1, Phase::Busy),
        state(20, AgentState::Ready),
        all(20, AgentState::NotReady),
        other(25, 7, 1, Phase::Free),
    ];
    let in_order = steps(&inputs);
    let mut reversed = inputs;
    reversed.reverse();
    assert_eq!(steps(&reversed), in_order);
    assert!(in_order.contains(&Delta::step(25, AgentTime::NotReady, 1)));
}

#[test]
fn an_entry_with_only_other_queues_engagements_is_idle_once_logged_out() {
    let mut a = Agent::default();
    let mut out = Vec::new();
    a.add(state(0, AgentState::Ready));
    a.add(other(10, 7, 1, Phase::Busy));
    a.add(phase(12, 3, Phase::Busy));
    a.add(state(20, AgentState::LoggedOut));
    a.refresh(&mut out, &mut Scratch::default());
    a.settle(30);
    // Its own call still holds it.
    assert!(!a.is_idle());
    let mut own = Vec::new();
    a.own_phases(25, &mut own);
    assert_eq!(own, vec![(25, 3, Phase::Busy)]);
    a.add(phase(40, 3, Phase::Free));
    a.add(other(45, 7, 1, Phase::Acw));
    a.refresh(&mut out, &mut Scratch::default());
    a.settle(50);
    // Logged out, free of its own calls: what other queues passed on does not keep it.
    assert_eq!(a.now(), Effective::LoggedOut);
    assert!(a.is_idle());
    a.add(other(60, 7, 1, Phase::Free));
    assert!(a.is_idle());
    a.add(all(61, AgentState::Ready));
    assert!(!a.is_idle());
}
