use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;
use crate::alerts::{AlertName, Severity};

const T0: Millis = 1_700_000_000_000; // 2023-11-14T22:13:20Z

fn asa() -> Alert {
    Alert {
        name: AlertName::AsaHigh,
        queue: Some("sales".into()),
        severity: Severity::Ticket,
        starts_at: T0,
        value: 34.25,
        threshold: 20.0,
        summary: "sales: ASA 15m 34.3 s above 20 s".into(),
        description: "Answered calls waited.".into(),
    }
}

fn lag() -> Alert {
    Alert {
        name: AlertName::ConsumerLagHigh,
        queue: None,
        severity: Severity::Page,
        starts_at: T0 + 1_500,
        value: 25_000.0,
        threshold: 10_000.0,
        summary: "acdstream: consumer lag 25000 events above 10000".into(),
        description: String::new(),
    }
}

#[test]
fn payload_is_alertmanagers_postable_alerts() {
    let batch = AlertBatch {
        at: T0 + 60_000,
        firing: vec![asa()],
        resolved: vec![(lag(), T0 + 45_250)],
    };
    let got = payload(
        &batch,
        Duration::from_secs(60),
        Some("http://grafana/d/acd"),
    );
    let expected = json!([
        {
            "labels": {
                "alertname": "AsaHigh",
                "severity": "ticket",
                "queue": "sales",
                "origin": "acdstream",
                "service": "acdstream",
            },
            "annotations": {
                "summary": "sales: ASA 15m 34.3 s above 20 s",
                "description": "Answered calls waited.",
                "value": "34.25",
                "threshold": "20",
            },
            "startsAt": "2023-11-14T22:13:20Z",
            // 22:14:20 + 4 × 60 s.
            "endsAt": "2023-11-14T22:18:20Z",
            "generatorURL": "http://grafana/d/acd",
        },
        {
            "labels": {
                "alertname": "ConsumerLagHigh",
                "severity": "page",
                "origin": "acdstream",
                "service": "acdstream",
            },
            "annotations": {
                "summary": "acdstream: consumer lag 25000 events above 10000",
                "description": "",
                "value": "25000",
                "threshold": "10000",
            },
            "startsAt": "2023-11-14T22:13:21.5Z",
            "endsAt": "2023-11-14T22:14:05.25Z",
            "generatorURL": "http://grafana/d/acd",
        },
    ]);
    assert_eq!(got, expected);
    let without = payload(&batch, Duration::from_secs(60), None);
    assert!(without[0].get("generatorURL").is_none());
}

fn firing(alert: &Alert, at: Millis) -> Transition {
    Transition {
        alert: alert.clone(),
        state: AlertState::Firing,
        at,
    }
}

#[test]
fn publish_pushes_on_change_and_resends_every_interval() {
    let (tx, mut rx) = mpsc::channel(CHANNEL_CAPACITY);
    let mut sink = AlertmanagerSink::with_channel(tx, Duration::from_secs(60));
    let mut sent =
        |sink: &mut AlertmanagerSink, now: Millis, transitions: &[Transition], firing: &[Alert]| {
            sink.publish(now, transitions, firing);
            rx.try_recv().ok()
        };
    // Nothing firing, nothing changed: nothing to say.
    assert_eq!(sent(&mut sink, T0, &[], &[]), None);
    let a = asa();
    let batch = sent(
        &mut sink,
        T0 + 1_000,
        &[firing(&a, T0 + 1_000)],
        std::slice::from_ref(&a),
    )
    .unwrap();
    assert_eq!(
        (batch.at, batch.firing.len(), batch.resolved.len()),
        (T0 + 1_000, 1, 0)
    );
    // Within the interval: quiet.
    assert_eq!(
        sent(&mut sink, T0 + 60_999, &[], std::slice::from_ref(&a)),
        None
    );
    // An interval later: the resend.
    let batch = sent(&mut sink, T0 + 61_000, &[], std::slice::from_ref(&a)).unwrap();
    assert_eq!(batch.firing, std::slice::from_ref(&a));
    // A change goes out at once; a resolved alert is carried once.
    let resolved = Transition {
        alert: a.clone(),
        state: AlertState::Resolved,
        at: T0 + 62_000,
    };
    let batch = sent(&mut sink, T0 + 62_000, &[resolved], &[]).unwrap();
    assert_eq!(
        (batch.firing.len(), batch.resolved),
        (0, vec![(a, T0 + 62_000)])
    );
    assert_eq!(sent(&mut sink, T0 + 200_000, &[], &[]), None);
}

#[test]
fn a_full_channel_drops_the_batch_and_counts_it_failed() {
    let (tx, _rx) = mpsc::channel(1);
    let sink = AlertmanagerSink::with_channel(tx, Duration::from_secs(60));
    let batch = AlertBatch {
        at: T0,
        firing: vec![asa()],
        resolved: vec![],
    };
    assert!(sink.offer(batch.clone()));
    assert!(!sink.offer(batch));
    assert_eq!((sink.stats().delivered(), sink.stats().failed()), (0, 1));
}

