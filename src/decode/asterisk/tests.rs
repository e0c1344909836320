use proptest::prelude::*;

use super::*;

/// 2026-01-05T08:00:00Z, in seconds: lines below are written as offsets from it.
const E: u64 = 1_767_600_000;
const MS: Millis = E as Millis * 1000;

/// A queue_log line `s` seconds after `E`.
fn at(s: u64, rest: &str) -> String {
    format!("{}|{rest}", E + s)
}

fn translator() -> Translator {
    Translator::new(QueueLogSettings::default())
}

/// Every event and restart the lines give, one per string: "<s> <queue> <what>", where `s`
/// is seconds (with a fraction when not whole) after `E`.
fn run(t: &mut Translator, lines: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for line in lines {
        let mut got = Vec::new();
        if let Err(e) = t.line(line.as_bytes(), &mut got) {
            out.push(format!("rejected: {e}"));
        }
        out.extend(got.iter().map(describe));
    }
    out
}

fn describe(t: &Translated) -> String {
    let secs = |ts: Millis| {
        let ms = ts - MS;
        if ms % 1000 == 0 {
            (ms / 1000).to_string()
        } else {
            format!("{}", ms as f64 / 1000.0)
        }
    };
    match t {
        Translated::Restart { at } => format!("{} restart", secs(*at)),
        Translated::Event(e) => {
            let what = match &e.body {
                EventBody::Call { call_id, step } => {
                    let step = match step {
                        CallStep::Transferred {
                            target_queue_id,
                            agent_id,
                        } => format!(
                            "transferred to {target_queue_id} by {}",
                            agent_id.as_deref().unwrap_or("-")
                        ),
                        CallStep::FlowedOut { reason } => {
                            format!("flowed_out {}", reason.as_deref().unwrap_or("-"))
                        }
                        other => match other.agent_id() {
                            Some(agent) => format!("{} {agent}", other.event_type()),
                            None => other.event_type().to_string(),
                        },
                    };
                    format!("{call_id} {step}")
                }
                EventBody::AgentState {
                    agent_id,
                    state,
                    reason,
                } => match reason {
                    Some(r) => format!("{agent_id} {} ({r})", state.as_str()),
                    None => format!("{agent_id} {}", state.as_str()),
                },
            };
            let queue = if e.queue_id.is_empty() {
                "*"
            } else {
                &e.queue_id
            };
            format!("{} {queue} {what}", secs(e.ts))
        }
    }
}

fn lines(spec: &[(u64, &str)]) -> Vec<String> {
    spec.iter().map(|&(s, rest)| at(s, rest)).collect()
}

#[test]
fn a_call_offered_rung_answered_and_completed() {
    // ENTERQUEUE → offered; a ring that timed out after 15 s → ringing 15 s before the line
    // and a no-answer at the line; CONNECT (hold 25, ring time 4) → the member's login (first
    // seen on a call), ringing 4 s before and the answer; COMPLETEAGENT → wrap and, with no
    // wrapuptime, wrap_end at once.
    let mut t = translator();
    let got = run(
        &mut t,
        &lines(&[
            (0, "1767599990.7|sales|NONE|ENTERQUEUE||5551234|1"),
            (17, "1767599990.7|sales|PJSIP/2001|RINGNOANSWER|15000"),
            (
                25,
                "1767599990.7|sales|PJSIP/2002|CONNECT|25|1767600021.9|4",
            ),
            (85, "1767599990.7|sales|PJSIP/2002|COMPLETEAGENT|25|60|1"),
        ]),
    );
    assert_eq!(
        got,
        [
            "0 sales 1767599990.7 offered",
            "2 sales 1767599990.7 ringing PJSIP/2001",
            "17 sales 1767599990.7 no_answer PJSIP/2001",
            "21 sales PJSIP/2002 ready",
            "21 sales 1767599990.7 ringing PJSIP/2002",
            "25 sales 1767599990.7 answered PJSIP/2002",
            "85 sales 1767599990.7 wrap PJSIP/2002",
            "85 sales 1767599990.7 wrap_end PJSIP/2002",
        ]
    );
    // COMPLETECALLER is the same end (the caller hung up); a member already seen is not
    // logged in again.
    let got = run(
        &mut t,
        &lines(&[
            (100, "pbx2-1767600100.1|sales|NONE|ENTERQUEUE||5559876|1"),
            (
                103,
                "pbx2-1767600100.1|sales|PJSIP/2002|CONNECT|3|1767600102.4|1",
            ),
            (
                160,
                "pbx2-1767600100.1|sales|PJSIP/2002|COMPLETECALLER|3|57|1",
            ),
        ]),
    );
    assert_eq!(
        got,
        [
            "100 sales pbx2-1767600100.1 offered",
            "102 sales pbx2-1767600100.1 ringing PJSIP/2002",
            "103 sales pbx2-1767600100.1 answered PJSIP/2002",
            "160 sales pbx2-1767600100.1 wrap PJSIP/2002",
            "160 sales pbx2-1767600100.1 wrap_end PJSIP/2002",
        ],
        "the system-name prefix stays in the call id"
    );
}

