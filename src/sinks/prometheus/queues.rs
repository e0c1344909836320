//! The per-queue KPI families of `/metrics` (window KPIs, point-in-time gauges, staffing,
//! surge state and the queue totals), kept as plain values and written out by acdstream
//! itself rather than through the `metrics` recorder.
//!
//! Why: a centre of 1,000 queues has about 150,000 such series. The exporter renders each
//! scrape from scratch: it hashes every series key, clones and sorts its labels and formats
//! every value (466 ms for 1,000 queues). Here a publish stores each queue's values in one flat
//! array per queue; a render copies them under a short lock, formats only the (family, queue)
//! blocks whose values changed since the previous render, and joins the blocks family by family
//! (the exposition format wants all series of a family together; no other code records these
//! names, so the recorder's part of `/metrics` never holds a second block of the same family).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use indexmap::IndexMap;

use crate::kpi::{KpiSnapshot, QueueTotals, WindowKpis};
use crate::telemetry::{self as t, label};

/// Where a family's values come from, and so which series it has per queue.
enum Per {
    /// From the snapshot: one series per value of the family's own label (one if none).
    Queue(fn(&KpiSnapshot, &mut Vec<f64>)),
    /// From each window's KPIs: per window, one series per value of the family's own label.
    Window(fn(&WindowKpis, &mut Vec<f64>)),
    /// The arrival rate, for the sliding windows only (a calendar window has no fixed length).
    SlidingWindow,
    /// From the queue's totals (counters).
    Totals(fn(&QueueTotals, &mut Vec<f64>)),
}

