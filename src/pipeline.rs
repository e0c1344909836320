//! The one loop every command runs: a [`Source`]'s events are decoded and applied to the
//! engine (every event counted in the ledger, every rejection reported where it belongs), and
//! on each publish tick the engine's state becomes KPI snapshots, the alert rules are
//! evaluated on them, and both are handed to the sinks. `demo`, `replay` and `run` differ only
//! in their source, their [`Clock`] and which sinks are present.
//!
//! Partitions are the source's (one for a file or the simulator, the Kafka partitions for
//! `run`): each queue belongs to the partition its first event came in on, a partition's
//! queues are restored from checkpoints when it is assigned and dropped when it is revoked,
//! and a queue's KPIs are published (and alerted on) only once its partition has caught up
//! with the present, so that a backlog being re-read never pages anyone.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::alerts::{AlertEvaluator, AlertSettings, AlertState, HealthInputs, Transition};
use crate::decode::decode;
use crate::event::{CtiEvent, Millis};
use crate::kafka::checkpoints::{queue_key, round_key, RoundMarker};
use crate::kpi::surge::Episode;
use crate::kpi::{IntervalKpis, KpiSnapshot, QueueTotals};
use crate::ledger::{LedgerCounts, Outcome, RejectReason};
use crate::sinks::alert_metrics::AlertMetrics;
use crate::sinks::alertmanager::{AlertmanagerError, AlertmanagerSink};
use crate::sinks::kafka::{DeadLetter, KafkaSink, Role};
use crate::sinks::prometheus::PrometheusSink;
use crate::sinks::wallboard::Board;
use crate::sources::sim::DemoClock;
use crate::sources::{Assignment, Input, Origin, Source, SourceStatus};
use crate::state::{Engine, SnapshotRegistry};
use crate::telemetry::{self as t, label};

/// Inputs taken from a source between two looks at the timers and the shutdown signal.
const BATCH: usize = 1024;

/// Where "now" comes from for the engine.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Clock {
    /// The wall clock (`run`).
    Wall,
    /// A fixed instant (`replay`: event time drives the engine; this only refuses events from
    /// the future).
    Fixed(Millis),
    /// The demo's simulated time.
    Demo(DemoClock),
}

impl Clock {
    fn now(&self) -> Millis {
        match self {
            Clock::Wall => wall(),
            Clock::Fixed(at) => *at,
            Clock::Demo(clock) => clock.now(),
        }
    }
}

fn wall() -> Millis {
    jiff::Timestamp::now().as_millisecond()
}

/// How the loop runs.
#[derive(Debug, Clone)]
pub(crate) struct PipelineSettings {
    /// KPI cadence; `None` publishes nothing while running (`replay` reports at the end).
    pub publish_interval: Option<Duration>,
    /// Checkpoint cadence, with a Kafka sink.
    pub checkpoint_interval: Duration,
    /// How long the whole stop may take: the pipeline spends at most 40 % of it applying
    /// what was already received and 40 % letting the Kafka sink deliver; the rest is for the
    /// other tasks (the Alertmanager push) to finish.
    pub shutdown_timeout: Duration,
    /// Rejections listed in the report (the rest are counted).
    pub keep_rejections: usize,
    /// Log the floor (waiting, SL, ready agents) per queue every 30 s.
    pub log_floor: bool,
    /// Keep every interval the queues close in the report (`replay --intervals`, `--report`).
    pub keep_intervals: bool,
}

impl Default for PipelineSettings {
    fn default() -> Self {
        PipelineSettings {
            publish_interval: None,
            checkpoint_interval: Duration::from_secs(30),
            shutdown_timeout: Duration::from_secs(10),
            keep_rejections: 0,
            log_floor: false,
            keep_intervals: false,
        }
    }
}

