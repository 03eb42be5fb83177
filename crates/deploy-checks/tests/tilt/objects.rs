//! Reading rendered Kubernetes objects as Tilt groups them into resources: workloads, their pods'
//! containers and ports, the Services that select them, Tilt's object selectors.

use std::collections::BTreeMap;

use serde_json::Value;

/// The kinds Tilt treats as workloads: each one becomes a resource named after it.
pub(crate) const WORKLOAD_KINDS: &[&str] = &[
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "Job",
    "CronJob",
    "Pod",
];

/// An object's `kind`.
pub(crate) fn kind(object: &Value) -> &str {
    object["kind"].as_str().unwrap_or_default()
}

/// An object's `metadata.name`.
pub(crate) fn name(object: &Value) -> &str {
    object["metadata"]["name"].as_str().unwrap_or_default()
}

/// An object's `metadata.namespace` (set on every rendered object).
pub(crate) fn namespace(object: &Value) -> &str {
    object["metadata"]["namespace"].as_str().unwrap_or_default()
}

/// `Kind/name (namespace ns)`, for messages.
pub(crate) fn describe(object: &Value) -> String {
    format!(
        "{}/{} (namespace {})",
        kind(object),
        name(object),
        namespace(object)
    )
}

fn pod_template(object: &Value) -> &Value {
    match kind(object) {
        "Pod" => object,
        "CronJob" => &object["spec"]["jobTemplate"]["spec"]["template"],
        _ => &object["spec"]["template"],
    }
}

/// The containers and init containers of a workload's pod.
pub(crate) fn containers(object: &Value) -> impl Iterator<Item = &Value> {
    let spec = &pod_template(object)["spec"];
    spec["containers"]
        .as_array()
        .into_iter()
        .chain(spec["initContainers"].as_array())
        .flatten()
}

/// containerPort → port name, over every container of a workload's pod.
pub(crate) fn container_ports(object: &Value) -> BTreeMap<u64, String> {
    containers(object)
        .flat_map(|c| c["ports"].as_array().into_iter().flatten())
        .filter_map(|p| {
            Some((
                p["containerPort"].as_u64()?,
                p["name"].as_str().unwrap_or_default().to_owned(),
            ))
        })
        .collect()
}

/// An image reference's repository (no tag, no digest).
pub(crate) fn image_repository(image: &str) -> &str {
    let image = image.split('@').next().unwrap_or(image);
    match image.rfind(':') {
        Some(colon) if colon > image.rfind('/').unwrap_or(0) => &image[..colon],
        _ => image,
    }
}

/// Whether a Service selects the pods of `workload` (Tilt attaches such Services to the
/// workload's resource).
pub(crate) fn selects(service: &Value, workload: &Value) -> bool {
    let Some(selector) = service["spec"]["selector"].as_object() else {
        return false;
    };
    let labels = &pod_template(workload)["metadata"]["labels"];
    namespace(service) == namespace(workload)
        && !selector.is_empty()
        && selector.iter().all(|(k, v)| &labels[k] == v)
}

/// Tilt's object selector `name[:kind[:namespace]]`: each part a full, case-insensitive match.
pub(crate) fn selector_matches(selector: &str, object: &Value) -> bool {
    let parts: Vec<&str> = selector.split(':').collect();
    let fields = [name(object), kind(object), namespace(object)];
    parts.len() <= 3
        && parts
            .iter()
            .zip(fields)
            .all(|(part, field)| part.is_empty() || part.eq_ignore_ascii_case(field))
}

/// Whether an apiVersion is a custom resource's (its CRD must be installed first).
pub(crate) fn is_custom_resource(object: &Value) -> bool {
    let api_version = object["apiVersion"].as_str().unwrap_or_default();
    match api_version.split_once('/') {
        Some((group, _)) => group.contains('.') && !group.ends_with(".k8s.io"),
        None => false,
    }
}

/// The one rendered workload `name`.
pub(crate) fn workload<'a>(objects: &'a [Value], name_: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| WORKLOAD_KINDS.contains(&kind(o)) && name(o) == name_)
        .unwrap_or_else(|| panic!("no workload {name_} rendered"))
}
