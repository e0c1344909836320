//! The configuration boundary: defaults in code, then an optional TOML file, then
//! `ACDSTREAM_<SECTION>__<KEY>` environment variables, checked as a whole.
//!
//! Loading happens in three steps so that every layer is testable without touching the
//! process environment:
//!
//! 1. The file is parsed into a [`toml::Table`] (syntax errors carry a line and column).
//! 2. Environment overrides are laid over that table ([`Config::from_sources`] takes them as an
//!    iterator; [`Config::load`] reads the process environment). A variable name is split on
//!    double underscores (keys themselves contain single ones) and lowercased, so
//!    `ACDSTREAM_KPI__QUEUES__SALES__SL_THRESHOLD=30s` sets `kpi.queues.sales.sl_threshold`.
//!    Values are read as TOML values when they parse (`60`, `0.9`, `["5m","15m"]`), otherwise as
//!    strings (`30s`, `0.0.0.0:9898`). Variables without a double underscore, such as
//!    `ACDSTREAM_CONFIG`, are not settings and are left alone. Because names are lowercased,
//!    a queue whose id has capitals or characters that cannot appear in a variable name must be
//!    configured in the file.
//! 3. The merged table is deserialized into raw structs (`deny_unknown_fields`, defaults in
//!    code) and validated into [`Config`]. Durations stay text until validation so that a bad
//!    duration is reported together with every other problem instead of stopping at the first.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::tz::TimeZone;

use crate::alerts::rules::{
    AlertSettings, LagRule, OldestWaitRule, QueueRules, RejectedRule, ServiceLevelRule,
    StalledRule, SurgeRule, ThresholdRule,
};
use crate::alerts::Severity;
use crate::decode::Format;
use crate::event::Millis;
use crate::kpi::surge::SurgeSettings;
use crate::state::{EngineSettings, QueueKpiSettings, SlidingWindow, TimeMode, BUCKET_MS};

/// Prefix of every environment variable that overrides a setting.
pub const ENV_PREFIX: &str = "ACDSTREAM_";
/// Separates path segments in an override's name.
pub const ENV_SEPARATOR: &str = "__";

const MIN_PUBLISH_INTERVAL: Duration = Duration::from_millis(100);
const DAY_MS: u128 = 24 * 3_600_000;

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

#[derive(Debug, Clone, PartialEq)]
pub struct EngineConfig {
    /// Sliding windows in configured order; each name is the duration as written (`"5m"`).
    pub windows: Vec<WindowConfig>,
    pub interval: Duration,
    pub timezone: TimeZone,
    pub allowed_lateness: Duration,
    pub dedup_horizon: Duration,
    pub dedup_max_ids_per_queue: usize,
    pub max_call_age: Duration,
    pub max_future_skew: Duration,
    pub max_queues: usize,
    pub max_agents_per_queue: usize,
    pub max_events_per_call: usize,
    /// Where "now" comes from in `run`.
    pub clock: TimeMode,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowConfig {
    pub name: String,
    pub len: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub struct KpiConfig {
    pub default: QueueKpi,
    /// Per-queue definitions with the omitted fields already filled from `default`.
    pub queues: BTreeMap<String, QueueKpi>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct QueueKpi {
    pub sl_threshold: Duration,
    pub sl_target: f64,
    pub short_abandon: Duration,
    pub ring_cadence: Duration,
    pub surge: SurgeConfig,
}

/// A queue's surge rule (see [`crate::kpi::surge`]).
#[derive(Debug, Clone, PartialEq)]
pub struct SurgeConfig {
    /// The short window whose arrival rate is compared with the baseline.
    pub window: Duration,
    /// The trailing window before the short one that gives the baseline rate.
    pub baseline: Duration,
    pub factor: f64,
    pub subside_factor: f64,
    pub min_calls: u64,
    pub response_limit: Duration,
    /// Forecast calls per interval, by the interval's start as an offset from local midnight.
    pub forecast: BTreeMap<Duration, f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpConfig {
    pub listen: SocketAddr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishConfig {
    pub interval: Duration,
}

/// `[kafka]`: where `acdstream run` consumes events and publishes KPIs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaConfig {
    /// `bootstrap.servers`.
    pub brokers: String,
    /// CTI events, keyed by queue id so that one partition owns each queue.
    pub events_topic: String,
    pub events_format: Format,
    pub group_id: String,
    /// KPI snapshots, keyed by queue id; meant to be compacted.
    pub kpi_topic: String,
    pub kpi_format: Format,
    /// Rejected events with their original payload and the reason in headers.
    pub dlq_topic: String,
    /// Per-partition state checkpoints; compacted, as many partitions as `events_topic`.
    pub checkpoint_topic: String,
    /// Alert notifications: one record per firing and per resolved transition.
    pub alerts_topic: String,
    pub alerts_format: Format,
    pub checkpoint_interval: Duration,
    /// How long a graceful shutdown may take before the process exits anyway.
    pub shutdown_timeout: Duration,
    /// librdkafka properties passed through (SASL, TLS, tuning), keys as librdkafka spells them.
    pub properties: BTreeMap<String, String>,
}

/// librdkafka properties that acdstream sets itself because its guarantees depend on them.
const OWNED_KAFKA_PROPERTIES: [(&str, &str); 5] = [
    ("bootstrap.servers", "kafka.brokers"),
    ("group.id", "kafka.group_id"),
    (
        "enable.auto.offset.store",
        "offsets are stored only after an event is applied",
    ),
    (
        "enable.auto.commit",
        "stored offsets are committed by acdstream",
    ),
    (
        "auto.offset.reset",
        "a partition without a checkpoint is rebuilt from its start",
    ),
];

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

impl Default for Config {
    fn default() -> Self {
        // The built-in defaults name no time zone database entry (UTC is built in), so this
        // cannot fail on a host without zoneinfo; the unit tests pin that.
        validate(raw::File::default(), &Overlay::default())
            .expect("built-in configuration defaults are valid")
    }
}

impl Config {
    /// Loads the file at `path` (if any) and applies the process's `ACDSTREAM_…` variables.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let text = match path {
            Some(path) => {
                Some(
                    std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
                        path: path.to_owned(),
                        error,
                    })?,
                )
            }
            None => None,
        };
        let origin = match path {
            Some(path) => format!("configuration file {}", path.display()),
            None => String::new(),
        };
        build(&origin, text.as_deref(), process_env())
    }

    /// Builds the configuration from file text (if any) and `(name, value)` environment pairs;
    /// pure, so tests pass the environment explicitly.
    pub fn from_sources(
        file_text: Option<&str>,
        env: impl Iterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        build("configuration text", file_text, env)
    }

    /// The settings the engine consumes, in its units (milliseconds).
    pub fn engine_settings(&self) -> EngineSettings {
        let e = &self.engine;
        EngineSettings {
            sliding: e
                .windows
                .iter()
                .map(|w| SlidingWindow {
                    name: w.name.clone(),
                    len_ms: millis(w.len),
                })
                .collect(),
            interval_ms: millis(e.interval),
            timezone: e.timezone.clone(),
            allowed_lateness_ms: millis(e.allowed_lateness),
            dedup_horizon_ms: millis(e.dedup_horizon),
            dedup_max_ids_per_queue: e.dedup_max_ids_per_queue,
            max_call_age_ms: millis(e.max_call_age),
            max_future_skew_ms: millis(e.max_future_skew),
            max_queues: e.max_queues,
            max_agents_per_queue: e.max_agents_per_queue,
            max_events_per_call: e.max_events_per_call,
            default_queue: self.kpi.default.settings(e.interval),
            queues: self
                .kpi
                .queues
                .iter()
                .map(|(id, q)| (id.clone(), q.settings(e.interval)))
                .collect::<HashMap<_, _>>(),
        }
    }
}

impl QueueKpi {
    /// In the engine's units; `interval` turns forecast calls per interval into a rate.
    pub fn settings(&self, interval: Duration) -> QueueKpiSettings {
        let s = &self.surge;
        let interval_minutes = interval.as_secs_f64() / 60.0;
        QueueKpiSettings {
            sl_threshold_ms: millis(self.sl_threshold),
            sl_target: self.sl_target,
            short_abandon_ms: millis(self.short_abandon),
            ring_cadence_ms: millis(self.ring_cadence),
            surge: SurgeSettings {
                short_window_ms: millis(s.window),
                baseline_window_ms: millis(s.baseline),
                factor: s.factor,
                subside_factor: s.subside_factor,
                min_calls: s.min_calls,
                response_limit_ms: millis(s.response_limit),
                forecast_per_minute: s
                    .forecast
                    .iter()
                    .map(|(&start, &calls)| (millis(start), calls / interval_minutes))
                    .collect(),
            },
        }
    }
}

