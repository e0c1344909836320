//! Decode + apply throughput: a simulated contact-centre day (the demo's four queues, 24 h,
//! with 10 s of reordering) decoded from JSON lines or protobuf and applied to a fresh engine.
//!
//! `cargo bench --bench ingest` prints events/s (criterion's "thrpt"). Also one publish tick's
//! snapshots of 1,000 queues, and the wallboard's `/api/v1/snapshots` answer for them.

use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

use acdstream::decode::{decode, encode, Format};
use acdstream::event::DEFAULT_MAX_ID_BYTES as MAX_ID;
use acdstream::sim::{as_copy, Scenario, Simulator};
use acdstream::sinks::wallboard::Board;
use acdstream::state::{Engine, EngineSettings, TimeMode};

const WALL: i64 = 1_900_000_000_000;

fn day(format: Format) -> Vec<Vec<u8>> {
    let mut scenario = Scenario::demo();
    scenario.duration_ms = 24 * 3_600_000;
    scenario.out_of_order_jitter_ms = 10_000;
    Simulator::new(scenario, 42, 1_767_571_200_000)
        .map(|e| encode(format, &e))
        .collect()
}

fn ingest(c: &mut Criterion) {
    let settings = Arc::new(EngineSettings::default());
    let mut group = c.benchmark_group("decode+apply");
    for format in [Format::Json, Format::Protobuf] {
        let payloads = day(format);
        group.throughput(Throughput::Elements(payloads.len() as u64));
        group.sample_size(20);
        group.bench_function(format.as_str(), |b| {
            b.iter_batched(
                || Engine::new(settings.clone(), TimeMode::EventTime),
                |mut engine| {
                    for (i, p) in payloads.iter().enumerate() {
                        match decode(format, p, MAX_ID) {
                            Ok(event) => {
                                engine.apply(&event, i as u64, WALL);
                            }
                            Err(e) => engine.reject(e.reason()),
                        }
                    }
                    engine
                },
                BatchSize::LargeInput,
            )
        });
    }
    let payloads = day(Format::Protobuf);
    let events: Vec<_> = payloads
        .iter()
        .map(|p| decode(Format::Protobuf, p, MAX_ID).unwrap())
        .collect();
    group.throughput(Throughput::Elements(events.len() as u64));
    group.bench_function("apply only", |b| {
        b.iter_batched(
            || Engine::new(settings.clone(), TimeMode::EventTime),
            |mut engine| {
                for (i, event) in events.iter().enumerate() {
                    engine.apply(event, i as u64, WALL);
                }
                engine
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

/// Computing every queue's snapshot (what each publish tick does) for 1,000 busy queues.
fn snapshots(c: &mut Criterion) {
    let settings = Arc::new(EngineSettings::default());
    let mut engine = Engine::new(settings, TimeMode::EventTime);
    let mut scenario = Scenario::demo();
    scenario.duration_ms = 3_600_000;
    let mut n = 0u64;
    for copy in 0..250 {
        for mut event in Simulator::new(scenario.clone(), copy, 1_767_571_200_000) {
            as_copy(&mut event, copy);
            engine.apply(&event, n, WALL);
            n += 1;
        }
    }
    let mut group = c.benchmark_group("publish");
    group.throughput(Throughput::Elements(engine.queue_count() as u64));
    group.sample_size(10);
    group.bench_function("snapshots of 1000 queues", |b| {
        b.iter(|| engine.snapshots(WALL))
    });
    group.finish();

    // What `GET /api/v1/snapshots` renders for them (the answer's body, on the blocking pool).
    let board = Board::default();
    for (s, (_, totals)) in engine.snapshots(WALL).into_iter().zip(engine.totals()) {
        board.registry().publish(s, totals);
    }
    board.published(WALL, Some(Duration::from_secs(1)), None, std::iter::empty());
    let body = board.snapshots_json(None, WALL);
    println!(
        "/api/v1/snapshots of {} queues: {} KiB",
        board.registry().len(),
        body.len() / 1024
    );
    let mut group = c.benchmark_group("api");
    group.sample_size(20);
    group.bench_function("GET /api/v1/snapshots body, 1000 queues", |b| {
        b.iter(|| board.snapshots_json(None, WALL))
    });
    group.bench_function("GET /api/v1/snapshots?queues= 12 of 1000", |b| {
        let query = (0..12)
            .map(|i| format!("sales-{i:03}"))
            .collect::<Vec<_>>()
            .join(",");
        let query = format!("queues={query}");
        b.iter(|| board.snapshots_json(Some(&query), WALL))
    });
    group.finish();
}

criterion_group!(benches, ingest, snapshots);
criterion_main!(benches);
