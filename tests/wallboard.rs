//! The wallboard in a real browser: Debian's `chromium`, headless, driven through its command
//! line (`--dump-dom`, `--screenshot`) against a running `acdstream demo`.
//!
//! - The tiles are the queues of `?queues=`, in that order, and each figure the page shows is
//!   one the service served meanwhile, on `/api/v1/snapshots` and on `/metrics`.
//! - A 1920×1080 screenshot is a real render, kept as an artifact whose path is printed.
//! - When the service stops answering, the page says "stale since" the last publish it
//!   showed, greys the figures, and recovers by itself once answers come back.
//!
//! `scripts/test.sh` installs chromium. Without it the tests fail, unless
//! `ACDSTREAM_TEST_SKIP_BROWSER` is set, which skips them with a message.

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{free_port, http_get, scratch_dir, Demo};
use serde_json::Value;

/// The default publish interval rather than the harness's 250 ms: three intervals (when the
/// page calls the data stale) stay well above a tick delayed by a loaded test machine.
const ONE_SECOND: &[(&str, &str)] = &[("ACDSTREAM_PUBLISH__INTERVAL", "1s")];

/// A browser run that takes longer than this is stuck, and is killed.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(120);

fn chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("ACDSTREAM_TEST_CHROMIUM") {
        return Some(path.into());
    }
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("chromium"))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var_os("ACDSTREAM_TEST_SKIP_BROWSER").is_some(),
            "chromium is needed for the wallboard tests: run scripts/test.sh (it installs \
             Debian's chromium) or apt-get install chromium; set ACDSTREAM_TEST_SKIP_BROWSER=1 \
             to skip them"
        );
        eprintln!("SKIPPED: chromium not found and ACDSTREAM_TEST_SKIP_BROWSER is set");
    }
    found
}

/// Runs headless chromium on `url` with `args`; its standard output. Times are shown in UTC
/// (`TZ`), so that the test can spell the page's clock times itself.
fn browse(browser: &Path, profile: &Path, args: &[String], url: &str) -> String {
    let mut child = Command::new(browser)
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .env("TZ", "UTC")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium starts");
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        let _ = stdout.read_to_string(&mut out);
        out
    });
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "chromium failed on {url}: {status}");
            break;
        }
        if started.elapsed() > BROWSER_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish {url} within {BROWSER_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    reader.join().unwrap()
}

/// The DOM after the page has run `budget_ms` of (virtual) time.
fn dump_dom(browser: &Path, profile: &Path, url: &str, budget_ms: u32) -> String {
    let args = [
        format!("--virtual-time-budget={budget_ms}"),
        "--dump-dom".to_owned(),
    ];
    browse(browser, profile, &args, url)
}

/// One element of the dumped DOM: its attributes and the text up to the next tag.
#[derive(Debug)]
struct Element {
    attrs: BTreeMap<String, String>,
    text: String,
}

/// Every start tag of `html`, in document order (what the page writes: double-quoted
/// attributes, text escaped by the browser).
fn elements(html: &str) -> Vec<Element> {
    let html = without(&without(html, "script"), "style");
    let mut out = Vec::new();
    let mut rest = html.as_str();
    while let Some(start) = rest.find('<') {
        rest = &rest[start + 1..];
        let Some(end) = rest.find('>') else { break };
        let tag = &rest[..end];
        rest = &rest[end + 1..];
        if tag.starts_with('/') || tag.starts_with('!') {
            continue;
        }
        let mut attrs = BTreeMap::new();
        let mut t = tag.split_once(' ').map_or("", |(_, a)| a);
        while let Some(eq) = t.find("=\"") {
            let name = t[..eq].trim().to_owned();
            let after = &t[eq + 2..];
            let Some(close) = after.find('"') else { break };
            attrs.insert(name, unescape(&after[..close]));
            t = &after[close + 1..];
        }
        let text = unescape(&rest[..rest.find('<').unwrap_or(rest.len())]);
        out.push(Element { attrs, text });
    }
    out
}

/// `html` without the `tag` elements, whose text is code, not markup.
fn without(html: &str, tag: &str) -> String {
    let (open, close) = (format!("<{tag}"), format!("</{tag}>"));
    let mut out = String::new();
    let mut rest = html;
    while let Some(start) = rest.find(&open) {
        out.push_str(&rest[..start]);
        rest = rest[start..]
            .find(&close)
            .map_or("", |end| &rest[start + end + close.len()..]);
    }
    out.push_str(rest);
    out
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

fn figure<'a>(dom: &'a [Element], queue: &str, kpi: &str) -> &'a Element {
    dom.iter()
        .find(|e| {
            e.attrs.get("data-queue").map(String::as_str) == Some(queue)
                && e.attrs.get("data-kpi").map(String::as_str) == Some(kpi)
        })
        .unwrap_or_else(|| panic!("no figure {kpi} for {queue} on the page"))
}

