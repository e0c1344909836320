use super::*;

#[test]
fn names_are_the_rules_file_names_and_parse_back() {
    assert_eq!(AlertName::AsaHigh.as_str(), "AsaHigh");
    assert_eq!(
        AlertName::SurgeResponseExceeded.to_string(),
        "SurgeResponseExceeded"
    );
    for name in AlertName::ALL {
        assert_eq!(AlertName::parse(name.as_str()), Some(name));
        // serde spells them the same way.
        assert_eq!(
            serde_json::to_string(&name).unwrap(),
            format!("\"{}\"", name.as_str())
        );
    }
    assert_eq!(AlertName::parse("asahigh"), None);
    // The discriminant is the index in ALL (per-alert arrays rely on it).
    for (i, name) in AlertName::ALL.into_iter().enumerate() {
        assert_eq!(name as usize, i);
    }
    let health: Vec<_> = AlertName::ALL
        .into_iter()
        .filter(|n| !n.is_queue_alert())
        .collect();
    assert_eq!(
        health,
        [
            AlertName::SourceStalled,
            AlertName::ConsumerLagHigh,
            AlertName::RejectedEventsHigh
        ]
    );
    assert_eq!(Severity::parse("page"), Some(Severity::Page));
    assert_eq!(Severity::Ticket.to_string(), "ticket");
    assert_eq!(Severity::parse("Page"), None);
}

#[test]
fn numbers_read_like_a_person_wrote_them() {
    assert_eq!(percent(0.625), "62.5 %");
    assert_eq!(percent(0.8), "80 %");
    assert_eq!(percent(0.075), "7.5 %");
    assert_eq!(number(34.04), "34");
    assert_eq!(number(9.6), "9.6");
    assert_eq!(number(10_000.0), "10000");
    assert_eq!(span(680.0), "11m 20s");
    assert_eq!(span(600.0), "10m");
    assert_eq!(span(3_660.0), "1h 1m");
    assert_eq!(span(59.6), "1m");
    assert_eq!(span(0.0), "0s");
    assert_eq!(span(f64::NAN), "0s");
}

#[test]
fn only_resolved_transitions_end() {
    let alert = Alert {
        name: AlertName::AsaHigh,
        queue: Some("sales".into()),
        severity: Severity::Ticket,
        starts_at: 1_000,
        value: 34.0,
        threshold: 20.0,
        summary: String::new(),
        description: String::new(),
    };
    let firing = Transition {
        alert: alert.clone(),
        state: AlertState::Firing,
        at: 1_000,
    };
    let resolved = Transition {
        alert,
        state: AlertState::Resolved,
        at: 5_000,
    };
    assert_eq!(firing.ends_at(), None);
    assert_eq!(resolved.ends_at(), Some(5_000));
}
