//! The direct push to Alertmanager: `POST {alerts.alertmanager_url}/api/v2/alerts` with every
//! alert firing now and the alerts just resolved, as Alertmanager's `postableAlerts`.
//!
//! Alertmanager expects a client to re-send its firing alerts: an alert whose `endsAt` has
//! passed counts as resolved. So firing alerts go out with `endsAt` = now + 4 ×
//! `alerts.resend_interval` and are re-sent every interval; if acdstream stops, Alertmanager
//! resolves them by itself a few intervals later. A resolved alert is sent once, with `endsAt`
//! = the time it resolved; should that push be lost, the earlier `endsAt` resolves it anyway.
//!
//! The HTTP exchange runs in its own task, fed through a bounded channel: the evaluation loop
//! never waits for Alertmanager. Each push counts once in
//! `acd_alert_deliveries_total{channel="alertmanager",result}`: `delivered` on a 2xx answer,
//! `failed` on any error or when the channel is full (the batch is dropped; the next push
//! carries the whole firing state again).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::header::{CONTENT_TYPE, USER_AGENT};
use hyper::{Request, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use metrics::{counter, Counter};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::alerts::{Alert, AlertSettings, AlertState, Transition};
use crate::config::format_duration;
use crate::event::Millis;
use crate::telemetry::{self as t, label};

/// Batches waiting for the push task. Each batch carries the whole firing state, so only the
/// newest matters; a few absorb a slow push without dropping a resolution.
pub const CHANNEL_CAPACITY: usize = 8;

/// Firing alerts expire this many resend intervals after a push unless re-sent: enough to
/// survive a few failed pushes, short enough that a dead acdstream does not page for long.
pub const EXPIRY_RESENDS: u32 = 4;

/// The path of Alertmanager's API below its base URL.
pub const ALERTS_PATH: &str = "/api/v2/alerts";

/// An Alertmanager answer's body beyond this is not read (it only goes into an error message).
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// One push: every alert firing at `at`, and the alerts resolved since the last batch.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertBatch {
    /// Wall-clock time of the batch, Unix ms: firing alerts end [`EXPIRY_RESENDS`] resend
    /// intervals after it.
    pub at: Millis,
    pub firing: Vec<Alert>,
    /// Each with the time it resolved.
    pub resolved: Vec<(Alert, Millis)>,
}

/// Why a push failed. Messages name what the operator should check.
#[derive(Debug, thiserror::Error)]
pub enum AlertmanagerError {
    #[error(
        "alerts.alertmanager_url {url:?} is not usable: {detail}; give Alertmanager's base URL \
         over http://, e.g. \"http://alertmanager:9093\""
    )]
    InvalidUrl { url: String, detail: String },

    #[error(
        "cannot reach Alertmanager at {url}: {detail}; check that Alertmanager is running, that \
         alerts.alertmanager_url points at it, and that DNS and the network let acdstream connect"
    )]
    Unreachable { url: String, detail: String },

    #[error(
        "Alertmanager at {url} did not answer within {timeout}; check its load and the network \
         between it and acdstream, or raise alerts.push_timeout"
    )]
    Timeout { url: String, timeout: String },

    #[error("Alertmanager at {url} refused the alerts with HTTP {status} ({body}); {}", rejected_hint(*.status))]
    Rejected {
        url: String,
        status: u16,
        body: String,
    },
}

fn rejected_hint(status: u16) -> &'static str {
    match status {
        404 | 405 => {
            "check that alerts.alertmanager_url is Alertmanager's base URL (its v2 API must be \
             reachable below it at /api/v2/alerts)"
        }
        401 | 403 | 407 => {
            "something in front of Alertmanager requires authentication, which acdstream does \
             not send; let acdstream through or push to Alertmanager directly"
        }
        400 | 422 => {
            "Alertmanager rejected the payload, which is a bug in acdstream: please report it \
             with this message"
        }
        500..=599 => "Alertmanager failed to handle the request; check its logs",
        _ => "check Alertmanager's logs and whatever sits between it and acdstream",
    }
}

/// Alertmanager's `postableAlerts` for `batch`: firing alerts end [`EXPIRY_RESENDS`] ×
/// `resend_interval` after `batch.at`, resolved ones when they resolved.
pub fn payload(
    batch: &AlertBatch,
    resend_interval: Duration,
    generator_url: Option<&str>,
) -> Value {
    let expiry = Millis::try_from(resend_interval.as_millis()).unwrap_or(Millis::MAX);
    let ends = batch
        .at
        .saturating_add(expiry.saturating_mul(Millis::from(EXPIRY_RESENDS)));
    let firing = batch
        .firing
        .iter()
        .map(|a| postable(a, ends, generator_url));
    let resolved = batch
        .resolved
        .iter()
        .map(|(a, at)| postable(a, *at, generator_url));
    Value::Array(firing.chain(resolved).collect())
}

