//! The alerting side as real processes: Prometheus and Alertmanager (Debian's packages,
//! installed by `scripts/test.sh`) with their command-line tools `promtool` and `amtool`, and a
//! webhook receiver that stands in for the pager and records what Alertmanager sends it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::Value;

use super::{free_port, http_get, http_post_json, wait_for};

/// A binary named by `env`, else `default`; panics with how to get it when it does not run.
pub fn tool(env: &str, default: &str, package: &str) -> PathBuf {
    let path = std::env::var_os(env)
        .map(PathBuf::from)
        .unwrap_or_else(|| default.into());
    let runs = Command::new(&path)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        runs,
        "{} is needed for this test: run scripts/test.sh (it installs Debian's {package}) or set {env}",
        path.display()
    );
    path
}

/// Debian's `prometheus-alertmanager` (or `ACDSTREAM_TEST_ALERTMANAGER`).
pub fn alertmanager_binary() -> PathBuf {
    tool(
        "ACDSTREAM_TEST_ALERTMANAGER",
        "/usr/bin/prometheus-alertmanager",
        "prometheus-alertmanager",
    )
}

/// Debian's `prometheus` (or `ACDSTREAM_TEST_PROMETHEUS`).
pub fn prometheus_binary() -> PathBuf {
    tool("ACDSTREAM_TEST_PROMETHEUS", "prometheus", "prometheus")
}

/// Debian's `promtool`, from the prometheus package (or `ACDSTREAM_TEST_PROMTOOL`).
pub fn promtool() -> PathBuf {
    tool("ACDSTREAM_TEST_PROMTOOL", "promtool", "prometheus")
}

/// Debian's `amtool`, from the prometheus-alertmanager package (or `ACDSTREAM_TEST_AMTOOL`).
pub fn amtool() -> PathBuf {
    tool("ACDSTREAM_TEST_AMTOOL", "amtool", "prometheus-alertmanager")
}

/// Percent-encodes a query-string value.
pub fn url_encode(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A YAML scalar for any string: JSON's quoting is valid YAML.
fn yaml_str(s: &str) -> String {
    Value::from(s).to_string()
}

fn get_json(port: u16, path: &str) -> Value {
    let (status, body) = http_get(port, path).unwrap_or_else(|| panic!("no answer to {path}"));
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"))
}

/// A server process started by a test, killed when dropped; its output goes to a log file in
/// its directory so that a failing test can show it.
struct Server {
    child: Child,
    name: &'static str,
    port: u16,
    log: PathBuf,
}

impl Server {
    fn start(name: &'static str, mut cmd: Command, port: u16, log: PathBuf) -> Server {
        let file = std::fs::File::create(&log).unwrap();
        let child = cmd
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("{name} starts: {e}"));
        let mut server = Server {
            child,
            name,
            port,
            log,
        };
        wait_for(
            &format!("{name} to be ready"),
            Duration::from_secs(30),
            || {
                if let Ok(Some(status)) = server.child.try_wait() {
                    panic!("{name} exited ({status}):\n{}", server.log_text());
                }
                http_get(port, "/-/ready").is_some_and(|(s, _)| s == 200)
            },
        );
        server
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("--- {} log ---\n{}", self.name, self.log_text());
        }
    }
}

/// Collects what is POSTed to it: Alertmanager's webhook notifications.
pub struct WebhookReceiver {
    port: u16,
    bodies: Arc<Mutex<Vec<Value>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl WebhookReceiver {
    pub fn start() -> WebhookReceiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (bodies, stop) = (Arc::clone(&bodies), Arc::clone(&stop));
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    // A connection per thread: a slow or idle client must not hold up the next.
                    let bodies = Arc::clone(&bodies);
                    std::thread::spawn(move || serve(conn, &bodies));
                }
            })
        };
        WebhookReceiver {
            port,
            bodies,
            stop,
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    /// Every JSON body received, in arrival order.
    pub fn notifications(&self) -> Vec<Value> {
        self.bodies.lock().unwrap().clone()
    }

    /// The `alerts` of every notification, flattened in arrival order.
    pub fn alerts(&self) -> Vec<Value> {
        self.notifications()
            .iter()
            .flat_map(|n| n["alerts"].as_array().cloned().unwrap_or_default())
            .collect()
    }
}

