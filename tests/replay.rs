//! The `acdstream` binary end to end on recorded files: the checked-in fixture against KPIs
//! computed by hand, and simulated days delivered out of order and twice.

use std::path::Path;
use std::process::Command;

use acdstream::kpi::{KpiSnapshot, WindowKpis};

fn acdstream() -> Command {
    Command::new(env!("CARGO_BIN_EXE_acdstream"))
}

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
        .display()
        .to_string()
}

/// The fixture `name` as checked in and a copy with its lines reordered by `reorder`, written
/// to a scratch directory that the caller removes.
fn fixture_and_reordered(
    name: &str,
    reorder: impl FnOnce(&mut Vec<&str>),
) -> ([String; 2], std::path::PathBuf) {
    let text = std::fs::read_to_string(fixture(name)).expect("fixture");
    let mut lines: Vec<&str> = text.lines().collect();
    reorder(&mut lines);
    let dir = std::env::temp_dir().join(format!("acdstream-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch directory");
    let other = dir.join(name);
    std::fs::write(&other, lines.join("\n") + "\n").expect("write the reordered copy");
    ([fixture(name), other.display().to_string()], dir)
}

/// Runs `replay --json` and returns the snapshots and what was printed on stderr.
fn replay_json(args: &[&str]) -> (Vec<KpiSnapshot>, String) {
    let out = acdstream().args(args).output().expect("acdstream runs");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "replay failed: {stderr}");
    let snapshots = String::from_utf8(out.stdout)
        .expect("utf-8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is a KPI snapshot"))
        .collect();
    (snapshots, stderr)
}

fn close(v: Option<f64>, expected: f64) -> bool {
    v.is_some_and(|v| (v - expected).abs() < 1e-9)
}

/// Within HdrHistogram's 2 significant digits.
fn near(v: Option<f64>, expected: f64) -> bool {
    v.is_some_and(|v| (v - expected).abs() <= expected * 0.01)
}

fn window<'a>(s: &'a KpiSnapshot, name: &str) -> &'a WindowKpis {
    s.windows
        .get(name)
        .unwrap_or_else(|| panic!("window {name}"))
}

