//! Decode + apply throughput: a simulated contact-centre day (the demo's four queues, 24 h,
//! with 10 s of reordering) decoded from JSON lines or protobuf and applied to a fresh engine.
//!
//! `cargo bench --bench ingest` prints events/s (criterion's "thrpt"), beside the same
//! payloads only parsed into events (the floor decode + apply is measured against); the same
//! for an hour of a large centre (20 queues of up to 256 agents). Also the
//! same calls applied beside 100,000 calls that stay open, one publish tick's snapshots of
//! 1,000 queues, the wallboard's `/api/v1/snapshots` answer for them, and their `/metrics`
//! (the publish of their series and the scrape's text).

use std::sync::Arc;
use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{
    criterion_group, criterion_main, BatchSize, BenchmarkGroup, Criterion, SamplingMode, Throughput,
};

use acdstream::decode::{decode, encode, Format};
use acdstream::event::{AgentState, CallStep, CtiEvent, EventBody, DEFAULT_MAX_ID_BYTES as MAX_ID};
use acdstream::sim::{as_copy, Scenario, Simulator};
use acdstream::sinks::wallboard::Board;
use acdstream::sinks::{install, Exposition, PrometheusSink};
use acdstream::state::{Engine, EngineSettings, TimeMode};
use metrics_exporter_prometheus::PrometheusBuilder;

/// The `acdstream` binary's allocator, so that these figures are the product's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const WALL: i64 = 1_900_000_000_000;

fn day(format: Format) -> Vec<Vec<u8>> {
    let mut scenario = Scenario::demo();
    scenario.duration_ms = 24 * 3_600_000;
    scenario.out_of_order_jitter_ms = 10_000;
    Simulator::new(scenario, 42, 1_767_571_200_000)
        .map(|e| encode(format, &e))
        .collect()
}

/// What a replay does with each payload: decode, then apply or count the rejection.
fn decode_and_apply(mut engine: Engine, format: Format, payloads: &[Vec<u8>]) -> Engine {
    for (i, p) in payloads.iter().enumerate() {
        match decode(format, p, MAX_ID) {
            Ok(event) => {
                engine.apply(&event, i as u64, WALL);
            }
            Err(e) => engine.reject(e.reason()),
        }
    }
    engine
}

fn apply_all(mut engine: Engine, events: &[CtiEvent]) -> Engine {
    for (i, event) in events.iter().enumerate() {
        engine.apply(event, i as u64, WALL);
    }
    engine
}

/// `run` on a fresh engine each time (made outside the measurement).
fn bench_engine(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    settings: &Arc<EngineSettings>,
    run: impl Fn(Engine) -> Engine,
) {
    group.bench_function(name, |b| {
        b.iter_batched(
            || Engine::new(settings.clone(), TimeMode::EventTime),
            &run,
            BatchSize::LargeInput,
        )
    });
}

fn ingest(c: &mut Criterion) {
    let settings = Arc::new(EngineSettings::default());
    let mut group = c.benchmark_group("decode+apply");
    for format in [Format::Json, Format::Protobuf] {
        let payloads = day(format);
        group.throughput(Throughput::Elements(payloads.len() as u64));
        group.sample_size(20);
        // The floor: the same payloads only parsed into events (the contract checks
        // included), nothing applied.
        group.bench_function(format!("{} parse only", format.as_str()), |b| {
            b.iter(|| {
                for p in &payloads {
                    std::hint::black_box(decode(format, p, MAX_ID).ok());
                }
            })
        });
        bench_engine(&mut group, format.as_str(), &settings, |engine| {
            decode_and_apply(engine, format, &payloads)
        });
    }
    let payloads = day(Format::Protobuf);
    let events: Vec<_> = payloads
        .iter()
        .map(|p| decode(Format::Protobuf, p, MAX_ID).unwrap())
        .collect();
    group.throughput(Throughput::Elements(events.len() as u64));
    bench_engine(&mut group, "apply only", &settings, |engine| {
        apply_all(engine, &events)
    });
    group.finish();
}

