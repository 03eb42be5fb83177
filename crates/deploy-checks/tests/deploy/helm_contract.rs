//! The config contract of the Helm chart: the real binaries started with exactly the arguments,
//! environment and configuration file the rendered chart gives their containers load and
//! validate it, pass the probes the chart declares on the ports it declares, serve a workflow,
//! answer the `helm test` pod's check, export metrics where the ServiceMonitor scrapes and
//! traces where `otel.*` sends them, and drain within their pods' grace period.
//!
//! The dev profile's Temporal is the chart's own dev-server container: the real `temporal` CLI
//! run with that container's arguments. Only what cannot exist here is redirected: Service names
//! become loopback, fixed ports free ones, the mounted ConfigMap's file and a Secret's file
//! (`api.auth.existingSecret`, in the production profile) files here, and (in the production
//! profile) the OTLP collector a test receiver and Temporal a test dev server.

use std::{collections::BTreeMap, path::Path, time::Duration};

use flowgate_deploy_checks::{
    helm::{Render, Rendered, container_env, profile_path},
    tools,
};
use flowgate_testkit::{TestEnv, eventually, otlp::TraceReceiver, shopping_body};
use serde_json::json;
use serde_norway::Value;

use crate::{
    helm_container::{Container, Running, port_overrides, write_config},
    processes::{ContainerRun, binary, check_config},
};

/// An API key for profiles with authentication on, and its SHA-256 as values configure it
/// (`printf %s helm-contract-test-key | flowgate-api hash-key`).
const API_KEY: &str = "helm-contract-test-key";
const API_KEY_SHA256: &str = "6d3053e1932f2e6a26047cf025eb6f2482b7f8a189645c338b95f3281413fc56";

