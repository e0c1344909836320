//! `acdstream replay`: a recorded event file through the same engine the live service runs,
//! with "now" taken from event time so the result is deterministic.

use std::fmt::Write as _;
use std::sync::Arc;

use crate::config::format_duration;
use crate::decode::{self, Format};
use crate::event::Millis;
use crate::kpi::surge::{Episode, EpisodeOutcome};
use crate::kpi::{KpiSnapshot, WindowKpis};
use crate::ledger::{LedgerCounts, Outcome, RejectReason};
use crate::source::file::{LineSource, SourceError};
use crate::state::{Engine, EngineSettings, TimeMode};

/// One rejected line, for the report.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    pub line: u64,
    pub reason: RejectReason,
    pub detail: String,
}

#[derive(Debug, Clone)]
pub struct ReplayReport {
    pub snapshots: Vec<KpiSnapshot>,
    pub ledger: LedgerCounts,
    /// Every reason that occurred, with its count.
    pub rejected_by_reason: Vec<(RejectReason, u64)>,
    /// The first rejections in line order (at most the number asked for).
    pub rejections: Vec<Rejection>,
    pub blank_lines: u64,
    /// Surge episodes that ended, in the order they ended, with their queue id; episodes still
    /// open at the end are in the snapshots.
    pub episodes: Vec<(String, Episode)>,
}

/// Replays every line of `source`. `wall` is the real clock, only used to refuse timestamps
/// from the future; `progress` is told how many bytes have been read.
pub fn replay(
    source: &mut LineSource,
    settings: Arc<EngineSettings>,
    wall: Millis,
    keep_rejections: usize,
    progress: &mut dyn FnMut(u64),
) -> Result<ReplayReport, SourceError> {
    let mut engine = Engine::new(settings, TimeMode::EventTime);
    let mut rejections = Rejections {
        keep: keep_rejections,
        list: Vec::new(),
    };
    let mut blank_lines = 0;
    let mut since_progress = 0u32;
    let mut episodes = Vec::new();
    while let Some((line, bytes)) = source.next_line()? {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            blank_lines += 1;
            continue;
        }
        match decode::decode(Format::Json, bytes) {
            Ok(event) => {
                if let Outcome::Rejected(reason) = engine.apply(&event, line, wall) {
                    rejections.note(line, reason, reason.explain().to_string());
                }
            }
            Err(err) => {
                engine.reject(err.reason());
                rejections.note(line, err.reason(), err.to_string());
            }
        }
        rejections.note_resolved(&mut engine);
        episodes.extend(engine.take_episodes());
        since_progress += 1;
        if since_progress == 4096 {
            since_progress = 0;
            progress(source.bytes_read());
        }
    }
    progress(source.bytes_read());
    engine.finish();
    rejections.note_resolved(&mut engine);
    let mut rejections = rejections.list;
    rejections.sort_by_key(|r| r.line);
    let snapshots = engine.snapshots(wall);
    episodes.extend(engine.take_episodes());
    let ledger = engine.ledger();
    let rejected_by_reason = RejectReason::ALL
        .iter()
        .map(|&r| (r, ledger.rejected_by(r)))
        .filter(|&(_, n)| n > 0)
        .collect();
    Ok(ReplayReport {
        snapshots,
        ledger: ledger.counts(),
        rejected_by_reason,
        rejections,
        blank_lines,
        episodes: episodes
            .into_iter()
            .map(|(queue, e)| (queue.to_string(), e))
            .collect(),
    })
}

/// The first `keep` rejections, for the report.
struct Rejections {
    keep: usize,
    list: Vec<Rejection>,
}

impl Rejections {
    fn note(&mut self, line: u64, reason: RejectReason, detail: String) {
        if self.list.len() < self.keep {
            self.list.push(Rejection {
                line,
                reason,
                detail,
            });
        }
    }

    /// Pending events rejected later are reported at their own line.
    fn note_resolved(&mut self, engine: &mut Engine) {
        for r in engine.take_resolutions() {
            if let Outcome::Rejected(reason) = r.outcome {
                self.note(r.origin, reason, reason.explain().to_string());
            }
        }
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
pub fn render_table(report: &ReplayReport, window: &str) -> String {
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

/// Every surge episode: queue, onset, outcome and response time; then those still open.
pub fn render_episodes(report: &ReplayReport) -> String {
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
pub fn render_ledger(report: &ReplayReport) -> String {
    let mut out = String::new();
    let l = &report.ledger;
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
    if !report.rejected_by_reason.is_empty() {
        let by: Vec<String> = report
            .rejected_by_reason
            .iter()
            .map(|(r, n)| format!("{} {n}", r.label()))
            .collect();
        let _ = writeln!(out, "rejected by reason: {}", by.join(", "));
        for r in &report.rejections {
            let _ = writeln!(out, "  line {}: {}: {}", r.line, r.reason.label(), r.detail);
        }
        let shown = report.rejections.len() as u64;
        if l.rejected > shown {
            let _ = writeln!(out, "  … and {} more", l.rejected - shown);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const WALL: Millis = 1_800_000_000_000;

    fn run(text: &'static str) -> ReplayReport {
        let mut src = LineSource::from(text.as_bytes());
        replay(
            &mut src,
            Arc::new(EngineSettings::default()),
            WALL,
            10,
            &mut |_| {},
        )
        .unwrap()
    }

    #[test]
    fn bad_lines_are_reported_with_their_line_numbers_and_the_ledger_balances() {
        let report = run(concat!(
            r#"{"event_id":"1","ts":1767603600000,"type":"offered","call_id":"c1","queue_id":"q"}"#,
            "\n",
            "not json\n",
            "\n",
            r#"{"event_id":"2","ts":1767603601000,"type":"answered","call_id":"c9","queue_id":"q","agent_id":"a"}"#,
            "\n",
            r#"{"event_id":"3","ts":1767603602000,"type":"teleported","call_id":"c1","queue_id":"q"}"#,
            "\n",
            r#"{"event_id":"1","ts":1767603600000,"type":"offered","call_id":"c1","queue_id":"q"}"#,
            "\n",
        ));
        let l = report.ledger;
        assert_eq!(
            (
                l.consumed,
                l.applied,
                l.duplicate,
                l.late,
                l.rejected,
                l.pending
            ),
            (5, 1, 1, 0, 3, 0)
        );
        let lines: Vec<(u64, RejectReason)> = report
            .rejections
            .iter()
            .map(|r| (r.line, r.reason))
            .collect();
        assert_eq!(
            lines,
            vec![
                (2, RejectReason::Malformed),
                (4, RejectReason::NoOffer),
                (5, RejectReason::UnknownType)
            ]
        );
        assert_eq!(report.blank_lines, 1);
        let text = render_table(&report, "today");
        assert!(
            text.contains("consumed 5 = applied 1 + duplicate 1 + late 0 + rejected 3"),
            "{text}"
        );
        assert!(text.contains("line 4: no_offer"), "{text}");
    }
}
