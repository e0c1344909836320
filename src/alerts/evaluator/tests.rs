use super::*;
use crate::kpi::{NowKpis, Staffing, SurgeSnapshot, Windows};

const MIN: Millis = 60_000;
const T0: Millis = 1_700_000_000_000;

/// A queue with `offered` calls in its 15m window and the given values; nothing else bad.
fn snap(queue: &str, offered: u64, f: impl FnOnce(&mut WindowKpis)) -> KpiSnapshot {
    let mut w = WindowKpis {
        offered,
        service_level: Some(0.9),
        asa_seconds: Some(8.0),
        abandon_rate: Some(0.01),
        not_ready_ratio: Some(0.02),
        rings_per_answer: Some(1.1),
        ..WindowKpis::default()
    };
    f(&mut w);
    KpiSnapshot {
        queue_id: queue.into(),
        as_of: T0,
        sl_threshold_seconds: 20.0,
        sl_target: 0.8,
        now: NowKpis::default(),
        windows: Windows(vec![
            ("5m".into(), WindowKpis::default()),
            ("15m".into(), w),
        ]),
        staffing: None,
        surge: SurgeSnapshot::default(),
    }
}

fn asa(queue: &str, seconds: f64) -> KpiSnapshot {
    snap(queue, 40, |w| w.asa_seconds = Some(seconds))
}

fn run(
    ev: &mut AlertEvaluator,
    snapshots: &[KpiSnapshot],
    at: Millis,
    settings: &AlertSettings,
) -> Vec<(AlertName, Option<String>, AlertState)> {
    ev.evaluate(snapshots, Some(&HealthInputs::default()), at, settings)
        .into_iter()
        .map(|t| (t.alert.name, t.alert.queue, t.state))
        .collect()
}

fn fired(name: AlertName, queue: &str) -> (AlertName, Option<String>, AlertState) {
    (name, Some(queue.into()), AlertState::Firing)
}

fn resolved(name: AlertName, queue: &str) -> (AlertName, Option<String>, AlertState) {
    (name, Some(queue.into()), AlertState::Resolved)
}

#[test]
fn an_alert_is_pending_until_its_for_duration_has_passed() {
    let settings = AlertSettings::default();
    let mut ev = AlertEvaluator::new();
    // ASA 34 s > 20 s from T0; `for` is 5m.
    assert!(run(&mut ev, &[asa("sales", 34.0)], T0, &settings).is_empty());
    assert!(run(&mut ev, &[asa("sales", 30.0)], T0 + 4 * MIN, &settings).is_empty());
    assert_eq!(ev.firing().count(), 0, "pending is not firing");
    let t = ev.evaluate(
        &[asa("sales", 34.0)],
        Some(&HealthInputs::default()),
        T0 + 5 * MIN,
        &settings,
    );
    assert_eq!(t.len(), 1);
    let a = &t[0].alert;
    assert_eq!((t[0].state, t[0].at), (AlertState::Firing, T0 + 5 * MIN));
    assert_eq!((a.name, a.severity), (AlertName::AsaHigh, Severity::Ticket));
    assert_eq!(
        (a.starts_at, a.value, a.threshold),
        (T0 + 5 * MIN, 34.0, 20.0)
    );
    assert_eq!(a.summary, "sales: ASA 15m 34 s above 20 s");
    assert!(
        a.description
            .contains("for at least 5m; the alert resolves at 18 s"),
        "{}",
        a.description
    );
    assert_eq!(ev.firing().count(), 1);
}

#[test]
fn a_pending_alert_that_recovers_starts_its_for_again() {
    let settings = AlertSettings::default();
    let mut ev = AlertEvaluator::new();
    run(&mut ev, &[asa("sales", 34.0)], T0, &settings);
    // Back to 20 s (not above the threshold) at 4 min: the pending period ends.
    run(&mut ev, &[asa("sales", 20.0)], T0 + 4 * MIN, &settings);
    assert!(run(&mut ev, &[asa("sales", 34.0)], T0 + 5 * MIN, &settings).is_empty());
    assert!(run(&mut ev, &[asa("sales", 34.0)], T0 + 9 * MIN, &settings).is_empty());
    assert_eq!(
        run(&mut ev, &[asa("sales", 34.0)], T0 + 10 * MIN, &settings),
        [fired(AlertName::AsaHigh, "sales")]
    );
}