#[test]
fn a_ring_time_never_reaches_back_before_the_offer() {
    // The line's second is cut, the ring time is not: 4500 ms back from 5 is 0.5, before the
    // offer at 1; the ring starts at the offer. An unknown leg is not clamped.
    let mut t = translator();
    let got = run(
        &mut t,
        &lines(&[
            (1, "c1|q|NONE|ENTERQUEUE||x|1"),
            (5, "c1|q|SIP/7|RINGNOANSWER|4500"),
            (5, "c9|q|SIP/7|RINGNOANSWER|4500"),
        ]),
    );
    assert_eq!(
        got,
        [
            "1 q c1 offered",
            "1 q c1 ringing SIP/7",
            "5 q c1 no_answer SIP/7",
            "0.5 q c9 ringing SIP/7",
            "5 q c9 no_answer SIP/7",
        ]
    );
}

#[test]
fn members_that_could_not_be_rung_are_unavailable_not_rings() {
    // RINGNOANSWER|0 (a ringall burst over busy members) and RINGINUSE.
    let mut t = translator();
    let got = run(
        &mut t,
        &lines(&[
            (0, "c1|q|NONE|ENTERQUEUE||x|1"),
            (0, "c1|q|Local/2001@from-queue/n|RINGNOANSWER|0"),
            (0, "c1|q|Local/2008@from-queue/n|RINGNOANSWER|0"),
            (1, "c1|q|PJSIP/2003|RINGINUSE|"),
        ]),
    );
    assert_eq!(
        got,
        [
            "0 q c1 offered",
            "0 q c1 unavailable 2001",
            "0 q c1 unavailable 2008",
            "1 q c1 unavailable PJSIP/2003",
        ]
    );
}

#[test]
fn a_ring_cancelled_by_the_caller_is_a_ring_the_abandon_ends() {
    let mut t = translator();
    let got = run(
        &mut t,
        &lines(&[
            (0, "c1|q|NONE|ENTERQUEUE||x|1"),
            (9, "c1|q|SIP/7|RINGCANCELED|6250"),
            (9, "c1|q|NONE|ABANDON|1|1|9"),
        ]),
    );
    assert_eq!(
        got,
        [
            "0 q c1 offered",
            "2.75 q c1 ringing SIP/7",
            "9 q c1 abandoned",
        ]
    );
}

#[test]
fn an_old_connect_without_ring_time_rings_at_the_answer() {
    // Asterisk 1.4 wrote CONNECT|holdtime|bridged uniqueid, without the ring time.
    let mut t = translator();
    let got = run(
        &mut t,
        &lines(&[
            (0, "c1|q|NONE|ENTERQUEUE||x"),
            (2, "c1|q|Local/2004@from-internal/n|CONNECT|2|1266833933.27"),
        ]),
    );
    assert_eq!(
        got,
        [
            "0 q c1 offered",
            "2 q 2004 ready",
            "2 q c1 ringing 2004",
            "2 q c1 answered 2004",
        ]
    );
}

#[test]
fn leaving_the_queue_unanswered_is_an_abandon_or_a_flow_out_with_its_reason() {
    let mut t = translator();
    let got = run(
        &mut t,
        &lines(&[
            (0, "c1|q|NONE|ABANDON|2|3|40"),
            (1, "c2|q|NONE|EXITWITHTIMEOUT|1|1|300"),
            (2, "c3|q|NONE|EXITEMPTY|1|2|12"),
            (3, "c4|q|NONE|EXITWITHKEY|5|1|1|20"),
            (4, "c5|q|NONE|WITHDRAW|1|1|33|info"),
            (5, "c6|q|NONE|EXITWITHTIMEOUT|1"),
        ]),
    );
    assert_eq!(
        got,
        [
            "0 q c1 abandoned",
            "1 q c2 flowed_out timeout",
            "2 q c3 flowed_out empty",
            "3 q c4 flowed_out key",
            "4 q c5 flowed_out withdraw",
            "5 q c6 flowed_out timeout",
        ]
    );
}

#[test]
fn transfers_after_an_answer_end_the_members_part_with_a_wrap() {
    let mut t = translator();
    let got = run(
        &mut t,
        &lines(&[
            (0, "c1|q|NONE|ENTERQUEUE||x|1"),
            (5, "c1|q|SIP/1|CONNECT|5|u1|2"),
            (65, "c1|q|SIP/1|BLINDTRANSFER|2000|from-internal|5|60|1"),
            (70, "c2|q|NONE|ENTERQUEUE||x|1"),
            (75, "c2|q|SIP/1|CONNECT|5|u2|2"),
            (
                95,
                "c2|q|SIP/1|ATTENDEDTRANSFER|BRIDGE|1767600090.44|5|20|1",
            ),
            (100, "c3|q|NONE|ENTERQUEUE||x|1"),
            (101, "c3|q|SIP/1|CONNECT|1|u3|1"),
            (111, "c3|q|SIP/1|TRANSFER|300|default|1|10"),
        ]),
    );
    assert_eq!(
        got,
        [
            "0 q c1 offered",
            "3 q SIP/1 ready",
            "3 q c1 ringing SIP/1",
            "5 q c1 answered SIP/1",
            "65 q c1 transferred to 2000@from-internal by SIP/1",
            "65 q c1 wrap SIP/1",
            "65 q c1 wrap_end SIP/1",
            "70 q c2 offered",
            "73 q c2 ringing SIP/1",
            "75 q c2 answered SIP/1",
            "95 q c2 transferred to BRIDGE:1767600090.44 by SIP/1",
            "95 q c2 wrap SIP/1",
            "95 q c2 wrap_end SIP/1",
            "100 q c3 offered",
            "100 q c3 ringing SIP/1",
            "101 q c3 answered SIP/1",
            "111 q c3 transferred to 300@default by SIP/1",
            "111 q c3 wrap SIP/1",
            "111 q c3 wrap_end SIP/1",
        ]
    );
}

