//! The config contract of the compose stack: the real `flowgate-api` and `flowgate-worker`,
//! started with exactly the environment and the mounted config file docker-compose.yml gives
//! their containers, load and validate it, listen where the Dockerfile and compose expect, pass
//! their own `healthcheck` (what compose and the images run) and serve a shopping workflow.
//!
//! Only what cannot exist here is redirected: `temporal:7233` becomes a test dev server,
//! `otel-collector:4317` a test OTLP receiver, the mounted file its path in the repository, and
//! the fixed ports free ones (after checking the fixed ones against the Dockerfile).

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use flowgate_deploy_checks::{
    compose::{published_ports, read_compose, service},
    dockerfile::Dockerfile,
};
use flowgate_testkit::{
    TestEnv, eventually, otlp::TraceReceiver, process::free_port, shopping_body,
};

use crate::processes::{ContainerRun, binary, check_config, port, seconds};

#[tokio::test(flavor = "multi_thread")]
async fn the_binaries_accept_the_compose_configuration_listen_where_the_images_say_and_serve() {
    let api_bin = binary("flowgate-api");
    let worker_bin = binary("flowgate-worker");
    let api_run = ContainerRun::compose("api");
    let worker_run = ContainerRun::compose("worker");
    let file = read_compose().unwrap();
    let dockerfile = Dockerfile::read().unwrap();

    // Arrange, part 1: exactly compose's configuration loads, validates, and resolves Temporal
    // at the address compose names; the ports it makes the processes listen on are the ones
    // the Dockerfile exposes and Prometheus scrapes; of them compose publishes the API's only
    // (metrics and probes stay inside the stack).
    let (api_settings, api_text) = check_config(&api_run, &api_bin).await;
    let (worker_settings, worker_text) = check_config(&worker_run, &worker_bin).await;
    for text in [&api_text, &worker_text] {
        assert!(text.contains("# address = \"temporal:7233\""), "{text}");
    }
    assert_eq!(api_settings["log"]["format"].as_str(), Some("json"));
    let api_port = port(&api_settings, "api", "port");
    let admin_port = port(&api_settings, "metrics", "api_admin_port");
    let health_port = port(&worker_settings, "worker", "health_port");
    assert_eq!(dockerfile.exposed_ports("api"), [api_port, admin_port]);
    assert_eq!(dockerfile.exposed_ports("worker"), [health_port]);
    let containers = |name: &str| -> Vec<u16> {
        published_ports(service(&file, name).unwrap())
            .into_iter()
            .map(|(_, container)| container)
            .collect()
    };
    assert_eq!(containers("api"), [api_port]);
    assert!(containers("worker").is_empty());
    // Reachable from the other containers (Prometheus, compose's port publishing).
    for (settings, section, key) in [
        (&api_settings, "api", "host"),
        (&api_settings, "metrics", "api_admin_host"),
        (&worker_settings, "worker", "health_host"),
    ] {
        assert_eq!(
            settings[section][key].as_str(),
            Some("0.0.0.0"),
            "{section}.{key}"
        );
    }
    // `docker compose stop` waits stop_grace_period before SIGKILL: longer than the drain.
    let grace = |name: &str| {
        seconds(
            service(&file, name).unwrap()["stop_grace_period"]
                .as_str()
                .unwrap(),
        )
    };
    let setting = |settings: &toml::Value, section: &str, key: &str| {
        seconds(settings[section][key].as_str().unwrap())
    };
    assert!(
        grace("api")
            > setting(&api_settings, "api", "shutdown_delay")
                + setting(&api_settings, "api", "shutdown_grace")
    );
    assert!(grace("worker") > setting(&worker_settings, "worker", "shutdown_grace"));
    // Waits end when the drain begins; any other request may take up to request_timeout.
    assert!(
        setting(&api_settings, "api", "shutdown_grace")
            >= setting(&api_settings, "api", "request_timeout")
    );

    // Arrange, part 2: the same configuration, with what only exists inside compose redirected.
    let temporal = TestEnv::builder()
        .without_api()
        .without_worker()
        .start()
        .await;
    let receiver = TraceReceiver::start().await;
    let (api_port, admin_port, health_port) = (free_port(), free_port(), free_port());
    let redirected = |ports: Vec<(&'static str, String)>| {
        let mut env = vec![
            ("TEMPORAL_ADDRESS", temporal.temporal.address()),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.grpc_endpoint()),
        ];
        env.extend(ports);
        env
    };
    let api_env = redirected(vec![
        ("FLOWGATE_API__PORT", api_port.to_string()),
        ("FLOWGATE_METRICS__API_ADMIN_PORT", admin_port.to_string()),
    ]);
    let worker_env = redirected(vec![(
        "FLOWGATE_WORKER__HEALTH_PORT",
        health_port.to_string(),
    )]);
    let dir = tempfile::tempdir().unwrap();
    let spawn = |run: &ContainerRun, bin: &Path, env: &[(&str, String)], log: &str| {
        let log = dir.path().join(log);
        let out = std::fs::File::create(&log).unwrap();
        let err = out.try_clone().unwrap();
        let child = run
            .command(bin, &[], env)
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap();
        (child, log)
    };

    // Act: start both as their containers would, and probe them as compose would.
    let (mut worker, worker_log) = spawn(&worker_run, &worker_bin, &worker_env, "worker.log");
    let (mut api, api_log) = spawn(&api_run, &api_bin, &api_env, "api.log");
    let healthy = |run: &ContainerRun, bin: PathBuf, env: Vec<(&'static str, String)>| {
        let command = run.command(&bin, &["healthcheck"], &env);
        async move {
            let mut command = command;
            let out = command.output().await.ok()?;
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            out.status.success().then_some(text)
        }
    };
    let logs = || {
        format!(
            "api:\n{}\nworker:\n{}",
            std::fs::read_to_string(&api_log).unwrap_or_default(),
            std::fs::read_to_string(&worker_log).unwrap_or_default()
        )
    };
    let check_alive = |child: &mut tokio::process::Child, what: &str| {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited ({status}):\n{}", logs());
        }
    };
    let mut said = String::new();
    for (run, bin, env) in [
        (&worker_run, &worker_bin, &worker_env),
        (&api_run, &api_bin, &api_env),
    ] {
        check_alive(&mut worker, "the worker");
        check_alive(&mut api, "the API");
        said = eventually(
            Duration::from_secs(60),
            &format!("`{} healthcheck` to pass", bin.display()),
            || healthy(run, bin.clone(), env.clone()),
        )
        .await;
    }

    // Assert: ready, and serving the guide's workflow end to end through the real worker.
    assert_eq!(
        said.trim(),
        format!("healthy: http://127.0.0.1:{api_port}/readyz answered 200")
    );
    // Readiness does not wait for Temporal; the chart's `helm test` checks that the API reached
    // it the same way (the image's healthcheck on `/`, expecting `temporal_connected`).
    let root = format!("http://127.0.0.1:{api_port}/");
    let connected = eventually(
        Duration::from_secs(60),
        "the API's healthcheck to see Temporal connected",
        || {
            let command = api_run.command(
                &api_bin,
                &[
                    "healthcheck",
                    "--url",
                    &root,
                    "--expect",
                    r#""temporal_connected":true"#,
                ],
                &api_env,
            );
            async move {
                let mut command = command;
                let out = command.output().await.ok()?;
                let text = String::from_utf8_lossy(&out.stdout).into_owned();
                out.status.success().then_some(text)
            }
        },
    )
    .await;
    assert_eq!(
        connected.trim(),
        format!(r#"healthy: {root} answered 200 with "temporal_connected":true"#)
    );
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let ready = http
        .get(format!("http://127.0.0.1:{api_port}/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    let response = http
        .post(format!("http://127.0.0.1:{api_port}/workflows/shopping"))
        .json(&shopping_body(&[("APPLE", 5), ("BANANA", 3)]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", logs());
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "completed", "{body}");
    assert_eq!(body["result"], "Ordered 5 Apples...Ordered 3 Bananas...");
    let metrics = http
        .get(format!("http://127.0.0.1:{admin_port}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("flowgate_workflow_starts_total"),
        "{metrics}"
    );
    // JSON log lines, as FLOWGATE_LOG__FORMAT=json asks.
    let api_lines = std::fs::read_to_string(&api_log).unwrap();
    assert!(
        api_lines
            .lines()
            .filter(|l| !l.trim().is_empty())
            .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()),
        "{api_lines}"
    );

    // Stopping as compose does (SIGTERM) drains both cleanly; the health check then fails.
    for (child, what) in [(&mut api, "the API"), (&mut worker, "the worker")] {
        let pid = child.id().expect("running").to_string();
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(status.success());
        let exit = tokio::time::timeout(Duration::from_secs(60), child.wait())
            .await
            .unwrap_or_else(|_| panic!("{what} did not stop:\n{}", logs()))
            .unwrap();
        assert!(exit.success(), "{what} exited with {exit}:\n{}", logs());
    }
    let out = api_run
        .command(&api_bin, &["healthcheck"], &api_env)
        .output()
        .await
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "healthcheck of a stopped API fails with 1"
    );

    // The traces went where OTEL_* sends them, named as compose names the services.
    for service_name in ["flowgate-api", "flowgate-worker"] {
        receiver
            .wait_for(Duration::from_secs(30), service_name, |spans| {
                spans
                    .iter()
                    .find(|s| {
                        s.service_name == service_name
                            && s.resource.get("deployment.environment.name")
                                == Some(&serde_json::json!("compose"))
                    })
                    .map(|_| ())
            })
            .await;
    }
}
