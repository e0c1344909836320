//! Where the writer publishes snapshots for readers: lock-free loads, atomic swaps.

use std::sync::Arc;

use arc_swap::ArcSwap;
use dashmap::DashMap;

use crate::kpi::{KpiSnapshot, QueueTotals};

/// The latest published snapshot and totals of one queue.
pub struct Published {
    pub snapshot: KpiSnapshot,
    pub totals: QueueTotals,
}

#[derive(Default)]
pub struct SnapshotRegistry {
    queues: DashMap<Arc<str>, Arc<ArcSwap<Published>>>,
}

impl SnapshotRegistry {
    /// Replaces a queue's published state (the writer's side).
    pub fn publish(&self, snapshot: KpiSnapshot, totals: QueueTotals) {
        let published = Arc::new(Published { snapshot, totals });
        if let Some(slot) = self.queues.get(snapshot_key(&published)) {
            slot.store(published);
            return;
        }
        let key: Arc<str> = Arc::from(published.snapshot.queue_id.as_str());
        self.queues.insert(key, Arc::new(ArcSwap::new(published)));
    }

    /// Stops publishing a queue (its partition moved to another instance).
    pub fn remove(&self, queue_id: &str) {
        self.queues.remove(queue_id);
    }

    /// The latest state of one queue.
    pub fn get(&self, queue_id: &str) -> Option<Arc<Published>> {
        self.queues.get(queue_id).map(|slot| slot.load_full())
    }

    /// The latest state of every queue, sorted by queue id. Guards are released before the
    /// caller sees anything, so a slow reader cannot hold a shard.
    pub fn all(&self) -> Vec<Arc<Published>> {
        let slots: Vec<Arc<ArcSwap<Published>>> =
            self.queues.iter().map(|e| e.value().clone()).collect();
        let mut all: Vec<Arc<Published>> = slots.iter().map(|s| s.load_full()).collect();
        all.sort_by(|a, b| a.snapshot.queue_id.cmp(&b.snapshot.queue_id));
        all
    }

    pub fn len(&self) -> usize {
        self.queues.len()
    }

    pub fn is_empty(&self) -> bool {
        self.queues.is_empty()
    }
}

fn snapshot_key(p: &Published) -> &str {
    &p.snapshot.queue_id
}
