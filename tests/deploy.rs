//! The Grafana dashboards and the deploy bundle (issue 5), proven without Docker or Grafana:
//!
//! - every PromQL expression of every dashboard (panels, variables, annotations) is evaluated
//!   by a real Prometheus, configured from `deploy/compose/prometheus.yml` with the shipped
//!   rules, scraping `acdstream run` (configured from `deploy/compose/acdstream.toml`) on a real
//!   broker fed with the compose simulator's scenario in real time; any query that errors or
//!   has no series fails the test, all listed at once, and the wallboard's panels are printed
//!   with the values and colours the TV would show;
//! - the dashboards' structure (uids, ids, datasource variable, variables, layout, thresholds);
//! - the compose file, the Dockerfile and the Kubernetes manifests against each other, the
//!   configs and the README, plus `promtool check config|rules` and `amtool check-config`.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use acdstream::config::Config;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::ClientConfig;
use serde_json::{json, Value};

use common::alerting::{amtool, promtool, value, Alertmanager, Prometheus};
use common::grafana::{
    self, all_panels, queries, strings, substitute, title, var_refs, variable_promql, variables,
};
use common::grafana::{Board, Kind};
use common::{Broker, Deployment, Service};

/// Dashboard files and their uids: links and bookmarked TV URLs (`/d/<uid>`) depend on them.
const DASHBOARDS: [(&str, &str); 3] = [
    ("floor-wallboard.json", "acd-floor"),
    ("queue-detail.json", "acd-queue-detail"),
    ("operations.json", "acd-operations"),
];
const WALLBOARD: &str = "floor-wallboard.json";
/// The datasource template variable every query goes through.
const DS_VAR: &str = "DS_PROMETHEUS";
/// Grafana's grid is 24 columns wide; a height unit is 30 px plus an 8 px gap, so a
/// 1920×1080 TV in kiosk mode (no header, no variable bar) shows (1080 + 8) / 38 = 28 units.
const GRID_COLUMNS: i64 = 24;
const TV_ROWS: i64 = (1080 + 8) / 38;
/// One TV shows up to this many queues (the demo's four): a floor with more selects its queues
/// per TV (`?var-queue=…`), which the wallboard's description says.
const QUEUES_PER_TV: i64 = 4;
const RULES: &str = "deploy/prometheus/rules/acdstream.rules.yml";
const ALERTMANAGER: &str = "deploy/alertmanager/alertmanager.yml";
const PROMETHEUS_RULE: &str = "deploy/k8s/prometheusrule.yaml";
/// What the README's Deploy section gives as the build command, and the Dockerfile must run.
const BUILD_COMMAND: &str = "cargo build --release --locked";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// A YAML file as JSON values (merge keys applied), so one API walks YAML and JSON.
fn yaml_text(text: &str, what: &str) -> Value {
    let mut v: serde_norway::Value =
        serde_norway::from_str(text).unwrap_or_else(|e| panic!("{what} is not YAML: {e}"));
    v.apply_merge().unwrap();
    serde_json::to_value(v).unwrap_or_else(|e| panic!("{what}: {e}"))
}

fn yaml(rel: &str) -> Value {
    yaml_text(&read(rel), rel)
}

fn config_of(rel: &str) -> Config {
    Config::from_sources(Some(&read(rel)), std::iter::empty())
        .unwrap_or_else(|e| panic!("{rel} is not a valid acdstream configuration: {e}"))
}

fn fail_all(what: &str, problems: &[String]) {
    assert!(
        problems.is_empty(),
        "{what}: {} problem(s):\n  - {}",
        problems.len(),
        problems.join("\n  - ")
    );
}

/// Writes past the test harness's output capture, so the report shows in every run.
fn report(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(text.as_bytes());
    let _ = err.flush();
}

fn boards() -> Vec<Board> {
    let files: Vec<&'static str> = DASHBOARDS.iter().map(|(f, _)| *f).collect();
    grafana::load(&repo().join("grafana/dashboards"), &files)
}

// ---------------------------------------------------------------------------------------------
// Dashboards: structure
// ---------------------------------------------------------------------------------------------