/// The parser caps durations at `Millis::MAX`, so this never saturates in practice.
fn millis(d: Duration) -> Millis {
    Millis::try_from(d.as_millis()).unwrap_or(Millis::MAX)
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

fn build(
    origin: &str,
    file_text: Option<&str>,
    env: impl Iterator<Item = (String, String)>,
) -> Result<Config, ConfigError> {
    let mut table = match file_text {
        Some(text) => parse_file(origin, text)?,
        None => toml::Table::new(),
    };
    let overlay = overlay_env(&mut table, env);
    let raw: raw::File = table.try_into().map_err(|e| shape_error(&e, &overlay))?;
    validate(raw, &overlay)
}

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

/// Which setting each environment variable set, and the variables that could not be applied.
#[derive(Debug, Default)]
struct Overlay {
    /// Dotted key path → variable name, to point an operator at the variable behind a problem.
    sources: BTreeMap<String, String>,
    problems: Vec<String>,
}

impl Overlay {
    /// The variable that set `path` or one of its parents (`engine.windows[1]` → `engine.windows`).
    /// Failing that, a variable that set something below `path` (which made it a table).
    fn source_of(&self, path: &str) -> Option<&str> {
        let path = path.split('[').next().unwrap_or(path);
        let mut prefix = path;
        loop {
            if let Some(var) = self.sources.get(prefix) {
                return Some(var);
            }
            match prefix.rfind('.') {
                Some(i) => prefix = &prefix[..i],
                None => break,
            }
        }
        let below = format!("{path}.");
        self.sources
            .iter()
            .find(|(p, _)| p.starts_with(&below))
            .map(|(_, var)| var.as_str())
    }
}

fn overlay_env(table: &mut toml::Table, env: impl Iterator<Item = (String, String)>) -> Overlay {
    let mut overlay = Overlay::default();
    // Sorted so that the result never depends on the order the OS lists variables in.
    let vars: BTreeMap<String, String> = env
        .filter(|(name, _)| {
            name.strip_prefix(ENV_PREFIX)
                .is_some_and(|rest| rest.contains(ENV_SEPARATOR))
        })
        .collect();
    for (name, value) in vars {
        let rest = &name[ENV_PREFIX.len()..];
        let segments: Vec<String> = rest
            .split(ENV_SEPARATOR)
            .map(str::to_ascii_lowercase)
            .collect();
        let path = segments.join(".");
        if segments.iter().any(String::is_empty) {
            overlay.problems.push(format!(
                "{name}: empty key segment; write the path with single `__` between parts, \
                 e.g. ACDSTREAM_ENGINE__ALLOWED_LATENESS"
            ));
            continue;
        }
        // A value that is not a TOML value (`30s`, `0.0.0.0:9898`) is meant as a string.
        let value = value
            .parse::<toml::Value>()
            .unwrap_or(toml::Value::String(value));
        match set_path(table, &segments, value) {
            Ok(()) => {
                overlay.sources.insert(path, name);
            }
            Err(parent) => overlay.problems.push(format!(
                "{path}: cannot be set by {name} because `{parent}` is not a table; \
                 check the variable name"
            )),
        }
    }
    overlay
}

/// Sets `segments` in `table`, creating intermediate tables; on a non-table parent returns its path.
fn set_path(
    table: &mut toml::Table,
    segments: &[String],
    value: toml::Value,
) -> Result<(), String> {
    let (leaf, parents) = segments.split_last().expect("split yields a segment");
    let mut current = table;
    for (depth, segment) in parents.iter().enumerate() {
        let entry = current
            .entry(segment.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        current = match entry {
            toml::Value::Table(t) => t,
            _ => return Err(segments[..=depth].join(".")),
        };
    }
    current.insert(leaf.clone(), value);
    Ok(())
}

/// Turns a deserialization error (unknown key, wrong type) into an operator-facing error that
/// names the full key path and, when an environment variable set it, the variable.
fn shape_error(e: &toml::de::Error, overlay: &Overlay) -> ConfigError {
    let message = e.message().trim_end();
    // toml reports the path of the table being read on its own `in `a.b`` line; that is the
    // only place the path is exposed.
    let rendered = e.to_string();
    let parent = rendered
        .lines()
        .find_map(|l| l.strip_prefix("in `")?.strip_suffix('`'))
        .unwrap_or("");
    let field = message
        .strip_prefix("unknown field `")
        .and_then(|rest| rest.split('`').next());
    let join = |child: &str| {
        if parent.is_empty() {
            child.to_owned()
        } else {
            format!("{parent}.{child}")
        }
    };
    match field {
        Some(field) => {
            let path = join(field);
            let from = overlay
                .sources
                .get(&path)
                .map(|var| format!(" (set by environment variable {var})"))
                .unwrap_or_default();
            let place = if parent.is_empty() {
                "at the top level".to_owned()
            } else {
                format!("in [{parent}]")
            };
            ConfigError::UnknownKey {
                message: format!("`{path}`{from}: {message} {place}"),
            }
        }
        None => {
            let path = if parent.is_empty() {
                "(top level)"
            } else {
                parent
            };
            let mut problems = overlay.problems.clone();
            problems.push(with_source(path, message, overlay));
            ConfigError::Invalid(problems)
        }
    }
}

fn with_source(path: &str, message: impl fmt::Display, overlay: &Overlay) -> String {
    match overlay.source_of(path) {
        Some(var) => format!("{path}: {message} (set by environment variable {var})"),
        None => format!("{path}: {message}"),
    }
}

/// Collects problems; every check runs even after one fails.
struct Problems<'a> {
    list: Vec<String>,
    overlay: &'a Overlay,
}

impl Problems<'_> {
    fn add(&mut self, path: &str, message: impl fmt::Display) {
        self.list.push(with_source(path, message, self.overlay));
    }

    fn duration(&mut self, path: &str, text: &raw::DurationText) -> Option<Duration> {
        match parse_duration(&text.0) {
            Ok(d) => Some(d),
            Err(e) => {
                self.add(path, e);
                None
            }
        }
    }

    /// A duration that must be > 0.
    fn positive(&mut self, path: &str, text: &raw::DurationText) -> Option<Duration> {
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
        match usize::try_from(value) {
            Ok(v) => Some(v),
            Err(_) => {
                self.add(path, format!("{value} is too large for this platform"));
                None
            }
        }
    }

    fn sl_target(&mut self, path: &str, target: f64) -> Option<f64> {
        // Written so that NaN fails too.
        if target > 0.0 && target <= 1.0 {
            return Some(target);
        }
        self.add(
            path,
            format!("{target} must be in (0, 1], e.g. 0.8 for 80 %"),
        );
        None
    }

    fn queue_kpi(&mut self, path: &str, raw: &raw::QueueKpi) -> Option<QueueKpi> {
        let every_field = raw::QueueOverride {
            sl_threshold: Some(raw.sl_threshold.clone()),
            sl_target: Some(raw.sl_target),
            short_abandon: Some(raw.short_abandon.clone()),
            ring_cadence: Some(raw.ring_cadence.clone()),
            surge_window: Some(raw.surge_window.clone()),
            surge_baseline: Some(raw.surge_baseline.clone()),
            surge_factor: Some(raw.surge_factor),
            surge_subside_factor: Some(raw.surge_subside_factor),
            surge_min_calls: Some(raw.surge_min_calls),
            surge_response_limit: Some(raw.surge_response_limit.clone()),
            surge_forecast: Some(raw.surge_forecast.clone()),
        };
        self.queue_override(path, &every_field, None)
    }

    /// A window the bucket ring can represent: a positive multiple of the bucket width.
    fn bucketed(&mut self, path: &str, text: &raw::DurationText) -> Option<Duration> {
        let d = self.positive(path, text)?;
        if millis(d) % BUCKET_MS != 0 {
            self.add(
                path,
                format!("{} is not a multiple of 10s", format_duration(d)),
            );
            return None;
        }
        Some(d)
    }

    /// Offsets from local midnight ("HH:MM") to forecast calls, each ≥ 0.
    fn forecast(
        &mut self,
        path: &str,
        raw: &BTreeMap<String, f64>,
    ) -> Option<BTreeMap<Duration, f64>> {
        let mut out = BTreeMap::new();
        let mut ok = true;
        for (start, &calls) in raw {
            let offset = start.split_once(':').and_then(|(h, m)| {
                let (h, m): (u64, u64) = (h.parse().ok()?, m.parse().ok()?);
                (h < 24 && m < 60 && start.len() == 5)
                    .then(|| Duration::from_secs(h * 3600 + m * 60))
            });
            let Some(offset) = offset else {
                self.add(path, format!("\"{start}\" is not an interval start; write it as \"HH:MM\", e.g. \"09:30\""));
                ok = false;
                continue;
            };
            if !(calls.is_finite() && calls >= 0.0) {
                self.add(
                    path,
                    format!("\"{start}\" = {calls}: forecast calls must be a number ≥ 0"),
                );
                ok = false;
                continue;
            }
            out.insert(offset, calls);
        }
        ok.then_some(out)
    }

    /// Checks only the fields the override sets: an inherited bad value is reported once, at
    /// `kpi.default`, where it has to be fixed.
    fn queue_override(
        &mut self,
        path: &str,
        raw: &raw::QueueOverride,
        default: Option<&QueueKpi>,
    ) -> Option<QueueKpi> {
        let sl_threshold = match &raw.sl_threshold {
            Some(text) => self.positive(&format!("{path}.sl_threshold"), text),
            None => default.map(|d| d.sl_threshold),
        };
        let sl_target = match raw.sl_target {
            Some(target) => self.sl_target(&format!("{path}.sl_target"), target),
            None => default.map(|d| d.sl_target),
        };
        let short_abandon = match &raw.short_abandon {
            Some(text) => self.positive(&format!("{path}.short_abandon"), text),
            None => default.map(|d| d.short_abandon),
        };
        let ring_cadence = match &raw.ring_cadence {
            Some(text) => self.positive(&format!("{path}.ring_cadence"), text),
            None => default.map(|d| d.ring_cadence),
        };
        let inherited = default.map(|d| &d.surge);
        let window = match &raw.surge_window {
            Some(text) => self.bucketed(&format!("{path}.surge_window"), text),
            None => inherited.map(|d| d.window),
        };
        let baseline = match &raw.surge_baseline {
            Some(text) => self.bucketed(&format!("{path}.surge_baseline"), text),
            None => inherited.map(|d| d.baseline),
        };
        let factor = match raw.surge_factor {
            // Written so that NaN fails too.
            Some(f) if f > 1.0 && f.is_finite() => Some(f),
            Some(f) => {
                self.add(
                    &format!("{path}.surge_factor"),
                    format!("{f} must be a number above 1, e.g. 1.5 for \"50 % above baseline\""),
                );
                None
            }
            None => inherited.map(|d| d.factor),
        };
        let subside_factor = match raw.surge_subside_factor {
            Some(f) if f >= 1.0 && f.is_finite() => Some(f),
            Some(f) => {
                self.add(
                    &format!("{path}.surge_subside_factor"),
                    format!("{f} must be a number of at least 1 (and at most surge_factor)"),
                );
                None
            }
            None => inherited.map(|d| d.subside_factor),
        };
        let min_calls = match raw.surge_min_calls {
            Some(0) => {
                self.add(&format!("{path}.surge_min_calls"), "must be at least 1");
                None
            }
            Some(n) => Some(n),
            None => inherited.map(|d| d.min_calls),
        };
        let response_limit = match &raw.surge_response_limit {
            Some(text) => self.positive(&format!("{path}.surge_response_limit"), text),
            None => inherited.map(|d| d.response_limit),
        };
        let forecast = match &raw.surge_forecast {
            Some(table) => self.forecast(&format!("{path}.surge_forecast"), table),
            None => inherited.map(|d| d.forecast.clone()),
        };
        if let (Some(f), Some(sub)) = (factor, subside_factor) {
            if sub > f {
                self.add(
                    &format!("{path}.surge_subside_factor"),
                    format!(
                        "{sub} is above surge_factor {f}: a surge would end before it could start"
                    ),
                );
            }
        }
        Some(QueueKpi {
            sl_threshold: sl_threshold?,
            sl_target: sl_target?,
            short_abandon: short_abandon?,
            ring_cadence: ring_cadence?,
            surge: SurgeConfig {
                window: window?,
                baseline: baseline?,
                factor: factor?,
                subside_factor: subside_factor.filter(|&sub| sub <= factor.unwrap_or(f64::MAX))?,
                min_calls: min_calls?,
                response_limit: response_limit?,
                forecast: forecast?,
            },
        })
    }
}

