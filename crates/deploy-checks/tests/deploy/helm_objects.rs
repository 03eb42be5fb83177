//! Reading rendered objects: names, labels, selectors and the ports pods declare.

use std::collections::BTreeMap;

use flowgate_deploy_checks::helm::Rendered;
use serde_norway::Value;

/// The pods of every workload, by Deployment name, and the `helm test` pod, by its name: labels
/// and containers.
pub(crate) fn pods(rendered: &Rendered) -> BTreeMap<String, &Value> {
    rendered
        .of_kind("Deployment")
        .into_iter()
        .map(|d| (name_of(d), &d["spec"]["template"]))
        .chain(rendered.of_kind("Pod").into_iter().map(|p| (name_of(p), p)))
        .collect()
}

pub(crate) fn name_of(object: &Value) -> String {
    object["metadata"]["name"]
        .as_str()
        .unwrap_or("?")
        .to_owned()
}

pub(crate) fn labels(object: &Value) -> BTreeMap<String, String> {
    object
        .as_mapping()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.as_str()?.to_owned(), v.as_str()?.to_owned())))
        .collect()
}

pub(crate) fn matches(selector: &Value, pod_labels: &BTreeMap<String, String>) -> bool {
    let wanted = labels(selector);
    !wanted.is_empty() && wanted.iter().all(|(k, v)| pod_labels.get(k) == Some(v))
}

/// The pods (Deployment names) a matchLabels selector picks.
pub(crate) fn selected<'a>(pods: &'a BTreeMap<String, &Value>, selector: &Value) -> Vec<&'a str> {
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
pub(crate) fn declares(pod: &Value, port: &Value) -> bool {
    let ports = container_ports(pod);
    match port {
        Value::String(name) => ports.contains_key(name),
        Value::Number(n) => ports.values().any(|p| Some(*p) == n.as_u64()),
        _ => false,
    }
}

/// Whether a label selector of `matchExpressions` (operator In) and `matchLabels` selects
/// `labels_of`.
pub(crate) fn selects_by_expressions(selector: &Value, labels_of: &Value) -> bool {
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
