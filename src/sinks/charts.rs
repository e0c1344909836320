//! Interval charts drawn as inline SVG on the server: the day report's (and any page's) charts
//! need no script, no library and no network, print as drawn, and a test can count their
//! marks in the DOM. Colours come from CSS classes of the page that embeds them (`c0`…`c3`,
//! `target`, `surge`), so one chart serves a dark wallboard and a white printed page.

use std::fmt::Write as _;

/// What the y axis counts, which sets how its ticks are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unit {
    Count,
    /// A ratio 0–1, shown as a percentage (the axis always spans 0–100 %).
    Percent,
    Seconds,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mark {
    /// Bars side by side in each interval.
    Bars,
    /// A line through the intervals that have a value (broken where one has none).
    Line,
}

pub(crate) struct Series<'a> {
    pub name: &'a str,
    pub mark: Mark,
    /// One value per interval; `None` where there is nothing to show (no calls answered: no
    /// ASA), which is not zero.
    pub values: Vec<Option<f64>>,
}

pub(crate) struct Chart<'a> {
    pub title: &'a str,
    pub unit: Unit,
    /// The x labels, one per interval (its start, "HH:MM").
    pub labels: &'a [String],
    pub series: Vec<Series<'a>>,
    /// A dashed horizontal line (the SL target).
    pub target: Option<f64>,
    /// Intervals shaded as surge episodes, `[from, to)` in interval indices.
    pub bands: &'a [(usize, usize)],
}

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 190.0;
const LEFT: f64 = 48.0;
const RIGHT: f64 = 8.0;
const TOP: f64 = 24.0;
const BOTTOM: f64 = 22.0;