/// Where the results go; every sink is optional.
#[derive(Default)]
pub(crate) struct Sinks {
    pub prometheus: Option<PrometheusSink>,
    /// Published snapshots for in-process readers.
    pub registry: Arc<SnapshotRegistry>,
    pub alerts: Option<Alerting>,
    /// KPI and alerts topics, dead letters, checkpoints.
    pub kafka: Option<KafkaSink>,
    /// Set once every partition has caught up and its KPIs were published (`/readyz`).
    pub ready: Arc<AtomicBool>,
    /// The wallboard's view of each publish: when, the source's state, the alerts firing.
    pub board: Option<Arc<Board>>,
}

/// The alerting step after each publish: evaluate the rules on the snapshots just published,
/// record the result on `/metrics`, push to Alertmanager when one is configured, log each
/// transition. The pipeline sends the transitions on to Kafka, where there is a Kafka.
pub(crate) struct Alerting {
    settings: AlertSettings,
    evaluator: AlertEvaluator,
    metrics: AlertMetrics,
    alertmanager: Option<AlertmanagerSink>,
}

impl Alerting {
    /// Starts the Alertmanager push task on `tasks` when `alerts.alertmanager_url` is set:
    /// call inside the tokio runtime, after the metrics recorder is installed. The task ends
    /// once the pipeline has finished and its last batch is delivered.
    pub(crate) fn start(
        settings: AlertSettings,
        tasks: &TaskTracker,
    ) -> Result<Alerting, AlertmanagerError> {
        let alertmanager = match &settings.alertmanager_url {
            Some(url) => {
                let (sink, task) = AlertmanagerSink::new(url, &settings)?;
                tasks.spawn(task);
                tracing::info!(%url, "pushing alerts to Alertmanager");
                Some(sink)
            }
            None => None,
        };
        Ok(Alerting {
            settings,
            evaluator: AlertEvaluator::new(),
            metrics: AlertMetrics::new(),
            alertmanager,
        })
    }

    /// Evaluates every rule at `now` (wall-clock time: `for` durations and Alertmanager's
    /// `endsAt` are real time) and returns the transitions; `health` is `None` while the
    /// source catches up.
    fn evaluate(
        &mut self,
        snapshots: &[KpiSnapshot],
        health: Option<&HealthInputs>,
        now: Millis,
    ) -> Vec<Transition> {
        let transitions = self
            .evaluator
            .evaluate(snapshots, health, now, &self.settings);
        for t in &transitions {
            let a = &t.alert;
            let queue = a.queue.as_deref().unwrap_or("");
            match t.state {
                AlertState::Firing => tracing::warn!(
                    alert = a.name.as_str(),
                    queue,
                    severity = a.severity.as_str(),
                    "alert firing: {}",
                    a.summary
                ),
                AlertState::Resolved => {
                    tracing::info!(alert = a.name.as_str(), queue, "alert resolved")
                }
            }
        }
        self.metrics.record(&transitions, self.evaluator.firing());
        if let Some(am) = &mut self.alertmanager {
            am.publish(now, &transitions, self.evaluator.firing());
        }
        transitions
    }
}

/// One rejected event, for the report.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    pub origin: Origin,
    pub reason: RejectReason,
    pub detail: String,
}

/// What a finished pipeline reports.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub ledger: LedgerCounts,
    /// Every reason that occurred, with its count.
    pub rejected_by_reason: Vec<(RejectReason, u64)>,
    /// The first rejections in origin order (at most [`PipelineSettings::keep_rejections`]).
    pub rejections: Vec<Rejection>,
    pub blank_lines: u64,
    /// Lines the source recognised as holding no event, by reason.
    pub ignored: BTreeMap<&'static str, u64>,
    /// Restarts of the ACD the source reported (Asterisk's `QUEUESTART`).
    pub restarts: u64,
    /// Surge episodes that ended, in the order they ended, with their queue id.
    pub episodes: Vec<(String, Episode)>,
    /// Every interval the queues closed, the last of each as far as the input went, when
    /// [`PipelineSettings::keep_intervals`] asks for them.
    pub intervals: Vec<IntervalKpis>,
    /// Every queue's KPIs at the end, when nothing was published while running (`replay`).
    pub snapshots: Vec<KpiSnapshot>,
    /// Every queue's counts since the start, with the snapshots.
    pub totals: Vec<(String, QueueTotals)>,
    /// The run was stopped (a signal) before its source ended: the report covers what was
    /// read until then.
    pub interrupted: bool,
}

