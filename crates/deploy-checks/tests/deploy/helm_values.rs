//! The chart's values: `values.schema.json` refuses what would break an install, the chart
//! refuses combinations the schema cannot express, a configuration change rolls the pods, and
//! the configuration file agrees with the containers' ports and grace periods.

use flowgate_deploy_checks::{
    helm::{Render, Rendered},
    repo_root, tools,
};
use serde_json::json;
use serde_norway::Value;

use crate::{
    helm::{matrix, render},
    helm_objects::container_ports,
    processes::seconds,
};

pub(crate) fn address() -> serde_json::Value {
    json!({"temporal": {"address": "temporal-frontend.temporal:7233"}})
}

pub(crate) fn merged(mut base: serde_json::Value, over: serde_json::Value) -> serde_json::Value {
    merge(&mut base, over);
    base
}

fn merge(into: &mut serde_json::Value, over: serde_json::Value) {
    match (into, over) {
        (serde_json::Value::Object(into), serde_json::Value::Object(over)) => {
            for (key, value) in over {
                merge(into.entry(key).or_insert(serde_json::Value::Null), value);
            }
        }
        (into, over) => *into = over,
    }
}

#[test]
fn bad_values_are_refused_with_a_message_naming_them() {
    let Some(python) = tools::helm_python_or_skip() else {
        return;
    };
    let cases = [
        // values.schema.json
        (json!({"api": {"port": "8000"}}), "/api/port"),
        (json!({"api": {"port": 70000}}), "/api/port"),
        (json!({"replicas": 3}), "'replicas' not allowed"),
        (json!({"api": {"replica": 3}}), "'replica' not allowed"),
        (
            json!({"worker": {"autoscaling": {"type": "vpa"}}}),
            "/worker/autoscaling/type",
        ),
        (
            json!({"temporal": {"address": "http://temporal:7233"}}),
            "/temporal/address",
        ),
        (
            json!({"temporal": {"address": "temporal"}}),
            "/temporal/address",
        ),
        (
            json!({"temporal": {"tls": {"enabled": "yes"}}}),
            "/temporal/tls/enabled",
        ),
        (json!({"otel": {"protocol": "udp"}}), "/otel/protocol"),
        (
            json!({"otel": {"endpoint": "collector:4317"}}),
            "/otel/endpoint",
        ),
        (
            json!({"config": {"apii": {"port": 1}}}),
            "'apii' not allowed",
        ),
        (
            json!({"config": {"auth": {"jwt": {"keys": [{"algorithm": "HS256", "secret": "s"}]}}}}),
            "/config/auth/jwt/keys/0",
        ),
        (
            json!({"metrics": {"serviceMonitor": {"interval": "30"}}}),
            "/metrics/serviceMonitor/interval",
        ),
        (
            json!({"ingress": {"hosts": [{"host": "a", "paths": [{"path": "x", "pathType": "Prefix"}]}]}}),
            "/ingress/hosts/0/paths/0/path",
        ),
        (
            json!({"api": {"podDisruptionBudget": {"maxUnavailable": "half"}}}),
            "/api/podDisruptionBudget/maxUnavailable",
        ),
        (
            json!({"worker": {"autoscaling": {"keda": {"queueTypes": ["nexus"]}}}}),
            "/worker/autoscaling/keda/queueTypes/0",
        ),
        (
            json!({"temporal": {"devServer": {"persistence": {"size": "lots"}}}}),
            "/temporal/devServer/persistence/size",
        ),
        // combinations, refused by the chart with its own message
        (
            json!({"temporal": {"address": ""}}),
            "temporal.address is required",
        ),
        (
            json!({"temporal": {"devServer": {"enabled": true}}}),
            "either temporal.address or temporal.devServer.enabled",
        ),
        (
            json!({"api": {"terminationGracePeriodSeconds": 20}}),
            "api.terminationGracePeriodSeconds (20) must exceed",
        ),
        (
            json!({"worker": {"terminationGracePeriodSeconds": 30}}),
            "worker.terminationGracePeriodSeconds (30) must exceed",
        ),
        (
            json!({"api": {"shutdownGraceSeconds": 30}}),
            "api.shutdownGraceSeconds (30) must be at least config.api.request_timeout (35s)",
        ),
        (
            json!({"config": {"api": {"request_timeout": "1m"}}}),
            "api.shutdownGraceSeconds (40) must be at least config.api.request_timeout (1m)",
        ),
        (
            json!({"config": {"api": {"request_timeout": "soon"}}}),
            "config.api.request_timeout (\"soon\") is not a duration",
        ),
        (
            json!({"temporal": {"tls": {"mtls": true}}}),
            "temporal.tls.mtls needs",
        ),
        (
            json!({"temporal": {"tls": {"mtls": true, "clientCert": "PEM"}}}),
            "both temporal.tls.clientCert and temporal.tls.clientKey",
        ),
        (
            json!({"temporal": {"tls": {"customCA": true}}}),
            "temporal.tls.customCA needs temporal.tls.ca",
        ),
        (
            json!({"httpRoute": {"enabled": true}}),
            "httpRoute.enabled needs httpRoute.parentRefs",
        ),
    ];
    for (values, expected) in cases {
        let values = merged(address(), values);
        let error = crate::helm::refusal(&python, &values);
        assert!(
            error.contains(expected),
            "{values}: expected {expected:?} in:\n{error}"
        );
    }
}

