//! The live queue page, `GET /queue/<id>`: one queue for a team lead's screen. Its figures now,
//! the windows side by side (5m, 15m, 60m, the interval, today), and the last 24 hours by
//! interval as the day report shows a day (the six charts with surge episodes shaded, and the
//! interval table), the interval in progress last. Drawn on the server (inline CSS and SVG, no
//! script) and reloaded by the browser every [`REFRESH_SECONDS`].
//!
//! The closed intervals come from the pipeline after each publish ([`History::record`]); they
//! are kept in memory from the service's start, at most [`MAX_INTERVALS`] a queue (the last 24
//! hours at the default 30-minute interval is 48), so a restart starts the page's history
//! afresh (Prometheus keeps longer series for Grafana).

use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, PoisonError};

use jiff::tz::TimeZone;

use crate::event::Millis;
use crate::kpi::surge::Episode;
use crate::kpi::{IntervalKpis, KpiSnapshot, WindowKpis};

use super::charts::escape;
use super::intervals::{self, View};

/// How often the browser reloads the page.
pub(crate) const REFRESH_SECONDS: u32 = 15;

/// Closed intervals kept per queue: 24 hours of 15-minute intervals.
pub(crate) const MAX_INTERVALS: usize = 96;

/// Ended surge episodes kept per queue.
const MAX_EPISODES: usize = 64;

/// What the queue page shows besides the latest snapshot: each queue's closed intervals of the
/// last 24 hours and the surge episodes that ended in them.
#[derive(Debug, Default)]
pub(crate) struct History {
    queues: Mutex<HashMap<String, QueueHistory>>,
}

#[derive(Debug, Default, Clone)]
struct QueueHistory {
    intervals: VecDeque<IntervalKpis>,
    /// (onset, end) of the episodes that ended, oldest first.
    episodes: VecDeque<(Millis, Millis)>,
}

impl History {
    /// Adds what the queues closed since the last publish (the pipeline's side).
    pub(crate) fn record(&self, closed: Vec<IntervalKpis>, ended: &[(Arc<str>, Episode)]) {
        if closed.is_empty() && ended.is_empty() {
            return;
        }
        let mut queues = self.queues.lock().unwrap_or_else(PoisonError::into_inner);
        for mut interval in closed {
            // Only the figures are shown: the sums behind them need not be kept.
            interval.sums = Default::default();
            let h = queues.entry(interval.queue_id.clone()).or_default();
            let newest_end = interval.end;
            h.intervals.push_back(interval);
            while h.intervals.len() > MAX_INTERVALS
                || h.intervals
                    .front()
                    .is_some_and(|i| i.start < newest_end - 86_400_000)
            {
                h.intervals.pop_front();
            }
        }
        for (queue, e) in ended {
            let h = queues.entry(queue.to_string()).or_default();
            h.episodes.push_back((e.onset, e.ended));
            if h.episodes.len() > MAX_EPISODES {
                h.episodes.pop_front();
            }
        }
    }

    fn of(&self, queue: &str) -> QueueHistory {
        let queues = self.queues.lock().unwrap_or_else(PoisonError::into_inner);
        queues.get(queue).cloned().unwrap_or_default()
    }
}

/// The page for `snapshot`'s queue at wall-clock `now`; `stale_since` when the data are stale.
pub(crate) fn render(
    snapshot: &KpiSnapshot,
    history: &History,
    timezone: &TimeZone,
    stale_since: Option<Millis>,
) -> String {
    let q = escape(&snapshot.queue_id);
    let h = history.of(&snapshot.queue_id);
    let mut out = String::with_capacity(64 * 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta http-equiv=\"refresh\" content=\"{REFRESH_SECONDS}\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{q} · acdstream</title><style>{STYLE}</style></head><body data-queue=\"{q}\">"
    );
    let _ = write!(
        out,
        "<header><a href=\"/\">← wallboard</a><h1>{q}</h1><span class=\"meta\">as of {} · refreshes every {REFRESH_SECONDS} s · SL threshold {} s, target {} %</span>",
        intervals::when(snapshot.as_of, timezone),
        snapshot.sl_threshold_seconds,
        snapshot.sl_target * 100.0
    );
    if let Some(since) = stale_since {
        let _ = write!(
            out,
            "<span class=\"stale\" data-stale-since=\"{since}\">⚠ stale since {}</span>",
            intervals::time_of_day(since, timezone)
        );
    }
    out.push_str("</header>");
    now_section(&mut out, snapshot);
    windows_section(&mut out, snapshot);

    // The closed intervals, then the one in progress (the snapshot's `interval` window) when
    // the closed ones say where it starts.
    let in_progress = h
        .intervals
        .back()
        .zip(snapshot.windows.get("interval"))
        .filter(|(last, _)| snapshot.as_of > last.end)
        .map(|(last, current)| IntervalKpis {
            queue_id: snapshot.queue_id.clone(),
            start: last.end,
            end: last.end + (last.end - last.start),
            partial: true,
            kpis: current.clone(),
            sums: Default::default(),
        });
    let shown: Vec<&IntervalKpis> = h.intervals.iter().chain(&in_progress).collect();
    let mut episodes: Vec<(Millis, Millis)> = h.episodes.iter().copied().collect();
    if let (true, Some(onset)) = (snapshot.surge.active, snapshot.surge.onset) {
        episodes.push((onset, snapshot.as_of));
    }
    out.push_str("<section class=\"today\"><h2>Last 24 hours by interval</h2>");
    if shown.is_empty() {
        out.push_str("<p class=\"meta\">No interval has closed since the service started.</p>");
    } else {
        let view = View {
            queue: &snapshot.queue_id,
            intervals: &shown,
            threshold: snapshot.sl_threshold_seconds,
            target: snapshot.sl_target,
            episodes: &episodes,
            timezone,
            partial: "in progress",
        };
        view.charts(&mut out);
        view.table(&mut out, None);
    }
    out.push_str("</section></body></html>\n");
    out
}