/// Where one partition stands.
struct Partition {
    /// Next position to read: every event before it has been handled.
    next: i64,
    /// It has caught up once `next` gets here.
    caught_up_at: i64,
    caught_up: bool,
    since: Instant,
    /// When it caught up.
    ready_at: Option<Instant>,
    queues: BTreeSet<String>,
    /// Restored queues skip events before their checkpoint's position.
    skip_before: HashMap<String, i64, foldhash::fast::RandomState>,
}

/// A pending event's source record, kept so that it can be dead-lettered if it is rejected.
struct Held {
    key: Option<Vec<u8>>,
    payload: Vec<u8>,
}

/// The engine and everything around it; see the module documentation.
pub(crate) struct Pipeline {
    engine: Engine,
    clock: Clock,
    settings: PipelineSettings,
    sinks: Sinks,
    partitions: BTreeMap<i32, Partition>,
    queue_partition: HashMap<String, i32, foldhash::fast::RandomState>,
    held: HashMap<u64, Held>,
    /// Last KPI snapshot sent to Kafka per queue: unchanged ones are not sent again.
    sent: HashMap<String, KpiSnapshot>,
    report: Report,
    assignment_seen: bool,
    source_up: Option<bool>,
    last_event: Option<Instant>,
    skipped: u64,
    checkpoint_bytes: usize,
    last_rebuild: Option<Duration>,
    latency: metrics::Histogram,
}

impl Pipeline {
    pub(crate) fn new(
        mut engine: Engine,
        clock: Clock,
        settings: PipelineSettings,
        sinks: Sinks,
    ) -> Pipeline {
        // Closed intervals cost a little at each interval's end: made only when something
        // shows them (the queue pages, or the replay's report).
        engine.set_report_intervals(settings.keep_intervals || sinks.board.is_some());
        Pipeline {
            engine,
            clock,
            settings,
            sinks,
            partitions: BTreeMap::new(),
            queue_partition: HashMap::default(),
            held: HashMap::new(),
            sent: HashMap::new(),
            report: Report::default(),
            assignment_seen: false,
            source_up: None,
            last_event: None,
            skipped: 0,
            checkpoint_bytes: 0,
            last_rebuild: None,
            latency: metrics::histogram!(t::EVENT_APPLY_LATENCY_SECONDS),
        }
    }

    /// Runs until the source ends or `shutdown` is cancelled, then stops: applies what was
    /// already received, publishes and checkpoints a last time, lets the sinks deliver (each
    /// part bounded by the shutdown timeout), and reports.
    pub(crate) async fn run<S: Source>(
        mut self,
        source: &mut S,
        shutdown: &CancellationToken,
    ) -> Report {
        self.engine.set_hold_reported(source.reports_hold());
        let mut publish = self.settings.publish_interval.map(ticker);
        let mut checkpoint = self
            .sinks
            .kafka
            .as_ref()
            .map(|_| ticker(self.settings.checkpoint_interval));
        if let Some(c) = &mut checkpoint {
            c.tick().await; // the first round after one interval, not at once
        }
        let mut floor = self
            .settings
            .log_floor
            .then(|| ticker(Duration::from_secs(30)));
        if let Some(f) = &mut floor {
            f.tick().await;
        }
        loop {
            // Timers before the source: a source that always has input (a backlog) must not
            // starve publishing and checkpoints.
            tokio::select! {
                biased;
                () = shutdown.cancelled() => {
                    self.report.interrupted = true;
                    break;
                }
                _ = tick(&mut publish) => {
                    self.publish(&source.status());
                }
                _ = tick(&mut checkpoint) => self.checkpoint_round(),
                _ = tick(&mut floor) => self.log_floor(),
                more = source.wait() => {
                    if !more {
                        break;
                    }
                    self.take(source, BATCH);
                }
            }
        }
        self.finish(source).await
    }

