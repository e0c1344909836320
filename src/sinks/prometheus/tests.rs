use super::*;
use crate::kpi::surge::EpisodeOutcome;
use crate::kpi::{NowKpis, SurgeSnapshot, WindowKpis, Windows};
use crate::ledger::Outcome;

const AS_OF: Millis = 1_700_000_000_000;

/// The sliding windows of the snapshot below (`today` is a calendar window).
fn sliding() -> Vec<(String, Duration)> {
    vec![
        ("5m".into(), Duration::from_secs(300)),
        ("15m".into(), Duration::from_secs(900)),
    ]
}

fn snapshot() -> KpiSnapshot {
    KpiSnapshot {
        queue_id: "sales".into(),
        as_of: AS_OF,
        sl_threshold_seconds: 20.0,
        sl_target: 0.8,
        now: NowKpis {
            calls_waiting: 4,
            oldest_wait_seconds: 37.5,
            agents_ready: 3,
            agents_not_ready: 1,
            agents_busy: 6,
            agents_acw: 2,
            agents_busy_other: 2,
            agents_logged_in: 14,
        },
        staffing: None,
        surge: SurgeSnapshot {
            active: true,
            onset: Some(AS_OF - 300_000),
            age_seconds: 300.0,
            rate_per_minute: 4.4,
            baseline_per_minute: Some(2.0),
            response_limit_seconds: 600.0,
            response_exceeded: false,
            absorbed: 3,
        },
        windows: Windows(vec![
            ("5m".into(), WindowKpis::default()),
            (
                "15m".into(),
                WindowKpis {
                    offered: 40,
                    answered: 36,
                    abandoned: 4,
                    service_level: Some(0.75),
                    service_level_ignore_abandons: Some(0.8),
                    service_level_positive: Some(0.85),
                    asa_seconds: Some(12.25),
                    wait_p50_seconds: Some(8.0),
                    wait_p90_seconds: Some(42.5),
                    wait_p99_seconds: Some(90.0),
                    abandon_rate: Some(0.1),
                    ring_no_answer: 2,
                    ring_abandoned: 1,
                    ..Default::default()
                },
            ),
        ]),
    }
}

fn ledger() -> Ledger {
    let ledger = Ledger::default();
    for _ in 0..7 {
        ledger.record(Outcome::Applied);
    }
    ledger.record(Outcome::Duplicate);
    ledger.record(Outcome::Rejected(RejectReason::NoOffer));
    ledger.record(Outcome::Rejected(RejectReason::NoOffer));
    ledger.record(Outcome::Pending);
    ledger
}

fn totals() -> Vec<(String, QueueTotals)> {
    vec![(
        "sales".into(),
        QueueTotals {
            offered: 120,
            answered: 100,
            expired_calls: 1,
            surge_responded: 2,
            ring_abandoned: 5,
            surge_absorbed: 3,
            ..Default::default()
        },
    )]
}

#[track_caller]
fn assert_line(text: &str, line: &str) {
    assert!(
        text.lines().any(|l| l == line),
        "missing line {line:?} in:\n{text}"
    );
}