fn validate(raw: raw::File, overlay: &Overlay) -> Result<Config, ConfigError> {
    let mut p = Problems {
        list: overlay.problems.clone(),
        overlay,
    };
    let e = &raw.engine;

    // Sliding windows.
    let mut windows: Vec<WindowConfig> = Vec::with_capacity(e.windows.0.len());
    if e.windows.0.is_empty() {
        p.add(
            "engine.windows",
            "must list at least one window, e.g. [\"5m\", \"15m\", \"60m\"]",
        );
    }
    for (i, text) in e.windows.0.iter().enumerate() {
        let path = format!("engine.windows[{i}]");
        let Some(len) = p.duration(&path, text) else {
            continue;
        };
        let ms = len.as_millis();
        if ms == 0 || ms % BUCKET_MS as u128 != 0 {
            p.add(
                &path,
                format!(
                    "\"{}\" must be a positive multiple of {} (the bucket width), e.g. \"30s\" or \"5m\"",
                    text.0,
                    format_duration(Duration::from_millis(BUCKET_MS as u64))
                ),
            );
            continue;
        }
        if let Some(j) = windows.iter().position(|w| w.len == len) {
            p.add(
                &path,
                format!(
                    "\"{}\" is as long as a window already listed (\"{}\"); list each window once",
                    text.0, windows[j].name
                ),
            );
            continue;
        }
        windows.push(WindowConfig {
            name: text.0.trim().to_owned(),
            len,
        });
    }
    // Checked against the windows that are valid, so that a lateness problem shows up in the
    // same report as a window problem.
    let shortest_window = windows.iter().map(|w| w.len).min();

    let interval = p.duration("engine.interval", &e.interval).and_then(|d| {
        let ms = d.as_millis();
        if ms == 0 || ms % BUCKET_MS as u128 != 0 || DAY_MS % ms != 0 {
            p.add(
                "engine.interval",
                format!(
                    "\"{}\" must be a multiple of 10s that divides 24h evenly, \
                     e.g. \"15m\", \"30m\" or \"1h\"",
                    e.interval.0
                ),
            );
            return None;
        }
        Some(d)
    });

    let timezone = match time_zone(e.timezone.trim()) {
        Ok(tz) => Some(tz),
        Err(err) => {
            p.add(
                "engine.timezone",
                format!(
                    "unknown time zone \"{}\" ({err}); use an IANA name such as \
                     \"Europe/London\" or \"America/New_York\"",
                    e.timezone
                ),
            );
            None
        }
    };

    let allowed_lateness = p
        .duration("engine.allowed_lateness", &e.allowed_lateness)
        .and_then(|lateness| match shortest_window {
            Some(shortest) if lateness >= shortest => {
                p.add(
                    "engine.allowed_lateness",
                    format!(
                        "{} must be shorter than the shortest window ({})",
                        format_duration(lateness),
                        format_duration(shortest)
                    ),
                );
                None
            }
            _ => Some(lateness),
        });
    let dedup_horizon = p
        .duration("engine.dedup_horizon", &e.dedup_horizon)
        .and_then(|horizon| match allowed_lateness {
            Some(lateness) if horizon < lateness => {
                p.add(
                    "engine.dedup_horizon",
                    format!(
                        "{} must be at least engine.allowed_lateness ({}), or a redelivered \
                         event that is still on time would be counted twice",
                        format_duration(horizon),
                        format_duration(lateness)
                    ),
                );
                None
            }
            _ => Some(horizon),
        });
    let dedup_max_ids_per_queue =
        p.cap("engine.dedup_max_ids_per_queue", e.dedup_max_ids_per_queue);
    let max_call_age = p.positive("engine.max_call_age", &e.max_call_age);
    let max_future_skew = p.positive("engine.max_future_skew", &e.max_future_skew);
    let max_queues = p.cap("engine.max_queues", e.max_queues);
    let max_agents_per_queue = p.cap("engine.max_agents_per_queue", e.max_agents_per_queue);
    let max_events_per_call = p.cap("engine.max_events_per_call", e.max_events_per_call);
    let clock = match e.clock.trim() {
        "wall" => Some(TimeMode::Live),
        "event" => Some(TimeMode::EventTime),
        other => {
            p.add(
                "engine.clock",
                format!("\"{other}\" is not a clock; use \"wall\" (live) or \"event\" (newest event time)"),
            );
            None
        }
    };

    // KPI definitions: overrides are validated where they are written, then merged.
    let default_kpi = p.queue_kpi("kpi.default", &raw.kpi.default);
    let mut queues = BTreeMap::new();
    for (id, over) in &raw.kpi.queues {
        let path = format!("kpi.queues.{id}");
        if id.trim().is_empty() {
            p.add(&path, "queue id must not be empty");
            continue;
        }
        if let Some(q) = p.queue_override(&path, over, default_kpi.as_ref()) {
            queues.insert(id.clone(), q);
        }
    }

    let listen = match parse_listen(&raw.http.listen) {
        Some(addr) => Some(addr),
        None => {
            p.add(
                "http.listen",
                format!(
                    "\"{}\" is not an IP address and port; use e.g. \"127.0.0.1:9898\" or \
                     \"0.0.0.0:9898\" (host names are not resolved)",
                    raw.http.listen
                ),
            );
            None
        }
    };

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
    let level_ok = match check_log_level(level) {
        Ok(()) => true,
        Err(why) => {
            p.add(
                "log.level",
                format!(
                    "\"{level}\" is not a log level or filter ({why}); use error, warn, info, \
                     debug or trace, or a filter such as \"info,acdstream=debug\""
                ),
            );
            false
        }
    };
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

    // Forecasts are given per interval, so their keys must be interval starts.
    if let Some(interval) = interval {
        let kpis = default_kpi.iter().map(|k| ("kpi.default".to_string(), k));
        let kpis = kpis.chain(queues.iter().map(|(id, k)| (format!("kpi.queues.{id}"), k)));
        let misaligned: Vec<(String, Duration)> = kpis
            .flat_map(|(path, k)| {
                k.surge
                    .forecast
                    .keys()
                    .filter(|start| start.as_millis() % interval.as_millis() != 0)
                    .map(move |&start| (path.clone(), start))
            })
            .collect();
        for (path, start) in misaligned {
            let secs = start.as_secs();
            p.add(
                &format!("{path}.surge_forecast"),
                format!(
                    "\"{:02}:{:02}\" is not the start of an interval of {}",
                    secs / 3600,
                    secs / 60 % 60,
                    format_duration(interval)
                ),
            );
        }
    }

    let kafka = validate_kafka(&mut p, &raw.kafka);
    let alerts = validate_alerts(&mut p, &raw.alerts, &windows);

    if !p.list.is_empty() {
        return Err(ConfigError::Invalid(p.list));
    }
    // No problems were recorded, so every value below was produced.
    let missing = "validated setting is present";
    Ok(Config {
        engine: EngineConfig {
            windows,
            interval: interval.expect(missing),
            timezone: timezone.expect(missing),
            allowed_lateness: allowed_lateness.expect(missing),
            dedup_horizon: dedup_horizon.expect(missing),
            dedup_max_ids_per_queue: dedup_max_ids_per_queue.expect(missing),
            max_call_age: max_call_age.expect(missing),
            max_future_skew: max_future_skew.expect(missing),
            max_queues: max_queues.expect(missing),
            max_agents_per_queue: max_agents_per_queue.expect(missing),
            max_events_per_call: max_events_per_call.expect(missing),
            clock: clock.expect(missing),
        },
        kpi: KpiConfig {
            default: default_kpi.expect(missing),
            queues,
        },
        http: HttpConfig {
            listen: listen.expect(missing),
        },
        publish: PublishConfig {
            interval: publish_interval.expect(missing),
        },
        log: LogConfig {
            level: level_ok.then(|| level.to_owned()).expect(missing),
            format: format.expect(missing),
        },
        kafka: kafka.expect(missing),
        alerts: alerts.expect(missing),
    })
}

fn validate_kafka(p: &mut Problems<'_>, k: &raw::Kafka) -> Option<KafkaConfig> {
    let mut ok = true;
    let mut name = |p: &mut Problems<'_>, path: &str, value: &str| -> String {
        let value = value.trim();
        if value.is_empty() {
            p.add(path, "must not be empty");
            ok = false;
        }
        value.to_owned()
    };
    let brokers = name(p, "kafka.brokers", &k.brokers);
    let group_id = name(p, "kafka.group_id", &k.group_id);
    let topics = [
        (
            "kafka.events_topic",
            name(p, "kafka.events_topic", &k.events_topic),
        ),
        ("kafka.kpi_topic", name(p, "kafka.kpi_topic", &k.kpi_topic)),
        ("kafka.dlq_topic", name(p, "kafka.dlq_topic", &k.dlq_topic)),
        (
            "kafka.checkpoint_topic",
            name(p, "kafka.checkpoint_topic", &k.checkpoint_topic),
        ),
        (
            "kafka.alerts_topic",
            name(p, "kafka.alerts_topic", &k.alerts_topic),
        ),
    ];
    for (i, (path, topic)) in topics.iter().enumerate() {
        if let Some((other, _)) = topics[..i]
            .iter()
            .find(|(_, t)| t == topic && !t.is_empty())
        {
            p.add(
                path,
                format!("\"{topic}\" is already {other}; each role needs its own topic"),
            );
            ok = false;
        }
    }
    let mut format = |path: &str, text: &str| match text.trim().parse::<Format>() {
        Ok(f) => Some(f),
        Err(_) => {
            p.add(
                path,
                format!("\"{text}\" is not a payload format; use \"protobuf\" or \"json\""),
            );
            None
        }
    };
    let events_format = format("kafka.events_format", &k.events_format);
    let kpi_format = format("kafka.kpi_format", &k.kpi_format);
    let alerts_format = format("kafka.alerts_format", &k.alerts_format);
    let checkpoint_interval = p.positive("kafka.checkpoint_interval", &k.checkpoint_interval);
    let shutdown_timeout = p.positive("kafka.shutdown_timeout", &k.shutdown_timeout);
    let mut properties = BTreeMap::new();
    for (key, value) in &k.properties {
        // Environment variables cannot hold dots, so `SASL_MECHANISM` means `sasl.mechanism`.
        let key = key.trim().replace('_', ".");
        if let Some((_, instead)) = OWNED_KAFKA_PROPERTIES
            .iter()
            .find(|(owned, _)| *owned == key)
        {
            p.add(
                &format!("kafka.properties.{key}"),
                format!("is set by acdstream ({instead})"),
            );
            ok = false;
            continue;
        }
        let value = match value {
            toml::Value::String(text) => text.clone(),
            toml::Value::Integer(_) | toml::Value::Float(_) | toml::Value::Boolean(_) => {
                value.to_string()
            }
            other => {
                p.add(
                    &format!("kafka.properties.{key}"),
                    format!(
                        "must be a string, number or boolean, not {}",
                        other.type_str()
                    ),
                );
                ok = false;
                continue;
            }
        };
        properties.insert(key, value);
    }
    if !ok {
        return None;
    }
    Some(KafkaConfig {
        brokers,
        events_topic: topics[0].1.clone(),
        events_format: events_format?,
        group_id,
        kpi_topic: topics[1].1.clone(),
        kpi_format: kpi_format?,
        dlq_topic: topics[2].1.clone(),
        checkpoint_topic: topics[3].1.clone(),
        alerts_topic: topics[4].1.clone(),
        alerts_format: alerts_format?,
        checkpoint_interval: checkpoint_interval?,
        shutdown_timeout: shutdown_timeout?,
        properties,
    })
}

/// What a rule's threshold and clear level measure, for their range checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Seconds,
    /// A 0–1 fraction: a threshold of 5 is a typo for 0.05, not 500 %.
    Ratio,
    Count,
}

/// The parts every threshold rule has.
#[derive(Debug, Clone, Copy)]
struct Limit {
    enabled: bool,
    threshold: f64,
    clear: f64,
    for_ms: Millis,
    severity: Severity,
}

/// The parts of a threshold rule one table sets.
struct LimitFields<'a> {
    enabled: Option<bool>,
    threshold: Option<f64>,
    clear: Option<f64>,
    for_duration: Option<&'a raw::DurationText>,
    severity: Option<&'a str>,
}

