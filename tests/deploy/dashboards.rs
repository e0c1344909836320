//! The dashboards' structure: uids, ids, the datasource variable, variables, links, the
//! wallboard's layout on a 1080-pixel TV and its thresholds, the operations dashboard's heap
//! model, and Grafana's provisioning.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::common::grafana::{all_panels, strings, title, var_refs, variables};
use crate::{boards, fail_all, readme_memory_figures, report, yaml, DASHBOARDS, WALLBOARD};

/// The datasource template variable every query goes through.
const DS_VAR: &str = "DS_PROMETHEUS";
/// Grafana's grid is 24 columns wide; a height unit is 30 px plus an 8 px gap, so a
/// 1920×1080 TV in kiosk mode (no header, no variable bar) shows (1080 + 8) / 38 = 28 units.
const GRID_COLUMNS: i64 = 24;
const TV_ROWS: i64 = (1080 + 8) / 38;
/// One TV shows up to this many queues (the demo's four): a floor with more selects its queues
/// per TV (`?var-queue=…`), which the wallboard's description says.
const QUEUES_PER_TV: i64 = 4;

#[test]
fn dashboards_are_well_formed() {
    let boards = boards();
    let mut problems = Vec::new();
    let mut uids = BTreeSet::new();
    for b in &boards {
        let d = &b.json;
        let f = b.file;
        let expected_uid = DASHBOARDS.iter().find(|(n, _)| *n == f).unwrap().1;
        let uid = d["uid"].as_str().unwrap_or_default();
        if uid != expected_uid {
            problems.push(format!(
                "{f}: uid {uid:?}, expected the stable {expected_uid:?}"
            ));
        }
        if !uids.insert(uid.to_string()) {
            problems.push(format!("{f}: uid {uid} used twice"));
        }
        if d["title"].as_str().unwrap_or_default().is_empty() {
            problems.push(format!("{f}: no title"));
        }
        if d["id"].is_number() {
            problems.push(format!(
                "{f}: a numeric id (instance-specific) must not be provisioned"
            ));
        }

        // The datasource variable, and every query going through it.
        let vars = variables(d);
        let names: BTreeSet<&str> = vars.iter().filter_map(|v| v["name"].as_str()).collect();
        match vars.iter().find(|v| v["name"] == DS_VAR) {
            Some(v) if v["type"] == "datasource" && v["query"] == "prometheus" => {}
            _ => problems.push(format!(
                "{f}: no datasource variable {DS_VAR} of type prometheus"
            )),
        }
        let ds_ok = |ds: &Value| {
            ds["uid"] == format!("${{{DS_VAR}}}")
                && (ds["type"].is_null() || ds["type"] == "prometheus")
        };
        let mut ids = BTreeSet::new();
        for p in all_panels(d) {
            let t = title(p);
            match p["id"].as_i64() {
                Some(id) if ids.insert(id) => {}
                Some(id) => problems.push(format!("{f}: panel id {id} used twice ('{t}')")),
                None => problems.push(format!("{f}: panel '{t}' has no id")),
            }
            if p["type"] == "row" {
                continue;
            }
            if !ds_ok(&p["datasource"]) {
                problems.push(format!(
                    "{f}: panel '{t}' datasource {} is not ${{{DS_VAR}}}",
                    p["datasource"]
                ));
            }
            let targets = p["targets"].as_array().cloned().unwrap_or_default();
            if targets.is_empty() {
                problems.push(format!("{f}: panel '{t}' has no query"));
            }
            for tg in &targets {
                if !tg["datasource"].is_null() && !ds_ok(&tg["datasource"]) {
                    problems.push(format!(
                        "{f}: panel '{t}' query {} datasource {}",
                        tg["refId"], tg["datasource"]
                    ));
                }
                if tg["expr"].as_str().unwrap_or_default().trim().is_empty() {
                    problems.push(format!(
                        "{f}: panel '{t}' query {} has no expr",
                        tg["refId"]
                    ));
                }
            }
            let refs: Vec<&str> = targets.iter().filter_map(|t| t["refId"].as_str()).collect();
            let unique: BTreeSet<&str> = refs.iter().copied().collect();
            if unique.len() != refs.len() {
                problems.push(format!("{f}: panel '{t}' repeats a refId"));
            }
        }
        for v in &vars {
            if v["type"] == "query" && !ds_ok(&v["datasource"]) {
                problems.push(format!(
                    "{f}: variable {} datasource {}",
                    v["name"], v["datasource"]
                ));
            }
        }
        for a in d["annotations"]["list"].as_array().into_iter().flatten() {
            if a["builtIn"] != 1 && !ds_ok(&a["datasource"]) {
                problems.push(format!(
                    "{f}: annotation {} datasource {}",
                    a["name"], a["datasource"]
                ));
            }
        }

        // Every variable used is defined (Grafana's own start with "__").
        let mut texts = Vec::new();
        strings(d, &mut texts);
        for s in texts {
            for name in var_refs(s) {
                if !name.starts_with("__") && !names.contains(name.as_str()) {
                    problems.push(format!("{f}: ${name} is used ({s:?}) but not defined"));
                }
            }
        }
        for p in all_panels(d) {
            if let Some(r) = p["repeat"].as_str() {
                let v = vars.iter().find(|v| v["name"] == r);
                if !v.is_some_and(|v| v["multi"] == true || v["includeAll"] == true) {
                    problems.push(format!(
                        "{f}: '{}' repeats over ${r}, which is not a multi-value variable",
                        title(p)
                    ));
                }
            }
        }

        // Layout: inside the 24 columns, no overlaps.
        let rects: Vec<(String, i64, i64, i64, i64)> = all_panels(d)
            .iter()
            .map(|p| {
                let g = &p["gridPos"];
                let n = |k: &str| g[k].as_i64().unwrap_or(-1);
                (title(p), n("x"), n("y"), n("w"), n("h"))
            })
            .collect();
        for (t, x, y, w, h) in &rects {
            if *x < 0 || *y < 0 || *w <= 0 || *h <= 0 || x + w > GRID_COLUMNS {
                problems.push(format!(
                    "{f}: panel '{t}' gridPos x={x} y={y} w={w} h={h} is off the 24-column grid"
                ));
            }
        }
        for (i, a) in rects.iter().enumerate() {
            for b2 in &rects[i + 1..] {
                let overlap =
                    a.1 < b2.1 + b2.3 && b2.1 < a.1 + a.3 && a.2 < b2.2 + b2.4 && b2.2 < a.2 + a.4;
                if overlap {
                    problems.push(format!("{f}: panels '{}' and '{}' overlap", a.0, b2.0));
                }
            }
        }

        // Thresholds follow the seed targets wherever a KPI with a target is shown.
        for p in all_panels(d) {
            if p["type"] == "row" {
                continue;
            }
            let exprs: String = p["targets"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|t| t["expr"].as_str())
                .collect::<Vec<_>>()
                .join(" ");
            let steps: Vec<f64> = p["fieldConfig"]["defaults"]["thresholds"]["steps"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|s| s["value"].as_f64())
                .collect();
            let has = |x: f64| steps.iter().any(|s| (s - x).abs() < 1e-9);
            let rule = if exprs.contains("acd_service_level_target_ratio") && p["type"] == "stat" {
                Some(("SL minus target", 0.0))
            } else if exprs.contains("acd_service_level_ratio") {
                Some(("SL target 80 %", 0.8))
            } else if exprs.contains("acd_asa_seconds") {
                Some(("ASA target 20 s", 20.0))
            } else if exprs.contains("acd_abandon_ratio") {
                Some(("abandon target 5 %", 0.05))
            } else if exprs.contains("acd_rings_per_answer") {
                Some(("rings per answer target 2", 2.0))
            } else if exprs.contains("acd_not_ready_ratio") {
                Some(("not-ready target 6 %", 0.06))
            } else {
                None
            };
            if let Some((what, x)) = rule {
                if !has(x) {
                    problems.push(format!("{f}: panel '{}' shows a KPI with a target but has no threshold step at {x} ({what}); steps {steps:?}", title(p)));
                }
            }
        }
    }

    // The wallboard: every stat coloured by thresholds, and it fits the TV.
    let floor = &boards.iter().find(|b| b.file == WALLBOARD).unwrap().json;
    for p in all_panels(floor) {
        if p["type"] == "row" {
            continue;
        }
        let t = title(p);
        if p["type"] != "stat" {
            problems.push(format!(
                "{WALLBOARD}: '{t}' is a {}, a wallboard shows large stat panels",
                p["type"]
            ));
            continue;
        }
        let defaults = &p["fieldConfig"]["defaults"];
        if defaults["thresholds"]["steps"]
            .as_array()
            .is_none_or(|s| s.is_empty())
        {
            problems.push(format!("{WALLBOARD}: stat '{t}' has no thresholds"));
        }
        if defaults["color"]["mode"] != "thresholds" {
            problems.push(format!(
                "{WALLBOARD}: stat '{t}' is not coloured by its thresholds"
            ));
        }
        let valued = defaults["thresholds"]["steps"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|s| s["value"].is_number())
            .count()
            + p["fieldConfig"]["overrides"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|o| o.to_string().contains("\"thresholds\""))
                .count();
        let counts = ["Offered today", "Answered today", "Abandoned today"];
        if valued == 0 && !counts.contains(&t.as_str()) {
            problems.push(format!(
                "{WALLBOARD}: stat '{t}' has only a base colour; it should turn amber/red"
            ));
        }
        if p["gridPos"]["h"].as_i64().unwrap_or(0) < 3 {
            problems.push(format!(
                "{WALLBOARD}: stat '{t}' is under 3 units high: unreadable across a room"
            ));
        }
    }
    let (height, repeated) = wallboard_height(floor, QUEUES_PER_TV);
    if height > TV_ROWS {
        problems.push(format!(
            "{WALLBOARD}: {height} grid units high with {QUEUES_PER_TV} queues (a repeated strip is {repeated}); a 1080-pixel TV shows {TV_ROWS}"
        ));
    }
    report(&format!(
        "wallboard layout: {height} of {TV_ROWS} grid units with {QUEUES_PER_TV} queues (one queue strip: {repeated} units), 24 columns\n"
    ));

    // The operations dashboard's heap model uses the README's current figures.
    let (per_queue, per_call, per_id) = readme_memory_figures();
    let ops = &boards
        .iter()
        .find(|b| b.file == "operations.json")
        .unwrap()
        .json;
    let heap = all_panels(ops)
        .into_iter()
        .find(|p| title(p).starts_with("Engine heap"))
        .map(|p| {
            p["targets"][0]["expr"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .unwrap_or_default();
    for factor in [
        format!("* {}", per_queue.round()),
        format!("* {per_call}"),
        format!("* {per_id}"),
    ] {
        if !heap.contains(&factor) {
            problems.push(format!(
                "operations.json: the estimated heap must use the README's figures ({factor}): {heap}"
            ));
        }
    }

    // Provisioning: the datasource the variable defaults to, and the provider path.
    let ds = yaml("grafana/provisioning/datasources/acdstream.yml");
    let prom_ds: Vec<&Value> = ds["datasources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["type"] == "prometheus")
        .collect();
    if prom_ds.len() != 1 || prom_ds[0]["isDefault"] != true {
        problems.push(
            "grafana/provisioning/datasources: exactly one Prometheus datasource, the default"
                .into(),
        );
    }
    let providers = yaml("grafana/provisioning/dashboards/acdstream.yml");
    if providers["providers"][0]["options"]["path"]
        .as_str()
        .is_none()
    {
        problems.push("grafana/provisioning/dashboards: the provider has no path".into());
    }
    fail_all("dashboards", &problems);
}

/// Height of the wallboard in grid units with `queues` strips of its repeated row, and the
/// height of one strip.
fn wallboard_height(board: &Value, queues: i64) -> (i64, i64) {
    let panels: Vec<&Value> = board["panels"].as_array().unwrap().iter().collect();
    let bottom =
        |p: &Value| p["gridPos"]["y"].as_i64().unwrap() + p["gridPos"]["h"].as_i64().unwrap();
    let total = panels.iter().map(|p| bottom(p)).max().unwrap_or(0);
    let mut repeated = 0;
    for (i, p) in panels.iter().enumerate() {
        if p["type"] == "row" && p["repeat"].is_string() {
            let start = p["gridPos"]["y"].as_i64().unwrap();
            let end = panels[i + 1..]
                .iter()
                .take_while(|q| q["type"] != "row")
                .map(|q| bottom(q))
                .max()
                .unwrap_or(start + 1);
            repeated += end - start;
        }
    }
    (total + (queues - 1) * repeated, repeated)
}