#[test]
fn dashboards_are_well_formed() {
    let boards = boards();
    let mut problems = Vec::new();
    let mut uids = BTreeSet::new();
    for b in &boards {
        let d = &b.json;
        let f = b.file;
        let expected_uid = DASHBOARDS.iter().find(|(n, _)| *n == f).unwrap().1;
        let uid = d["uid"].as_str().unwrap_or_default();
        if uid != expected_uid {
            problems.push(format!(
                "{f}: uid {uid:?}, expected the stable {expected_uid:?}"
            ));
        }
        if !uids.insert(uid.to_string()) {
            problems.push(format!("{f}: uid {uid} used twice"));
        }
        if d["title"].as_str().unwrap_or_default().is_empty() {
            problems.push(format!("{f}: no title"));
        }
        if d["id"].is_number() {
            problems.push(format!(
                "{f}: a numeric id (instance-specific) must not be provisioned"
            ));
        }

        // The datasource variable, and every query going through it.
        let vars = variables(d);
        let names: BTreeSet<&str> = vars.iter().filter_map(|v| v["name"].as_str()).collect();
        match vars.iter().find(|v| v["name"] == DS_VAR) {
            Some(v) if v["type"] == "datasource" && v["query"] == "prometheus" => {}
            _ => problems.push(format!(
                "{f}: no datasource variable {DS_VAR} of type prometheus"
            )),
        }
        let ds_ok = |ds: &Value| {
            ds["uid"] == format!("${{{DS_VAR}}}")
                && (ds["type"].is_null() || ds["type"] == "prometheus")
        };
        let mut ids = BTreeSet::new();
        for p in all_panels(d) {
            let t = title(p);
            match p["id"].as_i64() {
                Some(id) if ids.insert(id) => {}
                Some(id) => problems.push(format!("{f}: panel id {id} used twice ('{t}')")),
                None => problems.push(format!("{f}: panel '{t}' has no id")),
            }
            if p["type"] == "row" {
                continue;
            }
            if !ds_ok(&p["datasource"]) {
                problems.push(format!(
                    "{f}: panel '{t}' datasource {} is not ${{{DS_VAR}}}",
                    p["datasource"]
                ));
            }
            let targets = p["targets"].as_array().cloned().unwrap_or_default();
            if targets.is_empty() {
                problems.push(format!("{f}: panel '{t}' has no query"));
            }
            for tg in &targets {
                if !tg["datasource"].is_null() && !ds_ok(&tg["datasource"]) {
                    problems.push(format!(
                        "{f}: panel '{t}' query {} datasource {}",
                        tg["refId"], tg["datasource"]
                    ));
                }
                if tg["expr"].as_str().unwrap_or_default().trim().is_empty() {
                    problems.push(format!(
                        "{f}: panel '{t}' query {} has no expr",
                        tg["refId"]
                    ));
                }
            }
            let refs: Vec<&str> = targets.iter().filter_map(|t| t["refId"].as_str()).collect();
            let unique: BTreeSet<&str> = refs.iter().copied().collect();
            if unique.len() != refs.len() {
                problems.push(format!("{f}: panel '{t}' repeats a refId"));
            }
        }
        for v in &vars {
            if v["type"] == "query" && !ds_ok(&v["datasource"]) {
                problems.push(format!(
                    "{f}: variable {} datasource {}",
                    v["name"], v["datasource"]
                ));
            }
        }
        for a in d["annotations"]["list"].as_array().into_iter().flatten() {
            if a["builtIn"] != 1 && !ds_ok(&a["datasource"]) {
                problems.push(format!(
                    "{f}: annotation {} datasource {}",
                    a["name"], a["datasource"]
                ));
            }
        }

        // Every variable used is defined (Grafana's own start with "__").
        let mut texts = Vec::new();
        strings(d, &mut texts);
        for s in texts {
            for name in var_refs(s) {
                if !name.starts_with("__") && !names.contains(name.as_str()) {
                    problems.push(format!("{f}: ${name} is used ({s:?}) but not defined"));
                }
            }
        }
        for p in all_panels(d) {
            if let Some(r) = p["repeat"].as_str() {
                let v = vars.iter().find(|v| v["name"] == r);
                if !v.is_some_and(|v| v["multi"] == true || v["includeAll"] == true) {
                    problems.push(format!(
                        "{f}: '{}' repeats over ${r}, which is not a multi-value variable",
                        title(p)
                    ));
                }
            }
        }

        // Layout: inside the 24 columns, no overlaps.
        let rects: Vec<(String, i64, i64, i64, i64)> = all_panels(d)
            .iter()
            .map(|p| {
                let g = &p["gridPos"];
                let n = |k: &str| g[k].as_i64().unwrap_or(-1);
                (title(p), n("x"), n("y"), n("w"), n("h"))
            })
            .collect();
        for (t, x, y, w, h) in &rects {
            if *x < 0 || *y < 0 || *w <= 0 || *h <= 0 || x + w > GRID_COLUMNS {
                problems.push(format!(
                    "{f}: panel '{t}' gridPos x={x} y={y} w={w} h={h} is off the 24-column grid"
                ));
            }
        }
        for (i, a) in rects.iter().enumerate() {
            for b2 in &rects[i + 1..] {
                let overlap =
                    a.1 < b2.1 + b2.3 && b2.1 < a.1 + a.3 && a.2 < b2.2 + b2.4 && b2.2 < a.2 + a.4;
                if overlap {
                    problems.push(format!("{f}: panels '{}' and '{}' overlap", a.0, b2.0));
                }
            }
        }

        // Thresholds follow the seed targets wherever a KPI with a target is shown.
        for p in all_panels(d) {
            if p["type"] == "row" {
                continue;
            }
            let exprs: String = p["targets"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|t| t["expr"].as_str())
                .collect::<Vec<_>>()
                .join(" ");
            let steps: Vec<f64> = p["fieldConfig"]["defaults"]["thresholds"]["steps"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|s| s["value"].as_f64())
                .collect();
            let has = |x: f64| steps.iter().any(|s| (s - x).abs() < 1e-9);
            let rule = if exprs.contains("acd_service_level_target_ratio") && p["type"] == "stat" {
                Some(("SL minus target", 0.0))
            } else if exprs.contains("acd_service_level_ratio") {
                Some(("SL target 80 %", 0.8))
            } else if exprs.contains("acd_asa_seconds") {
                Some(("ASA target 20 s", 20.0))
            } else if exprs.contains("acd_abandon_ratio") {
                Some(("abandon target 5 %", 0.05))
            } else if exprs.contains("acd_rings_per_answer") {
                Some(("rings per answer target 2", 2.0))
            } else if exprs.contains("acd_not_ready_ratio") {
                Some(("not-ready target 6 %", 0.06))
            } else {
                None
            };
            if let Some((what, x)) = rule {
                if !has(x) {
                    problems.push(format!("{f}: panel '{}' shows a KPI with a target but has no threshold step at {x} ({what}); steps {steps:?}", title(p)));
                }
            }
        }
    }

    // The wallboard: every stat coloured by thresholds, and it fits the TV.
    let floor = &boards.iter().find(|b| b.file == WALLBOARD).unwrap().json;
    for p in all_panels(floor) {
        if p["type"] == "row" {
            continue;
        }
        let t = title(p);
        if p["type"] != "stat" {
            problems.push(format!(
                "{WALLBOARD}: '{t}' is a {}, a wallboard shows large stat panels",
                p["type"]
            ));
            continue;
        }
        let defaults = &p["fieldConfig"]["defaults"];
        if defaults["thresholds"]["steps"]
            .as_array()
            .is_none_or(|s| s.is_empty())
        {
            problems.push(format!("{WALLBOARD}: stat '{t}' has no thresholds"));
        }
        if defaults["color"]["mode"] != "thresholds" {
            problems.push(format!(
                "{WALLBOARD}: stat '{t}' is not coloured by its thresholds"
            ));
        }
        let valued = defaults["thresholds"]["steps"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|s| s["value"].is_number())
            .count()
            + p["fieldConfig"]["overrides"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|o| o.to_string().contains("\"thresholds\""))
                .count();
        let counts = ["Offered today", "Answered today", "Abandoned today"];
        if valued == 0 && !counts.contains(&t.as_str()) {
            problems.push(format!(
                "{WALLBOARD}: stat '{t}' has only a base colour; it should turn amber/red"
            ));
        }
        if p["gridPos"]["h"].as_i64().unwrap_or(0) < 3 {
            problems.push(format!(
                "{WALLBOARD}: stat '{t}' is under 3 units high: unreadable across a room"
            ));
        }
    }
    let (height, repeated) = wallboard_height(floor, QUEUES_PER_TV);
    if height > TV_ROWS {
        problems.push(format!(
            "{WALLBOARD}: {height} grid units high with {QUEUES_PER_TV} queues (a repeated strip is {repeated}); a 1080-pixel TV shows {TV_ROWS}"
        ));
    }
    report(&format!(
        "wallboard layout: {height} of {TV_ROWS} grid units with {QUEUES_PER_TV} queues (one queue strip: {repeated} units), 24 columns\n"
    ));

    // The operations dashboard's heap model uses the README's current figures.
    let (per_queue, per_call, per_id) = readme_memory_figures();
    let ops = &boards
        .iter()
        .find(|b| b.file == "operations.json")
        .unwrap()
        .json;
    let heap = all_panels(ops)
        .into_iter()
        .find(|p| title(p).starts_with("Engine heap"))
        .map(|p| {
            p["targets"][0]["expr"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .unwrap_or_default();
    for factor in [
        format!("* {}", per_queue.round()),
        format!("* {per_call}"),
        format!("* {per_id}"),
    ] {
        if !heap.contains(&factor) {
            problems.push(format!(
                "operations.json: the estimated heap must use the README's figures ({factor}): {heap}"
            ));
        }
    }

    // Provisioning: the datasource the variable defaults to, and the provider path.
    let ds = yaml("grafana/provisioning/datasources/acdstream.yml");
    let prom_ds: Vec<&Value> = ds["datasources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["type"] == "prometheus")
        .collect();
    if prom_ds.len() != 1 || prom_ds[0]["isDefault"] != true {
        problems.push(
            "grafana/provisioning/datasources: exactly one Prometheus datasource, the default"
                .into(),
        );
    }
    let providers = yaml("grafana/provisioning/dashboards/acdstream.yml");
    if providers["providers"][0]["options"]["path"]
        .as_str()
        .is_none()
    {
        problems.push("grafana/provisioning/dashboards: the provider has no path".into());
    }
    fail_all("dashboards", &problems);
}

/// Height of the wallboard in grid units with `queues` strips of its repeated row, and the
/// height of one strip.
fn wallboard_height(board: &Value, queues: i64) -> (i64, i64) {
    let panels: Vec<&Value> = board["panels"].as_array().unwrap().iter().collect();
    let bottom =
        |p: &Value| p["gridPos"]["y"].as_i64().unwrap() + p["gridPos"]["h"].as_i64().unwrap();
    let total = panels.iter().map(|p| bottom(p)).max().unwrap_or(0);
    let mut repeated = 0;
    for (i, p) in panels.iter().enumerate() {
        if p["type"] == "row" && p["repeat"].is_string() {
            let start = p["gridPos"]["y"].as_i64().unwrap();
            let end = panels[i + 1..]
                .iter()
                .take_while(|q| q["type"] != "row")
                .map(|q| bottom(q))
                .max()
                .unwrap_or(start + 1);
            repeated += end - start;
        }
    }
    (total + (queues - 1) * repeated, repeated)
}

// ---------------------------------------------------------------------------------------------
// The live proof: every query on a real Prometheus scraping acdstream run
// ---------------------------------------------------------------------------------------------

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

/// Host paths of a compose service's bind mounts, by container path.
fn mounts(service: &Value, compose_dir: &Path) -> BTreeMap<String, PathBuf> {
    service["volumes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str())
        .filter_map(|v| {
            let mut parts = v.split(':');
            let (src, dst) = (parts.next()?, parts.next()?);
            (src.starts_with('.') || src.starts_with('/'))
                .then(|| (dst.to_string(), normalize(&compose_dir.join(src))))
        })
        .collect()
}

/// `a/b/../c/./d` → `a/c/d`, without touching the file system (the path may not exist).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// A container path resolved through the mounts (the longest mount that contains it).
fn host_path(mounts: &BTreeMap<String, PathBuf>, container_path: &str) -> Option<PathBuf> {
    mounts
        .iter()
        .filter(|(dst, _)| {
            container_path == dst.as_str() || container_path.starts_with(&format!("{dst}/"))
        })
        .max_by_key(|(dst, _)| dst.len())
        .map(|(dst, src)| {
            let rest = container_path[dst.len()..].trim_start_matches('/');
            if rest.is_empty() {
                src.clone()
            } else {
                src.join(rest)
            }
        })
}

/// `deploy/compose/prometheus.yml` for the test: container paths of rule files replaced by the
/// repository's (through the compose mounts), compose host names by loopback ports, and every
/// interval 1 s so that `rate()` over `$__rate_interval` (10 s) has samples quickly.
fn compose_prometheus_config(hosts: &BTreeMap<&str, String>) -> (String, Vec<PathBuf>) {
    let compose_dir = repo().join("deploy/compose");
    let compose = yaml("deploy/compose/compose.yaml");
    let mounts = mounts(&compose["services"]["prometheus"], &compose_dir);
    let mut config = yaml("deploy/compose/prometheus.yml");
    let mut rule_dirs = Vec::new();
    if let Some(files) = config["rule_files"].as_array_mut() {
        for f in files.iter_mut() {
            let path = f.as_str().unwrap().to_string();
            let host = host_path(&mounts, &path)
                .unwrap_or_else(|| panic!("rule file {path} is not inside a mounted directory"));
            rule_dirs.push(host.parent().unwrap().to_path_buf());
            *f = json!(host.to_string_lossy());
        }
    }
    config["global"]["scrape_interval"] = json!("1s");
    config["global"]["evaluation_interval"] = json!("1s");
    let rewrite = |targets: &mut Value| {
        for t in targets.as_array_mut().into_iter().flatten() {
            if let Some(h) = hosts.get(t.as_str().unwrap()) {
                *t = json!(h);
            }
        }
    };
    for sc in config["scrape_configs"].as_array_mut().unwrap() {
        sc["scrape_interval"] = json!("1s");
        for s in sc["static_configs"].as_array_mut().into_iter().flatten() {
            rewrite(&mut s["targets"]);
        }
    }
    for am in config["alerting"]["alertmanagers"]
        .as_array_mut()
        .into_iter()
        .flatten()
    {
        for s in am["static_configs"].as_array_mut().into_iter().flatten() {
            rewrite(&mut s["targets"]);
        }
    }
    (serde_norway::to_string(&config).unwrap(), rule_dirs)
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

// ---------------------------------------------------------------------------------------------
// promtool and amtool (tests/rules.rs checks and unit-tests the rules themselves)
// ---------------------------------------------------------------------------------------------

fn run_tool(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().expect("the tool runs");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

// ---------------------------------------------------------------------------------------------
// deploy/compose
// ---------------------------------------------------------------------------------------------

fn port_of(addr: &str) -> u16 {
    addr.rsplit(':').next().unwrap().parse().unwrap()
}

/// The command of a service as one string (list or string form).
fn command_text(v: &Value) -> String {
    match v {
        Value::Array(a) => a
            .iter()
            .filter_map(|x| x.as_str())
            .collect::<Vec<_>>()
            .join(" "),
        Value::String(s) => s.clone(),
        _ => String::new(),
    }
}

/// Dockerfile facts: (EXPOSE ports, USER, ENV pairs, final image, builder image, builder RUNs).
struct Dockerfile {
    text: String,
    expose: Vec<u16>,
    user: String,
    env: BTreeMap<String, String>,
    stages: Vec<(String, Option<String>)>,
}

fn dockerfile() -> Dockerfile {
    let text = read("Dockerfile");
    // Continuation lines joined, comments dropped.
    let joined = text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n")
        .replace("\\\n", " ");
    let mut d = Dockerfile {
        text: joined.clone(),
        expose: Vec::new(),
        user: String::new(),
        env: BTreeMap::new(),
        stages: Vec::new(),
    };
    for line in joined.lines() {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("FROM") => {
                let image = words.next().unwrap_or_default().to_string();
                let alias = (words.next().is_some_and(|w| w.eq_ignore_ascii_case("as")))
                    .then(|| words.next().unwrap_or_default().to_string());
                d.stages.push((image, alias));
            }
            Some("EXPOSE") => d
                .expose
                .extend(words.filter_map(|p| p.split('/').next()?.parse::<u16>().ok())),
            Some("USER") => d.user = words.next().unwrap_or_default().to_string(),
            Some("ENV") => {
                for kv in words {
                    if let Some((k, v)) = kv.split_once('=') {
                        d.env.insert(k.to_string(), v.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    d
}

#[test]
fn compose_bundle_is_consistent() {
    let dir = repo().join("deploy/compose");
    let compose = yaml("deploy/compose/compose.yaml");
    let services = compose["services"].as_object().expect("compose services");
    let named_volumes: BTreeSet<&String> = compose["volumes"]
        .as_object()
        .map(|v| v.keys().collect())
        .unwrap_or_default();
    let mut problems = Vec::new();
    for want in [
        "kafka",
        "topics",
        "acdstream",
        "simulator",
        "prometheus",
        "alertmanager",
        "grafana",
    ] {
        if !services.contains_key(want) {
            problems.push(format!("compose: no service {want}"));
        }
    }
    for (name, s) in services {
        let image = s["image"].as_str().unwrap_or_default();
        let tag = image.rsplit_once(':').map(|(_, t)| t).unwrap_or("");
        if image.is_empty() || tag.is_empty() || tag == "latest" {
            problems.push(format!(
                "compose {name}: image {image:?} is not pinned to a tag"
            ));
        }
        if let Some(build) = s.get("build") {
            let ctx = dir.join(build["context"].as_str().unwrap_or("."));
            let file = ctx.join(build["dockerfile"].as_str().unwrap_or("Dockerfile"));
            if !file.exists() || !ctx.join("Cargo.toml").exists() {
                problems.push(format!(
                    "compose {name}: build {} / {} is not the repository and its Dockerfile",
                    ctx.display(),
                    file.display()
                ));
            }
        }
        for v in s["volumes"].as_array().into_iter().flatten() {
            let v = v.as_str().unwrap_or_default();
            let src = v.split(':').next().unwrap_or_default();
            if src.starts_with('.') || src.starts_with('/') {
                if !dir.join(src).exists() {
                    problems.push(format!(
                        "compose {name}: mounts {src}, which is not in the repository"
                    ));
                }
            } else if !named_volumes.contains(&src.to_string()) {
                problems.push(format!("compose {name}: volume {src} is not declared"));
            }
        }
        let deps: Vec<String> = match &s["depends_on"] {
            Value::Array(a) => a
                .iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect(),
            Value::Object(o) => o.keys().cloned().collect(),
            _ => Vec::new(),
        };
        for dep in deps {
            if !services.contains_key(&dep) {
                problems.push(format!("compose {name}: depends on unknown service {dep}"));
            }
        }
    }

    // acdstream: its configuration file, port, health check.
    let app = &services["acdstream"];
    let app_mounts = mounts(app, &dir);
    let config_in_container = app["environment"]["ACDSTREAM_CONFIG"]
        .as_str()
        .unwrap_or_default();
    let config_file =
        host_path(&app_mounts, config_in_container).expect("ACDSTREAM_CONFIG is a mounted file");
    let config_rel = config_file
        .strip_prefix(&dir)
        .map(|p| format!("deploy/compose/{}", p.display()))
        .unwrap();
    let config = config_of(&config_rel.replace("/./", "/"));
    let port = config.http.listen.port();
    let docker = dockerfile();
    if !docker.expose.contains(&port) {
        problems.push(format!(
            "Dockerfile EXPOSE {:?} does not include http.listen's port {port}",
            docker.expose
        ));
    }
    if docker.env.get("ACDSTREAM_HTTP__LISTEN").map(|l| port_of(l)) != Some(port) {
        problems.push(format!(
            "Dockerfile ACDSTREAM_HTTP__LISTEN {:?} disagrees with http.listen {}",
            docker.env.get("ACDSTREAM_HTTP__LISTEN"),
            config.http.listen
        ));
    }
    if !config.http.listen.ip().is_unspecified() {
        problems.push(format!(
            "{config_rel}: http.listen {} is unreachable from other containers",
            config.http.listen
        ));
    }
    let published: Vec<(u16, u16)> = app["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| {
            let p = p.as_str()?;
            let (h, c) = p.rsplit_once(':')?;
            Some((port_of(h), c.parse().ok()?))
        })
        .collect();
    if !published.iter().any(|(_, c)| *c == port) {
        problems.push(format!(
            "compose acdstream: ports {published:?} do not publish container port {port}"
        ));
    }
    let health = command_text(&app["healthcheck"]["test"]);
    if !(health.contains("/readyz") || health.contains("/healthz"))
        || !health.contains(&port.to_string())
    {
        problems.push(format!("compose acdstream: the health check {health:?} does not ask /readyz or /healthz on {port}"));
    }
    if command_text(&app["command"]) != "run" {
        problems.push("compose acdstream: command is not `run`".into());
    }
    let grace = app["stop_grace_period"]
        .as_str()
        .and_then(|g| acdstream::config::parse_duration(g).ok());
    if grace.is_none_or(|g| g <= config.kafka.shutdown_timeout) {
        problems.push(format!("compose acdstream: stop_grace_period {grace:?} must exceed kafka.shutdown_timeout {:?}", config.kafka.shutdown_timeout));
    }

    // Kafka: the configured brokers are the kafka service's advertised listener.
    let kafka = &services["kafka"];
    let advertised = kafka["environment"]["KAFKA_ADVERTISED_LISTENERS"]
        .as_str()
        .unwrap_or_default();
    for broker in config.kafka.brokers.split(',') {
        let host = broker.split(':').next().unwrap();
        if !services.contains_key(host) || !advertised.contains(&format!("//{broker}")) {
            problems.push(format!("{config_rel}: broker {broker} is not an advertised listener of a compose service ({advertised})"));
        }
    }
    let cluster_id = kafka["environment"]["CLUSTER_ID"]
        .as_str()
        .unwrap_or_default();
    if cluster_id.len() != 22
        || !cluster_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        problems.push(format!(
            "compose kafka: CLUSTER_ID {cluster_id:?} is not a KRaft id (16 bytes in URL-safe base64, 22 characters)"
        ));
    }
    if !kafka["image"]
        .as_str()
        .unwrap_or_default()
        .starts_with("apache/kafka:")
        || !kafka["environment"]["KAFKA_PROCESS_ROLES"]
            .as_str()
            .unwrap_or_default()
            .contains("controller")
    {
        problems.push(
            "compose kafka: the official apache/kafka image in KRaft mode (broker,controller)"
                .into(),
        );
    }

    // acdstream's own alerts go to the alertmanager service (which listens on 9093).
    if let Some(url) = &config.alerts.alertmanager_url {
        let host_port = url.trim_start_matches("http://").trim_end_matches('/');
        if host_port != "alertmanager:9093" || !services.contains_key("alertmanager") {
            problems.push(format!(
                "{config_rel}: alerts.alertmanager_url {url} is not the alertmanager service"
            ));
        }
    }

    // topics and simulator: same image and configuration, the right commands.
    for (name, needle) in [
        ("topics", "topics --partitions"),
        ("simulator", "simulate --brokers"),
    ] {
        let s = &services[name];
        let cmd = command_text(&s["command"]);
        if !cmd.contains(needle) {
            problems.push(format!(
                "compose {name}: command {cmd:?} does not run `{needle}`"
            ));
        }
        if s["image"] != app["image"] {
            problems.push(format!("compose {name}: not the acdstream image"));
        }
        let m = mounts(s, &dir);
        if host_path(
            &m,
            s["environment"]["ACDSTREAM_CONFIG"].as_str().unwrap_or("-"),
        ) != Some(config_file.clone())
        {
            problems.push(format!(
                "compose {name}: does not read the same acdstream.toml"
            ));
        }
    }
    let sim = &services["simulator"];
    let sim_cmd = command_text(&sim["command"]);
    for flag in ["--realtime", &format!("--brokers {}", config.kafka.brokers)] {
        if !sim_cmd.contains(flag) {
            problems.push(format!(
                "compose simulator: {flag} missing from {sim_cmd:?}"
            ));
        }
    }
    let scenario = sim_cmd
        .split_whitespace()
        .skip_while(|w| *w != "--scenario")
        .nth(1)
        .and_then(|p| host_path(&mounts(sim, &dir), p));
    match scenario {
        Some(path) if path.exists() => {
            // The simulator accepts the file (a minute of it).
            let out = Command::new(env!("CARGO_BIN_EXE_acdstream"))
                .args([
                    "simulate",
                    "--duration",
                    "1m",
                    "--out",
                    "/dev/null",
                    "--scenario",
                ])
                .arg(&path)
                .output()
                .unwrap();
            if !out.status.success() {
                problems.push(format!(
                    "compose simulator: {} is rejected: {}",
                    path.display(),
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
        }
        other => problems.push(format!(
            "compose simulator: --scenario is not a mounted file ({other:?})"
        )),
    }

    // Prometheus: scrapes the acdstream service on its port, alerts to the alertmanager
    // service, rule files inside the mounted rules directory; promtool accepts it.
    let prom = &services["prometheus"];
    let prom_mounts = mounts(prom, &dir);
    let prom_config_path = command_text(&prom["command"])
        .split_whitespace()
        .find_map(|w| w.strip_prefix("--config.file=").map(str::to_string))
        .unwrap_or_else(|| "/etc/prometheus/prometheus.yml".into());
    let prom_config_file =
        host_path(&prom_mounts, &prom_config_path).expect("prometheus config is mounted");
    if prom_config_file != dir.join("prometheus.yml") {
        problems.push(format!(
            "compose prometheus: reads {}, not deploy/compose/prometheus.yml",
            prom_config_file.display()
        ));
    }
    let prom_config = yaml("deploy/compose/prometheus.yml");
    let jobs: BTreeMap<String, Vec<String>> = prom_config["scrape_configs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|sc| {
            (
                sc["job_name"].as_str().unwrap().to_string(),
                sc["static_configs"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .flat_map(|s| s["targets"].as_array().cloned().unwrap_or_default())
                    .filter_map(|t| t.as_str().map(str::to_string))
                    .collect(),
            )
        })
        .collect();
    if jobs.get("acdstream") != Some(&vec![format!("acdstream:{port}")]) {
        problems.push(format!("prometheus.yml: job acdstream must scrape acdstream:{port} (the dashboards select job=\"acdstream\"), has {:?}", jobs.get("acdstream")));
    }
    let am_targets =
        prom_config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"].clone();
    if am_targets != json!(["alertmanager:9093"]) || !services.contains_key("alertmanager") {
        problems.push(format!(
            "prometheus.yml: alerts must go to the alertmanager service on 9093, not {am_targets}"
        ));
    }
    let am = &services["alertmanager"];
    let am_config = command_text(&am["command"])
        .split_whitespace()
        .find_map(|w| w.strip_prefix("--config.file=").map(str::to_string))
        .and_then(|p| host_path(&mounts(am, &dir), &p));
    if am_config != Some(repo().join(ALERTMANAGER)) || !repo().join(ALERTMANAGER).exists() {
        problems.push(format!("compose alertmanager: must read {ALERTMANAGER}"));
    } else {
        let (ok, out) = run_tool(
            Command::new(amtool())
                .arg("check-config")
                .arg(repo().join(ALERTMANAGER)),
        );
        if !ok {
            problems.push(format!("amtool check-config {ALERTMANAGER}: {out}"));
        }
    }
    // promtool on a copy with the container paths of rule files replaced by the repository's
    // (through the compose mounts): the check then loads the very rule files compose mounts.
    let scratch = common::scratch_dir("deploy-promtool");
    let (rewritten, rule_dirs) = compose_prometheus_config(&BTreeMap::new());
    std::fs::write(scratch.join("prometheus.yml"), rewritten).unwrap();
    let (ok, out) = run_tool(
        Command::new(promtool())
            .args(["check", "config"])
            .arg(scratch.join("prometheus.yml")),
    );
    if !ok {
        problems.push(format!(
            "promtool check config deploy/compose/prometheus.yml: {out}"
        ));
    }
    if rule_dirs
        .iter()
        .any(|d| !d.starts_with(repo().join("deploy/prometheus/rules")))
    {
        problems.push(format!(
            "prometheus.yml: rule files resolve to {rule_dirs:?}, not deploy/prometheus/rules"
        ));
    }
    if repo().join(RULES).exists() && out.contains(" 0 rule files found") {
        problems.push(format!(
            "promtool found no rule file through the compose mounts: {out}"
        ));
    }
    report(&format!(
        "promtool check config (compose, rule paths through the mounts): {}",
        out.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| format!("\n  {l}"))
            .collect::<String>()
    ));
    report("\n");

    // Grafana: provisioning and dashboards mounted where the provider looks, the datasource is
    // the prometheus service, the home dashboard exists.
    let grafana = &services["grafana"];
    let gm = mounts(grafana, &dir);
    if host_path(&gm, "/etc/grafana/provisioning") != Some(repo().join("grafana/provisioning")) {
        problems.push(
            "compose grafana: grafana/provisioning is not mounted at /etc/grafana/provisioning"
                .into(),
        );
    }
    let providers = yaml("grafana/provisioning/dashboards/acdstream.yml");
    let provider_path = providers["providers"][0]["options"]["path"]
        .as_str()
        .unwrap_or_default();
    if host_path(&gm, provider_path) != Some(repo().join("grafana/dashboards")) {
        problems.push(format!("compose grafana: grafana/dashboards is not mounted at the provider's path {provider_path}"));
    }
    let home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
        .as_str()
        .unwrap_or_default();
    if !host_path(&gm, home).is_some_and(|p| p.exists()) || !home.ends_with(WALLBOARD) {
        problems.push(format!(
            "compose grafana: the home dashboard {home} is not the mounted wallboard"
        ));
    }
    let datasources = yaml("grafana/provisioning/datasources/acdstream.yml");
    for ds in datasources["datasources"].as_array().unwrap() {
        let url = ds["url"].as_str().unwrap_or_default();
        let host_port = url.trim_start_matches("http://").trim_end_matches('/');
        let (host, p) = host_port.split_once(':').unwrap_or((host_port, "80"));
        let listens = services.get(host).is_some_and(|s| {
            s["ports"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|x| x.as_str().is_some_and(|x| x.ends_with(&format!(":{p}"))))
        });
        if !listens {
            problems.push(format!(
                "grafana datasource {}: {url} is not a compose service port",
                ds["name"]
            ));
        }
    }
    fail_all("deploy/compose", &problems);
}

#[test]
fn dockerfile_builds_what_the_readme_builds() {
    let d = dockerfile();
    let mut problems = Vec::new();
    let readme = read("README.md");
    if !readme.contains(BUILD_COMMAND) {
        problems.push(format!(
            "README.md does not give the build command `{BUILD_COMMAND}`"
        ));
    }
    if !readme.contains("docs/deploy.md") {
        problems.push("README.md does not point to docs/deploy.md".into());
    }
    let (builder, alias) = d.stages.first().cloned().unwrap_or_default();
    let (runtime, _) = d.stages.last().cloned().unwrap_or_default();
    if d.stages.len() < 2 || alias.is_none() {
        problems.push(format!(
            "Dockerfile: a named builder stage and a runtime stage, has {:?}",
            d.stages
        ));
    }
    // The builder's Rust is at least the crate's rust-version.
    let cargo = read("Cargo.toml");
    let msrv = cargo
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = "))
        .unwrap_or("\"0\"")
        .trim_matches('"')
        .to_string();
    let version = builder
        .strip_prefix("rust:")
        .unwrap_or_default()
        .split('-')
        .next()
        .unwrap_or_default()
        .to_string();
    let parse = |v: &str| {
        v.split('.')
            .map(|p| p.parse::<u32>().unwrap_or(0))
            .collect::<Vec<_>>()
    };
    if !builder.starts_with("rust:") || parse(&version) < parse(&msrv) {
        problems.push(format!(
            "Dockerfile builder {builder}: a rust image of at least rust-version {msrv}"
        ));
    }
    if !(runtime.contains("-slim") || runtime.contains("distroless")) {
        problems.push(format!(
            "Dockerfile runtime image {runtime} is not a small one"
        ));
    }
    if !d
        .text
        .lines()
        .any(|l| l.starts_with("RUN") && l.contains(BUILD_COMMAND))
    {
        problems.push(format!("Dockerfile does not RUN `{BUILD_COMMAND}`"));
    }
    if !d.text.contains("target/release/acdstream")
        || !d
            .text
            .contains(&format!("--from={}", alias.clone().unwrap_or_default()))
    {
        problems.push(
            "Dockerfile: the runtime stage must copy the builder's target/release/acdstream".into(),
        );
    }
    if d.text.contains("COPY . .") {
        let ignore = read(".dockerignore");
        if !ignore
            .lines()
            .any(|l| l.trim().trim_end_matches('/') == "target")
        {
            problems.push(".dockerignore: target/ must stay out of the build context".into());
        }
    }
    let user = d.user.split(':').next().unwrap_or_default();
    if user.is_empty() || user == "0" || user == "root" {
        problems.push(format!(
            "Dockerfile USER {:?} is not a non-root user",
            d.user
        ));
    }
    if !d.text.contains("ENTRYPOINT [\"acdstream\"]") {
        problems.push("Dockerfile: ENTRYPOINT [\"acdstream\"]".into());
    }
    fail_all("Dockerfile", &problems);
}

// ---------------------------------------------------------------------------------------------
// deploy/k8s
// ---------------------------------------------------------------------------------------------

/// Figures of the README's memory table, in bytes: (per queue, per in-flight call, per id).
fn readme_memory_figures() -> (f64, f64, f64) {
    let readme = read("README.md");
    let figure = |row: &str| -> f64 {
        let line = readme
            .lines()
            .find(|l| l.starts_with(&format!("| {row}")))
            .unwrap_or_else(|| panic!("README has no row '{row}'"));
        let cell = line.split('|').nth(2).unwrap().trim();
        let number: f64 = cell.split_whitespace().next().unwrap().parse().unwrap();
        if cell.contains("KiB") {
            number * 1024.0
        } else {
            number
        }
    };
    (
        figure("heap per queue"),
        figure("heap per in-flight call"),
        figure("heap per remembered event id"),
    )
}

fn mebibytes(q: &str) -> f64 {
    let (n, unit) = q.split_at(q.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(q.len()));
    let n: f64 = n.parse().unwrap();
    match unit {
        "Mi" => n,
        "Gi" => n * 1024.0,
        "Ki" => n / 1024.0,
        "" => n / 1_048_576.0,
        other => panic!("memory unit {other}"),
    }
}

#[test]
fn k8s_manifests_are_consistent() {
    let dir = repo().join("deploy/k8s");
    let kustomization = yaml("deploy/k8s/kustomization.yaml");
    let mut problems = Vec::new();
    // The PrometheusRule carries exactly the rules file's groups (first: it may regenerate it).
    problems.extend(prometheus_rule_problem());
    let mut by_kind: BTreeMap<String, Value> = BTreeMap::new();
    for r in kustomization["resources"].as_array().unwrap() {
        let file = r.as_str().unwrap();
        let path = dir.join(file);
        if !path.exists() {
            problems.push(format!("kustomization: resource {file} does not exist"));
            continue;
        }
        let v = yaml(&format!("deploy/k8s/{file}"));
        for key in ["apiVersion", "kind"] {
            if !v[key].is_string() {
                problems.push(format!("{file}: no {key}"));
            }
        }
        if !v["metadata"]["name"].is_string() {
            problems.push(format!("{file}: no metadata.name"));
        }
        by_kind.insert(v["kind"].as_str().unwrap_or(file).to_string(), v);
    }
    for kind in [
        "Deployment",
        "Service",
        "ServiceMonitor",
        "PrometheusRule",
        "Job",
        "Namespace",
        "PodDisruptionBudget",
    ] {
        if !by_kind.contains_key(kind) {
            problems.push(format!("deploy/k8s: no {kind}"));
        }
    }
    let generator = &kustomization["configMapGenerator"][0];
    let config_name = generator["name"].as_str().unwrap_or_default();
    let config_file = generator["files"][0].as_str().unwrap_or_default();
    let config = config_of(&format!("deploy/k8s/{config_file}"));
    let port = config.http.listen.port();
    if !config.http.listen.ip().is_unspecified() {
        problems.push(format!(
            "deploy/k8s/{config_file}: http.listen {} is unreachable from other pods",
            config.http.listen
        ));
    }

    let empty = json!({});
    let deployment = by_kind.get("Deployment").unwrap_or(&empty);
    let spec = &deployment["spec"];
    let pod = &spec["template"]["spec"];
    let pod_labels = &spec["template"]["metadata"]["labels"];
    let c = &pod["containers"][0];
    if spec["replicas"].as_i64().unwrap_or(0) < 2 {
        problems.push("Deployment: several replicas in one consumer group".into());
    }
    if spec["selector"]["matchLabels"]
        .as_object()
        .is_none_or(|m| m.iter().any(|(k, v)| &pod_labels[k] != v))
    {
        problems.push("Deployment: the selector does not match the pod labels".into());
    }
    if command_text(&c["args"]) != "run" {
        problems.push("Deployment: the container runs `acdstream run`".into());
    }
    let images: Vec<&str> = kustomization["images"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["name"].as_str())
        .collect();
    if !images.contains(&c["image"].as_str().unwrap_or_default()) {
        problems.push(format!(
            "Deployment: image {} is not set by the kustomization's images",
            c["image"]
        ));
    }
    // The configuration: the generated ConfigMap mounted where ACDSTREAM_CONFIG points.
    let env: BTreeMap<String, String> = c["env"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| {
            Some((
                e["name"].as_str()?.to_string(),
                e["value"].as_str()?.to_string(),
            ))
        })
        .collect();
    let config_path = env.get("ACDSTREAM_CONFIG").cloned().unwrap_or_default();
    let mounted = c["volumeMounts"].as_array().into_iter().flatten().any(|m| {
        let volume = pod["volumes"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|v| v["name"] == m["name"]);
        volume.is_some_and(|v| v["configMap"]["name"] == config_name)
            && format!(
                "{}/{}",
                m["mountPath"].as_str().unwrap_or_default(),
                config_file
            ) == config_path
    });
    if !mounted {
        problems.push(format!("Deployment: ConfigMap {config_name} is not mounted at ACDSTREAM_CONFIG ({config_path})"));
    }
    // Ports and probes.
    let http_port = c["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["containerPort"].as_u64() == Some(port as u64));
    let port_name = http_port
        .and_then(|p| p["name"].as_str())
        .unwrap_or_default()
        .to_string();
    if http_port.is_none() {
        problems.push(format!(
            "Deployment: no container port {port} (http.listen)"
        ));
    }
    for (probe, path) in [("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")] {
        let get = &c[probe]["httpGet"];
        let target_ok = get["port"].as_str() == Some(port_name.as_str())
            || get["port"].as_u64() == Some(port as u64);
        if get["path"] != path || !target_ok {
            problems.push(format!(
                "Deployment: {probe} must GET {path} on the http port, has {get}"
            ));
        }
    }
    let grace = pod["terminationGracePeriodSeconds"].as_u64().unwrap_or(30);
    if Duration::from_secs(grace) <= config.kafka.shutdown_timeout {
        problems.push(format!("Deployment: terminationGracePeriodSeconds {grace} must exceed kafka.shutdown_timeout {:?}", config.kafka.shutdown_timeout));
    }
    // Non-root, as the image's user.
    let user: u64 = dockerfile()
        .user
        .split(':')
        .next()
        .unwrap_or_default()
        .parse()
        .unwrap_or(0);
    let sc = &pod["securityContext"];
    if sc["runAsNonRoot"] != true || sc["runAsUser"].as_u64() != Some(user) {
        problems.push(format!(
            "Deployment: runAsNonRoot with the image's user {user}, has {sc}"
        ));
    }
    if c["securityContext"]["allowPrivilegeEscalation"] != false {
        problems.push("Deployment: allowPrivilegeEscalation: false".into());
    }
    // Resources from the README's memory figures: the heap of a replica holding 1,000 queues
    // (the README's rebuild bench size), 10 calls in flight per queue and an hour of event ids,
    // plus librdkafka's pre-fetch queue (64 MiB), must fit in the request.
    let (per_queue, per_call, per_id) = readme_memory_figures();
    // The comment's arithmetic quotes the README's current figures.
    let deployment_text = read("deploy/k8s/deployment.yaml");
    for figure in [
        format!("{:.1} KiB", per_queue / 1024.0),
        format!("{per_call} B"),
        format!("{per_id} B"),
    ] {
        if !deployment_text.contains(&figure) {
            problems.push(format!(
                "deployment.yaml: the memory arithmetic does not use the README's {figure}"
            ));
        }
    }
    let heap = 1000.0 * per_queue + 10_000.0 * per_call + 324_898.0 * per_id;
    let needed = heap / 1_048_576.0 + 64.0;
    let requests = &c["resources"]["requests"];
    let limits = &c["resources"]["limits"];
    let request = requests["memory"].as_str().map(mebibytes).unwrap_or(0.0);
    let limit = limits["memory"].as_str().map(mebibytes).unwrap_or(0.0);
    if request < needed || limit < request || requests["cpu"].is_null() {
        problems.push(format!("Deployment: memory request {request} MiB must hold {needed:.0} MiB (README figures), limit {limit} MiB at least the request, and a CPU request"));
    }
    report(&format!(
        "k8s memory: heap of 1,000 queues from the README figures {:.1} MiB (+ 64 MiB librdkafka pre-fetch = {needed:.0} MiB) ≤ request {request} MiB ≤ limit {limit} MiB\n",
        heap / 1_048_576.0
    ));

    // Service and ServiceMonitor.
    let service = by_kind.get("Service").unwrap_or(&empty);
    if service["spec"]["selector"]
        .as_object()
        .is_none_or(|m| m.iter().any(|(k, v)| &pod_labels[k] != v))
    {
        problems.push("Service: the selector does not match the pods".into());
    }
    let svc_port = service["spec"]["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| {
            p["targetPort"].as_str() == Some(port_name.as_str())
                || p["targetPort"].as_u64() == Some(port as u64)
        });
    match svc_port {
        None => problems.push(format!(
            "Service: no port targets the container's http port {port}"
        )),
        Some(p) => {
            let monitor = by_kind.get("ServiceMonitor").unwrap_or(&empty);
            let endpoint = &monitor["spec"]["endpoints"][0];
            if endpoint["port"] != p["name"]
                || endpoint["path"].as_str().unwrap_or("/metrics") != "/metrics"
            {
                problems.push(format!(
                    "ServiceMonitor: must scrape /metrics on the Service port {}",
                    p["name"]
                ));
            }
            if monitor["spec"]["selector"]["matchLabels"]
                .as_object()
                .is_none_or(|m| {
                    m.iter()
                        .any(|(k, v)| &service["metadata"]["labels"][k] != v)
                })
            {
                problems.push("ServiceMonitor: the selector does not match the Service".into());
            }
            // The job label is the Service name unless jobLabel says otherwise.
            if service["metadata"]["name"] != "acdstream" || !monitor["spec"]["jobLabel"].is_null()
            {
                problems.push("ServiceMonitor: the job label must be \"acdstream\" (the dashboards select it)".into());
            }
        }
    }
    let pdb = by_kind.get("PodDisruptionBudget").unwrap_or(&empty);
    if pdb["spec"]["selector"]["matchLabels"] != spec["selector"]["matchLabels"] {
        problems.push("PodDisruptionBudget: does not select the Deployment's pods".into());
    }
    // The topics Job: enough partitions for the replicas, same configuration.
    let job = by_kind.get("Job").unwrap_or(&empty);
    let jc = &job["spec"]["template"]["spec"]["containers"][0];
    let args = command_text(&jc["args"]);
    let flag = |name: &str| -> i64 {
        args.split_whitespace()
            .skip_while(|w| *w != name)
            .nth(1)
            .and_then(|p| p.parse().ok())
            .unwrap_or(0)
    };
    let (partitions, replication) = (flag("--partitions"), flag("--replication-factor"));
    if !args.starts_with("topics")
        || partitions < spec["replicas"].as_i64().unwrap_or(0)
        || replication < 3
    {
        problems.push(format!(
            "Job: `topics --partitions N --replication-factor R` with N ≥ replicas and R ≥ 3 (a \
             production cluster), has {args:?}"
        ));
    }
    if jc["image"] != c["image"] || job["spec"]["template"]["spec"]["volumes"] != pod["volumes"] {
        problems.push("Job: the same image and configuration as the Deployment".into());
    }

    fail_all("deploy/k8s", &problems);
}

/// `deploy/k8s/prometheusrule.yaml` generated from the rules file: a header, then the file's
/// text indented under `spec:` (comments and block scalars kept).
fn generated_prometheus_rule(rules_text: &str) -> String {
    let mut out = String::from(
        "# GENERATED from deploy/prometheus/rules/acdstream.rules.yml by tests/deploy.rs; do not edit.\n\
         # Regenerate after changing the rules: ACDSTREAM_BLESS=1 cargo test --release --test deploy k8s\n\
         # kube-prometheus-stack only loads PrometheusRules labelled like its release: add\n\
         # `release: <your release>` to the labels if your Prometheus has a ruleSelector.\n\
         apiVersion: monitoring.coreos.com/v1\n\
         kind: PrometheusRule\n\
         metadata:\n  name: acdstream\n  labels:\n    app.kubernetes.io/name: acdstream\n\
         spec:\n",
    );
    for line in rules_text.lines() {
        if line.trim().is_empty() {
            out.push('\n');
        } else {
            out.push_str("  ");
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

fn prometheus_rule_problem() -> Option<String> {
    let Ok(rules_text) = std::fs::read_to_string(repo().join(RULES)) else {
        return Some(format!("{PROMETHEUS_RULE}: cannot be generated, {RULES} is missing (from the rules branch through main)"));
    };
    let rules = yaml_text(&rules_text, RULES);
    let current = std::fs::read_to_string(repo().join(PROMETHEUS_RULE)).ok();
    let matches = current.as_deref().is_some_and(|c| {
        let v = yaml_text(c, PROMETHEUS_RULE);
        v["spec"]["groups"] == rules["groups"] && v["kind"] == "PrometheusRule"
    });
    if matches {
        return None;
    }
    if std::env::var_os("ACDSTREAM_BLESS").is_some() {
        std::fs::write(
            repo().join(PROMETHEUS_RULE),
            generated_prometheus_rule(&rules_text),
        )
        .unwrap();
        return None;
    }
    Some(format!(
        "{PROMETHEUS_RULE} does not carry the groups of {RULES}: regenerate it with ACDSTREAM_BLESS=1 cargo test --release --test deploy k8s"
    ))
}
