//! The demo scraped by a real Prometheus (Debian's package, installed by `scripts/test.sh`):
//! the exposition parses, the KPIs arrive with the documented names and labels, and no label
//! carries a call, agent or caller identifier.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

mod common;

use common::alerting::{value, Prometheus};
use common::{free_port, http_get, scratch_dir, wait_for, Demo};

#[test]
fn real_prometheus_scrapes_the_demo() {
    let dir = scratch_dir("prom");
    let app_port = free_port();

    let _app = Demo::start(app_port, 20, &[]);

    let prom = Prometheus::start(&dir, app_port, &[], None);
    wait_for("a successful scrape", Duration::from_secs(30), || {
        prom.query("up{job=\"acdstream\"} == 1").len() == 1
            && !prom
                .query("acd_calls_offered_total{queue=\"support\"} > 0")
                .is_empty()
    });

    // Every queue of the demo, every window, every service-level variant.
    let sl = prom.query("acd_service_level_ratio");
    assert_eq!(sl.len(), 4 * 5 * 3, "4 queues × 5 windows × 3 variants");
    let queues = prom.query("count by (queue) (acd_calls_waiting)");
    let mut names: Vec<&str> = queues
        .iter()
        .filter_map(|s| s["metric"]["queue"].as_str())
        .collect();
    names.sort();
    assert_eq!(names, ["billing", "retention", "sales", "support"]);
    for state in [
        "ready",
        "not_ready",
        "busy",
        "acw",
        "busy_other",
        "logged_in",
    ] {
        assert_eq!(
            prom.query(&format!("acd_agents{{state=\"{state}\"}}"))
                .len(),
            4,
            "{state}"
        );
    }
    // The demo staffs 20 + 32 + 12 + 9 = 73 agents, all logged in; three sales agents are also
    // logged into retention, and each queue counts its own logins (an agent on a call of the
    // other queue is busy other there, still logged in): 76.
    let logged_in = prom.query("sum(acd_agents{state=\"logged_in\"})");
    assert_eq!(value(&logged_in[0]), 76.0);
    // Applied events count up and nothing was rejected.
    let applied = prom.query("acd_events_total{result=\"applied\"}");
    assert!(value(&applied[0]) > 1_000.0, "{applied:?}");
    assert_eq!(value(&prom.query("sum(acd_events_rejected_total)")[0]), 0.0);
    // The surge queue is below its target in the 5-minute window while the others are not all.
    let surging =
        prom.query("acd_service_level_ratio{queue=\"support\",window=\"5m\",variant=\"default\"}");
    assert!(
        value(&surging[0]) < 0.8,
        "support surges at start-up: {surging:?}"
    );
    // The demo's surge began 5 minutes before start-up against an hour of normal traffic, so the
    // surge rule has its baseline and opens an episode on support within the first 30 s.
    wait_for("the support surge episode", Duration::from_secs(20), || {
        prom.query("acd_surge_active{queue=\"support\"} == 1").len() == 1
    });
    let rate = prom.query("acd_arrival_rate_per_minute{queue=\"support\",window=\"5m\"}");
    let baseline = prom.query("acd_surge_baseline_per_minute{queue=\"support\"}");
    assert!(
        value(&rate[0]) >= 1.5 * value(&baseline[0]),
        "{rate:?} vs {baseline:?}"
    );

    // promtool's lint of the exposition itself: each family once, with HELP and TYPE. The one
    // finding accepted is the wait quantiles as gauges with a `quantile` label: acdstream
    // computes them per window, they are not a summary's.
    let (_, exposition) = http_get(app_port, "/metrics").unwrap();
    let mut lint = Command::new(common::alerting::promtool())
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    lint.stdin
        .take()
        .unwrap()
        .write_all(exposition.as_bytes())
        .unwrap();
    let lint = lint.wait_with_output().unwrap();
    let findings = String::from_utf8_lossy(&lint.stdout) + String::from_utf8_lossy(&lint.stderr);
    for finding in findings.lines() {
        assert_eq!(
            finding, r#"acd_wait_seconds non-summary metrics should not have "quantile" label"#,
            "in:\n{findings}"
        );
    }
    assert!(exposition.contains("# TYPE acd_calls_offered_total counter\n"));

    // No label can identify a call, an agent or a caller.
    let (_, body) = http_get(prom.port(), "/api/v1/labels").unwrap();
    let labels: Value = serde_json::from_str(&body).unwrap();
    let allowed = [
        "__name__", "instance", "job", "queue", "window", "variant", "quantile", "state", "result",
        "reason", "version", "le", "outcome", "alert", "severity", "channel",
    ];
    for label in labels["data"].as_array().unwrap() {
        let label = label.as_str().unwrap();
        assert!(allowed.contains(&label), "unexpected label {label}");
    }
    drop(prom);
    std::fs::remove_dir_all(&dir).ok();
}
