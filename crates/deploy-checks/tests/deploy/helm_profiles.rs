//! The values profiles (`deploy/helm/profiles/`): each starts with a comment saying what it sets,
//! any two compose to the same release in either order (or, where they contradict each other,
//! are refused alike in both), a replica count is never silently dropped for an autoscaler, and
//! the production profile's requests follow the published benchmark.

use std::collections::BTreeSet;

use flowgate_deploy_checks::{
    helm::{Render, profile_names, profile_path},
    repo_root, tools,
};
use serde_json::json;
use serde_norway::Value;

use crate::helm_values::{address, merged};

/// Every leaf of a values file, e.g. `worker.autoscaling.keda.targetQueueSize` (lists are leaves).
fn leaves(value: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    match value.as_mapping() {
        Some(map) if !map.is_empty() => {
            for (key, sub) in map {
                let key = key.as_str().unwrap();
                let path = if prefix.is_empty() {
                    key.to_owned()
                } else {
                    format!("{prefix}.{key}")
                };
                leaves(sub, &path, out);
            }
        }
        _ => {
            out.insert(prefix.to_owned());
        }
    }
}

/// The paths a profile's leading comment says it sets: the `Sets:` paragraph, comma separated.
fn declared(name: &str, text: &str) -> BTreeSet<String> {
    let header: Vec<&str> = text
        .lines()
        .take_while(|l| l.starts_with('#'))
        .map(|l| l.trim_start_matches('#').trim())
        .collect();
    assert!(
        header.first().is_some_and(|l| l.len() > 20),
        "{name}.yaml does not start with a comment saying what it is for"
    );
    let at = header
        .iter()
        .position(|l| l.starts_with("Sets:"))
        .unwrap_or_else(|| panic!("{name}.yaml: no `# Sets:` line in its leading comment"));
    let paragraph: Vec<&str> = header[at..]
        .iter()
        .take_while(|l| !l.is_empty())
        .copied()
        .collect();
    paragraph
        .join(" ")
        .trim_start_matches("Sets:")
        .split(',')
        .map(|p| p.trim().trim_end_matches('.').to_owned())
        .filter(|p| !p.is_empty())
        .collect()
}

#[test]
fn every_profile_starts_with_a_comment_saying_what_it_sets() {
    let names = profile_names().unwrap();
    assert!(names.len() >= 7, "{names:?}");
    for name in names {
        let text = std::fs::read_to_string(profile_path(&name)).unwrap();
        let values: Value = serde_norway::from_str(&text).unwrap();
        let mut set = BTreeSet::new();
        leaves(&values, "", &mut set);
        let declared = declared(&name, &text);
        let covered = |leaf: &String| {
            declared
                .iter()
                .any(|d| leaf == d || leaf.starts_with(&format!("{d}.")))
        };
        let undeclared: Vec<&String> = set.iter().filter(|l| !covered(l)).collect();
        assert!(
            undeclared.is_empty(),
            "{name}.yaml sets {undeclared:?}, which its `# Sets:` line does not say"
        );
        let unset: Vec<&String> = declared
            .iter()
            .filter(|d| {
                !set.iter()
                    .any(|l| l == *d || l.starts_with(&format!("{d}.")))
            })
            .collect();
        assert!(
            unset.is_empty(),
            "{name}.yaml's `# Sets:` line names {unset:?}, which it does not set"
        );
    }
}

/// Pairs of profiles that contradict each other, refused in either order with this message.
const CONTRADICTIONS: [(&str, &str, &str); 3] = [
    // The in-cluster dev server, or a Temporal elsewhere over TLS.
    (
        "dev",
        "existing-secret",
        "the in-cluster dev server serves plaintext gRPC only",
    ),
    // One replica of each process, or at least three.
    (
        "dev",
        "production",
        "api.replicas (1) and api.autoscaling.minReplicas (3) disagree",
    ),
    (
        "dev",
        "temporal-cloud",
        "set either temporal.address or temporal.devServer.enabled, not both",
    ),
];

