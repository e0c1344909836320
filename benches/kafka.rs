//! Consume rate on a real broker: a bare rdkafka consumer that only reads the messages, against
//! `acdstream run` consuming, decoding and applying the same pre-produced topic; the
//! receipt-to-state latency at a steady 50,000 events/s; and how long an instance takes to
//! rebuild the state of 1,000 queues holding an hour of traffic, from scratch and from the
//! checkpoints after `kill -9`.
//!
//! `cargo bench --bench kafka` (needs tansu: `scripts/test.sh` installs it). Set
//! `ACDSTREAM_BENCH_EVENTS` to change the topic size (default 2,000,000), and
//! `ACDSTREAM_BENCH_ONLY=rebuild` to run only the rebuild measurement.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::ClientConfig;

use acdstream::decode::{encode, Format};
use acdstream::sim::{as_copy, QueueModel, Scenario, Simulator};

use common::{Broker, Deployment, Service};

/// Protobuf events of as many simulated days as it takes, queue and agent ids made distinct per
/// day so that each day's queues are new queues (a contact centre of many queues).
fn simulated_events(n: usize, first_day: u64) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::with_capacity(n);
    let mut scenario = Scenario::demo();
    scenario.duration_ms = 24 * 3_600_000;
    let mut day = first_day;
    while out.len() < n {
        for mut e in Simulator::new(scenario.clone(), day, 1_767_571_200_000) {
            as_copy(&mut e, day);
            e.event_id = format!("{day}-{}", e.event_id);
            out.push((e.queue_id.clone(), encode(Format::Protobuf, &e)));
            if out.len() == n {
                break;
            }
        }
        day += 1;
    }
    out
}

fn producer(brokers: &str) -> ThreadedProducer<DefaultProducerContext> {
    ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("linger.ms", "20")
        .set("batch.num.messages", "10000")
        .set("queue.buffering.max.messages", "1000000")
        .create()
        .expect("producer")
}

fn send(p: &ThreadedProducer<DefaultProducerContext>, topic: &str, key: &str, payload: &[u8]) {
    let mut record = BaseRecord::to(topic).key(key).payload(payload);
    loop {
        match p.send(record) {
            Ok(()) => return,
            Err((_, back)) => {
                record = back;
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }
}

/// A consumer that reads every message of the topic and does nothing with it.
fn bare_consume(brokers: &str, topic: &str, partitions: i32, n: usize) -> Duration {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "bare-bench")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&tpl).unwrap();
    let start = Instant::now();
    let mut seen = 0;
    let mut bytes = 0usize;
    while seen < n {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
            bytes += rdkafka::Message::payload(&m).map_or(0, <[u8]>::len);
            seen += 1;
        }
    }
    std::hint::black_box(bytes);
    start.elapsed()
}

/// A Prometheus histogram's cumulative buckets from `/metrics` text: (upper bound, count).
fn buckets(metrics: &str, name: &str) -> Vec<(f64, f64)> {
    let mut buckets: Vec<(f64, f64)> = metrics
        .lines()
        .filter(|l| l.starts_with(&format!("{name}_bucket{{")))
        .filter_map(|l| {
            let le = l.split("le=\"").nth(1)?.split('"').next()?;
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().ok()?
            };
            Some((le, l.rsplit(' ').next()?.parse().ok()?))
        })
        .collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    buckets
}

/// Quantiles `qs` (each the upper bound of the bucket holding it) of what a histogram recorded
/// between two scrapes: the steady phase alone, without the catch-up before it.
fn quantiles_between(before: &str, after: &str, name: &str, qs: &[f64]) -> Vec<Option<f64>> {
    let earlier = buckets(before, name);
    let diff: Vec<(f64, f64)> = buckets(after, name)
        .into_iter()
        .map(|(le, n)| {
            let old = earlier.iter().find(|b| b.0 == le).map_or(0.0, |b| b.1);
            (le, n - old)
        })
        .collect();
    let total = diff.last().map_or(0.0, |b| b.1);
    let at = |q: f64| {
        diff.iter()
            .find(|&&(_, c)| c >= q * total)
            .map(|&(le, _)| le)
    };
    qs.iter().map(|&q| at(q)).collect()
}