fn now_section(out: &mut String, s: &KpiSnapshot) {
    let n = &s.now;
    out.push_str("<section class=\"now\">");
    let su = &s.surge;
    if su.active {
        let _ = write!(
            out,
            "<p class=\"surge-banner{}\" data-kpi=\"surge\" data-value=\"{}\">⚡ SURGE {} / {}{}</p>",
            if su.response_exceeded { " exceeded" } else { "" },
            su.age_seconds,
            minutes(su.age_seconds),
            minutes(su.response_limit_seconds),
            s.staffing.as_ref().map_or(String::new(), |st| format!(
                " · needs {} agents, {} staffed",
                st.required_agents, st.staffed_agents
            ))
        );
    }
    let figures: [(&str, &str, String); 7] = [
        ("calls_waiting", "waiting", n.calls_waiting.to_string()),
        (
            "oldest_wait_seconds",
            "oldest wait",
            minutes(n.oldest_wait_seconds),
        ),
        ("agents_ready", "ready", n.agents_ready.to_string()),
        ("agents_busy", "busy", n.agents_busy.to_string()),
        ("agents_acw", "ACW", n.agents_acw.to_string()),
        (
            "agents_not_ready",
            "not ready",
            n.agents_not_ready.to_string(),
        ),
        (
            "agents_busy_other",
            "busy other queue",
            n.agents_busy_other.to_string(),
        ),
    ];
    let raw = [
        n.calls_waiting as f64,
        n.oldest_wait_seconds,
        n.agents_ready as f64,
        n.agents_busy as f64,
        n.agents_acw as f64,
        n.agents_not_ready as f64,
        n.agents_busy_other as f64,
    ];
    out.push_str("<div class=\"figs\">");
    for ((kpi, label, shown), value) in figures.iter().zip(raw) {
        let _ = write!(
            out,
            "<div class=\"fig\"><span class=\"v\" data-kpi=\"{kpi}\" data-value=\"{value}\">{shown}</span><span class=\"lbl\">{label}</span></div>"
        );
    }
    out.push_str("</div></section>");
}