#[test]
fn any_two_profiles_compose_to_the_same_release_in_either_order() {
    let Some(python) = tools::helm_python_or_skip() else {
        return;
    };
    let names = profile_names().unwrap();
    let mut refused = Vec::new();
    let mut rendered = 0;
    for (i, a) in names.iter().enumerate() {
        for b in &names[i + 1..] {
            // What the pair leaves to the install command: where Temporal is (and its key).
            let pair = [a.as_str(), b.as_str()];
            let extra = if pair.contains(&"dev") {
                json!({})
            } else if pair.contains(&"temporal-cloud") {
                json!({"temporal": {"apiKey": "test-api-key"}})
            } else {
                address()
            };
            let render = |first: &str, second: &str| {
                Render::files([profile_path(first), profile_path(second)])
                    .set(extra.clone())
                    .manifests(&python)
                    .map_err(|e| e.to_string())
            };
            match (render(a, b), render(b, a)) {
                (Ok(ab), Ok(ba)) => {
                    let differ: Vec<&String> = ab
                        .keys()
                        .chain(ba.keys())
                        .filter(|path| ab.get(*path) != ba.get(*path))
                        .collect();
                    assert!(
                        differ.is_empty(),
                        "-f {a} -f {b} and -f {b} -f {a} render {differ:?} differently"
                    );
                    rendered += 1;
                }
                (Err(ab), Err(ba)) => {
                    assert_eq!(ab, ba, "{a} and {b} are refused differently by order");
                    refused.push((a.clone(), b.clone(), ab));
                }
                (ab, ba) => panic!(
                    "{a} + {b}: one order renders, the other does not:\n{:?}\n{:?}",
                    ab.err(),
                    ba.err()
                ),
            }
        }
    }
    // The contradictions are exactly the documented ones, with their message.
    let pairs: Vec<(&str, &str)> = refused
        .iter()
        .map(|(a, b, _)| (a.as_str(), b.as_str()))
        .collect();
    let expected: Vec<(&str, &str)> = CONTRADICTIONS.iter().map(|(a, b, _)| (*a, *b)).collect();
    assert_eq!(pairs, expected, "{refused:#?}");
    for ((_, _, error), (_, _, message)) in refused.iter().zip(CONTRADICTIONS) {
        assert!(error.contains(message), "{error}");
    }
    assert_eq!(
        rendered + refused.len(),
        names.len() * (names.len() - 1) / 2
    );
    // The chart README names them.
    let readme =
        std::fs::read_to_string(flowgate_deploy_checks::helm::chart_dir().join("README.md"))
            .unwrap();
    for (a, b, _) in CONTRADICTIONS {
        assert!(
            readme.contains(&format!("`{a}.yaml` + `{b}.yaml`")),
            "the chart README does not name the contradiction {a} + {b}"
        );
    }
}

/// The minimum replicas of the worker's ScaledObject and whether its Deployment fixes replicas.
fn keda_floor(python: &std::path::Path, values: serde_json::Value) -> Result<u64, String> {
    let rendered = Render::files([profile_path("keda")])
        .set(merged(address(), values))
        .objects(python)
        .map_err(|e| e.to_string())?;
    let deployment = rendered.get("Deployment", "flowgate-worker").unwrap();
    assert!(
        deployment["spec"]["replicas"].is_null(),
        "KEDA owns the replicas"
    );
    let scaled = rendered.get("ScaledObject", "flowgate-worker").unwrap();
    Ok(scaled["spec"]["minReplicaCount"].as_u64().unwrap())
}

#[test]
fn a_replica_count_beside_an_autoscaler_is_its_floor_never_silently_dropped() {
    let Some(python) = tools::helm_python_or_skip() else {
        return;
    };
    assert_eq!(keda_floor(&python, json!({})), Ok(1));
    assert_eq!(
        keda_floor(&python, json!({"worker": {"replicas": 3}})),
        Ok(3)
    );
    assert_eq!(
        keda_floor(
            &python,
            json!({"worker": {"replicas": 3, "autoscaling": {"minReplicas": 3}}})
        ),
        Ok(3)
    );
    assert_eq!(
        keda_floor(
            &python,
            json!({"worker": {"autoscaling": {"minReplicas": 0}}})
        ),
        Ok(0)
    );
    let error = keda_floor(
        &python,
        json!({"worker": {"replicas": 3, "autoscaling": {"minReplicas": 1}}}),
    )
    .unwrap_err();
    assert!(
        error.contains("worker.replicas (3) and worker.autoscaling.minReplicas (1) disagree"),
        "{error}"
    );
    // production.yaml's three workers stay three with keda.yaml, whichever comes first.
    for files in [["production", "keda"], ["keda", "production"]] {
        let rendered = Render::files(files.map(profile_path))
            .set(address())
            .objects(&python)
            .unwrap();
        let scaled = rendered.get("ScaledObject", "flowgate-worker").unwrap();
        assert_eq!(
            scaled["spec"]["minReplicaCount"].as_u64(),
            Some(3),
            "{files:?}"
        );
    }
    // The API's HPA alike; an HPA cannot scale to zero.
    let api_floor = |values: serde_json::Value| {
        Render::default()
            .set(merged(
                merged(
                    address(),
                    json!({"api": {"autoscaling": {"enabled": true}}}),
                ),
                values,
            ))
            .objects(&python)
            .map(|r| {
                r.get("HorizontalPodAutoscaler", "flowgate-api").unwrap()["spec"]["minReplicas"]
                    .as_u64()
                    .unwrap()
            })
            .map_err(|e| e.to_string())
    };
    assert_eq!(api_floor(json!({})), Ok(2));
    assert_eq!(api_floor(json!({"api": {"replicas": 4}})), Ok(4));
    assert!(
        api_floor(json!({"api": {"replicas": 0}}))
            .unwrap_err()
            .contains("api.autoscaling: at least one replica")
    );
}