#[test]
fn renders_every_series_with_exact_values() {
    let recorder = builder().unwrap().build_recorder();
    let exposition = Exposition::new(recorder.handle());
    let sink = PrometheusSink::new(exposition.clone(), &sliding());
    metrics::with_local_recorder(&recorder, || {
        t::describe();
        metrics::histogram!(t::EVENT_APPLY_LATENCY_SECONDS).record(0.000_2);
        sink.publish_at(AS_OF + 2_500, &[snapshot()], &totals(), &ledger());
        let episode = |onset: Millis, ended: Millis, outcome| Episode {
            onset,
            ended,
            outcome,
        };
        sink.record_episodes(&[
            (
                "sales".into(),
                episode(0, 450_000, EpisodeOutcome::Responded),
            ),
            (
                "sales".into(),
                episode(0, 100_000, EpisodeOutcome::Subsided),
            ),
        ]);
    });
    let text = exposition.render();

    for line in [
        r#"acd_service_level_ratio{queue="sales",window="15m",variant="default"} 0.75"#,
        r#"acd_service_level_ratio{queue="sales",window="15m",variant="ignore_abandons"} 0.8"#,
        r#"acd_service_level_ratio{queue="sales",window="15m",variant="positive"} 0.85"#,
        r#"acd_service_level_ratio{queue="sales",window="5m",variant="default"} NaN"#,
        r#"acd_asa_seconds{queue="sales",window="15m"} 12.25"#,
        r#"acd_asa_seconds{queue="sales",window="5m"} NaN"#,
        r#"acd_wait_seconds{queue="sales",window="15m",quantile="0.9"} 42.5"#,
        r#"acd_calls_offered{queue="sales",window="15m"} 40"#,
        r#"acd_calls_offered{queue="sales",window="5m"} 0"#,
        r#"acd_ring_no_answer{queue="sales",window="15m"} 2"#,
        r#"acd_ring_abandoned{queue="sales",window="15m"} 1"#,
        r#"acd_ring_abandoned{queue="sales",window="5m"} 0"#,
        r#"acd_ring_abandoned_total{queue="sales"} 5"#,
        r#"acd_abandon_ratio{queue="sales",window="15m"} 0.1"#,
        r#"acd_occupancy_ratio{queue="sales",window="15m"} NaN"#,
        r#"acd_calls_waiting{queue="sales"} 4"#,
        r#"acd_oldest_call_wait_seconds{queue="sales"} 37.5"#,
        r#"acd_agents{queue="sales",state="ready"} 3"#,
        r#"acd_agents{queue="sales",state="busy_other"} 2"#,
        r#"acd_agents{queue="sales",state="logged_in"} 14"#,
        r#"acd_service_level_target_ratio{queue="sales"} 0.8"#,
        r#"acd_service_level_threshold_seconds{queue="sales"} 20"#,
        r#"acd_calls_offered_total{queue="sales"} 120"#,
        r#"acd_calls_expired_total{queue="sales"} 1"#,
        r#"acd_calls_transferred_total{queue="sales"} 0"#,
        r#"acd_surge_active{queue="sales"} 1"#,
        r#"acd_surge_age_seconds{queue="sales"} 300"#,
        r#"acd_surge_response_limit_seconds{queue="sales"} 600"#,
        r#"acd_surge_response_exceeded{queue="sales"} 0"#,
        r#"acd_surge_baseline_per_minute{queue="sales"} 2"#,
        r#"acd_arrival_rate_per_minute{queue="sales",window="5m"} 0"#,
        r#"acd_surge_episodes_total{queue="sales",outcome="responded"} 2"#,
        r#"acd_surge_episodes_total{queue="sales",outcome="subsided"} 0"#,
        r#"acd_surges_absorbed_total{queue="sales"} 3"#,
        // Only the responded episode has a response time.
        r#"acd_surge_response_seconds_bucket{queue="sales",le="300"} 0"#,
        r#"acd_surge_response_seconds_bucket{queue="sales",le="450"} 1"#,
        r#"acd_surge_response_seconds_count{queue="sales"} 1"#,
        r#"acd_events_total{result="applied"} 7"#,
        r#"acd_events_total{result="duplicate"} 1"#,
        r#"acd_events_total{result="late"} 0"#,
        r#"acd_events_total{result="rejected"} 2"#,
        r#"acd_events_rejected_total{reason="no_offer"} 2"#,
        "acd_events_pending 1",
        "acd_queues 1",
        "acd_snapshot_age_seconds 2.5",
        r#"acd_build_info{version="0.1.0"} 1"#,
        r#"acd_event_apply_latency_seconds_bucket{le="0.00025"} 1"#,
        r#"acd_event_apply_latency_seconds_bucket{le="0.0001"} 0"#,
        "# TYPE acd_events_rejected_total counter",
        "# TYPE acd_service_level_ratio gauge",
    ] {
        assert_line(&text, line);
    }
    // 40 offered in 15 minutes; interval and today have no length of their own.
    assert!(
        text.contains(
            r#"acd_arrival_rate_per_minute{queue="sales",window="15m"} 2.66666666666666"#
        ),
        "{text}"
    );
    assert!(!text.contains(r#"acd_arrival_rate_per_minute{queue="sales",window="today"}"#));
    let rss: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("process_resident_memory_bytes "))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    assert!(rss > 1e6, "this test process has megabytes resident: {rss}");
    for reason in RejectReason::ALL {
        if reason != RejectReason::NoOffer {
            assert_line(
                &text,
                &format!(
                    "acd_events_rejected_total{{reason=\"{}\"}} 0",
                    reason.label()
                ),
            );
        }
    }
    assert!(
        text.lines()
            .any(|l| l.starts_with("# HELP acd_service_level_ratio Service level")),
        "{text}"
    );
}

#[test]
fn later_publishes_update_the_cached_series() {
    let recorder = builder().unwrap().build_recorder();
    let exposition = Exposition::new(recorder.handle());
    let sink = PrometheusSink::new(exposition.clone(), &sliding());
    let ledger = ledger();
    metrics::with_local_recorder(&recorder, || {
        sink.publish_at(AS_OF, &[snapshot()], &totals(), &ledger);
    });
    // Outside the local recorder now: only handles registered above can reach it.
    let mut changed = snapshot();
    changed.now.calls_waiting = 9;
    changed.windows.0[1].1.service_level = None;
    ledger.record(Outcome::Applied);
    sink.publish_at(AS_OF, &[changed], &totals(), &ledger);

    let text = exposition.render();
    assert_line(&text, r#"acd_calls_waiting{queue="sales"} 9"#);
    assert_line(
        &text,
        r#"acd_service_level_ratio{queue="sales",window="15m",variant="default"} NaN"#,
    );
    assert_line(&text, r#"acd_events_total{result="applied"} 8"#);
}

#[test]
fn install_sets_the_global_recorder_once() {
    // The only test that touches the global recorder.
    let exposition = install().unwrap();
    let sink = PrometheusSink::new(exposition.clone(), &sliding());
    sink.publish(&[], &[], &Ledger::default());
    let text = exposition.render();
    assert_line(&text, "acd_queues 0");
    assert_line(&text, r#"acd_events_rejected_total{reason="malformed"} 0"#);
    let err = install().unwrap_err();
    assert!(matches!(err, SinkError::RecorderAlreadyInstalled), "{err}");
}

/// The exposition format wants each family's series in one block after its `# TYPE` line: the
/// families written by `queues` and the recorder's never interleave, whatever the queues.
#[test]
fn every_family_is_one_block_and_a_forgotten_queue_leaves() {
    let recorder = builder().unwrap().build_recorder();
    let exposition = Exposition::new(recorder.handle());
    let sink = PrometheusSink::new(exposition.clone(), &sliding());
    let mut support = snapshot();
    support.queue_id = "support".into();
    support.now.calls_waiting = 1;
    let mut totals = totals();
    totals.push(("support".into(), QueueTotals::default()));
    metrics::with_local_recorder(&recorder, || {
        t::describe();
        sink.publish_at(AS_OF, &[snapshot(), support], &totals, &ledger());
        let responded = Episode {
            onset: 0,
            ended: 450_000,
            outcome: EpisodeOutcome::Responded,
        };
        sink.record_episodes(&[("support".into(), responded)]);
    });
    let text = exposition.render();

    let mut kinds = std::collections::HashMap::new();
    let mut blocks: Vec<&str> = Vec::new();
    for line in text.lines() {
        let family = if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            kinds.insert(name, kind);
            name
        } else if line.starts_with('#') || line.is_empty() {
            continue;
        } else {
            let name = line.split(['{', ' ']).next().unwrap();
            ["_bucket", "_sum", "_count"]
                .iter()
                .filter_map(|s| name.strip_suffix(s))
                .find(|base| kinds.get(base) == Some(&"histogram"))
                .unwrap_or(name)
        };
        assert!(kinds.contains_key(family), "{family} before its TYPE line");
        if blocks.last() != Some(&family) {
            assert!(!blocks.contains(&family), "{family} in two blocks:\n{text}");
            blocks.push(family);
        }
    }
    for family in [
        t::CALLS_WAITING,
        t::SERVICE_LEVEL_RATIO,
        t::CALLS_OFFERED_TOTAL,
        t::SURGE_EPISODES_TOTAL,
        t::EVENTS_TOTAL,
        t::SURGE_RESPONSE_SECONDS,
    ] {
        assert!(blocks.contains(&family), "{family} missing:\n{text}");
    }
    assert_line(&text, r#"acd_calls_waiting{queue="sales"} 4"#);
    assert_line(&text, r#"acd_calls_waiting{queue="support"} 1"#);

    sink.forget("sales");
    let text = exposition.render();
    assert!(!text.contains(r#"queue="sales""#), "{text}");
    assert_line(&text, r#"acd_calls_waiting{queue="support"} 1"#);
    assert_line(&text, r#"acd_calls_offered_total{queue="support"} 0"#);
}
