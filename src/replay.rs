//! `acdstream replay`: a recorded event file through the same pipeline the live service runs,
//! with "now" taken from event time so that the result is deterministic, and its report.

use std::fmt::Write as _;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::config::format_duration;
use crate::event::Millis;
use crate::kpi::surge::EpisodeOutcome;
use crate::kpi::{KpiSnapshot, WindowKpis};
use crate::pipeline::{Clock, Pipeline, PipelineSettings, Sinks};
pub use crate::pipeline::{Rejection, Report};
use crate::sources::file::{FileSource, SourceError};
use crate::state::{Engine, EngineSettings, TimeMode};

/// What a replay keeps beyond the KPIs at the end.
#[derive(Debug, Clone, Copy, Default)]
pub struct Keep {
    /// The first this many rejections are listed with their line numbers.
    pub rejections: usize,
    /// Every interval the queues close ([`Report::intervals`]).
    pub intervals: bool,
}

/// Replays every line of `source` (a [`FileSource`] over the file). `wall` is the real
/// clock, only used to refuse timestamps from the future. Cancelling `stop` (a signal) stops
/// the reading: the report then covers the lines read until then, and says it was
/// interrupted.
pub async fn replay(
    mut source: FileSource,
    settings: Arc<EngineSettings>,
    wall: Millis,
    keep: Keep,
    stop: &CancellationToken,
) -> Result<Report, SourceError> {
    let pipeline = Pipeline::new(
        Engine::new(settings, TimeMode::EventTime),
        Clock::Fixed(wall),
        PipelineSettings {
            keep_rejections: keep.rejections,
            keep_intervals: keep.intervals,
            ..PipelineSettings::default()
        },
        Sinks::default(),
    );
    let report = pipeline.run(&mut source, stop).await;
    match source.take_error() {
        Some(error) => Err(error),
        None => Ok(report),
    }
}

fn pct(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{:.1}%", v * 100.0))
}

fn secs(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.1}s"))
}

fn num(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.2}"))
}

/// The human report: one row per queue for `window`, then the ledger and rejections.
pub fn render_table(report: &Report, window: &str) -> String {
    let mut out = String::new();
    let as_of = report
        .snapshots
        .first()
        .map(|s| s.as_of)
        .unwrap_or_default();
    let when = jiff::Timestamp::from_millisecond(as_of)
        .map_or_else(|_| as_of.to_string(), |t| t.to_string());
    let _ = writeln!(out, "KPIs as of {when}, window {window}\n");
    let _ = writeln!(
        out,
        "{:<16} {:>7} {:>8} {:>9} {:>7} {:>7} {:>7} {:>8} {:>7} {:>9} {:>9} {:>9} {:>7}",
        "queue",
        "offered",
        "answered",
        "abandoned",
        "SL",
        "target",
        "ASA",
        "abandon",
        "AHT",
        "rings/ans",
        "occupancy",
        "not ready",
        "waiting"
    );
    for s in &report.snapshots {
        let empty = WindowKpis::default();
        let w = s.windows.get(window).unwrap_or(&empty);
        let _ = writeln!(
            out,
            "{:<16} {:>7} {:>8} {:>9} {:>7} {:>7} {:>7} {:>8} {:>7} {:>9} {:>9} {:>9} {:>7}",
            s.queue_id,
            w.offered,
            w.answered,
            w.abandoned,
            pct(w.service_level),
            pct(Some(s.sl_target)),
            secs(w.asa_seconds),
            pct(w.abandon_rate),
            secs(w.aht_seconds),
            num(w.rings_per_answer),
            pct(w.occupancy),
            pct(w.not_ready_ratio),
            s.now.calls_waiting,
        );
    }
    out.push('\n');
    out.push_str(&render_episodes(report));
    out.push_str(&render_ledger(report));
    out
}

fn timestamp(ms: Millis) -> String {
    jiff::Timestamp::from_millisecond(ms).map_or_else(|_| ms.to_string(), |t| t.to_string())
}

fn duration_ms(ms: Millis) -> String {
    format_duration(std::time::Duration::from_millis(ms.max(0) as u64))
}

