//! Grafana dashboards as data for tests: loading them, their panels, variables and PromQL
//! queries, Grafana's variable substitution, and a text rendering of stat panels (value as
//! Grafana formats it, colour from the thresholds) from a real Prometheus.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;

use super::alerting::{value, Prometheus};

/// A dashboard file and its JSON.
pub struct Board {
    pub file: &'static str,
    pub json: Value,
}

/// The dashboards `files` of `dir`; panics unless `dir` holds exactly those JSON files, so that
/// a new dashboard cannot escape the checks.
pub fn load(dir: &Path, files: &[&'static str]) -> Vec<Board> {
    let on_disk: BTreeSet<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".json"))
        .collect();
    let known: BTreeSet<String> = files.iter().map(|f| f.to_string()).collect();
    assert_eq!(
        on_disk,
        known,
        "{} holds exactly the dashboards the test knows (add new ones to its list)",
        dir.display()
    );
    files
        .iter()
        .map(|file| {
            let text =
                std::fs::read_to_string(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
            Board {
                file,
                json: serde_json::from_str(&text)
                    .unwrap_or_else(|e| panic!("{file} is not JSON: {e}")),
            }
        })
        .collect()
}

/// Every panel, including those nested in collapsed rows.
pub fn all_panels(board: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for p in board["panels"].as_array().into_iter().flatten() {
        out.push(p);
        for nested in p["panels"].as_array().into_iter().flatten() {
            out.push(nested);
        }
    }
    out
}

pub fn variables(board: &Value) -> Vec<&Value> {
    board["templating"]["list"]
        .as_array()
        .map(|l| l.iter().collect())
        .unwrap_or_default()
}

pub fn title(panel: &Value) -> String {
    panel["title"].as_str().unwrap_or("(untitled)").to_string()
}

/// Variable references in a string: `$name`, `${name}`, `${name:format}`, `[[name]]`.
pub fn var_refs(s: &str) -> Vec<String> {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find(['$', '[']) {
        let tail = &rest[i..];
        if let Some(body) = tail.strip_prefix("${") {
            if let Some(end) = body.find('}') {
                out.push(body[..end].split(':').next().unwrap().to_string());
                rest = &body[end..];
                continue;
            }
        } else if let Some(body) = tail.strip_prefix('$') {
            let name: String = body.chars().take_while(|c| ident(*c)).collect();
            if !name.is_empty() {
                out.push(name.clone());
            }
            rest = &body[name.len()..];
            continue;
        } else if let Some(body) = tail.strip_prefix("[[") {
            if let Some(end) = body.find("]]") {
                let name = body[..end].split(':').next().unwrap();
                if !name.is_empty() && name.chars().all(ident) {
                    out.push(name.to_string());
                }
                rest = &body[end..];
                continue;
            }
        }
        rest = &tail[1..];
    }
    out
}

pub fn strings<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::String(s) => out.push(s),
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(o) => o.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

#[derive(Clone, Debug)]
pub enum Kind {
    Panel,
    Variable,
    Annotation,
}

/// One PromQL expression of a dashboard and where it is.
#[derive(Clone, Debug)]
pub struct Query {
    pub board: &'static str,
    pub place: String,
    pub kind: Kind,
    pub expr: String,
}

pub fn queries(b: &Board) -> Vec<Query> {
    let mut out = Vec::new();
    for p in all_panels(&b.json) {
        for t in p["targets"].as_array().into_iter().flatten() {
            if let Some(expr) = t["expr"].as_str() {
                out.push(Query {
                    board: b.file,
                    place: format!("panel '{}' {}", title(p), t["refId"].as_str().unwrap_or("")),
                    kind: Kind::Panel,
                    expr: expr.to_string(),
                });
            }
        }
    }
    for v in variables(&b.json) {
        if v["type"] == "query" {
            let q = v["query"]["query"]
                .as_str()
                .or(v["query"].as_str())
                .or(v["definition"].as_str())
                .unwrap_or_default();
            out.push(Query {
                board: b.file,
                place: format!("variable ${}", v["name"].as_str().unwrap_or("")),
                kind: Kind::Variable,
                expr: q.to_string(),
            });
        }
    }
    for a in b.json["annotations"]["list"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if let Some(expr) = a["expr"].as_str() {
            out.push(Query {
                board: b.file,
                place: format!("annotation '{}'", a["name"].as_str().unwrap_or("")),
                kind: Kind::Annotation,
                expr: expr.to_string(),
            });
        }
    }
    out
}

