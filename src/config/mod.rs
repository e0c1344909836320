//! The configuration boundary: defaults in code, then an optional TOML file, then
//! `ACDSTREAM_<SECTION>__<KEY>` environment variables, checked as a whole.
//!
//! figment does the layering: the file and each environment variable are a [`Layer`] whose
//! metadata names where a value came from, so a problem with a value set by a variable names
//! the variable. A variable name is split on double underscores (keys themselves contain
//! single ones) and lowercased, so `ACDSTREAM_KPI__QUEUES__SALES__SL_THRESHOLD=30s` sets
//! `kpi.queues.sales.sl_threshold`. Values are read as TOML values when they parse (`60`,
//! `0.9`, `["5m","15m"]`), otherwise as strings (`30s`, `0.0.0.0:9898`). Variables without a
//! double underscore are not settings: `ACDSTREAM_CONFIG` is the file's path, `ACDSTREAM_LOG`
//! an alias of `log.level`, and any other is reported (a setting mistyped with one underscore
//! would otherwise change nothing). Because names are lowercased, a queue whose id has capitals
//! must be configured in the file.
//!
//! The merged layers are deserialized into the sections' raw structs (`deny_unknown_fields`);
//! values stay text until each section checks its own into the settings types of the code that
//! uses them, so every problem is reported at once, with its key. Defaults are written once:
//! in `EngineSettings`, `AlertSettings` and, for the rest, the raw structs.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::error::Kind;
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use serde::{Deserialize, Serialize};

use crate::alerts::rules::AlertSettings;
use crate::event::Millis;
use crate::state::{EngineSettings, SlidingWindow, TimeMode};