fn tiles(dom: &[Element]) -> Vec<String> {
    dom.iter()
        .filter(|e| {
            e.attrs
                .get("class")
                .is_some_and(|c| c.split(' ').any(|c| c == "tile"))
        })
        .map(|e| e.attrs["data-queue"].clone())
        .collect()
}

/// The figures of one queue as the service gave them: from a snapshot, or from `/metrics`.
type Figures = BTreeMap<&'static str, f64>;

const NOW_KPIS: [&str; 6] = [
    "calls_waiting",
    "agents_ready",
    "agents_busy",
    "agents_acw",
    "agents_not_ready",
    "agents_busy_other",
];

fn from_snapshot(s: &Value) -> Figures {
    let mut f: Figures = NOW_KPIS
        .iter()
        .map(|&k| (k, s["now"][k].as_f64().unwrap()))
        .collect();
    f.insert(
        "oldest_wait_seconds",
        s["now"]["oldest_wait_seconds"].as_f64().unwrap(),
    );
    let w = &s["windows"]["15m"];
    for k in ["service_level", "asa_seconds", "abandon_rate"] {
        // Absent (null) is NaN, which the page shows as no value.
        f.insert(k, w[k].as_f64().unwrap_or(f64::NAN));
    }
    f
}

fn from_metrics(text: &str, queue: &str) -> Figures {
    let get = |name: &str, extra: &str| -> f64 {
        let prefix = if extra.is_empty() {
            format!("{name}{{queue=\"{queue}\"}} ")
        } else {
            format!("{name}{{queue=\"{queue}\",{extra}}} ")
        };
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .and_then(|v| v.parse().ok())
            .unwrap_or(f64::NAN)
    };
    let mut f = Figures::new();
    f.insert("calls_waiting", get("acd_calls_waiting", ""));
    for (kpi, state) in [
        ("agents_ready", "ready"),
        ("agents_busy", "busy"),
        ("agents_acw", "acw"),
        ("agents_not_ready", "not_ready"),
    ] {
        f.insert(kpi, get("acd_agents", &format!("state=\"{state}\"")));
    }
    f
}

