use super::*;

#[test]
fn names_follow_the_conventions() {
    let mut names: Vec<&str> = CATALOGUE.iter().map(|m| m.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), CATALOGUE.len(), "duplicate metric name");
    for name in names {
        assert!(
            name.starts_with("acd_") || name == PROCESS_RESIDENT_MEMORY_BYTES,
            "{name}"
        );
        assert!(
            name.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
            "{name}"
        );
        assert!(
            !name.ends_with("_ms") && !name.contains("percent"),
            "{name}"
        );
    }
}
