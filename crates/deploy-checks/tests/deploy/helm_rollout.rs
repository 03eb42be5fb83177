//! What rolls which pods: a change only the API reads (API keys, token settings, limits) rolls
//! the API and leaves the worker's Deployment byte for byte as it was, and the other way round;
//! a pod annotation bumped for a change inside a Secret of the user's rolls that component only;
//! a new chart version that changes nothing else rolls nothing; and what the chart leaves out of
//! a process's configuration file is what that process's code never reads.

use std::path::Path;

use flowgate_deploy_checks::{
    helm::{Render, chart_dir, profile_path},
    repo_root, tools,
};
use serde_json::json;

use crate::helm_values::{address, merged};

const API: &str = "flowgate/templates/api/deployment.yaml";
const WORKER: &str = "flowgate/templates/worker/deployment.yaml";

/// `[auth]` with one API key by its hash, and token settings.
fn auth(key_hash: &str, issuer: &str) -> serde_json::Value {
    json!({"config": {"auth": {
        "enabled": true,
        "api_keys": [{"name": "shop", "sha256": key_hash, "permissions": ["start:shopping"]}],
        "jwt": {
            "jwks_url": "https://idp.example.com/jwks.json",
            "issuer": issuer,
            "audience": ["flowgate"],
        },
    }}})
}

/// The API's and the worker's Deployment as rendered text, for `values` over an existing Temporal.
fn deployments(python: &Path, values: serde_json::Value) -> (String, String) {
    let manifests = Render::default()
        .set(merged(address(), values))
        .manifests(python)
        .unwrap();
    (manifests[API].clone(), manifests[WORKER].clone())
}

#[test]
fn an_api_only_change_rolls_the_api_and_leaves_the_worker_byte_identical() {
    let Some(python) = tools::helm_python_or_skip() else {
        return;
    };
    let base = auth(&"ab".repeat(32), "https://idp.example.com/");
    let (api, worker) = deployments(&python, base.clone());
    for (what, change) in [
        // A key rotation: the new key's hash replaces the old one.
        (
            "a changed API key hash",
            auth(&"cd".repeat(32), "https://idp.example.com/"),
        ),
        (
            "another token issuer",
            auth(&"ab".repeat(32), "https://login.example.com/"),
        ),
        (
            "API limits",
            merged(
                base.clone(),
                json!({"config": {"limits": {"rate_per_second": 20}}}),
            ),
        ),
        (
            "the API's drain",
            merged(base.clone(), json!({"api": {"shutdownGraceSeconds": 50}})),
        ),
    ] {
        let (api_after, worker_after) = deployments(&python, change);
        assert_eq!(
            worker, worker_after,
            "{what} changed the worker's Deployment"
        );
        assert_ne!(api, api_after, "{what} does not roll the API");
        let checksum = |text: &str| {
            text.lines()
                .find(|l| l.trim_start().starts_with("checksum/config:"))
                .unwrap()
                .to_owned()
        };
        assert_ne!(checksum(&api), checksum(&api_after), "{what}");
    }
}

#[test]
fn a_worker_only_change_rolls_the_worker_and_leaves_the_api_byte_identical() {
    let Some(python) = tools::helm_python_or_skip() else {
        return;
    };
    // A release whose Secret holds a webhook signing secret, as after the first rotation.
    let base =
        json!({"webhooks": {"secrets": "whsec_b2xkLXNpZ25pbmctc2VjcmV0LW9mLTMyLWJ5dGVzIQ=="}});
    let (api, worker) = deployments(&python, base.clone());
    for (what, change) in [
        (
            "worker concurrency",
            json!({"config": {"worker": {"max_concurrent_activities": 10}}}),
        ),
        (
            "the worker's drain",
            json!({"worker": {"shutdownGraceSeconds": 60}}),
        ),
        (
            "a rotated webhook signing secret",
            json!({"webhooks": {"secrets": "whsec_bmV3LXNpZ25pbmctc2VjcmV0LW9mLTMyLWJ5dGVzIQ=="}}),
        ),
    ] {
        let (api_after, worker_after) = deployments(&python, merged(base.clone(), change));
        assert_eq!(api, api_after, "{what} changed the API's Deployment");
        assert_ne!(worker, worker_after, "{what} does not roll the worker");
    }
    // What both read rolls both.
    let (api_after, worker_after) = deployments(
        &python,
        merged(base, json!({"config": {"log": {"level": "debug"}}})),
    );
    assert_ne!(api, api_after);
    assert_ne!(worker, worker_after);
}

