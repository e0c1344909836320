//! The wallboard in a real browser: Debian's `chromium`, headless, driven through its command
//! line (`--dump-dom`, `--screenshot`) against a running `acdstream demo`.
//!
//! - The tiles are the queues of `?queues=`, in that order, and each figure the page shows is
//!   one the service served meanwhile, on `/api/v1/snapshots` and on `/metrics`.
//! - A 1920×1080 screenshot is a real render, kept as an artifact whose path is printed.
//! - When the service stops answering, the page says "stale since" the last publish it
//!   showed, greys the figures, and recovers by itself once answers come back.
//!
//! The browser is driven by [`common::browser`].

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::browser::{chromium, dump_dom, elements, screenshot, Element};
use common::{free_port, http_get, scratch_dir, Demo};
use serde_json::Value;

/// The default publish interval rather than the harness's 250 ms: three intervals (when the
/// page calls the data stale) stay well above a tick delayed by a loaded test machine.
const ONE_SECOND: &[(&str, &str)] = &[("ACDSTREAM_PUBLISH__INTERVAL", "1s")];

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

/// The surge banner of `queue`'s tile in a DOM, with the ages of the episode that the
/// service served meanwhile.
fn surge_banner(
    browser: &std::path::Path,
    profile: &std::path::Path,
    port: u16,
    queue: &str,
) -> (Element, Vec<f64>) {
    let query = format!("queues={queue}");
    let sampler = Sampler::start(port, &query);
    let html = dump_dom(
        browser,
        profile,
        &format!("http://127.0.0.1:{port}/?{query}"),
        2_000,
    );
    let (api, _) = sampler.finish();
    let served = api
        .iter()
        .flat_map(|v| v["snapshots"].as_array().unwrap().clone())
        .filter(|s| s["queue_id"] == queue && s["surge"]["active"] == true)
        .map(|s| s["surge"]["age_seconds"].as_f64().unwrap())
        .collect();
    let banner = elements(&html)
        .into_iter()
        .find(|e| {
            e.attrs.get("data-queue").map(String::as_str) == Some(queue)
                && e.attrs.get("data-kpi").map(String::as_str) == Some("surge")
        })
        .expect("the tile has a surge banner");
    (banner, served)
}