#[test]
fn a_transfer_whose_connect_is_missing_gets_its_answer_from_the_call_time() {
    // asterisk/asterisk#759: an attended transfer logged without its CONNECT. The leg was
    // offered at 0; the transfer at 40 says the call lasted 30 s: answered at 10. A leg never
    // seen offered gets no answer (its offer would be missing too).
    let mut t = translator();
    let got = run(
        &mut t,
        &lines(&[
            (0, "c1|q|NONE|ENTERQUEUE||x|1"),
            (40, "c1|q|SIP/1|ATTENDEDTRANSFER|||10|30|1"),
            (50, "c9|q|SIP/1|COMPLETEAGENT|10|30|1"),
        ]),
    );
    assert_eq!(
        got,
        [
            "0 q c1 offered",
            "10 q SIP/1 ready",
            "10 q c1 answered SIP/1",
            "40 q c1 transferred to attended transfer by SIP/1",
            "40 q c1 wrap SIP/1",
            "40 q c1 wrap_end SIP/1",
            "50 q c9 wrap SIP/1",
            "50 q c9 wrap_end SIP/1",
        ]
    );
}

#[test]
fn the_wrap_up_end_waits_for_the_stream_to_reach_it() {
    // wrapuptime 30 s in `support`: the wrap_end of a call completed at 60 is due at 90. It
    // comes out with the first line read at or after 90, before that line's own events; a
    // rejected line (even one timed later) moves nothing.
    let mut settings = QueueLogSettings::default();
    settings.wrapuptime_ms.insert("support".into(), 30_000);
    let mut t = Translator::new(settings);
    let got = run(
        &mut t,
        &lines(&[
            (0, "c1|support|NONE|ENTERQUEUE||x|1"),
            (2, "c1|support|SIP/1|CONNECT|2|u|1"),
            (60, "c1|support|SIP/1|COMPLETECALLER|2|58|1"),
            (89, "c2|support|NONE|ENTERQUEUE||x|1"),
            (95, "c2|support|SIP/1|CONNECT|bad|u|1"),
            (96, "c2|support|NONE|ABANDON|1|1|7"),
        ]),
    );
    assert_eq!(
        got,
        [
            "0 support c1 offered",
            "1 support SIP/1 ready",
            "1 support c1 ringing SIP/1",
            "2 support c1 answered SIP/1",
            "60 support c1 wrap SIP/1",
            "89 support c2 offered",
            "rejected: CONNECT's hold time must be a whole number, got \"bad\"",
            "90 support c1 wrap_end SIP/1",
            "96 support c2 abandoned",
        ]
    );
    // A live source asks for what is due as its clock moves.
    run(
        &mut t,
        &lines(&[
            (100, "c3|support|SIP/1|CONNECT|2|u|1"),
            (110, "c3|support|SIP/1|COMPLETEAGENT|2|10|1"),
        ]),
    );
    let mut out = Vec::new();
    t.due(MS + 139_999, &mut out);
    assert!(out.is_empty());
    t.due(MS + 140_000, &mut out);
    assert_eq!(
        out.iter().map(describe).collect::<Vec<_>>(),
        ["140 support c3 wrap_end SIP/1"]
    );
}

#[test]
fn member_lines_set_the_agents_state_in_their_queue_or_in_all_of_them() {
    let mut t = translator();
    let got = run(
        &mut t,
        &lines(&[
            (0, "MANAGER|sales|PJSIP/2001|ADDMEMBER|"),
            (1, "NONE|sales|PJSIP/2001|PAUSE|Lunch"),
            (2, "NONE|sales|PJSIP/2001|UNPAUSE|Lunch"),
            (3, "NONE|NONE|PJSIP/2001|PAUSEALL|Auto-Pause"),
            (4, "NONE|NONE|PJSIP/2001|UNPAUSEALL|"),
            (5, "CLI|sales|PJSIP/2001|REMOVEMEMBER|"),
            (
                6,
                "1767600006.1|NONE|Agent/1127|AGENTCALLBACKLOGIN|1127@default",
            ),
            (
                7,
                "1767600007.1|NONE|Agent/1127|AGENTCALLBACKLOGOFF|1127@default|1|Autologoff",
            ),
            (8, "NONE|support|Agent/1130|AGENTLOGIN|SIP/1130"),
            (9, "NONE|support|Agent/1130|AGENTLOGOFF|SIP/1130|1"),
        ]),
    );
    assert_eq!(
        got,
        [
            "0 sales PJSIP/2001 ready",
            "1 sales PJSIP/2001 not_ready (Lunch)",
            "2 sales PJSIP/2001 ready (Lunch)",
            "3 * PJSIP/2001 not_ready (Auto-Pause)",
            "4 * PJSIP/2001 ready",
            "5 sales PJSIP/2001 logged_out",
            "6 * Agent/1127 ready",
            "7 * Agent/1127 logged_out",
            "8 support Agent/1130 ready",
            "9 support Agent/1130 logged_out",
        ]
    );
}

