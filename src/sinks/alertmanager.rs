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

use crate::alerts::{Alert, AlertSettings, AlertState, Transition};
use crate::event::Millis;
use crate::telemetry::{self as t, label};

/// Batches waiting for the push task. Each batch carries the whole firing state, so only the
/// newest matters; a few absorb a slow push without dropping a resolution.
pub(crate) const CHANNEL_CAPACITY: usize = 8;

/// Firing alerts expire this many resend intervals after a push unless re-sent: enough to
/// survive a few failed pushes, short enough that a dead acdstream does not page for long.
pub(crate) const EXPIRY_RESENDS: u32 = 4;

/// The path of Alertmanager's API below its base URL.
pub(crate) const ALERTS_PATH: &str = "/api/v2/alerts";

/// An Alertmanager answer's body beyond this is not read (it only goes into an error message).
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// One push: every alert firing at `at`, and the alerts resolved since the last batch.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AlertBatch {
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
pub(crate) fn payload(
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
pub(crate) struct DeliveryStats {
    delivered: AtomicU64,
    failed: AtomicU64,
}

impl DeliveryStats {
    pub(crate) fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }

    pub(crate) fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }
}

/// The evaluation loop's handle on the push task.
pub(crate) struct AlertmanagerSink {
    tx: mpsc::Sender<AlertBatch>,
    stats: Arc<DeliveryStats>,
    resend_ms: Millis,
    last_sent: Option<Millis>,
    delivered: Counter,
    failed: Counter,
}

impl AlertmanagerSink {
    /// The sink and its push task for `url`, the validated `alerts.alertmanager_url`, with
    /// `settings`' resend interval, timeout and generator URL. The caller spawns the task (on
    /// a tokio runtime); it ends once the sink is dropped and the batches handed to it before
    /// are pushed, so that the last firing and resolved alerts still leave at shutdown.
    pub(crate) fn new(
        url: &str,
        settings: &AlertSettings,
    ) -> Result<(AlertmanagerSink, impl std::future::Future<Output = ()>), AlertmanagerError> {
        let pusher = Pusher::new(url, settings.push_timeout)?;
        let (tx, rx) = mpsc::channel(CHANNEL_CAPACITY);
        let sink = AlertmanagerSink::with_channel(tx, settings.resend_interval);
        let task = PushTask {
            pusher,
            rx,
            stats: sink.stats.clone(),
            resend_interval: settings.resend_interval,
            generator_url: settings.generator_url.clone(),
        };
        Ok((sink, task.run()))
    }

    fn with_channel(tx: mpsc::Sender<AlertBatch>, resend_interval: Duration) -> AlertmanagerSink {
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
    pub(crate) fn publish<'a>(
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
    pub(crate) fn offer(&self, batch: AlertBatch) -> bool {
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

    #[cfg(test)]
    pub(crate) fn stats(&self) -> &Arc<DeliveryStats> {
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
                timeout: format!("{:?}", self.timeout),
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
    async fn run(mut self) {
        // Logged when the outcome changes, not on every push: an Alertmanager that is down
        // for an hour is one warning, and one line when it is back.
        let mut failing: Option<std::mem::Discriminant<AlertmanagerError>> = None;
        loop {
            // No shutdown branch: the channel closes when the pipeline has finished, and the
            // batches before that (the last alerts among them) are still pushed; the process's
            // stop deadline bounds how long that may take.
            let Some(batch) = self.rx.recv().await else {
                break;
            };
            let body = payload(&batch, self.resend_interval, self.generator_url.as_deref());
            let body = serde_json::to_vec(&body).expect("a JSON value always serializes");
            match self.pusher.push(body).await {
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
mod tests;