fn postable(alert: &Alert, ends_at: Millis, generator_url: Option<&str>) -> Value {
    let mut labels = json!({
        "alertname": alert.name.as_str(),
        "severity": alert.severity.as_str(),
        "origin": "acdstream",
        "service": "acdstream",
    });
    if let Some(queue) = &alert.queue {
        labels["queue"] = Value::from(queue.as_str());
    }
    let mut out = json!({
        "labels": labels,
        "annotations": {
            "summary": alert.summary,
            "description": alert.description,
            // Annotations are strings; the shortest text that reads back as the same number.
            "value": alert.value.to_string(),
            "threshold": alert.threshold.to_string(),
        },
        "startsAt": rfc3339(alert.starts_at),
        "endsAt": rfc3339(ends_at),
    });
    if let Some(url) = generator_url {
        out["generatorURL"] = Value::from(url);
    }
    out
}

/// RFC 3339 in UTC, e.g. `2023-11-14T22:13:20Z` (fractional seconds only when there are any).
fn rfc3339(ms: Millis) -> String {
    let ts = jiff::Timestamp::from_millisecond(ms).unwrap_or(if ms < 0 {
        jiff::Timestamp::MIN
    } else {
        jiff::Timestamp::MAX
    });
    ts.to_string()
}

/// Pushes delivered and failed since start.
#[derive(Debug, Default)]
pub struct DeliveryStats {
    delivered: AtomicU64,
    failed: AtomicU64,
}

impl DeliveryStats {
    pub fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }

    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }
}

/// The evaluation loop's handle on the push task.
pub struct AlertmanagerSink {
    tx: mpsc::Sender<AlertBatch>,
    stats: Arc<DeliveryStats>,
    resend_ms: Millis,
    last_sent: Option<Millis>,
    delivered: Counter,
    failed: Counter,
}

impl AlertmanagerSink {
    /// Starts the push task (on the current tokio runtime) for `url`, the validated
    /// `alerts.alertmanager_url`, with `settings`' resend interval, timeout and generator URL.
    /// The task ends when `shutdown` is cancelled or the sink is dropped.
    pub fn spawn(
        url: &str,
        settings: &AlertSettings,
        shutdown: CancellationToken,
    ) -> Result<(AlertmanagerSink, JoinHandle<()>), AlertmanagerError> {
        let pusher = Pusher::new(url, settings.push_timeout)?;
        let (tx, rx) = mpsc::channel(CHANNEL_CAPACITY);
        let sink = AlertmanagerSink::new(tx, settings.resend_interval);
        let task = PushTask {
            pusher,
            rx,
            stats: sink.stats.clone(),
            resend_interval: settings.resend_interval,
            generator_url: settings.generator_url.clone(),
        };
        Ok((sink, tokio::spawn(task.run(shutdown))))
    }

