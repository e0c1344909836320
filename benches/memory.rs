//! Heap bytes per queue and per in-flight call, measured with a counting allocator.
//!
//! `cargo bench --bench memory` prints the figures quoted in the README. Each figure is the
//! growth of live heap bytes divided by the number of queues or calls added, with the default
//! settings (windows 5m/15m/60m, 30-minute interval, today); then the whole heap of a large
//! site: 10,000 queues with 200,000 calls in flight; then how many allocations the engine
//! makes per event once its state is steady (the second of two simulated days; only this with
//! `ACDSTREAM_BENCH_ONLY=allocations`).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};
use std::sync::Arc;

use acdstream::event::{AgentState, CallStep, CtiEvent, EventBody};
use acdstream::sim::{Scenario, Simulator};
use acdstream::state::{Engine, EngineSettings, TimeMode};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);
/// Calls to `alloc` and `realloc` (a growth that may move the block).
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const T0: i64 = 1_767_603_600_000;
const WALL: i64 = T0 + 86_400_000;

fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

fn event(id: String, ts: i64, queue: &str, body: EventBody) -> CtiEvent {
    CtiEvent {
        event_id: id,
        ts,
        queue_id: queue.to_string(),
        body,
    }
}

fn main() {
    if std::env::var("ACDSTREAM_BENCH_ONLY").as_deref() == Ok("allocations") {
        steady_allocations();
        return;
    }
    let settings = Arc::new(EngineSettings {
        max_queues: 2_000,
        // Room for the 20,000 calls below, which the default cap (2,000) would refuse.
        max_calls_per_queue: 20_000,
        ..EngineSettings::default()
    });

    // Per queue: one agent logging in to each of 2,000 queues (event ids remembered: 1 each).
    let mut engine = Engine::new(settings.clone(), TimeMode::EventTime);
    let queues = 2_000;
    let before = live();
    for q in 0..queues {
        let body = EventBody::AgentState {
            agent_id: "a".into(),
            state: AgentState::Ready,
            reason: None,
        };
        engine.apply(
            &event(format!("q{q}"), T0, &format!("queue-{q:05}"), body),
            0,
            WALL,
        );
    }
    let per_queue = (live() - before) / queues;

    // Per in-flight call: 20,000 calls offered, rung and answered in one queue (the first two
    // steps of a call's life in flight; event ids are counted separately below).
    let mut engine = Engine::new(settings.clone(), TimeMode::EventTime);
    let warm = event(
        "warm".into(),
        T0,
        "sales",
        EventBody::AgentState {
            agent_id: "a1".into(),
            state: AgentState::Ready,
            reason: None,
        },
    );
    engine.apply(&warm, 0, WALL);
    let calls = 20_000;
    let mut events = Vec::with_capacity(calls * 3);
    for c in 0..calls {
        let ts = T0 + c as i64;
        let call_id = format!("call-{c:08}");
        let agent_id = format!("agent-{:03}", c % 500);
        for (i, step) in [
            CallStep::Offered,
            CallStep::Ringing {
                agent_id: agent_id.clone(),
            },
            CallStep::Answered { agent_id },
        ]
        .into_iter()
        .enumerate()
        {
            events.push(event(
                format!("e{c}-{i}"),
                ts,
                "sales",
                EventBody::Call {
                    call_id: call_id.clone(),
                    step,
                },
            ));
        }
    }
    let before = live();
    for (i, e) in events.iter().enumerate() {
        engine.apply(e, i as u64, WALL);
    }
    let total = live() - before;
    let q = engine.queue("sales").expect("sales exists");
    let ids = (3 * calls) as isize;
    let id_bytes = q.remembered_id_bytes() as isize;
    let agents = 500;
    // Every call counted is in flight (none refused by a cap).
    assert_eq!(q.calls_in_flight(), calls, "calls refused: raise the caps");
    println!(
        "heap per queue (windows, periods, histogram, maps): {} B = {:.1} KiB",
        per_queue,
        per_queue as f64 / 1024.0
    );
    println!(
        "heap per remembered event id: {:.1} B",
        id_bytes as f64 / ids as f64
    );
    println!(
        "heap per in-flight call (events, maps, waiting set, agent inputs; ids excluded): {:.1} B",
        (total - id_bytes) as f64 / calls as f64
    );
    println!("in flight: {} calls, {agents} agents", q.calls_in_flight());

    // A large site at once (issue 14's goal: under 1 GiB): 10,000 queues, each with 20 calls
    // in flight (offered, rung and answered, each by an agent of its own), so 200,000 calls,
    // 200,000 agents and the 600,000 event ids of those steps.
    let (queues, per_queue_calls) = (10_000, 20);
    let big = Arc::new(EngineSettings {
        max_queues: queues,
        ..EngineSettings::default()
    });
    let before = live();
    let mut engine = Engine::new(big, TimeMode::EventTime);
    for q in 0..queues {
        let queue = format!("queue-{q:05}");
        for c in 0..per_queue_calls {
            let ts = T0 + c as i64;
            let call_id = format!("call-{c:02}");
            // Agents of their queue only: one in many queues is a member of each.
            let agent_id = format!("agent-{q:05}-{c:02}");
            for (i, step) in [
                CallStep::Offered,
                CallStep::Ringing {
                    agent_id: agent_id.clone(),
                },
                CallStep::Answered {
                    agent_id: agent_id.clone(),
                },
            ]
            .into_iter()
            .enumerate()
            {
                let body = EventBody::Call {
                    call_id: call_id.clone(),
                    step,
                };
                engine.apply(&event(format!("{q}-{c}-{i}"), ts, &queue, body), 0, WALL);
            }
        }
    }
    let in_flight: usize = (0..queues)
        .map(|q| {
            engine
                .queue(&format!("queue-{q:05}"))
                .map_or(0, |q| q.calls_in_flight())
        })
        .sum();
    assert_eq!(
        in_flight,
        queues * per_queue_calls,
        "calls refused: raise the caps"
    );
    let heap = (live() - before) as f64 / 1_048_576.0;
    println!(
        "{queues} queues with {in_flight} calls in flight (and as many agents, {} event ids): heap {heap:.0} MiB (goal < 1,024 MiB)",
        3 * in_flight
    );
    drop(engine);
    steady_allocations();
}

