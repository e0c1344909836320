use proptest::prelude::*;

use super::*;

proptest! {
    /// The byte scan finds a control character exactly when `char::is_control` does, over any
    /// text (C0, DEL, C1 and the characters either side of them included).
    #[test]
    fn the_byte_scan_is_char_is_control(
        text in prop::collection::vec(
            prop_oneof![
                any::<char>(),
                (0u32..0x200).prop_filter_map("a char", char::from_u32),
            ],
            0..40,
        )
    ) {
        let text: String = text.into_iter().collect();
        prop_assert_eq!(has_control(&text), text.chars().any(char::is_control));
    }
}

#[test]
fn controls_either_side_of_ascii_are_found() {
    for (text, control) in [
        ("queue-1", false),
        ("a\u{1f}", true),
        ("a\u{7f}", true),
        ("\u{80}", true),
        ("x\u{9f}y", true),
        ("\u{a0}€ü", false),
        ("\u{1b}[31m", true),
    ] {
        assert_eq!(has_control(text), control, "{text:?}");
    }
}