#[test]
fn a_removed_member_seen_answering_again_is_logged_in_again() {
    let mut t = translator();
    let got = run(
        &mut t,
        &lines(&[
            (0, "NONE|q|SIP/1|ADDMEMBER|"),
            (1, "c1|q|SIP/1|CONNECT|1|u|0"),
            (2, "NONE|q|SIP/1|REMOVEMEMBER|"),
            (3, "c2|q|SIP/1|CONNECT|1|u|0"),
        ]),
    );
    assert_eq!(
        got,
        [
            "0 q SIP/1 ready",
            "1 q c1 ringing SIP/1",
            "1 q c1 answered SIP/1",
            "2 q SIP/1 logged_out",
            "3 q SIP/1 ready",
            "3 q c2 ringing SIP/1",
            "3 q c2 answered SIP/1",
        ]
    );
}

#[test]
fn a_restart_ends_what_asterisk_had_in_flight() {
    // QUEUESTART: a restart at its time; the held wrap_end and the unanswered leg are
    // forgotten (no answer is made up for a completion after it).
    let mut settings = QueueLogSettings::default();
    settings.wrapuptime_ms.insert("q".into(), 60_000);
    let mut t = Translator::new(settings);
    let got = run(
        &mut t,
        &lines(&[
            (0, "c1|q|NONE|ENTERQUEUE||x|1"),
            (1, "c1|q|SIP/1|CONNECT|1|u|0"),
            (5, "c1|q|SIP/1|COMPLETEAGENT|1|4|1"),
            (6, "c2|q|NONE|ENTERQUEUE||x|1"),
            (7, "NONE|NONE|NONE|QUEUESTART|"),
            (90, "c2|q|SIP/1|COMPLETEAGENT|1|4|1"),
        ]),
    );
    assert_eq!(
        got,
        [
            "0 q c1 offered",
            "1 q SIP/1 ready",
            "1 q c1 ringing SIP/1",
            "1 q c1 answered SIP/1",
            "5 q c1 wrap SIP/1",
            "6 q c2 offered",
            "7 restart",
            "90 q c2 wrap SIP/1",
        ]
    );
}

fn kind(line: &str) -> Result<LineKind, QueueLogError> {
    translator().line(line.as_bytes(), &mut Vec::new())
}

#[test]
fn lines_with_no_call_or_agent_event_are_ignored_with_a_reason() {
    let ignored = |reason| Ok(LineKind::Ignored(reason));
    for (rest, why) in [
        ("NONE|NONE|NONE|CONFIGRELOAD|", Ignored::NotACallEvent),
        ("c1|q|NONE|DID|5550000", Ignored::NotACallEvent),
        ("c1|q|NONE|INFO|something", Ignored::NotACallEvent),
        ("NONE|q|SIP/1|PENALTY|3", Ignored::NotACallEvent),
        ("c1|q|SIP/1|AGENTDUMP|", Ignored::NotACallEvent),
        ("c1|q|NONE|JOINEMPTY|", Ignored::NotACallEvent),
        ("c1|NONE|Agent/1|OUTDIAL|5550000", Ignored::Outbound),
        ("c1|NONE|Agent/1|OUTANSWER|5550000|12", Ignored::Outbound),
        ("NONE|q|NONE|ENTERQUEUE||x|1", Ignored::NoCallId),
        ("MANAGER|q|SIP/1|CONNECT|1|u|1", Ignored::NoCallId),
        ("REALTIME|q|NONE|ABANDON|1|1|1", Ignored::NoCallId),
    ] {
        assert_eq!(kind(&at(0, rest)), ignored(why), "{rest}");
    }
}

