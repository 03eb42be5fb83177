//! The chart's extension points (`envFrom`, extra volumes and mounts, init containers and
//! sidecars, pod annotations and labels, `priorityClassName`, image digests, ServiceMonitor
//! relabelings, `extraObjects`), all set at once by `values/extension-points.yaml`: rendered by
//! the Helm v4 engine, linted, valid for Kubernetes and the CRDs, and each where it belongs.

use std::path::PathBuf;

use flowgate_deploy_checks::{
    helm::{Render, Rendered},
    tools,
};
use serde_json::json;
use serde_norway::Value;

use crate::{helm_objects::labels, helm_values::address};

fn values_file() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/deploy/values/extension-points.yaml")
}

fn values() -> Value {
    serde_norway::from_str(&std::fs::read_to_string(values_file()).unwrap()).unwrap()
}

fn names(list: &Value) -> Vec<&str> {
    list.as_sequence()
        .into_iter()
        .flatten()
        .map(|item| item["name"].as_str().unwrap())
        .collect()
}

#[test]
fn every_extension_point_renders_validates_and_lands_where_it_belongs() {
    let Some(python) = tools::helm_python_or_skip() else {
        return;
    };
    let rendered = crate::helm::render_valid(
        &python,
        "extension-points.yaml",
        &Render::files([values_file()]),
    );

    let values = values();
    for component in ["api", "worker"] {
        let set = &values[component];
        let pod = &rendered
            .get("Deployment", &format!("flowgate-{component}"))
            .unwrap()["spec"]["template"];
        let spec = &pod["spec"];
        let main = &spec["containers"][0];
        let what = |field: &str| format!("{component}.{field}");

        assert_eq!(
            main["name"].as_str(),
            Some(component),
            "the process stays first"
        );
        let digest = set["image"]["digest"].as_str().unwrap();
        assert_eq!(
            main["image"].as_str().unwrap(),
            format!("ghcr.io/flowgate/flowgate-{component}@{digest}"),
            "{}",
            what("image.digest")
        );
        assert_eq!(main["envFrom"], set["envFrom"], "{}", what("envFrom"));
        let mounts = main["volumeMounts"].as_sequence().unwrap();
        for mount in set["extraVolumeMounts"].as_sequence().unwrap() {
            assert!(mounts.contains(mount), "{}", what("extraVolumeMounts"));
        }
        // The chart's own mounts stay.
        assert!(names(&main["volumeMounts"]).contains(&"config"));
        let volumes = spec["volumes"].as_sequence().unwrap();
        for volume in set["extraVolumes"].as_sequence().unwrap() {
            assert!(volumes.contains(volume), "{}", what("extraVolumes"));
        }
        assert!(names(&spec["volumes"]).contains(&"config"));
        assert_eq!(
            spec["initContainers"],
            set["initContainers"],
            "{}",
            what("initContainers")
        );
        let sidecars: Vec<Value> = spec["containers"].as_sequence().unwrap()[1..].to_vec();
        assert_eq!(
            Value::Sequence(sidecars),
            set["extraContainers"],
            "{}",
            what("extraContainers")
        );
        assert_eq!(
            spec["priorityClassName"],
            set["priorityClassName"],
            "{}",
            what("priorityClassName")
        );
        let pod_labels = labels(&pod["metadata"]["labels"]);
        for (key, value) in labels(&set["podLabels"]) {
            assert_eq!(pod_labels.get(&key), Some(&value), "{}", what("podLabels"));
        }
        assert_eq!(
            pod_labels
                .get("app.kubernetes.io/component")
                .map(String::as_str),
            Some(component),
            "selector labels stay"
        );
        let annotations = labels(&pod["metadata"]["annotations"]);
        for (key, value) in labels(&set["podAnnotations"]) {
            assert_eq!(
                annotations.get(&key),
                Some(&value),
                "{}",
                what("podAnnotations")
            );
        }
        assert!(annotations.contains_key("checksum/config"));
    }

    // The helm test pod runs the API image as pinned.
    let test_pod = &rendered.of_kind("Pod")[0];
    assert!(
        test_pod["spec"]["containers"][0]["image"]
            .as_str()
            .unwrap()
            .contains("@sha256:"),
    );

    let monitor = rendered.get("ServiceMonitor", "flowgate").unwrap();
    let endpoint = &monitor["spec"]["endpoints"][0];
    let sm = &values["metrics"]["serviceMonitor"];
    assert_eq!(endpoint["relabelings"], sm["relabelings"]);
    assert_eq!(endpoint["metricRelabelings"], sm["metricRelabelings"]);

    // extraObjects: objects and strings, templated.
    let class = rendered.get("PriorityClass", "flowgate-high").unwrap();
    assert_eq!(
        class["metadata"]["labels"]["app.kubernetes.io/instance"].as_str(),
        Some("flowgate")
    );
    assert_eq!(class["description"].as_str(), Some("API pods of flowgate"));
    let config_map = rendered.get("ConfigMap", "flowgate-extra").unwrap();
    assert_eq!(config_map["data"]["release"].as_str(), Some("flowgate"));
    assert_eq!(
        config_map["metadata"]["namespace"].as_str(),
        Some("flowgate")
    );
}