impl Drop for WebhookReceiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // accept() blocks: one more connection lets the loop see the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One request per connection (answered with `Connection: close`, which Go's client honours).
fn serve(conn: TcpStream, bodies: &Mutex<Vec<Value>>) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(&conn);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
        return; // the wake-up connection of Drop, or a client that gave up
    }
    let mut length = 0;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.trim().eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let status = if request_line.starts_with("POST ") {
        match serde_json::from_slice::<Value>(&body) {
            Ok(v) => {
                bodies.lock().unwrap().push(v);
                "200 OK"
            }
            Err(e) => {
                eprintln!("webhook receiver: {e}: {}", String::from_utf8_lossy(&body));
                "400 Bad Request"
            }
        }
    } else {
        "200 OK"
    };
    let _ = (&conn).write_all(
        format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").as_bytes(),
    );
}

/// Debian's Alertmanager 0.25 on a free loopback port, clustering off.
pub struct Alertmanager {
    server: Server,
}

impl Alertmanager {
    /// Routes every alert to `webhook_url` (resolved ones too), grouped like the sample config
    /// but flushed within a second.
    pub fn start(dir: &Path, webhook_url: &str) -> Alertmanager {
        let config = format!(
            "route:\n  receiver: webhook\n  group_by: [alertname, queue]\n  group_wait: 1s\n  \
             group_interval: 1s\n  repeat_interval: 1h\nreceivers:\n  - name: webhook\n    \
             webhook_configs:\n      - url: {}\n        send_resolved: true\n",
            yaml_str(webhook_url)
        );
        Alertmanager::start_with_config(dir, &config)
    }