/// A section as written, with its defaults: serde fills in what the layers leave out, and the
/// defaults, serialized, list every setting (the example file is checked against them).
macro_rules! raw {
    ($name:ident $(($s:ident = $init:expr))? {
        $($(#[$m:meta])* $field:ident: $ty:ty = $default:expr,)*
    }) => {
        #[derive(Debug, Deserialize, Serialize)]
        #[serde(deny_unknown_fields, default)]
        pub(in crate::config) struct $name { $($(#[$m])* pub(in crate::config) $field: $ty,)* }

        impl Default for $name {
            #[allow(clippy::useless_conversion)]
            fn default() -> Self {
                $(let $s = $init;)?
                $name { $($field: $default.into(),)* }
            }
        }
    };
}

/// Tables that inherit what they leave out, key by key, from a base of the settings they fill
/// (`[kpi.queues.<id>]` from `[kpi.default]`, alert rules from the built-in ones). Each key
/// names the settings field it fills (its own name unless given), the [`Problems`] method that
/// checks it (`rule`: a nested table) and how the built-in value is written, for the defaults.
/// Only the keys a table sets are checked: a base of `None` was invalid and reported, and the
/// table is `None` too. A `then` check runs on the merged values, told which keys are set.
macro_rules! inherits {
    ($($settings:ident $raw:ident {
        $($key:ident $(as $name:literal)? $(=> $($field:ident).+)?: $ty:ty =
            $check:ident $(($level:ident))? / $written:ident),* $(,)?
    } $(then $hook:ident($($arg:ident),*))?;)*) => {$(
        #[derive(Debug, Default, Deserialize, Serialize)]
        #[serde(deny_unknown_fields)]
        pub(super) struct $raw { $($(#[serde(rename = $name)])? $key: Option<$ty>,)* }

        impl From<&$settings> for $raw {
            fn from(s: &$settings) -> Self {
                $raw { $($key: $written(&inherits!(@at s, $key $($($field).+)?)),)* }
            }
        }

        impl $raw {
            fn inherit(
                &self, p: &mut Problems<'_>, path: &str, base: Option<&$settings>,
            ) -> Option<$settings> {
                $(let key = format!("{path}.{}", [$($name,)? stringify!($key)][0]);
                let $key = match &self.$key {
                    Some(own) => inherits!(@check p, &key, own, $check $(($level))?,
                        base.map(|b| &inherits!(@at b, $key $($($field).+)?))),
                    None => base.map(|b| inherits!(@at b, $key $($($field).+)?).clone()),
                };)*
                $(let ($($arg),*) = p.$hook(path, [$(self.$arg.is_some()),*], $($arg),*);)?
                let mut merged = base?.clone();
                $(inherits!(@at merged, $key $($($field).+)?) = $key?;)*
                Some(merged)
            }
        }
    )*};
    (@at $s:ident, $key:ident) => { $s.$key };
    (@at $s:ident, $key:ident $($field:ident).+) => { $s.$($field).+ };
    (@check $p:ident, $key:expr, $own:ident, rule($level:ident), $base:expr) => {{
        $p.level = Level::$level;
        $own.inherit($p, $key, $base)
    }};
    (@check $p:ident, $key:expr, $own:ident, $check:ident, $base:expr) => { $p.$check($key, $own) };
}

mod alerts;
mod asterisk;
mod duration;
mod engine;
mod kafka;
mod kpi;
#[cfg(test)]
mod tests;

pub use asterisk::AsteriskConfig;
pub use duration::{format_duration, parse_duration, DurationError};
pub use kafka::{EventsFormat, KafkaConfig};

use duration::{millis, shown, DurationText};

/// Prefix of every environment variable that overrides a setting.
pub const ENV_PREFIX: &str = "ACDSTREAM_";
/// Separates path segments in an override's name.
pub const ENV_SEPARATOR: &str = "__";
/// The log filter's variable, an alias of `log.level`.
const LOG_VAR: &str = "ACDSTREAM_LOG";
/// Variables with the prefix that are not settings: the config file's path (read by the
/// command line) and those of the test and bench harness, which the service never reads.
const NOT_SETTINGS: [&str; 4] = ["CONFIG", "TEST_", "BENCH_", "BLESS"];
/// How an environment variable's layer is named; problems with its values name it.
const ENV_VAR: &str = "environment variable ";

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

    #[error("{}", list(.0))]
    Invalid(Vec<String>),
}

fn list(problems: &[String]) -> String {
    let (n, s) = (problems.len(), if problems.len() == 1 { "" } else { "s" });
    let lines: String = problems.iter().map(|p| format!("\n  {p}")).collect();
    format!("invalid configuration ({n} problem{s}); fix each of these:{lines}")
}

/// The validated configuration, in the settings types of the code that uses it.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `[engine]` and `[kpi]`, in the engine's units (milliseconds).
    pub engine: EngineSettings,
    /// `engine.clock`: where "now" comes from in `run`.
    pub clock: TimeMode,
    pub http: HttpConfig,
    pub publish: PublishConfig,
    pub log: LogConfig,
    pub kafka: KafkaConfig,
    /// `[alerts]`: the rules the alert evaluator applies and where alerts are pushed.
    pub alerts: AlertSettings,
    /// `[asterisk]`: how a queue_log is read.
    pub asterisk: AsteriskConfig,
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
    asterisk: asterisk::RawAsterisk,
}

raw! { RawHttp { listen: String = "127.0.0.1:9898", } }
raw! { RawPublish { interval: DurationText = "1s", } }
raw! { RawLog { level: String = "info", format: String = "text", } }

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
        // `std::env::vars()` panics on a non-UTF-8 variable anywhere in the environment; a
        // lossy conversion instead lets validation report a mangled ACDSTREAM_ value by name.
        let lossy = |s: std::ffi::OsString| s.to_string_lossy().into_owned();
        let env = std::env::vars_os().map(move |(k, v)| (lossy(k), lossy(v)));
        let Some(path) = path else {
            return build("", None, env);
        };
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
            path: path.to_owned(),
            error,
        })?;
        build(
            &format!("configuration file {}", path.display()),
            Some(&text),
            env,
        )
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

/// One layer of settings (the file, or one environment variable), named by its metadata.
struct Layer {
    name: String,
    data: Dict,
}

impl Layer {
    fn new(name: String, path: &str, value: impl Serialize) -> Layer {
        let value = Value::serialize(value).unwrap_or_else(|_| Dict::new().into());
        let data = figment::util::nest(path, value).into_dict();
        Layer {
            name,
            data: data.unwrap_or_default(),
        }
    }
}

impl Provider for Layer {
    fn metadata(&self) -> Metadata {
        Metadata::named(self.name.clone())
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.data.clone()))
    }
}

fn build(
    origin: &str,
    file_text: Option<&str>,
    env: impl Iterator<Item = (String, String)>,
) -> Result<Config, ConfigError> {
    let mut fig = Figment::new();
    if let Some(text) = file_text {
        let table = text.parse::<toml::Table>().map_err(|e| {
            // 1-based line and column (in characters) of where the parser stopped.
            let before = text.get(..e.span().map_or(0, |s| s.start)).unwrap_or(text);
            ConfigError::Syntax {
                origin: origin.to_owned(),
                line: before.matches('\n').count() + 1,
                column: before.rsplit('\n').next().unwrap_or("").chars().count() + 1,
                message: e.message().trim_end().to_owned(),
            }
        })?;
        fig = fig.merge(Layer::new(origin.to_owned(), "", table));
    }
    let mut problems = Vec::new();
    // Sorted so that the result never depends on the order the OS lists variables in.
    let mut vars: BTreeMap<_, _> = env
        .filter(|(name, _)| name.starts_with(ENV_PREFIX))
        .collect();
    // `ACDSTREAM_LOG` is the conventional spelling of `log.level`, applied last so it wins.
    let log = vars.remove(LOG_VAR);
    vars.retain(|name, _| {
        let rest = &name[ENV_PREFIX.len()..];
        let setting = rest.contains(ENV_SEPARATOR);
        if !setting && !NOT_SETTINGS.iter().any(|n| rest.starts_with(n)) {
            problems.push(unknown_variable(name));
        }
        setting
    });
    let log = log.map(|value| (LOG_VAR.to_owned(), ("log.level".to_owned(), value)));
    let vars = vars.into_iter().map(|(name, value)| {
        let path = name[ENV_PREFIX.len()..].split(ENV_SEPARATOR);
        let path = path.map(str::to_ascii_lowercase).collect::<Vec<_>>();
        (name, (path.join("."), value))
    });
    for (name, (path, value)) in vars.chain(log) {
        let is_value = |p: &&str| fig.find_value(p).is_ok_and(|v| v.as_dict().is_none());
        let mut parents = path.match_indices('.').map(|(i, _)| &path[..i]);
        if path.split('.').any(str::is_empty) {
            problems.push(format!(
                "{name}: empty key segment; write the path with single `__` between parts, \
                 e.g. ACDSTREAM_ENGINE__ALLOWED_LATENESS"
            ));
        } else if let Some(parent) = parents.find(is_value) {
            problems.push(format!(
                "{path}: cannot be set by {name} because `{parent}` is not a table; \
                 check the variable name"
            ));
        } else {
            // A value that is not a TOML value (`30s`, `0.0.0.0:9898`) is meant as a string.
            let value = value.parse().unwrap_or(toml::Value::String(value));
            fig = fig.merge(Layer::new(format!("{ENV_VAR}{name}"), &path, value));
        }
    }
    match fig.extract() {
        Ok(raw) => validate(raw, &fig, problems),
        Err(e) => Err(shape_error(e, problems)),
    }
}

/// A variable with the prefix but no `__` that is not read: most likely a setting spelt with a
/// single underscore, which would otherwise change nothing without a word.
fn unknown_variable(name: &str) -> String {
    let rest = &name[ENV_PREFIX.len()..];
    // The sections, from the file's shape itself.
    let sections = toml::Table::try_from(RawFile::default()).unwrap_or_default();
    let section = sections.keys().find_map(|s| {
        let s = s.to_ascii_uppercase();
        let key = rest.strip_prefix(&s)?.strip_prefix('_')?;
        Some(format!(
            "; did you mean {ENV_PREFIX}{s}{ENV_SEPARATOR}{key}?"
        ))
    });
    format!(
        "{name}: not a setting nor a variable acdstream reads{}; settings are \
         {ENV_PREFIX}<SECTION>{ENV_SEPARATOR}<KEY> (e.g. {ENV_PREFIX}ENGINE{ENV_SEPARATOR}MAX_QUEUES), \
         the others {ENV_PREFIX}CONFIG and {LOG_VAR}",
        section.unwrap_or_default()
    )
}

/// ` (set by environment variable X)` when a variable's layer gave the value.
fn source(metadata: Option<&Metadata>) -> String {
    let by_env = metadata.filter(|m| m.name.starts_with(ENV_VAR));
    by_env.map_or(String::new(), |m| format!(" (set by {})", m.name))
}

/// Turns a deserialization error (unknown key, wrong type) into an operator-facing error that
/// names the full key path and, when an environment variable set it, the variable.
fn shape_error(e: figment::Error, mut problems: Vec<String>) -> ConfigError {
    let mut path = e.path.join(".");
    let from = source(e.metadata.as_ref());
    if let Kind::UnknownField(field, expected) = &e.kind {
        let message = <serde::de::value::Error as serde::de::Error>::unknown_field(field, expected);
        let place = match path.rsplit_once('.') {
            Some((parent, _)) => format!("in [{parent}]"),
            None => "at the top level".to_owned(),
        };
        let message = format!("`{path}`{from}: {message} {place}");
        return ConfigError::UnknownKey { message };
    }
    if path.is_empty() {
        path += "(top level)";
    }
    problems.push(format!("{path}: {}{from}", e.kind));
    ConfigError::Invalid(problems)
}

/// Collects problems; every check runs even after one fails. A check that fails yields `None`,
/// and a configuration is returned only when no problem was reported, so a value that reaches
/// [`Config`] has passed its checks (a setting whose check failed keeps its default meanwhile).
/// It also holds what later checks are made against: the valid windows and interval of
/// `[engine]`, and the level of the alert rule being checked.
struct Problems<'a> {
    list: Vec<String>,
    fig: &'a Figment,
    windows: Vec<SlidingWindow>,
    interval: Option<Millis>,
    level: alerts::Level,
}

impl Problems<'_> {
    fn add(&mut self, path: &str, message: impl Display) {
        let key = path.split('[').next().unwrap_or(path);
        let from = source(self.fig.find_metadata(key));
        self.list.push(format!("{path}: {message}{from}"));
    }

    /// The value, or `None` with the error reported.
    fn ok<T>(&mut self, path: &str, result: Result<T, impl Display>) -> Option<T> {
        result.map_err(|why| self.add(path, why)).ok()
    }

    /// `value` when it is `valid`, else `None` with `why` reported.
    fn check<T>(&mut self, path: &str, value: T, valid: bool, why: impl Display) -> Option<T> {
        if !valid {
            self.add(path, why);
        }
        valid.then_some(value)
    }

    /// `v` when `valid`, else "`v` `rule`" reported.
    fn number(&mut self, path: &str, v: f64, valid: bool, rule: &str) -> Option<f64> {
        self.check(path, v, valid, format!("{v} {rule}"))
    }

    fn nonzero<T: Default + PartialEq + Copy>(&mut self, path: &str, &n: &T) -> Option<T> {
        self.check(path, n, n != T::default(), "must be greater than 0")
    }

    fn any<T: Clone>(&mut self, _: &str, value: &T) -> Option<T> {
        Some(value.clone())
    }

    fn duration(&mut self, path: &str, text: &DurationText) -> Option<Duration> {
        self.ok(path, parse_duration(&text.0))
    }

    fn ms(&mut self, path: &str, text: &DurationText) -> Option<Millis> {
        self.duration(path, text).map(millis)
    }

    /// A duration that must be > 0.
    fn positive(&mut self, path: &str, text: &DurationText) -> Option<Duration> {
        let d = self.duration(path, text)?;
        let why = format!("must be longer than 0s (got \"{}\")", text.0);
        self.check(path, d, !d.is_zero(), why)
    }

    fn positive_ms(&mut self, path: &str, text: &DurationText) -> Option<Millis> {
        self.positive(path, text).map(millis)
    }

    /// A per-queue threshold, up to an hour.
    fn short_span(&mut self, path: &str, text: &DurationText) -> Option<Millis> {
        let ms = self.positive_ms(path, text);
        self.within(path, ms, engine::MAX_SHORT_MS)
    }

    /// A positive length up to a day.
    fn long(&mut self, path: &str, text: &DurationText) -> Option<Millis> {
        let ms = self.positive_ms(path, text);
        self.within(path, ms, engine::MAX_LONG_MS)
    }

    /// A length of at most `max`: longer ones cost memory or overflow time arithmetic.
    fn within(&mut self, path: &str, ms: Option<Millis>, max: Millis) -> Option<Millis> {
        let ms = ms?;
        let why = format!(
            "{} is too long; the allowed range is 0s to {}",
            shown(ms),
            shown(max)
        );
        self.check(path, ms, ms <= max, why)
    }

    /// At least `min` milliseconds, with `advice` after the minimum.
    fn at_least(&mut self, path: &str, text: &DurationText, min: (u64, &str)) -> Option<Duration> {
        let (d, (min, advice)) = (self.duration(path, text)?, min);
        let min = Duration::from_millis(min);
        let (shown, min_shown) = (format_duration(d), format_duration(min));
        let why = format!("{shown} is too frequent; use at least {min_shown}{advice}");
        self.check(path, d, d >= min, why)
    }
}

