use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use super::{ascending_set, sorted_map};
use crate::state::dedup::BuildIdentity;

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Parts {
    #[serde(with = "sorted_map")]
    map: HashMap<u64, u32, BuildIdentity>,
    #[serde(with = "ascending_set")]
    set: BTreeSet<(i64, u64)>,
}

/// The bytes of `Parts` written by hand: both are sequences, in the order given.
fn written(map: &[(u64, u32)], set: &[(i64, u64)]) -> Vec<u8> {
    postcard::to_allocvec(&(map, set)).expect("serialises")
}

#[test]
fn a_map_is_written_in_key_order_and_read_back_whole() {
    let pairs = [(7, 70), (1, 10), (u64::MAX, 1), (3, 30), (1 << 40, 4)];
    let parts = Parts {
        map: pairs.iter().copied().collect(),
        set: [(5, 2), (-1, 9), (5, 1)].into_iter().collect(),
    };
    let bytes = postcard::to_allocvec(&parts).expect("serialises");
    let mut sorted = pairs.to_vec();
    sorted.sort_unstable();
    assert_eq!(bytes, written(&sorted, &[(-1, 9), (5, 1), (5, 2)]));
    assert_eq!(postcard::from_bytes::<Parts>(&bytes), Ok(parts));
}

#[test]
fn keys_out_of_order_or_listed_twice_are_refused() {
    let read = |bytes: Vec<u8>| postcard::from_bytes::<Parts>(&bytes);
    assert!(read(written(&[(1, 10), (3, 30)], &[(5, 1), (5, 2)])).is_ok());
    assert!(read(written(&[(3, 30), (1, 10)], &[])).is_err());
    assert!(read(written(&[(1, 10), (1, 11)], &[])).is_err());
    assert!(read(written(&[], &[(5, 2), (5, 1)])).is_err());
    assert!(read(written(&[], &[(5, 1), (5, 1)])).is_err());
}
