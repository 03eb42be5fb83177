//! The wiring a `helm install` depends on, asserted on the rendered objects of every profile:
//! selectors pick their own pods, Services, probes, Ingress, HTTPRoute, ServiceMonitor and
//! NetworkPolicies name ports that exist, autoscalers and PDBs target the Deployments, and every
//! Secret, ConfigMap, claim and account a pod reads is rendered (or is the user's existingSecret).

use std::collections::BTreeMap;

use flowgate_deploy_checks::{helm::Rendered, tools};
use serde_norway::Value;

use crate::{
    helm::{matrix, render},
    helm_objects::{declares, name_of, pods, selected, selects_by_expressions},
};

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

/// The Secrets the matrix's values name as the user's own (`existingSecret`,
/// `api.auth.existingSecret`): the only ones a pod may read without the chart rendering them.
const USER_SECRETS: [&str; 3] = ["flowgate-credentials", "flowgate-temporal", "flowgate-auth"];

pub(crate) fn check_wiring(case: &str, rendered: &Rendered) {
    let pods = pods(rendered);
    assert!(
        !rendered.of_kind("Deployment").is_empty(),
        "{case}: no Deployment"
    );
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
                // Pods of another namespace (Temporal's, the collector's) are not the release's.
                if peer["podSelector"]["matchLabels"].is_null()
                    || !peer["namespaceSelector"].is_null()
                {
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
                        assert!(
                            USER_SECRETS.contains(&secret),
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
                assert!(
                    USER_SECRETS.contains(&secret),
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
        assert!(
            USER_SECRETS.contains(&secret),
            "{case}: KEDA reads a Secret that is not there"
        );
    }
}
