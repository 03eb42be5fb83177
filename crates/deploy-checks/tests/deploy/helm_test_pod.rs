//! `helm test` under the chart's NetworkPolicies: for every profile, the combinations of the
//! render matrix and the platform team's example, the rendered test pod is admitted to the API's
//! port by a rule of the policies that select the API pods, and the policies that select the test
//! pod let it resolve names and reach the API pods.

use std::collections::BTreeMap;

use flowgate_deploy_checks::{
    helm::{Render, Rendered, profile_names, profile_path},
    tools,
};
use serde_norway::Value;

use crate::{
    helm::{matrix, render},
    helm_objects::{container_ports, labels, name_of},
    helm_values::address,
};

/// The release's namespace, as Kubernetes labels it.
const NAMESPACE: &str = "flowgate";

/// Whether a label selector (`matchLabels`, `matchExpressions`) selects `have`; `{}` selects
/// everything.
fn selects(selector: &Value, have: &BTreeMap<String, String>) -> bool {
    let labels_hold = labels(&selector["matchLabels"])
        .iter()
        .all(|(k, v)| have.get(k) == Some(v));
    let expressions_hold = selector["matchExpressions"]
        .as_sequence()
        .into_iter()
        .flatten()
        .all(|e| {
            let key = e["key"].as_str().unwrap();
            let values: Vec<&str> = e["values"]
                .as_sequence()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let value = have.get(key).map(String::as_str);
            match e["operator"].as_str().unwrap() {
                "In" => value.is_some_and(|v| values.contains(&v)),
                "NotIn" => value.is_none_or(|v| !values.contains(&v)),
                "Exists" => value.is_some(),
                "DoesNotExist" => value.is_none(),
                other => panic!("unknown operator {other}"),
            }
        });
    labels_hold && expressions_hold
}

/// Whether the peers of a rule (`from` / `to`; absent = everywhere) include a pod of the
/// release's namespace with `pod_labels`.
fn peers_include(peers: &Value, pod_labels: &BTreeMap<String, String>) -> bool {
    let Some(peers) = peers.as_sequence() else {
        return true;
    };
    let namespace = BTreeMap::from([(
        "kubernetes.io/metadata.name".to_owned(),
        NAMESPACE.to_owned(),
    )]);
    peers.iter().any(|peer| {
        if !peer["ipBlock"].is_null() {
            return false;
        }
        // Without a namespaceSelector the peer is in the policy's namespace, the release's.
        let namespace_ok =
            peer["namespaceSelector"].is_null() || selects(&peer["namespaceSelector"], &namespace);
        let pod_ok = peer["podSelector"].is_null() || selects(&peer["podSelector"], pod_labels);
        namespace_ok && pod_ok
    })
}

/// Whether the `ports` of a rule (absent = all) include `protocol` `port` of a pod whose named
/// ports are `named`.
fn ports_include(ports: &Value, port: u64, protocol: &str, named: &BTreeMap<String, u64>) -> bool {
    let Some(ports) = ports.as_sequence() else {
        return true;
    };
    ports.iter().any(|p| {
        let protocol_ok = p["protocol"].as_str().unwrap_or("TCP") == protocol;
        let port_ok = match &p["port"] {
            Value::Null => true,
            Value::Number(n) => n.as_u64() == Some(port),
            Value::String(name) => named.get(name) == Some(&port),
            _ => false,
        };
        protocol_ok && port_ok
    })
}

fn policy_types(policy: &Value) -> Vec<&str> {
    policy["spec"]["policyTypes"]
        .as_sequence()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect()
}

/// The NetworkPolicies selecting a pod with `pod_labels` for `direction` (Ingress, Egress).
fn policies_for<'a>(
    rendered: &'a Rendered,
    pod_labels: &BTreeMap<String, String>,
    direction: &str,
) -> Vec<&'a Value> {
    rendered
        .of_kind("NetworkPolicy")
        .into_iter()
        .filter(|p| selects(&p["spec"]["podSelector"], pod_labels))
        .filter(|p| policy_types(p).contains(&direction))
        .collect()
}

