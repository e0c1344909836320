//! The Kafka source of `acdstream run`: a consumer-group member whose partitions start where
//! their checkpoints say, plus what librdkafka tells us about broker health and lag.
//!
//! A thread of its own polls the consumer and sends what it gets, in order, through a bounded
//! channel to the pipeline: messages, and the partitions assigned and revoked. librdkafka calls
//! the rebalance callback from inside `poll`, on that thread. On an assignment the callback
//! reads the newest checkpoints of the assigned partitions, plans where each resumes
//! ([`crate::kafka::checkpoints::plan`]) and assigns them at those offsets; the pipeline
//! restores the checkpoints before it applies any message of theirs, since the assignment
//! precedes those messages in the channel. On a revocation the callback waits (bounded) until
//! the pipeline has dropped the partitions' queues, so that no checkpoint of a partition is
//! written after another instance may have taken it. A partition without a usable checkpoint
//! starts at its first retained event.
//!
//! Offsets are stored only once the pipeline has handled a message (applied, held, skipped or
//! dead-lettered), and committed in the background.
//!
//! **Asterisk queue_log records.** Each partition's lines go through a translator of their own
//! ([`Lines`]), whose meaning depends on the lines before (calls in progress, members logged in
//! by their first call, wrap-ups due). The translator is not checkpointed: a partition with
//! checkpoints is read from its first retained line, and the lines before its resume point
//! only teach the translator, reaching neither the pipeline nor the stored offsets.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::statistics::Statistics;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::types::{RDKafkaErrorCode, RDKafkaRespErr};
use rdkafka::ClientContext;
use tokio::sync::mpsc;

use super::{Assignment, Input, LineFormat, Lines, Origin, Source, SourceStatus};
use crate::decode::asterisk::QueueLogSettings;
use crate::decode::Format;
use crate::kafka::checkpoints::{self, ResumePlan};
use crate::kafka::{client_config, default_property, ClientSettings, KafkaSinkError};

/// Where and how the source consumes.
#[derive(Debug, Clone)]
pub(crate) struct KafkaSourceSettings {
    pub client: ClientSettings,
    pub events_topic: String,
    /// The payload format of events of the contract.
    pub events_format: Format,
    /// Set when the records are Asterisk queue_log lines instead.
    pub queue_log: Option<QueueLogSettings>,
    pub group_id: String,
    pub checkpoint_topic: String,
}

/// Reads a queue checkpoint's queue id and position, refusing what the engine cannot restore.
pub(crate) type Inspect = dyn Fn(&[u8]) -> Result<(String, u64), String> + Send + Sync;

/// A partition this instance now owns, and how to rebuild it.
#[derive(Debug, Clone)]
pub struct Assigned {
    pub partition: i32,
    pub plan: ResumePlan,
    /// The partition's first retained offset when it was assigned.
    pub low_watermark: i64,
    /// The partition's end when it was assigned: it is rebuilt once consumed up to here.
    pub high_watermark: i64,
    pub assigned_at: Instant,
}

impl From<Assigned> for Assignment {
    fn from(a: Assigned) -> Assignment {
        Assignment {
            partition: a.partition,
            start: a.plan.resume_at.unwrap_or(a.low_watermark),
            caught_up_at: a.high_watermark,
            restore: a.plan.queues,
            since: a.assigned_at,
        }
    }
}

/// What the poll thread hands the pipeline, in the order it happened.
enum Polled {
    Messages(Batch),
    Assigned(Vec<Assigned>),
    /// The partitions, and the callback waiting until the pipeline has let them go.
    Revoked(Vec<i32>, std::sync::mpsc::SyncSender<()>),
}

/// How long a revocation waits for the pipeline to let the partitions go.
const REVOKE_PATIENCE: Duration = Duration::from_secs(10);

/// Messages the poll thread gathers before it hands them over. One channel send (and one
/// wake-up of the pipeline) per message cost more than decoding and applying it.
const BATCH: usize = 1024;

/// Batches and rebalances in flight between the poll thread and the pipeline: at most
/// `CHANNEL_CAPACITY × BATCH` messages, enough to keep the pipeline busy, small enough to
/// bound memory.
const CHANNEL_CAPACITY: usize = 8;