/// Checks for `[alerts]`; each reports at the key's path and yields `None` when invalid.
/// A table inherits what it leaves out from its base (the built-in rules for
/// `[alerts.default]`, that for `[alerts.queues.<id>]`); a base of `None` is invalid itself, and
/// then only the table's own fields are checked, so a bad default is reported once.
impl Problems<'_> {
    fn severity(&mut self, path: &str, text: &str) -> Option<Severity> {
        let parsed = Severity::parse(text.trim());
        if parsed.is_none() {
            self.add(
                path,
                format!("\"{text}\" is not a severity; use \"page\" or \"ticket\""),
            );
        }
        parsed
    }

    fn threshold(&mut self, path: &str, value: f64, level: Level) -> Option<f64> {
        // Written so that NaN fails too.
        let ok = match level {
            Level::Ratio => value > 0.0 && value < 1.0,
            Level::Seconds | Level::Count => value > 0.0 && value.is_finite(),
        };
        if ok {
            return Some(value);
        }
        let hint = match level {
            Level::Ratio => "must be a ratio in (0, 1), e.g. 0.05 for 5 %",
            Level::Seconds => "must be a number of seconds above 0, e.g. 20",
            Level::Count => "must be a number above 0",
        };
        self.add(path, format!("{value} {hint}"));
        None
    }

    fn clear_level(&mut self, path: &str, value: f64, level: Level) -> Option<f64> {
        let ok = match level {
            Level::Ratio => (0.0..1.0).contains(&value),
            Level::Seconds | Level::Count => value >= 0.0 && value.is_finite(),
        };
        if ok {
            return Some(value);
        }
        let hint = match level {
            Level::Ratio => "must be a ratio in [0, 1)",
            Level::Seconds | Level::Count => "must be a number, 0 or more",
        };
        self.add(path, format!("{value} {hint}"));
        None
    }

    fn window(&mut self, path: &str, name: &str, windows: &[WindowConfig]) -> Option<String> {
        let name = name.trim();
        if windows.iter().any(|w| w.name == name) || name == "interval" || name == "today" {
            return Some(name.to_owned());
        }
        let listed: Vec<String> = windows.iter().map(|w| format!("\"{}\"", w.name)).collect();
        self.add(
            path,
            format!(
                "\"{name}\" is not a window of the snapshots; use one of engine.windows ({}), \
                 \"interval\" or \"today\"",
                listed.join(", ")
            ),
        );
        None
    }

    fn for_duration(
        &mut self,
        path: &str,
        text: Option<&raw::DurationText>,
    ) -> Option<Option<Millis>> {
        text.map(|text| self.duration(&format!("{path}.for"), text).map(millis))
    }

    fn limit(
        &mut self,
        path: &str,
        o: LimitFields<'_>,
        base: Option<Limit>,
        level: Level,
    ) -> Option<Limit> {
        let enabled = o.enabled.or(base.map(|b| b.enabled));
        let threshold = match o.threshold {
            Some(v) => self.threshold(&format!("{path}.threshold"), v, level),
            None => base.map(|b| b.threshold),
        };
        let clear = match o.clear {
            Some(v) => self.clear_level(&format!("{path}.clear"), v, level),
            None => base.map(|b| b.clear),
        };
        let for_ms = self
            .for_duration(path, o.for_duration)
            .unwrap_or(base.map(|b| b.for_ms));
        let severity = match o.severity {
            Some(text) => self.severity(&format!("{path}.severity"), text),
            None => base.map(|b| b.severity),
        };
        let (threshold, clear) = (threshold?, clear?);
        if clear > threshold {
            let (key, message) = if o.clear.is_some() {
                (
                    "clear",
                    format!(
                        "{clear} must be at most the threshold ({threshold}): a firing alert \
                         resolves once the value is back at or below `clear`"
                    ),
                )
            } else {
                (
                    "threshold",
                    format!(
                        "{threshold} is below the inherited clear level ({clear}); set a lower \
                         `clear` here as well"
                    ),
                )
            };
            self.add(&format!("{path}.{key}"), message);
            return None;
        }
        Some(Limit {
            enabled: enabled?,
            threshold,
            clear,
            for_ms: for_ms?,
            severity: severity?,
        })
    }

    fn threshold_rule(
        &mut self,
        path: &str,
        o: Option<&raw::ThresholdAlert>,
        base: Option<&ThresholdRule>,
        level: Level,
        windows: &[WindowConfig],
    ) -> Option<ThresholdRule> {
        let Some(o) = o else {
            return base.cloned();
        };
        let window = match &o.window {
            Some(name) => self.window(&format!("{path}.window"), name, windows),
            None => base.map(|b| b.window.clone()),
        };
        let fields = LimitFields {
            enabled: o.enabled,
            threshold: o.threshold,
            clear: o.clear,
            for_duration: o.for_duration.as_ref(),
            severity: o.severity.as_deref(),
        };
        let base_limit = base.map(|b| Limit {
            enabled: b.enabled,
            threshold: b.threshold,
            clear: b.clear,
            for_ms: b.for_ms,
            severity: b.severity,
        });
        let limit = self.limit(path, fields, base_limit, level);
        let (window, limit) = (window?, limit?);
        Some(ThresholdRule {
            enabled: limit.enabled,
            window,
            threshold: limit.threshold,
            clear: limit.clear,
            for_ms: limit.for_ms,
            severity: limit.severity,
        })
    }

    fn oldest_wait_rule(
        &mut self,
        path: &str,
        o: Option<&raw::OldestWaitAlert>,
        base: Option<&OldestWaitRule>,
    ) -> Option<OldestWaitRule> {
        let Some(o) = o else {
            return base.cloned();
        };
        let fields = LimitFields {
            enabled: o.enabled,
            threshold: o.threshold,
            clear: o.clear,
            for_duration: o.for_duration.as_ref(),
            severity: o.severity.as_deref(),
        };
        let base_limit = base.map(|b| Limit {
            enabled: b.enabled,
            threshold: b.threshold,
            clear: b.clear,
            for_ms: b.for_ms,
            severity: b.severity,
        });
        let limit = self.limit(path, fields, base_limit, Level::Seconds)?;
        Some(OldestWaitRule {
            enabled: limit.enabled,
            threshold: limit.threshold,
            clear: limit.clear,
            for_ms: limit.for_ms,
            severity: limit.severity,
        })
    }

    fn service_level_rule(
        &mut self,
        path: &str,
        o: Option<&raw::ServiceLevelAlert>,
        base: Option<&ServiceLevelRule>,
        windows: &[WindowConfig],
    ) -> Option<ServiceLevelRule> {
        let Some(o) = o else {
            return base.cloned();
        };
        let window = match &o.window {
            Some(name) => self.window(&format!("{path}.window"), name, windows),
            None => base.map(|b| b.window.clone()),
        };
        let clear_margin = match o.clear_margin {
            // Written so that NaN fails too.
            Some(m) if (0.0..1.0).contains(&m) => Some(m),
            Some(m) => {
                self.add(
                    &format!("{path}.clear_margin"),
                    format!(
                        "{m} must be in [0, 1): the alert fires below the queue's sl_target and \
                         resolves at sl_target + clear_margin, e.g. 0.02"
                    ),
                );
                None
            }
            None => base.map(|b| b.clear_margin),
        };
        let for_ms = self
            .for_duration(path, o.for_duration.as_ref())
            .unwrap_or(base.map(|b| b.for_ms));
        let severity = match &o.severity {
            Some(text) => self.severity(&format!("{path}.severity"), text),
            None => base.map(|b| b.severity),
        };
        Some(ServiceLevelRule {
            enabled: o.enabled.or(base.map(|b| b.enabled))?,
            window: window?,
            clear_margin: clear_margin?,
            for_ms: for_ms?,
            severity: severity?,
        })
    }

    fn surge_rule(
        &mut self,
        path: &str,
        o: Option<&raw::SurgeAlert>,
        base: Option<&SurgeRule>,
    ) -> Option<SurgeRule> {
        let Some(o) = o else {
            return base.cloned();
        };
        let severity = match &o.severity {
            Some(text) => self.severity(&format!("{path}.severity"), text),
            None => base.map(|b| b.severity),
        };
        Some(SurgeRule {
            enabled: o.enabled.or(base.map(|b| b.enabled))?,
            severity: severity?,
        })
    }

    fn queue_rules(
        &mut self,
        path: &str,
        o: &raw::QueueAlerts,
        base: Option<&QueueRules>,
        windows: &[WindowConfig],
    ) -> Option<QueueRules> {
        let sub = |key: &str| format!("{path}.{key}");
        let surge = self.surge_rule(&sub("surge"), o.surge.as_ref(), base.map(|b| &b.surge));
        let service_level = self.service_level_rule(
            &sub("service_level"),
            o.service_level.as_ref(),
            base.map(|b| &b.service_level),
            windows,
        );
        let asa = self.threshold_rule(
            &sub("asa"),
            o.asa.as_ref(),
            base.map(|b| &b.asa),
            Level::Seconds,
            windows,
        );
        let abandon_rate = self.threshold_rule(
            &sub("abandon_rate"),
            o.abandon_rate.as_ref(),
            base.map(|b| &b.abandon_rate),
            Level::Ratio,
            windows,
        );
        let oldest_wait = self.oldest_wait_rule(
            &sub("oldest_wait"),
            o.oldest_wait.as_ref(),
            base.map(|b| &b.oldest_wait),
        );
        let not_ready = self.threshold_rule(
            &sub("not_ready"),
            o.not_ready.as_ref(),
            base.map(|b| &b.not_ready),
            Level::Ratio,
            windows,
        );
        let rings_per_answer = self.threshold_rule(
            &sub("rings_per_answer"),
            o.rings_per_answer.as_ref(),
            base.map(|b| &b.rings_per_answer),
            Level::Count,
            windows,
        );
        Some(QueueRules {
            min_calls: o.min_calls.or(base.map(|b| b.min_calls))?,
            surge: surge?,
            service_level: service_level?,
            asa: asa?,
            abandon_rate: abandon_rate?,
            oldest_wait: oldest_wait?,
            not_ready: not_ready?,
            rings_per_answer: rings_per_answer?,
        })
    }

    /// `Some(None)` for an empty URL (the feature is off).
    fn url(&mut self, path: &str, text: &str, allow_https: bool) -> Option<Option<String>> {
        let url = text.trim().trim_end_matches('/');
        if url.is_empty() {
            return Some(None);
        }
        if !allow_https && url.starts_with("https://") {
            self.add(
                path,
                format!(
                    "\"{text}\": https is not supported by the built-in Alertmanager client; \
                     reach Alertmanager over http:// (e.g. inside the cluster) or through a \
                     local TLS-terminating proxy"
                ),
            );
            return None;
        }
        let scheme_ok = url.starts_with("http://") || (allow_https && url.starts_with("https://"));
        let parsed = url
            .parse::<hyper::Uri>()
            .ok()
            .filter(|u| u.host().is_some());
        if !scheme_ok || parsed.is_none() {
            self.add(
                path,
                format!(
                    "\"{text}\" is not an http{} URL; write e.g. \"http://alertmanager:9093\"",
                    if allow_https { "(s)" } else { "" }
                ),
            );
            return None;
        }
        Some(Some(url.to_owned()))
    }
}

/// The built-in rules watch `builtin` ("15m"); when engine.windows has no such window, the
/// sliding window nearest to it in length (the longer of two as near), so that changing the
/// windows does not mean rewriting every rule. A window written in `[alerts]` must exist.
fn builtin_alert_window(builtin: &str, windows: &[WindowConfig]) -> String {
    let Ok(len) = parse_duration(builtin) else {
        return builtin.to_owned();
    };
    if windows.iter().any(|w| w.name == builtin) {
        return builtin.to_owned();
    }
    windows
        .iter()
        .min_by_key(|w| (w.len.abs_diff(len), std::cmp::Reverse(w.len)))
        .map_or_else(|| builtin.to_owned(), |w| w.name.clone())
}

fn validate_alerts(
    p: &mut Problems<'_>,
    a: &raw::Alerts,
    windows: &[WindowConfig],
) -> Option<AlertSettings> {
    let mut builtin = AlertSettings::default();
    let q = &mut builtin.default;
    for window in [
        &mut q.service_level.window,
        &mut q.asa.window,
        &mut q.abandon_rate.window,
        &mut q.not_ready.window,
        &mut q.rings_per_answer.window,
    ] {
        *window = builtin_alert_window(window, windows);
    }
    let default = p.queue_rules(
        "alerts.default",
        &a.default,
        Some(&builtin.default),
        windows,
    );
    let mut queues = HashMap::new();
    for (id, over) in &a.queues {
        let path = format!("alerts.queues.{id}");
        if id.trim().is_empty() {
            p.add(&path, "queue id must not be empty");
            continue;
        }
        if let Some(rules) = p.queue_rules(&path, over, default.as_ref(), windows) {
            queues.insert(id.clone(), rules);
        }
    }

    let stalled = &a.source_stalled;
    let b = &builtin.source_stalled;
    let after_ms = match &stalled.after {
        Some(text) => p.positive("alerts.source_stalled.after", text).map(millis),
        None => Some(b.after_ms),
    };
    let stalled_severity = match &stalled.severity {
        Some(text) => p.severity("alerts.source_stalled.severity", text),
        None => Some(b.severity),
    };

    let lag = &a.consumer_lag;
    let b = &builtin.consumer_lag;
    let lag_max = match lag.max {
        Some(0) => {
            p.add("alerts.consumer_lag.max", "must be greater than 0");
            None
        }
        Some(n) => Some(n),
        None => Some(b.max),
    };
    let lag_for = match &lag.for_duration {
        Some(text) => p.duration("alerts.consumer_lag.for", text).map(millis),
        None => Some(b.for_ms),
    };
    let lag_severity = match &lag.severity {
        Some(text) => p.severity("alerts.consumer_lag.severity", text),
        None => Some(b.severity),
    };

    let rejected = &a.rejected_events;
    let b = &builtin.rejected_events;
    let max_ratio = match rejected.max_ratio {
        Some(v) => p.threshold("alerts.rejected_events.max_ratio", v, Level::Ratio),
        None => Some(b.max_ratio),
    };
    let rejected_for = match &rejected.for_duration {
        Some(text) => p.duration("alerts.rejected_events.for", text).map(millis),
        None => Some(b.for_ms),
    };
    let rejected_severity = match &rejected.severity {
        Some(text) => p.severity("alerts.rejected_events.severity", text),
        None => Some(b.severity),
    };

    let alertmanager_url = p
        .url("alerts.alertmanager_url", &a.alertmanager_url, false)
        .and_then(|url| match url {
            Some(url) if url.contains("/api/") => {
                p.add(
                    "alerts.alertmanager_url",
                    format!(
                        "\"{url}\" has an API path; give the base URL (e.g. \
                         \"http://alertmanager:9093\"), acdstream adds /api/v2/alerts"
                    ),
                );
                None
            }
            url => Some(url),
        });
    let generator_url = p.url("alerts.generator_url", &a.generator_url, true);
    let resend_interval = p
        .duration("alerts.resend_interval", &a.resend_interval)
        .and_then(|d| {
            if d < Duration::from_secs(1) {
                p.add(
                    "alerts.resend_interval",
                    format!(
                        "{} is too frequent; use at least 1s (Alertmanager's own default is 1m)",
                        format_duration(d)
                    ),
                );
                return None;
            }
            Some(d)
        });
    let push_timeout = p.positive("alerts.push_timeout", &a.push_timeout);

    Some(AlertSettings {
        default: default?,
        queues,
        source_stalled: StalledRule {
            enabled: stalled.enabled.unwrap_or(builtin.source_stalled.enabled),
            after_ms: after_ms?,
            severity: stalled_severity?,
        },
        consumer_lag: LagRule {
            enabled: lag.enabled.unwrap_or(builtin.consumer_lag.enabled),
            max: lag_max?,
            for_ms: lag_for?,
            severity: lag_severity?,
        },
        rejected_events: RejectedRule {
            enabled: rejected.enabled.unwrap_or(builtin.rejected_events.enabled),
            max_ratio: max_ratio?,
            for_ms: rejected_for?,
            severity: rejected_severity?,
        },
        alertmanager_url: alertmanager_url?,
        generator_url: generator_url?,
        resend_interval: resend_interval?,
        push_timeout: push_timeout?,
    })
}

