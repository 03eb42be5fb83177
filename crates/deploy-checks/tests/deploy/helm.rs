//! The Helm chart rendered by the real Helm v4 engine for every values profile, linted, and
//! every rendered object validated against the Kubernetes schemas of the oldest supported and
//! the newest Kubernetes (custom resources against their CRDs' schemas); then the wiring a
//! `helm install` depends on, asserted on the objects themselves.

use std::{collections::BTreeMap, path::PathBuf, process::Command};

use flowgate_deploy_checks::{
    helm::{Render, Rendered, pipe, profile_path},
    tools,
};
use serde_json::json;
use serde_norway::Value;

/// The oldest Kubernetes the chart supports (`kubeVersion` of Chart.yaml) and the newest
/// kubernetes-validate knows.
pub(crate) const KUBE_VERSIONS: [&str; 2] = ["1.30.0", "1.37.0"];

/// An existing Temporal cluster, as most profiles are combined with.
fn existing_temporal() -> serde_json::Value {
    json!({"temporal": {"address": "temporal-frontend.temporal:7233"}})
}

/// The render matrix: a name and how to render it.
pub(crate) fn matrix() -> Vec<(&'static str, Render)> {
    let profile = |names: &[&str]| Render::files(names.iter().map(|n| profile_path(n)));
    vec![
        ("defaults", Render::default().set(existing_temporal())),
        ("dev", profile(&["dev"])),
        (
            "ingress-tls",
            profile(&["ingress-tls"]).set(existing_temporal()),
        ),
        ("keda", profile(&["keda"]).set(existing_temporal())),
        (
            "monitoring",
            profile(&["monitoring"]).set(existing_temporal()),
        ),
        (
            "existing-secret",
            profile(&["existing-secret"]).set(existing_temporal()),
        ),
        (
            "temporal-cloud",
            profile(&["temporal-cloud"]).set(json!({"temporal": {"apiKey": "test-api-key"}})),
        ),
        (
            "production",
            profile(&["production", "ingress-tls", "monitoring"]).set(existing_temporal()),
        ),
        (
            "cloud-keda-networkpolicy",
            profile(&["temporal-cloud", "keda", "production"]).set(json!({
                "temporal": {"apiKey": "test-api-key"},
                "otel": {"headers": "authorization=Bearer%20x"},
            })),
        ),
        (
            "mtls-keda-httproute",
            profile(&["existing-secret", "keda"]).set(json!({
                "temporal": {"address": "temporal.internal.example.com:7233"},
                "httpRoute": {
                    "enabled": true,
                    "parentRefs": [{"name": "public", "namespace": "gateway"}],
                    "hostnames": ["flowgate.example.com"],
                },
                "networkPolicy": {"enabled": true},
            })),
        ),
        (
            "dev-everything",
            profile(&["dev", "monitoring", "keda"]).set(json!({
                "networkPolicy": {"enabled": true},
                "temporal": {"devServer": {
                    "persistence": {"enabled": true},
                    "service": {"grpcPort": 17233},
                }},
            })),
        ),
    ]
}

pub(crate) fn render(python: &std::path::Path, name: &str, how: &Render) -> Rendered {
    how.objects(python)
        .unwrap_or_else(|e| panic!("rendering {name} failed: {e}"))
}

fn crd_validator() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/validate_crs.py")
}

