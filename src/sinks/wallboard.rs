//! The wallboard: the page at `/` and the JSON it polls, for people and for services that do
//! not read Kafka.
//!
//! - `GET /`: one self-contained HTML page (inline CSS and JS, compiled into the binary), so a
//!   TV on the floor's LAN shows the queues with nothing else to install.
//! - `GET /api/v1/snapshots[?queues=a,b]`: the latest KPI snapshot of every published queue
//!   (each exactly the JSON of the KPI topic), the rules' thresholds per queue (so that the
//!   page colours figures as the alert rules judge them, without a copy of the rules in JS),
//!   and a `service` block saying how fresh the data is.
//! - `GET /api/v1/alerts[?queues=a,b]`: the alerts firing now (each the JSON of the alerts
//!   topic) and the same `service` block.
//! - `GET /queue/<id>`: one queue's page ([`super::queue_page`]): its figures now, the windows
//!   side by side and the last 24 hours by interval.
//!
//! Both are rendered on request from what the pipeline last published (the
//! [`SnapshotRegistry`] and the [`Board`]), with lock-free loads: a request never waits for
//! the pipeline, nor the pipeline for a request.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::{ArcSwap, ArcSwapOption};
use hyper::body::Bytes;
use hyper::StatusCode;
use serde::Serialize;

use crate::alerts::{Alert, AlertSettings, AlertState, QueueRules, ThresholdRule, Transition};
use crate::decode::{encode_alert, encode_snapshot, Format};
use crate::event::Millis;
use crate::kpi::surge::Episode;
use crate::kpi::IntervalKpis;
use crate::state::SnapshotRegistry;

use super::queue_page::{self, History};

/// The page, served as is.
pub const PAGE: &str = include_str!("wallboard/wallboard.html");

const HTML_CONTENT_TYPE: &str = "text/html; charset=utf-8";
const JSON_CONTENT_TYPE: &str = "application/json";
const TEXT_CONTENT_TYPE: &str = "text/plain; charset=utf-8";

/// The data are stale once the last publish is older than this many publish intervals.
pub const STALE_INTERVALS: u32 = 3;

/// Queues named in one `?queues=` at most; more are ignored, so that a request's cost stays
/// bounded by what a wallboard can show.
pub const MAX_QUERY_QUEUES: usize = 1_000;

/// What the HTTP edge shows beside the snapshots: what the pipeline last published, written
/// by it after each publish, and the alert rules, set once at start-up.
#[derive(Default)]
pub struct Board {
    registry: Arc<SnapshotRegistry>,
    latest: ArcSwap<Latest>,
    rules: ArcSwapOption<AlertSettings>,
    /// The closed intervals and ended surge episodes the queue pages show.
    history: History,
    /// Where the queue pages' times are local (`kpi.timezone`); UTC until set.
    timezone: ArcSwapOption<jiff::tz::TimeZone>,
}

impl fmt::Debug for Board {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Board")
            .field("queues", &self.registry.len())
            .finish_non_exhaustive()
    }
}

/// The pipeline's last publish.
#[derive(Debug, Default)]
struct Latest {
    /// Wall-clock time of the publish, Unix ms; `None` before the first.
    published_at: Option<Millis>,
    interval: Option<Duration>,
    /// `None` where the source has no connection to lose (a file, the simulator).
    source_up: Option<bool>,
    /// When the source was first seen down, while it still is.
    source_down_since: Option<Millis>,
    /// Firing alerts, by queue (service alerts first) then name.
    alerts: Vec<Alert>,
}

impl Board {
    /// A board that shows `registry`, the registry the pipeline publishes to.
    pub fn new(registry: Arc<SnapshotRegistry>) -> Board {
        Board {
            registry,
            ..Board::default()
        }
    }

    /// The registry the pipeline must publish to for the snapshots to show here.
    pub fn registry(&self) -> &Arc<SnapshotRegistry> {
        &self.registry
    }

