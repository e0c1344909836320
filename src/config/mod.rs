//! The configuration boundary: defaults in code, then an optional TOML file, then
//! `ACDSTREAM_<SECTION>__<KEY>` environment variables, checked as a whole.
//!
//! figment does the layering: the file and each environment variable are a [`Layer`] whose
//! metadata names where a value came from, so a problem with a value set by a variable names
//! the variable. A variable name is split on double underscores (keys themselves contain
//! single ones) and lowercased, so `ACDSTREAM_KPI__QUEUES__SALES__SL_THRESHOLD=30s` sets
//! `kpi.queues.sales.sl_threshold`. Values are read as TOML values when they parse (`60`,
//! `0.9`, `["5m","15m"]`), otherwise as strings (`30s`, `0.0.0.0:9898`). Variables without a
//! double underscore, such as `ACDSTREAM_CONFIG`, are not settings. Because names are
//! lowercased, a queue whose id has capitals must be configured in the file.
//!
//! The merged layers are deserialized into the sections' raw structs (`deny_unknown_fields`,
//! `#[serde(default)]`), and each section validates its own, reporting every problem with its
//! key. Durations stay text until then, so a bad duration is reported with every other problem.
//! Defaults are written once: the engine's and the KPIs' in `EngineSettings`, the alert rules'
//! in `AlertSettings`, the rest in the sections' `Default` impls.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::error::{Actual, Kind};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use serde::de::{self, Error as _};
use serde::{Deserialize, Serialize};

use crate::alerts::rules::AlertSettings;

mod alerts;
mod duration;
mod engine;
mod kafka;
mod kpi;
#[cfg(test)]
mod tests;

pub use duration::{format_duration, parse_duration, DurationError};
pub use engine::{EngineConfig, WindowConfig};
pub use kafka::KafkaConfig;
pub use kpi::{KpiConfig, QueueKpi, SurgeConfig};

use duration::DurationText;

/// Prefix of every environment variable that overrides a setting.
pub const ENV_PREFIX: &str = "ACDSTREAM_";
/// Separates path segments in an override's name.
pub const ENV_SEPARATOR: &str = "__";

const MIN_PUBLISH_INTERVAL: Duration = Duration::from_millis(100);

/// Why the configuration could not be loaded. Every message names what to change.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "cannot read configuration file {}: {error}; check the path and its permissions, \
         or start without a configuration file to run on the defaults",
        path.display()
    )]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },

    #[error("{origin} is not valid TOML: line {line}, column {column}: {message}")]
    Syntax {
        /// The file (or "configuration text" when not read from a file).
        origin: String,
        line: usize,
        column: usize,
        message: String,
    },

    #[error("unknown setting: {message}; compare the spelling with acdstream.example.toml")]
    UnknownKey { message: String },

    #[error("{}", InvalidList(.0))]
    Invalid(Vec<String>),
}

struct InvalidList<'a>(&'a [String]);

impl fmt::Display for InvalidList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        write!(
            f,
            "invalid configuration ({n} problem{}); fix each of these:",
            if n == 1 { "" } else { "s" }
        )?;
        for problem in self.0 {
            write!(f, "\n  {problem}")?;
        }
        Ok(())
    }
}