/// `api.request_timeout` of the embedded defaults (crates/config/src/default.toml).
fn default_request_timeout() -> String {
    let text = std::fs::read_to_string(repo_root().join("crates/config/src/default.toml")).unwrap();
    let defaults: toml::Value = toml::from_str(&text).unwrap();
    defaults["api"]["request_timeout"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn the_drain_lasts_at_least_the_request_timeout_the_processes_use() {
    let Some(python) = tools::helm_python_or_skip() else {
        return;
    };
    // Waits end when the drain begins; any other request may take up to request_timeout, so a
    // shorter grace would cut it. The chart knows the binaries' default.
    let default = default_request_timeout();
    let default_seconds = seconds(&default) as u64;
    let render = |values: serde_json::Value| {
        Render::default()
            .set(merged(address(), values))
            .objects(&python)
    };
    let error = render(json!({"api": {"shutdownGraceSeconds": default_seconds - 1}}))
        .expect_err("a grace below the default request timeout is refused")
        .to_string();
    assert!(
        error.contains(&format!(
            "api.shutdownGraceSeconds ({}) must be at least config.api.request_timeout ({default})",
            default_seconds - 1
        )),
        "{error}"
    );
    for (grace, timeout) in [
        (default_seconds, None),
        (60, Some("1m")),
        (90, Some("1m 30s")),
        (2, Some("1500ms")),
        (600, Some("10m")),
    ] {
        let mut values = json!({"api": {"shutdownGraceSeconds": grace}});
        if let Some(timeout) = timeout {
            values["config"] = json!({"api": {"request_timeout": timeout}});
        }
        let rendered = render(values.clone()).unwrap_or_else(|e| panic!("{values}: {e}"));
        let config = config_toml(&rendered, "api");
        assert_eq!(
            config["api"]["shutdown_grace"].as_str(),
            Some(format!("{grace}s").as_str())
        );
        assert_eq!(
            config["api"]
                .get("request_timeout")
                .and_then(|t| t.as_str()),
            timeout,
            "the configured timeout reaches the processes as written"
        );
    }
}

/// The configuration file of `component` (`api`, `worker`) in the ConfigMap.
pub(crate) fn config_toml(rendered: &Rendered, component: &str) -> toml::Value {
    let config_map = rendered.get("ConfigMap", "flowgate-config").unwrap();
    let file = config_map["data"][format!("{component}.toml").as_str()]
        .as_str()
        .unwrap_or_else(|| panic!("no {component}.toml in the ConfigMap"));
    toml::from_str(file).unwrap()
}

pub(crate) fn checksum(rendered: &Rendered, deployment: &str) -> String {
    rendered.get("Deployment", deployment).unwrap()["spec"]["template"]["metadata"]["annotations"]
        ["checksum/config"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn a_configuration_change_rolls_the_deployments_whose_process_reads_it() {
    let Some(python) = tools::helm_python_or_skip() else {
        return;
    };
    let before = Render::default().set(address()).objects(&python).unwrap();
    let again = Render::default().set(address()).objects(&python).unwrap();
    // (change, the API rolls, the worker rolls)
    let changes = [
        (json!({"config": {"log": {"level": "debug"}}}), true, true),
        (
            json!({"config": {"shopping": {"max_items": 50}}}),
            true,
            true,
        ),
        (
            json!({"config": {"worker": {"task_queue": "orders"}}}),
            true,
            true,
        ),
        (json!({"api": {"shutdownGraceSeconds": 45}}), true, false),
        (
            json!({"config": {"limits": {"rate_per_second": 5}}}),
            true,
            false,
        ),
        (json!({"worker": {"healthPort": 9081}}), false, true),
        (
            json!({"config": {"worker": {"max_concurrent_activities": 10}}}),
            false,
            true,
        ),
    ];
    for (deployment, component) in [("flowgate-api", "api"), ("flowgate-worker", "worker")] {
        // Deterministic: the same values never roll the pods.
        assert_eq!(checksum(&before, deployment), checksum(&again, deployment));
        for (change, api_rolls, worker_rolls) in &changes {
            let rolls = if component == "api" {
                *api_rolls
            } else {
                *worker_rolls
            };
            let after = Render::default()
                .set(merged(address(), change.clone()))
                .objects(&python)
                .unwrap();
            // What the process reads changed exactly when its pods roll.
            assert_eq!(
                config_toml(&before, component) != config_toml(&after, component),
                rolls,
                "{component}.toml after {change}"
            );
            assert_eq!(
                checksum(&before, deployment) != checksum(&after, deployment),
                rolls,
                "{deployment} after {change}"
            );
        }
    }
    // Credentials the chart stores roll the pods that are given them.
    let with = |values: serde_json::Value| {
        Render::default()
            .set(merged(address(), values))
            .objects(&python)
            .unwrap()
    };
    let secret_checksum = |r: &Rendered, deployment: &str| {
        r.get("Deployment", deployment).unwrap()["spec"]["template"]["metadata"]["annotations"]
            ["checksum/secret"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    for deployment in ["flowgate-api", "flowgate-worker"] {
        assert_ne!(
            secret_checksum(&with(json!({"temporal": {"apiKey": "one"}})), deployment),
            secret_checksum(&with(json!({"temporal": {"apiKey": "two"}})), deployment),
            "{deployment}"
        );
    }
    // The webhook signing secrets reach the worker only.
    let webhooks = |secret: &str| {
        with(json!({"temporal": {"apiKey": "one"}, "webhooks": {"secrets": secret}}))
    };
    let (old, new) = (
        webhooks("whsec_b2xkLXNpZ25pbmctc2VjcmV0LW9mLTMyLWJ5dGVzIQ=="),
        webhooks("whsec_bmV3LXNpZ25pbmctc2VjcmV0LW9mLTMyLWJ5dGVzIQ=="),
    );
    assert_ne!(
        secret_checksum(&old, "flowgate-worker"),
        secret_checksum(&new, "flowgate-worker")
    );
    assert_eq!(
        secret_checksum(&old, "flowgate-api"),
        secret_checksum(&new, "flowgate-api")
    );
}

#[test]
fn the_configuration_file_agrees_with_container_ports_probes_and_grace_periods() {
    let Some(python) = tools::helm_python_or_skip() else {
        return;
    };
    let moved = (
        "moved-ports",
        Render::default().set(merged(
            address(),
            json!({"api": {"port": 9000, "metricsPort": 9100, "service": {"port": 80}}, "worker": {"healthPort": 9200}}),
        )),
    );
    for (name, how) in matrix().into_iter().chain([moved]) {
        let rendered = render(&python, name, &how);
        let config = config_toml(&rendered, "api");
        let worker_config = config_toml(&rendered, "worker");
        let port = |config: &toml::Value, section: &str, key: &str| {
            config[section][key].as_integer().unwrap() as u64
        };
        let api = &rendered.get("Deployment", "flowgate-api").unwrap()["spec"]["template"];
        let worker = &rendered.get("Deployment", "flowgate-worker").unwrap()["spec"]["template"];
        let api_ports = container_ports(api);
        let worker_ports = container_ports(worker);
        assert_eq!(api_ports["http"], port(&config, "api", "port"), "{name}");
        assert_eq!(
            api_ports["metrics"],
            port(&config, "metrics", "api_admin_port"),
            "{name}"
        );
        assert_eq!(
            worker_ports["health"],
            port(&worker_config, "worker", "health_port"),
            "{name}"
        );
        for (file, section, key) in [
            (&config, "api", "host"),
            (&config, "metrics", "api_admin_host"),
            (&worker_config, "worker", "health_host"),
        ] {
            assert_eq!(
                file[section][key].as_str(),
                Some("0.0.0.0"),
                "{name}: {section}.{key}"
            );
        }
        // Each process's file is the first FLOWGATE_CONFIG names, mounted from the ConfigMap's
        // key of that process; any further file is mounted from a Secret.
        for (pod, component) in [(api, "api"), (worker, "worker")] {
            let container = &pod["spec"]["containers"][0];
            let env = flowgate_deploy_checks::helm::container_env(container);
            let mounts = container["volumeMounts"].as_sequence().unwrap();
            let files: Vec<&str> = env["FLOWGATE_CONFIG"].split(':').collect();
            let config_mount = mounts
                .iter()
                .find(|m| m["name"].as_str() == Some("config"))
                .unwrap();
            assert_eq!(config_mount["mountPath"].as_str(), Some(files[0]), "{name}");
            assert_eq!(
                config_mount["subPath"].as_str(),
                Some(format!("{component}.toml").as_str()),
                "{name}"
            );
            for file in &files[1..] {
                let mount = mounts
                    .iter()
                    .find(|m| {
                        m["mountPath"]
                            .as_str()
                            .is_some_and(|dir| file.starts_with(&format!("{dir}/")))
                    })
                    .unwrap_or_else(|| panic!("{name}: nothing mounts {file}"));
                let volume = pod["spec"]["volumes"]
                    .as_sequence()
                    .unwrap()
                    .iter()
                    .find(|v| v["name"] == mount["name"])
                    .unwrap();
                let item = &volume["secret"]["items"][0];
                assert_eq!(
                    item["path"]
                        .as_str()
                        .map(|p| format!("{}/{p}", mount["mountPath"].as_str().unwrap())),
                    Some((*file).to_owned()),
                    "{name}: {file} is a Secret's key"
                );
            }
        }
        // Kubernetes kills a pod terminationGracePeriodSeconds after it starts stopping it:
        // longer than the API's preStop pause + drain and the worker's activity grace.
        let grace = |pod: &Value| {
            pod["spec"]["terminationGracePeriodSeconds"]
                .as_u64()
                .unwrap() as f64
        };
        let pre_stop = api["spec"]["containers"][0]["lifecycle"]["preStop"]["sleep"]["seconds"]
            .as_u64()
            .unwrap_or(0) as f64;
        let setting = |section: &str, key: &str| seconds(config[section][key].as_str().unwrap());
        assert!(
            grace(api)
                > pre_stop + setting("api", "shutdown_delay") + setting("api", "shutdown_grace"),
            "{name}: api grace"
        );
        assert!(
            grace(worker) > seconds(worker_config["worker"]["shutdown_grace"].as_str().unwrap()),
            "{name}: worker grace"
        );
        // Waits end when the drain begins; other requests may take up to request_timeout.
        let request_timeout = config["api"]
            .get("request_timeout")
            .and_then(|t| t.as_str())
            .map_or_else(default_request_timeout, str::to_owned);
        assert!(
            setting("api", "shutdown_grace") >= seconds(&request_timeout),
            "{name}: the drain is shorter than the request timeout"
        );
        // The helm test pod asks the API, through its Service's port, whether it reached
        // Temporal (`GET /`: readiness answers 200 either way).
        let test_pod = rendered.of_kind("Pod");
        let args: Vec<&str> = test_pod[0]["spec"]["containers"][0]["args"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|arg| arg.as_str().unwrap())
            .collect();
        let service = rendered.get("Service", "flowgate-api").unwrap();
        let service_port = service["spec"]["ports"][0]["port"].as_u64().unwrap();
        let url = format!("http://flowgate-api:{service_port}/");
        assert_eq!(
            args,
            [
                "healthcheck",
                "--url",
                url.as_str(),
                "--expect",
                r#""temporal_connected":true"#
            ],
            "{name}"
        );
    }
}