/// Messages polled one after another, their keys and payloads copied into one buffer (one
/// allocation per batch instead of three per message for rdkafka's `OwnedMessage`).
#[derive(Default)]
struct Batch {
    bytes: Vec<u8>,
    items: Vec<Item>,
    /// The first item the pipeline has not taken yet.
    next: usize,
}

struct Item {
    partition: i32,
    offset: i64,
    key: Option<(u32, u32)>,
    payload: (u32, u32),
    received: Instant,
}

impl Batch {
    fn push(&mut self, message: &impl Message, received: Instant) {
        let mut copy = |b: &[u8]| {
            let start = self.bytes.len() as u32;
            self.bytes.extend_from_slice(b);
            (start, self.bytes.len() as u32)
        };
        let key = message.key().map(&mut copy);
        let payload = copy(message.payload().unwrap_or_default());
        self.items.push(Item {
            partition: message.partition(),
            offset: message.offset(),
            key,
            payload,
            received,
        });
    }

    fn slice(&self, (start, end): (u32, u32)) -> &[u8] {
        &self.bytes[start as usize..end as usize]
    }
}

/// What the consumer's callbacks report to the pipeline and the metrics.
#[derive(Debug, Default)]
struct SourceSignals {
    broker_up: AtomicBool,
    /// The newest lag per partition, and when it was reported.
    lag: Mutex<(Option<Instant>, BTreeMap<i32, i64>)>,
    rebalances: AtomicU64,
}

impl SourceSignals {
    /// A statistics report's broker connection states: one `UP` means the source is up.
    ///
    /// A report without one does not mean down. While librdkafka reconnects after an outage it
    /// retires the bootstrap connection once the cluster's own broker is known, and that broker
    /// may still be in its reconnect backoff: for about a second no connection is `UP` though
    /// nothing failed (seen in the broker-outage test, which then logged the source
    /// unreachable twice). librdkafka reports a real loss as `AllBrokersDown`.
    fn broker_states<'a>(&self, mut states: impl Iterator<Item = &'a str>) {
        if states.any(|state| state == "UP") {
            self.broker_up.store(true, Ordering::Relaxed);
        }
    }

    fn all_brokers_down(&self) {
        self.broker_up.store(false, Ordering::Relaxed);
    }
}

pub(crate) struct SourceContext {
    cfg: KafkaSourceSettings,
    inspect: Box<Inspect>,
    signals: Arc<SourceSignals>,
    /// Taken away by the poll thread when it ends, so that the channel closes behind the
    /// last message and the callbacks of the consumer's close send nothing.
    tx: Mutex<Option<mpsc::Sender<Polled>>>,
    /// Messages polled and not yet sent; only the poll thread touches it (the rebalance
    /// callback runs inside its `poll`), and it sends them ahead of a rebalance.
    gathered: Mutex<Batch>,
}

/// How long start-up and rebalance requests to the broker may take.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

impl ClientContext for SourceContext {
    fn stats(&self, stats: Statistics) {
        self.signals
            .broker_states(stats.brokers.values().map(|b| b.state.as_str()));
        if let Some(topic) = stats.topics.get(&self.cfg.events_topic) {
            let lag: BTreeMap<i32, i64> = topic
                .partitions
                .values()
                .filter(|p| p.partition >= 0 && p.consumer_lag >= 0)
                .map(|p| (p.partition, p.consumer_lag))
                .collect();
            *self
                .signals
                .lag
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = (Some(Instant::now()), lag);
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        if error.rdkafka_error_code() == Some(RDKafkaErrorCode::AllBrokersDown) {
            self.signals.all_brokers_down();
        }
        // Transport errors repeat while a broker is down; the ingest loop logs the state change.
        tracing::debug!(%error, reason, "librdkafka");
    }
}

impl ConsumerContext for SourceContext {
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        self.signals.rebalances.fetch_add(1, Ordering::Relaxed);
        match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                let assigned = self.plan_assignment(consumer, tpl);
                if let Err(error) = consumer.assign(tpl) {
                    tracing::error!(%error, "cannot take the assigned partitions");
                }
                tracing::info!(partitions = ?assigned.iter().map(|a| a.partition).collect::<Vec<_>>(), "partitions assigned");
                self.send(Polled::Assigned(assigned));
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                let revoked: Vec<i32> = tpl.elements().iter().map(|e| e.partition()).collect();
                tracing::info!(partitions = ?revoked, "partitions revoked");
                self.revoke(revoked);
                if let Err(error) = consumer.unassign() {
                    tracing::warn!(%error, "cannot give up the revoked partitions");
                }
            }
            other => {
                tracing::error!(error = ?other, "rebalance failed; giving up every partition");
                let revoked: Vec<i32> = tpl.elements().iter().map(|e| e.partition()).collect();
                self.revoke(revoked);
                let _ = consumer.unassign();
            }
        }
    }
}

