//! PodDisruptionBudgets of the API and the worker: `minAvailable` or `maxUnavailable` (one of
//! them, 1 unavailable by default) and the unhealthy pod eviction policy, as values, rendered into
//! objects Kubernetes accepts.

use flowgate_deploy_checks::{helm::Render, tools};
use serde_json::json;
use serde_norway::Value;

use crate::{
    helm::KUBE_VERSIONS,
    helm_values::{address, merged},
};

fn budgets(python: &std::path::Path, values: serde_json::Value) -> (Value, Value) {
    let rendered = Render::default()
        .set(merged(address(), values.clone()))
        .objects(python)
        .unwrap_or_else(|e| panic!("{values}: {e}"));
    let (ok, report) = rendered.kube_validate(python, &KUBE_VERSIONS).unwrap();
    assert!(ok, "{values}:\n{report}");
    let spec = |name: &str| rendered.get("PodDisruptionBudget", name).unwrap()["spec"].clone();
    (spec("flowgate-api"), spec("flowgate-worker"))
}

#[test]
fn disruption_budgets_take_min_available_or_max_unavailable_and_the_eviction_policy() {
    let Some(python) = tools::helm_python_or_skip() else {
        return;
    };
    // Defaults: one pod at a time, and a pod that never gets ready does not block a node drain.
    let (api, worker) = budgets(&python, json!({}));
    for spec in [&api, &worker] {
        assert_eq!(spec["maxUnavailable"].as_u64(), Some(1), "{spec:?}");
        assert!(spec["minAvailable"].is_null());
        assert_eq!(
            spec["unhealthyPodEvictionPolicy"].as_str(),
            Some("AlwaysAllow")
        );
    }

    let (api, worker) = budgets(
        &python,
        json!({
            "api": {"podDisruptionBudget": {"minAvailable": 2, "unhealthyPodEvictionPolicy": "IfHealthyBudget"}},
            "worker": {"podDisruptionBudget": {"maxUnavailable": "50%", "unhealthyPodEvictionPolicy": null}},
        }),
    );
    assert_eq!(api["minAvailable"].as_u64(), Some(2));
    assert!(api["maxUnavailable"].is_null(), "{api:?}");
    assert_eq!(
        api["unhealthyPodEvictionPolicy"].as_str(),
        Some("IfHealthyBudget")
    );
    assert_eq!(worker["maxUnavailable"].as_str(), Some("50%"));
    assert!(worker["minAvailable"].is_null());
    assert!(
        worker["unhealthyPodEvictionPolicy"].is_null(),
        "null leaves it to the cluster: {worker:?}"
    );

    let (api, worker) = budgets(
        &python,
        json!({
            "api": {"podDisruptionBudget": {"minAvailable": "75%"}},
            "worker": {"podDisruptionBudget": {"minAvailable": 0}},
        }),
    );
    assert_eq!(api["minAvailable"].as_str(), Some("75%"));
    assert_eq!(worker["minAvailable"].as_u64(), Some(0));
}

#[test]
fn contradicting_or_malformed_disruption_budgets_are_refused() {
    let Some(python) = tools::helm_python_or_skip() else {
        return;
    };
    for (values, expected) in [
        (
            json!({"api": {"podDisruptionBudget": {"minAvailable": 1, "maxUnavailable": 1}}}),
            "api.podDisruptionBudget: set minAvailable (1) or maxUnavailable (1), not both",
        ),
        (
            json!({"worker": {"podDisruptionBudget": {"minAvailable": "half"}}}),
            "/worker/podDisruptionBudget/minAvailable",
        ),
        (
            json!({"api": {"podDisruptionBudget": {"unhealthyPodEvictionPolicy": "Never"}}}),
            "/api/podDisruptionBudget/unhealthyPodEvictionPolicy",
        ),
    ] {
        let values = merged(address(), values);
        let error = crate::helm::refusal(&python, &values);
        assert!(
            error.contains(expected),
            "{values}: {expected:?} not in:\n{error}"
        );
    }
}
