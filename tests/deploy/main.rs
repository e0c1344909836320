//! The Grafana dashboards and the deploy bundle (issue 5), proven without Docker or Grafana, one
//! module per subject:
//!
//! - [`live`]: every PromQL expression of every dashboard (panels, variables, annotations) is
//!   evaluated by a real Prometheus, configured from `deploy/compose/prometheus.yml` with the
//!   shipped rules, scraping `acdstream run` (configured from `deploy/compose/acdstream.toml`) on
//!   a real broker fed with the compose simulator's scenario in real time; any query that errors
//!   or has no series fails the test, all listed at once, and the wallboard's panels are printed
//!   with the values and colours the TV would show;
//! - [`dashboards`]: the dashboards' structure (uids, ids, datasource variable, variables,
//!   layout, thresholds) and Grafana's provisioning;
//! - [`compose`], [`docker`], [`k8s`]: the compose file, the Dockerfile and the Kubernetes
//!   manifests against each other, the configs and the README, plus `promtool check
//!   config|rules` and `amtool check-config`.
//!
//! What several subjects read (repository files, YAML, configs, the README's memory figures) is
//! here; the processes (broker, service, Prometheus, Alertmanager) and the dashboard model are
//! the shared harnesses of `tests/common`.

#[path = "../common/mod.rs"]
mod common;

mod compose;
mod dashboards;
mod docker;
mod k8s;
mod live;

use std::io::Write as _;
use std::path::PathBuf;

use acdstream::config::Config;
use serde_json::Value;

use common::grafana::{self, Board};

/// Dashboard files and their uids: links and bookmarked TV URLs (`/d/<uid>`) depend on them.
const DASHBOARDS: [(&str, &str); 3] = [
    ("floor-wallboard.json", "acd-floor"),
    ("queue-detail.json", "acd-queue-detail"),
    ("operations.json", "acd-operations"),
];
const WALLBOARD: &str = "floor-wallboard.json";
const RULES: &str = "deploy/prometheus/rules/acdstream.rules.yml";
const ALERTMANAGER: &str = "deploy/alertmanager/alertmanager.yml";

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