/// A large centre's hour, the shape of the traffic the Flink comparison runs on: five copies
/// of the demo's four queues, each with eight times its calls and agents (20 queues, 72 to 256
/// agents each, about 30,000 calls), multi-skilled agents, transfers and overflow, 10 s of
/// reordering and 1 % duplicates, the copies interleaved event by event. JSON lines parsed
/// only (the floor), decoded and applied, and applied only (issue 14's goals 2 and 3).
fn large_centre(c: &mut Criterion) {
    let settings = Arc::new(EngineSettings::default());
    let mut scenario = Scenario::demo();
    scenario.duration_ms = 3_600_000;
    scenario.out_of_order_jitter_ms = 10_000;
    scenario.duplicate_ratio = 0.01;
    for q in &mut scenario.queues {
        q.calls_per_hour *= 8.0;
        q.agents *= 8;
        if let Some(shared) = &mut q.shared_agents {
            shared.agents *= 8;
        }
    }
    let copies: Vec<Vec<CtiEvent>> = (0..5)
        .map(|copy| {
            Simulator::new(scenario.clone(), copy, 1_767_571_200_000)
                .map(|mut e| {
                    as_copy(&mut e, copy);
                    e
                })
                .collect()
        })
        .collect();
    let longest = copies.iter().map(Vec::len).max().unwrap_or(0);
    let events: Vec<CtiEvent> = (0..longest)
        .flat_map(|i| copies.iter().filter_map(move |c| c.get(i).cloned()))
        .collect();
    let lines: Vec<Vec<u8>> = events.iter().map(|e| encode(Format::Json, e)).collect();
    println!("large centre: {} events", events.len());
    let mut group = c.benchmark_group("large centre");
    group.throughput(Throughput::Elements(events.len() as u64));
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.bench_function("json parse only", |b| {
        b.iter(|| {
            for line in &lines {
                std::hint::black_box(decode(Format::Json, line, MAX_ID).ok());
            }
        })
    });
    bench_engine(&mut group, "json", &settings, |engine| {
        decode_and_apply(engine, Format::Json, &lines)
    });
    bench_engine(&mut group, "apply only", &settings, |engine| {
        apply_all(engine, &events)
    });
    group.finish();
}