struct Family {
    name: &'static str,
    /// The family's own label and its values, in the order its function pushes them.
    by: Option<(&'static str, &'static [&'static str])>,
    per: Per,
}

const fn family(name: &'static str, per: Per) -> Family {
    Family {
        name,
        by: None,
        per,
    }
}

const fn family_by(
    name: &'static str,
    key: &'static str,
    values: &'static [&'static str],
    per: Per,
) -> Family {
    Family {
        name,
        by: Some((key, values)),
        per,
    }
}

fn or_nan(value: Option<f64>) -> f64 {
    value.unwrap_or(f64::NAN)
}

fn flag(on: bool) -> f64 {
    f64::from(u8::from(on))
}

/// Every per-queue family, in the order `/metrics` lists them.
static FAMILIES: [Family; 48] = [
    family(
        t::CALLS_WAITING,
        Per::Queue(|s, o| o.push(s.now.calls_waiting as f64)),
    ),
    family(
        t::OLDEST_CALL_WAIT_SECONDS,
        Per::Queue(|s, o| o.push(s.now.oldest_wait_seconds)),
    ),
    family_by(
        t::AGENTS,
        label::STATE,
        &t::AGENT_STATES,
        Per::Queue(|s, o| {
            let n = &s.now;
            o.extend(
                [
                    n.agents_ready,
                    n.agents_not_ready,
                    n.agents_busy,
                    n.agents_acw,
                    n.agents_busy_other,
                    n.agents_logged_in,
                ]
                .map(|n| n as f64),
            );
        }),
    ),
    family(
        t::SERVICE_LEVEL_TARGET_RATIO,
        Per::Queue(|s, o| o.push(s.sl_target)),
    ),
    family(
        t::SERVICE_LEVEL_THRESHOLD_SECONDS,
        Per::Queue(|s, o| o.push(s.sl_threshold_seconds)),
    ),
    family(
        t::REQUIRED_AGENTS,
        Per::Queue(|s, o| o.push(s.staffing.map_or(f64::NAN, |s| s.required_agents as f64))),
    ),
    family(
        t::STAFFED_AGENTS,
        Per::Queue(|s, o| o.push(s.staffing.map_or(f64::NAN, |s| s.staffed_agents as f64))),
    ),
    family(
        t::PREDICTED_SERVICE_LEVEL_RATIO,
        Per::Queue(|s, o| o.push(s.staffing.map_or(f64::NAN, |s| s.predicted_service_level))),
    ),
    family(
        t::PREDICTED_ASA_SECONDS,
        // No finite wait: the load is at or above the staffed agents.
        Per::Queue(|s, o| {
            o.push(s.staffing.map_or(f64::NAN, |s| {
                s.predicted_asa_seconds.unwrap_or(f64::INFINITY)
            }))
        }),
    ),
    family(
        t::SURGE_ACTIVE,
        Per::Queue(|s, o| o.push(flag(s.surge.active))),
    ),
    family(
        t::SURGE_AGE_SECONDS,
        Per::Queue(|s, o| o.push(s.surge.age_seconds)),
    ),
    family(
        t::SURGE_RESPONSE_LIMIT_SECONDS,
        Per::Queue(|s, o| o.push(s.surge.response_limit_seconds)),
    ),
    family(
        t::SURGE_RESPONSE_EXCEEDED,
        Per::Queue(|s, o| o.push(flag(s.surge.response_exceeded))),
    ),
    family(
        t::SURGE_BASELINE_PER_MINUTE,
        Per::Queue(|s, o| o.push(or_nan(s.surge.baseline_per_minute))),
    ),
    family(
        t::CALLS_OFFERED,
        Per::Window(|w, o| o.push(w.offered as f64)),
    ),
    family(
        t::CALLS_ANSWERED,
        Per::Window(|w, o| o.push(w.answered as f64)),
    ),
    family(
        t::CALLS_ABANDONED,
        Per::Window(|w, o| o.push(w.abandoned as f64)),
    ),
    family_by(
        t::SERVICE_LEVEL_RATIO,
        label::VARIANT,
        &t::SL_VARIANTS,
        Per::Window(|w, o| {
            o.extend(
                [
                    w.service_level,
                    w.service_level_ignore_abandons,
                    w.service_level_positive,
                ]
                .map(or_nan),
            );
        }),
    ),
    family(
        t::ASA_SECONDS,
        Per::Window(|w, o| o.push(or_nan(w.asa_seconds))),
    ),
    family_by(
        t::WAIT_SECONDS,
        label::QUANTILE,
        &t::WAIT_QUANTILES,
        Per::Window(|w, o| {
            o.extend([w.wait_p50_seconds, w.wait_p90_seconds, w.wait_p99_seconds].map(or_nan));
        }),
    ),
    family(
        t::ABANDON_RATIO,
        Per::Window(|w, o| o.push(or_nan(w.abandon_rate))),
    ),
    family(
        t::RINGS_PER_ANSWER,
        Per::Window(|w, o| o.push(or_nan(w.rings_per_answer))),
    ),
    family(
        t::RING_NO_ANSWER,
        Per::Window(|w, o| o.push(w.ring_no_answer as f64)),
    ),
    family(
        t::RING_ABANDONED,
        Per::Window(|w, o| o.push(w.ring_abandoned as f64)),
    ),
    family(
        t::MEMBER_UNAVAILABLE,
        Per::Window(|w, o| o.push(w.member_unavailable as f64)),
    ),
    family(
        t::TRANSFER_RATIO,
        Per::Window(|w, o| o.push(or_nan(w.transfer_rate))),
    ),
    family(
        t::TALK_SECONDS,
        Per::Window(|w, o| o.push(or_nan(w.avg_talk_seconds))),
    ),
    family(
        t::HOLD_SECONDS,
        Per::Window(|w, o| o.push(or_nan(w.avg_hold_seconds))),
    ),
    family(
        t::ACW_SECONDS,
        Per::Window(|w, o| o.push(or_nan(w.avg_acw_seconds))),
    ),
    family(
        t::AHT_SECONDS,
        Per::Window(|w, o| o.push(or_nan(w.aht_seconds))),
    ),
    family(
        t::OCCUPANCY_RATIO,
        Per::Window(|w, o| o.push(or_nan(w.occupancy))),
    ),
    family(
        t::NOT_READY_RATIO,
        Per::Window(|w, o| o.push(or_nan(w.not_ready_ratio))),
    ),
    family(t::ARRIVAL_RATE_PER_MINUTE, Per::SlidingWindow),
    family(
        t::CALLS_OFFERED_TOTAL,
        Per::Totals(|q, o| o.push(q.offered as f64)),
    ),
    family(
        t::CALLS_ANSWERED_TOTAL,
        Per::Totals(|q, o| o.push(q.answered as f64)),
    ),
    family(
        t::CALLS_ABANDONED_TOTAL,
        Per::Totals(|q, o| o.push(q.abandoned as f64)),
    ),
    family(
        t::CALLS_SHORT_ABANDONED_TOTAL,
        Per::Totals(|q, o| o.push(q.short_abandoned as f64)),
    ),
    family(
        t::CALLS_TRANSFERRED_TOTAL,
        Per::Totals(|q, o| o.push(q.transferred_out as f64)),
    ),
    family(
        t::CALLS_FLOWED_OUT_TOTAL,
        Per::Totals(|q, o| o.push(q.flowed_out as f64)),
    ),
    family(
        t::RING_ATTEMPTS_TOTAL,
        Per::Totals(|q, o| o.push(q.ring_attempts as f64)),
    ),
    family(
        t::RING_NO_ANSWER_TOTAL,
        Per::Totals(|q, o| o.push(q.ring_no_answer as f64)),
    ),
    family(
        t::RING_ABANDONED_TOTAL,
        Per::Totals(|q, o| o.push(q.ring_abandoned as f64)),
    ),
    family(
        t::MEMBER_UNAVAILABLE_TOTAL,
        Per::Totals(|q, o| o.push(q.member_unavailable as f64)),
    ),
    family(
        t::CALLS_EXPIRED_TOTAL,
        Per::Totals(|q, o| o.push(q.expired_calls as f64)),
    ),
    family(
        t::CALLS_ENDED_BY_RESTART_TOTAL,
        Per::Totals(|q, o| o.push(q.ended_by_restart as f64)),
    ),
    family(
        t::CLOCK_SKEW_TOTAL,
        Per::Totals(|q, o| o.push(q.clock_skew as f64)),
    ),
    family_by(
        t::SURGE_EPISODES_TOTAL,
        label::OUTCOME,
        &t::SURGE_OUTCOMES,
        Per::Totals(|q, o| o.extend([q.surge_responded as f64, q.surge_subsided as f64])),
    ),
    family(
        t::SURGES_ABSORBED_TOTAL,
        Per::Totals(|q, o| o.push(q.surge_absorbed as f64)),
    ),
];

/// One window of a queue's snapshots.
#[derive(Clone, Debug, PartialEq)]
struct Window {
    name: String,
    /// The length of a sliding window; `None` for a calendar window (`today`, `interval`).
    minutes: Option<f64>,
}

/// One queue's values of one kind (snapshot or totals) for every family: the families of the
/// other kind have empty ranges, so that `ends` is indexed by the family's place in
/// [`FAMILIES`] whichever kind it is.
#[derive(Clone, Debug, Default)]
struct Block {
    values: Vec<f64>,
    /// `ends[i]` is where family `i`'s values end; empty until the first publish.
    ends: Vec<u32>,
}

impl Block {
    fn fill(&mut self, mut push: impl FnMut(&Per, &mut Vec<f64>)) {
        self.values.clear();
        self.ends.clear();
        for family in &FAMILIES {
            push(&family.per, &mut self.values);
            self.ends.push(self.values.len() as u32);
        }
    }

