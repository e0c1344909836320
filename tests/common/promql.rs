//! A real Prometheus (Debian's package, installed by `scripts/test.sh`) started from a whole
//! configuration file, and PromQL queries that return Prometheus' error instead of panicking,
//! so that a test can list every bad query at once. Include it with
//! `#[path = "common/promql.rs"] mod promql;` next to `mod common;`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

use serde_json::Value;

use crate::common::alerting::{tool, url_encode};
use crate::common::{free_port, http_get, wait_for};

pub fn binary() -> PathBuf {
    tool("ACDSTREAM_TEST_PROMETHEUS", "prometheus", "prometheus")
}

pub fn promtool() -> PathBuf {
    tool("ACDSTREAM_TEST_PROMTOOL", "promtool", "prometheus")
}

pub fn amtool() -> PathBuf {
    tool("ACDSTREAM_TEST_AMTOOL", "amtool", "prometheus-alertmanager")
}

/// A Prometheus process, killed on drop.
pub struct Prometheus {
    child: Child,
    pub port: u16,
    pub dir: PathBuf,
}

impl Prometheus {
    /// Starts Prometheus with `config` (YAML text) written to `dir/prometheus.yml`.
    pub fn start(dir: &Path, config: &str) -> Prometheus {
        std::fs::create_dir_all(dir).unwrap();
        let file = dir.join("prometheus.yml");
        std::fs::write(&file, config).unwrap();
        let port = free_port();
        let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
        let child = Command::new(binary())
            .arg(format!("--config.file={}", file.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("prometheus starts");
        let p = Prometheus {
            child,
            port,
            dir: dir.to_path_buf(),
        };
        wait_for("Prometheus to be ready", Duration::from_secs(30), || {
            http_get(port, "/-/ready").is_some_and(|(s, _)| s == 200)
        });
        p
    }

    /// An instant query: the result vector, or Prometheus' error (parse or evaluation).
    pub fn query(&self, q: &str) -> Result<Vec<Value>, String> {
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
        let (status, body) =
            http_get(self.port, path).ok_or_else(|| "Prometheus did not answer".to_string())?;
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

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.dir.join("prometheus.log")).unwrap_or_default()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value of an instant-vector sample (`NaN` when it is not a number).
pub fn value(sample: &Value) -> f64 {
    sample["value"][1]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(f64::NAN)
}
