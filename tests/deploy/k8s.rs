//! `deploy/k8s`: the kustomization's resources, the Deployment (configuration, probes,
//! non-root user, memory from the README's figures), Service, ServiceMonitor,
//! PodDisruptionBudget and the topics Job against each other; the PrometheusRule generated from
//! the rules file.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Value};

use crate::docker::dockerfile;
use crate::{
    command_text, config_of, fail_all, read, readme_memory_figures, repo, report, yaml, yaml_text,
    RULES,
};

const PROMETHEUS_RULE: &str = "deploy/k8s/prometheusrule.yaml";

fn mebibytes(q: &str) -> f64 {
    let (n, unit) = q.split_at(q.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(q.len()));
    let n: f64 = n.parse().unwrap();
    match unit {
        "Mi" => n,
        "Gi" => n * 1024.0,
        "Ki" => n / 1024.0,
        "" => n / 1_048_576.0,
        other => panic!("memory unit {other}"),
    }
}

#[test]
fn k8s_manifests_are_consistent() {
    let dir = repo().join("deploy/k8s");
    let kustomization = yaml("deploy/k8s/kustomization.yaml");
    let mut problems = Vec::new();
    // The PrometheusRule carries exactly the rules file's groups (first: it may regenerate it).
    problems.extend(prometheus_rule_problem());
    let mut by_kind: BTreeMap<String, Value> = BTreeMap::new();
    for r in kustomization["resources"].as_array().unwrap() {
        let file = r.as_str().unwrap();
        let path = dir.join(file);
        if !path.exists() {
            problems.push(format!("kustomization: resource {file} does not exist"));
            continue;
        }
        let v = yaml(&format!("deploy/k8s/{file}"));
        for key in ["apiVersion", "kind"] {
            if !v[key].is_string() {
                problems.push(format!("{file}: no {key}"));
            }
        }
        if !v["metadata"]["name"].is_string() {
            problems.push(format!("{file}: no metadata.name"));
        }
        by_kind.insert(v["kind"].as_str().unwrap_or(file).to_string(), v);
    }
    for kind in [
        "Deployment",
        "Service",
        "ServiceMonitor",
        "PrometheusRule",
        "Job",
        "Namespace",
        "PodDisruptionBudget",
    ] {
        if !by_kind.contains_key(kind) {
            problems.push(format!("deploy/k8s: no {kind}"));
        }
    }
    let generator = &kustomization["configMapGenerator"][0];
    let config_name = generator["name"].as_str().unwrap_or_default();
    let config_file = generator["files"][0].as_str().unwrap_or_default();
    let config = config_of(&format!("deploy/k8s/{config_file}"));
    let port = config.http.listen.port();
    if !config.http.listen.ip().is_unspecified() {
        problems.push(format!(
            "deploy/k8s/{config_file}: http.listen {} is unreachable from other pods",
            config.http.listen
        ));
    }

    let empty = json!({});
    let deployment = by_kind.get("Deployment").unwrap_or(&empty);
    let spec = &deployment["spec"];
    let pod = &spec["template"]["spec"];
    let pod_labels = &spec["template"]["metadata"]["labels"];
    let c = &pod["containers"][0];
    if spec["replicas"].as_i64().unwrap_or(0) < 2 {
        problems.push("Deployment: several replicas in one consumer group".into());
    }
    if spec["selector"]["matchLabels"]
        .as_object()
        .is_none_or(|m| m.iter().any(|(k, v)| &pod_labels[k] != v))
    {
        problems.push("Deployment: the selector does not match the pod labels".into());
    }
    if command_text(&c["args"]) != "run" {
        problems.push("Deployment: the container runs `acdstream run`".into());
    }
    let images: Vec<&str> = kustomization["images"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["name"].as_str())
        .collect();
    if !images.contains(&c["image"].as_str().unwrap_or_default()) {
        problems.push(format!(
            "Deployment: image {} is not set by the kustomization's images",
            c["image"]
        ));
    }
    // The configuration: the generated ConfigMap mounted where ACDSTREAM_CONFIG points.
    let env: BTreeMap<String, String> = c["env"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| {
            Some((
                e["name"].as_str()?.to_string(),
                e["value"].as_str()?.to_string(),
            ))
        })
        .collect();
    let config_path = env.get("ACDSTREAM_CONFIG").cloned().unwrap_or_default();
    let mounted = c["volumeMounts"].as_array().into_iter().flatten().any(|m| {
        let volume = pod["volumes"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|v| v["name"] == m["name"]);
        volume.is_some_and(|v| v["configMap"]["name"] == config_name)
            && format!(
                "{}/{}",
                m["mountPath"].as_str().unwrap_or_default(),
                config_file
            ) == config_path
    });
    if !mounted {
        problems.push(format!("Deployment: ConfigMap {config_name} is not mounted at ACDSTREAM_CONFIG ({config_path})"));
    }
    // Ports and probes.
    let http_port = c["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["containerPort"].as_u64() == Some(port as u64));
    let port_name = http_port
        .and_then(|p| p["name"].as_str())
        .unwrap_or_default()
        .to_string();
    if http_port.is_none() {
        problems.push(format!(
            "Deployment: no container port {port} (http.listen)"
        ));
    }
    for (probe, path) in [("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")] {
        let get = &c[probe]["httpGet"];
        let target_ok = get["port"].as_str() == Some(port_name.as_str())
            || get["port"].as_u64() == Some(port as u64);
        if get["path"] != path || !target_ok {
            problems.push(format!(
                "Deployment: {probe} must GET {path} on the http port, has {get}"
            ));
        }
    }
    let grace = pod["terminationGracePeriodSeconds"].as_u64().unwrap_or(30);
    if Duration::from_secs(grace) <= config.kafka.shutdown_timeout {
        problems.push(format!("Deployment: terminationGracePeriodSeconds {grace} must exceed kafka.shutdown_timeout {:?}", config.kafka.shutdown_timeout));
    }
    // Non-root, as the image's user.
    let user: u64 = dockerfile()
        .user
        .split(':')
        .next()
        .unwrap_or_default()
        .parse()
        .unwrap_or(0);
    let sc = &pod["securityContext"];
    if sc["runAsNonRoot"] != true || sc["runAsUser"].as_u64() != Some(user) {
        problems.push(format!(
            "Deployment: runAsNonRoot with the image's user {user}, has {sc}"
        ));
    }
    if c["securityContext"]["allowPrivilegeEscalation"] != false {
        problems.push("Deployment: allowPrivilegeEscalation: false".into());
    }
    // Resources from the README's memory figures: the heap of a replica holding 1,000 queues
    // (the README's rebuild bench size), 10 calls in flight per queue and an hour of event ids,
    // plus librdkafka's pre-fetch queue (64 MiB), must fit in the request.
    let (per_queue, per_call, per_id) = readme_memory_figures();
    // The comment's arithmetic quotes the README's current figures.
    let deployment_text = read("deploy/k8s/deployment.yaml");
    for figure in [
        format!("{:.1} KiB", per_queue / 1024.0),
        format!("{per_call} B"),
        format!("{per_id} B"),
    ] {
        if !deployment_text.contains(&figure) {
            problems.push(format!(
                "deployment.yaml: the memory arithmetic does not use the README's {figure}"
            ));
        }
    }
    let heap = 1000.0 * per_queue + 10_000.0 * per_call + 324_898.0 * per_id;
    let needed = heap / 1_048_576.0 + 64.0;
    let requests = &c["resources"]["requests"];
    let limits = &c["resources"]["limits"];
    let request = requests["memory"].as_str().map(mebibytes).unwrap_or(0.0);
    let limit = limits["memory"].as_str().map(mebibytes).unwrap_or(0.0);
    if request < needed || limit < request || requests["cpu"].is_null() {
        problems.push(format!("Deployment: memory request {request} MiB must hold {needed:.0} MiB (README figures), limit {limit} MiB at least the request, and a CPU request"));
    }
    report(&format!(
        "k8s memory: heap of 1,000 queues from the README figures {:.1} MiB (+ 64 MiB librdkafka pre-fetch = {needed:.0} MiB) ≤ request {request} MiB ≤ limit {limit} MiB\n",
        heap / 1_048_576.0
    ));

    // Service and ServiceMonitor.
    let service = by_kind.get("Service").unwrap_or(&empty);
    if service["spec"]["selector"]
        .as_object()
        .is_none_or(|m| m.iter().any(|(k, v)| &pod_labels[k] != v))
    {
        problems.push("Service: the selector does not match the pods".into());
    }
    let svc_port = service["spec"]["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| {
            p["targetPort"].as_str() == Some(port_name.as_str())
                || p["targetPort"].as_u64() == Some(port as u64)
        });
    match svc_port {
        None => problems.push(format!(
            "Service: no port targets the container's http port {port}"
        )),
        Some(p) => {
            let monitor = by_kind.get("ServiceMonitor").unwrap_or(&empty);
            let endpoint = &monitor["spec"]["endpoints"][0];
            if endpoint["port"] != p["name"]
                || endpoint["path"].as_str().unwrap_or("/metrics") != "/metrics"
            {
                problems.push(format!(
                    "ServiceMonitor: must scrape /metrics on the Service port {}",
                    p["name"]
                ));
            }
            if monitor["spec"]["selector"]["matchLabels"]
                .as_object()
                .is_none_or(|m| {
                    m.iter()
                        .any(|(k, v)| &service["metadata"]["labels"][k] != v)
                })
            {
                problems.push("ServiceMonitor: the selector does not match the Service".into());
            }
            // The job label is the Service name unless jobLabel says otherwise.
            if service["metadata"]["name"] != "acdstream" || !monitor["spec"]["jobLabel"].is_null()
            {
                problems.push("ServiceMonitor: the job label must be \"acdstream\" (the dashboards select it)".into());
            }
        }
    }
    let pdb = by_kind.get("PodDisruptionBudget").unwrap_or(&empty);
    if pdb["spec"]["selector"]["matchLabels"] != spec["selector"]["matchLabels"] {
        problems.push("PodDisruptionBudget: does not select the Deployment's pods".into());
    }
    // The topics Job: enough partitions for the replicas, same configuration.
    let job = by_kind.get("Job").unwrap_or(&empty);
    let jc = &job["spec"]["template"]["spec"]["containers"][0];
    let args = command_text(&jc["args"]);
    let flag = |name: &str| -> i64 {
        args.split_whitespace()
            .skip_while(|w| *w != name)
            .nth(1)
            .and_then(|p| p.parse().ok())
            .unwrap_or(0)
    };
    let (partitions, replication) = (flag("--partitions"), flag("--replication-factor"));
    if !args.starts_with("topics")
        || partitions < spec["replicas"].as_i64().unwrap_or(0)
        || replication < 3
    {
        problems.push(format!(
            "Job: `topics --partitions N --replication-factor R` with N ≥ replicas and R ≥ 3 (a \
             production cluster), has {args:?}"
        ));
    }
    if jc["image"] != c["image"] || job["spec"]["template"]["spec"]["volumes"] != pod["volumes"] {
        problems.push("Job: the same image and configuration as the Deployment".into());
    }

    fail_all("deploy/k8s", &problems);
}

