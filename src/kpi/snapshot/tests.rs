use super::*;

#[test]
fn windows_keep_configured_order_and_nulls_round_trip() {
    let snapshot = KpiSnapshot {
        queue_id: "sales".into(),
        as_of: 1_700_000_000_000,
        sl_threshold_seconds: 20.0,
        sl_target: 0.8,
        now: NowKpis::default(),
        staffing: None,
        surge: SurgeSnapshot::default(),
        windows: Windows(vec![
            ("5m".into(), WindowKpis::default()),
            (
                "15m".into(),
                WindowKpis {
                    offered: 3,
                    service_level: Some(0.5),
                    ..Default::default()
                },
            ),
            ("60m".into(), WindowKpis::default()),
        ]),
    };
    let json = serde_json::to_string(&snapshot).unwrap();
    let five = json.find("\"5m\"").unwrap();
    let fifteen = json.find("\"15m\"").unwrap();
    let sixty = json.find("\"60m\"").unwrap();
    assert!(five < fifteen && fifteen < sixty, "{json}");
    assert!(json.contains("\"asa_seconds\":null"));
    let back: KpiSnapshot = serde_json::from_str(&json).unwrap();
    assert_eq!(back, snapshot);
}

#[test]
fn a_snapshot_written_before_ring_abandoned_and_absorbed_reads_them_as_zero() {
    let mut snapshot = KpiSnapshot {
        queue_id: "sales".into(),
        as_of: 1_700_000_000_000,
        sl_threshold_seconds: 20.0,
        sl_target: 0.8,
        now: NowKpis::default(),
        staffing: None,
        surge: SurgeSnapshot {
            absorbed: 4,
            ..SurgeSnapshot::default()
        },
        windows: Windows(vec![(
            "15m".into(),
            WindowKpis {
                ring_abandoned: 2,
                ..Default::default()
            },
        )]),
    };
    let json = serde_json::to_string(&snapshot).unwrap();
    let older = json
        .replace(",\"ring_abandoned\":2", "")
        .replace(",\"absorbed\":4", "");
    assert!(!older.contains("ring_abandoned") && !older.contains("absorbed"));
    let back: KpiSnapshot = serde_json::from_str(&older).unwrap();
    snapshot.surge.absorbed = 0;
    snapshot.windows.0[0].1.ring_abandoned = 0;
    assert_eq!(back, snapshot);
}
