//! The HTTP edge: `/metrics` for Prometheus, `/healthz` and `/readyz` for orchestrators, and
//! the wallboard (`/`, `/api/v1/snapshots`, `/api/v1/alerts`: [`super::wallboard`]).
//!
//! - `GET /metrics`: the Prometheus text exposition of every series.
//! - `GET /healthz`: 200 `ok` while the process serves HTTP at all (liveness).
//! - `GET /readyz`: 200 `ready` once the ready flag is set (e.g. after the first snapshot was
//!   published), else 503 `not ready`, so that a load balancer or Kubernetes holds traffic
//!   and alerts back until the KPIs mean something.
//! - `GET /`, `GET /api/v1/snapshots`, `GET /api/v1/alerts`: the wallboard page and its JSON.
//! - `HEAD` of each: the same status and headers without the body. Other methods: 405.
//! - Anything else: 404.
//!
//! One bad or slow client must not starve the scrape: connections are capped (further ones are
//! closed at once and counted), a client that stops reading has its connection cut once a
//! write has made no progress for a while, and `/metrics` is rendered at most once a second
//! whatever the number of scrapers, who share the rendered bytes.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, ALLOW, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OnceCell, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Sleep;
use tokio_util::sync::CancellationToken;

use super::prometheus::Exposition;
use super::wallboard::{self, Board};
use crate::telemetry as t;

/// Content type of the Prometheus text format, version 0.0.4.
pub(crate) const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
const TEXT_CONTENT_TYPE: &str = "text/plain; charset=utf-8";

/// A client that has not sent its request headers by then is dropped, so that idle or
/// malicious connections cannot pile up.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// On shutdown, in-flight requests get this long to finish before their connections are cut.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);
/// Pause after an accept error such as "too many open files", which would otherwise repeat
/// at once and spin a core.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(100);
/// Connections served at once. Each costs a task and a socket; beyond this many, a flood of
/// clients is turned away rather than left to exhaust the process's file descriptors.
const MAX_CONNECTIONS: usize = 4096;
/// A response write that makes no progress for this long ends the connection: the client
/// stopped reading.
const WRITE_STALL_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a rendering of `/metrics` is served before the next scrape renders anew. The KPI
/// series change once per publish (a second by default); scrapers every 15 s never notice.
const RENDER_MAX_AGE: Duration = Duration::from_secs(1);

/// What the handlers need; cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct HttpState {
    pub metrics: Exposition,
    pub ready: Arc<AtomicBool>,
    /// What the wallboard and its JSON API show.
    pub board: Arc<Board>,
}

/// Limits of the HTTP edge; the defaults in production, shorter ones in tests.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub max_connections: usize,
    pub write_stall_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: MAX_CONNECTIONS,
            write_stall_timeout: WRITE_STALL_TIMEOUT,
        }
    }
}

/// The handlers' shared state: the inputs, and the current rendering of `/metrics`.
struct Shared {
    state: HttpState,
    rendering: ArcSwap<Rendering>,
}

/// One rendering of `/metrics`, made by the first scrape that asks for it; the scrapes that
/// ask meanwhile wait for the same one instead of rendering again.
struct Rendering {
    started: Instant,
    body: OnceCell<Bytes>,
}

impl Rendering {
    fn new() -> Arc<Rendering> {
        Arc::new(Rendering {
            started: Instant::now(),
            body: OnceCell::new(),
        })
    }
}

/// Serves HTTP/1 on `listener` until `shutdown` is cancelled, then stops accepting, lets
/// in-flight requests finish (up to a few seconds) and returns.
pub(crate) async fn serve(
    listener: TcpListener,
    state: HttpState,
    limits: Limits,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let shared = Arc::new(Shared {
        state,
        rendering: ArcSwap::new(Rendering::new()),
    });
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            // Reaps finished connection tasks so that the set does not grow with every scrape.
            Some(joined) = connections.join_next(), if !connections.is_empty() => {
                if let Err(e) = joined {
                    if e.is_panic() {
                        tracing::error!(error = %e, "HTTP connection task panicked");
                    }
                }
            }
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    // Accepted and closed at once when full, so that the client learns at
                    // once rather than waiting in the listen backlog.
                    let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
                        metrics::counter!(t::HTTP_CONNECTIONS_REFUSED_TOTAL).increment(1);
                        drop(stream);
                        continue;
                    };
                    let stream = StallGuard::new(stream, limits.write_stall_timeout);
                    let shared = Arc::clone(&shared);
                    let shutdown = shutdown.clone();
                    connections.spawn(async move {
                        connection(stream, shared, shutdown).await;
                        drop(slot);
                    });
                }
                Err(e) if is_connection_error(&e) => {}
                Err(e) => {
                    tracing::warn!(
                        error = %e,
                        "cannot accept HTTP connections; retrying (check the open-file limit)"
                    );
                    tokio::select! {
                        biased;
                        () = shutdown.cancelled() => break,
                        () = tokio::time::sleep(ACCEPT_ERROR_BACKOFF) => {}
                    }
                }
            },
        }
    }
    drop(listener);

    let drained = tokio::time::timeout(DRAIN_TIMEOUT, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            remaining = connections.len(),
            "HTTP connections still open after {DRAIN_TIMEOUT:?}; closing them"
        );
        connections.shutdown().await;
    }
    Ok(())
}