/// `deploy/k8s/prometheusrule.yaml` generated from the rules file: a header, then the file's
/// text indented under `spec:` (comments and block scalars kept).
fn generated_prometheus_rule(rules_text: &str) -> String {
    let mut out = String::from(
        "# GENERATED from deploy/prometheus/rules/acdstream.rules.yml by tests/deploy/k8s.rs; do not edit.\n\
         # Regenerate after changing the rules: ACDSTREAM_BLESS=1 cargo test --release --test deploy k8s\n\
         # kube-prometheus-stack only loads PrometheusRules labelled like its release: add\n\
         # `release: <your release>` to the labels if your Prometheus has a ruleSelector.\n\
         apiVersion: monitoring.coreos.com/v1\n\
         kind: PrometheusRule\n\
         metadata:\n  name: acdstream\n  labels:\n    app.kubernetes.io/name: acdstream\n\
         spec:\n",
    );
    for line in rules_text.lines() {
        if line.trim().is_empty() {
            out.push('\n');
        } else {
            out.push_str("  ");
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

fn prometheus_rule_problem() -> Option<String> {
    let Ok(rules_text) = std::fs::read_to_string(repo().join(RULES)) else {
        return Some(format!("{PROMETHEUS_RULE}: cannot be generated, {RULES} is missing (from the rules branch through main)"));
    };
    let rules = yaml_text(&rules_text, RULES);
    let current = std::fs::read_to_string(repo().join(PROMETHEUS_RULE)).ok();
    let matches = current.as_deref().is_some_and(|c| {
        let v = yaml_text(c, PROMETHEUS_RULE);
        v["spec"]["groups"] == rules["groups"] && v["kind"] == "PrometheusRule"
    });
    if matches {
        return None;
    }
    if std::env::var_os("ACDSTREAM_BLESS").is_some() {
        std::fs::write(
            repo().join(PROMETHEUS_RULE),
            generated_prometheus_rule(&rules_text),
        )
        .unwrap();
        return None;
    }
    Some(format!(
        "{PROMETHEUS_RULE} does not carry the groups of {RULES}: regenerate it with ACDSTREAM_BLESS=1 cargo test --release --test deploy k8s"
    ))
}