    fn family(&self, i: usize) -> &[f64] {
        if self.ends.is_empty() {
            return &[];
        }
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.values[start as usize..self.ends[i] as usize]
    }
}

#[derive(Clone, Debug, Default)]
struct QueueValues {
    windows: Vec<Window>,
    kpis: Block,
    totals: Block,
}

impl QueueValues {
    fn block(&self, per: &Per) -> &Block {
        match per {
            Per::Totals(_) => &self.totals,
            _ => &self.kpis,
        }
    }
}

/// What publishes write: the latest values of every queue, in the order queues first appeared.
#[derive(Default)]
struct Latest {
    /// The sliding windows' lengths in minutes, by name.
    sliding: Vec<(String, f64)>,
    queues: Queues,
}

type Queues = IndexMap<String, QueueValues, foldhash::fast::RandomState>;

/// The values of queue `id`, empty when it is new.
fn queue<'a>(queues: &'a mut Queues, id: &str) -> &'a mut QueueValues {
    // Two lookups on a miss (once per queue, ever) keep the hit path free of a key allocation.
    if !queues.contains_key(id) {
        queues.insert(id.to_owned(), QueueValues::default());
    }
    &mut queues[id]
}

/// A queue as the previous render wrote it.
#[derive(Default)]
struct Rendered {
    id: String,
    /// `queue="<id>"`, then `queue="<id>",window="<name>"` for each window, escaped.
    labels: Vec<String>,
    values: QueueValues,
    /// The values copied for this render, swapped with `values` once it is done.
    fresh: QueueValues,
    /// Per family, this queue's lines.
    texts: Vec<String>,
}

/// What renders keep between scrapes.
#[derive(Default)]
struct Renders {
    queues: Vec<Rendered>,
    /// Per family, in the order of [`FAMILIES`].
    families: Vec<Written>,
}

/// The fixed parts of a family's text.
struct Written {
    /// Its `# HELP` and `# TYPE` lines.
    header: String,
    /// `<name>{`, which starts each of its lines.
    open: String,
    /// What follows the queue's labels on a line, before the value: `} `, or per value of the
    /// family's own label `,<key>="<value>"} `.
    closes: Vec<String>,
}