#[test]
fn a_value_between_threshold_and_clear_neither_fires_again_nor_resolves() {
    let settings = AlertSettings::default();
    let mut ev = AlertEvaluator::new();
    run(&mut ev, &[asa("sales", 25.0)], T0, &settings);
    assert_eq!(
        run(&mut ev, &[asa("sales", 25.0)], T0 + 5 * MIN, &settings),
        [fired(AlertName::AsaHigh, "sales")]
    );
    // Hovering at 19–21 s, between clear (18) and threshold (20): no transition.
    for (i, v) in [19.0, 21.0, 19.5, 20.5, 18.5].into_iter().enumerate() {
        let at = T0 + (6 + i as i64) * MIN;
        assert!(
            run(&mut ev, &[asa("sales", v)], at, &settings).is_empty(),
            "{v}"
        );
    }
    // The firing alert reports the latest value.
    let a = ev.firing().next().unwrap();
    assert_eq!((a.value, a.starts_at), (18.5, T0 + 5 * MIN));
    assert_eq!(a.summary, "sales: ASA 15m 18.5 s above 20 s");
    // 18 s is back at the clear level.
    assert_eq!(
        run(&mut ev, &[asa("sales", 18.0)], T0 + 12 * MIN, &settings),
        [resolved(AlertName::AsaHigh, "sales")]
    );
    assert_eq!(ev.firing().count(), 0);
}

#[test]
fn the_resolved_transition_ends_at_its_time_and_keeps_the_last_firing_alert() {
    let settings = AlertSettings::default();
    let mut ev = AlertEvaluator::new();
    run(&mut ev, &[asa("sales", 25.0)], T0, &settings);
    run(&mut ev, &[asa("sales", 26.0)], T0 + 5 * MIN, &settings);
    let t = ev.evaluate(
        &[asa("sales", 10.0)],
        Some(&HealthInputs::default()),
        T0 + 7 * MIN,
        &settings,
    );
    assert_eq!(t[0].state, AlertState::Resolved);
    assert_eq!(t[0].ends_at(), Some(T0 + 7 * MIN));
    assert_eq!(
        (t[0].alert.value, t[0].alert.starts_at),
        (26.0, T0 + 5 * MIN)
    );
}

#[test]
fn the_volume_guard_keeps_quiet_queues_from_firing_and_resolves_when_volume_drops() {
    let settings = AlertSettings::default();
    let mut ev = AlertEvaluator::new();
    // 9 calls offered, ASA 60 s and SL 10 %: below min_calls 10, nothing even pends.
    let quiet = snap("night", 9, |w| {
        w.asa_seconds = Some(60.0);
        w.service_level = Some(0.1);
    });
    for m in 0..=10 {
        assert!(run(
            &mut ev,
            std::slice::from_ref(&quiet),
            T0 + m * MIN,
            &settings
        )
        .is_empty());
    }
    // 10 calls: the guard passes; SL fires after its 2m, ASA after 5m.
    let busy = snap("night", 10, |w| {
        w.asa_seconds = Some(60.0);
        w.service_level = Some(0.1);
    });
    run(
        &mut ev,
        std::slice::from_ref(&busy),
        T0 + 11 * MIN,
        &settings,
    );
    assert_eq!(
        run(
            &mut ev,
            std::slice::from_ref(&busy),
            T0 + 13 * MIN,
            &settings
        ),
        [fired(AlertName::ServiceLevelBelowTarget, "night")]
    );
    assert_eq!(
        run(&mut ev, &[busy], T0 + 16 * MIN, &settings),
        [fired(AlertName::AsaHigh, "night")]
    );
    // Volume drops below the guard: no evidence left, both resolve.
    assert_eq!(
        run(&mut ev, &[quiet], T0 + 17 * MIN, &settings),
        [
            resolved(AlertName::ServiceLevelBelowTarget, "night"),
            resolved(AlertName::AsaHigh, "night")
        ]
    );
}

