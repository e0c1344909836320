//! The alerting deploy files against the real tools (Debian's prometheus and
//! prometheus-alertmanager, installed by `scripts/test.sh`): the Prometheus rules pass
//! `promtool check` and their unit tests, the sample Alertmanager config passes `amtool` and
//! routes and inhibits as documented, and the harness that the end-to-end alert tests use
//! drives a real Alertmanager.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::{json, Value};

mod common;

use common::alerting::{amtool, promtool, Alertmanager, Prometheus, WebhookReceiver};
use common::{free_port, http_get, scratch_dir, wait_for};

const RULES: &str = "deploy/prometheus/rules/acdstream.rules.yml";
const RULES_TEST: &str = "deploy/prometheus/rules/acdstream.rules.test.yml";
const ALERTMANAGER_CONFIG: &str = "deploy/alertmanager/alertmanager.yml";

/// Every alert of the rules file and its severity.
const ALERTS: [(&str, &str); 13] = [
    ("SurgeResponseExceeded", "page"),
    ("ServiceLevelBelowTarget", "page"),
    ("AsaHigh", "ticket"),
    ("AbandonRateHigh", "ticket"),
    ("OldestWaitHigh", "page"),
    ("NotReadyHigh", "ticket"),
    ("RingsPerAnswerHigh", "ticket"),
    ("AcdstreamDown", "page"),
    ("SourceDown", "page"),
    ("SourceStalled", "page"),
    ("ConsumerLagHigh", "ticket"),
    ("RejectedEventsHigh", "ticket"),
    ("KpisStale", "page"),
];

/// Runs a tool and insists on success, showing its whole output otherwise.
fn succeeds(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn now() -> jiff::Timestamp {
    jiff::Timestamp::now()
}

fn time(v: &Value) -> jiff::Timestamp {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not a timestamp: {v}"))
}

#[test]
fn rules_pass_promtool_check_and_their_unit_tests() {
    let out = succeeds(Command::new(promtool()).args(["check", "rules", RULES]));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("SUCCESS: 13 rules found"), "{text}");
    let out = succeeds(Command::new(promtool()).args(["test", "rules", RULES_TEST]));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("SUCCESS"), "{text}");
}

#[test]
fn sample_alertmanager_config_is_valid_and_pages_only_page_alerts() {
    let out = succeeds(Command::new(amtool()).args(["check-config", ALERTMANAGER_CONFIG]));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("1 inhibit rules"), "{text}");
    assert!(text.contains("2 receivers"), "{text}");
    for (labels, receiver) in [
        (
            &["severity=page", "alertname=ServiceLevelBelowTarget"][..],
            "oncall-pager",
        ),
        (&["severity=page", "origin=acdstream"][..], "oncall-pager"),
        (&["severity=ticket", "alertname=AsaHigh"][..], "floor-team"),
        // Unlabelled or unknown severities must not wake anyone.
        (&["alertname=Other"][..], "floor-team"),
        (&["severity=critical"][..], "floor-team"),
    ] {
        let out = succeeds(
            Command::new(amtool())
                .args(["config", "routes", "test"])
                .arg(format!("--config.file={ALERTMANAGER_CONFIG}"))
                .args(labels),
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            receiver,
            "{labels:?}"
        );
    }
}