/// The validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub engine: EngineConfig,
    pub kpi: KpiConfig,
    pub http: HttpConfig,
    pub publish: PublishConfig,
    pub log: LogConfig,
    pub kafka: KafkaConfig,
    /// `[alerts]`: the rules the alert evaluator applies and where alerts are pushed.
    pub alerts: AlertSettings,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpConfig {
    pub listen: SocketAddr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishConfig {
    pub interval: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    /// A level or a `tracing` filter directive, e.g. `info,acdstream=debug`.
    pub level: String,
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// The file's shape as serde sees it: unknown keys rejected, every section defaulted.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
struct RawFile {
    engine: engine::RawEngine,
    kpi: kpi::RawKpi,
    http: RawHttp,
    publish: RawPublish,
    log: RawLog,
    kafka: kafka::RawKafka,
    alerts: alerts::RawAlerts,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
struct RawHttp {
    listen: String,
}

impl Default for RawHttp {
    fn default() -> Self {
        RawHttp {
            listen: "127.0.0.1:9898".to_owned(),
        }
    }
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
struct RawPublish {
    interval: DurationText,
}

impl Default for RawPublish {
    fn default() -> Self {
        RawPublish {
            interval: DurationText::from(Duration::from_secs(1)),
        }
    }
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
struct RawLog {
    level: String,
    format: String,
}

impl Default for RawLog {
    fn default() -> Self {
        RawLog {
            level: "info".to_owned(),
            format: "text".to_owned(),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        // The built-in defaults name no time zone database entry (UTC is built in), so this
        // cannot fail on a host without zoneinfo; the unit tests pin that.
        validate(RawFile::default(), &Figment::new(), Vec::new())
            .expect("built-in configuration defaults are valid")
    }
}

impl Config {
    /// Loads the file at `path` (if any) and applies the process's `ACDSTREAM_…` variables.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let Some(path) = path else {
            return build("", None, process_env());
        };
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
            path: path.to_owned(),
            error,
        })?;
        let origin = format!("configuration file {}", path.display());
        build(&origin, Some(&text), process_env())
    }

    /// Builds the configuration from file text (if any) and `(name, value)` environment pairs;
    /// pure, so tests pass the environment explicitly.
    pub fn from_sources(
        file_text: Option<&str>,
        env: impl Iterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        build("configuration text", file_text, env)
    }
}

fn process_env() -> impl Iterator<Item = (String, String)> {
    // `std::env::vars()` panics on a non-UTF-8 variable anywhere in the environment; a lossy
    // conversion instead lets validation report a mangled ACDSTREAM_ value by name.
    std::env::vars_os().map(|(k, v)| {
        (
            k.to_string_lossy().into_owned(),
            v.to_string_lossy().into_owned(),
        )
    })
}

/// One layer of settings (the file, or one environment variable), named by its metadata.
struct Layer {
    name: String,
    data: Dict,
}

impl Provider for Layer {
    fn metadata(&self) -> Metadata {
        Metadata::named(self.name.clone())
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.data.clone()))
    }
}

fn layer(name: String, path: &str, value: impl Serialize) -> Layer {
    let value = Value::serialize(value).unwrap_or_else(|_| Dict::new().into());
    let data = figment::util::nest(path, value)
        .into_dict()
        .unwrap_or_default();
    Layer { name, data }
}

fn build(
    origin: &str,
    file_text: Option<&str>,
    env: impl Iterator<Item = (String, String)>,
) -> Result<Config, ConfigError> {
    let mut fig = Figment::new();
    if let Some(text) = file_text {
        fig = fig.merge(layer(origin.to_owned(), "", parse_file(origin, text)?));
    }
    let mut problems = Vec::new();
    // Sorted so that the result never depends on the order the OS lists variables in.
    let vars: BTreeMap<String, String> = env
        .filter(|(name, _)| {
            name.strip_prefix(ENV_PREFIX)
                .is_some_and(|rest| rest.contains(ENV_SEPARATOR))
        })
        .collect();
    for (name, value) in vars {
        let segments: Vec<String> = name[ENV_PREFIX.len()..]
            .split(ENV_SEPARATOR)
            .map(str::to_ascii_lowercase)
            .collect();
        let path = segments.join(".");
        if segments.iter().any(String::is_empty) {
            problems.push(format!(
                "{name}: empty key segment; write the path with single `__` between parts, \
                 e.g. ACDSTREAM_ENGINE__ALLOWED_LATENESS"
            ));
            continue;
        }
        let parents = (1..segments.len()).map(|n| segments[..n].join("."));
        let blocked = parents.into_iter().find(|p| {
            fig.find_value(p)
                .is_ok_and(|v| !matches!(v, Value::Dict(..)))
        });
        if let Some(parent) = blocked {
            problems.push(format!(
                "{path}: cannot be set by {name} because `{parent}` is not a table; \
                 check the variable name"
            ));
            continue;
        }
        // A value that is not a TOML value (`30s`, `0.0.0.0:9898`) is meant as a string.
        let value = value
            .parse::<toml::Value>()
            .unwrap_or(toml::Value::String(value));
        fig = fig.merge(layer(format!("{ENV_VAR}{name}"), &path, value));
    }
    let raw: RawFile = fig
        .extract()
        .map_err(|e| shape_error(e, problems.clone()))?;
    validate(raw, &fig, problems)
}

