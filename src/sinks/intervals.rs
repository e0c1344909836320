//! A queue's intervals as people read them: six charts (calls offered / answered /
//! abandoned, service level against its target, ASA against the SL threshold, AHT, occupancy,
//! agents by state; surge episodes shaded) and the interval table, each figure cell carrying
//! its KPI and exact value (`data-kpi`, `data-value`) for scripts and tests. Shared by the day
//! report (`replay --report`) and the live queue page (`/queue/<id>`).

use std::fmt::Write as _;

use jiff::tz::TimeZone;
use jiff::Timestamp;

use crate::event::Millis;
use crate::kpi::{IntervalKpis, WindowKpis};

use super::charts::{escape, Chart, Mark, Series, Unit};

/// One queue's run of consecutive intervals.
pub(crate) struct View<'a> {
    pub queue: &'a str,
    /// In time order.
    pub intervals: &'a [&'a IntervalKpis],
    /// The SL threshold (seconds) and target (0–1).
    pub threshold: f64,
    pub target: f64,
    /// Surge episodes, (onset, end), Unix ms.
    pub episodes: &'a [(Millis, Millis)],
    pub timezone: &'a TimeZone,
    /// What a partial interval's row says: why it stops short.
    pub partial: &'a str,
}

impl View<'_> {
    /// The intervals each episode overlaps, `[from, to)` in interval indices.
    pub(crate) fn bands(&self) -> Vec<(usize, usize)> {
        self.episodes
            .iter()
            .filter_map(|&(onset, ended)| {
                let from = self.intervals.iter().position(|i| i.end > onset)?;
                let to = self.intervals.iter().rposition(|i| i.start < ended)? + 1;
                (from < to).then_some((from, to))
            })
            .collect()
    }

    fn labels(&self) -> Vec<String> {
        self.intervals
            .iter()
            .map(|i| clock(i.start, self.timezone))
            .collect()
    }

    /// The six charts, in a `<div class="charts">`.
    pub(crate) fn charts(&self, out: &mut String) {
        let labels = self.labels();
        let bands = self.bands();
        let (threshold, target) = (self.threshold, self.target);
        let k: Vec<&WindowKpis> = self.intervals.iter().map(|i| &i.kpis).collect();
        let counts = |f: fn(&WindowKpis) -> u64| k.iter().map(|w| Some(f(w) as f64)).collect();
        let option = |f: fn(&WindowKpis) -> Option<f64>| k.iter().map(|w| f(w)).collect();
        let agents = |f: fn(&WindowKpis) -> f64| {
            self.intervals
                .iter()
                .map(|i| Some(f(&i.kpis) / ((i.end - i.start) as f64 / 1000.0).max(1.0)))
                .collect()
        };
        let chart = |title, unit, series, target| Chart {
            title,
            unit,
            labels: &labels,
            series,
            target,
            bands: &bands,
        };
        let series = |name, mark, values| Series { name, mark, values };
        let line = |name, values| vec![series(name, Mark::Line, values)];
        let charts = [
            chart(
                "Calls per interval",
                Unit::Count,
                vec![
                    series("offered", Mark::Bars, counts(|w| w.offered)),
                    series("answered", Mark::Bars, counts(|w| w.answered)),
                    series("abandoned", Mark::Bars, counts(|w| w.abandoned)),
                ],
                None,
            ),
            chart(
                "Service level against target",
                Unit::Percent,
                line("service level", option(|w| w.service_level)),
                Some(target),
            ),
            chart(
                "ASA (seconds), SL threshold dashed",
                Unit::Seconds,
                line("ASA", option(|w| w.asa_seconds)),
                Some(threshold),
            ),
            chart(
                "AHT (seconds)",
                Unit::Seconds,
                line("AHT", option(|w| w.aht_seconds)),
                None,
            ),
            chart(
                "Occupancy",
                Unit::Percent,
                line("occupancy", option(|w| w.occupancy)),
                None,
            ),
            chart(
                "Agents by state (average over the interval)",
                Unit::Count,
                vec![
                    series("ready", Mark::Line, agents(|w| w.ready_agent_seconds)),
                    series("busy", Mark::Line, agents(|w| w.busy_agent_seconds)),
                    series("ACW", Mark::Line, agents(|w| w.acw_agent_seconds)),
                    series(
                        "not ready",
                        Mark::Line,
                        agents(|w| w.not_ready_agent_seconds),
                    ),
                ],
                None,
            ),
        ];
        out.push_str("<div class=\"charts\">");
        for chart in &charts {
            out.push_str(&chart.svg());
        }
        out.push_str("</div>");
    }

    /// The interval table, with a total row (label, figures, length in seconds) if given.
    pub(crate) fn table(&self, out: &mut String, total: Option<(&str, &WindowKpis, f64)>) {
        let labels = self.labels();
        let bands = self.bands();
        out.push_str("<table class=\"intervals\"><thead><tr><th>Interval</th><th>Offered</th><th>Answered</th><th>Abandoned</th><th>Abandon rate</th><th>Service level</th><th>ASA</th><th>AHT</th><th>Avg ACW</th><th>Occupancy</th><th title=\"average agents in each state over the interval\">Agents R / B / ACW / NR</th></tr></thead><tbody>");
        for (n, (i, label)) in self.intervals.iter().zip(&labels).enumerate() {
            let surge = bands.iter().any(|&(f, t)| (f..t).contains(&n));
            let _ = write!(
                out,
                "<tr data-queue=\"{}\" data-start=\"{}\" data-end=\"{}\"{}{}><th>{label}–{}{}</th>",
                escape(self.queue),
                i.start,
                i.end,
                if i.partial { " data-partial" } else { "" },
                if surge { " class=\"surge\"" } else { "" },
                clock(i.end, self.timezone),
                if i.partial {
                    format!(" ({})", escape(self.partial))
                } else {
                    String::new()
                },
            );
            interval_cells(out, &i.kpis, self.target, (i.end - i.start) as f64 / 1000.0);
            out.push_str("</tr>");
        }
        if let Some((label, kpis, length_s)) = total {
            let _ = write!(
                out,
                "<tr class=\"total\" data-total><th>{}</th>",
                escape(label)
            );
            interval_cells(out, kpis, self.target, length_s);
            out.push_str("</tr>");
        }
        out.push_str("</tbody></table>");
    }
}

