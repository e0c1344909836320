use super::*;
use crate::alerts::AlertName;
use crate::decode::testing::{sample_snapshot, sample_transitions};
use crate::decode::{decode_alert, decode_snapshot};
use crate::kpi::QueueTotals;
use crate::sinks::prometheus::Exposition;
use serde_json::Value;

const AT: Millis = 1_700_000_000_000;

fn queue(id: &str) -> crate::kpi::KpiSnapshot {
    let mut s = sample_snapshot();
    s.queue_id = id.to_owned();
    s
}

/// A board with sales, support and billing published at `AT` every second, and the sample
/// alerts (sales' AbandonRateHigh, the service's ConsumerLagHigh) firing.
fn board() -> Board {
    let board = Board::default();
    for id in ["support", "sales", "billing"] {
        board.registry().publish(queue(id), QueueTotals::default());
    }
    let firing: Vec<Alert> = sample_transitions()
        .into_iter()
        .filter(|t| t.state == AlertState::Firing)
        .map(|t| t.alert)
        .collect();
    board.published(AT, Some(Duration::from_secs(1)), None, firing.iter());
    board
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(bytes));
    })
}

fn ids(v: &Value) -> Vec<&str> {
    v["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["queue_id"].as_str().unwrap())
        .collect()
}

#[test]
fn snapshots_are_the_kpi_topic_json_with_thresholds_and_freshness() {
    let board = board();
    board.set_rules(AlertSettings::default());
    let body = board.snapshots_json(None, AT + 500);
    let v = json(&body);
    assert_eq!(
        ids(&v),
        ["billing", "sales", "support"],
        "every queue, by id"
    );
    for s in v["snapshots"].as_array().unwrap() {
        let id = s["queue_id"].as_str().unwrap();
        // Byte for byte what the KPI topic carries (windows in their configured order too).
        let topic = encode_snapshot(Format::Json, &queue(id));
        assert!(body.windows(topic.len()).any(|w| w == topic), "{id}");
        assert_eq!(s, &json(&topic));
        assert_eq!(decode_snapshot(Format::Json, &topic).unwrap(), queue(id));
    }
    let sales = &v["thresholds"]["sales"];
    assert_eq!(sales["min_calls"], 10);
    assert_eq!(sales["service_level"]["target"], 0.8);
    assert_eq!(sales["service_level"]["clear"], 0.82);
    assert_eq!(sales["service_level"]["window"], "15m");
    assert_eq!(sales["asa"]["threshold"], 20.0);
    assert_eq!(sales["asa"]["clear"], 18.0);
    assert_eq!(sales["abandon_rate"]["threshold"], 0.05);
    assert_eq!(sales["oldest_wait"]["threshold"], 120.0);
    assert_eq!(sales["oldest_wait"]["enabled"], true);
    let service = &v["service"];
    assert_eq!(service["now"], AT + 500);
    assert_eq!(service["published_at"], AT);
    assert_eq!(service["publish_interval_ms"], 1_000);
    assert_eq!(service["stale_after_ms"], 3_000);
    assert_eq!(service["source_up"], Value::Null);
    assert_eq!(service["stale"], false);
    assert_eq!(service["stale_since"], Value::Null);
    assert_eq!(service["queues"], 3);
}

#[test]
fn a_queue_with_its_own_rules_gets_its_own_thresholds() {
    let board = board();
    let mut rules = AlertSettings::default();
    let mut support = rules.default.clone();
    support.asa.threshold = 45.0;
    support.asa.enabled = false;
    rules.queues.insert("support".into(), support);
    board.set_rules(rules);
    let v = json(&board.snapshots_json(None, AT));
    assert_eq!(v["thresholds"]["support"]["asa"]["threshold"], 45.0);
    assert_eq!(v["thresholds"]["support"]["asa"]["enabled"], false);
    assert_eq!(v["thresholds"]["sales"]["asa"]["threshold"], 20.0);
}

#[test]
fn older_than_three_publish_intervals_is_stale_since_the_last_publish() {
    let board = board();
    let at_limit = json(&board.snapshots_json(None, AT + 3_000));
    assert_eq!(at_limit["service"]["stale"], false);
    let late = json(&board.snapshots_json(None, AT + 3_001));
    assert_eq!(late["service"]["stale"], true);
    assert_eq!(late["service"]["stale_since"], AT);
    // Nothing published yet: stale, since no time.
    let empty = json(&Board::default().snapshots_json(None, AT));
    assert_eq!(empty["service"]["stale"], true);
    assert_eq!(empty["service"]["published_at"], Value::Null);
    assert_eq!(empty["snapshots"], Value::Array(vec![]));
    assert_eq!(empty["thresholds"], serde_json::json!({}));
}

#[test]
fn a_source_down_is_stale_since_it_was_first_seen_down() {
    let board = board();
    let interval = Some(Duration::from_secs(1));
    board.published(AT + 1_000, interval, Some(false), std::iter::empty());
    board.published(AT + 2_000, interval, Some(false), std::iter::empty());
    let down = json(&board.alerts_json(None, AT + 2_100));
    assert_eq!(down["service"]["source_up"], false);
    assert_eq!(down["service"]["stale"], true);
    assert_eq!(down["service"]["stale_since"], AT + 1_000);
    board.published(AT + 3_000, interval, Some(true), std::iter::empty());
    let up = json(&board.alerts_json(None, AT + 3_100));
    assert_eq!(up["service"]["source_up"], true);
    assert_eq!(up["service"]["stale"], false);
    assert_eq!(up["service"]["stale_since"], Value::Null);
}

#[test]
fn queues_are_chosen_and_ordered_by_the_query() {
    let board = board();
    let v = json(&board.snapshots_json(Some("queues=support,nope,sales,support"), AT));
    assert_eq!(
        ids(&v),
        ["support", "sales"],
        "in order, unknown and repeats left out"
    );
    let keys: Vec<&String> = v["thresholds"].as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 2);
    let encoded = json(&board.snapshots_json(Some("x=1&queues=billing%2Csales"), AT));
    assert_eq!(ids(&encoded), ["billing", "sales"]);
    let none = json(&board.snapshots_json(Some("queues="), AT));
    assert_eq!(ids(&none), Vec::<&str>::new());
    let other = json(&board.snapshots_json(Some("refresh=1"), AT));
    assert_eq!(ids(&other).len(), 3, "no queues= is every queue");
}