/// `tests/fixtures/day.jsonl`: 2026-01-05 from 10:00:00 UTC, ending at 10:05:45 (t = 345 s).
/// Lines are in arrival order: a hold after its unhold, an abandon before its offer and a
/// ringing after its answer (all within the 30 s lateness), one redelivered line, one event
/// 95 s behind its queue (late), and five bad lines. `replay.toml` gives support T = 30 s.
///
/// sales (T = 20 s), times in seconds:
///
/// | call | life | counts |
/// |---|---|---|
/// | c1 | offered 10, ring s1 12, answered 17, wrap 137, wrap_end 167 | wait 7 ≤ T, 1 ring, talk 120, ACW 30 |
/// | c2 | offered 20, ring s2 22, ring s2 37, answered 40, hold 60–90, wrap 200, wrap_end 220 | wait 20 ≤ T, 4 rings, 1 RNA (22), talk 130, hold 30, ACW 20 |
/// | c3 | offered 30, abandoned 33 | short abandon |
/// | c4 | offered 41, transferred 76 → support, unanswered | flowed out, missed at 61 |
/// | c5 | offered 100, abandoned 112 | abandoned within T |
/// | c6 | offered 150, ring s1 170, answered 180, wrap 300, wrap_end 330 | missed at 170, 2 rings, talk 120, ACW 30 |
/// | c7 | offered 200, abandoned 260 | abandoned, missed at 220 |
/// | c8 | offered 280, still waiting at 345 | missed at 300 |
///
/// today: SL = 2 / (2 + 1 + 4) = 2/7; ignoring abandons 2/6; positive 3/7; ASA (7+20+30)/3 =
/// 19 s; waits {7, 12, 20, 30, 60}: p50 20, p90 60; abandon rate 2/5; talk 370/3, hold 30/3,
/// ACW 80/3, AHT 160 s; rings (1+4+2)/3; transfer rate 0/3 (c4 left unanswered: a flow-out,
/// not a transfer out). Agents over [0, 345]: s1 busy
/// 125+130, ACW 30+30, ready 12+3+15; s2 busy 178, ACW 20, ready 22+10+55, not ready 60 →
/// busy 433, ACW 80, ready 117, not ready 60: occupancy 513/630, not-ready 60/690.
///
/// 5m = [50, 345]: offered c5–c8 = 4; answered c6; abandoned c5, c7; flowed out c4 (76);
/// SL events: c5 abandoned within T, missed c4 (61), c6, c7, c8 → SL 0/5, positive 1/5;
/// waits {12, 30, 60}; rings: c6's one ring, no RNA; wraps and wrap_ends all three.
/// Agents: s1 busy 87+130, ACW 60, ready 3+15; s2 busy 150, ACW 20, ready 10+55, not ready 60
/// → occupancy 447/530, not-ready 60/590.
///
/// support (T = 30 s): c4 offered 76, ring p1 80, answered 85 (wait 9), wrap 245, wrap_end 275;
/// c9 offered 100, abandoned 140 (missed at 130); c10 offered 300, ring 305, answered 345
/// (wait 45, missed at 330, 8 rings). p1: ready 80 + 30, busy 165 + 40, ACW 30.
#[test]
fn fixture_replay_matches_the_hand_computed_kpis() {
    let (snapshots, stderr) = replay_json(&[
        "--config",
        &fixture("replay.toml"),
        "replay",
        &fixture("day.jsonl"),
        "--json",
    ]);
    assert!(
        stderr.contains("consumed 49 = applied 42 + duplicate 1 + late 1 + rejected 5"),
        "{stderr}"
    );
    for line in [
        "line 7: malformed",
        "line 15: unknown_type",
        "line 23: missing_agent_id",
        "line 24: no_offer",
        "line 32: out_of_sequence",
    ] {
        assert!(stderr.contains(line), "missing {line:?} in {stderr}");
    }
    assert_eq!(snapshots.len(), 2);
    let (sales, support) = (&snapshots[0], &snapshots[1]);
    assert_eq!(
        (sales.queue_id.as_str(), support.queue_id.as_str()),
        ("sales", "support")
    );
    assert_eq!(sales.as_of, 1_767_607_545_000);
    assert_eq!(
        (sales.sl_threshold_seconds, support.sl_threshold_seconds),
        (20.0, 30.0)
    );

    for name in ["today", "interval", "60m", "15m"] {
        let w = window(sales, name);
        assert_eq!(
            (
                w.offered,
                w.answered,
                w.abandoned,
                w.short_abandoned,
                w.transferred_out,
                w.flowed_out
            ),
            (8, 3, 2, 1, 0, 1)
        );
        assert_eq!(
            (
                w.answered_within_threshold,
                w.abandoned_within_threshold,
                w.reached_threshold
            ),
            (2, 1, 4)
        );
        assert!(
            close(w.service_level, 2.0 / 7.0),
            "{name}: {:?}",
            w.service_level
        );
        assert!(close(w.service_level_ignore_abandons, 2.0 / 6.0));
        assert!(close(w.service_level_positive, 3.0 / 7.0));
        assert!(close(w.asa_seconds, 19.0));
        assert!(
            near(w.wait_p50_seconds, 20.0) && near(w.wait_p90_seconds, 60.0),
            "{name}: {w:?}"
        );
        assert!(close(w.abandon_rate, 0.4));
        assert!(close(w.avg_talk_seconds, 370.0 / 3.0) && close(w.avg_hold_seconds, 10.0));
        assert!(close(w.avg_acw_seconds, 80.0 / 3.0) && close(w.aht_seconds, 160.0));
        assert_eq!((w.ring_attempts, w.ring_no_answer), (4, 1));
        assert!(close(w.rings_per_answer, 7.0 / 3.0) && close(w.transfer_rate, 0.0));
        assert_eq!((w.busy_agent_seconds, w.acw_agent_seconds), (433.0, 80.0));
        assert_eq!(
            (w.ready_agent_seconds, w.not_ready_agent_seconds),
            (117.0, 60.0)
        );
        assert!(close(w.occupancy, 513.0 / 630.0) && close(w.not_ready_ratio, 60.0 / 690.0));
    }

    let w = window(sales, "5m");
    assert_eq!(
        (
            w.offered,
            w.answered,
            w.abandoned,
            w.short_abandoned,
            w.transferred_out,
            w.flowed_out
        ),
        (4, 1, 2, 0, 0, 1)
    );
    assert_eq!(
        (
            w.answered_within_threshold,
            w.abandoned_within_threshold,
            w.reached_threshold
        ),
        (0, 1, 4)
    );
    assert!(close(w.service_level, 0.0) && close(w.service_level_positive, 0.2));
    assert!(
        close(w.asa_seconds, 30.0)
            && near(w.wait_p50_seconds, 30.0)
            && near(w.wait_p90_seconds, 60.0)
    );
    assert!(close(w.abandon_rate, 2.0 / 3.0));
    assert_eq!(
        (
            w.ring_attempts,
            w.ring_no_answer,
            w.handled,
            w.acw_completed
        ),
        (1, 0, 3, 3)
    );
    assert!(close(w.rings_per_answer, 2.0) && close(w.transfer_rate, 0.0));
    assert_eq!((w.busy_agent_seconds, w.acw_agent_seconds), (367.0, 80.0));
    assert_eq!(
        (w.ready_agent_seconds, w.not_ready_agent_seconds),
        (83.0, 60.0)
    );
    assert!(close(w.occupancy, 447.0 / 530.0) && close(w.not_ready_ratio, 60.0 / 590.0));

    assert_eq!(sales.now.calls_waiting, 1);
    assert_eq!(sales.now.oldest_wait_seconds, 65.0);
    assert_eq!(
        (
            sales.now.agents_ready,
            sales.now.agents_busy,
            sales.now.agents_logged_in
        ),
        (2, 0, 2)
    );

    let w = window(support, "today");
    assert_eq!(
        (w.offered, w.answered, w.abandoned, w.transferred_out),
        (3, 2, 1, 0)
    );
    assert_eq!(
        (
            w.answered_within_threshold,
            w.abandoned_within_threshold,
            w.reached_threshold
        ),
        (1, 0, 2)
    );
    assert!(close(w.service_level, 1.0 / 3.0) && close(w.asa_seconds, 27.0));
    assert!(near(w.wait_p50_seconds, 40.0) && near(w.wait_p90_seconds, 45.0));
    assert!(close(w.aht_seconds, 190.0) && close(w.avg_hold_seconds, 0.0));
    assert!(close(w.rings_per_answer, 4.5) && close(w.transfer_rate, 0.0));
    assert_eq!(
        (
            w.busy_agent_seconds,
            w.acw_agent_seconds,
            w.ready_agent_seconds
        ),
        (205.0, 30.0, 110.0)
    );
    assert!(close(w.occupancy, 235.0 / 345.0) && close(w.not_ready_ratio, 0.0));
    assert_eq!((support.now.calls_waiting, support.now.agents_busy), (0, 1));
}