impl SourceContext {
    /// Hands the revoked partitions to the pipeline and waits until it has let them go.
    fn revoke(&self, partitions: Vec<i32>) {
        let (done, released) = std::sync::mpsc::sync_channel(1);
        if self.send(Polled::Revoked(partitions, done))
            && released.recv_timeout(REVOKE_PATIENCE).is_err()
        {
            tracing::warn!("the pipeline did not let the revoked partitions go in time");
        }
    }

    /// Sends what was gathered, then `polled`. False once polling has ended: then nothing is
    /// applied any more.
    fn send(&self, polled: Polled) -> bool {
        self.flush() && self.send_now(polled)
    }

    /// Sends the gathered messages, if any.
    fn flush(&self) -> bool {
        let batch =
            std::mem::take(&mut *self.gathered.lock().unwrap_or_else(PoisonError::into_inner));
        batch.items.is_empty() || self.send_now(Polled::Messages(batch))
    }

    fn gather(&self, message: &impl Message, received: Instant) -> usize {
        let mut gathered = self.gathered.lock().unwrap_or_else(PoisonError::into_inner);
        gathered.push(message, received);
        gathered.items.len()
    }

    fn send_now(&self, polled: Polled) -> bool {
        let tx = self
            .tx
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        tx.is_some_and(|tx| tx.blocking_send(polled).is_ok())
    }

    /// Reads the assigned partitions' checkpoints and sets each partition's start offset.
    fn plan_assignment(
        &self,
        consumer: &BaseConsumer<Self>,
        tpl: &mut TopicPartitionList,
    ) -> Vec<Assigned> {
        let topic = self.cfg.events_topic.clone();
        let partitions: Vec<i32> = tpl
            .elements_for_topic(&topic)
            .iter()
            .map(|e| e.partition())
            .collect();
        let latest = match read_checkpoints(&self.cfg, &partitions) {
            Ok(latest) => latest,
            Err(error) => {
                tracing::error!(%error, "cannot read checkpoints; rebuilding the assigned partitions from their start");
                HashMap::new()
            }
        };
        let empty = HashMap::new();
        let mut assigned = Vec::with_capacity(partitions.len());
        for partition in partitions {
            let plan =
                checkpoints::plan(partition, latest.get(&partition).unwrap_or(&empty), |b| {
                    (self.inspect)(b)
                });
            // queue_log lines are read from the start for the translator (see the module
            // documentation); the source hands on those from the resume point.
            let offset = match plan.resume_at {
                Some(at) if self.cfg.queue_log.is_none() => Offset::Offset(at),
                _ => Offset::Beginning,
            };
            if let Err(error) = tpl.set_partition_offset(&topic, partition, offset) {
                tracing::error!(partition, %error, "cannot set the start offset");
            }
            let (low_watermark, high_watermark) = match consumer.fetch_watermarks(
                &topic,
                partition,
                REQUEST_TIMEOUT,
            ) {
                Ok(watermarks) => watermarks,
                Err(error) => {
                    tracing::warn!(partition, %error, "cannot read the partition's bounds; it is ready from its first message");
                    (0, 0)
                }
            };
            if let Some(reason) = &plan.rebuild_reason {
                tracing::info!(
                    partition,
                    reason,
                    "rebuilding the partition from its first event"
                );
            } else {
                tracing::info!(partition, resume_at = ?plan.resume_at, queues = plan.queues.len(), "restoring the partition from its checkpoint");
            }
            assigned.push(Assigned {
                partition,
                plan,
                low_watermark,
                high_watermark,
                assigned_at: Instant::now(),
            });
        }
        assigned
    }
}