/// How a built-in value is written for the defaults: as it is, as a duration, or not at all
/// (it depends on other settings, or there is none).
fn some<T: Clone>(value: &T) -> Option<T> {
    Some(value.clone())
}

fn ms(value: &Millis) -> Option<DurationText> {
    Some((*value).into())
}

fn none<T, U>(_: &T) -> Option<U> {
    None
}

/// Stores a checked value; `None` was reported, and the configuration is not returned then.
fn set<T>(setting: &mut T, value: Option<T>) {
    if let Some(value) = value {
        *setting = value;
    }
}

fn validate(raw: RawFile, fig: &Figment, list: Vec<String>) -> Result<Config, ConfigError> {
    let p = &mut Problems {
        list,
        fig,
        windows: Vec::new(),
        interval: None,
        level: alerts::Level::Count,
    };
    let mut engine = EngineSettings::default();
    let clock = engine::validate(p, &raw.engine, &mut engine);
    kpi::validate(p, &raw.kpi, &mut engine);
    engine::check_memory(p, &engine);
    let listen = raw.http.listen.trim().parse::<SocketAddr>().map_err(|_| {
        format!(
            "\"{}\" is not an IP address and port; use e.g. \"127.0.0.1:9898\" or \
             \"0.0.0.0:9898\" (host names are not resolved)",
            raw.http.listen
        )
    });
    let listen = p.ok("http.listen", listen);
    let publish = p.at_least("publish.interval", &raw.publish.interval, (100, ""));
    let level = p.ok("log.level", log_level(raw.log.level.trim()));
    let format = match raw.log.format.trim() {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        other => Err(format!(
            "\"{other}\" is not a log format; use \"text\" or \"json\""
        )),
    };
    let format = p.ok("log.format", format);
    let kafka = kafka::validate(p, &raw.kafka);
    let alerts = alerts::validate(p, &raw.alerts);
    let asterisk = asterisk::validate(p, &raw.asterisk);
    let config = (|| {
        let log = LogConfig {
            level: level?,
            format: format?,
        };
        Some(Config {
            engine,
            clock: clock?,
            http: HttpConfig { listen: listen? },
            publish: PublishConfig { interval: publish? },
            log,
            kafka: kafka?,
            alerts,
            asterisk,
        })
    })();
    match config {
        Some(config) if p.list.is_empty() => Ok(config),
        _ => Err(ConfigError::Invalid(std::mem::take(&mut p.list))),
    }
}

/// A level, or `tracing` directives whose levels are all real levels: a bare word such as
/// `verbose` would otherwise be accepted as a target name and silently log nothing.
fn log_level(level: &str) -> Result<String, String> {
    const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];
    let check = || {
        for part in level.split(',').map(str::trim) {
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
        let filter = tracing_subscriber::EnvFilter::builder().parse(level);
        filter.map(|_| level.to_owned()).map_err(|e| e.to_string())
    };
    check().map_err(|why| {
        format!(
            "\"{level}\" is not a log level or filter ({why}); use error, warn, info, debug or \
             trace, or a filter such as \"info,acdstream=debug\""
        )
    })
}