/// Allocations per applied event once the state is steady: two simulated days of the demo's
/// queues (10 s of reordering), the first to fill the windows, the duplicate filter's horizon
/// and the maps, the second counted. The events are made before counting. (Not inlined, so
/// that a profiler can be told to look only here: `ACDSTREAM_BENCH_ONLY=allocations`.)
///
/// Which code makes them: run the bench under `valgrind --tool=dhat` twice, with
/// `ACDSTREAM_BENCH_DAYS=1` (the first day alone) and with the default two, and subtract the
/// first run's allocations per site from the second's.
#[inline(never)]
fn steady_allocations() {
    let days: i64 = std::env::var("ACDSTREAM_BENCH_DAYS")
        .ok()
        .and_then(|d| d.parse().ok())
        .unwrap_or(2);
    let mut scenario = Scenario::demo();
    scenario.duration_ms = days * 86_400_000;
    scenario.out_of_order_jitter_ms = 10_000;
    let start = 1_767_571_200_000;
    let events: Vec<CtiEvent> = Simulator::new(scenario, 42, start).collect();
    let second_day = events.partition_point(|e| e.ts < start + 86_400_000);
    let mut engine = Engine::new(Arc::new(EngineSettings::default()), TimeMode::EventTime);
    let wall = start + 2 * 86_400_000;
    for (i, e) in events[..second_day].iter().enumerate() {
        engine.apply(e, i as u64, wall);
    }
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    for (i, e) in events.iter().enumerate().skip(second_day) {
        engine.apply(e, i as u64, wall);
    }
    let made = ALLOCATIONS.load(Ordering::Relaxed) - before;
    let counted = events.len() - second_day;
    println!(
        "allocations once the state is steady (the second day, {counted} events): {made}, {:.2} per event",
        made as f64 / counted as f64
    );
}
