use super::*;
use crate::ledger::RejectReason;
use crate::sources::file::LineSource;

const WALL: Millis = 1_800_000_000_000;

fn run(text: &'static str) -> Report {
    let src = FileSource::new(LineSource::from(text.as_bytes()), "-", Box::new(|_| {}));
    run_source(src)
}

fn run_source(src: FileSource) -> Report {
    let stop = tokio_util::sync::CancellationToken::new();
    let keep = Keep {
        rejections: 10,
        intervals: true,
    };
    let replayed = replay(src, Arc::new(EngineSettings::default()), WALL, keep, &stop);
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
        .block_on(replayed)
        .unwrap()
}

/// An offer, a line that is not JSON, a blank line, an answer without its offer, an unknown
/// type and the offer again.
const MIXED: &str = concat!(
    r#"{"event_id":"1","ts":1767603600000,"type":"offered","call_id":"c1","queue_id":"q"}"#,
    "\n",
    "not json\n",
    "\n",
    r#"{"event_id":"2","ts":1767603601000,"type":"answered","call_id":"c9","queue_id":"q","agent_id":"a"}"#,
    "\n",
    r#"{"event_id":"3","ts":1767603602000,"type":"teleported","call_id":"c1","queue_id":"q"}"#,
    "\n",
    r#"{"event_id":"1","ts":1767603600000,"type":"offered","call_id":"c1","queue_id":"q"}"#,
    "\n",
);

#[test]
fn bad_lines_are_reported_with_their_line_numbers_and_the_ledger_balances() {
    let report = run(MIXED);
    let l = report.ledger;
    assert_eq!(
        (
            l.consumed,
            l.applied,
            l.duplicate,
            l.late,
            l.rejected,
            l.pending
        ),
        (5, 1, 1, 0, 3, 0)
    );
    let lines: Vec<(u64, RejectReason)> = report
        .rejections
        .iter()
        .map(|r| (r.origin.position as u64, r.reason))
        .collect();
    assert_eq!(
        lines,
        vec![
            (2, RejectReason::Malformed),
            (4, RejectReason::NoOffer),
            (5, RejectReason::UnknownType)
        ]
    );
    assert_eq!(report.blank_lines, 1);
    let text = render_table(&report, "today");
    assert!(
        text.contains("consumed 5 = applied 1 + duplicate 1 + late 0 + rejected 3"),
        "{text}"
    );
    assert!(text.contains("line 4: no_offer"), "{text}");
}

/// Lines decoded on a thread of their own (`replay`'s way) reach the engine exactly as lines
/// decoded on the pipeline's: the same ledger, rejections with their line numbers and
/// messages, blank lines, KPIs and intervals, on a file with a byte order mark, bad and blank
/// lines, an id over `max_id_bytes`, a duplicate and a last line without its line end; and
/// over more lines than one hand-over holds.
#[test]
fn lines_decoded_ahead_give_the_same_report() {
    let mut text = String::from("\u{FEFF}");
    text.push_str(MIXED);
    text.push_str("   \t\n");
    text.push_str(&format!(
        r#"{{"event_id":"4","ts":1767603603000,"type":"offered","call_id":"{}","queue_id":"q"}}"#,
        "c".repeat(300)
    ));
    text.push('\n');
    for i in 0..3000 {
        let ts = 1_767_603_610_000_i64 + i * 1000;
        text.push_str(&format!(
            "{{\"event_id\":\"o{i}\",\"ts\":{ts},\"type\":\"offered\",\"call_id\":\"k{i}\",\
             \"queue_id\":\"q{}\"}}\n",
            i % 3
        ));
        if i % 2 == 0 {
            text.push_str(&format!(
                "{{\"event_id\":\"a{i}\",\"ts\":{},\"type\":\"abandoned\",\"call_id\":\"k{i}\",\
                 \"queue_id\":\"q{}\"}}\n",
                ts + 4000,
                i % 3
            ));
        }
    }
    text.push_str(
        r#"{"event_id":"5","ts":1767607000000,"type":"offered","call_id":"c5","queue_id":"q"}"#,
    );
    let text: &'static str = text.leak();
    let inline = run(text);
    let settings = EngineSettings::default();
    let ahead = FileSource::new(LineSource::from(text.as_bytes()), "-", Box::new(|_| {}))
        .decode_ahead(settings.max_id_bytes)
        .unwrap();
    let ahead = run_source(ahead);
    // 4,507 events: the first offer, 4,500 of the loop and the last line applied; the first
    // offer again a duplicate; not JSON, an answer without its offer, an unknown type and the
    // 300-byte call id rejected.
    let l = inline.ledger;
    assert_eq!(
        (l.consumed, l.applied, l.duplicate, l.rejected),
        (4507, 4502, 1, 4)
    );
    assert_eq!(inline.blank_lines, 2);
    assert_eq!(inline.rejections.len(), 4, "{:?}", inline.rejections);
    assert_eq!(
        format!("{:?}", ahead.ledger),
        format!("{:?}", inline.ledger)
    );
    assert_eq!(ahead.rejections, inline.rejections);
    assert_eq!(ahead.blank_lines, inline.blank_lines);
    assert_eq!(ahead.snapshots, inline.snapshots);
    // In the order the queues closed them, which follows the engine's map of queues.
    let sorted = |r: &Report| {
        let mut intervals = r.intervals.clone();
        intervals.sort_by(|a, b| (&a.queue_id, a.start).cmp(&(&b.queue_id, b.start)));
        intervals
    };
    assert_eq!(sorted(&ahead), sorted(&inline));
}