fn page_figures(dom: &[Element], queue: &str, kpis: &[&'static str]) -> Figures {
    kpis.iter()
        .map(|&k| {
            let e = figure(dom, queue, k);
            let v = e
                .attrs
                .get("data-value")
                .map_or(f64::NAN, |v| v.parse().unwrap());
            (k, v)
        })
        .collect()
}

fn same(a: &Figures, b: &Figures) -> bool {
    a.iter().all(|(k, v)| {
        let w = b.get(k).copied().unwrap_or(f64::NAN);
        v == &w || (v.is_nan() && w.is_nan())
    })
}

/// Samples `/api/v1/snapshots` and `/metrics` every 100 ms until stopped: what the service
/// served while the browser ran.
struct Sampler {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<(Vec<Value>, Vec<String>)>>,
}

impl Sampler {
    fn start(port: u16, query: &str) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let path = format!("/api/v1/snapshots?{query}");
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let (mut api, mut metrics) = (Vec::new(), Vec::new());
            loop {
                // One more sample after the stop: "fetch before and after".
                let last = flag.load(Ordering::Acquire);
                if let Some((200, body)) = http_get(port, &path) {
                    api.push(serde_json::from_str(&body).unwrap());
                }
                if let Some((200, body)) = http_get(port, "/metrics") {
                    metrics.push(body);
                }
                if last {
                    return (api, metrics);
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        Sampler {
            stop,
            thread: Some(thread),
        }
    }

    fn finish(mut self) -> (Vec<Value>, Vec<String>) {
        self.stop.store(true, Ordering::Release);
        self.thread.take().unwrap().join().unwrap()
    }
}

#[test]
fn the_wallboard_shows_the_requested_queues_with_the_services_figures() {
    let Some(browser) = chromium() else { return };
    let dir = scratch_dir("wallboard");
    let port = free_port();
    let _demo = Demo::start(port, 1, ONE_SECOND);
    let queues = ["support", "sales", "billing"];
    let query = format!("queues={}", queues.join(","));

    let started = Instant::now();
    let sampler = Sampler::start(port, &query);
    let html = dump_dom(
        &browser,
        &dir.join("profile"),
        &format!("http://127.0.0.1:{port}/?{query}"),
        3_000,
    );
    let (api, metrics) = sampler.finish();
    println!(
        "browser run {:?}; {} snapshot and {} /metrics samples meanwhile",
        started.elapsed(),
        api.len(),
        metrics.len()
    );
    let dom = elements(&html);

    assert_eq!(tiles(&dom), queues, "the tiles, in the order asked");
    let status = dom
        .iter()
        .find(|e| e.attrs.get("id").map(String::as_str) == Some("status"))
        .expect("the status line");
    assert!(status.text.contains("live"), "{}", status.text);

    let mut kpis: Vec<&'static str> = NOW_KPIS.to_vec();
    kpis.extend([
        "oldest_wait_seconds",
        "service_level",
        "asa_seconds",
        "abandon_rate",
    ]);
    for queue in queues {
        let shown = page_figures(&dom, queue, &kpis);
        // Every figure of the tile at once equals one snapshot the service served meanwhile.
        let served: Vec<Figures> = api
            .iter()
            .filter_map(|v| {
                v["snapshots"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|s| s["queue_id"] == queue)
            })
            .map(from_snapshot)
            .collect();
        assert!(
            served.iter().any(|s| same(&shown, s)),
            "{queue}: the page shows {shown:?}, the API served {served:?}"
        );
        // The same figures on /metrics (the counts it has).
        let scraped: Vec<Figures> = metrics.iter().map(|m| from_metrics(m, queue)).collect();
        let counts: Figures = shown
            .iter()
            .filter(|(k, _)| scraped.first().is_some_and(|s| s.contains_key(*k)))
            .map(|(k, v)| (*k, *v))
            .collect();
        assert_eq!(counts.len(), 5, "{counts:?}");
        assert!(
            scraped.iter().any(|s| same(&counts, s)),
            "{queue}: the page shows {counts:?}, /metrics had {scraped:?}"
        );
        // What people read is the number the test read.
        let ready = figure(&dom, queue, "agents_ready");
        assert_eq!(ready.text, ready.attrs["data-value"]);
        let sl = shown["service_level"];
        let sl_text = &figure(&dom, queue, "service_level").text;
        if sl.is_finite() {
            assert_eq!(sl_text, &format!("{}%", (sl * 100.0).round()), "{queue}");
        }
        println!("{queue}: the page shows {shown:?}");
    }
}

/// A PNG's size and its IHDR width and height.
fn png_size(path: &Path) -> (u64, u32, u32) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(
        &bytes[..8],
        b"\x89PNG\r\n\x1a\n",
        "{} is a PNG",
        path.display()
    );
    assert_eq!(&bytes[12..16], b"IHDR");
    let be = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    (bytes.len() as u64, be(16), be(20))
}

fn screenshot(browser: &Path, profile: &Path, url: &str, out: &Path) -> (u64, u32, u32) {
    let args = [
        "--window-size=1920,1080".to_owned(),
        "--virtual-time-budget=3000".to_owned(),
        format!("--screenshot={}", out.display()),
    ];
    browse(browser, profile, &args, url);
    png_size(out)
}

#[test]
fn a_1080p_screenshot_is_a_real_render() {
    let Some(browser) = chromium() else { return };
    let dir = scratch_dir("wallboard-screenshot");
    let port = free_port();
    let _demo = Demo::start(port, 1, ONE_SECOND);
    let profile = dir.join("profile");

    // The yardstick: the same dark background with nothing on it.
    let blank = dir.join("blank.png");
    let (blank_bytes, ..) = screenshot(
        &browser,
        &profile,
        "data:text/html,<body style='background:%230b0f14'></body>",
        &blank,
    );
    let shot = dir.join("wallboard-1920x1080.png");
    let (bytes, width, height) = screenshot(
        &browser,
        &profile,
        &format!("http://127.0.0.1:{port}/"),
        &shot,
    );
    println!("wallboard screenshot: {} ({bytes} bytes)", shot.display());
    println!("blank page of the same size: {blank_bytes} bytes");
    assert_eq!((width, height), (1920, 1080));
    // Figures, labels and colours compress far worse than a plain background: the demo's
    // wallboard is over 100 KB where the blank page is a few KB.
    assert!(
        bytes > 50_000 && bytes > 10 * blank_bytes,
        "the screenshot is {bytes} bytes, a blank page {blank_bytes}: nothing was drawn"
    );
}

/// A loopback proxy in front of the service that drops the snapshot requests numbered in
/// `fail` (counting from 1) without an answer, as a dead network or a stopped service would,
/// and remembers the `published_at` of each snapshot answer it passed on.
struct Proxy {
    port: u16,
    passed: Arc<Mutex<Vec<i64>>>,
}

impl Proxy {
    fn start(upstream: u16, fail: std::ops::RangeInclusive<usize>) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let passed = Arc::new(Mutex::new(Vec::new()));
        let count = Arc::new(AtomicUsize::new(0));
        let fail = Arc::new(fail);
        let seen = Arc::clone(&passed);
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let (seen, count, fail) = (Arc::clone(&seen), Arc::clone(&count), fail.clone());
                std::thread::spawn(move || relay(client, upstream, &seen, &count, &fail));
            }
        });
        Proxy { port, passed }
    }
}

