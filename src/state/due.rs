//! A queue's calls ordered by when its sweep must act on them ([`Due`]), so that a sweep
//! finds the few calls due among many in flight in O(due · log n) instead of looking at every
//! call: with 100,000 open calls in one queue, a walk per 10 s sweep cost more than the events
//! themselves (`cargo bench --bench ingest -- "open calls"`).
//!
//! Kept up to date by the queue wherever a call changes or goes ([`Call::reschedule`]); not
//! written to checkpoints but rebuilt from the calls on restore.

use std::collections::BTreeSet;
use std::ops::Bound::{Excluded, Included, Unbounded};

use crate::event::Millis;

use super::call::{CallKey, Due};

#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct DueCalls {
    /// (first event of the first leg that does not count, call)
    held: BTreeSet<(Millis, CallKey)>,
    /// (end of the call and of its last event, call)
    ended: BTreeSet<(Millis, CallKey)>,
    /// (offer of the oldest leg that has not ended, call)
    open: BTreeSet<(Millis, CallKey)>,
}

impl DueCalls {
    /// Moves call `key` from where `from` put it to where `to` puts it.
    pub(super) fn moved(&mut self, key: CallKey, from: Due, to: Due) {
        if let Some((set, at)) = self.set_of(from) {
            set.remove(&(at, key));
        }
        if let Some((set, at)) = self.set_of(to) {
            set.insert((at, key));
        }
    }

    fn set_of(&mut self, due: Due) -> Option<(&mut BTreeSet<(Millis, CallKey)>, Millis)> {
        match due {
            Due::Nothing => None,
            Due::Held(at) => Some((&mut self.held, at)),
            Due::Ended(at) => Some((&mut self.ended, at)),
            Due::Open(at) => Some((&mut self.open, at)),
        }
    }

    /// Appends to `out` the calls holding events for a leg that began before `watermark`.
    pub(super) fn held_before(&self, watermark: Millis, out: &mut Vec<CallKey>) {
        before(&self.held, watermark, out);
    }

    /// Appends to `out` the calls that ended, with their last event, before `watermark`.
    pub(super) fn ended_before(&self, watermark: Millis, out: &mut Vec<CallKey>) {
        before(&self.ended, watermark, out);
    }

    /// Calls with a leg offered by `at` that has not ended.
    pub(super) fn open_since(&self, at: Millis) -> Vec<CallKey> {
        self.open
            .range((Unbounded, Included((at, CallKey::MAX))))
            .map(|&(_, key)| key)
            .collect()
    }
}

fn before(set: &BTreeSet<(Millis, CallKey)>, at: Millis, out: &mut Vec<CallKey>) {
    out.extend(
        set.range((Unbounded, Excluded((at, CallKey::MIN))))
            .map(|&(_, key)| key),
    );
}
