//! The demo scraped by a real Prometheus (Debian's package, installed by `scripts/test.sh`):
//! the exposition parses, the KPIs arrive with the documented names and labels, and no label
//! carries a call, agent or caller identifier.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

mod common;

use common::{free_port, http_get, wait_for};

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn encode(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn query(prom: u16, q: &str) -> Vec<Value> {
    let (status, body) =
        http_get(prom, &format!("/api/v1/query?query={}", encode(q))).expect("prometheus answers");
    assert_eq!(status, 200, "{q}: {body}");
    let v: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    v["data"]["result"].as_array().cloned().unwrap_or_default()
}

fn value(sample: &Value) -> f64 {
    sample["value"][1]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(f64::NAN)
}

fn prometheus_binary() -> PathBuf {
    let path = std::env::var_os("ACDSTREAM_TEST_PROMETHEUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| "prometheus".into());
    let found = Command::new(&path)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    assert!(
        found.is_ok_and(|s| s.success()),
        "Prometheus is needed for this test: run scripts/test.sh (it installs Debian's prometheus) \
         or set ACDSTREAM_TEST_PROMETHEUS"
    );
    path
}

#[test]
fn real_prometheus_scrapes_the_demo() {
    let prometheus = prometheus_binary();
    let dir = std::env::temp_dir().join(format!("acdstream-prom-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (app_port, prom_port) = (free_port(), free_port());

    let _app = Killed(
        Command::new(env!("CARGO_BIN_EXE_acdstream"))
            .args([
                "demo",
                "--listen",
                &format!("127.0.0.1:{app_port}"),
                "--speed",
                "20",
                "--warmup",
                "30m",
            ])
            .env("ACDSTREAM_PUBLISH__INTERVAL", "250ms")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("demo starts"),
    );
    wait_for("the demo to be ready", Duration::from_secs(20), || {
        http_get(app_port, "/readyz").is_some_and(|(s, _)| s == 200)
    });

    std::fs::write(
        dir.join("prometheus.yml"),
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: acdstream\n    static_configs:\n      - targets: ['127.0.0.1:{app_port}']\n"
        ),
    )
    .unwrap();
    let _prom = Killed(
        Command::new(prometheus)
            .arg(format!(
                "--config.file={}",
                dir.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus starts"),
    );
    wait_for("a successful scrape", Duration::from_secs(30), || {
        http_get(prom_port, "/-/ready").is_some_and(|(s, _)| s == 200)
            && query(prom_port, "up{job=\"acdstream\"} == 1").len() == 1
            && !query(prom_port, "acd_calls_offered_total{queue=\"support\"} > 0").is_empty()
    });

    // Every queue of the demo, every window, every service-level variant.
    let sl = query(prom_port, "acd_service_level_ratio");
    assert_eq!(sl.len(), 4 * 5 * 3, "4 queues × 5 windows × 3 variants");
    let queues = query(prom_port, "count by (queue) (acd_calls_waiting)");
    let mut names: Vec<&str> = queues
        .iter()
        .filter_map(|s| s["metric"]["queue"].as_str())
        .collect();
    names.sort();
    assert_eq!(names, ["billing", "retention", "sales", "support"]);
    for state in ["ready", "not_ready", "busy", "acw", "logged_in"] {
        assert_eq!(
            query(prom_port, &format!("acd_agents{{state=\"{state}\"}}")).len(),
            4,
            "{state}"
        );
    }
    // The demo staffs 20 + 32 + 12 + 9 agents, all logged in.
    let logged_in = query(prom_port, "sum(acd_agents{state=\"logged_in\"})");
    assert_eq!(value(&logged_in[0]), 73.0);
    // Applied events count up and nothing was rejected.
    let applied = query(prom_port, "acd_events_total{result=\"applied\"}");
    assert!(value(&applied[0]) > 1_000.0, "{applied:?}");
    assert_eq!(
        value(&query(prom_port, "sum(acd_events_rejected_total)")[0]),
        0.0
    );
    // The surge queue is below its target in the 5-minute window while the others are not all.
    let surging = query(
        prom_port,
        "acd_service_level_ratio{queue=\"support\",window=\"5m\",variant=\"default\"}",
    );
    assert!(
        value(&surging[0]) < 0.8,
        "support surges at start-up: {surging:?}"
    );

    // No label can identify a call, an agent or a caller.
    let (_, body) = http_get(prom_port, "/api/v1/labels").unwrap();
    let labels: Value = serde_json::from_str(&body).unwrap();
    let allowed = [
        "__name__", "instance", "job", "queue", "window", "variant", "quantile", "state", "result",
        "reason", "version", "le",
    ];
    for label in labels["data"].as_array().unwrap() {
        let label = label.as_str().unwrap();
        assert!(allowed.contains(&label), "unexpected label {label}");
    }
    std::fs::remove_dir_all(&dir).ok();
}
