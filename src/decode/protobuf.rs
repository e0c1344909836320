//! The protobuf form: one `acd.v1.CtiEvent`, `acd.v1.KpiSnapshot` or
//! `acd.v1.AlertNotification` message per payload, with no length prefix (Kafka frames each
//! message).
//!
//! The generated types stay behind the private `pb` module beside this one; this module only routes to it, and its tests
//! feed hand-written wire bytes, as a producer in another language would send them.

pub(crate) use super::pb::{
    decode_alert, decode_event, decode_snapshot, encode_alert, encode_event, encode_snapshot,
};

#[cfg(test)]
mod tests;
