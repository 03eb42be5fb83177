//! The platform team's install in one values file (`deploy/helm/flowgate/examples/platform-team.yaml`,
//! the chart README's worked example): rendered by the Helm v4 engine, linted, valid for
//! Kubernetes and the CRDs, wired, its `helm test` pod allowed by its NetworkPolicies, and each
//! thing the team asked for visible in the manifests.

use std::{collections::BTreeMap, path::PathBuf, process::Command};

use flowgate_deploy_checks::{
    helm::{Render, Rendered, chart_dir, container_env, example_path, pipe, profile_path},
    tools,
};
use serde_norway::Value;

use crate::{
    helm::KUBE_VERSIONS, helm_objects::labels, helm_test_pod::test_pod_reaches_the_api,
    helm_values::config_toml, helm_wiring::check_wiring,
};

fn platform_team() -> Render {
    Render::files([example_path("platform-team")])
}

fn container<'a>(rendered: &'a Rendered, deployment: &str) -> &'a Value {
    &rendered.get("Deployment", deployment).unwrap()["spec"]["template"]["spec"]["containers"][0]
}

#[test]
fn the_platform_team_example_renders_lints_validates_and_its_helm_test_may_run() {
    let Some(python) = tools::helm_python_or_skip() else {
        return;
    };
    let how = platform_team();
    let rendered = how
        .objects(&python)
        .unwrap_or_else(|e| panic!("platform-team.yaml: {e}"));
    for version in KUBE_VERSIONS {
        let findings = how.lint(&python, &format!("v{version}")).unwrap();
        assert!(findings.is_empty(), "helm lint on {version}: {findings:#?}");
    }
    let (ok, report) = rendered.kube_validate(&python, &KUBE_VERSIONS).unwrap();
    assert!(ok, "kubernetes-validate failed:\n{report}");
    let mut command = Command::new(&python);
    command.arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/validate_crs.py"));
    let (crs_ok, crs_report) = pipe(command, &rendered.stream).unwrap();
    assert!(
        crs_ok,
        "custom resources fail their CRD schema:\n{crs_report}"
    );
    // Every kind Kubernetes' schemas do not know is a custom resource its CRD validated.
    for line in report.lines().filter(|l| l.starts_with("unknown ")) {
        let object = line.rsplit(' ').next().unwrap();
        assert!(
            crs_report.lines().any(|l| l == format!("ok {object}")),
            "{object} is validated by no schema"
        );
    }
    for kind in [
        "ScaledObject",
        "TriggerAuthentication",
        "ServiceMonitor",
        "PrometheusRule",
    ] {
        assert_eq!(rendered.of_kind(kind).len(), 1, "{kind}");
    }
    check_wiring("platform-team", &rendered);
    test_pod_reaches_the_api(&rendered).unwrap_or_else(|e| panic!("helm test: {e}"));
}