/// The windows side by side: a row per KPI, a column per window.
fn windows_section(out: &mut String, s: &KpiSnapshot) {
    type Row = (
        &'static str,
        &'static str,
        fn(&WindowKpis) -> Option<f64>,
        Kind,
    );
    #[derive(Clone, Copy)]
    enum Kind {
        Count,
        Percent,
        Seconds,
    }
    const ROWS: [Row; 10] = [
        (
            "offered",
            "Offered",
            |w| Some(w.offered as f64),
            Kind::Count,
        ),
        (
            "answered",
            "Answered",
            |w| Some(w.answered as f64),
            Kind::Count,
        ),
        (
            "abandoned",
            "Abandoned",
            |w| Some(w.abandoned as f64),
            Kind::Count,
        ),
        (
            "abandon_rate",
            "Abandon rate",
            |w| w.abandon_rate,
            Kind::Percent,
        ),
        (
            "service_level",
            "Service level",
            |w| w.service_level,
            Kind::Percent,
        ),
        ("asa_seconds", "ASA", |w| w.asa_seconds, Kind::Seconds),
        (
            "wait_p90_seconds",
            "Wait p90",
            |w| w.wait_p90_seconds,
            Kind::Seconds,
        ),
        ("aht_seconds", "AHT", |w| w.aht_seconds, Kind::Seconds),
        (
            "avg_acw_seconds",
            "Avg ACW",
            |w| w.avg_acw_seconds,
            Kind::Seconds,
        ),
        ("occupancy", "Occupancy", |w| w.occupancy, Kind::Percent),
    ];
    out.push_str("<section class=\"windows\"><h2>Windows</h2><table><thead><tr><th></th>");
    for (name, _) in &s.windows.0 {
        let _ = write!(out, "<th>{}</th>", escape(name));
    }
    out.push_str("</tr></thead><tbody>");
    for (kpi, label, get, kind) in ROWS {
        let _ = write!(out, "<tr><th>{label}</th>");
        for (name, w) in &s.windows.0 {
            let value = get(w);
            let shown = match (value, kind) {
                (None, _) => "–".to_string(),
                (Some(v), Kind::Count) => format!("{v}"),
                (Some(v), Kind::Percent) => format!("{:.1} %", v * 100.0),
                (Some(v), Kind::Seconds) => format!("{v:.1} s"),
            };
            let _ = write!(
                out,
                "<td data-window=\"{}\" data-kpi=\"{kpi}\" data-value=\"{}\">{shown}</td>",
                escape(name),
                value.map_or_else(|| "null".to_string(), |v| v.to_string())
            );
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></section>");
}

/// Seconds as "m:ss" (or "h:mm:ss").
fn minutes(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    let (h, m, r) = (s / 3600, s / 60 % 60, s % 60);
    if h > 0 {
        format!("{h}:{m:02}:{r:02}")
    } else {
        format!("{m}:{r:02}")
    }
}

const STYLE: &str = r#"
:root { --bg: #0b0f14; --tile: #151b23; --line: #263041; --fg: #e8edf3; --dim: #8b98a9;
  --ok: #3ddc84; --warn: #ffb020; --bad: #ff4d4f; }
body { margin: 0; background: var(--bg); color: var(--fg); font: 15px/1.35 "DejaVu Sans", "Liberation Sans", Arial, sans-serif; }
header { display: flex; align-items: baseline; gap: 20px; padding: 10px 20px; border-bottom: 1px solid var(--line); }
header h1 { margin: 0; font-size: 28px; } header a { color: var(--dim); }
.meta { color: var(--dim); } .stale { color: #111; background: var(--warn); padding: 2px 10px; border-radius: 6px; font-weight: 700; }
section { padding: 8px 20px; } h2 { font-size: 18px; margin: 8px 0; }
.surge-banner { font-size: 22px; font-weight: 700; color: #111; background: var(--warn); border-radius: 6px; padding: 6px 14px; margin: 4px 0 10px; display: inline-block; }
.surge-banner.exceeded { background: var(--bad); color: #fff; }
.figs { display: flex; gap: 28px; flex-wrap: wrap; } .fig { display: flex; flex-direction: column; }
.fig .v { font-size: 34px; font-weight: 700; font-variant-numeric: tabular-nums; } .fig .lbl { color: var(--dim); }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; width: 100%; }
th, td { border-bottom: 1px solid var(--line); padding: 3px 8px; text-align: right; white-space: nowrap; }
th:first-child, thead th { text-align: left; } thead th { color: var(--dim); font-weight: 600; white-space: normal; }
.windows table { width: auto; min-width: 50%; }
tr.surge th::after { content: " ▲"; color: #ff7a1a; }
.ok { color: var(--ok); } .bad { color: var(--bad); font-weight: 700; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr)); gap: 10px; margin-bottom: 10px; }
svg.chart { width: 100%; height: auto; background: var(--tile); border-radius: 8px; }
.chart-title { font-size: 12px; font-weight: 600; fill: var(--fg); } .legend, .tick { font-size: 10px; fill: var(--dim); }
.grid { stroke: var(--line); } rect.surge { fill: rgba(255, 122, 26, 0.22); }
.target { stroke: var(--fg); stroke-dasharray: 5 3; stroke-width: 1.2; }
.line { fill: none; stroke-width: 2; } .c0 { fill: #4c9aff; stroke: #4c9aff; } .c1 { fill: #3ddc84; stroke: #3ddc84; }
.c2 { fill: #ff4d4f; stroke: #ff4d4f; } .c3 { fill: #ffb020; stroke: #ffb020; } .line.c0, .line.c1, .line.c2, .line.c3 { fill: none; }
"#;

#[cfg(test)]
mod tests;