#[test]
fn service_level_is_judged_against_the_queue_target_with_a_clear_margin() {
    let settings = AlertSettings::default();
    let mut ev = AlertEvaluator::new();
    let sl = |v: f64| snap("sales", 40, |w| w.service_level = Some(v));
    // Target 0.8: 0.8 itself is not below it.
    assert!(run(&mut ev, &[sl(0.8)], T0, &settings).is_empty());
    run(&mut ev, &[sl(0.625)], T0 + MIN, &settings);
    let t = ev.evaluate(
        &[sl(0.625)],
        Some(&HealthInputs::default()),
        T0 + 3 * MIN,
        &settings,
    );
    let a = &t[0].alert;
    assert_eq!(
        (a.name, a.severity),
        (AlertName::ServiceLevelBelowTarget, Severity::Page)
    );
    assert_eq!((a.value, a.threshold), (0.625, 0.8));
    assert_eq!(
        a.summary,
        "sales: service level 15m 62.5 % below target 80 %"
    );
    assert!(
        a.description.contains("answered within 20 s"),
        "{}",
        a.description
    );
    assert!(
        a.description.contains("resolves at 82 %"),
        "{}",
        a.description
    );
    // 0.81 is back at target but not at target + 0.02: still firing.
    assert!(run(&mut ev, &[sl(0.81)], T0 + 4 * MIN, &settings).is_empty());
    assert_eq!(
        run(&mut ev, &[sl(0.82)], T0 + 5 * MIN, &settings),
        [resolved(AlertName::ServiceLevelBelowTarget, "sales")]
    );
}

#[test]
fn a_clear_level_above_100_percent_is_capped() {
    let settings = AlertSettings::default();
    let mut ev = AlertEvaluator::new();
    let sl = |v: f64| {
        let mut s = snap("vip", 40, |w| w.service_level = Some(v));
        s.sl_target = 0.99;
        s
    };
    run(&mut ev, &[sl(0.9)], T0, &settings);
    assert_eq!(run(&mut ev, &[sl(0.9)], T0 + 2 * MIN, &settings).len(), 1);
    // Clear at min(0.99 + 0.02, 1) = 1.
    assert!(run(&mut ev, &[sl(0.995)], T0 + 3 * MIN, &settings).is_empty());
    assert_eq!(run(&mut ev, &[sl(1.0)], T0 + 4 * MIN, &settings).len(), 1);
}

#[test]
fn none_and_nan_never_fire_and_resolve_a_firing_alert() {
    let settings = AlertSettings::default();
    let mut ev = AlertEvaluator::new();
    let nan = snap("sales", 40, |w| {
        w.asa_seconds = Some(f64::NAN);
        w.service_level = None;
        w.rings_per_answer = Some(f64::INFINITY);
    });
    for m in 0..=10 {
        assert!(run(&mut ev, std::slice::from_ref(&nan), T0 + m * MIN, &settings).is_empty());
    }
    run(&mut ev, &[asa("sales", 40.0)], T0 + 11 * MIN, &settings);
    assert_eq!(
        run(&mut ev, &[asa("sales", 40.0)], T0 + 16 * MIN, &settings).len(),
        1
    );
    let none = snap("sales", 40, |w| w.asa_seconds = None);
    assert_eq!(
        run(&mut ev, &[none], T0 + 17 * MIN, &settings),
        [resolved(AlertName::AsaHigh, "sales")]
    );
}

#[test]
fn oldest_wait_fires_at_once_without_a_volume_guard() {
    let settings = AlertSettings::default();
    let mut ev = AlertEvaluator::new();
    let wait = |seconds: f64| {
        let mut s = snap("night", 0, |_| {});
        s.now.oldest_wait_seconds = seconds;
        s.now.calls_waiting = 2;
        s
    };
    assert!(
        run(&mut ev, &[wait(120.0)], T0, &settings).is_empty(),
        "not above"
    );
    let t = ev.evaluate(
        &[wait(155.0)],
        Some(&HealthInputs::default()),
        T0 + 1_000,
        &settings,
    );
    let a = &t[0].alert;
    assert_eq!(
        (a.name, a.severity),
        (AlertName::OldestWaitHigh, Severity::Page)
    );
    assert_eq!(a.summary, "night: oldest call waiting 2m 35s, above 2m");
    assert!(
        a.description.contains("2 calls are waiting"),
        "{}",
        a.description
    );
    assert!(run(&mut ev, &[wait(91.0)], T0 + 2_000, &settings).is_empty());
    assert_eq!(
        run(&mut ev, &[wait(0.0)], T0 + 3_000, &settings),
        [resolved(AlertName::OldestWaitHigh, "night")]
    );
}

