use super::*;
use crate::alerts::Severity;
use crate::sinks::prometheus::builder;

fn alert(name: AlertName, queue: Option<&str>, severity: Severity) -> Alert {
    Alert {
        name,
        queue: queue.map(str::to_owned),
        severity,
        starts_at: 1_000,
        value: 1.0,
        threshold: 1.0,
        summary: String::new(),
        description: String::new(),
    }
}

#[test]
fn firing_alerts_are_1_resolved_0_and_transitions_count() {
    let recorder = builder().unwrap().build_recorder();
    let handle = recorder.handle();
    let asa = alert(AlertName::AsaHigh, Some("sales"), Severity::Ticket);
    let lag = alert(AlertName::ConsumerLagHigh, None, Severity::Page);
    let wait = alert(AlertName::OldestWaitHigh, Some("vip"), Severity::Page);
    metrics::with_local_recorder(&recorder, || {
        t::describe();
        let mut m = AlertMetrics::new();
        let fire = |a: &Alert| Transition {
            alert: a.clone(),
            state: AlertState::Firing,
            at: 1_000,
        };
        m.record(&[fire(&asa), fire(&wait)], [&asa, &wait]);
        m.record(&[fire(&lag)], [&asa, &wait, &lag]);
        let resolve = Transition {
            alert: wait.clone(),
            state: AlertState::Resolved,
            at: 2_000,
        };
        m.record(&[resolve], [&asa, &lag]);
    });
    let text = handle.render();
    for line in [
        r#"acd_alerts_firing{alert="AsaHigh",severity="ticket",queue="sales"} 1"#,
        r#"acd_alerts_firing{alert="OldestWaitHigh",severity="page",queue="vip"} 0"#,
        r#"acd_alerts_firing{alert="ConsumerLagHigh",severity="page"} 1"#,
        r#"acd_alert_transitions_total{alert="AsaHigh",state="firing"} 1"#,
        r#"acd_alert_transitions_total{alert="AsaHigh",state="resolved"} 0"#,
        r#"acd_alert_transitions_total{alert="OldestWaitHigh",state="firing"} 1"#,
        r#"acd_alert_transitions_total{alert="OldestWaitHigh",state="resolved"} 1"#,
        r#"acd_alert_transitions_total{alert="ConsumerLagHigh",state="firing"} 1"#,
        r#"acd_alert_transitions_total{alert="RejectedEventsHigh",state="firing"} 0"#,
        "# TYPE acd_alerts_firing gauge",
        "# TYPE acd_alert_transitions_total counter",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in:\n{text}"
        );
    }
    assert_eq!(
        text.lines()
            .filter(|l| l.starts_with("acd_alert_transitions_total{"))
            .count(),
        20,
        "every alert and state from the start"
    );
}