    /// Hands up to `max` available inputs of `source` to the engine.
    fn take<S: Source>(&mut self, source: &mut S, max: usize) {
        let format = source.format();
        source.drain(max, &mut |input| self.input(input, format));
    }

    fn input(&mut self, input: Input<'_>, format: crate::decode::Format) {
        match input {
            Input::Encoded { origin, .. }
            | Input::Decoded { origin, .. }
            | Input::Rejected { origin, .. }
            | Input::Ignored { origin, .. }
            | Input::Restarted { origin, .. }
                if !self.partitions.contains_key(&origin.partition) =>
            {
                // Read before its partition was revoked: its new owner counts it.
            }
            Input::Encoded {
                origin,
                key,
                payload,
                received,
            } => {
                match decode(format, payload, self.engine.settings().max_id_bytes) {
                    Ok(event) => self.event(origin, &event, Some((key, payload))),
                    Err(error) => {
                        self.engine.reject(error.reason());
                        self.rejected(origin, key, payload, error.reason(), &error.to_string());
                    }
                }
                self.handled(origin, received);
            }
            Input::Decoded {
                origin,
                event,
                payload,
                received,
            } => {
                let wire = (!payload.is_empty()).then_some((None, payload));
                self.event(origin, event, wire);
                self.handled(origin, received);
            }
            Input::Rejected {
                origin,
                payload,
                reason,
                detail,
            } => {
                self.engine.reject(reason);
                self.rejected(origin, None, payload, reason, detail);
                self.handled(origin, None);
            }
            Input::Ignored { origin, reason } => {
                *self.report.ignored.entry(reason).or_default() += 1;
                self.handled(origin, None);
            }
            Input::Restarted { origin, at } => {
                if let Some(partition) = self.partitions.get(&origin.partition) {
                    let queues = partition.queues.iter().map(String::as_str);
                    self.engine.end_calls_at_restart(queues, at);
                }
                self.report.restarts += 1;
                self.handled(origin, None);
            }
            Input::Blank => self.report.blank_lines += 1,
            Input::Assigned(assigned) => assigned.into_iter().for_each(|a| self.assign(a)),
            Input::Revoked(partitions) => partitions.into_iter().for_each(|p| self.revoke(p)),
            Input::CaughtUp(p) => {
                if let Some(partition) = self.partitions.get_mut(&p) {
                    partition.caught_up_at = partition.next;
                }
                self.mark_if_caught_up(p);
            }
        }
    }

    /// After each event: pending events resolved by it, finished episodes, the position.
    fn handled(&mut self, origin: Origin, received: Option<Instant>) {
        self.resolve_held();
        if self.settings.publish_interval.is_none() {
            // Taken per event so that the report lists episodes in the order they ended.
            let episodes = self.engine.take_episodes();
            self.collect_episodes(episodes);
            self.collect_intervals();
        }
        let caught_up_now = self
            .partitions
            .get_mut(&origin.partition)
            .is_some_and(|partition| {
                partition.next = origin.position + 1;
                !partition.caught_up && partition.next >= partition.caught_up_at
            });
        // Only the event that completes the history pays for the second lookup.
        if caught_up_now {
            self.mark_if_caught_up(origin.partition);
        }
        if let Some(received) = received {
            self.last_event = Some(received);
            self.latency.record(received.elapsed().as_secs_f64());
        }
    }

