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
        a.refresh(&mut out);
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
    a.refresh(&mut out);
    a.settle(20);
    assert_eq!(a.now(), Effective::Busy);
    out.clear();
    a.add(phase(30, 1, Phase::Free));
    a.refresh(&mut out);
    assert_eq!(
        out,
        vec![
            Delta::step(30, AgentTime::Busy, -1),
            Delta::step(30, AgentTime::Ready, 1)
        ]
    );
    a.add(state(40, AgentState::LoggedOut));
    a.refresh(&mut out);
    a.settle(100);
    assert!(a.is_idle());
}
