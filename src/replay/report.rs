//! `replay --report FILE.html`: the day report a team lead sends the next morning. One
//! self-contained HTML file (inline CSS and SVG, no script, nothing fetched; printable on A4):
//! a summary per queue and day, then per queue and day the interval charts (calls, service
//! level against target, ASA and AHT, occupancy; surge episodes shaded) and the interval table
//! with the day's total, then the surge episodes and the ledger with the rejected lines.
//!
//! The figures are the closed intervals of [`Report::intervals`], exactly what `replay
//! --intervals` prints: every figure cell carries its value in `data-value` (and its KPI in
//! `data-kpi`), so a test can hold the rendered page against that output. A day's total adds
//! the intervals' sums and computes the KPIs from them, as a window does (its wait percentiles,
//! which do not add up, are not shown).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use jiff::tz::TimeZone;
use jiff::Timestamp;

use crate::event::Millis;
use crate::kpi::math::{window_kpis, WaitQuantiles, WindowSums};
use crate::kpi::{IntervalKpis, WindowKpis};
use crate::sinks::charts::escape;
use crate::sinks::intervals;

use super::Report;

/// What the report says about itself.
pub struct Context<'a> {
    /// The replayed file, as named on the command line.
    pub source: &'a str,
    /// Where days start and intervals are labelled (`kpi.timezone`).
    pub timezone: &'a TimeZone,
    /// When the report was written.
    pub generated_at: Millis,
}

/// One queue's day: its intervals in time order.
struct Day<'a> {
    date: jiff::civil::Date,
    intervals: Vec<&'a IntervalKpis>,
}

impl Day<'_> {
    fn total(&self) -> WindowKpis {
        let mut sums = WindowSums::default();
        for i in &self.intervals {
            sums.add(&i.sums);
        }
        window_kpis(&sums, WaitQuantiles::default())
    }

    /// Whether anything happened: a call, or an agent logged in.
    fn has_activity(&self) -> bool {
        self.intervals.iter().any(|i| {
            let k = &i.kpis;
            k.offered > 0
                || k.busy_agent_seconds
                    + k.acw_agent_seconds
                    + k.ready_agent_seconds
                    + k.not_ready_agent_seconds
                    + k.busy_other_agent_seconds
                    > 0.0
        })
    }
}

/// The report as one HTML document.
pub fn render(report: &Report, ctx: &Context) -> String {
    let tz = ctx.timezone;
    let local =
        |ms: Millis| Timestamp::from_millisecond(ms).map(|t| t.to_zoned_datetime(tz.clone()));
    // Queue → day → intervals, days without any activity left out.
    let mut queues: BTreeMap<&str, BTreeMap<jiff::civil::Date, Day>> = BTreeMap::new();
    for i in &report.intervals {
        let Ok(start) = local(i.start) else { continue };
        queues
            .entry(&i.queue_id)
            .or_default()
            .entry(start.date())
            .or_insert_with(|| Day {
                date: start.date(),
                intervals: Vec::new(),
            })
            .intervals
            .push(i);
    }
    for days in queues.values_mut() {
        days.retain(|_, d| d.has_activity());
        for d in days.values_mut() {
            d.intervals.sort_by_key(|i| i.start);
        }
    }
    queues.retain(|_, days| !days.is_empty());
    let targets: BTreeMap<&str, (f64, f64)> = report
        .snapshots
        .iter()
        .map(|s| (s.queue_id.as_str(), (s.sl_threshold_seconds, s.sl_target)))
        .collect();
    let first = report.intervals.iter().map(|i| i.start).min();
    let last = report.intervals.iter().map(|i| i.end).max();

    let mut out = String::with_capacity(64 * 1024);
    out.push_str(HEAD);
    let _ = write!(
        out,
        "<header><h1>Contact centre day report</h1><p class=\"meta\">{}: {} to {} ({}); written {} by acdstream replay.</p>",
        escape(ctx.source),
        first.map_or_else(String::new, |t| intervals::when(t, tz)),
        last.map_or_else(String::new, |t| intervals::when(t, tz)),
        escape(tz.iana_name().unwrap_or("UTC")),
        intervals::when(ctx.generated_at, tz),
    );
    if report.interrupted {
        out.push_str(
            "<p class=\"warn\">Interrupted: the replay stopped at a signal; this report covers the lines read until then.</p>",
        );
    }
    out.push_str("</header>");

    // Summary: one row per queue and day.
    out.push_str("<section class=\"summary\"><h2>Summary</h2><table><thead><tr><th>Queue</th><th>Day</th><th>Offered</th><th>Answered</th><th>Abandoned</th><th>Abandon rate</th><th>Service level</th><th>ASA</th><th>AHT</th><th>Avg ACW</th><th>Occupancy</th></tr></thead><tbody>");
    for (queue, days) in &queues {
        let (_, target) = targets.get(queue).copied().unwrap_or((20.0, 0.8));
        for day in days.values() {
            let t = day.total();
            let _ = write!(
                out,
                "<tr data-queue=\"{q}\" data-day=\"{d}\"><th><a href=\"#q-{q}-{d}\">{q}</a></th><td>{d}</td>",
                q = escape(queue),
                d = day.date
            );
            summary_cells(&mut out, &t, target);
            out.push_str("</tr>");
        }
    }
    out.push_str("</tbody></table><p class=\"note\">Service level: answered within the threshold over calls answered, abandoned after it or still waiting past it (short abandons excluded); ✓ at or above the queue's target, ✗ below. Averages of a day are over its calls, not over its intervals.</p></section>");

    for (queue, days) in &queues {
        let (threshold, target) = targets.get(queue).copied().unwrap_or((20.0, 0.8));
        for day in days.values() {
            queue_day(
                &mut out,
                queue,
                day,
                threshold,
                target,
                &report.episodes,
                tz,
            );
        }
    }

    episodes(&mut out, report, tz);
    ledger(&mut out, report);
    out.push_str("</body></html>\n");
    out
}