    /// `wire` is the event's key and payload as received, kept for a dead letter if the event
    /// waits (pending) and is rejected later.
    fn event(&mut self, origin: Origin, event: &CtiEvent, wire: Option<(Option<&[u8]>, &[u8])>) {
        let p = origin.partition;
        let owner = self.queue_partition.get(&event.queue_id).copied();
        let (key, payload) = wire.unwrap_or((None, &[]));
        if owner.is_some_and(|owner| owner != p) {
            let reason = RejectReason::PartitionMismatch;
            self.engine.reject(reason);
            self.rejected(origin, key, payload, reason, reason.explain());
            return;
        }
        if self.held_by_restore(origin, &event.queue_id) {
            self.skipped += 1;
            return;
        }
        let packed = origin.pack();
        match self.engine.apply(event, packed, self.clock.now()) {
            Outcome::Rejected(reason) => {
                self.rejected(origin, key, payload, reason, reason.explain())
            }
            Outcome::Pending if wire.is_some() && self.sinks.kafka.is_some() => {
                let held = Held {
                    key: key.map(<[u8]>::to_vec),
                    payload: payload.to_vec(),
                };
                self.held.insert(packed, held);
            }
            _ => {}
        }
        if owner.is_none() && self.engine.queue(&event.queue_id).is_some() {
            self.queue_partition.insert(event.queue_id.clone(), p);
            if let Some(partition) = self.partitions.get_mut(&p) {
                partition.queues.insert(event.queue_id.clone());
            }
        }
    }

    /// The queue was restored from a checkpoint that already holds this event.
    fn held_by_restore(&self, origin: Origin, queue: &str) -> bool {
        self.partitions
            .get(&origin.partition)
            // Empty but for a restored partition: no hashing of the queue id then.
            .filter(|partition| !partition.skip_before.is_empty())
            .and_then(|partition| partition.skip_before.get(queue))
            .is_some_and(|&position| origin.position < position)
    }

    /// A rejected event: into the report, and to the dead-letter topic where there is one.
    fn rejected(
        &mut self,
        origin: Origin,
        key: Option<&[u8]>,
        payload: &[u8],
        reason: RejectReason,
        detail: &str,
    ) {
        if self.report.rejections.len() < self.settings.keep_rejections {
            self.report.rejections.push(Rejection {
                origin,
                reason,
                detail: detail.to_string(),
            });
        }
        if let Some(kafka) = &self.sinks.kafka {
            kafka.dead_letter(&DeadLetter {
                key,
                payload,
                reason,
                detail,
                partition: origin.partition,
                offset: origin.position,
            });
        }
    }

    /// Pending events that were resolved: applied ones are forgotten, rejected ones reported.
    fn resolve_held(&mut self) {
        for r in self.engine.take_resolutions() {
            let held = self.held.remove(&r.origin);
            if let Outcome::Rejected(reason) = r.outcome {
                let (key, payload) = held
                    .as_ref()
                    .map_or((None, &[][..]), |h| (h.key.as_deref(), &h.payload[..]));
                self.rejected(
                    Origin::unpack(r.origin),
                    key,
                    payload,
                    reason,
                    reason.explain(),
                );
            }
        }
    }

    fn collect_intervals(&mut self) {
        let intervals = self.engine.take_intervals();
        if self.settings.keep_intervals {
            self.report.intervals.extend(intervals);
        }
    }

    fn collect_episodes(&mut self, episodes: Vec<(Arc<str>, Episode)>) {
        self.report.episodes.extend(
            episodes
                .into_iter()
                .map(|(queue, e)| (queue.to_string(), e)),
        );
    }

    /// Restores a newly assigned partition's checkpoints, before any of its events is applied.
    fn assign(&mut self, a: Assignment) {
        self.assignment_seen = true;
        let mut partition = Partition {
            next: a.start,
            caught_up_at: a.caught_up_at,
            caught_up: false,
            since: a.since,
            ready_at: None,
            queues: BTreeSet::new(),
            skip_before: HashMap::default(),
        };
        for (queue, position, bytes) in &a.restore {
            match self.engine.restore_queue(bytes, a.partition as u32) {
                Ok(_) => {
                    partition.queues.insert(queue.clone());
                    partition.skip_before.insert(queue.clone(), *position);
                    self.queue_partition.insert(queue.clone(), a.partition);
                }
                Err(error) => {
                    tracing::error!(queue, %error, "checkpoint no longer restorable; its KPIs restart")
                }
            }
        }
        self.partitions.insert(a.partition, partition);
        self.mark_if_caught_up(a.partition);
    }