/// Every surge episode: queue, onset, outcome and response time; then those still open; and the
/// surges absorbed without an episode, by queue.
pub fn render_episodes(report: &Report) -> String {
    let mut out = String::new();
    let open: Vec<&KpiSnapshot> = report.snapshots.iter().filter(|s| s.surge.active).collect();
    let count = |o: EpisodeOutcome| {
        report
            .episodes
            .iter()
            .filter(|(_, e)| e.outcome == o)
            .count()
    };
    let _ = writeln!(
        out,
        "surge episodes: {} responded, {} subsided, {} open",
        count(EpisodeOutcome::Responded),
        count(EpisodeOutcome::Subsided),
        open.len()
    );
    // Rises to the surge level with the service level at target: counted, but no episode.
    let absorbed: Vec<String> = report
        .snapshots
        .iter()
        .filter(|s| s.surge.absorbed > 0)
        .map(|s| format!("{} {}", s.queue_id, s.surge.absorbed))
        .collect();
    let total: u64 = report.snapshots.iter().map(|s| s.surge.absorbed).sum();
    let _ = write!(
        out,
        "surges absorbed (service level at target, no episode): {total}"
    );
    if !absorbed.is_empty() {
        let _ = write!(out, " ({})", absorbed.join(", "));
    }
    out.push('\n');
    if report.episodes.is_empty() && open.is_empty() {
        out.push('\n');
        return out;
    }
    let _ = writeln!(
        out,
        "  {:<16} {:<24} {:<10} response",
        "queue", "onset", "outcome"
    );
    for (queue, e) in &report.episodes {
        let response = e.response_ms().map_or("-".into(), duration_ms);
        let _ = writeln!(
            out,
            "  {:<16} {:<24} {:<10} {response}",
            queue,
            timestamp(e.onset),
            e.outcome.label()
        );
    }
    for s in open {
        let age = duration_ms((s.surge.age_seconds * 1000.0) as Millis);
        let exceeded = if s.surge.response_exceeded {
            ", response limit exceeded"
        } else {
            ""
        };
        let onset = s.surge.onset.map_or("-".into(), timestamp);
        let _ = writeln!(
            out,
            "  {:<16} {:<24} {:<10} ({age} so far{exceeded})",
            s.queue_id, onset, "open"
        );
    }
    out.push('\n');
    out
}

/// The ledger line, rejections by reason and the first rejected lines.
pub fn render_ledger(report: &Report) -> String {
    let mut out = String::new();
    let l = &report.ledger;
    if report.interrupted {
        let _ = writeln!(
            out,
            "interrupted: stopped reading at a signal; this report covers the lines read until then"
        );
    }
    let _ = writeln!(
        out,
        "events: consumed {} = applied {} + duplicate {} + late {} + rejected {}{}",
        l.consumed,
        l.applied,
        l.duplicate,
        l.late,
        l.rejected,
        if l.balances() {
            ""
        } else {
            "  (LEDGER DOES NOT BALANCE)"
        }
    );
    if report.blank_lines > 0 {
        let _ = writeln!(out, "blank lines skipped: {}", report.blank_lines);
    }
    if !report.ignored.is_empty() {
        let by: Vec<String> = report
            .ignored
            .iter()
            .map(|(why, n)| format!("{why} {n}"))
            .collect();
        let n: u64 = report.ignored.values().sum();
        let _ = writeln!(
            out,
            "lines ignored (known, no call or agent event): {n} ({})",
            by.join(", ")
        );
    }
    if report.restarts > 0 {
        let ended: u64 = report.totals.iter().map(|(_, t)| t.ended_by_restart).sum();
        let _ = writeln!(
            out,
            "PBX restarts: {}; calls in progress ended by them (pbx_restart): {ended}",
            report.restarts
        );
    }
    let skewed: u64 = report.totals.iter().map(|(_, t)| t.clock_skew).sum();
    if skewed > 0 {
        let _ = writeln!(
            out,
            "clock skew: {skewed} call events stamped before the step they follow (within \
             engine.max_clock_skew) were applied at that step's time"
        );
    }
    if !report.rejected_by_reason.is_empty() {
        let by: Vec<String> = report
            .rejected_by_reason
            .iter()
            .map(|(r, n)| format!("{} {n}", r.label()))
            .collect();
        let _ = writeln!(out, "rejected by reason: {}", by.join(", "));
        for r in &report.rejections {
            let line = r.origin.position;
            let _ = writeln!(out, "  line {line}: {}: {}", r.reason.label(), r.detail);
        }
        let shown = report.rejections.len() as u64;
        if l.rejected > shown {
            let _ = writeln!(out, "  … and {} more", l.rejected - shown);
        }
    }
    out
}

pub mod report;

#[cfg(test)]
mod tests;