/// The demo's surge on support (it began 5 minutes before start-up, so the surge rule opens
/// an episode within the first half minute): the tile shows the banner with the response
/// timer against the limit, its age one the service served while the browser ran, and the
/// timer counts up between two looks.
#[test]
fn the_support_surge_shows_a_banner_whose_timer_counts_up() {
    let Some(browser) = chromium() else { return };
    let dir = scratch_dir("wallboard-surge");
    let port = free_port();
    let _demo = Demo::start(port, 1, ONE_SECOND);
    let started = Instant::now();
    let surging = || {
        http_get(port, "/api/v1/snapshots?queues=support").is_some_and(|(status, body)| {
            let v: Value = serde_json::from_str(&body).unwrap_or_default();
            status == 200 && v["snapshots"][0]["surge"]["active"] == true
        })
    };
    while !surging() {
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "no surge episode on support within 90 s"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    println!("support surging after {:?}", started.elapsed());
    let profile = dir.join("profile");
    let mut ages = Vec::new();
    for _ in 0..2 {
        let (banner, served) = surge_banner(&browser, &profile, port, "support");
        let age: f64 = banner.attrs["data-value"].parse().unwrap();
        assert!(
            banner.attrs["class"].split(' ').any(|c| c == "on"),
            "the banner is shown: {banner:?}"
        );
        assert!(
            served.contains(&age),
            "the page shows age {age}, the service served {served:?}"
        );
        // "⚡ SURGE m:ss / 10:00" (the age rounded to the second), then the Erlang C
        // requirement when there is one.
        let s = age.round() as u64;
        let timer = format!("⚡ SURGE {}:{:02} / 10:00", s / 60, s % 60);
        assert!(
            banner.text.contains(&timer),
            "{:?} should show {timer}",
            banner.text
        );
        println!("banner: {}", banner.text);
        ages.push(age);
        std::thread::sleep(Duration::from_secs(3));
    }
    // The looks are at least 3 s apart; each age is that of the publish before its look, and
    // publishes come a second apart within a few milliseconds (31.671 then 34.670 was seen).
    assert!(ages[1] >= ages[0] + 2.9, "the timer counts up: {ages:?}");
}

/// The queue page of support during the demo: the six charts over the intervals the warm-up
/// closed and the one in progress; every figure of its windows table from one snapshot the
/// service served while the browser ran; the wallboard's tile links to it; an unknown queue
/// is a 404.
#[test]
fn the_queue_page_shows_the_windows_and_the_intervals_so_far() {
    let Some(browser) = chromium() else { return };
    let dir = scratch_dir("wallboard-queue");
    let port = free_port();
    let _demo = Demo::start(port, 1, ONE_SECOND);
    let started = Instant::now();
    while http_get(port, "/queue/support").is_none_or(|(status, _)| status != 200) {
        assert!(started.elapsed() < Duration::from_secs(60), "no queue page");
        std::thread::sleep(Duration::from_millis(250));
    }
    let profile = dir.join("profile");
    let sampler = Sampler::start(port, "queues=support");
    let html = dump_dom(
        &browser,
        &profile,
        &format!("http://127.0.0.1:{port}/queue/support"),
        500,
    );
    let (api, _) = sampler.finish();
    let dom = elements(&html);
    let class = |c: &str| {
        dom.iter()
            .filter(|e| e.attrs.get("class").map(String::as_str) == Some(c))
            .count()
    };
    assert_eq!(class("chart"), 6, "six charts");
    let rows: Vec<&Element> = dom
        .iter()
        .filter(|e| e.attrs.contains_key("data-start"))
        .collect();
    // The 65-minute warm-up closed at least one interval; the one in progress comes last.
    assert!(rows.len() >= 2, "{} interval rows", rows.len());
    assert!(rows.last().unwrap().attrs.contains_key("data-partial"));
    assert!(rows[..rows.len() - 1]
        .iter()
        .all(|r| !r.attrs.contains_key("data-partial")));
    // The windows side by side: every figure at once from one served snapshot.
    let shown: Vec<(&str, &str, &str)> = dom
        .iter()
        .filter_map(|e| {
            Some((
                e.attrs.get("data-window")?.as_str(),
                e.attrs.get("data-kpi")?.as_str(),
                e.attrs.get("data-value")?.as_str(),
            ))
        })
        .collect();
    assert_eq!(shown.len(), 5 * 10, "five windows of ten KPIs");
    let matches = |s: &Value| {
        shown.iter().all(|&(window, kpi, value)| {
            let v = &s["windows"][window][kpi];
            if value == "null" {
                v.is_null()
            } else {
                v.as_f64() == value.parse::<f64>().ok()
            }
        })
    };
    let served: Vec<Value> = api
        .iter()
        .flat_map(|v| v["snapshots"].as_array().unwrap().clone())
        .collect();
    assert!(
        served.iter().any(matches),
        "the page's windows {shown:?} are none of the {} snapshots served meanwhile",
        served.len()
    );
    println!(
        "queue page: {} intervals, {} window figures from one of {} snapshots served",
        rows.len(),
        shown.len(),
        served.len()
    );
    // The tile's name opens it; an unknown queue has no page.
    let board = elements(&dump_dom(
        &browser,
        &profile,
        &format!("http://127.0.0.1:{port}/?queues=support"),
        2_000,
    ));
    assert!(board
        .iter()
        .any(|e| e.attrs.get("href").map(String::as_str) == Some("/queue/support")));
    assert_eq!(http_get(port, "/queue/nope").map(|(s, _)| s), Some(404));
}