/// The per-queue KPI series: written by the Prometheus sink's publishes, rendered into the
/// `/metrics` text by scrapes.
pub(crate) struct QueueSeries {
    latest: Mutex<Latest>,
    // Held by one render at a time (the HTTP edge renders once for all concurrent scrapes); a
    // publish never waits for it.
    renders: Mutex<Renders>,
    /// The length of the previous render's text, to size the next one's buffer.
    last_len: AtomicUsize,
}

impl QueueSeries {
    pub(crate) fn new() -> QueueSeries {
        let families = FAMILIES
            .iter()
            .map(|f| {
                let kind = if matches!(f.per, Per::Totals(_)) {
                    t::Kind::Counter
                } else {
                    t::Kind::Gauge
                };
                let mut header = String::new();
                if let Some(metric) = t::metric(f.name) {
                    header += &format!("# HELP {} {}\n", f.name, escape_help(metric.help));
                }
                header += &format!("# TYPE {} {}\n", f.name, kind.as_str());
                let closes = match f.by {
                    Some((key, values)) => values
                        .iter()
                        .map(|v| format!(",{key}=\"{v}\"}} "))
                        .collect(),
                    None => vec!["} ".to_owned()],
                };
                Written {
                    header,
                    open: format!("{}{{", f.name),
                    closes,
                }
            })
            .collect();
        QueueSeries {
            latest: Mutex::default(),
            renders: Mutex::new(Renders {
                queues: Vec::new(),
                families,
            }),
            last_len: AtomicUsize::new(0),
        }
    }

    /// Names the sliding windows with their lengths: their arrival rate per minute is a series
    /// too.
    pub(crate) fn set_sliding(&self, sliding: Vec<(String, f64)>) {
        lock(&self.latest).sliding = sliding;
    }

    /// Stores the values of `snapshots` and `totals`; queues not among them keep theirs.
    pub(crate) fn publish(&self, snapshots: &[KpiSnapshot], totals: &[(String, QueueTotals)]) {
        let mut guard = lock(&self.latest);
        let Latest { sliding, queues } = &mut *guard;
        for snapshot in snapshots {
            let queue = queue(queues, &snapshot.queue_id);
            let names = snapshot.windows.0.iter().map(|(name, _)| name);
            if !queue.windows.iter().map(|w| &w.name).eq(names) {
                queue.windows = snapshot
                    .windows
                    .0
                    .iter()
                    .map(|(name, _)| Window {
                        name: name.clone(),
                        minutes: sliding.iter().find(|(n, _)| n == name).map(|&(_, m)| m),
                    })
                    .collect();
            }
            let windows = &queue.windows;
            queue.kpis.fill(|per, out| match per {
                Per::Queue(f) => f(snapshot, out),
                Per::Window(f) => snapshot.windows.0.iter().for_each(|(_, w)| f(w, out)),
                Per::SlidingWindow => {
                    for ((_, kpis), window) in snapshot.windows.0.iter().zip(windows) {
                        if let Some(minutes) = window.minutes {
                            out.push(kpis.offered as f64 / minutes);
                        }
                    }
                }
                Per::Totals(_) => {}
            });
        }
        for (id, queue_totals) in totals {
            queue(queues, id).totals.fill(|per, out| {
                if let Per::Totals(f) = per {
                    f(queue_totals, out);
                }
            });
        }
    }

    /// Drops a queue's series from the next render on.
    pub(crate) fn forget(&self, queue_id: &str) {
        lock(&self.latest).queues.swap_remove(queue_id);
    }

    /// How long the previous [`QueueSeries::render_into`]'s text was.
    pub(crate) fn last_len(&self) -> usize {
        self.last_len.load(Ordering::Relaxed)
    }