    /// The alert rules whose thresholds the page colours by.
    pub fn set_rules(&self, rules: AlertSettings) {
        self.rules.store(Some(Arc::new(rules)));
    }

    /// The time zone the queue pages show times in (`kpi.timezone`).
    pub fn set_timezone(&self, timezone: jiff::tz::TimeZone) {
        self.timezone.store(Some(Arc::new(timezone)));
    }

    /// Adds the intervals the queues closed and the surge episodes that ended since the last
    /// publish, for the queue pages (the pipeline's side).
    pub fn record(&self, closed: Vec<IntervalKpis>, ended: &[(Arc<str>, Episode)]) {
        self.history.record(closed, ended);
    }

    /// The page of queue `id` at wall-clock time `now`; `None` for a queue never published.
    pub fn queue_page(&self, id: &str, now: Millis) -> Option<String> {
        let published = self.registry.get(id)?;
        let latest = self.latest.load();
        let service = self.service(&latest, now);
        let (timezone, utc) = (self.timezone.load(), jiff::tz::TimeZone::UTC);
        let timezone = timezone.as_deref().unwrap_or(&utc);
        Some(queue_page::render(
            &published.snapshot,
            &self.history,
            timezone,
            service.stale_since.filter(|_| service.stale),
        ))
    }

    /// Records a publish (the writer's side; the pipeline is the only writer): its wall-clock
    /// time, the publish interval, whether the source is up, and the alerts firing after it.
    pub fn published<'a>(
        &self,
        at: Millis,
        interval: Option<Duration>,
        source_up: Option<bool>,
        firing: impl Iterator<Item = &'a Alert>,
    ) {
        let previous = self.latest.load();
        let source_down_since = match source_up {
            Some(false) => previous.source_down_since.or(Some(at)),
            _ => None,
        };
        let mut alerts: Vec<Alert> = firing.cloned().collect();
        alerts.sort_by(|a, b| (&a.queue, a.name).cmp(&(&b.queue, b.name)));
        self.latest.store(Arc::new(Latest {
            published_at: Some(at),
            interval,
            source_up,
            source_down_since,
            alerts,
        }));
    }

    /// The `service` block at wall-clock time `now`.
    fn service(&self, latest: &Latest, now: Millis) -> Service {
        let interval_ms = latest.interval.map(|i| i.as_millis() as Millis);
        let stale_after_ms = interval_ms.map(|i| i * Millis::from(STALE_INTERVALS));
        let too_old = match (latest.published_at, stale_after_ms) {
            (Some(at), Some(after)) => now - at > after,
            (None, _) => true,
            (Some(_), None) => false,
        };
        let down = latest.source_up == Some(false);
        let stale_since = if down {
            latest.source_down_since
        } else if too_old {
            latest.published_at
        } else {
            None
        };
        Service {
            now,
            published_at: latest.published_at,
            publish_interval_ms: interval_ms,
            stale_after_ms,
            source_up: latest.source_up,
            stale: down || too_old,
            stale_since,
            queues: self.registry.len(),
        }
    }

    /// The body of `GET /api/v1/snapshots` for `query` (the request's query string) at
    /// wall-clock time `now`.
    pub fn snapshots_json(&self, query: Option<&str>, now: Millis) -> Vec<u8> {
        let latest = self.latest.load();
        let published: Vec<_> = match requested(query) {
            Some(ids) => ids.iter().filter_map(|q| self.registry.get(q)).collect(),
            None => self.registry.all(),
        };
        let rules = self.rules.load();
        let default_rules = AlertSettings::default();
        let rules = rules.as_deref().unwrap_or(&default_rules);

        // The snapshots dominate: about 6 KB each with the default windows.
        let mut out = Vec::with_capacity(512 + published.len() * 7 * 1024);
        out.extend_from_slice(b"{\"service\":");
        write_json(&mut out, &self.service(&latest, now));
        out.extend_from_slice(b",\"snapshots\":[");
        for (i, p) in published.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            // Exactly the KPI topic's JSON, so a consumer of either reads the same thing.
            out.extend_from_slice(&encode_snapshot(Format::Json, &p.snapshot));
        }
        out.extend_from_slice(b"],\"thresholds\":{");
        for (i, p) in published.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            let s = &p.snapshot;
            write_json(&mut out, &s.queue_id);
            out.push(b':');
            write_json(
                &mut out,
                &Thresholds::of(rules.queue(&s.queue_id), s.sl_target),
            );
        }
        out.extend_from_slice(b"}}");
        out
    }

    /// The body of `GET /api/v1/alerts` for `query` at wall-clock time `now`: the queues'
    /// alerts named in `queues=` (every queue's without it), and the service's always.
    pub fn alerts_json(&self, query: Option<&str>, now: Millis) -> Vec<u8> {
        let latest = self.latest.load();
        let wanted = requested(query);
        let mut out = Vec::with_capacity(256 + latest.alerts.len() * 512);
        out.extend_from_slice(b"{\"service\":");
        write_json(&mut out, &self.service(&latest, now));
        out.extend_from_slice(b",\"alerts\":[");
        let shown = latest.alerts.iter().filter(|a| match (&wanted, &a.queue) {
            (Some(ids), Some(q)) => ids.iter().any(|id| id == q),
            _ => true,
        });
        for (i, alert) in shown.enumerate() {
            if i > 0 {
                out.push(b',');
            }
            // Exactly the alerts topic's JSON of the firing transition.
            let firing = Transition {
                alert: alert.clone(),
                state: AlertState::Firing,
                at: alert.starts_at,
            };
            out.extend_from_slice(&encode_alert(Format::Json, &firing));
        }
        out.extend_from_slice(b"]}");
        out
    }
}