#[test]
fn each_threshold_rule_reads_its_own_kpi() {
    let settings = AlertSettings::default();
    let mut ev = AlertEvaluator::new();
    let bad = snap("sales", 40, |w| {
        w.abandon_rate = Some(0.075);
        w.not_ready_ratio = Some(0.082);
        w.rings_per_answer = Some(2.4);
    });
    run(&mut ev, std::slice::from_ref(&bad), T0, &settings);
    let t = ev.evaluate(
        &[bad],
        Some(&HealthInputs::default()),
        T0 + 5 * MIN,
        &settings,
    );
    let summaries: Vec<_> = t.iter().map(|t| t.alert.summary.as_str()).collect();
    assert_eq!(
        summaries,
        [
            "sales: abandon rate 15m 7.5 % above 5 %",
            "sales: not ready 15m 8.2 % above 6 %",
            "sales: rings per answer 15m 2.4 above 2",
        ]
    );
}

fn surging(queue: &str, exceeded: bool, age: f64) -> KpiSnapshot {
    let mut s = snap(queue, 40, |_| {});
    s.surge = SurgeSnapshot {
        active: true,
        onset: Some(T0 - (age * 1_000.0) as Millis),
        age_seconds: age,
        rate_per_minute: 9.6,
        baseline_per_minute: Some(4.0),
        response_limit_seconds: 600.0,
        response_exceeded: exceeded,
        absorbed: 0,
    };
    s.staffing = Some(Staffing {
        arrival_rate_per_minute: 9.6,
        aht_seconds: 300.0,
        required_agents: 14,
        staffed_agents: 9,
        predicted_service_level: 0.0,
        predicted_asa_seconds: None,
    });
    s
}

#[test]
fn surge_alert_fires_for_the_queue_whose_response_is_late_and_resolves() {
    let settings = AlertSettings::default();
    let mut ev = AlertEvaluator::new();
    let calm = snap("sales", 40, |_| {});
    // support's surge is 9 min old: open but within the limit.
    assert!(run(
        &mut ev,
        &[calm.clone(), surging("support", false, 540.0)],
        T0,
        &settings
    )
    .is_empty());
    let t = ev.evaluate(
        &[calm.clone(), surging("support", true, 680.0)],
        Some(&HealthInputs::default()),
        T0 + 140_000,
        &settings,
    );
    assert_eq!(t.len(), 1, "{t:?}");
    let a = &t[0].alert;
    assert_eq!(a.queue.as_deref(), Some("support"));
    assert_eq!(
        (a.name, a.severity),
        (AlertName::SurgeResponseExceeded, Severity::Page)
    );
    assert_eq!((a.value, a.threshold), (680.0, 600.0));
    assert_eq!(
        a.summary,
        "support: surge unanswered for 11m 20s (arrivals 9.6/min vs 4.0/min baseline); \
         needs 14 agents, 9 staffed"
    );
    assert!(
        a.description
            .contains("Erlang C needs 14 agents for the target at 9.6 calls/min and 300 s"),
        "{}",
        a.description
    );
    assert!(
        a.description.contains("response limit of 10m"),
        "{}",
        a.description
    );
    // Still late a minute on: no new transition, the age moves on.
    assert!(run(
        &mut ev,
        &[calm.clone(), surging("support", true, 740.0)],
        T0 + 200_000,
        &settings
    )
    .is_empty());
    assert!(ev.firing().next().unwrap().summary.contains("for 12m 20s"));
    // Responded: response_exceeded is false again.
    assert_eq!(
        run(
            &mut ev,
            &[calm, snap("support", 40, |_| {})],
            T0 + 260_000,
            &settings
        ),
        [resolved(AlertName::SurgeResponseExceeded, "support")]
    );
}

