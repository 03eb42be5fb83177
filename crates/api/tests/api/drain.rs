//! The real `flowgate-api` binary: start-up errors, `check-config`, and draining on SIGTERM.

use std::{path::Path, time::Duration};

use flowgate_testkit::{
    TestEnv, eventually,
    process::{Proc, Signal, free_port},
    shopping_body,
};
use reqwest::StatusCode;
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_flowgate-api");

async fn run_to_end(args: &[&str], envs: &[(&str, String)], dir: &Path) -> (i32, String) {
    let mut proc = Proc::spawn(Path::new(BIN), args, envs, dir.join("api.log"));
    let status = proc.wait_exit(Duration::from_secs(20)).await;
    (status.code().unwrap_or(-1), proc.log_text())
}

/// The API binary on `env`'s Temporal, with one more setting, once it has connected: the
/// process, its base URL and a client.
async fn api_binary_on(env: &TestEnv, setting: (&str, String)) -> (Proc, String, reqwest::Client) {
    let port = free_port();
    let envs = [
        ("TEMPORAL_ADDRESS", env.temporal.address()),
        ("FLOWGATE_API__HOST", "127.0.0.1".to_owned()),
        ("FLOWGATE_API__PORT", port.to_string()),
        setting,
    ];
    let api = Proc::spawn(Path::new(BIN), &[], &envs, env.dir().join("api.log"));
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    flowgate_testkit::temporal_connected(&http, &base, Duration::from_secs(20)).await;
    (api, base, http)
}

#[tokio::test]
async fn a_bad_setting_stops_start_up_with_one_line_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("API_PORT", "eighty", "api.port"),
        (
            "FLOWGATE_API__BODY_LIMIT_BYTES",
            "0",
            "api.body_limit_bytes",
        ),
        ("FLOWGATE_TEMPORAL__ADDRESS", "nowhere", "temporal.address"),
        ("FLOWGATE_LOG__FORMAT", "xml", "log.format"),
        // A drain that could cut a request: both keys are named.
        (
            "FLOWGATE_API__SHUTDOWN_GRACE",
            "20s",
            "api.shutdown_grace: must be at least api.request_timeout (35s), got 20s",
        ),
    ];
    for (var, value, key) in cases {
        let (code, output) = run_to_end(&[], &[(var, value.to_owned())], dir.path()).await;
        assert_eq!(code, 2, "{var}={value}: {output}");
        assert_eq!(output.trim().lines().count(), 1, "one line: {output}");
        assert!(
            output.contains(key),
            "{var}={value} should name {key}: {output}"
        );
    }
}

#[tokio::test]
async fn check_config_prints_the_effective_configuration_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("flowgate.toml");
    std::fs::write(&file, "[shopping]\ntask_queue = \"from-file\"\n").unwrap();
    let envs = [
        ("FLOWGATE_CONFIG", file.display().to_string()),
        ("API_PORT", "8123".to_owned()),
        ("TEMPORAL_ADDRESS", "temporal.example:7233".to_owned()),
        ("FLOWGATE_TEMPORAL__API_KEY", "top-secret-key".to_owned()),
    ];
    let (code, output) = run_to_end(&["check-config"], &envs, dir.path()).await;
    assert_eq!(code, 0, "{output}");
    assert!(output.contains("port = 8123"), "{output}");
    assert!(output.contains("task_queue = \"from-file\""), "{output}");
    assert!(output.contains("temporal.example:7233"), "{output}");
    assert!(
        output.contains("[redacted]") && !output.contains("top-secret-key"),
        "{output}"
    );

    // `--config PATH` works like FLOWGATE_CONFIG.
    let path = file.display().to_string();
    let (code, output) = run_to_end(&["--config", &path, "check-config"], &[], dir.path()).await;
    assert_eq!(code, 0, "{output}");
    assert!(output.contains("task_queue = \"from-file\""), "{output}");
}

#[tokio::test]
async fn sigterm_answers_in_flight_requests_while_readiness_reports_draining() {
    // The in-process API only reads the results once the binary has gone.
    let env = TestEnv::builder()
        .settings(|s| s.shopping.order_delay = Duration::from_secs(3))
        .start()
        .await;
    let (mut api, base, http) =
        api_binary_on(&env, ("FLOWGATE_API__SHUTDOWN_DELAY", "1s".to_owned())).await;

    // Synchronous starts that take ~3 s each (the order delay) are in flight when SIGTERM
    // arrives.
    let orders = [
        ("in-flight-during-sigterm-1", "APPLE", "Ordered 5 Apples..."),
        (
            "in-flight-during-sigterm-2",
            "BANANA",
            "Ordered 5 Bananas...",
        ),
        (
            "in-flight-during-sigterm-3",
            "CHERRY",
            "Ordered 5 Cherries...",
        ),
    ];
    let in_flight: Vec<_> = orders
        .iter()
        .map(|(id, fruit, _)| {
            let mut body = shopping_body(&[(*fruit, 5)]);
            body["workflow_id"] = json!(id);
            let http = http.clone();
            let url = format!("{base}/workflows/shopping");
            tokio::spawn(async move { http.post(url).json(&body).send().await })
        })
        .collect();
    for (id, _, _) in &orders {
        eventually(
            Duration::from_secs(10),
            "the workflow to be running",
            || async {
                let response = http
                    .get(format!("{base}/workflows/{id}/status"))
                    .send()
                    .await
                    .ok()?;
                (response.status() == StatusCode::OK).then_some(())
            },
        )
        .await;
    }
    api.signal(Signal::SIGTERM);

    // During the drain delay the listener still answers, and readiness says "not ready".
    let detail = eventually(
        Duration::from_millis(900),
        "readiness to report draining",
        || async {
            let readiness = http
                .get(format!("{base}/readyz"))
                .send()
                .await
                .expect("still listening while draining");
            (readiness.status() == StatusCode::SERVICE_UNAVAILABLE).then_some(readiness)
        },
    )
    .await;
    let detail: serde_json::Value = detail.json().await.unwrap();
    assert_eq!(detail["detail"], "not ready: shutting down");

    // Every request in flight is answered: its wait ended with the drain, so it points at its
    // workflow's result (crates/api/tests/api/drain_waits.rs covers every kind of wait).
    for (request, (id, _, _)) in in_flight.into_iter().zip(&orders) {
        let response = request
            .await
            .unwrap()
            .expect("the in-flight request is answered");
        assert_eq!(response.status(), StatusCode::ACCEPTED, "{id}");
        assert_eq!(
            response.headers()["location"],
            format!("/workflows/{id}/result").as_str()
        );
        let out: serde_json::Value = response.json().await.unwrap();
        assert_eq!(out["workflow_id"], *id, "{out}");
        assert_eq!(out["status"], "running", "{out}");
    }

    let status = api.wait_exit(Duration::from_secs(15)).await;
    assert!(
        status.success(),
        "clean exit: {status:?}\n{}",
        api.log_text()
    );
    assert!(
        api.log_text().contains("HTTP API stopped"),
        "{}",
        api.log_text()
    );
    // The workflows went on: each has its result.
    for (id, _, result) in &orders {
        let response = env.get(&format!("/workflows/{id}/result?wait=20")).await;
        assert_eq!(response.status(), StatusCode::OK, "{id}");
        let out: serde_json::Value = response.json().await.unwrap();
        assert_eq!(out["status"], "completed", "{out}");
        assert_eq!(out["result"], *result, "{out}");
    }
}

