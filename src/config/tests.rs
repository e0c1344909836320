//! The configuration tests: every layer through `Config::from_sources`, with the environment
//! passed explicitly.

use std::path::Path;
use std::time::Duration;

use jiff::tz::TimeZone;

use super::*;
use crate::alerts::rules::QueueRules;
use crate::alerts::Severity;
use crate::state::EngineSettings;

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
    assert_eq!(ours.max_clock_skew_ms, engine.max_clock_skew_ms);
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
    let text = include_str!("../../acdstream.example.toml");
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
        &toml::Table::try_from(RawFile::default()).unwrap(),
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