#[test]
fn surge_summary_without_baseline_or_staffing_leaves_them_out() {
    let settings = AlertSettings::default();
    let mut ev = AlertEvaluator::new();
    let mut s = surging("support", true, 600.0);
    s.surge.baseline_per_minute = None;
    s.staffing = None;
    let t = ev.evaluate(&[s], Some(&HealthInputs::default()), T0, &settings);
    assert_eq!(
        t[0].alert.summary,
        "support: surge unanswered for 10m (arrivals 9.6/min)"
    );
}

#[test]
fn a_queue_that_disappears_resolves_its_alerts_and_drops_pending_ones() {
    let settings = AlertSettings::default();
    let mut ev = AlertEvaluator::new();
    let both = || {
        let mut b = asa("b", 40.0);
        b.now.oldest_wait_seconds = 200.0;
        vec![b, asa("a", 40.0)]
    };
    assert_eq!(
        run(&mut ev, &both(), T0, &settings),
        [fired(AlertName::OldestWaitHigh, "b")]
    );
    assert_eq!(
        run(&mut ev, &both(), T0 + 5 * MIN, &settings),
        [
            fired(AlertName::AsaHigh, "b"),
            fired(AlertName::AsaHigh, "a")
        ]
    );
    // Only c is left, and starts pending: a's and b's alerts resolve, sorted by queue id,
    // each queue's in alert order.
    assert_eq!(
        run(&mut ev, &[asa("c", 40.0)], T0 + 6 * MIN, &settings),
        [
            resolved(AlertName::AsaHigh, "a"),
            resolved(AlertName::AsaHigh, "b"),
            resolved(AlertName::OldestWaitHigh, "b"),
        ]
    );
    // c goes too: it was only pending, so nothing to resolve.
    assert!(run(&mut ev, &[], T0 + 7 * MIN, &settings).is_empty());
    assert_eq!(ev.firing().count(), 0);
    assert!(ev.queues.is_empty());
}

#[test]
fn a_disabled_rule_never_fires_and_resolves_when_disabled() {
    let mut settings = AlertSettings::default();
    let mut ev = AlertEvaluator::new();
    run(&mut ev, &[asa("sales", 40.0)], T0, &settings);
    assert_eq!(
        run(&mut ev, &[asa("sales", 40.0)], T0 + 5 * MIN, &settings).len(),
        1
    );
    settings.default.asa.enabled = false;
    assert_eq!(
        run(&mut ev, &[asa("sales", 40.0)], T0 + 6 * MIN, &settings),
        [resolved(AlertName::AsaHigh, "sales")]
    );
    for m in 7..20 {
        assert!(run(&mut ev, &[asa("sales", 40.0)], T0 + m * MIN, &settings).is_empty());
    }
}

#[test]
fn per_queue_overrides_apply_to_their_queue_only() {
    let mut settings = AlertSettings::default();
    let mut vip = QueueRules::default();
    vip.asa.threshold = 10.0;
    vip.asa.clear = 8.0;
    vip.asa.for_ms = 0;
    vip.asa.severity = Severity::Page;
    settings.queues.insert("vip".into(), vip);
    let mut ev = AlertEvaluator::new();
    let t = ev.evaluate(
        &[asa("sales", 15.0), asa("vip", 15.0)],
        Some(&HealthInputs::default()),
        T0,
        &settings,
    );
    assert_eq!(t.len(), 1);
    let a = &t[0].alert;
    assert_eq!(a.queue.as_deref(), Some("vip"));
    assert_eq!((a.threshold, a.severity), (10.0, Severity::Page));
    assert_eq!(a.summary, "vip: ASA 15m 15 s above 10 s");
}

#[test]
fn a_rule_on_another_window_reads_that_window() {
    let mut settings = AlertSettings::default();
    settings.default.asa.window = "5m".into();
    settings.default.asa.for_ms = 0;
    let mut ev = AlertEvaluator::new();
    // 15m has ASA 40 s, 5m only 9 calls.
    let mut s = asa("sales", 40.0);
    s.windows.0[0].1 = WindowKpis {
        offered: 9,
        asa_seconds: Some(50.0),
        ..WindowKpis::default()
    };
    assert!(run(&mut ev, &[s.clone()], T0, &settings).is_empty());
    s.windows.0[0].1.offered = 10;
    let t = ev.evaluate(&[s], Some(&HealthInputs::default()), T0, &settings);
    assert_eq!(t[0].alert.summary, "sales: ASA 5m 50 s above 20 s");
}