#[tokio::test]
async fn json_logs_carry_the_request_id_and_rust_log_is_honoured() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let nowhere = format!("127.0.0.1:{}", free_port());
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let request = |id: &'static str| {
        let (http, base) = (http.clone(), base.clone());
        async move {
            http.get(format!("{base}/livez"))
                .header("x-request-id", id)
                .send()
                .await
                .ok()?
                .status()
                .is_success()
                .then_some(())
        }
    };

    let envs = [
        ("TEMPORAL_ADDRESS", nowhere.clone()),
        ("FLOWGATE_API__HOST", "127.0.0.1".to_owned()),
        ("FLOWGATE_API__PORT", port.to_string()),
        ("FLOWGATE_LOG__FORMAT", "json".to_owned()),
    ];
    let mut api = Proc::spawn(Path::new(BIN), &[], &envs, dir.path().join("json.log"));
    eventually(Duration::from_secs(20), "the API to answer", || {
        request("find-me-in-the-logs")
    })
    .await;
    let line = eventually(Duration::from_secs(5), "the request's log line", || async {
        api.log_text()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|l| l["span"]["request_id"] == "find-me-in-the-logs")
    })
    .await;
    assert_eq!(line["span"]["route"], "/livez", "{line}");
    assert_eq!(line["level"], "INFO", "{line}");
    for text in api.log_text().lines() {
        serde_json::from_str::<serde_json::Value>(text)
            .unwrap_or_else(|e| panic!("not a JSON line ({e}): {text}"));
    }
    api.signal(Signal::SIGTERM);
    let status = api.wait_exit(Duration::from_secs(15)).await;
    assert!(status.success(), "{status:?}\n{}", api.log_text());

    // RUST_LOG wins over log.level: at `warn`, the per-request info line is gone.
    let mut quiet_envs = envs.to_vec();
    quiet_envs.push(("RUST_LOG", "warn".to_owned()));
    let mut quiet = Proc::spawn(
        Path::new(BIN),
        &[],
        &quiet_envs,
        dir.path().join("quiet.log"),
    );
    eventually(Duration::from_secs(20), "the API to answer", || {
        request("quiet-request")
    })
    .await;
    quiet.signal(Signal::SIGTERM);
    let status = quiet.wait_exit(Duration::from_secs(15)).await;
    assert!(status.success(), "{status:?}\n{}", quiet.log_text());
    assert!(
        !quiet.log_text().contains("quiet-request"),
        "{}",
        quiet.log_text()
    );
}

#[tokio::test]
async fn a_start_is_logged_once_and_its_line_names_the_run() {
    let env = TestEnv::builder()
        .without_api()
        .without_worker()
        .start()
        .await;
    let (mut api, base, http) =
        api_binary_on(&env, ("FLOWGATE_LOG__FORMAT", "json".to_owned())).await;

    let response = http
        .post(format!("{base}/v1/workflow-types/shopping/start"))
        .header("x-request-id", "the-start-to-find")
        .json(&json!({"workflow_id": "logged-start", "input": {"items": [{"fruit": "APPLE", "amount": 1}]}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let out: serde_json::Value = response.json().await.unwrap();

    api.signal(Signal::SIGTERM);
    let status = api.wait_exit(Duration::from_secs(15)).await;
    assert!(status.success(), "{status:?}\n{}", api.log_text());
    let lines: Vec<serde_json::Value> = api
        .log_text()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|l| l["span"]["request_id"] == "the-start-to-find")
        .collect();
    assert_eq!(lines.len(), 1, "one line per request: {lines:#?}");
    let span = &lines[0]["span"];
    assert_eq!(span["workflow_id"], "logged-start", "{span}");
    assert_eq!(span["run_id"], out["run_id"], "{span}");
    assert_eq!(span["workflow"], "shopping", "{span}");
    assert_eq!(span["replayed"], false, "{span}");
    assert_eq!(lines[0]["status"], 202, "{}", lines[0]);
}