/// Creates the group consumer, subscribed to the events topic.
fn consumer(
    cfg: &KafkaSourceSettings,
    inspect: Box<Inspect>,
    tx: mpsc::Sender<Polled>,
) -> Result<BaseConsumer<SourceContext>, KafkaSinkError> {
    let signals = Arc::new(SourceSignals::default());
    let mut c = client_config(&cfg.client);
    c.set("group.id", &cfg.group_id)
        // Offsets are stored only once an event is applied, then committed in the background.
        .set("enable.auto.offset.store", "false")
        .set("enable.auto.commit", "true")
        .set("auto.offset.reset", "earliest");
    default_property(&mut c, "statistics.interval.ms", "1000");
    default_property(&mut c, "auto.commit.interval.ms", "1000");
    let context = SourceContext {
        cfg: cfg.clone(),
        inspect,
        signals,
        tx: Mutex::new(Some(tx)),
        gathered: Mutex::new(Batch::default()),
    };
    let consumer: BaseConsumer<SourceContext> =
        c.create_with_context(context)
            .map_err(|error| KafkaSinkError::Client {
                role: "consumer",
                error,
            })?;
    consumer.subscribe(&[&cfg.events_topic])?;
    Ok(consumer)
}

/// The newest value of every key in the given checkpoint partitions (tombstones remove keys).
fn read_checkpoints(
    cfg: &KafkaSourceSettings,
    partitions: &[i32],
) -> Result<HashMap<i32, HashMap<String, Vec<u8>>>, KafkaSinkError> {
    let mut out: HashMap<i32, HashMap<String, Vec<u8>>> =
        partitions.iter().map(|&p| (p, HashMap::new())).collect();
    if partitions.is_empty() {
        return Ok(out);
    }
    // librdkafka wants a group for assign(); this one never commits or subscribes.
    let reader: BaseConsumer = client_config(&cfg.client)
        .set("group.id", format!("{}-checkpoint-reader", cfg.group_id))
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .create()
        .map_err(|error| KafkaSinkError::Client {
            role: "checkpoint reader",
            error,
        })?;
    let topic = &cfg.checkpoint_topic;
    let mut ends = HashMap::new();
    let mut tpl = TopicPartitionList::new();
    for &p in partitions {
        let (low, high) = reader
            .fetch_watermarks(topic, p, REQUEST_TIMEOUT)
            .map_err(|error| KafkaSinkError::CheckpointRead {
                partition: p,
                error,
            })?;
        if high > low {
            ends.insert(p, high);
            tpl.add_partition_offset(topic, p, Offset::Beginning)?;
        }
    }
    if ends.is_empty() {
        return Ok(out);
    }
    reader.assign(&tpl)?;
    let deadline = Instant::now() + REQUEST_TIMEOUT * 3;
    loop {
        if Instant::now() > deadline {
            let partition = *ends.keys().next().unwrap_or(&-1);
            return Err(KafkaSinkError::CheckpointRead {
                partition,
                error: KafkaError::NoMessageReceived,
            });
        }
        // Past every partition's end, keep reading until the fetch runs dry: some brokers
        // (tansu 0.6) report a partition's end as the start of its last batch.
        let wait = if ends.is_empty() {
            Duration::from_millis(300)
        } else {
            Duration::from_millis(200)
        };
        let Some(message) = reader.poll(wait) else {
            if ends.is_empty() {
                break;
            }
            continue;
        };
        let message = message.map_err(|error| KafkaSinkError::CheckpointRead {
            partition: -1,
            error,
        })?;
        let p = message.partition();
        if let (Some(key), Some(latest)) = (message.key(), out.get_mut(&p)) {
            let key = String::from_utf8_lossy(key).to_string();
            match message.payload() {
                Some(value) => latest.insert(key, value.to_vec()),
                None => latest.remove(&key),
            };
        }
        if ends.get(&p).is_some_and(|&end| message.offset() + 1 >= end) {
            ends.remove(&p);
        }
    }
    Ok(out)
}

/// The events topic, read by a poll thread of its own.
pub(crate) struct KafkaSource {
    consumer: Arc<BaseConsumer<SourceContext>>,
    signals: Arc<SourceSignals>,
    rx: mpsc::Receiver<Polled>,
    /// Taken from the channel by [`Source::wait`], not yet handed on.
    next: Option<Polled>,
    poller: Option<JoinHandle<()>>,
    stop: Arc<AtomicBool>,
    topic: String,
    format: Format,
    queue_log: Option<QueueLogSettings>,
    /// With queue_log records: each owned partition's translator.
    lines: HashMap<i32, PartitionLines>,
}

