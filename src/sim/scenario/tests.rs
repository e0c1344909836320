use super::*;

#[test]
fn demo_is_valid_and_matches_its_description() {
    let demo = Scenario::demo();
    demo.validate().unwrap();
    assert_eq!(demo.queues.len(), 4);
    for q in &demo.queues {
        assert!((60.0..=240.0).contains(&q.calls_per_hour), "{}", q.id);
        assert!((180.0..=300.0).contains(&q.mean_talk_s), "{}", q.id);
        assert!((30.0..=60.0).contains(&q.mean_acw_s), "{}", q.id);
        assert!((60.0..=120.0).contains(&q.mean_patience_s), "{}", q.id);
    }
    let surge = demo.surge.as_ref().unwrap();
    assert_eq!(
        (surge.queue.as_str(), surge.start_after_s, surge.duration_s),
        ("support", 600.0, 1_200.0)
    );
    assert_eq!(demo.duration_ms, 7_200_000);
    QueueModel::default().validate().unwrap();
}

#[test]
fn round_trips_through_toml_and_fills_defaults() {
    let demo = Scenario::demo();
    let text = toml::to_string(&demo).unwrap();
    let back: Scenario = toml::from_str(&text).unwrap();
    assert_eq!(back, demo);

    let partial: Scenario = toml::from_str(
        r#"
            duplicate_ratio = 0.01
            [[queues]]
            id = "vip"
            agents = 3
            [queues.overflow]
            after_s = 30.0
            target_queue = "main"
            [[queues]]
            id = "main"
            "#,
    )
    .unwrap();
    assert_eq!(partial.duration_ms, DEFAULT_DURATION_MS);
    assert_eq!(partial.queues[0].agents, 3);
    assert_eq!(
        partial.queues[0].mean_talk_s,
        QueueModel::default().mean_talk_s
    );
    assert_eq!(partial.queues[1].overflow, None);
    partial.validate().unwrap();
}

#[test]
fn rejects_unknown_keys() {
    let err = toml::from_str::<Scenario>("[[queues]]\nid = \"a\"\ncalls_per_hr = 5.0\n");
    assert!(err.is_err());
}

#[test]
fn validate_reports_what_new_would_repair() {
    let mut s = Scenario::demo();
    s.queues[2].overflow.as_mut().unwrap().target_queue = "nowhere".into();
    assert!(matches!(
        s.validate(),
        Err(ScenarioError::UnknownOverflowTarget { .. })
    ));

    let mut s = Scenario::demo();
    s.surge.as_mut().unwrap().queue = "nowhere".into();
    assert!(matches!(
        s.validate(),
        Err(ScenarioError::UnknownSurgeQueue(_))
    ));

    let mut s = Scenario::demo();
    s.queues[0].hold_probability = 1.5;
    assert!(matches!(
        s.validate(),
        Err(ScenarioError::NotProbability { .. })
    ));

    let mut s = Scenario::demo();
    s.queues[1].mean_talk_s = f64::NAN;
    assert!(matches!(
        s.validate(),
        Err(ScenarioError::NotNonNegative { .. })
    ));

    let mut s = Scenario::demo();
    s.queues[3].id = "sales".into();
    assert_eq!(
        s.validate(),
        Err(ScenarioError::DuplicateQueue("sales".into()))
    );

    assert_eq!(Scenario::default().validate(), Err(ScenarioError::NoQueues));

    let mut s = Scenario::demo();
    s.duplicate_ratio = -0.1;
    assert!(matches!(
        s.validate(),
        Err(ScenarioError::InvalidGlobal { .. })
    ));
}

#[test]
fn validate_checks_transfers_and_shared_agents() {
    let mut s = Scenario::demo();
    // A transfer after an answer may go back into its own queue, unlike an overflow.
    s.queues[1]
        .transfer_after_answer
        .as_mut()
        .unwrap()
        .target_queue = "support".into();
    s.validate().unwrap();

    s.queues[1]
        .transfer_after_answer
        .as_mut()
        .unwrap()
        .target_queue = "nowhere".into();
    assert!(matches!(
        s.validate(),
        Err(ScenarioError::UnknownQueue { .. })
    ));

    let mut s = Scenario::demo();
    s.queues[1]
        .transfer_after_answer
        .as_mut()
        .unwrap()
        .blind_probability = 2.0;
    assert!(matches!(
        s.validate(),
        Err(ScenarioError::NotProbability { .. })
    ));

    let mut s = Scenario::demo();
    s.queues[0].shared_agents.as_mut().unwrap().queue = "sales".into();
    assert_eq!(
        s.validate(),
        Err(ScenarioError::SharedWithSelf("sales".into()))
    );
    s.queues[0].shared_agents.as_mut().unwrap().queue = "retention".into();
    s.queues[0].shared_agents.as_mut().unwrap().agents = 21;
    assert!(matches!(
        s.validate(),
        Err(ScenarioError::TooManySharedAgents { .. })
    ));
}
