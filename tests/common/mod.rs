//! Real processes for the integration tests: a tansu Kafka broker, `acdstream run`, and small
//! clients to produce and read topics; Prometheus, Alertmanager, `promtool` and `amtool` in
//! [`alerting`]; the Grafana dashboards as data in [`grafana`]; headless chromium in
//! [`browser`].

#![allow(dead_code)] // each test file uses a different part of the harness

pub mod alerting;
pub mod browser;
pub mod grafana;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::ClientConfig;
use serde_json::Value;

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A GET over a fresh connection: status and body (chunked bodies are reassembled).
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    http_request(port, "GET", path, None)
}

/// A POST of a JSON body over a fresh connection: status and body.
pub fn http_post_json(port: u16, path: &str, body: &Value) -> Option<(u16, String)> {
    http_request(port, "POST", path, Some(body.to_string().as_bytes()))
}

fn http_request(port: u16, method: &str, path: &str, body: Option<&[u8]>) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let mut request =
        format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    if let Some(body) = body {
        request += &format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        );
    }
    request += "\r\n";
    s.write_all(request.as_bytes()).ok()?;
    s.write_all(body.unwrap_or_default()).ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw).to_string();
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    // Prometheus answers with chunked encoding; its JSON never contains CRLF, so the chunk
    // sizes are the lines that are pure hex.
    let body = if text
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body.split("\r\n")
            .filter(|l| !l.chars().all(|c| c.is_ascii_hexdigit()))
            .collect()
    } else {
        body
    };
    Some((status, body))
}

pub fn wait_for(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("acdstream-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn tansu() -> PathBuf {
    if let Some(path) = std::env::var_os("ACDSTREAM_TEST_TANSU") {
        return path.into();
    }
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::var_os("HOME")
                .map(PathBuf::from)
                .unwrap_or_default()
                .join(".cargo")
        });
    let installed = cargo_home.join("bin/tansu");
    if installed.exists() {
        return installed;
    }
    panic!(
        "the tansu broker is needed for this test: run scripts/test.sh (it installs it with \
         cargo install tansu --version 0.6.0) or set ACDSTREAM_TEST_TANSU"
    );
}

/// A tansu broker on a free loopback port.
pub struct Broker {
    child: Option<Child>,
    pub port: u16,
    storage: String,
    dir: PathBuf,
}

impl Broker {
    /// In-memory storage: fast, gone when the process stops.
    pub fn memory(name: &str) -> Broker {
        Broker::start(scratch_dir(name), "memory://tansu/".into())
    }

    /// SQLite storage in a scratch directory: topics and offsets survive a restart.
    pub fn sqlite(name: &str) -> Broker {
        Broker::start(scratch_dir(name), "sqlite://tansu.db".into())
    }

    fn start(dir: PathBuf, storage: String) -> Broker {
        let mut b = Broker {
            child: None,
            port: free_port(),
            storage,
            dir,
        };
        b.restart();
        b
    }