    fn revoke(&mut self, p: i32) {
        let Some(partition) = self.partitions.remove(&p) else {
            return;
        };
        for queue in &partition.queues {
            self.engine.remove_queue(queue);
            self.queue_partition.remove(queue);
            self.sent.remove(queue);
            self.sinks.registry.remove(queue);
            if let Some(prometheus) = &self.sinks.prometheus {
                prometheus.forget(queue);
            }
        }
        self.held.retain(|&o, _| Origin::unpack(o).partition != p);
    }

    fn mark_if_caught_up(&mut self, p: i32) {
        if let Some(partition) = self.partitions.get_mut(&p) {
            if !partition.caught_up && partition.next >= partition.caught_up_at {
                partition.caught_up = true;
                partition.ready_at = Some(Instant::now());
                let took = partition.since.elapsed();
                self.last_rebuild = Some(took);
                tracing::info!(
                    partition = p,
                    seconds = took.as_secs_f64(),
                    queues = partition.queues.len(),
                    "partition ready"
                );
            }
        }
    }

    fn is_published(&self, queue: &str) -> bool {
        self.queue_partition
            .get(queue)
            .and_then(|p| self.partitions.get(p))
            .is_some_and(|p| p.caught_up)
    }

    /// Snapshots of the queues of caught-up partitions to the sinks (the KPI topic only when
    /// changed), then the alerts on them, then the service's own health metrics. Returns the
    /// alert transitions it made.
    fn publish(&mut self, status: &Option<SourceStatus>) -> Vec<Transition> {
        let now = self.clock.now();
        self.engine.tick(now);
        self.resolve_held();
        let snapshots: Vec<KpiSnapshot> = self
            .engine
            .snapshots(now)
            .into_iter()
            .filter(|s| self.is_published(&s.queue_id))
            .collect();
        let totals: Vec<_> = self
            .engine
            .totals()
            .into_iter()
            .filter(|(q, _)| self.is_published(q))
            .collect();
        if let Some(kafka) = &self.sinks.kafka {
            for s in &snapshots {
                let changed = self.sent.get(&s.queue_id).is_none_or(|old| {
                    old.now != s.now || old.windows != s.windows || old.surge != s.surge
                });
                if changed && kafka.kpi(s) {
                    self.sent.insert(s.queue_id.clone(), s.clone());
                }
            }
        }
        let episodes = self.engine.take_episodes();
        // Taken at every publish, so that they never pile up in the engine.
        let intervals = self.engine.take_intervals();
        if let Some(board) = &self.sinks.board {
            board.record(intervals, &episodes);
        }
        if let Some(prometheus) = &self.sinks.prometheus {
            prometheus.publish(&snapshots, &totals, self.engine.ledger());
            prometheus.record_episodes(&episodes);
        }
        // The service's health is judged once every partition has caught up: until then lag
        // and rejections are those of the history being read (see AlertEvaluator::evaluate).
        let ready = self.assignment_seen && self.partitions.values().all(|p| p.caught_up);
        let health = ready.then(|| self.health(status));
        let mut transitions = Vec::new();
        if let Some(alerts) = &mut self.sinks.alerts {
            transitions = alerts.evaluate(&snapshots, health.as_ref(), wall());
            if let Some(kafka) = &self.sinks.kafka {
                for transition in &transitions {
                    kafka.alert(transition);
                }
            }
        }
        for (s, (_, total)) in snapshots.into_iter().zip(totals) {
            self.sinks.registry.publish(s, total);
        }
        if let Some(board) = &self.sinks.board {
            let firing = self.sinks.alerts.as_ref().map(|a| a.evaluator.firing());
            // Straight from the source: the page shows a source down whatever the alerts judge.
            let up = status.as_ref().map(|s| s.up);
            let interval = self.settings.publish_interval;
            board.published(wall(), interval, up, firing.into_iter().flatten());
        }
        if let Some(status) = status {
            self.publish_health(status);
        }
        // Ready once the snapshots of every partition's caught-up state are out.
        self.sinks.ready.store(ready, Ordering::Relaxed);
        transitions
    }

