//! The live proof: every PromQL expression of every dashboard (panels, variables,
//! annotations) evaluated by a real Prometheus, configured from `deploy/compose/prometheus.yml`
//! with the shipped rules and Alertmanager configuration, scraping `acdstream run` (configured
//! from `deploy/compose/acdstream.toml`) on a real broker fed with the compose simulator's
//! scenario in real time. Any query that errors or has no series fails the test, all listed at
//! once, and the wallboard's panels are printed with the values and colours the TV would show.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::ClientConfig;
use serde_json::Value;

use crate::common::alerting::{value, Alertmanager, Prometheus};
use crate::common::grafana::{self, queries, substitute, variable_promql, variables, Board, Kind};
use crate::common::{self, Broker, Deployment, Service};
use crate::compose::compose_prometheus_config;
use crate::{boards, config_of, fail_all, read, repo, report, ALERTMANAGER, RULES, WALLBOARD};

/// Produces lines in real time: each as soon as the wall clock reaches its event time.
struct Feeder {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<usize>>,
}

impl Feeder {
    fn start(brokers: &str, topic: &str, lines: Vec<(i64, String, String)>) -> Feeder {
        let stop = Arc::new(AtomicBool::new(false));
        let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("linger.ms", "5")
            .create()
            .unwrap();
        let topic = topic.to_string();
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut sent = 0;
            for (ts, key, line) in &lines {
                loop {
                    if flag.load(Ordering::Relaxed) {
                        let _ = producer.flush(Duration::from_secs(5));
                        return sent;
                    }
                    if jiff::Timestamp::now().as_millisecond() >= *ts {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                let _ = producer.send(BaseRecord::to(&topic).key(key).payload(line));
                sent += 1;
            }
            let _ = producer.flush(Duration::from_secs(5));
            sent
        });
        Feeder {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Feeder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Everything running: broker, acdstream run, the real-time feed, Prometheus.
struct Live {
    prom: Prometheus,
    alertmanager: Alertmanager,
    service: Service,
    _feeder: Feeder,
    _broker: Broker,
    started: f64,
    dir: PathBuf,
}

fn now_s() -> f64 {
    jiff::Timestamp::now().as_millisecond() as f64 / 1000.0
}

fn start_live() -> Live {
    let dir = common::scratch_dir("deploy-live");
    let broker = Broker::memory("deploy-broker");
    // Alertmanager with the shipped configuration: Prometheus sends the rules' alerts to it and
    // acdstream pushes its own (its receivers are placeholders that fail to deliver).
    let alertmanager =
        Alertmanager::start_with_config(&dir.join("alertmanager"), &read(ALERTMANAGER));
    let compose_config = config_of("deploy/compose/acdstream.toml");
    let alertmanager_url = compose_config
        .alerts
        .alertmanager_url
        .as_deref()
        .map(|u| {
            let compose_host = u.trim_start_matches("http://").trim_end_matches('/');
            assert_eq!(
                compose_host, "alertmanager:9093",
                "compose alertmanager_url"
            );
            alertmanager.url()
        })
        .unwrap_or_default();
    // acdstream as compose runs it: its config file, the wall clock and 1 s publishing; the
    // harness's environment only moves it to the test's broker, topics, port and Alertmanager.
    let d = Deployment::new(&broker, "deploy", 3)
        .with_env(("ACDSTREAM_ALERTS__ALERTMANAGER_URL", &alertmanager_url))
        .with_env((
            "ACDSTREAM_CONFIG",
            repo()
                .join("deploy/compose/acdstream.toml")
                .to_str()
                .unwrap(),
        ))
        .with_env(("ACDSTREAM_ENGINE__CLOCK", "wall"))
        .with_env(("ACDSTREAM_PUBLISH__INTERVAL", "1s"))
        .with_env(("ACDSTREAM_KAFKA__CHECKPOINT_INTERVAL", "5s"));

    // The compose simulator's scenario, started 85 minutes ago: the history up to now is
    // produced at once, the rest in real time while Prometheus scrapes. Its surge on support
    // began 15 minutes ago, after the hour of baseline the detector needs.
    let now = jiff::Timestamp::now();
    let start = jiff::Timestamp::from_second(now.as_second() - 85 * 60).unwrap();
    let (_, lines) = common::simulate(
        &dir,
        "scenario.jsonl",
        &[
            "--scenario",
            repo()
                .join("deploy/compose/scenario.toml")
                .to_str()
                .unwrap(),
            "--start",
            &start.to_string(),
            "--duration",
            "95m",
            "--seed",
            "5",
        ],
    );
    let now_ms = now.as_millisecond();
    let parsed: Vec<(i64, String, String)> = lines
        .into_iter()
        .map(|l| {
            let v: Value = serde_json::from_str(&l).unwrap();
            (
                v["ts"].as_i64().unwrap(),
                v["queue_id"].as_str().unwrap().to_string(),
                l,
            )
        })
        .collect();
    let split = parsed
        .iter()
        .position(|(ts, _, _)| *ts > now_ms)
        .unwrap_or(parsed.len());
    let history: Vec<String> = parsed[..split].iter().map(|(_, _, l)| l.clone()).collect();
    d.produce(&history);
    let feeder = Feeder::start(&d.brokers, &d.topic("events"), parsed[split..].to_vec());

    let service = Service::start(&d, "a");
    common::wait_for(
        "acdstream to be ready with 4 queues",
        Duration::from_secs(60),
        || service.ready() && service.metric("acd_queues", &[]) == 4.0,
    );

    let hosts: BTreeMap<&str, String> = [
        ("acdstream:9898", format!("127.0.0.1:{}", service.http_port)),
        (
            "alertmanager:9093",
            format!("127.0.0.1:{}", alertmanager.port()),
        ),
    ]
    .into_iter()
    .collect();
    let (config, _) = compose_prometheus_config(&hosts);
    let prom = Prometheus::start_with_config(&dir.join("prometheus"), &config);
    let started = now_s();
    // 12 scrapes of acdstream: every rate() over $__rate_interval (10 s) has several samples.
    common::wait_for("12 scrapes of acdstream", Duration::from_secs(60), || {
        prom.try_query(
            "count_over_time(up{job=\"acdstream\"}[30s]) >= 12 and up{job=\"acdstream\"} == 1",
        )
        .is_ok_and(|r| !r.is_empty())
    });
    Live {
        prom,
        alertmanager,
        service,
        _feeder: feeder,
        _broker: broker,
        started,
        dir,
    }
}

/// Values of every variable for evaluating a dashboard: `queue` is `queue`, custom variables
/// their current value, other query variables all their values (as "All" does).
fn resolve_variables(
    prom: &Prometheus,
    b: &Board,
    queue: &str,
    problems: &mut Vec<String>,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for v in variables(&b.json) {
        let name = v["name"].as_str().unwrap_or_default().to_string();
        match v["type"].as_str() {
            Some("query") if name == "queue" => {
                out.insert(name, queue.to_string());
            }
            Some("query") => {
                let label = v["definition"]
                    .as_str()
                    .and_then(|d| d.rsplit_once(','))
                    .map(|(_, l)| l.trim_end_matches(')').trim().to_string())
                    .unwrap_or_default();
                let expr = variable_promql(v["definition"].as_str().unwrap_or_default());
                let values: Vec<String> = prom
                    .try_query(&expr)
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|s| s["metric"][&label].as_str().map(str::to_string))
                    .collect();
                if values.is_empty() {
                    problems.push(format!("{}: variable ${name} has no values", b.file));
                }
                out.insert(name, format!("({})", values.join("|")));
            }
            Some("custom") => {
                let current = v["current"]["value"].as_str().unwrap_or_default();
                out.insert(name, current.to_string());
            }
            _ => {}
        }
    }
    out
}

#[test]
fn every_dashboard_query_has_data_on_a_real_prometheus() {
    let live = start_live();
    let prom = &live.prom;
    let boards = boards();
    let mut problems = Vec::new();

    // The queue variable lists the simulated queues.
    let queues: BTreeSet<String> = prom
        .try_query(&variable_promql("label_values(acd_calls_waiting, queue)"))
        .unwrap()
        .iter()
        .filter_map(|s| s["metric"]["queue"].as_str().map(str::to_string))
        .collect();
    assert_eq!(
        queues.iter().map(String::as_str).collect::<Vec<_>>(),
        ["billing", "retention", "sales", "support"]
    );

    let mut evaluated = 0;
    let mut with_data = 0;
    for b in &boards {
        let mut vars = resolve_variables(prom, b, "support", &mut problems);
        // Custom variables: every option, so that each window is tried.
        let custom: Vec<(String, Vec<String>)> = variables(&b.json)
            .into_iter()
            .filter(|v| v["type"] == "custom")
            .map(|v| {
                let opts = v["options"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|o| o["value"].as_str().map(str::to_string))
                    .collect();
                (v["name"].as_str().unwrap().to_string(), opts)
            })
            .collect();
        let rounds: Vec<BTreeMap<String, String>> = match custom.first() {
            Some((name, opts)) => opts
                .iter()
                .map(|o| {
                    vars.insert(name.clone(), o.clone());
                    vars.clone()
                })
                .collect(),
            None => vec![vars.clone()],
        };
        let mut seen = BTreeSet::new();
        for round in &rounds {
            for q in queries(b) {
                let expr = match q.kind {
                    Kind::Variable => variable_promql(&substitute(&q.expr, round)),
                    _ => substitute(&q.expr, round),
                };
                if !seen.insert(expr.clone()) {
                    continue;
                }
                evaluated += 1;
                if expr.contains('$') {
                    problems.push(format!(
                        "{} {}: unresolved variable in {expr}",
                        q.board, q.place
                    ));
                    continue;
                }
                let result = match q.kind {
                    // Annotations are range queries: a surge anywhere in the scraped time.
                    Kind::Annotation => prom.query_range(&expr, live.started, now_s(), 1.0),
                    _ => prom.try_query(&expr),
                };
                match result {
                    Err(e) => problems.push(format!("{} {}: {e}\n      {expr}", q.board, q.place)),
                    Ok(r) if r.is_empty() => {
                        problems.push(format!("{} {}: no series\n      {expr}", q.board, q.place))
                    }
                    Ok(_) => with_data += 1,
                }
            }
        }
    }
    report(&format!(
        "dashboard queries: {evaluated} distinct expressions evaluated on Prometheus, {with_data} with data\n"
    ));

    // The rules Prometheus loaded (the shipped file through the compose config) evaluate
    // without errors, and what fires is shown.
    match prom.api_data("/api/v1/rules") {
        Ok(data) => {
            let mut firing = Vec::new();
            for g in data["groups"].as_array().into_iter().flatten() {
                for r in g["rules"].as_array().into_iter().flatten() {
                    if r["health"] == "err" {
                        problems.push(format!(
                            "rule {} in group {}: {}",
                            r["name"], g["name"], r["lastError"]
                        ));
                    }
                    for a in r["alerts"].as_array().into_iter().flatten() {
                        firing.push(format!(
                            "{} {} {}",
                            r["name"].as_str().unwrap_or(""),
                            a["labels"]["queue"].as_str().unwrap_or(""),
                            a["state"].as_str().unwrap_or("")
                        ));
                    }
                }
            }
            let groups = data["groups"].as_array().map_or(0, Vec::len);
            report(&format!(
                "Prometheus loaded {groups} rule group(s) through deploy/compose/prometheus.yml; alerts now: {}\n",
                if firing.is_empty() { "none".to_string() } else { firing.join(", ") }
            ));
            if !repo().join(RULES).exists() {
                problems.push(format!(
                    "{RULES} is missing: it comes from the rules branch through main"
                ));
            } else if groups == 0 {
                problems.push("Prometheus loaded no rule group from the compose config".into());
            }
        }
        Err(e) => problems.push(format!("/api/v1/rules: {e}")),
    }

    let series = prom
        .try_query("sum(scrape_samples_scraped{job=\"acdstream\"})")
        .ok()
        .and_then(|r| r.first().map(value))
        .unwrap_or(f64::NAN);
    report(&format!(
        "acdstream exposes {series} series for {} queues\n",
        queues.len()
    ));
    // What reached the shipped Alertmanager, by path.
    let mut received: Vec<String> = live
        .alertmanager
        .alerts_api()
        .iter()
        .map(|a| {
            let l = &a["labels"];
            format!(
                "{} {} (origin {})",
                l["alertname"].as_str().unwrap_or(""),
                l["queue"].as_str().unwrap_or(""),
                l["origin"].as_str().unwrap_or("?")
            )
        })
        .collect();
    received.sort();
    report(&format!(
        "Alertmanager (deploy/alertmanager/alertmanager.yml) holds: {}\n",
        if received.is_empty() {
            "no alert yet".to_string()
        } else {
            received.join(", ")
        }
    ));
    let floor = &boards.iter().find(|b| b.file == WALLBOARD).unwrap().json;
    report(&grafana::render_wallboard(prom, floor, &queues));
    if !problems.is_empty() {
        report(&format!(
            "acdstream log (tail):\n{}\n",
            tail(&live.service.log_text(), 20)
        ));
    }
    fail_all("dashboard queries on a real Prometheus", &problems);
    let dir = live.dir.clone();
    drop(live);
    let _ = std::fs::remove_dir_all(dir);
}

fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
