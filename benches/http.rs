//! `/metrics` scrape latency while slow clients hold connections, against the same scrape with
//! no other client (the floor), both measured in one run on one `acdstream demo`.
//!
//! `cargo bench --bench http` prints the figures quoted in the README. Each phase runs 200
//! scrapes, 20 ms apart, each over a fresh connection as Prometheus makes them when a target
//! is slow to answer: connect, request, read to the end. The slow clients are a third each of
//!
//! - idle: connected, never a byte sent;
//! - slow headers: a request line and one header, never the blank line that ends them;
//! - non-readers: a full `GET /metrics` (keep-alive), the response never read.
//!
//! They hold their connections through the whole phase (shorter than the server's 10 s
//! header timeout, so none is cut meanwhile). Set `ACDSTREAM_BENCH_SLOW` to change their
//! number (default 1,000).

#[path = "../tests/common/mod.rs"]
mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{free_port, Demo};

const SCRAPES: usize = 200;
const GAP: Duration = Duration::from_millis(20);

fn main() {
    let slow: usize = std::env::var("ACDSTREAM_BENCH_SLOW")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000);
    let port = free_port();
    let _demo = Demo::start(port, 1, &[]);
    // The first rendering of a full demo: the scrape size the figures are about.
    let body = scrape(port).expect("a first scrape");
    println!(
        "acdstream demo on 127.0.0.1:{port}: /metrics {} KiB",
        body / 1024
    );

    let floor = phase(port);
    report("no other client (floor)", &floor);

    let held = hold(port, slow);
    let loaded = phase(port);
    // Still open at the end of the phase: the server held them all rather than turning them away.
    let open = held.iter().filter(|s| still_open(s)).count();
    report(&format!("{slow} slow clients holding connections"), &loaded);
    println!("slow connections still open after the phase: {open} of {slow}");
    let ratio = percentile(&loaded, 0.99).as_secs_f64() / percentile(&floor, 0.99).as_secs_f64();
    println!("p99 with slow clients / p99 floor: {ratio:.2} ×");
}

/// Opens `n` slow clients of the three kinds, in turn.
fn hold(port: u16, n: usize) -> Vec<TcpStream> {
    let started = Instant::now();
    let held: Vec<TcpStream> = (0..n)
        .map(|i| {
            let mut s = TcpStream::connect(("127.0.0.1", port)).expect("a slow client connects");
            let sent: &[u8] = match i % 3 {
                0 => b"",
                1 => b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n",
                _ => b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
            };
            s.write_all(sent).expect("a slow client writes");
            s
        })
        .collect();
    println!("{n} slow clients connected in {:?}", started.elapsed());
    held
}

/// A connection the server has not closed: reading finds nothing new (or only the response
/// it sent a non-reader), rather than end of stream.
fn still_open(s: &TcpStream) -> bool {
    s.set_nonblocking(true).expect("non-blocking");
    let mut buf = [0u8; 1];
    let open = match s.peek(&mut buf) {
        Ok(0) => false,
        Ok(_) => true,
        Err(e) => e.kind() == std::io::ErrorKind::WouldBlock,
    };
    s.set_nonblocking(false).expect("blocking");
    open
}

fn phase(port: u16) -> Vec<Duration> {
    let mut times = Vec::with_capacity(SCRAPES);
    for _ in 0..SCRAPES {
        let start = Instant::now();
        scrape(port).expect("a scrape is answered");
        times.push(start.elapsed());
        std::thread::sleep(GAP);
    }
    times.sort();
    times
}

/// One scrape over a fresh connection: the body's length once read to the end.
fn scrape(port: u16) -> Option<usize> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    raw.starts_with(b"HTTP/1.1 200").then_some(raw.len())
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    sorted[((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1]
}

fn report(what: &str, sorted: &[Duration]) {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "{what}: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} scrapes)",
        ms(percentile(sorted, 0.5)),
        ms(percentile(sorted, 0.99)),
        ms(sorted[sorted.len() - 1]),
        sorted.len()
    );
}
