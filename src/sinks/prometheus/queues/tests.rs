use proptest::prelude::*;

use super::*;
use crate::kpi::{NowKpis, SurgeSnapshot, Windows};

fn snapshot(queue: &str, waiting: u64, offered: u64) -> KpiSnapshot {
    KpiSnapshot {
        queue_id: queue.into(),
        as_of: 0,
        sl_threshold_seconds: 20.0,
        sl_target: 0.8,
        now: NowKpis {
            calls_waiting: waiting,
            ..NowKpis::default()
        },
        staffing: None,
        surge: SurgeSnapshot::default(),
        windows: Windows(vec![
            (
                "15m".into(),
                WindowKpis {
                    offered,
                    ..WindowKpis::default()
                },
            ),
            ("today".into(), WindowKpis::default()),
        ]),
    }
}

fn series() -> QueueSeries {
    let series = QueueSeries::new();
    series.set_sliding(vec![("15m".into(), 15.0)]);
    series
}

fn render(series: &QueueSeries) -> String {
    let mut text = String::new();
    series.render_into(&mut text);
    text
}

#[test]
fn values_are_written_as_the_exposition_format_spells_them() {
    let cases = [
        (12.0, "12"),
        (-0.0, "0"),
        (0.1, "0.1"),
        (37.5, "37.5"),
        (40.0 / 15.0, "2.6666666666666665"),
        (1e-7, "1e-7"),
        (9_007_199_254_740_992.0, "9007199254740992"),
        (f64::NAN, "NaN"),
        (f64::INFINITY, "+Inf"),
        (f64::NEG_INFINITY, "-Inf"),
    ];
    for (value, text) in cases {
        let mut out = String::new();
        push_value(&mut out, value);
        assert_eq!(out, text, "{value:?}");
        // Reads back as the same value (Prometheus parses these with Go's ParseFloat, which
        // accepts what Rust's parser accepts here).
        let back: f64 = text.replace("Inf", "inf").parse().unwrap();
        assert!(back.to_bits() == value.to_bits() || value == 0.0 || value.is_nan());
    }
}

#[test]
fn labels_are_escaped_and_only_sliding_windows_have_an_arrival_rate() {
    let series = series();
    let queue = "sales \"east\"\\2\n";
    series.publish(
        &[snapshot(queue, 3, 30)],
        &[(queue.into(), QueueTotals::default())],
    );
    let text = render(&series);
    let label = r#"queue="sales \"east\"\\2\n""#;
    for line in [
        format!("acd_calls_waiting{{{label}}} 3"),
        format!("acd_calls_offered{{{label},window=\"15m\"}} 30"),
        format!("acd_calls_offered{{{label},window=\"today\"}} 0"),
        format!("acd_service_level_ratio{{{label},window=\"today\",variant=\"positive\"}} NaN"),
        format!("acd_arrival_rate_per_minute{{{label},window=\"15m\"}} 2"),
        format!("acd_agents{{{label},state=\"logged_in\"}} 0"),
        format!("acd_calls_offered_total{{{label}}} 0"),
        format!("acd_surge_episodes_total{{{label},outcome=\"subsided\"}} 0"),
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in:\n{text}"
        );
    }
    assert!(!text.contains(&format!(
        "acd_arrival_rate_per_minute{{{label},window=\"today\""
    )));
    // One HELP and one TYPE line per family, every family present with a TYPE that the
    // catalogue agrees with.
    for family in &FAMILIES {
        let metric = t::metric(family.name).expect("in the catalogue");
        let kind = if matches!(family.per, Per::Totals(_)) {
            "counter"
        } else {
            "gauge"
        };
        assert_eq!(metric.kind.as_str(), kind, "{}", family.name);
        assert_eq!(
            text.matches(&format!("# TYPE {} {kind}\n", family.name))
                .count(),
            1
        );
        assert_eq!(text.matches(&format!("# HELP {} ", family.name)).count(), 1);
    }
}

#[test]
fn nothing_is_rendered_before_a_publish_and_totals_alone_render_only_counters() {
    let series = series();
    assert_eq!(render(&series), "");
    series.publish(
        &[],
        &[(
            "sales".into(),
            QueueTotals {
                offered: 7,
                ..QueueTotals::default()
            },
        )],
    );
    let text = render(&series);
    assert!(
        text.contains("acd_calls_offered_total{queue=\"sales\"} 7\n"),
        "{text}"
    );
    assert!(!text.contains("acd_calls_waiting"), "{text}");
}

/// One step of the cache property below.
#[derive(Clone, Debug)]
enum Step {
    Publish {
        queue: u8,
        waiting: u64,
        offered: u64,
    },
    Totals {
        queue: u8,
        answered: u64,
    },
    Forget {
        queue: u8,
    },
    Render,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0..5u8, 0..3u64, 0..3u64)
            .prop_map(|(queue, waiting, offered)| Step::Publish { queue, waiting, offered }),
        2 => (0..5u8, 0..3u64).prop_map(|(queue, answered)| Step::Totals { queue, answered }),
        1 => (0..5u8).prop_map(|queue| Step::Forget { queue }),
        3 => Just(Step::Render),
    ]
}

proptest! {
    /// The render cache never shows stale text: after any publishes, forgets and renders in
    /// between, a render equals that of a store that saw the same publishes but never
    /// rendered.
    #[test]
    fn a_cached_render_equals_a_fresh_one(steps in proptest::collection::vec(step(), 1..40)) {
        let (cached, fresh) = (series(), series());
        for step in &steps {
            for s in [&cached, &fresh] {
                match *step {
                    Step::Publish { queue, waiting, offered } => {
                        s.publish(&[snapshot(&format!("q{queue}"), waiting, offered)], &[]);
                    }
                    Step::Totals { queue, answered } => {
                        let totals = QueueTotals { answered, ..QueueTotals::default() };
                        s.publish(&[], &[(format!("q{queue}"), totals)]);
                    }
                    Step::Forget { queue } => s.forget(&format!("q{queue}")),
                    Step::Render => {}
                }
            }
            if let Step::Render = step {
                render(&cached);
            }
        }
        prop_assert_eq!(render(&cached), render(&fresh));
    }
}
