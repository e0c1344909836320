//! `deploy/compose`: the services against each other, the acdstream configuration, the
//! Dockerfile and the Grafana provisioning; the compose Prometheus configuration through
//! `promtool check config` (rule paths through the mounts) and the shipped Alertmanager
//! configuration through `amtool check-config` (`tests/rules.rs` checks and unit-tests the rules
//! themselves). The live proof runs Prometheus with the same configuration, rewritten here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};

use crate::common;
use crate::common::alerting::{amtool, promtool};
use crate::docker::dockerfile;
use crate::{
    command_text, config_of, fail_all, repo, report, yaml, ALERTMANAGER, RULES, WALLBOARD,
};

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
pub(crate) fn compose_prometheus_config(hosts: &BTreeMap<&str, String>) -> (String, Vec<PathBuf>) {
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

/// A tool's success and its whole output (stdout then stderr).
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

fn port_of(addr: &str) -> u16 {
    addr.rsplit(':').next().unwrap().parse().unwrap()
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
    for broker in config.kafka.sink.client.brokers.split(',') {
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
    for flag in [
        "--realtime",
        &format!("--brokers {}", config.kafka.sink.client.brokers),
    ] {
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
