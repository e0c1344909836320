//! SurgeResponseExceeded end to end, with the real parts: Debian's Prometheus (the shipped
//! rules) and Alertmanager, a webhook receiver standing in for the pager, and the tansu broker
//! for the alerts topic.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

mod common;

use common::alerting::{Alertmanager, Prometheus, WebhookReceiver};
use common::{free_port, scratch_dir, wait_for, Broker, Demo, Deployment, Service};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn rules_file() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("deploy/prometheus/rules/acdstream.rules.yml")
}

fn label<'a>(alert: &'a Value, name: &str) -> &'a str {
    alert["labels"][name].as_str().unwrap_or("")
}

/// (origin, queue, status) of every SurgeResponseExceeded notification the pager received.
fn surge_pages(webhook: &WebhookReceiver) -> BTreeSet<(String, String, String)> {
    webhook
        .alerts()
        .iter()
        .filter(|a| label(a, "alertname") == "SurgeResponseExceeded")
        .map(|a| {
            (
                label(a, "origin").to_string(),
                label(a, "queue").to_string(),
                a["status"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn page(origin: &str, status: &str) -> (String, String, String) {
    (origin.into(), "support".into(), status.into())
}

/// The demo at 60 simulated seconds per second: its support surge began 5 minutes before
/// start-up against an hour of normal traffic, so an episode opens at once. Support's response
/// limit is 5 minutes (5 s here); the other queues keep the default 10. Both delivery paths
/// must page for support and for no other queue, and both must resolve once the episode ends.
#[test]
fn a_late_surge_response_pages_through_prometheus_rules_and_the_direct_push_then_resolves() {
    let dir = scratch_dir("alerts-e2e");
    let webhook = WebhookReceiver::start();
    let alertmanager = Alertmanager::start(&dir.join("am"), &webhook.url());
    let app_port = free_port();
    let am_url = alertmanager.url();
    let _app = Demo::start(
        app_port,
        60,
        &[
            ("ACDSTREAM_KPI__QUEUES__SUPPORT__SURGE_RESPONSE_LIMIT", "5m"),
            ("ACDSTREAM_ALERTS__ALERTMANAGER_URL", &am_url),
            ("ACDSTREAM_ALERTS__RESEND_INTERVAL", "2s"),
        ],
    );
    let prometheus = Prometheus::start(
        &dir.join("prom"),
        app_port,
        &[&rules_file()],
        Some(&alertmanager.url()),
    );

    wait_for(
        "SurgeResponseExceeded for support from both paths",
        Duration::from_secs(40),
        || {
            let pages = surge_pages(&webhook);
            pages.contains(&page("acdstream", "firing"))
                && pages.contains(&page("prometheus", "firing"))
        },
    );
    // The page says why and what it takes, from the service's own evaluation.
    let pushed = webhook
        .alerts()
        .into_iter()
        .find(|a| {
            label(a, "alertname") == "SurgeResponseExceeded" && label(a, "origin") == "acdstream"
        })
        .unwrap();
    let summary = pushed["annotations"]["summary"].as_str().unwrap_or("");
    assert!(
        summary.starts_with("support: surge unanswered for") && summary.contains("staffed"),
        "{summary}"
    );
    assert_eq!(label(&pushed, "severity"), "page");
    eprintln!("pushed page: {summary}");
    let exported = prometheus.query("acd_alerts_firing{alert=\"SurgeResponseExceeded\"} == 1");
    assert_eq!(exported.len(), 1, "{exported:?}");
    assert_eq!(exported[0]["metric"]["queue"], "support");

    // The surge ends 15 simulated minutes after start-up; the episode closes once arrivals fall
    // back or the service level recovers, and both paths resolve.
    wait_for(
        "SurgeResponseExceeded for support resolved on both paths",
        Duration::from_secs(60),
        || {
            let pages = surge_pages(&webhook);
            pages.contains(&page("acdstream", "resolved"))
                && pages.contains(&page("prometheus", "resolved"))
        },
    );
    let queues: BTreeSet<String> = surge_pages(&webhook).into_iter().map(|p| p.1).collect();
    assert_eq!(
        queues,
        BTreeSet::from(["support".to_string()]),
        "only the surging queue pages"
    );
    let episodes = prometheus.query("sum by (queue) (acd_surge_episodes_total{queue=\"support\"})");
    assert_eq!(episodes.len(), 1);
    assert!(
        episodes[0]["value"][1].as_str() >= Some("1"),
        "{episodes:?}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// The alerts topic on a real broker: `run` in event time over two simulated hours of
/// `tests/fixtures/surge-scenario.toml`, with a 5-minute response limit. One firing and one resolved SurgeResponseExceeded for "hot", with
/// a readable summary, and nothing of the kind for "calm".
#[test]
fn the_alerts_topic_carries_the_firing_and_the_resolved_transition() {
    let scenario = fixture("surge-scenario.toml");
    let broker = Broker::memory("alerts-topic");
    let d = Deployment::new(&broker, "alerts", 1)
        .with_env(("ACDSTREAM_ENGINE__CLOCK", "event"))
        .with_env(("ACDSTREAM_PUBLISH__INTERVAL", "250ms"))
        .with_env(("ACDSTREAM_KPI__DEFAULT__SURGE_RESPONSE_LIMIT", "5m"));
    let mut service = Service::start(&d, "alerts");
    wait_for("the service to be ready", Duration::from_secs(30), || {
        service.ready()
    });
    // Two simulated hours in 12 s, so that publishes (every 250 ms, 2.5 simulated minutes)
    // see the episode open, pass its limit and close.
    let produced = Command::new(env!("CARGO_BIN_EXE_acdstream"))
        .args(["simulate", "--scenario", scenario.to_str().unwrap()])
        .args(["--duration", "2h", "--start", "2026-01-05T08:00:00Z"])
        .args(["--brokers", &d.brokers, "--topic", &d.topic("events")])
        .args(["--format", "json", "--realtime", "--speed", "600"])
        .envs(d.env())
        .output()
        .unwrap();
    assert!(
        produced.status.success(),
        "simulate: {}",
        String::from_utf8_lossy(&produced.stderr)
    );
    wait_for(
        "both transitions on the alerts topic",
        Duration::from_secs(30),
        || d.read("alerts").len() >= 2,
    );
    // Let anything else that would be published arrive before judging.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(service.stop(), Some(0));

    let records = d.read("alerts");
    let alerts: Vec<Value> = records
        .iter()
        .map(|r| serde_json::from_slice(&r.payload).expect("a JSON alert notification"))
        .filter(|a: &Value| a["alert"] == "SurgeResponseExceeded")
        .collect();
    let seen: Vec<(&str, &str)> = alerts
        .iter()
        .map(|a| (a["queue"].as_str().unwrap(), a["state"].as_str().unwrap()))
        .collect();
    assert_eq!(
        seen,
        [("hot", "firing"), ("hot", "resolved")],
        "{alerts:#?}"
    );
    let (firing, resolved) = (&alerts[0], &alerts[1]);
    assert_eq!(firing["severity"], "page");
    assert!(firing["value"].as_f64().unwrap() >= 300.0, "{firing}");
    assert_eq!(firing["threshold"].as_f64(), Some(300.0));
    let summary = firing["summary"].as_str().unwrap();
    eprintln!("alerts topic: {firing}\nthen: {resolved}");
    assert!(
        summary.starts_with("hot: surge unanswered for"),
        "{summary}"
    );
    assert!(
        summary.contains("agents") && summary.contains("staffed"),
        "{summary}"
    );
    assert!(resolved["ends_at"].as_i64() >= firing["starts_at"].as_i64());
    let key = records
        .iter()
        .find(|r| r.headers.get("acd-alert").map(String::as_str) == Some("SurgeResponseExceeded"))
        .and_then(|r| r.key.clone());
    assert_eq!(key.as_deref(), Some("hot"), "keyed by queue");
}