fn queue_day(
    out: &mut String,
    queue: &str,
    day: &Day,
    threshold: f64,
    target: f64,
    episodes: &[(String, crate::kpi::surge::Episode)],
    tz: &TimeZone,
) {
    let episodes: Vec<(Millis, Millis)> = episodes
        .iter()
        .filter(|(q, _)| q == queue)
        .map(|(_, e)| (e.onset, e.ended))
        .collect();
    let view = intervals::View {
        queue,
        intervals: &day.intervals,
        threshold,
        target,
        episodes: &episodes,
        timezone: tz,
        partial: "input ended",
    };
    let shaded = view.bands().len();
    let _ = write!(
        out,
        "<section class=\"queue\" id=\"q-{q}-{d}\" data-queue=\"{q}\" data-day=\"{d}\"><h2>{q} <span class=\"day\">{d}</span></h2><p class=\"meta\">Service level threshold {threshold} s, target {target_pct} %; {n} intervals{surges}. Agents R / B / ACW / NR: the average number ready, busy, in after-call work and not ready.</p>",
        q = escape(queue),
        d = day.date,
        target_pct = target * 100.0,
        n = day.intervals.len(),
        surges = if shaded == 0 {
            String::new()
        } else {
            format!("; surge episodes shaded ({shaded})")
        },
    );
    view.charts(out);
    let length_s = day
        .intervals
        .iter()
        .map(|i| (i.end - i.start) as f64 / 1000.0)
        .sum::<f64>();
    view.table(out, Some(("Day", &day.total(), length_s)));
    out.push_str("</section>");
}

fn summary_cells(out: &mut String, k: &WindowKpis, target: f64) {
    intervals::count(out, "offered", k.offered);
    intervals::count(out, "answered", k.answered);
    intervals::count(out, "abandoned", k.abandoned);
    intervals::percent(out, "abandon_rate", k.abandon_rate);
    intervals::service_level(out, k.service_level, target);
    intervals::seconds(out, "asa_seconds", k.asa_seconds);
    intervals::seconds(out, "aht_seconds", k.aht_seconds);
    intervals::seconds(out, "avg_acw_seconds", k.avg_acw_seconds);
    intervals::percent(out, "occupancy", k.occupancy);
}

fn episodes(out: &mut String, report: &Report, tz: &TimeZone) {
    out.push_str("<section class=\"episodes\"><h2>Surge episodes</h2>");
    if report.episodes.is_empty() {
        out.push_str("<p>None ended in this input.</p>");
    } else {
        out.push_str("<table><thead><tr><th>Queue</th><th>Onset</th><th>Ended</th><th>Outcome</th><th>Response</th></tr></thead><tbody>");
        for (queue, e) in &report.episodes {
            let _ = write!(
                out,
                "<tr data-queue=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(queue),
                escape(queue),
                intervals::when(e.onset, tz),
                intervals::when(e.ended, tz),
                match e.outcome {
                    crate::kpi::surge::EpisodeOutcome::Responded => "responded",
                    crate::kpi::surge::EpisodeOutcome::Subsided => "subsided",
                },
                e.response_ms()
                    .map_or_else(|| "–".to_string(), |ms| format!("{:.0} s", ms as f64 / 1000.0)),
            );
        }
        out.push_str("</tbody></table>");
    }
    let open: Vec<&str> = report
        .snapshots
        .iter()
        .filter(|s| s.surge.active)
        .map(|s| s.queue_id.as_str())
        .collect();
    if !open.is_empty() {
        let _ = write!(
            out,
            "<p>Still open at the end of the input: {}.</p>",
            escape(&open.join(", "))
        );
    }
    out.push_str("</section>");
}