    /// Runs with the given configuration (YAML).
    pub fn start_with_config(dir: &Path, config: &str) -> Alertmanager {
        let binary = alertmanager_binary();
        std::fs::create_dir_all(dir).unwrap();
        let file = dir.join("alertmanager.yml");
        std::fs::write(&file, config).unwrap();
        let port = free_port();
        let mut cmd = Command::new(binary);
        cmd.arg(format!("--config.file={}", file.display()))
            .arg(format!(
                "--storage.path={}",
                dir.join("alertmanager-data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            // Empty disables the gossip cluster (its default port would clash between tests).
            .arg("--cluster.listen-address=");
        Alertmanager {
            server: Server::start("alertmanager", cmd, port, dir.join("alertmanager.log")),
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.server.port)
    }

    pub fn port(&self) -> u16 {
        self.server.port
    }

    /// `GET /api/v2/alerts`: the alerts Alertmanager holds, with their status.
    pub fn alerts_api(&self) -> Vec<Value> {
        get_json(self.server.port, "/api/v2/alerts")
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// `POST /api/v2/alerts` of a JSON array of `{labels, annotations, startsAt, endsAt}`, the
    /// way acdstream pushes its own alerts.
    pub fn post_alerts(&self, alerts: &Value) {
        let (status, body) = http_post_json(self.server.port, "/api/v2/alerts", alerts)
            .expect("alertmanager answers");
        assert_eq!(status, 200, "POST /api/v2/alerts: {body}");
    }

    pub fn log_text(&self) -> String {
        self.server.log_text()
    }
}

/// Debian's Prometheus on a free loopback port: the one harness of every test that runs
/// Prometheus, either scraping one acdstream ([`Prometheus::start`]) or from a whole
/// configuration ([`Prometheus::start_with_config`]).
pub struct Prometheus {
    server: Server,
}

impl Prometheus {
    /// Scrapes one acdstream every second as job `acdstream` and evaluates `rule_files` every
    /// second, alerting to `alertmanager_url` if given.
    pub fn start(
        dir: &Path,
        scrape_target_port: u16,
        rule_files: &[&Path],
        alertmanager_url: Option<&str>,
    ) -> Prometheus {
        let mut config =
            String::from("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n");
        if !rule_files.is_empty() {
            config += "rule_files:\n";
            for file in rule_files {
                // Prometheus resolves relative paths against the config file's directory.
                let file = file
                    .canonicalize()
                    .unwrap_or_else(|e| panic!("rule file {}: {e}", file.display()));
                config += &format!("  - {}\n", yaml_str(&file.to_string_lossy()));
            }
        }
        if let Some(url) = alertmanager_url {
            let (scheme, rest) = url.split_once("://").unwrap_or(("http", url));
            let (host, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            config += &format!(
                "alerting:\n  alertmanagers:\n    - scheme: {scheme}\n      path_prefix: {}\n      \
                 static_configs:\n        - targets: [{}]\n",
                yaml_str(&format!("/{prefix}")),
                yaml_str(host)
            );
        }
        config += &format!(
            "scrape_configs:\n  - job_name: acdstream\n    static_configs:\n      - targets: ['127.0.0.1:{scrape_target_port}']\n"
        );
        Prometheus::start_with_config(dir, &config)
    }

    /// Runs with the given configuration (YAML), written to `dir/prometheus.yml`.
    pub fn start_with_config(dir: &Path, config: &str) -> Prometheus {
        let binary = prometheus_binary();
        std::fs::create_dir_all(dir).unwrap();
        let file = dir.join("prometheus.yml");
        std::fs::write(&file, config).unwrap();
        let port = free_port();
        let mut cmd = Command::new(binary);
        cmd.arg(format!("--config.file={}", file.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("prometheus-data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"));
        Prometheus {
            server: Server::start("prometheus", cmd, port, dir.join("prometheus.log")),
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.server.port)
    }

    pub fn port(&self) -> u16 {
        self.server.port
    }

    /// An instant query at the current time: the `data.result` samples; panics on an error.
    pub fn query(&self, q: &str) -> Vec<Value> {
        self.try_query(q)
            .unwrap_or_else(|e| panic!("/api/v1/query {q}: {e}"))
    }

    /// An instant query: the result vector, or Prometheus' error (parse or evaluation), so that
    /// a test can list every bad query at once.
    pub fn try_query(&self, q: &str) -> Result<Vec<Value>, String> {
        self.api(&format!("/api/v1/query?query={}", url_encode(q)))
    }

    /// A range query over `[start, end]` (Unix seconds) at `step` seconds.
    pub fn query_range(
        &self,
        q: &str,
        start: f64,
        end: f64,
        step: f64,
    ) -> Result<Vec<Value>, String> {
        self.api(&format!(
            "/api/v1/query_range?query={}&start={start}&end={end}&step={step}",
            url_encode(q)
        ))
    }

    /// The `data` of any GET API call, or the error it answered with.
    pub fn api_data(&self, path: &str) -> Result<Value, String> {
        let (status, body) = http_get(self.server.port, path)
            .ok_or_else(|| "Prometheus did not answer".to_string())?;
        let v: Value = serde_json::from_str(&body)
            .map_err(|e| format!("HTTP {status}, not JSON ({e}): {body}"))?;
        if v["status"] != "success" {
            return Err(format!(
                "{}: {}",
                v["errorType"].as_str().unwrap_or("error"),
                v["error"].as_str().unwrap_or(&body)
            ));
        }
        Ok(v["data"].clone())
    }

    fn api(&self, path: &str) -> Result<Vec<Value>, String> {
        let data = self.api_data(path)?;
        Ok(data["result"].as_array().cloned().unwrap_or_default())
    }

    /// `GET /api/v1/alerts`: pending and firing alerts of the loaded rules.
    pub fn alerts(&self) -> Vec<Value> {
        get_json(self.server.port, "/api/v1/alerts")["data"]["alerts"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// `GET /api/v1/rules`: the loaded rule groups, with each rule's health.
    pub fn rule_groups(&self) -> Vec<Value> {
        get_json(self.server.port, "/api/v1/rules")["data"]["groups"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    pub fn log_text(&self) -> String {
        self.server.log_text()
    }
}

/// The value of an instant-vector sample (`NaN` when it is not a number).
pub fn value(sample: &Value) -> f64 {
    sample["value"][1]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(f64::NAN)
}
