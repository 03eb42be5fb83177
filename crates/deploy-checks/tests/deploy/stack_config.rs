//! The configuration the compose stack mounts into Prometheus, Grafana and the OpenTelemetry
//! Collector: it points at the Flowgate services on their real ports, loads the alert rules and
//! dashboards of `deploy/`, and passes `promtool`.

use std::{collections::BTreeMap, path::Path, process::Command};

use flowgate_deploy_checks::{
    compose::{environment, mounted, read_compose, service},
    repo_root, tools,
};
use serde_norway::Value;

use crate::output;

#[test]
fn prometheus_scrapes_both_processes_with_the_alert_rules_and_promtool_accepts_its_config() {
    let file = read_compose().unwrap();
    let config_path = mounted(&file, "prometheus", "/etc/prometheus/prometheus.yml").unwrap();
    let config: Value =
        serde_norway::from_str(&std::fs::read_to_string(&config_path).unwrap()).unwrap();
    let targets: BTreeMap<String, String> = config["scrape_configs"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|job| {
            (
                job["job_name"].as_str().unwrap().to_owned(),
                job["static_configs"][0]["targets"][0]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            )
        })
        .collect();
    assert_eq!(targets["flowgate-api"], "api:9464");
    assert_eq!(targets["flowgate-worker"], "worker:8081");
    let rules: Vec<&str> = config["rule_files"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(rules.len(), 1);
    let alerts = mounted(&file, "prometheus", rules[0]).unwrap();
    assert_eq!(
        std::fs::canonicalize(&alerts).unwrap(),
        std::fs::canonicalize(repo_root().join("deploy/prometheus/alerts.yml")).unwrap()
    );

    let Some(promtool) = tools::promtool_or_skip() else {
        return;
    };
    // promtool checks the config and the rule files it loads, laid out as in the container.
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(&config_path)
        .unwrap()
        .replace(rules[0], alerts.to_str().unwrap());
    let copy = dir.path().join("prometheus.yml");
    std::fs::write(&copy, text).unwrap();
    let (ok, text) = output(Command::new(promtool).args(["check", "config"]).arg(&copy));
    assert!(ok && text.contains("SUCCESS"), "{text}");
}

#[test]
fn grafana_provisions_prometheus_jaeger_and_every_dashboard() {
    let file = read_compose().unwrap();
    let provisioning = "/etc/grafana/provisioning";
    let datasources = mounted(&file, "grafana", &format!("{provisioning}/datasources")).unwrap();
    let mut found = BTreeMap::new();
    for entry in std::fs::read_dir(&datasources).unwrap() {
        let doc: Value =
            serde_norway::from_str(&std::fs::read_to_string(entry.unwrap().path()).unwrap())
                .unwrap();
        for ds in doc["datasources"].as_sequence().unwrap() {
            found.insert(
                ds["type"].as_str().unwrap().to_owned(),
                ds["url"].as_str().unwrap().to_owned(),
            );
        }
    }
    assert_eq!(found["prometheus"], "http://prometheus:9090");
    assert_eq!(found["jaeger"], "http://jaeger:16686");

    let providers = mounted(&file, "grafana", &format!("{provisioning}/dashboards")).unwrap();
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(&providers).unwrap() {
        let doc: Value =
            serde_norway::from_str(&std::fs::read_to_string(entry.unwrap().path()).unwrap())
                .unwrap();
        for provider in doc["providers"].as_sequence().unwrap() {
            paths.push(provider["options"]["path"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(paths.len(), 1, "{paths:?}");
    let dashboards = mounted(&file, "grafana", &paths[0]).unwrap();
    assert_eq!(
        std::fs::canonicalize(&dashboards).unwrap(),
        std::fs::canonicalize(repo_root().join("deploy/grafana/dashboards")).unwrap()
    );
    assert!(std::fs::read_dir(&dashboards).unwrap().count() >= 4);
}

#[test]
fn flowgate_exports_traces_to_the_collector_which_forwards_them_to_jaeger() {
    let file = read_compose().unwrap();
    let config_path = mounted(&file, "otel-collector", "/etc/otelcol/config.yaml").unwrap();
    let command = service(&file, "otel-collector").unwrap()["command"][0]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(command, "--config=/etc/otelcol/config.yaml");
    let config: Value =
        serde_norway::from_str(&std::fs::read_to_string(&config_path).unwrap()).unwrap();
    assert_eq!(
        config["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"].as_str(),
        Some("0.0.0.0:4317")
    );
    let pipeline = &config["service"]["pipelines"]["traces"];
    assert_eq!(pipeline["receivers"][0].as_str(), Some("otlp"));
    let exporter = pipeline["exporters"][0].as_str().unwrap();
    assert_eq!(
        config["exporters"][exporter]["endpoint"].as_str(),
        Some("jaeger:4317"),
        "Jaeger receives OTLP/gRPC on 4317"
    );
    for name in ["api", "worker"] {
        let env = environment(service(&file, name).unwrap()).unwrap();
        assert_eq!(
            env["OTEL_EXPORTER_OTLP_ENDPOINT"],
            "http://otel-collector:4317"
        );
        assert_eq!(env["OTEL_EXPORTER_OTLP_PROTOCOL"], "grpc");
        assert_eq!(env["OTEL_SERVICE_NAME"], format!("flowgate-{name}"));
    }
    assert!(Path::new(&config_path).is_file());
}