/// Serves the requests of one browser connection, one upstream connection each.
fn relay(
    mut client: TcpStream,
    upstream: u16,
    passed: &Mutex<Vec<i64>>,
    count: &AtomicUsize,
    fail: &std::ops::RangeInclusive<usize>,
) {
    let _ = client.set_read_timeout(Some(Duration::from_secs(30)));
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match client.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let head = String::from_utf8_lossy(&head);
    let Some(path) = head.split_whitespace().nth(1) else {
        return;
    };
    let snapshots = path.starts_with("/api/v1/snapshots");
    if snapshots && fail.contains(&(count.fetch_add(1, Ordering::SeqCst) + 1)) {
        return; // dropped: the browser sees the connection close with no answer
    }
    let Some((status, body)) = http_get(upstream, path) else {
        return;
    };
    if snapshots {
        let v: Value = serde_json::from_str(&body).unwrap();
        let at = v["service"]["published_at"].as_i64().unwrap();
        passed.lock().unwrap().push(at);
    }
    let kind = if path.starts_with("/api/") {
        "application/json"
    } else {
        "text/html; charset=utf-8"
    };
    let answer = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = client.write_all(answer.as_bytes());
}

/// Unix ms as the page spells it in UTC: `HH:MM:SS`.
fn hms(ms: i64) -> String {
    let s = ms.div_euclid(1000).rem_euclid(86_400);
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

#[test]
fn the_wallboard_goes_stale_without_answers_and_recovers() {
    let Some(browser) = chromium() else { return };
    let dir = scratch_dir("wallboard-stale");
    let port = free_port();
    let _demo = Demo::start(port, 1, ONE_SECOND);
    let url = |proxy: &Proxy| format!("http://127.0.0.1:{}/?queues=sales,support", proxy.port);

    // Answers stop after the second poll and never come back.
    let gone = Proxy::start(port, 3..=usize::MAX);
    let html = dump_dom(&browser, &dir.join("profile-a"), &url(&gone), 8_000);
    let dom = elements(&html);
    let body = dom
        .iter()
        .find(|e| e.attrs.contains_key("data-stale-episodes"))
        .expect("the body says whether it went stale");
    assert_eq!(body.attrs["class"], "stale", "greyed");
    let status = dom
        .iter()
        .find(|e| e.attrs.get("id").map(String::as_str) == Some("status"))
        .unwrap();
    // Stale since the publish of the last answer the page had.
    let last = *gone
        .passed
        .lock()
        .unwrap()
        .last()
        .expect("answers before the stop");
    assert_eq!(status.attrs["data-stale-since"], last.to_string());
    assert!(
        status.text.contains(&format!("stale since {}", hms(last))),
        "{}",
        status.text
    );
    println!("while the service does not answer: {:?}", status.text);
    // The figures are still there, greyed, not blanked.
    let ready = figure(&dom, "sales", "agents_ready");
    assert!(ready.attrs.contains_key("data-value"), "{ready:?}");

    // Answers stop for five polls, then come back.
    let back = Proxy::start(port, 3..=7);
    let html = dump_dom(&browser, &dir.join("profile-b"), &url(&back), 12_000);
    let dom = elements(&html);
    let body = dom
        .iter()
        .find(|e| e.attrs.contains_key("data-stale-episodes"))
        .expect("the page went stale in between");
    assert_eq!(body.attrs["data-stale-episodes"], "1");
    assert_eq!(body.attrs.get("class").map(String::as_str), Some(""));
    let status = dom
        .iter()
        .find(|e| e.attrs.get("id").map(String::as_str) == Some("status"))
        .unwrap();
    assert!(
        status.text.contains("live") && !status.text.contains("stale"),
        "{}",
        status.text
    );
    assert!(!status.attrs.contains_key("data-stale-since"));
    println!("after answers came back: {:?}", status.text);
}