/// One field of the medians of every run of a benchmark scenario through Flowgate.
fn measured(results: &serde_json::Value, scenario: &str, field: &str) -> Vec<f64> {
    results["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["scenario"] == scenario && s["target"] == "flowgate")
        .filter_map(|s| s["median"][field].as_f64())
        .collect()
}

fn millicores(quantity: &str) -> f64 {
    match quantity.strip_suffix('m') {
        Some(m) => m.parse().unwrap(),
        None => quantity.parse::<f64>().unwrap() * 1000.0,
    }
}

fn mebibytes(quantity: &str) -> f64 {
    match quantity.strip_suffix("Mi") {
        Some(m) => m.parse().unwrap(),
        None => quantity.strip_suffix("Gi").unwrap().parse::<f64>().unwrap() * 1024.0,
    }
}

#[test]
fn the_production_requests_follow_the_published_benchmark() {
    let Some(python) = tools::helm_python_or_skip() else {
        return;
    };
    let results: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("docs/benchmark/results.json")).unwrap(),
    )
    .unwrap();
    let max = |values: Vec<f64>| values.into_iter().fold(0.0, f64::max);
    let api_sync_ms = max(measured(&results, "sync-start", "api_cpu_ms"));
    let worker_ms = max(results["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["scenario"] == "sync-start" && s["items"] == 1)
        .filter_map(|s| s["median"]["worker_cpu_ms"].as_f64())
        .collect());
    let rss = &results["rss"];
    let api_rss = rss["api_start_mib"]
        .as_f64()
        .unwrap()
        .max(rss["api_sync_mib"].as_f64().unwrap());
    let worker_rss = rss["worker_mib"].as_f64().unwrap();
    assert!(api_sync_ms > 0.1 && worker_ms > 1.0, "{results}");

    let rendered = Render::files([profile_path("production")])
        .set(address())
        .objects(&python)
        .unwrap();
    let resources = |name: &str| {
        rendered.get("Deployment", name).unwrap()["spec"]["template"]["spec"]["containers"][0]
            ["resources"]
            .clone()
    };
    let quantity = |r: &Value, kind: &str, what: &str| r[kind][what].as_str().unwrap().to_owned();
    let hpa = rendered
        .get("HorizontalPodAutoscaler", "flowgate-api")
        .unwrap();
    let target = hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"]
        .as_f64()
        .unwrap();

    let api = resources("flowgate-api");
    let cpu = millicores(&quantity(&api, "requests", "cpu"));
    // Where the HPA adds a pod: `target` % of the request.
    let scale_out = cpu * target / 100.0;
    // Below it, a pod serves 100 synchronous calls per second (the API's costliest request
    // measured), so steady traffic does not scale out...
    assert!(
        scale_out / api_sync_ms >= 100.0,
        "the API scales out at {:.0} synchronous calls per second per pod ({cpu}m at {target} %)",
        scale_out / api_sync_ms
    );
    // ...and the API, on one thread, can reach it: a pod never uses more than one core.
    assert!(
        scale_out < 1000.0,
        "a single-threaded API never reaches {scale_out}m"
    );
    let memory = mebibytes(&quantity(&api, "requests", "memory"));
    assert!(
        memory >= 2.0 * api_rss,
        "API memory request {memory} Mi for {api_rss} Mi measured"
    );
    assert!(mebibytes(&quantity(&api, "limits", "memory")) >= 4.0 * api_rss);

    let worker = resources("flowgate-worker");
    let cpu = millicores(&quantity(&worker, "requests", "cpu"));
    assert!(
        cpu / worker_ms >= 100.0,
        "a worker's request covers {:.0} one-item workflows per second",
        cpu / worker_ms
    );
    assert!(cpu < 1000.0, "a single-threaded worker never uses {cpu}m");
    let memory = mebibytes(&quantity(&worker, "requests", "memory"));
    assert!(
        memory >= 2.0 * worker_rss,
        "worker memory request {memory} Mi"
    );
    assert!(mebibytes(&quantity(&worker, "limits", "memory")) >= 4.0 * worker_rss);

    // The profile says where its numbers come from.
    let text = std::fs::read_to_string(profile_path("production")).unwrap();
    assert!(
        text.contains("docs/benchmark.md"),
        "production.yaml does not cite the benchmark"
    );
}
