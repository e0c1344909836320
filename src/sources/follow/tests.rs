use std::fs::OpenOptions;
use std::io::Write;

use super::*;
use crate::sources::Input;

/// A scratch file for one test, with `text` in it.
fn file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("acdstream-follow-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn append(path: &Path, text: &str) {
    let mut f = OpenOptions::new().append(true).open(path).unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

fn follow(path: &Path, format: LineFormat) -> FollowSource {
    FollowSource::open(path, format, QueueLogSettings::default()).unwrap()
}

/// What one drain hands on: lines as `position text`, the rest by name.
fn drain(source: &mut FollowSource) -> Vec<String> {
    let mut out = Vec::new();
    source.drain(1024, &mut |input| {
        out.push(match input {
            Input::Encoded {
                origin, payload, ..
            } => format!("{} {}", origin.position, String::from_utf8_lossy(payload)),
            Input::Rejected { origin, reason, .. } => {
                format!("{} rejected {}", origin.position, reason.label())
            }
            Input::Ignored { origin, reason } => format!("{} ignored {reason}", origin.position),
            Input::Assigned(a) => format!("assigned {}", a[0].partition),
            Input::CaughtUp(p) => format!("caught up {p}"),
            Input::Blank => "blank".into(),
            _ => "other".into(),
        })
    });
    out
}

#[test]
fn the_backlog_is_read_then_appended_lines_once_each() {
    let path = file("appended", "a\nb\n");
    let mut source = follow(&path, LineFormat::Json);
    assert_eq!(
        drain(&mut source),
        ["assigned 0", "1 a", "2 b", "caught up 0"]
    );
    assert!(drain(&mut source).is_empty());
    append(&path, "c\n");
    assert_eq!(drain(&mut source), ["3 c"]);
    assert!(drain(&mut source).is_empty());
}

/// The backlog is the file as it was when opened: lines written since are live.
#[test]
fn the_backlog_ends_at_the_size_at_start() {
    let path = file("grows", "a\nb\n");
    let mut source = follow(&path, LineFormat::Json);
    append(&path, "c\n");
    assert_eq!(
        drain(&mut source),
        ["assigned 0", "1 a", "2 b", "caught up 0", "3 c"]
    );
}

#[test]
fn a_half_written_line_waits_for_its_line_end() {
    let path = file("partial", "a\nhal");
    let mut source = follow(&path, LineFormat::Json);
    // The half line is no backlog to wait for.
    assert_eq!(drain(&mut source), ["assigned 0", "1 a", "caught up 0"]);
    append(&path, "f");
    assert!(drain(&mut source).is_empty());
    append(&path, "\r\nb\n");
    assert_eq!(drain(&mut source), ["2 half", "3 b"]);
}

#[test]
fn a_truncated_file_is_read_again_from_its_start() {
    let path = file("truncated", "a\nb\n");
    let mut source = follow(&path, LineFormat::Json);
    drain(&mut source);
    // copytruncate: the file is emptied in place, then written on.
    OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(0)
        .unwrap();
    append(&path, "c\n");
    assert_eq!(drain(&mut source), ["3 c"]);
    append(&path, "d\n");
    assert_eq!(drain(&mut source), ["4 d"]);
}

#[test]
fn a_rotated_file_is_read_to_its_end_then_the_new_one_from_its_start() {
    let path = file("rotated", "a\n");
    let mut source = follow(&path, LineFormat::Json);
    drain(&mut source);
    append(&path, "b\n");
    let old = path.with_extension("1");
    std::fs::rename(&path, &old).unwrap();
    std::fs::write(&path, "c\n").unwrap();
    // Written to the old file before the writer reopened the path.
    append(&old, "d\n");
    assert_eq!(drain(&mut source), ["2 b", "3 d", "4 c"]);
    append(&path, "e\n");
    append(&old, "never read\n");
    assert_eq!(drain(&mut source), ["5 e"]);
}

/// The line a rotation cut off never gets its end: a queue_log line is then rejected, never
/// read half-written.
#[test]
fn a_line_cut_off_by_a_rotation_is_rejected_as_truncated() {
    let path = file(
        "cut",
        "1767607201|NONE|NONE|NONE|CONFIGRELOAD|\n1767607205|c1|sal",
    );
    let mut source = follow(&path, LineFormat::AsteriskQueueLog);
    assert_eq!(
        drain(&mut source),
        ["assigned 0", "1 ignored not_a_call_event", "caught up 0"]
    );
    std::fs::rename(&path, path.with_extension("1")).unwrap();
    std::fs::write(&path, "1767607206|NONE|NONE|NONE|CONFIGRELOAD|\n").unwrap();
    assert_eq!(
        drain(&mut source),
        ["2 rejected truncated", "3 ignored not_a_call_event"]
    );
}

/// The pipeline drops `wait` whenever a timer comes first: the next look still comes one
/// poll after the last, not one poll after the last timer.
#[tokio::test(start_paused = true)]
async fn a_dropped_wait_does_not_delay_the_next_look() {
    let path = file("waits", "a\n");
    let mut source = follow(&path, LineFormat::Json).with_poll(Duration::from_millis(300));
    assert!(source.wait().await);
    drain(&mut source);
    let looked = Instant::now();
    for _ in 0..2 {
        let early = tokio::time::timeout(Duration::from_millis(100), source.wait()).await;
        assert!(early.is_err(), "looked again before the poll interval");
    }
    assert!(source.wait().await);
    assert_eq!(looked.elapsed(), Duration::from_millis(300));
    source.stop();
    assert!(!source.wait().await);
}