    /// What the service-health alerts look at. A source that cannot stall or lag (a file, the
    /// simulator) only has the rejected ratio.
    fn health(&self, status: &Option<SourceStatus>) -> HealthInputs {
        let counts = self.engine.ledger().counts();
        let mut health = HealthInputs {
            events_total: counts.consumed - counts.pending,
            rejected_total: counts.rejected,
            ..HealthInputs::default()
        };
        if let Some(status) = status {
            health.source_up = Some(status.up);
            health.last_event_age_ms = self.last_event.map(|t| t.elapsed().as_millis() as Millis);
            // A partition's lag counts once it was measured after the partition caught up:
            // the figure from the middle of its catch-up would otherwise page for up to a
            // report interval after it.
            let measured_since = |p: &Partition| {
                p.ready_at
                    .zip(status.lag_at)
                    .is_some_and(|(ready, measured)| measured >= ready)
            };
            health.consumer_lag = Some(
                status
                    .lag
                    .iter()
                    .filter(|(p, _)| self.partitions.get(p).is_some_and(measured_since))
                    .map(|(_, lag)| (*lag).max(0) as u64)
                    .sum(),
            );
        }
        health
    }

    fn publish_health(&mut self, status: &SourceStatus) {
        let up = status.up;
        if self.source_up != Some(up) {
            if up {
                tracing::info!("Kafka source is up");
            } else if self.source_up.is_some() {
                tracing::warn!(
                    "Kafka source is unreachable; serving the last KPIs, marked stale (acd_source_up 0)"
                );
            }
            self.source_up = Some(up);
        }
        metrics::gauge!(t::SOURCE_UP).set(if up { 1.0 } else { 0.0 });
        if let Some(last) = self.last_event {
            metrics::gauge!(t::LAST_EVENT_AGE_SECONDS).set(last.elapsed().as_secs_f64());
        }
        for (p, lag) in &status.lag {
            if self.partitions.contains_key(p) {
                metrics::gauge!(t::CONSUMER_LAG, label::PARTITION => p.to_string())
                    .set(*lag as f64);
            }
        }
        let caught_up = self.partitions.values().filter(|p| p.caught_up).count();
        metrics::gauge!(t::PARTITIONS, label::STATE => "assigned")
            .set(self.partitions.len() as f64);
        metrics::gauge!(t::PARTITIONS, label::STATE => "ready").set(caught_up as f64);
        metrics::counter!(t::REBALANCES_TOTAL).absolute(status.rebalances);
        metrics::counter!(t::EVENTS_SKIPPED_TOTAL).absolute(self.skipped);
        if let Some(kafka) = &self.sinks.kafka {
            for role in [Role::Kpi, Role::DeadLetter, Role::Checkpoint, Role::Alert] {
                for (result, n) in [
                    ("delivered", kafka.stats.delivered(role)),
                    ("failed", kafka.stats.failed(role)),
                ] {
                    metrics::counter!(t::KAFKA_RECORDS_TOTAL, label::ROLE => role.label(), label::RESULT => result).absolute(n);
                }
            }
            for (result, n) in [
                ("delivered", kafka.stats.delivered(Role::Alert)),
                ("failed", kafka.stats.failed(Role::Alert)),
            ] {
                metrics::counter!(t::ALERT_DELIVERIES_TOTAL, label::CHANNEL => "kafka", label::RESULT => result).absolute(n);
            }
            metrics::gauge!(t::CHECKPOINT_BYTES).set(self.checkpoint_bytes as f64);
        }
        if let Some(took) = self.last_rebuild {
            metrics::gauge!(t::REBUILD_SECONDS).set(took.as_secs_f64());
        }
    }