#[test]
fn malformed_lines_are_rejected_with_a_reason_and_what_is_wrong() {
    use RejectReason::*;
    for (line, reason, message) in [
        (
            "1767600000|c1|q|NONE".to_owned(),
            Malformed,
            "a queue_log line has at least 5 `|`-separated fields (epoch|callid|queue|agent|event), this one has 4",
        ),
        (
            "2026-01-05 08:00:00|c1|q|NONE|ENTERQUEUE||x".to_owned(),
            Malformed,
            "the first field must be the time in whole Unix seconds, got \"2026-01-05 08:00:00\"",
        ),
        (
            "-5|c1|q|NONE|ENTERQUEUE||x".to_owned(),
            Malformed,
            "the first field must be the time in whole Unix seconds, got \"-5\"",
        ),
        (
            "99999999999999999999|c1|q|NONE|ENTERQUEUE".to_owned(),
            Malformed,
            "the first field must be the time in whole Unix seconds, got \"99999999999999999999\"",
        ),
        (
            "900000000|c1|q|NONE|ENTERQUEUE".to_owned(),
            InvalidTimestamp,
            "the time 900000000 is before 2000-01-01: not a Unix time in seconds",
        ),
        (
            at(0, "c1|q|NONE|CUSTOM_NOTE|hello"),
            UnknownType,
            "\"CUSTOM_NOTE\" is not a queue_log event acdstream knows",
        ),
        (
            at(0, "c1|q|SIP/1|RINGNOANSWER"),
            Malformed,
            "RINGNOANSWER needs at least 1 data fields after the event name, this line has 0",
        ),
        (
            at(0, "c1|q|SIP/1|RINGNOANSWER|-1000"),
            Malformed,
            "RINGNOANSWER's ring time (ms) must be a whole number, got \"-1000\"",
        ),
        (
            at(0, "c1|q|SIP/1|COMPLETEAGENT|5|1.5|1"),
            Malformed,
            "COMPLETEAGENT's call time must be a whole number, got \"1.5\"",
        ),
        (
            at(0, "c1|q|NONE|ABANDON|1|1"),
            Malformed,
            "ABANDON needs at least 3 data fields after the event name, this line has 2",
        ),
        (
            at(0, "c1|q|SIP/1|BLINDTRANSFER|2000|ctx|5"),
            Malformed,
            "BLINDTRANSFER needs at least 4 data fields after the event name, this line has 3",
        ),
        (
            at(0, "c1|q|SIP/1|CONNECT|5|u|x"),
            Malformed,
            "CONNECT's ring time must be a whole number, got \"x\"",
        ),
        (
            at(0, "|q|NONE|ENTERQUEUE||x|1"),
            MissingCallId,
            "ENTERQUEUE needs the caller's call id; the callid field is empty",
        ),
        (
            at(0, "c1|NONE|NONE|ENTERQUEUE||x|1"),
            MissingQueueId,
            "ENTERQUEUE needs a queue; the queue field is empty or NONE",
        ),
        (
            at(0, "c1|q|NONE|CONNECT|5|u|1"),
            MissingAgentId,
            "CONNECT needs the member in the agent field; it is empty or NONE",
        ),
        (
            at(0, "NONE|q||PAUSE|x"),
            MissingAgentId,
            "PAUSE needs the member in the agent field; it is empty or NONE",
        ),
    ] {
        let err = kind(&line).unwrap_err();
        assert_eq!((err.reason(), err.to_string().as_str()), (reason, message), "{line}");
    }
}

#[test]
fn a_rejected_line_emits_nothing() {
    let mut t = translator();
    let mut out = Vec::new();
    t.line(at(0, "c1|q|NONE|ENTERQUEUE||x|1").as_bytes(), &mut out)
        .unwrap();
    out.clear();
    let err = t.line(at(5, "c1|q|SIP/1|CONNECT|x|u|1").as_bytes(), &mut out);
    assert!(err.is_err() && out.is_empty());
}

fn ids(t: &mut Translator, line: &str) -> Vec<String> {
    let mut out = Vec::new();
    t.line(line.as_bytes(), &mut out).unwrap();
    out.into_iter()
        .filter_map(|t| match t {
            Translated::Event(e) => Some(e.event_id),
            Translated::Restart { .. } => None,
        })
        .collect()
}

#[test]
fn event_ids_come_from_the_line_so_a_redelivered_line_is_a_duplicate() {
    let connect = at(5, "c1|q|SIP/1|CONNECT|5|u|2");
    let complete = at(9, "c1|q|SIP/1|COMPLETEAGENT|5|4|1");
    let mut t = translator();
    let first: Vec<_> = [&connect, &complete]
        .iter()
        .flat_map(|l| ids(&mut t, l))
        .collect();
    // The events of one line have their own ids.
    let mut unique = first.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), first.len(), "{first:?}");
    assert!(first.iter().all(|id| id.starts_with("aql-")), "{first:?}");
    // A run of lines delivered again (a shipper's retry) gives the same ids; the login made
    // the first time is not made again, and the other events keep theirs.
    let again: Vec<_> = [&connect, &complete]
        .iter()
        .flat_map(|l| ids(&mut t, l))
        .collect();
    assert!(again.iter().all(|id| first.contains(id)), "{again:?}");
    assert_eq!(again.len(), first.len() - 1);
    // Another translator (a restart reading the file again) gives the same ids.
    let mut fresh = translator();
    assert_eq!(ids(&mut fresh, &connect), first[..3]);
    // CRLF or not, the same line.
    let mut crlf = translator();
    assert_eq!(ids(&mut crlf, &format!("{connect}\r")), first[..3]);
}

#[test]
fn identical_lines_back_to_back_are_separate_events() {
    // Two identical lines in a row are two things that happened (a member busy for two
    // rounds within one second); the second copy's ids differ from the first's.
    let line = at(5, "c1|q|SIP/1|RINGNOANSWER|0");
    let mut t = translator();
    let a = ids(&mut t, &line);
    let b = ids(&mut t, &line);
    assert_ne!(a, b);
    // After another line, the run starts again: a redelivery of the pair gives both ids again.
    ids(&mut t, &at(6, "c1|q|NONE|ABANDON|1|1|6"));
    assert_eq!(ids(&mut t, &line), a);
    assert_eq!(ids(&mut t, &line), b);
}

