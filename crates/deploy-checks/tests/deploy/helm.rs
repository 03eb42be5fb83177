//! The Helm chart rendered by the real Helm v4 engine for every values profile, linted, every
//! rendered object validated against the Kubernetes schemas of the oldest supported and the
//! newest Kubernetes (custom resources against their CRDs' schemas), and every container
//! hardened.

use std::{path::PathBuf, process::Command};

use crate::helm_objects::name_of;
use flowgate_deploy_checks::{
    helm::{Render, Rendered, example_path, pipe, profile_path},
    tools,
};
use serde_json::json;

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
                // Exposed through the Gateway: API keys (their hashes), clients told apart by
                // the Gateway's X-Forwarded-For.
                "config": {
                    "auth": {
                        "enabled": true,
                        "api_keys": [{"name": "shop", "sha256": "ab".repeat(32), "permissions": ["start:shopping", "read:shopping"]}],
                    },
                    "limits": {"trust_forwarded_for": true},
                },
            })),
        ),
        // The chart README's worked example: a platform team's install in one values file.
        ("platform-team", Render::files([example_path("platform-team")])),
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

/// Helm's error for `values`, which must not render.
pub(crate) fn refusal(python: &std::path::Path, values: &serde_json::Value) -> String {
    Render::default()
        .set(values.clone())
        .manifests(python)
        .err()
        .unwrap_or_else(|| panic!("{values} was accepted"))
        .to_string()
}

pub(crate) fn render(python: &std::path::Path, name: &str, how: &Render) -> Rendered {
    how.objects(python)
        .unwrap_or_else(|e| panic!("rendering {name} failed: {e}"))
}

/// `how` rendered, after asserting it passes `helm lint --strict` on every Kubernetes version,
/// kubernetes-validate, and its custom resources' CRD schemas.
pub(crate) fn render_valid(python: &std::path::Path, name: &str, how: &Render) -> Rendered {
    let rendered = render(python, name, how);
    for version in KUBE_VERSIONS {
        let findings = how.lint(python, &format!("v{version}")).unwrap();
        assert!(
            findings.is_empty(),
            "{name}: helm lint on {version}: {findings:#?}"
        );
    }
    let (ok, report) = rendered.kube_validate(python, &KUBE_VERSIONS).unwrap();
    assert!(ok, "{name}: kubernetes-validate failed:\n{report}");
    let mut command = Command::new(python);
    command.arg(crd_validator());
    let (crs_ok, crs_report) = pipe(command, &rendered.stream).unwrap();
    assert!(
        crs_ok,
        "{name}: custom resources fail their CRD schema:\n{crs_report}"
    );
    rendered
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
