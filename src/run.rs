//! `acdstream run`: the service. Kafka events → decode → engine → KPI topic, Prometheus,
//! dead letters and checkpoints.
//!
//! One ingest thread owns the consumer and the engine and does everything that touches state,
//! in this order per `poll`: take rebalance events (restore or drop partitions), apply the
//! message, and on their timers publish snapshots and write a checkpoint round. Nothing else
//! ever touches the engine, so it needs no lock; HTTP readers see published snapshots and
//! Prometheus atomics only.
//!
//! **At least once, counted once.** A message's offset is stored (and committed in the
//! background) only after it is applied; redeliveries are dropped by `event_id`. A restart or a
//! partition move resumes from the partition's checkpoint (see [`crate::kafka::checkpoints`]),
//! skipping, per queue, the events its restored state already holds.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::{BorrowedMessage, Message};
use tokio_util::sync::CancellationToken;

use crate::alerts::{AlertDispatch, HealthInputs};
use crate::config::{Config, KafkaConfig};
use crate::decode::decode;
use crate::event::Millis;
use crate::kafka::checkpoints::{queue_key, round_key, RoundMarker};
use crate::kafka::consumer::{self, Assigned, RebalanceEvent, SourceContext, SourceSignals};
use crate::kafka::producer::{DeadLetter, KafkaProducer, Role};
use crate::kafka::{admin, KafkaSinkError};
use crate::kpi::KpiSnapshot;
use crate::ledger::{LedgerCounts, Outcome, RejectReason};
use crate::sinks::prometheus::PrometheusSink;
use crate::state::{Engine, EngineSettings, SnapshotRegistry, TimeMode};
use crate::telemetry::{self as t, label};

/// Everything the ingest thread needs from the outside.
pub struct Service {
    pub config: Config,
    pub sink: Arc<PrometheusSink>,
    /// Started by the caller inside the async runtime (it may own an Alertmanager push task).
    pub alerts: AlertDispatch,
    pub registry: Arc<SnapshotRegistry>,
    pub ready: Arc<AtomicBool>,
    pub shutdown: CancellationToken,
}

/// Checks the topics, then runs the ingest loop on the calling thread until `shutdown`.
pub fn run(service: Service) -> Result<LedgerCounts, KafkaSinkError> {
    let kafka = service.config.kafka.clone();
    let partitions = admin::check_topics(&kafka, consumer::REQUEST_TIMEOUT)?;
    tracing::info!(topic = %kafka.events_topic, partitions, group = %kafka.group_id, "consuming");
    let settings = Arc::new(service.config.engine_settings());
    let inspect_settings = settings.clone();
    // A scratch engine tells whether a checkpoint can be restored here (format, settings).
    let inspect = Box::new(move |bytes: &[u8]| {
        Engine::new(inspect_settings.clone(), TimeMode::Live)
            .restore_queue(bytes)
            .map_err(|e| e.to_string())
    });
    let consumer = consumer::consumer(&kafka, inspect)?;
    let producer = KafkaProducer::new(&kafka)?;
    let shutdown = service.shutdown.clone();
    let mut ingest = Ingest::new(service, settings, consumer::signals(&consumer), producer);
    ingest.run(&consumer, &shutdown);
    Ok(ingest.finish(&consumer, kafka.shutdown_timeout))
}

/// Where one owned partition stands.
struct Partition {
    /// Next offset to read: every event before it has been applied (or skipped as held).
    next_offset: i64,
    /// The partition's end at assignment: it is rebuilt once `next_offset` gets there.
    rebuilt_at: i64,
    ready: bool,
    assigned_at: Instant,
    queues: BTreeSet<String>,
    /// Restored queues skip events before their checkpoint's position.
    skip_before: HashMap<String, i64>,
}

/// A pending event's source record, kept so that it can be dead-lettered if it is rejected.
struct Held {
    key: Option<Vec<u8>>,
    payload: Vec<u8>,
}

struct Ingest {
    kafka: KafkaConfig,
    publish_every: Duration,
    engine: Engine,
    signals: Arc<SourceSignals>,
    producer: KafkaProducer,
    sink: Arc<PrometheusSink>,
    alerts: AlertDispatch,
    registry: Arc<SnapshotRegistry>,
    ready: Arc<AtomicBool>,
    partitions: BTreeMap<i32, Partition>,
    queue_partition: HashMap<String, i32>,
    held: HashMap<u64, Held>,
    published: HashMap<String, KpiSnapshot>,
    assignment_seen: bool,
    source_up: Option<bool>,
    last_event: Option<Instant>,
    skipped: u64,
    checkpoint_bytes: usize,
    last_rebuild: Option<Duration>,
}