/// The direct path acdstream uses: a client POSTs to `/api/v2/alerts`, the webhook sees the
/// alert firing, then resolved once the client sends it again with `endsAt` = now.
#[test]
fn alertmanager_delivers_a_pushed_alert_firing_then_resolved() {
    let dir = scratch_dir("rules-push");
    let hook = WebhookReceiver::start();
    let am = Alertmanager::start(&dir, &hook.url());
    let labels = json!({
        "alertname": "SurgeResponseExceeded",
        "queue": "support",
        "severity": "page",
        "origin": "acdstream",
    });
    let annotations = json!({"summary": "Surge on support unanswered for 10m 5s"});
    let starts = now();
    let alert = |ends: jiff::Timestamp| {
        json!([{
            "labels": labels,
            "annotations": annotations,
            "startsAt": starts.to_string(),
            "endsAt": ends.to_string(),
        }])
    };
    am.post_alerts(&alert(starts + jiff::SignedDuration::from_mins(10)));

    wait_for("the firing notification", Duration::from_secs(20), || {
        !hook.notifications().is_empty()
    });
    let api = am.alerts_api();
    assert_eq!(api.len(), 1, "{api:?}");
    assert_eq!(api[0]["labels"], labels);
    assert_eq!(api[0]["status"]["state"], "active");
    let firing = &hook.notifications()[0];
    assert_eq!(firing["status"], "firing", "{firing}");
    assert_eq!(firing["receiver"], "webhook");
    assert_eq!(
        firing["groupLabels"],
        json!({"alertname": "SurgeResponseExceeded", "queue": "support"})
    );
    let alerts = firing["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 1, "{firing}");
    assert_eq!(alerts[0]["status"], "firing");
    assert_eq!(alerts[0]["labels"], labels);
    assert_eq!(alerts[0]["annotations"], annotations);
    assert_eq!(time(&alerts[0]["startsAt"]), starts);

    let ends = now();
    am.post_alerts(&alert(ends));
    wait_for("the resolved notification", Duration::from_secs(20), || {
        hook.notifications().len() >= 2
    });
    // Two more group intervals: nothing else may follow the resolution.
    std::thread::sleep(Duration::from_secs(2));
    let notifications = hook.notifications();
    assert_eq!(notifications.len(), 2, "{notifications:?}");
    let resolved = &notifications[1];
    assert_eq!(resolved["status"], "resolved", "{resolved}");
    let alerts = resolved["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 1, "{resolved}");
    assert_eq!(alerts[0]["status"], "resolved");
    assert_eq!(alerts[0]["labels"], labels);
    assert_eq!(time(&alerts[0]["startsAt"]), starts);
    assert_eq!(time(&alerts[0]["endsAt"]), ends);
    assert_eq!(hook.alerts().len(), 2);
    drop(am);
    std::fs::remove_dir_all(&dir).ok();
}

/// The sample config on a real Alertmanager, its receivers pointed at a webhook: SourceDown on
/// one instance mutes that instance's floor alerts, not another instance's, and pages arrive
/// at the on-call receiver.
#[test]
fn sample_alertmanager_config_inhibits_the_floor_alerts_of_a_stale_instance() {
    let dir = scratch_dir("rules-inhibit");
    let hook = WebhookReceiver::start();
    let config = std::fs::read_to_string(ALERTMANAGER_CONFIG)
        .unwrap()
        .replace(
            "http://oncall-bridge.example.internal/alertmanager",
            &hook.url(),
        )
        .replace(
            "http://floor-tickets.example.internal/alertmanager",
            &hook.url(),
        );
    let am = Alertmanager::start_with_config(&dir, &config);
    let alert = |name: &str, severity: &str, instance: &str, queue: Option<&str>| {
        let mut labels = json!({
            "alertname": name,
            "severity": severity,
            "origin": "prometheus",
            "instance": instance,
            "job": "acdstream",
        });
        if let Some(q) = queue {
            labels["queue"] = q.into();
        }
        json!({"labels": labels, "annotations": {"summary": name}, "startsAt": now().to_string()})
    };
    am.post_alerts(&json!([alert("SourceDown", "page", "acd-1:9898", None)]));
    wait_for("SourceDown to be held", Duration::from_secs(10), || {
        am.alerts_api().len() == 1
    });
    am.post_alerts(&json!([
        alert(
            "ServiceLevelBelowTarget",
            "page",
            "acd-1:9898",
            Some("sales")
        ),
        alert(
            "ServiceLevelBelowTarget",
            "page",
            "acd-2:9898",
            Some("sales")
        ),
        alert("AsaHigh", "ticket", "acd-1:9898", Some("sales")),
    ]));

    let state = |name: &str, instance: &str| -> Value {
        am.alerts_api()
            .into_iter()
            .find(|a| a["labels"]["alertname"] == name && a["labels"]["instance"] == instance)
            .map(|a| a["status"].clone())
            .unwrap_or(Value::Null)
    };
    wait_for(
        "acd-1's floor alerts to be inhibited",
        Duration::from_secs(10),
        || {
            state("ServiceLevelBelowTarget", "acd-1:9898")["state"] == "suppressed"
                && state("AsaHigh", "acd-1:9898")["state"] == "suppressed"
        },
    );
    let source = am
        .alerts_api()
        .into_iter()
        .find(|a| a["labels"]["alertname"] == "SourceDown")
        .unwrap();
    assert_eq!(source["status"]["state"], "active");
    assert_eq!(
        state("ServiceLevelBelowTarget", "acd-1:9898")["inhibitedBy"],
        json!([source["fingerprint"]])
    );
    assert_eq!(
        state("ServiceLevelBelowTarget", "acd-2:9898")["state"],
        "active"
    );

    // Pages wait 10 s (group_wait) before the first notification.
    let group = |name: &str| -> Option<Value> {
        hook.notifications()
            .into_iter()
            .find(|n| n["groupLabels"]["alertname"] == name)
    };
    wait_for("both pages", Duration::from_secs(40), || {
        group("SourceDown").is_some() && group("ServiceLevelBelowTarget").is_some()
    });
    let source_page = group("SourceDown").unwrap();
    assert_eq!(source_page["receiver"], "oncall-pager");
    let sl_page = group("ServiceLevelBelowTarget").unwrap();
    assert_eq!(sl_page["receiver"], "oncall-pager");
    let instances: Vec<&Value> = sl_page["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["labels"]["instance"])
        .collect();
    assert_eq!(instances, ["acd-2:9898"], "{sl_page}");
    drop(am);
    std::fs::remove_dir_all(&dir).ok();
}

/// The harness's Prometheus loads the rules file, finds the Alertmanager, and raises
/// AcdstreamDown (pending) against a target that does not answer.
#[test]
fn prometheus_loads_the_rules_with_their_labels_and_annotations() {
    let dir = scratch_dir("rules-prom");
    let hook = WebhookReceiver::start();
    let am = Alertmanager::start(&dir.join("am"), &hook.url());
    let nothing_listens = free_port();
    let prom = Prometheus::start(
        &dir.join("prom"),
        nothing_listens,
        &[Path::new(RULES)],
        Some(&am.url()),
    );

    let groups = prom.rule_groups();
    // The API lists groups by name.
    let names: Vec<&str> = groups.iter().filter_map(|g| g["name"].as_str()).collect();
    assert_eq!(
        names,
        ["acdstream-floor", "acdstream-health", "acdstream-surge"]
    );
    let rules: Vec<&Value> = groups
        .iter()
        .flat_map(|g| g["rules"].as_array().unwrap())
        .collect();
    let mut found: Vec<(&str, &str)> = rules
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap(),
                r["labels"]["severity"].as_str().unwrap_or("none"),
            )
        })
        .collect();
    found.sort_unstable();
    let mut expected = ALERTS.to_vec();
    expected.sort_unstable();
    assert_eq!(found, expected);
    for r in &rules {
        let name = &r["name"];
        assert_eq!(r["type"], "alerting", "{name}");
        assert_eq!(r["labels"]["origin"], "prometheus", "{name}");
        for key in ["summary", "description", "runbook"] {
            let text = r["annotations"][key].as_str().unwrap_or_default();
            assert!(text.len() > 20, "{name} has no {key}");
            assert!(!text.contains('\n'), "{name}: {key} spans lines");
        }
        // Every acd_ name in the expression and the annotations' queries is in the catalogue.
        let text = format!("{} {}", r["query"], r["annotations"]);
        for word in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            if word.starts_with("acd_") {
                assert!(
                    acdstream::telemetry::metric(word).is_some(),
                    "{name} uses {word}, not in src/telemetry.rs"
                );
            }
        }
    }

    let expected = format!("{}/api/v2/alerts", am.url());
    wait_for(
        "Prometheus to find the Alertmanager",
        Duration::from_secs(20),
        || {
            let Some((200, body)) = http_get(prom.port(), "/api/v1/alertmanagers") else {
                return false;
            };
            let v: Value = serde_json::from_str(&body).unwrap();
            v["data"]["activeAlertmanagers"] == json!([{ "url": expected }])
        },
    );
    // The target is down: AcdstreamDown goes pending within a couple of scrapes (`for: 1m`).
    wait_for("AcdstreamDown pending", Duration::from_secs(20), || {
        prom.alerts().iter().any(|a| {
            a["labels"]["alertname"] == "AcdstreamDown"
                && a["state"] == "pending"
                && a["labels"]["instance"] == format!("127.0.0.1:{nothing_listens}").as_str()
        })
    });
    drop(prom);
    drop(am);
    std::fs::remove_dir_all(&dir).ok();
}
