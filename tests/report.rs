//! The day report (`acdstream replay --report FILE.html`) in a real browser: Debian's
//! `chromium`, headless. Its figures, read back from the rendered DOM, are those of `replay
//! --intervals` for the same file, its last interval and its day total those of `replay
//! --json`'s `interval` and `today` windows; it has its charts, with the surge episodes
//! shaded; it prints on A4.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::browser::{browse, chromium, dump_dom, elements, Element};
use common::scratch_dir;
use serde_json::Value;

fn acdstream() -> Command {
    Command::new(env!("CARGO_BIN_EXE_acdstream"))
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// `replay` of `file` with `args`: its standard output, one JSON value per line.
fn replay(file: &Path, args: &[&str]) -> Vec<Value> {
    let out = acdstream()
        .arg("replay")
        .arg(file)
        .args(args)
        .output()
        .expect("acdstream runs");
    assert!(
        out.status.success(),
        "replay failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// A table row of the report: its attributes and its cells' `data-kpi` → `data-value`.
struct Row {
    attrs: BTreeMap<String, String>,
    cells: BTreeMap<String, String>,
}

/// The report's table rows that carry figures (intervals, and day totals).
fn rows(dom: &[Element]) -> Vec<Row> {
    let mut out: Vec<Row> = Vec::new();
    let mut in_row = false;
    for e in dom {
        if e.attrs.contains_key("data-start") || e.attrs.contains_key("data-total") {
            out.push(Row {
                attrs: e.attrs.clone(),
                cells: BTreeMap::new(),
            });
            in_row = true;
        } else if let (true, Some(kpi), Some(value)) =
            (in_row, e.attrs.get("data-kpi"), e.attrs.get("data-value"))
        {
            out.last_mut()
                .unwrap()
                .cells
                .insert(kpi.clone(), value.clone());
        } else if e.attrs.contains_key("data-queue") || e.attrs.contains_key("data-day") {
            // A new section or summary row ends the row being read.
            in_row = false;
        }
    }
    out
}

/// Asserts that every figure of `row` is `kpis`' figure of the same name, exactly (`null`
/// where the KPI has nothing to divide by); returns how many were compared.
fn assert_same(row: &Row, kpis: &Value, what: &str) -> usize {
    assert!(!row.cells.is_empty(), "{what}: the row shows no figure");
    for (kpi, shown) in &row.cells {
        let expected = &kpis[kpi.as_str()];
        assert!(
            !expected.is_null() || shown == "null",
            "{what}: {kpi} shown {shown}, replay has none"
        );
        if !expected.is_null() {
            let shown: f64 = shown
                .parse()
                .unwrap_or_else(|_| panic!("{what}: {kpi} = {shown}"));
            assert_eq!(shown, expected.as_f64().unwrap(), "{what}: {kpi}");
        }
    }
    row.cells.len()
}

/// Writes the report of `file` (`args` for its settings) and checks it against `replay
/// --intervals` and `replay --json` of the same file; returns the rendered DOM.
fn check_report(browser: &Path, dir: &Path, file: &Path, args: &[&str]) -> Vec<Element> {
    let html = dir.join(format!(
        "{}.html",
        file.file_stem().unwrap().to_string_lossy()
    ));
    let report_arg = html.display().to_string();
    let mut with_report = args.to_vec();
    with_report.extend(["--intervals", "--report", &report_arg]);
    let intervals = replay(file, &with_report);
    let mut json = args.to_vec();
    json.push("--json");
    let snapshots: BTreeMap<String, Value> = replay(file, &json)
        .into_iter()
        .map(|s| (s["queue_id"].as_str().unwrap().to_string(), s))
        .collect();
    println!(
        "report: {} ({} bytes)",
        html.display(),
        std::fs::metadata(&html).unwrap().len()
    );

    let dom = elements(&dump_dom(
        browser,
        &dir.join("profile"),
        &format!("file://{}", html.display()),
        500,
    ));
    let rows = rows(&dom);
    let interval_rows: Vec<&Row> = rows
        .iter()
        .filter(|r| r.attrs.contains_key("data-start"))
        .collect();
    // Every interval replay closed is a row, with its figures.
    assert_eq!(interval_rows.len(), intervals.len(), "one row per interval");
    let mut compared = 0;
    for i in &intervals {
        let (queue, start) = (i["queue_id"].as_str().unwrap(), i["start"].to_string());
        let row = interval_rows
            .iter()
            .find(|r| r.attrs["data-queue"] == queue && r.attrs["data-start"] == start)
            .unwrap_or_else(|| panic!("no row for {queue} at {start}"));
        compared += assert_same(row, &i["kpis"], &format!("{queue} {start}"));
        assert_eq!(
            row.attrs.contains_key("data-partial"),
            i["partial"].as_bool().unwrap_or(false)
        );
    }
    // Each queue's last interval ends where the input did: the `interval` window at the end.
    for (queue, snapshot) in &snapshots {
        let last = intervals
            .iter()
            .filter(|i| i["queue_id"] == queue.as_str())
            .max_by_key(|i| i["start"].as_i64())
            .unwrap();
        assert_eq!(last["partial"], true, "{queue}");
        let start = last["start"].to_string();
        let row = interval_rows
            .iter()
            .find(|r| r.attrs["data-queue"] == *queue && r.attrs["data-start"] == start)
            .unwrap();
        compared += assert_same(
            row,
            &snapshot["windows"]["interval"],
            &format!("{queue} last interval"),
        );
    }
    println!("{compared} figures compared with replay --intervals and --json");
    dom
}

/// Sections of the report: (queue, day) → the elements from its heading to the next section.
fn sections(dom: &[Element]) -> BTreeMap<(String, String), &[Element]> {
    let starts: Vec<usize> = dom
        .iter()
        .enumerate()
        .filter(|(_, e)| e.attrs.get("class").map(String::as_str) == Some("queue"))
        .map(|(i, _)| i)
        .collect();
    starts
        .iter()
        .enumerate()
        .map(|(k, &i)| {
            let end = starts.get(k + 1).copied().unwrap_or(dom.len());
            let e = &dom[i];
            (
                (e.attrs["data-queue"].clone(), e.attrs["data-day"].clone()),
                &dom[i..end],
            )
        })
        .collect()
}

fn count_class(elements: &[Element], class: &str) -> usize {
    elements
        .iter()
        .filter(|e| e.attrs.get("class").map(String::as_str) == Some(class))
        .count()
}

/// The checked-in day (figures derived by hand in `tests/replay.rs`): the report's figures are
/// the replay's, its one day's total is `today` of the replay's snapshots.
#[test]
fn the_fixture_days_report_shows_the_replays_figures() {
    let Some(browser) = chromium() else { return };
    let dir = scratch_dir("report-fixture");
    let config = fixture("replay.toml").display().to_string();
    let file = fixture("day.jsonl");
    let dom = check_report(&browser, &dir, &file, &["--config", &config]);
    let json: BTreeMap<String, Value> = replay(&file, &["--config", &config, "--json"])
        .into_iter()
        .map(|s| (s["queue_id"].as_str().unwrap().to_string(), s))
        .collect();
    let sections = sections(&dom);
    assert_eq!(
        sections.keys().map(|(q, _)| q.as_str()).collect::<Vec<_>>(),
        ["sales", "support"]
    );
    for ((queue, day), section) in &sections {
        assert_eq!(day, "2026-01-05");
        let total = rows(section)
            .into_iter()
            .find(|r| r.attrs.contains_key("data-total"))
            .unwrap();
        assert_same(
            &total,
            &json[queue]["windows"]["today"],
            &format!("{queue} day total"),
        );
        assert_eq!(count_class(section, "chart"), 6, "{queue}: six charts");
    }
    // The hand-computed figures (tests/replay.rs): sales offered 8, answered 3, abandoned 2
    // (c3's short abandon aside), SL 2/7, ASA (7 + 20 + 30) / 3 = 19 s.
    let sales = rows(sections[&("sales".to_string(), "2026-01-05".to_string())]);
    let total = sales
        .iter()
        .find(|r| r.attrs.contains_key("data-total"))
        .unwrap();
    assert_eq!(
        (
            &total.cells["offered"][..],
            &total.cells["answered"][..],
            &total.cells["abandoned"][..]
        ),
        ("8", "3", "2")
    );
    let figure = |kpi: &str| total.cells[kpi].parse::<f64>().unwrap();
    assert_eq!(
        (figure("service_level"), figure("asa_seconds")),
        (2.0 / 7.0, 19.0)
    );
    // The ledger with the fixture's rejected lines.
    let ledger = dom
        .iter()
        .find(|e| e.attrs.get("id").map(String::as_str) == Some("ledger"))
        .unwrap();
    let consumed: u64 = ledger.attrs["data-consumed"].parse().unwrap();
    let parts: u64 = [
        "data-applied",
        "data-duplicate",
        "data-late",
        "data-rejected",
    ]
    .iter()
    .map(|k| ledger.attrs[*k].parse::<u64>().unwrap())
    .sum();
    assert_eq!((consumed, parts), (49, 49));
    assert!(dom.iter().any(|e| e.text.contains("missing_agent_id")));
}

/// Eight simulated hours of the demo's four queues, whose support queue surges in its first
/// half hour: charts with a bar per interval, surge episodes shaded, and an A4 print.
#[test]
fn a_simulated_days_report_has_its_charts_surges_and_prints_on_a4() {
    let Some(browser) = chromium() else { return };
    let dir = scratch_dir("report-simulated");
    let file = dir.join("day.jsonl");
    let status = acdstream()
        .args(["simulate", "--duration", "8h", "--seed", "7", "-o"])
        .arg(&file)
        .status()
        .unwrap();
    assert!(status.success());
    let dom = check_report(&browser, &dir, &file, &[]);
    let sections = sections(&dom);
    assert_eq!(sections.len(), 4, "{:?}", sections.keys());
    let mut shaded = 0;
    for ((queue, _), section) in &sections {
        let intervals = rows(section)
            .iter()
            .filter(|r| r.attrs.contains_key("data-start"))
            .count();
        assert_eq!(count_class(section, "chart"), 6, "{queue}");
        // The calls chart has a bar per interval for each of offered, answered, abandoned.
        assert_eq!(count_class(section, "c0 bar"), intervals, "{queue}");
        assert_eq!(count_class(section, "c2 bar"), intervals, "{queue}");
        shaded += count_class(section, "surge");
    }
    let episodes = dom
        .iter()
        .filter(|e| e.text == "responded" || e.text == "subsided")
        .count();
    assert!(
        shaded > 0 && episodes > 0,
        "surges shaded {shaded}, episodes listed {episodes}"
    );
    println!("surge bands drawn: {shaded}; episodes listed: {episodes}");

    let pdf = dir.join("day.pdf");
    browse(
        &browser,
        &dir.join("profile"),
        &[
            "--no-pdf-header-footer".to_string(),
            format!("--print-to-pdf={}", pdf.display()),
        ],
        &format!("file://{}", dir.join("day.html").display()),
    );
    let bytes = std::fs::read(&pdf).unwrap();
    assert!(bytes.starts_with(b"%PDF"));
    let text = String::from_utf8_lossy(&bytes);
    let boxes: Vec<&str> = text
        .match_indices("/MediaBox [")
        .map(|(i, _)| &text[i..i + 40])
        .collect();
    // Every page A4 (595 × 842 pt); each queue starts a page after the summary's.
    assert!(boxes.len() > sections.len(), "{} pages", boxes.len());
    for b in &boxes {
        let numbers: Vec<f64> = b["/MediaBox [".len()..]
            .split(']')
            .next()
            .unwrap()
            .split_whitespace()
            .map(|n| n.parse().unwrap())
            .collect();
        assert!(
            (numbers[2] - 595.0).abs() < 1.0 && (numbers[3] - 842.0).abs() < 1.0,
            "{b}"
        );
    }
    println!(
        "report printed: {} ({} A4 pages)",
        pdf.display(),
        boxes.len()
    );
}
