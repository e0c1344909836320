use super::*;

fn labels(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("{:02}:{:02}", 9 + i / 2, i % 2 * 30))
        .collect()
}

#[test]
fn y_axes_end_on_round_numbers() {
    let cases = [
        (0.0, 1.0),
        (1.0, 1.0),
        (3.0, 4.0),
        (7.0, 10.0),
        (21.0, 25.0),
        (180.0, 200.0),
    ];
    for (max, top) in cases {
        assert_eq!(nice_ceiling(max), top, "max {max}");
    }
    assert_eq!(nice_ceiling(f64::NAN), 1.0);
}

#[test]
fn each_value_is_one_mark_and_a_missing_value_breaks_the_line() {
    let l = labels(4);
    let chart = Chart {
        title: "Calls <per> interval",
        unit: Unit::Count,
        labels: &l,
        series: vec![
            Series {
                name: "offered",
                mark: Mark::Bars,
                values: vec![Some(3.0), Some(0.0), None, Some(8.0)],
            },
            Series {
                name: "ASA",
                mark: Mark::Line,
                values: vec![Some(1.0), Some(2.0), None, Some(4.0)],
            },
        ],
        target: Some(5.0),
        bands: &[(1, 3)],
    };
    let svg = chart.svg();
    // Three bars (a zero is a bar of no height; nothing is no bar), three points, and one
    // polyline: the run after the gap is a single point.
    assert_eq!(svg.matches(r#"class="c0 bar""#).count(), 3);
    assert_eq!(svg.matches(r#"class="c1 point""#).count(), 3);
    assert_eq!(svg.matches("<polyline").count(), 1);
    assert_eq!(svg.matches(r#"class="surge""#).count(), 1);
    assert_eq!(svg.matches(r#"class="target""#).count(), 1);
    // The axis reaches 10 (8 rounded up), so the bar of 8 is 80 % of the plot's height.
    assert!(svg.contains(">10</text>"), "{svg}");
    let plot_h = HEIGHT - TOP - BOTTOM;
    assert!(svg.contains(&format!(
        r#"height="{:.1}"><title>10:30 offered: 8"#,
        plot_h * 0.8
    )));
    assert!(svg.contains("Calls &lt;per&gt; interval") && !svg.contains("<per>"));
}

#[test]
fn a_percentage_axis_spans_0_to_100_percent_whatever_the_values() {
    let l = labels(2);
    let chart = Chart {
        title: "SL",
        unit: Unit::Percent,
        labels: &l,
        series: vec![Series {
            name: "SL",
            mark: Mark::Line,
            values: vec![Some(0.5), Some(0.25)],
        }],
        target: Some(0.8),
        bands: &[],
    };
    let svg = chart.svg();
    assert!(svg.contains(">100 %</text>") && svg.contains(">0 %</text>"));
    assert!(svg.contains("<title>target 80.0 %</title>"));
}