    pub fn brokers(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Starts (again) on the same port and storage.
    pub fn restart(&mut self) {
        let url = format!("tcp://127.0.0.1:{}", self.port);
        let log = std::fs::File::create(self.dir.join("tansu.log")).unwrap();
        let child = Command::new(tansu())
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", &self.storage])
            .current_dir(&self.dir)
            .env_remove("CLUSTER_ID")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("tansu starts");
        self.child = Some(child);
        let port = self.port;
        wait_for(
            "the broker to accept connections",
            Duration::from_secs(20),
            || TcpStream::connect(("127.0.0.1", port)).is_ok(),
        );
    }

    /// Stops the broker abruptly.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Settings of one `acdstream run` test deployment, passed as environment variables.
#[derive(Clone)]
pub struct Deployment {
    pub brokers: String,
    pub prefix: String,
    pub partitions: i32,
    extra: Vec<(String, String)>,
}

impl Deployment {
    pub fn new(broker: &Broker, prefix: &str, partitions: i32) -> Deployment {
        let d = Deployment {
            brokers: broker.brokers(),
            prefix: prefix.to_string(),
            partitions,
            extra: Vec::new(),
        };
        let out = Command::new(env!("CARGO_BIN_EXE_acdstream"))
            .args(["topics", "--partitions", &partitions.to_string()])
            .envs(d.env())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "topics: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        d
    }

    /// One more setting for the services of this deployment.
    pub fn with_env(mut self, (key, value): (&str, &str)) -> Deployment {
        self.extra.push((key.to_string(), value.to_string()));
        self
    }

    pub fn topic(&self, role: &str) -> String {
        format!("{}.{role}", self.prefix)
    }

    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("ACDSTREAM_KAFKA__BROKERS", self.brokers.clone()),
            ("ACDSTREAM_KAFKA__EVENTS_TOPIC", self.topic("events")),
            ("ACDSTREAM_KAFKA__KPI_TOPIC", self.topic("kpi")),
            ("ACDSTREAM_KAFKA__DLQ_TOPIC", self.topic("dlq")),
            ("ACDSTREAM_KAFKA__ALERTS_TOPIC", self.topic("alerts")),
            ("ACDSTREAM_KAFKA__ALERTS_FORMAT", "json".into()),
            (
                "ACDSTREAM_KAFKA__CHECKPOINT_TOPIC",
                self.topic("checkpoints"),
            ),
            (
                "ACDSTREAM_KAFKA__GROUP_ID",
                format!("{}-group", self.prefix),
            ),
            ("ACDSTREAM_KAFKA__EVENTS_FORMAT", "json".into()),
            ("ACDSTREAM_KAFKA__KPI_FORMAT", "json".into()),
            ("ACDSTREAM_KAFKA__CHECKPOINT_INTERVAL", "1s".into()),
            ("ACDSTREAM_KAFKA__SHUTDOWN_TIMEOUT", "10s".into()),
            ("ACDSTREAM_PUBLISH__INTERVAL", "200ms".into()),
            ("ACDSTREAM_ENGINE__CLOCK", "event".into()),
            ("ACDSTREAM_LOG__LEVEL", "info".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .chain(self.extra.iter().cloned())
        .collect()
    }

    /// Produces JSON lines, keyed as the deployment guide tells producers: by queue, except
    /// that queues sharing agents share a key, and an `agent_state` without a queue takes its
    /// agent's key. The simulator's shared agents work sales and retention, keyed "sales".
    /// Unparseable lines are keyed "unparseable".
    pub fn produce(&self, lines: &[String]) {
        self.send(lines, |line| {
            serde_json::from_str::<Value>(line)
                .ok()
                .and_then(|v| v["queue_id"].as_str().map(str::to_string))
                .map(|queue| match queue.as_str() {
                    "retention" | "" => "sales".to_string(),
                    _ => queue,
                })
                .unwrap_or_else(|| "unparseable".to_string())
        });
    }

    /// Produces lines all keyed by `key` (a PBX's queue_log, as a log shipper sends it).
    pub fn produce_keyed(&self, lines: &[String], key: &str) {
        self.send(lines, |_| key.to_string());
    }

    fn send(&self, lines: &[String], key_of: impl Fn(&str) -> String) {
        let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
            .set("bootstrap.servers", &self.brokers)
            .set("linger.ms", "5")
            .create()
            .unwrap();
        let topic = self.topic("events");
        for line in lines {
            let key = key_of(line);
            let mut record = BaseRecord::to(&topic).key(&key).payload(line);
            loop {
                match producer.send(record) {
                    Ok(()) => break,
                    Err((_, back)) => {
                        record = back;
                        std::thread::sleep(Duration::from_millis(5));
                    }
                }
            }
        }
        producer.flush(Duration::from_secs(30)).unwrap();
    }

    /// Every record of a topic, in partition then offset order.
    pub fn read(&self, role: &str) -> Vec<Record> {
        read_topic(&self.brokers, &self.topic(role))
    }

    /// The newest KPI snapshot of every queue on the KPI topic.
    pub fn latest_kpis(&self) -> BTreeMap<String, Value> {
        self.read("kpi")
            .into_iter()
            .filter_map(|r| Some((r.key?, serde_json::from_slice(&r.payload).ok()?)))
            .collect()
    }
}

#[derive(Debug, Clone)]
pub struct Record {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<String>,
    pub payload: Vec<u8>,
    pub headers: BTreeMap<String, String>,
}

pub fn read_topic(brokers: &str, topic: &str) -> Vec<Record> {
    // librdkafka wants a group for assign(), even without commits.
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "acdstream-test-reader")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .unwrap();
    let partitions: Vec<i32> = metadata.topics()[0]
        .partitions()
        .iter()
        .map(|p| p.id())
        .collect();
    let mut ends = BTreeMap::new();
    let mut tpl = TopicPartitionList::new();
    for p in partitions {
        let (low, high) = consumer
            .fetch_watermarks(topic, p, Duration::from_secs(10))
            .unwrap();
        if high > low {
            ends.insert(p, high);
            tpl.add_partition_offset(topic, p, Offset::Beginning)
                .unwrap();
        }
    }
    let mut out = Vec::new();
    if ends.is_empty() {
        return out;
    }
    consumer.assign(&tpl).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        assert!(Instant::now() < deadline, "reading {topic} timed out");
        // tansu reports a partition's end as the start of its last batch: past the reported
        // ends, read on until the fetch runs dry.
        let Some(m) = consumer.poll(Duration::from_millis(if ends.is_empty() {
            500
        } else {
            200
        })) else {
            if ends.is_empty() {
                break;
            }
            continue;
        };
        let m = m.unwrap();
        let headers = m
            .headers()
            .map(|h| {
                h.iter()
                    .map(|h| {
                        (
                            h.key.to_string(),
                            String::from_utf8_lossy(h.value.unwrap_or_default()).to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        out.push(Record {
            partition: m.partition(),
            offset: m.offset(),
            key: m.key().map(|k| String::from_utf8_lossy(k).to_string()),
            payload: m.payload().unwrap_or_default().to_vec(),
            headers,
        });
        if ends
            .get(&m.partition())
            .is_some_and(|&end| m.offset() + 1 >= end)
        {
            ends.remove(&m.partition());
        }
    }
    out.sort_by_key(|r| (r.partition, r.offset));
    out
}

/// A running `acdstream run`.
pub struct Service {
    child: Option<Child>,
    pub http_port: u16,
    pub log: PathBuf,
}

impl Service {
    pub fn start(d: &Deployment, name: &str) -> Service {
        let http_port = free_port();
        let log = std::env::temp_dir().join(format!(
            "acdstream-{}-{name}-{}.log",
            d.prefix,
            std::process::id()
        ));
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_acdstream"))
            .arg("run")
            .envs(d.env())
            .env("ACDSTREAM_HTTP__LISTEN", format!("127.0.0.1:{http_port}"))
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("acdstream run starts");
        let s = Service {
            child: Some(child),
            http_port,
            log,
        };
        wait_for("/healthz", Duration::from_secs(20), || {
            s.get("/healthz").is_some_and(|(st, _)| st == 200)
        });
        s
    }

    pub fn get(&self, path: &str) -> Option<(u16, String)> {
        http_get(self.http_port, path)
    }

    pub fn ready(&self) -> bool {
        self.get("/readyz").is_some_and(|(s, _)| s == 200)
    }

    /// CPU seconds (user + system, every thread) the process has used so far, from
    /// `/proc/<pid>/stat` (Linux; clock ticks of 1/100 s).
    pub fn cpu_seconds(&self) -> f64 {
        let pid = self.child.as_ref().map_or(0, Child::id);
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // Fields after the command name (which may hold spaces) in parentheses.
        let fields: Vec<&str> = stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .collect();
        let ticks = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
        (ticks(11) + ticks(12)) / 100.0
    }

    /// Sum of every series of a metric whose labels contain all of `labels` (`k="v"` pairs).
    pub fn metric(&self, name: &str, labels: &[&str]) -> f64 {
        let Some((_, body)) = self.get("/metrics") else {
            return f64::NAN;
        };
        body.lines()
            .filter(|l| !l.starts_with('#'))
            .filter(|l| l.split(['{', ' ']).next() == Some(name))
            .filter(|l| labels.iter().all(|lab| l.contains(lab)))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    pub fn metrics_text(&self) -> String {
        self.get("/metrics").map(|(_, b)| b).unwrap_or_default()
    }

    /// `kill -9`.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM, and the exit status.
    pub fn stop(&mut self) -> Option<i32> {
        let mut c = self.child.take()?;
        let _ = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = c.try_wait() {
                return status.code();
            }
            if Instant::now() > deadline {
                let _ = c.kill();
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// `acdstream replay --json` of a file, one snapshot per queue.
pub fn replay(file: &Path, config: Option<&Path>) -> BTreeMap<String, Value> {
    replay_as(file, config, &[])
}

/// [`replay`] with more arguments (`--format …`).
pub fn replay_as(file: &Path, config: Option<&Path>, args: &[&str]) -> BTreeMap<String, Value> {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_acdstream"));
    if let Some(c) = config {
        cmd.arg("--config").arg(c);
    }
    let out = cmd
        .arg("replay")
        .args(args)
        .arg(file)
        .arg("--json")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (v["queue_id"].as_str().unwrap().to_string(), v)
        })
        .collect()
}

/// A snapshot without `as_of`: what must agree between the service and a replay.
pub fn kpis_of(snapshot: &Value) -> Value {
    let mut v = snapshot.clone();
    v.as_object_mut().unwrap().remove("as_of");
    v
}

/// Lines of a simulated day: `acdstream simulate` with the given extra arguments.
pub fn simulate(dir: &Path, name: &str, args: &[&str]) -> (PathBuf, Vec<String>) {
    let file = dir.join(name);
    let status = Command::new(env!("CARGO_BIN_EXE_acdstream"))
        .arg("simulate")
        .args(args)
        .arg("--out")
        .arg(&file)
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let lines = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    (file, lines)
}

/// `acdstream demo` on a loopback port: 65 minutes of simulated history (the surge rule's
/// baseline), publishing every 250 ms, `speed` × real time; killed when dropped.
pub struct Demo(Child);

impl Demo {
    /// Starts it and waits until `/readyz` answers 200.
    pub fn start(port: u16, speed: u32, env: &[(&str, &str)]) -> Demo {
        let child = Command::new(env!("CARGO_BIN_EXE_acdstream"))
            .args(["demo", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--speed", &speed.to_string(), "--warmup", "65m"])
            .env("ACDSTREAM_PUBLISH__INTERVAL", "250ms")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("demo starts");
        let demo = Demo(child);
        wait_for("the demo to be ready", Duration::from_secs(20), || {
            http_get(port, "/readyz").is_some_and(|(s, _)| s == 200)
        });
        demo
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