fn interval_cells(out: &mut String, k: &WindowKpis, target: f64, length_s: f64) {
    count(out, "offered", k.offered);
    count(out, "answered", k.answered);
    count(out, "abandoned", k.abandoned);
    percent(out, "abandon_rate", k.abandon_rate);
    service_level(out, k.service_level, target);
    seconds(out, "asa_seconds", k.asa_seconds);
    seconds(out, "aht_seconds", k.aht_seconds);
    seconds(out, "avg_acw_seconds", k.avg_acw_seconds);
    percent(out, "occupancy", k.occupancy);
    let avg = |s: f64| s / length_s.max(1.0);
    let _ = write!(
        out,
        "<td class=\"agents\">{:.1} / {:.1} / {:.1} / {:.1}</td>",
        avg(k.ready_agent_seconds),
        avg(k.busy_agent_seconds),
        avg(k.acw_agent_seconds),
        avg(k.not_ready_agent_seconds)
    );
}

pub(crate) fn count(out: &mut String, kpi: &str, v: u64) {
    let _ = write!(out, "<td data-kpi=\"{kpi}\" data-value=\"{v}\">{v}</td>");
}

fn cell(out: &mut String, kpi: &str, v: Option<f64>, shown: impl Fn(f64) -> String) {
    match v {
        Some(v) => {
            let _ = write!(
                out,
                "<td data-kpi=\"{kpi}\" data-value=\"{v}\">{}</td>",
                shown(v)
            );
        }
        // Nothing to divide by: no figure, not a zero.
        None => {
            let _ = write!(out, "<td data-kpi=\"{kpi}\" data-value=\"null\">–</td>");
        }
    }
}

pub(crate) fn percent(out: &mut String, kpi: &str, v: Option<f64>) {
    cell(out, kpi, v, |v| format!("{:.1} %", v * 100.0));
}

pub(crate) fn seconds(out: &mut String, kpi: &str, v: Option<f64>) {
    cell(out, kpi, v, |v| format!("{v:.1} s"));
}

/// The service level with its verdict against the target as a symbol, not only a colour.
pub(crate) fn service_level(out: &mut String, v: Option<f64>, target: f64) {
    cell(out, "service_level", v, |v| {
        if v >= target {
            format!("<span class=\"ok\">{:.1} % ✓</span>", v * 100.0)
        } else {
            format!("<span class=\"bad\">{:.1} % ✗</span>", v * 100.0)
        }
    });
}

/// Local time of day, "HH:MM".
pub(crate) fn clock(ms: Millis, tz: &TimeZone) -> String {
    local(ms, tz, "%H:%M")
}

/// Local time of day, "HH:MM:SS".
pub(crate) fn time_of_day(ms: Millis, tz: &TimeZone) -> String {
    local(ms, tz, "%H:%M:%S")
}

/// Local date and time, "YYYY-MM-DD HH:MM:SS".
pub(crate) fn when(ms: Millis, tz: &TimeZone) -> String {
    local(ms, tz, "%Y-%m-%d %H:%M:%S")
}

fn local(ms: Millis, tz: &TimeZone, format: &str) -> String {
    Timestamp::from_millisecond(ms).map_or_else(
        |_| ms.to_string(),
        |t| t.to_zoned_datetime(tz.clone()).strftime(format).to_string(),
    )
}