#[test]
fn every_profile_renders_lints_and_validates_against_kubernetes_and_crd_schemas() {
    let Some(python) = tools::helm_python_or_skip() else {
        return;
    };
    for (name, how) in matrix() {
        let rendered = render(&python, name, &how);
        for version in KUBE_VERSIONS {
            let findings = how.lint(&python, &format!("v{version}")).unwrap();
            assert!(
                findings.is_empty(),
                "{name}: helm lint --strict on {version}: {findings:#?}"
            );
        }

        let (ok, report) = rendered.kube_validate(&python, &KUBE_VERSIONS).unwrap();
        assert!(ok, "{name}: kubernetes-validate failed:\n{report}");
        let validated = report.lines().filter(|l| l.starts_with("ok ")).count();
        let unknown: Vec<&str> = report
            .lines()
            .filter(|l| l.starts_with("unknown "))
            .collect();
        assert_eq!(
            validated + unknown.len(),
            rendered.objects.len() * KUBE_VERSIONS.len(),
            "{name}:\n{report}"
        );
        // What Kubernetes' own schemas do not know are custom resources: each is validated
        // against its CRD's schema instead, so nothing goes unchecked.
        let mut command = Command::new(&python);
        command.arg(crd_validator());
        let (crs_ok, crs_report) = pipe(command, &rendered.stream).unwrap();
        assert!(
            crs_ok,
            "{name}: custom resources fail their CRD schema:\n{crs_report}"
        );
        for line in &unknown {
            let object = line.rsplit(' ').next().unwrap();
            assert!(
                crs_report.lines().any(|l| l == format!("ok {object}")),
                "{name}: {object} is validated by neither Kubernetes' nor a CRD's schema:\n{crs_report}"
            );
        }
    }
}

#[test]
fn selectors_ports_and_references_connect_in_every_profile() {
    let Some(python) = tools::helm_python_or_skip() else {
        return;
    };
    for (name, how) in matrix() {
        let rendered = render(&python, name, &how);
        check_wiring(name, &rendered);
    }
}

/// The pods of every workload, by Deployment name: labels and containers.
fn pods(rendered: &Rendered) -> BTreeMap<String, &Value> {
    rendered
        .of_kind("Deployment")
        .into_iter()
        .map(|d| (name_of(d), &d["spec"]["template"]))
        .collect()
}

pub(crate) fn name_of(object: &Value) -> String {
    object["metadata"]["name"]
        .as_str()
        .unwrap_or("?")
        .to_owned()
}

fn labels(object: &Value) -> BTreeMap<String, String> {
    object
        .as_mapping()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.as_str()?.to_owned(), v.as_str()?.to_owned())))
        .collect()
}

fn matches(selector: &Value, pod_labels: &BTreeMap<String, String>) -> bool {
    let wanted = labels(selector);
    !wanted.is_empty() && wanted.iter().all(|(k, v)| pod_labels.get(k) == Some(v))
}

/// The pods (Deployment names) a matchLabels selector picks.
fn selected<'a>(pods: &'a BTreeMap<String, &Value>, selector: &Value) -> Vec<&'a str> {
    pods.iter()
        .filter(|(_, pod)| matches(selector, &labels(&pod["metadata"]["labels"])))
        .map(|(name, _)| name.as_str())
        .collect()
}

/// Named container ports of a pod template: name → port.
pub(crate) fn container_ports(pod: &Value) -> BTreeMap<String, u64> {
    pod["spec"]["containers"]
        .as_sequence()
        .into_iter()
        .flatten()
        .flat_map(|c| c["ports"].as_sequence().into_iter().flatten())
        .map(|p| {
            (
                p["name"].as_str().unwrap_or_default().to_owned(),
                p["containerPort"].as_u64().unwrap_or_default(),
            )
        })
        .collect()
}

/// Whether `port` (a name or a number) is a port the pod's containers declare.
fn declares(pod: &Value, port: &Value) -> bool {
    let ports = container_ports(pod);
    match port {
        Value::String(name) => ports.contains_key(name),
        Value::Number(n) => ports.values().any(|p| Some(*p) == n.as_u64()),
        _ => false,
    }
}

