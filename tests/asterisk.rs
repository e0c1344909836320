//! `acdstream replay --format asterisk-queue-log` end to end on queue_log files written from
//! Asterisk's documented format, against KPIs computed by hand.

use std::path::{Path, PathBuf};
use std::process::Command;

use acdstream::kpi::{KpiSnapshot, WindowKpis};

fn acdstream() -> Command {
    Command::new(env!("CARGO_BIN_EXE_acdstream"))
}

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/asterisk")
        .join(name)
        .display()
        .to_string()
}

/// Runs `replay --format asterisk-queue-log FILE --json` with the fixtures' configuration and
/// returns the snapshots and what was printed on stderr.
fn replay(file: &str) -> (Vec<KpiSnapshot>, String) {
    let out = acdstream()
        .args(["--config", &fixture("asterisk.toml"), "replay"])
        .args(["--format", "asterisk-queue-log", file, "--json"])
        .output()
        .expect("acdstream runs");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "replay failed: {stderr}");
    let snapshots = String::from_utf8(out.stdout)
        .expect("utf-8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is a KPI snapshot"))
        .collect();
    (snapshots, stderr)
}

/// A scratch copy of a fixture, changed by `edit`, in a directory of the test's own (`tag`)
/// that the caller removes.
fn edited(name: &str, tag: &str, edit: impl FnOnce(&str) -> String) -> (String, PathBuf) {
    let text = std::fs::read_to_string(fixture(name)).expect("fixture");
    let dir = std::env::temp_dir().join(format!("acdstream-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch directory");
    let path = dir.join(name);
    std::fs::write(&path, edit(&text)).expect("write the copy");
    (path.display().to_string(), dir)
}

fn close(v: Option<f64>, expected: f64) -> bool {
    v.is_some_and(|v| (v - expected).abs() < 1e-9)
}

/// Within HdrHistogram's 2 significant digits.
fn near(v: Option<f64>, expected: f64) -> bool {
    v.is_some_and(|v| (v - expected).abs() <= expected * 0.01)
}

fn today(s: &KpiSnapshot) -> &WindowKpis {
    s.windows.get("today").expect("today")
}

/// `tests/fixtures/asterisk/day.queue_log`: 2026-01-05 from 10:00:00 UTC (t = 0) to 10:07:00
/// (t = 420, the last line), written from Asterisk's documented queue_log format. Times below
/// are seconds; T = 20 s and short abandons < 5 s (the defaults); `asterisk.toml` names
/// PJSIP/3001 `carol` and gives support a wrapuptime of 10 s (sales has none).
///
/// Members: `sales` is a FreePBX-style ringall queue of Local/…@from-queue/n members: 2001 and
/// 2002 are added at 0, 2003 is a static member first seen answering at 212 (logged in from its
/// ring at 200). `support` is an rrmemory queue of carol and 2002 (2002 is in both queues).
/// A ringall round logs RINGNOANSWER|0 for every member it could not ring (`unavailable`); a
/// ring that timed out is a ringing from (line − ring time) and a `no_answer` at the line; a
/// CONNECT is a ringing from (line − ring time) and the answer.
///
/// sales:
///
/// | call | lines | counts |
/// |---|---|---|
/// | s1 `pbx1-…205.11` (system-name prefix) | offered 5; 2003 unavailable 5; CONNECT 2002 at 9 (ring 4) | ring 5, answered 9 (wait 4); COMPLETECALLER 69: talk 60 |
/// | s2 | offered 10; 2002, 2003 unavailable 10 and 30; 2001 rings 10–25 (no answer), rings again from 30 (RINGCANCELED 8000 at 38); ABANDON 38 | abandoned, wait 28: missed at 30; rings 2: no-answer (10), ring-abandoned (30) |
/// | s3 | offered 100; 2003 unavailable 100; CONNECT 2001 at 103 (ring 3) | answered (wait 3); ATTENDEDTRANSFER at 163: transferred out, talk 60 |
/// | s4 | offered 120; 2001, 2003 unavailable; CONNECT 2002 at 126 (ring 6) | answered (wait 6); BLINDTRANSFER at 186 into support: transferred out, talk 60 |
/// | s5 | offered 200; CONNECT 2003 at 212 (ring 12) | 2003 logged in at 200; answered (wait 12); COMPLETEAGENT 272: talk 60 |
/// | s7 | offered 290; CONNECT 2001 at 295 (ring 5) | answered (wait 5); still talking at the QUEUESTART at 330: ended there |
/// | s6 | offered 300, nothing more | missed at 320; ended by the restart at 330 |
/// | s8 | offered 360; 2001, 2002, 2003 ring 360–375 (ringall, RINGNOANSWER 15000); EXITWITHTIMEOUT 385 | flowed out (timeout), missed at 380; rings 3, all no-answer |
/// | s9 | offered 400; CONNECT 2002 at 404 (ring 4) | answered (wait 4); still talking when the file ends |
///
/// sales today: offered 9, answered 6 (all within T), abandoned 1 (s2), transferred out 2 (s3,
/// s4), flowed out 1 (s8); reached T 3 (s2, s6, s8): SL 6 / (6 + 0 + 3) = 2/3 (every variant:
/// no abandon within T); ASA (4+3+6+12+5+4)/6 = 34/6; waits {3, 4, 4, 5, 6, 12, 28}: p50 5,
/// p90 28; abandon rate 1/7; handled 4, talk 60 each, ACW 0, AHT 60; hold absent (queue_log has
/// no hold); rings 11 (1+2+1+1+1+1+3+1), no-answer 4, ring-abandoned 1, member unavailable 8
/// (1+4+1+2); rings per answer (⌈4/5⌉+⌈3/5⌉+⌈6/5⌉+⌈12/5⌉+⌈5/5⌉+⌈4/5⌉)/6 = (1+1+2+3+1+1)/6 =
/// 1.5; transfer rate 2/6. Agents over [0, 420]: 2001 busy 15+8+63+40+15 = 141, ready 279;
/// 2002 busy 64+66+15+20 = 165, ready 255; 2003 busy 72+15 = 87, ready 220−87 = 133 → busy
/// 393, ready 667: occupancy 393/1060, not ready 0. Now: nothing waiting; 2001 not ready
/// (PAUSE Break at 420), 2002 busy, 2003 ready. Ended by the restart: s6, s7.
///
/// support:
///
/// | call | lines | counts |
/// |---|---|---|
/// | sp1 | offered 20; carol rings 20–32 (no answer), 2002 unavailable 32 (busy on s1 in sales); CONNECT carol at 41 (ring 4) | answered, wait 21: missed at 40; rings 2, no-answer 1; COMPLETEAGENT 101: talk 60, ACW 101–111 |
/// | sp2 | offered 50; RINGINUSE carol, 2002 unavailable 50; ABANDON 53 | short abandon (3 s) |
/// | sp3 | offered 130 with both members paused; EXITEMPTY 133 | flowed out (empty), no SL event |
/// | s4 | offered 186 (logged before sales' BLINDTRANSFER, same second); CONNECT carol at 190 (ring 4) | answered (wait 4); COMPLETECALLER 250: talk 60, ACW 250–260 |
/// | sp4 | offered 320 | ended by the restart at 330, no SL event |
/// | sp5 | offered 410 | waiting when the file ends (10 s) |
///
/// support today: offered 6, answered 2 (s4 within T), short abandoned 1, flowed out 1;
/// reached T 1 (sp1): SL 1/2; ASA 12.5; handled 2, talk 60, ACW 10, AHT 70; rings 3,
/// no-answer 1, member unavailable 3; rings per answer (⌈21/5⌉ + ⌈4/5⌉)/2 = 3. Agents:
/// carol busy 12+64+64 = 140, ACW 20, not ready 115–170 (Lunch) 55, ready 205; 2002 is busy
/// other in support while on its sales calls (5–69, 120–186, 360–375, 400–420: 165, the sales
/// busy time above), which takes precedence over its support pause 116–240 (Training): not
/// ready 116–120 and 186–240 = 58, ready 5+47+120+25 = 197 → ready 402, not ready 113, busy
/// other 165; occupancy 160/(160+402), not ready 113/840. Now: carol ready, 2002 busy other
/// (s9 in sales). Ended by the restart: sp4.
///
/// Lines: 65; ignored 2 (CONFIGRELOAD, DID); rejected 2 (line 39, an unknown CUSTOM_SURVEY
/// event; line 40, three fields); 83 events (4 logins and 2 implicit ones, two per ring that
/// timed out or was connected …) of which 81 applied.
#[test]
fn the_fixture_gives_the_hand_computed_kpis() {
    let (snapshots, stderr) = replay(&fixture("day.queue_log"));
    assert!(
        stderr.contains("consumed 83 = applied 81 + duplicate 0 + late 0 + rejected 2"),
        "{stderr}"
    );
    for line in [
        "line 39: unknown_type: \"CUSTOM_SURVEY\" is not a queue_log event acdstream knows",
        "line 40: malformed: a queue_log line has at least 5 `|`-separated fields",
        "lines ignored (known, no call or agent event): 2 (not_a_call_event 2)",
        "PBX restarts: 2; calls in progress ended by them (pbx_restart): 3",
    ] {
        assert!(stderr.contains(line), "missing {line:?} in {stderr}");
    }
    assert_eq!(snapshots.len(), 2);
    let (sales, support) = (&snapshots[0], &snapshots[1]);
    assert_eq!(
        (sales.queue_id.as_str(), support.queue_id.as_str()),
        ("sales", "support")
    );
    assert_eq!(sales.as_of, 1_767_607_620_000);

    let w = today(sales);
    assert_eq!(
        (w.offered, w.answered, w.abandoned, w.short_abandoned),
        (9, 6, 1, 0)
    );
    assert_eq!((w.transferred_out, w.flowed_out), (2, 1));
    assert_eq!(
        (
            w.answered_within_threshold,
            w.abandoned_within_threshold,
            w.reached_threshold
        ),
        (6, 0, 3)
    );
    for sl in [
        w.service_level,
        w.service_level_ignore_abandons,
        w.service_level_positive,
    ] {
        assert!(close(sl, 6.0 / 9.0), "{sl:?}");
    }
    assert!(close(w.asa_seconds, 34.0 / 6.0));
    assert!(
        near(w.wait_p50_seconds, 5.0) && near(w.wait_p90_seconds, 28.0),
        "{w:?}"
    );
    assert!(close(w.abandon_rate, 1.0 / 7.0) && close(w.transfer_rate, 2.0 / 6.0));
    assert_eq!((w.handled, w.acw_completed), (4, 4));
    assert!(close(w.avg_talk_seconds, 60.0) && close(w.avg_acw_seconds, 0.0));
    assert!(close(w.aht_seconds, 60.0));
    assert_eq!(
        w.avg_hold_seconds, None,
        "queue_log has no hold: absent, not 0"
    );
    assert_eq!(
        (
            w.ring_attempts,
            w.ring_no_answer,
            w.ring_abandoned,
            w.member_unavailable
        ),
        (11, 4, 1, 8)
    );
    assert!(close(w.rings_per_answer, 1.5));
    assert_eq!((w.busy_agent_seconds, w.acw_agent_seconds), (393.0, 0.0));
    assert_eq!(
        (w.ready_agent_seconds, w.not_ready_agent_seconds),
        (667.0, 0.0)
    );
    assert!(close(w.occupancy, 393.0 / 1060.0) && close(w.not_ready_ratio, 0.0));
    let now = &sales.now;
    assert_eq!((now.calls_waiting, now.oldest_wait_seconds), (0, 0.0));
    assert_eq!(
        (
            now.agents_ready,
            now.agents_not_ready,
            now.agents_busy,
            now.agents_acw
        ),
        (1, 1, 1, 0)
    );

    let w = today(support);
    assert_eq!(
        (w.offered, w.answered, w.abandoned, w.short_abandoned),
        (6, 2, 0, 1)
    );
    assert_eq!((w.transferred_out, w.flowed_out), (0, 1));
    assert_eq!(
        (
            w.answered_within_threshold,
            w.abandoned_within_threshold,
            w.reached_threshold
        ),
        (1, 0, 1)
    );
    assert!(close(w.service_level, 0.5) && close(w.asa_seconds, 12.5));
    assert!(
        near(w.wait_p50_seconds, 4.0) && near(w.wait_p90_seconds, 21.0),
        "{w:?}"
    );
    assert!(close(w.abandon_rate, 0.0) && close(w.transfer_rate, 0.0));
    assert_eq!((w.handled, w.acw_completed), (2, 2));
    assert!(close(w.avg_talk_seconds, 60.0) && close(w.avg_acw_seconds, 10.0));
    assert!(close(w.aht_seconds, 70.0));
    assert_eq!(w.avg_hold_seconds, None);
    assert_eq!(
        (
            w.ring_attempts,
            w.ring_no_answer,
            w.ring_abandoned,
            w.member_unavailable
        ),
        (3, 1, 0, 3)
    );
    assert!(close(w.rings_per_answer, 3.0));
    assert_eq!((w.busy_agent_seconds, w.acw_agent_seconds), (140.0, 20.0));
    assert_eq!(
        (
            w.ready_agent_seconds,
            w.not_ready_agent_seconds,
            w.busy_other_agent_seconds
        ),
        (402.0, 113.0, 165.0)
    );
    assert!(close(w.occupancy, 160.0 / 562.0) && close(w.not_ready_ratio, 113.0 / 840.0));
    let now = &support.now;
    assert_eq!((now.calls_waiting, now.oldest_wait_seconds), (1, 10.0));
    assert_eq!(
        (
            now.agents_ready,
            now.agents_busy_other,
            now.agents_logged_in
        ),
        (1, 1, 2)
    );
}

/// `tests/fixtures/asterisk/crlf.queue_log`: CRLF line ends, and a last line cut short without
/// its line end (`…|COMPLETECALLER|5|5`, which would parse as a 5 s call: the real line said
/// 50). c1: offered 1, PJSIP/1 rings 2, answers 3 (wait 2), completes at 30 (talk 27). c2:
/// offered 40, rings 43, answered 45 (wait 5); its completion is the cut line, not read, so
/// c2 is still talking at 45. SL 2/2, ASA 3.5, handled 1 (talk 27, AHT 27); PJSIP/1 busy 2–30
/// and 43–45, ready 0–2 and 30–43: occupancy 30/45.
#[test]
fn crlf_line_ends_are_read_and_a_cut_last_line_is_not() {
    let (snapshots, stderr) = replay(&fixture("crlf.queue_log"));
    assert!(
        stderr.contains("consumed 10 = applied 9 + duplicate 0 + late 0 + rejected 1"),
        "{stderr}"
    );
    assert!(stderr.contains("line 7: truncated: "), "{stderr}");
    let w = today(&snapshots[0]);
    assert_eq!(
        (w.offered, w.answered, w.answered_within_threshold),
        (2, 2, 2)
    );
    assert!(close(w.service_level, 1.0) && close(w.asa_seconds, 3.5));
    assert_eq!(w.handled, 1);
    assert!(close(w.avg_talk_seconds, 27.0) && close(w.aht_seconds, 27.0));
    assert!(close(w.occupancy, 30.0 / 45.0));
    assert_eq!(snapshots[0].now.agents_busy, 1);
}

#[test]
fn the_fixture_with_crlf_line_ends_gives_the_same_kpis() {
    let (crlf, dir) = edited("day.queue_log", "crlf", |text| text.replace('\n', "\r\n"));
    let (a, _) = replay(&fixture("day.queue_log"));
    let (b, stderr) = replay(&crlf);
    std::fs::remove_dir_all(dir).ok();
    assert_eq!(a, b, "{stderr}");
}

/// A log shipper's retry delivers a run of lines again (here lines 41–50 once more after line
/// 50): every event of the copy has the id of its original, so it is counted as a duplicate
/// and the KPIs do not change. The first copy made 19 events; the second makes 18: no login
/// for 2003 this time (line 47), and line 49's held wrap_end comes out with line 51.
#[test]
fn lines_delivered_twice_are_counted_once() {
    let (twice, dir) = edited("day.queue_log", "twice", |text| {
        let lines: Vec<&str> = text.lines().collect();
        let mut out: Vec<&str> = lines[..50].to_vec();
        out.extend(&lines[40..50]);
        out.extend(&lines[50..]);
        out.join("\n") + "\n"
    });
    let (a, _) = replay(&fixture("day.queue_log"));
    let (b, stderr) = replay(&twice);
    std::fs::remove_dir_all(dir).ok();
    assert_eq!(a, b, "{stderr}");
    assert!(
        stderr.contains("consumed 101 = applied 81 + duplicate 18 + late 0 + rejected 2"),
        "{stderr}"
    );
}

#[test]
fn help_names_the_queue_log_format() {
    let out = acdstream()
        .args(["replay", "--help"])
        .output()
        .expect("acdstream runs");
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("--format <FORMAT>") && help.contains("asterisk-queue-log"),
        "{help}"
    );
}