/// How an environment variable's layer is named; problems with its values name it.
const ENV_VAR: &str = "environment variable ";

fn parse_file(origin: &str, text: &str) -> Result<toml::Table, ConfigError> {
    text.parse::<toml::Table>().map_err(|e| {
        let (line, column) = line_column(text, e.span().map_or(0, |s| s.start));
        ConfigError::Syntax {
            origin: origin.to_owned(),
            line,
            column,
            message: e.message().trim_end().to_owned(),
        }
    })
}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// ` (set by environment variable X)` when a variable's layer gave the value.
fn source(metadata: Option<&Metadata>) -> String {
    metadata
        .filter(|m| m.name.starts_with(ENV_VAR))
        .map(|m| format!(" (set by {})", m.name))
        .unwrap_or_default()
}

/// Turns a deserialization error (unknown key, wrong type) into an operator-facing error that
/// names the full key path and, when an environment variable set it, the variable.
fn shape_error(e: figment::Error, mut problems: Vec<String>) -> ConfigError {
    let mut path = String::new();
    for (i, key) in e.path.iter().enumerate() {
        match key.parse::<usize>() {
            Ok(index) if i > 0 => path.push_str(&format!("[{index}]")),
            _ if i > 0 => path.push_str(&format!(".{key}")),
            _ => path.push_str(key),
        }
    }
    let from = source(e.metadata.as_ref());
    let message = match &e.kind {
        Kind::UnknownField(field, expected) => {
            let message = de::value::Error::unknown_field(field, expected);
            let place = match path.rsplit_once('.') {
                Some((parent, _)) => format!("in [{parent}]"),
                None => "at the top level".to_owned(),
            };
            let message = format!("`{path}`{from}: {message} {place}");
            return ConfigError::UnknownKey { message };
        }
        Kind::InvalidType(actual, expected) => {
            format!("invalid type: {}, expected {expected}", serde_words(actual))
        }
        Kind::InvalidValue(actual, expected) => {
            format!(
                "invalid value: {}, expected {expected}",
                serde_words(actual)
            )
        }
        kind => kind.to_string(),
    };
    let path = if path.is_empty() {
        "(top level)"
    } else {
        &path
    };
    problems.push(format!("{path}: {message}{from}"));
    ConfigError::Invalid(problems)
}

/// A value as serde's own messages describe it (`boolean `true``, `integer `5``).
fn serde_words(actual: &Actual) -> String {
    match actual {
        Actual::Bool(b) => format!("boolean `{b}`"),
        Actual::Signed(n) => format!("integer `{n}`"),
        Actual::Unsigned(n) => format!("integer `{n}`"),
        Actual::Float(x) => format!("floating point `{x:?}`"),
        other => other.to_string(),
    }
}

/// Collects problems; every check runs even after one fails, and a check that fails yields
/// `None`, so a value that reaches [`Config`] has passed its checks.
struct Problems<'a> {
    list: Vec<String>,
    fig: &'a Figment,
}

impl Problems<'_> {
    fn add(&mut self, path: &str, message: impl fmt::Display) {
        let key = path.split('[').next().unwrap_or(path);
        let from = source(self.fig.find_metadata(key));
        self.list.push(format!("{path}: {message}{from}"));
    }

    fn duration(&mut self, path: &str, text: &DurationText) -> Option<Duration> {
        parse_duration(&text.0).map_err(|e| self.add(path, e)).ok()
    }

    /// A duration that must be > 0.
    fn positive(&mut self, path: &str, text: &DurationText) -> Option<Duration> {
        let d = self.duration(path, text)?;
        if d.is_zero() {
            self.add(path, format!("must be longer than 0s (got \"{}\")", text.0));
            return None;
        }
        Some(d)
    }

    fn cap(&mut self, path: &str, value: u64) -> Option<usize> {
        if value == 0 {
            self.add(path, "must be greater than 0");
            return None;
        }
        usize::try_from(value)
            .map_err(|_| self.add(path, format!("{value} is too large for this platform")))
            .ok()
    }
}

