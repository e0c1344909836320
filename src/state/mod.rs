//! Per-queue state and the engine that applies events to it.

mod settings;

pub use settings::{EngineSettings, QueueKpiSettings, SlidingWindow, BUCKET_MS};
