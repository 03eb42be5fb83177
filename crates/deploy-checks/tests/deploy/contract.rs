//! The config contract of the compose stack: the real `flowgate-api` and `flowgate-worker`,
//! started with exactly the environment and the mounted config file docker-compose.yml gives
//! their containers, load and validate it, listen where the Dockerfile and compose expect, pass
//! their own `healthcheck` (what compose and the images run) and serve a shopping workflow.
//!
//! Only what cannot exist here is redirected: `temporal:7233` becomes a test dev server,
//! `otel-collector:4317` a test OTLP receiver, the mounted file its path in the repository, and
//! the fixed ports free ones (after checking the fixed ones against the Dockerfile).
//!
//! Cargo names only a test's own package's binaries (`CARGO_BIN_EXE_*`), so the binaries are
//! found next to this test's executable, after `cargo test --workspace --no-run` made sure they
//! are fresh: under `cargo test --workspace` (CI, the README) that is the same build, so a no-op
//! check that recompiles nothing; under `cargo test -p flowgate-deploy-checks` it builds what a
//! stale binary would otherwise hide. (`cargo build -p flowgate-api -p flowgate-worker` would
//! unify features differently and compile a second copy of many dependencies.)

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::Stdio,
    sync::OnceLock,
    time::Duration,
};

use flowgate_deploy_checks::{
    compose::{environment, host_path, mounts, published_ports, read_compose, service},
    dockerfile::Dockerfile,
};
use flowgate_testkit::{
    TestEnv, eventually, otlp::TraceReceiver, process::free_port, shopping_body,
};

/// `target/<profile>/` of this test executable (`target/<profile>/deps/<test>`).
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test's path");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps/")
        .to_owned()
}

/// A workspace binary (`flowgate-api`, `flowgate-worker`), checked fresh once per test run.
fn binary(name: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    let dir = profile_dir();
    BUILT.get_or_init(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut command = std::process::Command::new(cargo);
        command
            .current_dir(flowgate_deploy_checks::repo_root())
            .args(["test", "--workspace", "--no-run", "--quiet"])
            .arg("--target-dir")
            .arg(dir.parent().expect("target/"));
        if dir.file_name().is_some_and(|n| n == "release") {
            command.arg("--release");
        }
        let status = command.status().expect("cargo runs");
        assert!(status.success(), "building the workspace binaries failed");
    });
    let path = dir.join(name);
    assert!(path.is_file(), "{} was not built", path.display());
    path
}

/// What compose gives one container: its environment, with the config file path rewritten
/// from the container's mount to the repository's file.
struct ComposeRun {
    env: BTreeMap<String, String>,
}

impl ComposeRun {
    fn of(name: &str) -> Self {
        let file = read_compose().unwrap();
        let svc = service(&file, name).unwrap();
        let mut env = environment(svc).unwrap();
        let in_container = env
            .get("FLOWGATE_CONFIG")
            .unwrap_or_else(|| panic!("{name}: FLOWGATE_CONFIG names the mounted config file"))
            .clone();
        let mount = mounts(svc)
            .into_iter()
            .find(|m| m.target == in_container)
            .unwrap_or_else(|| panic!("{name}: nothing is mounted at {in_container}"));
        let on_host = host_path(&mount).expect("a file of the repository");
        env.insert(
            "FLOWGATE_CONFIG".into(),
            on_host.to_string_lossy().into_owned(),
        );
        Self { env }
    }

    /// `binary args` with this environment only: the caller's FLOWGATE_*, TEMPORAL_*, OTEL_*,
    /// API_PORT and RUST_LOG are not inherited, `overrides` win.
    fn command(
        &self,
        binary: &Path,
        args: &[&str],
        overrides: &[(&str, String)],
    ) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(binary);
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy();
            if ["FLOWGATE_", "TEMPORAL_", "OTEL_"]
                .iter()
                .any(|p| name.starts_with(p))
                || name == "API_PORT"
                || name == "RUST_LOG"
            {
                command.env_remove(name.as_ref());
            }
        }
        command
            .args(args)
            .envs(&self.env)
            .envs(overrides.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .kill_on_drop(true);
        command
    }
}

/// `check-config` output as TOML, for the settings the binary resolved.
async fn check_config(run: &ComposeRun, binary: &Path) -> (toml::Value, String) {
    let out = run
        .command(binary, &["check-config"], &[])
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{} check-config rejects the compose configuration:\n{text}{}",
        binary.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    (
        toml::from_str(&text).expect("check-config prints TOML"),
        text,
    )
}

/// `"500ms"`, `"20s"`, `"2m"` in seconds (the forms the config and compose files use).
fn seconds(duration: &str) -> f64 {
    let split = duration
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(duration.len());
    let (number, unit) = duration.split_at(split);
    let number: f64 = number
        .parse()
        .unwrap_or_else(|_| panic!("duration {duration:?}"));
    match unit {
        "ms" => number / 1000.0,
        "s" => number,
        "m" => number * 60.0,
        _ => panic!("duration {duration:?}"),
    }
}

fn port(settings: &toml::Value, section: &str, key: &str) -> u16 {
    u16::try_from(settings[section][key].as_integer().unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_binaries_accept_the_compose_configuration_listen_where_the_images_say_and_serve() {
    let api_bin = binary("flowgate-api");
    let worker_bin = binary("flowgate-worker");
    let api_run = ComposeRun::of("api");
    let worker_run = ComposeRun::of("worker");
    let file = read_compose().unwrap();
    let dockerfile = Dockerfile::read().unwrap();

    // Arrange, part 1: exactly compose's configuration loads, validates, and resolves Temporal
    // at the address compose names; the ports it makes the processes listen on are the ones
    // the Dockerfile exposes and compose publishes and Prometheus scrapes.
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
    assert_eq!(containers("api"), [api_port, admin_port]);
    assert_eq!(containers("worker"), [health_port]);
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
    let spawn = |run: &ComposeRun, bin: &Path, env: &[(&str, String)], log: &str| {
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
    let healthy = |run: &ComposeRun, bin: PathBuf, env: Vec<(&'static str, String)>| {
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
