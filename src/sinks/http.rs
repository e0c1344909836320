//! The HTTP edge: `/metrics` for Prometheus, `/healthz` and `/readyz` for orchestrators.
//!
//! - `GET /metrics`: the Prometheus text exposition of every series.
//! - `GET /healthz`: 200 `ok` while the process serves HTTP at all (liveness).
//! - `GET /readyz`: 200 `ready` once the ready flag is set (e.g. after the first snapshot was
//!   published), else 503 `not ready`, so that a load balancer or Kubernetes holds traffic
//!   and alerts back until the KPIs mean something.
//! - Anything else: 404.

use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

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

/// What the handlers need; cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct HttpState {
    pub handle: PrometheusHandle,
    pub ready: Arc<AtomicBool>,
}

/// Serves HTTP/1 on `listener` until `shutdown` is cancelled, then stops accepting, lets
/// in-flight requests finish (up to a few seconds) and returns.
pub(crate) async fn serve(
    listener: TcpListener,
    state: HttpState,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let state = Arc::new(state);
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
                    connections.spawn(connection(stream, Arc::clone(&state), shutdown.clone()));
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

async fn connection(stream: TcpStream, state: Arc<HttpState>, shutdown: CancellationToken) {
    let service = service_fn(move |req: Request<Incoming>| {
        let state = Arc::clone(&state);
        async move { Ok::<_, Infallible>(respond(&state, &req).await) }
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

async fn respond(state: &HttpState, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    if req.method() != Method::GET {
        return text(StatusCode::NOT_FOUND, "not found");
    }
    match req.uri().path() {
        "/metrics" => {
            // Rendering walks every series (up to about a million), which would stall the
            // async workers serving health probes; it runs on the blocking pool instead.
            let handle = state.handle.clone();
            match tokio::task::spawn_blocking(move || handle.render()).await {
                Ok(body) => response(StatusCode::OK, METRICS_CONTENT_TYPE, body),
                Err(e) => {
                    tracing::error!(error = %e, "rendering /metrics failed");
                    text(StatusCode::INTERNAL_SERVER_ERROR, "cannot render metrics")
                }
            }
        }
        "/healthz" => text(StatusCode::OK, "ok"),
        "/readyz" => {
            if state.ready.load(Ordering::Acquire) {
                text(StatusCode::OK, "ready")
            } else {
                text(StatusCode::SERVICE_UNAVAILABLE, "not ready")
            }
        }
        _ => text(StatusCode::NOT_FOUND, "not found"),
    }
}

fn text(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    response(status, TEXT_CONTENT_TYPE, body)
}

fn response(
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