fn check_wiring(case: &str, rendered: &Rendered) {
    let pods = pods(rendered);
    assert!(!pods.is_empty(), "{case}: no Deployment");
    let ctx = |what: String| format!("{case}: {what}");

    for deployment in rendered.of_kind("Deployment") {
        let name = name_of(deployment);
        let pod = &deployment["spec"]["template"];
        // The Deployment selects its own pods and only those.
        assert_eq!(
            selected(&pods, &deployment["spec"]["selector"]["matchLabels"]),
            [name.as_str()],
            "{}",
            ctx(format!("Deployment {name} selector"))
        );
        for container in pod["spec"]["containers"].as_sequence().unwrap() {
            for probe in ["startupProbe", "livenessProbe", "readinessProbe"] {
                let probe_port = &container[probe]["httpGet"]["port"];
                let tcp_port = &container[probe]["tcpSocket"]["port"];
                let port = if probe_port.is_null() {
                    tcp_port
                } else {
                    probe_port
                };
                assert!(
                    declares(pod, port),
                    "{}",
                    ctx(format!(
                        "{name} {probe} port {port:?} is not a container port"
                    ))
                );
            }
        }
        for spread in pod["spec"]["topologySpreadConstraints"]
            .as_sequence()
            .into_iter()
            .flatten()
        {
            assert!(
                selected(&pods, &spread["labelSelector"]["matchLabels"]).contains(&name.as_str()),
                "{}",
                ctx(format!("{name}: topology spread selects other pods"))
            );
        }
    }

    let mut service_ports: BTreeMap<String, Vec<(String, u64)>> = BTreeMap::new();
    for service in rendered.of_kind("Service") {
        let name = name_of(service);
        let targets = selected(&pods, &service["spec"]["selector"]);
        assert_eq!(
            targets.len(),
            1,
            "{}",
            ctx(format!("Service {name} selects {targets:?}"))
        );
        let pod = pods[targets[0]];
        for port in service["spec"]["ports"].as_sequence().unwrap() {
            assert!(
                declares(pod, &port["targetPort"]),
                "{}",
                ctx(format!(
                    "Service {name} targets {:?}, not a port of {}",
                    port["targetPort"], targets[0]
                ))
            );
            service_ports.entry(name.clone()).or_default().push((
                port["name"].as_str().unwrap().to_owned(),
                port["port"].as_u64().unwrap(),
            ));
        }
    }
    let service_has = |service: &str, port: &Value| {
        service_ports.get(service).is_some_and(|ports| match port {
            Value::String(n) => ports.iter().any(|(name, _)| name == n),
            Value::Number(n) => ports.iter().any(|(_, p)| Some(*p) == n.as_u64()),
            _ => false,
        })
    };

    for pdb in rendered.of_kind("PodDisruptionBudget") {
        assert_eq!(
            selected(&pods, &pdb["spec"]["selector"]["matchLabels"]).len(),
            1,
            "{}",
            ctx(format!("PDB {}", name_of(pdb)))
        );
    }
    for kind in ["HorizontalPodAutoscaler", "ScaledObject"] {
        for scaler in rendered.of_kind(kind) {
            let target = scaler["spec"]["scaleTargetRef"]["name"].as_str().unwrap();
            assert!(
                pods.contains_key(target),
                "{}",
                ctx(format!("{kind} targets {target}"))
            );
            let replicas = &rendered.get("Deployment", target).unwrap()["spec"]["replicas"];
            assert!(
                replicas.is_null(),
                "{}",
                ctx(format!("{target} fixes replicas under {kind}"))
            );
        }
    }
    for scaled in rendered.of_kind("ScaledObject") {
        if let Some(auth) = scaled["spec"]["triggers"][0]["authenticationRef"]["name"].as_str() {
            let trigger_auth = rendered.get("TriggerAuthentication", auth).unwrap();
            for reference in trigger_auth["spec"]["secretTargetRef"]
                .as_sequence()
                .unwrap()
            {
                check_secret_key(
                    case,
                    rendered,
                    reference["name"].as_str().unwrap(),
                    reference["key"].as_str().unwrap(),
                );
            }
        }
    }
    for ingress in rendered.of_kind("Ingress") {
        for rule in ingress["spec"]["rules"].as_sequence().unwrap() {
            for path in rule["http"]["paths"].as_sequence().unwrap() {
                let backend = &path["backend"]["service"];
                let service = backend["name"].as_str().unwrap();
                assert!(
                    service_has(service, &backend["port"]["name"]),
                    "{}",
                    ctx(format!("Ingress backend {backend:?}"))
                );
            }
        }
    }
    for route in rendered.of_kind("HTTPRoute") {
        for rule in route["spec"]["rules"].as_sequence().unwrap() {
            for backend in rule["backendRefs"].as_sequence().unwrap() {
                let service = backend["name"].as_str().unwrap();
                assert!(
                    service_has(service, &backend["port"]),
                    "{}",
                    ctx(format!("HTTPRoute backend {backend:?}"))
                );
            }
        }
    }
    for monitor in rendered.of_kind("ServiceMonitor") {
        // Both processes' Services, each with the endpoint's port.
        let wanted: Vec<&Value> = monitor["spec"]["endpoints"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|e| &e["port"])
            .collect();
        let scraped: Vec<&Value> = rendered
            .of_kind("Service")
            .into_iter()
            .filter(|s| {
                selects_by_expressions(&monitor["spec"]["selector"], &s["metadata"]["labels"])
            })
            .collect();
        let components: Vec<&str> = scraped
            .iter()
            .map(|s| {
                s["metadata"]["labels"]["app.kubernetes.io/component"]
                    .as_str()
                    .unwrap()
            })
            .collect();
        assert_eq!(
            components,
            ["api", "worker"],
            "{}",
            ctx("ServiceMonitor scrapes".into())
        );
        for service in scraped {
            for port in &wanted {
                assert!(
                    service_has(&name_of(service), port),
                    "{}",
                    ctx(format!("{} has no port {port:?}", name_of(service)))
                );
            }
        }
    }
    for policy in rendered.of_kind("NetworkPolicy") {
        let targets = selected(&pods, &policy["spec"]["podSelector"]["matchLabels"]);
        assert_eq!(
            targets.len(),
            1,
            "{}",
            ctx(format!("NetworkPolicy {}", name_of(policy)))
        );
        for rule in policy["spec"]["ingress"]
            .as_sequence()
            .into_iter()
            .flatten()
        {
            for port in rule["ports"].as_sequence().into_iter().flatten() {
                assert!(
                    declares(pods[targets[0]], &port["port"]),
                    "{}",
                    ctx(format!(
                        "NetworkPolicy {} port {:?}",
                        name_of(policy),
                        port["port"]
                    ))
                );
            }
        }
    }
    // Egress to pods of the release names ports those pods declare.
    for policy in rendered.of_kind("NetworkPolicy") {
        for rule in policy["spec"]["egress"].as_sequence().into_iter().flatten() {
            for peer in rule["to"].as_sequence().into_iter().flatten() {
                if peer["podSelector"]["matchLabels"].is_null() {
                    continue;
                }
                let targets = selected(&pods, &peer["podSelector"]["matchLabels"]);
                assert_eq!(
                    targets.len(),
                    1,
                    "{}",
                    ctx(format!("egress of {}", name_of(policy)))
                );
                for port in rule["ports"].as_sequence().into_iter().flatten() {
                    assert!(
                        declares(pods[targets[0]], &port["port"]),
                        "{}",
                        ctx(format!(
                            "egress of {} to port {:?}",
                            name_of(policy),
                            port["port"]
                        ))
                    );
                }
            }
        }
    }
    // Every Secret a pod reads exists, or is the existingSecret the user provides.
    for pod in pods.values() {
        for container in pod["spec"]["containers"].as_sequence().unwrap() {
            for (var, value) in flowgate_deploy_checks::helm::container_env(container) {
                if let Some(reference) = value.strip_prefix("secretKeyRef:") {
                    let (secret, key) = reference.split_once('/').unwrap();
                    if rendered.get("Secret", secret).is_ok() {
                        // Optional references may name keys the chart did not need to create.
                        let _ = (var, key);
                    } else {
                        assert_eq!(
                            secret,
                            "flowgate-credentials",
                            "{}",
                            ctx(format!("{var} reads a Secret that is not there"))
                        );
                    }
                }
            }
        }
        for volume in pod["spec"]["volumes"].as_sequence().into_iter().flatten() {
            if let Some(config_map) = volume["configMap"]["name"].as_str() {
                rendered.get("ConfigMap", config_map).unwrap();
            }
            if let Some(claim) = volume["persistentVolumeClaim"]["claimName"].as_str() {
                rendered.get("PersistentVolumeClaim", claim).unwrap();
            }
            if let Some(secret) = volume["secret"]["secretName"].as_str()
                && rendered.get("Secret", secret).is_err()
            {
                assert_eq!(
                    secret,
                    "flowgate-credentials",
                    "{}",
                    ctx("a volume reads a Secret that is not there".into())
                );
            }
        }
        let account = pod["spec"]["serviceAccountName"].as_str();
        if let Some(account) = account {
            rendered.get("ServiceAccount", account).unwrap();
        }
    }
}

