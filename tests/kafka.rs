//! `acdstream run` against a real Kafka-protocol broker (tansu), end to end: the fixture and
//! simulated days produced to topics, KPIs read back from the KPI topic and compared with
//! `replay` of the same events; redelivery, `kill -9`, a second instance taking over, a broker
//! outage, and garbage payloads.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use common::{kpis_of, replay, replay_as, simulate, Broker, Deployment, Service};
use serde_json::Value;

/// One broker and its services at a time: in parallel, six of them would starve two cores.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn fixture_lines() -> Vec<String> {
    std::fs::read_to_string(fixture("day.jsonl"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Events taken in: resolved (applied, duplicate, late, rejected) or still waiting for their
/// call's offer (pending).
fn consumed(s: &Service) -> f64 {
    s.metric("acd_events_total", &[]) + s.metric("acd_events_pending", &[])
}

/// Waits until the KPI topic's newest snapshot of every expected queue matches `expected`
/// (as_of aside: an unchanged queue is not republished), then returns the topic's view.
fn wait_for_kpis(d: &Deployment, expected: &BTreeMap<String, Value>) -> BTreeMap<String, Value> {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let latest = loop {
        let latest = d.latest_kpis();
        let all_match = expected
            .iter()
            .all(|(q, e)| latest.get(q).is_some_and(|l| kpis_of(l) == kpis_of(e)));
        if all_match || std::time::Instant::now() > deadline {
            break latest;
        }
        std::thread::sleep(Duration::from_millis(300));
    };
    for (queue, e) in expected {
        let got = latest
            .get(queue)
            .unwrap_or_else(|| panic!("no KPI snapshot for {queue}"));
        assert_eq!(
            kpis_of(got),
            kpis_of(e),
            "queue {queue}: KPI topic vs replay"
        );
        assert!(got["as_of"].as_i64() <= e["as_of"].as_i64());
    }
    latest
}

fn fixture_env_kpis() -> (&'static str, &'static str) {
    ("ACDSTREAM_KPI__QUEUES__SUPPORT__SL_THRESHOLD", "30s")
}

/// 1. The fixture through the broker gives the replay's KPIs on the KPI topic and /metrics,
///    and its bad lines land in the dead-letter topic.
#[test]
fn fixture_through_kafka_matches_replay() {
    let _serial = serial();
    let broker = Broker::memory("kafka-fixture");
    let d = Deployment::new(&broker, "t1", 1).with_env(fixture_env_kpis());
    d.produce(&fixture_lines());
    let service = Service::start(&d, "a");
    common::wait_for("all 49 lines consumed", Duration::from_secs(60), || {
        consumed(&service) == 49.0
    });
    let expected = replay(&fixture("day.jsonl"), Some(&fixture("replay.toml")));
    wait_for_kpis(&d, &expected);

    assert_eq!(
        service.metric("acd_events_total", &["result=\"applied\""]),
        42.0
    );
    assert_eq!(
        service.metric("acd_events_total", &["result=\"duplicate\""]),
        1.0
    );
    assert_eq!(
        service.metric("acd_events_total", &["result=\"late\""]),
        1.0
    );
    assert_eq!(
        service.metric("acd_events_total", &["result=\"rejected\""]),
        5.0
    );
    assert_eq!(
        service.metric("acd_calls_offered_total", &["queue=\"sales\""]),
        8.0
    );
    let sl = service.metric(
        "acd_service_level_ratio",
        &["queue=\"sales\"", "window=\"today\"", "variant=\"default\""],
    );
    assert!((sl - 2.0 / 7.0).abs() < 1e-9, "{sl}");
    assert!(service.ready());

    let dlq = d.read("dlq");
    let mut reasons: Vec<&str> = dlq
        .iter()
        .map(|r| r.headers["acd-reason"].as_str())
        .collect();
    reasons.sort();
    assert_eq!(
        reasons,
        [
            "malformed",
            "missing_agent_id",
            "no_offer",
            "out_of_sequence",
            "unknown_type"
        ]
    );
    let malformed = dlq
        .iter()
        .find(|r| r.headers["acd-reason"] == "malformed")
        .unwrap();
    assert_eq!(malformed.payload, b"this is not json");
    assert_eq!(malformed.headers["acd-source-topic"], "t1.events");
}

/// 2. The same events produced twice: identical KPIs, every redelivery counted as a duplicate.
#[test]
fn redelivered_events_are_counted_once() {
    let _serial = serial();
    let broker = Broker::memory("kafka-redelivery");
    let d = Deployment::new(&broker, "t2", 1).with_env(fixture_env_kpis());
    let lines = fixture_lines();
    d.produce(&lines);
    d.produce(&lines);
    let service = Service::start(&d, "a");
    common::wait_for("both copies consumed", Duration::from_secs(60), || {
        consumed(&service) == 98.0
    });
    let expected = replay(&fixture("day.jsonl"), Some(&fixture("replay.toml")));
    wait_for_kpis(&d, &expected);
    // The second copy: 46 decodable events are duplicates, 3 undecodable lines rejected again.
    assert_eq!(
        service.metric("acd_events_total", &["result=\"duplicate\""]),
        1.0 + 46.0
    );
    assert_eq!(
        service.metric("acd_events_total", &["result=\"applied\""]),
        42.0
    );
    assert_eq!(
        service.metric("acd_events_total", &["result=\"rejected\""]),
        8.0
    );
}

fn halves(lines: &[String]) -> (Vec<String>, Vec<String>) {
    let mid = lines.len() / 2;
    (lines[..mid].to_vec(), lines[mid..].to_vec())
}

/// Waits until the service has a checkpoint round covering everything it consumed.
fn wait_for_checkpoint(s: &Service) {
    let before = s.metric(
        "acd_kafka_records_total",
        &["role=\"checkpoint\"", "result=\"delivered\""],
    );
    common::wait_for("a checkpoint round", Duration::from_secs(20), || {
        s.metric(
            "acd_kafka_records_total",
            &["role=\"checkpoint\"", "result=\"delivered\""],
        ) > before
    });
}

/// 3. `kill -9` mid-stream and a restart: the final KPIs (every window) equal an uninterrupted
///    run's, and the restart resumed from the checkpoint rather than from the start.
#[test]
fn kill_9_and_restart_give_the_uninterrupted_kpis() {
    let _serial = serial();
    let broker = Broker::memory("kafka-crash");
    let dir = common::scratch_dir("kafka-crash-data");
    let (file, lines) = simulate(
        &dir,
        "day.jsonl",
        &["--seed", "11", "--duration", "2h", "--jitter", "5s"],
    );
    // A short session, and the restart after it ended, as a restarted pod would come back:
    // checkpoint restore, not the broker's handling of a dead member, is what this test is
    // about. A new member whose join overlaps the dead one's session is given no partition by
    // tansu 0.6.0, which then never rebalances again (seen: `partitions assigned
    // partitions=[]` for 150 s, with the default 45 s session and with 6 s).
    let d = Deployment::new(&broker, "t3", 3)
        .with_env(("ACDSTREAM_KAFKA__PROPERTIES__SESSION_TIMEOUT_MS", "6000"));
    let (first, second) = halves(&lines);
    d.produce(&first);
    let mut a = Service::start(&d, "a");
    common::wait_for("the first half consumed", Duration::from_secs(60), || {
        consumed(&a) == first.len() as f64
    });
    wait_for_checkpoint(&a);
    a.kill9();
    std::thread::sleep(Duration::from_secs(7));

    d.produce(&second);
    let b = Service::start(&d, "b");
    common::wait_for(
        "the restarted instance ready",
        Duration::from_secs(60),
        || b.ready(),
    );
    let expected = replay(&file, None);
    wait_for_kpis(&d, &expected);
    let log = b.log_text();
    assert!(
        log.contains("restoring the partition from its checkpoint"),
        "{log}"
    );
    // Only the second half (plus what came after the last checkpoint) was consumed again.
    assert!(
        consumed(&b) < lines.len() as f64,
        "the restart rebuilt from the start"
    );
}

/// 4. Two instances in one group on a 4-partition topic; one is killed mid-stream: the survivor
///    takes its partitions over, rebuilds their queues, and every queue's final KPIs are right.
#[test]
fn a_surviving_instance_takes_over_and_exports_every_queue() {
    let _serial = serial();
    let broker = Broker::memory("kafka-group");
    let dir = common::scratch_dir("kafka-group-data");
    let (file, lines) = simulate(&dir, "day.jsonl", &["--seed", "12", "--duration", "2h"]);
    let d = Deployment::new(&broker, "t4", 4)
        .with_env(("ACDSTREAM_KAFKA__PROPERTIES__SESSION_TIMEOUT_MS", "6000"));
    let mut a = Service::start(&d, "a");
    let b = Service::start(&d, "b");
    common::wait_for(
        "both instances own partitions",
        Duration::from_secs(60),
        || {
            a.metric("acd_partitions", &["state=\"assigned\""]) >= 1.0
                && b.metric("acd_partitions", &["state=\"assigned\""]) >= 1.0
        },
    );
    let (first, second) = halves(&lines);
    d.produce(&first);
    common::wait_for(
        "the first half consumed by the pair",
        Duration::from_secs(60),
        || consumed(&a) + consumed(&b) == first.len() as f64,
    );
    wait_for_checkpoint(&a);
    a.kill9();
    d.produce(&second);
    common::wait_for(
        "the survivor owns and rebuilt all 4 partitions",
        Duration::from_secs(90),
        || b.metric("acd_partitions", &["state=\"ready\""]) == 4.0 && b.ready(),
    );
    let expected = replay(&file, None);
    wait_for_kpis(&d, &expected);
    let metrics = b.metrics_text();
    for queue in expected.keys() {
        assert!(
            metrics.contains(&format!("acd_calls_offered_total{{queue=\"{queue}\"}}")),
            "{queue} not exported"
        );
    }
}

/// 5. The broker stops for a while: the service stays up, flags the source as down, and once the
///    broker is back it resumes without loss.
#[test]
fn broker_outage_is_flagged_and_survived() {
    let _serial = serial();
    let mut broker = Broker::sqlite("kafka-outage");
    let dir = common::scratch_dir("kafka-outage-data");
    let (file, lines) = simulate(&dir, "day.jsonl", &["--seed", "13", "--duration", "1h"]);
    let d = Deployment::new(&broker, "t5", 1);
    let (first, second) = halves(&lines);
    d.produce(&first);
    let service = Service::start(&d, "a");
    common::wait_for("the first half consumed", Duration::from_secs(60), || {
        consumed(&service) == first.len() as f64
    });
    common::wait_for("the source up", Duration::from_secs(10), || {
        service.metric("acd_source_up", &[]) == 1.0
    });

    broker.kill();
    common::wait_for("the source flagged down", Duration::from_secs(30), || {
        service.metric("acd_source_up", &[]) == 0.0
    });
    assert_eq!(
        service.get("/healthz").map(|(s, _)| s),
        Some(200),
        "alive while the broker is down"
    );
    assert!(
        service.metric("acd_calls_offered_total", &[]) > 0.0,
        "still serving the last KPIs"
    );

    broker.restart();
    common::wait_for("the source up again", Duration::from_secs(60), || {
        service.metric("acd_source_up", &[]) == 1.0
    });
    d.produce(&second);
    let expected = replay(&file, None);
    wait_for_kpis(&d, &expected);
    let log = service.log_text();
    assert_eq!(
        log.matches("Kafka source is unreachable").count(),
        1,
        "logged once per state change: {log}"
    );
}

/// 6. Garbage payloads go to the dead-letter topic with their reasons, the partition goes on,
///    and the ledger balances.
#[test]
fn garbage_goes_to_the_dead_letter_topic_and_the_ledger_balances() {
    let _serial = serial();
    let broker = Broker::memory("kafka-garbage");
    let d = Deployment::new(&broker, "t6", 1);
    let mut lines = vec![
        "\u{0}\u{1}\u{2}binary".to_string(),
        "{\"event_id\":\"g1\",\"ts\":\"yesterday\",\"type\":\"offered\",\"queue_id\":\"sales\",\"call_id\":\"c\"}".to_string(),
        "{\"event_id\":\"g2\",\"ts\":1767603600000,\"type\":\"offered\",\"queue_id\":\"sales\"}".to_string(),
        "{\"event_id\":\"g3\",\"ts\":1767603600000,\"type\":\"agent_state\",\"queue_id\":\"sales\",\"agent_id\":\"a\",\"state\":\"asleep\"}".to_string(),
        String::new(),
    ];
    lines.extend(
        fixture_lines()
            .into_iter()
            .filter(|l| l.starts_with('{'))
            .take(10),
    );
    d.produce(&lines);
    let service = Service::start(&d, "a");
    common::wait_for("every record consumed", Duration::from_secs(60), || {
        consumed(&service) == lines.len() as f64
    });
    let dlq = d.read("dlq");
    let reasons: Vec<(&str, &[u8])> = dlq
        .iter()
        .map(|r| (r.headers["acd-reason"].as_str(), &r.payload[..]))
        .collect();
    assert_eq!(
        reasons,
        vec![
            ("malformed", lines[0].as_bytes()),
            ("malformed", lines[1].as_bytes()),
            ("missing_call_id", lines[2].as_bytes()),
            ("unknown_agent_state", lines[3].as_bytes()),
            ("malformed", lines[4].as_bytes()),
        ]
    );
    for r in &dlq {
        assert!(!r.headers["acd-detail"].is_empty() && r.headers.contains_key("acd-source-offset"));
    }
    let applied = service.metric("acd_events_total", &["result=\"applied\""]);
    let rejected = service.metric("acd_events_total", &["result=\"rejected\""]);
    assert_eq!(rejected, 5.0);
    assert_eq!(
        applied + rejected + service.metric("acd_events_total", &["result=\"duplicate\""]),
        lines.len() as f64
    );
    assert_eq!(
        service.metric("acd_events_rejected_total", &["reason=\"malformed\""]),
        3.0
    );
}

/// 7. Asterisk queue_log lines as Kafka records, keyed by their PBX as a log shipper sends
///    them, through a `kill -9` and a restart from the checkpoints: the KPI topic equals
///    `replay --format asterisk-queue-log` of the same file. The restarted instance re-reads
///    the lines before its resume point only to rebuild the translator (calls in progress,
///    members logged in by their first call), and counts none of them again.
#[test]
fn asterisk_queue_log_records_through_a_restart_give_the_replay_s_kpis() {
    let _serial = serial();
    let broker = Broker::memory("kafka-asterisk");
    let dir = common::scratch_dir("kafka-asterisk-data");
    let (file, lines) = simulate(
        &dir,
        "queue_log",
        &[
            "--seed",
            "14",
            "--duration",
            "2h",
            "--format",
            "asterisk-queue-log",
        ],
    );
    // As in the kill -9 test above: a short session, and the restart after it ended.
    let d = Deployment::new(&broker, "t7", 3)
        .with_env(("ACDSTREAM_KAFKA__EVENTS_FORMAT", "asterisk_queue_log"))
        .with_env(("ACDSTREAM_KAFKA__PROPERTIES__SESSION_TIMEOUT_MS", "6000"));
    let (first, second) = halves(&lines);
    d.produce_keyed(&first, "pbx1");
    let mut a = Service::start(&d, "a");
    // A line is several events or none: the first half is in once the count stops moving.
    common::wait_for("the first half consumed", Duration::from_secs(60), || {
        let before = consumed(&a);
        std::thread::sleep(Duration::from_millis(1500));
        before > 0.0 && consumed(&a) == before
    });
    wait_for_checkpoint(&a);
    let first_run = consumed(&a);
    a.kill9();
    std::thread::sleep(Duration::from_secs(7));

    d.produce_keyed(&second, "pbx1");
    let b = Service::start(&d, "b");
    common::wait_for(
        "the restarted instance ready",
        Duration::from_secs(60),
        || b.ready(),
    );
    let expected = replay_as(&file, None, &["--format", "asterisk-queue-log"]);
    assert_eq!(
        expected.keys().collect::<Vec<_>>(),
        ["billing", "retention", "sales", "support"]
    );
    wait_for_kpis(&d, &expected);
    let log = b.log_text();
    assert!(
        log.contains("restoring the partition from its checkpoint"),
        "{log}"
    );
    // The restart counted only what came after its checkpoint (which covered all the first
    // run took in): together the two runs took in each of the file's events once.
    let events = queue_log_ledger(&file)["consumed"];
    assert_eq!(first_run + consumed(&b), events);
}

/// The event ledger `replay --format asterisk-queue-log` prints for a file: consumed, applied,
/// duplicate, late, rejected.
fn queue_log_ledger(file: &Path) -> BTreeMap<&'static str, f64> {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_acdstream"))
        .args(["replay", "--format", "asterisk-queue-log"])
        .arg(file)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    // events: consumed 83 = applied 81 + duplicate 0 + late 0 + rejected 2
    let line = report
        .lines()
        .find(|l| l.starts_with("events: consumed "))
        .unwrap_or_else(|| panic!("no ledger in the replay's report: {report}"));
    let numbers: Vec<f64> = line
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    assert_eq!(numbers.len(), 5, "{line}");
    ["consumed", "applied", "duplicate", "late", "rejected"]
        .into_iter()
        .zip(numbers)
        .collect()
}

/// 8. A log shipper's redelivery of ten queue_log lines is counted as duplicates and changes
///    no KPI: the KPI topic equals replay of the file without the redelivery, and the
///    service's ledger equals replay's of the file with it.
#[test]
fn a_redelivered_batch_of_queue_log_lines_changes_no_kpi() {
    let _serial = serial();
    let broker = Broker::memory("kafka-asterisk-redelivery");
    let dir = common::scratch_dir("kafka-asterisk-redelivery-data");
    let (file, lines) = simulate(
        &dir,
        "queue_log",
        &[
            "--seed",
            "15",
            "--duration",
            "1h",
            "--format",
            "asterisk-queue-log",
        ],
    );
    let mut redelivered = lines.clone();
    redelivered.extend_from_slice(&lines[100..110]);
    let with_retry = dir.join("queue_log.retried");
    std::fs::write(&with_retry, redelivered.join("\n") + "\n").unwrap();
    let ledger = queue_log_ledger(&with_retry);
    assert!(ledger["duplicate"] >= 10.0, "{ledger:?}");

    let d = Deployment::new(&broker, "t8", 1)
        .with_env(("ACDSTREAM_KAFKA__EVENTS_FORMAT", "asterisk_queue_log"));
    d.produce_keyed(&redelivered, "pbx1");
    let service = Service::start(&d, "a");
    common::wait_for("every event consumed", Duration::from_secs(60), || {
        consumed(&service) == ledger["consumed"]
    });
    wait_for_kpis(
        &d,
        &replay_as(&file, None, &["--format", "asterisk-queue-log"]),
    );
    for result in ["applied", "duplicate", "late", "rejected"] {
        assert_eq!(
            service.metric("acd_events_total", &[&format!("result=\"{result}\"")]),
            ledger[result],
            "{result}"
        );
    }
}

/// 9. A backlog produced while the service was down (issue 12, item 1), on the wall clock as
///    `run` is deployed: a caller who waited eleven minutes before an answer, 5 % of records
///    a producer's garbage, thousands of redelivered records behind them. Nothing is judged
///    on the backlog: with RejectedEventsHigh and ConsumerLagHigh set to fire at once, no
///    alert transition reaches the alerts topic (nor `/metrics`) during or after the catch-up,
///    `/readyz` turns ready only with the whole backlog applied, and a clean stop with
///    nothing new to commit logs no failed commit (item 12).
#[test]
fn a_backlog_read_at_start_up_pages_nobody_and_ready_waits_for_it() {
    let _serial = serial();
    let broker = Broker::memory("kafka-backlog");
    let d = Deployment::new(&broker, "t9", 1)
        .with_env(("ACDSTREAM_ENGINE__CLOCK", "wall"))
        .with_env(("ACDSTREAM_ALERTS__REJECTED_EVENTS__FOR", "0s"))
        .with_env(("ACDSTREAM_ALERTS__CONSUMER_LAG__MAX", "1000"))
        .with_env(("ACDSTREAM_ALERTS__CONSUMER_LAG__FOR", "0s"));
    let now = jiff::Timestamp::now().as_millisecond();
    let min = 60_000;
    let event = |id: &str, ts: i64, rest: &str| {
        format!(r#"{{"event_id":"{id}","ts":{ts},"queue_id":"sales",{rest}}}"#)
    };
    let mut lines = vec![
        event(
            "b1",
            now - 30 * min,
            r#""type":"agent_state","agent_id":"a1","state":"ready""#,
        ),
        event("b2", now - 25 * min, r#""type":"offered","call_id":"c1""#),
    ];
    // Twenty thousand redeliveries of the first event, the garbage among them.
    for i in 0..20_000 {
        if i % 20 == 0 {
            lines.push(format!("garbage {i}"));
        } else {
            lines.push(lines[0].clone());
        }
    }
    lines.extend([
        event(
            "b3",
            now - 14 * min,
            r#""type":"ringing","call_id":"c1","agent_id":"a1""#,
        ),
        event(
            "b4",
            now - 14 * min + 5_000,
            r#""type":"answered","call_id":"c1","agent_id":"a1""#,
        ),
        event(
            "b5",
            now - 10 * min,
            r#""type":"wrap","call_id":"c1","agent_id":"a1""#,
        ),
        event(
            "b6",
            now - 9 * min,
            r#""type":"wrap_end","call_id":"c1","agent_id":"a1""#,
        ),
    ]);
    d.produce(&lines);
    // tansu reports a partition's end as the start of its last batch, so the partition counts
    // as caught up once it is read to there: one more redelivery in a batch of its own puts
    // every line above before that point.
    d.produce(&lines[..1]);

    let mut service = Service::start(&d, "a");
    common::wait_for("ready", Duration::from_secs(60), || service.ready());
    // Ready means the whole backlog is in: every record taken in, the call answered.
    let taken = consumed(&service);
    assert!(
        taken >= lines.len() as f64,
        "ready with {taken} of {} records read",
        lines.len()
    );
    assert_eq!(
        service.metric("acd_calls_answered_total", &["queue=\"sales\""]),
        1.0
    );
    assert_eq!(
        service.metric("acd_events_total", &["result=\"rejected\""]),
        1_000.0
    );
    // Some publishes after the catch-up, then the verdict.
    std::thread::sleep(Duration::from_secs(3));
    let transitions = service.metric("acd_alert_transitions_total", &[]);
    let log = service.log_text();
    assert_eq!(service.stop(), Some(0));
    let alerts: Vec<String> = d
        .read("alerts")
        .iter()
        .map(|r| String::from_utf8_lossy(&r.payload).to_string())
        .collect();
    assert!(alerts.is_empty(), "{alerts:#?}");
    assert_eq!(transitions, 0.0, "{log}");
    assert!(!log.contains("alert firing"), "{log}");
    let log = service.log_text();
    assert!(log.contains("partition ready"), "{log}");
    assert!(!log.contains("final offset commit failed"), "{log}");
}