fn parse_listen(text: &str) -> Option<SocketAddr> {
    text.trim().parse().ok()
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

/// `UTC` is built in so that the default works on hosts without a time zone database.
fn time_zone(name: &str) -> Result<TimeZone, jiff::Error> {
    if name == "UTC" {
        Ok(TimeZone::UTC)
    } else {
        TimeZone::get(name)
    }
}

/// A duration string that could not be parsed; the message says how to write it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("\"{input}\" is not a duration: {reason}")]
pub struct DurationError {
    input: String,
    reason: String,
}

const UNITS: [(&str, u64); 4] = [("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1)];
const UNITS_HINT: &str = "units are ms, s, m and h, e.g. \"250ms\", \"30s\", \"5m\", \"2h30m\"";

/// Parses `"250ms"`, `"30s"`, `"5m"`, `"1h"`, `"2h30m"` (and a bare `"0"`). Units go from
/// largest to smallest, each at most once; there are no fractions, so `"1.5s"` is `"1500ms"`.
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let fail = |reason: String| DurationError {
        input: text.to_owned(),
        reason,
    };
    let s = text.trim();
    if s.is_empty() {
        return Err(fail(format!("it is empty; {UNITS_HINT}")));
    }
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.starts_with('-') {
        return Err(fail("durations cannot be negative".to_owned()));
    }
    let mut rest = s;
    let mut total: u64 = 0;
    let mut last_rank: Option<usize> = None;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(fail(format!(
                "expected a number at \"{rest}\"; {UNITS_HINT}"
            )));
        }
        let (number, tail) = rest.split_at(digits);
        if tail.starts_with(['.', ',']) {
            return Err(fail(
                "fractions are not supported; use a smaller unit, e.g. \"1500ms\" for 1.5s"
                    .to_owned(),
            ));
        }
        let unit_len = tail.bytes().take_while(u8::is_ascii_alphabetic).count();
        let (unit, tail) = tail.split_at(unit_len);
        if unit.is_empty() {
            return Err(fail(if tail.is_empty() {
                format!("\"{number}\" has no unit; write e.g. \"{number}s\" ({UNITS_HINT})")
            } else {
                format!("unexpected \"{tail}\"; {UNITS_HINT}")
            }));
        }
        let Some(rank) = UNITS.iter().position(|(u, _)| *u == unit) else {
            return Err(fail(format!("unknown unit \"{unit}\"; {UNITS_HINT}")));
        };
        if last_rank.is_some_and(|last| rank <= last) {
            return Err(fail(
                "units must go from largest to smallest, each at most once, e.g. \"1h30m\""
                    .to_owned(),
            ));
        }
        last_rank = Some(rank);
        let too_long = || fail("too long".to_owned());
        let n: u64 = number.parse().map_err(|_| too_long())?;
        total = n
            .checked_mul(UNITS[rank].1)
            .and_then(|ms| total.checked_add(ms))
            .filter(|&ms| ms <= Millis::MAX as u64)
            .ok_or_else(too_long)?;
        rest = tail;
    }
    Ok(Duration::from_millis(total))
}

/// The shortest canonical spelling, e.g. `1h30m`, `250ms`, `0s`.
pub fn format_duration(d: Duration) -> String {
    let mut ms = d.as_millis();
    if ms == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    for (unit, size) in UNITS {
        let size = u128::from(size);
        if ms >= size {
            out.push_str(&(ms / size).to_string());
            out.push_str(unit);
            ms %= size;
        }
    }
    out
}

/// The file's shape as serde sees it: defaults in code, unknown keys rejected, durations as
/// text (parsed during validation).
mod raw {
    use std::collections::BTreeMap;
    use std::fmt;

    use serde::de::{self, Deserializer, SeqAccess, Visitor};
    use serde::Deserialize;

    #[derive(Debug, Default, Deserialize)]
    #[cfg_attr(test, derive(serde::Serialize))]
    #[serde(deny_unknown_fields, default)]
    pub(super) struct File {
        pub engine: Engine,
        pub kpi: Kpi,
        pub http: Http,
        pub publish: Publish,
        pub log: Log,
        pub kafka: Kafka,
        pub alerts: Alerts,
    }

    #[derive(Debug, Deserialize)]
    #[cfg_attr(test, derive(serde::Serialize))]
    #[serde(deny_unknown_fields, default)]
    pub(super) struct Engine {
        pub windows: WindowList,
        pub interval: DurationText,
        pub timezone: String,
        pub allowed_lateness: DurationText,
        pub dedup_horizon: DurationText,
        pub dedup_max_ids_per_queue: u64,
        pub max_call_age: DurationText,
        pub max_future_skew: DurationText,
        pub max_queues: u64,
        pub max_agents_per_queue: u64,
        pub max_events_per_call: u64,
        pub clock: String,
    }

    impl Default for Engine {
        fn default() -> Self {
            Engine {
                windows: WindowList(vec![d("5m"), d("15m"), d("60m")]),
                interval: d("30m"),
                timezone: "UTC".to_owned(),
                allowed_lateness: d("30s"),
                dedup_horizon: d("60m"),
                dedup_max_ids_per_queue: 200_000,
                max_call_age: d("4h"),
                max_future_skew: d("5m"),
                max_queues: 10_000,
                max_agents_per_queue: 5_000,
                max_events_per_call: 64,
                clock: "wall".to_owned(),
            }
        }
    }

    #[derive(Debug, Default, Deserialize)]
    #[cfg_attr(test, derive(serde::Serialize))]
    #[serde(deny_unknown_fields, default)]
    pub(super) struct Kpi {
        pub default: QueueKpi,
        pub queues: BTreeMap<String, QueueOverride>,
    }

    #[derive(Debug, Clone, Deserialize)]
    #[cfg_attr(test, derive(serde::Serialize))]
    #[serde(deny_unknown_fields, default)]
    pub(super) struct QueueKpi {
        pub sl_threshold: DurationText,
        pub sl_target: f64,
        pub short_abandon: DurationText,
        pub ring_cadence: DurationText,
        pub surge_window: DurationText,
        pub surge_baseline: DurationText,
        pub surge_factor: f64,
        pub surge_subside_factor: f64,
        pub surge_min_calls: u64,
        pub surge_response_limit: DurationText,
        pub surge_forecast: BTreeMap<String, f64>,
    }

    impl Default for QueueKpi {
        fn default() -> Self {
            QueueKpi {
                sl_threshold: d("20s"),
                sl_target: 0.80,
                short_abandon: d("5s"),
                ring_cadence: d("5s"),
                surge_window: d("5m"),
                surge_baseline: d("60m"),
                surge_factor: 1.5,
                surge_subside_factor: 1.25,
                surge_min_calls: 10,
                surge_response_limit: d("10m"),
                surge_forecast: BTreeMap::new(),
            }
        }
    }

    /// `[kpi.queues.<id>]`: only what differs from `[kpi.default]`.
    #[derive(Debug, Default, Deserialize)]
    #[cfg_attr(test, derive(serde::Serialize))]
    #[serde(deny_unknown_fields)]
    pub(super) struct QueueOverride {
        pub sl_threshold: Option<DurationText>,
        pub sl_target: Option<f64>,
        pub short_abandon: Option<DurationText>,
        pub ring_cadence: Option<DurationText>,
        pub surge_window: Option<DurationText>,
        pub surge_baseline: Option<DurationText>,
        pub surge_factor: Option<f64>,
        pub surge_subside_factor: Option<f64>,
        pub surge_min_calls: Option<u64>,
        pub surge_response_limit: Option<DurationText>,
        pub surge_forecast: Option<BTreeMap<String, f64>>,
    }

    #[derive(Debug, Deserialize)]
    #[cfg_attr(test, derive(serde::Serialize))]
    #[serde(deny_unknown_fields, default)]
    pub(super) struct Http {
        pub listen: String,
    }

    impl Default for Http {
        fn default() -> Self {
            Http {
                listen: "127.0.0.1:9898".to_owned(),
            }
        }
    }

    #[derive(Debug, Deserialize)]
    #[cfg_attr(test, derive(serde::Serialize))]
    #[serde(deny_unknown_fields, default)]
    pub(super) struct Publish {
        pub interval: DurationText,
    }

    impl Default for Publish {
        fn default() -> Self {
            Publish { interval: d("1s") }
        }
    }

    #[derive(Debug, Deserialize)]
    #[cfg_attr(test, derive(serde::Serialize))]
    #[serde(deny_unknown_fields, default)]
    pub(super) struct Log {
        pub level: String,
        pub format: String,
    }

    impl Default for Log {
        fn default() -> Self {
            Log {
                level: "info".to_owned(),
                format: "text".to_owned(),
            }
        }
    }

    #[derive(Debug, Deserialize)]
    #[cfg_attr(test, derive(serde::Serialize))]
    #[serde(deny_unknown_fields, default)]
    pub(super) struct Kafka {
        pub brokers: String,
        pub events_topic: String,
        pub events_format: String,
        pub group_id: String,
        pub kpi_topic: String,
        pub kpi_format: String,
        pub dlq_topic: String,
        pub checkpoint_topic: String,
        pub alerts_topic: String,
        pub alerts_format: String,
        pub checkpoint_interval: DurationText,
        pub shutdown_timeout: DurationText,
        /// Scalars of any TOML type: an environment override of `6000` parses as an integer.
        pub properties: BTreeMap<String, toml::Value>,
    }

    impl Default for Kafka {
        fn default() -> Self {
            Kafka {
                brokers: "127.0.0.1:9092".to_owned(),
                events_topic: "cti.events".to_owned(),
                events_format: "protobuf".to_owned(),
                group_id: "acdstream".to_owned(),
                kpi_topic: "acd.kpi".to_owned(),
                kpi_format: "protobuf".to_owned(),
                dlq_topic: "cti.events.dlq".to_owned(),
                checkpoint_topic: "acd.checkpoints".to_owned(),
                alerts_topic: "acd.alerts".to_owned(),
                alerts_format: "protobuf".to_owned(),
                checkpoint_interval: d("30s"),
                shutdown_timeout: d("10s"),
                properties: BTreeMap::new(),
            }
        }
    }

    /// `[alerts]`. Rule tables hold only what they set: a table inherits the rest from its
    /// base (the built-in rules, or `[alerts.default]` for a queue), key by key. The built-in
    /// rules fill the defaults in, so that they are written once, in `crate::alerts::rules`.
    #[derive(Debug, Deserialize)]
    #[cfg_attr(test, derive(serde::Serialize))]
    #[serde(deny_unknown_fields, default)]
    pub(super) struct Alerts {
        pub alertmanager_url: String,
        pub generator_url: String,
        pub resend_interval: DurationText,
        pub push_timeout: DurationText,
        pub default: QueueAlerts,
        pub queues: BTreeMap<String, QueueAlerts>,
        pub source_stalled: SourceStalled,
        pub consumer_lag: ConsumerLag,
        pub rejected_events: RejectedEvents,
    }

    /// `[alerts.default]` and `[alerts.queues.<id>]`.
    #[derive(Debug, Default, Deserialize)]
    #[cfg_attr(test, derive(serde::Serialize))]
    #[serde(deny_unknown_fields)]
    pub(super) struct QueueAlerts {
        pub min_calls: Option<u64>,
        pub surge: Option<SurgeAlert>,
        pub service_level: Option<ServiceLevelAlert>,
        pub asa: Option<ThresholdAlert>,
        pub abandon_rate: Option<ThresholdAlert>,
        pub oldest_wait: Option<OldestWaitAlert>,
        pub not_ready: Option<ThresholdAlert>,
        pub rings_per_answer: Option<ThresholdAlert>,
    }

    #[derive(Debug, Deserialize)]
    #[cfg_attr(test, derive(serde::Serialize))]
    #[serde(deny_unknown_fields)]
    pub(super) struct SurgeAlert {
        pub enabled: Option<bool>,
        pub severity: Option<String>,
    }

    #[derive(Debug, Deserialize)]
    #[cfg_attr(test, derive(serde::Serialize))]
    #[serde(deny_unknown_fields)]
    pub(super) struct ServiceLevelAlert {
        pub enabled: Option<bool>,
        pub window: Option<String>,
        pub clear_margin: Option<f64>,
        #[serde(rename = "for")]
        pub for_duration: Option<DurationText>,
        pub severity: Option<String>,
    }

    #[derive(Debug, Deserialize)]
    #[cfg_attr(test, derive(serde::Serialize))]
    #[serde(deny_unknown_fields)]
    pub(super) struct ThresholdAlert {
        pub enabled: Option<bool>,
        pub window: Option<String>,
        pub threshold: Option<f64>,
        pub clear: Option<f64>,
        #[serde(rename = "for")]
        pub for_duration: Option<DurationText>,
        pub severity: Option<String>,
    }