    fn new(tx: mpsc::Sender<AlertBatch>, resend_interval: Duration) -> AlertmanagerSink {
        let delivery = |result: &'static str| {
            counter!(
                t::ALERT_DELIVERIES_TOTAL,
                label::CHANNEL => "alertmanager",
                label::RESULT => result
            )
        };
        AlertmanagerSink {
            tx,
            stats: Arc::new(DeliveryStats::default()),
            resend_ms: Millis::try_from(resend_interval.as_millis()).unwrap_or(Millis::MAX),
            last_sent: None,
            delivered: delivery("delivered"),
            failed: delivery("failed"),
        }
    }

    /// Call after each evaluation with its transitions and every alert firing now
    /// ([`crate::alerts::AlertEvaluator::firing`]); `now` is wall-clock time. Pushes when an
    /// alert changed state, and otherwise re-sends the firing alerts once the resend interval
    /// has passed. Never waits. Also brings the delivery counters up to date.
    pub fn publish<'a>(
        &mut self,
        now: Millis,
        transitions: &[Transition],
        firing: impl IntoIterator<Item = &'a Alert>,
    ) {
        self.delivered.absolute(self.stats.delivered());
        self.failed.absolute(self.stats.failed());
        let resend_due = self
            .last_sent
            .is_none_or(|last| now - last >= self.resend_ms || now < last);
        if transitions.is_empty() && !resend_due {
            return;
        }
        let batch = AlertBatch {
            at: now,
            firing: firing.into_iter().cloned().collect(),
            resolved: transitions
                .iter()
                .filter(|t| t.state == AlertState::Resolved)
                .map(|t| (t.alert.clone(), t.at))
                .collect(),
        };
        if batch.firing.is_empty() && batch.resolved.is_empty() {
            return;
        }
        // Marked sent even when the channel is full: retrying every evaluation would only
        // count more failures; the next resend carries the state.
        self.last_sent = Some(now);
        self.offer(batch);
    }

    /// Hands `batch` to the push task without waiting; `false` (and a failed delivery) when
    /// the channel is full or the task has ended.
    pub fn offer(&self, batch: AlertBatch) -> bool {
        match self.tx.try_send(batch) {
            Ok(()) => true,
            Err(e) => {
                let why = match e {
                    mpsc::error::TrySendError::Full(_) => "the push queue is full",
                    mpsc::error::TrySendError::Closed(_) => "the push task has ended",
                };
                tracing::debug!("alert batch for Alertmanager dropped: {why}");
                self.stats.failed.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }

    pub fn stats(&self) -> &Arc<DeliveryStats> {
        &self.stats
    }
}

/// The HTTP side: one POST per batch.
struct Pusher {
    client: Client<HttpConnector, Full<Bytes>>,
    endpoint: Uri,
    /// The base URL, for messages.
    url: String,
    timeout: Duration,
}

impl Pusher {
    fn new(url: &str, timeout: Duration) -> Result<Pusher, AlertmanagerError> {
        let url = url.trim().trim_end_matches('/').to_owned();
        let invalid = |detail: &str| AlertmanagerError::InvalidUrl {
            url: url.clone(),
            detail: detail.to_owned(),
        };
        if !url.starts_with("http://") {
            return Err(invalid(
                "only http:// is supported (the built-in client has no TLS)",
            ));
        }
        let endpoint: Uri = format!("{url}{ALERTS_PATH}")
            .parse()
            .map_err(|e: hyper::http::uri::InvalidUri| invalid(&e.to_string()))?;
        if endpoint.host().is_none() {
            return Err(invalid("it names no host"));
        }
        Ok(Pusher {
            client: Client::builder(TokioExecutor::new()).build_http(),
            endpoint,
            url,
            timeout,
        })
    }

    async fn push(&self, body: Vec<u8>) -> Result<(), AlertmanagerError> {
        let request = Request::post(self.endpoint.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(USER_AGENT, concat!("acdstream/", env!("CARGO_PKG_VERSION")))
            .body(Full::new(Bytes::from(body)))
            .expect("a POST with a parsed URI and static headers is a valid request");
        let exchange =
            async {
                let response = self.client.request(request).await.map_err(|e| {
                    AlertmanagerError::Unreachable {
                        url: self.url.clone(),
                        detail: error_chain(&e),
                    }
                })?;
                let status = response.status();
                // Read to the end so that the connection can be reused.
                let body = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
                    .collect()
                    .await
                    .map(|b| b.to_bytes())
                    .unwrap_or_default();
                if status.is_success() {
                    return Ok(());
                }
                Err(AlertmanagerError::Rejected {
                    url: self.url.clone(),
                    status: status.as_u16(),
                    body: crate::decode::quote(String::from_utf8_lossy(&body).trim()),
                })
            };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| AlertmanagerError::Timeout {
                url: self.url.clone(),
                timeout: format_duration(self.timeout),
            })?
    }
}

/// hyper's errors say "client error (Connect)"; the causes below say what happened.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(cause) = source {
        parts.push(cause.to_string());
        source = cause.source();
    }
    parts.join(": ")
}

struct PushTask {
    pusher: Pusher,
    rx: mpsc::Receiver<AlertBatch>,
    stats: Arc<DeliveryStats>,
    resend_interval: Duration,
    generator_url: Option<String>,
}

impl PushTask {
    async fn run(mut self, shutdown: CancellationToken) {
        // Logged when the outcome changes, not on every push: an Alertmanager that is down
        // for an hour is one warning, and one line when it is back.
        let mut failing: Option<std::mem::Discriminant<AlertmanagerError>> = None;
        loop {
            let batch = tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                batch = self.rx.recv() => match batch {
                    Some(batch) => batch,
                    None => break,
                },
            };
            let body = payload(&batch, self.resend_interval, self.generator_url.as_deref());
            let body = serde_json::to_vec(&body).expect("a JSON value always serializes");
            let result = tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                result = self.pusher.push(body) => result,
            };
            match result {
                Ok(()) => {
                    self.stats.delivered.fetch_add(1, Ordering::Relaxed);
                    if failing.take().is_some() {
                        tracing::info!(url = %self.pusher.url, "Alertmanager accepts alerts again");
                    }
                }
                Err(e) => {
                    self.stats.failed.fetch_add(1, Ordering::Relaxed);
                    let kind = std::mem::discriminant(&e);
                    if failing.replace(kind) == Some(kind) {
                        tracing::debug!(error = %e, "alert push failed again");
                    } else {
                        tracing::warn!(
                            error = %e,
                            "cannot push alerts to Alertmanager; retrying every resend interval"
                        );
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
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
        let mut sink = AlertmanagerSink::new(tx, Duration::from_secs(60));
        let mut sent = |sink: &mut AlertmanagerSink,
                        now: Millis,
                        transitions: &[Transition],
                        firing: &[Alert]| {
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
        let sink = AlertmanagerSink::new(tx, Duration::from_secs(60));
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
        let shutdown = CancellationToken::new();
        let (mut sink, task) = metrics::with_local_recorder(&recorder, || {
            AlertmanagerSink::spawn(&format!("http://{addr}"), &settings, shutdown.clone())
        })
        .unwrap();
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
            text.contains(
                r#"acd_alert_deliveries_total{channel="alertmanager",result="delivered"} 1"#
            ),
            "{text}"
        );
        shutdown.cancel();
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
}
