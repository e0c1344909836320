//! The simulator as a live source (`acdstream demo`): each event is released when the demo
//! clock, which may run faster than real time, reaches the event's time. The simulation
//! starts some history in the past, so that the windows are full from the first scrape.

use std::time::Duration;

use tokio::time::Instant;

use super::{Assignment, Input, Origin, Source};
use crate::decode::Format;
use crate::event::{CtiEvent, Millis};
use crate::sim::{Scenario, Simulator, Surge};

/// Simulated time: `origin_sim` at the real instant `origin`, advancing `speed` times faster.
/// It reads tokio's clock, so tests can run the pipeline with paused time.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DemoClock {
    origin: Instant,
    origin_sim: Millis,
    speed: f64,
}

impl DemoClock {
    pub(crate) fn new(origin_sim: Millis, speed: f64) -> DemoClock {
        DemoClock {
            origin: Instant::now(),
            origin_sim,
            speed,
        }
    }

    pub(crate) fn now(&self) -> Millis {
        self.at(self.origin.elapsed())
    }

    fn at(&self, elapsed: Duration) -> Millis {
        self.origin_sim + (elapsed.as_secs_f64() * 1000.0 * self.speed) as Millis
    }

    /// Real time to wait until the clock reads `sim`; a wait too long for a `Duration` (a
    /// clock all but stopped) is for ever, not a panic.
    pub(crate) fn until(&self, sim: Millis) -> Duration {
        let ahead_ms = (sim - self.now()).max(0) as f64 / self.speed;
        Duration::try_from_secs_f64(ahead_ms / 1000.0).unwrap_or(Duration::MAX)
    }
}

/// The demo contact centre, with its surge on `support` already under way at start-up.
pub(crate) fn demo_scenario(warmup: Duration) -> Scenario {
    let mut scenario = Scenario::demo();
    scenario.duration_ms = 24 * 3_600_000;
    scenario.surge = Some(Surge {
        queue: "support".into(),
        start_after_s: (warmup.as_secs_f64() - 300.0).max(0.0),
        duration_s: 1_200.0,
        factor: 2.5,
    });
    scenario
}

/// The simulator's events, released on the demo clock: one partition, positions counting up.
pub(crate) struct SimSource {
    simulator: Simulator,
    clock: DemoClock,
    /// The next event, taken from the simulator but not yet due.
    next: Option<CtiEvent>,
    position: i64,
    assigned: bool,
    /// The warm-up (every event before the clock's start) has been handed on.
    caught_up: bool,
    stopped: bool,
}

impl SimSource {
    pub(crate) fn new(simulator: Simulator, clock: DemoClock) -> SimSource {
        SimSource {
            simulator,
            clock,
            next: None,
            position: 0,
            assigned: false,
            caught_up: false,
            stopped: false,
        }
    }

    fn peek(&mut self) -> Option<&CtiEvent> {
        if self.next.is_none() {
            self.next = self.simulator.next();
        }
        self.next.as_ref()
    }
}

impl Source for SimSource {
    fn format(&self) -> Format {
        Format::Json
    }

    fn name(&self) -> &str {
        "simulator"
    }

    async fn wait(&mut self) -> bool {
        if self.stopped {
            return false;
        }
        if !self.assigned {
            return true;
        }
        let Some(ts) = self.peek().map(|e| e.ts) else {
            tracing::info!("simulation finished");
            self.stopped = true;
            return false;
        };
        // Cancel-safe: the event stays in `next` if the sleep is dropped.
        tokio::time::sleep(self.clock.until(ts)).await;
        true
    }

    fn drain(&mut self, max: usize, each: &mut dyn FnMut(Input<'_>)) {
        if !self.assigned {
            self.assigned = true;
            each(Input::Assigned(vec![Assignment::from_start(0)]));
        }
        let now = self.clock.now();
        for _ in 0..max {
            if self.peek().is_none_or(|e| e.ts > now) {
                if !self.caught_up {
                    self.caught_up = true;
                    each(Input::CaughtUp(0));
                }
                break;
            }
            let Some(event) = self.next.take() else { break };
            let origin = Origin {
                partition: 0,
                position: self.position,
            };
            self.position += 1;
            each(Input::Decoded {
                origin,
                event: &event,
                payload: &[],
                received: Some(Instant::now().into_std()),
            });
        }
    }

    fn stop(&mut self) {
        self.stopped = true;
    }
}

#[cfg(test)]
mod tests;