fn ledger(out: &mut String, report: &Report) {
    let l = &report.ledger;
    let _ = write!(
        out,
        "<section class=\"ledger\"><h2>Input ledger</h2><p id=\"ledger\" data-consumed=\"{c}\" data-applied=\"{a}\" data-duplicate=\"{d}\" data-late=\"{la}\" data-rejected=\"{r}\">Events consumed {c} = applied {a} + duplicate {d} + late {la} + rejected {r}{note}.</p>",
        c = l.consumed,
        a = l.applied,
        d = l.duplicate,
        la = l.late,
        r = l.rejected,
        note = if l.balances() {
            ""
        } else {
            " (the ledger does not balance)"
        },
    );
    if report.blank_lines > 0 || !report.ignored.is_empty() {
        let ignored: u64 = report.ignored.values().sum();
        let _ = write!(
            out,
            "<p>Blank lines skipped: {}; lines ignored (known, no call or agent event): {ignored}.</p>",
            report.blank_lines
        );
    }
    if !report.rejected_by_reason.is_empty() {
        out.push_str(
            "<table><thead><tr><th>Rejected because</th><th>Events</th></tr></thead><tbody>",
        );
        for (reason, n) in &report.rejected_by_reason {
            let _ = write!(
                out,
                "<tr><td>{}</td><td data-reason=\"{}\">{n}</td></tr>",
                escape(reason.explain()),
                reason.label()
            );
        }
        out.push_str("</tbody></table><h3>Rejected lines</h3><table class=\"rejections\"><thead><tr><th>Line</th><th>Reason</th><th>Detail</th></tr></thead><tbody>");
        for r in &report.rejections {
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                r.origin.position,
                r.reason.label(),
                escape(&r.detail)
            );
        }
        let shown = report.rejections.len() as u64;
        if l.rejected > shown {
            let _ = write!(
                out,
                "<tr><td colspan=\"3\">… and {} more</td></tr>",
                l.rejected - shown
            );
        }
        out.push_str("</tbody></table>");
    }
    out.push_str("</section>");
}

const HEAD: &str = r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Contact centre day report</title>
<meta name="generator" content="acdstream">
<style>
@page { size: A4; margin: 12mm; }
body { font: 10.5px/1.35 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #111; margin: 16px auto; max-width: 190mm; }
h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 15px; margin: 18px 0 4px; } h3 { font-size: 12px; }
.meta, .note { color: #555; margin: 2px 0 8px; } .warn { color: #a00; font-weight: 600; }
.day { color: #555; font-weight: 400; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; margin: 6px 0; }
th, td { border-bottom: 1px solid #ddd; padding: 2px 3px; text-align: right; white-space: nowrap; }
thead th { white-space: normal; vertical-align: bottom; }
th:first-child, thead th { text-align: left; } thead th { border-bottom: 1.5px solid #888; font-weight: 600; }
tr.total th, tr.total td { border-top: 1.5px solid #888; font-weight: 700; }
tr.surge th::after { content: " ▲"; color: #d35400; }
.ok { color: #1a7f37; } .bad { color: #b42318; font-weight: 600; }
.rejections td { text-align: left; white-space: normal; }
section.queue { break-before: page; } .charts { display: grid; grid-template-columns: 1fr 1fr; gap: 6px; }
svg.chart { width: 100%; height: auto; break-inside: avoid; }
.chart-title { font-size: 12px; font-weight: 600; fill: #111; } .legend, .tick { font-size: 10px; fill: #444; }
.grid { stroke: #e4e4e4; } .surge { fill: rgba(255, 122, 26, 0.18); }
.target { stroke: #111; stroke-dasharray: 5 3; stroke-width: 1.2; }
.line { fill: none; stroke-width: 1.8; } .c0 { fill: #1f6feb; stroke: #1f6feb; } .c1 { fill: #2da44e; stroke: #2da44e; }
.c2 { fill: #cf222e; stroke: #cf222e; } .c3 { fill: #bf8700; stroke: #bf8700; } .line.c0, .line.c1, .line.c2, .line.c3 { fill: none; }
a { color: inherit; }
</style></head><body>
"#;

#[cfg(test)]
mod tests;