#[test]
fn agent_ids_strip_local_channels_or_keep_the_field_or_follow_the_map() {
    let extension = QueueLogSettings::default();
    for (field, id) in [
        ("Local/2004@from-internal/n", "2004"),
        ("Local/2004@from-queue", "2004"),
        ("Local/2004/n", "2004"),
        ("PJSIP/2001", "PJSIP/2001"),
        ("SIP/2001", "SIP/2001"),
        ("Agent/1127", "Agent/1127"),
        ("Alice Smith", "Alice Smith"),
        ("Local/@ctx", "Local/@ctx"),
    ] {
        assert_eq!(extension.agent_id(field), id, "{field}");
    }
    let interface = QueueLogSettings {
        agent_ids: AgentIds::Interface,
        ..QueueLogSettings::default()
    };
    assert_eq!(
        interface.agent_id("Local/2004@from-internal/n"),
        "Local/2004@from-internal/n"
    );
    let mut mapped = QueueLogSettings::default();
    mapped.agents.insert("PJSIP/2001".into(), "alice".into());
    assert_eq!(mapped.agent_id("PJSIP/2001"), "alice");
    assert_eq!(mapped.agent_id("Local/2002@x/n"), "2002");
}

/// Lines in the shape Asterisk writes, to mutate.
const TEMPLATES: &[&str] = &[
    "c1|q|NONE|ENTERQUEUE||5551234|1",
    "c1|q|SIP/1|RINGNOANSWER|15000",
    "c1|q|SIP/2|RINGNOANSWER|0",
    "c1|q|SIP/2|RINGINUSE|",
    "c1|q|SIP/1|RINGCANCELED|3000",
    "c1|q|SIP/1|CONNECT|12|1767600010.3|4",
    "c1|q|SIP/1|COMPLETEAGENT|12|60|1",
    "c1|q|SIP/1|COMPLETECALLER|12|60|1",
    "c1|q|NONE|ABANDON|1|1|30",
    "c1|q|NONE|EXITWITHTIMEOUT|1|1|300",
    "c1|q|NONE|EXITEMPTY|1|1|3",
    "c1|q|NONE|EXITWITHKEY|5|1|1|20",
    "c1|q|SIP/1|BLINDTRANSFER|2000|ctx|12|60|1",
    "c1|q|SIP/1|ATTENDEDTRANSFER|BRIDGE|u9|12|60|1",
    "NONE|q|SIP/1|ADDMEMBER|",
    "NONE|q|SIP/1|PAUSE|Lunch",
    "NONE|NONE|SIP/1|PAUSEALL|",
    "NONE|NONE|NONE|QUEUESTART|",
    "NONE|NONE|NONE|CONFIGRELOAD|",
];

/// A template line at `s` seconds, then mutated: a byte replaced, a cut, a field dropped or
/// doubled, or garbage appended.
fn mutated() -> impl Strategy<Value = Vec<u8>> {
    (
        0..TEMPLATES.len(),
        0u64..600,
        0u8..6,
        any::<prop::sample::Index>(),
        any::<u8>(),
        prop::collection::vec(any::<u8>(), 0..12),
    )
        .prop_map(|(t, s, how, at_index, byte, garbage)| {
            let mut line = at(s, TEMPLATES[t]).into_bytes();
            let i = at_index.index(line.len());
            match how {
                0 => {}
                1 => line[i] = byte,
                2 => line.truncate(i),
                3 => {
                    line.remove(i);
                }
                4 => line.extend(garbage),
                _ => line = garbage,
            }
            line
        })
}

proptest! {
    /// Nothing a line holds panics the translator; what it gives is either events (all with
    /// the contract's required fields) or a reason.
    #[test]
    fn any_line_is_translated_ignored_or_rejected(lines in prop::collection::vec(mutated(), 1..40)) {
        let mut t = translator();
        for line in &lines {
            let mut out = Vec::new();
            let result = t.line(line, &mut out);
            for translated in &out {
                if let Translated::Event(e) = translated {
                    prop_assert!(!e.event_id.is_empty());
                    prop_assert!(e.ts >= MIN_TS);
                    if let EventBody::Call { call_id, step } = &e.body {
                        prop_assert!(!call_id.is_empty() && !e.queue_id.is_empty());
                        prop_assert!(step.agent_id().is_none_or(|a| !a.is_empty()));
                    }
                }
            }
            if let Err(e) = result {
                prop_assert!(!e.to_string().is_empty());
            }
        }
    }
}

#[test]
fn a_time_worked_out_backwards_goes_no_further_back_than_the_lateness() {
    // A ring of 45 s ends at 100: its start would be 55, more than the 30 s lookback behind
    // the newest line (100), where the engine would drop it as late; it starts at 70. Made-up
    // answers are held to the same bound.
    let mut t = translator();
    let got = run(
        &mut t,
        &lines(&[
            (0, "c1|q|NONE|ENTERQUEUE||x|1"),
            (100, "c1|q|SIP/1|RINGNOANSWER|45000"),
            (101, "c2|q|NONE|ENTERQUEUE||x|1"),
            (200, "c2|q|SIP/1|ATTENDEDTRANSFER|BRIDGE|u|99|90|1"),
        ]),
    );
    assert_eq!(
        got,
        [
            "0 q c1 offered",
            "70 q c1 ringing SIP/1",
            "100 q c1 no_answer SIP/1",
            "101 q c2 offered",
            "170 q SIP/1 ready",
            "170 q c2 answered SIP/1",
            "200 q c2 transferred to BRIDGE:u by SIP/1",
            "200 q c2 wrap SIP/1",
            "200 q c2 wrap_end SIP/1",
        ]
    );
}

