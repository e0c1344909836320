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
pub struct RoundMarker {
    /// Next offset of the events partition at the round: everything before it was applied.
    pub position: i64,
    pub queues: Vec<String>,
    pub written_at: Millis,
}

pub fn queue_key(partition: i32, queue_id: &str) -> String {
    format!("{partition}/q/{queue_id}")
}

pub fn round_key(partition: i32) -> String {
    format!("{partition}/round")
}

/// What a record's key says it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyKind {
    Queue(String),
    Round,
}

pub fn parse_key(key: &str) -> Option<(i32, KeyKind)> {
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
pub fn plan<E: std::fmt::Display>(
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
mod tests {
    use super::*;

    /// A stand-in checkpoint: "queue@position".
    fn fake(queue: &str, position: u64) -> Vec<u8> {
        format!("{queue}@{position}").into_bytes()
    }

    fn inspect(bytes: &[u8]) -> Result<(String, u64), String> {
        let text = std::str::from_utf8(bytes).map_err(|e| e.to_string())?;
        let (q, p) = text.split_once('@').ok_or("not a checkpoint")?;
        Ok((q.to_string(), p.parse().map_err(|_| "bad position")?))
    }

    fn marker(position: i64, queues: &[&str]) -> Vec<u8> {
        serde_json::to_vec(&RoundMarker {
            position,
            queues: queues.iter().map(|q| q.to_string()).collect(),
            written_at: 0,
        })
        .unwrap()
    }

    #[test]
    fn keys_round_trip() {
        assert_eq!(
            parse_key(&queue_key(3, "sales/eu")),
            Some((3, KeyKind::Queue("sales/eu".into())))
        );
        assert_eq!(parse_key(&round_key(0)), Some((0, KeyKind::Round)));
        assert_eq!(parse_key("x/round"), None);
        assert_eq!(parse_key("1/other"), None);
    }

    #[test]
    fn resume_at_the_oldest_position_among_the_marker_and_its_queues() {
        let mut latest = HashMap::new();
        latest.insert(round_key(1), marker(500, &["a", "b"]));
        // `a` was rewritten in a later round that did not finish; `b` only in the marker's round.
        latest.insert(queue_key(1, "a"), fake("a", 620));
        latest.insert(queue_key(1, "b"), fake("b", 500));
        // A queue dropped before the marker's round is not restored.
        latest.insert(queue_key(1, "old"), fake("old", 10));
        let plan = plan(1, &latest, inspect);
        assert_eq!(plan.resume_at, Some(500));
        let restored: Vec<(&str, i64)> = plan
            .queues
            .iter()
            .map(|(q, p, _)| (q.as_str(), *p))
            .collect();
        assert_eq!(restored, vec![("a", 620), ("b", 500)]);
        assert_eq!(plan.rebuild_reason, None);
    }

    #[test]
    fn a_queue_record_older_than_its_marker_moves_the_resume_point_back() {
        // Another instance's late write left an older record for `a` after the marker.
        let mut latest = HashMap::new();
        latest.insert(round_key(0), marker(900, &["a"]));
        latest.insert(queue_key(0, "a"), fake("a", 700));
        assert_eq!(plan(0, &latest, inspect).resume_at, Some(700));
    }

    #[test]
    fn without_a_usable_round_the_partition_is_rebuilt_from_its_start() {
        let empty = HashMap::new();
        assert_eq!(plan(0, &empty, inspect).resume_at, None);
        let mut latest = HashMap::new();
        latest.insert(round_key(0), marker(900, &["a"]));
        let p = plan(0, &latest, inspect);
        assert_eq!((p.resume_at, p.queues.len()), (None, 0));
        assert!(p.rebuild_reason.unwrap().contains("no checkpoint"));
        latest.insert(queue_key(0, "a"), b"garbage".to_vec());
        assert!(plan(0, &latest, inspect)
            .rebuild_reason
            .unwrap()
            .contains("checkpoint of a"));
    }
}