/// `≤ 0.0005 s`-style bounds of the quantiles, for the bench's output.
fn shown_quantiles(qs: &[f64], bounds: &[Option<f64>]) -> String {
    let each = qs.iter().zip(bounds).map(|(q, b)| match b {
        Some(b) => format!("p{} ≤ {b} s", q * 100.0),
        None => format!("p{} -", q * 100.0),
    });
    each.collect::<Vec<_>>().join(", ")
}

fn main() {
    if std::env::var("ACDSTREAM_BENCH_ONLY").as_deref() == Ok("rebuild") {
        rebuild(&Broker::memory("bench-rebuild"));
        return;
    }
    let n: usize = std::env::var("ACDSTREAM_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000_000);
    let partitions = 3;
    let broker = Broker::memory("bench-kafka");
    let d = Deployment::new(&broker, "bench", partitions)
        .with_env(("ACDSTREAM_KAFKA__EVENTS_FORMAT", "protobuf"))
        .with_env(("ACDSTREAM_ENGINE__CLOCK", "event"))
        .with_env(("ACDSTREAM_KAFKA__CHECKPOINT_INTERVAL", "30s"))
        .with_env(("ACDSTREAM_PUBLISH__INTERVAL", "1s"))
        .with_env(("ACDSTREAM_LOG__LEVEL", "warn"));
    let topic = d.topic("events");

    eprintln!("producing {n} events to {topic} ({partitions} partitions)…");
    let events = simulated_events(n, 0);
    let p = producer(&d.brokers);
    let started = Instant::now();
    for (key, payload) in &events {
        send(&p, &topic, key, payload);
    }
    p.flush(Duration::from_secs(300)).expect("flush");
    let avg = events.iter().map(|(_, p)| p.len()).sum::<usize>() / n;
    eprintln!(
        "produced in {:.1} s ({avg} B per event)",
        started.elapsed().as_secs_f64()
    );

    let bare = bare_consume(&d.brokers, &topic, partitions, n);
    let bare_rate = n as f64 / bare.as_secs_f64();
    println!(
        "bare rdkafka consumer:            {n} events in {:.2} s = {:.0} events/s",
        bare.as_secs_f64(),
        bare_rate
    );

    let service = Service::start(&d, "bench");
    let started = Instant::now();
    common::wait_for(
        "acdstream to consume the topic",
        Duration::from_secs(600),
        || service.metric("acd_events_total", &[]) >= n as f64,
    );
    let full = started.elapsed();
    let full_rate = n as f64 / full.as_secs_f64();
    println!(
        "acdstream consume+decode+apply:   {n} events in {:.2} s = {:.0} events/s",
        full.as_secs_f64(),
        full_rate
    );
    println!(
        "ratio acdstream / bare:           {:.2}",
        full_rate / bare_rate
    );

    // Steady load: 50,000 events/s for 20 s, one batch every 10 ms.
    let steady = simulated_events(1_000_000, 1_000);
    let before = service.metrics_text();
    let (cpu_before, applied_before) = (
        service.cpu_seconds(),
        service.metric("acd_events_total", &[]),
    );
    let started = Instant::now();
    for (i, chunk) in steady.chunks(500).take(2_000).enumerate() {
        let due = Duration::from_millis(10 * i as u64);
        if let Some(wait) = due.checked_sub(started.elapsed()) {
            std::thread::sleep(wait);
        }
        for (key, payload) in chunk {
            send(&p, &topic, key, payload);
        }
    }
    p.flush(Duration::from_secs(60)).expect("flush");
    let sent = started.elapsed();
    std::thread::sleep(Duration::from_secs(3));
    let after = service.metrics_text();
    let cpu = service.cpu_seconds() - cpu_before;
    let applied = service.metric("acd_events_total", &[]) - applied_before;
    println!(
        "acdstream during the steady phase: {applied} events, {cpu:.2} CPU s ({:.0} ns per event, \
         all threads; {:.0} % of one core over the {:.1} s of sending and 3 s after)",
        cpu * 1e9 / applied,
        cpu * 100.0 / (sent.as_secs_f64() + 3.0),
        sent.as_secs_f64(),
    );
    let name = "acd_event_apply_latency_seconds";
    let qs = [0.5, 0.9, 0.99, 0.999];
    println!(
        "receipt-to-state latency at a steady 50k events/s: {} (while catching up on the topic before: {})",
        shown_quantiles(&qs, &quantiles_between(&before, &after, name, &qs)),
        shown_quantiles(&qs, &quantiles_between("", &before, name, &qs)),
    );
    drop(service);
    rebuild(&broker);
}

/// One hour of 1,000 queues (60 calls/h each): consumed from scratch, then, after `kill -9`,
/// restored from the checkpoints.
fn rebuild(broker: &Broker) {
    let d = Deployment::new(broker, "rebuild", 4)
        .with_env(("ACDSTREAM_KAFKA__EVENTS_FORMAT", "protobuf"))
        .with_env(("ACDSTREAM_KAFKA__CHECKPOINT_INTERVAL", "5s"))
        // The restarted instance waits for the group to drop the killed one: keep that short.
        .with_env(("ACDSTREAM_KAFKA__PROPERTIES__SESSION_TIMEOUT_MS", "6000"))
        .with_env(("ACDSTREAM_LOG__LEVEL", "warn"));
    let scenario = Scenario {
        queues: (0..1000)
            .map(|i| QueueModel {
                id: format!("q{i:04}"),
                ..QueueModel::default()
            })
            .collect(),
        duration_ms: 3_600_000,
        ..Scenario::default()
    };
    let p = producer(&d.brokers);
    let topic = d.topic("events");
    let mut n = 0usize;
    for e in Simulator::new(scenario, 7, 1_767_600_000_000) {
        send(&p, &topic, &e.queue_id, &encode(Format::Protobuf, &e));
        n += 1;
    }
    p.flush(Duration::from_secs(120)).expect("flush");

    let started = Instant::now();
    let mut first = Service::start(&d, "rebuild-a");
    common::wait_for(
        "the first instance to consume the hour",
        Duration::from_secs(600),
        || first.metric("acd_events_total", &[]) >= n as f64,
    );
    let cold = started.elapsed();
    let rounds = |s: &Service| {
        s.metric(
            "acd_kafka_records_total",
            &["role=\"checkpoint\"", "result=\"delivered\""],
        )
    };
    let before = rounds(&first);
    common::wait_for("a checkpoint round", Duration::from_secs(60), || {
        rounds(&first) > before + 1000.0
    });
    let round_bytes = first.metric("acd_checkpoint_bytes", &[]);
    first.kill9();
    // The second instance starts once the group has dropped the killed one (its session
    // timeout, 6 s): tansu 0.6 gives a member that joins while the killed one still counts no
    // partition, and does not rebalance when that session later expires, so the instance
    // would wait for ever (a Kafka coordinator rebalances then). What is timed is the restore.
    std::thread::sleep(Duration::from_secs(8));

    let started = Instant::now();
    let second = Service::start(&d, "rebuild-b");
    common::wait_for(
        "the restarted instance to be ready",
        Duration::from_secs(600),
        || second.ready(),
    );
    let warm = started.elapsed();
    println!(
        "rebuild of 1,000 queues × 1 h ({n} events) from the events:      {:.2} s",
        cold.as_secs_f64()
    );
    println!(
        "rebuild of the same after kill -9, from the checkpoints: {:.2} s from start to ready (started 8 s after \
         the kill, past the killed member's 6 s session timeout); restoring the last partition took {:.2} s (a round is {:.1} MB)",
        warm.as_secs_f64(),
        second.metric("acd_rebuild_seconds", &[]),
        round_bytes / 1e6,
    );
}
