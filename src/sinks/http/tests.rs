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
        metrics: Exposition::new(recorder.handle()),
        ready: Arc::clone(&ready),
        board: Arc::default(),
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(serve(listener, state, Limits::default(), shutdown.clone()));

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

    for (method, path) in [("GET", "/wallboard"), ("GET", "/metricsx")] {
        let missing = request(addr, method, path).await;
        assert_eq!(
            status_line(&missing),
            "HTTP/1.1 404 Not Found",
            "{method} {path}"
        );
    }
    for method in ["POST", "PUT", "DELETE"] {
        let refused = request(addr, method, "/metrics").await;
        assert_eq!(
            status_line(&refused),
            "HTTP/1.1 405 Method Not Allowed",
            "{method}"
        );
        assert!(refused.contains("allow: GET, HEAD\r\n"), "{refused}");
    }
    let head = request(addr, "HEAD", "/readyz").await;
    assert_eq!(status_line(&head), "HTTP/1.1 200 OK", "{head}");
    assert!(head.contains("content-length: 5\r\n"), "{head}");
    assert_eq!(body(&head), "", "HEAD sends no body");

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

/// Serves a `/metrics` of about `bytes` (one long label value) with the given limits.
async fn server_with_big_metrics(
    bytes: usize,
    limits: Limits,
) -> (
    SocketAddr,
    CancellationToken,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let recorder = crate::sinks::prometheus::builder()
        .unwrap()
        .build_recorder();
    metrics::with_local_recorder(&recorder, || {
        metrics::gauge!(crate::telemetry::QUEUES, "big" => "x".repeat(bytes)).set(1.0);
    });
    let state = HttpState {
        metrics: Exposition::new(recorder.handle()),
        ready: Arc::new(AtomicBool::new(true)),
        board: Arc::default(),
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(serve(listener, state, limits, shutdown.clone()));
    (addr, shutdown, server)
}

/// Opens a connection that asks for `/metrics` and never reads the answer. Its receive buffer
/// is made small, so that the server's writes stall soon whatever the machine's defaults.
async fn slow_reader(addr: SocketAddr) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket.connect(addr).await.unwrap();
    let req = "GET /metrics HTTP/1.1\r\nHost: test\r\n\r\n";
    stream.write_all(req.as_bytes()).await.unwrap();
    stream
}

/// Clients that ask for a large `/metrics` and never read it hold their connections only until
/// a write has stalled for the limit: with every slot held by such clients, a scrape is turned
/// away, and once the server has cut them off, it is answered. (Without the limit on stalled
/// writes the slots would stay held for as long as the clients like.)
#[tokio::test]
async fn a_client_that_stops_reading_is_cut_off_and_frees_its_slot() {
    let limits = Limits {
        max_connections: 2,
        write_stall_timeout: Duration::from_millis(300),
    };
    // 8 MB: more than the sockets between the two ends buffer, so the writes stall.
    let (addr, shutdown, server) = server_with_big_metrics(8 << 20, limits).await;
    let slow = [slow_reader(addr).await, slow_reader(addr).await];
    let mut served = None;
    for _ in 0..300 {
        served = request_if_served(addr, "/healthz").await;
        if served.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let served = served.expect("a slot freed within 30 s: the stalled clients were cut off");
    assert_eq!(body(&served), "ok");
    drop(slow);
    shutdown.cancel();
    server.await.unwrap().unwrap();
}

/// Beyond the connection limit, new connections are closed at once and counted; once a slot is
/// free again, a scrape is served.
#[tokio::test]
async fn connections_beyond_the_limit_are_closed_at_once() {
    let limits = Limits {
        max_connections: 3,
        ..Limits::default()
    };
    let (addr, shutdown, server) = server_with_big_metrics(10, limits).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        // Open keep-alive connections with a request answered, so each holds a slot.
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 256];
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0);
        held.push(stream);
    }
    let mut extra = TcpStream::connect(addr).await.unwrap();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), extra.read_to_end(&mut buf))
        .await
        .expect("closed at once, not left waiting");
    assert!(
        read.is_err() || buf.is_empty(),
        "the extra connection was served"
    );
    drop(held);
    // The slots are released as the server notices the closed connections.
    let mut served = false;
    for _ in 0..100 {
        let attempt = request_if_served(addr, "/healthz").await;
        if attempt.as_deref().map(body) == Some("ok") {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(served, "a slot freed for a new scrape");
    shutdown.cancel();
    server.await.unwrap().unwrap();
}

/// Like [`request`], but a connection the server closes without an answer gives `None`.
async fn request_if_served(addr: SocketAddr, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(addr).await.ok()?;
    let req = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    stream.write_all(req.as_bytes()).await.ok()?;
    let mut buf = Vec::new();
    stream.read_to_end(&mut buf).await.ok()?;
    String::from_utf8(buf).ok().filter(|s| !s.is_empty())
}

/// Scrapes within the render age share one rendering: a series set after the first scrape
/// shows only once the rendering is older than [`RENDER_MAX_AGE`].
#[tokio::test]
async fn scrapes_share_one_rendering_until_it_is_a_second_old() {
    let recorder = crate::sinks::prometheus::builder()
        .unwrap()
        .build_recorder();
    let handle = recorder.handle();
    metrics::with_local_recorder(&recorder, || {
        metrics::gauge!(crate::telemetry::QUEUES).set(1.0)
    });
    let shared = Shared {
        state: HttpState {
            metrics: Exposition::new(handle),
            ready: Arc::new(AtomicBool::new(true)),
            board: Arc::default(),
        },
        rendering: ArcSwap::new(Rendering::new()),
    };
    let first = rendered(&shared).await.unwrap();
    metrics::with_local_recorder(&recorder, || {
        metrics::gauge!(crate::telemetry::QUEUES).set(2.0)
    });
    let second = rendered(&shared).await.unwrap();
    assert_eq!(first, second, "the same bytes within the render age");
    assert!(String::from_utf8_lossy(&first).contains("acd_queues 1"));
    tokio::time::sleep(RENDER_MAX_AGE).await;
    let third = rendered(&shared).await.unwrap();
    assert!(
        String::from_utf8_lossy(&third).contains("acd_queues 2"),
        "re-rendered"
    );
}