#[test]
fn alerts_are_the_firing_ones_as_on_the_alerts_topic() {
    let board = board();
    let v = json(&board.alerts_json(None, AT + 10));
    let alerts = v["alerts"].as_array().unwrap();
    let names: Vec<&str> = alerts
        .iter()
        .map(|a| a["alert"].as_str().unwrap())
        .collect();
    // Service alerts (no queue) first, then by queue.
    assert_eq!(names, ["ConsumerLagHigh", "AbandonRateHigh"]);
    for (a, t) in alerts.iter().zip(
        sample_transitions()
            .into_iter()
            .filter(|t| t.state == AlertState::Firing)
            .rev(),
    ) {
        assert_eq!(a["state"], "firing");
        let decoded = decode_alert(Format::Json, &serde_json::to_vec(a).unwrap()).unwrap();
        assert_eq!(decoded, t);
    }
    assert_eq!(v["service"]["published_at"], AT);

    // A queue filter keeps the service's alerts.
    let support = json(&board.alerts_json(Some("queues=support"), AT));
    let names: Vec<&str> = support["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["alert"].as_str().unwrap())
        .collect();
    assert_eq!(names, [AlertName::ConsumerLagHigh.as_str()]);
}

#[test]
fn the_query_is_decoded_and_bounded() {
    assert_eq!(requested(None), None);
    assert_eq!(requested(Some("a=1")), None);
    assert_eq!(
        requested(Some("queues=s%C3%A9ville,+x+,%zz,%4")),
        Some(vec![
            "séville".into(),
            "x".into(),
            "%zz".into(),
            "%4".into()
        ])
    );
    let many: Vec<String> = (0..MAX_QUERY_QUEUES + 5).map(|i| format!("q{i}")).collect();
    let query = format!("queues={}", many.join(","));
    assert_eq!(requested(Some(&query)).unwrap().len(), MAX_QUERY_QUEUES);
}

#[test]
fn the_page_is_self_contained_small_and_labelled_for_tests() {
    assert!(PAGE.len() < 200 * 1024, "{} bytes", PAGE.len());
    for external in ["http://", "https://", "src=\"//", "href=\"//", "@import"] {
        assert!(!PAGE.contains(external), "the page loads {external}…");
    }
    for needed in [
        "/api/v1/snapshots",
        "/api/v1/alerts",
        "data-kpi",
        "\"calls_waiting\"",
        "\"agents_ready\"",
        "\"service_level\"",
        "stale since",
    ] {
        assert!(PAGE.contains(needed), "{needed}");
    }
}

#[tokio::test]
async fn served_on_the_http_edge() {
    use crate::sinks::http::{serve, HttpState, Limits};
    use std::sync::atomic::AtomicBool;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};
    use tokio_util::sync::CancellationToken;

    let recorder = crate::sinks::prometheus::builder()
        .unwrap()
        .build_recorder();
    let board = Arc::new(board());
    let state = HttpState {
        metrics: Exposition::new(recorder.handle()),
        ready: Arc::new(AtomicBool::new(true)),
        board,
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(serve(listener, state, Limits::default(), shutdown.clone()));
    let get = |method: &'static str, path: &'static str| async move {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let req = format!("{method} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        stream.write_all(req.as_bytes()).await.unwrap();
        let mut buf = Vec::new();
        stream.read_to_end(&mut buf).await.unwrap();
        String::from_utf8(buf).unwrap()
    };

    let page = get("GET", "/?queues=sales").await;
    assert!(page.starts_with("HTTP/1.1 200 OK\r\n"), "{page}");
    assert!(page
        .to_ascii_lowercase()
        .contains("content-type: text/html; charset=utf-8\r\n"));
    assert!(page.ends_with(PAGE));

    let snapshots = get("GET", "/api/v1/snapshots?queues=sales").await;
    assert!(snapshots.starts_with("HTTP/1.1 200 OK\r\n"), "{snapshots}");
    assert!(snapshots
        .to_ascii_lowercase()
        .contains("content-type: application/json\r\n"));
    let body = snapshots.split_once("\r\n\r\n").unwrap().1;
    assert_eq!(ids(&json(body.as_bytes())), ["sales"]);

    let alerts = get("GET", "/api/v1/alerts").await;
    let body = alerts.split_once("\r\n\r\n").unwrap().1;
    assert_eq!(json(body.as_bytes())["alerts"].as_array().unwrap().len(), 2);

    let head = get("HEAD", "/api/v1/snapshots").await;
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(head.ends_with("\r\n\r\n"), "HEAD has no body: {head}");
    let post = get("POST", "/api/v1/alerts").await;
    assert!(post.starts_with("HTTP/1.1 405 "), "{post}");

    shutdown.cancel();
    server.await.unwrap().unwrap();
}