    /// No `window`: the oldest wait is a point-in-time value.
    #[derive(Debug, Deserialize)]
    #[cfg_attr(test, derive(serde::Serialize))]
    #[serde(deny_unknown_fields)]
    pub(super) struct OldestWaitAlert {
        pub enabled: Option<bool>,
        pub threshold: Option<f64>,
        pub clear: Option<f64>,
        #[serde(rename = "for")]
        pub for_duration: Option<DurationText>,
        pub severity: Option<String>,
    }

    #[derive(Debug, Default, Deserialize)]
    #[cfg_attr(test, derive(serde::Serialize))]
    #[serde(deny_unknown_fields)]
    pub(super) struct SourceStalled {
        pub enabled: Option<bool>,
        pub after: Option<DurationText>,
        pub severity: Option<String>,
    }

    #[derive(Debug, Default, Deserialize)]
    #[cfg_attr(test, derive(serde::Serialize))]
    #[serde(deny_unknown_fields)]
    pub(super) struct ConsumerLag {
        pub enabled: Option<bool>,
        pub max: Option<u64>,
        #[serde(rename = "for")]
        pub for_duration: Option<DurationText>,
        pub severity: Option<String>,
    }

    #[derive(Debug, Default, Deserialize)]
    #[cfg_attr(test, derive(serde::Serialize))]
    #[serde(deny_unknown_fields)]
    pub(super) struct RejectedEvents {
        pub enabled: Option<bool>,
        pub max_ratio: Option<f64>,
        #[serde(rename = "for")]
        pub for_duration: Option<DurationText>,
        pub severity: Option<String>,
    }

    impl Default for Alerts {
        fn default() -> Self {
            use crate::alerts::rules::{AlertSettings, ThresholdRule};
            let b = AlertSettings::default();
            let q = &b.default;
            let severity = |s: crate::alerts::Severity| Some(s.as_str().to_owned());
            // No window: the built-in one depends on engine.windows (see validation).
            let threshold = |r: &ThresholdRule| ThresholdAlert {
                enabled: Some(r.enabled),
                window: None,
                threshold: Some(r.threshold),
                clear: Some(r.clear),
                for_duration: Some(ms(r.for_ms)),
                severity: severity(r.severity),
            };
            Alerts {
                alertmanager_url: b.alertmanager_url.clone().unwrap_or_default(),
                generator_url: b.generator_url.clone().unwrap_or_default(),
                resend_interval: duration(b.resend_interval),
                push_timeout: duration(b.push_timeout),
                default: QueueAlerts {
                    min_calls: Some(q.min_calls),
                    surge: Some(SurgeAlert {
                        enabled: Some(q.surge.enabled),
                        severity: severity(q.surge.severity),
                    }),
                    service_level: Some(ServiceLevelAlert {
                        enabled: Some(q.service_level.enabled),
                        window: None,
                        clear_margin: Some(q.service_level.clear_margin),
                        for_duration: Some(ms(q.service_level.for_ms)),
                        severity: severity(q.service_level.severity),
                    }),
                    asa: Some(threshold(&q.asa)),
                    abandon_rate: Some(threshold(&q.abandon_rate)),
                    oldest_wait: Some(OldestWaitAlert {
                        enabled: Some(q.oldest_wait.enabled),
                        threshold: Some(q.oldest_wait.threshold),
                        clear: Some(q.oldest_wait.clear),
                        for_duration: Some(ms(q.oldest_wait.for_ms)),
                        severity: severity(q.oldest_wait.severity),
                    }),
                    not_ready: Some(threshold(&q.not_ready)),
                    rings_per_answer: Some(threshold(&q.rings_per_answer)),
                },
                queues: BTreeMap::new(),
                source_stalled: SourceStalled {
                    enabled: Some(b.source_stalled.enabled),
                    after: Some(ms(b.source_stalled.after_ms)),
                    severity: severity(b.source_stalled.severity),
                },
                consumer_lag: ConsumerLag {
                    enabled: Some(b.consumer_lag.enabled),
                    max: Some(b.consumer_lag.max),
                    for_duration: Some(ms(b.consumer_lag.for_ms)),
                    severity: severity(b.consumer_lag.severity),
                },
                rejected_events: RejectedEvents {
                    enabled: Some(b.rejected_events.enabled),
                    max_ratio: Some(b.rejected_events.max_ratio),
                    for_duration: Some(ms(b.rejected_events.for_ms)),
                    severity: severity(b.rejected_events.severity),
                },
            }
        }
    }

    fn duration(d: std::time::Duration) -> DurationText {
        DurationText(super::format_duration(d))
    }

    fn ms(ms: crate::event::Millis) -> DurationText {
        duration(std::time::Duration::from_millis(
            u64::try_from(ms).unwrap_or(0),
        ))
    }

    fn d(text: &str) -> DurationText {
        DurationText(text.to_owned())
    }

    /// A duration as written. Numbers are kept as their text so that `lateness = 30` is
    /// reported by validation as a missing unit, alongside the other problems.
    #[derive(Debug, Clone, PartialEq)]
    #[cfg_attr(test, derive(serde::Serialize))]
    #[cfg_attr(test, serde(transparent))]
    pub(super) struct DurationText(pub String);