fn validate(raw: RawFile, fig: &Figment, list: Vec<String>) -> Result<Config, ConfigError> {
    let mut p = Problems { list, fig };
    let windows = engine::windows(&mut p, &raw.engine);
    let interval = engine::interval(&mut p, &raw.engine);
    let engine = engine::validate(&mut p, &raw.engine, &windows, interval);
    let (default_kpi, queues) = kpi::validate(&mut p, &raw.kpi);

    let listen = raw.http.listen.trim().parse::<SocketAddr>().ok();
    if listen.is_none() {
        p.add(
            "http.listen",
            format!(
                "\"{}\" is not an IP address and port; use e.g. \"127.0.0.1:9898\" or \
                 \"0.0.0.0:9898\" (host names are not resolved)",
                raw.http.listen
            ),
        );
    }
    let publish_interval = p
        .duration("publish.interval", &raw.publish.interval)
        .and_then(|d| {
            if d < MIN_PUBLISH_INTERVAL {
                p.add(
                    "publish.interval",
                    format!(
                        "{} is too frequent; use at least {}",
                        format_duration(d),
                        format_duration(MIN_PUBLISH_INTERVAL)
                    ),
                );
                return None;
            }
            Some(d)
        });
    let level = raw.log.level.trim();
    let level = check_log_level(level)
        .map(|()| level.to_owned())
        .map_err(|why| {
            p.add(
                "log.level",
                format!(
                    "\"{level}\" is not a log level or filter ({why}); use error, warn, info, \
                     debug or trace, or a filter such as \"info,acdstream=debug\""
                ),
            )
        })
        .ok();
    let format = match raw.log.format.trim() {
        "text" => Some(LogFormat::Text),
        "json" => Some(LogFormat::Json),
        other => {
            p.add(
                "log.format",
                format!("\"{other}\" is not a log format; use \"text\" or \"json\""),
            );
            None
        }
    };
    if let Some(interval) = interval {
        kpi::check_forecasts(&mut p, default_kpi.as_ref(), &queues, interval);
    }
    let kafka = kafka::validate(&mut p, &raw.kafka);
    let alerts = alerts::validate(&mut p, &raw.alerts, &windows);

    let config = (|| {
        Some(Config {
            engine: engine?,
            kpi: KpiConfig {
                default: default_kpi?,
                queues,
            },
            http: HttpConfig { listen: listen? },
            publish: PublishConfig {
                interval: publish_interval?,
            },
            log: LogConfig {
                level: level?,
                format: format?,
            },
            kafka: kafka?,
            alerts: alerts?,
        })
    })();
    // Every `None` above was reported, so a problem-free run always has a configuration.
    match config {
        Some(config) if p.list.is_empty() => Ok(config),
        _ => Err(ConfigError::Invalid(p.list)),
    }
}

/// A level, or `tracing` directives whose levels are all real levels: a bare word such as
/// `verbose` would otherwise be accepted as a target name and silently log nothing.
fn check_log_level(level: &str) -> Result<(), String> {
    const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];
    for part in level.split(',') {
        let part = part.trim();
        let lvl = match part.rsplit_once('=') {
            Some((target, _)) if target.trim().is_empty() => {
                return Err(format!("\"{part}\" has no target before `=`"));
            }
            Some((_, lvl)) => lvl.trim(),
            None => part,
        };
        if !LEVELS.iter().any(|l| l.eq_ignore_ascii_case(lvl)) {
            return Err(format!("\"{lvl}\" is not a level"));
        }
    }
    tracing_subscriber::EnvFilter::builder()
        .parse(level)
        .map(drop)
        .map_err(|e| e.to_string())
}