/// Origin of an event for the engine: partition and offset in one number.
fn origin(partition: i32, offset: i64) -> u64 {
    (partition as u64) << 44 | (offset as u64 & ((1 << 44) - 1))
}

fn origin_parts(origin: u64) -> (i32, i64) {
    ((origin >> 44) as i32, (origin & ((1 << 44) - 1)) as i64)
}

fn wall() -> Millis {
    jiff::Timestamp::now().as_millisecond()
}

impl Ingest {
    fn new(
        service: Service,
        settings: Arc<EngineSettings>,
        signals: Arc<SourceSignals>,
        producer: KafkaProducer,
    ) -> Ingest {
        Ingest {
            kafka: service.config.kafka.clone(),
            publish_every: service.config.publish.interval,
            engine: Engine::new(settings, service.config.engine.clock),
            signals,
            producer,
            sink: service.sink,
            alerts: service.alerts,
            registry: service.registry,
            ready: service.ready,
            partitions: BTreeMap::new(),
            queue_partition: HashMap::new(),
            held: HashMap::new(),
            published: HashMap::new(),
            assignment_seen: false,
            source_up: None,
            last_event: None,
            skipped: 0,
            checkpoint_bytes: 0,
            last_rebuild: None,
        }
    }

    fn run(&mut self, consumer: &BaseConsumer<SourceContext>, shutdown: &CancellationToken) {
        let latency = metrics::histogram!(t::EVENT_APPLY_LATENCY_SECONDS);
        let mut next_publish = Instant::now();
        let mut next_checkpoint = Instant::now() + self.kafka.checkpoint_interval;
        while !shutdown.is_cancelled() {
            let polled = consumer.poll(Duration::from_millis(100));
            self.handle_rebalances();
            match polled {
                Some(Ok(message)) => {
                    let received = Instant::now();
                    self.last_event = Some(received);
                    self.handle(consumer, &message);
                    latency.record(received.elapsed().as_secs_f64());
                }
                Some(Err(error)) => tracing::debug!(%error, "consumer"),
                None => {}
            }
            let now = Instant::now();
            if now >= next_publish {
                self.publish();
                next_publish = now + self.publish_every;
            }
            if now >= next_checkpoint {
                self.checkpoint_round();
                next_checkpoint = now + self.kafka.checkpoint_interval;
            }
        }
    }

    /// Restores newly assigned partitions and drops revoked ones, before any message is applied.
    fn handle_rebalances(&mut self) {
        for event in self.signals.take_events() {
            self.assignment_seen = true;
            match event {
                RebalanceEvent::Assigned(assigned) => {
                    assigned.into_iter().for_each(|a| self.assign(a))
                }
                RebalanceEvent::Revoked(partitions) => {
                    partitions.into_iter().for_each(|p| self.revoke(p))
                }
            }
        }
    }

