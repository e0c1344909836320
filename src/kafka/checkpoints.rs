//! The checkpoint topic's protocol.
//!
//! State is checkpointed per events-topic partition, into the same partition number of the
//! checkpoint topic, in *rounds*: every queue the instance owns in that partition is written
//! under `"{partition}/q/{queue_id}"` (the engine's checkpoint, which carries the input position
//! it reflects), then a round marker under `"{partition}/round"` listing those queues and the
//! partition's position. The topic is compacted, so it keeps the newest record of each key.
//!
//! To restore a partition, take the newest marker and, for every queue it lists, the newest
//! record of that queue; resume the partition at the smallest position among the marker and
//! those records, and have each queue skip the events before its own position. This is exact
//! whatever was interrupted: a queue written in a later, unfinished round simply skips more; a
//! queue created after the marker is rebuilt from its first event, which lies after the marker.
//! Without a marker (or when a listed checkpoint cannot be used, e.g. after the KPI settings
//! changed), the partition is rebuilt from its first retained event.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::event::Millis;

/// Written after all queue records of a round.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RoundMarker {
    /// Next offset of the events partition at the round: everything before it was applied.
    pub position: i64,
    pub queues: Vec<String>,
    pub written_at: Millis,
}

pub(crate) fn queue_key(partition: i32, queue_id: &str) -> String {
    format!("{partition}/q/{queue_id}")
}

pub(crate) fn round_key(partition: i32) -> String {
    format!("{partition}/round")
}

/// What a record's key says it is (for tools that read the topic; the tests check the keys
/// round-trip).
#[cfg(test)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KeyKind {
    Queue(String),
    Round,
}

#[cfg(test)]
pub(crate) fn parse_key(key: &str) -> Option<(i32, KeyKind)> {
    let (partition, rest) = key.split_once('/')?;
    let partition = partition.parse().ok()?;
    if rest == "round" {
        return Some((partition, KeyKind::Round));
    }
    let queue = rest.strip_prefix("q/")?;
    Some((partition, KeyKind::Queue(queue.to_string())))
}

/// Where and how to resume one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResumePlan {
    /// First offset to read; `None` means the partition's first retained event.
    pub resume_at: Option<i64>,
    /// Checkpoints to restore, each with the position its queue resumes at.
    pub queues: Vec<(String, i64, Vec<u8>)>,
    /// Why the partition is rebuilt from its start, when it is.
    pub rebuild_reason: Option<String>,
}

/// Plans the restore of one partition from the newest value of every key in its checkpoint
/// partition. `inspect` reads a queue checkpoint's queue id and position, refusing one this
/// engine cannot restore.
pub(crate) fn plan<E: std::fmt::Display>(
    partition: i32,
    latest: &HashMap<String, Vec<u8>>,
    inspect: impl Fn(&[u8]) -> Result<(String, u64), E>,
) -> ResumePlan {
    let from_start = |reason: String| ResumePlan {
        resume_at: None,
        queues: Vec::new(),
        rebuild_reason: Some(reason),
    };
    let marker = match latest.get(&round_key(partition)) {
        None => return from_start("no checkpoint yet".into()),
        Some(bytes) => match serde_json::from_slice::<RoundMarker>(bytes) {
            Ok(m) => m,
            Err(e) => return from_start(format!("unreadable round marker: {e}")),
        },
    };
    let mut resume_at = marker.position;
    let mut queues = Vec::with_capacity(marker.queues.len());
    for queue in &marker.queues {
        let Some(bytes) = latest.get(&queue_key(partition, queue)) else {
            return from_start(format!("queue {queue} is listed but has no checkpoint"));
        };
        match inspect(bytes) {
            Ok((id, position)) if id == *queue => {
                let position = position as i64;
                resume_at = resume_at.min(position);
                queues.push((id, position, bytes.clone()));
            }
            Ok((id, _)) => return from_start(format!("checkpoint under {queue} is for {id}")),
            Err(e) => return from_start(format!("checkpoint of {queue}: {e}")),
        }
    }
    ResumePlan {
        resume_at: Some(resume_at),
        queues,
        rebuild_reason: None,
    }
}

#[cfg(test)]
mod tests;
