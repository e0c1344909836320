use super::*;
use crate::kpi::surge::{Episode, EpisodeOutcome};
use crate::ledger::LedgerCounts;

const T0: Millis = 1_767_603_600_000; // 2026-01-05 09:00 UTC

fn interval(
    queue: &str,
    start: Millis,
    offered: u64,
    answered: u64,
    partial: bool,
) -> IntervalKpis {
    let mut sums = WindowSums::default();
    sums.counts[crate::kpi::math::Count::Offered as usize] = offered;
    sums.counts[crate::kpi::math::Count::Answered as usize] = answered;
    sums.counts[crate::kpi::math::Count::Abandoned as usize] = offered - answered;
    IntervalKpis {
        queue_id: queue.into(),
        start,
        end: start + 1_800_000,
        partial,
        kpis: window_kpis(&sums, WaitQuantiles::default()),
        sums,
    }
}

fn render_of(report: &Report) -> String {
    render(
        report,
        &Context {
            source: "day <1>.jsonl",
            timezone: &TimeZone::UTC,
            generated_at: T0 + 86_400_000,
        },
    )
}

#[test]
fn a_day_is_its_intervals_a_total_and_charts_and_nothing_comes_from_outside() {
    // sales: 10 offered / 8 answered at 09:00, 6 / 6 at 09:30 (input ended): the day 16 / 14,
    // abandon rate 2 / 16 = 12.5 %.
    let report = Report {
        intervals: vec![
            interval("sales", T0, 10, 8, false),
            interval("sales", T0 + 1_800_000, 6, 6, true),
        ],
        episodes: vec![(
            "sales".into(),
            Episode {
                onset: T0 + 600_000,
                ended: T0 + 2_000_000,
                outcome: EpisodeOutcome::Responded,
            },
        )],
        ledger: LedgerCounts {
            consumed: 40,
            applied: 39,
            rejected: 1,
            ..LedgerCounts::default()
        },
        ..Report::default()
    };
    let html = render_of(&report);
    assert_eq!(
        html.matches("<tr data-queue=\"sales\" data-start=").count(),
        2
    );
    assert_eq!(html.matches("data-partial").count(), 1);
    let total = &html[html.find("data-total").unwrap()..];
    assert!(total.contains(r#"data-kpi="offered" data-value="16""#));
    assert!(total.contains(r#"data-kpi="answered" data-value="14""#));
    assert!(total.contains(r#"data-kpi="abandon_rate" data-value="0.125">12.5 %"#));
    // Six charts, the episode over both intervals shaded in each, both rows marked.
    assert_eq!(html.matches("<svg class=\"chart\"").count(), 6);
    assert_eq!(html.matches("<rect class=\"surge\"").count(), 6);
    assert_eq!(
        html.matches("<tr data-queue=\"sales\" data-start").count(),
        2
    );
    assert_eq!(html.matches(" class=\"surge\"><th>").count(), 2);
    // Self-contained: no script, nothing fetched; the file name is escaped.
    for outside in ["<script", "src=", "href=\"http", "@import", "url("] {
        assert!(!html.contains(outside), "{outside}");
    }
    assert!(html.contains("day &lt;1&gt;.jsonl"));
    assert!(html.contains("data-consumed=\"40\""));
}

#[test]
fn a_day_with_neither_calls_nor_agents_is_left_out() {
    let mut quiet = interval("support", T0, 0, 0, false);
    quiet.kpis.ready_agent_seconds = 0.0;
    let report = Report {
        intervals: vec![quiet, interval("sales", T0, 1, 1, false)],
        ..Report::default()
    };
    let html = render_of(&report);
    assert!(html.contains("data-queue=\"sales\""));
    assert!(!html.contains("data-queue=\"support\""));
}