/// Grafana's variable functions as PromQL: `label_values(m, l)` → `group by (l) (m)`.
pub fn variable_promql(q: &str) -> String {
    let q = q.trim();
    if let Some(args) = q
        .strip_prefix("label_values(")
        .and_then(|r| r.strip_suffix(')'))
    {
        return match args.rsplit_once(',') {
            Some((metric, label)) => format!("group by ({}) ({})", label.trim(), metric.trim()),
            None => format!("group by ({}) ({{__name__=~\".+\"}})", args.trim()),
        };
    }
    if let Some(expr) = q
        .strip_prefix("query_result(")
        .and_then(|r| r.strip_suffix(')'))
    {
        return expr.to_string();
    }
    q.to_string()
}

/// Replaces Grafana's built-in and the dashboard's variables with concrete values. Built-ins
/// fit the test's 1 s scrape interval: `$__rate_interval` is Grafana's max(4 × scrape, …).
pub fn substitute(expr: &str, vars: &BTreeMap<String, String>) -> String {
    let mut all: Vec<(String, String)> = [
        ("__rate_interval", "10s"),
        ("__interval", "2s"),
        ("__range", "1m"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .chain(vars.iter().map(|(k, v)| (k.clone(), v.clone())))
    .collect();
    // Longest names first, so that `$queue_x` is not read as `$queue` + `_x`.
    all.sort_by_key(|(k, _)| std::cmp::Reverse(k.len()));
    let mut out = expr.to_string();
    for (k, v) in &all {
        out = out
            .replace(&format!("${{{k}}}"), v)
            .replace(&format!("[[{k}]]"), v)
            .replace(&format!("${k}"), v);
    }
    out
}

/// The wallboard as text: per strip (a repeated row once per queue), each panel's values with
/// their display text and threshold colour, from instant queries now.
pub fn render_wallboard(prom: &Prometheus, floor: &Value, queues: &BTreeSet<String>) -> String {
    let all = format!("({})", queues.iter().cloned().collect::<Vec<_>>().join("|"));
    let mut out = format!(
        "\n{} ({}), as the TV shows it now (values from Prometheus; [colour] from the thresholds):\n",
        floor["title"].as_str().unwrap(),
        floor["uid"].as_str().unwrap()
    );
    let panels: Vec<&Value> = floor["panels"].as_array().unwrap().iter().collect();
    let mut i = 0;
    while i < panels.len() {
        let row = panels[i];
        let members: Vec<&Value> = panels[i + 1..]
            .iter()
            .take_while(|p| p["type"] != "row")
            .copied()
            .collect();
        i += 1 + members.len();
        let strips: Vec<(String, String)> = if row["repeat"].is_string() {
            queues
                .iter()
                .map(|q| (format!("── {q} "), q.clone()))
                .collect()
        } else {
            vec![(
                format!("── {} ", row["title"].as_str().unwrap_or("")),
                all.clone(),
            )]
        };
        for (heading, queue) in strips {
            out.push_str(&format!(
                "{heading}{}\n",
                "─".repeat(60usize.saturating_sub(heading.chars().count()))
            ));
            let vars: BTreeMap<String, String> =
                [("queue".to_string(), queue)].into_iter().collect();
            for p in &members {
                out.push_str(&format!(
                    "  {:<18} {}\n",
                    title(p),
                    panel_text(prom, p, &vars)
                ));
            }
        }
    }
    out
}

/// "value [colour]" for every series of every query of a stat panel.
pub fn panel_text(prom: &Prometheus, p: &Value, vars: &BTreeMap<String, String>) -> String {
    let defaults = &p["fieldConfig"]["defaults"];
    let mut parts = Vec::new();
    for t in p["targets"].as_array().into_iter().flatten() {
        let expr = substitute(t["expr"].as_str().unwrap_or_default(), vars);
        let series = match prom.try_query(&expr) {
            Ok(s) => s,
            Err(e) => {
                parts.push(format!("error: {e}"));
                continue;
            }
        };
        if series.is_empty() {
            parts.push("no data".into());
        }
        // Field overrides of this query (by refId) over the panel defaults.
        let mut config = defaults.clone();
        for o in p["fieldConfig"]["overrides"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if o["matcher"]["id"] == "byFrameRefID" && o["matcher"]["options"] == t["refId"] {
                for prop in o["properties"].as_array().into_iter().flatten() {
                    if let Some(id) = prop["id"].as_str() {
                        config[id] = prop["value"].clone();
                    }
                }
            }
        }
        for s in series {
            let name = legend(t["legendFormat"].as_str().unwrap_or_default(), &s["metric"]);
            let v = value(&s);
            let text = display(v, &config);
            let colour = colour(v, &config);
            let name = if name.is_empty() {
                String::new()
            } else {
                format!("{name} ")
            };
            parts.push(format!("{name}{text} [{colour}]"));
        }
    }
    parts.join(" · ")
}

pub fn legend(format: &str, labels: &Value) -> String {
    let mut out = format.to_string();
    while let Some(start) = out.find("{{") {
        let Some(len) = out[start..].find("}}") else {
            break;
        };
        let key = out[start + 2..start + len].trim().to_string();
        let value = labels[&key].as_str().unwrap_or("").to_string();
        out.replace_range(start..start + len + 2, &value);
    }
    out
}

/// The value as Grafana formats it (the units the dashboards use), after value mappings.
pub fn display(v: f64, config: &Value) -> String {
    for m in config["mappings"].as_array().into_iter().flatten() {
        match m["type"].as_str() {
            Some("value") => {
                for (k, r) in m["options"].as_object().into_iter().flatten() {
                    if k.parse::<f64>().is_ok_and(|k| k == v) {
                        return r["text"].as_str().unwrap_or_default().to_string();
                    }
                }
            }
            Some("special") if v.is_nan() && m["options"]["match"] == "nan" => {
                return m["options"]["result"]["text"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
            }
            _ => {}
        }
    }
    if v.is_nan() {
        return "NaN".into();
    }
    let decimals = config["decimals"].as_u64().map(|d| d as usize);
    match config["unit"].as_str().unwrap_or("none") {
        "percentunit" => format!("{:.*}%", decimals.unwrap_or(1), v * 100.0),
        "s" if v.is_infinite() => "∞".into(),
        "s" if v.abs() < 60.0 => format!("{:.*} s", decimals.unwrap_or(1), v),
        "s" if v.abs() < 3600.0 => format!("{:.1} min", v / 60.0),
        "s" => format!("{:.1} hour", v / 3600.0),
        "bytes" => format!("{:.1} MiB", v / 1_048_576.0),
        _ => format!(
            "{:.*}",
            decimals.unwrap_or(if v.fract() == 0.0 { 0 } else { 2 }),
            v
        ),
    }
}

pub fn colour(v: f64, config: &Value) -> String {
    if config["color"]["mode"] == "fixed" {
        return config["color"]["fixedColor"]
            .as_str()
            .unwrap_or("fixed")
            .to_string();
    }
    let mut c = "";
    for s in config["thresholds"]["steps"]
        .as_array()
        .into_iter()
        .flatten()
    {
        match s["value"].as_f64() {
            None => c = s["color"].as_str().unwrap_or(""),
            Some(t) if v >= t => c = s["color"].as_str().unwrap_or(""),
            _ => {}
        }
    }
    match c {
        "#EAB839" => "amber".into(),
        other => other.to_string(),
    }
}