    impl<'de> Deserialize<'de> for DurationText {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            deserializer.deserialize_any(DurationVisitor)
        }
    }

    struct DurationVisitor;

    impl Visitor<'_> for DurationVisitor {
        type Value = DurationText;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a duration such as \"30s\", \"5m\" or \"2h30m\"")
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<DurationText, E> {
            Ok(DurationText(v.to_owned()))
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<DurationText, E> {
            Ok(DurationText(v.to_string()))
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<DurationText, E> {
            Ok(DurationText(v.to_string()))
        }

        fn visit_f64<E: de::Error>(self, v: f64) -> Result<DurationText, E> {
            Ok(DurationText(v.to_string()))
        }
    }

    /// A list of windows: a TOML array, or (handy in an environment variable) `"5m,15m,60m"`.
    #[derive(Debug, Clone, PartialEq)]
    #[cfg_attr(test, derive(serde::Serialize))]
    #[cfg_attr(test, serde(transparent))]
    pub(super) struct WindowList(pub Vec<DurationText>);

    impl<'de> Deserialize<'de> for WindowList {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct ListVisitor;

            impl<'de> Visitor<'de> for ListVisitor {
                type Value = WindowList;

                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a list of durations such as [\"5m\", \"15m\", \"60m\"]")
                }

                fn visit_str<E: de::Error>(self, v: &str) -> Result<WindowList, E> {
                    if v.trim().is_empty() {
                        return Ok(WindowList(Vec::new()));
                    }
                    Ok(WindowList(
                        v.split(',')
                            .map(|w| DurationText(w.trim().to_owned()))
                            .collect(),
                    ))
                }

                fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<WindowList, A::Error> {
                    let mut list = Vec::new();
                    while let Some(item) = seq.next_element::<DurationText>()? {
                        list.push(item);
                    }
                    Ok(WindowList(list))
                }
            }

            deserializer.deserialize_any(ListVisitor)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Iterator<Item = (String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<Vec<_>>()
            .into_iter()
    }

    fn load(file: Option<&str>, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_sources(file, env(vars))
    }

    fn problems(file: Option<&str>, vars: &[(&str, &str)]) -> Vec<String> {
        match load(file, vars) {
            Err(ConfigError::Invalid(list)) => list,
            other => panic!("expected ConfigError::Invalid, got {other:?}"),
        }
    }

    fn has(list: &[String], needle: &str) -> bool {
        list.iter().any(|p| p.contains(needle))
    }

    #[track_caller]
    fn assert_problem(file: &str, needle: &str) {
        let list = problems(Some(file), &[]);
        assert!(has(&list, needle), "{needle:?} not in {list:#?}");
    }

    #[test]
    fn surge_settings_are_checked_and_reach_the_engine() {
        let file = r#"
            [kpi.default]
            surge_response_limit = "5m"
            [kpi.queues.vip]
            surge_factor = 2.0
            surge_forecast = { "09:00" = 60, "09:30" = 45 }
        "#;
        let s = load(Some(file), &[]).unwrap().engine_settings();
        assert_eq!(s.default_queue.surge.response_limit_ms, 300_000);
        let vip = &s.queues["vip"].surge;
        assert_eq!(
            (vip.factor, vip.response_limit_ms, vip.min_calls),
            (2.0, 300_000, 10)
        );
        // Calls per 30-minute interval become a rate per minute.
        let nine = 9 * 3_600_000;
        assert_eq!(
            vip.forecast_per_minute.iter().collect::<Vec<_>>(),
            [(&nine, &2.0), (&(nine + 1_800_000), &1.5)]
        );

        let list = problems(
            Some(
                r#"
                [kpi.default]
                surge_window = "45s"
                surge_factor = 1.0
                surge_min_calls = 0
                [kpi.queues.a]
                surge_subside_factor = 1.6
                [kpi.queues.b]
                surge_forecast = { "9:00" = 10, "09:10" = 5, "10:00" = -1 }
            "#,
            ),
            &[],
        );
        for needle in [
            "kpi.default.surge_window: 45s is not a multiple of 10s",
            "kpi.default.surge_factor: 1 must be a number above 1",
            "kpi.default.surge_min_calls: must be at least 1",
            "kpi.queues.b.surge_forecast: \"9:00\" is not an interval start",
            "kpi.queues.b.surge_forecast: \"10:00\" = -1",
        ] {
            assert!(has(&list, needle), "{needle:?} not in {list:#?}");
        }
        assert_problem(
            "[kpi.queues.a]\nsurge_subside_factor = 1.6\n",
            "kpi.queues.a.surge_subside_factor: 1.6 is above surge_factor 1.5",
        );
        assert_problem(
            "[kpi.queues.b]\nsurge_forecast = { \"09:10\" = 5 }\n",
            "kpi.queues.b.surge_forecast: \"09:10\" is not the start of an interval of 30m",
        );
    }

    #[test]
    fn defaults_match_the_engine_defaults() {
        let config = load(None, &[]).unwrap();
        assert_eq!(config, Config::default());
        let ours = config.engine_settings();
        let engine = EngineSettings::default();
        assert_eq!(ours.sliding, engine.sliding);
        assert_eq!(ours.interval_ms, engine.interval_ms);
        assert_eq!(ours.timezone, engine.timezone);
        assert_eq!(ours.allowed_lateness_ms, engine.allowed_lateness_ms);
        assert_eq!(ours.dedup_horizon_ms, engine.dedup_horizon_ms);
        assert_eq!(ours.dedup_max_ids_per_queue, engine.dedup_max_ids_per_queue);
        assert_eq!(ours.max_call_age_ms, engine.max_call_age_ms);
        assert_eq!(ours.max_future_skew_ms, engine.max_future_skew_ms);
        assert_eq!(ours.max_queues, engine.max_queues);
        assert_eq!(ours.max_agents_per_queue, engine.max_agents_per_queue);
        assert_eq!(ours.max_events_per_call, engine.max_events_per_call);
        assert_eq!(ours.default_queue, engine.default_queue);
        assert!(ours.queues.is_empty());

        assert_eq!(config.http.listen, "127.0.0.1:9898".parse().unwrap());
        assert_eq!(config.publish.interval, Duration::from_secs(1));
        assert_eq!(config.log.level, "info");
        assert_eq!(config.log.format, LogFormat::Text);
    }

    #[test]
    fn example_file_parses_to_the_defaults_and_lists_every_setting() {
        let text = include_str!("../acdstream.example.toml");
        assert_eq!(load(Some(text), &[]).unwrap(), Config::default());

        fn leaves(prefix: &str, table: &toml::Table, out: &mut Vec<String>) {
            for (k, v) in table {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                match v {
                    toml::Value::Table(t) => leaves(&path, t, out),
                    _ => out.push(path),
                }
            }
        }
        let mut documented = Vec::new();
        leaves("", &text.parse::<toml::Table>().unwrap(), &mut documented);
        let mut known = Vec::new();
        leaves(
            "",
            &toml::Table::try_from(raw::File::default()).unwrap(),
            &mut known,
        );
        documented.sort();
        known.sort();
        assert_eq!(documented, known);
    }

    #[test]
    fn file_then_env_precedence() {
        let file = r#"
            [engine]
            allowed_lateness = "10s"
            max_queues = 50
            timezone = "Europe/Berlin"

            [kpi.default]
            sl_threshold = "15s"

            [kpi.queues.sales]
            sl_target = 0.9

            [http]
            listen = "127.0.0.1:1"
        "#;
        let config = load(
            Some(file),
            &[
                ("ACDSTREAM_ENGINE__ALLOWED_LATENESS", "45s"),
                ("ACDSTREAM_HTTP__LISTEN", "0.0.0.0:9898"),
                ("ACDSTREAM_KPI__QUEUES__SALES__SL_THRESHOLD", "30s"),
                ("ACDSTREAM_KPI__QUEUES__SUPPORT__SL_TARGET", "1"),
                ("ACDSTREAM_ENGINE__WINDOWS", "1m, 10m"),
                ("ACDSTREAM_PUBLISH__INTERVAL", "\"500ms\""),
                ("ACDSTREAM_LOG__FORMAT", "json"),
                // Not settings: no double underscore, or another prefix.
                ("ACDSTREAM_CONFIG", "/etc/acdstream.toml"),
                ("OTHER_ENGINE__MAX_QUEUES", "0"),
            ],
        )
        .unwrap();
        let e = &config.engine;
        assert_eq!(e.allowed_lateness, Duration::from_secs(45), "env wins");
        assert_eq!(e.max_queues, 50, "file wins over default");
        assert_eq!(e.max_agents_per_queue, 5_000, "default kept");
        assert_eq!(e.timezone, TimeZone::get("Europe/Berlin").unwrap());
        assert_eq!(
            e.windows,
            vec![
                WindowConfig {
                    name: "1m".into(),
                    len: Duration::from_secs(60)
                },
                WindowConfig {
                    name: "10m".into(),
                    len: Duration::from_secs(600)
                },
            ]
        );
        assert_eq!(config.http.listen, "0.0.0.0:9898".parse().unwrap());
        assert_eq!(config.publish.interval, Duration::from_millis(500));
        assert_eq!(config.log.format, LogFormat::Json);

        // Overrides fall back to [kpi.default] field by field, file and env combined.
        let sales = &config.kpi.queues["sales"];
        assert_eq!(sales.sl_threshold, Duration::from_secs(30));
        assert_eq!(sales.sl_target, 0.9);
        assert_eq!(sales.short_abandon, Duration::from_secs(5));
        let support = &config.kpi.queues["support"];
        assert_eq!(support.sl_target, 1.0);
        assert_eq!(support.sl_threshold, Duration::from_secs(15));

        let settings = config.engine_settings();
        assert_eq!(settings.queue("sales").sl_threshold_ms, 30_000);
        assert_eq!(settings.queue("other").sl_threshold_ms, 15_000);
        assert_eq!(settings.allowed_lateness_ms, 45_000);
    }

    #[test]
    fn env_arrays_parse_as_toml() {
        let config = load(None, &[("ACDSTREAM_ENGINE__WINDOWS", r#"["2m", "4m"]"#)]).unwrap();
        let names: Vec<_> = config
            .engine
            .windows
            .iter()
            .map(|w| w.name.as_str())
            .collect();
        assert_eq!(names, ["2m", "4m"]);
    }

    #[test]
    fn load_reports_an_unreadable_file_by_path() {
        let path = Path::new("/nonexistent/acdstream-test.toml");
        let err = Config::load(Some(path)).unwrap_err();
        assert!(matches!(err, ConfigError::Read { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains("/nonexistent/acdstream-test.toml"), "{msg}");
        assert!(msg.contains("No such file"), "{msg}");
    }

    #[test]
    fn syntax_errors_carry_the_line() {
        let err = load(Some("[engine]\nmax_queues = 5\nwindows = [\"5m\"\n"), &[]).unwrap_err();
        match &err {
            ConfigError::Syntax { line, .. } => assert!(*line >= 3, "{err}"),
            other => panic!("expected Syntax, got {other:?}"),
        }
        let err = load(Some("[engine]\ninterval = = 3\n"), &[]).unwrap_err();
        assert!(
            matches!(err, ConfigError::Syntax { line: 2, .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("line 2"), "{err}");
    }

    #[test]
    fn unknown_keys_are_named_with_their_path() {
        let err = load(Some("[engine]\nlateness = \"30s\"\n"), &[]).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, ConfigError::UnknownKey { .. }), "{err:?}");
        assert!(msg.contains("`engine.lateness`"), "{msg}");
        assert!(msg.contains("unknown field `lateness`"), "{msg}");

        let err = load(Some("[kpi.queues.sales]\nsl_treshold = \"30s\"\n"), &[]).unwrap_err();
        assert!(
            err.to_string().contains("`kpi.queues.sales.sl_treshold`"),
            "{err}"
        );

        let err = load(Some("[kafka2]\nbrokers = \"x\"\n"), &[]).unwrap_err();
        assert!(err.to_string().contains("unknown field `kafka2`"), "{err}");

        let err = load(None, &[("ACDSTREAM_ENGINE__LATENESS", "30s")]).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("ACDSTREAM_ENGINE__LATENESS"), "{msg}");
    }

    #[test]
    fn wrong_types_name_the_key() {
        let list = problems(Some("[engine]\nmax_queues = \"lots\"\n"), &[]);
        assert!(has(&list, "engine.max_queues"), "{list:?}");
        let list = problems(None, &[("ACDSTREAM_KPI__DEFAULT__SL_TARGET", "high")]);
        assert!(has(&list, "kpi.default.sl_target"), "{list:?}");
        assert!(has(&list, "ACDSTREAM_KPI__DEFAULT__SL_TARGET"), "{list:?}");
    }

    #[test]
    fn env_paths_through_a_value_are_reported() {
        let list = problems(None, &[("ACDSTREAM_HTTP__LISTEN__PORT", "1")]);
        // http.listen is created as a table by the override, which is then a type error...
        assert!(has(&list, "http.listen"), "{list:?}");
        let list = problems(
            None,
            &[
                ("ACDSTREAM_LOG__LEVEL", "info"),
                ("ACDSTREAM_LOG__LEVEL__X", "1"),
            ],
        );
        // ...while descending through a value that is already set is refused by name.
        assert!(has(&list, "ACDSTREAM_LOG__LEVEL__X"), "{list:?}");
        let list = problems(None, &[("ACDSTREAM_ENGINE____MAX_QUEUES", "1")]);
        assert!(has(&list, "empty key segment"), "{list:?}");
    }

    #[test]
    fn windows_must_be_nonempty() {
        assert_problem(
            "[engine]\nwindows = []",
            "engine.windows: must list at least one",
        );
    }

    #[test]
    fn windows_must_be_bucket_multiples() {
        assert_problem(
            "[engine]\nwindows = [\"5m\", \"25s\"]",
            "engine.windows[1]: \"25s\" must be a positive multiple of 10s",
        );
        assert_problem("[engine]\nwindows = [\"0s\"]", "engine.windows[0]");
        assert_problem(
            "[engine]\nwindows = [\"5x\"]",
            "engine.windows[0]: \"5x\" is not a duration",
        );
    }

    #[test]
    fn windows_must_be_unique() {
        assert_problem(
            "[engine]\nwindows = [\"60m\", \"5m\", \"1h\"]",
            "engine.windows[2]: \"1h\" is as long as a window already listed (\"60m\")",
        );
    }

    #[test]
    fn interval_must_divide_the_day() {
        assert_problem(
            "[engine]\ninterval = \"7m\"",
            "engine.interval: \"7m\" must be",
        );
        assert_problem("[engine]\ninterval = \"15s\"", "engine.interval");
        assert_problem("[engine]\ninterval = \"0s\"", "engine.interval");
        assert_problem("[engine]\ninterval = \"48h\"", "engine.interval");
        for ok in ["10s", "15m", "1h", "8h", "24h"] {
            load(Some(format!("[engine]\ninterval = \"{ok}\"").as_str()), &[]).unwrap();
        }
    }

    #[test]
    fn timezone_must_be_known() {
        assert_problem(
            "[engine]\ntimezone = \"Mars/Olympus_Mons\"",
            "engine.timezone: unknown time zone \"Mars/Olympus_Mons\"",
        );
    }

    #[test]
    fn sl_target_must_be_a_ratio() {
        assert_problem(
            "[kpi.default]\nsl_target = 0.0",
            "kpi.default.sl_target: 0 must be in (0, 1]",
        );
        assert_problem("[kpi.default]\nsl_target = 1.5", "kpi.default.sl_target");
        assert_problem("[kpi.default]\nsl_target = nan", "kpi.default.sl_target");
        assert_problem(
            "[kpi.queues.vip]\nsl_target = 80",
            "kpi.queues.vip.sl_target: 80 must be",
        );
        load(Some("[kpi.default]\nsl_target = 1"), &[]).unwrap();
    }

    #[test]
    fn thresholds_must_be_positive() {
        for key in ["sl_threshold", "short_abandon", "ring_cadence"] {
            assert_problem(
                &format!("[kpi.default]\n{key} = \"0s\""),
                &format!("kpi.default.{key}: must be longer than 0s"),
            );
            assert_problem(
                &format!("[kpi.queues.q1]\n{key} = \"0\""),
                &format!("kpi.queues.q1.{key}"),
            );
        }
    }

    #[test]
    fn short_abandon_may_exceed_the_threshold() {
        let config = load(
            Some("[kpi.default]\nsl_threshold = \"5s\"\nshort_abandon = \"10s\""),
            &[],
        )
        .unwrap();
        assert_eq!(config.kpi.default.short_abandon, Duration::from_secs(10));
    }

    #[test]
    fn lateness_must_be_below_the_shortest_window() {
        assert_problem(
            "[engine]\nwindows = [\"15m\", \"1m\"]\nallowed_lateness = \"1m\"",
            "engine.allowed_lateness: 1m must be shorter than the shortest window (1m)",
        );
        let config = load(Some("[engine]\nallowed_lateness = \"0s\""), &[]).unwrap();
        assert_eq!(config.engine.allowed_lateness, Duration::ZERO);
    }

    #[test]
    fn dedup_horizon_must_cover_the_lateness() {
        assert_problem(
            "[engine]\nallowed_lateness = \"2m\"\ndedup_horizon = \"1m\"",
            "engine.dedup_horizon: 1m must be at least engine.allowed_lateness (2m)",
        );
    }

    #[test]
    fn caps_and_ages_must_be_positive() {
        for key in [
            "dedup_max_ids_per_queue",
            "max_queues",
            "max_agents_per_queue",
            "max_events_per_call",
        ] {
            assert_problem(
                &format!("[engine]\n{key} = 0"),
                &format!("engine.{key}: must be greater than 0"),
            );
        }
        assert_problem("[engine]\nmax_call_age = \"0s\"", "engine.max_call_age");
        assert_problem(
            "[engine]\nmax_future_skew = \"0s\"",
            "engine.max_future_skew",
        );
    }

    #[test]
    fn publish_interval_has_a_floor() {
        assert_problem(
            "[publish]\ninterval = \"50ms\"",
            "publish.interval: 50ms is too frequent; use at least 100ms",
        );
        load(Some("[publish]\ninterval = \"100ms\""), &[]).unwrap();
    }

    #[test]
    fn http_log_values_are_checked() {
        assert_problem("[http]\nlisten = \"localhost:9898\"", "http.listen");
        assert_problem("[log]\nformat = \"xml\"", "log.format: \"xml\"");
        assert_problem(
            "[log]\nlevel = \"verbose\"",
            "log.level: \"verbose\" is not a log level",
        );
        assert_problem("[log]\nlevel = \"info,acdstream=loud\"", "log.level");
        assert_problem("[log]\nlevel = \"\"", "log.level");
        load(Some("[log]\nlevel = \"info,acdstream=debug\""), &[]).unwrap();
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let file = r#"
            [engine]
            windows = ["5m", "25s"]
            interval = "7m"
            timezone = "Nowhere/Special"
            allowed_lateness = 30
            max_queues = 0

            [kpi.default]
            sl_target = 2.0

            [publish]
            interval = "10ms"

            [kpi.queues.vip]
            sl_threshold = "10s"
        "#;
        let list = problems(Some(file), &[("ACDSTREAM_LOG__FORMAT", "yaml")]);
        for needle in [
            "engine.windows[1]",
            "engine.interval",
            "engine.timezone",
            "engine.allowed_lateness: \"30\" is not a duration: \"30\" has no unit; write e.g. \"30s\"",
            "engine.max_queues",
            "kpi.default.sl_target",
            "publish.interval",
            "log.format: \"yaml\" is not a log format; use \"text\" or \"json\" (set by environment variable ACDSTREAM_LOG__FORMAT)",
        ] {
            assert!(has(&list, needle), "{needle:?} not in {list:#?}");
        }
        assert_eq!(list.len(), 8, "{list:#?}");
        let msg = ConfigError::Invalid(list).to_string();
        assert!(
            msg.starts_with("invalid configuration (8 problems)"),
            "{msg}"
        );
        assert_eq!(msg.lines().count(), 9, "one line per problem: {msg}");
    }

    #[test]
    fn alert_defaults_are_the_built_in_rules() {
        let config = load(None, &[]).unwrap();
        assert_eq!(config.alerts, AlertSettings::default());
        let a = &config.alerts;
        assert_eq!(a.alertmanager_url, None);
        assert_eq!(a.resend_interval, Duration::from_secs(60));
        assert_eq!(a.default.asa.threshold, 20.0);
        assert_eq!(a.default.service_level.for_ms, 120_000);
        assert_eq!(a.default.oldest_wait.for_ms, 0);
        assert_eq!(a.rejected_events.for_ms, 600_000);
    }

    #[test]
    fn alert_overrides_inherit_key_by_key_from_file_and_env() {
        let file = r#"
            [alerts]
            alertmanager_url = "http://alertmanager:9093/"
            generator_url = "https://grafana.example.com/d/acd"

            [alerts.default]
            min_calls = 20

            [alerts.default.asa]
            threshold = 30
            clear = 25

            [alerts.queues.vip.asa]
            threshold = 10
            clear = 8
            severity = "page"

            [alerts.queues.vip.oldest_wait]
            threshold = 60
            clear = 45
        "#;
        let config = load(
            Some(file),
            &[
                ("ACDSTREAM_ALERTS__RESEND_INTERVAL", "30s"),
                ("ACDSTREAM_ALERTS__DEFAULT__ASA__FOR", "2m"),
                ("ACDSTREAM_ALERTS__QUEUES__SALES__MIN_CALLS", "5"),
                (
                    "ACDSTREAM_ALERTS__QUEUES__SALES__SERVICE_LEVEL__WINDOW",
                    "interval",
                ),
                ("ACDSTREAM_ALERTS__CONSUMER_LAG__MAX", "50000"),
                ("ACDSTREAM_ALERTS__SOURCE_STALLED__ENABLED", "false"),
            ],
        )
        .unwrap();
        let a = &config.alerts;
        assert_eq!(
            a.alertmanager_url.as_deref(),
            Some("http://alertmanager:9093")
        );
        assert_eq!(
            a.generator_url.as_deref(),
            Some("https://grafana.example.com/d/acd")
        );
        assert_eq!(a.resend_interval, Duration::from_secs(30));
        assert_eq!(a.consumer_lag.max, 50_000);
        assert!(!a.source_stalled.enabled);

        let builtin = QueueRules::default();
        let d = &a.default;
        assert_eq!(d.min_calls, 20);
        assert_eq!(
            (d.asa.threshold, d.asa.clear, d.asa.for_ms),
            (30.0, 25.0, 120_000)
        );
        assert_eq!(d.asa.window, "15m", "built-in kept");
        assert_eq!(d.abandon_rate, builtin.abandon_rate);

        let vip = a.queue("vip");
        assert_eq!((vip.asa.threshold, vip.asa.clear), (10.0, 8.0));
        assert_eq!(vip.asa.severity, Severity::Page);
        assert_eq!(
            vip.asa.for_ms, 120_000,
            "inherited from [alerts.default], env included"
        );
        assert_eq!(vip.min_calls, 20);
        assert_eq!(
            (vip.oldest_wait.threshold, vip.oldest_wait.clear),
            (60.0, 45.0)
        );
        assert_eq!(vip.oldest_wait.severity, Severity::Page);

        let sales = a.queue("sales");
        assert_eq!(sales.min_calls, 5);
        assert_eq!(sales.service_level.window, "interval");
        assert_eq!(sales.asa, d.asa);
        assert_eq!(a.queue("other"), d);
    }

    #[test]
    fn every_invalid_alert_value_is_reported_at_once() {
        let file = r#"
            [engine]
            windows = ["5m", "15m"]

            [alerts]
            alertmanager_url = "alertmanager:9093"
            generator_url = "ftp://x"
            resend_interval = "500ms"
            push_timeout = "0s"

            [alerts.default.asa]
            threshold = -1
            window = "60m"

            [alerts.default.abandon_rate]
            threshold = 5
            clear = 4

            [alerts.default.not_ready]
            clear = 0.07

            [alerts.default.rings_per_answer]
            threshold = nan
            severity = "critical"

            [alerts.default.oldest_wait]
            threshold = 60
            for = "1 minute"

            [alerts.default.service_level]
            clear_margin = 1.5

            [alerts.queues.vip.asa]
            threshold = 15

            [alerts.queues.vip.not_ready]
            threshold = 0.1

            [alerts.consumer_lag]
            max = 0

            [alerts.rejected_events]
            max_ratio = 1.0

            [alerts.source_stalled]
            after = "0s"
        "#;
        let list = problems(Some(file), &[]);
        let expected = [
            "alerts.default.service_level.clear_margin: 1.5 must be in [0, 1)",
            "alerts.default.asa.window: \"60m\" is not a window of the snapshots; use one of \
             engine.windows (\"5m\", \"15m\"), \"interval\" or \"today\"",
            "alerts.default.asa.threshold: -1 must be a number of seconds above 0",
            "alerts.default.abandon_rate.threshold: 5 must be a ratio in (0, 1), e.g. 0.05 for 5 %",
            "alerts.default.abandon_rate.clear: 4 must be a ratio in [0, 1)",
            "alerts.default.oldest_wait.for: \"1 minute\" is not a duration",
            "alerts.default.oldest_wait.threshold: 60 is below the inherited clear level (90); \
             set a lower `clear` here as well",
            "alerts.default.not_ready.clear: 0.07 must be at most the threshold (0.06): a firing \
             alert resolves once the value is back at or below `clear`",
            "alerts.default.rings_per_answer.threshold: NaN must be a number above 0",
            "alerts.default.rings_per_answer.severity: \"critical\" is not a severity; use \
             \"page\" or \"ticket\"",
            "alerts.source_stalled.after: must be longer than 0s",
            "alerts.consumer_lag.max: must be greater than 0",
            "alerts.rejected_events.max_ratio: 1 must be a ratio in (0, 1)",
            "alerts.alertmanager_url: \"alertmanager:9093\" is not an http URL; write e.g. \
             \"http://alertmanager:9093\"",
            "alerts.generator_url: \"ftp://x\" is not an http(s) URL",
            "alerts.resend_interval: 500ms is too frequent; use at least 1s",
            "alerts.push_timeout: must be longer than 0s",
        ];
        for needle in expected {
            assert!(has(&list, needle), "{needle:?} not in {list:#?}");
        }
        // The default is invalid, so vip's own (valid) keys are all that is checked of it.
        assert!(!has(&list, "alerts.queues.vip"), "{list:#?}");
        assert_eq!(list.len(), expected.len(), "{list:#?}");
    }

    #[test]
    fn built_in_alert_windows_follow_the_configured_windows() {
        let window = |windows: &str| {
            let config = load(None, &[("ACDSTREAM_ENGINE__WINDOWS", windows)]).unwrap();
            let d = &config.alerts.default;
            assert_eq!(d.service_level.window, d.asa.window);
            assert_eq!(d.rings_per_answer.window, d.asa.window);
            d.asa.window.clone()
        };
        assert_eq!(window("5m,15m,60m"), "15m");
        // 10m and 20m are as near to 15m: the longer wins.
        assert_eq!(window("1m,10m,20m"), "20m");
        assert_eq!(window("1m,10m,30m"), "10m");
        assert_eq!(window("1h"), "1h");
        // A window written in [alerts] must exist.
        let list = problems(
            Some("[engine]\nwindows = [\"10m\"]\n[alerts.default.asa]\nwindow = \"15m\""),
            &[],
        );
        assert_eq!(list.len(), 1, "{list:?}");
        assert!(
            has(&list, "alerts.default.asa.window: \"15m\" is not a window"),
            "{list:?}"
        );
    }

    #[test]
    fn alert_overrides_are_checked_against_what_they_inherit() {
        let list = problems(
            Some("[alerts.queues.vip.asa]\nthreshold = 15\n\n[alerts.queues.vip.surge]\nseverity = \"sms\""),
            &[],
        );
        assert_eq!(
            list,
            [
                "alerts.queues.vip.surge.severity: \"sms\" is not a severity; use \"page\" or \
                 \"ticket\"",
                "alerts.queues.vip.asa.threshold: 15 is below the inherited clear level (18); \
                 set a lower `clear` here as well",
            ]
        );
        let list = problems(
            None,
            &[(
                "ACDSTREAM_ALERTS__QUEUES__VIP__ABANDON_RATE__THRESHOLD",
                "5",
            )],
        );
        assert_eq!(
            list,
            [
                "alerts.queues.vip.abandon_rate.threshold: 5 must be a ratio in (0, 1), e.g. 0.05 \
              for 5 % (set by environment variable \
              ACDSTREAM_ALERTS__QUEUES__VIP__ABANDON_RATE__THRESHOLD)"
            ]
        );
    }

    #[test]
    fn alert_keys_are_only_the_known_ones() {
        let err = load(Some("[alerts.queues.vip.asa]\ntreshold = 10\n"), &[]).unwrap_err();
        assert!(
            err.to_string().contains("`alerts.queues.vip.asa.treshold`"),
            "{err}"
        );
        // The oldest wait is not windowed.
        let err = load(Some("[alerts.default.oldest_wait]\nwindow = \"5m\"\n"), &[]).unwrap_err();
        assert!(matches!(err, ConfigError::UnknownKey { .. }), "{err:?}");
        let err = load(None, &[("ACDSTREAM_ALERTS__QUEUES__VIP__MAX_CALLS", "3")]).unwrap_err();
        assert!(
            err.to_string()
                .contains("ACDSTREAM_ALERTS__QUEUES__VIP__MAX_CALLS"),
            "{err}"
        );
    }

    #[test]
    fn alertmanager_url_is_the_plain_http_base() {
        assert_problem(
            "[alerts]\nalertmanager_url = \"https://am:9093\"",
            "alerts.alertmanager_url: \"https://am:9093\": https is not supported",
        );
        assert_problem(
            "[alerts]\nalertmanager_url = \"http://am:9093/api/v2/alerts\"",
            "has an API path; give the base URL",
        );
        assert_problem(
            "[alerts]\nalertmanager_url = \"http://\"",
            "alerts.alertmanager_url",
        );
        let config = load(
            Some("[alerts]\nalertmanager_url = \" http://10.0.0.7:9093 \""),
            &[],
        )
        .unwrap();
        assert_eq!(
            config.alerts.alertmanager_url.as_deref(),
            Some("http://10.0.0.7:9093")
        );
        let config = load(None, &[("ACDSTREAM_ALERTS__ALERTMANAGER_URL", "")]).unwrap();
        assert_eq!(config.alerts.alertmanager_url, None);
    }

    #[test]
    fn durations_parse() {
        let ok = [
            ("250ms", 250),
            ("30s", 30_000),
            ("5m", 300_000),
            ("1h", 3_600_000),
            ("2h30m", 9_000_000),
            ("1h0m5s", 3_605_000),
            ("1m500ms", 60_500),
            (" 10s ", 10_000),
            ("0", 0),
            ("0s", 0),
        ];
        for (text, ms) in ok {
            assert_eq!(
                parse_duration(text),
                Ok(Duration::from_millis(ms)),
                "{text}"
            );
        }
        let bad = [
            ("", "empty"),
            ("30", "has no unit"),
            ("1.5s", "fractions"),
            ("-5s", "negative"),
            ("5 m", "unexpected"),
            ("5d", "unknown unit \"d\""),
            ("5M", "unknown unit \"M\""),
            ("30m1h", "largest to smallest"),
            ("1m1m", "largest to smallest"),
            ("s", "expected a number"),
            ("99999999999999999999s", "too long"),
            ("9999999999999h", "too long"),
        ];
        for (text, needle) in bad {
            let err = parse_duration(text).unwrap_err().to_string();
            assert!(err.contains(needle), "{text:?}: {err}");
            assert!(
                err.starts_with(&format!("\"{text}\" is not a duration")),
                "{err}"
            );
        }
    }

    #[test]
    fn durations_format_canonically() {
        for (ms, text) in [
            (0, "0s"),
            (250, "250ms"),
            (90_000, "1m30s"),
            (3_600_000, "1h"),
            (9_000_500, "2h30m500ms"),
        ] {
            assert_eq!(format_duration(Duration::from_millis(ms)), text);
            assert_eq!(parse_duration(text), Ok(Duration::from_millis(ms)));
        }
    }
}