/// A simulated day delivered with up to 20 s of reordering and 5 % redeliveries gives exactly
/// the KPIs of the same day delivered cleanly.
#[test]
fn out_of_order_and_redelivered_simulation_gives_identical_kpis() {
    let dir = std::env::temp_dir().join(format!("acdstream-replay-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let clean = dir.join("clean.jsonl");
    let messy = dir.join("messy.jsonl");
    let simulate = |path: &Path, extra: &[&str]| {
        let status = acdstream()
            .args(["simulate", "--seed", "7", "--duration", "3h", "--out"])
            .arg(path)
            .args(extra)
            .status()
            .unwrap();
        assert!(status.success());
    };
    simulate(&clean, &[]);
    simulate(&messy, &["--jitter", "20s", "--duplicates", "0.05"]);

    let (a, a_log) = replay_json(&["replay", clean.to_str().unwrap(), "--json"]);
    let (b, b_log) = replay_json(&["replay", messy.to_str().unwrap(), "--json"]);
    assert_eq!(a.len(), 4);
    assert_eq!(a, b);
    assert!(
        a_log.contains("+ duplicate 0 + late 0 + rejected 0"),
        "{a_log}"
    );
    assert!(b_log.contains("+ late 0 + rejected 0"), "{b_log}");
    assert!(
        !b_log.contains("duplicate 0 "),
        "the messy day has redeliveries: {b_log}"
    );
    let support = a.iter().find(|s| s.queue_id == "support").unwrap();
    assert!(
        window(support, "today").offered > 500,
        "a 3 h day with a surge"
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// `tests/fixtures/surge-scenario.toml` replayed: "hot" triples its arrivals from 09:10 to
/// 09:30; the replay lists its one episode (onset within the three minutes the 5-minute window
/// takes to reach 1.5 × the baseline at triple rate), reordered delivery lists the same, and the
/// well-staffed "calm" queue has none that lasted.
#[test]
fn replay_lists_the_surge_episodes_the_same_whatever_the_delivery_order() {
    let dir = std::env::temp_dir().join(format!("acdstream-surge-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (clean, messy) = (dir.join("clean.jsonl"), dir.join("messy.jsonl"));
    for (path, extra) in [(&clean, &[][..]), (&messy, &["--jitter", "20s"][..])] {
        let status = acdstream()
            .args(["simulate", "--scenario", &fixture("surge-scenario.toml")])
            .args([
                "--duration",
                "2h",
                "--start",
                "2026-01-05T08:00:00Z",
                "--out",
            ])
            .arg(path)
            .args(extra)
            .status()
            .unwrap();
        assert!(status.success());
    }
    let (_, log) = replay_json(&["replay", clean.to_str().unwrap(), "--json"]);
    let (_, messy_log) = replay_json(&["replay", messy.to_str().unwrap(), "--json"]);
    let episodes = |log: &str| -> Vec<String> {
        log.lines()
            .filter(|l| l.starts_with("  ") && !l.trim_start().starts_with("queue"))
            .filter(|l| {
                l.contains("T")
                    && (l.contains("responded") || l.contains("subsided") || l.contains("open"))
            })
            .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
            .collect()
    };
    let listed = episodes(&log);
    let hot: Vec<&String> = listed.iter().filter(|l| l.starts_with("hot ")).collect();
    assert_eq!(hot.len(), 1, "{log}");
    let onset = hot[0].split(' ').nth(1).unwrap();
    assert!(
        ("2026-01-05T09:10:00Z"..="2026-01-05T09:13:00Z").contains(&onset),
        "{log}"
    );
    assert!(
        listed
            .iter()
            .all(|l| !l.starts_with("calm ") || l.contains("responded")),
        "{log}"
    );
    assert_eq!(listed, episodes(&messy_log), "{log}\n{messy_log}");
    std::fs::remove_dir_all(&dir).ok();
}

/// Kafka partitions are consumed at their own pace, so one queue's events can arrive long after
/// another's newer ones, and an event-time engine's "now" (its newest event) then runs far ahead
/// of the lagging queue. The surge scenario's two queues replayed one after the other ("calm"
/// whole, then "hot" from 08:00) give the snapshots and episodes of the file in time order: the
/// lagging queue's windows keep the history its surge edges are judged on. (Before, "hot"'s
/// ring had moved on with the clock, and its subsided episode was never judged.)
#[test]
fn a_queue_delivered_after_another_queue_s_newer_events_gives_the_same_kpis_and_episodes() {
    let dir = std::env::temp_dir().join(format!("acdstream-lag-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (in_order, by_queue) = (dir.join("in-order.jsonl"), dir.join("by-queue.jsonl"));
    let status = acdstream()
        .args(["simulate", "--scenario", &fixture("surge-scenario.toml")])
        .args(["--duration", "2h", "--start", "2026-01-05T08:00:00Z"])
        .arg("--out")
        .arg(&in_order)
        .status()
        .unwrap();
    assert!(status.success());
    let text = std::fs::read_to_string(&in_order).unwrap();
    let mut lines: Vec<(String, &str)> = text
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (v["queue_id"].as_str().unwrap().to_string(), l)
        })
        .collect();
    // A stable sort keeps each queue's own order: "calm" whole, then "hot".
    lines.sort_by(|a, b| a.0.cmp(&b.0));
    let body: String = lines.iter().map(|(_, l)| format!("{l}\n")).collect();
    std::fs::write(&by_queue, body).unwrap();

    let (a, a_log) = replay_json(&["replay", in_order.to_str().unwrap(), "--json"]);
    let (b, b_log) = replay_json(&["replay", by_queue.to_str().unwrap(), "--json"]);
    assert_eq!(a.len(), 2);
    assert_eq!(a, b);
    let episodes = |log: &str| -> Vec<String> {
        log.lines()
            .filter(|l| l.starts_with("  hot ") || l.starts_with("  calm "))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(episodes(&a_log).len(), 1, "{a_log}");
    assert_eq!(episodes(&a_log), episodes(&b_log), "{a_log}\n{b_log}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn help_and_bad_config_are_clear() {
    let out = acdstream().arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for cmd in ["demo", "replay", "simulate"] {
        assert!(help.contains(cmd), "{help}");
    }
    let dir = std::env::temp_dir().join(format!("acdstream-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("bad.toml");
    std::fs::write(
        &cfg,
        "[engine]\nwindows = [\"7s\"]\n[kpi.default]\nsl_target = 1.5\n",
    )
    .unwrap();
    let out = acdstream()
        .arg("--config")
        .arg(&cfg)
        .args(["replay", "-"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("engine.windows") && err.contains("kpi.default.sl_target"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// Writes the lines of fixture `name` in another arrival order to a temporary file.
fn rearranged(
    name: &str,
    tag: &str,
    order: impl Fn(&mut Vec<(i64, String)>),
) -> std::path::PathBuf {
    let text = std::fs::read_to_string(fixture(name)).unwrap();
    let mut lines: Vec<(i64, String)> = text
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (v["ts"].as_i64().unwrap(), l.to_string())
        })
        .collect();
    order(&mut lines);
    let path = std::env::temp_dir().join(format!("acdstream-{tag}-{}.jsonl", std::process::id()));
    let body: String = lines.iter().map(|(_, l)| format!("{l}\n")).collect();
    std::fs::write(&path, body).unwrap();
    path
}

/// `tests/fixtures/rings.jsonl`: queue "rings", 2026-01-05 from 10:00:00 UTC, ending at 10:05:00
/// (t = 300 s); agents a1, a2, a3 ready at 0. Lines are in arrival order: each abandon arrives
/// before the ringing it ended (within the 30 s lateness). Times in seconds:
///
/// | call | life | rings |
/// |---|---|---|
/// | r1 | offered 0, ring a1 2, abandoned 9 | a1's ring ended by the caller: ring_abandoned (at 2) |
/// | r2 | offered 10, ring a1 12, ring a2 27, abandoned 35 | a1 did not answer: ring_no_answer (at 12); a2's ring ended by the caller: ring_abandoned (at 27) |
/// | r3 | offered 40, ring a2 41, answered 44, hold 60–80, wrap 140, wrap_end 170 | talk 140 − 44 − 20 = 76, hold 20, ACW 30, handle 170 − 44 = 126 |
/// | r4 | offered 50, ring a1 51, answered 56, wrap 100, wrap_end 300 | talk 44, ACW 200, handle 300 − 56 = 244 |
/// | r5 | offered 60, ring a3 61, answered 66, wrap 200 | talk 134; ACW not over at 300 |
///
/// today (and 5m = [0, 300]): ring_attempts 6, ring_no_answer 1, ring_abandoned 2 (the rule
/// before counted all three as ring-no-answer); rings per answer (1 + 1 + 1) / 3 = 1.
/// handled 3: avg talk (76 + 44 + 134) / 3 = 254/3, avg hold 20/3; acw_completed 2 (r3, r4):
/// avg ACW (30 + 200) / 2 = 115; AHT = (126 + 244) / 2 = 185 s over the two calls whose ACW
/// ended (adding the three means, as before, gave 254/3 + 20/3 + 115 = 206.3 s). Staffing uses
/// the same AHT. Abandons: r1 waited 9 s (within T), r2 25 s (missed at 30).
#[test]
fn ring_abandoned_and_one_denominator_aht_match_the_hand_computed_fixture_in_both_orders() {
    let sorted = rearranged("rings.jsonl", "rings-sorted", |l| l.sort_by_key(|x| x.0));
    let (arrival, log) = replay_json(&["replay", &fixture("rings.jsonl"), "--json"]);
    let (in_order, _) = replay_json(&["replay", sorted.to_str().unwrap(), "--json"]);
    assert!(
        log.contains("consumed 26 = applied 26 + duplicate 0 + late 0 + rejected 0"),
        "{log}"
    );
    assert_eq!(arrival, in_order, "arrival order changed a KPI");
    assert_eq!(arrival.len(), 1);
    let s = &arrival[0];
    assert_eq!(s.as_of, 1_767_607_500_000);
    for name in ["today", "5m"] {
        let w = window(s, name);
        assert_eq!((w.offered, w.answered, w.abandoned), (5, 3, 2), "{name}");
        assert_eq!(
            (w.ring_attempts, w.ring_no_answer, w.ring_abandoned),
            (6, 1, 2),
            "{name}"
        );
        assert!(close(w.rings_per_answer, 1.0));
        assert_eq!((w.handled, w.acw_completed), (3, 2));
        assert!(close(w.avg_talk_seconds, 254.0 / 3.0) && close(w.avg_hold_seconds, 20.0 / 3.0));
        assert!(close(w.avg_acw_seconds, 115.0));
        assert!(close(w.aht_seconds, 185.0), "{name}: {:?}", w.aht_seconds);
        assert_eq!((w.abandoned_within_threshold, w.reached_threshold), (1, 1));
    }
    assert_eq!(s.staffing.map(|st| st.aht_seconds), Some(185.0));
    std::fs::remove_file(sorted).ok();
}

/// `tests/fixtures/surge-absorbed.jsonl` with `surge-absorbed.toml`: queue "floor", 2026-01-05
/// from 10:00:00 UTC; a forecast of 30 calls for the 10:00 interval is its baseline, 1 call/min,
/// so an edge surges with ≥ 10 calls in the 5 minutes before it (≥ 2/min ≥ 1.5 × 1/min) and
/// is below the subside level (1.25/min) with fewer than 10. T = 20 s, target 80 %. Calls (t in
/// seconds): every 20 s from 0 to 180 answered after 5 s; at 200, 220, 240, 260 abandoned after
/// 30 s (each reaches T, at t + 20, unanswered); every 20 s from 280 to 600 answered after 5 s;
/// every 10 s from 960 to 1050 answered after 5 s; an agent event at 1100 settles the edges to
/// 1070. At edge e the short window is [e − 300, e):
///
/// | edge | offered | answered ≤ T | reached T | SL | |
/// |---|---|---|---|---|---|
/// | 3:00 | 9 (0–160) | 9 | 0 | 100 % | fewer than 10 calls |
/// | 3:10 | 10 (0–180) | 10 | 0 | 100 % | surging at target: **absorbed** (rise 1) |
/// | 4:20 | 13 | 10 | 2 (220, 240) | 83.3 % | same rise: not counted again |
/// | 4:30 | 14 (0–260) | 10 | 3 (220–260) | 76.9 % | surging, below target: **episode opens** |
/// | 8:40 | 15 (220–500) | 12 (answers 285–505) | 4 (220–280) | 75 % | open |
/// | 8:50 | 15 (240–520) | 13 (285–525) | 3 (240–280) | 81.25 % | **responded**, 4m20s |
/// | 12:10 | 9 (440–600) | | | | fewer than 10 calls, below subside: re-armed |
/// | 17:40 | 10 (960–1050) | 10 | 0 | 100 % | **absorbed** (rise 2) |
///
/// So: one episode (10:04:30, responded in 4m20s) and 2 surges absorbed. The rule before
/// opened an episode at 3:10 "responded in 0 s", was then disarmed for the rest of the rise
/// (no episode at 4:30), and gave another 0 s episode at 17:40.
#[test]
fn a_surge_the_floor_absorbs_opens_no_episode_and_one_that_hurts_does_in_both_orders() {
    let swapped = rearranged("surge-absorbed.jsonl", "surge-swapped", |l| {
        // Swap neighbours up to 20 s apart: within the 30 s lateness.
        let mut i = 0;
        while i + 1 < l.len() {
            if l[i + 1].0 - l[i].0 <= 20_000 {
                l.swap(i, i + 1);
                i += 2;
            } else {
                i += 1;
            }
        }
    });
    let config = fixture("surge-absorbed.toml");
    let (a, a_log) = replay_json(&[
        "--config",
        &config,
        "replay",
        &fixture("surge-absorbed.jsonl"),
        "--json",
    ]);
    let (b, b_log) = replay_json(&[
        "--config",
        &config,
        "replay",
        swapped.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(a, b, "arrival order changed a KPI");
    for log in [&a_log, &b_log] {
        assert!(
            log.contains("surge episodes: 1 responded, 0 subsided, 0 open"),
            "{log}"
        );
        assert!(
            log.lines().any(|l| l.split_whitespace().collect::<Vec<_>>()
                == ["floor", "2026-01-05T10:04:30Z", "responded", "4m20s"]),
            "{log}"
        );
        assert!(
            log.contains("surges absorbed (service level at target, no episode): 2 (floor 2)"),
            "{log}"
        );
        assert!(log.contains("rejected 0"), "{log}");
    }
    assert_eq!(a.len(), 1);
    let surge = &a[0].surge;
    assert_eq!(surge.absorbed, 2);
    assert!(!surge.active && surge.onset.is_none());
    std::fs::remove_file(swapped).ok();
}

/// `tests/fixtures/legs.jsonl`: transfers, from 2026-01-05 10:00:00 UTC, times in seconds;
/// sales and tier2 both T = 20 s; a1, a2 ready in sales and b1 in tier2 from 0.
///
/// | call | legs |
/// |---|---|
/// | k1 | sales: offered 0, ring a1 2, answered a1 5, blind transfer by a1 at 60 back into sales (no wrap) → sales: offered 60, ring a2 62, answered a2 66, wrap 120, wrap_end 130 |
/// | k2 | sales: offered 10, transferred unanswered at 40 → tier2: offered 40, ring b1 41, answered b1 45, wrap 90, transferred at 90 → sales: offered 90, answered a1 95, wrap 150, wrap_end 160 |
///
/// sales: offered 4 legs (0, 10, 60, 90); answered 3 (waits 5, 6, 5, all ≤ T); k2's first leg
/// flowed out (unanswered) and reached T at 30; k1's first leg was transferred out after its
/// answer → SL 3 / (3 + 1) = 0.75, ASA 16/3 s, transferred_out 1, flowed_out 1, transfer rate
/// 1/3; wraps 2: talk 120 − 66 = 54 and 150 − 95 = 55, ACW 10 and 10. Agents to 160: a1 busy
/// 2–60 (released by the transfer, no wrap) and 95–150, ACW 150–160, ready 0–2 and 60–95; a2
/// busy 62–120, ACW 120–130, ready 0–62 and 130–160 → busy 58 + 55 + 58 = 171, ACW 20, ready
/// 37 + 92 = 129: occupancy 191/320. At 160 both are ready, nobody busy.
///
/// tier2: offered 1, answered 1 (wait 5), transferred out after the answer 1 → transfer rate
/// 1; talk 90 − 45 = 45, ACW 10; b1 busy 41–90, ACW 90–100, ready 0–41 and 100–160 →
/// occupancy 59/160.
///
/// The same KPIs whichever of a transfer and the offer it leads to arrives first: the test
/// also replays the file with each such pair swapped.
#[test]
fn transfer_legs_count_once_per_visit_in_either_arrival_order() {
    // The other order of each transfer and the offer it leads to.
    let (files, dir) = fixture_and_reordered("legs.jsonl", |lines| {
        let mut i = 0;
        while i + 1 < lines.len() {
            if lines[i].contains(r#""type":"transferred""#)
                && lines[i + 1].contains(r#""type":"offered""#)
            {
                lines.swap(i, i + 1);
                i += 1;
            }
            i += 1;
        }
    });
    for file in files {
        let (snapshots, stderr) = replay_json(&["replay", &file, "--json"]);
        assert!(
            stderr.contains("consumed 24 = applied 24 + duplicate 0 + late 0 + rejected 0"),
            "{file}: {stderr}"
        );
        let (sales, tier2) = (&snapshots[0], &snapshots[1]);
        assert_eq!(
            (sales.queue_id.as_str(), tier2.queue_id.as_str()),
            ("sales", "tier2")
        );
        let w = window(sales, "today");
        assert_eq!(
            (w.offered, w.answered, w.transferred_out, w.flowed_out),
            (4, 3, 1, 1),
            "{file}"
        );
        assert_eq!((w.answered_within_threshold, w.reached_threshold), (3, 1));
        assert!(close(w.service_level, 0.75) && close(w.asa_seconds, 16.0 / 3.0));
        assert!(close(w.transfer_rate, 1.0 / 3.0));
        assert!(close(w.avg_talk_seconds, 54.5) && close(w.avg_acw_seconds, 10.0));
        assert_eq!(
            (
                w.busy_agent_seconds,
                w.acw_agent_seconds,
                w.ready_agent_seconds
            ),
            (171.0, 20.0, 129.0)
        );
        assert!(close(w.occupancy, 191.0 / 320.0));
        assert_eq!(
            (
                sales.now.agents_ready,
                sales.now.agents_busy,
                sales.now.calls_waiting
            ),
            (2, 0, 0)
        );
        let w = window(tier2, "today");
        assert_eq!(
            (w.offered, w.answered, w.transferred_out, w.flowed_out),
            (1, 1, 1, 0)
        );
        assert!(close(w.transfer_rate, 1.0) && close(w.avg_talk_seconds, 45.0));
        assert!(close(w.occupancy, 59.0 / 160.0));
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// `tests/fixtures/skew.jsonl`: two CTI servers whose clocks differ, sales T = 20 s, times in
/// seconds from 2026-01-05 10:00:00 UTC; `engine.max_clock_skew` is 10 s by default.
///
/// | call | as stamped | applied |
/// |---|---|---|
/// | s1 | offered 10, answered a1 5 (5 s early), wrap 60, wrap_end 70 | answered at 10: wait 0, talk 50, ACW 10 |
/// | s2 | offered 30, answered a2 17 (13 s early) | the answer is rejected (negative_duration); s2 still waits |
/// | s3 | offered 40, answered a2 45, wrap 100, wrap_end 98 (2 s early) | wrap_end at 100: talk 55, ACW 0 |
///
/// offered 3, answered 2 within T (waits 0 and 5), s2 reached T at 50 → SL 2/3, ASA 2.5 s;
/// handled 2: talk (50 + 55)/2 = 52.5, ACW (10 + 0)/2 = 5; 2 events moved; consumed 10 =
/// applied 9 + rejected 1. The same in the other arrival order of each skewed pair.
#[test]
fn steps_stamped_a_little_early_are_applied_at_the_step_they_follow() {
    // Each skewed step is the line after the step it follows: swap the pairs.
    let (files, dir) = fixture_and_reordered("skew.jsonl", |lines| {
        for (a, b) in [(0, 1), (2, 3), (8, 9)] {
            lines.swap(a, b);
        }
    });
    for file in files {
        let (snapshots, stderr) = replay_json(&["replay", &file, "--json"]);
        assert!(
            stderr.contains("consumed 10 = applied 9 + duplicate 0 + late 0 + rejected 1"),
            "{file}: {stderr}"
        );
        assert!(stderr.contains("rejected by reason: negative_duration 1"));
        assert!(stderr.contains("clock skew: 2 call events"), "{stderr}");
        let w = window(&snapshots[0], "today");
        assert_eq!(
            (
                w.offered,
                w.answered,
                w.answered_within_threshold,
                w.reached_threshold
            ),
            (3, 2, 2, 1),
            "{file}"
        );
        assert!(close(w.service_level, 2.0 / 3.0) && close(w.asa_seconds, 2.5));
        assert!(close(w.avg_talk_seconds, 52.5) && close(w.avg_acw_seconds, 5.0));
        assert_eq!(snapshots[0].now.calls_waiting, 1);
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// `tests/fixtures/multiskill.jsonl`: one agent in two queues, from 2026-01-05 10:00:00 UTC to
/// 10:04:00 (t = 240 s), times in seconds, both queues T = 20 s. m1 logs in to sales and
/// support at 0, s1 to support.
///
/// | t | event | m1 in sales | m1 in support |
/// |---|---|---|---|
/// | 10–90 | sales call k1: ring m1 12, answered 15, wrap 75, wrap_end 90 | busy 12–75, ACW 75–90 | busy other 12–90 |
/// | 20–70 | support call k2: ring s1 22, answered 25, wrap 60, wrap_end 70 | | |
/// | 120 | m1 not ready **without a queue** ("lunch": every queue m1 is in) | not ready | not ready |
/// | 130 | m1 logged out of support | | logged out |
/// | 180 | m1 ready without a queue: only sales, m1 being logged out of support | ready | |
/// | 200–205 | sales call k3: ring m1 202, answered 205, still talking at 240 | busy from 202 | |
/// | 220 | m1 logs in to support again, mid-call | | busy other from 220 |
/// | 230 | x9 not ready without a queue: x9 is in no queue, rejected `unknown_agent` | | |
/// | 240 | support call k4 offered (waiting at the end) | | |
///
/// sales: m1 ready 0–12, 90–120, 180–202 = 64 s; busy 63 + 38 = 101 s; ACW 15 s; not ready
/// 120–180 = 60 s; occupancy (101 + 15) / (116 + 64) = 116/180, not ready 60/240. Offered 2,
/// answered 2 (waits 5, 5), AHT = k1's 60 + 15 = 75 s. Now: m1 busy.
///
/// support: m1 ready 0–12, 90–120 = 42 s, busy other 12–90 and 220–240 = 98 s, not ready
/// 120–130 = 10 s; s1 ready 0–22, 70–240 = 192 s, busy 22–60 = 38 s, ACW 60–70 = 10 s. Ready
/// 234, busy other 98: occupancy (38 + 10) / (48 + 234) = 48/282 (the model before this one
/// counted m1 ready 12–90 and 220–240 as well: 48/380), not ready 10 / (48 + 234 + 10 + 98)
/// = 10/390. Now: s1 ready, m1 busy other, logged in 2, k4 waiting; Erlang C staffs s1 only
/// (1, not 2). consumed 22 = applied 21 + rejected 1.
///
/// The same with each run of 25 s of event time delivered backwards (within the 30 s
/// lateness): then m1's login to support at 0 arrives after the answer at 15 in sales, and the
/// login at 220 before the ring at 202.
#[test]
fn a_multi_skilled_agent_is_busy_other_in_its_other_queue_in_either_arrival_order() {
    let (files, dir) = fixture_and_reordered("multiskill.jsonl", |lines| {
        let t0 = 1_767_607_200_000i64;
        let run = |l: &&str| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (v["ts"].as_i64().unwrap() - t0) / 25_000
        };
        for chunk in lines.chunk_by_mut(|a, b| run(a) == run(b)) {
            chunk.reverse();
        }
    });
    for file in files {
        let (snapshots, stderr) = replay_json(&["replay", &file, "--json"]);
        assert!(
            stderr.contains("consumed 22 = applied 21 + duplicate 0 + late 0 + rejected 1"),
            "{file}: {stderr}"
        );
        assert!(
            stderr.contains("rejected by reason: unknown_agent 1"),
            "{stderr}"
        );
        let (sales, support) = (&snapshots[0], &snapshots[1]);
        assert_eq!(
            (sales.queue_id.as_str(), support.queue_id.as_str()),
            ("sales", "support")
        );
        let w = window(sales, "today");
        assert_eq!(
            (
                w.busy_agent_seconds,
                w.acw_agent_seconds,
                w.ready_agent_seconds,
                w.not_ready_agent_seconds,
                w.busy_other_agent_seconds
            ),
            (101.0, 15.0, 64.0, 60.0, 0.0),
            "{file}"
        );
        assert!(close(w.occupancy, 116.0 / 180.0) && close(w.not_ready_ratio, 0.25));
        assert_eq!((w.offered, w.answered), (2, 2));
        assert!(close(w.aht_seconds, 75.0));
        assert_eq!((sales.now.agents_busy, sales.now.agents_busy_other), (1, 0));
        let w = window(support, "today");
        assert_eq!(
            (
                w.busy_agent_seconds,
                w.acw_agent_seconds,
                w.ready_agent_seconds,
                w.not_ready_agent_seconds,
                w.busy_other_agent_seconds
            ),
            (38.0, 10.0, 234.0, 10.0, 98.0),
            "{file}"
        );
        assert!(close(w.occupancy, 48.0 / 282.0) && close(w.not_ready_ratio, 10.0 / 390.0));
        let now = &support.now;
        assert_eq!(
            (
                now.agents_ready,
                now.agents_busy_other,
                now.agents_logged_in,
                now.calls_waiting
            ),
            (1, 1, 2, 1)
        );
        let staffing = support.staffing.expect("arrivals and an AHT in 15m");
        assert_eq!((staffing.staffed_agents, staffing.aht_seconds), (1, 45.0));
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// Ctrl-C in the middle of a replay (issue 12, item 9): the input is a pipe whose writer has
/// sent twenty lines and keeps it open, so the replay is waiting on it. SIGINT stops the
/// reading; the report so far is printed as at the end, says it was interrupted, and equals
/// the report of a file holding just those lines; the exit code is 130, as for a shell.
#[test]
fn an_interrupted_replay_prints_the_report_so_far_and_exits_130() {
    use std::io::Write as _;
    use std::process::Stdio;

    let text = std::fs::read_to_string(fixture("day.jsonl")).expect("fixture");
    let first: String = text.lines().take(20).map(|l| format!("{l}\n")).collect();
    let dir = std::env::temp_dir().join(format!("acdstream-interrupt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch directory");
    let part = dir.join("first-20.jsonl");
    std::fs::write(&part, &first).expect("write the lines");
    let whole = acdstream()
        .args(["replay", part.to_str().unwrap()])
        .output()
        .expect("acdstream runs");
    assert_eq!(whole.status.code(), Some(0));
    let expected = String::from_utf8_lossy(&whole.stdout).to_string();
    assert!(
        expected.contains("events: consumed 20 = applied 17 + duplicate 1 + late 0 + rejected 2"),
        "{expected}"
    );

    let mut child = acdstream()
        .args(["replay", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("acdstream runs");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(first.as_bytes()).unwrap();
    stdin.flush().unwrap();
    // Time for twenty lines to be read (the pipe stays open: nothing ends the replay).
    std::thread::sleep(std::time::Duration::from_secs(1));
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let waited = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if waited.elapsed() > std::time::Duration::from_secs(20) {
            let _ = child.kill();
            panic!("the replay did not stop at SIGINT");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let report = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(
        status.code(),
        Some(130),
        "{report}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let interrupted = "interrupted: stopped reading at a signal; this report covers the lines \
                       read until then\n";
    assert!(report.contains(interrupted), "{report}");
    assert!(!report.contains("DOES NOT BALANCE"), "{report}");
    assert_eq!(report.replacen(interrupted, "", 1), expected);
}

/// A producer's bad ids: a 1 MB queue id, a 129-byte call id, a newline that would forge a log
/// line, an ANSI colour code. Each is rejected with its reason and named by its line; nothing
/// of them reaches the report or the KPIs, and the ledger balances. A 128-byte id is fine.
#[test]
fn ids_too_long_or_with_control_characters_are_rejected_by_line_with_their_reason() {
    let t0 = 1_767_607_200_000i64;
    let offered = |id: &str, ts: i64, queue: &str, call: &str| {
        serde_json::json!({"event_id": id, "ts": ts, "type": "offered", "queue_id": queue,
            "call_id": call})
        .to_string()
    };
    let mb = "q".repeat(1 << 20);
    let long_call = "c".repeat(129);
    let max_call = "c".repeat(128);
    let lines = [
        offered("e1", t0, "sales", "c1"),
        offered("e2", t0 + 1_000, &mb, "c2"),
        offered("e3", t0 + 2_000, "sales", &long_call),
        offered(
            "e4",
            t0 + 3_000,
            "sales\n2026-01-05T10:00:00Z ERROR forged",
            "c4",
        ),
        serde_json::json!({"event_id": "e5", "ts": t0 + 4_000, "type": "agent_state",
            "queue_id": "sales", "agent_id": "\u{1b}[31mred", "state": "ready"})
        .to_string(),
        offered("e6", t0 + 5_000, "sales", &max_call),
        serde_json::json!({"event_id": "e7", "ts": t0 + 9_000, "type": "abandoned",
            "queue_id": "sales", "call_id": "c1"})
        .to_string(),
    ];
    let dir = std::env::temp_dir().join(format!("acdstream-ids-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch directory");
    let file = dir.join("ids.jsonl");
    std::fs::write(&file, lines.join("\n") + "\n").expect("write the file");
    let file = file.display().to_string();
    let (snapshots, stderr) = replay_json(&["replay", &file, "--json"]);
    assert!(
        stderr.contains("consumed 7 = applied 3 + duplicate 0 + late 0 + rejected 4"),
        "{stderr}"
    );
    assert!(
        stderr.contains("rejected by reason: id_too_long 2, id_control_character 2"),
        "{stderr}"
    );
    for line in [
        "line 2: id_too_long: `queue_id` is 1048576 bytes long, more than engine.max_id_bytes \
         (128)",
        "line 3: id_too_long: `call_id` is 129 bytes long",
        "line 4: id_control_character: `queue_id` has a control character",
        "line 5: id_control_character: `agent_id` has a control character",
    ] {
        assert!(stderr.contains(line), "missing {line:?} in {stderr}");
    }
    assert!(
        // (The log lines' own colours are escape codes too; the producer's red is not there.)
        !stderr.contains("\u{1b}[31m") && !stderr.contains("forged"),
        "{stderr}"
    );
    assert!(stderr.len() < 10_000, "the report quotes no megabyte");
    assert_eq!(snapshots.len(), 1);
    let today = window(&snapshots[0], "today");
    assert_eq!(
        (
            snapshots[0].queue_id.as_str(),
            today.offered,
            today.abandoned
        ),
        ("sales", 2, 1)
    );
    // The table a person reads has no escape sequence either.
    let out = acdstream().args(["replay", &file]).output().expect("runs");
    assert!(out.status.success());
    let printed = String::from_utf8_lossy(&out.stdout) + String::from_utf8_lossy(&out.stderr);
    assert!(!out.stdout.contains(&0x1b) && !printed.contains("\u{1b}[31m"));
    std::fs::remove_dir_all(&dir).ok();
}