/// A TriggerAuthentication's Secret key exists when the chart made the Secret.
fn check_secret_key(case: &str, rendered: &Rendered, secret: &str, key: &str) {
    if let Ok(object) = rendered.get("Secret", secret) {
        assert!(
            !object["data"][key].is_null(),
            "{case}: Secret {secret} has no key {key} that KEDA reads"
        );
    } else {
        assert_eq!(
            secret, "flowgate-credentials",
            "{case}: KEDA reads a Secret that is not there"
        );
    }
}

/// Whether a label selector of `matchExpressions` (operator In) and `matchLabels` selects `labels`.
fn selects_by_expressions(selector: &Value, labels_of: &Value) -> bool {
    let have = labels(labels_of);
    let expressions_hold = selector["matchExpressions"]
        .as_sequence()
        .into_iter()
        .flatten()
        .all(|e| {
            assert_eq!(e["operator"].as_str(), Some("In"));
            let values: Vec<&str> = e["values"]
                .as_sequence()
                .unwrap()
                .iter()
                .filter_map(Value::as_str)
                .collect();
            have.get(e["key"].as_str().unwrap())
                .is_some_and(|v| values.contains(&v.as_str()))
        });
    let labels_hold = labels(&selector["matchLabels"])
        .iter()
        .all(|(k, v)| have.get(k) == Some(v));
    expressions_hold && labels_hold
}

