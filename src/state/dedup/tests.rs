use super::*;

#[test]
fn a_repeated_id_is_a_duplicate_until_it_expires() {
    let mut d = Dedup::default();
    let h = id_hash("e-1");
    assert!(!d.check_and_insert(h, 1_000, 10));
    assert!(d.check_and_insert(h, 1_000, 10));
    d.expire(1_000);
    assert!(d.check_and_insert(h, 1_000, 10), "cutoff is exclusive");
    d.expire(1_001);
    assert!(!d.check_and_insert(h, 5_000, 10));
}

#[test]
fn the_cap_forgets_the_oldest_and_counts_it() {
    let mut d = Dedup::default();
    for i in 0..5 {
        assert!(!d.check_and_insert(id_hash(&format!("e-{i}")), i, 3));
    }
    assert_eq!(d.by_time.len(), 3);
    assert_eq!(d.evicted_early, 2);
    assert!(
        !d.check_and_insert(id_hash("e-0"), 10, 3),
        "e-0 was forgotten"
    );
    assert!(d.check_and_insert(id_hash("e-4"), 10, 3));
}

#[test]
fn hash_is_the_documented_xxh3() {
    // Fixed so that remembered ids survive a rebuild (checkpoints).
    assert_eq!(id_hash(""), 0x2d06800538d394c2);
}

#[test]
fn the_id_set_removes_from_the_middle_of_a_run() {
    // 16 slots: homes 3, 3, 4 and 3 again make one run from slot 3 to 6; removing the second
    // must move the later ones back so that each is still found from its home.
    let mut s = IdSet::default();
    for h in [3, 19, 4, 35] {
        assert!(s.insert(h));
    }
    assert_eq!(s.slots[3..7], [3, 19, 4, 35]);
    assert!(s.remove(19));
    assert_eq!(
        s.slots[3..7],
        [3, 4, 35, 0],
        "4 stays at home, 35 moves back"
    );
    assert!(!s.remove(19));
    for h in [3, 4, 35] {
        assert!(!s.insert(h), "{h} is still found");
    }
    assert_eq!(s.len, 3);
}

#[test]
fn the_id_set_keeps_the_hash_zero_apart() {
    let mut s = IdSet::default();
    assert!(s.insert(0));
    assert!(!s.insert(0));
    assert!(s.remove(0));
    assert!(!s.remove(0));
    assert!(s.insert(16), "16's home is slot 0, which 0 never takes");
    assert_eq!(s.len, 1);
}

mod props {
    use std::collections::HashSet;

    use proptest::prelude::*;

    use super::super::IdSet;

    proptest! {
        /// The set agrees with a standard one under any inserts and removals, with hashes
        /// crowded into a few homes (low bits) so that runs wrap and collide, through growth.
        #[test]
        fn the_id_set_is_a_set(ops in prop::collection::vec((any::<bool>(), 0u64..64, 0u64..4), 0..400)) {
            let mut ours = IdSet::default();
            let mut model = HashSet::new();
            for (add, low, high) in ops {
                let h = high << 60 | low;
                if add {
                    prop_assert_eq!(ours.insert(h), model.insert(h));
                } else {
                    prop_assert_eq!(ours.remove(h), model.remove(&h));
                }
                prop_assert_eq!(ours.len + usize::from(ours.has_zero), model.len());
            }
            for h in (0u64..4).flat_map(|high| (0u64..64).map(move |low| high << 60 | low)) {
                prop_assert_eq!(ours.contains(h), model.contains(&h), "hash {:#x}", h);
            }
        }
    }
}
