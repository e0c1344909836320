use super::*;

#[test]
fn lines_are_numbered_and_stripped() {
    let mut src = LineSource::from(&b"a\r\n\nb"[..]);
    assert_eq!(src.next_line().unwrap(), Some((1, &b"a"[..])));
    assert_eq!(src.next_line().unwrap(), Some((2, &b""[..])));
    assert_eq!(src.next_line().unwrap(), Some((3, &b"b"[..])));
    assert_eq!(src.next_line().unwrap(), None);
    assert_eq!(src.bytes_read(), 5);
}

#[test]
fn a_missing_file_says_which() {
    let err = LineSource::open(Path::new("/nonexistent/events.jsonl"))
        .err()
        .unwrap();
    assert!(
        err.to_string().contains("/nonexistent/events.jsonl"),
        "{err}"
    );
}

#[test]
fn a_last_line_without_its_line_end_says_so() {
    let mut src = LineSource::from(&b"a\r\nb"[..]);
    let line = src.read_line().unwrap().unwrap();
    assert_eq!((line.number, line.bytes, line.ended), (1, &b"a"[..], true));
    let line = src.read_line().unwrap().unwrap();
    assert_eq!((line.number, line.bytes, line.ended), (2, &b"b"[..], false));
    assert_eq!(src.read_line().unwrap(), None);
}

/// A UTF-8 byte order mark before the first line rejected that line (issue 12, item 10); one
/// elsewhere is data, left as it is.
#[test]
fn a_byte_order_mark_before_the_first_line_is_not_part_of_it() {
    let mut src = LineSource::from(&b"\xEF\xBB\xBF{\"a\":1}\n\xEF\xBB\xBFb\n"[..]);
    assert_eq!(src.next_line().unwrap(), Some((1, &b"{\"a\":1}"[..])));
    assert_eq!(src.next_line().unwrap(), Some((2, &b"\xEF\xBB\xBFb"[..])));
}