#[test]
fn every_container_runs_hardened_in_every_profile() {
    let Some(python) = tools::helm_python_or_skip() else {
        return;
    };
    for (name, how) in matrix() {
        let rendered = render(&python, name, &how);
        let pods = rendered
            .of_kind("Deployment")
            .into_iter()
            .map(|d| (name_of(d), d["spec"]["template"].clone()))
            .chain(
                rendered
                    .of_kind("Pod")
                    .into_iter()
                    .map(|p| (name_of(p), p.clone())),
            );
        for (pod_name, pod) in pods {
            let spec = &pod["spec"];
            assert_eq!(
                spec["securityContext"]["runAsNonRoot"].as_bool(),
                Some(true),
                "{name}: {pod_name}"
            );
            assert_eq!(
                spec["securityContext"]["seccompProfile"]["type"].as_str(),
                Some("RuntimeDefault"),
                "{name}: {pod_name}"
            );
            assert_eq!(
                spec["automountServiceAccountToken"].as_bool(),
                Some(false),
                "{name}: {pod_name}"
            );
            for container in spec["containers"].as_sequence().unwrap() {
                let sc = &container["securityContext"];
                let what = format!("{name}: {pod_name}/{}", container["name"].as_str().unwrap());
                assert_eq!(sc["runAsNonRoot"].as_bool(), Some(true), "{what}");
                assert_ne!(sc["runAsUser"].as_u64(), Some(0), "{what}");
                assert_eq!(sc["readOnlyRootFilesystem"].as_bool(), Some(true), "{what}");
                assert_eq!(
                    sc["allowPrivilegeEscalation"].as_bool(),
                    Some(false),
                    "{what}"
                );
                assert_eq!(sc["privileged"].as_bool(), Some(false), "{what}");
                assert_eq!(
                    sc["capabilities"]["drop"][0].as_str(),
                    Some("ALL"),
                    "{what}"
                );
                assert!(sc["capabilities"]["add"].is_null(), "{what}");
                assert_eq!(
                    sc["seccompProfile"]["type"].as_str(),
                    Some("RuntimeDefault"),
                    "{what}"
                );
                assert!(
                    !container["resources"]["requests"]["memory"].is_null(),
                    "{what}: no memory request"
                );
                assert!(
                    !container["resources"]["limits"]["memory"].is_null(),
                    "{what}: no memory limit"
                );
                let image = container["image"].as_str().unwrap();
                assert!(
                    image
                        .rsplit_once(':')
                        .is_some_and(|(_, tag)| !tag.is_empty() && tag != "latest"),
                    "{what}: image {image} is not pinned to a tag"
                );
            }
        }
    }
}