/// The answer to a `GET` (or `HEAD`) of `path` if it is the wallboard's, as status, content
/// type and body (the HTTP edge makes the response); `None` otherwise.
pub(crate) async fn respond(
    board: &Arc<Board>,
    path: &str,
    query: Option<&str>,
) -> Option<(StatusCode, &'static str, Bytes)> {
    let now = jiff::Timestamp::now().as_millisecond();
    let body = match path {
        "/" => {
            return Some((
                StatusCode::OK,
                HTML_CONTENT_TYPE,
                Bytes::from_static(PAGE.as_bytes()),
            ))
        }
        "/api/v1/snapshots" => {
            let board = Arc::clone(board);
            let query = query.map(str::to_owned);
            // A thousand queues are megabytes of JSON: rendered on the blocking pool, so that
            // health probes on the async workers are not held up meanwhile.
            tokio::task::spawn_blocking(move || board.snapshots_json(query.as_deref(), now)).await
        }
        "/api/v1/alerts" => Ok(board.alerts_json(query, now)),
        _ => {
            let id = percent_decode(path.strip_prefix("/queue/")?);
            return Some(match board.queue_page(&id, now) {
                Some(page) => (StatusCode::OK, HTML_CONTENT_TYPE, Bytes::from(page)),
                None => (
                    StatusCode::NOT_FOUND,
                    TEXT_CONTENT_TYPE,
                    Bytes::from(format!("no queue {id:?} has been published\n")),
                ),
            });
        }
    };
    Some(match body {
        Ok(body) => (StatusCode::OK, JSON_CONTENT_TYPE, Bytes::from(body)),
        Err(error) => {
            tracing::error!(%error, path, "rendering the wallboard's JSON failed");
            let why = Bytes::from_static(b"cannot render the snapshots");
            (StatusCode::INTERNAL_SERVER_ERROR, TEXT_CONTENT_TYPE, why)
        }
    })
}