/// Replays `lines` (each with its line end but the last, which may be cut) as a queue_log.
fn replay_lines(lines: &[Vec<u8>]) -> crate::replay::Report {
    use crate::sources::file::{FileSource, LineSource};
    use crate::sources::LineFormat;
    let mut bytes = lines.join(&b'\n');
    if lines.len() % 2 == 0 {
        bytes.push(b'\n');
    }
    let reader = Box::new(std::io::Cursor::new(bytes));
    let source = FileSource::new(LineSource::from_reader(reader, None), "-", Box::new(|_| {}))
        .with_format(LineFormat::AsteriskQueueLog, QueueLogSettings::default());
    let settings = std::sync::Arc::new(crate::state::EngineSettings::default());
    let stop = tokio_util::sync::CancellationToken::new();
    let keep = crate::replay::Keep::default();
    let replayed = crate::replay::replay(source, settings, MS + 86_400_000, keep, &stop);
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime")
        .block_on(replayed)
        .expect("replayed")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Through the whole pipeline, whatever the lines: no panic, every line accounted for
    /// (blank, ignored, rejected, or events), and the event ledger balances with nothing left
    /// pending.
    #[test]
    fn any_queue_log_replays_with_every_line_accounted_for(
        lines in prop::collection::vec(mutated(), 1..60),
    ) {
        use crate::sources::{Input, LineFormat, Lines, Origin};
        let mut reader = Lines::new(LineFormat::AsteriskQueueLog, QueueLogSettings::default());
        for (i, line) in lines.iter().enumerate() {
            let (mut events, mut outcomes) = (0, 0);
            let origin = Origin { partition: 0, position: i as i64 + 1 };
            reader.line(origin, line, true, &mut |input| match input {
                Input::Decoded { .. } | Input::Restarted { .. } => events += 1,
                Input::Blank | Input::Ignored { .. } | Input::Rejected { .. } => outcomes += 1,
                _ => outcomes += 2,
            });
            prop_assert!(outcomes == 1 || (outcomes == 0 && events > 0), "line {}: {:?}", i + 1, String::from_utf8_lossy(line));
        }
        let report = replay_lines(&lines);
        let l = report.ledger;
        prop_assert!(l.balances() && l.pending == 0, "{:?}", l);
    }
}

#[test]
fn the_writer_logs_calls_as_asterisk_would_and_the_translator_reads_them_back() {
    let ev = |s: f64, queue: &str, body: EventBody| CtiEvent {
        event_id: String::new(),
        ts: MS + (s * 1000.0) as Millis,
        queue_id: queue.into(),
        body,
    };
    let call = |id: &str, step| EventBody::Call {
        call_id: id.into(),
        step,
    };
    let agent = |state, reason: Option<&str>| EventBody::AgentState {
        agent_id: "a1".into(),
        state,
        reason: reason.map(str::to_owned),
    };
    let a1 = || "a1".to_owned();
    let events = [
        ev(0.0, "q", agent(AgentState::Ready, None)),
        ev(1.0, "q", call("c1", CallStep::Offered)),
        ev(
            2.0,
            "q",
            call(
                "c1",
                CallStep::Ringing {
                    agent_id: "a2".into(),
                },
            ),
        ),
        ev(9.5, "q", call("c1", CallStep::Ringing { agent_id: a1() })),
        ev(12.0, "q", call("c1", CallStep::Answered { agent_id: a1() })),
        ev(20.0, "q", call("c1", CallStep::Hold { agent_id: a1() })),
        ev(72.0, "q", call("c1", CallStep::Wrap { agent_id: a1() })),
        ev(80.0, "q", call("c1", CallStep::WrapEnd { agent_id: a1() })),
        ev(90.0, "q", call("c2", CallStep::Offered)),
        ev(95.0, "q", call("c2", CallStep::Ringing { agent_id: a1() })),
        ev(99.0, "q", call("c2", CallStep::Abandoned)),
        ev(100.0, "q", call("c3", CallStep::Offered)),
        ev(
            104.0,
            "q",
            call("c3", CallStep::Answered { agent_id: a1() }),
        ),
        ev(
            130.0,
            "q",
            call(
                "c3",
                CallStep::Transferred {
                    target_queue_id: "billing".into(),
                    agent_id: Some(a1()),
                },
            ),
        ),
        ev(140.0, "q", call("c4", CallStep::Offered)),
        ev(
            170.0,
            "q",
            call(
                "c4",
                CallStep::Transferred {
                    target_queue_id: "billing".into(),
                    agent_id: None,
                },
            ),
        ),
        ev(200.0, "q", agent(AgentState::NotReady, Some("break"))),
        ev(300.0, "q", agent(AgentState::LoggedOut, None)),
    ];
    let mut writer = Writer::new();
    let mut out = Vec::new();
    for e in &events {
        writer.write(e, &mut out).unwrap();
    }
    let text = String::from_utf8(out).unwrap();
    let expected = [
        (0, "MANAGER|q|a1|ADDMEMBER|"),
        (0, "NONE|q|a1|UNPAUSE|"),
        (1, "c1|q|NONE|ENTERQUEUE||c1|1"),
        (9, "c1|q|a2|RINGNOANSWER|7500"),
        (12, "c1|q|a1|CONNECT|11|1767600012.1|2"),
        (72, "c1|q|a1|COMPLETEAGENT|11|60|1"),
        (90, "c2|q|NONE|ENTERQUEUE||c2|1"),
        (99, "c2|q|a1|RINGCANCELED|4000"),
        (99, "c2|q|NONE|ABANDON|1|1|9"),
        (100, "c3|q|NONE|ENTERQUEUE||c3|1"),
        (104, "c3|q|a1|CONNECT|4|1767600104.2|0"),
        (130, "c3|q|a1|BLINDTRANSFER|billing|from-queue|4|26|1"),
        (140, "c4|q|NONE|ENTERQUEUE||c4|1"),
        (170, "c4|q|NONE|EXITWITHTIMEOUT|1|1|30"),
        (200, "NONE|q|a1|PAUSE|break"),
        (300, "NONE|q|a1|REMOVEMEMBER|"),
    ];
    let expected: Vec<String> = expected.iter().map(|&(s, rest)| at(s, rest)).collect();
    assert_eq!(text.lines().collect::<Vec<_>>(), expected);
    // Every line it writes reads back.
    let mut t = translator();
    for line in text.lines() {
        assert!(t.line(line.as_bytes(), &mut Vec::new()).is_ok(), "{line}");
    }
}