/// A partition's queue_log translator, and where its lines start to count.
struct PartitionLines {
    lines: Lines,
    /// Lines before this offset are already in the restored checkpoints: they only teach the
    /// translator.
    live_from: i64,
}

impl KafkaSource {
    /// Creates the group consumer, subscribes and starts polling. `inspect` tells whether a
    /// checkpoint can be restored here (it is called on the poll thread during a rebalance).
    pub(crate) fn start(
        settings: &KafkaSourceSettings,
        inspect: Box<Inspect>,
    ) -> Result<KafkaSource, KafkaSinkError> {
        let (tx, rx) = mpsc::channel(CHANNEL_CAPACITY);
        let consumer = Arc::new(consumer(settings, inspect, tx)?);
        let signals = consumer.context().signals.clone();
        let stop = Arc::new(AtomicBool::new(false));
        let poller = {
            let (consumer, stop) = (consumer.clone(), stop.clone());
            std::thread::Builder::new()
                .name("kafka-poll".into())
                .spawn(move || poll(&consumer, &stop))
                .map_err(|error| KafkaSinkError::Thread(error.to_string()))?
        };
        Ok(KafkaSource {
            consumer,
            signals,
            rx,
            next: None,
            poller: Some(poller),
            stop,
            topic: settings.events_topic.clone(),
            format: settings.events_format,
            queue_log: settings.queue_log.clone(),
            lines: HashMap::new(),
        })
    }

    /// Stores the next offset to read of each partition whose messages were handled.
    fn store(&self, handled: &BTreeMap<i32, i64>) {
        if handled.is_empty() {
            return;
        }
        let mut tpl = TopicPartitionList::with_capacity(handled.len());
        for (&p, &offset) in handled {
            if let Err(error) = tpl.add_partition_offset(&self.topic, p, Offset::Offset(offset + 1))
            {
                tracing::warn!(partition = p, offset, %error, "cannot store the offset");
            }
        }
        // A partition revoked meanwhile refuses its offset; its next owner re-reads a little.
        if let Err(error) = self.consumer.store_offsets(&tpl) {
            tracing::debug!(%error, "cannot store offsets");
        }
    }

    /// Ends the poll thread even if the channel was not drained.
    fn stop_polling(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Closing the channel releases a poll thread blocked on a full channel.
        self.rx.close();
        while self.rx.try_recv().is_ok() {}
        if let Some(poller) = self.poller.take() {
            if poller.join().is_err() {
                tracing::error!("the Kafka poll thread panicked");
            }
        }
    }
}

/// The poll thread: messages into the channel until stopped (or the pipeline is gone).
/// Messages already waiting in librdkafka are gathered into one batch; the batch is sent as
/// soon as nothing more is waiting, so a quiet stream is not delayed.
fn poll(consumer: &BaseConsumer<SourceContext>, stop: &AtomicBool) {
    let context = consumer.context();
    let mut gathered = 0;
    while !stop.load(Ordering::Relaxed) {
        let wait = if gathered == 0 {
            Duration::from_millis(100)
        } else {
            Duration::ZERO
        };
        match consumer.poll(wait) {
            Some(Ok(message)) => {
                gathered = context.gather(&message, Instant::now());
                if gathered < BATCH {
                    continue;
                }
            }
            Some(Err(error)) => {
                tracing::debug!(%error, "consumer");
                continue;
            }
            None if gathered == 0 => continue,
            // Nothing more waiting: hand over what was gathered.
            None => {}
        }
        // (A rebalance inside `poll` may have sent the batch already; then this sends nothing.)
        if !context.flush() {
            break;
        }
        gathered = 0;
    }
    context.flush();
    context
        .tx
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
}

impl Source for KafkaSource {
    fn format(&self) -> Format {
        self.format
    }

    fn reports_hold(&self) -> bool {
        self.queue_log.is_none()
    }

    fn name(&self) -> &str {
        &self.topic
    }

    async fn wait(&mut self) -> bool {
        if self.next.is_none() {
            self.next = self.rx.recv().await;
        }
        self.next.is_some()
    }