fn health(
    source_up: Option<bool>,
    age_ms: Option<Millis>,
    lag: Option<u64>,
    events: u64,
    rejected: u64,
) -> HealthInputs {
    HealthInputs {
        source_up,
        last_event_age_ms: age_ms,
        consumer_lag: lag,
        events_total: events,
        rejected_total: rejected,
    }
}

fn health_run(
    ev: &mut AlertEvaluator,
    h: HealthInputs,
    at: Millis,
) -> Vec<(AlertName, AlertState)> {
    ev.evaluate(&[], Some(&h), at, &AlertSettings::default())
        .into_iter()
        .map(|t| {
            assert_eq!(t.alert.queue, None);
            (t.alert.name, t.state)
        })
        .collect()
}

#[test]
fn source_stalled_fires_only_while_the_source_is_up() {
    let mut ev = AlertEvaluator::new();
    let five_min = 5 * MIN;
    // Down for an hour without events: a different problem (acd_source_up), not a stall.
    assert!(health_run(&mut ev, health(Some(false), Some(60 * MIN), None, 0, 0), T0).is_empty());
    // No source at all (demo).
    assert!(health_run(&mut ev, health(None, Some(60 * MIN), None, 0, 0), T0).is_empty());
    assert!(health_run(
        &mut ev,
        health(Some(true), Some(five_min - 1), None, 0, 0),
        T0
    )
    .is_empty());
    let t = ev.evaluate(
        &[],
        Some(&health(Some(true), Some(370_000), None, 0, 0)),
        T0,
        &AlertSettings::default(),
    );
    let a = &t[0].alert;
    assert_eq!(
        (a.name, a.severity),
        (AlertName::SourceStalled, Severity::Page)
    );
    assert_eq!((a.value, a.threshold), (370.0, 300.0));
    assert_eq!(
        a.summary,
        "acdstream: no CTI event for 6m 10s while the source is up"
    );
    // An event arrives.
    assert_eq!(
        health_run(
            &mut ev,
            health(Some(true), Some(200), None, 0, 0),
            T0 + 1_000
        ),
        [(AlertName::SourceStalled, AlertState::Resolved)]
    );
}

#[test]
fn consumer_lag_needs_its_for_duration() {
    let mut ev = AlertEvaluator::new();
    let lag = |n| health(Some(true), Some(0), Some(n), 0, 0);
    assert!(health_run(&mut ev, lag(10_000), T0).is_empty(), "not above");
    assert!(health_run(&mut ev, lag(25_000), T0 + MIN).is_empty());
    assert!(
        health_run(&mut ev, lag(25_000), T0 + 5 * MIN).is_empty(),
        "4 min"
    );
    assert_eq!(
        health_run(&mut ev, lag(25_000), T0 + 6 * MIN),
        [(AlertName::ConsumerLagHigh, AlertState::Firing)]
    );
    assert_eq!(
        ev.firing().next().unwrap().summary,
        "acdstream: consumer lag 25000 events above 10000"
    );
    assert_eq!(
        health_run(&mut ev, lag(9_000), T0 + 7 * MIN),
        [(AlertName::ConsumerLagHigh, AlertState::Resolved)]
    );
    // No Kafka: no lag alert.
    assert!(health_run(&mut ev, health(None, None, None, 0, 0), T0 + 8 * MIN).is_empty());
}

