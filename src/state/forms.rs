//! Serialised forms for the parts of a queue's state whose in-memory collection has none fit
//! for a checkpoint (used with `#[serde(with = …)]`).
//!
//! A checkpoint must be canonical, so that equal states give equal bytes: a hash map is written
//! sorted by key. And reading one must refuse what no state ever holds, so that damage that got
//! past the checksum is an error rather than a silently different queue: keys are read back
//! only in strictly ascending order, which also refuses any key listed twice (serde's own
//! map and set impls would keep the last and say nothing).

/// Whether every element's key is greater than the one before it.
fn strictly_ascending<T, K: Ord>(items: &[T], key: impl Fn(&T) -> &K) -> bool {
    items.is_sorted_by(|a, b| key(a) < key(b))
}

/// A `HashMap` as its (key, value) pairs in key order.
pub(super) mod sorted_map {
    use std::collections::HashMap;
    use std::hash::{BuildHasher, Hash};

    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::strictly_ascending;

    pub(crate) fn serialize<K, V, H, S>(map: &HashMap<K, V, H>, ser: S) -> Result<S::Ok, S::Error>
    where
        K: Ord + Serialize,
        V: Serialize,
        S: Serializer,
    {
        let mut entries: Vec<(&K, &V)> = map.iter().collect();
        entries.sort_unstable_by_key(|&(k, _)| k);
        ser.collect_seq(entries)
    }

    pub(crate) fn deserialize<'de, K, V, H, D>(de: D) -> Result<HashMap<K, V, H>, D::Error>
    where
        K: Ord + Hash + Deserialize<'de>,
        V: Deserialize<'de>,
        H: BuildHasher + Default,
        D: Deserializer<'de>,
    {
        let entries = Vec::<(K, V)>::deserialize(de)?;
        if !strictly_ascending(&entries, |(k, _)| k) {
            return Err(D::Error::custom("map keys out of order or listed twice"));
        }
        let mut map = HashMap::with_capacity_and_hasher(entries.len(), H::default());
        map.extend(entries);
        Ok(map)
    }
}

/// A `BTreeSet` as its elements in order (serde's own form), read back strictly ascending.
pub(super) mod ascending_set {
    use std::collections::BTreeSet;

    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::strictly_ascending;

    pub(crate) fn serialize<T: Serialize, S: Serializer>(
        set: &BTreeSet<T>,
        ser: S,
    ) -> Result<S::Ok, S::Error> {
        ser.collect_seq(set)
    }

    pub(crate) fn deserialize<'de, T, D>(de: D) -> Result<BTreeSet<T>, D::Error>
    where
        T: Ord + Deserialize<'de>,
        D: Deserializer<'de>,
    {
        let items = Vec::<T>::deserialize(de)?;
        if !strictly_ascending(&items, |t| t) {
            return Err(D::Error::custom(
                "set elements out of order or listed twice",
            ));
        }
        Ok(items.into_iter().collect())
    }
}

#[cfg(test)]
mod tests;
