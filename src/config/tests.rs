//! The configuration tests: every layer through `Config::from_sources`, with the environment
//! passed explicitly. Files are mostly written with TOML's dotted keys, one setting a line.

use std::path::Path;
use std::time::Duration;

use jiff::tz::TimeZone;

use super::*;
use crate::alerts::rules::QueueRules;
use crate::alerts::Severity;
use crate::state::SlidingWindow;
use ConfigError as E;

/// `file` and the environment, one `NAME=value` a line.
fn load(file: &str, env: &str) -> Result<Config, ConfigError> {
    let env = env.lines().filter_map(|line| line.trim().split_once('='));
    let env: Vec<_> = env.map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
    Config::from_sources(Some(file), env.into_iter())
}

fn ok(file: &str, env: &str) -> Config {
    load(file, env).unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn problems(file: &str, env: &str) -> Vec<String> {
    match load(file, env) {
        Err(ConfigError::Invalid(list)) => list,
        other => panic!("expected ConfigError::Invalid, got {other:?}"),
    }
}

/// Every line of `needles` (trimmed) is in one of the problems.
#[track_caller]
fn assert_has(list: &[String], needles: &str) {
    for needle in needles.lines().map(str::trim).filter(|n| !n.is_empty()) {
        let found = list.iter().any(|p| p.contains(needle));
        assert!(found, "{needle:?} not in {list:#?}");
    }
}

/// The problems are exactly the lines of `expected` (trimmed), in order.
#[track_caller]
fn assert_exactly(file: &str, env: &str, expected: &str) {
    let expected: Vec<_> = expected.lines().map(str::trim).collect();
    assert_eq!(problems(file, env), expected);
}

/// One file a line, then ` => ` and a problem it must cause.
const REJECTED: &str = r#"
engine.windows = [] => engine.windows: must list at least one
engine.windows = ["5m", "25s"] => engine.windows[1]: "25s" must be a positive multiple of 10s
engine.windows = ["0s"] => engine.windows[0]
engine.windows = ["5x"] => engine.windows[0]: "5x" is not a duration
engine.windows = ["60m", "5m", "1h"] => engine.windows[2]: "1h" is as long as a window already listed ("60m")
engine.interval = "7m" => engine.interval: "7m" must be
engine.interval = "15s" => engine.interval
engine.interval = "0s" => engine.interval
engine.interval = "48h" => engine.interval
engine.timezone = "Mars/Olympus_Mons" => engine.timezone: unknown time zone "Mars/Olympus_Mons"
engine = { windows = ["15m", "1m"], allowed_lateness = "1m" } => engine.allowed_lateness: 1m must be shorter than the shortest window (1m)
engine = { allowed_lateness = "2m", dedup_horizon = "1m" } => engine.dedup_horizon: 1m must be at least engine.allowed_lateness (2m)
engine.dedup_max_ids_per_queue = 0 => engine.dedup_max_ids_per_queue: must be greater than 0
engine.max_queues = 0 => engine.max_queues: must be greater than 0
engine.max_agents_per_queue = 0 => engine.max_agents_per_queue: must be greater than 0
engine.max_agents_per_queue = 32768 => engine.max_agents_per_queue: 32768 is more than 32767, the most agents a queue can count
engine.max_events_per_call = 0 => engine.max_events_per_call: must be greater than 0
engine.max_call_age = "0s" => engine.max_call_age
engine.max_clock_skew = "soon" => engine.max_clock_skew
engine.max_future_skew = "0s" => engine.max_future_skew
engine.max_queues = "lots" => engine.max_queues
kpi.default.sl_target = 0.0 => kpi.default.sl_target: 0 must be in (0, 1]
kpi.default.sl_target = 1.5 => kpi.default.sl_target
kpi.default.sl_target = nan => kpi.default.sl_target
kpi.queues.vip.sl_target = 80 => kpi.queues.vip.sl_target: 80 must be
kpi.default.sl_threshold = "0s" => kpi.default.sl_threshold: must be longer than 0s
kpi.default.short_abandon = "0s" => kpi.default.short_abandon: must be longer than 0s
kpi.default.ring_cadence = "0s" => kpi.default.ring_cadence: must be longer than 0s
kpi.queues.q1.sl_threshold = "0" => kpi.queues.q1.sl_threshold
kpi.queues.q1.short_abandon = "0" => kpi.queues.q1.short_abandon
kpi.queues.q1.ring_cadence = "0" => kpi.queues.q1.ring_cadence
kpi.queues.7.sl_target = "x" => kpi.queues.7.sl_target: invalid type
kpi.queues.a.surge_subside_factor = 1.6 => kpi.queues.a.surge_subside_factor: 1.6 is above surge_factor 1.5
kpi.queues.b.surge_forecast = { "09:10" = 5 } => kpi.queues.b.surge_forecast: "09:10" is not the start of an interval of 30m
publish.interval = "50ms" => publish.interval: 50ms is too frequent; use at least 100ms
http.listen = "localhost:9898" => http.listen
log.format = "xml" => log.format: "xml"
log.level = "verbose" => log.level: "verbose" is not a log level
log.level = "info,acdstream=loud" => log.level
log.level = "" => log.level
alerts.alertmanager_url = "https://am:9093" => alerts.alertmanager_url: "https://am:9093": https is not supported
alerts.alertmanager_url = "http://am:9093/api/v2/alerts" => has an API path; give the base URL
alerts.alertmanager_url = "http://" => alerts.alertmanager_url
engine.max_clock_skew = "" => engine.max_clock_skew: "" is not a duration: it is empty
engine.max_clock_skew = "30" => engine.max_clock_skew: "30" is not a duration: "30" has no unit
engine.max_clock_skew = "1.5s" => engine.max_clock_skew: "1.5s" is not a duration: fractions
engine.max_clock_skew = "-5s" => engine.max_clock_skew: "-5s" is not a duration: durations cannot be negative
engine.max_clock_skew = "5 m" => engine.max_clock_skew: "5 m" is not a duration: unexpected
engine.max_clock_skew = "5d" => engine.max_clock_skew: "5d" is not a duration: unknown unit "d"
engine.max_clock_skew = "5M" => engine.max_clock_skew: "5M" is not a duration: unknown unit "M"
engine.max_clock_skew = "30m1h" => engine.max_clock_skew: "30m1h" is not a duration: units must go from largest to smallest
engine.max_clock_skew = "1m1m" => engine.max_clock_skew: "1m1m" is not a duration: units must go from largest to smallest
engine.max_clock_skew = "s" => engine.max_clock_skew: "s" is not a duration: expected a number
engine.max_clock_skew = "99999999999999999999s" => engine.max_clock_skew: "99999999999999999999s" is not a duration: too long
engine.max_clock_skew = "9999999999999h" => engine.max_clock_skew: "9999999999999h" is not a duration: too long
engine.windows = ["5m", "100000h"] => engine.windows[1]: 100000h is too long; the allowed range is 0s to 4h
engine.windows = ["24h"] => engine.windows[0]: 24h is too long; the allowed range is 0s to 4h
engine.max_call_age = "2562047788015h" => engine.max_call_age: 2562047788015h is too long; the allowed range is 0s to 24h
engine.max_call_age = "24h10s" => engine.max_call_age: 24h10s is too long
engine.dedup_horizon = "48h" => engine.dedup_horizon: 48h is too long; the allowed range is 0s to 24h
engine.max_future_skew = "25h" => engine.max_future_skew: 25h is too long; the allowed range is 0s to 24h
engine.max_clock_skew = "2h" => engine.max_clock_skew: 2h is too long; the allowed range is 0s to 1h
kpi.default.sl_threshold = "2562047788015h" => kpi.default.sl_threshold: 2562047788015h is too long; the allowed range is 0s to 1h
kpi.queues.q1.short_abandon = "2h" => kpi.queues.q1.short_abandon: 2h is too long; the allowed range is 0s to 1h
kpi.default.ring_cadence = "61m" => kpi.default.ring_cadence: 1h1m is too long; the allowed range is 0s to 1h
kpi.default.surge_window = "5h" => kpi.default.surge_window: 5h is too long; the allowed range is 0s to 4h
kpi.queues.q.surge_baseline = "24h" => kpi.queues.q.surge_baseline: 24h is too long; the allowed range is 0s to 4h
kpi.default.surge_response_limit = "25h" => kpi.default.surge_response_limit: 25h is too long; the allowed range is 0s to 24h
engine.max_calls_per_queue = 0 => engine.max_calls_per_queue: must be greater than 0
engine.max_pending_per_queue = 0 => engine.max_pending_per_queue: must be greater than 0
engine.max_id_bytes = 0 => engine.max_id_bytes: must be greater than 0
"#;

/// Files that load.
const ACCEPTED: &str = r#"
engine.interval = "10s"
engine.interval = "15m"
engine.interval = "1h"
engine.interval = "8h"
engine.interval = "24h"
kpi.default.sl_target = 1
engine.windows = ["5m", "15m", "60m", "4h"]
engine.max_call_age = "24h"
engine = { max_clock_skew = "1h", max_future_skew = "24h", dedup_horizon = "24h" }
kpi.default = { sl_threshold = "1h", short_abandon = "1h", ring_cadence = "1h" }
kpi.default = { surge_window = "4h", surge_baseline = "4h", surge_response_limit = "24h" }
engine = { max_calls_per_queue = 1, max_pending_per_queue = 1, max_id_bytes = 1 }
publish.interval = "100ms"
log.level = "info,acdstream=debug"
"#;

#[test]
fn single_values_are_checked() {
    for line in REJECTED.lines().filter(|l| !l.is_empty()) {
        let (file, needle) = line.split_once(" => ").expect("`file => problem`");
        assert_has(&problems(file, ""), needle);
    }
    for file in ACCEPTED.lines() {
        ok(file, "");
    }
    let file = "kpi.default = { sl_threshold = \"5s\", short_abandon = \"10s\" }";
    let abandon = ok(file, "").engine.default_queue.short_abandon_ms;
    assert_eq!(abandon, 10_000, "may exceed");
    let engine = ok("engine.allowed_lateness = \"0s\"", "").engine;
    assert_eq!(engine.allowed_lateness_ms, 0);
    let skew = |file| ok(&format!("engine.max_clock_skew = \"{file}\""), "").engine;
    assert_eq!(skew("3s").max_clock_skew_ms, 3_000, "set");
    assert_eq!(skew("0s").max_clock_skew_ms, 0, "turned off");
    let file = "alerts.alertmanager_url = \" http://10.0.0.7:9093 \"";
    let url = ok(file, "").alerts.alertmanager_url;
    assert_eq!(url.as_deref(), Some("http://10.0.0.7:9093"));
    let alerts = ok("", "ACDSTREAM_ALERTS__ALERTMANAGER_URL=").alerts;
    assert_eq!(alerts.alertmanager_url, None);
}

#[test]
fn surge_settings_are_checked_and_reach_the_engine() {
    let file = r#"
        kpi.default.surge_response_limit = "5m"
        kpi.queues.vip = { surge_factor = 2.0, surge_forecast = { "09:00" = 60, "09:30" = 45 } }
    "#;
    let s = ok(file, "").engine;
    assert_eq!(s.default_queue.surge.response_limit_ms, 300_000);
    let vip = &s.queues["vip"].surge;
    let (factor, limit, min) = (vip.factor, vip.response_limit_ms, vip.min_calls);
    assert_eq!((factor, limit, min), (2.0, 300_000, 10));
    // Calls per 30-minute interval become a rate per minute.
    let nine = 9 * 3_600_000;
    let forecast: Vec<_> = vip.forecast_per_minute.iter().collect();
    assert_eq!(forecast, [(&nine, &2.0), (&(nine + 1_800_000), &1.5)]);

    let file = r#"
        kpi.default = { surge_window = "45s", surge_factor = 1.0, surge_min_calls = 0 }
        kpi.queues.a.surge_subside_factor = 1.6
        kpi.queues.b.surge_forecast = { "9:00" = 10, "09:10" = 5, "10:00" = -1 }
    "#;
    let needles = r#"kpi.default.surge_window: 45s is not a multiple of 10s
        kpi.default.surge_factor: 1 must be a number above 1
        kpi.default.surge_min_calls: must be at least 1
        kpi.queues.b.surge_forecast: "9:00" is not an interval start
        kpi.queues.b.surge_forecast: "10:00" = -1"#;
    assert_has(&problems(file, ""), needles);
}

#[test]
fn defaults_match_the_engine_defaults() {
    let config = Config::from_sources(None, std::iter::empty()).unwrap();
    assert_eq!(config, Config::default());
    // Every setting, the per-queue ones included.
    assert_eq!(config.engine, EngineSettings::default());
    assert_eq!(config.http.listen, "127.0.0.1:9898".parse().unwrap());
    assert_eq!(config.publish.interval, Duration::from_secs(1));
    assert_eq!(config.log.level, "info");
    assert_eq!(config.log.format, LogFormat::Text);
}

#[test]
fn example_file_parses_to_the_defaults_and_lists_every_setting() {
    let text = include_str!("../../acdstream.example.toml");
    assert_eq!(ok(text, ""), Config::default());

    fn leaves(prefix: &str, table: &toml::Table, out: &mut Vec<String>) {
        for (k, v) in table {
            let path = format!("{prefix}{k}");
            match v {
                toml::Value::Table(t) => leaves(&format!("{path}."), t, out),
                _ => out.push(path),
            }
        }
    }
    let (mut documented, mut known) = (Vec::new(), Vec::new());
    leaves("", &text.parse().unwrap(), &mut documented);
    let defaults = toml::Table::try_from(RawFile::default()).unwrap();
    leaves("", &defaults, &mut known);
    documented.sort();
    known.sort();
    assert_eq!(documented, known);
}

#[test]
fn file_then_env_precedence() {
    let file = r#"
        engine = { allowed_lateness = "10s", max_queues = 50, timezone = "Europe/Berlin" }
        kpi.default.sl_threshold = "15s"
        kpi.queues.sales.sl_target = 0.9
        http.listen = "127.0.0.1:1"
    "#;
    // The last two are not settings: no double underscore, or another prefix.
    let env = r#"ACDSTREAM_ENGINE__ALLOWED_LATENESS=45s
        ACDSTREAM_HTTP__LISTEN=0.0.0.0:9898
        ACDSTREAM_KPI__QUEUES__SALES__SL_THRESHOLD=30s
        ACDSTREAM_KPI__QUEUES__SUPPORT__SL_TARGET=1
        ACDSTREAM_ENGINE__WINDOWS=1m, 10m
        ACDSTREAM_PUBLISH__INTERVAL="500ms"
        ACDSTREAM_LOG__FORMAT=json
        ACDSTREAM_CONFIG=/etc/acdstream.toml
        OTHER_ENGINE__MAX_QUEUES=0"#;
    let config = ok(file, env);
    let e = &config.engine;
    assert_eq!(e.allowed_lateness_ms, 45_000, "env wins");
    assert_eq!(e.max_queues, 50, "file wins over default");
    assert_eq!(e.max_agents_per_queue, 5_000, "default kept");
    assert_eq!(e.timezone, TimeZone::get("Europe/Berlin").unwrap());
    let windows = [SlidingWindow::minutes(1), SlidingWindow::minutes(10)];
    assert_eq!(e.sliding, windows);
    assert_eq!(config.http.listen, "0.0.0.0:9898".parse().unwrap());
    assert_eq!(config.publish.interval, Duration::from_millis(500));
    assert_eq!(config.log.format, LogFormat::Json);

    // Overrides fall back to [kpi.default] field by field, file and env combined.
    let (sales, support) = (&e.queues["sales"], &e.queues["support"]);
    assert_eq!(sales.sl_threshold_ms, 30_000);
    assert_eq!(sales.sl_target, 0.9);
    assert_eq!(sales.short_abandon_ms, 5_000);
    assert_eq!(support.sl_target, 1.0);
    assert_eq!(support.sl_threshold_ms, 15_000);
    assert_eq!(e.queue("other").sl_threshold_ms, 15_000);

    let windows = ok("", r#"ACDSTREAM_ENGINE__WINDOWS=["2m", "4m"]"#)
        .engine
        .sliding;
    let names: Vec<_> = windows.iter().map(|w| w.name.as_str()).collect();
    assert_eq!(names, ["2m", "4m"], "env arrays parse as TOML");
}

#[test]
fn load_reports_an_unreadable_file_by_path() {
    let err = Config::load(Some(Path::new("/nonexistent/acdstream-test.toml"))).unwrap_err();
    assert!(matches!(err, ConfigError::Read { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("/nonexistent/acdstream-test.toml"), "{msg}");
    assert!(msg.contains("No such file"), "{msg}");
}

#[test]
fn syntax_errors_carry_the_line() {
    let err = load("[engine]\nmax_queues = 5\nwindows = [\"5m\"\n", "").unwrap_err();
    assert!(matches!(err, E::Syntax { line: 3.., .. }), "{err}");
    let err = load("[engine]\ninterval = = 3\n", "").unwrap_err();
    assert!(matches!(err, E::Syntax { line: 2, .. }), "{err:?}");
    assert!(err.to_string().contains("line 2"), "{err}");
}

/// A file (or, after `$`, a variable) a line, then ` => ` and what the message must contain.
/// The oldest wait is not windowed.
const UNKNOWN: &str = r#"
engine.lateness = "30s" => `engine.lateness`
engine.lateness = "30s" => unknown field `lateness`
kpi.queues.sales.sl_treshold = "30s" => `kpi.queues.sales.sl_treshold`
kafka2.brokers = "x" => unknown field `kafka2`
$ACDSTREAM_ENGINE__LATENESS=30s => ACDSTREAM_ENGINE__LATENESS
alerts.queues.vip.asa.treshold = 10 => `alerts.queues.vip.asa.treshold`
alerts.default.oldest_wait.window = "5m" => `alerts.default.oldest_wait.window`
$ACDSTREAM_ALERTS__QUEUES__VIP__MAX_CALLS=3 => ACDSTREAM_ALERTS__QUEUES__VIP__MAX_CALLS
"#;

#[test]
fn unknown_keys_are_named_with_their_path() {
    for line in UNKNOWN.lines().filter(|l| !l.is_empty()) {
        let (source, needle) = line.split_once(" => ").expect("`source => message`");
        let (file, env) = source
            .strip_prefix('$')
            .map_or((source, ""), |env| ("", env));
        let err = load(file, env).unwrap_err();
        assert!(matches!(err, ConfigError::UnknownKey { .. }), "{err:?}");
        assert_has(&[err.to_string()], needle);
    }
}

#[test]
fn env_values_and_paths_name_the_variable() {
    let list = problems("", "ACDSTREAM_KPI__DEFAULT__SL_TARGET=high");
    let var = "(set by environment variable ACDSTREAM_KPI__DEFAULT__SL_TARGET)";
    assert_has(&list, &format!("kpi.default.sl_target\n{var}"));
    let list = problems("", "ACDSTREAM_HTTP__LISTEN__PORT=1");
    assert_has(&list, "http.listen");
    let env = "ACDSTREAM_LOG__LEVEL=info\nACDSTREAM_LOG__LEVEL__X=1";
    // Descending through a value that is already set is refused by name.
    assert_has(&problems("", env), "ACDSTREAM_LOG__LEVEL__X");
    let list = problems("", "ACDSTREAM_ENGINE____MAX_QUEUES=1");
    assert_has(&list, "empty key segment");
}

#[test]
fn a_variable_that_is_not_read_is_reported_with_the_spelling_meant() {
    let list = problems("", "ACDSTREAM_ENGINE_MAX_QUEUES=5\nACDSTREAM_COLOUR=red");
    let needles = "ACDSTREAM_ENGINE_MAX_QUEUES: not a setting nor a variable acdstream reads; \
                   did you mean ACDSTREAM_ENGINE__MAX_QUEUES?
                   ACDSTREAM_COLOUR: not a setting nor a variable acdstream reads; settings are";
    assert_has(&list, needles);
    assert_eq!(list.len(), 2, "{list:#?}");
    // The config path and the test harness's variables are not settings, nor problems.
    let env = "ACDSTREAM_CONFIG=a.toml\nACDSTREAM_TEST_TANSU=/bin/tansu\nACDSTREAM_BLESS=1";
    ok("", env);
}

#[test]
fn acdstream_log_sets_the_level_and_a_bad_filter_is_refused_by_name() {
    let config = ok("log.level = \"warn\"", "ACDSTREAM_LOG=info,acdstream=debug");
    assert_eq!(config.log.level, "info,acdstream=debug");
    // It wins over the spelt-out variable whatever the order the OS lists them in.
    let config = ok("", "ACDSTREAM_LOG=error\nACDSTREAM_LOG__LEVEL=debug");
    assert_eq!(config.log.level, "error");
    let list = problems("", "ACDSTREAM_LOG=verbose");
    let needles = "log.level: \"verbose\" is not a log level or filter
                   (set by environment variable ACDSTREAM_LOG)";
    assert_has(&list, needles);
}

#[test]
fn every_problem_is_reported_at_once() {
    let file = r#"
        engine.windows = ["5m", "25s"]
        engine.interval = "7m"
        engine.timezone = "Nowhere/Special"
        engine.allowed_lateness = 30
        engine.max_queues = 0
        kpi.default.sl_target = 2.0
        publish.interval = "10ms"
        kpi.queues.vip.sl_threshold = "10s"
    "#;
    let list = problems(file, "ACDSTREAM_LOG__FORMAT=yaml");
    let needles = r#"engine.windows[1]
        engine.interval
        engine.timezone
        engine.allowed_lateness: "30" is not a duration: "30" has no unit; write e.g. "30s"
        engine.max_queues
        kpi.default.sl_target
        publish.interval
        log.format: "yaml" is not a log format; use "text" or "json" (set by environment variable ACDSTREAM_LOG__FORMAT)"#;
    assert_has(&list, needles);
    assert_eq!(list.len(), 8, "{list:#?}");
    let msg = ConfigError::Invalid(list).to_string();
    let head = "invalid configuration (8 problems)";
    assert!(msg.starts_with(head), "{msg}");
    assert_eq!(msg.lines().count(), 9, "one line per problem: {msg}");
}

#[test]
fn alert_defaults_are_the_built_in_rules() {
    let a = ok("", "").alerts;
    assert_eq!(a, AlertSettings::default());
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
        default = { min_calls = 20, asa = { threshold = 30, clear = 25 } }
        queues.vip.asa = { threshold = 10, clear = 8, severity = "page" }
        queues.vip.oldest_wait = { threshold = 60, clear = 45 }
    "#;
    let env = "ACDSTREAM_ALERTS__RESEND_INTERVAL=30s
        ACDSTREAM_ALERTS__DEFAULT__ASA__FOR=2m
        ACDSTREAM_ALERTS__QUEUES__SALES__MIN_CALLS=5
        ACDSTREAM_ALERTS__QUEUES__SALES__SERVICE_LEVEL__WINDOW=interval
        ACDSTREAM_ALERTS__CONSUMER_LAG__MAX=50000
        ACDSTREAM_ALERTS__SOURCE_STALLED__ENABLED=false";
    let a = ok(file, env).alerts;
    let (url, generator) = (a.alertmanager_url.as_deref(), a.generator_url.as_deref());
    assert_eq!(url, Some("http://alertmanager:9093"));
    assert_eq!(generator, Some("https://grafana.example.com/d/acd"));
    assert_eq!(a.resend_interval, Duration::from_secs(30));
    assert_eq!(a.consumer_lag.max, 50_000);
    assert!(!a.source_stalled.enabled);

    let d = &a.default;
    assert_eq!(d.min_calls, 20);
    let asa = (d.asa.threshold, d.asa.clear, d.asa.for_ms);
    assert_eq!(asa, (30.0, 25.0, 120_000));
    assert_eq!(d.asa.window, "15m", "built-in kept");
    assert_eq!(d.abandon_rate, QueueRules::default().abandon_rate);

    let vip = a.queue("vip");
    assert_eq!((vip.asa.threshold, vip.asa.clear), (10.0, 8.0));
    assert_eq!(vip.asa.severity, Severity::Page);
    assert_eq!(vip.asa.for_ms, 120_000, "inherited, env included");
    assert_eq!(vip.min_calls, 20);
    let oldest_wait = (vip.oldest_wait.threshold, vip.oldest_wait.clear);
    assert_eq!(oldest_wait, (60.0, 45.0));
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
        engine.windows = ["5m", "15m"]
        [alerts]
        alertmanager_url = "alertmanager:9093"
        generator_url = "ftp://x"
        resend_interval = "500ms"
        push_timeout = "0s"
        default.asa = { threshold = -1, window = "60m" }
        default.abandon_rate = { threshold = 5, clear = 4 }
        default.not_ready = { clear = 0.07 }
        default.rings_per_answer = { threshold = nan, severity = "critical" }
        default.oldest_wait = { threshold = 60, for = "1 minute" }
        default.service_level = { clear_margin = 1.5 }
        queues.vip.asa = { threshold = 15 }
        queues.vip.not_ready = { threshold = 0.1 }
        consumer_lag = { max = 0 }
        rejected_events = { max_ratio = 1.0 }
        source_stalled = { after = "0s" }
    "#;
    let list = problems(file, "");
    let expected = r#"alerts.default.service_level.clear_margin: 1.5 must be in [0, 1)
        alerts.default.asa.window: "60m" is not a window of the snapshots; use one of engine.windows ("5m", "15m"), "interval" or "today"
        alerts.default.asa.threshold: -1 must be a number of seconds above 0
        alerts.default.abandon_rate.threshold: 5 must be a ratio in (0, 1), e.g. 0.05 for 5 %
        alerts.default.abandon_rate.clear: 4 must be a ratio in [0, 1)
        alerts.default.oldest_wait.for: "1 minute" is not a duration
        alerts.default.oldest_wait.threshold: 60 is below the inherited clear level (90); set a lower `clear` here as well
        alerts.default.not_ready.clear: 0.07 must be at most the threshold (0.06): a firing alert resolves once the value is back at or below `clear`
        alerts.default.rings_per_answer.threshold: NaN must be a number above 0
        alerts.default.rings_per_answer.severity: "critical" is not a severity; use "page" or "ticket"
        alerts.source_stalled.after: must be longer than 0s
        alerts.consumer_lag.max: must be greater than 0
        alerts.rejected_events.max_ratio: 1 must be a ratio in (0, 1)
        alerts.alertmanager_url: "alertmanager:9093" is not an http URL; write e.g. "http://alertmanager:9093"
        alerts.generator_url: "ftp://x" is not an http(s) URL
        alerts.resend_interval: 500ms is too frequent; use at least 1s
        alerts.push_timeout: must be longer than 0s"#;
    assert_has(&list, expected);
    // The default is invalid, so vip's own (valid) keys are all that is checked of it.
    let vip = list.iter().any(|p| p.contains("alerts.queues.vip"));
    assert!(!vip, "{list:#?}");
    assert_eq!(list.len(), expected.lines().count(), "{list:#?}");
}

#[test]
fn built_in_alert_windows_follow_the_configured_windows() {
    let window = |windows: &str| {
        let d = ok("", &format!("ACDSTREAM_ENGINE__WINDOWS={windows}"))
            .alerts
            .default;
        assert_eq!(d.service_level.window, d.asa.window);
        assert_eq!(d.rings_per_answer.window, d.asa.window);
        d.asa.window
    };
    assert_eq!(window("5m,15m,60m"), "15m");
    // 10m and 20m are as near to 15m: the longer wins.
    assert_eq!(window("1m,10m,20m"), "20m");
    assert_eq!(window("1m,10m,30m"), "10m");
    assert_eq!(window("1h"), "1h");
    // A window written in [alerts] must exist.
    let file = "engine.windows = [\"10m\"]\nalerts.default.asa.window = \"15m\"";
    let list = problems(file, "");
    assert_eq!(list.len(), 1, "{list:?}");
    assert_has(&list, "alerts.default.asa.window: \"15m\" is not a window");
}

#[test]
fn alert_overrides_are_checked_against_what_they_inherit() {
    let file = "alerts.queues.vip = { asa.threshold = 15, surge.severity = \"sms\" }";
    let expected = r#"alerts.queues.vip.surge.severity: "sms" is not a severity; use "page" or "ticket"
        alerts.queues.vip.asa.threshold: 15 is below the inherited clear level (18); set a lower `clear` here as well"#;
    assert_exactly(file, "", expected);
    let var = "ACDSTREAM_ALERTS__QUEUES__VIP__ABANDON_RATE__THRESHOLD";
    let expected = format!(
        "alerts.queues.vip.abandon_rate.threshold: 5 must be a ratio in (0, 1), e.g. 0.05 for \
         5 % (set by environment variable {var})"
    );
    assert_exactly("", &format!("{var}=5"), &expected);
}

#[test]
fn durations_parse_and_format() {
    let parsed = "250ms 250, 30s 30000, 5m 300000, 1h 3600000, 2h30m 9000000, 1h0m5s 3605000, \
                  1m500ms 60500,  10s  10000, 0 0, 0s 0";
    let ms = |n: &str| Duration::from_millis(n.parse().unwrap());
    for case in parsed.split(", ") {
        let (text, n) = case.rsplit_once(' ').unwrap();
        assert_eq!(parse_duration(text), Ok(ms(n)), "{text}");
    }
    let canonical = "0 0s, 250 250ms, 90000 1m30s, 3600000 1h, 9000500 2h30m500ms";
    for case in canonical.split(", ") {
        let (n, text) = case.split_once(' ').unwrap();
        assert_eq!(format_duration(ms(n)), text);
        assert_eq!(parse_duration(text), Ok(ms(n)));
    }
}

#[test]
fn asterisk_settings_reach_the_queue_log_translator() {
    use crate::decode::asterisk::{AgentIds, QueueLogSettings};
    let file = r#"
        engine.allowed_lateness = "45s"
        [asterisk]
        agent_id = "interface"
        agents = { "PJSIP/2001" = "alice" }
        queues.support.wrapuptime = "15s"
    "#;
    let s = ok(file, "").queue_log_settings();
    assert_eq!(s.agent_ids, AgentIds::Interface);
    assert_eq!(s.agents["PJSIP/2001"], "alice");
    assert_eq!(s.wrapuptime_ms.get("support"), Some(&15_000));
    assert_eq!(s.lookback_ms, 45_000);
    let default = Config::default().queue_log_settings();
    assert_eq!(default, QueueLogSettings::default());
    let file = r#"
        [asterisk]
        agent_id = "name"
        agents = { "SIP/1" = " " }
        queues.sales.wrapuptime = "15"
    "#;
    let needles = r#"asterisk.agent_id: "name" is not a way to name agents
        asterisk.agents.SIP/1: agent id must not be empty
        asterisk.queues.sales.wrapuptime: "15" is not a duration: "15" has no unit"#;
    assert_has(&problems(file, ""), needles);
}

#[test]
fn the_events_topic_holds_contract_events_or_queue_log_lines() {
    use crate::decode::Format;
    let format = |text: &str| {
        let file = format!("kafka.events_format = \"{text}\"");
        ok(&file, "").kafka.events_format
    };
    assert_eq!(format("json"), EventsFormat::Contract(Format::Json));
    assert_eq!(format("asterisk_queue_log"), EventsFormat::AsteriskQueueLog);
    let file = "kafka.events_format = \"queue_log\"";
    let expected = r#"kafka.events_format: "queue_log" is not an events format; use "protobuf", "json" or "asterisk_queue_log""#;
    assert_exactly(file, "", expected);
}

#[test]
fn durations_beyond_their_maximum_are_reported_together_with_their_keys() {
    let file = r#"
        engine.windows = ["5m", "100000h"]
        engine.max_call_age = "2562047788015h"
        kpi.default.sl_threshold = "100000h"
    "#;
    let expected = "engine.windows[1]: 100000h is too long; the allowed range is 0s to 4h
        engine.max_call_age: 2562047788015h is too long; the allowed range is 0s to 24h
        kpi.default.sl_threshold: 100000h is too long; the allowed range is 0s to 1h";
    assert_exactly(file, "", expected);
    // An environment variable is named as the value's source.
    let expected = "engine.max_call_age: 30h is too long; the allowed range is 0s to 24h (set by \
                    environment variable ACDSTREAM_ENGINE__MAX_CALL_AGE)";
    assert_exactly("", "ACDSTREAM_ENGINE__MAX_CALL_AGE=30h", expected);
}

#[test]
fn the_caps_and_the_id_limit_have_their_defaults_and_can_be_set() {
    let caps = |c: &Config| {
        let e = &c.engine;
        [
            e.max_calls_per_queue,
            e.max_pending_per_queue,
            e.max_id_bytes,
        ]
    };
    assert_eq!(caps(&Config::default()), [2_000, 10_000, 128]);
    let file =
        "engine = { max_calls_per_queue = 50, max_pending_per_queue = 7, max_id_bytes = 64 }";
    let c = ok(file, "");
    assert_eq!(caps(&c), [50, 7, 64]);
    assert_eq!(c.queue_log_settings().max_id_bytes, 64);
}

#[test]
fn the_worst_case_memory_is_every_queue_at_every_cap() {
    let file = r#"
        engine.windows = ["5m"]
        engine.interval = "5m"
        engine.max_queues = 3
        engine.max_calls_per_queue = 10
        engine.dedup_max_ids_per_queue = 1000
        engine.max_pending_per_queue = 100
        kpi.default.surge_window = "1m"
        kpi.default.surge_baseline = "10m"
    "#;
    let c = ok(file, "");
    let w = c.engine.worst_case_memory();
    let q = w.per_queue;
    // The ring holds the longest of the window (5m), the interval (5m) and the surge rule's
    // short window (1m + 2m of catch-up), plus the 30s lateness: 330s, 33 buckets and two
    // spare, of 136 B each; and the offered count alone (4 B) over the surge rule's whole
    // look-back (1m + 10m + 2m of catch-up) and the lateness: 810s, 81 buckets and two spare.
    assert_eq!(q.windows, 35 * 136 + 83 * 4);
    // 1,000 ids of 16 B in time order and 22 B in the lookup set (8 B slots, 8/3 of them
    // for a table just grown, 3/8 full).
    assert_eq!(q.ids, 1000 * 38);
    // A held event's origin is 8 B.
    assert_eq!(q.pending, 100 * 8);
    assert_eq!(w.queues, 3);
    assert_eq!(w.total(), 3 * q.total());
    let parts = q.windows + q.fixed + q.ids + q.agents + q.calls + q.pending;
    assert_eq!(q.total(), parts);
    // Each call is counted with every event it may take: 32 more events a call are 32 more
    // 16-byte events for each of the 10 calls.
    let more = ok(&format!("{file}\nengine.max_events_per_call = 96"), "");
    let more = more.engine.worst_case_memory().per_queue;
    assert_eq!(more.calls - q.calls, 10 * 32 * 16);
}

#[test]
fn the_default_configuration_fits_the_default_budget() {
    let c = Config::default();
    let w = c.engine.worst_case_memory();
    assert_eq!(c.engine.memory_budget_mib, 16_384);
    assert!(w.total() <= 16_384 << 20, "{w:?}: {} MiB", w.total() >> 20);
}

#[test]
fn a_configuration_that_allows_more_than_the_budget_is_refused() {
    // Ten times the queues at the same caps is ten times the memory.
    let file = "engine.max_queues = 10000";
    let list = problems(file, "");
    assert_eq!(list.len(), 1, "{list:#?}");
    let needles = "engine.memory_budget_mib: the caps allow up to
                   more than this budget of 16384 MiB: 10000 queues (max_queues) ×
                   lower max_queues or the per-queue caps";
    assert_has(&list, needles);
    // Unless the budget is raised as well.
    ok(&format!("{file}\nengine.memory_budget_mib = 1000000"), "");
    // A budget below the defaults' worst case refuses them.
    let list = problems("engine.memory_budget_mib = 1024", "");
    assert_has(&list, "more than this budget of 1024 MiB: 1000 queues");
}
