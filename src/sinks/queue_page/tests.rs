use super::*;
use crate::decode::testing::sample_snapshot;
use crate::kpi::math::{window_kpis, Count, WaitQuantiles, WindowSums};

const HALF_HOUR: Millis = 1_800_000;

fn interval(queue: &str, start: Millis, offered: u64) -> IntervalKpis {
    let mut sums = WindowSums::default();
    sums.counts[Count::Offered as usize] = offered;
    IntervalKpis {
        queue_id: queue.into(),
        start,
        end: start + HALF_HOUR,
        partial: false,
        kpis: window_kpis(&sums, WaitQuantiles::default()),
        sums,
    }
}

/// The sample snapshot with an `interval` window of 5 offered, and no surge open.
fn snapshot(queue: &str, as_of: Millis) -> KpiSnapshot {
    let mut s = sample_snapshot();
    s.queue_id = queue.into();
    s.as_of = as_of;
    s.surge.active = false;
    let mut current = s.windows.get("15m").unwrap().clone();
    current.offered = 5;
    s.windows.0.push(("interval".into(), current));
    s
}

#[test]
fn the_page_shows_the_closed_intervals_then_the_one_in_progress_and_the_windows() {
    let t0: Millis = 1_767_603_600_000; // 09:00 UTC
    let history = History::default();
    history.record(
        vec![interval("a<b", t0, 7), interval("a<b", t0 + HALF_HOUR, 9)],
        &[(
            Arc::from("a<b"),
            Episode {
                onset: t0 + 600_000,
                ended: t0 + 900_000,
                outcome: crate::kpi::surge::EpisodeOutcome::Responded,
            },
        )],
    );
    history.record(vec![interval("other", t0, 1)], &[]);
    let s = snapshot("a<b", t0 + 2 * HALF_HOUR + 60_000);
    let page = render(&s, &history, &TimeZone::UTC, None);
    // Two closed intervals and 10:00–10:30 in progress from the snapshot's interval window.
    assert_eq!(
        page.matches("<tr data-queue=\"a&lt;b\" data-start=")
            .count(),
        3
    );
    assert!(page.contains(&format!(
        "data-start=\"{}\" data-end=\"{}\" data-partial",
        t0 + 2 * HALF_HOUR,
        t0 + 3 * HALF_HOUR
    )));
    assert!(page.contains("10:00–10:30 (in progress)"));
    let in_progress = s.windows.get("interval").unwrap().offered;
    let last_row = &page[page.rfind("data-partial").unwrap()..];
    assert!(last_row.contains(&format!(
        "data-kpi=\"offered\" data-value=\"{in_progress}\""
    )));
    // The episode shaded in its interval (and a row marked), in each of the six charts.
    assert_eq!(page.matches("<svg class=\"chart\"").count(), 6);
    assert_eq!(page.matches("<rect class=\"surge\"").count(), 6);
    // The windows side by side, a column each, with exact values.
    for (name, w) in &s.windows.0 {
        assert!(page.contains(&format!(
            "data-window=\"{name}\" data-kpi=\"offered\" data-value=\"{}\"",
            w.offered
        )));
    }
    // Escaped, reloaded by the browser, nothing fetched, not another queue's figures.
    assert!(page.contains("<h1>a&lt;b</h1>") && !page.contains("<h1>a<b"));
    assert!(page.contains("http-equiv=\"refresh\" content=\"15\""));
    assert!(!page.contains("<script") && !page.contains("src="));
    assert!(!page.contains("data-queue=\"other\""));
}

#[test]
fn history_keeps_the_last_24_hours_and_at_most_96_intervals_a_queue() {
    let history = History::default();
    let t0: Millis = 1_767_603_600_000;
    let closed: Vec<IntervalKpis> = (0..60)
        .map(|i| interval("q", t0 + i * HALF_HOUR, 1))
        .collect();
    history.record(closed, &[]);
    let kept = history.of("q").intervals;
    // 60 half hours: the 48 of the last 24 h (starts at or after the newest end − 24 h) stay.
    assert_eq!(kept.len(), 48);
    assert_eq!(kept.front().unwrap().start, t0 + 12 * HALF_HOUR);
    assert!(kept.iter().all(|i| i.sums == WindowSums::default()));
    let minutes: Vec<IntervalKpis> = (0..200)
        .map(|i| {
            let mut i5 = interval("m", t0 + i * 300_000, 1);
            i5.end = i5.start + 300_000;
            i5
        })
        .collect();
    history.record(minutes, &[]);
    assert_eq!(history.of("m").intervals.len(), MAX_INTERVALS);
}

#[test]
fn a_stale_page_says_since_when() {
    let t0: Millis = 1_767_603_600_000;
    let page = render(
        &snapshot("q", t0),
        &History::default(),
        &TimeZone::UTC,
        Some(t0 + 5_000),
    );
    assert!(page.contains("⚠ stale since 09:00:05"), "{page}");
    assert!(page.contains("No interval has closed since the service started."));
}