    fn drain(&mut self, max: usize, each: &mut dyn FnMut(Input<'_>)) {
        let mut handled = BTreeMap::new();
        let mut left = max;
        while left > 0 {
            let Some(polled) = self.next.take().or_else(|| self.rx.try_recv().ok()) else {
                break;
            };
            match polled {
                Polled::Messages(mut batch) => {
                    let end = batch.items.len().min(batch.next + left);
                    for item in &batch.items[batch.next..end] {
                        let origin = Origin {
                            partition: item.partition,
                            position: item.offset,
                        };
                        let payload = batch.slice(item.payload);
                        match self.lines.get_mut(&origin.partition) {
                            None => each(Input::Encoded {
                                origin,
                                key: item.key.map(|k| batch.slice(k)),
                                payload,
                                received: Some(item.received),
                            }),
                            Some(p) => {
                                // A shipper may keep the line end; the file's line is without.
                                let line = payload.strip_suffix(b"\n").unwrap_or(payload);
                                if origin.position < p.live_from {
                                    p.lines.line(origin, line, true, &mut |_| {});
                                    continue;
                                }
                                p.lines.line(origin, line, true, each);
                            }
                        }
                        handled.insert(origin.partition, origin.position);
                    }
                    left -= end - batch.next;
                    batch.next = end;
                    if end < batch.items.len() {
                        self.next = Some(Polled::Messages(batch));
                    }
                }
                Polled::Assigned(assigned) => {
                    left -= 1;
                    if let Some(settings) = &self.queue_log {
                        for a in &assigned {
                            let lines = Lines::new(LineFormat::AsteriskQueueLog, settings.clone());
                            let live_from = a.plan.resume_at.unwrap_or(i64::MIN);
                            self.lines
                                .insert(a.partition, PartitionLines { lines, live_from });
                        }
                    }
                    each(Input::Assigned(
                        assigned.into_iter().map(Into::into).collect(),
                    ));
                }
                Polled::Revoked(partitions, released) => {
                    left -= 1;
                    // Their offsets go first: the commit on revocation carries them.
                    for p in &partitions {
                        if let Some(offset) = handled.remove(p) {
                            self.store(&BTreeMap::from([(*p, offset)]));
                        }
                    }
                    for p in &partitions {
                        self.lines.remove(p);
                    }
                    each(Input::Revoked(partitions));
                    let _ = released.send(());
                }
            }
        }
        self.store(&handled);
    }

    fn status(&self) -> Option<SourceStatus> {
        let (lag_at, lag) = self
            .signals
            .lag
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        Some(SourceStatus {
            up: self.signals.broker_up.load(Ordering::Relaxed),
            lag,
            lag_at,
            rebalances: self.signals.rebalances.load(Ordering::Relaxed),
        })
    }

    /// Stops polling; [`Source::wait`] turns false once the channel is drained.
    fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Ends the poll thread, then commits the stored offsets.
    fn finish(&mut self) {
        self.stop_polling();
        if self.consumer.assignment().is_ok_and(|a| a.count() > 0) {
            match final_commit(self.consumer.commit_consumer_state(CommitMode::Sync)) {
                FinalCommit::Committed => tracing::debug!("final offset commit done"),
                FinalCommit::NothingNew => {
                    tracing::debug!("final offset commit: nothing new since the last one")
                }
                FinalCommit::Failed(error) => tracing::warn!(
                    %error,
                    "final offset commit failed; the next owner re-reads a little more"
                ),
            }
        }
    }
}

/// How the commit at a clean stop went.
#[derive(Debug)]
enum FinalCommit {
    Committed,
    /// librdkafka's `NoOffset`: no offset was stored since the last commit (the background
    /// one had taken everything, or nothing was consumed), so there was nothing to commit.
    NothingNew,
    /// The next owner of the partitions re-reads what was handled since the last commit.
    Failed(KafkaError),
}

fn final_commit(result: Result<(), KafkaError>) -> FinalCommit {
    match result {
        Ok(()) => FinalCommit::Committed,
        Err(error) if error.rdkafka_error_code() == Some(RDKafkaErrorCode::NoOffset) => {
            FinalCommit::NothingNew
        }
        Err(error) => FinalCommit::Failed(error),
    }
}

impl Drop for KafkaSource {
    fn drop(&mut self) {
        self.stop_polling();
    }
}

#[cfg(test)]
mod tests;