fn rendered_with(python: &std::path::Path, values: serde_json::Value) -> Rendered {
    Render::default()
        .set(crate::helm_values::merged(address(), values))
        .objects(python)
        .unwrap()
}

#[test]
fn without_extensions_nothing_extra_is_rendered_and_the_tag_names_the_image() {
    let Some(python) = tools::helm_python_or_skip() else {
        return;
    };
    let rendered = rendered_with(&python, json!({"api": {"image": {"tag": "1.2.3"}}}));
    for component in ["api", "worker"] {
        let spec = &rendered
            .get("Deployment", &format!("flowgate-{component}"))
            .unwrap()["spec"]["template"]["spec"];
        assert!(spec["initContainers"].is_null());
        assert!(spec["priorityClassName"].is_null());
        assert_eq!(spec["containers"].as_sequence().unwrap().len(), 1);
        assert!(spec["containers"][0]["envFrom"].is_null());
    }
    let api = &rendered.get("Deployment", "flowgate-api").unwrap()["spec"]["template"]["spec"];
    assert_eq!(
        api["containers"][0]["image"].as_str(),
        Some("ghcr.io/flowgate/flowgate-api:1.2.3")
    );
}

#[test]
fn malformed_extensions_are_refused_by_the_schema() {
    let Some(python) = tools::helm_python_or_skip() else {
        return;
    };
    for (values, path) in [
        (
            json!({"api": {"image": {"digest": "latest"}}}),
            "/api/image/digest",
        ),
        (
            json!({"worker": {"envFrom": [{"secret": {"name": "x"}}]}}),
            "/worker/envFrom/0",
        ),
        (
            json!({"api": {"extraVolumeMounts": [{"name": "x"}]}}),
            "/api/extraVolumeMounts/0",
        ),
        (
            json!({"worker": {"extraContainers": [{"image": "x"}]}}),
            "/worker/extraContainers/0",
        ),
        (
            json!({"api": {"initContainers": {"name": "x"}}}),
            "/api/initContainers",
        ),
        (
            json!({"extraObjects": [{"metadata": {"name": "x"}}]}),
            "/extraObjects/0",
        ),
        (
            json!({"metrics": {"serviceMonitor": {"relabelings": {"action": "drop"}}}}),
            "/metrics/serviceMonitor/relabelings",
        ),
    ] {
        let values = crate::helm_values::merged(address(), values);
        let error = crate::helm::refusal(&python, &values);
        assert!(
            error.contains(path),
            "{values}: expected {path} in:\n{error}"
        );
    }
}