/// Two hours of a queue's calls (50 agents logged in; a call every 2 s: offered, answered 5 s
/// later, wrap at 60 s, wrap end at 90 s; 14,400 events, 720 sweeps of 10 s) applied beside
/// `open` calls offered just before that never end and are not yet due to expire: what finding the few calls a
/// sweep settles among many costs. `open = 0` is the floor the other is compared with.
fn open_calls(c: &mut Criterion) {
    const T: i64 = 1_767_603_600_000;
    let settings = Arc::new(EngineSettings {
        max_calls_per_queue: 200_000,
        max_call_age_ms: 24 * 3_600_000,
        ..EngineSettings::default()
    });
    let event = |id: String, ts: i64, call_id: String, step: CallStep| CtiEvent {
        event_id: id,
        ts,
        queue_id: "q".into(),
        body: EventBody::Call { call_id, step },
    };
    let mut stream = Vec::new();
    for i in 0..3_600 {
        let t = T + i * 2_000;
        let agent_id = format!("a{}", i % 50);
        let steps = [
            (0, CallStep::Offered),
            (
                5_000,
                CallStep::Answered {
                    agent_id: agent_id.clone(),
                },
            ),
            (
                60_000,
                CallStep::Wrap {
                    agent_id: agent_id.clone(),
                },
            ),
            (90_000, CallStep::WrapEnd { agent_id }),
        ];
        for (k, (after, step)) in steps.into_iter().enumerate() {
            stream.push(event(format!("s{i}.{k}"), t + after, format!("s{i}"), step));
        }
    }
    stream.sort_by_key(|e| e.ts);
    let mut group = c.benchmark_group("open calls");
    group.throughput(Throughput::Elements(stream.len() as u64));
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    for open in [0, 100_000] {
        let setup = || {
            let mut engine = Engine::new(settings.clone(), TimeMode::EventTime);
            for i in 0..open {
                let e = event(
                    format!("o{i}"),
                    T - 60_000,
                    format!("o{i}"),
                    CallStep::Offered,
                );
                engine.apply(&e, i as u64, WALL);
            }
            // The agents log in just before, which also moves the queue's clock past the open
            // calls' SL threshold: marking them as they reach it is done once, here.
            for i in 0..50 {
                let login = CtiEvent {
                    event_id: format!("login{i}"),
                    ts: T - 1_000,
                    queue_id: "q".into(),
                    body: EventBody::AgentState {
                        agent_id: format!("a{i}"),
                        state: AgentState::Ready,
                        reason: None,
                    },
                };
                engine.apply(&login, u64::MAX - i, WALL);
            }
            engine
        };
        group.bench_function(format!("apply beside {open} open calls"), |b| {
            b.iter_batched(
                setup,
                |mut engine| {
                    for (i, e) in stream.iter().enumerate() {
                        engine.apply(e, (open + i) as u64, WALL);
                    }
                    engine
                },
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

/// Computing every queue's snapshot (what each publish tick does) for 1,000 busy queues.
fn snapshots(c: &mut Criterion) {
    let settings = Arc::new(EngineSettings::default());
    let mut engine = Engine::new(settings, TimeMode::EventTime);
    let mut scenario = Scenario::demo();
    scenario.duration_ms = 3_600_000;
    let start = 1_767_571_200_000;
    // The hour's last minute is applied after a first set of snapshots is taken, so that
    // `/metrics` below can be rendered after a publish that changed what a minute changes.
    let last_minute = start + scenario.duration_ms - 60_000;
    let mut n = 0u64;
    let mut earlier = None;
    for (from, to) in [(i64::MIN, last_minute), (last_minute, i64::MAX)] {
        for copy in 0..250 {
            for mut event in Simulator::new(scenario.clone(), copy, start) {
                if (from..to).contains(&event.ts) {
                    as_copy(&mut event, copy);
                    engine.apply(&event, n, WALL);
                    n += 1;
                }
            }
        }
        earlier = earlier.or_else(|| Some((engine.snapshots(WALL), engine.totals())));
    }
    let earlier = earlier.expect("taken after the first pass");
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

    // `/metrics` for them: the publish that sets every queue's series from the snapshots, and
    // the text a scrape renders (issue 14's goal 6: under 20 ms with the snapshots). A render
    // formats what changed since the previous one: everything the first time, what a minute
    // of traffic changed after a publish of the next minute's snapshots, nothing when no
    // publish came between.
    let exposition = install().expect("the bench installs the process's one recorder");
    let sliding: Vec<(String, Duration)> = engine
        .settings()
        .sliding
        .iter()
        .map(|w| (w.name.clone(), Duration::from_millis(w.len_ms as u64)))
        .collect();
    let sink = PrometheusSink::new(exposition.clone(), &sliding);
    let (snapshots, totals) = (engine.snapshots(WALL), engine.totals());
    sink.publish(&snapshots, &totals, engine.ledger());
    let text = exposition.render();
    println!(
        "/metrics of {} queues: {} KiB, {} series",
        snapshots.len(),
        text.len() / 1024,
        text.lines().filter(|l| !l.starts_with('#')).count()
    );
    let mut group = c.benchmark_group("metrics");
    group.sample_size(20);
    group.bench_function("publish the series of 1000 queues", |b| {
        b.iter(|| sink.publish(&snapshots, &totals, engine.ledger()))
    });
    group.bench_function("render /metrics, 1000 queues, all new", |b| {
        b.iter_batched(
            || {
                // A recorder of its own: only the per-queue part renders anything here.
                let recorder = PrometheusBuilder::new().build_recorder();
                let fresh = Exposition::new(recorder.handle());
                PrometheusSink::new(fresh.clone(), &sliding).publish(
                    &snapshots,
                    &totals,
                    engine.ledger(),
                );
                fresh
            },
            |fresh| fresh.render(),
            BatchSize::LargeInput,
        )
    });
    let later = (snapshots.clone(), totals.clone());
    let mut minute = [&earlier, &later].into_iter().cycle();
    group.bench_function("render /metrics, 1000 queues, a minute later", |b| {
        b.iter_batched(
            || {
                let (snapshots, totals) = minute.next().expect("cycles");
                sink.publish(snapshots, totals, engine.ledger());
            },
            |()| exposition.render(),
            BatchSize::PerIteration,
        )
    });
    group.bench_function("render /metrics, 1000 queues, unchanged", |b| {
        b.iter(|| exposition.render())
    });
    group.finish();
}

criterion_group!(benches, ingest, large_centre, open_calls, snapshots);
criterion_main!(benches);