impl Chart<'_> {
    /// The chart as an `<svg>` element with a `<title>`, a legend, y ticks, the series and
    /// an x label every few intervals.
    pub(crate) fn svg(&self) -> String {
        let n = self.labels.len().max(1);
        let plot_w = WIDTH - LEFT - RIGHT;
        let plot_h = HEIGHT - TOP - BOTTOM;
        let slot = plot_w / n as f64;
        let top = match self.unit {
            Unit::Percent => 1.0,
            _ => nice_ceiling(
                self.series
                    .iter()
                    .flat_map(|s| s.values.iter().flatten())
                    .chain(self.target.iter())
                    .fold(0.0_f64, |a, &b| a.max(b)),
            ),
        };
        let y = |v: f64| TOP + plot_h * (1.0 - (v / top).clamp(0.0, 1.0));
        let x_mid = |i: usize| LEFT + slot * (i as f64 + 0.5);

        let mut out = String::with_capacity(4096);
        let _ = write!(
            out,
            r#"<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{title}"><title>{title}</title>"#,
            title = escape(self.title)
        );
        let _ = write!(
            out,
            r#"<text class="chart-title" x="{LEFT}" y="14">{}</text>"#,
            escape(self.title)
        );
        // Legend, right-aligned in the title row.
        let mut lx = WIDTH - RIGHT;
        for (k, s) in self.series.iter().enumerate().rev() {
            lx -= 9.0 + 6.5 * s.name.chars().count() as f64 + 14.0;
            let _ = write!(
                out,
                r#"<rect class="c{k}" x="{lx:.1}" y="6" width="9" height="9"/><text class="legend" x="{:.1}" y="14">{}</text>"#,
                lx + 12.0,
                escape(s.name)
            );
        }
        for &(from, to) in self.bands {
            let _ = write!(
                out,
                r#"<rect class="surge" x="{:.1}" y="{TOP}" width="{:.1}" height="{plot_h}"><title>surge episode</title></rect>"#,
                LEFT + slot * from as f64,
                slot * (to.saturating_sub(from)) as f64
            );
        }
        for k in 0..=4 {
            let v = top * k as f64 / 4.0;
            let _ = write!(
                out,
                r#"<line class="grid" x1="{LEFT}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}"/><text class="tick" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
                WIDTH - RIGHT,
                LEFT - 4.0,
                y(v) + 3.5,
                tick(v, self.unit),
                y = y(v)
            );
        }
        let bars: Vec<(usize, &Series)> = self
            .series
            .iter()
            .enumerate()
            .filter(|(_, s)| s.mark == Mark::Bars)
            .collect();
        let bar_w = slot * 0.8 / bars.len().max(1) as f64;
        for (j, &(k, s)) in bars.iter().enumerate() {
            for (i, v) in s.values.iter().enumerate() {
                let Some(v) = *v else { continue };
                let x = LEFT + slot * (i as f64 + 0.1) + bar_w * j as f64;
                let _ = write!(
                    out,
                    r#"<rect class="c{k} bar" x="{x:.1}" y="{:.1}" width="{bar_w:.2}" height="{:.1}"><title>{} {}: {}</title></rect>"#,
                    y(v),
                    (TOP + plot_h - y(v)).max(0.0),
                    self.labels.get(i).map_or("", String::as_str),
                    escape(s.name),
                    value(v, self.unit)
                );
            }
        }
        for (k, s) in self.series.iter().enumerate() {
            if s.mark != Mark::Line {
                continue;
            }
            // One polyline per run of intervals with a value.
            let mut run: Vec<String> = Vec::new();
            let flush = |run: &mut Vec<String>, out: &mut String| {
                if run.len() > 1 {
                    let _ = write!(
                        out,
                        r#"<polyline class="c{k} line" points="{}"/>"#,
                        run.join(" ")
                    );
                }
                run.clear();
            };
            for (i, v) in s.values.iter().enumerate() {
                match v {
                    Some(v) => {
                        run.push(format!("{:.1},{:.1}", x_mid(i), y(*v)));
                        let _ = write!(
                            out,
                            r#"<circle class="c{k} point" cx="{:.1}" cy="{:.1}" r="2"><title>{} {}: {}</title></circle>"#,
                            x_mid(i),
                            y(*v),
                            self.labels.get(i).map_or("", String::as_str),
                            escape(s.name),
                            value(*v, self.unit)
                        );
                    }
                    None => flush(&mut run, &mut out),
                }
            }
            flush(&mut run, &mut out);
        }
        if let Some(t) = self.target {
            let _ = write!(
                out,
                r#"<line class="target" x1="{LEFT}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}"><title>target {}</title></line>"#,
                WIDTH - RIGHT,
                value(t, self.unit),
                y = y(t)
            );
        }
        let every = n.div_ceil(12).max(1);
        for (i, label) in self.labels.iter().enumerate().step_by(every) {
            let _ = write!(
                out,
                r#"<text class="tick" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                x_mid(i),
                HEIGHT - 6.0,
                escape(label)
            );
        }
        out.push_str("</svg>");
        out
    }
}

/// The smallest of 1, 2, 2.5, 4, 5 × 10ⁿ at or above `v` (at least 1): a y axis whose
/// quarter ticks are round numbers.
fn nice_ceiling(v: f64) -> f64 {
    if v.is_nan() || v <= 1.0 {
        return 1.0;
    }
    let magnitude = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 2.5, 4.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|&c| c >= v)
        .unwrap_or(10.0 * magnitude)
}

fn tick(v: f64, unit: Unit) -> String {
    match unit {
        Unit::Percent => format!("{:.0} %", v * 100.0),
        Unit::Seconds => format!("{v:.0} s"),
        Unit::Count if v.fract() == 0.0 => format!("{v:.0}"),
        Unit::Count => format!("{v:.1}"),
    }
}

fn value(v: f64, unit: Unit) -> String {
    match unit {
        Unit::Percent => format!("{:.1} %", v * 100.0),
        Unit::Seconds => format!("{v:.1} s"),
        Unit::Count => format!("{v}"),
    }
}

/// Text for HTML element content and attribute values.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests;