/// The `helm test` pod of a render may ask the API through its Service under the render's
/// NetworkPolicies: the policies selecting the API pods admit it to their HTTP port, and those
/// selecting the test pod let it reach DNS and that port. Returns what is wrong, if anything.
pub(crate) fn test_pod_reaches_the_api(rendered: &Rendered) -> Result<(), String> {
    let pods = rendered.of_kind("Pod");
    let [test_pod] = pods.as_slice() else {
        return Err(format!("expected one test pod, have {}", pods.len()));
    };
    let test_labels = labels(&test_pod["metadata"]["labels"]);
    let api = &rendered
        .get("Deployment", "flowgate-api")
        .map_err(|e| e.to_string())?["spec"]["template"];
    let api_labels = labels(&api["metadata"]["labels"]);
    let api_ports = container_ports(api);
    let http = api_ports["http"];

    // The pod's target: the Service's `http` port forwards to the API pods' `http` port.
    let service = rendered
        .get("Service", "flowgate-api")
        .map_err(|e| e.to_string())?;
    let url = test_pod["spec"]["containers"][0]["args"][2]
        .as_str()
        .unwrap_or("");
    let service_port = service["spec"]["ports"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|p| url.ends_with(&format!(":{}/", p["port"].as_u64().unwrap_or(0))))
        .ok_or_else(|| format!("the test pod's {url} is no port of the API's Service"))?;
    if service_port["targetPort"].as_str() != Some("http") {
        return Err(format!(
            "the test pod asks {service_port:?}, not the API's http port"
        ));
    }

    let ingress = policies_for(rendered, &api_labels, "Ingress");
    if !ingress.is_empty() {
        let admitted = ingress.iter().any(|policy| {
            policy["spec"]["ingress"]
                .as_sequence()
                .into_iter()
                .flatten()
                .any(|rule| {
                    ports_include(&rule["ports"], http, "TCP", &api_ports)
                        && peers_include(&rule["from"], &test_labels)
                })
        });
        if !admitted {
            let names: Vec<String> = ingress.iter().map(|p| name_of(p)).collect();
            return Err(format!(
                "no ingress rule of {names:?} admits the test pod to port {http}"
            ));
        }
    }
    let egress = policies_for(rendered, &test_labels, "Egress");
    if !egress.is_empty() {
        // `to`: None = the rule must not restrict the destination (the cluster's resolver may
        // run anywhere), Some = a pod of the namespace with these labels.
        let allows = |to: Option<&BTreeMap<String, String>>, port: u64, protocol: &str| {
            egress.iter().any(|policy| {
                policy["spec"]["egress"]
                    .as_sequence()
                    .into_iter()
                    .flatten()
                    .any(|rule| {
                        let to_ok = match to {
                            None => rule["to"].is_null(),
                            Some(pod) => peers_include(&rule["to"], pod),
                        };
                        to_ok && ports_include(&rule["ports"], port, protocol, &api_ports)
                    })
            })
        };
        if !allows(None, 53, "UDP") || !allows(None, 53, "TCP") {
            return Err("the test pod may not resolve the API Service's name (DNS)".into());
        }
        if !allows(Some(&api_labels), http, "TCP") {
            return Err(format!(
                "the test pod may not reach the API pods' port {http}"
            ));
        }
    }
    Ok(())
}

/// Every profile alone, as it is installed (with a Temporal to reach where it names none).
fn single_profiles() -> Vec<(String, Render)> {
    profile_names()
        .unwrap()
        .into_iter()
        .map(|name| {
            let how = Render::files([profile_path(&name)]);
            let how = match name.as_str() {
                "dev" => how,
                "temporal-cloud" => how.set(serde_json::json!({"temporal": {"apiKey": "k"}})),
                _ => how.set(address()),
            };
            (name, how)
        })
        .collect()
}

#[test]
fn the_helm_test_pod_reaches_the_api_under_every_profiles_network_policies() {
    let Some(python) = tools::helm_python_or_skip() else {
        return;
    };
    let cases = matrix()
        .into_iter()
        .map(|(name, how)| (name.to_owned(), how))
        .chain(single_profiles());
    let mut with_policies = 0;
    for (name, how) in cases {
        let rendered = render(&python, &name, &how);
        if !rendered.of_kind("NetworkPolicy").is_empty() {
            with_policies += 1;
        }
        test_pod_reaches_the_api(&rendered).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    assert!(
        with_policies >= 5,
        "only {with_policies} renders have NetworkPolicies"
    );
}

#[test]
fn the_check_notices_a_test_pod_the_api_policy_does_not_admit() {
    let Some(python) = tools::helm_python_or_skip() else {
        return;
    };
    // Production's API policy admits the ingress controller's namespace and the test pod; without
    // the test pod's peer (or its egress to the API) the test would time out, and the check says so.
    let how = Render::files([profile_path("production")]).set(address());
    let mut rendered = render(&python, "production", &how);
    test_pod_reaches_the_api(&rendered).unwrap();
    let original = rendered.clone();
    for object in &mut rendered.objects {
        if name_of(object) == "flowgate-api" && object["kind"].as_str() == Some("NetworkPolicy") {
            let from = object["spec"]["ingress"][0]["from"]
                .as_sequence_mut()
                .unwrap();
            let before = from.len();
            from.retain(|peer| peer["podSelector"].is_null());
            assert_eq!(from.len(), before - 1, "the test pod's peer is there");
        }
    }
    let error = test_pod_reaches_the_api(&rendered).unwrap_err();
    assert!(error.contains("admits the test pod"), "{error}");

    let mut rendered = original;
    for object in &mut rendered.objects {
        if name_of(object) == "flowgate-test" && object["kind"].as_str() == Some("NetworkPolicy") {
            object["spec"]["egress"]
                .as_sequence_mut()
                .unwrap()
                .truncate(1);
        }
    }
    let error = test_pod_reaches_the_api(&rendered).unwrap_err();
    assert!(error.contains("may not reach the API pods"), "{error}");
}