/// Errors that concern one connection that was already gone, not the listener.
fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    )
}

async fn connection(
    stream: StallGuard<TcpStream>,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
) {
    let service = service_fn(move |req: Request<Incoming>| {
        let shared = Arc::clone(&shared);
        async move { Ok::<_, Infallible>(respond(&shared, &req).await) }
    });
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .serve_connection(TokioIo::new(stream), service);
    let mut conn = std::pin::pin!(conn);
    let result = tokio::select! {
        biased;
        () = shutdown.cancelled() => {
            // Finishes the request in flight, if any, then closes instead of keeping alive.
            conn.as_mut().graceful_shutdown();
            conn.await
        }
        result = conn.as_mut() => result,
    };
    if let Err(e) = result {
        // Clients that hang up or time out are routine for a scrape endpoint.
        tracing::debug!(error = %e, "HTTP connection ended with an error");
    }
}

async fn respond(shared: &Shared, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    // hyper sends HEAD's status and headers without the body.
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut refused = text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
        refused
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return refused;
    }
    let state = &shared.state;
    match req.uri().path() {
        "/metrics" => match rendered(shared).await {
            Ok(body) => response(StatusCode::OK, METRICS_CONTENT_TYPE, body),
            Err(e) => {
                tracing::error!(error = %e, "rendering /metrics failed");
                text(StatusCode::INTERNAL_SERVER_ERROR, "cannot render metrics")
            }
        },
        "/healthz" => text(StatusCode::OK, "ok"),
        "/readyz" => {
            if state.ready.load(Ordering::Acquire) {
                text(StatusCode::OK, "ready")
            } else {
                text(StatusCode::SERVICE_UNAVAILABLE, "not ready")
            }
        }
        path => match wallboard::respond(&state.board, path, req.uri().query()).await {
            Some((status, content_type, body)) => response(status, content_type, body),
            None => text(StatusCode::NOT_FOUND, "not found"),
        },
    }
}

/// The current rendering of `/metrics`, rendering it if it is older than [`RENDER_MAX_AGE`] or
/// not done yet.
async fn rendered(shared: &Shared) -> Result<Bytes, tokio::task::JoinError> {
    let mut current = shared.rendering.load_full();
    if current.started.elapsed() >= RENDER_MAX_AGE {
        let fresh = Rendering::new();
        let previous = shared
            .rendering
            .compare_and_swap(&current, Arc::clone(&fresh));
        // Another scrape may have replaced it first: use theirs.
        current = if Arc::ptr_eq(&previous, &current) {
            fresh
        } else {
            shared.rendering.load_full()
        };
    }
    let metrics = shared.state.metrics.clone();
    current
        .body
        .get_or_try_init(|| async move {
            // Rendering walks every series (up to about a million), which would stall the
            // async workers serving health probes; it runs on the blocking pool instead.
            tokio::task::spawn_blocking(move || Bytes::from(metrics.render())).await
        })
        .await
        .cloned()
}

/// A stream whose writes fail once one has made no progress for `limit`: a client that stops
/// reading cannot hold its connection, and the response buffered for it, forever.
struct StallGuard<S> {
    inner: S,
    limit: Duration,
    stalled: Option<Pin<Box<Sleep>>>,
}

impl<S> StallGuard<S> {
    fn new(inner: S, limit: Duration) -> Self {
        StallGuard {
            inner,
            limit,
            stalled: None,
        }
    }

    fn watch<T>(&mut self, cx: &mut Context<'_>, poll: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if poll.is_ready() {
            self.stalled = None;
            return poll;
        }
        let limit = self.limit;
        let stalled = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        if stalled.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client stopped reading the response",
            )));
        }
        Poll::Pending
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for StallGuard<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for StallGuard<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.watch(cx, poll)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.watch(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    // Only writes count as progress: a socket's flush is ready at once even while the client
    // reads nothing, and would restart the clock on every poll.
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

pub(super) fn text(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    response(status, TEXT_CONTENT_TYPE, body)
}

pub(super) fn response(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

#[cfg(test)]
mod tests;