/// How fresh the data are, in every answer of the JSON API. Times are the service's wall
/// clock, Unix ms, so that a client compares them with `now` rather than with its own clock.
#[derive(Debug, Serialize)]
struct Service {
    /// When this answer was made.
    now: Millis,
    /// The pipeline's last publish; `null` before the first.
    published_at: Option<Millis>,
    publish_interval_ms: Option<Millis>,
    /// `publish_interval_ms` × [`STALE_INTERVALS`]: a publish older than this is stale.
    stale_after_ms: Option<Millis>,
    /// The event source is connected; `null` where there is no connection to lose.
    source_up: Option<bool>,
    /// The source is down, or the last publish is older than `stale_after_ms` (or missing).
    stale: bool,
    /// Since when the figures are stale (when the source went down, else the last publish).
    stale_since: Option<Millis>,
    /// Queues published (before any `queues=` filter).
    queues: usize,
}

/// What the rules judge a queue's figures by; the page colours them with these.
#[derive(Debug, Serialize)]
struct Thresholds<'a> {
    /// Calls offered in a rule's window below which the rule does not judge.
    min_calls: u64,
    service_level: ServiceLevel<'a>,
    asa: Above<'a>,
    abandon_rate: Above<'a>,
    oldest_wait: OldestWait,
    not_ready: Above<'a>,
    rings_per_answer: Above<'a>,
}

#[derive(Debug, Serialize)]
struct ServiceLevel<'a> {
    enabled: bool,
    window: &'a str,
    /// Below this, the alert's condition holds.
    target: f64,
    /// At or above this, a firing alert resolves.
    clear: f64,
}

#[derive(Debug, Serialize)]
struct Above<'a> {
    enabled: bool,
    window: &'a str,
    threshold: f64,
    clear: f64,
}

#[derive(Debug, Serialize)]
struct OldestWait {
    enabled: bool,
    threshold: f64,
    clear: f64,
}

impl<'a> Thresholds<'a> {
    fn of(r: &'a QueueRules, sl_target: f64) -> Thresholds<'a> {
        let above = |t: &'a ThresholdRule| Above {
            enabled: t.enabled,
            window: &t.window,
            threshold: t.threshold,
            clear: t.clear,
        };
        let sl = &r.service_level;
        Thresholds {
            min_calls: r.min_calls,
            service_level: ServiceLevel {
                enabled: sl.enabled,
                window: &sl.window,
                target: sl_target,
                clear: crate::alerts::evaluator::sl_clear(sl_target, sl.clear_margin),
            },
            asa: above(&r.asa),
            abandon_rate: above(&r.abandon_rate),
            oldest_wait: OldestWait {
                enabled: r.oldest_wait.enabled,
                threshold: r.oldest_wait.threshold,
                clear: r.oldest_wait.clear,
            },
            not_ready: above(&r.not_ready),
            rings_per_answer: above(&r.rings_per_answer),
        }
    }
}

/// Serializes plain data (strings, numbers, options) into `out`; serde_json cannot fail on
/// them writing to a Vec. A non-finite threshold would be written as `null`.
fn write_json<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    serde_json::to_writer(&mut *out, value).expect("plain data always serializes to JSON");
}

/// The queue ids of `queues=` in the query string, in order, without blanks or repeats, at
/// most [`MAX_QUERY_QUEUES`]; `None` without the parameter (every queue).
pub(crate) fn requested(query: Option<&str>) -> Option<Vec<String>> {
    let value = query?
        .split('&')
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
        .find(|(key, _)| *key == "queues")
        .map(|(_, value)| value)?;
    let mut ids: Vec<String> = Vec::new();
    for id in percent_decode(value).split(',') {
        let id = id.trim();
        if !id.is_empty() && !ids.iter().any(|known| known == id) {
            ids.push(id.to_owned());
            if ids.len() == MAX_QUERY_QUEUES {
                break;
            }
        }
    }
    Some(ids)
}

/// `%XX` and `+` of a query value decoded; a malformed escape is kept as it is.
fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(high), Some(low)) => {
                    out.push((high << 4) | low);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(digit: u8) -> Option<u8> {
    (digit as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests;