    /// Writes every owned queue's state, then each partition's round marker.
    fn checkpoint_round(&mut self) {
        let Some(kafka) = &self.sinks.kafka else {
            return;
        };
        let written_at = wall();
        let mut bytes = 0;
        for (&p, partition) in &self.partitions {
            let mut queues = Vec::with_capacity(partition.queues.len());
            let mut complete = true;
            for queue in &partition.queues {
                // A restored queue still skipping holds events up to its own position.
                let position = partition
                    .next
                    .max(partition.skip_before.get(queue).copied().unwrap_or(0));
                match self.engine.checkpoint_queue(queue, position as u64) {
                    Some(state) if kafka.checkpoint(p, &queue_key(p, queue), &state) => {
                        bytes += state.len();
                        queues.push(queue.clone());
                    }
                    _ => complete = false,
                }
            }
            // A marker that left a queue out would let a restore skip that queue's events:
            // unless every queue was written, the previous round stays the one to resume from.
            if !complete {
                tracing::warn!(
                    partition = p,
                    "checkpoint round incomplete; keeping the previous one"
                );
                continue;
            }
            let marker = RoundMarker {
                position: partition.next,
                queues,
                written_at,
            };
            match serde_json::to_vec(&marker) {
                Ok(marker) => {
                    kafka.checkpoint(p, &round_key(p), &marker);
                }
                Err(error) => {
                    tracing::error!(partition = p, %error, "cannot write the round marker")
                }
            }
        }
        self.checkpoint_bytes = bytes;
    }

    /// The one way to stop: take what the source already received (bounded by 40 % of the
    /// shutdown timeout), publish and checkpoint once more, let the Kafka sink deliver (another
    /// 40 %), tell the source how far it got. A batch run (no publish interval) instead
    /// resolves what is still pending and reports every queue's KPIs.
    async fn finish<S: Source>(mut self, source: &mut S) -> Report {
        let share = self.settings.shutdown_timeout * 2 / 5;
        source.stop();
        let deadline = tokio::time::Instant::now() + share;
        while let Ok(true) = tokio::time::timeout_at(deadline, source.wait()).await {
            self.take(source, BATCH);
        }
        if self.settings.publish_interval.is_some() {
            self.publish(&source.status());
            self.checkpoint_round();
            if let Some(kafka) = &self.sinks.kafka {
                if let Err(error) = kafka.flush(share) {
                    tracing::warn!(%error, in_flight = kafka.in_flight(), "not every KPI/checkpoint record was delivered");
                }
            }
        } else {
            self.engine.finish();
            self.resolve_held();
            self.report.snapshots = self.engine.snapshots(self.clock.now());
            self.report.totals = self.engine.totals();
            self.engine.close_intervals(self.clock.now());
            let episodes = self.engine.take_episodes();
            self.collect_episodes(episodes);
            self.collect_intervals();
        }
        source.finish();
        let ledger = self.engine.ledger();
        self.report.ledger = ledger.counts();
        self.report.rejected_by_reason = RejectReason::ALL
            .iter()
            .map(|&r| (r, ledger.rejected_by(r)))
            .filter(|&(_, n)| n > 0)
            .collect();
        self.report
            .rejections
            .sort_by_key(|r| (r.origin.partition, r.origin.position));
        // Dropping the sinks here closes the Alertmanager channel: its task delivers the last
        // batch and ends.
        drop(self.sinks);
        self.report
    }

    /// One log line per queue: what a supervisor would glance at.
    fn log_floor(&self) {
        for q in self.sinks.registry.all() {
            let s = &q.snapshot;
            let w = s.windows.get("15m");
            tracing::info!(
                queue = %s.queue_id,
                waiting = s.now.calls_waiting,
                oldest_wait_s = s.now.oldest_wait_seconds,
                sl_15m = ?w.and_then(|w| w.service_level).map(|v| (v * 1000.0).round() / 10.0),
                asa_15m_s = ?w.and_then(|w| w.asa_seconds).map(|v| v.round()),
                agents_ready = s.now.agents_ready,
                agents_busy = s.now.agents_busy + s.now.agents_acw,
                "floor"
            );
        }
    }
}

fn ticker(every: Duration) -> tokio::time::Interval {
    let mut interval = tokio::time::interval(every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    interval
}

/// The next tick of an optional timer; never, without one.
async fn tick(timer: &mut Option<tokio::time::Interval>) {
    match timer {
        Some(timer) => {
            timer.tick().await;
        }
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests;
