use super::*;

/// A stand-in checkpoint: "queue@position".
fn fake(queue: &str, position: u64) -> Vec<u8> {
    format!("{queue}@{position}").into_bytes()
}

fn inspect(bytes: &[u8]) -> Result<(String, u64), String> {
    let text = std::str::from_utf8(bytes).map_err(|e| e.to_string())?;
    let (q, p) = text.split_once('@').ok_or("not a checkpoint")?;
    Ok((q.to_string(), p.parse().map_err(|_| "bad position")?))
}

fn marker(position: i64, queues: &[&str]) -> Vec<u8> {
    serde_json::to_vec(&RoundMarker {
        position,
        queues: queues.iter().map(|q| q.to_string()).collect(),
        written_at: 0,
    })
    .unwrap()
}

#[test]
fn keys_round_trip() {
    assert_eq!(
        parse_key(&queue_key(3, "sales/eu")),
        Some((3, KeyKind::Queue("sales/eu".into())))
    );
    assert_eq!(parse_key(&round_key(0)), Some((0, KeyKind::Round)));
    assert_eq!(parse_key("x/round"), None);
    assert_eq!(parse_key("1/other"), None);
}

#[test]
fn resume_at_the_oldest_position_among_the_marker_and_its_queues() {
    let mut latest = HashMap::new();
    latest.insert(round_key(1), marker(500, &["a", "b"]));
    // `a` was rewritten in a later round that did not finish; `b` only in the marker's round.
    latest.insert(queue_key(1, "a"), fake("a", 620));
    latest.insert(queue_key(1, "b"), fake("b", 500));
    // A queue dropped before the marker's round is not restored.
    latest.insert(queue_key(1, "old"), fake("old", 10));
    let plan = plan(1, &latest, inspect);
    assert_eq!(plan.resume_at, Some(500));
    let restored: Vec<(&str, i64)> = plan
        .queues
        .iter()
        .map(|(q, p, _)| (q.as_str(), *p))
        .collect();
    assert_eq!(restored, vec![("a", 620), ("b", 500)]);
    assert_eq!(plan.rebuild_reason, None);
}

#[test]
fn a_queue_record_older_than_its_marker_moves_the_resume_point_back() {
    // Another instance's late write left an older record for `a` after the marker.
    let mut latest = HashMap::new();
    latest.insert(round_key(0), marker(900, &["a"]));
    latest.insert(queue_key(0, "a"), fake("a", 700));
    assert_eq!(plan(0, &latest, inspect).resume_at, Some(700));
}

#[test]
fn without_a_usable_round_the_partition_is_rebuilt_from_its_start() {
    let empty = HashMap::new();
    assert_eq!(plan(0, &empty, inspect).resume_at, None);
    let mut latest = HashMap::new();
    latest.insert(round_key(0), marker(900, &["a"]));
    let p = plan(0, &latest, inspect);
    assert_eq!((p.resume_at, p.queues.len()), (None, 0));
    assert!(p.rebuild_reason.unwrap().contains("no checkpoint"));
    latest.insert(queue_key(0, "a"), b"garbage".to_vec());
    assert!(plan(0, &latest, inspect)
        .rebuild_reason
        .unwrap()
        .contains("checkpoint of a"));
}
