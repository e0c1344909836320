//! `[asterisk]`: how an Asterisk queue_log is read (`replay --format asterisk-queue-log`).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::duration::{millis, DurationText};
use super::Problems;
use crate::decode::asterisk::{AgentIds, QueueLogSettings};

/// `[asterisk]`, checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AsteriskConfig {
    pub agent_ids: AgentIds,
    /// Agent field as queue_log writes it → agent id, before `agent_ids` applies.
    pub agents: BTreeMap<String, String>,
    /// `[asterisk.queues.<name>] wrapuptime`: queues.conf's `wrapuptime` of each queue.
    pub wrapuptime: BTreeMap<String, Duration>,
}

impl super::Config {
    /// What the queue_log translator needs: `[asterisk]`, and the engine's lateness (how far
    /// back a time worked out from a line may go).
    pub fn queue_log_settings(&self) -> QueueLogSettings {
        let a = &self.asterisk;
        QueueLogSettings {
            agent_ids: a.agent_ids,
            agents: a.agents.clone().into_iter().collect(),
            wrapuptime_ms: a
                .wrapuptime
                .iter()
                .map(|(queue, &d)| (queue.clone(), millis(d)))
                .collect(),
            lookback_ms: self.engine.allowed_lateness_ms,
            max_id_bytes: self.engine.max_id_bytes,
        }
    }
}

raw! { RawAsterisk {
    agent_id: String = "extension",
    agents: BTreeMap<String, String> = BTreeMap::new(),
    queues: BTreeMap<String, RawAsteriskQueue> = BTreeMap::new(),
} }

/// `[asterisk.queues.<name>]`.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAsteriskQueue {
    wrapuptime: Option<DurationText>,
}

/// Checks `[asterisk]`; a value that fails is reported (and the configuration refused), so what
/// stands in for it here is never used.
pub(super) fn validate(p: &mut Problems<'_>, raw: &RawAsterisk) -> AsteriskConfig {
    let agent_ids = match raw.agent_id.trim() {
        "extension" => Ok(AgentIds::Extension),
        "interface" => Ok(AgentIds::Interface),
        other => Err(format!(
            "\"{other}\" is not a way to name agents; use \"extension\" (Local/2004@ctx/n \
             becomes 2004) or \"interface\" (the agent field as written)"
        )),
    };
    let agent_ids = p.ok("asterisk.agent_id", agent_ids).unwrap_or_default();
    for (field, _) in raw.agents.iter().filter(|(_, id)| id.trim().is_empty()) {
        let path = format!("asterisk.agents.{field}");
        p.add(&path, "agent id must not be empty");
    }
    let wrapuptime = raw.queues.iter().filter_map(|(queue, q)| {
        let path = format!("asterisk.queues.{queue}.wrapuptime");
        Some((queue.clone(), p.duration(&path, q.wrapuptime.as_ref()?)?))
    });
    AsteriskConfig {
        agent_ids,
        agents: raw.agents.clone(),
        wrapuptime: wrapuptime.collect(),
    }
}
