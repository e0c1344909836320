use super::*;
use crate::ledger::RejectReason;
use crate::sources::file::LineSource;

const WALL: Millis = 1_800_000_000_000;

fn run(text: &'static str) -> Report {
    let src = FileSource::new(LineSource::from(text.as_bytes()), "-", Box::new(|_| {}));
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

#[test]
fn bad_lines_are_reported_with_their_line_numbers_and_the_ledger_balances() {
    let report = run(concat!(
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
    ));
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