/// Starts the API and worker as their containers, checks what a cluster would check of them,
/// and returns them running. `api_key` is sent with the workflow request when the profile
/// turns authentication on; `api_files` are files the API mounts from Secrets of the user's (path
/// in the container → contents).
async fn start_and_check(
    rendered: &Rendered,
    redirect: &[(&'static str, String)],
    dir: &Path,
    api_key: Option<&str>,
    api_files: &[(&str, &str)],
) -> (Running, Container, Container) {
    let mut files = write_config(rendered, dir, "api");
    for (i, (in_container, contents)) in api_files.iter().enumerate() {
        let here = dir.join(format!("secret-file-{i}.toml"));
        std::fs::write(&here, contents).unwrap();
        files.insert((*in_container).to_owned(), here);
    }
    let api = Container::of(rendered, "flowgate-api", &files);
    let worker = Container::of(
        rendered,
        "flowgate-worker",
        &write_config(rendered, dir, "worker"),
    );
    let api_bin = binary("flowgate-api");
    let worker_bin = binary("flowgate-worker");

    // Exactly the chart's configuration loads and validates, naming the Temporal the chart
    // names.
    for (container, bin) in [(&api, &api_bin), (&worker, &worker_bin)] {
        let run = ContainerRun::new(container.env.clone());
        let (_, text) = check_config(&run, bin).await;
        let address = &container.env["TEMPORAL_ADDRESS"];
        assert!(
            text.contains(&format!("# address = \"{address}\"")),
            "{text}"
        );
    }

    let mut overrides = port_overrides(&api, &worker);
    overrides.extend(redirect.iter().cloned());
    let mut running = Running {
        children: Vec::new(),
    };
    for (container, bin) in [(&worker, &worker_bin), (&api, &api_bin)] {
        let log = dir.join(format!("{}.log", container.name));
        let out = std::fs::File::create(&log).unwrap();
        let args = container.args();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let child = ContainerRun::new(container.env.clone())
            .command(bin, &args, &overrides)
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap();
        running
            .children
            .push((container.name.clone(), child, log, container.grace));
    }

    // Every probe the chart declares passes, on the port it names.
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    for container in [&worker, &api] {
        for (probe, url) in container.probes() {
            let what = format!("{} {probe} {url}", container.name);
            let http = http.clone();
            eventually(Duration::from_secs(60), &what, || {
                let (http, url) = (http.clone(), url.clone());
                async move {
                    let response = http.get(&url).send().await.ok()?;
                    (response.status() == 200).then_some(())
                }
            })
            .await;
        }
    }

    // The `helm test` pod's command, run with the API image's binary, passes.
    let test_pod = rendered.of_kind("Pod")[0];
    let args: Vec<String> = test_pod["spec"]["containers"][0]["args"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect();
    let service = rendered.get("Service", "flowgate-api").unwrap();
    let service_port = service["spec"]["ports"][0]["port"].as_u64().unwrap();
    let target = &service["spec"]["ports"][0]["targetPort"];
    let in_cluster = format!("http://flowgate-api:{service_port}/");
    let here = format!("http://127.0.0.1:{}/", api.local_port(target));
    let args: Vec<String> = args.iter().map(|a| a.replace(&in_cluster, &here)).collect();
    assert!(args.iter().any(|a| a.starts_with(&here)), "{args:?}");
    // The pod's environment: nothing of its own (this process's FLOWGATE_* etc. left out).
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = ContainerRun::new(BTreeMap::new())
        .command(&api_bin, &args, &[])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "helm test: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // The guide's workflow, end to end through the real worker.
    let url = format!(
        "http://127.0.0.1:{}/workflows/shopping",
        api.local_port(&Value::String("http".into()))
    );
    let request = http
        .post(&url)
        .json(&shopping_body(&[("APPLE", 5), ("BANANA", 3)]));
    if api_key.is_some() {
        // Authentication is on: without credentials, nothing starts.
        let anonymous = request.try_clone().unwrap().send().await.unwrap();
        assert_eq!(anonymous.status(), 401, "{}", running.logs());
    }
    let request = match api_key {
        Some(key) => request.bearer_auth(key),
        None => request,
    };
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200, "{}", running.logs());
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["result"], "Ordered 5 Apples...Ordered 3 Bananas...");

    // What the ServiceMonitor scrapes: port "metrics" of both Services, at /metrics.
    for (container, service) in [(&api, "flowgate-api"), (&worker, "flowgate-worker")] {
        let service = rendered.get("Service", service).unwrap();
        let port = service["spec"]["ports"]
            .as_sequence()
            .unwrap()
            .iter()
            .find(|p| p["name"].as_str() == Some("metrics"))
            .unwrap();
        let url = format!(
            "http://127.0.0.1:{}/metrics",
            container.local_port(&port["targetPort"])
        );
        let text = http.get(&url).send().await.unwrap().text().await.unwrap();
        assert!(text.contains("flowgate_build_info"), "{url}:\n{text}");
    }
    (running, api, worker)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_dev_profile_runs_as_rendered_against_the_charts_own_dev_server() {
    let Some(python) = tools::helm_python_or_skip() else {
        return;
    };
    let rendered = Render::files([profile_path("dev")])
        .objects(&python)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();

    // The chart's Temporal dev server container, run as the real temporal CLI.
    let temporal = Container::of_dev_server(&rendered);
    let cli = flowgate_devserver::temporal_cli::provision_async()
        .await
        .unwrap();
    let mut args = temporal.args();
    let grpc = temporal.local_port(&Value::String("grpc".into()));
    for (flag, value) in [
        ("--port", grpc.to_string()),
        (
            "--ui-port",
            temporal.local_port(&Value::String("ui".into())).to_string(),
        ),
        (
            "--metrics-port",
            temporal
                .local_port(&Value::String("metrics".into()))
                .to_string(),
        ),
        (
            "--db-filename",
            dir.path()
                .join("temporal.db")
                .to_string_lossy()
                .into_owned(),
        ),
    ] {
        let at = args
            .iter()
            .position(|a| a == flag)
            .unwrap_or_else(|| panic!("the dev server is not given {flag}: {args:?}"));
        args[at + 1] = value;
    }
    let log = dir.path().join("temporal.log");
    let out = std::fs::File::create(&log).unwrap();
    let _server = tokio::process::Command::new(cli)
        .args(&args)
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .kill_on_drop(true)
        .spawn()
        .unwrap();

    // Flowgate is pointed at the dev server's Service, which selects that pod's gRPC port.
    let service = rendered.get("Service", "flowgate-temporal").unwrap();
    let grpc_port = &service["spec"]["ports"][0];
    assert_eq!(grpc_port["name"].as_str(), Some("grpc"));
    let api_env = container_env(
        &rendered.get("Deployment", "flowgate-api").unwrap()["spec"]["template"]["spec"]["containers"]
            [0],
    );
    assert_eq!(
        api_env["TEMPORAL_ADDRESS"],
        format!("flowgate-temporal:{}", grpc_port["port"].as_u64().unwrap())
    );
    let redirect = [("TEMPORAL_ADDRESS", format!("127.0.0.1:{grpc}"))];
    let (running, _, _) = start_and_check(&rendered, &redirect, dir.path(), None, &[]).await;
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_production_profiles_run_as_rendered_with_api_keys_from_a_secret_file_and_export_traces()
 {
    let Some(python) = tools::helm_python_or_skip() else {
        return;
    };
    let rendered = Render::files(
        ["production", "monitoring", "ingress-tls"]
            .into_iter()
            .map(profile_path),
    )
    // Every trace sampled (the profile keeps 20 %), so the test sees the one it makes.
    .set(json!({
        "temporal": {"address": "temporal-frontend.temporal:7233"},
        "otel": {"samplerArg": "1.0"},
        // Beside the profiles' tokens (whose issuer is a placeholder), an API key by its hash,
        // from a Secret of the user's whose file is layered over the chart's.
        "api": {"auth": {"existingSecret": "flowgate-auth"}},
    }))
    .objects(&python)
    .unwrap();
    let api_env = container_env(
        &rendered.get("Deployment", "flowgate-api").unwrap()["spec"]["template"]["spec"]["containers"]
            [0],
    );
    let (_, secret_file) = api_env["FLOWGATE_CONFIG"]
        .split_once(':')
        .expect("the Secret's file after the chart's");
    // The key's role is defined in the chart's file (the profiles' config.auth.roles).
    let secret_toml = format!(
        "[[auth.api_keys]]\nname = \"contract-test\"\nsha256 = \"{API_KEY_SHA256}\"\nroles = [\"shop\"]\n"
    );
    let temporal = TestEnv::builder()
        .without_api()
        .without_worker()
        .start()
        .await;
    let receiver = TraceReceiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let redirect = [
        ("TEMPORAL_ADDRESS", temporal.temporal.address()),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.grpc_endpoint()),
    ];
    let (running, api, worker) = start_and_check(
        &rendered,
        &redirect,
        dir.path(),
        Some(API_KEY),
        &[(secret_file, &secret_toml)],
    )
    .await;

    // JSON logs, as the chart configures for log collectors.
    running.stop().await;
    let log = std::fs::read_to_string(dir.path().join("flowgate-api.log")).unwrap();
    assert!(
        log.lines()
            .filter(|l| !l.trim().is_empty())
            .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()),
        "{log}"
    );
    // Traces, named and attributed as the chart's OTEL_* variables say.
    for container in [&api, &worker] {
        let service_name = container.env["OTEL_SERVICE_NAME"].clone();
        let attributes = container.env["OTEL_RESOURCE_ATTRIBUTES"].clone();
        let (key, value) = attributes.split_once('=').unwrap();
        assert_eq!(
            container.env["OTEL_TRACES_SAMPLER"],
            "parentbased_traceidratio"
        );
        receiver
            .wait_for(Duration::from_secs(30), &service_name, |spans| {
                spans
                    .iter()
                    .find(|s| {
                        s.service_name == service_name
                            && s.resource.get(key) == Some(&serde_json::json!(value))
                    })
                    .map(|_| ())
            })
            .await;
    }
}