#[test]
fn urls_are_checked_before_the_task_starts() {
    for (url, detail) in [
        ("https://am:9093", "only http://"),
        ("am:9093", "only http://"),
        ("http://am :9093", "invalid"),
    ] {
        let err = Pusher::new(url, Duration::from_secs(5)).err().unwrap();
        let msg = err.to_string();
        assert!(msg.contains(detail), "{url}: {msg}");
        assert!(msg.contains("alerts.alertmanager_url"), "{msg}");
    }
    let p = Pusher::new("http://am:9093/", Duration::from_secs(5)).unwrap();
    assert_eq!(p.endpoint, "http://am:9093/api/v2/alerts");
}

/// Answers one HTTP request with `answer` and returns the request as text.
async fn one_request(listener: TcpListener, answer: &'static str) -> String {
    let (mut socket, _) = listener.accept().await.unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0_u8; 4096];
    loop {
        let n = socket.read(&mut chunk).await.unwrap();
        assert!(
            n > 0,
            "connection closed early: {:?}",
            String::from_utf8_lossy(&buf)
        );
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf);
        if let Some(end) = text.find("\r\n\r\n") {
            let length: usize = text[..end]
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse().unwrap())
                })
                .unwrap_or(0);
            if buf.len() >= end + 4 + length {
                break;
            }
        }
    }
    socket.write_all(answer.as_bytes()).await.unwrap();
    String::from_utf8(buf).unwrap()
}

#[tokio::test]
async fn the_task_posts_json_to_the_v2_api_and_counts_the_delivery() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(one_request(
        listener,
        "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
    ));
    let settings = AlertSettings::default();
    let recorder = crate::sinks::prometheus::builder()
        .unwrap()
        .build_recorder();
    let handle = recorder.handle();
    let (mut sink, task) = metrics::with_local_recorder(&recorder, || {
        AlertmanagerSink::new(&format!("http://{addr}"), &settings)
    })
    .unwrap();
    let task = tokio::spawn(task);
    let a = asa();
    sink.publish(T0, &[firing(&a, T0)], [&a]);

    let request = tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("the push arrives")
        .unwrap();
    let (head, body) = request.split_once("\r\n\r\n").unwrap();
    assert!(
        head.starts_with("POST /api/v2/alerts HTTP/1.1\r\n"),
        "{head}"
    );
    assert!(
        head.lines()
            .any(|l| l.eq_ignore_ascii_case("content-type: application/json")),
        "{head}"
    );
    let batch = AlertBatch {
        at: T0,
        firing: vec![a],
        resolved: vec![],
    };
    let body: Value = serde_json::from_str(body).unwrap();
    assert_eq!(body, payload(&batch, settings.resend_interval, None));
    assert_eq!(body[0]["endsAt"], "2023-11-14T22:17:20Z");

    for _ in 0..200 {
        if sink.stats().delivered() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!((sink.stats().delivered(), sink.stats().failed()), (1, 0));
    metrics::with_local_recorder(&recorder, || sink.publish(T0 + 1_000, &[], [&asa()]));
    let text = handle.render();
    assert!(
        text.contains(r#"acd_alert_deliveries_total{channel="alertmanager",result="delivered"} 1"#),
        "{text}"
    );
    drop(sink);
    task.await.unwrap();
}

#[tokio::test]
async fn errors_say_what_to_check() {
    // Refused: a port nobody listens on any more.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let pusher = Pusher::new(&format!("http://{addr}"), Duration::from_secs(5)).unwrap();
    let err = pusher.push(b"[]".to_vec()).await.unwrap_err();
    assert!(
        matches!(err, AlertmanagerError::Unreachable { .. }),
        "{err}"
    );
    let msg = err.to_string();
    assert!(msg.contains(&format!("http://{addr}")), "{msg}");
    assert!(msg.to_lowercase().contains("refused"), "{msg}");

    // A wrong base URL: 404.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(one_request(
        listener,
        "HTTP/1.1 404 Not Found\r\ncontent-length: 9\r\n\r\nnot found",
    ));
    let pusher = Pusher::new(&format!("http://{addr}"), Duration::from_secs(5)).unwrap();
    let err = pusher.push(b"[]".to_vec()).await.unwrap_err();
    server.await.unwrap();
    assert_eq!(
        err.to_string(),
        format!(
            "Alertmanager at http://{addr} refused the alerts with HTTP 404 (\"not found\"); \
             check that alerts.alertmanager_url is Alertmanager's base URL (its v2 API must \
             be reachable below it at /api/v2/alerts)"
        )
    );

    // No answer in time.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let pusher = Pusher::new(&format!("http://{addr}"), Duration::from_millis(200)).unwrap();
    let err = pusher.push(b"[]".to_vec()).await.unwrap_err();
    assert!(
        err.to_string().contains("did not answer within 200ms"),
        "{err}"
    );
    drop(listener);
}