#[test]
fn rejected_ratio_is_taken_over_the_last_five_minutes() {
    let mut ev = AlertEvaluator::new();
    let totals = |events, rejected| health(None, None, None, events, rejected);
    // Minute 0–5: 1000 events, 50 rejected (5 %) — but then 5 clean minutes.
    assert!(health_run(&mut ev, totals(0, 0), T0).is_empty());
    assert!(health_run(&mut ev, totals(1_000, 50), T0 + 5 * MIN).is_empty());
    let ratio = |ev: &mut AlertEvaluator, h: HealthInputs, at| ev.rejected_ratio(&h, at);
    // At 10 min the window (5–10 min) holds 1000 clean events.
    let mut probe = AlertEvaluator::new();
    ratio(&mut probe, totals(0, 0), T0);
    ratio(&mut probe, totals(1_000, 50), T0 + 5 * MIN);
    // At 7 min the oldest sample at or before 2 min is the first: 50 of 1500.
    assert_eq!(
        ratio(&mut probe, totals(1_500, 50), T0 + 7 * MIN),
        Some(50.0 / 1_500.0)
    );
    // At 10 min it is the one at 5 min: no rejection since.
    assert_eq!(
        ratio(&mut probe, totals(2_000, 50), T0 + 10 * MIN),
        Some(0.0)
    );
    // 2 % rejected from minute 10 on: pending, firing after 10 min.
    let mut at = T0 + 10 * MIN;
    let (mut events, mut rejected) = (2_000, 50);
    health_run(&mut ev, totals(events, rejected), at);
    let mut fired_at = None;
    for _ in 0..25 {
        at += MIN;
        events += 500;
        rejected += 10;
        if !health_run(&mut ev, totals(events, rejected), at).is_empty() {
            fired_at = Some(at);
            break;
        }
    }
    // Measured from the sample at 5 min until minute 15: 10 of 1500 at minute 11, 20 of
    // 2000 (1 %, not above) at 12, 30 of 2500 at 13: pending from 13, firing at 23.
    assert_eq!(fired_at, Some(T0 + 23 * MIN));
    let a = ev.firing().next().unwrap();
    assert_eq!(a.value, 0.02);
    assert_eq!(
        a.summary,
        "acdstream: 2 % of events rejected over 5m, above 1 %"
    );
}

/// While the source catches up (`None`), the backlog's lag and rejections make no service
/// alert; after it, each timer starts at the first evaluation, and the rejected ratio counts
/// only what came after (issue 12, item 1).
#[test]
fn service_alerts_start_after_the_catch_up() {
    let mut settings = AlertSettings::default();
    settings.rejected_events.for_ms = 0;
    let mut ev = AlertEvaluator::new();
    let health_run = |ev: &mut AlertEvaluator, h: HealthInputs, at: Millis| {
        ev.evaluate(&[], Some(&h), at, &settings)
            .into_iter()
            .map(|t| (t.alert.name, t.state))
            .collect::<Vec<_>>()
    };
    // Ten minutes of catch-up: lag far above 10,000, half the backlog rejected.
    for m in 0..=10 {
        let t = ev.evaluate(&[], None, T0 + m * MIN, &settings);
        assert!(t.is_empty(), "{t:?}");
    }
    let caught_up = T0 + 11 * MIN;
    // The lag back to 20,000 after it: pending from now, 5 minutes.
    let h = |lag, events, rejected| health(Some(true), Some(0), Some(lag), events, rejected);
    assert!(health_run(&mut ev, h(20_000, 100_000, 50_000), caught_up).is_empty());
    assert!(health_run(&mut ev, h(20_000, 100_100, 50_000), caught_up + 4 * MIN).is_empty());
    assert_eq!(
        health_run(&mut ev, h(20_000, 100_200, 50_000), caught_up + 5 * MIN),
        [(AlertName::ConsumerLagHigh, AlertState::Firing)]
    );
    // A pending alert interrupted by another catch-up (a rebalance) starts over after it; a
    // firing one stays firing, with no transition.
    assert!(ev
        .evaluate(&[], None, caught_up + 6 * MIN, &settings)
        .is_empty());
    assert_eq!(ev.firing().count(), 1);
}

/// A pending service alert does not carry its timer across a catch-up.
#[test]
fn a_catch_up_restarts_a_pending_service_alert() {
    let settings = AlertSettings::default();
    let mut ev = AlertEvaluator::new();
    let lagging = health(Some(true), Some(0), Some(20_000), 0, 0);
    assert!(health_run(&mut ev, lagging, T0).is_empty());
    assert!(ev.evaluate(&[], None, T0 + MIN, &settings).is_empty());
    assert!(health_run(&mut ev, lagging, T0 + 2 * MIN).is_empty());
    assert!(health_run(&mut ev, lagging, T0 + 6 * MIN).is_empty());
    assert_eq!(
        health_run(&mut ev, lagging, T0 + 7 * MIN),
        [(AlertName::ConsumerLagHigh, AlertState::Firing)]
    );
}