    fn assign(&mut self, a: Assigned) {
        let start = a.plan.resume_at.unwrap_or(a.low_watermark);
        let mut partition = Partition {
            next_offset: start,
            rebuilt_at: a.high_watermark,
            ready: false,
            assigned_at: a.assigned_at,
            queues: BTreeSet::new(),
            skip_before: HashMap::new(),
        };
        for (queue, position, bytes) in &a.plan.queues {
            match self.engine.restore_queue(bytes) {
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
        self.mark_ready_if_caught_up(a.partition);
    }

    fn revoke(&mut self, p: i32) {
        let Some(partition) = self.partitions.remove(&p) else {
            return;
        };
        for queue in &partition.queues {
            self.engine.remove_queue(queue);
            self.queue_partition.remove(queue);
            self.published.remove(queue);
            self.registry.remove(queue);
            self.sink.forget(queue);
        }
        self.held.retain(|&o, _| origin_parts(o).0 != p);
    }

    fn mark_ready_if_caught_up(&mut self, p: i32) {
        if let Some(partition) = self.partitions.get_mut(&p) {
            if !partition.ready && partition.next_offset >= partition.rebuilt_at {
                partition.ready = true;
                let took = partition.assigned_at.elapsed();
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

    fn handle(&mut self, consumer: &BaseConsumer<SourceContext>, message: &BorrowedMessage<'_>) {
        let (p, offset) = (message.partition(), message.offset());
        let (key, payload) = (message.key(), message.payload().unwrap_or_default());
        let Some(partition) = self.partitions.get_mut(&p) else {
            return; // revoked while the message was in flight
        };
        partition.next_offset = offset + 1;
        let o = origin(p, offset);
        match decode(self.kafka.events_format, payload) {
            Err(error) => {
                self.engine.reject(error.reason());
                self.dead_letter(p, offset, key, payload, error.reason(), &error.to_string());
            }
            Ok(event) => {
                let owner = self.queue_partition.get(&event.queue_id).copied();
                if owner.is_some_and(|owner| owner != p) {
                    let reason = RejectReason::PartitionMismatch;
                    self.engine.reject(reason);
                    self.dead_letter(p, offset, key, payload, reason, reason.explain());
                } else if self.held_by_restore(p, &event.queue_id, offset) {
                    self.skipped += 1;
                } else {
                    match self.engine.apply(&event, o, wall()) {
                        Outcome::Rejected(reason) => {
                            self.dead_letter(p, offset, key, payload, reason, reason.explain())
                        }
                        Outcome::Pending => {
                            let held = Held {
                                key: key.map(<[u8]>::to_vec),
                                payload: payload.to_vec(),
                            };
                            self.held.insert(o, held);
                        }
                        _ => {}
                    }
                    if owner.is_none() && self.engine.queue(&event.queue_id).is_some() {
                        self.queue_partition.insert(event.queue_id.clone(), p);
                        if let Some(partition) = self.partitions.get_mut(&p) {
                            partition.queues.insert(event.queue_id);
                        }
                    }
                }
            }
        }
        self.resolve_held();
        if let Err(error) = consumer.store_offset_from_message(message) {
            tracing::warn!(partition = p, offset, %error, "cannot store the offset");
        }
        self.mark_ready_if_caught_up(p);
    }

    /// The queue was restored from a checkpoint that already holds this event.
    fn held_by_restore(&self, p: i32, queue: &str, offset: i64) -> bool {
        self.partitions
            .get(&p)
            .and_then(|partition| partition.skip_before.get(queue))
            .is_some_and(|&position| offset < position)
    }

    /// Pending events that were resolved: applied ones are forgotten, rejected ones dead-lettered.
    fn resolve_held(&mut self) {
        for r in self.engine.take_resolutions() {
            let Some(held) = self.held.remove(&r.origin) else {
                continue;
            };
            if let Outcome::Rejected(reason) = r.outcome {
                let (p, offset) = origin_parts(r.origin);
                self.dead_letter(
                    p,
                    offset,
                    held.key.as_deref(),
                    &held.payload,
                    reason,
                    reason.explain(),
                );
            }
        }
    }

    fn dead_letter(
        &self,
        partition: i32,
        offset: i64,
        key: Option<&[u8]>,
        payload: &[u8],
        reason: RejectReason,
        detail: &str,
    ) {
        self.producer.dead_letter(&DeadLetter {
            key,
            payload,
            reason,
            detail,
            source_topic: &self.kafka.events_topic,
            partition,
            offset,
        });
    }

    fn is_published(&self, queue: &str) -> bool {
        self.queue_partition
            .get(queue)
            .and_then(|p| self.partitions.get(p))
            .is_some_and(|p| p.ready)
    }

    /// Snapshots of the queues of rebuilt partitions to the KPI topic (when changed), the
    /// registry and Prometheus; the service's own health metrics.
    fn publish(&mut self) {
        let now = wall();
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
        for s in &snapshots {
            let changed = self.published.get(&s.queue_id).is_none_or(|old| {
                old.now != s.now || old.windows != s.windows || old.surge != s.surge
            });
            if changed && self.producer.kpi(s) {
                self.published.insert(s.queue_id.clone(), s.clone());
            }
        }
        self.sink.publish(&snapshots, &totals, self.engine.ledger());
        self.sink.record_episodes(&self.engine.take_episodes());
        let health = self.health();
        for transition in self.alerts.evaluate(&snapshots, &health, now) {
            self.producer.alert(&transition);
        }
        for (s, (_, total)) in snapshots.into_iter().zip(totals) {
            self.registry.publish(s, total);
        }
        self.publish_health();
    }

    /// What the service-health alerts look at.
    fn health(&self) -> HealthInputs {
        let counts = self.engine.ledger().counts();
        let lag = self
            .signals
            .lag()
            .into_iter()
            .filter(|(p, _)| self.partitions.contains_key(p))
            .map(|(_, lag)| lag.max(0) as u64)
            .sum();
        HealthInputs {
            source_up: Some(self.signals.broker_up()),
            last_event_age_ms: self.last_event.map(|t| t.elapsed().as_millis() as Millis),
            consumer_lag: Some(lag),
            events_total: counts.consumed - counts.pending,
            rejected_total: counts.rejected,
        }
    }

    fn publish_health(&mut self) {
        let up = self.signals.broker_up();
        if self.source_up != Some(up) {
            if up {
                tracing::info!("Kafka source is up");
            } else if self.source_up.is_some() {
                tracing::warn!("Kafka source is unreachable; serving the last KPIs, marked stale (acd_source_up 0)");
            }
            self.source_up = Some(up);
        }
        metrics::gauge!(t::SOURCE_UP).set(if up { 1.0 } else { 0.0 });
        if let Some(last) = self.last_event {
            metrics::gauge!(t::LAST_EVENT_AGE_SECONDS).set(last.elapsed().as_secs_f64());
        }
        for (p, lag) in self.signals.lag() {
            if self.partitions.contains_key(&p) {
                metrics::gauge!(t::CONSUMER_LAG, label::PARTITION => p.to_string()).set(lag as f64);
            }
        }
        let ready = self.partitions.values().filter(|p| p.ready).count();
        metrics::gauge!(t::PARTITIONS, label::STATE => "assigned")
            .set(self.partitions.len() as f64);
        metrics::gauge!(t::PARTITIONS, label::STATE => "ready").set(ready as f64);
        metrics::counter!(t::REBALANCES_TOTAL)
            .absolute(self.signals.rebalances.load(Ordering::Relaxed));
        metrics::counter!(t::EVENTS_SKIPPED_TOTAL).absolute(self.skipped);
        for role in [Role::Kpi, Role::DeadLetter, Role::Checkpoint, Role::Alert] {
            for (result, n) in [
                ("delivered", self.producer.stats.delivered(role)),
                ("failed", self.producer.stats.failed(role)),
            ] {
                metrics::counter!(t::KAFKA_RECORDS_TOTAL, label::ROLE => role.label(), label::RESULT => result).absolute(n);
            }
        }
        for (result, n) in [
            ("delivered", self.producer.stats.delivered(Role::Alert)),
            ("failed", self.producer.stats.failed(Role::Alert)),
        ] {
            metrics::counter!(t::ALERT_DELIVERIES_TOTAL, label::CHANNEL => "kafka", label::RESULT => result).absolute(n);
        }
        metrics::gauge!(t::CHECKPOINT_BYTES).set(self.checkpoint_bytes as f64);
        if let Some(took) = self.last_rebuild {
            metrics::gauge!(t::REBUILD_SECONDS).set(took.as_secs_f64());
        }
        self.ready.store(
            self.assignment_seen && ready == self.partitions.len(),
            Ordering::Relaxed,
        );
    }

    /// Writes every owned queue's state, then each partition's round marker.
    fn checkpoint_round(&mut self) {
        let written_at = wall();
        let mut bytes = 0;
        for (&p, partition) in &self.partitions {
            let mut queues = Vec::with_capacity(partition.queues.len());
            let mut complete = true;
            for queue in &partition.queues {
                // A restored queue still skipping holds events up to its own position.
                let position = partition
                    .next_offset
                    .max(partition.skip_before.get(queue).copied().unwrap_or(0));
                match self.engine.checkpoint_queue(queue, position as u64) {
                    Some(state) if self.producer.checkpoint(p, &queue_key(p, queue), &state) => {
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
                position: partition.next_offset,
                queues,
                written_at,
            };
            let marker = serde_json::to_vec(&marker).expect("a round marker serialises");
            self.producer.checkpoint(p, &round_key(p), &marker);
        }
        self.checkpoint_bytes = bytes;
    }

    /// Graceful end: apply what was already fetched, publish, checkpoint, commit.
    fn finish(mut self, consumer: &BaseConsumer<SourceContext>, timeout: Duration) -> LedgerCounts {
        let deadline = Instant::now() + timeout / 2;
        while Instant::now() < deadline {
            match consumer.poll(Duration::ZERO) {
                Some(Ok(message)) => self.handle(consumer, &message),
                Some(Err(_)) | None => break,
            }
        }
        self.publish();
        self.checkpoint_round();
        if let Err(error) = self.producer.flush(timeout / 2) {
            tracing::warn!(%error, in_flight = self.producer.in_flight(), "not every KPI/checkpoint record was delivered");
        }
        if !self.partitions.is_empty() {
            if let Err(error) = consumer.commit_consumer_state(CommitMode::Sync) {
                tracing::warn!(%error, "final offset commit failed; the next owner re-reads a little more");
            }
        }
        let ledger = self.engine.ledger().counts();
        tracing::info!(
            consumed = ledger.consumed,
            applied = ledger.applied,
            rejected = ledger.rejected,
            "stopped"
        );
        ledger
    }
}
