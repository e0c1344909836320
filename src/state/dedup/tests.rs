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