#[test]
fn ids_reasons_and_targets_are_limited_like_the_contracts() {
    use RejectReason::*;
    let long = "x".repeat(129);
    let mb = "x".repeat(1 << 20);
    let max = "x".repeat(128);
    // "€" is 3 bytes: 43 of them are 129 bytes.
    let euros = "€".repeat(43);
    for (rest, reason) in [
        (format!("{long}|q|NONE|ENTERQUEUE||x|1"), Some(IdTooLong)),
        (format!("c1|{mb}|NONE|ENTERQUEUE||x|1"), Some(IdTooLong)),
        (format!("c1|{euros}|NONE|ENTERQUEUE||x|1"), Some(IdTooLong)),
        (format!("c1|{max}|NONE|ENTERQUEUE||x|1"), None),
        (format!("{max}|q|NONE|ENTERQUEUE||x|1"), None),
        (format!("c1|q|{long}|RINGINUSE|"), Some(IdTooLong)),
        (format!("NONE|q|{long}|ADDMEMBER|"), Some(IdTooLong)),
        (format!("NONE|{long}|SIP/1|ADDMEMBER|"), Some(IdTooLong)),
        (format!("NONE|q|SIP/1|PAUSE|{long}"), Some(IdTooLong)),
        (format!("NONE|q|SIP/1|PAUSE|{max}"), None),
        (
            format!("c1|q|SIP/1|BLINDTRANSFER|{max}|ctx|1|2|1"),
            Some(IdTooLong),
        ),
        (
            "c1|q\u{1b}[31m|NONE|ENTERQUEUE||x|1".to_owned(),
            Some(IdControlCharacter),
        ),
        (
            "c\t1|q|NONE|ENTERQUEUE||x|1".to_owned(),
            Some(IdControlCharacter),
        ),
        (
            "NONE|q|SIP/1|PAUSE|lunch\u{7}".to_owned(),
            Some(IdControlCharacter),
        ),
        (
            "c1|q|SIP/\u{1b}1|RINGINUSE|".to_owned(),
            Some(IdControlCharacter),
        ),
        ("c1|Süd|NONE|ENTERQUEUE||x|1".to_owned(), None),
    ] {
        let mut t = translator();
        let mut out = Vec::new();
        let got = t.line(at(0, &rest).as_bytes(), &mut out);
        let what = &rest[..rest.len().min(60)];
        match reason {
            None => assert!(got.is_ok() && !out.is_empty(), "{what}: {got:?}"),
            Some(reason) => {
                let err = got.expect_err(what);
                assert_eq!(err.reason(), reason, "{what}: {err}");
                assert!(out.is_empty(), "{what}: a rejected line emits nothing");
            }
        }
    }
    let err = kind(&at(0, &format!("c1|{long}|NONE|ENTERQUEUE||x|1"))).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the queue field is 129 bytes long, more than engine.max_id_bytes (128)"
    );
    // The limit is the configuration's.
    let settings = QueueLogSettings {
        max_id_bytes: 4,
        ..QueueLogSettings::default()
    };
    let mut t = Translator::new(settings);
    let mut out = Vec::new();
    assert!(t
        .line(at(0, "c1|abcd|NONE|ENTERQUEUE||x|1").as_bytes(), &mut out)
        .is_ok());
    let err = t.line(at(1, "c2|abcde|NONE|ENTERQUEUE||x|1").as_bytes(), &mut out);
    assert_eq!(err.unwrap_err().reason(), IdTooLong);
}
