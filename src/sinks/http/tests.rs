use super::*;
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn request(addr: SocketAddr, method: &str, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let req = format!("{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    stream.read_to_end(&mut buf).await.unwrap();
    String::from_utf8(buf).unwrap()
}

fn status_line(response: &str) -> &str {
    response.lines().next().unwrap_or("")
}

fn body(response: &str) -> &str {
    response.split_once("\r\n\r\n").map_or("", |(_, b)| b)
}

#[tokio::test]
async fn serves_metrics_health_and_readiness() {
    let recorder = crate::sinks::prometheus::builder()
        .unwrap()
        .build_recorder();
    metrics::with_local_recorder(&recorder, || {
        metrics::gauge!(crate::telemetry::QUEUES).set(3.0);
    });
    let ready = Arc::new(AtomicBool::new(false));
    let state = HttpState {
        handle: recorder.handle(),
        ready: Arc::clone(&ready),
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(serve(listener, state, shutdown.clone()));

    let metrics = request(addr, "GET", "/metrics").await;
    assert_eq!(status_line(&metrics), "HTTP/1.1 200 OK", "{metrics}");
    assert!(
        metrics
            .to_ascii_lowercase()
            .contains("content-type: text/plain; version=0.0.4; charset=utf-8\r\n"),
        "{metrics}"
    );
    assert!(
        body(&metrics).lines().any(|l| l == "acd_queues 3"),
        "{metrics}"
    );

    let health = request(addr, "GET", "/healthz").await;
    assert_eq!(status_line(&health), "HTTP/1.1 200 OK");
    assert_eq!(body(&health), "ok");

    let not_ready = request(addr, "GET", "/readyz").await;
    assert_eq!(status_line(&not_ready), "HTTP/1.1 503 Service Unavailable");
    assert_eq!(body(&not_ready), "not ready");
    ready.store(true, Ordering::Release);
    let now_ready = request(addr, "GET", "/readyz").await;
    assert_eq!(status_line(&now_ready), "HTTP/1.1 200 OK");
    assert_eq!(body(&now_ready), "ready");

    for (method, path) in [("GET", "/"), ("GET", "/metricsx"), ("POST", "/metrics")] {
        let missing = request(addr, method, path).await;
        assert_eq!(
            status_line(&missing),
            "HTTP/1.1 404 Not Found",
            "{method} {path}"
        );
    }

    // An idle keep-alive connection must not hold up shutdown.
    let _idle = TcpStream::connect(addr).await.unwrap();
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(2), server)
        .await
        .expect("serve returns promptly after shutdown")
        .unwrap()
        .unwrap();
    assert!(TcpStream::connect(addr).await.is_err(), "listener closed");
}