#[test]
fn a_pod_annotation_bumped_for_a_secret_change_rolls_that_component_only() {
    let Some(python) = tools::helm_python_or_skip() else {
        return;
    };
    // Helm cannot see inside a Secret of the user's: the chart renders the same whatever it
    // holds, so the documented way to roll is an annotation the user bumps (or `kubectl rollout
    // restart`).
    let with_secret = |revision: &str| {
        deployments(
            &python,
            json!({"api": {
                "auth": {"existingSecret": "flowgate-auth"},
                "podAnnotations": {"example.com/auth-revision": revision},
            }}),
        )
    };
    let (api, worker) = with_secret("1");
    let (api_after, worker_after) = with_secret("2");
    assert_eq!(worker, worker_after, "the workers roll for the API's keys");
    assert_ne!(api, api_after);
    assert!(
        api_after.contains(r#"example.com/auth-revision: "2""#),
        "{api_after}"
    );
    // The worker's own annotations roll only the worker.
    let (api, worker) = deployments(&python, json!({"worker": {"podAnnotations": {"a": "1"}}}));
    let (api_after, worker_after) =
        deployments(&python, json!({"worker": {"podAnnotations": {"a": "2"}}}));
    assert_eq!(api, api_after);
    assert_ne!(worker, worker_after);

    // The chart README says so, and how to roll instead.
    let readme = std::fs::read_to_string(chart_dir().join("README.md")).unwrap();
    for text in [
        "rollout restart deployment/<fullname>-api",
        "api.podAnnotations",
        "Helm cannot see",
    ] {
        assert!(
            readme.contains(text),
            "the chart README does not say {text:?}"
        );
    }
}

/// Every `.rs` file under `dir`, with its text.
fn sources(dir: &Path, out: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push((
                path.display().to_string(),
                std::fs::read_to_string(&path).unwrap(),
            ));
        }
    }
}

#[test]
fn the_sections_left_out_of_a_process_file_are_ones_that_process_never_reads() {
    // The sections the chart keeps out of the worker's file (flowgate.apiOnlySections).
    let helpers = std::fs::read_to_string(chart_dir().join("templates/_helpers.tpl")).unwrap();
    let at = helpers
        .find(r#"define "flowgate.apiOnlySections""#)
        .unwrap();
    let line = helpers[at..].lines().find(|l| l.contains("list ")).unwrap();
    let api_only: Vec<&str> = line.split('"').skip(1).step_by(2).collect();
    assert!(
        api_only.contains(&"auth") && api_only.contains(&"api"),
        "{api_only:?}"
    );

    // The worker and the libraries it runs on never read them...
    let mut worker = Vec::new();
    for krate in ["worker", "runtime", "telemetry", "temporal", "workflows"] {
        sources(
            &repo_root().join("crates").join(krate).join("src"),
            &mut worker,
        );
    }
    for (file, text) in &worker {
        for section in &api_only {
            for pattern in [
                format!("settings.{section}"),
                format!("settings().{section}"),
            ] {
                assert!(
                    !text.contains(&pattern),
                    "{file} reads `{pattern}`, which the chart leaves out of the worker's file"
                );
            }
        }
    }
    // ...and of the worker's own settings the API reads only the task queue it starts on.
    let mut api = Vec::new();
    sources(&repo_root().join("crates/api/src"), &mut api);
    let mut reads_task_queue = false;
    for (file, text) in &api {
        for (at, _) in text.match_indices("settings.worker.") {
            let key: String = text[at + "settings.worker.".len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            assert_eq!(
                key, "task_queue",
                "{file} reads worker.{key}, which the chart leaves out of the API's file"
            );
            reads_task_queue = true;
        }
    }
    assert!(
        reads_task_queue,
        "the API no longer reads worker.task_queue?"
    );
}

/// Copies a directory tree.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn a_new_chart_version_leaves_every_pod_template_as_it_was() {
    let Some(python) = tools::helm_python_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let bumped = dir.path().join("flowgate");
    copy_dir(&chart_dir(), &bumped);
    let chart_yaml = bumped.join("Chart.yaml");
    let text = std::fs::read_to_string(&chart_yaml).unwrap();
    let version = text
        .lines()
        .find_map(|l| l.strip_prefix("version: "))
        .unwrap()
        .to_owned();
    let next = format!("{version}-next.1");
    std::fs::write(
        &chart_yaml,
        text.replace(&format!("version: {version}"), &format!("version: {next}")),
    )
    .unwrap();

    for (case, how) in [
        ("defaults", Render::default().set(address())),
        // With the Temporal dev server's Deployment and the test pod.
        ("dev", Render::files([profile_path("dev")])),
    ] {
        let before = how.objects(&python).unwrap();
        let after = how.clone().chart(&bumped).objects(&python).unwrap();
        let deployments = before.of_kind("Deployment");
        assert!(deployments.len() >= 2, "{case}");
        for deployment in deployments {
            let name = deployment["metadata"]["name"].as_str().unwrap();
            let bumped = after.get("Deployment", name).unwrap();
            // The objects say which chart made them...
            assert_eq!(
                deployment["metadata"]["labels"]["helm.sh/chart"].as_str(),
                Some(format!("flowgate-{version}").as_str()),
                "{case}: {name}"
            );
            assert_eq!(
                bumped["metadata"]["labels"]["helm.sh/chart"].as_str(),
                Some(format!("flowgate-{}", next.replace('+', "_")).as_str()),
                "{case}: {name}"
            );
            // ...their pods do not, so a chart upgrade that changes nothing else rolls nothing.
            assert_eq!(
                serde_norway::to_string(&deployment["spec"]["template"]).unwrap(),
                serde_norway::to_string(&bumped["spec"]["template"]).unwrap(),
                "{case}: {name}'s pods would roll on a chart version bump"
            );
            assert!(
                deployment["spec"]["template"]["metadata"]["labels"]["helm.sh/chart"].is_null(),
                "{case}: {name}"
            );
        }
    }
}