    /// Appends every per-queue family to `out` in the exposition format.
    pub(crate) fn render_into(&self, out: &mut String) {
        let began = out.len();
        let mut guard = lock(&self.renders);
        let renders = &mut *guard;
        let queues = &mut renders.queues;
        {
            // Copy the latest values, reusing the previous render's allocations; the lock is
            // held for a memory copy only.
            let latest = lock(&self.latest);
            queues.truncate(latest.queues.len());
            for (i, (id, values)) in latest.queues.iter().enumerate() {
                if i == queues.len() {
                    queues.push(Rendered::default());
                }
                let queue = &mut queues[i];
                if queue.id != *id {
                    // A new queue, or another one moved here by a forget: nothing to reuse.
                    *queue = Rendered {
                        id: id.clone(),
                        ..Rendered::default()
                    };
                }
                queue.fresh.clone_from(values);
            }
        }
        for queue in queues.iter_mut() {
            queue.texts.resize(FAMILIES.len(), String::new());
            let relabelled = queue.labels.is_empty() || queue.fresh.windows != queue.values.windows;
            if relabelled {
                let label = format!("{}=\"{}\"", label::QUEUE, escape_label(&queue.id));
                queue.labels.clear();
                queue.labels.extend(
                    queue.fresh.windows.iter().map(|w| {
                        format!("{label},{}=\"{}\"", label::WINDOW, escape_label(&w.name))
                    }),
                );
                queue.labels.insert(0, label);
            }
            for (i, family) in FAMILIES.iter().enumerate() {
                let fresh = queue.fresh.block(&family.per).family(i);
                let old = queue.values.block(&family.per).family(i);
                let unchanged = fresh.len() == old.len()
                    && fresh
                        .iter()
                        .zip(old)
                        .all(|(a, b)| a.to_bits() == b.to_bits());
                if relabelled || !unchanged {
                    let text = &mut queue.texts[i];
                    text.clear();
                    let written = &renders.families[i];
                    write_lines(
                        text,
                        written,
                        &family.per,
                        &queue.labels,
                        &queue.fresh.windows,
                        fresh,
                    );
                }
            }
            std::mem::swap(&mut queue.values, &mut queue.fresh);
        }
        // The join is sized first: the first render after start-up has no previous length to
        // go by, and growing megabytes by doubling would copy them about once more.
        let lens: Vec<usize> = (0..FAMILIES.len())
            .map(|i| queues.iter().map(|q| q.texts[i].len()).sum())
            .collect();
        out.reserve(
            (renders.families.iter().zip(&lens))
                .filter(|&(_, &len)| len > 0)
                .map(|(w, len)| w.header.len() + len + 1)
                .sum(),
        );
        for (i, (Written { header, .. }, &len)) in renders.families.iter().zip(&lens).enumerate() {
            // A family no queue has yet is left out, as the recorder leaves out its own.
            if len == 0 {
                continue;
            }
            out.push_str(header);
            for queue in queues.iter() {
                out.push_str(&queue.texts[i]);
            }
            out.push('\n');
        }
        self.last_len.store(out.len() - began, Ordering::Relaxed);
    }
}

/// Writes one queue's series of a family, whose values are `values`. `labels` are the queue's
/// (see [`Rendered::labels`]).
fn write_lines(
    out: &mut String,
    written: &Written,
    per: &Per,
    labels: &[String],
    windows: &[Window],
    values: &[f64],
) {
    // A new text is sized at once: thousands of them grow by doubling otherwise on the
    // first render. (Values are mostly a few digits.)
    let label = labels.iter().map(String::len).max().unwrap_or(0);
    let close = written.closes.iter().map(String::len).max().unwrap_or(0);
    out.reserve(values.len() * (written.open.len() + label + close + 8));
    let mut values = values.iter();
    // One series per value of the family's own label, all with the labels given.
    let mut series = |labels: &str| {
        for (close, &value) in written.closes.iter().zip(values.by_ref()) {
            out.push_str(&written.open);
            out.push_str(labels);
            out.push_str(close);
            push_value(out, value);
            out.push('\n');
        }
    };
    let (queue, by_window) = labels
        .split_first()
        .map_or(("", &[][..]), |(q, w)| (q.as_str(), w));
    match per {
        Per::Queue(_) | Per::Totals(_) => series(queue),
        Per::Window(_) => by_window.iter().for_each(|l| series(l)),
        Per::SlidingWindow => by_window
            .iter()
            .zip(windows)
            .filter(|(_, w)| w.minutes.is_some())
            .for_each(|(l, _)| series(l)),
    }
}

/// A sample value as the exposition format spells it: integers without a fraction (counts are
/// most values), `NaN`, `+Inf`, `-Inf`, otherwise the shortest decimal that reads back as the
/// same `f64`.
fn push_value(out: &mut String, value: f64) {
    // 2^53: every integer up to it is exact in an f64.
    const EXACT: f64 = 9_007_199_254_740_992.0;
    if value.is_nan() {
        out.push_str("NaN");
    } else if value.is_infinite() {
        out.push_str(if value > 0.0 { "+Inf" } else { "-Inf" });
    } else if value.fract() == 0.0 && value.abs() <= EXACT {
        out.push_str(itoa::Buffer::new().format(value as i64));
    } else {
        out.push_str(zmij::Buffer::new().format_finite(value));
    }
}

/// A label value with `\`, `"` and line feeds escaped, as the exposition format requires.
fn escape_label(value: &str) -> String {
    value
        .replace('\\', r"\\")
        .replace('"', "\\\"")
        .replace('\n', r"\n")
}

/// A `# HELP` text with `\` and line feeds escaped.
fn escape_help(text: &str) -> String {
    text.replace('\\', r"\\").replace('\n', r"\n")
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests;