#[test]
fn the_platform_team_example_gets_what_the_team_asked_for() {
    let Some(python) = tools::helm_python_or_skip() else {
        return;
    };
    let rendered = platform_team().objects(&python).unwrap();

    // Temporal in its own namespace, over mTLS with the team's client certificate and CA.
    let worker_env = container_env(container(&rendered, "flowgate-worker"));
    let api_env = container_env(container(&rendered, "flowgate-api"));
    for env in [&worker_env, &api_env] {
        assert_eq!(env["TEMPORAL_ADDRESS"], "temporal-frontend.temporal:7233");
        assert_eq!(env["TEMPORAL_TLS"], "true");
        assert_eq!(
            env["TEMPORAL_TLS_CLIENT_CERT_PATH"],
            "/etc/flowgate/secrets/temporal-tls.crt"
        );
        assert_eq!(
            env["TEMPORAL_TLS_SERVER_CA_CERT_PATH"],
            "/etc/flowgate/secrets/temporal-ca.crt"
        );
    }
    // No credential in the release: the chart makes no Secret, the ConfigMap holds none.
    assert!(rendered.of_kind("Secret").is_empty());
    let config_map =
        serde_norway::to_string(rendered.get("ConfigMap", "flowgate-config").unwrap()).unwrap();
    assert!(!config_map.contains("sha256"), "{config_map}");

    // Authentication on, keys and token settings from the team's Secret, the API alone reads it.
    assert_eq!(
        api_env["FLOWGATE_CONFIG"],
        "/etc/flowgate/flowgate.toml:/etc/flowgate/auth/auth.toml"
    );
    assert_eq!(worker_env["FLOWGATE_CONFIG"], "/etc/flowgate/flowgate.toml");
    let api_pod = &rendered.get("Deployment", "flowgate-api").unwrap()["spec"]["template"];
    let auth = api_pod["spec"]["volumes"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|v| v["name"].as_str() == Some("auth"))
        .unwrap();
    assert_eq!(auth["secret"]["secretName"].as_str(), Some("flowgate-auth"));
    let api_config = config_toml(&rendered, "api");
    assert_eq!(api_config["auth"]["enabled"].as_bool(), Some(true));
    assert!(config_toml(&rendered, "worker").get("auth").is_none());
    assert_eq!(
        api_pod["metadata"]["annotations"]["platform.example.com/auth-revision"].as_str(),
        Some("1")
    );

    // Ingress with TLS, and the notes name its URL and the credentials header.
    let ingress = rendered.get("Ingress", "flowgate-api").unwrap();
    assert_eq!(ingress["spec"]["ingressClassName"].as_str(), Some("nginx"));
    assert_eq!(
        ingress["spec"]["tls"][0]["hosts"][0].as_str(),
        Some("flowgate.platform.example.com")
    );
    assert!(
        rendered
            .notes
            .contains("curl -X POST https://flowgate.platform.example.com/workflows/shopping"),
        "{}",
        rendered.notes
    );
    assert!(rendered.notes.contains("Authorization: Bearer"));

    // kube-prometheus-stack finds the ServiceMonitor and the rules; Grafana's sidecar the boards.
    for kind in ["ServiceMonitor", "PrometheusRule"] {
        let object = rendered.get(kind, "flowgate").unwrap();
        assert_eq!(
            object["metadata"]["labels"]["release"].as_str(),
            Some("kube-prometheus-stack"),
            "{kind}"
        );
    }
    let boards: Vec<&Value> = rendered
        .of_kind("ConfigMap")
        .into_iter()
        .filter(|c| c["metadata"]["labels"]["grafana_dashboard"].as_str() == Some("1"))
        .collect();
    assert_eq!(boards.len(), 4);

    // KEDA scales the worker from the team's three to 30, connecting as the worker does.
    let scaled = rendered.get("ScaledObject", "flowgate-worker").unwrap();
    assert_eq!(scaled["spec"]["minReplicaCount"].as_u64(), Some(3));
    assert_eq!(scaled["spec"]["maxReplicaCount"].as_u64(), Some(30));
    assert!(rendered.get("Deployment", "flowgate-worker").unwrap()["spec"]["replicas"].is_null());
    let trigger_auth = rendered
        .get("TriggerAuthentication", "flowgate-worker")
        .unwrap();
    let parameters: BTreeMap<&str, &str> = trigger_auth["spec"]["secretTargetRef"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|r| {
            assert_eq!(r["name"].as_str(), Some("flowgate-temporal"));
            (r["parameter"].as_str().unwrap(), r["key"].as_str().unwrap())
        })
        .collect();
    assert_eq!(
        parameters,
        BTreeMap::from([
            ("ca", "temporal-ca.crt"),
            ("cert", "temporal-tls.crt"),
            ("key", "temporal-tls.key"),
        ])
    );

    // Production hardening: an autoscaled API that keeps two pods through disruptions, the
    // production profile's requests, NetworkPolicies.
    let hpa = rendered
        .get("HorizontalPodAutoscaler", "flowgate-api")
        .unwrap();
    assert_eq!(hpa["spec"]["minReplicas"].as_u64(), Some(3));
    let pdb = rendered.get("PodDisruptionBudget", "flowgate-api").unwrap();
    assert_eq!(pdb["spec"]["minAvailable"].as_u64(), Some(2));
    let production = Render::files([profile_path("production")])
        .set(crate::helm_values::address())
        .objects(&python)
        .unwrap();
    for deployment in ["flowgate-api", "flowgate-worker"] {
        assert_eq!(
            container(&rendered, deployment)["resources"],
            container(&production, deployment)["resources"],
            "{deployment}: the example's requests are the production profile's"
        );
    }
    let policies: Vec<String> = rendered
        .of_kind("NetworkPolicy")
        .iter()
        .map(|p| p["metadata"]["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        policies,
        ["flowgate-api", "flowgate-worker", "flowgate-test"]
    );
    let api_policy = rendered.get("NetworkPolicy", "flowgate-api").unwrap();
    let from = &api_policy["spec"]["ingress"][0]["from"];
    assert_eq!(
        labels(&from[0]["namespaceSelector"]["matchLabels"]).get("kubernetes.io/metadata.name"),
        Some(&"ingress-nginx".to_owned())
    );
    let egress_ports: Vec<u64> = api_policy["spec"]["egress"]
        .as_sequence()
        .unwrap()
        .iter()
        .flat_map(|rule| rule["ports"].as_sequence().unwrap())
        .filter_map(|p| p["port"].as_u64())
        .collect();
    for port in [53, 7233, 4317, 443] {
        assert!(
            egress_ports.contains(&port),
            "API egress {port}: {egress_ports:?}"
        );
    }

    // The chart README shows the example.
    let readme = std::fs::read_to_string(chart_dir().join("README.md")).unwrap();
    assert!(readme.contains("examples/platform-team.yaml"));
}
